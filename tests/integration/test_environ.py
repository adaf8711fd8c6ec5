"""PEP 3333 environ built by hotserve, observed by tests/apps/wsgi_suite.py
(/environ, wrapped in wsgiref.validate.validator: a contract violation the
validator catches turns into a 500 and fails these tests)."""

import base64
import json

import pytest

from harness import RawConn


def environ_of(srv, target, headers=(), method='GET', body=None,
               version='HTTP/1.1', host=True):
    """Send one request with exactly these header lines (duplicates and odd
    names kept) and return (environ-report, client local port)."""
    lines = ['%s %s %s' % (method, target, version)]
    if host:
        lines.append('Host: 127.0.0.1:%d' % srv.port)
    lines.extend('%s: %s' % hv for hv in headers)
    if body is not None:
        lines.append('Content-Length: %d' % len(body))
    lines.append('Connection: close')
    data = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + (body or b'')
    with RawConn(srv.port) as c:
        port = c.local_port
        c.send(data)
        r = c.read_response()
    assert r is not None, 'connection closed without a response\n' + \
        srv.describe()
    assert r.status == 200, '%r\n%s' % (r, srv.describe())
    return json.loads(r.body), port


def test_required_keys_and_types(suite_server):
    env, client_port = environ_of(suite_server, '/environ?x=1',
                                  [('X-Custom-Header', 'v1')])
    s, types = env['str'], env['types']
    for key in ('REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'SERVER_NAME',
                'SERVER_PORT', 'SERVER_PROTOCOL', 'REMOTE_ADDR',
                'REMOTE_PORT', 'QUERY_STRING', 'RAW_URI', 'REQUEST_URI',
                'HTTP_HOST', 'HTTP_X_CUSTOM_HEADER', 'wsgi.url_scheme'):
        assert types.get(key) == 'str', (key, types.get(key))
    assert s['REQUEST_METHOD'] == 'GET'
    assert s['SCRIPT_NAME'] == ''
    assert s['PATH_INFO'] == '/environ'
    assert s['QUERY_STRING'] == 'x=1'
    assert s['SERVER_PORT'] == str(suite_server.port)
    assert s['SERVER_NAME'] != ''
    assert s['SERVER_PROTOCOL'] == 'HTTP/1.1'
    assert s['REMOTE_ADDR'] == '127.0.0.1'
    assert s['REMOTE_PORT'] == str(client_port)
    assert s['HTTP_HOST'] == '127.0.0.1:%d' % suite_server.port
    assert s['HTTP_X_CUSTOM_HEADER'] == 'v1'
    assert s['RAW_URI'] == '/environ?x=1'
    assert s['REQUEST_URI'] == '/environ?x=1'
    assert s['wsgi.url_scheme'] == 'http'
    assert env['wsgi.version'] == [1, 0]
    assert types['wsgi.version'] == 'tuple'
    assert env['wsgi.multithread'] is True
    assert env['wsgi.multiprocess'] is False
    assert env['wsgi.run_once'] is False
    assert env['input_api'] == ['__iter__', 'read', 'readline', 'readlines']
    assert env['errors_api'] == ['flush', 'write', 'writelines']
    assert env['file_wrapper_callable'] is True
    # No HTTP_ copies of the body headers, and a GET without a body has no
    # (or an empty) CONTENT_LENGTH / CONTENT_TYPE (PEP 3333).
    assert 'HTTP_CONTENT_LENGTH' not in types
    assert 'HTTP_CONTENT_TYPE' not in types
    assert s.get('CONTENT_LENGTH', '') == ''
    assert s.get('CONTENT_TYPE', '') == ''
    # Every CGI-style key (no dot) must be a native str.
    for key, tname in types.items():
        if '.' not in key:
            assert tname == 'str', (key, tname)


@pytest.mark.parametrize('target,path', [
    ('/environ/a%20b', '/environ/a b'),
    ('/environ/x%2Fy', '/environ/x/y'),
    ('/environ/x%2fy', '/environ/x/y'),
    ('/environ/n%00ul', '/environ/n\x00ul'),
    ('/environ/caf%C3%A9', '/environ/caf\xc3\xa9'),
    ('/environ/%7Euser/%41', '/environ/~user/A'),
    ('/environ/plus+sign', '/environ/plus+sign'),
    ('/environ/bad%zz%4', '/environ/bad%zz%4'),
    ('/environ//double//slash', '/environ//double//slash'),
], ids=['space', 'slash', 'slash-lower', 'nul', 'utf8-as-latin1', 'tilde',
        'plus', 'bad-escape', 'double-slash'])
def test_path_info_percent_decoded_latin1(suite_server, target, path):
    env, _ = environ_of(suite_server, target + '?k=v%20w')
    assert env['str']['PATH_INFO'] == path
    assert env['str']['RAW_URI'] == target + '?k=v%20w'
    assert env['str']['REQUEST_URI'] == target + '?k=v%20w'
    assert env['str']['QUERY_STRING'] == 'k=v%20w'


@pytest.mark.parametrize('target,query', [
    ('/environ?q=1+2&x=%26', 'q=1+2&x=%26'),
    ('/environ?a=%20&b&c=%00', 'a=%20&b&c=%00'),
    ('/environ?', ''),
    ('/environ?x=/a?b', 'x=/a?b'),
])
def test_query_string_raw(suite_server, target, query):
    env, _ = environ_of(suite_server, target)
    assert env['str']['QUERY_STRING'] == query
    assert env['str']['PATH_INFO'] == '/environ'
    assert env['str']['RAW_URI'] == target


def test_query_string_absent_is_empty(suite_server):
    env, _ = environ_of(suite_server, '/environ')
    assert env['str'].get('QUERY_STRING', '') == ''


def test_content_headers_unprefixed(suite_server):
    env, _ = environ_of(suite_server, '/environ', method='POST',
                        headers=[('Content-Type', 'application/x-test')],
                        body=b'hello')
    s = env['str']
    assert s['CONTENT_TYPE'] == 'application/x-test'
    assert s['CONTENT_LENGTH'] == '5'
    assert 'HTTP_CONTENT_TYPE' not in env['types']
    assert 'HTTP_CONTENT_LENGTH' not in env['types']
    assert base64.b64decode(env['body_b64']) == b'hello'
    assert s['REQUEST_METHOD'] == 'POST'


def test_duplicate_headers_joined(suite_server):
    env, _ = environ_of(suite_server, '/environ', headers=[
        ('X-Dup', 'one'), ('Accept', 'text/plain'), ('x-dup', 'two'),
        ('X-DUP', 'three'), ('Cookie', 'a=1'), ('Cookie', 'b=2'),
    ])
    s = env['str']
    assert s['HTTP_X_DUP'] == 'one, two, three'
    assert s['HTTP_COOKIE'] == 'a=1; b=2'
    assert s['HTTP_ACCEPT'] == 'text/plain'


def test_single_cookie_header_untouched(suite_server):
    env, _ = environ_of(suite_server, '/environ',
                        headers=[('Cookie', 'a=1; b=2; c="x y"')])
    assert env['str']['HTTP_COOKIE'] == 'a=1; b=2; c="x y"'


def test_underscore_headers_dropped(suite_server):
    # A header spelled with '_' would otherwise alias the '-' spelling
    # (X-Under and X_Under both map to HTTP_X_UNDER): drop it.
    env, _ = environ_of(suite_server, '/environ', headers=[
        ('X_Under', 'evil-before'), ('X-Under', 'good'),
        ('X_Under', 'evil-after'), ('Only_Underscore', 'dropped'),
        ('Content_Length', '999'),
    ])
    s = env['str']
    assert s['HTTP_X_UNDER'] == 'good'
    assert not any('ONLY' in k for k in env['types'])
    assert s.get('CONTENT_LENGTH', '') == ''
    assert 'HTTP_CONTENT_LENGTH' not in env['types']


def test_header_names_mapped(suite_server):
    env, _ = environ_of(suite_server, '/environ', headers=[
        ('user-agent', 'ua/1'), ('X-Multi-Part-Name', 'v'),
        ('ACCEPT-LANGUAGE', 'en'),
    ])
    s = env['str']
    assert s['HTTP_USER_AGENT'] == 'ua/1'
    assert s['HTTP_X_MULTI_PART_NAME'] == 'v'
    assert s['HTTP_ACCEPT_LANGUAGE'] == 'en'


def test_header_values_trimmed_and_latin1(suite_server):
    lines = (b'GET /environ HTTP/1.1\r\nHost: h\r\n'
             b'X-Spaces: \t  a  b \t \r\n'
             b'X-Latin: caf\xc3\xa9\r\n'
             b'X-Empty:\r\n'
             b'Connection: close\r\n\r\n')
    with RawConn(suite_server.port) as c:
        c.send(lines)
        r = c.read_response()
    assert r is not None and r.status == 200, r
    s = json.loads(r.body)['str']
    assert s['HTTP_X_SPACES'] == 'a  b'
    assert s['HTTP_X_LATIN'] == 'caf\xc3\xa9'
    assert s.get('HTTP_X_EMPTY') == ''


def test_server_protocol_http10(suite_server):
    env, _ = environ_of(suite_server, '/environ', version='HTTP/1.0')
    assert env['str']['SERVER_PROTOCOL'] == 'HTTP/1.0'


def test_absolute_form_target(suite_server):
    target = 'http://example.test:8080/environ/abs%20x?q=1'
    env, _ = environ_of(suite_server, target)
    s = env['str']
    assert s['PATH_INFO'] == '/environ/abs x'
    assert s['QUERY_STRING'] == 'q=1'
    assert s['RAW_URI'] == target


def test_wsgi_errors_lands_in_stderr(suite_server):
    mark = suite_server.mark()
    r = suite_server.get('/errors?msg=errors-probe-7f3a')
    assert r.status == 200 and r.body == b'logged', r
    suite_server.wait_for_log(r'wsgi\.errors write: errors-probe-7f3a',
                              since=mark)
    suite_server.wait_for_log(r'wsgi\.errors writelines: errors-probe-7f3a',
                              since=mark)


def test_each_request_gets_a_fresh_environ(suite_server):
    # Keep-alive: the second request must not see the first one's headers.
    with RawConn(suite_server.port) as c:
        c.send(b'GET /environ HTTP/1.1\r\nHost: h\r\nX-Only-First: 1\r\n\r\n')
        first = c.read_response()
        c.send(b'GET /environ/2 HTTP/1.1\r\nHost: h\r\n'
               b'Connection: close\r\n\r\n')
        second = c.read_response()
    assert first.status == 200 and second.status == 200
    assert json.loads(first.body)['str']['HTTP_X_ONLY_FIRST'] == '1'
    s2 = json.loads(second.body)['str']
    assert 'HTTP_X_ONLY_FIRST' not in s2
    assert s2['PATH_INFO'] == '/environ/2'
