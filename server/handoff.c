/* Handing connections and waiting requests to the next process image,
 * and answering the requests there.
 *
 * File layout (native byte order: the reader is the same binary on the
 * same machine): "HSHANDOFF1\n", u32 number of requests, u32 number of
 * connections; each connection: i32 fd, u32 address length, address;
 * each request: i32 fd, u32 address length, address, strings method,
 * target, version (u32 length + bytes), u32 header count and as many
 * name/value string pairs, u64 start time, i32 body fd (-1: in the file),
 * u64 body length, and the body bytes when they are in the file. */
#include "server/handoff.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bridge/bridge.h"
#include "reload/log.h"
#include "server/accesslog.h"
#include "server/request.h"
#include "server/restart_int.h"
#include "server/server.h"
#include "server/uri.h"

#define MAGIC "HSHANDOFF1\n"
#define MAX_ITEMS 65536u
#define MAX_STRING (16u << 20)

struct hs_handoff_req *
hs_handoff_req_new(int fd, const struct sockaddr *addr, socklen_t addrlen,
                   const char *method, const char *target,
                   const char *version, const struct hs_header *h,
                   size_t nh, struct hs_body *body, uint64_t started_ns)
{
    struct hs_handoff_req *q = calloc(1, sizeof(*q));
    size_t i;

    if (q == NULL) {
        return NULL;
    }
    q->fd = fd;
    q->body.fd = -1;
    if (addr != NULL && addrlen <= sizeof(q->addr)) {
        memcpy(&q->addr, addr, addrlen);
        q->addrlen = addrlen;
    }
    q->method = strdup(method);
    q->target = strdup(target);
    q->version = strdup(version);
    q->headers = calloc(nh ? nh : 1, sizeof(*q->headers));
    if (q->method == NULL || q->target == NULL || q->version == NULL
        || q->headers == NULL) {
        goto fail;
    }
    for (i = 0; i < nh; i++) {
        char *n = strndup(h[i].name, h[i].name_len);
        char *v = strndup(h[i].value, h[i].value_len);
        if (n == NULL || v == NULL) {
            free(n);
            free(v);
            goto fail;
        }
        q->headers[i].name = n;
        q->headers[i].name_len = h[i].name_len;
        q->headers[i].value = v;
        q->headers[i].value_len = h[i].value_len;
        q->nheaders++;
    }
    q->started_ns = started_ns;
    q->body = *body;
    body->mem = NULL;
    body->fd = -1;
    body->len = 0;
    return q;
fail:
    q->fd = -1;
    hs_handoff_req_free(q, 0);
    return NULL;
}

void
hs_handoff_req_free(struct hs_handoff_req *q, int close_fd)
{
    size_t i;

    if (q == NULL) {
        return;
    }
    for (i = 0; q->headers != NULL && i < q->nheaders; i++) {
        free((char *)q->headers[i].name);
        free((char *)q->headers[i].value);
    }
    free(q->headers);
    free(q->method);
    free(q->target);
    free(q->version);
    free(q->body.mem);
    if (q->body.fd >= 0) {
        close(q->body.fd);
    }
    if (close_fd && q->fd >= 0) {
        close(q->fd);
    }
    free(q);
}

/* ---- writing ------------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void
put(struct buf *b, const void *data, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap < b->len + n) {
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void
put_u32(struct buf *b, uint32_t v)
{
    put(b, &v, sizeof(v));
}

static void
put_i32(struct buf *b, int32_t v)
{
    put(b, &v, sizeof(v));
}

static void
put_u64(struct buf *b, uint64_t v)
{
    put(b, &v, sizeof(v));
}

static void
put_str(struct buf *b, const char *s, size_t n)
{
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static void
put_addr(struct buf *b, const struct sockaddr_storage *a, socklen_t n)
{
    put_u32(b, (uint32_t)n);
    put(b, a, n);
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int
hs_handoff_write(struct hs_handoff_req *const *reqs, size_t nreq,
                 const struct hs_handoff_conn *conns, size_t nconn)
{
    struct buf b = {0};
    size_t i, j;
    int fd, rc;

    put(&b, MAGIC, sizeof(MAGIC) - 1);
    put_u32(&b, (uint32_t)nreq);
    put_u32(&b, (uint32_t)nconn);
    for (i = 0; i < nconn; i++) {
        put_i32(&b, conns[i].fd);
        put_addr(&b, &conns[i].addr, conns[i].addrlen);
    }
    for (i = 0; i < nreq; i++) {
        const struct hs_handoff_req *q = reqs[i];
        put_i32(&b, q->fd);
        put_addr(&b, &q->addr, q->addrlen);
        put_str(&b, q->method, strlen(q->method));
        put_str(&b, q->target, strlen(q->target));
        put_str(&b, q->version, strlen(q->version));
        put_u32(&b, (uint32_t)q->nheaders);
        for (j = 0; j < q->nheaders; j++) {
            put_str(&b, q->headers[j].name, q->headers[j].name_len);
            put_str(&b, q->headers[j].value, q->headers[j].value_len);
        }
        put_u64(&b, q->started_ns);
        put_i32(&b, q->body.fd);
        put_u64(&b, q->body.len);
        if (q->body.fd < 0 && q->body.len > 0) {
            put(&b, q->body.mem, q->body.len);
        }
    }
    if (b.oom) {
        free(b.p);
        return -ENOMEM;
    }
    /* Not close-on-exec: the next image reads it. */
    fd = memfd_create("hotserve-handoff", 0);
    if (fd < 0) {
        rc = -errno;
        free(b.p);
        return rc;
    }
    rc = write_all(fd, b.p, b.len);
    free(b.p);
    if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0) {
        rc = -errno;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* ---- reading ------------------------------------------------------------ */

struct rd {
    const char *p;
    size_t left;
    int bad;
};

static void
take(struct rd *r, void *out, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
}

static uint32_t
get_u32(struct rd *r)
{
    uint32_t v;

    take(r, &v, sizeof(v));
    return v;
}

static int32_t
get_i32(struct rd *r)
{
    int32_t v;

    take(r, &v, sizeof(v));
    return v;
}

static uint64_t
get_u64(struct rd *r)
{
    uint64_t v;

    take(r, &v, sizeof(v));
    return v;
}

static char *
get_str(struct rd *r, size_t *len)
{
    uint32_t n = get_u32(r);
    char *s;

    if (r->bad || n > MAX_STRING || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    s = malloc((size_t)n + 1);
    if (s == NULL) {
        r->bad = 1;
        return NULL;
    }
    take(r, s, n);
    s[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return s;
}

static void
get_addr(struct rd *r, struct sockaddr_storage *a, socklen_t *n)
{
    uint32_t len = get_u32(r);

    if (len > sizeof(*a)) {
        r->bad = 1;
        return;
    }
    take(r, a, len);
    *n = (socklen_t)len;
}

static int
valid_fd(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

static struct hs_handoff_req *
get_req(struct rd *r)
{
    struct hs_handoff_req *q = calloc(1, sizeof(*q));
    uint32_t nh, i;

    if (q == NULL) {
        r->bad = 1;
        return NULL;
    }
    q->body.fd = -1;
    q->fd = get_i32(r);
    get_addr(r, &q->addr, &q->addrlen);
    q->method = get_str(r, NULL);
    q->target = get_str(r, NULL);
    q->version = get_str(r, NULL);
    nh = get_u32(r);
    if (r->bad || nh > MAX_ITEMS) {
        goto bad;
    }
    q->headers = calloc(nh ? nh : 1, sizeof(*q->headers));
    if (q->headers == NULL) {
        goto bad;
    }
    for (i = 0; i < nh && !r->bad; i++) {
        q->headers[i].name = get_str(r, &q->headers[i].name_len);
        q->headers[i].value = get_str(r, &q->headers[i].value_len);
        q->nheaders++;
    }
    q->started_ns = get_u64(r);
    q->body.fd = get_i32(r);
    q->body.len = (size_t)get_u64(r);
    if (r->bad) {
        goto bad;
    }
    if (q->body.fd < 0) {
        q->body.fd = -1;
        if (q->body.len > r->left) {
            goto bad;
        }
        if (q->body.len > 0) {
            q->body.mem = malloc(q->body.len);
            if (q->body.mem == NULL) {
                goto bad;
            }
            take(r, q->body.mem, q->body.len);
        }
    }
    if (r->bad || !valid_fd(q->fd) || q->method == NULL
        || q->target == NULL || q->version == NULL
        || (q->body.fd >= 0 && !valid_fd(q->body.fd))) {
        goto bad;
    }
    fcntl(q->fd, F_SETFD, FD_CLOEXEC);
    if (q->body.fd >= 0) {
        fcntl(q->body.fd, F_SETFD, FD_CLOEXEC);
    }
    return q;
bad:
    r->bad = 1;
    q->fd = -1;
    q->body.fd = -1;
    hs_handoff_req_free(q, 0);
    return NULL;
}

int
hs_handoff_read(int fd, struct hs_handoff_req ***reqs, size_t *nreq,
                struct hs_handoff_conn **conns, size_t *nconn)
{
    struct stat st;
    struct rd r = {0};
    char *data = NULL;
    size_t got = 0, i;
    uint32_t nq, nc;
    int rc = -EPROTO;

    *reqs = NULL;
    *conns = NULL;
    *nreq = *nconn = 0;
    if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(MAGIC) + 7) {
        goto out;
    }
    data = malloc((size_t)st.st_size);
    if (data == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, data + got, (size_t)st.st_size - got,
                          (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            goto out;
        }
        got += (size_t)n;
    }
    if (memcmp(data, MAGIC, sizeof(MAGIC) - 1) != 0) {
        goto out;
    }
    r.p = data + sizeof(MAGIC) - 1;
    r.left = got - (sizeof(MAGIC) - 1);
    nq = get_u32(&r);
    nc = get_u32(&r);
    if (r.bad || nq > MAX_ITEMS || nc > MAX_ITEMS) {
        goto out;
    }
    *reqs = calloc(nq + 1, sizeof(**reqs));
    *conns = calloc(nc + 1, sizeof(**conns));
    if (*reqs == NULL || *conns == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < nc && !r.bad; i++) {
        struct hs_handoff_conn *c = &(*conns)[*nconn];
        c->fd = get_i32(&r);
        get_addr(&r, &c->addr, &c->addrlen);
        if (!r.bad && valid_fd(c->fd)) {
            fcntl(c->fd, F_SETFD, FD_CLOEXEC);
            (*nconn)++;
        }
    }
    for (i = 0; i < nq && !r.bad; i++) {
        struct hs_handoff_req *q = get_req(&r);
        if (q != NULL) {
            (*reqs)[(*nreq)++] = q;
        }
    }
    rc = r.bad ? -EPROTO : 0;
out:
    free(data);
    close(fd);
    return rc;
}

/* ---- answering ---------------------------------------------------------- */

static int
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
no_body(int status, const char *method)
{
    return strcmp(method, "HEAD") == 0 || status < 200 || status == 204
           || status == 304;
}

/* Write resp as an HTTP/1.1 response that ends the connection. Returns
 * the body bytes sent, or -1 when the client went away or the body failed
 * half-way (the response is then cut short: the close tells). */
static int64_t
write_response(int fd, const char *method, struct hs_wsgi_response *resp)
{
    char head[16384], date[64], buf[65536];
    const char *reason = MHD_get_reason_phrase_for((unsigned)resp->status);
    int64_t len = resp->content_length, sent = 0;
    size_t n = 0, i;
    time_t t = time(NULL);
    struct tm tm;
    int skip = no_body(resp->status, method);

    if (resp->kind == HS_RESP_BUFFER && len < 0) {
        len = (int64_t)resp->buf_len;
    }
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    n += (size_t)snprintf(head + n, sizeof(head) - n, "HTTP/1.1 %d %s\r\n",
                          resp->status, reason ? reason : "Unknown");
    for (i = 0; i < resp->nheaders && n < sizeof(head); i++) {
        n += (size_t)snprintf(head + n, sizeof(head) - n, "%.*s: %.*s\r\n",
                              (int)resp->headers[i].name_len,
                              resp->headers[i].name,
                              (int)resp->headers[i].value_len,
                              resp->headers[i].value);
    }
    if (n < sizeof(head) && len >= 0 && resp->status >= 200
        && resp->status != 204 && resp->status != 304) {
        n += (size_t)snprintf(head + n, sizeof(head) - n,
                              "Content-Length: %lld\r\n", (long long)len);
    }
    if (n < sizeof(head)) {
        n += (size_t)snprintf(head + n, sizeof(head) - n,
                              "Date: %s\r\nConnection: close\r\n\r\n", date);
    }
    if (n >= sizeof(head) || send_all(fd, head, n) < 0) {
        return -1;
    }
    if (skip) {
        return 0;
    }
    switch (resp->kind) {
    case HS_RESP_BUFFER:
        if (send_all(fd, resp->buf, (size_t)len) < 0) {
            return -1;
        }
        return len;
    case HS_RESP_FILE:
        while (len < 0 || sent < len) {
            size_t want = sizeof(buf);
            ssize_t r;
            if (len >= 0 && (int64_t)want > len - sent) {
                want = (size_t)(len - sent);
            }
            r = pread(resp->fd, buf, want, (off_t)(resp->offset
                                                   + (uint64_t)sent));
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                return len < 0 && r == 0 ? sent : -1;
            }
            if (send_all(fd, buf, (size_t)r) < 0) {
                return -1;
            }
            sent += r;
        }
        return sent;
    case HS_RESP_STREAM:
        for (;;) {
            ssize_t r = hs_wsgi_read(resp, buf, sizeof(buf));
            if (r == 0) {
                return sent;
            }
            if (r < 0 || send_all(fd, buf, (size_t)r) < 0) {
                return -1;
            }
            sent += r;
        }
    }
    return -1;
}

/* Close without a reset: say we are done, then read what the client may
 * still send (for a short while) so no unread data is left behind. */
static void
linger_close(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint64_t end = hs_restart_now_ns() + 2000000000u, now;
    char sink[4096];

    shutdown(fd, SHUT_WR);
    while ((now = hs_restart_now_ns()) < end
           && poll(&p, 1, (int)((end - now) / 1000000u) + 1) > 0) {
        if (recv(fd, sink, sizeof(sink), 0) <= 0) {
            break;
        }
    }
    close(fd);
}

static void
answer(struct hs_server *s, struct hs_handoff_req *q)
{
    struct hs_wsgi_request req;
    struct hs_wsgi_response resp;
    struct hs_request lr;
    struct hs_uri uri;
    char addr[INET6_ADDRSTRLEN] = "";
    unsigned port = 0;
    char *path = NULL;
    int64_t sent = -1;
    int flags = fcntl(q->fd, F_GETFL);

    if (flags >= 0) {
        fcntl(q->fd, F_SETFL, flags & ~O_NONBLOCK);
    }
    if (s->cfg.timeout > 0) {
        struct timeval tv = {.tv_sec = (time_t)s->cfg.timeout};
        setsockopt(q->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (q->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const void *)&q->addr;
        inet_ntop(AF_INET6, &a6->sin6_addr, addr, sizeof(addr));
        port = ntohs(a6->sin6_port);
    } else if (q->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a4 = (const void *)&q->addr;
        inet_ntop(AF_INET, &a4->sin_addr, addr, sizeof(addr));
        port = ntohs(a4->sin_port);
    }
    memset(&resp, 0, sizeof(resp));
    resp.fd = -1;
    memset(&lr, 0, sizeof(lr));
    lr.raw_target = q->target;
    lr.raw_target_len = strlen(q->target);
    lr.started.tv_sec = (time_t)(q->started_ns / 1000000000u);
    lr.started.tv_nsec = (long)(q->started_ns % 1000000000u);
    snprintf(lr.method, sizeof(lr.method), "%s", q->method);
    snprintf(lr.version, sizeof(lr.version), "%s", q->version);
    if (hs_uri_split(q->target, lr.raw_target_len, &uri) < 0
        || (path = malloc(uri.path_len + 1)) == NULL) {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\n"
                                  "Content-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";
        send_all(q->fd, bad, sizeof(bad) - 1);
        lr.status = 400;
        goto done;
    }
    memset(&req, 0, sizeof(req));
    req.method = q->method;
    req.raw_target = q->target;
    req.raw_target_len = lr.raw_target_len;
    req.path = path;
    req.path_len = hs_uri_pct_decode(uri.path, uri.path_len, path);
    req.query = uri.query ? uri.query : "";
    req.query_len = uri.query ? uri.query_len : 0;
    req.protocol = q->version;
    req.headers = q->headers;
    req.nheaders = q->nheaders;
    req.remote_addr = addr;
    req.remote_port = port;
    req.server_name = s->host;
    req.server_port = s->port;
    req.body = q->body;
    q->body.mem = NULL;
    q->body.fd = -1;
    q->body.len = 0;
    hs_wsgi_call(s->wsgi, &req, &resp);
    lr.status = resp.status;
    sent = write_response(q->fd, q->method, &resp);
    lr.bytes = sent > 0 ? (uint64_t)sent : 0;
    hs_wsgi_response_free(&resp);
done:
    free(path);
    if (s->cfg.access_log && !s->cfg.quiet) {
        hs_accesslog_write(&lr, sent < 0 && lr.status != 400);
    }
    linger_close(q->fd);
    q->fd = -1;
}

struct job {
    struct hs_server *s;
    struct hs_handoff_req *q;
};

static void
inflight(struct hs_server *s, int delta)
{
    pthread_mutex_lock(&s->inflight_mu);
    s->inflight += (unsigned)delta;
    if (s->inflight == 0) {
        pthread_cond_broadcast(&s->inflight_cv);
    }
    pthread_mutex_unlock(&s->inflight_mu);
}

static void *
serve_main(void *arg)
{
    struct job *j = arg;
    struct hs_server *s = j->s;
    struct hs_restart *rs = s->restart;
    struct hs_handoff_req *q = j->q;

    free(j);
    /* The barrier, as for any request: yet another restart may be
     * pending, and then this request waits for that image. */
    if (atomic_load(&rs->pending) || hs_bridge_barrier(s->bridge) != 0) {
        q = hs_restart_park(rs, NULL, 1, q);
    }
    answer(s, q);
    hs_handoff_req_free(q, 1);
    pthread_mutex_lock(&rs->mu);
    rs->busy--;
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
    inflight(s, -1);
    return NULL;
}

int
hs_handoff_serve(struct hs_server *s, struct hs_handoff_req *q)
{
    struct hs_restart *rs = s->restart;
    struct hs_hthread *t = calloc(1, sizeof(*t));
    struct job *j = malloc(sizeof(*j));
    int rc;

    if (t == NULL || j == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    j->s = s;
    j->q = q;
    inflight(s, 1);
    pthread_mutex_lock(&rs->mu);
    rs->busy++;
    rc = pthread_create(&t->tid, NULL, serve_main, j);
    if (rc == 0) {
        t->next = rs->threads;
        rs->threads = t;
    } else {
        rs->busy--;
    }
    pthread_mutex_unlock(&rs->mu);
    if (rc == 0) {
        return 0;
    }
    inflight(s, -1);
    rc = -rc;
fail:
    free(t);
    free(j);
    {
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                   "Content-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";
        send_all(q->fd, busy, sizeof(busy) - 1);
    }
    hs_handoff_req_free(q, 1);
    return rc;
}

void
hs_handoff_join(struct hs_server *s)
{
    struct hs_restart *rs = s->restart;
    struct hs_hthread *t;

    for (;;) {
        pthread_mutex_lock(&rs->mu);
        t = rs->threads;
        if (t != NULL) {
            rs->threads = t->next;
        }
        pthread_mutex_unlock(&rs->mu);
        if (t == NULL) {
            return;
        }
        pthread_join(t->tid, NULL);
        free(t);
    }
}
