/* The builtin `_hotserve` module: the C side of the public `hotserve`
 * package (status, state kept across reloads, logging into hs_log). */
#ifndef HS_MODULE_H
#define HS_MODULE_H

#include <Python.h>

struct hs_reloader;

/* PyInit-compatible init function of `_hotserve` (multi-phase: returns
 * the module definition). Register it before Py_Initialize with
 * PyImport_AppendInittab("_hotserve", hs_module_pyinit).
 * Thread: main. GIL: held (called by the import system). */
PyObject *
hs_module_pyinit(void);

/* Point the `_hotserve` module at r (borrowed; NULL detaches it, as
 * hs_reloader_free does). Imports `_hotserve` if needed.
 * Returns 0, or -1 with a Python exception set.
 * Thread: any. GIL: held. Locks: startup or reload write side. */
int
hs_module_bind(struct hs_reloader *r);

#endif
