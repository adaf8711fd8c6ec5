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
from pathlib import Path

import django
from django.apps import apps
from django.conf import settings
from django.core import checks

from hotserve import _log, _log_exception, _INFO, _WARN, _ERROR
from hotserve import _django_patches, _watchfiles
from hotserve._frameworks import Refused

try:
    import _hotserve
except ImportError:     # not running inside hotserve
    _hotserve = None

__all__ = ["refresh_template_libraries", "reset_templates",
           "reset_url_resolvers"]

_started = False            # patches and watches are in place
_announced = False          # runserver's startup lines were printed
_check_failure = None       # CheckResult with errors after a reload
_last_issues = None         # issues printed last time (to print news only)


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes",
                                                        "on")


def _color_style():
    try:
        from django.core.management.color import color_style
        return color_style()
    except Exception:
        from django.core.management.color import no_style
        return no_style()


# ---- system checks ---------------------------------------------------------

def _source_of(obj):
    """(absolute file, line) where a check message's object is defined
    (a model, a ModelAdmin, a function), or None for Django's own."""
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
    return (os.path.abspath(path), line) if path else None


class CheckResult:
    """One run of the system checks, with runserver's texts."""

    GROUPS = [
        ("CRITICALS", lambda e: checks.CRITICAL <= e.level),
        ("ERRORS", lambda e: checks.ERROR <= e.level < checks.CRITICAL),
        ("WARNINGS", lambda e: checks.WARNING <= e.level < checks.ERROR),
        ("INFOS", lambda e: checks.INFO <= e.level < checks.WARNING),
        ("DEBUGS", lambda e: e.level < checks.INFO),
    ]

    def __init__(self):
        self.issues = checks.run_checks(include_deployment_checks=False)
        self.visible = [e for e in self.issues if not e.is_silenced()]
        self.errors = [e for e in self.visible if e.is_serious()]
        self.key = sorted(str(e) for e in self.visible)

    def _body(self, style):
        body = ""
        for name, pick in self.GROUPS:
            chosen = [e for e in self.visible if pick(e)]
            if chosen:
                body += "\n%s:\n%s\n" % (name, "\n".join(sorted(
                    style.ERROR(str(e)) if e.is_serious()
                    else style.WARNING(str(e)) for e in chosen)))
        return body

    def footer(self):
        n = len(self.visible)
        return "System check identified %s (%d silenced)." % (
            "no issues" if n == 0 else "1 issue" if n == 1
            else "%d issues" % n, len(self.issues) - n)

    def text(self):
        """What manage.py check / runserver print (colored on a TTY)."""
        if not self.visible:
            return self.footer()
        return ("System check identified some issues:\n"
                + self._body(_color_style()) + "\n" + self.footer())

    def error(self):
        """A new SystemCheckError for the errors (None without errors),
        its traceback pointing at where the first erring object is
        defined, so the error page names that file and line."""
        from django.core.management.base import SystemCheckError
        from django.core.management.color import no_style

        if not self.errors:
            return None
        # The summary line of the error page is the message's last line:
        # the footer goes first.
        exc = SystemCheckError(self.footer()[:-1] + ":\n"
                               + self._body(no_style()).rstrip("\n"))
        for e in sorted(self.errors, key=str):
            where = _source_of(e.obj)
            if where is not None:
                return _located(exc, *where)
        return exc


def _located(exc, filename, lineno):
    """exc with a traceback of one frame at filename:lineno (the technique
    Jinja uses for template errors)."""
    # The statement spans more than any source line: no carets under the
    # (unrelated) source line in the traceback.
    try:
        code = compile("\n" * (max(lineno, 1) - 1) + "raise (__exc__"
                       + " " * 400 + ")", filename, "exec")
        exec(code, {"__exc__": exc, "__name__": "__check__"})
    except BaseException as raised:   # noqa: B902 -- it is exc
        if raised is exc and raised.__traceback__ is not None:
            return exc.with_traceback(raised.__traceback__.tb_next)
    return exc


def _startup_checks():
    """The checks, as runserver runs them at start: warnings printed,
    errors refuse the app (shown with its traceback and on the error
    page)."""
    global _last_issues
    _log(_INFO, "Performing system checks...\n")
    result = CheckResult()
    _last_issues = result.key
    exc = result.error()
    if exc is not None:
        raise Refused() from exc
    _log(_WARN if result.visible else _INFO, result.text())


def _checks_after_reload():
    """The checks again after a reload: what changed is printed; errors
    turn every response into the error page until a reload fixes them."""
    global _check_failure, _last_issues
    result = CheckResult()
    if result.key != _last_issues:
        if result.visible:
            _log(_ERROR if result.errors else _WARN, result.text())
        elif _last_issues:
            _log(_INFO, result.footer())
    _last_issues = result.key
    _check_failure = result if result.errors else None


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
        failure = _check_failure
        if failure is not None:
            raise failure.error()
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
    import importlib
    from django.utils import translation
    from django.utils.autoreload import autoreload_started

    # Importing django.template connects its file_changed receivers.
    importlib.import_module("django.template")

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


# ---- the hooks hotserve._frameworks calls -----------------------------------

def app_loaded(app):
    """The Django app was (re)loaded: the startup work once, and until the
    app passed the system checks once the startup checks (runserver's
    lines); later loads run the checks quietly. Returns the app to serve;
    raises Refused with a SystemCheckError when the checks find errors."""
    global _started, _announced, _check_failure
    if not _started:
        _started = True
        _django_patches.install()   # a no-op when before_import did it
        if _watchfiles.mode() == "poll":
            _django_patches.patch_template_loading()
        try:
            _watch_template_and_locale_dirs()
        except Exception:
            _log_exception("watching Django's template and locale "
                           "directories")
    announce = not _announced
    if announce:
        _startup_checks()
        try:
            _migration_warning()
        except Exception:
            _log_exception("checking for unapplied migrations")
        _banner()
        _announced = True
    else:
        exc = CheckResult().error()
        if exc is not None:
            raise Refused() from exc
    _check_failure = None
    wrapped = DjangoApp(app)
    if announce and wrapped.serves_static:
        _log(_INFO, "Serving static files from %s (django.contrib.staticfiles"
             "%s)" % (settings.STATIC_URL,
                      "" if settings.DEBUG else ", --insecure"))
    return wrapped


# Modules whose edits can change what the system checks report: admin
# registrations, URL confs, check functions, app configs (models, settings
# and apps.py restart the process). A view edit re-runs its urls module as
# an importer, but only a changed urls.py can change the URL checks; the
# full run costs ~40 ms with 50 apps, ~160 ms with 200.
_CHECKED_MODULES = ("admin", "urls", "checks", "apps")


def _changes_checks(changed):
    for name in changed:
        parts = name.split(".")
        if any(p in _CHECKED_MODULES for p in parts):
            return True
    return False


def after_reload(modules, changed=None):
    """Python modules ran again (names, dependencies first); changed: the
    ones whose files changed."""
    dirty = _django_patches.end_reload(modules)
    reset_url_resolvers(dirty)
    if any(".templatetags." in m or m.endswith(".templatetags")
           for m in modules):
        refresh_template_libraries(force=True)
        reset_templates()
    if _check_failure is not None or _changes_checks(
            modules if changed is None else changed):
        _checks_after_reload()
