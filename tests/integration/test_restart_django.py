"""Restarts of a Django project (Debian's python3-django) served as
`myproject.wsgi:application`: the default restart rules (the settings
module, models.py, apps.py, migrations/, .env), in-process reloads for
the rest, and a settings file that is broken at startup.
"""

import os
import time

import pytest

from harness import PYTHON
from restart_helpers import Hammer, one_request, start, wait_ready
from reload_helpers import Project

SETTINGS = '''
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = 'not-a-secret'
DEBUG = True
ALLOWED_HOSTS = ['*']
ROOT_URLCONF = 'myproject.urls'
INSTALLED_APPS = ['pages']
MIDDLEWARE = []
DATABASES = {}
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'
USE_TZ = True
GREETING = %r
'''

WSGI = '''
import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'myproject.settings')
application = get_wsgi_application()
'''

URLS = '''
from django.urls import path
from pages import views
urlpatterns = [path('', views.index)]
'''

VIEWS = '''
import os
from django.conf import settings
from django.http import HttpResponse
from pages.bootid import BOOT
from pages.models import Note

def index(request):
    return HttpResponse('v=%%s boot=%%s pid=%%d %%s %%s' %% (
        settings.GREETING, BOOT, os.getpid(), Note.KIND, %r),
        content_type='text/plain')
'''

MODELS = '''
from django.db import models

class Note(models.Model):
    KIND = %r
    text = models.CharField(max_length=100)
'''


def django_project(tmp_path, greeting='v1'):
    pytest.importorskip('django')   # Debian's python3-django
    p = Project(tmp_path / 'site')
    p.write('manage.py', '')
    p.write('myproject/__init__.py', '')
    p.write('myproject/settings.py', SETTINGS % greeting)
    p.write('myproject/urls.py', URLS)
    p.write('myproject/wsgi.py', WSGI)
    p.write('pages/__init__.py', '')
    p.write('pages/apps.py', 'from django.apps import AppConfig\n\n'
                             'class PagesConfig(AppConfig):\n'
                             '    name = "pages"\n')
    p.write('pages/bootid.py', 'import uuid\nBOOT = uuid.uuid4().hex[:8]\n')
    p.write('pages/models.py', MODELS % 'k1')
    p.write('pages/views.py', VIEWS % 'view1')
    p.write('pages/migrations/__init__.py', '')
    p.write('.env', 'X=0\n')
    return p


def answer(srv):
    a = one_request(srv.port)
    assert a.kind == 'ok' and a.status == 200, (a, srv.describe())
    return a.body.decode().split()


def start_django(server_factory, p, *args):
    # Debian's interpreter has Django; the server embeds the same one.
    assert os.path.exists(PYTHON)
    return start(server_factory, p, 'myproject.wsgi:application', *args)


def test_settings_and_models_restart_views_reload(server_factory, tmp_path):
    p = django_project(tmp_path)
    srv = start_django(server_factory, p)
    v, boot, pid, kind, view = answer(srv)
    assert (v, kind, view) == ('v=v1', 'k1', 'view1')

    # A view: in-process, same process image.
    since = srv.mark()
    p.save('pages/views.py', VIEWS % 'view2')
    assert answer(srv)[1:] == [boot, pid, 'k1', 'view2']
    srv.wait_for_log(r'^reloaded \d+ modules? .*pages\.views', since=since)

    # The settings: a restart, with a client loop running throughout.
    since = srv.mark()
    with Hammer(srv.port) as h:
        p.save('myproject/settings.py', SETTINGS % 'v2')
        t_write = time.monotonic()
        now = answer(srv)
        assert now[0] == 'v=v2' and now[1] != boot and now[2] == pid, now
        h.wait_for(lambda a: a.body.startswith(b'v=v2'), since=t_write)
    bad = [a for a in h.snapshot() if a.kind != 'ok' or a.status != 200]
    assert not bad, bad[:5]
    stale = [a for a in h.snapshot()
             if a.t_send >= t_write and not a.body.startswith(b'v=v2')]
    assert not stale, stale[:5]
    srv.wait_for_log(r"^restarting: myproject/settings\.py changed "
                     r"\(restart-on rule 'myproject/settings\.py', Django "
                     r"default\)", since=since)
    wait_ready(srv, since)
    boot2 = now[1]

    # models.py: a restart.
    since = srv.mark()
    p.save('pages/models.py', MODELS % 'k2')
    now = answer(srv)
    assert now[3] == 'k2' and now[1] != boot2 and now[2] == pid, now
    srv.wait_for_log(r"^restarting: pages/models\.py changed \(restart-on "
                     r"rule 'models\.py', Django default\)", since=since)
    boot3 = now[1]

    # .env and a new migration: restarts. (--poll looks only at tracked
    # files: a migration created after startup waits for the next
    # restart there.)
    steps = [('.env', 'X=1\n', r"\.env")]
    if '--poll' not in os.environ.get('HS_TEST_SERVER_ARGS', ''):
        steps.append(('pages/migrations/0001_initial.py', 'operations = []\n',
                      r"\*\*/migrations/\*"))
    for rel, text, rule in steps:
        since = srv.mark()
        p.save(rel, text)
        now = answer(srv)
        assert now[1] != boot3, (rel, now)
        boot3 = now[1]
        srv.wait_for_log(r"^restarting: %s changed \(restart-on rule '%s', "
                         r"Django default\)" % (rel.replace('.', r'\.'),
                                                rule), since=since)


def test_module_imported_by_settings_restarts(server_factory, tmp_path):
    """A module the settings import (split settings) restarts too: Django
    read the settings once, at setup."""
    p = django_project(tmp_path)
    p.write('myproject/local.py', 'EXTRA = "e1"\n')
    p.write('myproject/settings.py', SETTINGS % 'v1'
            + 'from myproject.local import EXTRA\nGREETING += EXTRA\n')
    srv = start_django(server_factory, p)
    first = answer(srv)
    assert first[0] == 'v=v1e1'
    since = srv.mark()
    p.save('myproject/local.py', 'EXTRA = "e2"\n')
    now = answer(srv)
    assert now[0] == 'v=v1e2' and now[1] != first[1], now
    srv.wait_for_log(r'^restarting: myproject/local\.py changed \(the '
                     r'Django settings module myproject\.settings is read '
                     r'once, at setup\)', since=since)


def test_settings_syntax_error_at_startup(server_factory, tmp_path):
    """get_wsgi_application() fails on a SyntaxError in settings.py: every
    request gets the 500 page naming settings.py and the line; fixing the
    file serves the app, and the Django rules apply from then on."""
    p = django_project(tmp_path)
    p.write('myproject/settings.py', (SETTINGS % 'v1')
            + 'BROKEN = [1, 2\n')
    srv = start_django(server_factory, p)
    n = len((SETTINGS % 'v1').split('\n'))
    for _ in range(2):
        r = srv.get('/')
        text = r.text()
        assert r.status == 500, (r.status, text[:2000])
        assert 'SyntaxError' in text and 'settings.py' in text, text[:3000]
        assert str(n) in text, (n, text[:3000])
    p.save('myproject/settings.py', SETTINGS % 'v2')
    v, boot, pid, kind, view = answer(srv)
    assert v == 'v=v2', (v, srv.describe())
    since = srv.mark()
    p.save('myproject/settings.py', SETTINGS % 'v3')
    now = answer(srv)
    assert now[0] == 'v=v3' and now[1] != boot, now
    srv.wait_for_log(r'^restarting: myproject/settings\.py changed',
                     since=since)
