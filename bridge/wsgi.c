/* The WSGI call (PEP 3333): environ in, status/headers/body out.
 *
 * Order of one request: the reload gate (barrier, read side of the reload
 * lock), the GIL with this thread's own thread state, the app call, the
 * first body chunk (generators call start_response lazily), validation of
 * status and headers, then the GIL and the gate are released and the server
 * sends. Body iteration after that runs without the reload lock, so long
 * streams never block a reload.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bridge/wsgi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bridge/app.h"
#include "bridge/environ.h"
#include "bridge/errpage.h"
#include "bridge/filewrapper.h"
#include "bridge/input.h"
#include "bridge/py.h"
#include "bridge/pycompat.h"
#include "bridge/reloader.h"
#include "reload/log.h"

struct hs_wsgi {
    struct hs_app *app;
    struct hs_reloader *reloader;
    PyObject *file_wrapper;     /* the type, borrowed (static) */
    PyObject *internal_app;     /* hotserve._internal_app, lazily */
};

/* start_response and its write() callable. */
typedef struct {
    PyObject_HEAD
    int called;
    int headers_sent;      /* the response description has been handed
                              to the server: exc_info must re-raise */
    PyObject *status;      /* str */
    PyObject *headers;     /* list of (str, str) */
    PyObject *written;     /* list of bytes given to write() */
    PyObject *write;       /* the bound write callable */
} HsStartResponse;

/* Per-response state behind hs_wsgi_response.priv. */
struct resp_priv {
    PyObject *result;      /* the app's iterable (close() it once) */
    PyObject *iter;        /* iterator over result, NULL when done */
    PyObject *chunk;       /* bytes being copied out */
    Py_ssize_t chunk_off;
    PyObject *keep;        /* keeps a BUFFER's bytes alive */
    HsStartResponse *sr;
    int64_t sent;
    int closed;
    char *copy;            /* a small BUFFER body copied out of Python */
    int released;          /* no Python reference left: free needs no GIL */
};

/* Bodies up to this size are copied out of their bytes object so the
 * request can drop every Python reference (and call close()) while it
 * still holds the GIL, instead of taking it again when the response is
 * freed: one GIL hand-off less per request, which is what dominates
 * under contention from many connection threads. */
#define HS_COPY_BODY_MAX (64 * 1024)

static PyTypeObject HsStartResponse_Type;

/* ---- start_response ---------------------------------------------------- */

static PyObject *
sr_write(PyObject *self_obj, PyObject *data)
{
    HsStartResponse *self = (HsStartResponse *)self_obj;

    if (!self->called) {
        PyErr_SetString(PyExc_AssertionError,
                        "write() before start_response()");
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not "
                     "%.100s", Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (PyList_Append(self->written, data) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef sr_write_def = {
    "write", (PyCFunction)sr_write, METH_O,
    "write(data): send data before the returned iterable (PEP 3333)"};

static PyObject *
HsStartResponse_call(HsStartResponse *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"status", "headers", "exc_info", NULL};
    PyObject *status, *headers, *exc_info = Py_None;
    Py_ssize_t i;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "UO!|O:start_response",
                                     kwlist, &status, &PyList_Type,
                                     &headers, &exc_info)) {
        return NULL;
    }
    if (exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_TypeError,
                            "exc_info must be a (type, value, traceback) "
                            "tuple");
            return NULL;
        }
        if (self->headers_sent) {
            /* Too late to replace the status: re-raise (PEP 3333). */
            PyObject *t = PyTuple_GET_ITEM(exc_info, 0);
            PyObject *v = PyTuple_GET_ITEM(exc_info, 1);
            PyObject *tb = PyTuple_GET_ITEM(exc_info, 2);
            PyErr_Restore(Py_NewRef(t), Py_NewRef(v),
                          tb == Py_None ? NULL : Py_NewRef(tb));
            return NULL;
        }
    } else if (self->called) {
        PyErr_SetString(PyExc_AssertionError,
                        "start_response() called again without exc_info");
        return NULL;
    }
    for (i = 0; i < PyList_GET_SIZE(headers); i++) {
        PyObject *h = PyList_GET_ITEM(headers, i);
        if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) != 2
            || !PyUnicode_Check(PyTuple_GET_ITEM(h, 0))
            || !PyUnicode_Check(PyTuple_GET_ITEM(h, 1))) {
            PyErr_Format(PyExc_TypeError, "response header %zd must be a "
                         "(str, str) tuple, not %R", i, h);
            return NULL;
        }
    }
    Py_XSETREF(self->status, Py_NewRef(status));
    Py_XSETREF(self->headers, Py_NewRef(headers));
    self->called = 1;
    return Py_NewRef(self->write);
}

static int
HsStartResponse_traverse(HsStartResponse *self, visitproc visit, void *arg)
{
    Py_VISIT(self->status);
    Py_VISIT(self->headers);
    Py_VISIT(self->written);
    Py_VISIT(self->write);
    return 0;
}

static int
HsStartResponse_clear(HsStartResponse *self)
{
    Py_CLEAR(self->status);
    Py_CLEAR(self->headers);
    Py_CLEAR(self->written);
    Py_CLEAR(self->write);
    return 0;
}

static void
HsStartResponse_dealloc(HsStartResponse *self)
{
    PyObject_GC_UnTrack(self);
    HsStartResponse_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject HsStartResponse_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hotserve.StartResponse",
    .tp_basicsize = sizeof(HsStartResponse),
    .tp_dealloc = (destructor)HsStartResponse_dealloc,
    .tp_call = (ternaryfunc)HsStartResponse_call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "start_response(status, headers, exc_info=None)",
    .tp_traverse = (traverseproc)HsStartResponse_traverse,
    .tp_clear = (inquiry)HsStartResponse_clear,
};

static HsStartResponse *
sr_new(void)
{
    HsStartResponse *sr = PyObject_GC_New(HsStartResponse,
                                          &HsStartResponse_Type);

    if (sr == NULL) {
        return NULL;
    }
    sr->called = 0;
    sr->headers_sent = 0;
    sr->status = NULL;
    sr->headers = NULL;
    sr->write = NULL;
    sr->written = PyList_New(0);
    PyObject_GC_Track(sr);
    if (sr->written == NULL) {
        Py_DECREF(sr);
        return NULL;
    }
    sr->write = PyCFunction_New(&sr_write_def, (PyObject *)sr);
    if (sr->write == NULL) {
        Py_DECREF(sr);
        return NULL;
    }
    return sr;
}

/* ---- response description ---------------------------------------------- */

static void
free_headers(struct hs_wsgi_response *resp)
{
    size_t i;

    for (i = 0; i < resp->nheaders; i++) {
        free((char *)resp->headers[i].name);
        free((char *)resp->headers[i].value);
    }
    free(resp->headers);
    resp->headers = NULL;
    resp->nheaders = 0;
}

static int
add_header(struct hs_wsgi_response *resp, const char *name, size_t nlen,
           const char *value, size_t vlen)
{
    struct hs_header *h;
    char *n, *v;

    h = realloc(resp->headers, (resp->nheaders + 1) * sizeof(*h));
    if (h == NULL) {
        return -ENOMEM;
    }
    resp->headers = h;
    n = strndup(name, nlen);
    v = strndup(value, vlen);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return -ENOMEM;
    }
    h[resp->nheaders].name = n;
    h[resp->nheaders].name_len = nlen;
    h[resp->nheaders].value = v;
    h[resp->nheaders].value_len = vlen;
    resp->nheaders++;
    return 0;
}

static int
is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~",
                                                          c) != NULL);
}

/* Header names that belong to the connection, not the app (PEP 3333:
 * "hop-by-hop" headers). Connection itself is passed on: MHD honours
 * "close". */
static int
is_hop_by_hop(const char *name)
{
    static const char *const hop[] = {"keep-alive", "proxy-authenticate",
                                      "proxy-authorization", "te",
                                      "trailer", "transfer-encoding",
                                      "upgrade", NULL};
    size_t i;

    for (i = 0; hop[i] != NULL; i++) {
        if (strcasecmp(name, hop[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Fill status and headers from start_response's arguments. Returns 0, or
 * -1 with a Python exception describing the app's mistake. */
static int
describe(HsStartResponse *sr, struct hs_wsgi_response *resp)
{
    const char *status;
    Py_ssize_t slen, i;

    if (!sr->called) {
        PyErr_SetString(PyExc_RuntimeError, "the application returned "
                        "without calling start_response()");
        return -1;
    }
    status = PyUnicode_AsUTF8AndSize(sr->status, &slen);
    if (status == NULL) {
        return -1;
    }
    if (slen < 3 || status[0] < '1' || status[0] > '9' || status[1] < '0'
        || status[1] > '9' || status[2] < '0' || status[2] > '9'
        || (slen > 3 && status[3] != ' ')) {
        PyErr_Format(PyExc_ValueError, "invalid status %R: it must start "
                     "with a 3-digit code and a space, like '200 OK'",
                     sr->status);
        return -1;
    }
    resp->status = (status[0] - '0') * 100 + (status[1] - '0') * 10
                   + (status[2] - '0');
    resp->content_length = -1;
    for (i = 0; i < PyList_GET_SIZE(sr->headers); i++) {
        PyObject *h = PyList_GET_ITEM(sr->headers, i);
        PyObject *nb = NULL, *vb = NULL;
        const char *n, *v;
        Py_ssize_t nl, vl, j;
        int bad = 0;

        nb = PyUnicode_AsLatin1String(PyTuple_GET_ITEM(h, 0));
        vb = nb ? PyUnicode_AsLatin1String(PyTuple_GET_ITEM(h, 1)) : NULL;
        if (vb == NULL) {
            Py_XDECREF(nb);
            PyErr_Format(PyExc_ValueError, "response header %R is not "
                         "latin-1 text", h);
            return -1;
        }
        n = PyBytes_AS_STRING(nb);
        nl = PyBytes_GET_SIZE(nb);
        v = PyBytes_AS_STRING(vb);
        vl = PyBytes_GET_SIZE(vb);
        bad = nl == 0;
        for (j = 0; j < nl && !bad; j++) {
            bad = !is_tchar((unsigned char)n[j]);
        }
        for (j = 0; j < vl && !bad; j++) {
            unsigned char c = (unsigned char)v[j];
            bad = (c < 0x20 && c != '\t') || c == 0x7f;
        }
        if (bad) {
            PyErr_Format(PyExc_ValueError, "invalid response header %R: "
                         "names must be tokens and values must not "
                         "contain control characters (CR, LF, NUL)", h);
            Py_DECREF(nb);
            Py_DECREF(vb);
            return -1;
        }
        if (strcasecmp(n, "content-length") == 0) {
            char *end;
            long long cl;
            errno = 0;
            cl = strtoll(v, &end, 10);
            if (vl == 0 || *end != '\0' || cl < 0 || errno != 0
                || v[0] == '-' || v[0] == '+' || v[0] == ' ') {
                PyErr_Format(PyExc_ValueError, "invalid Content-Length "
                             "header %R", h);
                Py_DECREF(nb);
                Py_DECREF(vb);
                return -1;
            }
            resp->content_length = cl;
        } else if (!is_hop_by_hop(n)
                   && add_header(resp, n, (size_t)nl, v, (size_t)vl) < 0) {
            Py_DECREF(nb);
            Py_DECREF(vb);
            PyErr_NoMemory();
            return -1;
        }
        Py_DECREF(nb);
        Py_DECREF(vb);
    }
    return 0;
}

/* ---- body ---------------------------------------------------------------- */

static void
close_result(struct resp_priv *p)
{
    PyObject *r;

    if (p->closed || p->result == NULL) {
        return;
    }
    p->closed = 1;
    Py_CLEAR(p->iter);
    if (!PyObject_HasAttrString(p->result, "close")) {
        return;
    }
    r = PyObject_CallMethod(p->result, "close", NULL);
    if (r == NULL) {
        PyObject *exc = hs_err_take();
        const char *ct;
        PyObject *page = hs_errpage_render(exc, "in the response "
                                           "iterable's close()", 0, 1, &ct);
        Py_XDECREF(page);
        Py_XDECREF(exc);
    }
    Py_XDECREF(r);
}

/* The next chunk of the body (write() data first), a new bytes reference,
 * or NULL: at the end (no exception) or on error (exception set). */
static PyObject *
next_chunk(struct resp_priv *p)
{
    PyObject *item;

    for (;;) {
        if (p->sr != NULL && PyList_GET_SIZE(p->sr->written) > 0) {
            item = Py_NewRef(PyList_GET_ITEM(p->sr->written, 0));
            if (PyList_SetSlice(p->sr->written, 0, 1, NULL) < 0) {
                Py_DECREF(item);
                return NULL;
            }
            return item;
        }
        if (p->iter == NULL) {
            return NULL;
        }
        item = PyIter_Next(p->iter);
        if (item == NULL) {
            if (!PyErr_Occurred()) {
                Py_CLEAR(p->iter);
                /* write() during the last iteration step counts too. */
                if (p->sr != NULL && PyList_GET_SIZE(p->sr->written) > 0) {
                    continue;
                }
            }
            return NULL;
        }
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "the application's iterable "
                         "yielded %.100s, not bytes",
                         Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            return NULL;
        }
        if (PyBytes_GET_SIZE(item) > 0) {
            return item;
        }
        Py_DECREF(item);
    }
}

/* ---- the call -------------------------------------------------------------- */

struct hs_wsgi *
hs_wsgi_new(struct hs_app *app, struct hs_reloader *reloader)
{
    struct hs_wsgi *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        return NULL;
    }
    w->app = app;
    w->reloader = reloader;
    if (PyType_Ready(&HsStartResponse_Type) < 0 || hs_input_init() < 0
        || hs_environ_init() < 0
        || (w->file_wrapper = hs_filewrapper_init()) == NULL) {
        PyErr_Print();
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    return w;
}

void
hs_wsgi_free(struct hs_wsgi *w)
{
    if (w == NULL) {
        return;
    }
    Py_CLEAR(w->internal_app);
    free(w);
}

static int
wants_html(const struct hs_wsgi_request *req)
{
    size_t i;

    for (i = 0; i < req->nheaders; i++) {
        const struct hs_header *h = &req->headers[i];
        if (h->name_len == 6 && strncasecmp(h->name, "accept", 6) == 0
            && memmem(h->value, h->value_len, "text/html", 9) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* Replace whatever resp describes with a 500 page for exc (borrowed). */
static void
error_response(struct hs_wsgi_response *resp, struct resp_priv *p,
               PyObject *exc, const char *context, int html, int log)
{
    const char *ctype = "text/plain; charset=utf-8";
    PyObject *body = hs_errpage_render(exc, context, html, log, &ctype);

    free_headers(resp);
    Py_CLEAR(p->keep);
    Py_CLEAR(p->chunk);
    Py_CLEAR(p->iter);
    if (p->sr != NULL) {
        PyList_SetSlice(p->sr->written, 0, PY_SSIZE_T_MAX, NULL);
        PyErr_Clear();
    }
    resp->status = 500;
    resp->kind = HS_RESP_BUFFER;
    resp->fd = -1;
    if (body == NULL) {
        PyErr_Clear();
        resp->buf = "500 Internal Server Error\n";
        resp->buf_len = strlen(resp->buf);
    } else {
        p->keep = body;
        resp->buf = PyBytes_AS_STRING(body);
        resp->buf_len = (size_t)PyBytes_GET_SIZE(body);
    }
    resp->content_length = (int64_t)resp->buf_len;
    if (add_header(resp, "Content-Type", 12, ctype, strlen(ctype)) < 0) {
        free_headers(resp);
    }
}

static void
error_from_pending(struct hs_wsgi_response *resp, struct resp_priv *p,
                   const char *context, int html)
{
    PyObject *exc = hs_err_take();

    if (exc == NULL) {
        exc = PyObject_CallFunction(PyExc_RuntimeError, "s",
                                    "unknown error");
        PyErr_Clear();
    }
    error_response(resp, p, exc, context, html, 1);
    Py_XDECREF(exc);
}

/* 1xx, 204 and 304 carry no body: do not iterate (close() still runs
 * when the response is freed). */
static int
no_body_allowed(struct hs_wsgi_response *resp)
{
    if (resp->status >= 200 && resp->status != 204 && resp->status != 304) {
        return 0;
    }
    Py_CLEAR(((struct resp_priv *)resp->priv)->chunk);
    Py_CLEAR(((struct resp_priv *)resp->priv)->iter);
    resp->kind = HS_RESP_BUFFER;
    resp->buf = "";
    resp->buf_len = 0;
    resp->content_length = 0;
    return 1;
}

/* Whole-body shortcuts: a list or tuple of bytes has a known length, and
 * a single bytes item is sent without copying. */
static int
prepare_sequence(struct hs_wsgi_response *resp, struct resp_priv *p)
{
    PyObject *seq = p->result;
    Py_ssize_t i, n = PySequence_Fast_GET_SIZE(seq);
    int64_t total = 0;

    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "the application returned a "
                         "sequence holding %.100s, not bytes",
                         Py_TYPE(item)->tp_name);
            return -1;
        }
        total += PyBytes_GET_SIZE(item);
    }
    for (i = 0; i < PyList_GET_SIZE(p->sr->written); i++) {
        total += PyBytes_GET_SIZE(PyList_GET_ITEM(p->sr->written, i));
    }
    if (n == 1 && PyList_GET_SIZE(p->sr->written) == 0) {
        PyObject *b = PySequence_Fast_GET_ITEM(seq, 0);
        p->keep = Py_NewRef(b);
        resp->kind = HS_RESP_BUFFER;
        resp->buf = PyBytes_AS_STRING(b);
        resp->buf_len = (size_t)PyBytes_GET_SIZE(b);
        if (resp->content_length < 0
            || resp->content_length > (int64_t)resp->buf_len) {
            /* A declared length larger than the body is an app error
             * caught by the stream path; keep the simple case exact. */
            if (resp->content_length > (int64_t)resp->buf_len) {
                PyErr_Format(PyExc_ValueError, "Content-Length is %lld "
                             "but the body has %zu bytes",
                             (long long)resp->content_length,
                             resp->buf_len);
                return -1;
            }
            resp->content_length = (int64_t)resp->buf_len;
        }
        resp->buf_len = (size_t)resp->content_length;
        return 0;
    }
    p->iter = PyObject_GetIter(seq);
    if (p->iter == NULL) {
        return -1;
    }
    resp->kind = HS_RESP_STREAM;
    if (resp->content_length < 0) {
        resp->content_length = total;
    }
    return 0;
}

/* Describe the response (status, headers) and choose how its body is
 * sent. Generators call start_response lazily, so for them the first
 * chunk is pulled before the status is read. */
static int
prepare_body(struct hs_wsgi_response *resp, struct resp_priv *p)
{
    uint64_t off, size;
    int fd, r;

    if (PyList_CheckExact(p->result) || PyTuple_CheckExact(p->result)) {
        if (describe(p->sr, resp) < 0) {
            return -1;
        }
        if (no_body_allowed(resp)) {
            return 0;
        }
        return prepare_sequence(resp, p);
    }
    r = hs_filewrapper_sendfile(p->result, &fd, &off, &size);
    if (r < 0) {
        return -1;
    }
    if (r == 1) {
        if (describe(p->sr, resp) < 0) {
            close(fd);
            return -1;
        }
        if (no_body_allowed(resp)) {
            close(fd);
            return 0;
        }
        if (PyList_GET_SIZE(p->sr->written) == 0) {
            resp->kind = HS_RESP_FILE;
            resp->fd = fd;
            resp->offset = off;
            if (resp->content_length < 0
                || (uint64_t)resp->content_length > size) {
                resp->content_length = (int64_t)size;
            }
            return 0;
        }
        close(fd);
    }
    resp->kind = HS_RESP_STREAM;
    p->iter = PyObject_GetIter(p->result);
    if (p->iter == NULL) {
        return -1;
    }
    /* Pull the first chunk now: generators call start_response lazily,
     * and an error before the first byte can still become a 500 page. */
    p->chunk = next_chunk(p);
    p->chunk_off = 0;
    if (p->chunk == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (describe(p->sr, resp) < 0) {
        return -1;
    }
    if (no_body_allowed(resp)) {
        return 0;
    }
    if (p->chunk == NULL && p->iter == NULL && resp->content_length < 0) {
        resp->content_length = 0;   /* empty body, known now */
    }
    return 0;
}

/* The whole body is known and small: copy it, call close() now (the
 * application's part of the request is complete) and drop every Python
 * reference, so hs_wsgi_response_free needs no GIL. */
static void
release_early(struct hs_wsgi_response *resp, struct resp_priv *p)
{
    if (resp->buf_len > 0) {
        p->copy = malloc(resp->buf_len);
        if (p->copy == NULL) {
            return;     /* keep the zero-copy path */
        }
        memcpy(p->copy, resp->buf, resp->buf_len);
        resp->buf = p->copy;
    }
    close_result(p);
    Py_CLEAR(p->chunk);
    Py_CLEAR(p->iter);
    Py_CLEAR(p->keep);
    Py_CLEAR(p->result);
    Py_CLEAR(p->sr);
    p->released = 1;
}

static PyObject *
internal_app(struct hs_wsgi *w)
{
    PyObject *mod;

    if (w->internal_app == NULL) {
        mod = PyImport_ImportModule("hotserve");
        if (mod == NULL) {
            return NULL;
        }
        w->internal_app = PyObject_GetAttrString(mod, "_internal_app");
        Py_DECREF(mod);
    }
    return w->internal_app;
}

int
hs_wsgi_call(struct hs_wsgi *w, struct hs_wsgi_request *req,
             struct hs_wsgi_response *resp)
{
    struct resp_priv *p;
    PyObject *input = NULL, *env = NULL, *app, *exc;
    const char *context = NULL;
    int html = wants_html(req);

    memset(resp, 0, sizeof(*resp));
    resp->fd = -1;
    resp->content_length = -1;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        free(req->body.mem);
        if (req->body.fd >= 0) {
            close(req->body.fd);
        }
        return -ENOMEM;
    }
    resp->priv = p;
    if (w->reloader != NULL) {
        hs_reloader_gate_enter(w->reloader);
    }
    hs_py_enter();
    input = hs_input_new(&req->body);
    p->sr = sr_new();
    if (input == NULL || p->sr == NULL) {
        error_from_pending(resp, p, NULL, html);
        goto done;
    }
    app = w->app->callable;
    if (req->path_len >= 14 && memcmp(req->path, "/__hotserve__/", 14) == 0) {
        /* hotserve's own endpoints answer even while the app is broken. */
        app = internal_app(w);
        if (app == NULL) {
            error_from_pending(resp, p, NULL, html);
            goto done;
        }
    } else {
        exc = w->reloader ? hs_reloader_failure(w->reloader, &context)
                          : NULL;
        if (exc == NULL && app == NULL && w->app->error != NULL) {
            exc = Py_NewRef(w->app->error);
            context = "while importing the application";
        }
        if (exc != NULL) {
            /* Already logged when the import or reload failed. */
            error_response(resp, p, exc, context, html, 0);
            Py_DECREF(exc);
            goto done;
        }
        if (app == NULL) {
            PyErr_SetString(PyExc_RuntimeError,
                            "the application is not loaded");
            error_from_pending(resp, p, NULL, html);
            goto done;
        }
    }
    env = hs_environ_build(req, input, w->file_wrapper);
    if (env == NULL) {
        error_from_pending(resp, p, NULL, html);
        goto done;
    }
    p->result = PyObject_CallFunctionObjArgs(app, env, (PyObject *)p->sr,
                                             NULL);
    if (p->result == NULL) {
        error_from_pending(resp, p, NULL, html);
        goto done;
    }
    if (prepare_body(resp, p) < 0) {
        error_from_pending(resp, p, NULL, html);
        goto done;
    }
    if (resp->kind == HS_RESP_BUFFER && resp->content_length >= 0
        && (size_t)resp->content_length < resp->buf_len) {
        resp->buf_len = (size_t)resp->content_length;
    }
done:
    if (p->sr != NULL) {
        p->sr->headers_sent = 1;
    }
    Py_XDECREF(env);
    Py_XDECREF(input);
    if (resp->kind == HS_RESP_BUFFER && resp->buf_len <= HS_COPY_BODY_MAX) {
        release_early(resp, p);
    }
    hs_py_leave();
    if (w->reloader != NULL) {
        hs_reloader_gate_leave(w->reloader);
    }
    return 0;
}

ssize_t
hs_wsgi_read(struct hs_wsgi_response *resp, char *buf, size_t max)
{
    struct resp_priv *p = resp->priv;
    ssize_t n = 0;

    if (p == NULL || max == 0) {
        return 0;
    }
    hs_py_enter();
    for (;;) {
        if (p->chunk != NULL) {
            Py_ssize_t left = PyBytes_GET_SIZE(p->chunk) - p->chunk_off;
            size_t take = (size_t)left < max ? (size_t)left : max;
            if (resp->content_length >= 0
                && p->sent + (int64_t)take > resp->content_length) {
                take = (size_t)(resp->content_length - p->sent);
            }
            memcpy(buf, PyBytes_AS_STRING(p->chunk) + p->chunk_off, take);
            p->chunk_off += (Py_ssize_t)take;
            p->sent += (int64_t)take;
            n = (ssize_t)take;
            if (p->chunk_off >= PyBytes_GET_SIZE(p->chunk)) {
                Py_CLEAR(p->chunk);
            }
            if (n > 0) {
                break;
            }
        }
        if (resp->content_length >= 0 && p->sent >= resp->content_length) {
            close_result(p);
            break;
        }
        p->chunk = next_chunk(p);
        p->chunk_off = 0;
        if (p->chunk == NULL) {
            if (PyErr_Occurred()) {
                PyObject *exc = hs_err_take();
                const char *ct;
                PyObject *page = hs_errpage_render(
                    exc, "while iterating the response body; the "
                    "response was cut short", 0, 1, &ct);
                Py_XDECREF(page);
                Py_XDECREF(exc);
                n = -1;
            } else if (resp->content_length >= 0
                       && p->sent < resp->content_length) {
                hs_log(HS_LOG_ERROR, "error: the application sent %lld "
                       "bytes but its Content-Length was %lld; the "
                       "response was cut short",
                       (long long)p->sent, (long long)resp->content_length);
                n = -1;
            }
            close_result(p);
            break;
        }
    }
    hs_py_leave();
    return n;
}

void
hs_wsgi_response_free(struct hs_wsgi_response *resp)
{
    struct resp_priv *p = resp->priv;

    if (p != NULL) {
        if (!p->released) {
            hs_py_enter();
            close_result(p);
            Py_CLEAR(p->chunk);
            Py_CLEAR(p->iter);
            Py_CLEAR(p->keep);
            Py_CLEAR(p->result);
            Py_CLEAR(p->sr);
            hs_py_leave();
        }
        free(p->copy);
        free(p);
        resp->priv = NULL;
    }
    free_headers(resp);
    if (resp->fd >= 0) {
        close(resp->fd);
        resp->fd = -1;
    }
}
