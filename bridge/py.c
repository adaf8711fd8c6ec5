/* The embedded interpreter and per-thread thread states. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/py.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/module.h"
#include "bridge/pysrc.h"

/* This thread's Python thread state between hs_py_leave and hs_py_enter,
 * and whether it was made by PyGILState_Ensure (connection threads) and so
 * must be released when the thread exits. */
static _Thread_local PyThreadState *thread_ts;
static _Thread_local int thread_owned;
static _Thread_local PyGILState_STATE thread_gstate;

/* The main thread's state, restored for hs_py_fini. */
static PyThreadState *main_ts;
static pthread_key_t exit_key;

/* The embedded `hotserve` package is served by a meta-path finder whose
 * table maps module name -> (is_package, source). Source code of our own
 * compiled into the binary keeps hotserve a single file. */
static const char bootstrap_src[] =
    "import sys, importlib.util\n"
    "class HotserveFinder:\n"
    "    def __init__(self, table):\n"
    "        self._table = table\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name not in self._table:\n"
    "            return None\n"
    "        return importlib.util.spec_from_loader(\n"
    "            name, self, origin='<hotserve>',\n"
    "            is_package=self._table[name][0])\n"
    "    def create_module(self, spec):\n"
    "        return None\n"
    "    def _filename(self, name):\n"
    "        tail = '/__init__.py' if self._table[name][0] else '.py'\n"
    "        return '<hotserve>/' + name.replace('.', '/') + tail\n"
    "    def exec_module(self, module):\n"
    "        name = module.__name__\n"
    "        module.__file__ = self._filename(name)\n"
    "        code = compile(self._table[name][1], module.__file__, 'exec')\n"
    "        exec(code, module.__dict__)\n"
    "    def is_package(self, name):\n"
    "        return self._table[name][0]\n"
    "    def get_source(self, name):\n"
    "        return self._table[name][1]\n"
    "sys.meta_path.insert(0, HotserveFinder(table))\n"
    "for p in reversed(paths):\n"
    "    if p in sys.path:\n"
    "        sys.path.remove(p)\n"
    "    sys.path.insert(0, p)\n";

static void
thread_exit(void *arg)
{
    (void)arg;
    /* A connection thread ends: drop the thread state it kept. */
    if (thread_ts != NULL && thread_owned) {
        PyEval_RestoreThread(thread_ts);
        thread_ts = NULL;
        PyGILState_Release(thread_gstate);
    }
}

static int
status_error(PyStatus st, char *err, size_t errlen)
{
    snprintf(err, errlen, "cannot start Python: %s%s%s",
             st.func ? st.func : "", st.func ? ": " : "",
             st.err_msg ? st.err_msg : "unknown error");
    return -1;
}

static int
set_executable(PyConfig *c, const struct hs_py_config *cfg, char *err,
               size_t errlen)
{
    /* CPython never reads VIRTUAL_ENV itself; pointing executable at the
     * venv's interpreter makes getpath find pyvenv.cfg (cstack.md 3.1). */
    char buf[4096];
    const char *exe = cfg->python;
    const char *venv = getenv("VIRTUAL_ENV");
    PyStatus st;

    if (exe == NULL && venv != NULL && venv[0] != '\0') {
        snprintf(buf, sizeof(buf), "%s/bin/python", venv);
        exe = buf;
    }
    if (exe == NULL) {
        return 0;
    }
    st = PyConfig_SetBytesString(c, &c->executable, exe);
    if (PyStatus_Exception(st)) {
        return status_error(st, err, errlen);
    }
    return 0;
}

static PyObject *
build_table(void)
{
    PyObject *table = PyDict_New();
    const struct hs_pysrc *e;

    if (table == NULL) {
        return NULL;
    }
    for (e = hs_pysrc_table; e->name != NULL; e++) {
        PyObject *v = Py_BuildValue("(Os)", e->is_package ? Py_True
                                                         : Py_False,
                                    e->source);
        if (v == NULL || PyDict_SetItemString(table, e->name, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(table);
            return NULL;
        }
        Py_DECREF(v);
    }
    return table;
}

static int
bootstrap(const struct hs_py_config *cfg, char *err, size_t errlen)
{
    PyObject *globals = NULL, *table = NULL, *paths = NULL, *res = NULL;
    PyObject *item;
    size_t i;
    int rc = -1;

    globals = PyDict_New();
    table = build_table();
    paths = PyList_New(0);
    if (globals == NULL || table == NULL || paths == NULL) {
        goto fail;
    }
    if (cfg->cwd != NULL) {
        item = PyUnicode_DecodeFSDefault(cfg->cwd);
        if (item == NULL || PyList_Append(paths, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    for (i = 0; i < cfg->npythonpath; i++) {
        item = PyUnicode_DecodeFSDefault(cfg->pythonpath[i]);
        if (item == NULL || PyList_Append(paths, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    if (PyDict_SetItemString(globals, "__builtins__",
                             PyEval_GetBuiltins()) < 0
        || PyDict_SetItemString(globals, "table", table) < 0
        || PyDict_SetItemString(globals, "paths", paths) < 0) {
        goto fail;
    }
    res = PyRun_String(bootstrap_src, Py_file_input, globals, globals);
    if (res == NULL) {
        goto fail;
    }
    rc = 0;
fail:
    if (rc < 0) {
        snprintf(err, errlen, "cannot set up the hotserve package");
        PyErr_Print();
    }
    Py_XDECREF(res);
    Py_XDECREF(paths);
    Py_XDECREF(table);
    Py_XDECREF(globals);
    return rc;
}

int
hs_py_init(const struct hs_py_config *cfg, char *err, size_t errlen)
{
    PyConfig c;
    PyStatus st;
    char *argv[1];

    if (pthread_key_create(&exit_key, thread_exit) != 0) {
        snprintf(err, errlen, "cannot create a thread key");
        return -1;
    }
    if (PyImport_AppendInittab("_hotserve", hs_module_pyinit) < 0) {
        snprintf(err, errlen, "cannot register the _hotserve module");
        return -1;
    }
    PyConfig_InitPythonConfig(&c);
    c.parse_argv = 0;
    /* Signals belong to the loop thread, installed before this call. */
    c.install_signal_handlers = 0;
    /* No .pyc for the app: a same-size edit within the same second would
     * otherwise load the old bytecode (cstack.md 3.2). */
    c.write_bytecode = 0;
    argv[0] = (char *)cfg->argv0;
    st = PyConfig_SetBytesArgv(&c, 1, argv);
    if (PyStatus_Exception(st)) {
        PyConfig_Clear(&c);
        return status_error(st, err, errlen);
    }
    if (set_executable(&c, cfg, err, errlen) < 0) {
        PyConfig_Clear(&c);
        return -1;
    }
    st = Py_InitializeFromConfig(&c);
    PyConfig_Clear(&c);
    if (PyStatus_Exception(st)) {
        return status_error(st, err, errlen);
    }
    if (bootstrap(cfg, err, errlen) < 0) {
        main_ts = PyEval_SaveThread();
        thread_ts = main_ts;
        return -1;
    }
    main_ts = PyEval_SaveThread();
    thread_ts = main_ts;
    return 0;
}

void
hs_py_fini(void)
{
    if (main_ts == NULL) {
        return;
    }
    PyEval_RestoreThread(main_ts);
    thread_ts = NULL;
    main_ts = NULL;
    Py_FinalizeEx();
}

void
hs_py_enter(void)
{
    if (thread_ts == NULL) {
        /* First use on this thread: make a thread state and keep it. */
        thread_gstate = PyGILState_Ensure();
        thread_owned = 1;
        pthread_setspecific(exit_key, (void *)1);
        return;
    }
    PyEval_RestoreThread(thread_ts);
    thread_ts = NULL;
}

void
hs_py_leave(void)
{
    thread_ts = PyEval_SaveThread();
}

void
hs_py_describe(char *buf, size_t len)
{
    const char *prefix = "?";
    PyObject *p = PySys_GetObject("prefix");   /* borrowed */

    if (p != NULL && PyUnicode_Check(p)) {
        prefix = PyUnicode_AsUTF8(p);
        if (prefix == NULL) {
            PyErr_Clear();
            prefix = "?";
        }
    }
    /* The runtime version, not the headers': --python may differ. */
    const char *v = Py_GetVersion();
    size_t n = strcspn(v, " ");

    snprintf(buf, len, "Python %.*s (%s)", (int)n, v, prefix);
}
