/* The server's one door into the Python side, free of Python.h: start the
 * interpreter, load the app (with reloading), and stop it all. */
#ifndef HS_BRIDGE_H
#define HS_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/py.h"

struct hs_watch;
struct hs_changeset;
struct hs_wsgi;
struct hs_bridge;

/* Ask the server for a full restart (re-exec), giving a one-line reason
 * ("mysite/settings.py changed (restart-on rule 'mysite/settings.py')").
 * Returns 1 when a restart is pending (asked now or before), 0 when the
 * server cannot restart (the caller then carries on in-process).
 * Thread: any. GIL: any (it only takes a leaf lock). */
typedef int (*hs_bridge_restart_fn)(void *ctx, const char *reason);

struct hs_bridge_config {
    struct hs_py_config py;
    const char *app_spec;          /* for messages */
    const char *module;
    const char *attr;
    int factory;
    int reload;                    /* 0: --no-reload */
    struct hs_watch *watch;        /* borrowed, NULL without reload */
    struct hs_changeset *changes;  /* borrowed, NULL without reload */
    const char *const *roots;      /* watched roots (absolute) */
    size_t nroots;
    /* Restarts (see bridge/reloader_policy.c for when). */
    int restart_always;            /* --strategy restart */
    unsigned restart_threshold;    /* 0: off */
    const char *const *restart_on; /* --restart-on globs (copied) */
    size_t nrestart_on;
    hs_bridge_restart_fn restart;  /* NULL: no automatic restarts */
    void *restart_ctx;
    /* CLOCK_MONOTONIC ns when this process image started its work (or,
     * after a restart, when the old image was about to exec): the
     * restart cost that in-process reloads are compared with is measured
     * from it to the app being loaded. 0: unknown. */
    uint64_t start_ns;
    /* This image was started by a restart: an app that fails to load
     * (even a missing module or attribute) is served as the error page,
     * never a reason to exit. */
    int restarted;
};

/* Start Python and load the app. When the app's own code fails to import
 * and reloading is on, the bridge still opens: every request gets the
 * error page until a change fixes it. Returns the bridge, or NULL after
 * logging one "hotserve: error: ..." line (bad app spec, app not
 * importable without reload, Python failed to start).
 * Thread: main. GIL: not held before or after. */
struct hs_bridge *
hs_bridge_open(const struct hs_bridge_config *cfg);

/* The dispatcher to hand requests to (owned by the bridge). */
struct hs_wsgi *
hs_bridge_wsgi(struct hs_bridge *b);

/* "Python 3.11.2 (/usr)" for the banner (valid until close). */
const char *
hs_bridge_describe(const struct hs_bridge *b);

/* The change barrier run before a request is dispatched: every change
 * completed before the call is applied in-process, or found to need a
 * restart. Returns 1 when a restart is pending (the request must then be
 * served by the next process), 0 when the request can be dispatched here
 * (the gate inside hs_wsgi_call then only takes the reload lock). b may
 * have no reloader (--no-reload): 0.
 * Thread: connection. GIL: not held. Locks: none held. */
int
hs_bridge_barrier(struct hs_bridge *b);

/* The restart asked for through the restart callback will not happen
 * (exec failed, or the server is stopping): changes are applied
 * in-process again. Thread: any. GIL: not held. */
void
hs_bridge_restart_cancelled(struct hs_bridge *b);

/* Right before the process image is replaced: flush Python's
 * sys.stdout/sys.stderr and remove the stale bytecode of files changed
 * since the last barrier, so the next image imports them from source.
 * Python is NOT finalized (see server/restart.c). NULL is fine.
 * Thread: main. GIL: not held. */
void
hs_bridge_before_exec(struct hs_bridge *b);

/* Measured restart cost (start_ns to app loaded), 0 when unknown. */
uint64_t
hs_bridge_startup_ns(const struct hs_bridge *b);

/* Free the app, the reloader and the interpreter. Every thread that ran
 * Python must be joined first (stop MHD before). NULL is fine.
 * Thread: main. GIL: not held. */
void
hs_bridge_close(struct hs_bridge *b);

#endif
