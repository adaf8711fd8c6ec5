/* Small helpers over C API differences between CPython 3.9 and 3.12+. */
#ifndef HS_PYCOMPAT_H
#define HS_PYCOMPAT_H

#include <Python.h>

/* Take the pending exception as one object (traceback attached), clearing
 * it; NULL if none is pending. Returns a new reference. GIL: held. */
static inline PyObject *
hs_err_take(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;

    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL) {
        /* As ceval does: the fetched traceback is the truth, even when it
         * is empty (importlib strips its own frames). */
        PyException_SetTraceback(value, tb != NULL ? tb : Py_None);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/* Make exc (stolen) the pending exception again. GIL: held. */
static inline void
hs_err_restore(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    if (exc == NULL) {
        return;
    }
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc,
                  PyException_GetTraceback(exc));
#endif
}

#endif
