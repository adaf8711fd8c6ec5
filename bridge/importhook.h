/* The import tracker: builds the module import graph while the app runs.
 *
 * Three sources of edges (importer -> imported), all recorded into a
 * struct hs_graph (reload/depgraph.h):
 *  - a C replacement of builtins.__import__ (import statements, fromlist
 *    submodules, relative imports resolved like importlib does);
 *  - a wrapper of importlib.import_module (Django's include(), settings,
 *    ROOT_URLCONF, INSTALLED_APPS);
 *  - the stack of project modules whose body is executing on this thread,
 *    kept by wrapping SourceFileLoader.exec_module: an import made by
 *    library code while a project module's body runs (django.setup() in
 *    wsgi.py) is an edge of that module.
 * The exec_module wrapper also gives each project module its node, its
 * file and its measured execution time, and registers the file with the
 * watcher (hs_watch_track) so the polling backend stats it.
 *
 * Project modules are source files whose real path lies under one of the
 * watched roots and not in site-packages/dist-packages, the interpreter's
 * stdlib or purelib/platlib directories, or the active venv.
 *
 * Thread safety: every function here, and every graph access anywhere,
 * runs with the GIL held; the GIL is what serialises graph mutations
 * (imports on request threads) with reload planning (which also holds the
 * reload write lock).
 */
#ifndef HS_IMPORTHOOK_H
#define HS_IMPORTHOOK_H

#include <Python.h>

#include <stddef.h>
#include <stdint.h>

struct hs_graph;
struct hs_watch;
struct hs_importhook;

/* One project module executed while the journal was on. */
struct hs_exec_record {
    int id;             /* graph node */
    uint64_t ns;        /* own execution time (nested imports excluded) */
};

/* New tracker feeding g (borrowed) and registering files with watch
 * (borrowed, may be NULL). roots are copied and resolved with realpath;
 * roots that do not exist are skipped. Nothing is installed yet.
 * NULL with a Python exception set on failure.
 * Thread: any. GIL: held. Locks: none. */
struct hs_importhook *
hs_importhook_new(struct hs_graph *g, struct hs_watch *watch,
                  const char *const *roots, size_t nroots);

/* Install the hooks (builtins.__import__, importlib.import_module,
 * SourceFileLoader.exec_module) and register the project modules already
 * in sys.modules. Returns 0, or -1 with a Python exception set (nothing
 * left installed). Thread: any. GIL: held. Locks: startup. */
int
hs_importhook_install(struct hs_importhook *h);

/* Put the original functions back where ours are still installed, detach
 * from the graph and the watcher, and drop our reference. Function
 * objects that someone kept keep working: they forward to the originals.
 * NULL is fine. Thread: any. GIL: held. */
void
hs_importhook_free(struct hs_importhook *h);

/* The resolved real path of file if it is a project file, else NULL.
 * Returns a malloc'd string (caller frees). Thread: any. GIL: any. */
char *
hs_importhook_project_path(const struct hs_importhook *h, const char *file);

/* Bracket a module body run by the reloader itself, so that imports made
 * by the body are attributed to it and its own time is measured. end
 * pops the frame, returns the module's own time in ns and, when ok,
 * stores it in the graph and appends it to the journal. Not nestable
 * across threads: begin and end on the same thread.
 * Returns 0 / -1 with a Python exception set (begin).
 * Thread: any. GIL: held. Locks: reload write side. */
int
hs_importhook_exec_begin(struct hs_importhook *h, int id);
uint64_t
hs_importhook_exec_end(struct hs_importhook *h, int id, int ok);

/* Journal: while on, every project module whose body completes on the
 * calling thread (fresh imports and the reloader's re-executions) is
 * appended, in completion order (dependencies first). start clears it.
 * Thread: the reloading thread. GIL: held. */
void
hs_importhook_journal_start(struct hs_importhook *h);
void
hs_importhook_journal_stop(struct hs_importhook *h);
size_t
hs_importhook_journal(const struct hs_importhook *h,
                      const struct hs_exec_record **out);

/* Remember the file's current (mtime_ns, size, inode) for node id, as
 * taken when the module ran; file_changed compares the file on disk with
 * it (1 changed or gone, 0 same, 0 for a node without a file). Used after
 * an inotify overflow, when the change set cannot say what changed.
 * Thread: any. GIL: held. */
void
hs_importhook_note_file(struct hs_importhook *h, int id);
int
hs_importhook_file_changed(const struct hs_importhook *h, int id);

#endif
