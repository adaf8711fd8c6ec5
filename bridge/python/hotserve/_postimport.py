"""Run a callback right after a module is first imported.

when_imported("django.contrib.admin.sites", patch) calls patch(module) as
soon as the module has executed (or at once when it already has). The
framework integrations use it to wrap a few framework functions before
the app's own code runs, e.g. to learn which module registered each
ModelAdmin.
"""
import sys

_hooks = {}         # module name -> [callback]
_finder = None


class _Loader:
    """Delegates to the real loader; runs the callbacks after exec."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        _run(self._name, module)

    def __getattr__(self, attr):
        return getattr(self._loader, attr)


class _Finder:
    def find_spec(self, name, path=None, target=None):
        if name not in _hooks:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader,
                                                   "exec_module"):
                spec.loader = _Loader(spec.loader, name)
            return spec
        return None


def _run(name, module):
    from hotserve import _log_exception

    for callback in _hooks.pop(name, ()):
        try:
            callback(module)
        except Exception:
            _log_exception("hotserve: post-import hook for %s" % name)


def when_imported(name, callback):
    """Call callback(module) once module `name` is imported."""
    global _finder
    module = sys.modules.get(name)
    if module is not None:
        _hooks.setdefault(name, []).append(callback)
        _run(name, module)
        return
    _hooks.setdefault(name, []).append(callback)
    if _finder is None:
        _finder = _Finder()
        sys.meta_path.insert(0, _finder)
