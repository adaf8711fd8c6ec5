/* Private to the reloader (reloader.c, reloader_exec.c,
 * reloader_report.c): its state and the functions the files share. */
#ifndef HS_RELOADER_INT_H
#define HS_RELOADER_INT_H

#include <Python.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bridge/reloader.h"

struct hs_changes;

#define HS_RELOAD_ARROW " \xe2\x86\x92 "   /* " → " */
#define HS_RELOAD_LIST_MAX 1200   /* bytes of module names in a log line */

struct hs_reloader {
    struct hs_app *app;
    struct hs_watch *watch;
    struct hs_changeset *cs;
    char **roots;
    size_t nroots;
    char cwd[PATH_MAX];
    struct hs_graph *graph;
    struct hs_importhook *hook;

    pthread_rwlock_t lock;          /* the reload lock */
    pthread_mutex_t mu;             /* one reload at a time */
    _Atomic uint64_t applied;       /* generation whose changes are done */

    PyObject *compile;              /* builtins.compile */
    PyObject *importlib;
    PyObject *cache_from_source;    /* importlib.util.cache_from_source */
    PyObject *previous;             /* while executing: name -> old dict */

    /* The failed reload (write side + GIL to change, read side to read). */
    PyObject *failure;
    char *failure_ctx;
    int *failed;                    /* its changed nodes, retried */
    size_t nfailed;

    uint64_t reloads;
    uint64_t failures;
    PyObject *last;                 /* status()["last"] */

    /* Restarts (reloader_policy.c). */
    int restart_always;
    unsigned threshold;
    char **globs;                   /* --restart-on, owned */
    size_t nglobs;
    char **dglobs;                  /* the framework's defaults, owned */
    size_t ndglobs;
    char *settings_module;          /* Django's, owned, or NULL */
    int framework_checked;          /* defaults looked for (app loaded) */
    uint64_t startup_ns;
    int (*restart_fn)(void *ctx, const char *reason);
    void *restart_ctx;
    _Atomic int restart_pending;
    uint64_t restarts;              /* asked for, for status() */
    PyObject *restart_reason;       /* str, the last one asked for */
};

/* What a batch of changed paths means for the graph. */
struct hs_reload_batch {
    int *ids;                       /* changed nodes */
    unsigned char *deleted;         /* per id: its file is gone */
    size_t nids;
    size_t cap;
    const char **trigger;           /* borrowed paths, for the log */
    size_t ntrigger;
    size_t captrigger;
    int retry;                      /* broken state and a .py changed */
    /* Set by hs_reloader_execute when the reload failed outside the
     * changed code and a restart should follow (reloader_policy.c). */
    int restart;
    char restart_why[512];
};

static inline uint64_t
hs_reloader_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Execute a batch (reloader_exec.c): plan, re-run, roll back or commit,
 * log one line and record the outcome. Never fails.
 * Thread: connection. GIL: held. Locks: r->mu, reload write side. */
void
hs_reloader_execute(struct hs_reloader *r, struct hs_reload_batch *b);

/* Policy (reloader_policy.c). */

/* Before executing b: does it need a restart instead (overflow,
 * --strategy restart, a --restart-on or framework glob, the framework's
 * settings in the plan, a module with __hotserve_reload__ = False, more
 * than --restart-threshold modules, a plan predicted slower than a
 * restart)? 1 with a one-line reason in why, else 0.
 * Thread: connection. GIL: held. Locks: r->mu. */
int
hs_reloader_wants_restart(struct hs_reloader *r,
                          const struct hs_changes *ch,
                          const struct hs_reload_batch *b, char *why,
                          size_t cap);

/* After a failed execution of the plan `ids` (n nodes): was exc raised
 * outside the code that ran (a library's or an untouched module's
 * state refusing the re-execution)? 1 with a reason in why.
 * Thread: connection. GIL: held. Locks: r->mu, write side. */
int
hs_reloader_failure_wants_restart(struct hs_reloader *r, PyObject *exc,
                                  const int *ids, size_t n,
                                  const struct hs_reload_batch *b,
                                  char *why, size_t cap);

/* Ask the server for the restart (the server logs "restarting: why").
 * 1 when it is pending, 0 when refused. Thread: any. GIL: held. */
int
hs_reloader_ask_restart(struct hs_reloader *r, const char *why);

/* Free the policy state (hs_reloader_free). GIL: held. */
void
hs_reloader_policy_clear(struct hs_reloader *r);

/* Reporting helpers (reloader_report.c). GIL: held for the ones taking
 * Python objects. */

/* path relative to the working directory when it lies under it. */
const char *
hs_reloader_relpath(const struct hs_reloader *r, const char *path);

/* "apps/views.py" or "a.py, b.py, c.py and 2 more" into buf. */
void
hs_reloader_trigger_text(const struct hs_reloader *r,
                         const struct hs_reload_batch *b, char *buf,
                         size_t cap);

/* The names of list `names` joined with " → " into buf, cut with
 * "(N more)" past HS_RELOAD_LIST_MAX bytes. */
void
hs_reloader_names_text(PyObject *names, char *buf, size_t cap);

/* "SyntaxError: invalid syntax (views.py, line 3)" (first line only),
 * malloc'd, or NULL. */
char *
hs_reloader_exc_line(PyObject *exc);

/* exc itself, or a ModuleNotFoundError naming the deleted file when exc
 * is about a module of b whose file was deleted. New reference. */
PyObject *
hs_reloader_name_deleted(struct hs_reloader *r,
                         const struct hs_reload_batch *b, PyObject *exc);

/* Write exc's traceback to the log (hs_log_raw). */
void
hs_reloader_log_traceback(PyObject *exc);

/* Call module.fn(*Py_BuildValue(fmt, ...)) in the hotserve package;
 * failures are logged as a warning with their traceback. */
void
hs_reloader_call_package(const char *module, const char *fn,
                         const char *fmt, ...);

/* status()["last"] for the reload that just ended (new reference, or
 * NULL with no exception set). */
PyObject *
hs_reloader_status_last(struct hs_reloader *r,
                        const struct hs_reload_batch *b, int ok,
                        const char *error, double total_ms,
                        PyObject *deleted);

#endif
