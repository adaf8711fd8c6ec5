/* Applies file changes to the running interpreter before requests run.
 * Owns the reload lock (rw): requests hold the read side while app code
 * runs, a reload takes the write side. Lock order: reload lock -> GIL;
 * the change-set mutex is a leaf. */
#ifndef HS_RELOADER_H
#define HS_RELOADER_H

#include <Python.h>

struct hs_reloader;

/* The request-side gate. enter: make sure every change that completed
 * before the call is applied (barrier + plan + execute, or noted as
 * failed), then hold the read side until leave. Never fails: a failed
 * reload is reported through hs_reloader_failure.
 * Thread: connection. GIL: not held. Locks: takes reload lock (read). */
void
hs_reloader_gate_enter(struct hs_reloader *r);
void
hs_reloader_gate_leave(struct hs_reloader *r);

/* When the code on disk could not be applied (last reload failed, or the
 * app could not be loaded), a new reference to the exception to show on
 * the error page, and *context set to a borrowed one-line description
 * ("while reloading apps/views.py: apps.views -> myproject.urls").
 * NULL (no exception set) when the app is healthy.
 * Thread: connection. GIL: held. Locks: reload lock (read) held. */
PyObject *
hs_reloader_failure(struct hs_reloader *r, const char **context);

#endif
