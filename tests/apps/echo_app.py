"""Echo app for the request-parsing conformance test: every path answers
200 with a JSON description of what the server made of the request.

{method, raw_uri, request_uri, version, path_info, query_string,
 url_scheme, headers (HTTP_* and CONTENT_* environ entries), body_b64}

The body is read with read(size) until it returns b'' so the echo does not
depend on read() without a size.
"""

import base64
import json


def application(environ, start_response):
    inp = environ['wsgi.input']
    parts = []
    while True:
        piece = inp.read(65536)
        if not piece:
            break
        parts.append(piece)
    headers = {k: v for k, v in environ.items()
               if k.startswith('HTTP_') or k in ('CONTENT_TYPE',
                                                 'CONTENT_LENGTH')}
    out = {
        'method': environ.get('REQUEST_METHOD'),
        'raw_uri': environ.get('RAW_URI'),
        'request_uri': environ.get('REQUEST_URI'),
        'version': environ.get('SERVER_PROTOCOL'),
        'path_info': environ.get('PATH_INFO'),
        'query_string': environ.get('QUERY_STRING'),
        'script_name': environ.get('SCRIPT_NAME'),
        'url_scheme': environ.get('wsgi.url_scheme'),
        'headers': headers,
        'body_b64': base64.b64encode(b''.join(parts)).decode('ascii'),
    }
    body = json.dumps(out).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body))),
                              ('X-Echo', '1')])
    return [body]
