/* The C side of the framework integrations: hand the loaded app and the
 * changed non-Python files to hotserve._frameworks. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/frameworks.h"

#include <string.h>

#include "bridge/pycompat.h"
#include "reload/log.h"

#define PKG "hotserve._frameworks"

/* Log the pending exception (with its traceback) as a warning. */
static void
log_failure(const char *what)
{
    PyObject *exc = hs_err_take(), *s = NULL, *tb = NULL, *lines = NULL;
    PyObject *text = NULL, *empty = NULL;
    const char *msg = NULL, *t;
    Py_ssize_t n;

    if (exc == NULL) {
        return;
    }
    s = PyObject_Str(exc);
    msg = s != NULL ? PyUnicode_AsUTF8(s) : NULL;
    hs_log(HS_LOG_WARN, "%s failed: %s: %s", what, Py_TYPE(exc)->tp_name,
           msg != NULL ? msg : "?");
    PyErr_Clear();
    tb = PyImport_ImportModule("traceback");
    if (tb != NULL) {
        PyObject *trace = PyException_GetTraceback(exc);
        lines = PyObject_CallMethod(tb, "format_exception", "OOO",
                                    (PyObject *)Py_TYPE(exc), exc,
                                    trace != NULL ? trace : Py_None);
        Py_XDECREF(trace);
    }
    empty = PyUnicode_FromString("");
    if (lines != NULL && empty != NULL) {
        text = PyUnicode_Join(empty, lines);
    }
    if (text != NULL && (t = PyUnicode_AsUTF8AndSize(text, &n)) != NULL) {
        hs_log_raw(t, (size_t)n);
    }
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(tb);
    Py_XDECREF(s);
    Py_DECREF(exc);
}

void
hs_frameworks_before_import(void)
{
    PyObject *mod = PyImport_ImportModule(PKG), *res = NULL;

    if (mod != NULL) {
        res = PyObject_CallMethod(mod, "before_import", NULL);
    }
    if (res == NULL) {
        log_failure(PKG ".before_import()");
    }
    Py_XDECREF(res);
    Py_XDECREF(mod);
}

PyObject *
hs_frameworks_app_loaded(PyObject *app)
{
    PyObject *mod = PyImport_ImportModule(PKG);
    PyObject *res;

    if (mod == NULL) {
        /* Without the embedded package (a unit test binary) the app is
         * served as it is. */
        log_failure("importing " PKG);
        return Py_NewRef(app);
    }
    res = PyObject_CallMethod(mod, "app_loaded", "O", app);
    Py_DECREF(mod);
    if (res != NULL && !PyCallable_Check(res)) {
        PyErr_Format(PyExc_TypeError, PKG ".app_loaded() returned a "
                     "non-callable %.100s", Py_TYPE(res)->tp_name);
        Py_CLEAR(res);
    }
    return res;
}

static int
is_py(const char *path)
{
    size_t n = strlen(path);

    return n > 3 && strcmp(path + n - 3, ".py") == 0;
}

void
hs_frameworks_files_changed(const char *const *paths, size_t n,
                            int overflow)
{
    PyObject *list = NULL, *mod = NULL, *res = NULL;
    size_t i;

    for (i = 0; i < n && is_py(paths[i]); i++) {
    }
    if (i == n && !overflow) {
        return;
    }
    list = PyList_New(0);
    if (list == NULL) {
        goto fail;
    }
    for (; i < n; i++) {
        PyObject *s;
        if (is_py(paths[i])) {
            continue;
        }
        s = PyUnicode_DecodeFSDefault(paths[i]);
        if (s == NULL || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            goto fail;
        }
        Py_DECREF(s);
    }
    mod = PyImport_ImportModule(PKG);
    if (mod == NULL) {
        goto fail;
    }
    res = PyObject_CallMethod(mod, "files_changed", "Oi", list, overflow);
    if (res == NULL) {
        goto fail;
    }
    goto done;
fail:
    log_failure(PKG ".files_changed()");
done:
    Py_XDECREF(res);
    Py_XDECREF(mod);
    Py_XDECREF(list);
}
