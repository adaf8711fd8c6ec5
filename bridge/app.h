/* The WSGI application object: import MODULE, read ATTR, call a factory,
 * and remember why it failed when it did. */
#ifndef HS_APP_H
#define HS_APP_H

#include <Python.h>

struct hs_app {
    char *module;          /* owned */
    char *attr;            /* owned */
    int factory;           /* call attr() to get the app */
    PyObject *callable;    /* strong ref, NULL while the app is broken */
    PyObject *error;       /* strong ref to the exception of the last
                              failed load, NULL when loaded */
    char *usage_error;     /* owned: a problem in what the user typed
                              (module not found, attribute missing or not
                              callable) as one line, NULL otherwise */
};

/* Import (or re-read after a reload) the module and resolve the app.
 * On success sets callable, clears error and returns 0. On failure
 * returns -1, stores the exception in app->error (no exception is left
 * pending) and, when the failure is about the app spec itself rather
 * than the app's code, a one-line usage_error.
 * Thread: any. GIL: held. Locks: reload write side or startup. */
int
hs_app_load(struct hs_app *app);

/* Free what app owns (not app itself). GIL: held. */
void
hs_app_clear(struct hs_app *app);

#endif
