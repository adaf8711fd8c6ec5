/* wsgi.file_wrapper (PEP 3333 "Optional Platform-Specific File
 * Handling"). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/filewrapper.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
} HsFileWrapper;

static PyTypeObject HsFileWrapper_Type;

static int
HsFileWrapper_init(HsFileWrapper *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"filelike", "block_size", NULL};
    PyObject *filelike;
    Py_ssize_t blksize = 8192;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n:file_wrapper", kwlist,
                                     &filelike, &blksize)) {
        return -1;
    }
    if (blksize <= 0) {
        PyErr_SetString(PyExc_ValueError, "block_size must be positive");
        return -1;
    }
    Py_XSETREF(self->filelike, Py_NewRef(filelike));
    self->blksize = blksize;
    return 0;
}

static PyObject *
HsFileWrapper_iternext(HsFileWrapper *self)
{
    PyObject *data = PyObject_CallMethod(self->filelike, "read", "n",
                                         self->blksize);

    if (data == NULL) {
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "file_wrapper: read() returned "
                     "%.100s, not bytes", Py_TYPE(data)->tp_name);
        Py_DECREF(data);
        return NULL;
    }
    if (PyBytes_GET_SIZE(data) == 0) {
        Py_DECREF(data);
        return NULL;
    }
    return data;
}

static PyObject *
HsFileWrapper_close(HsFileWrapper *self, PyObject *unused)
{
    (void)unused;
    if (PyObject_HasAttrString(self->filelike, "close")) {
        return PyObject_CallMethod(self->filelike, "close", NULL);
    }
    Py_RETURN_NONE;
}

static int
HsFileWrapper_traverse(HsFileWrapper *self, visitproc visit, void *arg)
{
    Py_VISIT(self->filelike);
    return 0;
}

static int
HsFileWrapper_clear(HsFileWrapper *self)
{
    Py_CLEAR(self->filelike);
    return 0;
}

static void
HsFileWrapper_dealloc(HsFileWrapper *self)
{
    PyObject_GC_UnTrack(self);
    HsFileWrapper_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef HsFileWrapper_methods[] = {
    {"close", (PyCFunction)HsFileWrapper_close, METH_NOARGS,
     "close the wrapped file"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject HsFileWrapper_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hotserve.FileWrapper",
    .tp_basicsize = sizeof(HsFileWrapper),
    .tp_dealloc = (destructor)HsFileWrapper_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "wsgi.file_wrapper(filelike, block_size=8192)",
    .tp_traverse = (traverseproc)HsFileWrapper_traverse,
    .tp_clear = (inquiry)HsFileWrapper_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)HsFileWrapper_iternext,
    .tp_methods = HsFileWrapper_methods,
    .tp_init = (initproc)HsFileWrapper_init,
    .tp_new = PyType_GenericNew,
};

PyObject *
hs_filewrapper_init(void)
{
    if (PyType_Ready(&HsFileWrapper_Type) < 0) {
        return NULL;
    }
    return (PyObject *)&HsFileWrapper_Type;
}

int
hs_filewrapper_sendfile(PyObject *obj, int *fd, uint64_t *offset,
                        uint64_t *size)
{
    HsFileWrapper *self = (HsFileWrapper *)obj;
    PyObject *r;
    long n, pos;
    struct stat st;
    int flags, dupfd;

    if (!PyObject_TypeCheck(obj, &HsFileWrapper_Type)
        || self->filelike == NULL) {
        return 0;
    }
    r = PyObject_CallMethod(self->filelike, "fileno", NULL);
    if (r == NULL) {
        PyErr_Clear();  /* not a real file: iterate instead */
        return 0;
    }
    n = PyLong_AsLong(r);
    Py_DECREF(r);
    if (n < 0) {
        PyErr_Clear();
        return 0;
    }
    /* The file object may have read ahead into its buffer: tell() is
     * the position the app sees. */
    r = PyObject_CallMethod(self->filelike, "tell", NULL);
    if (r == NULL) {
        PyErr_Clear();
        return 0;
    }
    pos = PyLong_AsLong(r);
    Py_DECREF(r);
    if (pos < 0 || fstat((int)n, &st) < 0 || !S_ISREG(st.st_mode)) {
        PyErr_Clear();
        return 0;
    }
    dupfd = fcntl((int)n, F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    flags = fcntl(dupfd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) {
        fcntl(dupfd, F_SETFL, flags & ~O_NONBLOCK);
    }
    *fd = dupfd;
    *offset = (uint64_t)pos;
    *size = st.st_size > pos ? (uint64_t)(st.st_size - pos) : 0;
    return 1;
}
