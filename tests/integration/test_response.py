"""Responses: start_response and exc_info, write(), HEAD, Content-Length
versus chunked versus close-delimited bodies, close() on every path,
wsgi.file_wrapper, 204/304, repeated Set-Cookie, and app errors (500 page
with the traceback; bad headers from the app)."""

import json
import os
import re
import socket
import struct

import pytest

from harness import APPS_DIR, RawConn, parse_responses, raw_request, \
    scaled, wait_until

SUITE = os.path.join(APPS_DIR, 'wsgi_suite.py')


@pytest.fixture(scope='module')
def srv(module_server_factory):
    return module_server_factory('wsgi_suite')


def one(srv, target, method='GET', version='HTTP/1.1', extra=b''):
    """Raw request with Connection: close; returns (Response, rest)."""
    data = ('%s %s %s\r\nHost: h\r\nConnection: close\r\n' %
            (method, target, version)).encode() + extra + b'\r\n'
    with RawConn(srv.port) as c:
        c.send(data)
        r = c.read_response(method)
        rest = c.read_until_close(5)
    assert r is not None, 'no response\n' + srv.describe()
    return r, rest


def tracked(srv, key):
    r = srv.get('/tracked?id=' + key)
    assert r.status == 200, r
    return json.loads(r.body)


def wait_closed_called(srv, key, timeout=5):
    def closed():
        rec = tracked(srv, key)
        return rec if rec.get('closed') else None
    return wait_until(closed, scaled(timeout),
                      what='close() of iterable %s' % key)


# -- start_response ---------------------------------------------------------

def test_exc_info_replaces_status_before_headers_are_sent(srv):
    r, _ = one(srv, '/exc-replace')
    assert r.status == 503, r
    assert r.header('X-Replaced') == 'yes'
    assert r.header('X-First') is None
    assert r.body == b'replaced body'


def test_exc_info_after_headers_sent_reraises_and_truncates(srv):
    mark = srv.mark()
    with RawConn(srv.port) as c:
        c.send(b'GET /exc-after-headers HTTP/1.1\r\nHost: h\r\n\r\n')
        r = c.read_response()
        closed = c.wait_closed(5)
    assert r is not None, srv.describe()
    # Headers went out with the first chunk: the status cannot change any
    # more, the body is cut short (no last chunk) and the connection closes.
    assert r.status == 200, r
    assert r.chunked, r
    assert not r.complete, r
    assert r.body.startswith(b'first-chunk;'), r
    assert b'should-never-be-sent' not in r.body
    assert closed, 'connection still open after a failed body'
    state = json.loads(srv.get('/state?key=exc_after').body)
    assert state == {'reraised': True, 'same': True, 'type': 'ValueError'}
    srv.wait_for_log(r'late-exc-marker', since=mark)


def test_write_callable(srv):
    r = srv.get('/write')
    assert r.status == 200 and r.body == b'part1-part2-part3', r


def test_write_callable_with_content_length(srv):
    r, _ = one(srv, '/write?cl=1')
    assert r.status == 200, r
    assert r.header('Content-Length') == '17'
    assert r.header('Transfer-Encoding') is None
    assert r.body == b'part1-part2-part3'


# -- framing ------------------------------------------------------------------

def test_app_content_length_is_honoured(srv):
    r, _ = one(srv, '/cl?n=5000')
    assert r.status == 200
    assert r.header('Content-Length') == '5000'
    assert r.header('Transfer-Encoding') is None
    assert r.body == (bytes(range(256)) * 20)[:5000]


def test_generator_without_length_is_chunked_on_http11(srv):
    r, _ = one(srv, '/gen?n=5&size=10')
    assert r.status == 200
    assert (r.header('Transfer-Encoding') or '').lower() == 'chunked', r
    assert r.header('Content-Length') is None
    assert r.complete
    assert r.body == b''.join((b'%d' % i) * 10 for i in range(5))


def test_generator_without_length_on_http10_ends_at_close(srv):
    with RawConn(srv.port) as c:
        c.send(b'GET /gen?n=4&size=3 HTTP/1.0\r\n\r\n')
        data = c.read_until_close(5)
        assert c.eof, 'HTTP/1.0 body without length: server must close'
    head, _, body = data.partition(b'\r\n\r\n')
    assert b'200' in head.split(b'\r\n')[0]
    assert b'transfer-encoding' not in head.lower(), head
    assert body == b'000111222333'


def test_generator_on_http10_keepalive_request_still_closes(srv):
    # No length and HTTP/1.0 cannot chunk: the only framing left is close.
    with RawConn(srv.port) as c:
        c.send(b'GET /gen?n=2&size=2 HTTP/1.0\r\n'
               b'Connection: keep-alive\r\n\r\n')
        data = c.read_until_close(5)
        assert c.eof
    head, _, body = data.partition(b'\r\n\r\n')
    assert b'transfer-encoding' not in head.lower()
    assert body == b'0011'


def test_head_sends_headers_but_no_body(srv):
    # HEAD pipelined with a GET on one connection: any body byte after the
    # HEAD response would corrupt the parse of the next response.
    with RawConn(srv.port) as c:
        c.send(b'HEAD /big?n=1234 HTTP/1.1\r\nHost: h\r\n\r\n'
               b'GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
        head = c.read_response('HEAD')
        get = c.read_response()
        rest = c.read_until_close(5)
    assert head.status == 200, head
    assert head.header('Content-Length') == '1234'
    assert get is not None and get.status == 200 and get.body == b'hello', \
        (get, rest)
    assert rest == b''


def test_head_of_generator_has_no_body(srv):
    with RawConn(srv.port) as c:
        c.send(b'HEAD /gen?n=3&size=5 HTTP/1.1\r\nHost: h\r\n\r\n'
               b'GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
        head = c.read_response('HEAD')
        get = c.read_response()
    assert head.status == 200
    assert get is not None and get.body == b'hello', get


def test_head_request_method_reaches_app(srv):
    r, rest = one(srv, '/method', method='HEAD')
    assert r.status == 200
    assert r.header('Content-Length') == '4'   # len(b'HEAD')
    assert rest == b''


@pytest.mark.parametrize('code', [204, 304])
def test_no_body_statuses(srv, code):
    with RawConn(srv.port) as c:
        c.send(b'GET /status?code=%d HTTP/1.1\r\nHost: h\r\n\r\n' % code +
               b'GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
        r = c.read_response()
        after = c.read_response()
    assert r.status == code, r
    assert r.header('X-Status-Test') == str(code)
    assert r.header('Transfer-Encoding') is None, r
    if code == 204:
        # RFC 9110 8.6: no Content-Length in a 204
        assert r.header('Content-Length') is None, r
    assert after is not None and after.body == b'hello', after


def test_multiple_set_cookie_headers_kept_apart(srv):
    r, _ = one(srv, '/cookies')
    assert r.header_all('Set-Cookie') == ['a=1; Path=/', 'b=2; HttpOnly',
                                          'c=3']
    lines = r.raw_head.split(b'\r\n')
    assert lines.count(b'Set-Cookie: a=1; Path=/') == 1, r.raw_head


def test_app_content_type_kept(srv):
    r, _ = one(srv, '/environ')
    assert r.header('Content-Type') == 'application/json'


# -- close() --------------------------------------------------------------

def test_close_called_after_normal_response(srv):
    r, _ = one(srv, '/track?id=normal1')
    assert r.body == b'one;two;three'
    rec = wait_closed_called(srv, 'normal1')
    assert rec['closed'] == 1 and rec['exhausted']


def test_close_called_when_iteration_raises(srv):
    mark = srv.mark()
    with RawConn(srv.port) as c:
        c.send(b'GET /track?id=raise1&mode=raise HTTP/1.1\r\nHost: h\r\n\r\n')
        r = c.read_response()
        closed = c.wait_closed(5)
    assert r.status == 200
    assert not r.complete, r
    assert r.body.startswith(b'good-chunk;') and b'never' not in r.body
    assert closed
    rec = wait_closed_called(srv, 'raise1')
    assert rec['closed'] == 1
    srv.wait_for_log(r'iteration-failure-marker', since=mark)
    srv.assert_healthy()


def test_close_called_when_client_disconnects_mid_body(srv):
    c = RawConn(srv.port)
    c.send(b'GET /track?id=gone1&mode=stream HTTP/1.1\r\nHost: h\r\n\r\n')
    got = c.read_until(b'ssssssss', timeout=5)
    assert got is not None and got.startswith(b'HTTP/1.1 200'), got
    # abortive close (RST) so the server's next write fails at once
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack('ii', 1, 0))
    c.close()
    rec = wait_closed_called(srv, 'gone1', timeout=5)
    assert rec['closed'] == 1
    assert not rec['exhausted'], 'server kept iterating after the client left'
    srv.assert_healthy()


def test_close_called_for_head(srv):
    r, _ = one(srv, '/track?id=head1&mode=head', method='HEAD')
    assert r.status == 200
    assert wait_closed_called(srv, 'head1')['closed'] == 1


def test_close_called_when_headers_are_bad(srv):
    r, _ = one(srv, '/bad-header?kind=crlf&track=badh1')
    assert r.status == 500
    assert wait_closed_called(srv, 'badh1')['closed'] == 1


def test_close_called_once_per_request_over_keepalive(srv):
    with RawConn(srv.port) as c:
        for i in range(3):
            c.send(b'GET /track?id=ka%d HTTP/1.1\r\nHost: h\r\n\r\n' % i)
            r = c.read_response()
            assert r.body == b'one;two;three'
    for i in range(3):
        assert wait_closed_called(srv, 'ka%d' % i)['closed'] == 1


# -- wsgi.file_wrapper ------------------------------------------------------

@pytest.fixture(scope='module')
def payload_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('files') / 'payload.bin'
    data = os.urandom(300000) + b'tail'
    path.write_bytes(data)
    return str(path), data


def test_file_wrapper_serves_file(srv, payload_file):
    path, data = payload_file
    r, _ = one(srv, '/file?id=fw1&path=' + path)
    assert r.status == 200, r
    assert r.header('Content-Length') == str(len(data))
    assert r.header('Transfer-Encoding') is None
    assert r.body == data
    assert wait_closed_called(srv, 'fw1')['closed'] == 1


def test_file_wrapper_without_content_length(srv, payload_file):
    path, data = payload_file
    r, _ = one(srv, '/file?cl=0&id=fw2&path=' + path)
    assert r.status == 200, r
    assert r.complete
    assert r.body == data
    cl = r.header('Content-Length')
    assert cl is None or cl == str(len(data))
    assert wait_closed_called(srv, 'fw2')['closed'] == 1


def test_file_wrapper_through_validator(srv, payload_file):
    path, data = payload_file
    r, _ = one(srv, '/file-validated?path=' + path)
    assert r.status == 200, r
    assert r.body == data


def test_file_wrapper_head(srv, payload_file):
    path, data = payload_file
    r, rest = one(srv, '/file?id=fw3&path=' + path, method='HEAD')
    assert r.status == 200
    assert r.header('Content-Length') == str(len(data))
    assert rest == b''
    assert wait_closed_called(srv, 'fw3')['closed'] == 1


# -- errors ---------------------------------------------------------------

def raise_line():
    with open(SUITE) as f:
        for i, line in enumerate(f, 1):
            if '# RAISE-LINE' in line:
                return i
    raise AssertionError('marker line missing in wsgi_suite.py')


@pytest.mark.parametrize('accept,ctype', [
    ('text/html,application/xhtml+xml,*/*;q=0.8', 'text/html'),
    ('application/json', 'text/plain'),
    (None, 'text/plain'),
])
def test_app_exception_gives_500_with_traceback(srv, accept, ctype):
    mark = srv.mark()
    headers = {'Accept': accept} if accept else {}
    r = srv.get('/raise', headers=headers)
    assert r.status == 500, r
    assert (r.header('Content-Type') or '').startswith(ctype), r.headers
    text = r.text()
    assert 'boom-marker from raise view' in text
    assert 'wsgi_suite.py' in text
    assert re.search(r'\b%d\b' % raise_line(), text), text[:3000]
    assert 'ValueError' in text
    if ctype == 'text/html':
        assert '<' in text and '</' in text
    # logged with the traceback, and the server keeps serving
    srv.wait_for_log(r'ValueError: boom-marker from raise view', since=mark)
    srv.assert_healthy()


@pytest.mark.parametrize('kind,name', [
    ('crlf', 'X-Bad'),
    ('lf', 'X-Bad-Lf'),
    ('space', 'Bad Name'),
    ('colon', 'Bad:Colon'),
])
def test_bad_header_from_app_is_500(srv, kind, name):
    mark = srv.mark()
    data = raw_request(srv.port, b'GET /bad-header?kind=%s HTTP/1.1\r\n'
                       b'Host: h\r\nConnection: close\r\n\r\n' % kind.encode())
    responses = parse_responses(data)
    assert len(responses) == 1, data
    r = responses[0]
    assert r.status == 500, r
    # no response splitting: the injected line must not become a header
    assert r.header('Injected') is None, r.headers
    assert b'\r\nInjected: yes' not in r.raw_head
    srv.wait_for_log(re.escape(name), since=mark)
    srv.assert_healthy()


def test_good_header_route_control(srv):
    # control for the test above: the same route with a fine header is 200
    r, _ = one(srv, '/bad-header?kind=none')
    assert r.status == 200 and r.header('X-Ok') == 'fine'


def test_unknown_route_is_app_404(srv):
    r = srv.get('/definitely/not/here')
    assert r.status == 404
    assert r.body == b'no route /definitely/not/here'
