"""The sanitizer gate: in the ASan+UBSan build (tests/run_all.sh, second
half) a sanitizer report inside hotserve must fail the test during which
it happened, whether or not that test looked at the server afterwards,
and tests/lsan.supp must not hide leaks made through libpython (a missing
Py_DECREF in bridge/ allocates inside libpython).

The reports are provoked from a WSGI app through ctypes: a use-after-free
through libc's memset (ASan's interceptor checks it) and Python objects
whose only reference is dropped (PyUnicode_FromString called with a
c_void_p result type, i.e. a leaked reference, exactly what a forgotten
Py_DECREF looks like to LeakSanitizer). Those tests only run in the
sanitizer build: the same calls would corrupt the heap of a normal
build. The report detector itself is checked in every build against
reports copied from real runs.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from harness import SANITIZED, HERE, sanitizer_reports, scaled

needs_sanitizer = pytest.mark.skipif(
    not SANITIZED, reason='provokes real sanitizer reports: only in the '
    'ASan+UBSan build (HOTSERVE_SANITIZED=1)')

SANAPP = '''
import ctypes

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.restype = ctypes.c_void_p
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
new_str = ctypes.pythonapi.PyUnicode_FromString
new_str.restype = ctypes.c_void_p        # a new reference nobody owns
new_str.argtypes = [ctypes.c_char_p]


def application(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/uaf':
        p = libc.malloc(64)
        libc.free(p)
        libc.memset(p, 0, 64)            # heap-use-after-free
    elif path == '/pyleak':
        for i in range(32):
            new_str(b'leaked python object %d' % i)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'ok']
'''

# Real reports (trimmed stacks) as the ASan+UBSan build prints them.
ASAN_REPORT = '''\
[22/Nov/2026 02:47:54] "GET /uaf HTTP/1.1" 200 2 3.7ms
=================================================================
==26673==ERROR: AddressSanitizer: heap-use-after-free on address \
0x606000049a40 at pc 0x7f8843e8f2a7 bp 0x7f883c9fd0f0 sp 0x7f883c9fc8a0
WRITE of size 64 at 0x606000049a40 thread T5
    #0 0x7f8843e8f2a6 in __interceptor_memset
SUMMARY: AddressSanitizer: heap-use-after-free in __interceptor_memset
==26673==ABORTING
'''
LSAN_REPORT = '''\
Shutting down (SIGTERM)...

=================================================================
==26750==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 65536 byte(s) in 16 object(s) allocated from:
    #0 0x7f8843eb89cf in __interceptor_malloc
    #1 0x7f8843de5f79  (/lib/x86_64-linux-gnu/libffi.so.8+0x6f79)

SUMMARY: AddressSanitizer: 65536 byte(s) leaked in 16 allocation(s).
'''
UBSAN_REPORT = '''\
[22/Nov/2026 02:44:35] "POST /input?op=read HTTP/1.1" 200 36 0.5ms
/work/main/bridge/input.c:83:25: runtime error: null pointer passed as \
argument 1, which is declared to never be null
    #0 0x55cbde48e491 in line_length /work/main/bridge/input.c:83
    #1 0x55cbde48ef1d in HsInput_readline /work/main/bridge/input.c:144
'''
# Output that must not count as a report: an app's own exceptions and
# log lines that merely mention the words.
NOT_REPORTS = '''\
[22/Nov/2026 02:44:35] "GET /runtime%20error: HTTP/1.1" 404 9 0.5ms
Traceback (most recent call last):
  File "app.py", line 3, in view
RuntimeError: runtime error: the app raised this
hotserve: error: cannot import 'x': ERROR: AddressSanitizer is a word
    x = 1  # runtime error: in a comment
'''


@pytest.mark.parametrize('text,needle', [
    (ASAN_REPORT, 'heap-use-after-free'),
    (LSAN_REPORT, 'detected memory leaks'),
    (UBSAN_REPORT, 'null pointer passed'),
], ids=['asan', 'lsan', 'ubsan'])
def test_detector_finds_real_reports(text, needle):
    reports = sanitizer_reports(text)
    assert len(reports) == 1, reports      # one report, not one per line
    assert needle in reports[0]


def test_detector_ignores_app_output():
    assert sanitizer_reports(NOT_REPORTS) == []


def test_detector_finds_each_report():
    assert len(sanitizer_reports(UBSAN_REPORT + NOT_REPORTS + ASAN_REPORT,
                                 context=200)) == 2


def write_app(tmp_path):
    d = tmp_path / 'sanapp'
    d.mkdir()
    (d / 'sanapp.py').write_text(SANAPP)
    return str(d)


def sanapp_server(server_factory, tmp_path):
    return server_factory('sanapp', '--no-reload', cwd=write_app(tmp_path))


@needs_sanitizer
def test_use_after_free_in_server_is_reported(server_factory, tmp_path):
    srv = sanapp_server(server_factory, tmp_path)
    assert srv.get('/').status == 200
    try:
        srv.get('/uaf', timeout=10)
    except OSError:
        pass                    # the process aborted mid-request
    rc = srv.wait_exit(scaled(10))
    assert rc == 99, ('ASAN_OPTIONS exitcode=99 expected\n'
                      + srv.describe())
    reports = srv.new_sanitizer_reports()    # consumed: this test expects it
    assert reports and 'heap-use-after-free' in reports[0], srv.describe()


@needs_sanitizer
def test_python_object_leak_is_not_suppressed(server_factory, tmp_path):
    """Leaked references to objects libpython allocated: the stack runs
    through libpython, and a module-wide `leak:libpython` suppression
    would hide exactly this."""
    srv = sanapp_server(server_factory, tmp_path)
    assert srv.get('/pyleak').status == 200
    rc = srv.stop()
    reports = srv.new_sanitizer_reports()
    assert reports, ('no LeakSanitizer report for leaked Python objects: '
                     'is tests/lsan.supp hiding libpython stacks?\n'
                     + srv.describe())
    assert 'LeakSanitizer: detected memory leaks' in reports[0], reports
    assert rc == 99, srv.describe()


@needs_sanitizer
def test_clean_server_has_no_report(server_factory, tmp_path):
    srv = sanapp_server(server_factory, tmp_path)
    for _ in range(20):
        assert srv.get('/').status == 200
    assert srv.stop() == 0, srv.describe()
    assert srv.new_sanitizer_reports() == []


INNER_TESTS = '''
import os

import pytest

APP = os.environ['REL_SANAPP_DIR']


def test_clean(server_factory):
    srv = server_factory('sanapp', '--no-reload', cwd=APP)
    assert srv.get('/').status == 200


def test_uaf_unchecked(server_factory):
    srv = server_factory('sanapp', '--no-reload', cwd=APP)
    try:
        srv.get('/uaf')
    except OSError:
        pass


def test_leak_at_exit_unchecked(server_factory):
    srv = server_factory('sanapp', '--no-reload', cwd=APP)
    srv.get('/pyleak')


@pytest.fixture(scope='module')
def modsrv(module_server_factory):
    return module_server_factory('sanapp', '--no-reload', cwd=APP)


def test_module_server_uaf_unchecked(modsrv):
    try:
        modsrv.get('/uaf')
    except OSError:
        pass
'''


@needs_sanitizer
def test_gate_fails_the_test_that_caused_the_report(tmp_path):
    """A nested pytest run of tests that provoke reports and never look
    at them: each such test must fail, the clean one must pass."""
    app_dir = write_app(tmp_path)
    inner = tmp_path / 'inner'
    inner.mkdir()
    (inner / 'test_inner.py').write_text(textwrap.dedent(INNER_TESTS))
    env = dict(os.environ, REL_SANAPP_DIR=app_dir, COLUMNS='1000',
               PYTHONPATH=HERE + os.pathsep + os.environ.get('PYTHONPATH',
                                                             ''))
    p = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-rA', '-p',
         'no:cacheprovider', '-p', 'conftest', '--rootdir', str(inner),
         str(inner / 'test_inner.py')],
        cwd=str(inner), env=env, capture_output=True, text=True,
        timeout=scaled(120))
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert 'PASSED test_inner.py::test_clean' in out, out
    for name in ('test_uaf_unchecked', 'test_leak_at_exit_unchecked',
                 'test_module_server_uaf_unchecked'):
        assert 'ERROR test_inner.py::%s - AssertionError: sanitizer ' \
            'report' % name in out, (name, out)
