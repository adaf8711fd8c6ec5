/* The reloader with an embedded interpreter: a temporary project on disk,
 * changes fed straight into a change set (no watcher), the request gate
 * run on the test thread, results read back from Python. Each case uses
 * its own top-level package, so cases can share one interpreter. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bridge/app.h"
#include "bridge/py.h"
#include "bridge/reloader.h"
#include "reload/changeset.h"
#include "reload/pathfilter.h"
#include "reload/watch.h"

static char root[1024];

struct fx {
    struct hs_changeset *cs;
    struct hs_pathfilter *filter;
    struct hs_watch *watch;         /* NULL: changes are fed by hand */
    struct hs_reloader *r;
    struct hs_app app;
    int has_app;
};

/* ---- files ----------------------------------------------------------- */

static void
path_of(const char *rel, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", root, rel);
}

static void
mkdirs_for(const char *path)
{
    char buf[PATH_MAX];
    char *p;

    snprintf(buf, sizeof(buf), "%s", path);
    for (p = buf + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(buf, 0755);
        *p = '/';
    }
}

static void
write_file(const char *rel, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    path_of(rel, path, sizeof(path));
    mkdirs_for(path);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
remove_file(const char *rel)
{
    char path[PATH_MAX];

    path_of(rel, path, sizeof(path));
    assert_int_equal(unlink(path), 0);
}

/* ---- Python ----------------------------------------------------------- */

static PyObject *
main_dict(void)
{
    return PyModule_GetDict(PyImport_AddModule("__main__"));
}

/* Run statements in __main__; the test fails on an exception. */
static void
py_exec(const char *code)
{
    PyObject *res;

    hs_py_enter();
    res = PyRun_String(code, Py_file_input, main_dict(), main_dict());
    if (res == NULL) {
        PyErr_Print();
        hs_py_leave();
        fail_msg("python failed: %s", code);
    }
    Py_DECREF(res);
    hs_py_leave();
}

/* str(eval(expr)) in __main__, malloc'd; "<error: Type>" on exception. */
static char *
py_str(const char *expr)
{
    PyObject *v, *s;
    char *out;

    hs_py_enter();
    v = PyRun_String(expr, Py_eval_input, main_dict(), main_dict());
    if (v == NULL) {
        PyObject *t, *val, *tb;
        char buf[128];
        PyErr_Fetch(&t, &val, &tb);
        snprintf(buf, sizeof(buf), "<error: %s>",
                 t != NULL ? ((PyTypeObject *)t)->tp_name : "?");
        Py_XDECREF(t);
        Py_XDECREF(val);
        Py_XDECREF(tb);
        hs_py_leave();
        return strdup(buf);
    }
    s = PyObject_Str(v);
    out = strdup(s != NULL ? PyUnicode_AsUTF8(s) : "<str failed>");
    Py_XDECREF(s);
    Py_DECREF(v);
    hs_py_leave();
    return out;
}

static void
expect(const char *expr, const char *want)
{
    char *got = py_str(expr);

    if (strcmp(got, want) != 0) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s == %s, want %s", expr, got, want);
        free(got);
        fail_msg("%s", msg);
    }
    free(got);
}

/* ---- reloader ----------------------------------------------------------- */

static void
start_watched(struct fx *f, const char *app_module, const char *attr,
              int factory, int poll)
{
    const char *roots[1] = { root };

    memset(f, 0, sizeof(*f));
    f->cs = hs_changeset_new();
    assert_non_null(f->cs);
    if (poll >= 0) {
        f->filter = hs_pathfilter_new();
        assert_non_null(f->filter);
        f->watch = hs_watch_new(f->cs, f->filter, poll);
        assert_non_null(f->watch);
        assert_int_equal(hs_watch_add_root(f->watch, root), 0);
    }
    if (app_module != NULL) {
        f->app.module = strdup(app_module);
        f->app.attr = strdup(attr);
        f->app.factory = factory;
        f->has_app = 1;
    }
    f->r = hs_reloader_new(f->has_app ? &f->app : NULL, f->watch, f->cs,
                           roots, 1);
    assert_non_null(f->r);
    hs_py_enter();
    assert_int_equal(hs_reloader_install(f->r), 0);
    hs_py_leave();
}

static void
start(struct fx *f, const char *app_module, const char *attr, int factory)
{
    start_watched(f, app_module, attr, factory, -1);
}

static int
load_app(struct fx *f)
{
    int rc;

    hs_py_enter();
    rc = hs_app_load(&f->app);
    hs_py_leave();
    return rc;
}

static void
stop(struct fx *f)
{
    hs_py_enter();
    hs_reloader_free(f->r);
    if (f->has_app) {
        hs_app_clear(&f->app);
    }
    hs_py_leave();
    hs_watch_free(f->watch);
    hs_pathfilter_free(f->filter);
    hs_changeset_free(f->cs);
}

static void
changed(struct fx *f, const char *rel)
{
    char path[PATH_MAX];

    path_of(rel, path, sizeof(path));
    hs_changeset_lock(f->cs);
    assert_int_equal(hs_changeset_add_locked(f->cs, path), 0);
    hs_changeset_unlock(f->cs);
}

/* What a request does: the gate, then leave. */
static void
request(struct fx *f)
{
    hs_reloader_gate_enter(f->r);
    hs_reloader_gate_leave(f->r);
}

/* The failure on record as "Type: message | context", or "" when none. */
static char *
failure(struct fx *f)
{
    const char *ctx = NULL;
    PyObject *exc, *s;
    char buf[2048];

    hs_reloader_gate_enter(f->r);
    hs_py_enter();
    exc = hs_reloader_failure(f->r, &ctx);
    buf[0] = '\0';
    if (exc != NULL) {
        s = PyObject_Str(exc);
        snprintf(buf, sizeof(buf), "%s: %s | %s", Py_TYPE(exc)->tp_name,
                 s != NULL ? PyUnicode_AsUTF8(s) : "?", ctx ? ctx : "");
        Py_XDECREF(s);
        Py_DECREF(exc);
    }
    hs_py_leave();
    hs_reloader_gate_leave(f->r);
    return strdup(buf);
}

/* Bind the failure on record (or None) to `failure` in __main__. */
static void
failure_to_main(struct fx *f)
{
    const char *ctx = NULL;
    PyObject *exc;

    hs_reloader_gate_enter(f->r);
    hs_py_enter();
    exc = hs_reloader_failure(f->r, &ctx);
    PyDict_SetItemString(main_dict(), "failure",
                         exc != NULL ? exc : Py_None);
    Py_XDECREF(exc);
    hs_py_leave();
    hs_reloader_gate_leave(f->r);
}

static void
expect_failure_contains(struct fx *f, const char *needle)
{
    char *got = failure(f);

    if (needle == NULL ? got[0] != '\0' : strstr(got, needle) == NULL) {
        char msg[2200];
        snprintf(msg, sizeof(msg), "failure '%s', want '%s'", got,
                 needle ? needle : "(none)");
        free(got);
        fail_msg("%s", msg);
    }
    free(got);
}

#define LAST_MODULES \
    "[m['name'] for m in __import__('hotserve').status()['last']['modules']]"

/* ---- cases --------------------------------------------------------------- */

static void
test_edit_reruns_importers_in_order(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_chain/__init__.py", "");
    write_file("t_chain/c.py", "VALUE = 1\n");
    write_file("t_chain/b.py", "from t_chain.c import VALUE\n"
                               "DOUBLE = VALUE * 2\n");
    write_file("t_chain/a.py", "from t_chain import b\n"
                               "TOTAL = b.DOUBLE + 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_chain.a");
    expect("t_chain.a.TOTAL", "3");
    write_file("t_chain/c.py", "VALUE = 10\n");
    changed(&f, "t_chain/c.py");
    request(&f);
    expect("t_chain.a.TOTAL", "21");
    expect(LAST_MODULES, "['t_chain.c', 't_chain.b', 't_chain.a']");
    expect("__import__('hotserve').status()['last']['trigger']",
           "['t_chain/c.py']");
    expect("__import__('hotserve').status()['reloads']", "1");
    expect_failure_contains(&f, NULL);
    stop(&f);
}

static void
test_removed_name_vanishes(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_removed.py", "X = 1\nY = 2\ndef gone():\n    return 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_removed");
    write_file("t_removed.py", "X = 5\n");
    changed(&f, "t_removed.py");
    request(&f);
    expect("t_removed.X", "5");
    expect("hasattr(t_removed, 'Y'), hasattr(t_removed, 'gone')",
           "(False, False)");
    expect("t_removed.__name__, t_removed.__file__.endswith('t_removed.py')",
           "('t_removed', True)");
    expect("t_removed.__doc__", "None");
    stop(&f);
}

static void
test_state_kept_when_listed(void **state)
{
    struct fx f;
    const char *src =
        "import hotserve\n"
        "__hotserve_keep__ = ('CACHE',)\n"
        "try:\n"
        "    CACHE\n"
        "except NameError:\n"
        "    CACHE = []\n"
        "CACHE.append(len(CACHE))\n"
        "try:\n"
        "    UNLISTED\n"
        "except NameError:\n"
        "    UNLISTED = []\n"
        "UNLISTED.append(1)\n"
        "POOL = hotserve.keep('POOL', list)\n"
        "POOL.append('x')\n";

    (void)state;
    write_file("t_keep.py", src);
    start(&f, NULL, NULL, 0);
    py_exec("import t_keep");
    expect("t_keep.CACHE, t_keep.UNLISTED, t_keep.POOL",
           "([0], [1], ['x'])");
    changed(&f, "t_keep.py");
    request(&f);
    changed(&f, "t_keep.py");
    request(&f);
    expect("t_keep.CACHE, t_keep.UNLISTED, t_keep.POOL",
           "([0, 1, 2], [1], ['x', 'x', 'x'])");
    stop(&f);
}

static void
test_bad_keep_list_is_an_error(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_badkeep.py", "__hotserve_keep__ = 'CACHE'\nX = 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_badkeep");
    changed(&f, "t_badkeep.py");
    request(&f);
    expect_failure_contains(&f, "__hotserve_keep__ must be a tuple");
    expect("t_badkeep.X", "1");
    stop(&f);
}

static void
test_syntax_error_rolls_back_then_fix_works(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_syn/__init__.py", "");
    write_file("t_syn/leaf.py", "A = 1\n");
    write_file("t_syn/top.py", "from t_syn.leaf import A\nB = A + 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_syn.top");
    write_file("t_syn/leaf.py", "A = 2\nif A\n");
    changed(&f, "t_syn/leaf.py");
    request(&f);
    expect_failure_contains(&f, "SyntaxError");
    expect_failure_contains(&f, "while reloading t_syn/leaf.py: "
                            "t_syn.leaf \xe2\x86\x92 t_syn.top");
    expect("t_syn.leaf.A, t_syn.top.B", "(1, 2)");
    expect("__import__('hotserve').status()['last']['ok']", "False");
    expect("__import__('hotserve').status()['last']['error']",
           "SyntaxError: expected ':' (leaf.py, line 2)");
    /* The failure stays until a change; an unrelated file is no fix. */
    write_file("t_syn/other.txt", "x");
    changed(&f, "t_syn/other.txt");
    request(&f);
    expect_failure_contains(&f, "SyntaxError");
    write_file("t_syn/leaf.py", "A = 7\n");
    changed(&f, "t_syn/leaf.py");
    request(&f);
    expect_failure_contains(&f, NULL);
    expect("t_syn.leaf.A, t_syn.top.B", "(7, 8)");
    stop(&f);
}

static void
test_runtime_error_restores_every_module(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_rb/__init__.py", "");
    write_file("t_rb/dep.py", "def f():\n    return 1\nN = 1\n");
    write_file("t_rb/user.py",
               "from t_rb.dep import f, N\n"
               "if N == 2:\n"
               "    raise RuntimeError('boom at import')\n"
               "R = f() + N\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_rb.user");
    /* dep runs fine, user fails: dep must be rolled back as well. */
    write_file("t_rb/dep.py", "def f():\n    return 100\nN = 2\nNEW = 1\n");
    changed(&f, "t_rb/dep.py");
    request(&f);
    expect_failure_contains(&f, "RuntimeError: boom at import");
    expect("t_rb.dep.N, hasattr(t_rb.dep, 'NEW'), t_rb.dep.f()",
           "(1, False, 1)");
    expect("t_rb.user.R", "2");
    stop(&f);
}

static void
test_same_size_edits_and_stale_pyc(void **state)
{
    struct fx f;
    char *pyc;

    (void)state;
    write_file("t_pyc.py", "V = 'aaa'\n");
    start(&f, NULL, NULL, 0);
    /* A .pyc of the first version, as left by an earlier python run. */
    py_exec("import py_compile, importlib.util\n"
            "py_compile.compile('t_pyc.py', cfile=importlib.util."
            "cache_from_source('t_pyc.py'))\n"
            "import t_pyc\n");
    expect("t_pyc.V", "aaa");
    write_file("t_pyc.py", "V = 'bbb'\n");
    changed(&f, "t_pyc.py");
    request(&f);
    expect("t_pyc.V", "bbb");
    write_file("t_pyc.py", "V = 'ccc'\n");
    changed(&f, "t_pyc.py");
    request(&f);
    expect("t_pyc.V", "ccc");
    pyc = py_str("__import__('os').path.exists(__import__('importlib.util')"
                 ".util.cache_from_source('t_pyc.py'))");
    assert_string_equal(pyc, "False");
    free(pyc);
    /* A fresh import after the edit must not load old bytecode either. */
    py_exec("import sys\ndel sys.modules['t_pyc']\nimport t_pyc\n");
    expect("t_pyc.V", "ccc");
    stop(&f);
}

static void
test_stale_pyc_of_a_new_import_is_not_used(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_pyc2.py", "V = 'aaa'\n");
    start(&f, NULL, NULL, 0);
    /* A .pyc from an earlier python run, then a same-size edit whose
     * mtime a tool put back: the loader's own check would accept it. */
    py_exec("import os, py_compile, importlib.util\n"
            "py_compile.compile('t_pyc2.py', cfile=importlib.util."
            "cache_from_source('t_pyc2.py'))\n"
            "st = os.stat('t_pyc2.py')\n"
            "open('t_pyc2.py', 'w').write(\"V = 'bbb'\\n\")\n"
            "os.utime('t_pyc2.py', ns=(st.st_atime_ns, st.st_mtime_ns))\n"
            "import t_pyc2\n");
    expect("t_pyc2.V", "bbb");
    stop(&f);
}

static void
test_poll_mode_notices_a_created_module(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_poll/__init__.py", "");
    write_file("t_poll/main.py", "X = 1\n");
    start_watched(&f, NULL, NULL, 0, 1);
    py_exec("import t_poll.main");
    write_file("t_poll/main.py", "from t_poll.later import Y\n"
                                 "from t_poll import sub\n"
                                 "X = Y + sub.Z\n");
    request(&f);
    expect_failure_contains(&f, "No module named 't_poll.later'");
    /* Polling stats tracked files only: the files that would provide
     * the missing module were tracked when its import failed. */
    write_file("t_poll/later.py", "Y = 40\n");
    request(&f);
    expect_failure_contains(&f, "cannot import name 'sub'");
    write_file("t_poll/sub.py", "Z = 2\n");
    request(&f);
    expect_failure_contains(&f, NULL);
    expect("t_poll.main.X", "42");
    stop(&f);
}

static void
test_deleted_module_fails_importers(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_del/__init__.py", "");
    write_file("t_del/helper.py", "def h():\n    return 'h'\n");
    write_file("t_del/view.py", "from t_del.helper import h\n"
                                "OUT = h()\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_del.view");
    remove_file("t_del/helper.py");
    changed(&f, "t_del/helper.py");
    request(&f);
    expect_failure_contains(&f, "ModuleNotFoundError: No module named "
                            "'t_del.helper': t_del/helper.py was deleted");
    expect("'t_del.helper' in __import__('sys').modules", "False");
    /* Fix the importer: the next request works. */
    write_file("t_del/view.py", "OUT = 'inline'\n");
    changed(&f, "t_del/view.py");
    request(&f);
    expect_failure_contains(&f, NULL);
    expect("t_del.view.OUT", "inline");
    stop(&f);
}

static void
test_deleted_leaf_is_forgotten(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_leaf.py", "X = 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_leaf");
    remove_file("t_leaf.py");
    changed(&f, "t_leaf.py");
    request(&f);
    expect_failure_contains(&f, NULL);
    expect("'t_leaf' in __import__('sys').modules", "False");
    expect("__import__('hotserve').status()['last']['deleted']",
           "['t_leaf']");
    /* Created again: importing it works from the new file. */
    write_file("t_leaf.py", "X = 2\n");
    changed(&f, "t_leaf.py");
    request(&f);
    py_exec("import t_leaf");
    expect("t_leaf.X", "2");
    stop(&f);
}

static void
test_missing_module_created_later_is_retried(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_new/__init__.py", "");
    write_file("t_new/main.py", "X = 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_new.main");
    write_file("t_new/main.py", "from t_new.later import Y\nX = Y\n");
    changed(&f, "t_new/main.py");
    request(&f);
    expect_failure_contains(&f, "No module named 't_new.later'");
    expect("t_new.main.X", "1");
    /* The error page names the importing line, not importlib's frames. */
    failure_to_main(&f);
    expect("__import__('traceback').extract_tb(failure.__traceback__)[-1]"
           "[0].endswith('t_new/main.py')", "True");
    write_file("t_new/later.py", "Y = 42\n");
    changed(&f, "t_new/later.py");
    request(&f);
    expect_failure_contains(&f, NULL);
    expect("t_new.main.X", "42");
    expect(LAST_MODULES, "['t_new.later', 't_new.main']");
    stop(&f);
}

static void
test_unrelated_changes_do_nothing(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_quiet.py", "X = 1\n");
    write_file("t_never.py", "X = 1\n");
    write_file("t_quiet.html", "<p>\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_quiet");
    changed(&f, "t_never.py");
    changed(&f, "t_quiet.html");
    request(&f);
    expect("__import__('hotserve').status()['reloads'], "
           "__import__('hotserve').status()['last'], "
           "__import__('hotserve').status()['generation'] > 0",
           "(0, None, True)");
    stop(&f);
}

static void
test_reload_hooks_are_called(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_hooklog.py", "CALLS = []\n");
    write_file("t_hooks.py",
               "import t_hooklog\n"
               "GEN = 1\n"
               "def __hotserve_before_reload__():\n"
               "    t_hooklog.CALLS.append(('before', GEN))\n"
               "def __hotserve_after_reload__():\n"
               "    t_hooklog.CALLS.append(('after', GEN))\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_hooks");
    write_file("t_hooks.py",
               "import t_hooklog\n"
               "GEN = 2\n"
               "def __hotserve_before_reload__():\n"
               "    t_hooklog.CALLS.append(('before', GEN))\n"
               "def __hotserve_after_reload__():\n"
               "    t_hooklog.CALLS.append(('after', GEN))\n");
    changed(&f, "t_hooks.py");
    request(&f);
    expect("__import__('t_hooklog').CALLS", "[('before', 1), ('after', 2)]");
    stop(&f);
}

static void
test_old_functions_run_new_code(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_swap.py",
               "import functools\n"
               "def deco(fn):\n"
               "    def wrapper(*a):\n"
               "        return ('wrapped', fn(*a))\n"
               "    return wrapper\n"
               "def view():\n"
               "    return 1\n"
               "@functools.lru_cache(maxsize=None)\n"
               "def cached(x):\n"
               "    return x + 1\n"
               "@deco\n"
               "def decorated():\n"
               "    return 'old'\n"
               "class C:\n"
               "    def m(self):\n"
               "        return 'old m'\n");
    start(&f, NULL, NULL, 0);
    /* References held outside the plan (as a urlconf elsewhere would). */
    py_exec("import t_swap\n"
            "held = (t_swap.view, t_swap.cached, t_swap.decorated,"
            " t_swap.C)\n"
            "held[1](1)\n");
    write_file("t_swap.py",
               "import functools\n"
               "def deco(fn):\n"
               "    def wrapper(*a):\n"
               "        return ('wrapped', fn(*a))\n"
               "    return wrapper\n"
               "def view():\n"
               "    return 2\n"
               "@functools.lru_cache(maxsize=None)\n"
               "def cached(x):\n"
               "    return x + 100\n"
               "@deco\n"
               "def decorated():\n"
               "    return 'new'\n"
               "class C:\n"
               "    def m(self):\n"
               "        return 'new m'\n");
    changed(&f, "t_swap.py");
    request(&f);
    expect("held[0](), held[1](1), held[2](), held[3]().m()",
           "(2, 101, ('wrapped', 'new'), 'new m')");
    expect("held[0] is t_swap.view", "False");
    stop(&f);
}

static void
test_import_cycle_reloads_as_a_group(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_cyc/__init__.py", "");
    write_file("t_cyc/a.py", "from t_cyc import b\nA = 1\n"
                             "def total():\n    return A + b.B\n");
    write_file("t_cyc/b.py", "from t_cyc import a\nB = 10\n");
    write_file("t_cyc/user.py", "from t_cyc.a import total\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_cyc.user");
    expect("t_cyc.a.total()", "11");
    write_file("t_cyc/b.py", "from t_cyc import a\nB = 20\n");
    changed(&f, "t_cyc/b.py");
    request(&f);
    expect("t_cyc.a.total(), t_cyc.user.total()", "(21, 21)");
    expect("sorted(" LAST_MODULES ")",
           "['t_cyc.a', 't_cyc.b', 't_cyc.user']");
    expect(LAST_MODULES "[-1]", "t_cyc.user");
    stop(&f);
}

static void
test_import_module_makes_an_edge(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_im/__init__.py", "");
    write_file("t_im/leaf.py", "V = 1\n");
    write_file("t_im/lib.py",
               "import importlib\n"
               "def include(name):\n"
               "    return importlib.import_module(name)\n");
    /* Like Django's include('app.urls'): the call is made by library
     * code while t_im.root's body runs. */
    write_file("t_im/root.py", "from t_im.lib import include\n"
                               "V = include('t_im.leaf').V\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_im.root");
    write_file("t_im/leaf.py", "V = 2\n");
    changed(&f, "t_im/leaf.py");
    request(&f);
    expect("t_im.root.V", "2");
    stop(&f);
}

static void
test_relative_imports_make_edges(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_rel/__init__.py", "");
    write_file("t_rel/base.py", "K = 1\n");
    write_file("t_rel/sub/__init__.py", "from .. import base\n");
    write_file("t_rel/sub/mod.py", "from ..base import K\n"
                                   "from . import sib\n"
                                   "V = K + sib.S\n");
    write_file("t_rel/sub/sib.py", "S = 10\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_rel.sub.mod");
    write_file("t_rel/base.py", "K = 2\n");
    changed(&f, "t_rel/base.py");
    request(&f);
    expect("t_rel.sub.mod.V", "12");
    write_file("t_rel/sub/sib.py", "S = 20\n");
    changed(&f, "t_rel/sub/sib.py");
    request(&f);
    expect("t_rel.sub.mod.V", "22");
    stop(&f);
}

static void
test_namespace_package_submodule_edge(void **state)
{
    struct fx f;

    (void)state;
    /* t_ns has no __init__.py: a namespace package without a file. */
    write_file("t_ns/mod.py", "V = 1\n");
    write_file("t_nsuser.py", "from t_ns import mod\nV = mod.V\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_nsuser");
    write_file("t_ns/mod.py", "V = 2\n");
    changed(&f, "t_ns/mod.py");
    request(&f);
    expect("t_nsuser.V", "2");
    stop(&f);
}

static void
test_package_keeps_submodule_attributes(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_pkg/__init__.py", "P = 1\n");
    write_file("t_pkg/child.py", "C = 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_pkg.child");
    write_file("t_pkg/__init__.py", "P = 2\n");
    changed(&f, "t_pkg/__init__.py");
    request(&f);
    expect("t_pkg.P, t_pkg.child.C", "(2, 1)");
    stop(&f);
}

static void
test_app_is_reloaded_and_factory_called_again(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_app/__init__.py", "");
    write_file("t_app/views.py", "MSG = 'one'\n");
    write_file("t_app/wsgi.py",
               "from t_app import views\n"
               "def create():\n"
               "    msg = views.MSG\n"
               "    def app(environ, start_response):\n"
               "        return [msg]\n"
               "    return app\n");
    start(&f, "t_app.wsgi", "create", 1);
    assert_int_equal(load_app(&f), 0);
    hs_py_enter();
    PyDict_SetItemString(main_dict(), "app", f.app.callable);
    hs_py_leave();
    expect("app(None, None)", "['one']");
    write_file("t_app/views.py", "MSG = 'two'\n");
    changed(&f, "t_app/views.py");
    request(&f);
    hs_py_enter();
    PyDict_SetItemString(main_dict(), "app", f.app.callable);
    hs_py_leave();
    expect("app(None, None)", "['two']");
    stop(&f);
}

static void
test_broken_app_is_retried_on_change(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_broken/__init__.py", "");
    write_file("t_broken/part.py", "X = (\n");
    write_file("t_broken/wsgi.py",
               "from t_broken.part import X\n"
               "def application(environ, start_response):\n"
               "    return [X]\n");
    start(&f, "t_broken.wsgi", "application", 0);
    assert_int_equal(load_app(&f), -1);
    assert_null(f.app.callable);
    write_file("t_broken/part.py", "X = b'fixed'\n");
    changed(&f, "t_broken/part.py");
    request(&f);
    assert_non_null(f.app.callable);
    expect_failure_contains(&f, NULL);
    expect(LAST_MODULES, "['t_broken.part', 't_broken.wsgi']");
    stop(&f);
}

static void
test_callbacks_and_caches_after_reload(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_cb_reg.py",
               "import functools, hotserve\n"
               "SEEN = []\n"
               "CACHE = hotserve.register_cache({'stale': 1})\n"
               "@hotserve.register_cache\n"
               "@functools.lru_cache(maxsize=None)\n"
               "def lookup(x):\n"
               "    return x\n"
               "@hotserve.on_reload\n"
               "def record(modules):\n"
               "    SEEN.append(modules)\n");
    write_file("t_cb_mod.py", "X = 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_cb_reg, t_cb_mod\nt_cb_reg.lookup(1)\n");
    changed(&f, "t_cb_mod.py");
    request(&f);
    expect("t_cb_reg.SEEN, t_cb_reg.CACHE, t_cb_reg.lookup.cache_info()"
           ".currsize", "([['t_cb_mod']], {}, 0)");
    /* The registering module itself reloads: no duplicate callback. */
    changed(&f, "t_cb_reg.py");
    request(&f);
    changed(&f, "t_cb_mod.py");
    request(&f);
    /* The new module's callback saw its own reload, then the next. */
    expect("t_cb_reg.SEEN", "[['t_cb_reg'], ['t_cb_mod']]");
    expect("len([k for k in __import__('hotserve')._callbacks "
           "if 't_cb_reg' in k])", "1");
    stop(&f);
}

static void
test_overflow_compares_files(void **state)
{
    struct fx f;

    (void)state;
    write_file("t_ovf_a.py", "X = 1\n");
    write_file("t_ovf_b.py", "X = 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_ovf_a, t_ovf_b");
    write_file("t_ovf_b.py", "X = 22\n");
    hs_changeset_lock(f.cs);
    hs_changeset_set_overflow_locked(f.cs);
    hs_changeset_unlock(f.cs);
    request(&f);
    expect("t_ovf_a.X, t_ovf_b.X", "(1, 22)");
    expect(LAST_MODULES, "['t_ovf_b']");
    stop(&f);
}

static void
test_hooks_are_removed_on_free(void **state)
{
    struct fx f;

    (void)state;
    py_exec("import builtins, importlib, importlib.machinery as M\n"
            "def hooks():\n"
            "    return (builtins.__import__, importlib.import_module,\n"
            "            'exec_module' in vars(M.SourceFileLoader))\n"
            "orig = hooks()\n");
    start(&f, NULL, NULL, 0);
    expect("[a is b for a, b in zip(hooks(), orig)]",
           "[False, False, False]");
    stop(&f);
    expect("[a is b for a, b in zip(hooks(), orig)]", "[True, True, True]");
}

struct holder {
    struct hs_reloader *r;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inside;
    int release;
};

/* A request that stays inside the gate (running app code) until told. */
static void *
hold_read_side(void *arg)
{
    struct holder *h = arg;

    hs_reloader_gate_enter(h->r);
    pthread_mutex_lock(&h->mu);
    h->inside = 1;
    pthread_cond_broadcast(&h->cv);
    while (!h->release) {
        pthread_cond_wait(&h->cv, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    hs_reloader_gate_leave(h->r);
    return NULL;
}

static void
test_reload_blocked_by_a_request_is_put_off(void **state)
{
    struct fx f;
    struct holder h;
    pthread_t t;

    (void)state;
    write_file("t_wait.py", "V = 1\n");
    start(&f, NULL, NULL, 0);
    py_exec("import t_wait");
    memset(&h, 0, sizeof(h));
    h.r = f.r;
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    assert_int_equal(pthread_create(&t, NULL, hold_read_side, &h), 0);
    pthread_mutex_lock(&h.mu);
    while (!h.inside) {
        pthread_cond_wait(&h.cv, &h.mu);
    }
    pthread_mutex_unlock(&h.mu);
    /* Like a view waiting for a request to its own server: the reload
     * cannot get the write side; after the bounded wait the request goes
     * on and the change stays pending. */
    write_file("t_wait.py", "V = 2\n");
    changed(&f, "t_wait.py");
    request(&f);
    expect("t_wait.V", "1");
    pthread_mutex_lock(&h.mu);
    h.release = 1;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    assert_int_equal(pthread_join(t, NULL), 0);
    request(&f);
    expect("t_wait.V", "2");
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    stop(&f);
}

/* ---- fixture ------------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
group_setup(void **state)
{
    struct hs_py_config cfg;
    char err[256];
    char *real;

    (void)state;
    snprintf(root, sizeof(root), "/tmp/hs_reloader_XXXXXX");
    if (mkdtemp(root) == NULL) {
        return -1;
    }
    /* Module files are compared by real path (/tmp may be a symlink). */
    real = realpath(root, NULL);
    if (real == NULL) {
        return -1;
    }
    snprintf(root, sizeof(root), "%s", real);
    free(real);
    if (chdir(root) < 0) {
        return -1;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.argv0 = "test_reloader";
    cfg.cwd = root;
    if (hs_py_init(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    hs_py_fini();
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edit_reruns_importers_in_order),
        cmocka_unit_test(test_removed_name_vanishes),
        cmocka_unit_test(test_state_kept_when_listed),
        cmocka_unit_test(test_bad_keep_list_is_an_error),
        cmocka_unit_test(test_syntax_error_rolls_back_then_fix_works),
        cmocka_unit_test(test_runtime_error_restores_every_module),
        cmocka_unit_test(test_same_size_edits_and_stale_pyc),
        cmocka_unit_test(test_stale_pyc_of_a_new_import_is_not_used),
        cmocka_unit_test(test_poll_mode_notices_a_created_module),
        cmocka_unit_test(test_deleted_module_fails_importers),
        cmocka_unit_test(test_deleted_leaf_is_forgotten),
        cmocka_unit_test(test_missing_module_created_later_is_retried),
        cmocka_unit_test(test_unrelated_changes_do_nothing),
        cmocka_unit_test(test_reload_hooks_are_called),
        cmocka_unit_test(test_old_functions_run_new_code),
        cmocka_unit_test(test_import_cycle_reloads_as_a_group),
        cmocka_unit_test(test_import_module_makes_an_edge),
        cmocka_unit_test(test_relative_imports_make_edges),
        cmocka_unit_test(test_namespace_package_submodule_edge),
        cmocka_unit_test(test_package_keeps_submodule_attributes),
        cmocka_unit_test(test_app_is_reloaded_and_factory_called_again),
        cmocka_unit_test(test_broken_app_is_retried_on_change),
        cmocka_unit_test(test_callbacks_and_caches_after_reload),
        cmocka_unit_test(test_overflow_compares_files),
        cmocka_unit_test(test_hooks_are_removed_on_free),
        cmocka_unit_test(test_reload_blocked_by_a_request_is_put_off),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests_name("reloader", tests, group_setup,
                                       group_teardown);
}
