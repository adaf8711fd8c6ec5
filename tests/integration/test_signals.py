"""Clean shutdown on SIGTERM (docker stop) and SIGINT (CONTROL-C): stop
accepting, let requests in flight finish (bounded by --shutdown-timeout),
exit 0; a second SIGINT exits at once."""

import glob
import signal
import socket
import threading
import time

import pytest

from harness import RawConn, http, scaled, wait_until


class Background:
    """Run one http() request on a thread; .result / .error afterwards."""

    def __init__(self, port, path, timeout=40):
        self.result = self.error = None

        def run():
            try:
                self.result = http(port, 'GET', path, timeout=timeout)
            except Exception as exc:          # reported by the test
                self.error = exc
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), 'request still running'


def signal_pending(pid, sig):
    """True while sig is pending (not yet delivered) for the process or
    any of its threads."""
    bit = 1 << (sig - 1)
    paths = ['/proc/%d/status' % pid] + \
        glob.glob('/proc/%d/task/*/status' % pid)
    for path in paths:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(('SigPnd:', 'ShdPnd:')):
                        if int(line.split()[1], 16) & bit:
                            return True
        except FileNotFoundError:
            continue
    return False


def send_and_wait_delivered(srv, sig):
    srv.send_signal(sig)
    wait_until(lambda: not srv.alive() or not signal_pending(srv.pid, sig),
               scaled(2), what='signal %s to be delivered' % sig)


def not_served(port):
    """A new connection is not served: refused, closed/reset without a
    response, or no response within 0.3 s. Returns (ok, conn-or-None)."""
    try:
        c = RawConn(port, timeout=1)
    except OSError:
        return True, None
    c.try_send(b'GET /hello HTTP/1.1\r\nHost: h\r\n\r\n')
    try:
        r = c.read_response(timeout=0.3)
    except TimeoutError:
        return True, c
    c.close()
    if r is None:
        return True, None
    return not 200 <= r.status < 300, None


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT],
                         ids=['SIGTERM', 'SIGINT'])
def test_idle_server_exits_0(server_factory, sig):
    srv = server_factory('wsgi_suite')
    srv.assert_healthy()
    start = time.monotonic()
    rc = srv.stop(sig, timeout=scaled(10))
    assert rc == 0, srv.describe()
    assert time.monotonic() - start < scaled(3), 'slow idle shutdown'
    assert 'Traceback' not in srv.stderr(), srv.describe()


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT],
                         ids=['SIGTERM', 'SIGINT'])
def test_inflight_request_completes_before_exit(server_factory, sig):
    srv = server_factory('wsgi_suite')
    mark = srv.mark()
    req = Background(srv.port, '/slow?secs=2')
    srv.wait_for_log(r'slow-view-start', since=mark)
    send_and_wait_delivered(srv, sig)
    # It stops accepting while the slow request is still running.
    probes = []

    def stopped_accepting():
        ok, conn = not_served(srv.port)
        if conn is not None:
            probes.append(conn)
        return ok
    try:
        wait_until(stopped_accepting, scaled(1),
                   what='the server to stop accepting new requests')
        assert req.thread.is_alive(), 'slow request ended early: %r %r' % (
            req.result, req.error)
        req.join(scaled(10))
        assert req.error is None, repr(req.error)
        assert req.result.status == 200, req.result
        assert req.result.body == b'slept 2.0'
        rc = srv.wait_exit(scaled(10))
        assert rc == 0, srv.describe()
        # a connection left waiting in the backlog was never served
        for c in probes:
            try:
                r = c.read_response(timeout=2)
            except (TimeoutError, AssertionError):
                r = None
            assert r is None or not 200 <= r.status < 300, r
    finally:
        for c in probes:
            c.close()


def test_idle_keepalive_connection_does_not_delay_exit(server_factory):
    srv = server_factory('wsgi_suite', '--timeout', '60')
    with RawConn(srv.port) as c:
        c.send(b'GET /hello HTTP/1.1\r\nHost: h\r\n\r\n')
        assert c.read_response().status == 200
        start = time.monotonic()
        rc = srv.stop(signal.SIGTERM, timeout=scaled(10))
        elapsed = time.monotonic() - start
    assert rc == 0, srv.describe()
    assert elapsed < scaled(3), 'idle keep-alive held shutdown %.1fs' % \
        elapsed


def test_double_sigint_exits_at_once(server_factory):
    srv = server_factory('wsgi_suite', '--shutdown-timeout', '30')
    mark = srv.mark()
    req = Background(srv.port, '/slow?secs=30', timeout=60)
    srv.wait_for_log(r'slow-view-start', since=mark)
    send_and_wait_delivered(srv, signal.SIGINT)
    assert srv.alive(), 'exited on the first SIGINT with a request running'
    start = time.monotonic()
    srv.send_signal(signal.SIGINT)
    rc = srv.wait_exit(scaled(3))
    elapsed = time.monotonic() - start
    assert elapsed < scaled(3)
    # any exit status, or death by SIGINT itself; never a crash
    assert rc >= 0 or rc == -signal.SIGINT, \
        'second SIGINT: status %s\n%s' % (rc, srv.describe())
    req.join(scaled(5))
    assert req.result is None or req.result.status != 200


def test_shutdown_timeout_bounds_the_wait(server_factory):
    srv = server_factory('wsgi_suite', '--shutdown-timeout', '1')
    mark = srv.mark()
    req = Background(srv.port, '/slow?secs=30', timeout=60)
    srv.wait_for_log(r'slow-view-start', since=mark)
    start = time.monotonic()
    srv.send_signal(signal.SIGTERM)
    rc = srv.wait_exit(1 + scaled(4))
    elapsed = time.monotonic() - start
    assert elapsed >= 0.8, 'did not wait for the request at all (%.2fs)' \
        % elapsed
    assert rc >= 0, 'killed by signal %s\n%s' % (-rc, srv.describe())
    req.join(scaled(5))
    # the cut-off request never got a success
    assert req.result is None or req.result.status != 200


def test_sigterm_with_many_keepalive_clients(server_factory):
    srv = server_factory('wsgi_suite')
    conns = []
    try:
        for _ in range(20):
            c = RawConn(srv.port)
            c.send(b'GET /hello HTTP/1.1\r\nHost: h\r\n\r\n')
            assert c.read_response().status == 200
            conns.append(c)
        rc = srv.stop(signal.SIGTERM, timeout=scaled(10))
        assert rc == 0, srv.describe()
        for c in conns:
            assert c.wait_closed(2)
    finally:
        for c in conns:
            c.close()


def test_port_is_released_after_exit(server_factory):
    srv = server_factory('wsgi_suite')
    port = srv.port
    assert srv.stop() == 0
    s = socket.socket()
    try:
        # SO_REUSEADDR: TIME_WAIT leftovers are fine, a listener is not
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', port))
        s.listen(1)
    finally:
        s.close()
