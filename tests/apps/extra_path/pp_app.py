"""Served with --pythonpath tests/apps/extra_path --pythonpath
tests/apps/extra_path2: the second directory provides pp_helper."""

import pp_helper


def application(environ, start_response):
    data = ('pythonpath-app %s' % pp_helper.VALUE).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(data)))])
    return [data]
