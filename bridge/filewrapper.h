/* wsgi.file_wrapper: iterable over a file-like object, with a sendfile
 * fast path when it wraps a regular file. */
#ifndef HS_FILEWRAPPER_H
#define HS_FILEWRAPPER_H

#include <Python.h>
#include <stdint.h>

/* Ready the type and return it (borrowed). NULL with an exception set.
 * Thread: main, once. GIL: held. */
PyObject *
hs_filewrapper_init(void);

/* If obj is our file wrapper around a regular file with a working
 * fileno(), set *fd to a dup() of it (owned by the caller, blocking),
 * *offset to the file's current position and *size to the bytes left,
 * and return 1. Return 0 when the fast path does not apply (the caller
 * iterates instead), -1 with an exception set on error.
 * Thread: any. GIL: held. */
int
hs_filewrapper_sendfile(PyObject *obj, int *fd, uint64_t *offset,
                        uint64_t *size);

#endif
