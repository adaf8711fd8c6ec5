"""Failed reloads: a SyntaxError, an exception at import time, a deleted
module, a module that does not exist yet, an app that is broken at
startup. The response is a 500 naming the file (and line) — never the old
code's answer — for as long as the problem is on disk; the first request
after the fix gets the new code. Each test runs under inotify and --poll.
"""

import os
import re

import pytest

import reload_helpers
from reload_helpers import (MODES, RECLOG, body, get, last_modules, mod,
                            Project, reclog, start, status, views, wsgi_app)

@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def two_module_project(tmp_path):
    return reload_helpers.two_module_project(tmp_path, 'v1')


def assert_error_page(srv, path, *needles):
    code, text = get(srv, path)
    assert code == 500, (code, text[:2000])
    for needle in needles:
        if isinstance(needle, re.Pattern):
            assert needle.search(text), (needle.pattern, text[:3000])
        else:
            assert needle in text, (needle, text[:3000])
    return text


# Line 4 of the saved file is the broken one (mod() puts `import reclog`
# on line 1).
SYNTAX_ERROR = '''def view():
    return "v2"

def broken(:
    pass'''


def test_syntax_error_then_fixed(server_factory, tmp_path, mode):
    p = two_module_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v1'
    mark = srv.mark()

    p.save('views.py', mod(SYNTAX_ERROR))
    assert_error_page(srv, '/', 'SyntaxError', 'views.py:5')
    # The log names the file and line as well.
    srv.wait_for_log(r'^reload failed \(views\.py\): SyntaxError: .*'
                     r'\(views\.py, line 5\)', since=mark)
    srv.wait_for_log(r'File ".*views\.py", line 5', since=mark)
    # Still broken (the failure is not forgotten by the next request).
    assert_error_page(srv, '/', 'SyntaxError', 'views.py:5')

    p.save('views.py', views('v3'))
    assert body(srv, '/') == 'v3'
    assert body(srv, '/') == 'v3'
    st = status(srv)
    assert st['failures'] == 1 and st['reloads'] == 1
    assert st['last']['ok'] is True and st['last']['error'] is None


# `1 / 0` is on line 7 of the saved file.
IMPORT_ERROR = '''TOKEN = "v2"

def view():
    return TOKEN

1 / 0'''


def test_exception_at_import_rolls_back(server_factory, tmp_path, mode):
    """views.py raises at import: 500 naming views.py (line 7, the
    `1 / 0`), never v1 or v2; editing another module while views is broken
    keeps the 500 (views is retried, and fails again); fixing it serves
    the new code."""
    p = two_module_project(tmp_path)
    p.write('other.py', mod('X = 1'))
    p.write('app.py', wsgi_app('import urls\nimport other', 'urls.ROUTES'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v1'
    mark = srv.mark()

    p.save('views.py', mod(IMPORT_ERROR))
    assert_error_page(srv, '/', 'ZeroDivisionError', 'views.py:7')
    srv.wait_for_log(r'^reload failed \(views\.py\): ZeroDivisionError',
                     since=mark)

    p.save('other.py', mod('X = 2'))
    assert_error_page(srv, '/', 'ZeroDivisionError', 'views.py:7')

    p.save('views.py', views('v3'))
    assert body(srv, '/') == 'v3'
    st = status(srv)
    assert st['failures'] == 2 and st['last']['ok'] is True


def test_failed_importer_rolls_back_dependency(server_factory, tmp_path,
                                               mode):
    """c changes fine but its importer b now fails (the name it imports is
    gone): the whole reload fails, and restoring c's old text (the file
    as it was when the server last worked) serves the old answer again
    without a 500."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('c.py', mod('TOKEN = "c1"'))
    p.write('b.py', mod('from c import TOKEN\nVALUE = "b" + TOKEN'))
    p.write('app.py', wsgi_app('import b', '{"/": lambda: b.VALUE}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'bc1'

    p.save('c.py', mod('RENAMED = "c2"'))
    assert_error_page(srv, '/', 'ImportError', "cannot import name 'TOKEN'",
                      'b.py')
    p.save('c.py', mod('TOKEN = "c1"'))
    assert body(srv, '/') == 'bc1'
    p.save('c.py', mod('TOKEN = "c3"'))
    assert body(srv, '/') == 'bc3'


def test_deleted_module(server_factory, tmp_path, mode):
    """helper.py, imported by urls.py, is deleted: 500 naming the missing
    module and file, never the old answer. Recreating it (same size and
    same mtime as the original) serves the new text."""
    p = two_module_project(tmp_path)
    p.write('helper.py', mod('TEXT = "help v1"'))
    p.write('urls.py', mod('from views import view\nfrom helper import TEXT\n'
                           'ROUTES = {"/": view, "/help": lambda: TEXT}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/help') == 'help v1'
    st_orig = os.stat(p.path('helper.py'))
    mark = srv.mark()

    p.delete('helper.py')
    text = assert_error_page(srv, '/help', "No module named 'helper'",
                             'helper.py')
    assert 'help v1' not in text
    assert_error_page(srv, '/', "No module named 'helper'")
    srv.wait_for_log(r"^reload failed \(helper\.py\): ModuleNotFoundError: "
                     r"No module named 'helper'", since=mark)

    p.write('helper.py', mod('TEXT = "help v2"'))
    assert os.path.getsize(p.path('helper.py')) == st_orig.st_size
    os.utime(p.path('helper.py'), ns=(st_orig.st_atime_ns,
                                      st_orig.st_mtime_ns))
    assert body(srv, '/help') == 'help v2'
    assert body(srv, '/') == 'v1'


def test_deleted_module_no_longer_imported(server_factory, tmp_path, mode):
    """urls.py stops importing helper and helper.py is deleted in the same
    batch: the reload succeeds and reports the deletion."""
    p = two_module_project(tmp_path)
    p.write('helper.py', mod('TEXT = "help v1"'))
    p.write('urls.py', mod('from views import view\nfrom helper import TEXT\n'
                           'ROUTES = {"/": view, "/help": lambda: TEXT}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/help') == 'help v1'
    mark = srv.mark()

    p.save('urls.py', mod('from views import view\nROUTES = {"/": view}'))
    p.delete('helper.py')
    assert srv.get('/help').status == 404
    assert body(srv, '/') == 'v1'
    st = status(srv)
    assert st['last']['ok'] is True and st['failures'] == 0
    assert st['last']['deleted'] == ['helper']
    assert 'urls' in last_modules(st)
    srv.wait_for_log(r'^reloaded .*helper \(deleted\)', since=mark)


def test_module_created_after_its_import(server_factory, tmp_path, mode):
    """urls.py is edited to import newmod before newmod.py exists: 500
    naming newmod; creating newmod.py (a file nothing has imported) is
    enough to retry, and the next request works."""
    p = two_module_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v1'

    p.save('urls.py', mod('from views import view\nfrom newmod import NEW\n'
                          'ROUTES = {"/": view, "/new": lambda: NEW}'))
    assert_error_page(srv, '/new', "No module named 'newmod'", 'urls.py')
    p.write('newmod.py', mod('NEW = "brand new"'))
    assert body(srv, '/new') == 'brand new'
    assert body(srv, '/') == 'v1'


def test_startup_broken_dependency_retried(server_factory, tmp_path, mode):
    """The server starts while views.py has a SyntaxError: it serves the
    error page (naming views.py and the line) and retries when the file
    is fixed."""
    p = two_module_project(tmp_path)
    p.write('views.py', mod(SYNTAX_ERROR))
    srv = start(server_factory, p, 'app:application', mode=mode)
    srv.wait_for_log(r'The application failed to import')
    assert_error_page(srv, '/', 'SyntaxError', 'views.py:5')
    assert_error_page(srv, '/', 'SyntaxError', 'views.py:5')

    p.save('views.py', views('fixed'))
    assert body(srv, '/') == 'fixed'
    p.save('views.py', views('fixed again'))
    assert body(srv, '/') == 'fixed again'


def test_startup_broken_app_module_retried(server_factory, tmp_path, mode):
    """The app module itself raises at import: 500 naming app.py; fixing
    app.py serves."""
    p = two_module_project(tmp_path)
    good = wsgi_app('import urls', 'urls.ROUTES')
    p.write('app.py', good.replace('import reclog\n',
                                   'import reclog\nraise RuntimeError('
                                   '"app is broken")\n', 1))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert_error_page(srv, '/', 'RuntimeError: app is broken', 'app.py:4')

    p.save('app.py', good)
    assert body(srv, '/') == 'v1'
    p.save('views.py', views('v2'))
    assert body(srv, '/') == 'v2'


def test_startup_missing_module_retried(server_factory, tmp_path, mode):
    """The app imports a module that does not exist yet: creating it is
    enough."""
    p = two_module_project(tmp_path)
    p.write('urls.py', mod('from views import view\n'
                           'from local_settings import NAME\n'
                           'ROUTES = {"/": view, "/name": lambda: NAME}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert_error_page(srv, '/name', "No module named 'local_settings'")
    p.write('local_settings.py', mod('NAME = "settings here"'))
    assert body(srv, '/name') == 'settings here'


def test_error_never_serves_partial_module(server_factory, tmp_path, mode):
    """A module that fails half-way is not left half-executed: after the
    failure is fixed by editing a *different* file that the broken one
    imports, the whole chain runs again and the reclog shows complete
    executions only."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('conf.py', mod('OK = True'))
    p.write('views.py', mod('import conf\n'
                            'if not conf.OK:\n'
                            '    raise ValueError("conf says no")\n'
                            'def view():\n'
                            '    return "ok " + str(conf.OK)'))
    p.write('app.py', wsgi_app('import views', '{"/": views.view}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'ok True'
    before = reclog(srv)

    p.save('conf.py', mod('OK = False'))
    assert_error_page(srv, '/', 'ValueError: conf says no', 'views.py:4')
    p.save('conf.py', mod('OK = 1'))
    assert body(srv, '/') == 'ok 1'
    events = reclog(srv)[len(before):]
    # The failed attempt logged conf only (views raised before its last
    # line); the fix ran the chain completely.
    assert events == ['conf', 'conf', 'views', 'app'], events
