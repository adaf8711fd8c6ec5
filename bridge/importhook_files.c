/* The import tracker's knowledge of files: which files are project code,
 * their signatures (for an inotify overflow), and giving each project
 * module its graph node, file and watch. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/importhook.h"
#include "bridge/importhook_int.h"

#include <errno.h>
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

char *
hs_importhook_project_path(const struct hs_importhook *h, const char *file)
{
    char *real;
    const char *root = NULL;
    size_t rlen = 0, n, i;

    if (h == NULL || file == NULL) {
        return NULL;
    }
    n = strlen(file);
    if (n < 4 || strcmp(file + n - 3, ".py") != 0) {
        return NULL;
    }
    real = realpath(file, NULL);
    if (real == NULL) {
        return NULL;
    }
    for (i = 0; i < h->nroots; i++) {
        size_t l = strlen(h->roots[i]);
        if (l > rlen && is_under(real, h->roots[i], l)) {
            root = h->roots[i];
            rlen = l;
        }
    }
    if (root == NULL) {
        goto no;
    }
    /* Installed packages are never project code, even inside a root
     * (a venv in the project directory). */
    if (has_component(real + rlen - 1, "site-packages")
        || has_component(real + rlen - 1, "dist-packages")) {
        goto no;
    }
    for (i = 0; i < h->nexcl; i++) {
        size_t l = strlen(h->excl[i]);
        /* An interpreter directory counts only when it lies inside the
         * root; a root inside it (a project under /usr/src) is fine. */
        if (is_under(real, h->excl[i], l) && !is_under(root, h->excl[i], l)) {
            goto no;
        }
    }
    return real;
no:
    free(real);
    return NULL;
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

/* Directories of the interpreter itself: never project code. */
int
hs_importhook_find_dirs(struct hs_importhook *h)
{
    static const char *const keys[] = {
        "stdlib", "platstdlib", "purelib", "platlib", NULL
    };
    static const char *const prefixes[] = { "prefix", "exec_prefix", NULL };
    PyObject *sysconfig, *paths = NULL, *v, *b, *base;
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
        b = PyUnicode_EncodeFSDefault(v);
        if (b == NULL) {
            goto done;
        }
        if (hs_importhook_add_path(&h->excl, &h->nexcl,
                                   PyBytes_AS_STRING(b)) < 0) {
            Py_DECREF(b);
            PyErr_NoMemory();
            goto done;
        }
        Py_DECREF(b);
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
        b = PyUnicode_EncodeFSDefault(v);
        if (b == NULL) {
            goto done;
        }
        if (hs_importhook_add_path(&h->excl, &h->nexcl,
                                   PyBytes_AS_STRING(b)) < 0) {
            Py_DECREF(b);
            PyErr_NoMemory();
            goto done;
        }
        Py_DECREF(b);
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
