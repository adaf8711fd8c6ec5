"""Django files that cannot be reloaded in place (settings, models) make
hotserve restart the process (the restart feature's Django defaults): the
request sent right after the save gets the new code, and no request of a
client looping on fresh connections meanwhile is refused, reset or failed.
A SyntaxError in the settings is a 500 naming the file until it is fixed.
"""

import re
import time

import django_helpers as dj
from reload_helpers import body, get, start
from restart_helpers import Hammer, one_request

APP = 'mysite.wsgi:application'


def project(tmp_path):
    p = dj.make_project(tmp_path / 'proj')
    dj.prepare(p)
    return p


def assert_fresh_after(h, t_write, path_body):
    """Every answer sent after t_write is 200 with body path_body; none
    failed at all."""
    answers = h.snapshot()
    bad = [a for a in answers if a.kind != 'ok' or a.status != 200]
    assert not bad, '%d of %d requests failed: %r' % (len(bad), len(answers),
                                                      bad[:10])
    stale = [a for a in answers
             if a.t_send >= t_write and a.body.strip() != path_body]
    assert not stale, stale[:10]


def test_settings_change_restarts_without_refusing(server_factory,
                                                   tmp_path):
    p = project(tmp_path)
    srv = start(server_factory, p, APP)
    assert body(srv, '/setting/') == 'settings v1'
    with Hammer(srv.port, path='/setting/') as h:
        since = srv.mark()
        dj.edit(p, 'mysite/settings.py', "'settings v1'", "'settings v2'",
                style='atomic')
        t_write = time.monotonic()
        now = one_request(srv.port, '/setting/')
        assert now.kind == 'ok' and now.body == b'settings v2', now
        h.wait_for(lambda a: a.body == b'settings v2', since=t_write)
        time.sleep(0.2)
    assert_fresh_after(h, t_write, b'settings v2')
    srv.wait_for_log(r'^restarting: mysite/settings\.py changed', since=since)
    # The new process is a Django process like the first one.
    srv.wait_for_log(r"^Django version .*, using settings 'mysite\.settings'",
                     since=since)
    assert body(srv, '/shop/hello/') == 'hello v1'
    assert get(srv, '/static/shop/site.css')[0] == 200


def test_models_change_restarts_without_refusing(server_factory, tmp_path):
    p = project(tmp_path)
    srv = start(server_factory, p, APP)
    assert body(srv, '/shop/fields/') == 'id,name,price,category'
    with Hammer(srv.port, path='/shop/hello/') as h:
        since = srv.mark()
        dj.edit(p, 'shop/models.py',
                "    price = models.IntegerField(default=1)\n",
                "    price = models.IntegerField(default=1)\n"
                "    note = models.CharField(max_length=20, default='')\n")
        t_write = time.monotonic()
        now = one_request(srv.port, '/shop/fields/')
        assert now.kind == 'ok' and \
            now.body == b'id,name,price,note,category', now
        time.sleep(0.2)
    assert_fresh_after(h, t_write, b'hello v1')
    srv.wait_for_log(r'^restarting: shop/models\.py changed', since=since)
    srv.wait_for_log(r'System check identified no issues', since=since)

    # makemigrations writes shop/migrations/0002_*.py: a restart again,
    # and runserver's warning about it in the new process.
    since = srv.mark()
    dj.prepare(p, migrate=False)
    assert body(srv, '/shop/hello/') == 'hello v1'
    srv.wait_for_log(r'^restarting: shop/migrations/0002_\w+\.py changed',
                     since=since)
    srv.wait_for_log(r'^You have 1 unapplied migration\(s\)\. .* for '
                     r'app\(s\): shop\.$', since=since)


def test_apps_py_change_restarts(server_factory, tmp_path):
    p = project(tmp_path)
    srv = start(server_factory, p, APP)
    assert body(srv, '/shop/hello/') == 'hello v1'
    since = srv.mark()
    dj.edit(p, 'shop/apps.py', "name = 'shop'",
            "name = 'shop'\n    verbose_name = 'The shop'")
    assert body(srv, '/shop/hello/') == 'hello v1'
    srv.wait_for_log(r'^restarting: shop/apps\.py changed', since=since)


def test_settings_syntax_error_then_fixed(server_factory, tmp_path):
    p = project(tmp_path)
    srv = start(server_factory, p, APP)
    good = p.read('mysite/settings.py')
    assert body(srv, '/setting/') == 'settings v1'
    p.save('mysite/settings.py', good.replace(
        "SETTING_MARK = 'settings v1'", "SETTING_MARK = 'settings v2"),
        dedent=False)
    code, text = get(srv, '/setting/')
    assert code == 500, text[:2000]
    assert 'SyntaxError' in text, text[:2000]
    assert re.search(r'mysite/settings\.py', text), text[:2000]
    assert get(srv, '/shop/hello/')[0] == 500
    p.save('mysite/settings.py', good.replace("'settings v1'",
                                              "'settings v3'"),
           dedent=False)
    assert body(srv, '/setting/') == 'settings v3'
    assert body(srv, '/shop/hello/') == 'hello v1'
    assert get(srv, '/static/shop/site.css')[0] == 200
