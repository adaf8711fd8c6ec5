"""In-place code updates after a reload (cstack.md 3.7).

A reloaded module runs again and binds new function and class objects, but
old ones stay referenced elsewhere: a urlconf outside the plan holding a
view, a decorator's closure, an lru_cache wrapper, a class-based view's
as_view() closure holding the old class. For each name bound both before
and after the reload, the old function gets the new function's code, so
every old reference runs the new code.

Every earlier generation is updated, not only the last one: an object
kept since the first import runs the code of the latest reload. Earlier
generations are remembered through weak references per (module, name).

Only what is safe is swapped: functions defined by the module itself (their
globals are its namespace, which the reload reused), whose free variables
have the same names (CPython refuses a different count; the same names
keep closures meaningful). Decorator chains are followed through
``__wrapped__`` and through closure cells holding functions; class bodies
through their methods, staticmethods, classmethods and properties. Old
lru_cache wrappers are cleared. Instances keep their (old) class; old
classes do not gain methods added by the new code.
"""
import functools
import types
import weakref

_MAX_DEPTH = 8
_LRU = type(functools.lru_cache(maxsize=None)(lambda: None))
_SWAPPABLE = (types.FunctionType, type, _LRU)

# (module, name) -> weak references to the objects the name was bound to
# before the last reload, all generations that are still alive.
_history = {}


def update_namespace(module, ns, old_ns):
    """Make old objects of module (whose namespace before the reload is
    old_ns, now ns) run the new code. Returns the number of functions whose
    code was replaced."""
    seen = set()
    count = 0
    for name, old in list(old_ns.items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        new = ns.get(name)
        if new is None or new is old or not isinstance(old, _SWAPPABLE):
            continue
        key = (module, name)
        olds = [ref() for ref in _history.get(key, ())]
        olds = [o for o in olds if o is not None and o is not old]
        olds.append(old)
        kept = []
        for o in olds:
            if o is new:
                continue
            count += _update(o, new, module, ns, seen, 0)
            try:
                kept.append(weakref.ref(o))
            except TypeError:
                pass
        _history[key] = kept
    return count


def _update(old, new, module, ns, seen, depth):
    if depth > _MAX_DEPTH or old is new or id(old) in seen:
        return 0
    seen.add(id(old))
    depth += 1
    if isinstance(old, types.FunctionType):
        if isinstance(new, types.FunctionType):
            return _update_function(old, new, module, ns, seen, depth)
        return 0
    if isinstance(old, type):
        if isinstance(new, type):
            return _update_class(old, new, module, ns, seen, depth)
        return 0
    if isinstance(old, (staticmethod, classmethod)):
        if type(new) is type(old):
            return _update(old.__func__, new.__func__, module, ns, seen,
                           depth)
        return 0
    if isinstance(old, property):
        if not isinstance(new, property):
            return 0
        count = 0
        for attr in ("fget", "fset", "fdel"):
            o, n = getattr(old, attr), getattr(new, attr)
            if o is not None and n is not None:
                count += _update(o, n, module, ns, seen, depth)
        return count
    if isinstance(old, _LRU):
        if not isinstance(new, _LRU):
            return 0
        count = _update(old.__wrapped__, new.__wrapped__, module, ns, seen,
                        depth)
        old.cache_clear()   # its results came from the old code
        return count
    return 0


def _update_function(old, new, module, ns, seen, depth):
    count = 0
    old_free = old.__code__.co_freevars
    new_free = new.__code__.co_freevars
    if old.__globals__ is ns and old_free == new_free:
        try:
            old.__code__ = new.__code__
            old.__defaults__ = new.__defaults__
            old.__kwdefaults__ = new.__kwdefaults__
            old.__doc__ = new.__doc__
            old.__annotations__ = new.__annotations__
            count = 1
        except (TypeError, ValueError):
            pass
    # A decorator's wrapper (defined anywhere) holds the decorated function
    # in a closure cell or in __wrapped__ (functools.wraps).
    if old.__closure__ and new.__closure__:
        new_cells = dict(zip(new_free, new.__closure__))
        for var, cell in zip(old_free, old.__closure__):
            other = new_cells.get(var)
            if other is None:
                continue
            try:
                o, n = cell.cell_contents, other.cell_contents
            except ValueError:      # empty cell
                continue
            if isinstance(o, (types.FunctionType, type, _LRU)):
                count += _update(o, n, module, ns, seen, depth)
    o = old.__dict__.get("__wrapped__")
    n = new.__dict__.get("__wrapped__")
    if o is not None and n is not None:
        count += _update(o, n, module, ns, seen, depth)
    return count


def _update_class(old, new, module, ns, seen, depth):
    if old.__module__ != module or new.__module__ != module:
        return 0
    count = 0
    new_vars = vars(new)
    for name, o in list(vars(old).items()):
        if name in ("__dict__", "__weakref__", "__module__", "__doc__",
                    "__qualname__"):
            continue
        n = new_vars.get(name)
        if n is None or n is o:
            continue
        count += _update(o, n, module, ns, seen, depth)
    return count
