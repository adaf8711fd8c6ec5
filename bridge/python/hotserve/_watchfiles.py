"""Watching non-Python files for the framework integrations.

hotserve watches the working directory (and --watch trees) with inotify,
which reports every file. Templates and translations may also live
elsewhere (a shared template directory, an app installed in develop mode
next to the project), and the polling backend (--poll, HOTSERVE_POLL=1)
only stats the files it was asked to track: watch_tree() covers both.
"""
import fnmatch
import os
import sys

try:
    import _hotserve
except ImportError:     # not running inside hotserve
    _hotserve = None

from hotserve import _log, _WARN

# More files than this in one tree are not tracked one by one (polling):
# a template directory that large is most likely not one.
MAX_TRACKED = 5000

_done = set()       # (directory, glob) already handled


def _installed_prefixes():
    prefixes = set()
    for p in sys.path:
        if p and os.path.basename(p) in ("site-packages", "dist-packages"):
            prefixes.add(os.path.realpath(p))
    for attr in ("prefix", "base_prefix", "exec_prefix", "base_exec_prefix"):
        v = getattr(sys, attr, None)
        if v and v not in ("/", "/usr/local", "/usr"):
            prefixes.add(os.path.realpath(v))
    prefixes.add(os.path.realpath(os.path.dirname(os.__file__)))
    return prefixes


def _under(path, dirs):
    for d in dirs:
        if path == d or path.startswith(d.rstrip(os.sep) + os.sep):
            return True
    return False


def installed(path):
    """Is path part of installed code (site-packages, the stdlib)? Such
    files do not change while you develop; they are never watched."""
    real = os.path.realpath(path)
    if "/site-packages/" in real + "/" or "/dist-packages/" in real + "/":
        return True
    return _under(real, _installed_prefixes())


def mode():
    """'inotify', 'poll', or None when nothing is watched."""
    if _hotserve is None:
        return None
    try:
        return _hotserve.status().get("watch_mode")
    except Exception:
        return None


def _match(rel, pattern):
    if pattern in ("**/*", "*", "**"):
        return True
    if pattern.startswith("**/"):
        return fnmatch.fnmatch(os.path.basename(rel), pattern[3:])
    return fnmatch.fnmatch(rel, pattern)


def watch_tree(directory, pattern="**/*"):
    """Make changes of the files under directory that match the glob
    pattern (Django's watch_dir() syntax: "**/*", "**/*.mo") reach
    hotserve. Returns the number of files tracked one by one (polling), or
    -1 when the tree is watched as a whole (inotify) or not at all."""
    how = mode()
    if how is None:
        return -1
    directory = os.path.abspath(os.fspath(directory))
    key = (directory, pattern)
    if key in _done or not os.path.isdir(directory) or installed(directory):
        return -1
    _done.add(key)
    if how != "poll":
        cwd = os.getcwd()
        if _under(os.path.realpath(directory), [os.path.realpath(cwd)]):
            return -1       # the working directory's watch covers it
        try:
            _hotserve.watch(directory)
        except OSError as exc:
            _log(_WARN, "warning: cannot watch %s: %s" % (directory, exc))
        return -1
    count = 0
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")
                   and d != "__pycache__"]
        for name in files:
            full = os.path.join(root, name)
            if not _match(os.path.relpath(full, directory), pattern):
                continue
            if count >= MAX_TRACKED:
                _log(_WARN, "warning: %s has more than %d files; only the "
                     "first %d are polled for changes"
                     % (directory, MAX_TRACKED, MAX_TRACKED))
                return count
            try:
                _hotserve.watch(full)
                count += 1
            except OSError:
                pass        # vanished meanwhile, unreadable
    return count


def track_file(path):
    """Under --poll, make edits of one file seen (a template loaded for the
    first time, perhaps created after startup). A no-op with inotify,
    which reports every file of the watched trees."""
    if mode() != "poll":
        return
    try:
        _hotserve.watch(os.fspath(path))
    except (OSError, ValueError, TypeError):
        pass
