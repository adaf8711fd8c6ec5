"""hotserve: the API for code that runs under the hotserve dev server.

hotserve reloads the modules you edit, and every module that imports them,
in the running process, before the next request. This package lets your
code cooperate with that::

    import hotserve

    # Called after every successful reload with the reloaded module names.
    @hotserve.on_reload
    def reset(modules):
        ...

    # cache_clear() (or clear()) is called after every successful reload.
    @hotserve.register_cache
    @functools.lru_cache
    def expensive(key): ...

    # A value that survives reloads of this module (created once).
    POOL = hotserve.keep("POOL", make_connection_pool)

    hotserve.status()   # {"generation": ..., "reloads": ..., "last": ...}

Reload semantics, in short: a reloaded module runs again in its own
namespace, which is cleared first, so names removed from the file
disappear. Names listed in a module-level ``__hotserve_keep__ = ("x",)``
(as declared before the reload) are carried over, which keeps the
``try: x / except NameError: x = ...`` idiom working; ``hotserve.keep`` is
the explicit form. A module may define ``__hotserve_before_reload__()``
(called with the old code, before it runs again) and
``__hotserve_after_reload__()`` (called after the whole reload succeeded).

Outside hotserve (plain python, a test run) everything here works and does
nothing special: keep() calls the factory, status() says enabled=False.
"""
import sys
import weakref

try:
    import _hotserve
except ImportError:     # not running inside hotserve
    _hotserve = None

__all__ = ["keep", "on_reload", "register_cache", "status"]

_DEBUG, _INFO, _WARN, _ERROR = 0, 1, 2, 3

# Registrations are keyed by where the object was defined, so a module that
# registers at import time and is reloaded replaces its registration
# instead of piling up stale ones.
_callbacks = {}     # key -> callback
_caches = {}        # key -> () -> object or None


def _key(obj, frame):
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    if isinstance(mod, str) and isinstance(qual, str) and "<" not in qual:
        return ("def", mod, qual)
    # Lambdas, closures, plain containers: where they were registered.
    return ("at", frame.f_globals.get("__name__"), frame.f_code.co_filename,
            frame.f_lineno)


def _log(level, message):
    if _hotserve is not None:
        _hotserve.log(level, message)
    else:
        sys.stderr.write(message + "\n")


def _log_exception(what):
    import traceback

    exc = sys.exc_info()[1]
    _log(_WARN, "%s failed: %s: %s" % (what, type(exc).__name__, exc))
    text = traceback.format_exc()
    if _hotserve is not None:
        _hotserve.log_raw(text)
    else:
        sys.stderr.write(text)


def on_reload(callback):
    """Register callback(modules) to run after every successful reload.

    modules is the list of module names that ran again (dependencies
    first). Usable as a decorator; returns callback. Registering the same
    function again (its module was reloaded) replaces the old one.
    Exceptions are logged and do not undo the reload.
    """
    if not callable(callback):
        raise TypeError("on_reload() needs a callable, not %s"
                        % type(callback).__name__)
    _callbacks[_key(callback, sys._getframe(1))] = callback
    return callback


def register_cache(obj):
    """Clear obj after every successful reload: obj.cache_clear() (an
    functools.lru_cache function) or obj.clear() (a dict, a cache object).

    Usable as a decorator; returns obj. Held through a weak reference when
    obj supports one.
    """
    clear = getattr(obj, "cache_clear", None)
    if not callable(clear):
        clear = getattr(obj, "clear", None)
    if not callable(clear):
        raise TypeError("register_cache() needs an object with cache_clear() "
                        "or clear(), not %s" % type(obj).__name__)
    try:
        ref = weakref.ref(obj)
    except TypeError:
        def ref(obj=obj):
            return obj
    _caches[_key(obj, sys._getframe(1))] = ref
    return obj


def keep(name, factory):
    """Return the value `name` had in the calling module before the reload
    in progress, or factory() when there is none (first import, or the
    module is not being reloaded)::

        CONNECTIONS = hotserve.keep("CONNECTIONS", dict)

    `name` must be the module-level name the result is bound to.
    """
    if not isinstance(name, str):
        raise TypeError("keep() name must be a str, not %s"
                        % type(name).__name__)
    if not callable(factory):
        raise TypeError("keep() factory must be callable, not %s"
                        % type(factory).__name__)
    module = sys._getframe(1).f_globals.get("__name__")
    if _hotserve is not None and isinstance(module, str):
        previous = _hotserve._previous(module)
        if previous is not None and name in previous:
            return previous[name]
    return factory()


def status():
    """Reload statistics as a dict::

        {"enabled": bool, "generation": int, "reloads": int,
         "failures": int, "modules": int, "watch_mode": "inotify"|"poll",
         "startup_ms": float (what a restart costs: process start to app
                              loaded; 0 when unknown),
         "last": None or {"modules": [{"name": str, "ms": float}],
                          "total_ms": float, "trigger": [paths],
                          "ok": bool, "error": None or str,
                          "deleted": [names]}}
    """
    if _hotserve is None:
        return {"enabled": False, "generation": 0, "reloads": 0,
                "failures": 0, "last": None, "modules": 0,
                "watch_mode": None}
    return _hotserve.status()


def _clear_framework_caches():
    # Django keeps the URL resolver (and the urlconf's patterns) in
    # lru_caches; the reloaded urlconf module is the same object, so only
    # the caches stand between it and the next request.
    urls = sys.modules.get("django.urls")
    if urls is not None:
        try:
            urls.clear_url_caches()
        except Exception:
            _log_exception("django.urls.clear_url_caches()")


def _after_reload(modules, changed=None):
    """Called by the reloader after a successful reload: modules ran
    again (dependencies first); changed are the modules whose files
    changed (None: unknown)."""
    modules = list(modules)
    for key, ref in list(_caches.items()):
        obj = ref()
        if obj is None:
            _caches.pop(key, None)
            continue
        clear = getattr(obj, "cache_clear", None)
        if not callable(clear):
            clear = getattr(obj, "clear", None)
        try:
            clear()
        except Exception:
            _log_exception("clearing cache %r" % (key,))
    _clear_framework_caches()
    from hotserve import _frameworks    # Django/Flask (the "django" helper)
    _frameworks.after_reload(modules, changed)
    for key, callback in list(_callbacks.items()):
        try:
            callback(list(modules))
        except Exception:
            _log_exception("on_reload callback %r" % (key,))


def _is_loopback(addr):
    """True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z (REMOTE_ADDR)."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _restart_app(environ, start_response):
    """POST /__hotserve__/restart: a full restart of the server process,
    from this machine only (the dev server may listen on 0.0.0.0)."""
    def reply(status, text, extra=()):
        body = (text + "\n").encode()
        start_response(status, [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ] + list(extra))
        return [body]

    addr = environ.get("REMOTE_ADDR", "")
    if not _is_loopback(addr):
        return reply("403 Forbidden", "restarts are only accepted from "
                     "this machine (127.0.0.1 or ::1), not from %s" % addr)
    if environ.get("REQUEST_METHOD") != "POST":
        return reply("405 Method Not Allowed", "use POST to restart",
                     [("Allow", "POST")])
    request = getattr(_hotserve, "request_restart", None)
    if request is None or not request("requested by POST "
                                      "/__hotserve__/restart from %s"
                                      % addr):
        return reply("503 Service Unavailable", "hotserve cannot restart "
                     "now (see the server log)")
    return reply("202 Accepted", "restarting")


def _restart_defaults():
    """The framework's restart rules for the loaded app, or None:
    (settings module name or None, [globs]). Django: the settings module's
    file (its package directory when it is a package) and models.py,
    models/, apps.py, migrations/ and .env, which Django reads once at
    setup. Called by the reloader once the app is loaded."""
    import os

    if "django.conf" not in sys.modules:
        return None
    try:
        from django.conf import settings
        if not settings.configured:
            return None
        name = getattr(settings, "SETTINGS_MODULE", None)
    except Exception:
        return None
    globs = ["models.py", "**/models/*", "apps.py", "**/migrations/*",
             ".env"]
    # Modules are tracked by the import hook; .env is not a module. (Under
    # --poll only tracked files are looked at: a .env created later, or a
    # new migration, is seen at the next restart.)
    watch = getattr(_hotserve, "watch", None)
    if watch is not None and os.path.isfile(".env"):
        try:
            watch(os.path.abspath(".env"))
        except OSError:
            pass
    module = sys.modules.get(name) if isinstance(name, str) else None
    path = getattr(module, "__file__", None)
    if isinstance(path, str):
        rel = os.path.relpath(os.path.realpath(path), os.getcwd())
        if rel.startswith(".." + os.sep):
            rel = os.path.realpath(path)
        if hasattr(module, "__path__"):
            globs.insert(0, os.path.dirname(rel) + "/*")
        else:
            globs.insert(0, rel if "/" in rel else "./" + rel)
    return (name if isinstance(name, str) else None, globs)


def _internal_app(environ, start_response):
    """The WSGI app behind /__hotserve__/: GET /__hotserve__/status returns
    status() as JSON, POST /__hotserve__/restart restarts (loopback
    clients only); anything else is a 404."""
    import json

    method = environ.get("REQUEST_METHOD", "GET")
    if environ.get("PATH_INFO") == "/__hotserve__/restart":
        return _restart_app(environ, start_response)
    if (environ.get("PATH_INFO") == "/__hotserve__/status"
            and method in ("GET", "HEAD")):
        body = (json.dumps(status(), indent=2, sort_keys=True) + "\n").encode()
        start_response("200 OK", [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ])
        return [body]
    body = b"not found\n"
    start_response("404 Not Found", [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]
