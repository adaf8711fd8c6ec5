"""wsgi.input: every PEP 3333 read method, Content-Length and chunked
bodies, Expect: 100-continue, a 20 MiB upload read in 64 KiB pieces and
the --max-body-size limit (413)."""

import base64
import hashlib
import json
import random
import threading

import pytest

from harness import RawConn, scaled

BODY = b'line1\nline2\n\nline4 has no newline'
MAX_BODY = 21 * 1024 * 1024          # --max-body-size for this module
BIG = 20 * 1024 * 1024               # the 20 MiB upload


@pytest.fixture(scope='module')
def srv(module_server_factory):
    return module_server_factory('wsgi_suite', '--max-body-size',
                                 str(MAX_BODY))


def input_op(srv, op, body=BODY, n=None):
    path = '/input?op=%s' % op + ('' if n is None else '&n=%d' % n)
    r = srv.http('POST', path, body=body,
                 headers={'Content-Type': 'application/octet-stream'})
    assert r.status == 200, '%r\n%s' % (r, srv.describe())
    out = json.loads(r.body)
    assert all(t == 'bytes' for t in out['types']), out['types']
    return [base64.b64decode(p) for p in out['pieces']]


def test_read_without_size_returns_everything(srv):
    assert input_op(srv, 'read') == [BODY]


def test_read_minus_one_returns_everything(srv):
    assert input_op(srv, 'read_neg') == [BODY]


def test_read_none_returns_everything(srv):
    assert input_op(srv, 'read_none') == [BODY]


@pytest.mark.parametrize('n', [1, 3, 7, len(BODY), len(BODY) + 10])
def test_read_n_in_pieces(srv, n):
    pieces = input_op(srv, 'read_n', n=n)
    assert pieces[-1] == b''
    assert all(0 < len(p) <= n for p in pieces[:-1]), pieces
    assert b''.join(pieces) == BODY


def test_read_zero_then_rest(srv):
    assert input_op(srv, 'read_zero') == [b'', BODY]


def test_readline(srv):
    assert input_op(srv, 'readline') == [
        b'line1\n', b'line2\n', b'\n', b'line4 has no newline', b'']


def test_readline_with_limit(srv):
    pieces = input_op(srv, 'readline_limit', n=4)
    assert pieces == [b'line', b'1\n', b'line', b'2\n', b'\n', b'line',
                      b'4 ha', b's no', b' new', b'line', b'']


def test_readlines(srv):
    assert input_op(srv, 'readlines') == [
        b'line1\n', b'line2\n', b'\n', b'line4 has no newline', b'']


def test_readlines_hint_stops_early(srv):
    pieces = input_op(srv, 'readlines_hint', n=3)
    sep = pieces.index(b'|')
    lines, rest = pieces[:sep], pieces[sep + 1]
    # PEP 3333: the server may honour the hint (io semantics: stop once
    # the lines reach `hint` bytes) or ignore it and return every line.
    assert lines in ([b'line1\n'],
                     [b'line1\n', b'line2\n', b'\n', b'line4 has no newline'])
    assert b''.join(lines) + rest == BODY


def test_iteration_yields_lines(srv):
    assert input_op(srv, 'iter') == [
        b'line1\n', b'line2\n', b'\n', b'line4 has no newline']


def test_reading_past_the_end_is_eof(srv):
    assert input_op(srv, 'past_end') == [BODY, b'', b'']


def test_empty_body(srv):
    assert input_op(srv, 'read', body=b'') == [b'']
    assert input_op(srv, 'readline', body=b'') == [b'']


def test_binary_body_with_crlf_and_nul(srv):
    body = bytes(range(256)) * 3 + b'\r\n\r\n\x00end'
    assert input_op(srv, 'read', body=body) == [body]


def upload_hash(srv, data, chunked=False, chunk=1 << 20, expect=False):
    """POST data to /upload-hash on a raw socket; returns the JSON."""
    head = ['POST /upload-hash HTTP/1.1', 'Host: h',
            'Content-Type: application/octet-stream']
    if chunked:
        head.append('Transfer-Encoding: chunked')
    else:
        head.append('Content-Length: %d' % len(data))
    if expect:
        head.append('Expect: 100-continue')
    head = ('\r\n'.join(head) + '\r\n\r\n').encode()
    with RawConn(srv.port, timeout=30) as c:
        c.send(head)
        if expect:
            interim = c.read_response(interim=True, timeout=5)
            assert interim is not None and interim.status == 100, interim
        if chunked:
            for i in range(0, len(data), chunk):
                piece = data[i:i + chunk]
                c.send(b'%x\r\n' % len(piece) + piece + b'\r\n')
            c.send(b'0\r\n\r\n')
        else:
            c.send(data)
        r = c.read_response(timeout=30)
    assert r is not None and r.status == 200, '%r\n%s' % (r, srv.describe())
    return json.loads(r.body)


def test_chunked_request_body(srv):
    data = b'chunk-one|' + b'x' * 5000 + b'|chunk-three'
    out = upload_hash(srv, data, chunked=True, chunk=7)
    assert out['length'] == len(data)
    assert out['sha256'] == hashlib.sha256(data).hexdigest()
    # PEP 3333: CONTENT_LENGTH absent/empty, or the real (de-chunked) size
    assert out['content_length'] in (None, '', str(len(data)))


def test_chunked_body_with_extensions_and_trailer(srv):
    raw = (b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
           b'Transfer-Encoding: chunked\r\n\r\n'
           b'5;name=value\r\nhello\r\n'
           b'1;x\r\n \r\n'
           b'5\r\nworld\r\n'
           b'0\r\nX-Trailer: t\r\n\r\n')
    with RawConn(srv.port) as c:
        c.send(raw)
        r = c.read_response()
    assert r is not None and r.status == 200, r
    out = json.loads(r.body)
    assert out['sha256'] == hashlib.sha256(b'hello world').hexdigest()


def test_expect_100_continue(srv):
    """The client sees `HTTP/1.1 100 Continue` before it sends the body."""
    data = b'sent-after-100-continue'
    head = ('POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
            'Content-Length: %d\r\nExpect: 100-continue\r\n\r\n'
            % len(data)).encode()
    with RawConn(srv.port) as c:
        c.send(head)
        status_line = c.read_until(b'\r\n\r\n', timeout=5)
        assert status_line is not None, 'closed before 100 Continue'
        assert status_line.startswith(b'HTTP/1.1 100'), status_line
        c.send(data)
        r = c.read_response()
    assert r is not None and r.status == 200, r
    out = json.loads(r.body)
    assert out['sha256'] == hashlib.sha256(data).hexdigest()
    assert out['length'] == len(data)


def test_expect_100_continue_chunked(srv):
    data = bytes(random.Random(3).getrandbits(8) for _ in range(100000))
    out = upload_hash(srv, data, chunked=True, chunk=30000, expect=True)
    assert out['sha256'] == hashlib.sha256(data).hexdigest()


def big_payload():
    rnd = random.Random(20)
    block = rnd.randbytes(1 << 20)
    # 20 distinct MiB-sized blocks (rotations), so a misplaced block shows
    return b''.join(block[i * 4099:] + block[:i * 4099] for i in range(20))


def test_20mib_upload_read_in_64k_pieces(srv):
    data = big_payload()
    assert len(data) == BIG
    r = srv.http('POST', '/upload-hash', body=data, timeout=60,
                 headers={'Content-Type': 'application/octet-stream'})
    assert r.status == 200, '%r\n%s' % (r, srv.describe())
    out = json.loads(r.body)
    assert out['length'] == BIG
    assert out['sha256'] == hashlib.sha256(data).hexdigest()
    assert out['content_length'] == str(BIG)
    assert out['biggest_read'] <= 65536
    assert out['reads'] >= BIG // 65536


def test_20mib_chunked_upload(srv):
    data = big_payload()
    out = upload_hash(srv, data, chunked=True, chunk=(1 << 20) - 3)
    assert out['length'] == BIG
    assert out['sha256'] == hashlib.sha256(data).hexdigest()


def send_in_background(conn, data):
    """Send data from a thread (the server may answer, and close, before
    it has read everything); errors from a closed socket are expected."""
    def run():
        conn.try_send(data)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_body_over_max_body_size_is_413(srv):
    n = MAX_BODY + 1
    head = ('POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
            'Content-Length: %d\r\n\r\n' % n).encode()
    with RawConn(srv.port, timeout=30) as c:
        c.send(head)
        t = send_in_background(c, b'z' * n)
        r = c.read_response(timeout=30)
        t.join(scaled(30))
    assert r is not None, 'closed without a response\n' + srv.describe()
    assert r.status == 413, r
    srv.assert_healthy()


def test_body_over_max_body_size_expect_gets_413_not_100(srv):
    head = ('POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
            'Content-Length: %d\r\nExpect: 100-continue\r\n\r\n'
            % (MAX_BODY + 1)).encode()
    with RawConn(srv.port) as c:
        c.send(head)
        r = c.read_response(interim=True, timeout=5)
    assert r is not None, 'closed without a response\n' + srv.describe()
    assert r.status == 413, r
    srv.assert_healthy()


def test_chunked_body_over_max_body_size_is_413(srv):
    head = (b'POST /upload-hash HTTP/1.1\r\nHost: h\r\n'
            b'Transfer-Encoding: chunked\r\n\r\n')
    piece = b'q' * (1 << 20)
    chunks = b''.join(b'%x\r\n' % len(piece) + piece + b'\r\n'
                      for _ in range(MAX_BODY // len(piece) + 2))
    with RawConn(srv.port, timeout=30) as c:
        c.send(head)
        t = send_in_background(c, chunks + b'0\r\n\r\n')
        r = c.read_response(timeout=30)
        t.join(scaled(30))
    assert r is not None, 'closed without a response\n' + srv.describe()
    assert r.status == 413, r
    srv.assert_healthy()


def test_body_at_exactly_max_body_size_is_accepted(srv):
    data = b'm' * MAX_BODY
    r = srv.http('POST', '/upload-hash', body=data, timeout=60)
    assert r.status == 200, r
    assert json.loads(r.body)['length'] == MAX_BODY
