"""A Flask app (Debian's python3-flask, `app:app`, debug off) reloads
under hotserve: view edits (in the app module and in a module it imports,
a blueprint) and Jinja template edits (Jinja caches compiled templates and
re-checks files only in debug mode) are fresh on the next request, under
inotify and --poll.
"""

import pytest

from reload_helpers import MODES, Project, body, start, status

APP = '''
from flask import Flask, render_template

import views

app = Flask(__name__)
app.register_blueprint(views.bp)


@app.route('/')
def index():
    return 'index v1'


@app.route('/page')
def page():
    return render_template('page.html', who='flask')
'''

VIEWS = '''
from flask import Blueprint, render_template

bp = Blueprint('extra', __name__, template_folder='bp_templates')


@bp.route('/extra')
def extra():
    return 'extra v1'


@bp.route('/bp')
def bp_page():
    return render_template('bp.html')
'''

BASE = '<main>[base v1]{% block content %}{% endblock %}</main>\n'
PAGE = ('{% extends "base.html" %}{% block content %}[page v1] {{ who }}'
        '{% endblock %}\n')
BP = '[bp v1]\n'


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def flask_project(tmp_path):
    p = Project(tmp_path / 'flaskproj')
    p.write('app.py', APP)
    p.write('views.py', VIEWS)
    p.write('templates/base.html', BASE, dedent=False)
    p.write('templates/page.html', PAGE, dedent=False)
    p.write('bp_templates/bp.html', BP, dedent=False)
    return p


def test_flask_view_and_template_edits(server_factory, tmp_path, mode):
    p = flask_project(tmp_path)
    srv = start(server_factory, p, 'app:app', mode=mode)
    assert body(srv, '/') == 'index v1'
    assert body(srv, '/page') == '<main>[base v1][page v1] flask</main>'
    assert body(srv, '/extra') == 'extra v1'
    assert body(srv, '/bp').strip() == '[bp v1]'

    # A view in the app module (a new Flask object), then in a blueprint.
    p.save('app.py', APP.replace("'index v1'", "'index v2'"))
    assert body(srv, '/') == 'index v2'
    p.save('views.py', VIEWS.replace("'extra v1'", "'extra v2'"),
           style='atomic')
    assert body(srv, '/extra') == 'extra v2'

    # Templates: no Python reload, yet fresh (debug is off).
    assert body(srv, '/page') == '<main>[base v1][page v1] flask</main>'
    before = status(srv)['reloads']
    p.save('templates/page.html', PAGE.replace('[page v1]', '[page v2]'),
           dedent=False)
    assert body(srv, '/page') == '<main>[base v1][page v2] flask</main>'
    p.save('templates/base.html', BASE.replace('[base v1]', '[base v2]'),
           style='atomic', dedent=False)
    assert body(srv, '/page') == '<main>[base v2][page v2] flask</main>'
    p.save('bp_templates/bp.html', BP.replace('v1', 'v2'), dedent=False)
    assert body(srv, '/bp').strip() == '[bp v2]'
    assert status(srv)['reloads'] == before

    # A template created after startup: used, then edited.
    p.write('templates/late.html', '[late v1]', dedent=False)
    p.save('app.py', APP.replace("'index v1'", "'index v2'").replace(
        "'page.html'", "'late.html'"))
    assert body(srv, '/page') == '[late v1]'
    p.save('templates/late.html', '[late v2]', dedent=False)
    assert body(srv, '/page') == '[late v2]'
