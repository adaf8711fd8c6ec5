"""Served as `pkg.sub.wsgi` (default attribute) by the CLI tests."""


def application(environ, start_response):
    data = ('pkg-sub-wsgi %s' % __name__).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(data)))])
    return [data]
