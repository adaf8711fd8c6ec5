"""Helpers for the restart tests (tests/integration/test_restart*.py).

    proj = restart_project(tmp_path)           # mysite/settings.py + app.py
    srv = start(server_factory, proj, 'app:application', '--restart-on',
                '*/settings.py')
    with Hammer(srv.port) as h:                # fresh connections, looping
        ...                                    # trigger a restart
        h.wait_for(lambda r: r.value == 'v2')  # until a fresh answer
    h.assert_clean(since=t_write, fresh='v2')  # 0 refused/reset/errors,
                                               # nothing stale after t_write

Every answer of the test app is `v=VALUE boot=BOOT pid=PID`: VALUE comes
from mysite/settings.py, BOOT is drawn when app.py is imported (so a new
BOOT means a new process image), PID is os.getpid() (it must never change:
a restart is an execve of the same process). Every loop is bounded in time.
"""

import os
import re
import socket
import threading
import time

from harness import scaled
from reload_helpers import Project, start  # noqa: F401 (re-exported)

APP = '''
import os
import time
import uuid

from mysite import settings

BOOT = uuid.uuid4().hex[:8]


def application(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/slow':
        time.sleep(float(environ.get('QUERY_STRING') or '1'))
    if path == '/env':
        body = '%s %s\\n' % (environ.get('REMOTE_ADDR'),
                             environ.get('HTTP_CONNECTION'))
    elif path == '/len':
        import hashlib
        data = environ['wsgi.input'].read()
        body = 'len=%d sha=%s boot=%s x=%s\\n' % (
            len(data), hashlib.sha256(data).hexdigest(), BOOT,
            environ.get('HTTP_X_TEST'))
    else:
        body = 'v=%s boot=%s pid=%d\\n' % (settings.VALUE, BOOT, os.getpid())
    data = body.encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(data)))])
    return [data]
'''

ANSWER_RE = re.compile(r'^v=(\S*) boot=(\w+) pid=(\d+)$')
READY_RE = r'\u2026 ready in \d+ ms'


def settings_py(value):
    return 'VALUE = %r\n' % value


def restart_project(tmp_path, value='v1', app=APP):
    p = Project(tmp_path / 'proj')
    p.write('mysite/__init__.py', '')
    p.write('mysite/settings.py', settings_py(value))
    p.write('app.py', app)
    return p


class Answer:
    """One request of a Hammer."""

    def __init__(self, t_send):
        self.t_send = t_send        # before connect()
        self.t_done = None
        self.kind = None            # ok, refused, reset, closed, timeout,
                                    # error
        self.status = None
        self.body = b''
        self.detail = ''
        self.value = self.boot = self.pid = None

    def parse(self, data):
        head, sep, body = data.partition(b'\r\n\r\n')
        if not sep:
            self.kind = 'closed'
            self.detail = 'no complete head: %r' % data[:200]
            return
        lines = head.split(b'\r\n')
        parts = lines[0].split(b' ', 2)
        try:
            self.status = int(parts[1])
        except (IndexError, ValueError):
            self.kind = 'error'
            self.detail = 'bad status line %r' % lines[0]
            return
        length = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b':')
            if name.strip().lower() == b'content-length':
                length = int(value.strip())
            if name.strip().lower() == b'transfer-encoding':
                chunked = b'chunked' in value.lower()
        if chunked:
            body, ok = dechunk(body)
            if not ok:
                self.kind = 'error'
                self.detail = 'cut chunked body %r' % body[:100]
                return
        if length is not None and len(body) != length:
            self.kind = 'error'
            self.detail = 'body %d bytes, Content-Length %d' % (len(body),
                                                                 length)
            return
        self.body = body
        self.kind = 'ok'
        m = ANSWER_RE.match(body.decode('utf-8', 'replace').strip())
        if m:
            self.value, self.boot, self.pid = m.group(1), m.group(2), \
                int(m.group(3))

    def __repr__(self):
        return '<%s %s %r %s>' % (self.kind, self.status, self.body[:80],
                                  self.detail)


def dechunk(data):
    """(body, complete) of a chunked message body."""
    out = b''
    while True:
        line, sep, rest = data.partition(b'\r\n')
        if not sep:
            return out, False
        try:
            size = int(line.split(b';')[0], 16)
        except ValueError:
            return out, False
        if size == 0:
            return out, rest.endswith(b'\r\n')
        if len(rest) < size + 2:
            return out + rest[:size], False
        out += rest[:size]
        data = rest[size + 2:]


def one_request(port, path='/', timeout=10, host='127.0.0.1'):
    """GET path on a fresh connection (Connection: close), read to EOF."""
    a = Answer(time.monotonic())
    try:
        s = socket.create_connection((host, port), timeout=scaled(timeout))
    except ConnectionRefusedError as exc:
        a.kind, a.detail = 'refused', str(exc)
        a.t_done = time.monotonic()
        return a
    except OSError as exc:
        a.kind, a.detail = 'error', 'connect: %r' % exc
        a.t_done = time.monotonic()
        return a
    data = b''
    try:
        s.sendall(('GET %s HTTP/1.1\r\nHost: t\r\nConnection: close'
                   '\r\n\r\n' % path).encode())
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError as exc:
        a.kind, a.detail = 'reset', '%r after %r' % (exc, data[:100])
    except socket.timeout:
        a.kind, a.detail = 'timeout', 'after %r' % data[:100]
    except OSError as exc:
        a.kind, a.detail = 'error', repr(exc)
    finally:
        s.close()
    a.t_done = time.monotonic()
    if a.kind is None:
        a.parse(data)
    return a


class Hammer(threading.Thread):
    """Requests on fresh connections, one after the other, until stop()
    (or `limit` seconds). Use as a context manager."""

    def __init__(self, port, path='/', limit=60):
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.limit = scaled(limit)
        self.answers = []
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self):
        end = time.monotonic() + self.limit
        while not self._halt.is_set() and time.monotonic() < end:
            a = one_request(self.port, self.path)
            with self._lock:
                self.answers.append(a)

    def __enter__(self):
        self.start()
        # At least one answer before the test acts.
        self.wait_for(lambda a: a.kind == 'ok', timeout=10)
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._halt.set()
        self.join(scaled(30))

    def snapshot(self):
        with self._lock:
            return list(self.answers)

    def wait_for(self, pred, timeout=30, since=0.0):
        """The first answer sent at or after `since` with pred(answer)."""
        end = time.monotonic() + scaled(timeout)
        while time.monotonic() < end:
            for a in self.snapshot():
                if a.t_send >= since and pred(a):
                    return a
            time.sleep(0.01)
        raise AssertionError('no matching answer within %.0fs; last: %r'
                             % (scaled(timeout), self.snapshot()[-5:]))

    def assert_clean(self, since=None, fresh=None):
        """No refused, reset, cut or failed request at all; every answer
        sent at or after `since` has value `fresh`."""
        answers = self.snapshot()
        bad = [a for a in answers if a.kind != 'ok' or a.status != 200]
        assert not bad, '%d of %d requests failed: %r' % (
            len(bad), len(answers), bad[:10])
        if since is not None:
            stale = [a for a in answers
                     if a.t_send >= since and a.value != fresh]
            assert not stale, '%d stale answers after the write: %r' % (
                len(stale), stale[:10])
        return answers


def boots(answers):
    """Distinct BOOT ids in order of appearance."""
    seen = []
    for a in answers:
        if a.boot and a.boot not in seen:
            seen.append(a.boot)
    return seen


def fd_targets(pid):
    out = []
    for name in os.listdir('/proc/%d/fd' % pid):
        try:
            out.append(os.readlink('/proc/%d/fd/%s' % (pid, name)))
        except OSError:
            pass
    return sorted(out)


def rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS')


def wait_ready(srv, since, timeout=20):
    """The next "… ready in N ms" line after log offset since."""
    return srv.wait_for_log(READY_RE, timeout=timeout, since=since)
