/* The embedded interpreter: start, stop, and per-thread thread states.
 *
 * Every connection thread gets one Python thread state, created on first
 * use and kept until the thread exits, so threading.local data (Django's
 * DB connections) survives between the app call, body iteration and
 * close() of one request and across keep-alive requests.
 */
#ifndef HS_PY_H
#define HS_PY_H

#include <stddef.h>

struct hs_py_config {
    const char *argv0;            /* our own argv[0] */
    const char *python;           /* --python PATH, or NULL */
    const char *const *pythonpath;/* extra sys.path entries, first */
    size_t npythonpath;
    const char *cwd;              /* put first on sys.path (like gunicorn) */
};

/* Initialize CPython: PyConfig with parse_argv=0 and no signal handlers
 * (the loop thread owns signals), bytecode writing off (no stale .pyc),
 * the venv of VIRTUAL_ENV or --python honoured through config.executable,
 * the builtin _hotserve module and the embedded `hotserve` package
 * importable, sys.path = [cwd, pythonpath..., default]. On return the
 * calling thread does NOT hold the GIL.
 * Returns 0, or -1 with a one-line message in err.
 * Thread: main, once. GIL: not held. Locks: none. */
int
hs_py_init(const struct hs_py_config *cfg, char *err, size_t errlen);

/* Finalize CPython. Every thread that used hs_py_enter must be joined.
 * Thread: main. GIL: not held. */
void
hs_py_fini(void);

/* Take the GIL with this thread's own thread state (created on first
 * use). Must be paired with hs_py_leave on the same thread; not
 * reentrant. Thread: any. GIL: not held -> held. */
void
hs_py_enter(void);

/* Release the GIL, keeping the thread state for the next hs_py_enter.
 * Thread: same as hs_py_enter. GIL: held -> not held. */
void
hs_py_leave(void);

/* One line for the banner: "Python 3.11.2 (/usr)".
 * Thread: any. GIL: held. */
void
hs_py_describe(char *buf, size_t len);

#endif
