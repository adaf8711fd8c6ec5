"""A tiny WSGI app to try hotserve before the Django example lands.

Run:  build/hotserve --chdir examples/hello app:application
Then edit GREETING below and reload the page.
"""
import html
import time

import helpers

GREETING = "Hello from hotserve"


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/boom":
        raise RuntimeError("this view raises on purpose")
    body = helpers.page(
        GREETING,
        "You asked for <code>%s</code> at %s." % (
            html.escape(path), time.strftime("%H:%M:%S")),
    ).encode("utf-8")
    start_response("200 OK", [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]
