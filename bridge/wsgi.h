/* The WSGI call: plain request description in, plain response description
 * out. No libmicrohttpd here; the server turns the description into an
 * MHD response. */
#ifndef HS_WSGI_H
#define HS_WSGI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hs_app;
struct hs_reloader;

struct hs_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* A request body: in memory or spooled to an unlinked temp file. */
struct hs_body {
    char *mem;          /* malloc'd, NULL when spooled or empty */
    int fd;             /* temp file (read with pread), -1 when in memory */
    size_t len;
};

struct hs_wsgi_request {
    const char *method;                 /* NUL-terminated */
    const char *raw_target;             /* as sent, for RAW_URI */
    size_t raw_target_len;
    const char *path;                   /* percent-decoded bytes */
    size_t path_len;
    const char *query;                  /* raw, "" when none */
    size_t query_len;
    const char *protocol;               /* "HTTP/1.1" */
    const struct hs_header *headers;    /* arrival order, original case */
    size_t nheaders;
    const char *remote_addr;
    unsigned remote_port;
    const char *server_name;
    unsigned server_port;
    struct hs_body body;                /* the bridge takes ownership */
};

enum hs_resp_kind {
    HS_RESP_BUFFER = 0,   /* buf/buf_len, zero-copy from a bytes object */
    HS_RESP_FILE = 1,     /* fd (owned, for MHD to close) at offset */
    HS_RESP_STREAM = 2,   /* pull with hs_wsgi_read */
};

struct hs_wsgi_response {
    int status;                   /* 100..999 */
    struct hs_header *headers;    /* owned by the response */
    size_t nheaders;
    int64_t content_length;       /* -1: unknown (chunked / close) */
    enum hs_resp_kind kind;
    const char *buf;              /* BUFFER */
    size_t buf_len;
    int fd;                       /* FILE: owned; the server hands it to
                                     MHD (which closes it) and sets -1 */
    uint64_t offset;
    void *priv;                   /* bridge state (iterable, refs) */
};

struct hs_wsgi;

/* New dispatcher for app (borrowed). reloader may be NULL (--no-reload).
 * NULL with errno on failure. Thread: main. GIL: held. */
struct hs_wsgi *
hs_wsgi_new(struct hs_app *app, struct hs_reloader *reloader);

/* Free; NULL is fine. Thread: main. GIL: held. */
void
hs_wsgi_free(struct hs_wsgi *w);

/* Run one request: the reload barrier, then the app under the reload
 * lock's read side, start_response, and the first body chunk. Always
 * fills resp (an error page when the app fails, never a half response)
 * and returns 0; -ENOMEM only when even the error page cannot be built.
 * req->body is taken over. Thread: connection. GIL: not held. */
int
hs_wsgi_call(struct hs_wsgi *w, struct hs_wsgi_request *req,
             struct hs_wsgi_response *resp);

/* STREAM responses: copy up to max body bytes into buf. Returns the
 * number of bytes (> 0), 0 at the end of the body, or -1 when iteration
 * raised or the app sent fewer bytes than its Content-Length (logged; the
 * server truncates the response visibly).
 * Thread: connection. GIL: not held. */
ssize_t
hs_wsgi_read(struct hs_wsgi_response *resp, char *buf, size_t max);

/* Release the response: calls the iterable's close() if not done yet
 * (also after a client disconnect), drops every reference.
 * Thread: connection. GIL: not held. */
void
hs_wsgi_response_free(struct hs_wsgi_response *resp);

#endif
