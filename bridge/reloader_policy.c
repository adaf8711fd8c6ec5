/* When a change is a full restart instead of an in-process reload.
 *
 * Checked at the barrier, before the request is dispatched, in this
 * order (the first that applies is the reason logged):
 *  1. events were lost (inotify queue overflow): nobody knows what
 *     changed, a fresh process reads everything again;
 *  2. a changed file matches a --restart-on glob, or one of the
 *     framework's defaults (Django: the settings module's file or
 *     package, models.py, models/, apps.py, migrations/, .env);
 *  3. --strategy restart and a loaded module changed;
 *  4. the plan would re-run Django's settings module (a module it
 *     imports changed): Django read the settings once, at setup;
 *  5. a module of the plan sets __hotserve_reload__ = False;
 *  6. more than --restart-threshold loaded modules changed at once (a
 *     branch switch);
 *  7. the plan's predicted cost (sum of the measured execution times of
 *     its modules, hs_plan_cost_ns) exceeds what a restart costs here
 *     (process start to app loaded): an in-process reload is never
 *     slower than a restart.
 * And after executing: a reload that failed outside the code that ran
 * (hs_reloader_failure_wants_restart, rule at its definition).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/reloader.h"
#include "bridge/reloader_int.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/app.h"
#include "bridge/importhook.h"
#include "bridge/pycompat.h"
#include "reload/changeset.h"
#include "reload/depgraph.h"
#include "reload/log.h"

static int
copy_list(char ***out, size_t *nout, const char *const *in, size_t n)
{
    size_t i;

    *out = calloc(n ? n : 1, sizeof(**out));
    if (*out == NULL) {
        return -ENOMEM;
    }
    for (i = 0; i < n; i++) {
        (*out)[i] = strdup(in[i]);
        if ((*out)[i] == NULL) {
            return -ENOMEM;
        }
        (*nout)++;
    }
    return 0;
}

static void
free_list(char ***list, size_t *n)
{
    size_t i;

    for (i = 0; *list != NULL && i < *n; i++) {
        free((*list)[i]);
    }
    free(*list);
    *list = NULL;
    *n = 0;
}

int
hs_reloader_set_restart(struct hs_reloader *r,
                        const struct hs_reloader_restart *cfg)
{
    free_list(&r->globs, &r->nglobs);
    r->restart_always = cfg->always;
    r->threshold = cfg->threshold;
    r->restart_fn = cfg->request;
    r->restart_ctx = cfg->ctx;
    if (copy_list(&r->globs, &r->nglobs, cfg->globs, cfg->nglobs) < 0) {
        free_list(&r->globs, &r->nglobs);
        return -ENOMEM;
    }
    return 0;
}

void
hs_reloader_set_startup_ns(struct hs_reloader *r, uint64_t ns)
{
    r->startup_ns = ns;
}

void
hs_reloader_policy_clear(struct hs_reloader *r)
{
    free_list(&r->globs, &r->nglobs);
    free_list(&r->dglobs, &r->ndglobs);
    free(r->settings_module);
    r->settings_module = NULL;
    Py_CLEAR(r->restart_reason);
}

/* ---- globs -------------------------------------------------------------- */

int
hs_reloader_glob_match(const char *glob, const char *rel, const char *abs)
{
    const char *base, *p;
    int anchored = 0;

    if (glob == NULL || glob[0] == '\0' || rel == NULL) {
        return 0;
    }
    while (glob[0] == '.' && glob[1] == '/') {
        glob += 2;
        anchored = 1;
    }
    if (glob[0] == '/') {
        return abs != NULL && fnmatch(glob, abs, 0) == 0;
    }
    if (!anchored && strchr(glob, '/') == NULL) {
        base = strrchr(rel, '/');
        return fnmatch(glob, base != NULL ? base + 1 : rel, 0) == 0;
    }
    if (strncmp(glob, "**/", 3) == 0) {
        glob += 3;
        for (p = rel; p != NULL; p = strchr(p, '/')) {
            if (*p == '/') {
                p++;
            }
            if (fnmatch(glob, p, 0) == 0) {
                return 1;
            }
        }
        return 0;
    }
    return fnmatch(glob, rel, 0) == 0;
}

/* ---- the framework's defaults ------------------------------------------- */

/* hotserve._restart_defaults() -> None or (settings module name or None,
 * [globs]). Looked up once, after the app has loaded. */
static void
find_defaults(struct hs_reloader *r);

void
hs_reloader_app_loaded(struct hs_reloader *r)
{
    find_defaults(r);
}

static void
find_defaults(struct hs_reloader *r)
{
    PyObject *mod, *res = NULL, *globs;
    const char *s;
    Py_ssize_t i, n;

    if (r->framework_checked || r->app == NULL || r->app->callable == NULL) {
        return;
    }
    r->framework_checked = 1;
    mod = PyImport_ImportModule("hotserve");
    if (mod != NULL) {
        res = PyObject_CallMethod(mod, "_restart_defaults", NULL);
        Py_DECREF(mod);
    }
    if (res == NULL) {
        PyObject *exc = hs_err_take();
        hs_log(HS_LOG_WARN, "warning: cannot look for the framework's "
               "restart rules");
        hs_reloader_log_traceback(exc);
        Py_XDECREF(exc);
        return;
    }
    if (!PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 2) {
        goto done;
    }
    s = PyUnicode_Check(PyTuple_GET_ITEM(res, 0))
            ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(res, 0)) : NULL;
    if (s != NULL) {
        r->settings_module = strdup(s);
    }
    globs = PyTuple_GET_ITEM(res, 1);
    if (!PyList_Check(globs)) {
        goto done;
    }
    n = PyList_GET_SIZE(globs);
    r->dglobs = calloc((size_t)n + 1, sizeof(*r->dglobs));
    for (i = 0; r->dglobs != NULL && i < n; i++) {
        PyObject *g = PyList_GET_ITEM(globs, i);
        s = PyUnicode_Check(g) ? PyUnicode_AsUTF8(g) : NULL;
        if (s != NULL && (r->dglobs[r->ndglobs] = strdup(s)) != NULL) {
            r->ndglobs++;
        }
    }
    if (r->settings_module != NULL || r->ndglobs > 0) {
        hs_log(HS_LOG_DEBUG, "restart rules: Django settings %s",
               r->settings_module ? r->settings_module : "(configured)");
    }
done:
    PyErr_Clear();
    Py_DECREF(res);
}

/* ---- before executing --------------------------------------------------- */

static int
match_globs(struct hs_reloader *r, const struct hs_changes *ch, char *why,
            size_t cap)
{
    size_t i, j;

    for (i = 0; i < ch->len; i++) {
        const char *rel = hs_reloader_relpath(r, ch->paths[i]);
        for (j = 0; j < r->nglobs; j++) {
            if (hs_reloader_glob_match(r->globs[j], rel, ch->paths[i])) {
                snprintf(why, cap, "%s changed (restart-on rule '%s')", rel,
                         r->globs[j]);
                return 1;
            }
        }
        for (j = 0; j < r->ndglobs; j++) {
            if (hs_reloader_glob_match(r->dglobs[j], rel, ch->paths[i])) {
                snprintf(why, cap, "%s changed (restart-on rule '%s', "
                         "Django default)", rel, r->dglobs[j]);
                return 1;
            }
        }
    }
    return 0;
}

/* The changed nodes plus the ones still failing, as the executor merges
 * them. */
static int
plan_of(const struct hs_reloader *r, const struct hs_reload_batch *b,
        struct hs_plan *plan)
{
    size_t n = b->nids + r->nfailed, i, k = 0;
    int *ids = malloc((n ? n : 1) * sizeof(*ids));
    int rc;

    if (ids == NULL) {
        return -ENOMEM;
    }
    for (i = 0; i < b->nids; i++) {
        ids[k++] = b->ids[i];
    }
    for (i = 0; i < r->nfailed; i++) {
        ids[k++] = r->failed[i];
    }
    rc = hs_graph_plan(r->graph, ids, k, plan);
    free(ids);
    return rc;
}

/* The loaded module object of node id (borrowed), or NULL. */
static PyObject *
loaded(const struct hs_reloader *r, int id)
{
    const char *name = hs_graph_name(r->graph, id);
    PyObject *m;

    if (name == NULL) {
        return NULL;
    }
    m = PyDict_GetItemString(PyImport_GetModuleDict(), name);
    return m != NULL && PyModule_Check(m) ? m : NULL;
}

/* 1 when a module of the plan refuses in-process reloads. */
static int
refused(const struct hs_reloader *r, const struct hs_plan *plan,
        const char *trigger, char *why, size_t cap)
{
    size_t i;

    for (i = 0; i < plan->len; i++) {
        PyObject *m = loaded(r, plan->order[i]);
        PyObject *flag;
        int truth;

        if (m == NULL) {
            continue;
        }
        flag = PyDict_GetItemString(PyModule_GetDict(m),
                                    "__hotserve_reload__");
        if (flag == NULL) {
            continue;
        }
        truth = PyObject_IsTrue(flag);
        if (truth < 0) {
            PyErr_Clear();
            continue;
        }
        if (!truth) {
            snprintf(why, cap, "%s changed (module %s sets "
                     "__hotserve_reload__ = False)", trigger,
                     hs_graph_name(r->graph, plan->order[i]));
            return 1;
        }
    }
    return 0;
}

int
hs_reloader_wants_restart(struct hs_reloader *r,
                          const struct hs_changes *ch,
                          const struct hs_reload_batch *b, char *why,
                          size_t cap)
{
    struct hs_plan plan = {0};
    char trigger[512];
    uint64_t cost;
    size_t i;
    int id, yes = 0;

    if (r->restart_fn == NULL) {
        return 0;
    }
    if (ch->overflow) {
        snprintf(why, cap, "change events were lost (inotify queue "
                 "overflow): reading everything again");
        return 1;
    }
    find_defaults(r);
    if (match_globs(r, ch, why, cap)) {
        return 1;
    }
    if (b->nids == 0 && !b->retry) {
        return 0;       /* nothing loaded changed: nothing to run */
    }
    hs_reloader_trigger_text(r, b, trigger, sizeof(trigger));
    if (r->restart_always) {
        snprintf(why, cap, "%s changed (--strategy restart)", trigger);
        return 1;
    }
    if (plan_of(r, b, &plan) < 0) {
        return 0;       /* out of memory: the executor will say so */
    }
    id = r->settings_module != NULL
             ? hs_graph_find(r->graph, r->settings_module) : -1;
    for (i = 0; id >= 0 && i < plan.len; i++) {
        if (plan.order[i] == id) {
            snprintf(why, cap, "%s changed (the Django settings module %s "
                     "is read once, at setup)", trigger, r->settings_module);
            yes = 1;
            goto done;
        }
    }
    if (refused(r, &plan, trigger, why, cap)) {
        yes = 1;
        goto done;
    }
    if (r->threshold > 0 && b->nids > r->threshold) {
        snprintf(why, cap, "%zu modules changed (more than "
                 "--restart-threshold %u)", b->nids, r->threshold);
        yes = 1;
        goto done;
    }
    cost = hs_plan_cost_ns(r->graph, &plan);
    if (r->startup_ns > 0 && cost > r->startup_ns) {
        snprintf(why, cap, "%s changed: reloading %zu module%s would take "
                 "~%.0f ms, a restart ~%.0f ms", trigger, plan.len,
                 plan.len == 1 ? "" : "s", (double)cost / 1e6,
                 (double)r->startup_ns / 1e6);
        yes = 1;
    }
done:
    hs_plan_free(&plan);
    return yes;
}

/* ---- after a failed execution ------------------------------------------- */

static int
starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The innermost traceback frame that is not the import machinery's or
 * hotserve's own: its file name (new str) and line, or NULL. */
static PyObject *
raising_frame(PyObject *exc, int *line, int *module_level)
{
    PyObject *tb = PyException_GetTraceback(exc);
    PyObject *file = NULL;

    while (tb != NULL && tb != Py_None) {
        PyObject *frame = PyObject_GetAttrString(tb, "tb_frame");
        PyObject *lineno = PyObject_GetAttrString(tb, "tb_lineno");
        PyObject *next = PyObject_GetAttrString(tb, "tb_next");
        PyCodeObject *code = frame != NULL && PyFrame_Check(frame)
                                 ? PyFrame_GetCode((PyFrameObject *)frame)
                                 : NULL;
        PyObject *fn = code != NULL
                           ? PyObject_GetAttrString((PyObject *)code,
                                                    "co_filename") : NULL;
        PyObject *name = code != NULL
                             ? PyObject_GetAttrString((PyObject *)code,
                                                      "co_name") : NULL;
        const char *f = fn != NULL && PyUnicode_Check(fn)
                            ? PyUnicode_AsUTF8(fn) : NULL;
        const char *nm = name != NULL && PyUnicode_Check(name)
                             ? PyUnicode_AsUTF8(name) : NULL;

        if (f != NULL && !starts_with(f, "<frozen ")
            && !starts_with(f, "<hotserve>")) {
            Py_XSETREF(file, Py_NewRef(fn));
            *line = lineno != NULL ? (int)PyLong_AsLong(lineno) : 0;
            *module_level = nm != NULL && strcmp(nm, "<module>") == 0;
        }
        PyErr_Clear();
        Py_XDECREF(name);
        Py_XDECREF(fn);
        Py_XDECREF((PyObject *)code);
        Py_XDECREF(frame);
        Py_XDECREF(lineno);
        Py_DECREF(tb);
        tb = next;
    }
    Py_XDECREF(tb);
    return file;
}

/* The rule: a failed reload is the changed code's own error, shown on the
 * error page, when
 *   - it is a SyntaxError (IndentationError, TabError): compiling is
 *     always about the code on disk; or
 *   - the innermost traceback frame (importlib's frozen frames skipped)
 *     is in a project file and is either module-level code (only module
 *     bodies run during a reload: the re-executed ones and fresh
 *     imports) or in a file of the plan (the changed modules and their
 *     importers); or
 *   - there is no Python frame at all (raised by the reloader's own C
 *     calls: reading or compiling the file).
 * Otherwise it was raised inside a library (Django's app registry, an
 * admin site's AlreadyRegistered, argparse's duplicate option) or inside
 * a function of an untouched project module (a registry of the
 * project's own): state kept outside the re-executed code refused the
 * second run, and only a fresh process can run the new code. */
int
hs_reloader_failure_wants_restart(struct hs_reloader *r, PyObject *exc,
                                  const int *ids, size_t n,
                                  const struct hs_reload_batch *b,
                                  char *why, size_t cap)
{
    PyObject *file;
    const char *f;
    char *proj = NULL, trigger[512];
    const char *type = Py_TYPE(exc)->tp_name, *dot;
    int line = 0, module_level = 0, yes = 0;
    size_t i;

    if (r->restart_fn == NULL
        || PyErr_GivenExceptionMatches(exc, PyExc_SyntaxError)) {
        return 0;
    }
    file = raising_frame(exc, &line, &module_level);
    f = file != NULL ? PyUnicode_AsUTF8(file) : NULL;
    if (f == NULL) {
        PyErr_Clear();
        Py_XDECREF(file);
        return 0;
    }
    proj = hs_importhook_project_path(r->hook, f);
    if (proj != NULL) {
        if (module_level) {
            goto done;
        }
        for (i = 0; i < n; i++) {
            const char *pf = hs_graph_file(r->graph, ids[i]);
            if (pf != NULL && strcmp(pf, proj) == 0) {
                goto done;
            }
        }
    }
    dot = strrchr(type, '.');
    hs_reloader_trigger_text(r, b, trigger, sizeof(trigger));
    snprintf(why, cap, "reload of %s failed outside the changed code (%s "
             "raised in %s:%d)", trigger, dot != NULL ? dot + 1 : type,
             hs_reloader_relpath(r, proj != NULL ? proj : f), line);
    yes = 1;
done:
    free(proj);
    Py_DECREF(file);
    return yes;
}

/* ---- asking ------------------------------------------------------------- */

int
hs_reloader_ask_restart(struct hs_reloader *r, const char *why)
{
    int pending;

    if (r->restart_fn == NULL) {
        return 0;
    }
    if (atomic_load(&r->restart_pending)) {
        return 1;
    }
    pending = r->restart_fn(r->restart_ctx, why);
    if (pending) {
        atomic_store(&r->restart_pending, 1);
        r->restarts++;
        Py_XSETREF(r->restart_reason, PyUnicode_FromString(why));
        PyErr_Clear();
    }
    return pending;
}
