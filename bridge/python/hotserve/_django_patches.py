"""What hotserve changes in Django itself so modules can run again: the
admin's register/unregister (who registered what) and Signal.connect
(replace, never duplicate, a reloaded module's receivers).

Installed before the app is imported (hotserve._frameworks.before_import
uses a post-import hook on the Django modules), so the ModelAdmins
registered at startup by admin autodiscovery are attributed to their
modules too. Nothing here imports Django at module level.

Both wrappers change nothing outside a reload: they only act when the
module involved is being re-executed by hotserve right now.
"""
import sys
import weakref

try:
    import _hotserve
except ImportError:     # not running inside hotserve
    _hotserve = None

# Reload runs in progress: module name -> (namespace snapshot identifying
# the run, state). Cleared after each successful reload (end_reload).
_runs = {}


def reload_run(module):
    """State of the reload of `module` in progress, or None when it is not
    being re-executed right now. A later run of the same module (e.g.
    after a failed one) gets a fresh state."""
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


def end_reload(modules):
    """A reload succeeded: prune what modules no longer register, forget
    the runs. Returns the admin sites whose registry changed since the
    last call."""
    try:
        _admin_after_reload(modules)
    finally:
        _runs.clear()
    dirty = set(_admin_dirty)
    _admin_dirty.clear()
    return dirty


# ---- admin registrations ----------------------------------------------------

# site -> {model: name of the module that registered it, or None}
_admin_owners = weakref.WeakKeyDictionary()
_admin_dirty = set()    # sites whose registry changed since end_reload()
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
    """Unregister, on every site, what module registered."""
    for site, owners in list(_admin_owners.items()):
        for model, owner in list(owners.items()):
            if owner != module:
                continue
            del owners[model]
            if model in site._registry:
                del site._registry[model]
                _admin_dirty.add(site)


def _seed_owners(sites):
    """Registrations made before the patch: attribute them to the module
    of their ModelAdmin class when it is not Django's own."""
    for site in list(sites):
        owners = _admin_owners.setdefault(site, {})
        for model, model_admin in list(site._registry.items()):
            if model in owners:
                continue
            module = type(model_admin).__module__
            owners[model] = (None if module.startswith("django.")
                             else module)


def patch_admin(sites_module):
    """Wrap AdminSite.register/unregister (sites_module is
    django.contrib.admin.sites)."""
    global _admin_patched
    if _admin_patched:
        return
    from django.db.models.base import ModelBase

    AdminSite = sites_module.AdminSite
    original_register = AdminSite.register
    original_unregister = AdminSite.unregister

    def as_list(model_or_iterable):
        if isinstance(model_or_iterable, ModelBase):
            return [model_or_iterable]
        return list(model_or_iterable)

    def register(self, model_or_iterable, admin_class=None, **options):
        owner = _calling_module()
        run = reload_run(owner)
        if run is not None and not run["admin"]:
            # The first registration of a module running again: what it
            # registered in its previous run goes (a ModelAdmin from the
            # old code, or a model no longer registered).
            run["admin"] = True
            _forget_admin(owner)
        models = as_list(model_or_iterable)
        if run is not None:
            owners = _admin_owners.get(self, {})
            for model in models:
                if model in self._registry and owners.get(model) is None:
                    # Registered before hotserve could tell by whom.
                    del self._registry[model]
        result = original_register(self, models, admin_class, **options)
        owners = _admin_owners.setdefault(self, {})
        for model in models:
            owners[model] = owner
        _admin_dirty.add(self)
        return result

    def unregister(self, model_or_iterable):
        models = as_list(model_or_iterable)
        result = original_unregister(self, models)
        owners = _admin_owners.get(self, {})
        for model in models:
            owners.pop(model, None)
        _admin_dirty.add(self)
        return result

    for new, old in ((register, original_register),
                     (unregister, original_unregister)):
        new.__doc__ = old.__doc__
        new.__wrapped__ = old
    AdminSite.register = register
    AdminSite.unregister = unregister
    _admin_patched = True
    _seed_owners(getattr(sites_module, "all_sites", ()))


def _admin_after_reload(modules):
    owners = set()
    for site_owners in _admin_owners.values():
        owners.update(site_owners.values())
    for module in modules:
        run = _runs.get(module)
        if module in owners and (run is None or not run[1]["admin"]):
            # Ran again without registering anything: its registrations
            # are gone from the file.
            _forget_admin(module)


# ---- signal receivers -------------------------------------------------------

_signals_patched = False


def _receiver_key(obj):
    func = getattr(obj, "__func__", obj)
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return module, qualname
    return None


def patch_signals(dispatcher_module):
    """Wrap Signal.connect (dispatcher_module is django.dispatch.dispatcher):
    connecting a receiver whose module is running again replaces the
    receiver connected by its previous run (same module and qualified
    name, or same dispatch_uid, for the same sender) instead of adding a
    second one -- or, with dispatch_uid, silently keeping the old one,
    which would die with the old module namespace."""
    global _signals_patched
    if _signals_patched:
        return
    Signal = dispatcher_module.Signal
    make_id = dispatcher_module._make_id
    original_connect = Signal.connect

    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None):
        key = _receiver_key(receiver)
        run = reload_run(key[0]) if key is not None else None
        if run is None:
            return original_connect(self, receiver, sender=sender, weak=weak,
                                    dispatch_uid=dispatch_uid)
        sender_id = make_id(sender)
        fresh = run["receivers"]
        with self.lock:
            kept = []
            for entry in self.receivers:
                # (lookup_key, receiver) in Django 3.2/4.x, plus is_async
                # since 5.0.
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
        lookup = (dispatch_uid if dispatch_uid else make_id(receiver),
                  sender_id)
        fresh.add((id(self), lookup))
        return result

    connect.__doc__ = original_connect.__doc__
    connect.__wrapped__ = original_connect
    Signal.connect = connect
    _signals_patched = True


_templates_patched = False


def patch_template_loading():
    """Under --poll only tracked files are looked at: track every template
    file Django reads (filesystem and app_directories loaders), so a
    template created after startup is seen too once it is used."""
    global _templates_patched
    if _templates_patched:
        return
    from django.template.loaders import filesystem

    from hotserve import _watchfiles

    original = filesystem.Loader.get_contents

    def get_contents(self, origin):
        contents = original(self, origin)
        _watchfiles.track_file(origin.name)
        return contents

    get_contents.__doc__ = original.__doc__
    get_contents.__wrapped__ = original
    filesystem.Loader.get_contents = get_contents
    _templates_patched = True


def install():
    """Apply the patches as soon as Django's modules are imported."""
    from hotserve._postimport import when_imported

    when_imported("django.dispatch.dispatcher", patch_signals)
    when_imported("django.contrib.admin.sites", patch_admin)
