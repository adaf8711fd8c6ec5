/* wsgi.input over the request spool: read(), readline(), readlines(),
 * iteration. The body is complete before the app runs (thread-per-
 * connection servers spool it, cstack.md 1.2), so reads never block on
 * the network. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/wsgi.h"

typedef struct {
    PyObject_HEAD
    char *mem;          /* owned, NULL when spooled to fd */
    int fd;             /* owned, -1 when in memory */
    Py_ssize_t len;
    Py_ssize_t pos;
} HsInput;

static PyTypeObject HsInput_Type;

/* Copy n bytes at the current position into a new bytes object. */
static PyObject *
take(HsInput *self, Py_ssize_t n)
{
    PyObject *b;
    char *dst;
    Py_ssize_t done = 0;

    if (n > self->len - self->pos) {
        n = self->len - self->pos;
    }
    if (n <= 0) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    b = PyBytes_FromStringAndSize(NULL, n);
    if (b == NULL) {
        return NULL;
    }
    dst = PyBytes_AS_STRING(b);
    if (self->fd < 0) {
        memcpy(dst, self->mem + self->pos, (size_t)n);
    } else {
        while (done < n) {
            ssize_t r;
            Py_BEGIN_ALLOW_THREADS
            r = pread(self->fd, dst + done, (size_t)(n - done),
                      (off_t)(self->pos + done));
            Py_END_ALLOW_THREADS
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                Py_DECREF(b);
                if (r == 0) {
                    errno = EIO;
                }
                return PyErr_SetFromErrno(PyExc_OSError);
            }
            done += r;
        }
    }
    self->pos += n;
    return b;
}

/* Bytes until and including the next '\n', at most limit (< 0: none). */
static Py_ssize_t
line_length(HsInput *self, Py_ssize_t limit)
{
    Py_ssize_t avail = self->len - self->pos, n = 0;
    char buf[4096];

    if (limit >= 0 && limit < avail) {
        avail = limit;
    }
    if (avail <= 0) {
        return 0;   /* an empty body has no buffer at all */
    }
    if (self->fd < 0) {
        const char *p = memchr(self->mem + self->pos, '\n', (size_t)avail);
        return p ? (p - (self->mem + self->pos)) + 1 : avail;
    }
    while (n < avail) {
        Py_ssize_t want = avail - n < (Py_ssize_t)sizeof(buf)
                              ? avail - n : (Py_ssize_t)sizeof(buf);
        ssize_t r = pread(self->fd, buf, (size_t)want,
                          (off_t)(self->pos + n));
        char *p;

        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            return n;
        }
        p = memchr(buf, '\n', (size_t)r);
        if (p != NULL) {
            return n + (p - buf) + 1;
        }
        n += r;
    }
    return n;
}

static int
size_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *out)
{
    *out = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "expected at most 1 argument");
        return -1;
    }
    if (nargs == 1 && args[0] != Py_None) {
        *out = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
        if (*out == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
HsInput_read(HsInput *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t n;

    if (size_arg(args, nargs, &n) < 0) {
        return NULL;
    }
    return take(self, n < 0 ? self->len - self->pos : n);
}

static PyObject *
HsInput_readline(HsInput *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t limit;

    if (size_arg(args, nargs, &limit) < 0) {
        return NULL;
    }
    return take(self, line_length(self, limit));
}

static PyObject *
HsInput_readlines(HsInput *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t hint, total = 0;
    PyObject *list;

    if (size_arg(args, nargs, &hint) < 0) {
        return NULL;
    }
    list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    while (self->pos < self->len && (hint <= 0 || total < hint)) {
        PyObject *line = take(self, line_length(self, -1));
        if (line == NULL || PyList_Append(list, line) < 0) {
            Py_XDECREF(line);
            Py_DECREF(list);
            return NULL;
        }
        total += PyBytes_GET_SIZE(line);
        Py_DECREF(line);
    }
    return list;
}

static PyObject *
HsInput_iternext(HsInput *self)
{
    if (self->pos >= self->len) {
        return NULL;    /* StopIteration */
    }
    return take(self, line_length(self, -1));
}

static void
HsInput_dealloc(HsInput *self)
{
    free(self->mem);
    if (self->fd >= 0) {
        close(self->fd);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef HsInput_methods[] = {
    {"read", (PyCFunction)(void (*)(void))HsInput_read, METH_FASTCALL,
     "read(size=-1) -> bytes"},
    {"readline", (PyCFunction)(void (*)(void))HsInput_readline,
     METH_FASTCALL, "readline(size=-1) -> bytes"},
    {"readlines", (PyCFunction)(void (*)(void))HsInput_readlines,
     METH_FASTCALL, "readlines(hint=-1) -> list of bytes"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject HsInput_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hotserve.Input",
    .tp_basicsize = sizeof(HsInput),
    .tp_dealloc = (destructor)HsInput_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.input: the request body",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)HsInput_iternext,
    .tp_methods = HsInput_methods,
};

int
hs_input_init(void)
{
    return PyType_Ready(&HsInput_Type);
}

PyObject *
hs_input_new(struct hs_body *body)
{
    HsInput *self = PyObject_New(HsInput, &HsInput_Type);

    if (self == NULL) {
        free(body->mem);
        if (body->fd >= 0) {
            close(body->fd);
        }
    } else {
        self->mem = body->mem;
        self->fd = body->fd;
        self->len = (Py_ssize_t)body->len;
        self->pos = 0;
    }
    body->mem = NULL;
    body->fd = -1;
    body->len = 0;
    return (PyObject *)self;
}
