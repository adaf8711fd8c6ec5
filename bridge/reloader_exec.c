/* Executing a reload plan: re-run the modules in dependency order in
 * cleared namespaces, roll every one of them back when anything fails,
 * otherwise commit (code swap, hooks, caches) and report. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/reloader.h"
#include "bridge/reloader_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/app.h"
#include "bridge/importhook.h"
#include "bridge/pycompat.h"
#include "reload/depgraph.h"
#include "reload/log.h"

enum { E_LOADED = 1, E_SNAPSHOT = 2, E_DONE = 3 };

/* One module of the plan being executed. */
struct entry {
    int id;
    int state;                      /* 0: not loaded at start, or E_* */
    int deleted;
    PyObject *module;               /* strong, NULL if not loaded */
    PyObject *snapshot;             /* its namespace before the reload */
    int *eto;                       /* its import edges before the reload */
    unsigned *ekind;
    size_t nedge;
    int edges_saved;
};

/* ---- executing a plan --------------------------------------------------- */

/* Drop a deleted module from sys.modules and from its package, so that
 * importers running again import it for real (and fail, naming it). */
static void
forget_module(const char *name)
{
    PyObject *mods = PyImport_GetModuleDict();      /* borrowed */
    PyObject *mod, *parent;
    const char *dot = strrchr(name, '.');

    mod = PyDict_GetItemString(mods, name);         /* borrowed */
    if (mod == NULL) {
        return;
    }
    Py_INCREF(mod);
    if (PyDict_DelItemString(mods, name) < 0) {
        PyErr_Clear();
    }
    if (dot != NULL) {
        char *pname = strndup(name, (size_t)(dot - name));
        parent = pname != NULL ? PyDict_GetItemString(mods, pname) : NULL;
        if (parent != NULL) {
            PyObject *child = PyObject_GetAttrString(parent, dot + 1);
            if (child == mod && PyObject_DelAttrString(parent, dot + 1) < 0) {
                PyErr_Clear();
            }
            Py_XDECREF(child);
        }
        free(pname);
    }
    PyErr_Clear();
    Py_DECREF(mod);
}

static PyObject *
read_source(const char *path)
{
    PyObject *out = NULL;
    struct stat st;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
    }
    if (fstat(fd, &st) != 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)st.st_size);
    if (out == NULL) {
        goto done;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, PyBytes_AS_STRING(out) + got,
                         (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
            Py_CLEAR(out);
            goto done;
        }
        if (n == 0) {
            break;      /* truncated while we read: take what is there */
        }
        got += (size_t)n;
    }
    if (got < (size_t)st.st_size) {
        _PyBytes_Resize(&out, (Py_ssize_t)got);
    }
done:
    close(fd);
    return out;
}

static int
save_edges(struct hs_reloader *r, struct entry *e)
{
    size_t n = hs_graph_nimports(r->graph, e->id), j;
    unsigned k;
    int dep;

    for (j = 0; j < n; j++) {
        if (hs_graph_import_at(r->graph, e->id, j, &dep, &k) < 0) {
            continue;
        }
        if ((e->nedge & 15) == 0) {
            int *to = realloc(e->eto, (e->nedge + 16) * sizeof(*to));
            unsigned *kind;
            if (to == NULL) {
                return -1;
            }
            e->eto = to;
            kind = realloc(e->ekind, (e->nedge + 16) * sizeof(*kind));
            if (kind == NULL) {
                return -1;
            }
            e->ekind = kind;
        }
        e->eto[e->nedge] = dep;
        e->ekind[e->nedge] = k;
        e->nedge++;
    }
    e->edges_saved = 1;
    return 0;
}

/* Names carried over into the cleared namespace: the import machinery's.
 * __doc__ is reset to None (the code sets it when it has a docstring). */
static const char *const preserved[] = {
    "__name__", "__loader__", "__spec__", "__package__", "__file__",
    "__cached__", "__path__", "__builtins__", NULL
};

static int
call_hook(PyObject *ns, const char *name)
{
    PyObject *f = PyDict_GetItemString(ns, name);   /* borrowed */
    PyObject *res;

    if (f == NULL || !PyCallable_Check(f)) {
        return 0;
    }
    res = PyObject_CallNoArgs(f);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

/* Prepare the cleared namespace d of module `name` from its snapshot. */
static int
seed_namespace(PyObject *d, PyObject *snap, const char *name)
{
    PyObject *key, *val, *keep;
    Py_ssize_t pos = 0, i, n;
    size_t nlen = strlen(name);
    int j;

    for (j = 0; preserved[j] != NULL; j++) {
        val = PyDict_GetItemString(snap, preserved[j]);
        if (val != NULL && PyDict_SetItemString(d, preserved[j], val) < 0) {
            return -1;
        }
    }
    if (PyDict_SetItemString(d, "__doc__", Py_None) < 0) {
        return -1;
    }
    if (PyDict_GetItemString(d, "__builtins__") == NULL
        && PyDict_SetItemString(d, "__builtins__",
                                PyEval_GetBuiltins()) < 0) {
        return -1;
    }
    /* Attributes the import system set on a package for its loaded
     * submodules (pkg.views): they are not in the package's source. */
    while (PyDict_Next(snap, &pos, &key, &val)) {
        const char *sub, *k;
        if (!PyModule_Check(val) || !PyUnicode_Check(key)) {
            continue;
        }
        sub = PyModule_GetName(val);
        k = PyUnicode_AsUTF8(key);
        if (sub == NULL || k == NULL) {
            PyErr_Clear();
            continue;
        }
        if (strncmp(sub, name, nlen) == 0 && sub[nlen] == '.'
            && strcmp(sub + nlen + 1, k) == 0
            && PyDict_SetItem(d, key, val) < 0) {
            return -1;
        }
    }
    /* State the module asked to keep: __hotserve_keep__ = ("cache",). */
    keep = PyDict_GetItemString(snap, "__hotserve_keep__");
    if (keep == NULL) {
        return 0;
    }
    if (!PyTuple_Check(keep) && !PyList_Check(keep)) {
        PyErr_Format(PyExc_TypeError, "%s.__hotserve_keep__ must be a tuple "
                     "or list of names, not %.100s", name,
                     Py_TYPE(keep)->tp_name);
        return -1;
    }
    n = PySequence_Fast_GET_SIZE(keep);
    for (i = 0; i < n; i++) {
        key = PySequence_Fast_GET_ITEM(keep, i);
        if (!PyUnicode_Check(key)) {
            PyErr_Format(PyExc_TypeError, "%s.__hotserve_keep__ must hold "
                         "names (str), not %.100s", name,
                         Py_TYPE(key)->tp_name);
            return -1;
        }
        val = PyDict_GetItemWithError(snap, key);
        if (val == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (val != NULL && PyDict_SetItem(d, key, val) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Run module e again from its file. -1 with an exception set on failure
 * (the namespace is then restored by rollback). */
static int
reexec(struct hs_reloader *r, struct entry *e)
{
    const char *name = hs_graph_name(r->graph, e->id);
    const char *file = hs_graph_file(r->graph, e->id);
    PyObject *d = PyModule_GetDict(e->module);      /* borrowed */
    PyObject *src = NULL, *fname = NULL, *code = NULL, *res, *exc;
    int rc = -1;

    if (name == NULL || file == NULL || d == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "module without a file");
        return -1;
    }
    e->snapshot = PyDict_Copy(d);
    if (e->snapshot == NULL
        || PyDict_SetItemString(r->previous, name, e->snapshot) < 0) {
        return -1;
    }
    e->state = E_SNAPSHOT;
    if (call_hook(e->snapshot, "__hotserve_before_reload__") < 0) {
        return -1;
    }
    src = read_source(file);
    if (src == NULL) {
        goto done;
    }
    /* Tracebacks show the module's own __file__ (the path it was
     * imported by), not the resolved one. */
    fname = PyDict_GetItemString(e->snapshot, "__file__");
    if (fname != NULL && PyUnicode_Check(fname)) {
        Py_INCREF(fname);
    } else {
        fname = PyUnicode_DecodeFSDefault(file);
        if (fname == NULL) {
            goto done;
        }
    }
    /* From source, always: a same-size edit within one second would
     * otherwise pass the .pyc check (cstack.md 3.2). */
    code = PyObject_CallFunction(r->compile, "OOsii", src, fname, "exec", 0,
                                 1);
    if (code == NULL) {
        goto done;
    }
    if (save_edges(r, e) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    /* Removed names must disappear: run in a cleared namespace. */
    PyDict_Clear(d);
    if (seed_namespace(d, e->snapshot, name) < 0) {
        goto done;
    }
    hs_graph_clear_imports(r->graph, e->id);
    if (hs_importhook_exec_begin(r->hook, e->id) < 0) {
        goto done;
    }
    res = PyEval_EvalCode(code, d, d);
    exc = res == NULL ? hs_err_take() : NULL;
    hs_importhook_exec_end(r->hook, e->id, res != NULL);
    hs_importhook_note_file(r->hook, e->id);
    if (res == NULL) {
        hs_err_restore(exc);
        goto done;
    }
    Py_DECREF(res);
    e->state = E_DONE;
    rc = 0;
done:
    Py_XDECREF(code);
    Py_XDECREF(fname);
    Py_XDECREF(src);
    return rc;
}

static void
rollback(struct hs_reloader *r, struct entry *e, size_t n)
{
    PyObject *exc = hs_err_take();
    size_t i, j;

    for (i = n; i-- > 0;) {
        if (e[i].snapshot != NULL && e[i].module != NULL) {
            PyObject *d = PyModule_GetDict(e[i].module);
            PyDict_Clear(d);
            if (PyDict_Update(d, e[i].snapshot) < 0) {
                PyErr_Clear();
            }
        }
        /* Keep the edges the failed run found as well: over-approximate,
         * so fixing any of them retries this module. */
        if (e[i].edges_saved) {
            for (j = 0; j < e[i].nedge; j++) {
                hs_graph_add_edge(r->graph, e[i].id, e[i].eto[j],
                                  e[i].ekind[j]);
            }
        }
    }
    hs_err_restore(exc);
}

/* ---- the plan ------------------------------------------------------------ */

static int
merge_ids(const struct hs_reloader *r, const struct hs_reload_batch *b,
          int **out, size_t *nout)
{
    size_t n = b->nids + r->nfailed, i, j, k = 0;
    int *ids = malloc((n ? n : 1) * sizeof(*ids));

    if (ids == NULL) {
        return -ENOMEM;
    }
    for (i = 0; i < b->nids; i++) {
        ids[k++] = b->ids[i];
    }
    for (i = 0; i < r->nfailed; i++) {
        for (j = 0; j < k && ids[j] != r->failed[i]; j++) {
        }
        if (j == k) {
            ids[k++] = r->failed[i];
        }
    }
    *out = ids;
    *nout = k;
    return 0;
}

static int
app_needs_reload(const struct hs_reloader *r, const struct entry *e,
                 size_t n)
{
    int id;
    size_t i;

    if (r->app == NULL) {
        return 0;
    }
    if (r->app->callable == NULL) {
        return 1;
    }
    id = hs_graph_find(r->graph, r->app->module);
    for (i = 0; id >= 0 && i < n; i++) {
        if (e[i].id == id && e[i].state == E_DONE) {
            return 1;
        }
    }
    return 0;
}

static void
set_failure(struct hs_reloader *r, PyObject *exc, const char *trigger,
            PyObject *plan_names, int *changed, size_t nchanged)
{
    char list[HS_RELOAD_LIST_MAX + 64];
    size_t n;

    list[0] = '\0';
    if (plan_names != NULL) {
        hs_reloader_names_text(plan_names, list, sizeof(list));
    }
    n = strlen(trigger) + strlen(list) + 32;
    free(r->failure_ctx);
    r->failure_ctx = malloc(n);
    if (r->failure_ctx != NULL) {
        snprintf(r->failure_ctx, n, "while reloading %s%s%s", trigger,
                 list[0] ? ": " : "", list);
    }
    Py_XSETREF(r->failure, Py_NewRef(exc));
    free(r->failed);
    r->failed = changed;
    r->nfailed = nchanged;
}

static void
clear_failure(struct hs_reloader *r)
{
    Py_CLEAR(r->failure);
    free(r->failure_ctx);
    r->failure_ctx = NULL;
    free(r->failed);
    r->failed = NULL;
    r->nfailed = 0;
}

/* Execute a batch. GIL and the reload write side held. Never fails: the
 * outcome is logged and recorded (failure state, status). */
void
hs_reloader_execute(struct hs_reloader *r, struct hs_reload_batch *b)
{
    uint64_t t0 = hs_reloader_now_ns();
    struct hs_plan plan = {0};
    struct entry *e = NULL;
    int *changed = NULL;
    size_t nchanged = 0, i, nj = 0;
    PyObject *exc = NULL, *names = NULL, *plan_names = NULL;
    PyObject *deleted = NULL, *res;
    const struct hs_exec_record *jr;
    int ok = 0, app_reloaded = 0;
    char trigger[512], list[HS_RELOAD_LIST_MAX + 64];
    char *err = NULL;
    double total_ms;

    hs_reloader_trigger_text(r, b, trigger, sizeof(trigger));
    hs_importhook_journal_start(r->hook);
    names = PyList_New(0);
    plan_names = PyList_New(0);
    deleted = PyList_New(0);
    r->previous = PyDict_New();
    if (names == NULL || plan_names == NULL || deleted == NULL
        || r->previous == NULL || merge_ids(r, b, &changed, &nchanged) < 0
        || hs_graph_plan(r->graph, changed, nchanged, &plan) < 0
        || (e = calloc(plan.len ? plan.len : 1, sizeof(*e))) == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        exc = hs_err_take();
        goto report;
    }
    /* Directory listings cached by FileFinder miss created and moved
     * files; invalidating is cheap (lazily re-listed). */
    res = PyObject_CallMethod(r->importlib, "invalidate_caches", NULL);
    Py_XDECREF(res);
    PyErr_Clear();
    for (i = 0; i < b->nids; i++) {
        const char *name = hs_graph_name(r->graph, b->ids[i]);
        PyObject *s;
        if (!b->deleted[i]) {
            continue;
        }
        forget_module(name);
        s = PyUnicode_FromString(name);
        if (s == NULL || PyList_Append(deleted, s) < 0) {
            PyErr_Clear();
        }
        Py_XDECREF(s);
    }
    for (i = 0; i < plan.len; i++) {
        const char *name = hs_graph_name(r->graph, plan.order[i]);
        PyObject *m, *s = PyUnicode_FromString(name);
        e[i].id = plan.order[i];
        if (s == NULL || PyList_Append(plan_names, s) < 0) {
            PyErr_Clear();
        }
        Py_XDECREF(s);
        m = PyDict_GetItemString(PyImport_GetModuleDict(), name);
        if (m != NULL && PyModule_Check(m)) {
            e[i].module = Py_NewRef(m);
            e[i].state = E_LOADED;
        }
    }
    for (i = 0; i < plan.len; i++) {
        if (e[i].state == E_LOADED && reexec(r, &e[i]) < 0) {
            goto failed;
        }
    }
    for (i = 0; i < plan.len; i++) {
        if (e[i].state == E_DONE && call_hook(PyModule_GetDict(e[i].module),
                                              "__hotserve_after_reload__")
                                    < 0) {
            goto failed;
        }
    }
    if (app_needs_reload(r, e, plan.len)) {
        app_reloaded = 1;
        if (hs_app_load(r->app) < 0) {
            exc = r->app->error != NULL ? Py_NewRef(r->app->error) : NULL;
            if (exc == NULL) {
                PyErr_SetString(PyExc_RuntimeError,
                                "the application could not be loaded");
            }
            goto failed;
        }
    }
    ok = 1;
failed:
    if (!ok) {
        if (exc == NULL) {
            exc = hs_err_take();
        }
        rollback(r, e, plan.len);
    }
    hs_importhook_journal_stop(r->hook);
    nj = hs_importhook_journal(r->hook, &jr);
    for (i = 0; i < nj; i++) {
        PyObject *s = PyUnicode_FromString(hs_graph_name(r->graph, jr[i].id));
        if (s == NULL || PyList_Append(names, s) < 0) {
            PyErr_Clear();
        }
        Py_XDECREF(s);
    }
    if (ok) {
        /* Old function objects kept elsewhere (decorators, lru_cache,
         * modules outside the plan) run the new code from now on. */
        for (i = 0; i < plan.len; i++) {
            if (e[i].state == E_DONE) {
                hs_reloader_call_package(
                    "hotserve._swap", "update_namespace", "(sOO)",
                    hs_graph_name(r->graph, e[i].id),
                    PyModule_GetDict(e[i].module), e[i].snapshot);
            }
        }
        if (nj > 0 || PyList_GET_SIZE(deleted) > 0 || app_reloaded) {
            /* The changed modules themselves, apart from their importers:
             * integrations skip work that only they can make stale
             * (Django's system checks). */
            PyObject *changed_names = PyList_New(0);
            for (i = 0; changed_names != NULL && i < b->nids; i++) {
                PyObject *s = PyUnicode_FromString(
                    hs_graph_name(r->graph, b->ids[i]));
                if (s == NULL || PyList_Append(changed_names, s) < 0) {
                    PyErr_Clear();
                }
                Py_XDECREF(s);
            }
            if (changed_names == NULL) {
                PyErr_Clear();
            }
            hs_reloader_call_package("hotserve", "_after_reload", "(OO)",
                                     names, changed_names ? changed_names
                                                          : Py_None);
            Py_XDECREF(changed_names);
        }
    }
report:
    hs_importhook_journal_stop(r->hook);
    total_ms = (double)(hs_reloader_now_ns() - t0) / 1e6;
    if (ok && nj == 0 && PyList_GET_SIZE(deleted) == 0 && !app_reloaded) {
        /* Only modules nobody has loaded changed: nothing ran, and a
         * failure on record is not fixed by it. */
        goto done;
    }
    if (ok) {
        for (i = 0; i < (size_t)PyList_GET_SIZE(deleted); i++) {
            PyObject *s = PyUnicode_FromFormat(
                "%U (deleted)", PyList_GET_ITEM(deleted, i));
            if (s == NULL || PyList_Append(names, s) < 0) {
                PyErr_Clear();
            }
            Py_XDECREF(s);
        }
        r->reloads++;
        clear_failure(r);
        hs_reloader_names_text(names, list, sizeof(list));
        hs_log(HS_LOG_INFO, "reloaded %zd module%s in %.1f ms (%s)%s%s",
               PyList_GET_SIZE(names), PyList_GET_SIZE(names) == 1 ? "" : "s",
               total_ms, trigger, list[0] ? ": " : "", list);
    } else {
        PyObject *named;
        if (exc == NULL) {
            exc = PyObject_CallFunction(PyExc_RuntimeError, "s",
                                        "reload failed");
        }
        named = exc != NULL ? hs_reloader_name_deleted(r, b, exc) : NULL;
        Py_XSETREF(exc, named);
        r->failures++;
        if (exc != NULL) {
            b->restart = hs_reloader_failure_wants_restart(
                r, exc, plan.order, plan.len, b, b->restart_why,
                sizeof(b->restart_why));
            err = hs_reloader_exc_line(exc);
            set_failure(r, exc, trigger, plan_names, changed, nchanged);
            changed = NULL;
            hs_log(b->restart ? HS_LOG_WARN : HS_LOG_ERROR,
                   "reload failed (%s): %s", trigger,
                   err != NULL ? err : "?");
            if (!b->restart) {
                hs_reloader_log_traceback(exc);
            }
        }
    }
    Py_XSETREF(r->last,
               hs_reloader_status_last(r, b, ok, err, total_ms, deleted));
done:
    PyErr_Clear();
    for (i = 0; e != NULL && i < plan.len; i++) {
        Py_XDECREF(e[i].module);
        Py_XDECREF(e[i].snapshot);
        free(e[i].eto);
        free(e[i].ekind);
    }
    free(e);
    free(err);
    free(changed);
    hs_plan_free(&plan);
    Py_CLEAR(r->previous);
    Py_XDECREF(exc);
    Py_XDECREF(deleted);
    Py_XDECREF(plan_names);
    Py_XDECREF(names);
}
