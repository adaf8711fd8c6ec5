/* The import tracker's hooks: builtins.__import__, the
 * importlib.import_module wrapper and SourceFileLoader.exec_module (which
 * keeps the executing-module stack and measures module bodies), and their
 * installation. Files and project modules are in importhook_files.c, the
 * per-thread stack and the journal in importhook_stack.c.
 *
 * Cost: an import statement run by a module that is not project code,
 * while no project module body runs, pays a call through this hook and
 * two dict lookups; the hook calls PyImport_ImportModuleLevelObject
 * directly when the original is the real builtin. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/importhook.h"
#include "bridge/importhook_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/pycompat.h"
#include "reload/depgraph.h"

static struct hs_importhook *
hook_of(PyObject *self)
{
    return PyCapsule_GetPointer(self, HOOK_CAPSULE);
}

/* ---- edges ------------------------------------------------------------ */

static PyObject *
arg_at(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
       Py_ssize_t pos, const char *kw)
{
    Py_ssize_t i, n;

    if (pos < nargs) {
        return args[pos];
    }
    if (kwnames == NULL) {
        return NULL;
    }
    n = PyTuple_GET_SIZE(kwnames);
    for (i = 0; i < n; i++) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i),
                                             kw) == 0) {
            return args[nargs + i];
        }
    }
    return NULL;
}

/* The project module owning globals (a module dict), or -1. */
static int
module_of_globals(struct hs_importhook *h, PyObject *globals)
{
    PyObject *n, *v;

    if (globals == NULL || !PyDict_Check(globals)) {
        return -1;
    }
    n = PyDict_GetItemWithError(globals, h->s_name);
    if (n == NULL || !PyUnicode_CheckExact(n)) {
        PyErr_Clear();
        return -1;
    }
    v = PyDict_GetItemWithError(h->ids, n);
    if (v == NULL) {
        PyErr_Clear();
        return -1;
    }
    return (int)PyLong_AsLong(v);
}

/* "pkg" minus level-1 trailing components, joined with name: importlib's
 * _resolve_name. NULL when it would go above the top-level package. */
static char *
join_relative(const char *package, const char *name, long level)
{
    char *base = strdup(package), *dot, *out;
    size_t n;
    long i;

    if (base == NULL) {
        return NULL;
    }
    for (i = 1; i < level; i++) {
        dot = strrchr(base, '.');
        if (dot == NULL) {
            free(base);
            return NULL;
        }
        *dot = '\0';
    }
    if (base[0] == '\0' || name[0] == '\0') {
        if (base[0] == '\0') {
            free(base);
            return NULL;
        }
        return base;
    }
    n = strlen(base) + strlen(name) + 2;
    out = malloc(n);
    if (out != NULL) {
        snprintf(out, n, "%s.%s", base, name);
    }
    free(base);
    return out;
}

/* The package a relative import in globals is relative to, like
 * importlib's _calc___package__: __package__, __spec__.parent, or derived
 * from __name__. New reference or NULL (no exception). */
static PyObject *
package_of(struct hs_importhook *h, PyObject *globals)
{
    PyObject *pkg, *spec, *name;

    pkg = PyDict_GetItemWithError(globals, h->s_package);
    if (pkg != NULL && PyUnicode_Check(pkg)) {
        return Py_NewRef(pkg);
    }
    spec = PyDict_GetItemWithError(globals, h->s_spec);
    if (spec != NULL && spec != Py_None) {
        pkg = PyObject_GetAttr(spec, h->s_parent);
        if (pkg != NULL && PyUnicode_Check(pkg)) {
            return pkg;
        }
        Py_XDECREF(pkg);
    }
    PyErr_Clear();
    name = PyDict_GetItemWithError(globals, h->s_name);
    if (name == NULL || !PyUnicode_Check(name)) {
        PyErr_Clear();
        return NULL;
    }
    if (PyDict_GetItemWithError(globals, h->s_path) != NULL) {
        return Py_NewRef(name);
    }
    PyErr_Clear();
    {
        Py_ssize_t len = PyUnicode_GET_LENGTH(name);
        Py_ssize_t dot = PyUnicode_FindChar(name, '.', 0, len, -1);
        if (dot < 0) {
            PyErr_Clear();
            return PyUnicode_FromString("");
        }
        return PyUnicode_Substring(name, 0, dot);
    }
}

static int
id_of(struct hs_importhook *h, PyObject *name)
{
    PyObject *v = PyDict_GetItemWithError(h->ids, name);

    if (v == NULL) {
        PyErr_Clear();
        return -1;
    }
    return (int)PyLong_AsLong(v);
}

/* Whether "from module import item" will fail for want of a submodule:
 * the name is neither in the module's namespace (without running a
 * module __getattr__, which may do anything) nor a loaded submodule. */
static int
lacks_name(PyObject *module, PyObject *item, const char *sub)
{
    PyObject *d;
    int r = 0;

    if (!PyModule_Check(module) || (d = PyModule_GetDict(module)) == NULL) {
        return 0;
    }
    if (PyDict_GetItemWithError(d, item) == NULL && !PyErr_Occurred()
        && PyDict_GetItemString(d, "__getattr__") == NULL
        && PyDict_GetItemString(PyImport_GetModuleDict(), sub) == NULL) {
        r = 1;
    }
    PyErr_Clear();
    return r;
}

/* Record the edges of one __import__(name, globals, locals, fromlist,
 * level) call made by module `importer`. Most imports a project module
 * makes are of library modules: those cost a dict lookup or two. */
static void
record_import(struct hs_importhook *h, int importer, PyObject *name,
              PyObject *globals, PyObject *fromlist, PyObject *level,
              PyObject *res)
{
    PyObject *pkg = NULL, *base = NULL;
    const char *cbase, *pname, *cname;
    char buf[512];
    char *rel = NULL;
    Py_ssize_t blen, i, n;
    long lvl = 0;
    int has_from = 0, tid;

    if (name == NULL || !PyUnicode_Check(name)) {
        return;
    }
    if (level != NULL && PyLong_Check(level)) {
        lvl = PyLong_AsLong(level);
    }
    if (lvl > 0) {
        if (globals == NULL || !PyDict_Check(globals)
            || (cname = PyUnicode_AsUTF8(name)) == NULL) {
            goto done;
        }
        pkg = package_of(h, globals);
        if (pkg == NULL || (pname = PyUnicode_AsUTF8(pkg)) == NULL) {
            goto done;
        }
        rel = join_relative(pname, cname, lvl);
        base = rel != NULL ? PyUnicode_FromString(rel) : NULL;
    } else {
        base = Py_NewRef(name);
    }
    if (base == NULL) {
        goto done;
    }
    if (fromlist != NULL && fromlist != Py_None) {
        if (PyTuple_Check(fromlist) || PyList_Check(fromlist)) {
            has_from = PySequence_Fast_GET_SIZE(fromlist) > 0;
        } else {
            has_from = PyObject_IsTrue(fromlist) > 0;
        }
    }
    /* "import a.b.c" depends on a.b.c although it binds a. */
    tid = id_of(h, base);
    if (tid >= 0) {
        hs_graph_add_edge(h->graph, importer, tid,
                          has_from ? HS_EDGE_BINDS : HS_EDGE_HOLDS);
    }
    if (!has_from || !(PyTuple_Check(fromlist) || PyList_Check(fromlist))
        || PyDict_GetItemWithError(h->pkgs, base) == NULL) {
        goto done;
    }
    /* "from pkg import mod": mod may be a project submodule, held. */
    cbase = PyUnicode_AsUTF8AndSize(base, &blen);
    if (cbase == NULL || (size_t)blen + 2 >= sizeof(buf)) {
        goto done;
    }
    memcpy(buf, cbase, (size_t)blen);
    buf[blen] = '.';
    n = PySequence_Fast_GET_SIZE(fromlist);
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fromlist, i);
        const char *it;
        Py_ssize_t ilen;
        if (!PyUnicode_Check(item)
            || (it = PyUnicode_AsUTF8AndSize(item, &ilen)) == NULL
            || strcmp(it, "*") == 0
            || (size_t)(blen + 1 + ilen) >= sizeof(buf)) {
            continue;
        }
        memcpy(buf + blen + 1, it, (size_t)ilen + 1);
        tid = hs_graph_find(h->graph, buf);
        if (tid >= 0) {
            hs_graph_add_edge(h->graph, importer, tid, HS_EDGE_HOLDS);
        } else if (res != NULL && lacks_name(res, item, buf)) {
            /* IMPORT_FROM is about to fail: the user will create it. */
            PyObject *sub = PyUnicode_FromString(buf);
            hs_importhook_track_missing(h, sub);
            Py_XDECREF(sub);
        }
    }
done:
    PyErr_Clear();
    free(rel);
    Py_XDECREF(base);
    Py_XDECREF(pkg);
}

/* A project module's import failed: if a module was not found, watch
 * where it would be created. */
static void
track_if_missing(struct hs_importhook *h, struct hs_pending *p)
{
    PyObject *exc = hs_pending_value(p), *name;

    if (exc == NULL
        || !PyErr_GivenExceptionMatches(exc, PyExc_ModuleNotFoundError)) {
        return;
    }
    name = PyObject_GetAttrString(exc, "name");
    hs_importhook_track_missing(h, name);
    Py_XDECREF(name);
    PyErr_Clear();
}

/* builtins.__import__(name, globals=None, locals=None, fromlist=(),
 * level=0): the original's result, plus edges. */
static PyObject *
import_hook(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
            PyObject *kwnames)
{
    struct hs_importhook *h = hook_of(self);
    PyObject *res, *globals;
    struct hs_pending pending;
    int importer;

    if (h == NULL) {
        return NULL;
    }
    if (h->orig_is_builtin && nargs == 5 && kwnames == NULL
        && PyLong_CheckExact(args[4])) {
        /* What the builtin does, minus its argument parsing: the import
         * statement always passes these five. */
        long level = PyLong_AsLong(args[4]);
        if (level >= 0 && level <= INT_MAX) {
            res = PyImport_ImportModuleLevelObject(args[0], args[1], args[2],
                                                   args[3], (int)level);
        } else {
            PyErr_Clear();
            res = PyObject_Vectorcall(h->orig_import, args, nargs, kwnames);
        }
    } else {
        res = PyObject_Vectorcall(h->orig_import, args, nargs, kwnames);
    }
    if (h->graph == NULL) {
        return res;
    }
    if (res == NULL) {
        /* A failed import still makes an edge, so that fixing the target
         * reruns the importer. */
        hs_pending_save(&pending);
    }
    globals = arg_at(args, nargs, kwnames, 1, "globals");
    /* Fast path: an import made by a non-project module while no project
     * module body runs costs two dict lookups. */
    importer = module_of_globals(h, globals);
    if (importer < 0 && h->active > 0) {
        importer = hs_importhook_stack_top(h);
    }
    if (importer >= 0 && nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0)
                             > 0) {
        record_import(h, importer, arg_at(args, nargs, kwnames, 0, "name"),
                      globals, arg_at(args, nargs, kwnames, 3, "fromlist"),
                      arg_at(args, nargs, kwnames, 4, "level"), res);
        if (res == NULL) {
            track_if_missing(h, &pending);
        }
    }
    if (res == NULL) {
        hs_pending_restore(&pending);
    }
    return res;
}

/* importlib.import_module(name, package=None): Django's include(),
 * ROOT_URLCONF and INSTALLED_APPS never pass through __import__. */
static PyObject *
import_module_hook(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                   PyObject *kwnames)
{
    struct hs_importhook *h = hook_of(self);
    PyObject *res, *name, *pkg;
    struct hs_pending pending;
    const char *s, *p;
    char *target = NULL;
    int tid, importer;

    if (h == NULL) {
        return NULL;
    }
    res = PyObject_Vectorcall(h->orig_import_module, args, nargs, kwnames);
    if (h->graph == NULL) {
        return res;
    }
    if (res == NULL) {
        hs_pending_save(&pending);
    }
    name = arg_at(args, nargs, kwnames, 0, "name");
    pkg = arg_at(args, nargs, kwnames, 1, "package");
    if (res != NULL && PyModule_Check(res)) {
        s = PyModule_GetName(res);
        target = s != NULL ? strdup(s) : NULL;
    } else if (name != NULL && PyUnicode_Check(name)
               && (s = PyUnicode_AsUTF8(name)) != NULL) {
        if (s[0] != '.') {
            target = strdup(s);
        } else if (pkg != NULL && PyUnicode_Check(pkg)
                   && (p = PyUnicode_AsUTF8(pkg)) != NULL) {
            long lvl = (long)strspn(s, ".");
            target = join_relative(p, s + lvl, lvl);
        }
    }
    PyErr_Clear();
    tid = target != NULL ? hs_graph_find(h->graph, target) : -1;
    if (tid >= 0 || res == NULL) {
        importer = hs_importhook_stack_top(h);
        if (importer < 0) {
            importer = module_of_globals(h, PyEval_GetGlobals());
        }
        if (importer >= 0 && tid >= 0) {
            hs_graph_add_edge(h->graph, importer, tid, HS_EDGE_HOLDS);
        }
        if (importer >= 0 && res == NULL) {
            track_if_missing(h, &pending);
        }
    }
    free(target);
    if (res == NULL) {
        hs_pending_restore(&pending);
    }
    return res;
}

/* SourceFileLoader.exec_module(self, module), bound through an
 * instancemethod: measure the body and keep the stack. */
static PyObject *
exec_hook(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
          PyObject *kwnames)
{
    struct hs_importhook *h = hook_of(self);
    struct hs_pending pending;
    PyObject *res;
    int id;

    if (h == NULL) {
        return NULL;
    }
    if (h->graph == NULL || nargs != 2 || kwnames != NULL) {
        return PyObject_Vectorcall(h->orig_exec, args, nargs, kwnames);
    }
    id = hs_importhook_register_module(h, args[1]);
    if (id < 0 || hs_importhook_exec_begin(h, id) < 0) {
        PyErr_Clear();
        return PyObject_Vectorcall(h->orig_exec, args, nargs, kwnames);
    }
    hs_importhook_drop_suspect_pyc(h, args[1]);
    res = PyObject_Vectorcall(h->orig_exec, args, nargs, kwnames);
    if (res == NULL) {
        hs_pending_save(&pending);
    }
    hs_importhook_exec_end(h, id, res != NULL);
    if (res == NULL) {
        hs_pending_restore(&pending);
    }
    return res;
}

static PyMethodDef import_def = {
    "__import__", (PyCFunction)(void (*)(void))import_hook,
    METH_FASTCALL | METH_KEYWORDS,
    "hotserve's import tracker around the original __import__."
};

static PyMethodDef import_module_def = {
    "import_module", (PyCFunction)(void (*)(void))import_module_hook,
    METH_FASTCALL | METH_KEYWORDS,
    "hotserve's import tracker around importlib.import_module."
};

static PyMethodDef exec_def = {
    "exec_module", (PyCFunction)(void (*)(void))exec_hook,
    METH_FASTCALL | METH_KEYWORDS,
    "hotserve's import tracker around SourceFileLoader.exec_module."
};

/* ---- lifetime ----------------------------------------------------------- */

static void
hook_destroy(PyObject *cap)
{
    struct hs_importhook *h = PyCapsule_GetPointer(cap, HOOK_CAPSULE);
    size_t i;

    if (h == NULL) {
        PyErr_Clear();
        return;
    }
    Py_CLEAR(h->fn_import);
    Py_CLEAR(h->fn_import_module);
    Py_CLEAR(h->fn_exec);
    Py_CLEAR(h->orig_import);
    Py_CLEAR(h->orig_import_module);
    Py_CLEAR(h->orig_exec);
    Py_CLEAR(h->builtins);
    Py_CLEAR(h->importlib);
    Py_CLEAR(h->loader_cls);
    Py_CLEAR(h->ids);
    Py_CLEAR(h->pkgs);
    Py_CLEAR(h->key_stack);
    Py_CLEAR(h->s_name);
    Py_CLEAR(h->s_package);
    Py_CLEAR(h->s_spec);
    Py_CLEAR(h->s_parent);
    Py_CLEAR(h->s_path);
    Py_CLEAR(h->s_origin);
    Py_CLEAR(h->s_file);
    for (i = 0; i < h->nroots; i++) {
        free(h->roots[i]);
    }
    free(h->roots);
    for (i = 0; i < h->nexcl; i++) {
        free(h->excl[i]);
    }
    free(h->excl);
    free(h->sigs);
    free(h->jr);
    free(h);
}

struct hs_importhook *
hs_importhook_new(struct hs_graph *g, struct hs_watch *watch,
                  const char *const *roots, size_t nroots)
{
    struct hs_importhook *h = calloc(1, sizeof(*h));
    size_t i;

    if (h == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    h->capsule = PyCapsule_New(h, HOOK_CAPSULE, hook_destroy);
    if (h->capsule == NULL) {
        free(h);
        return NULL;
    }
    h->graph = g;
    h->watch = watch;
    for (i = 0; i < nroots; i++) {
        if (hs_importhook_add_path(&h->roots, &h->nroots, roots[i]) < 0) {
            PyErr_NoMemory();
            goto fail;
        }
    }
    h->ids = PyDict_New();
    h->pkgs = PyDict_New();
    h->key_stack = PyUnicode_InternFromString(STACK_CAPSULE);
    h->s_name = PyUnicode_InternFromString("__name__");
    h->s_package = PyUnicode_InternFromString("__package__");
    h->s_spec = PyUnicode_InternFromString("__spec__");
    h->s_parent = PyUnicode_InternFromString("parent");
    h->s_path = PyUnicode_InternFromString("__path__");
    h->s_origin = PyUnicode_InternFromString("origin");
    h->s_file = PyUnicode_InternFromString("__file__");
    if (h->ids == NULL || h->pkgs == NULL || h->key_stack == NULL
        || h->s_name == NULL || h->s_package == NULL || h->s_spec == NULL
        || h->s_parent == NULL || h->s_path == NULL || h->s_origin == NULL
        || h->s_file == NULL) {
        goto fail;
    }
    return h;
fail:
    h->graph = NULL;
    Py_DECREF(h->capsule);      /* frees h */
    return NULL;
}

/* Put back what is still ours. Never fails (errors are cleared). */
static void
uninstall(struct hs_importhook *h)
{
    PyObject *cur;

    if (h->builtins != NULL && h->fn_import != NULL) {
        cur = PyObject_GetAttrString(h->builtins, "__import__");
        if (cur == h->fn_import) {
            PyObject_SetAttrString(h->builtins, "__import__", h->orig_import);
        }
        Py_XDECREF(cur);
    }
    if (h->importlib != NULL && h->fn_import_module != NULL) {
        cur = PyObject_GetAttrString(h->importlib, "import_module");
        if (cur == h->fn_import_module) {
            PyObject_SetAttrString(h->importlib, "import_module",
                                   h->orig_import_module);
        }
        Py_XDECREF(cur);
    }
    if (h->loader_cls != NULL && h->fn_exec != NULL) {
        PyObject *d = PyObject_GetAttrString(h->loader_cls, "__dict__");
        cur = d != NULL ? PyMapping_GetItemString(d, "exec_module") : NULL;
        if (cur == h->fn_exec) {
            if (h->had_own_exec) {
                PyObject_SetAttrString(h->loader_cls, "exec_module",
                                       h->orig_exec);
            } else {
                PyObject_DelAttrString(h->loader_cls, "exec_module");
            }
        }
        Py_XDECREF(cur);
        Py_XDECREF(d);
    }
    PyErr_Clear();
    h->installed = 0;
}

int
hs_importhook_install(struct hs_importhook *h)
{
    PyObject *machinery = NULL, *d = NULL, *cf = NULL;

    if (h->installed) {
        return 0;
    }
    if (hs_importhook_find_dirs(h) < 0) {
        return -1;
    }
    h->builtins = PyImport_ImportModule("builtins");
    h->importlib = PyImport_ImportModule("importlib");
    machinery = PyImport_ImportModule("importlib.machinery");
    if (h->builtins == NULL || h->importlib == NULL || machinery == NULL) {
        goto fail;
    }
    h->loader_cls = PyObject_GetAttrString(machinery, "SourceFileLoader");
    h->orig_import = PyObject_GetAttrString(h->builtins, "__import__");
    h->orig_import_module = PyObject_GetAttrString(h->importlib,
                                                   "import_module");
    if (h->loader_cls == NULL || h->orig_import == NULL
        || h->orig_import_module == NULL) {
        goto fail;
    }
    h->orig_is_builtin = PyCFunction_Check(h->orig_import)
        && PyCFunction_GET_SELF(h->orig_import) == h->builtins
        && strcmp(((PyCFunctionObject *)h->orig_import)->m_ml->ml_name,
                  "__import__") == 0;
    h->orig_exec = PyObject_GetAttrString(h->loader_cls, "exec_module");
    d = PyObject_GetAttrString(h->loader_cls, "__dict__");
    if (h->orig_exec == NULL || d == NULL) {
        goto fail;
    }
    h->had_own_exec = PyMapping_HasKeyString(d, "exec_module");

    h->fn_import = PyCFunction_NewEx(&import_def, h->capsule, NULL);
    h->fn_import_module = PyCFunction_NewEx(&import_module_def, h->capsule,
                                            NULL);
    cf = PyCFunction_NewEx(&exec_def, h->capsule, NULL);
    if (h->fn_import == NULL || h->fn_import_module == NULL || cf == NULL) {
        goto fail;
    }
    /* A builtin function is not a descriptor; instancemethod makes
     * loader.exec_module(module) pass the loader as first argument. */
    h->fn_exec = PyInstanceMethod_New(cf);
    if (h->fn_exec == NULL) {
        goto fail;
    }
    /* Register what is already loaded first, so edges made while
     * installing are not lost. */
    if (hs_importhook_scan_loaded(h) < 0) {
        goto fail;
    }
    if (PyObject_SetAttrString(h->loader_cls, "exec_module", h->fn_exec) < 0
        || PyObject_SetAttrString(h->importlib, "import_module",
                                  h->fn_import_module) < 0
        || PyObject_SetAttrString(h->builtins, "__import__",
                                  h->fn_import) < 0) {
        goto fail;
    }
    h->installed = 1;
    Py_DECREF(cf);
    Py_DECREF(d);
    Py_DECREF(machinery);
    return 0;
fail:
    {
        PyObject *exc = hs_err_take();
        uninstall(h);
        hs_err_restore(exc);
    }
    Py_XDECREF(cf);
    Py_XDECREF(d);
    Py_XDECREF(machinery);
    return -1;
}

void
hs_importhook_free(struct hs_importhook *h)
{
    PyObject *cap;

    if (h == NULL) {
        return;
    }
    if (h->installed) {
        uninstall(h);
    }
    h->graph = NULL;
    h->watch = NULL;
    h->journaling = 0;
    /* Our function objects point back at the capsule: drop them so the
     * capsule (and h) go away unless somebody kept one. The originals
     * stay until then, for whoever kept one to forward to. */
    Py_CLEAR(h->fn_import);
    Py_CLEAR(h->fn_import_module);
    Py_CLEAR(h->fn_exec);
    cap = h->capsule;
    h->capsule = NULL;
    Py_DECREF(cap);
}
