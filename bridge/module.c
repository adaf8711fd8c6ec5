/* The builtin `_hotserve` module: what the `hotserve` package needs from
 * C. Multi-phase init; the module state points at the reloader, set by
 * hs_module_bind once the reloader is installed. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/module.h"

#include <errno.h>
#include <sys/stat.h>

#include "bridge/reloader.h"
/* watch() needs the reloader's watcher; module.c is the reloader's own
 * Python face, so it reads the private struct instead of widening the
 * reloader's public API. */
#include "bridge/reloader_int.h"
#include "reload/log.h"
#include "reload/watch.h"

struct modstate {
    struct hs_reloader *r;      /* NULL: reloading off or not installed */
};

static struct modstate *
state_of(PyObject *m)
{
    return PyModule_GetState(m);
}

static PyObject *
mod_status(PyObject *m, PyObject *unused)
{
    (void)unused;
    return hs_reloader_status(state_of(m)->r);
}

static PyObject *
mod_previous(PyObject *m, PyObject *name)
{
    PyObject *prev;

    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "module name must be a str");
        return NULL;
    }
    prev = state_of(m)->r != NULL ? hs_reloader_previous(state_of(m)->r,
                                                         name)
                                  : NULL;
    if (prev == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    return Py_NewRef(prev);
}

static PyObject *
mod_log(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    long level;
    const char *msg;

    (void)m;
    if (nargs != 2 || !PyLong_Check(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "log(level: int, message: str)");
        return NULL;
    }
    level = PyLong_AsLong(args[0]);
    if (level == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (level < HS_LOG_DEBUG || level > HS_LOG_ERROR) {
        PyErr_SetString(PyExc_ValueError, "level must be 0..3");
        return NULL;
    }
    msg = PyUnicode_AsUTF8(args[1]);
    if (msg == NULL) {
        return NULL;
    }
    hs_log((enum hs_log_level)level, "%s", msg);
    Py_RETURN_NONE;
}

static PyObject *
mod_log_raw(PyObject *m, PyObject *text)
{
    const char *s;
    Py_ssize_t n;

    (void)m;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "log_raw(text: str)");
        return NULL;
    }
    s = PyUnicode_AsUTF8AndSize(text, &n);
    if (s == NULL) {
        return NULL;
    }
    hs_log_raw(s, (size_t)n);
    Py_RETURN_NONE;
}

/* watch(path) -> bool: make the watcher report changes under path (a
 * directory: the whole tree, like --watch) or of path (a file), also
 * outside the working directory. Templates and translations use it: the
 * polling backend only stats tracked files, so callers track files one by
 * one in that mode. False when nothing watches (--no-reload). */
static PyObject *
mod_watch(PyObject *m, PyObject *arg)
{
    struct hs_reloader *r = state_of(m)->r;
    PyObject *bytes = NULL;
    const char *path;
    struct stat st;
    int rc;

    if (!PyUnicode_FSConverter(arg, &bytes)) {
        return NULL;
    }
    if (r == NULL || r->watch == NULL) {
        Py_DECREF(bytes);
        Py_RETURN_FALSE;
    }
    path = PyBytes_AS_STRING(bytes);
    Py_BEGIN_ALLOW_THREADS
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = hs_watch_add_root(r->watch, path);
    } else {
        rc = hs_watch_track(r->watch, path);
    }
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        errno = -rc;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, arg);
        Py_DECREF(bytes);
        return NULL;
    }
    Py_DECREF(bytes);
    Py_RETURN_TRUE;
}

static PyMethodDef mod_methods[] = {
    {"status", mod_status, METH_NOARGS,
     "status() -> dict: reload statistics (see hotserve.status)."},
    {"_previous", mod_previous, METH_O,
     "_previous(module_name) -> dict or None: the namespace the module had "
     "before the re-execution in progress."},
    {"log", (PyCFunction)(void (*)(void))mod_log, METH_FASTCALL,
     "log(level, message): one line into hotserve's log "
     "(0 debug, 1 info, 2 warning, 3 error)."},
    {"log_raw", mod_log_raw, METH_O,
     "log_raw(text): write text (e.g. a traceback) to hotserve's log."},
    {"watch", mod_watch, METH_O,
     "watch(path) -> bool: report changes of a file or under a directory "
     "tree (also outside the working directory); False without reloading."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot mod_slots[] = {
    {0, NULL},
};

static struct PyModuleDef hs_moddef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_hotserve",
    .m_doc = "C side of the hotserve package (use `hotserve` instead).",
    .m_size = sizeof(struct modstate),
    .m_methods = mod_methods,
    .m_slots = mod_slots,
};

PyObject *
hs_module_pyinit(void)
{
    return PyModuleDef_Init(&hs_moddef);
}

int
hs_module_bind(struct hs_reloader *r)
{
    PyObject *m = PyImport_ImportModule("_hotserve");
    struct modstate *st;

    if (m == NULL) {
        return -1;
    }
    if (PyModule_GetDef(m) != &hs_moddef) {
        PyErr_SetString(PyExc_ImportError,
                        "_hotserve is not hotserve's builtin module");
        Py_DECREF(m);
        return -1;
    }
    st = state_of(m);
    st->r = r;
    Py_DECREF(m);
    return 0;
}
