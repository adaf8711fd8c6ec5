"""Django under hotserve: runserver parity and Django-aware reloads.

Nothing to configure: when the served app is a configured Django project
(``hotserve myproject.wsgi:application``), hotserve does what
``manage.py runserver`` does, in the running process:

At startup (and whenever the app is loaded again):
  * the system checks: warnings are printed, errors stop the app and are
    shown on the error page until a change fixes them (they run again
    after every reload; new issues are printed);
  * the unapplied-migrations warning and the banner lines runserver users
    know (date, Django version, settings module);
  * static files served like runserver when ``django.contrib.staticfiles``
    is installed and DEBUG is on (``--nostatic`` / HOTSERVE_NOSTATIC=1 to
    turn it off, ``--insecure`` / HOTSERVE_INSECURE=1 to serve them with
    DEBUG off), refusing paths that leave the static roots (``..``,
    symlinks pointing out);
  * template directories and locale directories are watched, also outside
    the working directory (Django's ``autoreload_started`` signal is sent
    with a sender whose ``watch_dir()`` registers them with hotserve).

When files that are not Python change: Django's ``file_changed`` signal is
sent, exactly like runserver's autoreloader does, so template loaders
(including the cached loader, the default since Django 4.1) are reset and
.mo changes clear the translation caches, without any Python reload.
Template libraries are looked up again, so a new templatetags module is
found.

After every reload of Python modules:
  * URL resolvers: clear_url_caches() and every included resolver's cached
    patterns, so views, urls and include() edits show at once;
  * template libraries (templatetags modules) are refreshed and the
    template loaders reset;
  * admin: a module that runs again starts its ModelAdmin registrations
    from scratch (what it registered before is unregistered when it
    registers again, or when it registers nothing anymore), and the admin
    URLs are rebuilt from the new ModelAdmin instances;
  * signal receivers: connecting a receiver whose module is being
    reloaded replaces the receiver it connected before (same module and
    qualified name, or same dispatch_uid, for the same sender), so a
    reloaded module never leaves duplicate receivers behind.

Settings, models, apps.py and migrations cannot be reloaded in place (the
app registry and the ORM keep references to them): hotserve restarts the
process for those.

Tested with Django 3.2 (Debian bookworm); written against the APIs that
Django 4.x and 5.x keep (differences are guarded where they exist: signal
receiver tuples grew a third item in 5.0; the cached template loader is
the default in debug mode since 4.1).
"""
import datetime
import inspect
import os
import posixpath
import sys
import weakref
from pathlib import Path

import django
from django.apps import apps
from django.conf import settings
from django.core import checks

from hotserve import _log, _log_exception, _INFO, _WARN, _ERROR
from hotserve import _watchfiles
from hotserve._frameworks import Refused

try:
    import _hotserve
except ImportError:     # not running inside hotserve
    _hotserve = None

__all__ = ["reset_url_resolvers", "reset_templates", "refresh_template_libraries"]

_started = False            # the startup work ran once in this process
_check_failure = None       # the SystemCheckError text after a reload
_last_issues = None         # issues printed last time (to print news only)

# Reload runs in progress: module name -> (namespace snapshot that
# identifies the run, state dict). Cleared after each successful reload.
_runs = {}


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes",
                                                        "on")


def _reload_run(module):
    """State of the reload of `module` in progress, or None when it is not
    being re-executed right now. One state per run: a later run of the
    same module (e.g. after a failed one) gets a fresh state."""
    if _hotserve is None or not isinstance(module, str):
        return None
    try:
        prev = _hotserve._previous(module)
    except Exception:
        return None
    if prev is None:
        return None
    run = _runs.get(module)
    if run is None or run[0] is not prev:
        run = (prev, {"admin": False, "receivers": set()})
        _runs[module] = run
    return run[1]


def _color_style():
    try:
        from django.core.management.color import color_style
        return color_style()
    except Exception:
        from django.core.management.color import no_style
        return no_style()


# ---- system checks ---------------------------------------------------------

def _where(obj):
    """'app/admin.py:12' for a check message's object, or None."""
    target = obj
    if not (inspect.isclass(target) or inspect.isfunction(target)):
        target = type(obj) if obj is not None else None
    if target is None or getattr(target, "__module__", "").startswith(
            ("django.", "builtins")):
        return None
    try:
        path = inspect.getsourcefile(target)
        line = inspect.getsourcelines(target)[1]
    except (TypeError, OSError):
        return None
    if not path:
        return None
    rel = os.path.relpath(path)
    return "%s:%d" % (path if rel.startswith("..") else rel, line)


def _format_issue(e, style):
    text = str(e)
    where = _where(e.obj) if e.is_serious() else None
    if where:
        text = "%s\n\t(defined at %s)" % (text, where)
    return style.ERROR(text) if e.is_serious() else style.WARNING(text)


def _run_checks():
    """(all issues, visible, text with header/body/footer like manage.py
    check, error text or None). The texts have no colors."""
    from django.core.management.color import no_style

    issues = checks.run_checks(include_deployment_checks=False)
    visible = [e for e in issues if not e.is_silenced()]
    groups = [
        ("CRITICALS", lambda e: checks.CRITICAL <= e.level),
        ("ERRORS", lambda e: checks.ERROR <= e.level < checks.CRITICAL),
        ("WARNINGS", lambda e: checks.WARNING <= e.level < checks.ERROR),
        ("INFOS", lambda e: checks.INFO <= e.level < checks.WARNING),
        ("DEBUGS", lambda e: e.level < checks.INFO),
    ]

    def render(style):
        body = ""
        for name, pick in groups:
            chosen = [e for e in visible if pick(e)]
            if chosen:
                body += "\n%s:\n%s\n" % (name, "\n".join(
                    sorted(_format_issue(e, style) for e in chosen)))
        n = len(visible)
        footer = "System check identified %s (%d silenced)." % (
            "no issues" if n == 0 else "1 issue" if n == 1
            else "%d issues" % n, len(issues) - n)
        header = "System check identified some issues:\n" if n else ""
        return header, body, ("\n" if n else "") + footer

    plain = render(no_style())
    error = None
    if any(e.is_serious() for e in visible):
        error = "SystemCheckError: " + "".join(plain)
    return issues, visible, render(_color_style()), error


def _check_error(text):
    from django.core.management.base import SystemCheckError
    return SystemCheckError(text)


def _startup_checks():
    """Run the checks as runserver does at start. Raises Refused (carrying
    a SystemCheckError) when there are errors."""
    global _last_issues
    _log(_INFO, "Performing system checks...\n")
    issues, visible, colored, error = _run_checks()
    _last_issues = sorted(str(e) for e in visible)
    if error is not None:
        # The message is shown with the traceback hotserve prints for an
        # app that cannot be served, and on the error page.
        try:
            raise _check_error(error.replace("SystemCheckError: ", "", 1))
        except Exception as exc:
            raise Refused() from exc
    _log(_WARN if visible else _INFO, "".join(colored))


def _checks_after_reload():
    """Checks again after a reload: print what is new; errors turn every
    response into the error page until a reload fixes them."""
    global _check_failure, _last_issues
    issues, visible, colored, error = _run_checks()
    now = sorted(str(e) for e in visible)
    if now != _last_issues:
        if visible:
            _log(_ERROR if error else _WARN, "".join(colored))
        elif _last_issues:
            _log(_INFO, "System check identified no issues (%d silenced)."
                 % len(issues))
    _last_issues = now
    _check_failure = error


def _migration_warning():
    """runserver's unapplied-migrations notice."""
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    except ImproperlyConfigured:
        return      # no database configured
    try:
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    finally:
        connections[DEFAULT_DB_ALIAS].close()
    if not plan:
        return
    style = _color_style()
    labels = sorted({migration.app_label for migration, _ in plan})
    _log(_WARN, style.NOTICE(
        "\nYou have %d unapplied migration(s). Your project may not work "
        "properly until you apply the migrations for app(s): %s."
        % (len(plan), ", ".join(labels))))
    _log(_WARN, style.NOTICE("Run 'python manage.py migrate' to apply them."))


def _banner():
    now = datetime.datetime.now().strftime("%B %d, %Y - %X")
    _log(_INFO, now)
    _log(_INFO, "Django version %s, using settings %r"
         % (django.get_version(), settings.SETTINGS_MODULE))


# ---- static files -----------------------------------------------------------

def _static_roots(finders):
    """Directories the staticfiles finders serve from (abspath, realpath)."""
    roots = []
    for finder in finders.get_finders():
        storages = list(getattr(finder, "storages", {}).values())
        storage = getattr(finder, "storage", None)
        if storage is not None:
            storages.append(storage)
        for st in storages:
            try:
                loc = st.location
            except Exception:
                continue
            if loc:
                roots.append((os.path.abspath(loc), os.path.realpath(loc)))
    return roots


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _make_static_handler(app):
    from django.contrib.staticfiles import finders
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.exceptions import SuspiciousOperation
    from django.core.handlers.exception import response_for_exception
    from django.http import Http404

    class HotserveStaticFilesHandler(StaticFilesHandler):
        """runserver's static files handler, refusing files that resolve
        outside the root they were found in (a symlink pointing out)."""

        _roots = None

        def serve(self, request):
            path = self.file_path(request.path)
            normalized = posixpath.normpath(path).lstrip("/")
            found = finders.find(normalized)
            if found:
                if self._roots is None:
                    type(self)._roots = _static_roots(finders)
                absolute = os.path.abspath(found)
                real = os.path.realpath(found)
                holders = [r for r in self._roots if _inside(absolute, r[0])]
                if holders and not any(_inside(real, r[1])
                                       for r in holders):
                    raise Http404("'%s' could not be found" % path)
            return super().serve(request)

        def get_response(self, request):
            try:
                return self.serve(request)
            except (Http404, SuspiciousOperation) as exc:
                return response_for_exception(request, exc)

    return HotserveStaticFilesHandler(app)


def _wrap_static(app):
    if _env_flag("HOTSERVE_NOSTATIC"):
        return app
    if not apps.is_installed("django.contrib.staticfiles"):
        return app
    if not (settings.DEBUG or _env_flag("HOTSERVE_INSECURE")):
        return app
    from django.core.exceptions import ImproperlyConfigured
    try:
        return _make_static_handler(app)
    except ImproperlyConfigured as exc:
        _log(_WARN, "warning: static files are not served: %s" % exc)
        return app


class DjangoApp:
    """What hotserve serves for a Django project: the project's WSGI
    application, behind runserver's static files handler when it applies.
    While a system check error found after a reload is unfixed, every
    request gets the error page."""

    def __init__(self, application):
        self.application = application
        self.handler = _wrap_static(application)
        self.serves_static = self.handler is not application

    def __call__(self, environ, start_response):
        if _check_failure is not None:
            raise _check_error(_check_failure)
        return self.handler(environ, start_response)


# ---- templates and translations --------------------------------------------

class _Reloader:
    """The sender of autoreload_started / file_changed: what Django's (and
    third-party) receivers expect of runserver's reloader."""

    def watch_dir(self, path, glob):
        path = Path(path)
        if not path.is_absolute():
            path = Path.cwd() / path
        _watchfiles.watch_tree(path, glob)

    def watch_file(self, path):
        if _hotserve is not None:
            try:
                _hotserve.watch(os.fspath(path))
            except OSError:
                pass

    @property
    def extra_files(self):
        return set()

    def __repr__(self):
        return "<hotserve reloader>"


_RELOADER = _Reloader()


def _template_backends():
    from django.template import engines
    return engines.all()


def _django_engines():
    from django.template.backends.django import DjangoTemplates
    return [b.engine for b in _template_backends()
            if isinstance(b, DjangoTemplates)]


def _template_dirs():
    """Real paths of every template directory in use (Django's own
    excluded), for the Django and Jinja2 backends."""
    from django.template.backends.django import DjangoTemplates
    from django.utils.autoreload import is_django_path
    dirs = set()
    for backend in _template_backends():
        found = list(getattr(backend, "template_dirs", ()) or ())
        if isinstance(backend, DjangoTemplates):
            found += list(backend.engine.dirs)
            for loader in backend.engine.template_loaders:
                if hasattr(loader, "get_dirs"):
                    found += list(loader.get_dirs())
        for d in found:
            if d and not is_django_path(d):
                dirs.add(os.path.realpath(os.path.join(os.getcwd(), d)))
    return dirs


def reset_templates():
    """Forget every compiled template: the Django template loaders
    (cached loader included) and the Jinja2 backends' caches."""
    for engine in _django_engines():
        for loader in engine.template_loaders:
            loader.reset()
    for backend in _template_backends():
        env = getattr(backend, "env", None)
        cache = getattr(env, "cache", None)
        if cache is not None:
            cache.clear()


def refresh_template_libraries(force=False):
    """Look the templatetags libraries up again (a reloaded module has a
    new `register`; a new module may have appeared). Returns True when the
    engines' libraries changed."""
    from django.template.backends.django import get_installed_libraries
    changed = False
    installed = None
    for engine in _django_engines():
        libraries = dict(engine.libraries)
        if installed is None:
            installed = dict(get_installed_libraries())
        for name, path in installed.items():
            libraries.setdefault(name, path)
        if not force and libraries == engine.libraries:
            continue
        engine.libraries = libraries
        engine.template_libraries = engine.get_template_libraries(libraries)
        changed = True
    return changed


def _reset_translations():
    if not settings.USE_I18N:
        return
    from django.utils.translation.reloader import translation_file_changed
    translation_file_changed(sender=_RELOADER, file_path=Path("x.mo"))


def _watch_template_and_locale_dirs():
    from django.utils import translation
    from django.utils.autoreload import autoreload_started
    import django.template  # noqa: F401  (connects the template receivers)

    if settings.USE_I18N:
        # The translation receivers are connected on first use of the
        # translation machinery.
        translation.get_language()
    for receiver, result in autoreload_started.send_robust(sender=_RELOADER):
        if isinstance(result, Exception):
            _log(_WARN, "warning: autoreload_started receiver %r failed: %s"
                 % (receiver, result))
    # Django's own receivers only cover directories of DjangoTemplates
    # backends: Jinja2 template directories too.
    for d in _template_dirs():
        _watchfiles.watch_tree(d, "**/*")


def files_changed(paths, overflow=False):
    """Non-Python files changed: send Django's file_changed for each, like
    runserver's autoreloader (template loaders reset, translations
    reloaded), and refresh what depends on templates."""
    from django.utils.autoreload import file_changed

    if overflow:
        reset_templates()
        refresh_template_libraries()
        _reset_translations()
    if not paths:
        return
    dirs = None
    templates = False
    for p in paths:
        path = Path(p)
        handled = False
        for receiver, result in file_changed.send_robust(
                sender=_RELOADER, file_path=path):
            if isinstance(result, Exception):
                _log(_WARN, "warning: file_changed receiver %r failed: %s"
                     % (receiver, result))
            elif result:
                handled = True
        if path.suffix == ".mo" and not handled:
            _reset_translations()
        if dirs is None:
            dirs = _template_dirs()
        real = os.path.realpath(p)
        if any(_inside(real, d) for d in dirs):
            templates = True
    if templates:
        reset_templates()
        refresh_template_libraries()


# ---- URL resolvers ----------------------------------------------------------

def _admin_sites_by_name():
    try:
        from django.contrib.admin.sites import all_sites
    except ImportError:
        return {}
    return {site.name: site for site in list(all_sites)}


def _reset_resolver(resolver):
    d = resolver.__dict__
    d.pop("url_patterns", None)     # cached_property values
    d.pop("urlconf_module", None)
    if "_reverse_dict" in d:
        resolver._reverse_dict = {}
    if "_namespace_dict" in d:
        resolver._namespace_dict = {}
    if "_app_dict" in d:
        resolver._app_dict = {}
    if "_callback_strs" in d:
        resolver._callback_strs = set()
    if "_populated" in d:
        resolver._populated = False


def reset_url_resolvers(admin_sites=None):
    """clear_url_caches() and the cached patterns of every resolver reachable
    from ROOT_URLCONF (include()d resolvers are long-lived objects inside
    the root urlconf's urlpatterns). Admin resolvers of the sites in
    admin_sites get URL patterns built again from the current
    ModelAdmins. Nothing is imported: only what was cached is reset."""
    from django.urls import URLResolver, clear_url_caches

    clear_url_caches()
    root = sys.modules.get(getattr(settings, "ROOT_URLCONF", None) or "")
    if root is None:
        return
    by_name = _admin_sites_by_name() if admin_sites else {}
    seen = set()
    stack = [getattr(root, "urlpatterns", None)]
    while stack:
        patterns = stack.pop()
        if not isinstance(patterns, (list, tuple)):
            continue
        for p in patterns:
            if not isinstance(p, URLResolver) or id(p) in seen:
                continue
            seen.add(id(p))
            cached = p.__dict__.get("url_patterns")
            site = by_name.get(p.namespace) if p.app_name == "admin" else None
            if site is not None and site in admin_sites \
                    and isinstance(p.urlconf_name, list):
                p.urlconf_name = site.get_urls()
            _reset_resolver(p)
            if cached is not None:
                stack.append(cached)
            elif not isinstance(p.urlconf_name, str):
                stack.append(getattr(p.urlconf_name, "urlpatterns",
                                     p.urlconf_name))


# ---- admin registrations ----------------------------------------------------

# site -> {model: name of the module that registered it}
_admin_owners = weakref.WeakKeyDictionary()
_admin_dirty = set()    # sites whose registry changed since the last reload
_admin_patched = False


def _calling_module(skip=("django.contrib.admin", "hotserve")):
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not name.startswith(skip):
            return name
        frame = frame.f_back
    return None


def _forget_admin(module):
    """Unregister what module registered, on every site."""
    for site, owners in list(_admin_owners.items()):
        for model, owner in list(owners.items()):
            if owner != module:
                continue
            del owners[model]
            if model in site._registry:
                del site._registry[model]
                _admin_dirty.add(site)


def _patch_admin():
    global _admin_patched
    if _admin_patched or not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib.admin.sites import AdminSite
    from django.db.models.base import ModelBase

    original_register = AdminSite.register
    original_unregister = AdminSite.unregister

    def register(self, model_or_iterable, admin_class=None, **options):
        owner = _calling_module()
        run = _reload_run(owner)
        if run is not None and not run["admin"]:
            run["admin"] = True
            _forget_admin(owner)
        if isinstance(model_or_iterable, ModelBase):
            models = [model_or_iterable]
        else:
            models = list(model_or_iterable)
        result = original_register(self, models, admin_class, **options)
        owners = _admin_owners.setdefault(self, {})
        for model in models:
            owners[model] = owner
        _admin_dirty.add(self)
        return result

    def unregister(self, model_or_iterable):
        if isinstance(model_or_iterable, ModelBase):
            models = [model_or_iterable]
        else:
            models = list(model_or_iterable)
        result = original_unregister(self, models)
        owners = _admin_owners.get(self, {})
        for model in models:
            owners.pop(model, None)
        _admin_dirty.add(self)
        return result

    register.__doc__ = original_register.__doc__
    register.__wrapped__ = original_register
    unregister.__doc__ = original_unregister.__doc__
    unregister.__wrapped__ = original_unregister
    AdminSite.register = register
    AdminSite.unregister = unregister
    _admin_patched = True


def _admin_after_reload(modules):
    owners = set()
    for site_owners in _admin_owners.values():
        owners.update(site_owners.values())
    for module in modules:
        run = _runs.get(module)
        if module in owners and (run is None or not run[1]["admin"]):
            # Ran again without registering anything: what it registered
            # before is gone from the file.
            _forget_admin(module)


# ---- signal receivers --------------------------------------------------------

_signals_patched = False


def _receiver_key(obj):
    func = getattr(obj, "__func__", obj)
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return module, qualname
    return None


def _patch_signals():
    global _signals_patched
    if _signals_patched:
        return
    from django.dispatch import Signal
    from django.dispatch.dispatcher import _make_id

    original_connect = Signal.connect

    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None):
        key = _receiver_key(receiver)
        run = _reload_run(key[0]) if key is not None else None
        if run is None:
            return original_connect(self, receiver, sender=sender, weak=weak,
                                    dispatch_uid=dispatch_uid)
        # The module defining receiver runs again: the receiver it
        # connected in its previous run is replaced, not doubled.
        sender_id = _make_id(sender)
        fresh = run["receivers"]
        with self.lock:
            kept = []
            for entry in self.receivers:
                lookup_key, ref = entry[0], entry[1]
                if lookup_key[1] == sender_id \
                        and (id(self), lookup_key) not in fresh:
                    if dispatch_uid and lookup_key[0] == dispatch_uid:
                        continue
                    obj = ref() if isinstance(ref, weakref.ReferenceType) \
                        else ref
                    if obj is not None and obj is not receiver \
                            and _receiver_key(obj) == key:
                        continue
                kept.append(entry)
            self.receivers = kept
            self.sender_receivers_cache.clear()
        result = original_connect(self, receiver, sender=sender, weak=weak,
                                  dispatch_uid=dispatch_uid)
        lookup = (dispatch_uid if dispatch_uid else _make_id(receiver),
                  sender_id)
        fresh.add((id(self), lookup))
        return result

    connect.__doc__ = original_connect.__doc__
    connect.__wrapped__ = original_connect
    Signal.connect = connect
    _signals_patched = True


# ---- the hooks hotserve._frameworks calls ------------------------------------

def app_loaded(app):
    """The Django app was (re)loaded: startup work the first time, checks
    every time; returns the app to serve."""
    global _started, _check_failure
    first = not _started
    _started = True
    if first:
        _patch_admin()
        _patch_signals()
        try:
            _watch_template_and_locale_dirs()
        except Exception:
            _log_exception("watching Django's template and locale "
                           "directories")
        _startup_checks()
        try:
            _migration_warning()
        except Exception:
            _log_exception("checking for unapplied migrations")
        _banner()
    else:
        issues, visible, colored, error = _run_checks()
        if error is not None:
            try:
                raise _check_error(error.replace("SystemCheckError: ", "", 1))
            except Exception as exc:
                raise Refused() from exc
    _check_failure = None
    wrapped = DjangoApp(app)
    if first and wrapped.serves_static:
        _log(_INFO, "Serving static files from %s (django.contrib.staticfiles"
             "%s)" % (settings.STATIC_URL,
                      "" if settings.DEBUG else ", --insecure"))
    return wrapped


def after_reload(modules):
    """Python modules ran again (names, dependencies first)."""
    try:
        _admin_after_reload(modules)
        dirty = set(_admin_dirty)
        _admin_dirty.clear()
        reset_url_resolvers(dirty)
        if any(".templatetags." in m or m.endswith(".templatetags")
               for m in modules):
            refresh_template_libraries(force=True)
            reset_templates()
    finally:
        _runs.clear()
    _checks_after_reload()
