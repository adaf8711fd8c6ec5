"""Django-aware reloads in a real Django project (Debian's Django 3.2 and
Django REST framework), served by one hotserve for the whole module: every
edit is followed at once by a request that must see it (no sleep, no
retry), and the server must stay healthy to the end.

Covered: admin login page, views (function and class-based), templates
(the cached loader; no Python reload involved; a template directory
outside the working directory), templatetags, app and root URLconfs (new
routes), forms, DRF serializers, admin.py (list_display, registering and
unregistering models: the admin URLs follow), signal receivers (never
duplicated: weak, weak=False and dispatch_uid receivers), .mo
translations outside the working directory, static files (served and
fresh; path traversal refused), DEBUG 404/500 pages from Django, a view
with a SyntaxError (500 naming the file, then fixed) and a system check
error after a reload (500 naming the check, then fixed).
"""

import json
import os
import re

import pytest

import django_helpers as dj
from harness import raw_request
from reload_helpers import body, get, status


@pytest.fixture(scope='module')
def proj(tmp_path_factory):
    p = dj.make_project(tmp_path_factory.mktemp('django') / 'proj')
    dj.prepare(p)
    return p


@pytest.fixture(scope='module')
def srv(module_server_factory, proj):
    return module_server_factory('mysite.wsgi:application', '--chdir',
                                 proj.root, cwd=proj.shared)


@pytest.fixture(scope='module')
def browser(srv):
    b = dj.Browser(srv)
    b.login()
    return b


def reloads(srv):
    return status(srv)['reloads']


def test_startup_lines(srv):
    err = srv.stderr()
    assert 'Performing system checks...' in err
    assert 'System check identified no issues (0 silenced).' in err
    assert re.search(r"^Django version \d+\.\d+\S*, using settings "
                     r"'mysite\.settings'$", err, re.M), err
    assert 'unapplied migration' not in err
    assert 'Serving static files from /static/' in err


def test_admin_login_page(srv):
    r = srv.get('/admin/login/')
    assert r.status == 200, r
    assert b'Django administration' in r.body
    assert b'csrfmiddlewaretoken' in r.body


def test_view_edit(srv, proj):
    assert body(srv, '/shop/hello/') == 'hello v1'
    dj.edit(proj, 'shop/views.py', "'hello v1'", "'hello v2'")
    assert body(srv, '/shop/hello/') == 'hello v2'


def test_class_based_view_edit(srv, proj):
    assert body(srv, '/shop/about/') == 'about v1'
    dj.edit(proj, 'shop/views.py', "'about v1'", "'about v2'",
            style='atomic')
    assert body(srv, '/shop/about/') == 'about v2'


def test_template_edit_needs_no_python_reload(srv, proj):
    assert '[page v1] HI!' in body(srv, '/shop/page/')
    before = reloads(srv)
    dj.edit(proj, 'shop/templates/shop/page.html', '[page v1]', '[page v2]')
    assert '[page v2] HI!' in body(srv, '/shop/page/')
    dj.edit(proj, 'templates/base.html', '[base v1]', '[base v2]',
            style='atomic')
    text = body(srv, '/shop/page/')
    assert '[base v2]' in text and '[page v2]' in text
    assert reloads(srv) == before       # templates only: no module ran


def test_template_dir_outside_working_directory(srv, proj):
    assert body(srv, '/shop/shared/').strip() == '[shared v1]'
    path = proj.shared_template()
    with open(path, 'w') as f:
        f.write('[shared v2]\n')
    assert body(srv, '/shop/shared/').strip() == '[shared v2]'


def test_templatetag_edit(srv, proj):
    assert 'HI!' in body(srv, '/shop/page/')
    dj.edit(proj, 'shop/templatetags/shop_tags.py', "+ '!'", "+ '!!!'")
    assert 'HI!!!' in body(srv, '/shop/page/')
    # A new filter, used by the template at once.
    text = proj.read('shop/templatetags/shop_tags.py')
    proj.save('shop/templatetags/shop_tags.py', text + '''

@register.filter
def whisper(value):
    return str(value).lower() + '...'
''', dedent=False)
    dj.edit(proj, 'shop/templates/shop/page.html', '{{ "hi"|shout }}',
            '{{ "hi"|shout }} {{ "HEY"|whisper }}')
    text = body(srv, '/shop/page/')
    assert 'HI!!! hey...' in text, text


def test_app_urls_new_route(srv, proj):
    assert get(srv, '/shop/new/')[0] == 404
    text = proj.read('shop/views.py')
    proj.save('shop/views.py', text + '''

def fresh(request):
    return HttpResponse('fresh route')
''', dedent=False)
    dj.edit(proj, 'shop/urls.py', "    path('boom/', views.boom),\n",
            "    path('boom/', views.boom),\n"
            "    path('new/', views.fresh),\n")
    assert body(srv, '/shop/new/') == 'fresh route'
    assert body(srv, '/shop/hello/') == 'hello v2'


def test_root_urls_edit(srv, proj):
    assert body(srv, '/root/') == 'root v1'
    dj.edit(proj, 'mysite/urls.py', "'root v1'", "'root v2'")
    assert body(srv, '/root/') == 'root v2'
    dj.edit(proj, 'mysite/urls.py', "    path('root/', root_view),\n",
            "    path('root/', root_view),\n"
            "    path('again/', root_view),\n")
    assert body(srv, '/again/') == 'root v2'
    assert body(srv, '/shop/new/') == 'fresh route'


def test_form_edit(srv, proj):
    assert body(srv, '/shop/form/') == 'name'
    dj.edit(proj, 'shop/forms.py', "fields = ['name']",
            "fields = ['name', 'price']")
    assert body(srv, '/shop/form/') == 'name,price'


def test_serializer_edit(srv, proj):
    assert json.loads(body(srv, '/shop/serialized/')) == {'name': 'pen'}
    dj.edit(proj, 'shop/serializers.py', "fields = ['name']",
            "fields = ['name', 'price']")
    assert json.loads(body(srv, '/shop/serialized/')) == {'name': 'pen',
                                                          'price': 3}


def test_admin_edit(srv, proj, browser):
    body(srv, '/shop/make/?name=widget')    # the changelist needs a row
    code, html = browser.get('/admin/shop/item/')
    assert code == 200 and 'column-name' in html, html[:3000]
    assert 'column-price' not in html
    dj.edit(proj, 'shop/admin.py', "list_display = ('name',)",
            "list_display = ('name', 'price')")
    code, html = browser.get('/admin/shop/item/')
    assert code == 200 and 'column-price' in html, html[:3000]

    # Registering another model: its admin URLs exist at once.
    assert browser.get('/admin/shop/category/')[0] == 404
    dj.edit(proj, 'shop/admin.py', 'from .models import Item',
            'from .models import Category, Item\n\n'
            'admin.site.register(Category)')
    code, html = browser.get('/admin/shop/category/')
    assert code == 200, html[:3000]
    assert '/admin/shop/category/' in browser.get('/admin/')[1]

    # And unregistering it (the line is gone): its URLs are gone too.
    dj.edit(proj, 'shop/admin.py', '\n\nadmin.site.register(Category)', '')
    assert browser.get('/admin/shop/category/')[0] == 404
    assert '/admin/shop/category/' not in browser.get('/admin/')[1]
    code, html = browser.get('/admin/shop/item/')
    assert code == 200 and 'column-price' in html


def make_item_events(srv, name):
    return sorted(json.loads(body(srv, '/shop/make/?name=' + name))['events'])


def test_signal_receivers_are_not_duplicated(srv, proj):
    assert make_item_events(srv, 'a') == ['plain-v1', 'strong-v1', 'uid-v1']
    dj.edit(proj, 'shop/signals.py', "LABEL = 'v1'", "LABEL = 'v2'")
    assert make_item_events(srv, 'b') == ['plain-v2', 'strong-v2', 'uid-v2']
    dj.edit(proj, 'shop/signals.py', "LABEL = 'v2'", "LABEL = 'v3'",
            style='atomic')
    assert make_item_events(srv, 'c') == ['plain-v3', 'strong-v3', 'uid-v3']


def test_translation_change_outside_working_directory(srv, proj):
    assert body(srv, '/shop/translated/') == 'Bonjour v1'
    dj.write_mo(proj.mo_path(), {'Hello': 'Bonjour v2'})
    assert body(srv, '/shop/translated/') == 'Bonjour v2'


def test_static_file_served_and_fresh(srv, proj):
    r = srv.get('/static/shop/site.css')
    assert r.status == 200 and b'css v1' in r.body, r
    assert (r.header('Content-Type') or '').startswith('text/css')
    dj.edit(proj, 'shop/static/shop/site.css', 'css v1', 'css v2')
    r = srv.get('/static/shop/site.css')
    assert r.status == 200 and b'css v2' in r.body, r
    # Django's static files app serves admin's files too.
    assert srv.get('/static/admin/css/base.css').status == 200


def test_static_refuses_path_traversal(srv, proj):
    secret = 'settings-file-marker'
    outside = os.path.join(proj.root, 'outside.txt')
    with open(outside, 'w') as f:
        f.write('outside the static root\n')
    static_dir = proj.path('shop/static/shop')
    os.symlink(outside, os.path.join(static_dir, 'leak.txt'))
    os.symlink(os.path.join(static_dir, 'site.css'),
               os.path.join(static_dir, 'alias.css'))
    targets = [
        '/static/../mysite/settings.py',
        '/static/shop/../../../mysite/settings.py',
        '/static/%2e%2e/%2e%2e/mysite/settings.py',
        '/static/shop/%2e%2e/%2e%2e/%2e%2e/mysite/settings.py',
        '/static/shop/..%2f..%2f..%2fmysite%2fsettings.py',
        '/static/%2e%2e%2f%2e%2e%2fmysite/settings.py',
        '/static//etc/passwd',
        '/static/shop/leak.txt',
        '/static/shop/',
    ]
    for target in targets:
        raw = raw_request(srv.port, ('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                                     'Connection: close\r\n\r\n'
                                     % target).encode())
        head = raw.split(b'\r\n', 1)[0]
        # 404, or 400 for what Django's finders call suspicious
        assert head.split()[1] in (b'400', b'404'), (target, raw[:500])
        assert secret.encode() not in raw and b'root:x:' not in raw, target
        assert b'outside the static root' not in raw, target
    # A symlink that stays inside the root is fine.
    r = srv.get('/static/shop/alias.css')
    assert r.status == 200 and b'css v2' in r.body
    srv.assert_healthy('/shop/hello/', b'hello v2')


def test_debug_404_page_from_django(srv):
    r = srv.get('/no/such/page/')
    assert r.status == 404
    text = r.text()
    assert 'Page not found' in text and 'mysite.urls' in text, text[:2000]
    # The page lists the routes as they are now (added by earlier edits).
    assert 'again/' in text


def test_debug_500_page_from_django(srv):
    r = srv.get('/shop/boom/', headers={'Accept': 'text/html'})
    assert r.status == 500
    text = r.text()
    assert 'RuntimeError' in text and 'boom from the view' in text
    assert 'Django' in text         # Django's technical page, not ours


def test_view_syntax_error_then_fixed(srv, proj):
    good = proj.read('shop/views.py')
    proj.save('shop/views.py', good.replace(
        "def hello(request):", "def hello(request:"), dedent=False)
    code, text = get(srv, '/shop/hello/')
    assert code == 500 and 'SyntaxError' in text, text[:2000]
    assert re.search(r'shop/views\.py', text), text[:2000]
    code, text = get(srv, '/admin/login/')
    assert code == 500           # every URL: the code on disk is broken
    proj.save('shop/views.py', good.replace("'hello v2'", "'hello v3'"),
              dedent=False)
    assert body(srv, '/shop/hello/') == 'hello v3'


def test_system_check_error_after_reload_then_fixed(srv, proj):
    mark = srv.mark()
    dj.edit(proj, 'shop/admin.py', "list_display = ('name', 'price')",
            "list_display = ('name', 'nope')")
    code, text = get(srv, '/shop/hello/')
    assert code == 500, text[:2000]
    assert 'SystemCheckError' in text and 'admin.E108' in text, text[:3000]
    assert 'shop/admin.py' in text
    srv.wait_for_log(r'admin\.E108', since=mark)
    dj.edit(proj, 'shop/admin.py', "list_display = ('name', 'nope')",
            "list_display = ('name', 'price')")
    assert body(srv, '/shop/hello/') == 'hello v3'
    srv.wait_for_log(r'System check identified no issues', since=mark)
