/* Reporting a reload: the log line, the traceback, the status entry, the
 * hotserve package's after-reload work. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/reloader.h"
#include "bridge/reloader_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/importhook.h"
#include "bridge/pycompat.h"
#include "reload/depgraph.h"
#include "reload/log.h"

/* path relative to the working directory when it lies under it. */
const char *
hs_reloader_relpath(const struct hs_reloader *r, const char *path)
{
    size_t n = strlen(r->cwd);

    if (n > 1 && strncmp(path, r->cwd, n) == 0 && path[n] == '/') {
        return path + n + 1;
    }
    if (path[0] == '.' && path[1] == '/') {
        return path + 2;
    }
    return path;
}

static void
append(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + n + 1 > cap) {
        n = *len + 1 < cap ? cap - *len - 1 : 0;
    }
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

/* "apps/views.py" or "a.py, b.py, c.py and 2 more" */
void
hs_reloader_trigger_text(const struct hs_reloader *r,
                         const struct hs_reload_batch *b, char *buf,
                         size_t cap)
{
    size_t i, len = 0;
    char more[64];

    buf[0] = '\0';
    for (i = 0; i < b->ntrigger && i < 3; i++) {
        if (i > 0) {
            append(buf, cap, &len, ", ");
        }
        append(buf, cap, &len, hs_reloader_relpath(r, b->trigger[i]));
    }
    if (b->ntrigger > 3) {
        snprintf(more, sizeof(more), " and %zu more", b->ntrigger - 3);
        append(buf, cap, &len, more);
    }
    if (b->ntrigger == 0) {
        append(buf, cap, &len, "retry");
    }
}

/* Names joined with " → ", cut with "(N more)" past HS_RELOAD_LIST_MAX
 * bytes. */
void
hs_reloader_names_text(PyObject *names, char *buf, size_t cap)
{
    Py_ssize_t i, n = PyList_GET_SIZE(names);
    size_t len = 0;
    char more[64];

    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(names, i));
        if (s == NULL) {
            PyErr_Clear();
            continue;
        }
        if (len + strlen(s) + 8 > HS_RELOAD_LIST_MAX && i + 1 < n) {
            snprintf(more, sizeof(more), "%s(%zd more)",
                     i ? HS_RELOAD_ARROW : "", n - i);
            append(buf, cap, &len, more);
            break;
        }
        if (i > 0) {
            append(buf, cap, &len, HS_RELOAD_ARROW);
        }
        append(buf, cap, &len, s);
    }
}

/* "SyntaxError: invalid syntax (views.py, line 3)", first line only. */
char *
hs_reloader_exc_line(PyObject *exc)
{
    PyObject *s = PyObject_Str(exc);
    const char *msg = s != NULL ? PyUnicode_AsUTF8(s) : NULL;
    const char *type = Py_TYPE(exc)->tp_name;
    const char *dot = strrchr(type, '.');
    size_t n;
    char *out;

    if (dot != NULL) {
        type = dot + 1;
    }
    if (msg == NULL) {
        PyErr_Clear();
        msg = "";
    }
    n = strlen(type) + strlen(msg) + 3;
    out = malloc(n);
    if (out != NULL) {
        snprintf(out, n, msg[0] ? "%s: %s" : "%s%s", type, msg);
        out[strcspn(out, "\n")] = '\0';
    }
    Py_XDECREF(s);
    return out;
}

/* A ModuleNotFoundError about a module whose file was deleted becomes one
 * that names the file. Returns a new reference (exc itself otherwise). */
PyObject *
hs_reloader_name_deleted(struct hs_reloader *r,
                         const struct hs_reload_batch *b, PyObject *exc)
{
    PyObject *name, *msg = NULL, *kw = NULL, *args = NULL, *out = NULL;
    PyObject *path = NULL, *tb;
    const char *s;
    size_t i;

    if (!PyErr_GivenExceptionMatches(exc, PyExc_ModuleNotFoundError)) {
        return Py_NewRef(exc);
    }
    name = PyObject_GetAttrString(exc, "name");
    s = name != NULL && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    for (i = 0; s != NULL && i < b->nids; i++) {
        const char *file = hs_graph_file(r->graph, b->ids[i]);
        if (!b->deleted[i] || file == NULL
            || strcmp(hs_graph_name(r->graph, b->ids[i]), s) != 0) {
            continue;
        }
        msg = PyUnicode_FromFormat("No module named '%s': %s was deleted",
                                   s, hs_reloader_relpath(r, file));
        path = PyUnicode_DecodeFSDefault(file);
        args = msg != NULL ? PyTuple_Pack(1, msg) : NULL;
        kw = Py_BuildValue("{sOsO}", "name", name, "path",
                           path != NULL ? path : Py_None);
        if (args != NULL && kw != NULL) {
            out = PyObject_Call(PyExc_ModuleNotFoundError, args, kw);
        }
        if (out != NULL) {
            tb = PyException_GetTraceback(exc);
            if (tb != NULL) {
                PyException_SetTraceback(out, tb);
                Py_DECREF(tb);
            }
        }
        break;
    }
    PyErr_Clear();
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(path);
    Py_XDECREF(msg);
    Py_XDECREF(name);
    return out != NULL ? out : Py_NewRef(exc);
}

PyObject *
hs_reloader_status_last(struct hs_reloader *r,
                        const struct hs_reload_batch *b, int ok,
                        const char *error, double total_ms,
                        PyObject *deleted)
{
    const struct hs_exec_record *jr;
    size_t i, n = hs_importhook_journal(r->hook, &jr);
    PyObject *mods = PyList_New(0), *trig = PyList_New(0), *d = NULL;

    if (mods == NULL || trig == NULL) {
        goto done;
    }
    for (i = 0; i < n; i++) {
        PyObject *m = Py_BuildValue("{sssd}", "name",
                                    hs_graph_name(r->graph, jr[i].id), "ms",
                                    (double)jr[i].ns / 1e6);
        if (m == NULL || PyList_Append(mods, m) < 0) {
            Py_XDECREF(m);
            goto done;
        }
        Py_DECREF(m);
    }
    for (i = 0; i < b->ntrigger; i++) {
        PyObject *t = PyUnicode_DecodeFSDefault(
            hs_reloader_relpath(r, b->trigger[i]));
        if (t == NULL || PyList_Append(trig, t) < 0) {
            Py_XDECREF(t);
            goto done;
        }
        Py_DECREF(t);
    }
    d = Py_BuildValue("{sOsdsOsOszsO}", "modules", mods, "total_ms",
                      total_ms, "trigger", trig, "ok", ok ? Py_True
                                                          : Py_False,
                      "error", error, "deleted", deleted);
done:
    PyErr_Clear();
    Py_XDECREF(trig);
    Py_XDECREF(mods);
    return d;
}

void
hs_reloader_log_traceback(PyObject *exc)
{
    PyObject *tbmod = PyImport_ImportModule("traceback");
    PyObject *lines = NULL, *text = NULL, *sep = NULL, *tb;
    const char *s;
    Py_ssize_t n;

    if (tbmod == NULL) {
        goto done;
    }
    tb = PyException_GetTraceback(exc);
    lines = PyObject_CallMethod(tbmod, "format_exception", "OOO",
                                (PyObject *)Py_TYPE(exc), exc,
                                tb != NULL ? tb : Py_None);
    Py_XDECREF(tb);
    sep = PyUnicode_FromString("");
    if (lines == NULL || sep == NULL) {
        goto done;
    }
    text = PyUnicode_Join(sep, lines);
    if (text != NULL && (s = PyUnicode_AsUTF8AndSize(text, &n)) != NULL) {
        hs_log_raw(s, (size_t)n);
    }
done:
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(sep);
    Py_XDECREF(lines);
    Py_XDECREF(tbmod);
}

/* Call fn(args...) of a hotserve submodule; errors are logged as a
 * warning with their traceback, never fatal. */
void
hs_reloader_call_package(const char *module, const char *fn,
                         const char *fmt, ...)
{
    PyObject *mod = PyImport_ImportModule(module), *f = NULL, *args = NULL;
    PyObject *res = NULL, *exc;
    va_list ap;

    if (mod == NULL) {
        /* Running without the embedded package (tests, --python mixups):
         * the reload itself is complete. */
        hs_log(HS_LOG_DEBUG, "reloader: cannot import %s", module);
        PyErr_Clear();
        return;
    }
    f = PyObject_GetAttrString(mod, fn);
    va_start(ap, fmt);
    args = Py_VaBuildValue(fmt, ap);
    va_end(ap);
    if (f != NULL && args != NULL) {
        res = PyObject_CallObject(f, args);
    }
    if (res == NULL) {
        exc = hs_err_take();
        if (exc != NULL) {
            PyObject *s = PyObject_Str(exc);
            hs_log(HS_LOG_WARN, "%s.%s failed after the reload: %s", module,
                   fn, s != NULL && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s)
                                                       : "?");
            PyErr_Clear();
            Py_XDECREF(s);
            hs_reloader_log_traceback(exc);
            Py_DECREF(exc);
        }
    }
    Py_XDECREF(res);
    Py_XDECREF(args);
    Py_XDECREF(f);
    Py_DECREF(mod);
}
