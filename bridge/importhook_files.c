/* The import tracker's knowledge of files: which files are project code,
 * their signatures (for an inotify overflow), giving each project module
 * its graph node, file and watch, removing a .pyc that may be stale before
 * a project module loads, and watching where a missing module would be
 * created (the polling backend only stats tracked files). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/importhook.h"
#include "bridge/importhook_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "reload/depgraph.h"
#include "reload/log.h"
#include "reload/watch.h"

/* ---- project files ---------------------------------------------------- */

static int
is_under(const char *path, const char *dir, size_t dlen)
{
    if (strncmp(path, dir, dlen) != 0) {
        return 0;
    }
    if (dlen == 1 && dir[0] == '/') {
        return 1;
    }
    return path[dlen] == '/' || path[dlen] == '\0';
}

static int
has_component(const char *path, const char *name)
{
    size_t n = strlen(name);
    const char *p = path;

    while ((p = strstr(p, name)) != NULL) {
        if (p > path && p[-1] == '/' && (p[n] == '/' || p[n] == '\0')) {
            return 1;
        }
        p += n;
    }
    return 0;
}

/* Whether the resolved path real lies in the project: under a root, not
 * in installed packages or the interpreter's own directories. */
static int
in_project(const struct hs_importhook *h, const char *real)
{
    const char *root = NULL;
    size_t rlen = 0, i;

    for (i = 0; i < h->nroots; i++) {
        size_t l = strlen(h->roots[i]);
        if (l > rlen && is_under(real, h->roots[i], l)) {
            root = h->roots[i];
            rlen = l;
        }
    }
    if (root == NULL) {
        return 0;
    }
    /* Installed packages are never project code, even inside a root
     * (a venv in the project directory). */
    if (has_component(real + rlen - 1, "site-packages")
        || has_component(real + rlen - 1, "dist-packages")) {
        return 0;
    }
    for (i = 0; i < h->nexcl; i++) {
        size_t l = strlen(h->excl[i]);
        /* An interpreter directory counts only when it lies inside the
         * root; a root inside it (a project under /usr/src) is fine. */
        if (is_under(real, h->excl[i], l) && !is_under(root, h->excl[i], l)) {
            return 0;
        }
    }
    return 1;
}

char *
hs_importhook_project_path(const struct hs_importhook *h, const char *file)
{
    char *real;
    size_t n;

    if (h == NULL || file == NULL) {
        return NULL;
    }
    n = strlen(file);
    if (n < 4 || strcmp(file + n - 3, ".py") != 0) {
        return NULL;
    }
    real = realpath(file, NULL);
    if (real != NULL && !in_project(h, real)) {
        free(real);
        real = NULL;
    }
    return real;
}

int
hs_importhook_add_path(char ***list, size_t *len, const char *path)
{
    char *real = realpath(path, NULL);
    char **nl;

    if (real == NULL) {
        return 0;       /* a root or interpreter dir that does not exist */
    }
    nl = realloc(*list, (*len + 1) * sizeof(*nl));
    if (nl == NULL) {
        free(real);
        return -ENOMEM;
    }
    nl[(*len)++] = real;
    *list = nl;
    return 0;
}

/* ---- file signatures -------------------------------------------------- */

void
hs_importhook_note_file(struct hs_importhook *h, int id)
{
    const char *file;
    struct stat st;
    struct sig *s;

    if (h == NULL || h->graph == NULL || id < 0) {
        return;
    }
    if ((size_t)id >= h->nsigs) {
        size_t n = h->nsigs ? h->nsigs : 64;
        while (n <= (size_t)id) {
            n *= 2;
        }
        s = realloc(h->sigs, n * sizeof(*s));
        if (s == NULL) {
            return;
        }
        memset(s + h->nsigs, 0, (n - h->nsigs) * sizeof(*s));
        h->sigs = s;
        h->nsigs = n;
    }
    s = &h->sigs[id];
    file = hs_graph_file(h->graph, id);
    if (file == NULL || stat(file, &st) != 0) {
        s->valid = 0;
        return;
    }
    s->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    s->size = (int64_t)st.st_size;
    s->ino = (uint64_t)st.st_ino;
    s->valid = 1;
}

int
hs_importhook_file_changed(const struct hs_importhook *h, int id)
{
    const char *file;
    const struct sig *s;
    struct stat st;

    if (h == NULL || h->graph == NULL || id < 0) {
        return 0;
    }
    file = hs_graph_file(h->graph, id);
    if (file == NULL) {
        return 0;
    }
    if (stat(file, &st) != 0 || (size_t)id >= h->nsigs) {
        return 1;
    }
    s = &h->sigs[id];
    return !s->valid
           || s->mtime_ns != (int64_t)st.st_mtim.tv_sec * 1000000000
                             + st.st_mtim.tv_nsec
           || s->size != (int64_t)st.st_size
           || s->ino != (uint64_t)st.st_ino;
}

/* ---- registering project modules -------------------------------------- */

/* Remember every package above project module `name` ("a.b" and "a" for
 * "a.b.c"): only for those can "from pkg import x" name a project
 * submodule. Covers namespace packages, which have no file of their own. */
static void
note_packages(struct hs_importhook *h, PyObject *name)
{
    Py_ssize_t end = PyUnicode_GET_LENGTH(name);
    PyObject *pkg;

    while ((end = PyUnicode_FindChar(name, '.', 0, end, -1)) > 0) {
        pkg = PyUnicode_Substring(name, 0, end);
        if (pkg == NULL || PyDict_SetItem(h->pkgs, pkg, Py_None) < 0) {
            PyErr_Clear();
            Py_XDECREF(pkg);
            return;
        }
        Py_DECREF(pkg);
    }
    PyErr_Clear();
}

/* Give the project module `name` (a str) its node and file; register the
 * file with the watcher when it is new. Takes real (malloc'd). Returns
 * the node id, or -1 (no exception: tracking never breaks an import). */
static int
register_file(struct hs_importhook *h, PyObject *name, char *real)
{
    const char *cname = PyUnicode_AsUTF8(name);
    const char *old;
    PyObject *v;
    int id, fresh, rc;

    if (cname == NULL) {
        PyErr_Clear();
        free(real);
        return -1;
    }
    id = hs_graph_node(h->graph, cname);
    if (id < 0) {
        free(real);
        return -1;
    }
    old = hs_graph_file(h->graph, id);
    fresh = old == NULL || strcmp(old, real) != 0;
    if (hs_graph_set_file(h->graph, id, real) < 0) {
        free(real);
        return -1;
    }
    v = PyLong_FromLong(id);
    if (v == NULL || PyDict_SetItem(h->ids, name, v) < 0) {
        PyErr_Clear();
    }
    Py_XDECREF(v);
    note_packages(h, name);
    hs_importhook_note_file(h, id);
    if (fresh && h->watch != NULL) {
        struct hs_watch *w = h->watch;
        /* The watcher takes the change-set lock, a leaf that is never
         * waited for with the GIL held. */
        Py_BEGIN_ALLOW_THREADS
        rc = hs_watch_track(w, real);
        Py_END_ALLOW_THREADS
        if (rc < 0) {
            hs_log(HS_LOG_DEBUG, "cannot track %s: %s", real, strerror(-rc));
        }
    }
    free(real);
    return id;
}

int
hs_importhook_register_module(struct hs_importhook *h, PyObject *module)
{
    PyObject *name = NULL, *spec = NULL, *file = NULL, *bytes = NULL;
    char *real;
    int id = -1;

    name = PyObject_GetAttr(module, h->s_name);
    if (name == NULL || !PyUnicode_Check(name)) {
        goto done;
    }
    spec = PyObject_GetAttr(module, h->s_spec);
    if (spec != NULL && spec != Py_None) {
        file = PyObject_GetAttr(spec, h->s_origin);
    }
    if (file == NULL || !PyUnicode_Check(file)) {
        PyErr_Clear();
        Py_XSETREF(file, PyObject_GetAttr(module, h->s_file));
    }
    if (file == NULL || !PyUnicode_Check(file)) {
        goto done;
    }
    bytes = PyUnicode_EncodeFSDefault(file);
    if (bytes == NULL) {
        goto done;
    }
    real = hs_importhook_project_path(h, PyBytes_AS_STRING(bytes));
    if (real != NULL) {
        id = register_file(h, name, real);
    }
done:
    PyErr_Clear();
    Py_XDECREF(bytes);
    Py_XDECREF(file);
    Py_XDECREF(spec);
    Py_XDECREF(name);
    return id;
}

static int64_t
ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void
hs_importhook_drop_suspect_pyc(struct hs_importhook *h, PyObject *module)
{
    PyObject *spec, *origin = NULL, *cached = NULL, *ob = NULL, *cb = NULL;
    struct stat src, pyc;

    spec = PyObject_GetAttr(module, h->s_spec);
    if (spec == NULL || spec == Py_None) {
        goto done;
    }
    origin = PyObject_GetAttr(spec, h->s_origin);
    cached = PyObject_GetAttrString(spec, "cached");
    if (origin == NULL || cached == NULL || !PyUnicode_Check(origin)
        || !PyUnicode_Check(cached)) {
        goto done;
    }
    ob = PyUnicode_EncodeFSDefault(origin);
    cb = PyUnicode_EncodeFSDefault(cached);
    if (ob == NULL || cb == NULL || stat(PyBytes_AS_STRING(cb), &pyc) != 0
        || stat(PyBytes_AS_STRING(ob), &src) != 0) {
        goto done;
    }
    /* The loader trusts a .pyc whose recorded source mtime (whole
     * seconds) and size match: a same-size edit in the same second, or
     * an mtime put back by a tool, passes. The source's ctime cannot be
     * put back: a .pyc written before it may be stale. */
    if (ns_of(pyc.st_mtim) < ns_of(src.st_ctim)
        && unlink(PyBytes_AS_STRING(cb)) == 0) {
        hs_log(HS_LOG_DEBUG, "removed possibly stale %s",
               PyBytes_AS_STRING(cb));
    }
done:
    PyErr_Clear();
    Py_XDECREF(cb);
    Py_XDECREF(ob);
    Py_XDECREF(cached);
    Py_XDECREF(origin);
    Py_XDECREF(spec);
}

/* Directories of the interpreter itself: never project code. */

/* Add the str path v to the never-reloaded prefixes. Returns 0, or -1
 * with an exception set. */
static int
add_exclusion(struct hs_importhook *h, PyObject *v)
{
    PyObject *b = PyUnicode_EncodeFSDefault(v);
    int rc;

    if (b == NULL) {
        return -1;
    }
    rc = hs_importhook_add_path(&h->excl, &h->nexcl, PyBytes_AS_STRING(b));
    Py_DECREF(b);
    if (rc < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

int
hs_importhook_find_dirs(struct hs_importhook *h)
{
    static const char *const keys[] = {
        "stdlib", "platstdlib", "purelib", "platlib", NULL
    };
    static const char *const prefixes[] = { "prefix", "exec_prefix", NULL };
    PyObject *sysconfig, *paths = NULL, *v, *base;
    int i, rc = -1;

    sysconfig = PyImport_ImportModule("sysconfig");
    if (sysconfig == NULL) {
        return -1;
    }
    paths = PyObject_CallMethod(sysconfig, "get_paths", NULL);
    if (paths == NULL || !PyDict_Check(paths)) {
        goto done;
    }
    for (i = 0; keys[i] != NULL; i++) {
        v = PyDict_GetItemString(paths, keys[i]);       /* borrowed */
        if (v == NULL || !PyUnicode_Check(v)) {
            continue;
        }
        if (add_exclusion(h, v) < 0) {
            goto done;
        }
    }
    /* A venv: sys.prefix differs from sys.base_prefix. */
    base = PySys_GetObject("base_prefix");                /* borrowed */
    for (i = 0; prefixes[i] != NULL; i++) {
        v = PySys_GetObject(prefixes[i]);                 /* borrowed */
        if (v == NULL || !PyUnicode_Check(v) || base == NULL
            || PyObject_RichCompareBool(v, base, Py_EQ) == 1) {
            PyErr_Clear();
            continue;
        }
        if (add_exclusion(h, v) < 0) {
            goto done;
        }
    }
    rc = 0;
done:
    Py_XDECREF(paths);
    Py_DECREF(sysconfig);
    return rc;
}

int
hs_importhook_scan_loaded(struct hs_importhook *h)
{
    PyObject *mods = PySys_GetObject("modules");      /* borrowed */
    PyObject *items;
    Py_ssize_t i, n;

    if (mods == NULL || !PyDict_Check(mods)) {
        return 0;
    }
    items = PyDict_Values(mods);
    if (items == NULL) {
        return -1;
    }
    n = PyList_GET_SIZE(items);
    for (i = 0; i < n; i++) {
        PyObject *m = PyList_GET_ITEM(items, i);
        if (PyModule_Check(m)) {
            hs_importhook_register_module(h, m);
        }
    }
    Py_DECREF(items);
    return 0;
}

/* ---- modules that do not exist yet ------------------------------------- */

#define MISSING_DIRS_MAX 16

static void
track_candidate(struct hs_importhook *h, const char *dir, const char *last,
                const char *fmt)
{
    struct hs_watch *w = h->watch;
    char path[PATH_MAX];
    int rc;

    if ((size_t)snprintf(path, sizeof(path), fmt, dir, last)
        >= sizeof(path)) {
        return;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = hs_watch_track(w, path);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        hs_log(HS_LOG_DEBUG, "cannot track %s: %s", path, strerror(-rc));
    }
}

void
hs_importhook_track_missing(struct hs_importhook *h, PyObject *name)
{
    PyObject *dirs = NULL, *parent = NULL, *mods, *pkg;
    Py_ssize_t len, dot, i, n;
    const char *last;

    if (h->watch == NULL || name == NULL || !PyUnicode_Check(name)) {
        return;
    }
    len = PyUnicode_GET_LENGTH(name);
    dot = PyUnicode_FindChar(name, '.', 0, len, -1);
    if (dot == -2) {
        goto done;
    }
    if (dot >= 0) {
        /* A submodule: where its package looks for it. */
        parent = PyUnicode_Substring(name, 0, dot);
        mods = PyImport_GetModuleDict();                /* borrowed */
        pkg = parent != NULL ? PyDict_GetItemWithError(mods, parent) : NULL;
        if (pkg == NULL) {
            goto done;
        }
        dirs = PyObject_GetAttrString(pkg, "__path__");
        last = PyUnicode_AsUTF8(name);
        if (last != NULL) {
            last = strrchr(last, '.') + 1;
        }
    } else {
        dirs = Py_XNewRef(PySys_GetObject("path"));     /* borrowed */
        last = PyUnicode_AsUTF8(name);
    }
    if (dirs == NULL || last == NULL) {
        goto done;
    }
    /* A namespace package's __path__ is not a list. */
    Py_SETREF(dirs, PySequence_List(dirs));
    if (dirs == NULL) {
        goto done;
    }
    n = PyList_GET_SIZE(dirs);
    for (i = 0; i < n && i < MISSING_DIRS_MAX; i++) {
        PyObject *d = PyList_GET_ITEM(dirs, i), *b;
        char *real;
        if (!PyUnicode_Check(d)
            || (b = PyUnicode_EncodeFSDefault(d)) == NULL) {
            PyErr_Clear();
            continue;
        }
        real = realpath(PyBytes_AS_STRING(b)[0] ? PyBytes_AS_STRING(b) : ".",
                        NULL);
        Py_DECREF(b);
        if (real != NULL && in_project(h, real)) {
            track_candidate(h, real, last, "%s/%s.py");
            track_candidate(h, real, last, "%s/%s/__init__.py");
        }
        free(real);
    }
done:
    PyErr_Clear();
    Py_XDECREF(dirs);
    Py_XDECREF(parent);
}

