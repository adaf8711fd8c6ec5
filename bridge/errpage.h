/* The 500 error page for an exception (app, import or reload failure). */
#ifndef HS_ERRPAGE_H
#define HS_ERRPAGE_H

#include <Python.h>

/* Render exc (borrowed) as a page naming the file and line, with the
 * traceback: HTML when want_html, plain text otherwise. context is an
 * optional one-line note ("while reloading ..."). When log is set, also
 * logs the summary line and the traceback (failed reloads are logged
 * once by the reloader, not again on every request). Returns a new bytes reference and sets *ctype
 * to a static string; never fails (falls back to a fixed text page, and
 * returns NULL only when even that cannot be allocated).
 * Thread: connection. GIL: held. */
PyObject *
hs_errpage_render(PyObject *exc, const char *context, int want_html,
                  int log, const char **ctype);

#endif
