/* The executing-module stack (one per thread, in the thread state's dict)
 * and the journal of module bodies run during a reload. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/importhook.h"
#include "bridge/importhook_int.h"

#include <stdlib.h>

#include "reload/depgraph.h"
#include "reload/log.h"

/* ---- the executing-module stack --------------------------------------- */

static void
xstack_destroy(PyObject *cap)
{
    struct xstack *s = PyCapsule_GetPointer(cap, STACK_CAPSULE);

    if (s != NULL) {
        free(s->f);
        free(s);
    }
}

/* This thread's stack; NULL when there is none (create = 0, no exception)
 * or on failure (create = 1, exception set). */
static struct xstack *
thread_stack(struct hs_importhook *h, int create)
{
    PyObject *d = PyThreadState_GetDict();     /* borrowed */
    PyObject *cap;
    struct xstack *s;

    if (d == NULL) {
        if (create && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError, "no thread state dict");
        }
        return NULL;
    }
    cap = PyDict_GetItemWithError(d, h->key_stack);
    if (cap != NULL) {
        return PyCapsule_GetPointer(cap, STACK_CAPSULE);
    }
    if (!create) {
        PyErr_Clear();
        return NULL;
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    cap = PyCapsule_New(s, STACK_CAPSULE, xstack_destroy);
    if (cap == NULL) {
        free(s);
        return NULL;
    }
    if (PyDict_SetItem(d, h->key_stack, cap) < 0) {
        Py_DECREF(cap);     /* frees s */
        return NULL;
    }
    Py_DECREF(cap);
    return s;
}

int
hs_importhook_stack_top(struct hs_importhook *h)
{
    struct xstack *s = thread_stack(h, 0);

    return s != NULL && s->len > 0 ? s->f[s->len - 1].id : -1;
}

int
hs_importhook_exec_begin(struct hs_importhook *h, int id)
{
    struct xstack *s = thread_stack(h, 1);

    if (s == NULL) {
        return -1;
    }
    if (s->len == s->cap) {
        size_t n = s->cap ? s->cap * 2 : 16;
        struct xframe *f = realloc(s->f, n * sizeof(*f));
        if (f == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        s->f = f;
        s->cap = n;
    }
    s->f[s->len].id = id;
    s->f[s->len].child = 0;
    s->f[s->len].start = hs_importhook_now_ns();
    s->len++;
    h->active++;
    return 0;
}

static void
journal_add(struct hs_importhook *h, int id, uint64_t ns)
{
    if (h->jlen == h->jcap) {
        size_t n = h->jcap ? h->jcap * 2 : 16;
        struct hs_exec_record *r = realloc(h->jr, n * sizeof(*r));
        if (r == NULL) {
            return;     /* the journal only feeds the log line */
        }
        h->jr = r;
        h->jcap = n;
    }
    h->jr[h->jlen].id = id;
    h->jr[h->jlen].ns = ns;
    h->jlen++;
}

uint64_t
hs_importhook_exec_end(struct hs_importhook *h, int id, int ok)
{
    struct xstack *s = thread_stack(h, 0);
    uint64_t total, own;
    struct xframe f;

    if (s == NULL || s->len == 0) {
        return 0;
    }
    f = s->f[--s->len];
    h->active--;
    if (f.id != id) {
        hs_log(HS_LOG_DEBUG, "import tracker: unbalanced module stack");
    }
    total = hs_importhook_now_ns() - f.start;
    own = total > f.child ? total - f.child : 0;
    if (s->len > 0) {
        s->f[s->len - 1].child += total;
    }
    if (ok && h->graph != NULL) {
        hs_graph_set_exec_ns(h->graph, id, own);
        if (h->journaling && PyThread_get_thread_ident() == h->jthread) {
            journal_add(h, id, own);
        }
    }
    return own;
}

void
hs_importhook_journal_start(struct hs_importhook *h)
{
    h->jlen = 0;
    h->journaling = 1;
    h->jthread = PyThread_get_thread_ident();
}

void
hs_importhook_journal_stop(struct hs_importhook *h)
{
    h->journaling = 0;
}

size_t
hs_importhook_journal(const struct hs_importhook *h,
                      const struct hs_exec_record **out)
{
    *out = h->jr;
    return h->jlen;
}
