"""The command line: --help/--version, every usage and runtime error (exit
status, one `hotserve: error: ` line, no traceback), HOTSERVE_* variables
and the command line overriding them, --chdir, --pythonpath, factories,
dotted modules, the banner and the non-loopback warning."""

import os
import re
import socket
import subprocess
import pytest

from harness import APPS_DIR, ERROR_PREFIX, PYTHON, VERSION, find_binary, \
    scaled, server_env

# Every option, and the variable that sets it (None: no variable).
OPTIONS = [
    ('-b', None), ('--bind', 'HOTSERVE_BIND'),
    ('--chdir', 'HOTSERVE_CHDIR'), ('--pythonpath', 'HOTSERVE_PYTHONPATH'),
    ('--python', 'HOTSERVE_PYTHON'), ('--factory', 'HOTSERVE_FACTORY'),
    ('--max-connections', 'HOTSERVE_MAX_CONNECTIONS'),
    ('--timeout', 'HOTSERVE_TIMEOUT'),
    ('--max-header-size', 'HOTSERVE_MAX_HEADER_SIZE'),
    ('--max-body-size', 'HOTSERVE_MAX_BODY_SIZE'),
    ('--shutdown-timeout', 'HOTSERVE_SHUTDOWN_TIMEOUT'),
    ('--no-access-log', 'HOTSERVE_NO_ACCESS_LOG'),
    ('-q', None), ('--quiet', 'HOTSERVE_QUIET'),
    ('--no-reload', 'HOTSERVE_NO_RELOAD'), ('--poll', 'HOTSERVE_POLL'),
    ('--watch', 'HOTSERVE_WATCH'), ('--exclude', 'HOTSERVE_EXCLUDE'),
    ('-h', None), ('--help', None), ('-V', None), ('--version', None),
]


def run_cli(*args, cwd=APPS_DIR, env=None, timeout=15):
    """Run hotserve to completion (it must exit by itself in time)."""
    argv = [find_binary()] + \
        os.environ.get('HS_TEST_SERVER_ARGS', '').split() + \
        [str(a) for a in args]
    try:
        p = subprocess.run(argv, cwd=cwd, env=server_env(env),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=scaled(timeout))
    except subprocess.TimeoutExpired as exc:
        raise AssertionError('%s did not exit within %.1fs\nstdout: %s\n'
                             'stderr: %s' % (argv, scaled(timeout),
                                             exc.stdout, exc.stderr))
    return p.returncode, p.stdout.decode('utf-8', 'replace'), \
        p.stderr.decode('utf-8', 'replace')


def assert_error(result, status, *needles):
    rc, out, err = result
    where = 'status %s\nstdout:\n%s\nstderr:\n%s' % (rc, out, err)
    assert rc == status, where
    lines = [line for line in err.splitlines()
             if line.startswith(ERROR_PREFIX)]
    assert len(lines) == 1, 'want one "%s" line\n%s' % (ERROR_PREFIX, where)
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
    assert 'Traceback' not in err + out, where
    assert 'core dumped' not in err, where


# -- --help / --version ------------------------------------------------------

@pytest.mark.parametrize('flag', ['--version', '-V'])
def test_version(flag):
    rc, out, err = run_cli(flag)
    assert rc == 0, err
    assert out.splitlines()[0] == 'hotserve %s' % VERSION


@pytest.mark.parametrize('flag', ['--help', '-h'])
def test_help_documents_every_option(flag):
    rc, out, err = run_cli(flag)
    assert rc == 0, err
    assert 'MODULE[:ATTR]' in out
    for option, var in OPTIONS:
        assert re.search(r'(?<![\w-])%s(?![\w-])' % re.escape(option), out), \
            option
        if var:
            assert var in out, var


def test_help_wins_over_a_missing_app():
    rc, out, _ = run_cli('--help', '--bind', '127.0.0.1:0')
    assert rc == 0 and '--bind' in out


# -- usage errors: exit 2 ------------------------------------------------------

def test_unknown_option():
    assert_error(run_cli('--bogus-option', 'cli_app'), 2, 'bogus-option')


def test_missing_app_argument():
    assert_error(run_cli('--bind', '127.0.0.1:0'), 2)


def test_option_missing_its_value():
    assert_error(run_cli('cli_app', '--bind'), 2, 'bind')


def test_too_many_positional_arguments():
    assert_error(run_cli('--bind', '127.0.0.1:0', 'cli_app', 'extra'), 2)


@pytest.mark.parametrize('addr,needle', [
    ('300.1.1.1:80', '300.1.1.1'),
    ('127.0.0.1:99999', '99999'),
    ('127.0.0.1:abc', 'abc'),
    ('[::1', '::1'),
    ('bad host!:80', 'bad host!'),
    ('127.0.0.1:-1', '-1'),
])
def test_bad_bind_address(addr, needle):
    assert_error(run_cli('--bind', addr, 'cli_app'), 2, needle)


@pytest.mark.parametrize('option,value', [
    ('--max-connections', 'abc'), ('--max-connections', '0'),
    ('--timeout', '-1'), ('--timeout', 'soon'),
    ('--max-header-size', 'huge'), ('--max-body-size', '-5'),
    ('--shutdown-timeout', 'x'),
])
def test_bad_numeric_option(option, value):
    assert_error(run_cli('--bind', '127.0.0.1:0', option, value, 'cli_app'),
                 2, option.lstrip('-'))


def test_bad_value_in_environment_variable():
    assert_error(run_cli('cli_app', env={'HOTSERVE_MAX_CONNECTIONS': 'many',
                                         'HOTSERVE_BIND': '127.0.0.1:0'}),
                 2, 'HOTSERVE_MAX_CONNECTIONS')


# -- runtime errors: exit 1 ----------------------------------------------------

def test_port_in_use():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(5)
    port = s.getsockname()[1]
    try:
        assert_error(run_cli('--bind', '127.0.0.1:%d' % port, 'cli_app'), 1,
                     str(port))
    finally:
        s.close()


def test_module_not_found():
    assert_error(run_cli('--bind', '127.0.0.1:0', 'no_such_module_xyz'), 1,
                 'no_such_module_xyz')


def test_dotted_module_not_found():
    assert_error(run_cli('--bind', '127.0.0.1:0', 'pkg.sub.nothing_here'), 1,
                 'pkg.sub.nothing_here')


def test_attribute_missing():
    assert_error(run_cli('--bind', '127.0.0.1:0', 'cli_app:nope'), 1, 'nope')


def test_attribute_not_callable():
    assert_error(run_cli('--bind', '127.0.0.1:0', 'cli_app:NOT_CALLABLE'), 1,
                 'NOT_CALLABLE', 'callable')


def test_factory_missing():
    assert_error(run_cli('--bind', '127.0.0.1:0', 'cli_app:no_factory()'), 1,
                 'no_factory')


def test_chdir_to_missing_directory():
    assert_error(run_cli('--bind', '127.0.0.1:0', '--chdir',
                         '/nonexistent/hs-dir', 'cli_app'), 1,
                 '/nonexistent/hs-dir')


# -- running apps ----------------------------------------------------------

@pytest.mark.parametrize('spec,args,body', [
    ('cli_app', (), b'cli-app-default'),
    ('cli_app:application', (), b'cli-app-default'),
    ('cli_app:other', (), b'cli-app-other'),
    ('cli_app:create_app()', (), b'cli-app-from-factory'),
    ('cli_app:create_app', ('--factory',), b'cli-app-from-factory'),
    ('pkg.sub.wsgi', (), b'pkg-sub-wsgi pkg.sub.wsgi'),
    ('pkg.sub.wsgi:application', (), b'pkg-sub-wsgi pkg.sub.wsgi'),
])
def test_app_spec_forms(server_factory, spec, args, body):
    srv = server_factory(spec, *args)
    r = srv.get('/')
    assert r.status == 200 and r.body == body, r


def test_factory_from_environment(server_factory):
    srv = server_factory('cli_app:create_app', env={'HOTSERVE_FACTORY': '1'})
    assert srv.get('/').body == b'cli-app-from-factory'


def test_working_directory_is_first_on_sys_path(server_factory, tmp_path):
    # a module in the cwd shadows any same-named module elsewhere
    (tmp_path / 'json.py').write_text(
        'def application(environ, start_response):\n'
        '    start_response("200 OK", [("Content-Type", "text/plain")])\n'
        '    return [b"cwd-json-module"]\n')
    srv = server_factory('json', cwd=str(tmp_path))
    r = srv.get('/')
    assert r.status == 200 and r.body == b'cwd-json-module', r


def test_chdir(server_factory, tmp_path):
    project = os.path.join(APPS_DIR, 'chdir_project')
    srv = server_factory('proj_wsgi', '--chdir', project, cwd=str(tmp_path))
    r = srv.get('/')
    assert r.status == 200, r
    assert r.body == ('chdir-project cwd=%s' % project).encode()


def test_chdir_from_environment(server_factory, tmp_path):
    project = os.path.join(APPS_DIR, 'chdir_project')
    srv = server_factory('proj_wsgi', cwd=str(tmp_path),
                         env={'HOTSERVE_CHDIR': project})
    assert srv.get('/').status == 200


def test_pythonpath_repeatable(server_factory, tmp_path):
    srv = server_factory('pp_app', '--pythonpath',
                         os.path.join(APPS_DIR, 'extra_path'),
                         '--pythonpath',
                         os.path.join(APPS_DIR, 'extra_path2'),
                         cwd=str(tmp_path))
    r = srv.get('/')
    assert r.status == 200, r
    assert r.body == b'pythonpath-app helper-from-second-pythonpath'


def test_pythonpath_from_environment(server_factory, tmp_path):
    value = '%s:%s' % (os.path.join(APPS_DIR, 'extra_path'),
                       os.path.join(APPS_DIR, 'extra_path2'))
    srv = server_factory('pp_app', cwd=str(tmp_path),
                         env={'HOTSERVE_PYTHONPATH': value})
    assert srv.get('/').status == 200


def test_app_from_environment(server_factory):
    srv = server_factory(None, env={'HOTSERVE_APP': 'cli_app:other'})
    assert srv.get('/').body == b'cli-app-other'


def test_app_import_error_is_served_as_error_page(server_factory):
    """The module exists but its code raises: not a usage error. The server
    keeps running and answers with the error page naming file and line."""
    srv = server_factory('broken_app')
    with open(os.path.join(APPS_DIR, 'broken_app.py')) as f:
        line = next(i for i, text in enumerate(f, 1) if 'BROKEN-LINE' in text)
    for _ in range(2):
        r = srv.get('/')
        assert r.status == 500, r
        text = r.text()
        assert 'broken-app-marker' in text
        assert 'broken_app.py' in text
        assert re.search(r'\b%d\b' % line, text), text[:2000]
    assert srv.alive()


# -- banner, warnings, environment --------------------------------------------

def python_identity():
    """(version, prefix) of the interpreter hotserve embeds by default."""
    out = subprocess.run(
        [PYTHON, '-c', 'import sys, platform; '
         'print(platform.python_version()); print(sys.prefix)'],
        capture_output=True, text=True, check=True, timeout=30,
        env=server_env()).stdout.split('\n')
    return out[0], out[1]


def test_banner(server_factory):
    srv = server_factory('cli_app')
    out = srv.stdout()
    version, prefix = python_identity()
    assert 'hotserve %s' % VERSION in out or VERSION in out, out
    assert 'cli_app' in out, out
    assert 'Python %s' % version in out, out
    assert prefix in out, out
    assert 'Quit the server with CONTROL-C.' in out
    assert 'Starting development server at http://127.0.0.1:%d/' % \
        srv.port in out


def test_unavailable_address_is_a_clear_runtime_error(tmp_path):
    """A non-loopback address that is not on this machine (TEST-NET-1):
    nothing is bound, one clear line, exit 1. (Tests never listen on
    anything but 127.0.0.1; the loopback classification behind the
    "development server" warning is unit-tested in test_bindaddr.c.)"""
    status, out, err = run_cli('--bind', '192.0.2.1:0', 'cli_app')
    assert status == 1, (status, out, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert lines[-1].startswith('hotserve: error: cannot listen on '
                                '192.0.2.1:0'), err
    assert 'Traceback' not in err
def test_loopback_bind_has_no_warning(server_factory):
    srv = server_factory('cli_app')
    srv.get('/')
    assert not [l for l in srv.stderr().splitlines()
                if 'development server' in l.lower()], srv.stderr()


def test_ipv6_loopback_bind(server_factory):
    if not socket.has_ipv6:
        pytest.skip('no IPv6 on this host')
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(('::1', 0))
        s.close()
    except OSError:
        pytest.skip('::1 not configured')
    srv = server_factory('cli_app', bind='[::1]:0')
    assert srv.host == '::1'
    r = srv.get('/')
    assert r.status == 200 and r.body == b'cli-app-default'


def test_bind_from_environment(server_factory):
    srv = server_factory('cli_app', bind=None,
                         env={'HOTSERVE_BIND': '127.0.0.1:0'})
    assert srv.get('/').status == 200


def test_command_line_bind_beats_environment(server_factory):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(1)
    busy = s.getsockname()[1]
    try:
        srv = server_factory('cli_app', bind='127.0.0.1:0',
                             env={'HOTSERVE_BIND': '127.0.0.1:%d' % busy})
        assert srv.port != busy
        assert srv.get('/').status == 200
    finally:
        s.close()


def test_numeric_option_from_environment_and_override(server_factory):
    env = {'HOTSERVE_MAX_BODY_SIZE': '10'}
    srv = server_factory('wsgi_suite', env=env)
    assert srv.http('POST', '/upload-hash', body=b'x' * 100).status == 413
    assert srv.http('POST', '/upload-hash', body=b'x' * 10).status == 200
    srv2 = server_factory('wsgi_suite', '--max-body-size', '1000', env=env)
    assert srv2.http('POST', '/upload-hash', body=b'x' * 100).status == 200


def test_empty_environment_variable_counts_as_unset(server_factory):
    srv = server_factory('cli_app', env={'HOTSERVE_MAX_CONNECTIONS': '',
                                         'HOTSERVE_TIMEOUT': ''})
    assert srv.get('/').status == 200


def test_stdin_closed_is_fine(server_factory):
    # docker / CI run with no terminal: stdin is /dev/null
    srv = server_factory('cli_app')
    assert srv.get('/').status == 200
