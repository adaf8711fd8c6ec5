/* Applies file changes to the running interpreter before requests run.
 *
 * The gate (request thread, no GIL): barrier, then, when the change set's
 * generation moved, one thread at a time (r->mu) takes the changes, maps
 * paths to graph nodes with the GIL, and only when a project module is
 * affected takes the reload lock's write side and executes the plan.
 * Changes to non-Python files or to files never imported therefore never
 * stall requests behind the write lock. Lock order: r->mu -> reload lock
 * -> GIL; the change-set mutex is a leaf.
 *
 * Executing a plan (GIL + write side): unlink the stale .pyc of every
 * changed file, importlib.invalidate_caches(), then, in plan order
 * (members of one import cycle are consecutive), for each module that was
 * loaded when the reload started: snapshot its namespace, call
 * __hotserve_before_reload__, compile the file from source (never from
 * bytecode), clear the namespace except the import machinery keys,
 * submodule bindings and the names listed in __hotserve_keep__, and run
 * the code in it. Then __hotserve_after_reload__ of each, hs_app_load when
 * the app module ran again (or the app was broken). Any failure restores
 * every namespace of the plan from its snapshot and the reload is
 * remembered as failed until a later change fixes it. On success: swap
 * function code in place for old function objects kept elsewhere
 * (hotserve._swap), then the on_reload callbacks and registered caches
 * (hotserve._after_reload). Modules not loaded when the reload started are
 * not executed by the plan: whoever imports them (a re-executed importer,
 * the app) does, from the fresh source.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/reloader.h"
#include "bridge/reloader_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge/app.h"
#include "bridge/frameworks.h"
#include "bridge/importhook.h"
#include "bridge/module.h"
#include "bridge/py.h"
#include "bridge/pycompat.h"
#include "reload/changeset.h"
#include "reload/depgraph.h"
#include "reload/log.h"
#include "reload/watch.h"

/* ---- lifetime ---------------------------------------------------------- */

struct hs_reloader *
hs_reloader_new(struct hs_app *app, struct hs_watch *watch,
                struct hs_changeset *cs, const char *const *roots,
                size_t nroots)
{
    struct hs_reloader *r;
    pthread_rwlockattr_t attr;
    size_t i;
    int err;

    if (cs == NULL || (nroots > 0 && roots == NULL)) {
        errno = EINVAL;
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->app = app;
    r->watch = watch;
    r->cs = cs;
    if (getcwd(r->cwd, sizeof(r->cwd)) == NULL) {
        r->cwd[0] = '\0';
    }
    r->graph = hs_graph_new();
    r->roots = calloc(nroots ? nroots : 1, sizeof(*r->roots));
    if (r->graph == NULL || r->roots == NULL) {
        goto fail_nolock;
    }
    for (i = 0; i < nroots; i++) {
        r->roots[i] = strdup(roots[i]);
        if (r->roots[i] == NULL) {
            goto fail_nolock;
        }
        r->nroots++;
    }
    /* Writer-preferring: a pending reload stops new requests from
     * entering, so a steady stream of requests cannot starve it. */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    err = pthread_rwlock_init(&r->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (err != 0) {
        errno = err;
        goto fail_nolock;
    }
    err = pthread_mutex_init(&r->mu, NULL);
    if (err != 0) {
        pthread_rwlock_destroy(&r->lock);
        errno = err;
        goto fail_nolock;
    }
    atomic_init(&r->applied, 0);
    return r;
fail_nolock:
    err = errno ? errno : ENOMEM;
    for (i = 0; i < r->nroots; i++) {
        free(r->roots[i]);
    }
    free(r->roots);
    hs_graph_free(r->graph);
    free(r);
    errno = err;
    return NULL;
}

static void
log_pending(const char *what)
{
    PyObject *exc = hs_err_take(), *s = NULL;
    const char *msg = NULL;

    if (exc != NULL) {
        s = PyObject_Str(exc);
        msg = s != NULL ? PyUnicode_AsUTF8(s) : NULL;
    }
    hs_log(HS_LOG_ERROR, "%s: %s: %s", what,
           exc != NULL ? Py_TYPE(exc)->tp_name : "error",
           msg != NULL ? msg : "unknown error");
    PyErr_Clear();
    Py_XDECREF(s);
    Py_XDECREF(exc);
}

int
hs_reloader_install(struct hs_reloader *r)
{
    PyObject *builtins = NULL, *util = NULL;

    r->hook = hs_importhook_new(r->graph, r->watch,
                                (const char *const *)r->roots, r->nroots);
    if (r->hook == NULL) {
        goto fail;
    }
    builtins = PyImport_ImportModule("builtins");
    r->importlib = PyImport_ImportModule("importlib");
    util = PyImport_ImportModule("importlib.util");
    if (builtins == NULL || r->importlib == NULL || util == NULL) {
        goto fail;
    }
    r->compile = PyObject_GetAttrString(builtins, "compile");
    r->cache_from_source = PyObject_GetAttrString(util, "cache_from_source");
    if (r->compile == NULL || r->cache_from_source == NULL) {
        goto fail;
    }
    if (hs_importhook_install(r->hook) < 0) {
        goto fail;
    }
    if (hs_module_bind(r) < 0) {
        /* Only hotserve.status() and hotserve.keep() depend on it. */
        log_pending("reloader: hotserve.status()/keep() unavailable");
    }
    Py_DECREF(util);
    Py_DECREF(builtins);
    return 0;
fail:
    log_pending("cannot install the import tracker");
    hs_importhook_free(r->hook);
    r->hook = NULL;
    Py_XDECREF(util);
    Py_XDECREF(builtins);
    return -1;
}

void
hs_reloader_free(struct hs_reloader *r)
{
    size_t i;

    if (r == NULL) {
        return;
    }
    if (r->hook != NULL) {
        if (hs_module_bind(NULL) < 0) {
            PyErr_Clear();
        }
        hs_importhook_free(r->hook);
        r->hook = NULL;
    }
    Py_CLEAR(r->compile);
    Py_CLEAR(r->importlib);
    Py_CLEAR(r->cache_from_source);
    Py_CLEAR(r->previous);
    Py_CLEAR(r->failure);
    Py_CLEAR(r->last);
    hs_reloader_policy_clear(r);
    free(r->failure_ctx);
    free(r->failed);
    for (i = 0; i < r->nroots; i++) {
        free(r->roots[i]);
    }
    free(r->roots);
    hs_graph_free(r->graph);
    pthread_rwlock_destroy(&r->lock);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- from paths to nodes ----------------------------------------------- */

static int
batch_add_id(struct hs_reload_batch *b, int id, int deleted)
{
    size_t i;

    for (i = 0; i < b->nids; i++) {
        if (b->ids[i] == id) {
            return 0;
        }
    }
    if (b->nids == b->cap) {
        size_t n = b->cap ? b->cap * 2 : 8;
        int *ids = realloc(b->ids, n * sizeof(*ids));
        unsigned char *del;
        if (ids == NULL) {
            return -ENOMEM;
        }
        b->ids = ids;
        del = realloc(b->deleted, n);
        if (del == NULL) {
            return -ENOMEM;
        }
        b->deleted = del;
        b->cap = n;
    }
    b->ids[b->nids] = id;
    b->deleted[b->nids] = (unsigned char)deleted;
    b->nids++;
    return 0;
}

static int
batch_add_trigger(struct hs_reload_batch *b, const char *path)
{
    if (b->ntrigger == b->captrigger) {
        size_t n = b->captrigger ? b->captrigger * 2 : 8;
        const char **t = realloc(b->trigger, n * sizeof(*t));
        if (t == NULL) {
            return -ENOMEM;
        }
        b->trigger = t;
        b->captrigger = n;
    }
    b->trigger[b->ntrigger++] = path;
    return 0;
}

static void
batch_free(struct hs_reload_batch *b)
{
    free(b->ids);
    free(b->deleted);
    free(b->trigger);
    memset(b, 0, sizeof(*b));
}

/* The node whose file is path: as given, resolved, or (for a deleted
 * file) with its directory resolved. -ENOENT when none. */
static int
find_node(const struct hs_reloader *r, const char *path)
{
    char *real, *slash, *dir;
    char buf[PATH_MAX];
    int id = hs_graph_find_file(r->graph, path);

    if (id >= 0) {
        return id;
    }
    real = realpath(path, NULL);
    if (real != NULL) {
        id = hs_graph_find_file(r->graph, real);
        free(real);
        return id;
    }
    slash = strrchr(path, '/');
    if (slash == NULL || slash == path) {
        return -ENOENT;
    }
    dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL) {
        return -ENOMEM;
    }
    real = realpath(dir, NULL);
    free(dir);
    if (real == NULL) {
        return -ENOENT;
    }
    if ((size_t)snprintf(buf, sizeof(buf), "%s%s", real, slash)
        >= sizeof(buf)) {
        free(real);
        return -ENOENT;
    }
    free(real);
    return hs_graph_find_file(r->graph, buf);
}

static int
is_py(const char *path)
{
    size_t n = strlen(path);

    return n > 3 && strcmp(path + n - 3, ".py") == 0;
}

static int
file_missing(const char *path)
{
    struct stat st;

    return path == NULL || (stat(path, &st) != 0 && errno == ENOENT);
}

static int
broken(const struct hs_reloader *r)
{
    return r->failure != NULL
           || (r->app != NULL && r->app->callable == NULL);
}

/* A .pyc next to a changed file may pass the loader's check (whole
 * seconds and size) although it is stale (cstack.md 3.2): remove it, also
 * for files no module was loaded from yet, which may be imported later. */
static void
unlink_bytecode(struct hs_reloader *r, const char *file)
{
    PyObject *pyc = PyObject_CallFunction(r->cache_from_source, "s", file);
    PyObject *b = NULL;

    if (pyc != NULL && PyUnicode_Check(pyc)) {
        b = PyUnicode_EncodeFSDefault(pyc);
        if (b != NULL && unlink(PyBytes_AS_STRING(b)) == 0) {
            hs_log(HS_LOG_DEBUG, "removed stale %s", PyBytes_AS_STRING(b));
        }
    }
    PyErr_Clear();
    Py_XDECREF(b);
    Py_XDECREF(pyc);
}

/* Map the changed paths to graph nodes. GIL held (the graph). Returns 0
 * or -ENOMEM. */
static int
collect(struct hs_reloader *r, const struct hs_changes *ch,
        struct hs_reload_batch *b)
{
    size_t i, n, unknown = 0;
    int id, rc;

    for (i = 0; i < ch->len; i++) {
        const char *p = ch->paths[i];
        if (!is_py(p)) {
            continue;       /* templates, static files: not our business */
        }
        unlink_bytecode(r, p);
        id = find_node(r, p);
        if (id < 0) {
            unknown++;      /* a .py nobody imported (yet) */
            continue;
        }
        rc = batch_add_id(b, id, file_missing(hs_graph_file(r->graph, id)));
        if (rc == 0) {
            rc = batch_add_trigger(b, p);
        }
        if (rc < 0) {
            return rc;
        }
    }
    if (ch->overflow) {
        /* Events were lost: compare every module's file with what ran. */
        n = hs_graph_count(r->graph);
        for (i = 0; i < n; i++) {
            const char *f = hs_graph_file(r->graph, (int)i);
            if (f == NULL || !hs_importhook_file_changed(r->hook, (int)i)) {
                continue;
            }
            unlink_bytecode(r, f);
            rc = batch_add_id(b, (int)i, file_missing(f));
            if (rc == 0) {
                rc = batch_add_trigger(b, f);
            }
            if (rc < 0) {
                return rc;
            }
        }
    }
    if (broken(r) && (b->nids > 0 || unknown > 0)) {
        /* The failure may have been a module that did not exist yet:
         * any .py change retries it. */
        b->retry = 1;
        for (i = 0; i < ch->len; i++) {
            if (is_py(ch->paths[i]) && find_node(r, ch->paths[i]) < 0
                && batch_add_trigger(b, ch->paths[i]) < 0) {
                return -ENOMEM;
            }
        }
    }
    return 0;
}

/* ---- the gate ------------------------------------------------------------ */

/* How long a reload waits for the requests running app code. Past it the
 * reload is put off to the next request: a view that calls its own server
 * and waits for the answer would otherwise deadlock with the reload. */
#define WRITE_WAIT_S 5

static int
write_lock(struct hs_reloader *r)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += WRITE_WAIT_S;
    return pthread_rwlock_clockwrlock(&r->lock, CLOCK_MONOTONIC, &t);
}

/* Give the changes back to the change set, so the next request retries. */
static void
put_back(struct hs_reloader *r, const struct hs_changes *ch)
{
    size_t i;

    hs_changeset_lock(r->cs);
    for (i = 0; i < ch->len; i++) {
        hs_changeset_add_locked(r->cs, ch->paths[i]);
    }
    if (ch->overflow) {
        hs_changeset_set_overflow_locked(r->cs);
    }
    hs_changeset_unlock(r->cs);
}

/* Take what changed and apply it, or find that it needs a restart (the
 * changes are then put back, for the case that the restart does not
 * happen). Returns 1 when a restart is pending. r->mu held, GIL not
 * held. */
static int
apply_pending(struct hs_reloader *r)
{
    struct hs_changes ch;
    struct hs_reload_batch b;
    char why[512];
    int rc, restart = 0;

    memset(&ch, 0, sizeof(ch));
    memset(&b, 0, sizeof(b));
    if (atomic_load(&r->restart_pending)) {
        return 1;   /* the changes wait for the next process */
    }
    if (hs_changeset_gen(r->cs)
        == atomic_load_explicit(&r->applied, memory_order_acquire)) {
        return 0;   /* another request applied it while we waited */
    }
    hs_changeset_lock(r->cs);
    rc = hs_changeset_take_locked(r->cs, &ch);
    hs_changeset_unlock(r->cs);
    if (rc < 0) {
        hs_log(HS_LOG_WARN, "reloader: cannot take changes: %s",
               strerror(-rc));
        return 0;
    }
    hs_py_enter();
    rc = collect(r, &ch, &b);
    if (rc == 0 && hs_reloader_wants_restart(r, &ch, &b, why, sizeof(why))
        && hs_reloader_ask_restart(r, why)) {
        hs_py_leave();
        put_back(r, &ch);
        restart = 1;
        goto done;
    }
    /* Templates, translations: not modules, but Django/Flask cache them
     * (hotserve._frameworks, the "django" helper's hook). */
    hs_frameworks_files_changed((const char *const *)ch.paths, ch.len,
                                ch.overflow);
    hs_py_leave();
    if (rc < 0) {
        hs_log(HS_LOG_WARN, "reloader: %s", strerror(-rc));
    } else if (b.nids > 0 || b.retry) {
        /* Never wait for the reload lock with the GIL held. */
        rc = write_lock(r);
        if (rc != 0) {
            char trigger[512];
            hs_reloader_trigger_text(r, &b, trigger, sizeof(trigger));
            hs_log(HS_LOG_WARN, "reload of %s put off: requests still "
                   "running after %d s (does a view wait for a request to "
                   "this server?); retrying on the next request", trigger,
                   WRITE_WAIT_S);
            put_back(r, &ch);
            goto done;
        }
        hs_py_enter();
        hs_reloader_execute(r, &b);
        /* Failed outside the changed code: only a fresh process can run
         * it (the failure stays on record in case that does not happen). */
        if (b.restart && hs_reloader_ask_restart(r, b.restart_why)) {
            restart = 1;
        }
        hs_py_leave();
        pthread_rwlock_unlock(&r->lock);
    }
    atomic_store_explicit(&r->applied, ch.gen, memory_order_release);
done:
    batch_free(&b);
    hs_changes_free(&ch);
    return restart;
}

/* Set by hs_reloader_prepare for the gate_enter that follows on the same
 * thread: that request has passed the barrier already. Every request
 * path (server/http.c, server/handoff.c) calls prepare right before
 * hs_wsgi_call, so a flag left set by a call that never reached the gate
 * is overwritten before the next gate. */
static _Thread_local int prepared;

static void
sync_watch(struct hs_reloader *r)
{
    if (r->watch != NULL) {
        int rc = hs_watch_sync(r->watch);
        if (rc < 0) {
            hs_log(HS_LOG_DEBUG, "reloader: watch sync: %s", strerror(-rc));
        }
    }
}

static int
changed_since_applied(struct hs_reloader *r)
{
    return r->hook != NULL
           && hs_changeset_gen(r->cs)
                  != atomic_load_explicit(&r->applied, memory_order_acquire);
}

void
hs_reloader_gate_enter(struct hs_reloader *r)
{
    if (prepared) {
        prepared = 0;
    } else {
        sync_watch(r);
        if (changed_since_applied(r) && !atomic_load(&r->restart_pending)) {
            pthread_mutex_lock(&r->mu);
            apply_pending(r);
            pthread_mutex_unlock(&r->mu);
        }
    }
    pthread_rwlock_rdlock(&r->lock);
}

int
hs_reloader_prepare(struct hs_reloader *r)
{
    int restart = 0;

    sync_watch(r);
    if (atomic_load(&r->restart_pending)) {
        return 1;
    }
    if (changed_since_applied(r)) {
        pthread_mutex_lock(&r->mu);
        restart = apply_pending(r);
        pthread_mutex_unlock(&r->mu);
    }
    prepared = !restart;
    return restart;
}

void
hs_reloader_restart_cancelled(struct hs_reloader *r)
{
    atomic_store(&r->restart_pending, 0);
}

void
hs_reloader_before_exec(struct hs_reloader *r)
{
    struct hs_changes ch;
    size_t i;

    memset(&ch, 0, sizeof(ch));
    sync_watch(r);
    hs_changeset_lock(r->cs);
    if (hs_changeset_take_locked(r->cs, &ch) < 0) {
        hs_changeset_unlock(r->cs);
        return;
    }
    hs_changeset_unlock(r->cs);
    if (ch.len > 0 && r->cache_from_source != NULL) {
        hs_py_enter();
        for (i = 0; i < ch.len; i++) {
            if (is_py(ch.paths[i])) {
                unlink_bytecode(r, ch.paths[i]);
            }
        }
        hs_py_leave();
    }
    /* Still pending, should the exec fail. */
    put_back(r, &ch);
    hs_changes_free(&ch);
}

void
hs_reloader_gate_leave(struct hs_reloader *r)
{
    pthread_rwlock_unlock(&r->lock);
}

PyObject *
hs_reloader_failure(struct hs_reloader *r, const char **context)
{
    if (r == NULL || r->failure == NULL) {
        return NULL;
    }
    if (context != NULL) {
        *context = r->failure_ctx;
    }
    return Py_NewRef(r->failure);
}

PyObject *
hs_reloader_previous(struct hs_reloader *r, PyObject *name)
{
    if (r == NULL || r->previous == NULL) {
        return NULL;
    }
    return PyDict_GetItemWithError(r->previous, name);
}

PyObject *
hs_reloader_status(struct hs_reloader *r)
{
    const char *mode = NULL;

    if (r == NULL) {
        return Py_BuildValue("{sOsisisisOsisO}", "enabled", Py_False,
                             "generation", 0, "reloads", 0, "failures", 0,
                             "last", Py_None, "modules", 0, "watch_mode",
                             Py_None);
    }
    if (r->watch != NULL) {
        mode = hs_watch_mode(r->watch) == HS_WATCH_POLL ? "poll" : "inotify";
    }
    return Py_BuildValue(
        "{sOsKsKsKsOsnszsd}", "enabled", Py_True, "generation",
        (unsigned long long)atomic_load(&r->applied), "reloads",
        (unsigned long long)r->reloads, "failures",
        (unsigned long long)r->failures, "last",
        r->last != NULL ? r->last : Py_None, "modules",
        (Py_ssize_t)hs_graph_count(r->graph), "watch_mode", mode,
        "startup_ms", (double)r->startup_ns / 1e6);
}
