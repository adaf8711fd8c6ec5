/* Building the PEP 3333 environ dict from a plain request description. */
#ifndef HS_ENVIRON_H
#define HS_ENVIRON_H

#include <Python.h>

struct hs_wsgi_request;

/* Create the interned keys and the template dict of always-present keys.
 * Returns 0, or -1 with an exception set. Thread: main, once.
 * GIL: held. */
int
hs_environ_init(void);

/* A new environ dict for req: every required key, HTTP_* headers
 * (repeats joined with ", ", Cookie with "; ", names containing '_'
 * dropped), CONTENT_TYPE/CONTENT_LENGTH unprefixed, RAW_URI/REQUEST_URI,
 * wsgi.input = input, wsgi.errors = sys.stderr, wsgi.file_wrapper =
 * file_wrapper (both borrowed). New reference, or NULL with an exception
 * set. Thread: connection. GIL: held. */
PyObject *
hs_environ_build(const struct hs_wsgi_request *req, PyObject *input,
                 PyObject *file_wrapper);

#endif
