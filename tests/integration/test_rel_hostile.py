"""Hostile clients against the default limits: 1000 concurrent half-open
connections, slowloris headers (one byte per 100 ms), 10 000 headers, a
64 KiB request line, garbage bytes, TLS handshake bytes on the plain port,
clients that disconnect mid-upload and mid-response. Each is answered
with a 4xx or a close (or, for input inside the documented limits, a
correct answer), and after each one the same process (pid, one banner)
answers a normal request within 1 s (x4 in sanitizer builds).

The limits are options with defaults documented in --help and the README
(test_limits_are_documented); test_badinput.py covers the same attacks
against small limits (--timeout 1, 16 KiB headers, 4 KiB bodies).
"""

import os
import re
import resource
import select
import socket
import struct
import threading
import time

import pytest

from harness import (RawConn, SOURCE_DIR, closed_by_server, find_binary,
                     open_many, parse_responses, scaled, wait_until)

DEFAULT_MAX_CONNECTIONS = 128
DEFAULT_MAX_HEADER = 128 * 1024


@pytest.fixture(scope='module')
def srv(module_server_factory):
    """hotserve with every default limit (only the bind is ours)."""
    s = module_server_factory('wsgi_suite')
    s.first_pid = s.pid
    return s


@pytest.fixture(scope='module')
def short(module_server_factory):
    """Defaults except --timeout 2, so that slowloris connections are
    closed within the test's time budget."""
    s = module_server_factory('wsgi_suite', '--timeout', '2',
                              name='short')
    s.first_pid = s.pid
    return s


def answers_fast(s):
    """Same process, still one banner, GET /hello -> 200 within 1 s."""
    assert s.alive(), 'hotserve died\n' + s.describe()
    assert s.pid == s.first_pid
    banners = s.stdout().count('Starting development server at')
    assert banners == 1, 'restarted? %d banners\n%s' % (banners,
                                                         s.describe())
    start = time.monotonic()
    r = s.get('/hello', timeout=1)
    elapsed = time.monotonic() - start
    assert r.status == 200 and r.body == b'hello', r
    assert elapsed <= scaled(1), 'normal request took %.2fs' % elapsed


@pytest.fixture(autouse=True)
def still_fast(request):
    yield
    for name in ('srv', 'short'):
        if name in request.fixturenames:
            answers_fast(request.getfixturevalue(name))


def exchange(port, data, timeout=10):
    """Send data, half-close, read until the server closes. Returns
    (responses, closed). A reset counts as a close."""
    with RawConn(port, timeout=timeout) as c:
        c.try_send(data)
        c.shutdown_write()
        raw = c.read_until_close(timeout)
        closed = c.eof
    return parse_responses(raw), closed, raw


def assert_4xx_or_close(port, data, allowed=None, timeout=10):
    responses, closed, raw = exchange(port, data, timeout)
    assert responses or closed, 'neither answered nor closed within ' \
        '%.0fs' % scaled(timeout)
    if responses:
        status = responses[0].status
        assert 400 <= status < 500, responses[0]
        if allowed:
            assert status in allowed, responses[0]
        assert len(responses) == 1, responses
    return responses


# -- limits are documented ---------------------------------------------------

def test_limits_are_documented():
    import subprocess
    help_text = subprocess.run([find_binary(), '--help'],
                               capture_output=True, text=True,
                               timeout=scaled(10)).stdout
    with open(os.path.join(SOURCE_DIR, 'README.md')) as f:
        readme = f.read()
    for opt, default, help_default in [
            ('--max-connections', '128', '128'),
            ('--timeout', '60', '60'),
            ('--max-header-size', '131072', '128k'),
            ('--max-body-size', '1 GiB', '1g'),
            ('--shutdown-timeout', '10', '10')]:
        row = re.search(r'^\|\s*`%s[^|]*\|\s*([^|]*?)\s*\|' % re.escape(opt),
                        readme, re.M)
        assert row, 'README has no table row for %s' % opt
        assert row.group(1) == default, (opt, row.group(0))
        block = help_text[help_text.index(opt):][:400]
        assert '[default: %s]' % help_default in block, (opt, block)


# -- connection floods -------------------------------------------------------

def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def test_1000_concurrent_half_open_connections(srv):
    """1000 connections that never finish a request, with the default
    --max-connections 128 and --timeout 60: those over the limit are
    closed by the server at once (none left hanging in the backlog), the
    process survives, and once the clients go away a normal request is
    answered within 1 s (the autouse check)."""
    raise_nofile(4096)
    payloads = [b'', b'GET /hello HTTP/1.1\r\n', b'GET /hel', b'\x16\x03']
    socks, connected = open_many(srv.port, 1000, payloads,
                                 time.monotonic() + scaled(5))
    try:
        assert len(connected) >= 900, len(connected)
        want = len(connected) - DEFAULT_MAX_CONNECTIONS
        wait_until(lambda: closed_by_server(connected) >= want, scaled(10),
                   what='the server to close the %d connections over '
                   '--max-connections' % want)
        assert srv.alive(), srv.describe()
    finally:
        for s in socks:
            s.close()


def trickle(socks, data, interval, duration, probe=None):
    """Send data one byte per `interval` seconds on every socket, for at
    most `duration` seconds; call probe() between bytes. Returns how many
    bytes went out and the sockets the server closed meanwhile."""
    sent = 0
    gone = set()
    end = time.monotonic() + duration
    while time.monotonic() < end:
        b = data[sent % len(data):sent % len(data) + 1]
        for s in socks:
            if s in gone:
                continue
            try:
                s.send(b)
            except OSError:
                gone.add(s)
        sent += 1
        if probe is not None:
            probe()
        time.sleep(interval)
    return sent, gone


def test_slowloris_header_one_byte_per_100ms(short):
    """A header that never ends, one byte every 100 ms for 4 s: other
    clients are served within 1 s meanwhile; once the trickle stops the
    server closes the connection within --timeout (2 s) plus slack."""
    with RawConn(short.port, timeout=20) as c:
        c.send(b'GET /hello HTTP/1.1\r\nHost: h\r\nX-Slow: ')
        latencies = []

        def probe():
            t0 = time.monotonic()
            r = short.get('/hello', timeout=1)
            latencies.append(time.monotonic() - t0)
            assert r.status == 200
        sent, gone = trickle([c.sock], b'abcdefghij', 0.1, 4, probe)
        assert sent >= 10
        assert max(latencies) <= scaled(1), max(latencies)
        start = time.monotonic()
        closed = c.wait_closed(scaled(2 + 3))
        waited = time.monotonic() - start
        assert closed, 'slowloris connection still open %.1fs after the ' \
            'trickle stopped (--timeout 2)' % waited
        responses = parse_responses(c.buf) if c.buf else []
        for r in responses:
            assert 400 <= r.status < 500, r


def test_slowloris_closed_while_still_trickling(short):
    """MHD's --timeout counts idle time only; a header that keeps
    trickling must still be cut off: the request head has --timeout (2 s)
    to arrive, measured from the accept. Trickle for up to 8 s and expect
    the server to close the connection within 2 s plus one check tick and
    slack, while bytes are still being sent."""
    with RawConn(short.port, timeout=20) as c:
        start = time.monotonic()
        c.send(b'GET /hello HTTP/1.1\r\nHost: h\r\nX-Slow: ')
        deadline = start + scaled(8)
        closed_at = None
        while time.monotonic() < deadline:
            try:
                c.sock.send(b'a')
            except OSError:
                closed_at = time.monotonic()
                break
            r, _, _ = select.select([c.sock], [], [], 0.1)
            if r:
                try:
                    data = c.sock.recv(65536)
                except OSError:
                    data = b''
                if not data:
                    closed_at = time.monotonic()
                    break
                c.buf += data
        assert closed_at is not None, 'still open after trickling %.1fs' % (
            time.monotonic() - start)
        assert closed_at - start <= scaled(2 + 1.5), closed_at - start
        assert closed_at - start >= 1.9, 'closed before --timeout: %.2fs' \
            % (closed_at - start)


def test_64_slowloris_connections_do_not_starve_others(short):
    """Half the default --max-connections trickling headers at once."""
    raise_nofile(1024)
    socks, connected = open_many(
        short.port, 64, [b'GET /hello HTTP/1.1\r\nHost: h\r\nX-Slow: '],
        time.monotonic() + scaled(5))
    try:
        assert len(connected) == 64
        for s in connected:
            s.setblocking(True)
            s.settimeout(1)
        latencies = []

        def probe():
            t0 = time.monotonic()
            assert short.get('/hello', timeout=1).status == 200
            latencies.append(time.monotonic() - t0)
        trickle(connected, b'xyz', 0.1, 3, probe)
        assert latencies and max(latencies) <= scaled(1), latencies
        wait_until(lambda: closed_by_server(connected) == len(connected),
                   scaled(2 + 4),
                   what='the server to time out the slowloris connections')
    finally:
        for s in socks:
            s.close()


# -- oversized and malformed requests ---------------------------------------

def test_10000_headers(srv):
    headers = b''.join(b'X-H%d: v\r\n' % i for i in range(10000))
    assert_4xx_or_close(srv.port, b'GET /hello HTTP/1.1\r\nHost: h\r\n' +
                        headers + b'\r\n', {400, 431})


def test_10000_tiny_headers(srv):
    # 50 KB: under the byte limit, still refused rather than handed on
    headers = b'a:b\r\n' * 10000
    assert_4xx_or_close(srv.port, b'GET /hello HTTP/1.1\r\nHost: h\r\n' +
                        headers + b'\r\n', {400, 431})


def test_64k_request_line_inside_the_default_limit(srv):
    """A 64 KiB request line is inside the default --max-header-size
    (128 KiB, request line included): hotserve either refuses it with a
    4xx or serves it with the query intact, never truncated."""
    q = 'q=' + 'x' * (64 * 1024)
    with RawConn(srv.port, timeout=10) as c:
        c.send(b'GET /environ?%s HTTP/1.1\r\nHost: h\r\n\r\n' % q.encode())
        r = c.read_response()
    assert r is not None, 'closed without an answer'
    if r.status == 200:
        assert r.json()['str']['QUERY_STRING'] == q
    else:
        assert r.status in (400, 414, 431), r


def test_request_line_over_the_limit(srv):
    line = b'GET /hello?' + b'q' * (DEFAULT_MAX_HEADER + 1024) + \
        b' HTTP/1.1\r\nHost: h\r\n\r\n'
    assert_4xx_or_close(srv.port, line, {400, 414, 431})


@pytest.mark.parametrize('seed', range(4))
def test_garbage_bytes(srv, seed):
    import random
    rnd = random.Random(seed)
    data = bytes(rnd.randrange(256) for _ in range(4096))
    assert_4xx_or_close(srv.port, data)


def test_garbage_after_a_good_request(srv):
    responses, closed, raw = exchange(
        srv.port, b'GET /hello HTTP/1.1\r\nHost: h\r\n\r\n' +
        bytes(range(256)) * 4)
    assert responses and responses[0].status == 200, raw[:300]
    assert all(400 <= r.status < 500 for r in responses[1:]), responses
    assert closed


def tls_client_hello():
    """A real-looking TLS 1.2 ClientHello record."""
    body = (b'\x03\x03' + bytes(32) + b'\x00' +        # version, random, sid
            b'\x00\x04\x13\x01\xc0\x2f' + b'\x01\x00' +  # ciphers, comp
            b'\x00\x0e\x00\x00\x00\x0a\x00\x08\x00\x00\x05localhost')
    hs = b'\x01' + struct.pack('>I', len(body))[1:] + body
    return b'\x16\x03\x01' + struct.pack('>H', len(hs)) + hs


def test_tls_handshake_on_the_plain_port(srv):
    assert_4xx_or_close(srv.port, tls_client_hello())


def test_tls_handshake_without_half_close(srv):
    """A TLS client waits for the ServerHello without closing its side;
    the server must answer or close on its own."""
    with RawConn(srv.port, timeout=10) as c:
        c.send(tls_client_hello())
        closed = c.wait_closed(scaled(5))
        assert closed, 'TLS handshake bytes left unanswered and open'
        for r in parse_responses(c.buf) if c.buf else []:
            assert 400 <= r.status < 500, r


# -- clients that go away ----------------------------------------------------

def rst_close(sock):
    """Close with a reset (SO_LINGER 0), like a killed client."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack('ii', 1, 0))
    sock.close()


@pytest.mark.parametrize('how', ['close', 'reset'])
def test_disconnect_mid_upload(srv, how):
    """10 MiB announced, 1 MiB sent, then the client is gone: the app's
    read sees the short body as an error, never as complete data, and
    the server carries on."""
    mark = srv.mark()
    for _ in range(5):
        c = RawConn(srv.port, timeout=10)
        c.send(b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
               b'Content-Length: %d\r\n\r\n' % (10 << 20))
        c.try_send(b'u' * (1 << 20))
        if how == 'reset':
            rst_close(c.sock)
            c.sock = None
        else:
            c.close()
    assert srv.get('/hello').status == 200
    # no upload was handed to the app as if complete
    assert not re.search(r'"POST /upload-hash HTTP/1.1" 2\d\d',
                         srv.stderr()[mark:]), srv.stderr()[mark:]


def test_disconnect_mid_chunked_upload(srv):
    c = RawConn(srv.port, timeout=10)
    c.send(b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
           b'Transfer-Encoding: chunked\r\n\r\n')
    for _ in range(16):
        c.try_send(b'10000\r\n' + b'c' * 0x10000 + b'\r\n')
    rst_close(c.sock)
    c.sock = None


@pytest.mark.parametrize('how', ['close', 'reset'])
def test_disconnect_mid_response(srv, how):
    """A 512 MiB streamed response; the client reads 1 MiB and goes away:
    the server stops iterating and calls the iterable's close() (PEP
    3333) within a bound, without finishing the body."""
    key = 'rel-gone-%s-%d' % (how, time.monotonic_ns())
    c = RawConn(srv.port, timeout=10)
    c.send(b'GET /track?id=%s&mode=stream HTTP/1.1\r\nHost: h\r\n\r\n'
           % key.encode())
    got = 0
    while got < (1 << 20):
        data = c.sock.recv(65536)
        assert data, 'server closed early'
        got += len(data)
    if how == 'reset':
        rst_close(c.sock)
        c.sock = None
    else:
        c.close()

    def closed():
        rec = srv.get('/tracked?id=' + key).json()
        return rec if rec.get('closed') else None
    rec = wait_until(closed, scaled(5),
                     what='close() of the abandoned response iterable')
    assert rec['closed'] == 1 and not rec['exhausted'], rec
    assert rec['bytes'] < (256 << 20), rec


def test_many_clients_vanishing_mid_response(srv):
    """Sixteen streaming responses at once, every client reset after
    its first bytes."""
    keys = ['rel-many-%d-%d' % (i, time.monotonic_ns()) for i in range(16)]
    conns = []
    for key in keys:
        c = RawConn(srv.port, timeout=10)
        c.send(b'GET /track?id=%s&mode=stream HTTP/1.1\r\nHost: h\r\n\r\n'
               % key.encode())
        conns.append(c)
    for c in conns:
        assert c.sock.recv(65536)
        rst_close(c.sock)
        c.sock = None

    def all_closed():
        return all(srv.get('/tracked?id=' + k).json().get('closed') == 1
                   for k in keys)
    wait_until(all_closed, scaled(10),
               what='close() of all 16 abandoned iterables')


def test_concurrent_hostile_mix(srv):
    """All of the above at once from eight threads for a bounded time,
    while a ninth checks that normal requests keep working."""
    errors = []
    stop = threading.Event()
    hello = tls_client_hello()
    attacks = [
        lambda: exchange(srv.port, bytes(range(256)) * 16, 5),
        lambda: exchange(srv.port, hello, 5),
        lambda: exchange(srv.port, b'GET /hello HTTP/1.1\r\nHost: h\r\n' +
                         b'a:b\r\n' * 10000 + b'\r\n', 5),
        lambda: exchange(srv.port, b'POST /upload-hash HTTP/1.1\r\nHost: h'
                         b'\r\nContent-Length: 100000\r\n\r\nabc', 5),
    ]

    def attacker(i):
        n = 0
        while not stop.is_set():
            try:
                attacks[(i + n) % len(attacks)]()
            except (OSError, TimeoutError):
                pass
            except Exception as exc:        # a parse error is a finding
                errors.append(repr(exc))
            n += 1
    threads = [threading.Thread(target=attacker, args=(i,), daemon=True)
               for i in range(8)]
    for t in threads:
        t.start()
    try:
        end = time.monotonic() + 3
        while time.monotonic() < end:
            t0 = time.monotonic()
            r = srv.get('/hello', timeout=2)
            assert r.status == 200
            assert time.monotonic() - t0 <= scaled(1)
    finally:
        stop.set()
        for t in threads:
            t.join(scaled(15))
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]
