/* Interpreter + app + reloader lifetime, behind a Python-free API. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/bridge.h"

#include <stdlib.h>
#include <string.h>

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
};

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
    if (cfg->reload) {
        b->reloader = hs_reloader_new(&b->app, cfg->watch, cfg->changes,
                                      cfg->roots, cfg->nroots);
        if (b->reloader == NULL || hs_reloader_install(b->reloader) < 0) {
            if (PyErr_Occurred()) {
                PyErr_Print();
            }
            hs_log(HS_LOG_ERROR, "hotserve: error: cannot set up "
                   "reloading");
            return -1;
        }
    }
    if (hs_app_load(&b->app) < 0) {
        if (b->app.usage_error != NULL) {
            hs_log(HS_LOG_ERROR, "hotserve: error: %s", b->app.usage_error);
            return -1;
        }
        show(b->app.error);
        if (!cfg->reload) {
            hs_log(HS_LOG_ERROR, "hotserve: error: the application '%s' "
                   "failed to import (traceback above)", cfg->app_spec);
            return -1;
        }
        hs_log(HS_LOG_ERROR, "The application failed to import. Every "
               "request gets the error page until the file is fixed; "
               "hotserve retries on the next change.");
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
