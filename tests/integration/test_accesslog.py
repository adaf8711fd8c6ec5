"""The runserver-style access log on stderr, one line per request:
[22/Nov/2026 10:00:00] "GET /path?q HTTP/1.1" 200 1234 3.1ms
(raw target as sent, body size in bytes, duration), and --no-access-log,
-q/--quiet and HOTSERVE_NO_ACCESS_LOG that turn it off."""

import re

import pytest

from harness import RawConn, Server, free_port

STAMP = r'\[\d\d/[A-Z][a-z]{2}/\d{4} \d\d:\d\d:\d\d\]'


def line_re(request_line, status, size=r'\d+'):
    return r'^%s "%s" %d %s [\d.]+ms$' % (STAMP, re.escape(request_line),
                                          status, size)


@pytest.fixture(scope='module')
def srv(module_server_factory):
    return module_server_factory('wsgi_suite')


def test_get_with_query(srv):
    mark = srv.mark()
    assert srv.get('/hello?y=1').status == 200
    srv.wait_for_log(line_re('GET /hello?y=1 HTTP/1.1', 200, '5'),
                     since=mark)


def test_raw_target_is_logged_as_sent(srv):
    mark = srv.mark()
    with RawConn(srv.port) as c:
        c.send(b'GET /environ/a%20b?x=%26&q=1+2 HTTP/1.1\r\nHost: h\r\n'
               b'Connection: close\r\n\r\n')
        assert c.read_response().status == 200
    srv.wait_for_log(line_re('GET /environ/a%20b?x=%26&q=1+2 HTTP/1.1', 200),
                     since=mark)


def test_size_is_body_bytes(srv):
    mark = srv.mark()
    assert srv.get('/big?n=4321').status == 200
    srv.wait_for_log(line_re('GET /big?n=4321 HTTP/1.1', 200, '4321'),
                     since=mark)


def test_chunked_response_size(srv):
    mark = srv.mark()
    r = srv.get('/gen?n=3&size=7')
    assert r.body == b'0000000' b'1111111' b'2222222'
    srv.wait_for_log(line_re('GET /gen?n=3&size=7 HTTP/1.1', 200, '21'),
                     since=mark)


def test_http10_and_post_and_404(srv):
    mark = srv.mark()
    with RawConn(srv.port) as c:
        c.send(b'GET /hello HTTP/1.0\r\n\r\n')
        assert c.read_response().status == 200
    assert srv.http('POST', '/upload-hash', body=b'abc').status == 200
    assert srv.get('/no/such/route').status == 404
    srv.wait_for_log(line_re('GET /hello HTTP/1.0', 200, '5'), since=mark)
    srv.wait_for_log(line_re('POST /upload-hash HTTP/1.1', 200), since=mark)
    srv.wait_for_log(line_re('GET /no/such/route HTTP/1.1', 404), since=mark)


def test_head_logs_zero_or_length(srv):
    mark = srv.mark()
    with RawConn(srv.port) as c:
        c.send(b'HEAD /big?n=99 HTTP/1.1\r\nHost: h\r\n'
               b'Connection: close\r\n\r\n')
        assert c.read_response('HEAD').status == 200
    srv.wait_for_log(line_re('HEAD /big?n=99 HTTP/1.1', 200, '(0|99|-)'),
                     since=mark)


def test_app_error_logged_with_500(srv):
    mark = srv.mark()
    assert srv.get('/raise').status == 500
    srv.wait_for_log(line_re('GET /raise HTTP/1.1', 500), since=mark)


def test_one_line_per_request(srv):
    mark = srv.mark()
    with RawConn(srv.port) as c:
        for i in range(5):
            c.send(b'GET /hello?n=%d HTTP/1.1\r\nHost: h\r\n\r\n' % i)
            assert c.read_response().status == 200
    srv.wait_for_log(line_re('GET /hello?n=4 HTTP/1.1', 200, '5'),
                     since=mark)
    log = srv.stderr()[mark:]
    for i in range(5):
        pat = line_re('GET /hello?n=%d HTTP/1.1' % i, 200, '5')
        assert len(re.findall(pat, log, re.M)) == 1, (i, log)


def requests_then_sync(srv):
    """Two requests on one keep-alive connection (served in order by one
    thread): /hello, then /errors writing a marker. Once the marker is in
    stderr, /hello's access line would have been written already."""
    mark = srv.mark()
    with RawConn(srv.port) as c:
        c.send(b'GET /hello?quiet-check=1 HTTP/1.1\r\nHost: h\r\n\r\n')
        assert c.read_response().status == 200
        c.send(b'GET /errors?msg=sync-7c1 HTTP/1.1\r\nHost: h\r\n\r\n')
        assert c.read_response().status == 200
    srv.wait_for_log(r'sync-7c1', since=mark)
    return srv.stderr()[mark:]


@pytest.mark.parametrize('args,env', [
    (('--no-access-log',), None),
    ((), {'HOTSERVE_NO_ACCESS_LOG': '1'}),
    ((), {'HOTSERVE_NO_ACCESS_LOG': 'yes'}),
], ids=['option', 'env-1', 'env-yes'])
def test_access_log_off(server_factory, args, env):
    srv = server_factory('wsgi_suite', *args, env=env)
    log = requests_then_sync(srv)
    assert 'quiet-check' not in log, log
    assert 'Starting development server' in srv.stdout()


def test_access_log_env_false_keeps_it(server_factory):
    srv = server_factory('wsgi_suite', env={'HOTSERVE_NO_ACCESS_LOG': '0'})
    log = requests_then_sync(srv)
    assert re.search(line_re('GET /hello?quiet-check=1 HTTP/1.1', 200, '5'),
                     log, re.M), log


@pytest.mark.parametrize('flag', ['-q', '--quiet'])
def test_quiet_has_no_banner_and_no_access_log(tmp_path, flag):
    port = free_port()
    srv = Server(str(tmp_path))
    try:
        srv.start('wsgi_suite', flag, bind='127.0.0.1:%d' % port, wait=False)
        srv.wait_listening(port)
        log = requests_then_sync(srv)
        assert 'quiet-check' not in log
        assert 'Starting development server' not in srv.stdout()
        assert srv.stop() == 0, srv.describe()
    finally:
        srv.kill()
