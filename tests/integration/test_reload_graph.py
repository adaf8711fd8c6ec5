"""Graph-driven reload: an edit re-executes the changed module and every
module that imports it (transitively), dependencies first, and the very
next request sees the new code.

Every module under test copies what it imports into its own namespace at
import time (`from x import NAME`, `VALUE = x.TOKEN`), so a response is
only fresh when the importers really ran again; and every module appends
its name to a never-reloaded log (`reclog`) as its last statement, so the
tests check which modules ran and in which order. Each test runs under
inotify and under `--poll`.
"""

import pytest

from reload_helpers import (ARROW, MODES, RECLOG, Project, body, last_modules,
                            reclog, reload_lines, start, status, wsgi_app)

END = '\nreclog.ran(__name__)\n'


def mod(text):
    """A test module: `import reclog` first, its own log entry last."""
    return 'import reclog\n' + text.strip('\n') + '\n' + END


def new_events(srv, before):
    events = reclog(srv)
    assert events[:len(before)] == before, events
    return events[len(before):]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def test_two_modules_optimistic(server_factory, tmp_path, mode):
    """urls.py does `from views import view`: editing views re-runs views,
    urls and the app module, and the next response is the new one."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('views.py', mod('def view():\n    return "view v1"'))
    p.write('urls.py', mod('from views import view\nROUTES = {"/": view}'))
    p.write('app.py', wsgi_app('import urls', 'urls.ROUTES'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'view v1'
    before = reclog(srv)
    assert before == ['views', 'urls', 'app'], before

    p.save('views.py', mod('def view():\n    return "view v2"'))
    assert body(srv, '/') == 'view v2'
    assert new_events(srv, before) == ['views', 'urls', 'app']

    p.save('views.py', mod('def view():\n    return "view three"'),
           style='atomic')
    assert body(srv, '/') == 'view three'
    st = status(srv)
    assert st['reloads'] == 2 and st['failures'] == 0
    assert last_modules(st) == ['views', 'urls', 'app']


def test_chain_order_and_minimality(server_factory, tmp_path, mode):
    """a -> b -> c: editing c re-runs c, b, a (then the app module) in that
    order; editing b re-runs b and a but not c."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('c.py', mod('TOKEN = "c1"'))
    p.write('b.py', mod('from c import TOKEN\nVALUE = "b(" + TOKEN + ")"'))
    p.write('a.py', mod('from b import VALUE as B\nVALUE = "a(" + B + ")"'))
    p.write('app.py', wsgi_app('import a', '{"/": lambda: a.VALUE}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'a(b(c1))'
    before = reclog(srv)

    p.save('c.py', mod('TOKEN = "c2"'))
    assert body(srv, '/') == 'a(b(c2))'
    assert new_events(srv, before) == ['c', 'b', 'a', 'app']
    assert last_modules(status(srv)) == ['c', 'b', 'a', 'app']

    before = reclog(srv)
    p.save('b.py', mod('from c import TOKEN\nVALUE = "B[" + TOKEN + "]"'))
    assert body(srv, '/') == 'a(B[c2])'
    assert new_events(srv, before) == ['b', 'a', 'app']


def test_diamond_order(server_factory, tmp_path, mode):
    """d is imported by b and c, both imported by a: d runs first, then b
    and c (each once), then a."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('d.py', mod('TOKEN = "d1"'))
    p.write('b.py', mod('import d\nVALUE = "b" + d.TOKEN'))
    p.write('c.py', mod('from d import TOKEN\nVALUE = "c" + TOKEN'))
    p.write('a.py', mod('import b, c\nVALUE = b.VALUE + "|" + c.VALUE'))
    p.write('app.py', wsgi_app('import a', '{"/": lambda: a.VALUE}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'bd1|cd1'
    before = reclog(srv)

    p.save('d.py', mod('TOKEN = "d2"'))
    assert body(srv, '/') == 'bd2|cd2'
    ran = new_events(srv, before)
    assert len(ran) == 5 and ran[0] == 'd' and ran[3:] == ['a', 'app'] \
        and sorted(ran[1:3]) == ['b', 'c'], ran
    assert last_modules(status(srv)) == ran


def test_package_init_reexport(server_factory, tmp_path, mode):
    """pkg/__init__.py re-exports `from .impl import f, CONST`; the app
    does `from pkg import f, CONST`. Editing pkg/impl.py re-runs impl,
    the package and the app."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('pkg/__init__.py', mod('from .impl import f, CONST'))
    p.write('pkg/impl.py', mod('CONST = "k1"\n\ndef f():\n    return "f1"'))
    p.write('app.py', wsgi_app('from pkg import f, CONST',
                               '{"/": lambda: f() + " " + CONST}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'f1 k1'
    before = reclog(srv)

    p.save('pkg/impl.py', mod('CONST = "k2"\n\ndef f():\n    return "f2"'))
    assert body(srv, '/') == 'f2 k2'
    assert new_events(srv, before) == ['pkg.impl', 'pkg', 'app']
    assert status(srv)['last']['trigger'] == ['pkg/impl.py']


def test_relative_imports(server_factory, tmp_path, mode):
    """`from . import x`, `from .sub import y` and `from ..x import TOKEN`
    are edges like absolute imports."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('pkg/__init__.py', mod(''))
    p.write('pkg/x.py', mod('TOKEN = "x1"'))
    p.write('pkg/sub.py', mod('y = "y1"'))
    p.write('pkg/mod.py', mod('from . import x\nfrom .sub import y\n'
                              'VALUE = x.TOKEN + "/" + y'))
    p.write('pkg/deep/__init__.py', mod(''))
    p.write('pkg/deep/leaf.py', mod('from ..x import TOKEN\n'
                                    'VALUE = "leaf:" + TOKEN'))
    p.write('app.py', wsgi_app(
        'from pkg import mod\nfrom pkg.deep import leaf',
        '{"/": lambda: mod.VALUE + " " + leaf.VALUE}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'x1/y1 leaf:x1'

    before = reclog(srv)
    p.save('pkg/x.py', mod('TOKEN = "x2"'))
    assert body(srv, '/') == 'x2/y1 leaf:x2'
    ran = new_events(srv, before)
    assert ran[0] == 'pkg.x' and ran[-1] == 'app', ran
    assert sorted(ran) == sorted(['pkg.x', 'pkg.mod', 'pkg.deep.leaf',
                                  'app']), ran

    before = reclog(srv)
    p.save('pkg/sub.py', mod('y = "y2"'))
    assert body(srv, '/') == 'x2/y2 leaf:x2'
    assert new_events(srv, before) == ['pkg.sub', 'pkg.mod', 'app']


def test_star_import_removed_name_vanishes(server_factory, tmp_path, mode):
    """`from x import *`: a name deleted from x is gone from the importer
    (its namespace is rebuilt, not updated), a new one appears."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('x.py', mod('NAME1 = "one"\nNAME2 = "two"'))
    p.write('y.py', mod('from x import *\n'
                        'HAS = [n for n in ("NAME1", "NAME2", "NAME3")\n'
                        '       if n in globals()]'))
    p.write('app.py', wsgi_app('import y', '{"/": lambda: ",".join(y.HAS)}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'NAME1,NAME2'

    p.save('x.py', mod('NAME1 = "one"'))
    assert body(srv, '/') == 'NAME1'
    p.save('x.py', mod('NAME1 = "one"\nNAME3 = "three"'))
    assert body(srv, '/') == 'NAME1,NAME3'


def test_import_module_edges(server_factory, tmp_path, mode):
    """A dispatcher that calls importlib.import_module('handlers.' + name)
    at import time (absolute and relative) re-runs when a handler
    changes."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('handlers/__init__.py', mod(''))
    p.write('handlers/hello.py', mod('GREETING = "hello v1"'))
    p.write('handlers/bye.py', mod('GREETING = "bye v1"'))
    p.write('dispatcher.py', mod(
        'import importlib\n'
        'TABLE = {}\n'
        'for _name in ("hello",):\n'
        '    TABLE[_name] = importlib.import_module(\n'
        '        "handlers." + _name).GREETING\n'
        'TABLE["bye"] = importlib.import_module(".bye", "handlers").GREETING'))
    p.write('app.py', wsgi_app(
        'import dispatcher',
        '{"/hello": lambda: dispatcher.TABLE["hello"],'
        ' "/bye": lambda: dispatcher.TABLE["bye"]}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/hello') == 'hello v1'
    assert body(srv, '/bye') == 'bye v1'

    before = reclog(srv)
    p.save('handlers/hello.py', mod('GREETING = "hello v2"'))
    assert body(srv, '/hello') == 'hello v2'
    assert new_events(srv, before) == ['handlers.hello', 'dispatcher', 'app']

    p.save('handlers/bye.py', mod('GREETING = "bye v2"'))
    assert body(srv, '/bye') == 'bye v2'
    assert body(srv, '/hello') == 'hello v2'


CYCLE_A = '''
TOKEN = "%s"
import b
COMBO = TOKEN + "+" + b.TOKEN
'''

CYCLE_B = '''
TOKEN = "%s"
import a

def peer():
    return a.TOKEN
'''


@pytest.mark.parametrize('edit', ['b', 'a'])
def test_import_cycle(server_factory, tmp_path, mode, edit):
    """a imports b, b imports a (a cycle, one reload unit). Whichever is
    edited, the response equals what a fresh process computes: a's COMBO
    copies b.TOKEN at import time."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('a.py', mod(CYCLE_A % 'a1'))
    p.write('b.py', mod(CYCLE_B % 'b1'))
    p.write('app.py', wsgi_app('import a',
                               '{"/": lambda: a.COMBO + " " + a.b.peer()}'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'a1+b1 a1'

    before = reclog(srv)
    if edit == 'b':
        p.save('b.py', mod(CYCLE_B % 'b2'))
        expect = 'a1+b2 a1'
    else:
        p.save('a.py', mod(CYCLE_A % 'a2'))
        expect = 'a2+b1 a2'
    assert body(srv, '/') == expect
    ran = new_events(srv, before)
    assert sorted(ran) == ['a', 'app', 'b'] and ran[-1] == 'app', ran

    # And a second edit of the other module of the cycle.
    if edit == 'b':
        p.save('a.py', mod(CYCLE_A % 'a3'))
        expect = 'a3+b2 a3'
    else:
        p.save('b.py', mod(CYCLE_B % 'b3'))
        expect = 'a2+b3 a2'
    assert body(srv, '/') == expect


VIEWS_DECORATED = '''
import functools
import keeper

def deco(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return "wrapped:" + f(*args, **kwargs)
    return wrapper

@deco
def page():
    return "page %(v)s"

@functools.lru_cache(maxsize=None)
def compute(n):
    return "compute %(v)s %%d" %% n

# A never-reloaded module keeps the first objects (like a registry would).
keeper.HELD.setdefault("page", page)
keeper.HELD.setdefault("compute", compute)
'''


def test_wraps_and_lru_cache_fresh(server_factory, tmp_path, mode):
    """functools.wraps-decorated views and lru_cache-decorated functions
    answer with the new code after an edit, both through the importer's
    fresh binding and through the old objects a never-reloaded module
    kept (the cached result of the old code is not served)."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('keeper.py', 'HELD = {}\n')
    p.write('views.py', mod(VIEWS_DECORATED % {'v': 'v1'}))
    p.write('urls.py', mod(
        'import keeper\n'
        'from views import page, compute\n'
        'ROUTES = {\n'
        '    "/page": page,\n'
        '    "/name": lambda: page.__name__ + " " + page.__wrapped__(),\n'
        '    "/compute": lambda: compute(7),\n'
        '    "/held-page": lambda: keeper.HELD["page"](),\n'
        '    "/held-compute": lambda: keeper.HELD["compute"](7),\n'
        '}'))
    p.write('app.py', wsgi_app('import urls', 'urls.ROUTES'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    paths = ['/page', '/name', '/compute', '/held-page', '/held-compute']
    v1 = {path: body(srv, path) for path in paths}
    assert v1 == {'/page': 'wrapped:page v1', '/name': 'page page v1',
                  '/compute': 'compute v1 7', '/held-page': 'wrapped:page v1',
                  '/held-compute': 'compute v1 7'}

    for v in ('v2', 'v3'):
        p.save('views.py', mod(VIEWS_DECORATED % {'v': v}))
        got = {path: body(srv, path) for path in paths}
        assert got == {path: text.replace('v1', v)
                       for path, text in v1.items()}


def test_new_module(server_factory, tmp_path, mode):
    """An edited module imports a brand-new file: it is imported, and it
    is tracked from then on (its own edits reload)."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('views.py', mod('def view():\n    return "v1"'))
    p.write('urls.py', mod('from views import view\nROUTES = {"/": view}'))
    p.write('app.py', wsgi_app('import urls', 'urls.ROUTES'))
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v1'
    modules = status(srv)['modules']

    p.write('extra/__init__.py', '')
    p.write('extra/more.py', mod('def more():\n    return "more v1"'))
    p.save('urls.py', mod('from views import view\n'
                          'from extra.more import more\n'
                          'ROUTES = {"/": view, "/more": more}'))
    assert body(srv, '/more') == 'more v1'
    assert body(srv, '/') == 'v1'
    assert status(srv)['modules'] == modules + 2

    before = reclog(srv)
    p.save('extra/more.py', mod('def more():\n    return "more v2"'))
    assert body(srv, '/more') == 'more v2'
    assert new_events(srv, before) == ['extra.more', 'urls', 'app']


FACTORY_APP = '''
import reclog

def make_routes():
    return {%s}

def create_app():
    routes = make_routes()

    def application(environ, start_response):
        fn = routes.get(environ["PATH_INFO"])
        if fn is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no route"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [fn().encode()]
    return application
%s
reclog.ran(__name__)
'''


@pytest.mark.parametrize('spec', ['app:create_app()', 'app:application'])
def test_app_module_reloads(server_factory, tmp_path, mode, spec):
    """Editing the module that builds the app (a factory registering
    routes) makes the new route work, with a factory spec and with a
    module-level `application = create_app()`."""
    tail = '' if spec.endswith('()') else 'application = create_app()\n'
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('app.py', FACTORY_APP % ('"/a": lambda: "route a"', tail))
    srv = start(server_factory, p, spec, mode=mode)
    assert body(srv, '/a') == 'route a'
    assert srv.get('/b').status == 404

    p.save('app.py', FACTORY_APP % ('"/a": lambda: "route a2", '
                                    '"/b": lambda: "route b"', tail))
    assert body(srv, '/b') == 'route b'
    assert body(srv, '/a') == 'route a2'
    assert last_modules(status(srv)) == ['app']


def test_app_built_by_imported_factory(server_factory, tmp_path, mode):
    """wsgi.py does `application = create_app()` with create_app from
    factory.py: editing factory.py re-runs wsgi.py and the new app
    object serves."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('factory.py', FACTORY_APP % ('"/x": lambda: "x1"', ''))
    p.write('wsgi.py', mod('from factory import create_app\n'
                           'application = create_app()'))
    srv = start(server_factory, p, 'wsgi:application', mode=mode)
    assert body(srv, '/x') == 'x1'
    p.save('factory.py', FACTORY_APP % ('"/x": lambda: "x2", '
                                        '"/y": lambda: "y2"', ''))
    assert body(srv, '/y') == 'y2'
    assert body(srv, '/x') == 'x2'
    assert last_modules(status(srv)) == ['factory', 'wsgi']


def test_reload_log_line_shape(server_factory, tmp_path, mode):
    """One save prints exactly one line
    `reloaded N modules in X.Y ms (TRIGGER): m1 → m2 → ...` whose names
    are the status' last.modules."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('apps/__init__.py', '')
    p.write('apps/app0/__init__.py', '')
    p.write('apps/app0/views.py', mod('def view():\n    return "v1"'))
    p.write('apps/app0/urls.py', mod('from .views import view\n'
                                     'ROUTES = {"/": view}'))
    p.write('myproject/__init__.py', '')
    p.write('myproject/urls.py', mod('from apps.app0 import urls as app0\n'
                                     'ROUTES = dict(app0.ROUTES)'))
    p.write('myproject/wsgi.py', wsgi_app('from myproject import urls',
                                          'urls.ROUTES'))
    srv = start(server_factory, p, 'myproject.wsgi:application', mode=mode)
    assert body(srv, '/') == 'v1'
    assert reload_lines(srv) == []
    mark = srv.mark()

    p.save('apps/app0/views.py', mod('def view():\n    return "v2"'))
    assert body(srv, '/') == 'v2'
    names = last_modules(status(srv))
    assert names == ['apps.app0.views', 'apps.app0.urls', 'myproject.urls',
                     'myproject.wsgi']
    srv.wait_for_log(r'^reloaded ', since=mark)
    lines = reload_lines(srv, mark)
    assert len(lines) == 1, [m.group(0) for m in lines]
    m = lines[0]
    assert int(m.group(1)) == 4
    assert float(m.group(2)) >= 0.0
    assert m.group(3) == 'apps/app0/views.py'
    assert m.group(4).split(ARROW) == names
    assert m.group(0) == ('reloaded 4 modules in %s ms (apps/app0/views.py): '
                          '%s' % (m.group(2), ARROW.join(names)))
