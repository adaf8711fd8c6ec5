"""An app whose import fails in the user's own code (not a usage error):
the server must keep running and answer with the error page."""


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'never']


raise RuntimeError('broken-app-marker raised at import')  # BROKEN-LINE
