"""Persistent connections: HTTP/1.1 by default, HTTP/1.0 with
`Connection: keep-alive`, pipelining, and `Connection: close`."""

import http.client
import json

import pytest

from harness import RawConn, scaled


@pytest.fixture(scope='module')
def srv(module_server_factory):
    return module_server_factory('wsgi_suite')


def remote_port(body):
    return json.loads(body)['str']['REMOTE_PORT']


def test_200_requests_on_one_http11_connection(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port,
                                      timeout=scaled(10))
    try:
        conn.connect()
        sock = conn.sock
        local = str(sock.getsockname()[1])
        for i in range(200):
            path = '/environ?i=%d' % i
            conn.request('GET', path)
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (i, r.status, body[:300])
            env = json.loads(body)['str']
            # http.client silently reconnects when the server closed the
            # connection: the client port proves it did not.
            assert env['REMOTE_PORT'] == local, (i, env['REMOTE_PORT'])
            assert env['QUERY_STRING'] == 'i=%d' % i
            assert conn.sock is sock, 'connection was reopened at %d' % i
            assert (r.getheader('Connection') or '').lower() != 'close'
    finally:
        conn.close()


def test_keepalive_with_post_bodies(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port,
                                      timeout=scaled(10))
    try:
        conn.connect()
        sock = conn.sock
        for i in range(20):
            body = b'payload-%d-' % i * (i + 1)
            conn.request('POST', '/upload-hash', body=body)
            r = conn.getresponse()
            out = json.loads(r.read())
            assert out['length'] == len(body)
            assert conn.sock is sock
    finally:
        conn.close()


def test_unread_request_body_does_not_break_the_next_request(srv):
    # /hello ignores the body; the server must still consume it so the next
    # request on the connection parses correctly.
    with RawConn(srv.port) as c:
        c.send(b'POST /hello HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n'
               b'\r\nGET /bogus '
               b'GET /environ HTTP/1.1\r\nHost: h\r\n\r\n')
        first = c.read_response()
        second = c.read_response()
    assert first.status == 200 and first.body == b'hello'
    assert second is not None and second.status == 200, second
    assert json.loads(second.body)['str']['PATH_INFO'] == '/environ'


def test_http10_keepalive_keeps_the_connection(srv):
    with RawConn(srv.port) as c:
        c.send(b'GET /environ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
        r1 = c.read_response()
        assert r1.status == 200
        assert r1.header('Content-Length') is not None
        assert (r1.header('Connection') or '').lower() == 'keep-alive', r1
        c.send(b'GET /environ/second HTTP/1.0\r\n'
               b'Connection: keep-alive\r\n\r\n')
        r2 = c.read_response()
        assert r2 is not None and r2.status == 200, r2
        assert remote_port(r1.body) == remote_port(r2.body) == \
            str(c.local_port)
        assert json.loads(r2.body)['str']['PATH_INFO'] == '/environ/second'


def test_http10_without_keepalive_closes(srv):
    with RawConn(srv.port) as c:
        c.send(b'GET /hello HTTP/1.0\r\n\r\n')
        r = c.read_response()
        assert r.status == 200 and r.body == b'hello'
        assert c.wait_closed(5), 'HTTP/1.0 connection left open'


def test_http11_connection_close_closes(srv):
    with RawConn(srv.port) as c:
        c.send(b'GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
        r = c.read_response()
        assert r.status == 200 and r.body == b'hello'
        assert (r.header('Connection') or '').lower() == 'close'
        assert c.wait_closed(5), 'Connection: close ignored'


def test_pipelined_requests_answered_in_order(srv):
    reqs = b''.join(b'GET /environ/p%d HTTP/1.1\r\nHost: h\r\n\r\n' % i
                    for i in range(10))
    with RawConn(srv.port) as c:
        c.send(reqs)
        paths = []
        for _ in range(10):
            r = c.read_response()
            assert r is not None and r.status == 200, r
            paths.append(json.loads(r.body)['str']['PATH_INFO'])
    assert paths == ['/environ/p%d' % i for i in range(10)]


def test_chunked_response_then_next_request(srv):
    with RawConn(srv.port) as c:
        for i in range(5):
            c.send(b'GET /gen?n=3&size=%d HTTP/1.1\r\nHost: h\r\n\r\n'
                   % (i + 1))
            r = c.read_response()
            assert r.chunked and r.complete, r
            assert r.body == b''.join((b'%d' % k) * (i + 1)
                                      for k in range(3))
