"""Small app for the command-line tests: default attribute, a factory,
a second attribute and something that is not callable."""

import os
import sys

NOT_CALLABLE = 42


def _text(body):
    def app(environ, start_response):
        data = body.encode()
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('Content-Length', str(len(data)))])
        return [data]
    return app


application = _text('cli-app-default')
other = _text('cli-app-other')


def create_app():
    return _text('cli-app-from-factory')


def info(environ, start_response):
    data = ('cwd=%s\nsys.path0=%s\n' % (os.getcwd(), sys.path[0])).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(data)))])
    return [data]
