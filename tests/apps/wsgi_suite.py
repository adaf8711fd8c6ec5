"""The WSGI test application the integration suite drives (one app, many
routes), so one hotserve process per test module serves every case.

Most routes are wrapped in wsgiref.validate.validator, which asserts the
PEP 3333 contract from the application side: a server that hands it a bad
environ, a bad wsgi.input or a bad start_response makes the request fail
with a 500 (the validator raises AssertionError inside the app). Routes that
deliberately step outside what the validator allows (read() without a size,
bad headers, custom iterables whose close() we observe) are registered
unvalidated and say why.

Side channel: iterables returned by /track record their fate in TRACK (same
process, so /tracked reads it back). Nothing here writes into the source
tree: the server watches it for reloads.
"""

import base64
import hashlib
import io
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator

TRACK = {}
TRACK_LOCK = threading.Lock()
STATE = {}

ROUTES = {}


def route(path, validate=True):
    def deco(fn):
        ROUTES[path] = validator(fn) if validate else fn
        return fn
    return deco


def query(environ):
    return {k: v[-1] for k, v in
            parse_qs(environ.get('QUERY_STRING', ''),
                     keep_blank_values=True).items()}


def send(start_response, body, status='200 OK', ctype='text/plain',
         extra=()):
    if isinstance(body, str):
        body = body.encode('utf-8')
    headers = [('Content-Type', ctype),
               ('Content-Length', str(len(body)))]
    headers.extend(extra)
    start_response(status, headers)
    return [body]


def send_json(start_response, obj, status='200 OK'):
    return send(start_response, json.dumps(obj), status,
                'application/json')


def read_all(stream, size=65536):
    parts = []
    while True:
        piece = stream.read(size)
        if not piece:
            return b''.join(parts)
        parts.append(piece)


@route('/hello')
def hello(environ, start_response):
    return send(start_response, 'hello')


@route('/environ')
def environ_view(environ, start_response):
    # The validator has already replaced wsgi.input/errors by wrappers, so
    # the router recorded the server's own objects in hs.test.raw.
    raw = environ['hs.test.raw']
    out = {'str': {}, 'types': {}}
    for key, value in raw.items():
        out['types'][key] = type(value).__name__
        if isinstance(value, str):
            out['str'][key] = value
    out['wsgi.version'] = list(raw['wsgi.version'])
    for key in ('wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once'):
        out[key] = raw[key]
    inp, err = raw['wsgi.input'], raw['wsgi.errors']
    out['input_api'] = sorted(a for a in ('read', 'readline', 'readlines',
                                          '__iter__') if hasattr(inp, a))
    out['errors_api'] = sorted(a for a in ('write', 'writelines', 'flush')
                               if hasattr(err, a))
    out['file_wrapper_callable'] = callable(raw.get('wsgi.file_wrapper'))
    out['body_b64'] = base64.b64encode(
        read_all(environ['wsgi.input'])).decode()
    return send_json(start_response, out)


@route('/errors')
def errors_view(environ, start_response):
    msg = query(environ).get('msg', 'errors-marker')
    err = environ['wsgi.errors']
    err.write('wsgi.errors write: %s\n' % msg)
    err.writelines(['wsgi.errors writelines: %s\n' % msg])
    err.flush()
    return send(start_response, 'logged')


# read() without a size and read(-1) are PEP 3333 requirements the
# validator does not allow (it insists on exactly one argument).
@route('/input', validate=False)
def input_view(environ, start_response):
    q = query(environ)
    inp = environ['wsgi.input']
    op = q.get('op', 'read')
    n = int(q.get('n', '3'))
    pieces = []
    if op == 'read':
        pieces.append(inp.read())
    elif op == 'read_neg':
        pieces.append(inp.read(-1))
    elif op == 'read_none':
        pieces.append(inp.read(None))
    elif op == 'read_n':
        while True:
            piece = inp.read(n)
            pieces.append(piece)
            if not piece:
                break
    elif op == 'read_zero':
        pieces.append(inp.read(0))
        pieces.append(inp.read())
    elif op == 'readline':
        while True:
            line = inp.readline()
            pieces.append(line)
            if not line:
                break
    elif op == 'readline_limit':
        while True:
            line = inp.readline(n)
            pieces.append(line)
            if not line:
                break
    elif op == 'readlines':
        pieces.extend(inp.readlines())
        pieces.append(inp.read(10))
    elif op == 'readlines_hint':
        pieces.extend(inp.readlines(n))
        pieces.append(b'|')
        pieces.append(inp.read())
    elif op == 'iter':
        pieces.extend(iter(inp))
    elif op == 'past_end':
        pieces.append(inp.read(1 << 20))
        pieces.append(inp.read(10))
        pieces.append(inp.readline())
    else:
        return send(start_response, 'bad op', '400 Bad Request')
    return send_json(start_response, {
        'pieces': [base64.b64encode(p).decode() for p in pieces],
        'types': [type(p).__name__ for p in pieces],
    })


@route('/upload-hash')
def upload_hash(environ, start_response):
    inp = environ['wsgi.input']
    h = hashlib.sha256()
    total = reads = 0
    biggest = 0
    while True:
        piece = inp.read(65536)
        if not piece:
            break
        reads += 1
        total += len(piece)
        biggest = max(biggest, len(piece))
        h.update(piece)
    return send_json(start_response, {
        'sha256': h.hexdigest(), 'length': total, 'reads': reads,
        'biggest_read': biggest,
        'content_length': environ.get('CONTENT_LENGTH'),
    })


@route('/exc-replace')
def exc_replace(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('X-First', 'yes')])
    try:
        raise KeyError('replaced-before-send')
    except KeyError:
        start_response('503 Service Unavailable',
                       [('Content-Type', 'text/plain'),
                        ('X-Replaced', 'yes')], sys.exc_info())
    return [b'replaced body']


@route('/exc-after-headers')
def exc_after_headers(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])

    def body():
        yield b'first-chunk;'
        try:
            raise ValueError('late-exc-marker')
        except ValueError as exc:
            try:
                start_response('500 Internal Server Error',
                               [('Content-Type', 'text/plain')],
                               sys.exc_info())
            except BaseException as raised:
                STATE['exc_after'] = {
                    'reraised': True,
                    'same': raised is exc,
                    'type': type(raised).__name__,
                }
                raise
            STATE['exc_after'] = {'reraised': False}
            yield b'should-never-be-sent'
    return body()


@route('/state')
def state_view(environ, start_response):
    return send_json(start_response, STATE.get(query(environ)['key']))


@route('/write')
def write_view(environ, start_response):
    q = query(environ)
    headers = [('Content-Type', 'text/plain')]
    if 'cl' in q:
        headers.append(('Content-Length', '17'))
    write = start_response('200 OK', headers)
    write(b'part1-')
    write(b'part2-')
    return [b'part3']


@route('/cl')
def cl_view(environ, start_response):
    n = int(query(environ).get('n', '1000'))
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', str(n))])
    chunk = bytes(range(256)) * 4
    out, left = [], n
    while left:
        piece = chunk[:min(left, len(chunk))]
        out.append(piece)
        left -= len(piece)
    return out


@route('/gen')
def gen_view(environ, start_response):
    q = query(environ)
    n, size = int(q.get('n', '5')), int(q.get('size', '10'))
    start_response('200 OK', [('Content-Type', 'text/plain')])

    def body():
        for i in range(n):
            yield (b'%d' % (i % 10)) * size
    return body()


@route('/status')
def status_view(environ, start_response):
    code = query(environ).get('code', '204')
    reason = {'204': 'No Content', '304': 'Not Modified'}[code]
    headers = [('X-Status-Test', code)]
    if code == '304':
        headers.append(('ETag', '"v1"'))
    start_response('%s %s' % (code, reason), headers)
    return []


@route('/cookies')
def cookies_view(environ, start_response):
    return send(start_response, 'cookies', extra=[
        ('Set-Cookie', 'a=1; Path=/'),
        ('Set-Cookie', 'b=2; HttpOnly'),
        ('Set-Cookie', 'c=3'),
    ])


@route('/slow')
def slow_view(environ, start_response):
    secs = float(query(environ).get('secs', '1'))
    err = environ['wsgi.errors']
    err.write('slow-view-start %s\n' % secs)
    err.flush()
    time.sleep(secs)
    return send(start_response, 'slept %s' % secs)


def _raise_view(environ, start_response):
    raise ValueError('boom-marker from raise view')  # RAISE-LINE


ROUTES['/raise'] = validator(_raise_view)


# Bad headers are exactly what the validator would reject first; the
# point is that the server rejects them.
@route('/bad-header', validate=False)
def bad_header(environ, start_response):
    q = query(environ)
    kind = q.get('kind', 'crlf')
    if kind == 'crlf':
        bad = ('X-Bad', 'ok\r\nInjected: yes')
    elif kind == 'lf':
        bad = ('X-Bad-Lf', 'ok\nInjected: yes')
    elif kind == 'space':
        bad = ('Bad Name', 'value')
    elif kind == 'colon':
        bad = ('Bad:Colon', 'value')
    else:
        bad = ('X-Ok', 'fine')
    start_response('200 OK', [('Content-Type', 'text/plain'), bad])
    if 'track' in q:
        return Tracked(q['track'], [b'bad-header-body'])
    return [b'bad-header-body']


class Tracked:
    """An iterable whose close() the server must call (PEP 3333)."""

    def __init__(self, key, chunks, fail_after=None, deadline=None):
        self.key = key
        self.chunks = chunks
        self.fail_after = fail_after
        self.deadline = deadline
        with TRACK_LOCK:
            TRACK[key] = {'closed': 0, 'yielded': 0, 'exhausted': False,
                          'bytes': 0}

    def __iter__(self):
        rec = TRACK[self.key]
        for chunk in self.chunks:
            if self.fail_after is not None and \
                    rec['yielded'] >= self.fail_after:
                raise RuntimeError('iteration-failure-marker')
            if self.deadline is not None and time.monotonic() > self.deadline:
                break
            rec['yielded'] += 1
            rec['bytes'] += len(chunk)
            yield chunk
        else:
            rec['exhausted'] = True

    def close(self):
        with TRACK_LOCK:
            TRACK[self.key]['closed'] += 1


def _stream_chunks(total, size=65536):
    block = b's' * size
    for _ in range(total // size):
        yield block


# Custom iterables (not generators): wrapping them in the validator would
# hide the object whose close() we observe behind the validator's own.
@route('/track', validate=False)
def track_view(environ, start_response):
    q = query(environ)
    key, mode = q['id'], q.get('mode', 'normal')
    headers = [('Content-Type', 'text/plain')]
    if mode == 'normal':
        it = Tracked(key, [b'one;', b'two;', b'three'])
    elif mode == 'raise':
        it = Tracked(key, [b'good-chunk;', b'never'], fail_after=1)
    elif mode == 'stream':
        # 512 MiB at most, 30 s at most: bounded even if the server never
        # notices that the client went away.
        it = Tracked(key, _stream_chunks(512 << 20),
                     deadline=time.monotonic() + 30)
    elif mode == 'head':
        body = b'x' * 100
        headers.append(('Content-Length', '100'))
        it = Tracked(key, [body])
    else:
        return send(start_response, 'bad mode', '400 Bad Request')
    start_response('200 OK', headers)
    return it


@route('/tracked')
def tracked_view(environ, start_response):
    key = query(environ)['id']
    with TRACK_LOCK:
        rec = dict(TRACK.get(key) or {'missing': True})
    return send_json(start_response, rec)


class TrackedFile(io.FileIO):
    key = None

    def close(self):
        if self.key is not None and not self.closed:
            with TRACK_LOCK:
                TRACK[self.key]['closed'] += 1
        super().close()


# Unvalidated so the server's own file_wrapper object (and its sendfile
# fast path) is what gets returned, not the validator's iterator wrapper.
@route('/file', validate=False)
def file_view(environ, start_response):
    q = query(environ)
    path = q['path']
    f = TrackedFile(path, 'rb')
    if 'id' in q:
        f.key = q['id']
        with TRACK_LOCK:
            TRACK[f.key] = {'closed': 0}
    headers = [('Content-Type', 'application/octet-stream')]
    if q.get('cl', '1') == '1':
        headers.append(('Content-Length', str(os.path.getsize(path))))
    start_response('200 OK', headers)
    return environ['wsgi.file_wrapper'](f, 8192)


@route('/file-validated')
def file_validated(environ, start_response):
    path = query(environ)['path']
    f = open(path, 'rb')
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length',
                               str(os.path.getsize(path)))])
    return environ['wsgi.file_wrapper'](f, 8192)


@route('/big')
def big_view(environ, start_response):
    n = int(query(environ).get('n', '1234'))
    return send(start_response, b'b' * n)


@route('/method')
def method_view(environ, start_response):
    return send(start_response, environ['REQUEST_METHOD'])


def not_found(environ, start_response):
    return send(start_response, 'no route %s' % environ.get('PATH_INFO'),
                '404 Not Found')


ROUTES['/not-found'] = validator(not_found)


def application(environ, start_response):
    environ['hs.test.raw'] = dict(environ)
    path = environ.get('PATH_INFO', '')
    handler = ROUTES.get(path)
    if handler is None and path.startswith('/environ/'):
        handler = ROUTES['/environ']
    if handler is None:
        handler = ROUTES['/not-found']
    return handler(environ, start_response)
