/* Resolve MODULE:ATTR to the WSGI callable. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/app.h"

#include <stdarg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/frameworks.h"
#include "bridge/pycompat.h"

static void
set_usage_error(struct hs_app *app, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_usage_error(struct hs_app *app, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(app->usage_error);
    app->usage_error = strdup(buf);
}

/* Is the pending ModuleNotFoundError about the app module itself (or one
 * of its parent packages), rather than about something the app's code
 * imports? Only the former is a usage error. */
static int
missing_is_app_module(const struct hs_app *app, PyObject *exc)
{
    PyObject *name = PyObject_GetAttrString(exc, "name");
    const char *s;
    size_t n;
    int r = 0;

    if (name == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (PyUnicode_Check(name) && (s = PyUnicode_AsUTF8(name)) != NULL) {
        n = strlen(s);
        r = strncmp(app->module, s, n) == 0
            && (app->module[n] == '\0' || app->module[n] == '.');
    }
    PyErr_Clear();
    Py_DECREF(name);
    return r;
}

static void
store_error(struct hs_app *app)
{
    PyObject *exc = hs_err_take();

    Py_XSETREF(app->error, exc);
    Py_CLEAR(app->callable);
}

int
hs_app_load(struct hs_app *app)
{
    PyObject *mod = NULL, *obj = NULL, *made = NULL;

    free(app->usage_error);
    app->usage_error = NULL;
    hs_frameworks_before_import();
    mod = PyImport_ImportModule(app->module);
    if (mod == NULL) {
        if (PyErr_ExceptionMatches(PyExc_ModuleNotFoundError)) {
            PyObject *exc = hs_err_take();
            if (missing_is_app_module(app, exc)) {
                set_usage_error(app, "cannot import module '%s': no such "
                                "module on sys.path (is the working "
                                "directory right? see --chdir and "
                                "--pythonpath)", app->module);
            }
            hs_err_restore(exc);
        }
        goto fail;
    }
    obj = PyObject_GetAttrString(mod, app->attr);
    if (obj == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            set_usage_error(app, "module '%s' has no attribute '%s'",
                            app->module, app->attr);
        }
        goto fail;
    }
    if (app->factory) {
        if (!PyCallable_Check(obj)) {
            set_usage_error(app, "application factory '%s:%s' is not "
                            "callable", app->module, app->attr);
            PyErr_Format(PyExc_TypeError, "%s", app->usage_error);
            goto fail;
        }
        made = PyObject_CallNoArgs(obj);
        if (made == NULL) {
            goto fail;
        }
        Py_SETREF(obj, made);
    }
    if (!PyCallable_Check(obj)) {
        set_usage_error(app, "application '%s:%s' is not callable (it is "
                        "%.100s)", app->module, app->attr,
                        Py_TYPE(obj)->tp_name);
        PyErr_Format(PyExc_TypeError, "%s", app->usage_error);
        goto fail;
    }
    /* Django / Flask integration: may wrap the app (static files) or
     * refuse it (a system check error), shown as the error page. */
    made = hs_frameworks_app_loaded(obj);
    if (made == NULL) {
        goto fail;
    }
    Py_SETREF(obj, made);
    Py_XSETREF(app->callable, obj);
    Py_CLEAR(app->error);
    Py_DECREF(mod);
    return 0;
fail:
    store_error(app);
    Py_XDECREF(obj);
    Py_XDECREF(mod);
    return -1;
}

void
hs_app_clear(struct hs_app *app)
{
    Py_CLEAR(app->callable);
    Py_CLEAR(app->error);
    free(app->module);
    free(app->attr);
    free(app->usage_error);
    app->module = NULL;
    app->attr = NULL;
    app->usage_error = NULL;
}
