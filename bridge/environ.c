/* The environ dict: a copied template plus per-request values.
 *
 * Keys are interned once; the template already holds every key that is
 * always present, so a request only overwrites entries (cstack.md 3.9:
 * PyDict_Copy of the template is ~60 ns, building from scratch ~200 ns).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/environ.h"

#include <stdio.h>
#include <string.h>

#include "bridge/hdrkey.h"
#include "bridge/wsgi.h"

/* Immutable after hs_environ_init (DESIGN.md allows interned constants). */
static PyObject *k_method, *k_script_name, *k_path_info, *k_query,
    *k_protocol, *k_remote_addr, *k_remote_port, *k_server_name,
    *k_server_port, *k_raw_uri, *k_request_uri, *k_input, *k_errors,
    *k_file_wrapper;
static PyObject *template_env;

/* Store a new reference (stolen, may be NULL after a failed constructor). */
static int
set_new(PyObject *d, const char *key, PyObject *value)
{
    int rc;

    if (value == NULL) {
        return -1;
    }
    rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *
intern(const char *s)
{
    return PyUnicode_InternFromString(s);
}

int
hs_environ_init(void)
{
    PyObject *version = NULL, *sys_stderr;

    if (template_env != NULL) {
        return 0;
    }
    k_method = intern("REQUEST_METHOD");
    k_script_name = intern("SCRIPT_NAME");
    k_path_info = intern("PATH_INFO");
    k_query = intern("QUERY_STRING");
    k_protocol = intern("SERVER_PROTOCOL");
    k_remote_addr = intern("REMOTE_ADDR");
    k_remote_port = intern("REMOTE_PORT");
    k_server_name = intern("SERVER_NAME");
    k_server_port = intern("SERVER_PORT");
    k_raw_uri = intern("RAW_URI");
    k_request_uri = intern("REQUEST_URI");
    k_input = intern("wsgi.input");
    k_errors = intern("wsgi.errors");
    k_file_wrapper = intern("wsgi.file_wrapper");
    if (PyErr_Occurred()) {
        return -1;
    }
    template_env = PyDict_New();
    version = Py_BuildValue("(ii)", 1, 0);
    if (template_env == NULL || version == NULL) {
        goto fail;
    }
    sys_stderr = PySys_GetObject("stderr");    /* borrowed */
    if (PyDict_SetItemString(template_env, "wsgi.version", version) < 0
        || set_new(template_env, "wsgi.url_scheme",
                   PyUnicode_FromString("http")) < 0
        || PyDict_SetItemString(template_env, "wsgi.multithread",
                                Py_True) < 0
        || PyDict_SetItemString(template_env, "wsgi.multiprocess",
                                Py_False) < 0
        || PyDict_SetItemString(template_env, "wsgi.run_once",
                                Py_False) < 0
        || set_new(template_env, "SERVER_SOFTWARE",
                   PyUnicode_FromString("hotserve/" HS_VERSION)) < 0
        || PyDict_SetItem(template_env, k_errors,
                          sys_stderr ? sys_stderr : Py_None) < 0
        || set_new(template_env, "SCRIPT_NAME",
                   PyUnicode_FromString("")) < 0) {
        goto fail;
    }
    /* Placeholders so per-request stores overwrite instead of growing. */
    {
        PyObject *keys[] = {k_method, k_path_info, k_query, k_protocol,
                            k_remote_addr, k_remote_port, k_server_name,
                            k_server_port, k_raw_uri, k_request_uri,
                            k_input, k_file_wrapper};
        size_t i;
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (PyDict_SetItem(template_env, keys[i], Py_None) < 0) {
                goto fail;
            }
        }
    }
    Py_DECREF(version);
    return 0;
fail:
    Py_XDECREF(version);
    Py_CLEAR(template_env);
    return -1;
}

static int
set_str(PyObject *env, PyObject *key, const char *s, size_t len)
{
    PyObject *v = PyUnicode_DecodeLatin1(s, (Py_ssize_t)len, NULL);
    int rc;

    if (v == NULL) {
        return -1;
    }
    rc = PyDict_SetItem(env, key, v);
    Py_DECREF(v);
    return rc;
}

static int
set_uint(PyObject *env, PyObject *key, unsigned n)
{
    char buf[16];
    int len = snprintf(buf, sizeof(buf), "%u", n);

    return set_str(env, key, buf, (size_t)len);
}

/* Add one request header, joining with an earlier one of the same key. */
static int
add_header(PyObject *env, const struct hs_header *h)
{
    char keybuf[HS_HDRKEY_MAX];
    ssize_t klen;
    PyObject *key, *val, *old;
    int rc = -1;

    klen = hs_hdrkey_environ(h->name, h->name_len, keybuf, sizeof(keybuf));
    if (klen < 0) {
        return 0;   /* dropped on purpose (underscore, invalid name) */
    }
    key = PyUnicode_FromStringAndSize(keybuf, klen);
    if (key == NULL) {
        return -1;
    }
    val = PyUnicode_DecodeLatin1(h->value, (Py_ssize_t)h->value_len, NULL);
    if (val == NULL) {
        goto done;
    }
    old = PyDict_GetItemWithError(env, key);    /* borrowed */
    if (old == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (old != NULL) {
        PyObject *joined = PyUnicode_FromFormat("%U%s%U", old,
                                                hs_hdrkey_joiner(keybuf),
                                                val);
        if (joined == NULL) {
            goto done;
        }
        Py_SETREF(val, joined);
    }
    rc = PyDict_SetItem(env, key, val);
done:
    Py_XDECREF(val);
    Py_DECREF(key);
    return rc;
}

PyObject *
hs_environ_build(const struct hs_wsgi_request *req, PyObject *input,
                 PyObject *file_wrapper)
{
    PyObject *env = PyDict_Copy(template_env);
    size_t i;

    if (env == NULL) {
        return NULL;
    }
    if (set_str(env, k_method, req->method, strlen(req->method)) < 0
        || set_str(env, k_path_info, req->path, req->path_len) < 0
        || set_str(env, k_query, req->query, req->query_len) < 0
        || set_str(env, k_protocol, req->protocol,
                   strlen(req->protocol)) < 0
        || set_str(env, k_remote_addr, req->remote_addr,
                   strlen(req->remote_addr)) < 0
        || set_uint(env, k_remote_port, req->remote_port) < 0
        || set_str(env, k_server_name, req->server_name,
                   strlen(req->server_name)) < 0
        || set_uint(env, k_server_port, req->server_port) < 0
        || set_str(env, k_raw_uri, req->raw_target,
                   req->raw_target_len) < 0
        || PyDict_SetItem(env, k_request_uri,
                          PyDict_GetItem(env, k_raw_uri)) < 0
        || PyDict_SetItem(env, k_input, input) < 0
        || PyDict_SetItem(env, k_file_wrapper, file_wrapper) < 0) {
        goto fail;
    }
    for (i = 0; i < req->nheaders; i++) {
        if (add_header(env, &req->headers[i]) < 0) {
            goto fail;
        }
    }
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}
