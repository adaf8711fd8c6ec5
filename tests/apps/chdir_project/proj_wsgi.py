"""Served with --chdir tests/apps/chdir_project from another directory."""

import os


def application(environ, start_response):
    data = ('chdir-project cwd=%s' % os.getcwd()).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(data)))])
    return [data]
