"""Framework integrations: the moments hotserve tells them about.

    before_import()           the app module is about to be imported (each
                              load attempt; from C): install import hooks
    app_loaded(app)           the WSGI callable was (re)loaded (startup, or
                              the app module ran again): returns the app
                              to serve, maybe wrapped (called from C,
                              bridge/frameworks.c)
    files_changed(paths, overflow)
                              files that are not Python modules changed
                              (templates, .mo files, static files), before
                              the request that follows runs (from C, the
                              reload gate)
    after_reload(modules)     a reload of Python modules succeeded (from
                              hotserve._after_reload)

Django (hotserve.django) is handled when the app is a configured Django
project, Flask (hotserve._flask) when the app is a Flask application. No
framework is imported here: only what the app already imported is looked
at. A bug in an integration is logged and never stops the app from being
served; only a deliberate refusal (Django's system check errors) does.
"""
import sys

from hotserve import _log_exception

_django = None      # the hotserve.django module once Django is seen
_flask = None       # the hotserve._flask module once a Flask app is seen
_installed = False  # before_import() ran


class Refused(Exception):
    """Raised by an integration to stop the app from being served: the
    exception it carries (its __cause__) is shown on the error page."""


def _django_active():
    if "django.conf" not in sys.modules:
        return False
    try:
        from django.conf import settings
        from django.apps import apps
        return settings.configured and apps.ready
    except Exception:
        return False


def _flask_app(app):
    flask = sys.modules.get("flask")
    if flask is None:
        return None
    for candidate in (app, getattr(app, "__self__", None)):
        if isinstance(candidate, flask.Flask):
            return candidate
    return None


def before_import():
    """Called before the app module is imported (every load attempt):
    hooks that must be in place before the app's code runs."""
    global _installed
    if _installed:
        return
    _installed = True
    try:
        from hotserve import _django_patches
        _django_patches.install()
    except Exception:
        _log_exception("hotserve's Django integration (before import)")


def app_loaded(app):
    """The app to serve for the freshly loaded callable app."""
    global _django, _flask
    try:
        if _django_active():
            if _django is None:
                from hotserve import django as _django
            return _django.app_loaded(app)
        found = _flask_app(app)
        if found is not None:
            if _flask is None:
                from hotserve import _flask
            _flask.app_loaded(found)
    except Refused as exc:
        raise exc.__cause__ from None
    except Exception:
        _log_exception("hotserve's framework integration (app loaded)")
    return app


def files_changed(paths, overflow=False):
    """Non-Python files changed (absolute paths); overflow: events were
    lost, anything may have changed."""
    for mod, what in ((_django, "Django"), (_flask, "Flask")):
        if mod is None:
            continue
        try:
            mod.files_changed(paths, overflow)
        except Exception:
            _log_exception("hotserve's %s integration (files changed)"
                           % what)


def after_reload(modules, changed=None):
    """Python modules ran again (names, dependencies first); changed: the
    ones whose files changed (None: unknown, assume all)."""
    for mod, what in ((_django, "Django"), (_flask, "Flask")):
        if mod is None:
            continue
        try:
            mod.after_reload(modules, modules if changed is None
                             else changed)
        except Exception:
            _log_exception("hotserve's %s integration (after reload)" % what)
