/* wsgi.input: a read-only file-like object over the spooled request body
 * (memory or an unlinked temp file). */
#ifndef HS_INPUT_H
#define HS_INPUT_H

#include <Python.h>

struct hs_body;

/* Ready the type. Returns 0 or -1 with an exception set.
 * Thread: main, once. GIL: held. */
int
hs_input_init(void);

/* A new input object that takes over body (its memory and fd are freed
 * and closed when the object dies; *body is zeroed, fd set to -1).
 * New reference, or NULL with an exception set (body still taken).
 * Thread: any. GIL: held. */
PyObject *
hs_input_new(struct hs_body *body);

#endif
