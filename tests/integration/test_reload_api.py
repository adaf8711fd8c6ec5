"""The `hotserve` Python API seen from app code during reloads:
on_reload callbacks, register_cache, keep() and __hotserve_keep__, the
__hotserve_before_reload__ / __hotserve_after_reload__ module hooks, and
status() / GET /__hotserve__/status.

The state the tests look at lives in `store.py`, a module that is never
edited and so never reloaded; GET /json/NAME answers store.NAME as JSON.
"""

import json

import pytest

from reload_helpers import (MODES, RECLOG, Project, body, get, last_modules,
                            start, status, wsgi_app)

END = '\nreclog.ran(__name__)\n'


def mod(text):
    return 'import reclog\n' + text.strip('\n') + '\n' + END


STORE = '''
import functools
import hotserve

CALLS = []          # on_reload callback defined here (never reloaded)
VIEW_CALLS = []     # on_reload callback defined in views.py
HOOKS = []          # before/after hooks
MADE = []           # keep() factory calls
COMPUTED = []       # calls of the lru_cache'd function below

CACHE = hotserve.register_cache({})

@hotserve.register_cache
@functools.lru_cache(maxsize=None)
def expensive(n):
    COMPUTED.append(n)
    return n * 2

@hotserve.on_reload
def remember(modules):
    CALLS.append(list(modules))
'''

VIEWS = '''
import hotserve
import store

VERSION = "%s"

def view():
    return VERSION

@hotserve.on_reload
def views_cb(modules):
    store.VIEW_CALLS.append([VERSION, list(modules)])

def __hotserve_before_reload__():
    store.HOOKS.append("before views " + VERSION)

def __hotserve_after_reload__():
    store.HOOKS.append("after views " + VERSION)

def _make():
    store.MADE.append(VERSION)
    return {"made_by": VERSION}

POOL = hotserve.keep("POOL", _make)

__hotserve_keep__ = ("history",)
try:
    history
except NameError:
    history = []
history.append(VERSION)
'''

URLS = '''
import store
from views import view

def __hotserve_before_reload__():
    store.HOOKS.append("before urls")

def __hotserve_after_reload__():
    store.HOOKS.append("after urls")

ROUTES = {"/": view}
'''

APP_ROUTES = [
    '"/fill": lambda: (store.CACHE.__setitem__("k", 1), '
    'store.expensive(3))[1]',
    '"/peek": lambda: json.dumps([len(store.CACHE), '
    'store.expensive.cache_info().currsize])',
    '"/pool": lambda: json.dumps([views.POOL, id(views.POOL) == POOL_ID[0], '
    'views.history])',
    '"/status": lambda: json.dumps(hotserve.status())',
]


def json_route(name):
    return '"/json/%s": lambda: json.dumps(store.%s)' % (name, name)


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def api_project(tmp_path):
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('store.py', STORE)
    p.write('views.py', mod(VIEWS % 'v1'))
    p.write('urls.py', mod(URLS))
    names = ['CALLS', 'VIEW_CALLS', 'HOOKS', 'MADE', 'COMPUTED']
    routes = 'dict(urls.ROUTES, **{%s})' % ',\n'.join(
        APP_ROUTES + [json_route(n) for n in names])
    p.write('app.py', wsgi_app(
        'import hotserve\nimport store\nimport urls\nimport views\n'
        'POOL_ID = store.__dict__.setdefault("POOL_ID", [id(views.POOL)])',
        routes))
    return p


def jget(srv, name):
    return json.loads(body(srv, '/json/' + name))


def test_on_reload_callbacks(server_factory, tmp_path, mode):
    """A callback receives the reloaded module names, dependencies first,
    once per successful reload; one defined in a reloaded module is
    replaced by its new version (runs once, with the new code)."""
    p = api_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v1'
    assert jget(srv, 'CALLS') == [] and jget(srv, 'VIEW_CALLS') == []

    order = ['views', 'urls', 'app']
    p.save('views.py', mod(VIEWS % 'v2'))
    assert body(srv, '/') == 'v2'
    assert jget(srv, 'CALLS') == [order]
    assert jget(srv, 'VIEW_CALLS') == [['v2', order]]

    p.save('views.py', mod(VIEWS % 'v3'))
    assert body(srv, '/') == 'v3'
    assert jget(srv, 'CALLS') == [order, order]
    assert jget(srv, 'VIEW_CALLS') == [['v2', order], ['v3', order]]

    # A failed reload calls nothing; the fix does.
    p.save('views.py', mod(VIEWS % 'v4') + '\nraise RuntimeError("no")\n')
    assert get(srv, '/')[0] == 500
    p.save('views.py', mod(VIEWS % 'v5'))
    assert body(srv, '/') == 'v5'
    assert jget(srv, 'CALLS') == [order] * 3
    assert [c[0] for c in jget(srv, 'VIEW_CALLS')] == ['v2', 'v3', 'v5']


def test_register_cache_cleared(server_factory, tmp_path, mode):
    """A registered dict and a registered lru_cache are cleared after a
    successful reload (of another module), and not before one."""
    p = api_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/fill') == '6'
    assert json.loads(body(srv, '/peek')) == [1, 1]
    assert body(srv, '/fill') == '6'
    assert jget(srv, 'COMPUTED') == [3]          # second call was cached
    assert json.loads(body(srv, '/peek')) == [1, 1]

    p.save('views.py', mod(VIEWS % 'v2'))
    assert json.loads(body(srv, '/peek')) == [0, 0]
    assert body(srv, '/fill') == '6'
    assert jget(srv, 'COMPUTED') == [3, 3]
    assert json.loads(body(srv, '/peek')) == [1, 1]


def test_module_hooks_order(server_factory, tmp_path, mode):
    """__hotserve_before_reload__ runs with the old code just before each
    module runs again (plan order); __hotserve_after_reload__ with the new
    code once every module of the plan ran."""
    p = api_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert jget(srv, 'HOOKS') == []
    p.save('views.py', mod(VIEWS % 'v2'))
    assert body(srv, '/') == 'v2'
    assert jget(srv, 'HOOKS') == ['before views v1', 'before urls',
                                  'after views v2', 'after urls']
    p.save('urls.py', mod(URLS))
    assert body(srv, '/') == 'v2'
    assert jget(srv, 'HOOKS')[4:] == ['before urls', 'after urls']


def test_keep_state(server_factory, tmp_path, mode):
    """hotserve.keep() returns the object from before the reload (the
    factory ran once) and __hotserve_keep__ carries a name over."""
    p = api_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert json.loads(body(srv, '/pool')) == [{'made_by': 'v1'}, True,
                                              ['v1']]
    for v in ('v2', 'v3'):
        p.save('views.py', mod(VIEWS % v))
        assert body(srv, '/') == v
    assert json.loads(body(srv, '/pool')) == [{'made_by': 'v1'}, True,
                                              ['v1', 'v2', 'v3']]
    assert jget(srv, 'MADE') == ['v1']


def test_status_fields(server_factory, tmp_path, mode):
    """GET /__hotserve__/status and hotserve.status(): every field, before
    any reload, after one, while a reload is failing, after the fix."""
    p = api_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    st = status(srv)
    # The documented fields (more may be added: status is a dict for
    # humans and scripts, not a closed record).
    assert set(st) >= {'enabled', 'generation', 'reloads', 'failures',
                       'last', 'modules', 'watch_mode'}, sorted(st)
    assert st['enabled'] is True
    assert st['watch_mode'] == mode
    assert st['reloads'] == 0 and st['failures'] == 0 and st['last'] is None
    assert isinstance(st['generation'], int)
    # app, reclog, store, views, urls: project modules only (not hotserve).
    assert st['modules'] == 5
    assert json.loads(body(srv, '/status')) == st

    gen0 = st['generation']
    p.save('views.py', mod(VIEWS % 'v2'))
    assert body(srv, '/') == 'v2'
    st = status(srv)
    assert st['reloads'] == 1 and st['failures'] == 0
    assert st['generation'] > gen0
    last = st['last']
    assert set(last) >= {'modules', 'total_ms', 'trigger', 'ok', 'error',
                         'deleted'}, sorted(last)
    assert last['ok'] is True and last['error'] is None
    assert last['trigger'] == ['views.py'] and last['deleted'] == []
    assert last_modules(st) == ['views', 'urls', 'app']
    for m in last['modules']:
        assert set(m) >= {'name', 'ms'}, m
        assert isinstance(m['ms'], float) and 0 <= m['ms'] <= last['total_ms']
    assert isinstance(last['total_ms'], float)
    assert last['total_ms'] >= sum(m['ms'] for m in last['modules'])
    assert json.loads(body(srv, '/status')) == st

    # While the reload fails, the status endpoint still answers, and says
    # why (the app's own routes get the error page).
    p.save('views.py', mod(VIEWS % 'v3').replace('def view():',
                                                 'def view(:'))
    assert get(srv, '/')[0] == 500
    st = status(srv)
    assert st['reloads'] == 1 and st['failures'] == 1
    assert st['last']['ok'] is False
    assert st['last']['error'].startswith('SyntaxError')
    assert st['last']['trigger'] == ['views.py']

    p.save('views.py', mod(VIEWS % 'v4'))
    assert body(srv, '/') == 'v4'
    st = status(srv)
    assert st['reloads'] == 2 and st['failures'] == 1
    assert st['last']['ok'] is True and st['last']['error'] is None


def test_status_without_reload(server_factory, tmp_path):
    """--no-reload: status says disabled, and edits are not applied."""
    p = api_project(tmp_path)
    srv = start(server_factory, p, 'app:application', '--no-reload')
    st = status(srv)
    assert st['enabled'] is False and st['watch_mode'] is None
    assert st['reloads'] == 0 and st['last'] is None
    p.save('views.py', mod(VIEWS % 'v2'))
    assert body(srv, '/') == 'v1'
