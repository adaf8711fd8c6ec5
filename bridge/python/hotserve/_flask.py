"""Flask under hotserve: template edits show without debug mode.

Jinja caches compiled templates and checks the files again only when
``auto_reload`` is on, which Flask ties to debug mode
(TEMPLATES_AUTO_RELOAD). hotserve knows when files change, so it clears
the cache of every Flask app it serves when a non-Python file changes and
after every reload; the template folders of the app and its blueprints are
watched (tracked file by file under --poll, also outside the working
directory).
"""
import os
import weakref

from hotserve import _watchfiles

_apps = weakref.WeakSet()


def _template_folders(app):
    folders = []
    for owner in [app] + list(getattr(app, "blueprints", {}).values()):
        folder = getattr(owner, "template_folder", None)
        root = getattr(owner, "root_path", None)
        if folder and root:
            folders.append(os.path.join(root, folder))
    return folders


def _clear(app):
    env = app.jinja_env
    cache = getattr(env, "cache", None)
    if cache is not None:
        cache.clear()


_jinja_patched = False


def _track_jinja_files():
    """Under --poll: track every template file Jinja reads, so templates
    created after startup are seen once used."""
    global _jinja_patched
    if _jinja_patched:
        return
    import jinja2.loaders

    original = jinja2.loaders.FileSystemLoader.get_source

    def get_source(self, environment, template):
        result = original(self, environment, template)
        _watchfiles.track_file(result[1])
        return result

    get_source.__wrapped__ = original
    jinja2.loaders.FileSystemLoader.get_source = get_source
    _jinja_patched = True


def app_loaded(app):
    _apps.add(app)
    if _watchfiles.mode() == "poll":
        _track_jinja_files()
    for folder in _template_folders(app):
        _watchfiles.watch_tree(folder, "**/*")


def files_changed(paths, overflow=False):
    for app in list(_apps):
        _clear(app)


def after_reload(modules, changed=None):
    for app in list(_apps):
        _clear(app)
