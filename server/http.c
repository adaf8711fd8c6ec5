/* libmicrohttpd in thread-per-connection mode: every callback of a request
 * runs on its connection's thread (cstack.md 1.1), so the app may block. */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bridge/wsgi.h"
#include "reload/log.h"
#include "server/accesslog.h"
#include "server/request.h"
#include "server/restart.h"
#include "server/server.h"
#include "server/uri.h"

#define HS_MAX_HEADERS 1024

static int
is_token(const char *s, size_t n);
/* How much of a streamed body a HEAD request runs to learn its length. */
#define HS_HEAD_DRAIN_MAX (64u * 1024 * 1024)

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    size_t n;

    (void)cls;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        buf[--n] = '\0';
    }
    /* Client aborts are routine in development (browser reloads). */
    hs_log(HS_LOG_DEBUG, "http: %s", buf);
}

static size_t
no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    /* Keep MHD from decoding (and truncating at %00); hotserve decodes
     * the raw target itself. */
    return strlen(s);
}

static void *
uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct hs_request *r;

    hs_restart_conn_request(cls, c);    /* the connection is busy */
    r = hs_request_new(uri, strlen(uri));
    if (r != NULL) {
        r->raw_ptr = uri;
    }
    return r;
}

/* MHD 0.9.75 parses the request line in place, turning the single spaces
 * into NULs: method, target and version are consecutive C strings in its
 * buffer. Anything else means a NUL byte (or extra spaces) inside the
 * line, which MHD would silently truncate ("GET\0PROXY" read as "GET"). */
static int
request_line_intact(const struct hs_request *r, const char *url,
                    const char *method, const char *version)
{
    size_t mlen = strlen(method);

    return is_token(method, mlen) && url == method + mlen + 1
           && url == r->raw_ptr
           && version == r->raw_ptr + r->raw_target_len + 1;
}

static void
inflight_add(struct hs_server *s, int delta)
{
    pthread_mutex_lock(&s->inflight_mu);
    s->inflight += (unsigned)delta;
    if (s->inflight == 0) {
        pthread_cond_broadcast(&s->inflight_cv);
    }
    pthread_mutex_unlock(&s->inflight_mu);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct hs_server *s = cls;
    struct hs_request *r = *con_cls;

    /* Idle again: a restart may hand the connection to the next image. */
    hs_restart_conn_done(s, c, r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (r == NULL) {
        return;
    }
    if (r->status != 0 && s->cfg.access_log && !s->cfg.quiet) {
        hs_accesslog_write(r, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    }
    if (r->counted) {
        inflight_add(s, -1);
    }
    hs_request_free(r);
    *con_cls = NULL;
}

/* A short error response of the server's own (not the app's). */
static enum MHD_Result
reply(struct MHD_Connection *c, struct hs_request *r, unsigned status,
      const char *text, int close_conn)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char body[256];
    int n = snprintf(body, sizeof(body), "%u %s\n", status, text);

    resp = MHD_create_response_from_buffer((size_t)n, body,
                                           MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            "text/plain; charset=utf-8");
    if (close_conn) {
        MHD_add_response_header(resp, "Connection", "close");
    }
    r->status = (int)status;
    r->bytes = (uint64_t)n;
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

struct collect {
    struct hs_header *h;
    size_t n;
    size_t cap;
    int bad;            /* a header line that RFC 9110 forbids */
    int has_cl;
    int has_te;
    int hosts;
    int te_chunked_only;
    int cl_bad;
};

static int
is_token(const char *s, size_t n)
{
    size_t i;

    if (n == 0) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9')
              || strchr("!#$%&'*+-.^_`|~", ch) != NULL) || ch == 0) {
            return 0;
        }
    }
    return 1;
}

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
               size_t key_size, const char *value, size_t value_size)
{
    struct collect *col = cls;
    size_t i;

    (void)kind;
    if (value == NULL) {
        value = "";
        value_size = 0;
    }
    /* RFC 9110 5.5: leading and trailing whitespace is not part of the
     * field value (MHD strips only the leading part). */
    while (value_size > 0
           && (value[value_size - 1] == ' ' || value[value_size - 1] == '\t')) {
        value_size--;
    }
    while (value_size > 0 && (value[0] == ' ' || value[0] == '\t')) {
        value++;
        value_size--;
    }
    if (!is_token(key, key_size)) {
        col->bad = 1;
    }
    for (i = 0; i < value_size; i++) {
        unsigned char ch = (unsigned char)value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            col->bad = 1;   /* CTL in a field value (RFC 9110 5.5) */
        }
    }
    if (strcasecmp(key, "content-length") == 0) {
        const char *p = value;
        if (col->has_cl || value_size == 0) {
            col->cl_bad = 1;    /* repeated or list form: smuggling risk */
        }
        for (; *p; p++) {
            if (*p < '0' || *p > '9') {
                col->cl_bad = 1;
            }
        }
        col->has_cl = 1;
    } else if (strcasecmp(key, "host") == 0) {
        col->hosts++;
    } else if (strcasecmp(key, "transfer-encoding") == 0) {
        col->te_chunked_only = !col->has_te
                               && strcasecmp(value, "chunked") == 0;
        col->has_te = 1;
    }
    if (col->n >= col->cap) {
        col->bad = 2;
        return MHD_NO;
    }
    col->h[col->n].name = key;
    col->h[col->n].name_len = key_size;
    col->h[col->n].value = value;
    col->h[col->n].value_len = value_size;
    col->n++;
    return MHD_YES;
}

static ssize_t
body_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct hs_request *r = cls;
    ssize_t n;

    (void)pos;
    n = hs_wsgi_read(&r->resp, buf, max);
    if (n > 0) {
        r->bytes += (uint64_t)n;
        return n;
    }
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM
                  : MHD_CONTENT_READER_END_WITH_ERROR;
}

static struct MHD_Response *
make_response(struct hs_request *r, int is_head)
{
    struct hs_wsgi_response *w = &r->resp;
    struct MHD_Response *resp = NULL;
    uint64_t size = w->content_length < 0 ? MHD_SIZE_UNKNOWN
                                          : (uint64_t)w->content_length;

    if (is_head && w->kind == HS_RESP_STREAM && w->content_length < 0) {
        /* MHD 0.9.75 writes the final "0" chunk of a chunked response even
         * for HEAD, corrupting the next response on the connection. Run
         * the body as a GET would (gunicorn does the same) to learn its
         * length; the reader is never called for HEAD. A body too long to
         * measure gets an HTTP/1.0-style close-delimited head instead. */
        char buf[16384];
        uint64_t total = 0;
        ssize_t n;

        while (total < HS_HEAD_DRAIN_MAX
               && (n = hs_wsgi_read(w, buf, sizeof(buf))) > 0) {
            total += (uint64_t)n;
        }
        if (total < HS_HEAD_DRAIN_MAX) {
            return MHD_create_response_from_callback(total, 1024,
                                                     body_reader, r, NULL);
        }
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024,
                                                 body_reader, r, NULL);
        if (resp != NULL
            && MHD_set_response_options(resp, MHD_RF_HTTP_1_0_SERVER,
                                        MHD_RO_END) != MHD_YES) {
            MHD_destroy_response(resp);
            resp = NULL;
        }
        return resp;
    }
    switch (w->kind) {
    case HS_RESP_BUFFER:
        resp = MHD_create_response_from_buffer(w->buf_len, (void *)w->buf,
                                               MHD_RESPMEM_PERSISTENT);
        r->bytes = w->buf_len;
        break;
    case HS_RESP_FILE:
        resp = MHD_create_response_from_fd_at_offset64(size, w->fd,
                                                       w->offset);
        if (resp != NULL) {
            w->fd = -1;     /* MHD closes it */
            r->bytes = size;
        }
        break;
    case HS_RESP_STREAM:
        resp = MHD_create_response_from_callback(size, 64 * 1024,
                                                 body_reader, r, NULL);
        break;
    }
    return resp;
}

static enum MHD_Result
dispatch(struct hs_server *s, struct MHD_Connection *c,
         struct hs_request *r, const char *method, const char *version,
         struct collect *col, const struct hs_uri *uri)
{
    const union MHD_ConnectionInfo *ci;
    struct hs_wsgi_request req;
    struct MHD_Response *resp;
    char addr[INET6_ADDRSTRLEN] = "";
    unsigned port = 0;
    size_t i;
    enum MHD_Result ret;
    char *path;

    /* The change barrier. When a restart is pending the request is handed
     * to the next process image: the call returns only if that restart is
     * called off. */
    hs_restart_barrier(s, c, r, method, version, col->h, col->n);
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL) {
        if (ci->client_addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *a6 =
                (const struct sockaddr_in6 *)(const void *)ci->client_addr;
            inet_ntop(AF_INET6, &a6->sin6_addr, addr, sizeof(addr));
            port = ntohs(a6->sin6_port);
        } else {
            const struct sockaddr_in *a4 =
                (const struct sockaddr_in *)(const void *)ci->client_addr;
            inet_ntop(AF_INET, &a4->sin_addr, addr, sizeof(addr));
            port = ntohs(a4->sin_port);
        }
    }
    path = malloc(uri->path_len + 1);
    if (path == NULL) {
        return reply(c, r, 500, "Internal Server Error", 1);
    }
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.raw_target = r->raw_target;
    req.raw_target_len = r->raw_target_len;
    req.path = path;
    req.path_len = hs_uri_pct_decode(uri->path, uri->path_len, path);
    req.query = uri->query ? uri->query : "";
    req.query_len = uri->query ? uri->query_len : 0;
    req.protocol = version;
    req.headers = col->h;
    req.nheaders = col->n;
    req.remote_addr = addr;
    req.remote_port = port;
    req.server_name = s->host;
    req.server_port = s->port;
    req.body = r->body;
    r->body.mem = NULL;
    r->body.fd = -1;
    r->body.len = 0;
    hs_wsgi_call(s->wsgi, &req, &r->resp);
    free(path);
    r->responded = 1;
    resp = make_response(r, strcmp(method, "HEAD") == 0);
    for (i = 0; resp != NULL && i < r->resp.nheaders; i++) {
        const struct hs_header *h = &r->resp.headers[i];
        if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES) {
            hs_log(HS_LOG_ERROR, "error: libmicrohttpd refused the "
                   "response header '%s: %s' of %s %s; sending 500",
                   h->name, h->value, method, r->raw_target);
            MHD_destroy_response(resp);
            return reply(c, r, 500, "Internal Server Error (invalid "
                         "response header, see the server log)", 0);
        }
    }
    if (resp == NULL) {
        return reply(c, r, 500, "Internal Server Error", 1);
    }
    if (s->draining) {
        MHD_add_response_header(resp, "Connection", "close");
    }
    r->status = r->resp.status;
    ret = MHD_queue_response(c, (unsigned)r->resp.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload_data,
        size_t *upload_data_size, void **con_cls)
{
    struct hs_server *s = cls;
    struct hs_request *r = *con_cls;
    struct hs_header headers[64];
    struct collect col;
    struct hs_uri uri;
    enum MHD_Result ret;

    if (r == NULL) {
        return MHD_NO;      /* out of memory in the URI logger */
    }
    memset(&col, 0, sizeof(col));
    if (!r->counted) {
        /* First call: headers are in. Validate before any body is read,
         * so a refusal needs no 100 Continue and discards the body. */
        r->counted = 1;
        r->max_body = s->cfg.max_body_size;
        inflight_add(s, 1);
        hs_restart_conn_headers(s, c);
        col.h = headers;
        col.cap = sizeof(headers) / sizeof(headers[0]);
        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->version, sizeof(r->version), "%s", version);
        MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_header,
                                    &col);
        if (!request_line_intact(r, url, method, version)) {
            return reply(c, r, 400, "Bad Request (invalid request line)", 1);
        }
        if (hs_uri_split(r->raw_target, r->raw_target_len, &uri) < 0
            || (uri.is_asterisk && strcmp(method, "OPTIONS") != 0)) {
            return reply(c, r, 400, "Bad Request (invalid request target)",
                         1);
        }
        if (col.bad == 2 && s->cfg.max_header_size > 0) {
            col.bad = 0;    /* more than fit here: checked again below */
        }
        if (col.bad == 1) {
            return reply(c, r, 400, "Bad Request (invalid header field)",
                         1);
        }
        if (strcmp(version, "HTTP/1.1") == 0 ? col.hosts != 1
                                             : col.hosts > 1) {
            /* RFC 9112 3.2: exactly one Host in HTTP/1.1. MHD's own check
             * (strict mode) writes its 400 twice in 0.9.75, so it is done
             * here instead. */
            return reply(c, r, 400, col.hosts ? "Bad Request (more than "
                         "one Host header)" : "Bad Request (HTTP/1.1 "
                         "request without a Host header)", 1);
        }
        if (col.has_te && strcmp(version, "HTTP/1.1") != 0) {
            /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty
             * framing. */
            return reply(c, r, 400, "Bad Request (Transfer-Encoding in an "
                         "HTTP/1.0 request)", 1);
        }
        if (col.has_te && (col.has_cl || !col.te_chunked_only)) {
            /* RFC 9112 6.1: both framings at once is an attack, and an
             * unknown coding cannot be read. */
            return reply(c, r, col.has_cl ? 400 : 501,
                         col.has_cl ? "Bad Request (Content-Length with "
                                      "Transfer-Encoding)"
                                    : "Not Implemented (transfer coding)",
                         1);
        }
        if (col.cl_bad) {
            return reply(c, r, 400, "Bad Request (invalid Content-Length)",
                         1);
        }
        if (col.has_cl) {
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                         "Content-Length");
            if (cl != NULL && strtoull(cl, NULL, 10) > r->max_body) {
                return reply(c, r, 413, "Content Too Large", 1);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        int rc = hs_request_append(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (rc < 0) {
            hs_log(HS_LOG_ERROR, "error: cannot spool the request body: "
                   "%s", strerror(-rc));
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (r->too_large) {
        return reply(c, r, 413, "Content Too Large", 1);
    }
    col.h = malloc(HS_MAX_HEADERS * sizeof(*col.h));
    if (col.h == NULL) {
        return MHD_NO;
    }
    col.cap = HS_MAX_HEADERS;
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_header, &col);
    if (col.bad == 2) {
        free(col.h);
        return reply(c, r, 431, "Request Header Fields Too Large (too "
                     "many header lines)", 1);
    }
    hs_uri_split(r->raw_target, r->raw_target_len, &uri);
    ret = dispatch(s, c, r, method, version, &col, &uri);
    free(col.h);
    return ret;
}

int
hs_http_start(struct hs_server *s)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION
                     | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO
                     | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, NULL},
        {MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_logger, s},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)hs_restart_conn_notify, s},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)no_unescape, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)s->cfg.max_connections,
         NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->cfg.timeout, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
         (intptr_t)s->cfg.max_header_size, NULL},
        {MHD_OPTION_STRICT_FOR_CLIENT, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };

    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handler, s,
                                 MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    return s->daemon != NULL ? 0 : -EIO;
}

int
hs_http_stop(struct hs_server *s, unsigned timeout_s)
{
    struct timespec deadline;
    int fd = -1, timed_out = 0;

    if (s->daemon == NULL) {
        return -1;
    }
    s->draining = 1;
    fd = MHD_quiesce_daemon(s->daemon);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_s;
    pthread_mutex_lock(&s->inflight_mu);
    while (s->inflight > 0) {
        if (pthread_cond_timedwait(&s->inflight_cv, &s->inflight_mu,
                                   &deadline) == ETIMEDOUT) {
            hs_log(HS_LOG_WARN, "warning: %u request(s) still running "
                   "after %u s (--shutdown-timeout); exiting without "
                   "waiting for them", s->inflight, timeout_s);
            timed_out = 1;
            break;
        }
    }
    pthread_mutex_unlock(&s->inflight_mu);
    if (timed_out) {
        /* A view that does not return cannot be interrupted: joining its
         * thread would wait forever, which is what the bound is for. */
        return -ETIMEDOUT;
    }
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    return fd;
}
