"""Shared fixtures for the integration tests (pytest, Debian's python3-pytest).

ctest runs every tests/integration/test_*.py file as one test, with the
working directory here and HOTSERVE_BIN / HOTSERVE_SOURCE_DIR /
HOTSERVE_PYTHON / HOTSERVE_SANITIZED in the environment (see harness.py).
Run by hand:

    HOTSERVE_BIN=build/hotserve /usr/bin/python3 -m pytest -q tests/integration

The helpers live in harness.py (import them: `from harness import Server,
RawConn, raw_request, http, wait_until, scaled, APPS_DIR`). Fixtures:

    server_factory   (function) make Server objects; each one is stopped
                     (SIGTERM, then SIGKILL) when the test ends, and the
                     logs live in the test's tmp dir.
    module_server_factory (module) the same, for one server per module:
                         @pytest.fixture(scope='module')
                         def srv(module_server_factory):
                             return module_server_factory('wsgi_suite')
                     At module teardown each server gets SIGTERM and must
                     exit with status 0, and one that died on its own
                     during the module is reported too (a crash, a
                     sanitizer report or an unclean shutdown shows up as
                     a teardown error with the logs).
    suite_server     (module) hotserve serving tests/apps/wsgi_suite.py
                     with default options.
    apps_dir         the tests/apps directory (cwd of servers by default).

Sanitizer gate: a sanitizer report (ASan, LSan, UBSan: harness.SANITIZER_RE)
in the output of any Server of this run fails the test during which it
appeared (an autouse fixture; the factories check each server after
stopping it, so a leak reported at exit counts too), and pytest's exit
status as a last resort. Exit statuses alone cannot be trusted for this:
UBSan and a hotserve runtime error both exit 1.

Reload tests reuse these: start a server with cwd= a tmp copy of a project
(never edit files under tests/apps while a server watches it), edit files,
then request and check `srv.wait_for_log(...)`.
"""

import os

import pytest

import harness
from harness import APPS_DIR, Server


def _sanitizer_problems(servers):
    return ['sanitizer report from hotserve (pid %s)\n%s'
            % (srv.proc.pid if srv.proc else '?', report)
            for srv in servers for report in srv.new_sanitizer_reports()]


def _make_factory(workdir, check_exit, stop_timeout):
    servers = []

    def make(app_spec=None, *args, start=True, name='hotserve', **kw):
        srv = Server(os.path.join(str(workdir), '%s-%d' % (name,
                                                           len(servers))),
                     name=name)
        servers.append(srv)
        if start:
            srv.start(app_spec, *args, **kw)
        return srv

    def finish():
        problems = []
        for srv in servers:
            if srv.proc is None:
                continue
            was_running = srv.alive()
            if check_exit and not was_running and not srv.stop_requested:
                problems.append('hotserve died during the module (status '
                                '%s)\n%s' % (srv.proc.returncode,
                                              srv.describe()))
                continue
            try:
                rc = srv.stop(timeout=stop_timeout)
            except AssertionError as exc:
                problems.append(str(exc))
                continue
            if check_exit and was_running and rc != 0:
                problems.append('hotserve exited with status %s after '
                                'SIGTERM at teardown\n%s'
                                % (rc, srv.describe()))
        problems += _sanitizer_problems(servers)
        return problems

    return make, finish


@pytest.fixture
def server_factory(tmp_path):
    # A test that leaves its server hanging has already failed; do not
    # spend the whole shutdown budget on it.
    make, finish = _make_factory(tmp_path, check_exit=False,
                                 stop_timeout=harness.scaled(5))
    yield make
    problems = [p for p in finish() if p.startswith('sanitizer report')]
    assert not problems, '\n\n'.join(problems)


@pytest.fixture(scope='module')
def module_server_factory(tmp_path_factory, request):
    workdir = tmp_path_factory.mktemp(request.module.__name__)
    make, finish = _make_factory(workdir, check_exit=True,
                                 stop_timeout=harness.scaled(15))
    yield make
    problems = finish()
    assert not problems, '\n\n'.join(problems)


@pytest.fixture(scope='module')
def suite_server(module_server_factory):
    return module_server_factory('wsgi_suite')


@pytest.fixture(scope='session')
def apps_dir():
    return APPS_DIR


@pytest.fixture(autouse=True)
def sanitizer_gate():
    """Fail the test if any server of this run (this test's, or a module
    server still running) printed a sanitizer report meanwhile."""
    yield
    problems = _sanitizer_problems(Server.instances)
    assert not problems, '\n\n'.join(problems)


def pytest_sessionfinish(session, exitstatus):
    # Anything not yet reported by a test (a server stopped outside every
    # fixture): fail the run rather than lose it.
    problems = _sanitizer_problems(Server.instances)
    if problems:
        print('\n\n'.join(['', 'SANITIZER REPORTS:'] + problems))
        if session.exitstatus == 0:
            session.exitstatus = 1


def pytest_report_header(config):
    try:
        binary = harness.find_binary()
    except RuntimeError as exc:
        binary = str(exc)
    return ['hotserve binary: %s' % binary,
            'sanitized: %s (deadlines x%d)' % (harness.SANITIZED,
                                               harness.SCALE)]
