/* Applies file changes to the running interpreter before requests run.
 * Owns the reload lock (rw): requests hold the read side while app code
 * runs, a reload takes the write side. Lock order: reload lock -> GIL;
 * the change-set mutex is a leaf.
 *
 * In detail the gate takes, in this order: an internal mutex serialising
 * reloads (only when the change generation moved), the change-set mutex
 * (briefly, to take the changes), the GIL (to map paths to modules), and
 * only when a loaded project module is affected the write side, then the
 * GIL again to execute. Changes to non-Python files or to files no module
 * was loaded from never wait for the write side. What a reload does is
 * described at the top of bridge/reloader.c. */
#ifndef HS_RELOADER_H
#define HS_RELOADER_H

#include <Python.h>

#include <stddef.h>
#include <stdint.h>

struct hs_app;
struct hs_changeset;
struct hs_watch;
struct hs_reloader;

/* New reloader for app (borrowed; may be NULL: modules are still
 * reloaded, no app is re-read), fed by the watcher `watch` (borrowed; NULL
 * means no barrier, the change set alone is consulted) and the change set
 * cs (borrowed) the watcher writes to. roots are the watched directories
 * (copied); a module is reloadable when its file lies under one of them.
 * Owns the import graph. No Python is touched yet. NULL with errno on failure.
 * Thread: main. GIL: not needed. Locks: none. */
struct hs_reloader *
hs_reloader_new(struct hs_app *app, struct hs_watch *watch,
                struct hs_changeset *cs, const char *const *roots,
                size_t nroots);

/* Install the import tracker (builtins.__import__, importlib.import_module,
 * SourceFileLoader.exec_module) and bind the `_hotserve` module to r.
 * Call it after hs_py_init and BEFORE hs_app_load imports the app, or the
 * app's imports are missing from the graph. Returns 0, or -1 after
 * logging why through hs_log (no Python exception left set).
 * Thread: main. GIL: held. Locks: none (startup). */
int
hs_reloader_install(struct hs_reloader *r);

/* Uninstall the tracker, unbind `_hotserve` and free r; NULL is fine.
 * No request may be inside the gate (stop the HTTP daemon first).
 * Thread: main. GIL: held. Locks: none. */
void
hs_reloader_free(struct hs_reloader *r);

/* The request-side gate. enter: make sure every change that completed
 * before the call is applied (barrier + plan + execute, or noted as
 * failed), then hold the read side until leave. Never fails: a failed
 * reload is reported through hs_reloader_failure.
 * Thread: connection. GIL: not held. Locks: takes reload lock (read). */
void
hs_reloader_gate_enter(struct hs_reloader *r);
void
hs_reloader_gate_leave(struct hs_reloader *r);

/* When the code on disk could not be applied (last reload failed, or the
 * app could not be loaded), a new reference to the exception to show on
 * the error page, and *context set to a borrowed one-line description
 * ("while reloading apps/views.py: apps.views -> myproject.urls").
 * NULL (no exception set) when the app is healthy.
 * Thread: connection. GIL: held. Locks: reload lock (read) held. */
PyObject *
hs_reloader_failure(struct hs_reloader *r, const char **context);

/* hotserve.status() as a new dict: {"generation": int (applied change
 * generation), "reloads": int (successful), "failures": int, "last":
 * None or {"modules": [{"name": str, "ms": float}], "total_ms": float,
 * "trigger": [relative paths], "ok": bool, "error": None or
 * "Type: message"}, "modules": int (project modules in the graph),
 * "watch_mode": "inotify" | "poll" | None, "enabled": bool}. r may be
 * NULL (reloading disabled). NULL with an exception on failure.
 * Thread: any. GIL: held. Locks: none (the GIL orders it with reloads). */
PyObject *
hs_reloader_status(struct hs_reloader *r);

/* ---- restarts (bridge/reloader_policy.c) -------------------------------- */

/* What makes the reloader ask for a full restart instead of reloading
 * in-process. globs are copied. */
struct hs_reloader_restart {
    int always;                     /* --strategy restart */
    unsigned threshold;             /* more changed modules restart; 0 off */
    const char *const *globs;       /* --restart-on */
    size_t nglobs;
    /* Ask the server for a restart; 1 pending, 0 refused (see
     * hs_bridge_restart_fn). NULL: never restart. */
    int (*request)(void *ctx, const char *reason);
    void *ctx;
};

/* Configure restarts (before requests run). Returns 0 or -ENOMEM.
 * Thread: main. GIL: not needed. Locks: none (startup). */
int
hs_reloader_set_restart(struct hs_reloader *r,
                        const struct hs_reloader_restart *cfg);

/* The app has loaded (startup): look up the framework's restart rules
 * now (hotserve._restart_defaults, which also makes the watcher track
 * the files they name that are not modules, such as .env, for --poll).
 * Later loads after a failed startup look them up at the next change.
 * Thread: main. GIL: held. Locks: none (startup). */
void
hs_reloader_app_loaded(struct hs_reloader *r);

/* What a restart costs here (process start to app loaded), compared with
 * the predicted cost of each reload plan. 0: unknown (no cost rule).
 * Thread: main. Locks: none (startup). */
void
hs_reloader_set_startup_ns(struct hs_reloader *r, uint64_t ns);

/* The barrier before a request is dispatched: like gate_enter, but
 * without taking the reload lock, and it tells whether a restart is
 * pending (1: the request must not run in this process) or not (0). The
 * next hs_reloader_gate_enter on the same thread then skips the barrier
 * (the request is not older than the changes it would find).
 * Thread: connection. GIL: not held. Locks: none held. */
int
hs_reloader_prepare(struct hs_reloader *r);

/* The pending restart is off (exec failed, shutting down): apply changes
 * in-process again. Thread: any. GIL: not held. */
void
hs_reloader_restart_cancelled(struct hs_reloader *r);

/* Before exec: drain the watcher and remove the cached bytecode of every
 * changed .py file (the next image must compile them from source).
 * Thread: main. GIL: not held (taken inside). */
void
hs_reloader_before_exec(struct hs_reloader *r);

/* Does a --restart-on GLOB match a changed file? rel is the path
 * relative to the working directory (or absolute outside it), abs the
 * absolute path. A glob starting with '/' is matched against abs; a glob
 * without '/' against the file name ("./GLOB" against rel: anchored at
 * the working directory); a glob starting with two stars and a slash
 * (any depth) against rel and every tail of rel after a '/'; any other
 * glob against rel. fnmatch(3) without FNM_PATHNAME: '*' crosses '/'.
 * Returns 1 or 0. Pure.
 * Thread: any. GIL: not needed. */
int
hs_reloader_glob_match(const char *glob, const char *rel, const char *abs);

/* The namespace module `name` had before the re-execution in progress
 * (borrowed), or NULL (no exception) when that module is not being
 * reloaded right now. Backs hotserve.keep().
 * Thread: the reloading thread. GIL: held. Locks: reload write side. */
PyObject *
hs_reloader_previous(struct hs_reloader *r, PyObject *name);

#endif
