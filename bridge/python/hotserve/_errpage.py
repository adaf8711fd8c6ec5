"""The 500 page hotserve shows when the app or a reload fails.

It names the file and line first (what a developer needs to jump to the
mistake), then the full traceback. Rendered as HTML for browsers and as
plain text for curl, httpie and test clients.
"""
import html
import os
import traceback


def _location(exc):
    """(file, line) of the user's mistake: a SyntaxError's own position,
    otherwise the innermost frame of the traceback."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return exc.filename, exc.lineno
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return None, None
    return last.tb_frame.f_code.co_filename, last.tb_lineno


def _rel(path):
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def summary(exc, context=None):
    """One line: 'SyntaxError: invalid syntax at app/views.py:3'."""
    filename, lineno = _location(exc)
    msg = "".join(traceback.format_exception_only(type(exc), exc))
    msg = msg.strip().splitlines()[-1] if msg.strip() else type(exc).__name__
    where = ""
    if filename:
        where = " at %s:%s" % (_rel(filename), lineno)
    line = msg + where
    if context:
        line += " (" + context + ")"
    return line


def render(exc, context=None, want_html=False):
    """Return (body bytes, content type)."""
    title = summary(exc, context)
    tb = "".join(traceback.format_exception(type(exc), exc,
                                            exc.__traceback__))
    if not want_html:
        text = "500 Internal Server Error\n\n%s\n\n%s" % (title, tb)
        if context:
            text += "\nhotserve: %s\n" % context
        return text.encode("utf-8", "replace"), "text/plain; charset=utf-8"
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>500 %s</title>\n<style>body{font-family:sans-serif;"
        "margin:2em}pre{background:#f6f6f6;padding:1em;overflow:auto}"
        "h1{color:#b00;font-size:1.4em}.ctx{color:#555}</style></head>"
        "<body>\n<h1>%s</h1>\n%s<pre>%s</pre>\n"
        "<p class=\"ctx\">Served by hotserve. Fix the file and reload "
        "the page: the next request uses the code on disk.</p>"
        "</body></html>\n"
    ) % (
        html.escape(type(exc).__name__),
        html.escape(title),
        ("<p class=\"ctx\">%s</p>\n" % html.escape(context)) if context
        else "",
        html.escape(tb),
    )
    return page.encode("utf-8", "replace"), "text/html; charset=utf-8"
