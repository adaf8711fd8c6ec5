/* Private to the import tracker (importhook.c, importhook_files.c,
 * importhook_stack.c): its state and the functions the files share. */
#ifndef HS_IMPORTHOOK_INT_H
#define HS_IMPORTHOOK_INT_H

#include <Python.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bridge/importhook.h"

#define HOOK_CAPSULE "hotserve.importhook"
#define STACK_CAPSULE "hotserve.execstack"

struct sig {
    int64_t mtime_ns;
    int64_t size;
    uint64_t ino;
    int valid;
};

/* One module body in progress on a thread. */
struct xframe {
    int id;
    uint64_t start;
    uint64_t child;         /* time spent in nested project modules */
};

/* The executing-module stack of one thread, kept in the thread state's
 * dict: imports run on many threads (request-time imports, streaming
 * bodies), and a module body can release the GIL in the middle. */
struct xstack {
    struct xframe *f;
    size_t len;
    size_t cap;
};

struct hs_importhook {
    PyObject *capsule;          /* owns this struct */
    struct hs_graph *graph;     /* NULL once detached: just forward */
    struct hs_watch *watch;
    char **roots;
    size_t nroots;
    char **excl;                /* interpreter dirs that are not project */
    size_t nexcl;
    int installed;
    long active;                /* project bodies executing, all threads */

    PyObject *ids;              /* dict: project module name -> node id */
    PyObject *pkgs;             /* dict: packages holding project modules */
    PyObject *key_stack;
    PyObject *s_name;
    PyObject *s_package;
    PyObject *s_spec;
    PyObject *s_parent;
    PyObject *s_path;
    PyObject *s_origin;
    PyObject *s_file;

    PyObject *builtins;         /* the builtins module */
    PyObject *importlib;
    PyObject *loader_cls;       /* importlib.machinery.SourceFileLoader */
    PyObject *orig_import;
    int orig_is_builtin;        /* orig_import is the real builtin */
    PyObject *orig_import_module;
    PyObject *orig_exec;
    int had_own_exec;           /* SourceFileLoader defined exec_module */
    PyObject *fn_import;
    PyObject *fn_import_module;
    PyObject *fn_exec;

    struct sig *sigs;
    size_t nsigs;

    struct hs_exec_record *jr;
    size_t jlen;
    size_t jcap;
    int journaling;
    unsigned long jthread;
};

static inline uint64_t
hs_importhook_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The pending exception, set aside exactly as it is while the tracker
 * records an edge for a failed import. Not hs_err_take(): before 3.12 it
 * re-attaches the exception's own __traceback__ when the pending
 * traceback is NULL, which is what CPython leaves after stripping every
 * importlib frame, so they would come back in the user's traceback. */
struct hs_pending {
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc;
#else
    PyObject *type;
    PyObject *value;
    PyObject *tb;
#endif
};

static inline void
hs_pending_save(struct hs_pending *p)
{
#if PY_VERSION_HEX >= 0x030C0000
    p->exc = PyErr_GetRaisedException();
#else
    PyErr_Fetch(&p->type, &p->value, &p->tb);
#endif
}

/* The pending exception's instance (borrowed), if it is one. */
static inline PyObject *
hs_pending_value(struct hs_pending *p)
{
#if PY_VERSION_HEX >= 0x030C0000
    return p->exc;
#else
    return p->value != NULL && PyExceptionInstance_Check(p->value)
               ? p->value
               : NULL;
#endif
}

static inline void
hs_pending_restore(struct hs_pending *p)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(p->exc);
#else
    PyErr_Restore(p->type, p->value, p->tb);
#endif
}

/* Resolve path and append it to *list (a path that does not exist is
 * skipped). Returns 0 or -ENOMEM. Thread: any. GIL: any. */
int
hs_importhook_add_path(char ***list, size_t *len, const char *path);

/* Fill h->excl with the interpreter's own directories (stdlib, purelib,
 * platlib, the venv). Returns 0, or -1 with an exception set.
 * GIL: held. */
int
hs_importhook_find_dirs(struct hs_importhook *h);

/* Node id of module when it is a project module (giving it its node and
 * file, tracking the file), else -1. Never leaves an exception set.
 * GIL: held. */
int
hs_importhook_register_module(struct hs_importhook *h, PyObject *module);

/* Before project module `module` is loaded: remove its .pyc when it is
 * older than the source's last inode change (ctime), since the loader's
 * own check (mtime seconds + size) would accept a stale one. Never leaves
 * an exception set. GIL: held. */
void
hs_importhook_drop_suspect_pyc(struct hs_importhook *h, PyObject *module);

/* Register every project module already in sys.modules. Returns 0 or -1
 * with an exception set. GIL: held. */
int
hs_importhook_scan_loaded(struct hs_importhook *h);

/* Module `name` (a str) could not be found, or a "from pkg import name"
 * names no submodule yet: have the watcher watch the files that would
 * provide it (NAME.py, NAME/__init__.py in its package's __path__, or in
 * the sys.path entries under the roots), so that the polling backend
 * notices when it is created. Never leaves an exception set. GIL: held. */
void
hs_importhook_track_missing(struct hs_importhook *h, PyObject *name);

/* The project module whose body runs innermost on this thread, or -1.
 * Never leaves an exception set. GIL: held. */
int
hs_importhook_stack_top(struct hs_importhook *h);

#endif
