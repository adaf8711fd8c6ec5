"""Reports whether the virtualenv's package is importable and which
interpreter prefix the embedded Python uses."""

import json
import sys


def application(environ, start_response):
    try:
        import hs_venv_probe
        probe = hs_venv_probe.VALUE
        probe_file = hs_venv_probe.__file__
    except ImportError as exc:
        probe, probe_file = None, repr(exc)
    data = json.dumps({
        'probe': probe, 'probe_file': probe_file, 'prefix': sys.prefix,
        'base_prefix': sys.base_prefix, 'executable': sys.executable,
        'path': sys.path,
    }).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(data)))])
    return [data]
