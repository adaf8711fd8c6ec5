/* The C side of the framework integrations (Django, Flask): two calls
 * into the embedded package hotserve._frameworks, one when the app is
 * (re)loaded, one when files that are not Python modules change
 * (templates, translations, static files). The Python side decides what
 * they mean; nothing here knows a framework. */
#ifndef HS_FRAMEWORKS_H
#define HS_FRAMEWORKS_H

#include <Python.h>

#include <stddef.h>

/* Before the app module is imported (each load attempt):
 * hotserve._frameworks.before_import() installs the import hooks that
 * must see the framework load (which module registers which Django
 * ModelAdmin). Never fails: a Python error is logged as a warning.
 * Thread: any. GIL: held. Locks: startup or reload write side. */
void
hs_frameworks_before_import(void);

/* The app to serve for the freshly loaded WSGI callable app (borrowed):
 * hotserve._frameworks.app_loaded(app) may wrap it (Django's static files
 * handler) and runs the framework's startup work (Django's system checks,
 * banner lines, template watches). Returns a new reference, or NULL with
 * a Python exception set when the app must not be served (a system check
 * error): the caller treats that as a failed load. When the embedded
 * package is missing, app itself is returned.
 * Thread: any. GIL: held. Locks: startup or reload write side. */
PyObject *
hs_frameworks_app_loaded(PyObject *app);

/* Tell hotserve._frameworks.files_changed(paths, overflow) about the
 * changed paths that are not Python source (paths ending in ".py" are
 * skipped; nothing is called when none is left and overflow is 0).
 * overflow: change events were lost, every cache of file contents must go.
 * Never fails: a Python error is logged as a warning.
 * Thread: connection (the reload gate). GIL: held. Locks: reloader mutex
 * (not the reload lock: requests may be running). */
void
hs_frameworks_files_changed(const char *const *paths, size_t n,
                            int overflow);

#endif
