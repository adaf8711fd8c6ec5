"""Hello-world WSGI app served by every Python server in bench/throughput.

The body, status and headers match bench/mhd_hello.c byte for byte so the
servers are compared on the same work.
"""

BODY = b"Hello, World!\n"
CONTENT_LENGTH = str(len(BODY))


def application(environ, start_response):
    # A fresh list per call: PEP 3333 lets the server modify it.
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", CONTENT_LENGTH)])
    return [BODY]
