/* Exception -> 500 page + log lines. The formatting is Python
 * (hotserve/_errpage.py, embedded); this file is the C boundary with a
 * fallback that cannot fail on the Python side. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/errpage.h"

#include <string.h>

#include "bridge/pycompat.h"
#include "reload/log.h"

static void
log_exception(PyObject *mod, PyObject *exc, const char *context)
{
    PyObject *line = NULL, *tb = NULL, *fmt = NULL, *text = NULL;
    PyObject *trace = PyException_GetTraceback(exc);    /* new or NULL */
    const char *s;
    Py_ssize_t n;

    line = PyObject_CallMethod(mod, "summary", "Os", exc, context);
    if (line != NULL && (s = PyUnicode_AsUTF8(line)) != NULL) {
        hs_log(HS_LOG_ERROR, "error: %s", s);
    }
    PyErr_Clear();
    tb = PyImport_ImportModule("traceback");
    if (tb != NULL) {
        fmt = PyObject_CallMethod(tb, "format_exception", "OOO",
                                  (PyObject *)Py_TYPE(exc), exc,
                                  trace ? trace : Py_None);
    }
    if (fmt != NULL) {
        PyObject *empty = PyUnicode_FromString("");
        if (empty != NULL) {
            text = PyUnicode_Join(empty, fmt);
            Py_DECREF(empty);
        }
    }
    if (text != NULL && (s = PyUnicode_AsUTF8AndSize(text, &n)) != NULL) {
        hs_log_raw(s, (size_t)n);
    }
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(fmt);
    Py_XDECREF(tb);
    Py_XDECREF(line);
    Py_XDECREF(trace);
}

PyObject *
hs_errpage_render(PyObject *exc, const char *context, int want_html,
                  int log, const char **ctype)
{
    PyObject *saved = hs_err_take();   /* keep nothing pending */
    PyObject *mod, *res = NULL, *body = NULL;

    mod = PyImport_ImportModule("hotserve._errpage");
    if (mod != NULL) {
        if (log) {
            log_exception(mod, exc, context);
        }
        res = PyObject_CallMethod(mod, "render", "Osi", exc, context,
                                  want_html);
    }
    if (res != NULL && PyTuple_Check(res) && PyTuple_GET_SIZE(res) == 2
        && PyBytes_Check(PyTuple_GET_ITEM(res, 0))) {
        const char *ct = PyUnicode_AsUTF8(PyTuple_GET_ITEM(res, 1));
        body = Py_NewRef(PyTuple_GET_ITEM(res, 0));
        *ctype = ct != NULL && strncmp(ct, "text/html", 9) == 0
                     ? "text/html; charset=utf-8"
                     : "text/plain; charset=utf-8";
    } else {
        PyErr_Clear();
        hs_log(HS_LOG_ERROR, "error: cannot render the error page");
        body = PyBytes_FromString("500 Internal Server Error\n\nThe "
                                  "application failed and the error page "
                                  "could not be rendered; see the server "
                                  "log.\n");
        *ctype = "text/plain; charset=utf-8";
    }
    PyErr_Clear();
    Py_XDECREF(res);
    Py_XDECREF(mod);
    Py_XDECREF(saved);
    return body;
}
