"""Imported by app.py: edit it and app.py is reloaded too."""
import html


def page(title, text):
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>%s</title></head><body><h1>%s</h1><p>%s</p>"
        "<p><a href='/boom'>/boom</a> shows the error page.</p>"
        "</body></html>\n" % (html.escape(title), html.escape(title), text)
    )
