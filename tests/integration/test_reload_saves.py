"""How files change on disk: every editor save style is seen by the next
request (in-place O_TRUNC write, atomic temp+rename, JetBrains safe write,
vim's backup rename, `sed -i`), including same-size edits in the same
second and edits that keep the old mtime; files nobody imported and
non-Python files never trigger a reload; `--exclude` hides a module's
edits. Each test runs under inotify and --poll.
"""

import os
import subprocess

import pytest

import reload_helpers
from reload_helpers import (MODES, SAVE_STYLES, body, mod, precompile, Project,
                            reclog, reload_lines, start, status, views,
                            wsgi_app)

@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def two_module_project(tmp_path):
    return reload_helpers.two_module_project(tmp_path, 'v0')


@pytest.mark.parametrize('style', SAVE_STYLES)
def test_save_style(server_factory, tmp_path, mode, style):
    """Five saves in a row in one style, alternating between tokens of
    the same and of different lengths; each is served by the request
    right after it, and each makes exactly one reload."""
    p = two_module_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v0'
    tokens = ['v1', 'v2', 'version three', 'v4', 'v5']
    for i, token in enumerate(tokens, 1):
        p.save('views.py', views(token), style=style)
        assert body(srv, '/') == token, 'save %d (%s)' % (i, style)
        st = status(srv)
        assert st['reloads'] == i, st
        assert st['last']['trigger'] == ['views.py'], st['last']
    # No temp/backup name was ever taken for a module.
    assert st['modules'] == 4
    assert sorted(os.listdir(p.root)) == ['app.py', 'reclog.py', 'urls.py',
                                          'views.py']


def test_sed_substitution(server_factory, tmp_path, mode):
    """A real `sed -i s/old/new/` on a same-size token."""
    p = two_module_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v0'
    for old, new in [('v0', 'v1'), ('v1', 'v2'), ('v2', 'v3')]:
        subprocess.run(['sed', '-i', 's/%s/%s/' % (old, new),
                        p.path('views.py')], check=True, timeout=10)
        assert body(srv, '/') == new


def test_same_size_same_second_edits(server_factory, tmp_path, mode):
    """Twenty in-place rewrites of the same size, as fast as possible
    (many fall in the same second and the same timestamp tick)."""
    p = two_module_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v0'
    for i in range(1, 21):
        token = 't%02d' % i
        p.save('views.py', views(token), style='inplace')
        assert body(srv, '/') == token


@pytest.mark.parametrize('style', ['inplace', 'atomic'])
def test_edit_keeping_mtime(server_factory, tmp_path, mode, style):
    """A same-size edit that keeps the old mtime (cp -p, rsync -t, tar
    and some VCS operations restore times) is still a change."""
    p = two_module_project(tmp_path)
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v0'
    st0 = os.stat(p.path('views.py'))
    for token in ('v1', 'v2', 'v3'):
        p.save('views.py', views(token), style=style)
        os.utime(p.path('views.py'), ns=(st0.st_atime_ns, st0.st_mtime_ns))
        assert os.stat(p.path('views.py')).st_size == st0.st_size
        assert body(srv, '/') == token


def test_stale_pyc_never_used(server_factory, tmp_path, mode):
    """A __pycache__ left by an earlier plain `python` run goes stale when
    the source changes within the same second with the same size (the
    .pyc check compares whole seconds and the size). hotserve must run
    the source: for a loaded module that changes, and for a module first
    imported after its file changed."""
    p = two_module_project(tmp_path)
    p.write('extra.py', mod('WORD = "extra v1"'))
    pyc_views = precompile(p, 'views.py')
    pyc_extra = precompile(p, 'extra.py')
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v0'

    for rel, text in [('views.py', views('v1')),
                      ('extra.py', mod('WORD = "extra v2"'))]:
        st0 = os.stat(p.path(rel))
        p.save(rel, text)
        os.utime(p.path(rel), ns=(st0.st_atime_ns, st0.st_mtime_ns))
        assert os.stat(p.path(rel)).st_size == st0.st_size
    assert os.path.exists(pyc_views) and os.path.exists(pyc_extra)
    assert body(srv, '/') == 'v1'

    p.save('urls.py', mod('from views import view\nimport extra\n'
                          'ROUTES = {"/": view, "/extra": lambda: '
                          'extra.WORD}'))
    assert body(srv, '/extra') == 'extra v2'


def test_untracked_files_do_not_reload(server_factory, tmp_path, mode):
    """Creating and editing a .py nobody imported, README.txt, data.json,
    a template, a file in a new directory, or deleting one of them,
    reloads nothing: no module runs again, reloads and `last` are
    unchanged and no `reloaded` line is logged. Then a real edit does
    reload (the watcher was live all along)."""
    p = two_module_project(tmp_path)
    p.write('README.txt', 'readme\n')
    p.write('data.json', '{"a": 1}\n')
    p.write('scratch.py', 'print("never imported")\n')
    srv = start(server_factory, p, 'app:application', mode=mode)
    assert body(srv, '/') == 'v0'
    before = reclog(srv)
    st0 = status(srv)
    assert st0['reloads'] == 0 and st0['last'] is None
    mark = srv.mark()

    edits = [
        lambda: p.save('README.txt', 'readme 2\n', dedent=False),
        lambda: p.save('data.json', '{"a": 2}\n', dedent=False,
                       style='atomic'),
        lambda: p.save('scratch.py', 'print("still not imported")\n'),
        lambda: p.write('newfile.py', 'X = 1\n'),
        lambda: p.save('newfile.py', 'X = 2\n', style='atomic'),
        lambda: p.write('templates/page.html', '<p>hi</p>\n'),
        lambda: p.write('newpkg/__init__.py', ''),
        lambda: p.write('newpkg/mod.py', 'Y = 1\n'),
        lambda: p.delete('scratch.py'),
        lambda: p.delete('data.json'),
    ]
    for i, edit in enumerate(edits):
        edit()
        assert body(srv, '/') == 'v0'
        st = status(srv)
        assert st['reloads'] == 0 and st['failures'] == 0, (i, st)
        assert st['last'] is None, (i, st)
        assert st['modules'] == st0['modules']
    assert reclog(srv) == before
    assert reload_lines(srv, mark) == []
    assert 'reload failed' not in srv.stderr()

    p.save('views.py', views('v1'))
    assert body(srv, '/') == 'v1'
    assert status(srv)['reloads'] == 1


def test_exclude_glob(server_factory, tmp_path, mode):
    """--exclude: edits of excluded modules (a component glob and an
    anchored directory glob) are ignored; other modules reload."""
    p = two_module_project(tmp_path)
    p.write('legacy.py', mod('WORD = "legacy v1"'))
    p.write('vendor/__init__.py', '')
    p.write('vendor/lib.py', mod('WORD = "lib v1"'))
    p.write('app.py', wsgi_app(
        'import urls\nimport legacy\nfrom vendor import lib',
        'dict(urls.ROUTES, **{"/legacy": lambda: legacy.WORD,'
        ' "/lib": lambda: lib.WORD})'))
    srv = start(server_factory, p, 'app:application', '--exclude',
                'legacy.py', '--exclude', 'vendor/', mode=mode)
    assert body(srv, '/legacy') == 'legacy v1'
    assert body(srv, '/lib') == 'lib v1'
    before = reclog(srv)
    mark = srv.mark()

    p.save('legacy.py', mod('WORD = "legacy v2"'))
    assert body(srv, '/legacy') == 'legacy v1'
    p.save('vendor/lib.py', mod('WORD = "lib v2"'), style='atomic')
    assert body(srv, '/lib') == 'lib v1'
    st = status(srv)
    assert st['reloads'] == 0 and st['last'] is None, st
    assert reclog(srv) == before
    assert reload_lines(srv, mark) == []

    p.save('views.py', views('v1'))
    assert body(srv, '/') == 'v1'
    st = status(srv)
    assert st['reloads'] == 1
    assert st['last']['trigger'] == ['views.py']
    assert body(srv, '/legacy') == 'legacy v1'


def test_watch_extra_root(server_factory, tmp_path, mode):
    """A module imported from a --pythonpath directory outside the project
    reloads when that directory is given with --watch, and is left alone
    (library code, not project code) when it is not."""
    p = two_module_project(tmp_path)
    lib = Project(tmp_path / 'shared')
    lib.write('sharedlib.py', 'WORD = "shared v1"\n')
    other = Project(tmp_path / 'vendored')
    other.write('vendlib.py', 'WORD = "vend v1"\n')
    p.write('app.py', wsgi_app(
        'import urls\nimport sharedlib\nimport vendlib',
        'dict(urls.ROUTES, **{"/shared": lambda: sharedlib.WORD,'
        ' "/vend": lambda: vendlib.WORD})'))
    srv = start(server_factory, p, 'app:application',
                '--pythonpath', lib.root, '--pythonpath', other.root,
                '--watch', lib.root, mode=mode)
    assert body(srv, '/shared') == 'shared v1'
    assert body(srv, '/vend') == 'vend v1'

    lib.save('sharedlib.py', 'WORD = "shared v2"\n', style='atomic')
    assert body(srv, '/shared') == 'shared v2'
    st = status(srv)
    assert st['reloads'] == 1
    assert [m['name'] for m in st['last']['modules']] == ['sharedlib', 'app']

    other.save('vendlib.py', 'WORD = "vend v2"\n')
    assert body(srv, '/vend') == 'vend v1'
    assert status(srv)['reloads'] == 1
