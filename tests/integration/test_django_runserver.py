"""runserver parity for a Django project served by hotserve: the startup
lines (system checks, unapplied migrations, Django version and settings),
check warnings printed and check errors shown as the error page until
fixed, static files (DEBUG on: served; DEBUG off: not served unless
--insecure; --nostatic), and the Django-aware reloads under --poll
(Docker Desktop bind mounts), where only tracked files are looked at.
"""

import re

import pytest

import django_helpers as dj
from reload_helpers import body, get, start

APP = 'mysite.wsgi:application'


def project(tmp_path, migrate=True, overrides=None):
    p = dj.make_project(tmp_path / 'proj', overrides)
    dj.prepare(p, migrate=migrate)
    return p


def test_startup_lines_and_unapplied_migrations(server_factory, tmp_path):
    p = project(tmp_path, migrate=False)
    srv = start(server_factory, p, APP)
    srv.wait_for_log(r'^Performing system checks\.\.\.$')
    srv.wait_for_log(r'^System check identified no issues \(0 silenced\)\.$')
    m = srv.wait_for_log(r'^You have (\d+) unapplied migration\(s\)\. Your '
                         r'project may not work properly until you apply '
                         r'the migrations for app\(s\): (.*)\.$')
    assert int(m.group(1)) > 10
    assert 'shop' in m.group(2) and 'admin' in m.group(2)
    srv.wait_for_log(r"^Run 'python manage\.py migrate' to apply them\.$")
    srv.wait_for_log(r"^Django version \d+\.\d+\S*, using settings "
                     r"'mysite\.settings'$")
    srv.wait_for_log(r'^\w+ \d\d, \d{4} - \d\d:\d\d:\d\d$')   # runserver's
    assert body(srv, '/shop/hello/') == 'hello v1'


WARNING_CHECK = '''
from django.core import checks


@checks.register()
def demo_check(app_configs, **kwargs):
    return [checks.Warning('a demo warning', id='shop.W001')]
'''


def test_system_check_warning_is_printed(server_factory, tmp_path):
    p = project(tmp_path, overrides={
        'shop/admin.py': dj.ADMIN + WARNING_CHECK})
    srv = start(server_factory, p, APP)
    srv.wait_for_log(r'^System check identified some issues:$')
    srv.wait_for_log(r'^WARNINGS:$')
    srv.wait_for_log(r'shop\.W001.*a demo warning')
    srv.wait_for_log(r'^System check identified 1 issue \(0 silenced\)\.$')
    assert body(srv, '/shop/hello/') == 'hello v1'


def test_system_check_error_at_startup_then_fixed(server_factory, tmp_path):
    broken = dj.ADMIN.replace("list_display = ('name',)",
                              "list_display = ('nope',)")
    p = project(tmp_path, overrides={'shop/admin.py': broken})
    srv = start(server_factory, p, APP)
    srv.wait_for_log(r'admin\.E108')
    assert 'Django version' not in srv.stderr()
    for path in ('/shop/hello/', '/admin/login/', '/static/shop/site.css'):
        code, text = get(srv, path)
        assert code == 500, (path, text[:2000])
        assert 'SystemCheckError' in text and 'admin.E108' in text, text
        assert "'nope'" in text and 'shop/admin.py' in text, text
    mark = srv.mark()
    p.save('shop/admin.py', dj.ADMIN, dedent=False)
    assert body(srv, '/shop/hello/') == 'hello v1'
    assert get(srv, '/static/shop/site.css')[0] == 200
    # Now that it passed, runserver's lines.
    srv.wait_for_log(r'^System check identified no issues', since=mark)
    srv.wait_for_log(r"^Django version .*, using settings 'mysite\.settings'",
                     since=mark)


def static_status(srv):
    return srv.get('/static/shop/site.css').status


def test_static_not_served_with_debug_off(server_factory, tmp_path):
    p = project(tmp_path)
    srv = start(server_factory, p, APP, env={'TEST_DJANGO_DEBUG': '0'})
    assert static_status(srv) == 404
    r = srv.get('/no/such/page/')
    assert r.status == 404 and b'Page not found' not in r.body


@pytest.mark.parametrize('how', ['--insecure', 'HOTSERVE_INSECURE=1'])
def test_static_insecure_with_debug_off(server_factory, tmp_path, how):
    p = project(tmp_path)
    env = {'TEST_DJANGO_DEBUG': '0'}
    args = []
    if how.startswith('--'):
        args.append(how)
    else:
        env.update([how.split('=')])
    srv = start(server_factory, p, APP, *args, env=env)
    assert static_status(srv) == 200
    assert srv.get('/static/shop/missing.css').status == 404


@pytest.mark.parametrize('how', ['--nostatic', 'HOTSERVE_NOSTATIC=1'])
def test_nostatic(server_factory, tmp_path, how):
    p = project(tmp_path)
    env = {}
    args = []
    if how.startswith('--'):
        args.append(how)
    else:
        env.update([how.split('=')])
    srv = start(server_factory, p, APP, *args, env=env)
    assert static_status(srv) == 404
    assert body(srv, '/shop/hello/') == 'hello v1'


def test_no_reload_still_django(server_factory, tmp_path):
    p = project(tmp_path)
    srv = start(server_factory, p, APP, '--no-reload')
    assert static_status(srv) == 200
    assert '[page v1] HI!' in body(srv, '/shop/page/')
    srv.wait_for_log(r'^System check identified no issues')


def test_poll_mode(server_factory, tmp_path):
    """--poll stats only tracked files: templates (also outside the
    working directory), .mo files and static files must still be fresh."""
    p = project(tmp_path)
    srv = start(server_factory, p, APP, mode='poll')
    assert body(srv, '/shop/hello/') == 'hello v1'
    dj.edit(p, 'shop/views.py', "'hello v1'", "'hello v2'")
    assert body(srv, '/shop/hello/') == 'hello v2'

    assert '[base v1][page v1] HI!' in body(srv, '/shop/page/')
    dj.edit(p, 'shop/templates/shop/page.html', '[page v1]', '[page v2]')
    dj.edit(p, 'templates/base.html', '[base v1]', '[base v2]',
            style='atomic')
    assert '[base v2][page v2] HI!' in body(srv, '/shop/page/')

    with open(p.shared_template(), 'w') as f:
        f.write('[shared v2]\n')
    assert body(srv, '/shop/shared/').strip() == '[shared v2]'

    assert body(srv, '/shop/translated/') == 'Bonjour v1'
    dj.write_mo(p.mo_path(), {'Hello': 'Bonjour v2'})
    assert body(srv, '/shop/translated/') == 'Bonjour v2'

    dj.edit(p, 'shop/static/shop/site.css', 'css v1', 'css v2')
    r = srv.get('/static/shop/site.css')
    assert r.status == 200 and b'css v2' in r.body

    dj.edit(p, 'shop/templatetags/shop_tags.py', "+ '!'", "+ '?'")
    assert re.search(r'HI\?', body(srv, '/shop/page/'))

    # A template created after startup: used, then edited.
    p.write('shop/templates/shop/late.html', '[late v1]')
    dj.edit(p, 'shop/views.py', "template_name = 'shop/page.html'",
            "template_name = 'shop/late.html'")
    assert body(srv, '/shop/page/') == '[late v1]'
    p.save('shop/templates/shop/late.html', '[late v2]')
    assert body(srv, '/shop/page/') == '[late v2]'
