"""Bad and hostile input on raw sockets. Nothing may crash the server:
after every test in this module the process is alive and a normal request
gets 200 (the autouse `still_serving` fixture)."""

import json
import resource
import socket
import time

import pytest

from harness import RawConn, closed_by_server, open_many, parse_responses, \
    raw_request, scaled, wait_until

MAX_HEADER = 16384
MAX_BODY = 4096


@pytest.fixture(scope='module')
def srv(module_server_factory):
    return module_server_factory(
        'wsgi_suite', '--timeout', '1', '--max-header-size', str(MAX_HEADER),
        '--max-body-size', str(MAX_BODY))


@pytest.fixture(autouse=True)
def still_serving(request):
    yield
    if 'srv' in request.fixturenames:
        request.getfixturevalue('srv').assert_healthy()


def exchange(srv, data, timeout=5):
    """Send data, half-close, and collect everything until the server
    closes. Returns (responses, raw bytes, closed-by-server)."""
    with RawConn(srv.port) as c:
        c.try_send(data)
        c.shutdown_write()
        raw = c.read_until_close(timeout)
        closed = c.eof
    try:
        responses = parse_responses(raw)
    except AssertionError as exc:
        raise AssertionError('malformed response bytes (%s): %r'
                             % (exc, raw[:2000]))
    return responses, raw, closed


def assert_rejected(srv, data, statuses=None, timeout=5):
    """The server answers with an error status (one of `statuses` when
    given, else any 4xx/5xx) or closes without answering: never a 2xx."""
    responses, raw, closed = exchange(srv, data, timeout)
    assert responses or closed, (
        'no response and connection still open after %.1fs\n%s'
        % (scaled(timeout), srv.describe()))
    for r in responses:
        assert not 200 <= r.status < 300, 'accepted bad input: %r' % r
    if responses:
        first = responses[0].status
        if statuses:
            assert first in statuses, responses[0]
        else:
            assert 400 <= first < 600, responses[0]
    return responses


def test_malformed_request_line(srv):
    assert_rejected(srv, b'GARBAGE\r\n\r\n')


def test_request_line_with_too_many_parts(srv):
    assert_rejected(srv, b'GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n')


def test_header_line_without_colon(srv):
    assert_rejected(srv, b'GET /hello HTTP/1.1\r\nHost: h\r\n'
                         b'NoColonHere\r\n\r\n', {400})


def test_header_name_with_space_before_colon(srv):
    # RFC 9112 5.1: MUST be rejected with 400
    assert_rejected(srv, b'GET /hello HTTP/1.1\r\nHost: h\r\n'
                         b'Content-Length : 0\r\n\r\n', {400})


def test_huge_header_is_431(srv):
    big = b'X-Big: ' + b'a' * (MAX_HEADER + 1024) + b'\r\n'
    assert_rejected(srv, b'GET /hello HTTP/1.1\r\nHost: h\r\n' + big +
                    b'\r\n', {431})


def test_many_headers_over_limit_is_431(srv):
    headers = b''.join(b'X-H%d: %s\r\n' % (i, b'v' * 100)
                       for i in range(MAX_HEADER // 100 + 10))
    assert_rejected(srv, b'GET /hello HTTP/1.1\r\nHost: h\r\n' + headers +
                    b'\r\n', {431})


def test_header_under_limit_is_fine(srv):
    value = 'a' * (MAX_HEADER // 2)
    r = srv.get('/environ', headers={'X-Half': value})
    assert r.status == 200, r


def test_long_request_line_rejected(srv):
    target = b'/hello?' + b'q' * (MAX_HEADER + 100)
    assert_rejected(srv, b'GET ' + target + b' HTTP/1.1\r\nHost: h\r\n\r\n',
                    {414, 431})


BAD_CONTENT_LENGTHS = [b'abc', b'-1', b'1.5', b'0x10', b'',
                       b'99999999999999999999999999', b'5, 6', b'+5']

# libmicrohttpd 0.9.75 (Debian bookworm) rejects these itself, before
# hotserve sees the request, and writes its 400/413 twice on the wire
# (fixed upstream after 0.9.75). Strict: an MHD that stops doing it makes
# these XPASS and fail, so the marker gets removed.
MHD_DOUBLE_ERROR = pytest.mark.xfail(
    strict=True, reason='libmicrohttpd 0.9.75 writes its own 400 twice')


@pytest.mark.parametrize('value', [pytest.param(v, marks=MHD_DOUBLE_ERROR)
                                   for v in BAD_CONTENT_LENGTHS])
def test_bad_content_length_is_400(srv, value):
    assert_rejected(srv, b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
                         b'Content-Length: ' + value + b'\r\n\r\nhello',
                    {400, 413})


@pytest.mark.parametrize('value', BAD_CONTENT_LENGTHS)
def test_bad_content_length_first_answer_is_4xx_and_close(srv, value):
    """What holds despite the MHD defect above: the client's first
    response is a 400/413 that closes the connection, the app never runs,
    and the server stays healthy (checked by the autouse fixture)."""
    data = raw_request(srv.port, b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
                       b'Content-Length: ' + value + b'\r\n\r\nhello')
    head = data.split(b'\r\n\r\n', 1)[0]
    status = head.split(b'\r\n', 1)[0]
    assert status in (b'HTTP/1.1 400 Bad Request',
                      b'HTTP/1.1 413 Content Too Large',
                      b'HTTP/1.1 413 Payload Too Large'), data
    assert b'\r\nConnection: close' in head, data
    assert b'upload-hash' not in data and b'sha256' not in data, data


def test_conflicting_content_lengths_400(srv):
    assert_rejected(srv, b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
                         b'Content-Length: 5\r\nContent-Length: 6\r\n\r\n'
                         b'hello!', {400})


def test_truncated_body_then_close(srv):
    with RawConn(srv.port) as c:
        c.send(b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
               b'Content-Length: 100\r\n\r\n0123456789')
    # the server must not run the app with a short body; it stays healthy
    # (checked by the autouse fixture)


def test_truncated_body_then_half_close_gets_no_2xx(srv):
    assert_rejected(srv, b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
                         b'Content-Length: 100\r\n\r\n0123456789')


def test_truncated_chunked_body_then_half_close(srv):
    assert_rejected(srv, b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
                         b'Transfer-Encoding: chunked\r\n\r\n'
                         b'a\r\n01234')


def test_bad_chunk_size(srv):
    assert_rejected(srv, b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
                         b'Transfer-Encoding: chunked\r\n\r\n'
                         b'zz\r\nhello\r\n0\r\n\r\n', {400})


@pytest.mark.parametrize('data', [
    b'GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n',
    b'GET\x00 /hello HTTP/1.1\r\nHost: h\r\n\r\n',
    b'GET /hello HTTP/1.1\x00\r\nHost: h\r\n\r\n',
    b'GET /hello HTTP/1.1\r\nHost: h\r\nX\x00Nul: ab\r\n\r\n',
], ids=['target', 'method', 'version', 'header-name'])
def test_nul_bytes_rejected(srv, data):
    assert_rejected(srv, data)


@pytest.mark.xfail(strict=True, reason='libmicrohttpd 0.9.75 ends a header '
                   'value at a NUL byte before hotserve sees it')
def test_nul_in_header_value_rejected_or_replaced(srv):
    # RFC 9110 5.5: reject, or replace each NUL with SP before use -
    # never hand the app a value cut short or still holding the NUL
    responses, raw, _ = exchange(srv, b'GET /environ HTTP/1.1\r\nHost: h\r\n'
                                      b'X-Nul: a\x00b\r\n\r\n')
    assert responses, raw
    r = responses[0]
    if r.status == 200:
        assert json.loads(r.body)['str']['HTTP_X_NUL'] == 'a b', r.body
    else:
        assert r.status == 400, r


@pytest.mark.parametrize('data', [
    b'GET /hello HTTP/2.0\r\nHost: h\r\n\r\n',
    b'GET /hello HTTP/1.x\r\nHost: h\r\n\r\n',
    b'GET /hello FTP/1.1\r\nHost: h\r\n\r\n',
    b'GET /hello http/1.1\r\nHost: h\r\n\r\n',
])
def test_bad_version(srv, data):
    assert_rejected(srv, data)


def test_tls_client_hello_on_plain_port(srv):
    hello = bytes.fromhex('16030100f4010000f00303') + bytes(range(32)) + \
        b'\x00' * 200
    assert_rejected(srv, hello)


def test_binary_garbage(srv):
    assert_rejected(srv, bytes(range(256)) * 8)


def test_empty_lines_only_then_close(srv):
    responses, _, closed = exchange(srv, b'\r\n\r\n\r\n')
    assert closed
    assert all(r.status >= 400 for r in responses)


def test_connect_and_close_immediately(srv):
    for _ in range(50):
        socket.create_connection(('127.0.0.1', srv.port), timeout=5).close()


def test_transfer_encoding_not_chunked_rejected(srv):
    # RFC 9112 6.3: TE present but chunked not final -> 400
    assert_rejected(srv, b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
                         b'Transfer-Encoding: gzip\r\n\r\nhello', {400, 501})


def test_body_over_max_body_size_is_413(srv):
    body = b'x' * (MAX_BODY + 1)
    with RawConn(srv.port) as c:
        c.send(b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
               b'Content-Length: %d\r\n\r\n' % len(body))
        c.try_send(body)
        r = c.read_response()
    assert r is not None and r.status == 413, r


def test_chunked_body_over_max_body_size_is_413(srv):
    with RawConn(srv.port) as c:
        c.send(b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
               b'Transfer-Encoding: chunked\r\n\r\n')
        c.try_send(b'800\r\n' + b'y' * 0x800 + b'\r\n')
        c.try_send(b'800\r\n' + b'y' * 0x800 + b'\r\n')
        c.try_send(b'10\r\n' + b'y' * 0x10 + b'\r\n0\r\n\r\n')
        r = c.read_response()
    assert r is not None and r.status == 413, r


def test_body_at_limit_accepted(srv):
    r = srv.http('POST', '/upload-hash', body=b'k' * MAX_BODY)
    assert r.status == 200, r


def test_slow_client_closed_by_timeout(srv):
    """--timeout 1: half a request, then silence -> the server closes."""
    with RawConn(srv.port, timeout=10) as c:
        c.send(b'GET /hello HTTP/1.1\r\nHost: h\r\n')
        start = time.monotonic()
        closed = c.wait_closed(6)
        elapsed = time.monotonic() - start
    assert closed, 'half-sent request kept open for %.1fs' % elapsed
    assert elapsed >= 0.5, 'closed after %.2fs, before the timeout' % elapsed
    assert elapsed <= scaled(4), 'closed only after %.1fs' % elapsed


def test_idle_keepalive_connection_closed_by_timeout(srv):
    with RawConn(srv.port, timeout=10) as c:
        c.send(b'GET /hello HTTP/1.1\r\nHost: h\r\n\r\n')
        r = c.read_response()
        assert r.status == 200
        start = time.monotonic()
        closed = c.wait_closed(6)
        elapsed = time.monotonic() - start
    assert closed and 0.5 <= elapsed <= scaled(4), elapsed


def test_slowloris_trickle_does_not_block_others(srv):
    # one byte at a time on one connection; another client is unaffected
    with RawConn(srv.port, timeout=10) as slow:
        for b in b'GET /hel':
            slow.try_send(bytes([b]))
            srv.assert_healthy()


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def test_1000_half_open_connections(srv):
    raise_nofile(4096)
    payloads = [b'', b'GET /hello HTTP/1.1\r\n', b'GET /hel', b'P']
    socks, connected = open_many(srv.port, 1000, payloads,
                                 time.monotonic() + scaled(3))
    try:
        # the kernel completes the handshake for the backlog even while
        # the server holds its --max-connections (128) busy
        assert len(connected) >= 200, len(connected)
        # Held open by us, every one of them must still be closed by the
        # server in bounded time: the ones over --max-connections (128)
        # at once, the others by --timeout 1.
        wait_until(lambda: closed_by_server(connected) == len(connected),
                   scaled(6), what='the server to close all %d connections'
                   % len(connected))
        assert srv.alive(), srv.describe()
    finally:
        for s in socks:
            s.close()
    # After they close, a normal request is answered within 1 s.
    start = time.monotonic()
    r = srv.get('/hello', timeout=1)      # http() applies SCALE
    elapsed = time.monotonic() - start
    assert r.status == 200 and r.body == b'hello'
    assert elapsed <= scaled(1), elapsed


def test_requests_interleaved_with_half_open_connections(srv):
    raise_nofile(4096)
    socks, connected = open_many(
        srv.port, 60, [b'GET /hello HTTP/1.1\r\nHost: h\r\n'],
        time.monotonic() + scaled(5))
    assert len(connected) == 60
    try:
        # 60 stalled connections hold server threads; others still work
        for _ in range(5):
            srv.assert_healthy()
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def small_server(server_factory):
    return server_factory('wsgi_suite', '--max-connections', '4',
                          '--timeout', '60')


def test_max_connections_excess_is_closed_not_hung(small_server):
    """With --max-connections 4 and 4 idle connections held open, a 5th
    connection is refused, closed or answered 503 - within a bound, not
    left hanging until a slot frees up (the idle timeout here is 60 s)."""
    srv = small_server
    held = []
    try:
        for _ in range(4):
            c = RawConn(srv.port)
            held.append(c)
            # a full keep-alive exchange proves the server took this
            # connection; it then stays open and idle (timeout 60 s)
            c.send(b'GET /hello HTTP/1.1\r\nHost: h\r\n\r\n')
            r = c.read_response()
            assert r is not None and r.status == 200, r
        start = time.monotonic()
        try:
            extra = RawConn(srv.port, timeout=5)
        except OSError:
            extra = None                # refused outright: fine
        if extra is not None:
            with extra:
                extra.try_send(b'GET /hello HTTP/1.1\r\nHost: h\r\n\r\n')
                try:
                    r = extra.read_response(timeout=5)
                except TimeoutError:
                    raise AssertionError(
                        'excess connection neither answered nor closed '
                        'within %.1fs\n%s' % (time.monotonic() - start,
                                              srv.describe()))
                if r is not None:
                    assert r.status == 503, \
                        'excess connection got %r (limit not enforced?)' % r
    finally:
        for c in held:
            c.close()
    # the slots free up once the held connections close
    wait_until(lambda: get_ok(srv), scaled(2),
               what='a free slot after closing the held connections')
    srv.assert_healthy()


def get_ok(srv):
    try:
        return srv.get('/hello', timeout=1).status == 200
    except OSError:
        return False


# -- the default --max-header-size (128 KiB) on a server with defaults ------

@pytest.fixture(scope='module')
def default_srv(module_server_factory):
    return module_server_factory('wsgi_suite')


def test_default_header_limit_allows_big_dev_cookies(default_srv):
    cookie = '; '.join('c%d=%s' % (i, 'v' * 1000) for i in range(60))
    r = default_srv.get('/environ', headers={'Cookie': cookie})
    assert r.status == 200, r
    assert len(cookie) > 60000


def test_default_header_limit_rejects_200k(default_srv):
    assert_rejected(default_srv, b'GET /hello HTTP/1.1\r\nHost: h\r\n'
                                 b'X-Huge: ' + b'h' * 200000 + b'\r\n\r\n',
                    {431})
    default_srv.assert_healthy()
