"""Helpers for driving the real `hotserve` binary over loopback.

Import from test modules with `from harness import ...` (pytest puts this
directory on sys.path; conftest.py builds its fixtures on these helpers).

    Server            one hotserve process: start(), url/port, logs, stop()
    raw_request()     send bytes on a fresh socket, read until close/timeout
    RawConn           a socket with an HTTP/1.x response parser, for
                      pipelining, keep-alive and half-finished requests
    http()            one request through http.client (a real client)
    wait_until()      bounded polling

Everything here is bounded: sockets have timeouts and every wait has a
deadline, so a broken server fails a test instead of hanging the suite
(Debian's pytest has no timeout plugin). Deadlines scale by SCALE (4 when
HOTSERVE_SANITIZED=1, since ASan/UBSan builds run slower).

The environment variables ctest sets for the suite:
    HOTSERVE_BIN         the built binary (else the newest build*/hotserve)
    HOTSERVE_SOURCE_DIR  the repository (else derived from this file)
    HOTSERVE_PYTHON      the interpreter hotserve was built against
    HOTSERVE_SANITIZED   1 in sanitizer builds
and one knob for people running the suite by hand:
    HS_TEST_SERVER_ARGS  extra options for every server started through
                         Server.start() (split on spaces), e.g. "--poll"
                         or "--no-reload" to tell a reload problem apart
                         from a server problem.
Every HOTSERVE_* variable is removed from the server's environment (they
would be read as option values: HOTSERVE_PYTHON is `--python`) unless a
test passes it explicitly.
"""

import errno
import glob
import http.client as httplib
import json
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.environ.get('HOTSERVE_SOURCE_DIR')
                             or os.path.join(HERE, '..', '..'))
APPS_DIR = os.path.join(SOURCE_DIR, 'tests', 'apps')
PYTHON = os.environ.get('HOTSERVE_PYTHON') or '/usr/bin/python3'
SANITIZED = os.environ.get('HOTSERVE_SANITIZED') == '1'
SCALE = 4 if SANITIZED else 1
VERSION = '0.1.0'

BANNER_RE = re.compile(
    r'^Starting development server at http://(\[[0-9a-fA-F:.]+\]|[^:/\s]+)'
    r':(\d+)/\s*$', re.M)
ERROR_PREFIX = 'hotserve: error: '

# The first line of a sanitizer report in a process's output: ASan and
# LSan ("==PID==ERROR: AddressSanitizer: heap-use-after-free ...") and
# UBSan ("bridge/input.c:83:25: runtime error: ..."). In the sanitizer
# build a report is a failure of the test that started the process,
# whatever the process's exit status (conftest.py checks every Server).
SANITIZER_RE = re.compile(
    r'^(?P<start>==\d+==ERROR: (?:AddressSanitizer|LeakSanitizer)\b'
    r'|(?:[^\s:]+:\d+(?::\d+)?|<unknown>): runtime error: )'
    r'|^SUMMARY: (?:AddressSanitizer|LeakSanitizer|'
    r'UndefinedBehaviorSanitizer)\b', re.M)


def sanitizer_reports(text, context=4000):
    """Every sanitizer report in text, each cut to `context` chars from
    its first line. A SUMMARY line closes the report before it; one with
    no report before it counts as a report of its own."""
    out = []
    open_report = False
    for m in SANITIZER_RE.finditer(text):
        if m.group('start') is None and open_report:
            open_report = False
            continue
        open_report = m.group('start') is not None
        out.append(text[m.start():m.start() + context])
    return out


def find_binary():
    path = os.environ.get('HOTSERVE_BIN')
    if path:
        return path
    found = glob.glob(os.path.join(SOURCE_DIR, 'build*', 'hotserve'))
    found = [p for p in found if os.access(p, os.X_OK)]
    if not found:
        raise RuntimeError('hotserve binary not found: set HOTSERVE_BIN '
                           '(ctest does) or build into build*/')
    return max(found, key=os.path.getmtime)


def scaled(seconds):
    return seconds * SCALE


def wait_until(predicate, timeout, interval=0.02, what='condition'):
    """Poll predicate() until it returns a true value (which is returned)
    or timeout seconds pass (AssertionError naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError('timed out after %.1fs waiting for %s'
                                 % (timeout, what))
        time.sleep(interval)


def server_env(extra=None, inherit=True):
    """The environment for a hotserve process: ours minus every HOTSERVE_*
    variable and VIRTUAL_ENV, plus `extra` (None values delete)."""
    env = dict(os.environ) if inherit else {'PATH': os.environ['PATH']}
    for key in list(env):
        if key.startswith('HOTSERVE_') or key == 'VIRTUAL_ENV':
            del env[key]
    env.setdefault('PYTHONDONTWRITEBYTECODE', '1')
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class ServerStartError(AssertionError):
    pass


class Server:
    """One hotserve process started by this test run.

    srv = Server(workdir)                 # logs go to workdir
    srv.start('wsgi_suite', '--timeout', '1')  # cwd defaults to tests/apps
    srv.url, srv.host, srv.port           # from the stdout banner
    srv.wait_for_log(r'regex', timeout=5) # searches stderr (or stdout)
    rc = srv.stop()                       # SIGTERM, returns exit status

    start() adds `--bind 127.0.0.1:0` unless bind= says otherwise
    (bind=None adds nothing), waits for the banner line
    `Starting development server at http://HOST:PORT/` with a deadline and
    raises ServerStartError with both logs if the process exits or never
    prints it. With wait=False it returns right after spawning (for tests
    that expect the process to fail, or that run without a banner: use
    wait_exit() / wait_listening()).

    stop_requested tells whether this object ever signalled the process
    (the module fixture reports a server that died on its own).

    Only this object's own process is ever signalled (by pid, never by
    name); the process runs in its own session so terminal signals aimed
    at pytest do not reach it.
    """

    instances = []      # every Server made in this run (conftest checks)

    def __init__(self, workdir=None, name='hotserve'):
        self.workdir = workdir or tempfile.mkdtemp(prefix='hs-integ-')
        os.makedirs(self.workdir, exist_ok=True)
        self.name = name
        self.proc = None
        self.argv = None
        self.host = self.port = self.url = None
        self.returncode = None
        self.stop_requested = False   # a signal came from this object
        self._seq = 0
        self.stdout_path = self.stderr_path = None
        self.log_paths = []           # every log file of every start()
        self.sanitizer_checked = {}   # log path -> offset already checked
        Server.instances.append(self)

    # -- process ---------------------------------------------------------

    def start(self, app_spec, *args, cwd=None, env=None, bind='127.0.0.1:0',
              wait=True, timeout=None, binary=None):
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError('server already running')
        self._seq += 1
        base = os.path.join(self.workdir, '%s.%d' % (self.name, self._seq))
        self.stdout_path, self.stderr_path = base + '.out', base + '.err'
        self.log_paths += [self.stdout_path, self.stderr_path]
        argv = [binary or find_binary()]
        if bind is not None:
            argv += ['--bind', bind]
        argv += os.environ.get('HS_TEST_SERVER_ARGS', '').split()
        argv += [str(a) for a in args]
        if app_spec is not None:
            argv.append(app_spec)
        self.argv = argv
        self.host = self.port = self.url = None
        self.returncode = None
        self.stop_requested = False
        with open(self.stdout_path, 'wb') as out, \
                open(self.stderr_path, 'wb') as err:
            self.proc = subprocess.Popen(
                argv, cwd=cwd or APPS_DIR, env=server_env(env),
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True)
        if wait:
            self.wait_banner(timeout if timeout is not None else scaled(15))
        return self

    def wait_banner(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            m = BANNER_RE.search(self.stdout())
            if m:
                host = m.group(1)
                self.host = host.strip('[]')
                self.port = int(m.group(2))
                self.url = 'http://%s:%d/' % (host, self.port)
                return self
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise ServerStartError(
                    'hotserve exited (status %s) before printing its '
                    'banner\n%s' % (self.proc.returncode, self.describe()))
            if time.monotonic() >= deadline:
                raise ServerStartError('no banner within %.1fs\n%s'
                                       % (timeout, self.describe()))
            time.sleep(0.01)

    def wait_listening(self, port, timeout=None, host='127.0.0.1'):
        """For runs without a banner (-q): poll until port accepts."""
        def try_connect():
            if self.proc.poll() is not None:
                raise ServerStartError('hotserve exited (status %s)\n%s'
                                       % (self.proc.returncode,
                                          self.describe()))
            try:
                socket.create_connection((host, port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(try_connect, timeout or scaled(15),
                   what='port %d to accept' % port)
        self.host, self.port = host, port
        self.url = 'http://%s:%d/' % (host, port)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def send_signal(self, sig):
        if self.alive():
            self.stop_requested = True
            self.proc.send_signal(sig)

    def wait_exit(self, timeout=None):
        """Wait for the process to exit; returns its status (negative:
        killed by that signal). AssertionError if it is still running."""
        try:
            self.returncode = self.proc.wait(timeout or scaled(10))
        except subprocess.TimeoutExpired:
            raise AssertionError('hotserve still running after %.1fs\n%s'
                                 % (timeout or scaled(10),
                                    self.describe())) from None
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Send sig and wait for the exit; returns the exit status. If the
        process does not exit in time it is killed (SIGKILL) and
        AssertionError is raised."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.stop_requested = True
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout or scaled(15))
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    'hotserve did not exit within %.1fs of signal %s '
                    '(killed)\n%s' % (timeout or scaled(15), sig,
                                      self.describe()))
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.stop_requested = True
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None:
            self.returncode = self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    # -- logs ------------------------------------------------------------

    @staticmethod
    def _read(path):
        try:
            with open(path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except (FileNotFoundError, TypeError):
            return ''

    def stdout(self):
        return self._read(self.stdout_path)

    def stderr(self):
        return self._read(self.stderr_path)

    def mark(self, stream='stderr'):
        """Current length of a log, to pass as since= later."""
        return len(self.stderr() if stream == 'stderr' else self.stdout())

    def wait_for_log(self, regex, timeout=5, stream='stderr', since=0,
                     flags=re.M):
        """Wait until regex matches the log text after offset `since`;
        returns the match. AssertionError with the log on timeout."""
        pat = re.compile(regex, flags)
        read = self.stderr if stream == 'stderr' else self.stdout
        deadline = time.monotonic() + scaled(timeout)
        while True:
            m = pat.search(read(), since)
            if m:
                return m
            if time.monotonic() >= deadline:
                raise AssertionError('no %r in %s within %.1fs\n%s'
                                     % (regex, stream, scaled(timeout),
                                        self.describe()))
            time.sleep(0.02)

    def new_sanitizer_reports(self):
        """Sanitizer reports in this object's logs (every start) that no
        earlier call returned. Only whole lines are consumed, so a report
        being written now is found complete by a later call."""
        found = []
        for path in self.log_paths:
            text = self._read(path)
            done = self.sanitizer_checked.get(path, 0)
            cut = text.rfind('\n') + 1
            if self.proc is not None and self.proc.poll() is not None:
                cut = len(text)       # exited: the text is final
            if cut <= done:
                continue
            reports = sanitizer_reports(text[done:])
            if reports:
                found += ['%s:\n%s' % (path, r) for r in reports]
                # report the whole log once, not line by line
                cut = len(text)
            self.sanitizer_checked[path] = cut
        return found

    def describe(self, tail=6000):
        status = self.proc.poll() if self.proc else None
        return ('argv: %s\nstatus: %s\n--- stdout (tail) ---\n%s\n'
                '--- stderr (tail) ---\n%s' % (
                    ' '.join(self.argv or []),
                    'running' if status is None else status,
                    self.stdout()[-tail:], self.stderr()[-tail:]))

    # -- requests --------------------------------------------------------

    def http(self, method, path, headers=None, body=None, timeout=5):
        return http(self.port, method, path, headers, body, timeout,
                    host=self.host)

    def get(self, path, **kw):
        return self.http('GET', path, **kw)

    def assert_healthy(self, path='/hello', expect=b'hello'):
        """The process is alive and a normal request gets 200."""
        assert self.alive(), 'hotserve died\n' + self.describe()
        r = self.get(path)
        assert r.status == 200 and r.body == expect, (
            'health check got %s %r\n%s' % (r.status, r.body[:200],
                                            self.describe()))


# -- plain HTTP client -----------------------------------------------------

class Response:
    """A parsed HTTP response. headers: list of (name, value) str pairs in
    wire order (values decoded as latin-1)."""

    def __init__(self):
        self.version = self.reason = None
        self.status = None
        self.headers = []
        self.body = b''
        self.raw_head = b''
        self.chunked = False
        self.complete = True

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def text(self):
        return self.body.decode('utf-8', 'replace')

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return '<Response %s %r headers=%r body=%r%s>' % (
            self.status, self.reason, self.headers, self.body[:300],
            '' if self.complete else ' INCOMPLETE')


def http(port, method, path, headers=None, body=None, timeout=5,
         host='127.0.0.1'):
    """One request through http.client on a new connection (closed
    afterwards). headers: dict or list of pairs. Returns Response."""
    conn = httplib.HTTPConnection(host, port, timeout=scaled(timeout))
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        items = headers.items() if isinstance(headers, dict) else \
            (headers or [])
        names = set()
        for k, v in items:
            conn.putheader(k, v)
            names.add(k.lower())
        if body is not None and 'content-length' not in names and \
                'transfer-encoding' not in names:
            conn.putheader('Content-Length', str(len(body)))
        conn.endheaders(body)
        return from_http_client(conn.getresponse())
    finally:
        conn.close()


def from_http_client(resp):
    r = Response()
    r.version = 'HTTP/1.1' if resp.version == 11 else 'HTTP/1.0'
    r.status, r.reason = resp.status, resp.reason
    r.headers = list(resp.getheaders())
    r.chunked = resp.chunked
    r.body = resp.read()
    return r



# -- raw sockets -----------------------------------------------------------

def raw_request(port, data, timeout=5, host='127.0.0.1', shut_wr=False):
    """Send bytes on a new connection and return everything the server
    sends until it closes the connection or `timeout` seconds pass."""
    conn = RawConn(port, timeout=timeout, host=host)
    try:
        conn.send(data)
        if shut_wr:
            conn.shutdown_write()
        return conn.read_until_close(timeout)
    finally:
        conn.close()


class RawConn:
    """A client socket with a small incremental HTTP/1.x response parser.

    read_response() returns a Response, or None when the server closed the
    connection before sending any byte of one. It raises TimeoutError when
    the deadline passes mid-way. A body cut short by the server closing is
    returned with complete=False.
    """

    def __init__(self, port, timeout=5, host='127.0.0.1', connect=True):
        self.timeout = scaled(timeout)
        self.buf = b''
        self.eof = False
        self.reset = False
        self.sock = None
        if connect:
            self.sock = socket.create_connection((host, port),
                                                 timeout=self.timeout)

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def try_send(self, data):
        """sendall that reports a server-side close instead of raising."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:     # reset, broken pipe, timeout, closed under us
            return False

    def shutdown_write(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self, deadline):
        """Read more into buf. False at EOF (or reset)."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('no data from server before the deadline')
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            raise TimeoutError('no data from server before the deadline')
        except ConnectionResetError:
            self.reset = True
            data = b''
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _deadline(self, timeout):
        return time.monotonic() + (scaled(timeout) if timeout is not None
                                   else self.timeout)

    def read_until(self, marker, timeout=None):
        """Bytes up to and including marker; None at EOF before it."""
        deadline = self._deadline(timeout)
        while marker not in self.buf:
            if not self._fill(deadline):
                return None
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                out, self.buf = self.buf, b''
                return out
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_until_close(self, timeout=None):
        """Everything until EOF, or until the deadline (then whatever came:
        check .eof to tell the two apart)."""
        deadline = self._deadline(timeout)
        try:
            while self._fill(deadline):
                pass
        except TimeoutError:
            pass
        out, self.buf = self.buf, b''
        return out

    def wait_closed(self, timeout=None):
        """True if the server closes (EOF or reset) before the deadline;
        data that arrives meanwhile is kept in buf."""
        deadline = self._deadline(timeout)
        try:
            while self._fill(deadline):
                pass
        except TimeoutError:
            return False
        return True

    def read_response(self, method='GET', timeout=None, interim=False):
        """Parse one response. 1xx responses are skipped unless
        interim=True (then the 1xx itself is returned)."""
        deadline = self._deadline(timeout)
        while True:
            while b'\r\n\r\n' not in self.buf:
                if not self._fill(deadline):
                    if not self.buf:
                        return None
                    raise AssertionError('connection closed inside a '
                                         'response head: %r' % self.buf)
            head, self.buf = self.buf.split(b'\r\n\r\n', 1)
            r = parse_head(head)
            if 100 <= r.status < 200 and r.status != 101:
                if interim:
                    return r
                continue
            break
        if method == 'HEAD' or r.status in (204, 304) or r.status < 200:
            return r
        te = (r.header('Transfer-Encoding') or '').lower()
        if 'chunked' in te:
            r.chunked = True
            r.body, r.complete = self._read_chunked(deadline)
        elif r.header('Content-Length') is not None:
            n = int(r.header('Content-Length'))
            r.body = self.read_exact(n, deadline)
            r.complete = len(r.body) == n
        else:
            while self._fill(deadline):
                pass
            r.body, self.buf = self.buf, b''
        return r

    def _read_chunked(self, deadline):
        body = b''
        while True:
            while b'\r\n' not in self.buf:
                if not self._fill(deadline):
                    return body, False
            line, self.buf = self.buf.split(b'\r\n', 1)
            size = int(line.split(b';')[0].strip(), 16)
            if size == 0:
                # trailer section up to the empty line
                while True:
                    while b'\r\n' not in self.buf:
                        if not self._fill(deadline):
                            return body, False
                    line, self.buf = self.buf.split(b'\r\n', 1)
                    if not line:
                        return body, True
            data = self.read_exact(size + 2, deadline)
            if len(data) < size + 2:
                return body + data[:size], False
            body += data[:size]


def parse_head(head):
    lines = head.split(b'\r\n')
    status_line = lines[0].decode('latin-1')
    parts = status_line.split(' ', 2)
    if len(parts) < 2 or not parts[0].startswith('HTTP/'):
        raise AssertionError('bad status line %r' % status_line)
    r = Response()
    r.raw_head = head
    r.version = parts[0]
    r.status = int(parts[1])
    r.reason = parts[2] if len(parts) > 2 else ''
    for line in lines[1:]:
        name, sep, value = line.decode('latin-1').partition(':')
        if not sep:
            raise AssertionError('bad header line %r in %r' % (line, head))
        r.headers.append((name, value.strip(' \t')))
    return r


def parse_responses(data, method='GET'):
    """Parse every complete response in data (bytes already read)."""
    conn = RawConn(0, connect=False)
    conn.buf = data
    conn.eof = True
    out = []
    while conn.buf:
        r = conn.read_response(method)
        if r is None:
            break
        out.append(r)
    return out


def free_port():
    """A port that was free a moment ago (for runs without a banner)."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- many connections (bad-input and hostile-client tests) ----

def open_many(port, n, payloads, deadline):
    """Start n non-blocking connects to 127.0.0.1:port and send each
    socket its payload (if any) once it is connected. Returns (all
    sockets, the ones connected by the deadline); connects the kernel has
    not completed by then stay pending."""
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(('127.0.0.1', port))
        assert err in (0, errno.EINPROGRESS), errno.errorcode.get(err, err)
        socks.append(s)
    pending = {s.fileno(): (s, payloads[i % len(payloads)])
               for i, s in enumerate(socks)}
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    connected = []
    while pending and time.monotonic() < deadline:
        for fd, _ in poller.poll(100):
            s, payload = pending.pop(fd)
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected.append(s)
                if payload:
                    try:
                        s.send(payload)
                    except OSError:
                        pass
    return socks, connected


def closed_by_server(socks):
    """How many of the sockets the server has closed (EOF or reset)."""
    poller = select.poll()
    for s in socks:
        poller.register(s.fileno(), select.POLLIN)
    n = 0
    for fd, ev in poller.poll(0):
        if ev & (select.POLLHUP | select.POLLERR):
            n += 1
            continue
        s = socket.socket(fileno=os.dup(fd))
        try:
            if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b'':
                n += 1
        except BlockingIOError:
            pass
        except OSError:
            n += 1
        finally:
            s.close()
    return n
