/* Interpreter + app + reloader lifetime, behind a Python-free API. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/bridge.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/app.h"
#include "bridge/reloader.h"
#include "bridge/wsgi.h"
#include "reload/log.h"

struct hs_bridge {
    struct hs_app app;
    struct hs_reloader *reloader;
    struct hs_wsgi *wsgi;
    char describe[256];
    int py_started;
    hs_bridge_restart_fn restart;
    void *restart_ctx;
    uint64_t startup_ns;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* _hotserve.request_restart(reason) -> bool, behind POST
 * /__hotserve__/restart: True when a restart is pending. */
static PyObject *
py_request_restart(PyObject *self, PyObject *arg)
{
    struct hs_bridge *b = PyCapsule_GetPointer(self, "hotserve.bridge");
    const char *reason;
    int pending;

    if (b == NULL) {
        return NULL;
    }
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "request_restart(reason: str)");
        return NULL;
    }
    reason = PyUnicode_AsUTF8(arg);
    if (reason == NULL) {
        return NULL;
    }
    if (b->restart == NULL) {
        Py_RETURN_FALSE;
    }
    pending = b->restart(b->restart_ctx, reason);
    return PyBool_FromLong(pending);
}

static PyMethodDef request_restart_def = {
    "request_restart", py_request_restart, METH_O,
    "request_restart(reason) -> bool: ask hotserve for a full restart."};

/* Put request_restart on the builtin _hotserve module (it needs the
 * bridge, which the module's own state does not know). */
static int
bind_restart(struct hs_bridge *b)
{
    PyObject *mod = PyImport_ImportModule("_hotserve");
    PyObject *cap = NULL, *fn = NULL;
    int rc = -1;

    if (mod == NULL) {
        goto done;
    }
    cap = PyCapsule_New(b, "hotserve.bridge", NULL);
    if (cap == NULL) {
        goto done;
    }
    fn = PyCFunction_New(&request_restart_def, cap);
    if (fn == NULL) {
        goto done;
    }
    rc = PyObject_SetAttrString(mod, "request_restart", fn);
done:
    Py_XDECREF(fn);
    Py_XDECREF(cap);
    Py_XDECREF(mod);
    return rc;
}

/* Print an exception's traceback to the log. */
static void
show(PyObject *exc)
{
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        PyErr_Print();
    }
}

static int
load(struct hs_bridge *b, const struct hs_bridge_config *cfg)
{
    b->app.module = strdup(cfg->module);
    b->app.attr = strdup(cfg->attr);
    b->app.factory = cfg->factory;
    if (b->app.module == NULL || b->app.attr == NULL) {
        return -1;
    }
    b->restart = cfg->restart;
    b->restart_ctx = cfg->restart_ctx;
    if (bind_restart(b) < 0) {
        PyErr_Print();
        hs_log(HS_LOG_WARN, "warning: POST /__hotserve__/restart is "
               "unavailable");
    }
    if (cfg->reload) {
        struct hs_reloader_restart rr = {
            .always = cfg->restart_always,
            .threshold = cfg->restart_threshold,
            .globs = cfg->restart_on,
            .nglobs = cfg->nrestart_on,
            .request = cfg->restart,
            .ctx = cfg->restart_ctx,
        };
        b->reloader = hs_reloader_new(&b->app, cfg->watch, cfg->changes,
                                      cfg->roots, cfg->nroots);
        if (b->reloader != NULL
            && hs_reloader_set_restart(b->reloader, &rr) < 0) {
            hs_log(HS_LOG_ERROR, "hotserve: error: out of memory");
            return -1;
        }
        if (b->reloader == NULL || hs_reloader_install(b->reloader) < 0) {
            if (PyErr_Occurred()) {
                PyErr_Print();
            }
            hs_log(HS_LOG_ERROR, "hotserve: error: cannot set up "
                   "reloading");
            return -1;
        }
    }
    if (hs_app_load(&b->app) == 0) {
        /* What a restart costs: the next image does all of this again. */
        if (cfg->start_ns > 0) {
            b->startup_ns = now_ns() - cfg->start_ns;
        }
        if (b->reloader != NULL) {
            hs_reloader_set_startup_ns(b->reloader, b->startup_ns);
            hs_reloader_app_loaded(b->reloader);
        }
    } else {
        if (b->app.usage_error != NULL && !cfg->restarted) {
            hs_log(HS_LOG_ERROR, "hotserve: error: %s", b->app.usage_error);
            return -1;
        }
        /* After a restart the command line is known to be right: a
         * module that went missing is an edit to fix, not a reason to
         * exit. */
        show(b->app.error);
        if (!cfg->reload && !cfg->restarted) {
            hs_log(HS_LOG_ERROR, "hotserve: error: the application '%s' "
                   "failed to import (traceback above)", cfg->app_spec);
            return -1;
        }
        hs_log(HS_LOG_ERROR, "%s", cfg->reload
               ? "The application failed to import. Every request gets "
                 "the error page until the file is fixed; hotserve "
                 "retries on the next change."
               : "The application failed to import. Every request gets "
                 "the error page until the next restart (kill -HUP).");
    }
    b->wsgi = hs_wsgi_new(&b->app, b->reloader);
    return b->wsgi == NULL ? -1 : 0;
}

struct hs_bridge *
hs_bridge_open(const struct hs_bridge_config *cfg)
{
    struct hs_bridge *b = calloc(1, sizeof(*b));
    char err[512];
    int rc;

    if (b == NULL) {
        hs_log(HS_LOG_ERROR, "hotserve: error: out of memory");
        return NULL;
    }
    if (hs_py_init(&cfg->py, err, sizeof(err)) < 0) {
        hs_log(HS_LOG_ERROR, "hotserve: error: %s", err);
        b->py_started = Py_IsInitialized();
        hs_bridge_close(b);
        return NULL;
    }
    b->py_started = 1;
    hs_py_enter();
    rc = load(b, cfg);
    hs_py_describe(b->describe, sizeof(b->describe));
    hs_py_leave();
    if (rc < 0) {
        hs_bridge_close(b);
        return NULL;
    }
    return b;
}

struct hs_wsgi *
hs_bridge_wsgi(struct hs_bridge *b)
{
    return b->wsgi;
}

int
hs_bridge_barrier(struct hs_bridge *b)
{
    return b != NULL && b->reloader != NULL
           ? hs_reloader_prepare(b->reloader) : 0;
}

void
hs_bridge_restart_cancelled(struct hs_bridge *b)
{
    if (b != NULL && b->reloader != NULL) {
        hs_reloader_restart_cancelled(b->reloader);
    }
}

void
hs_bridge_before_exec(struct hs_bridge *b)
{
    PyObject *res;
    const char *const streams[] = {"stdout", "stderr"};
    size_t i;

    if (b == NULL || !b->py_started) {
        return;
    }
    if (b->reloader != NULL) {
        hs_reloader_before_exec(b->reloader);
    }
    /* print() output of the app still in Python's buffers would be lost
     * with the image. */
    hs_py_enter();
    for (i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(streams[i]);     /* borrowed */
        if (f != NULL && f != Py_None) {
            res = PyObject_CallMethod(f, "flush", NULL);
            Py_XDECREF(res);
        }
    }
    PyErr_Clear();
    hs_py_leave();
}

uint64_t
hs_bridge_startup_ns(const struct hs_bridge *b)
{
    return b != NULL ? b->startup_ns : 0;
}

const char *
hs_bridge_describe(const struct hs_bridge *b)
{
    return b->describe;
}

void
hs_bridge_close(struct hs_bridge *b)
{
    if (b == NULL) {
        return;
    }
    if (b->py_started) {
        hs_py_enter();
        hs_wsgi_free(b->wsgi);
        hs_reloader_free(b->reloader);
        hs_app_clear(&b->app);
        hs_py_leave();
        hs_py_fini();
    }
    free(b);
}
