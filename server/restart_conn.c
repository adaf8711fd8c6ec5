/* The connection table a restart needs: which connections are running a
 * request, which are idle and may be handed to the next image, and the
 * requests parked for it.
 *
 * Taking an idle connection away from MHD without stopping MHD (which
 * would shut the sockets down): keep a duplicate of the socket and make
 * MHD's descriptor number name a dummy socket instead (dup3 is atomic),
 * so MHD's thread can no longer read from the client. Whether MHD had
 * already read bytes of a new request before that is told by the kernel:
 * TCP_INFO's bytes received minus the bytes still queued (FIONREAD) is
 * what the process has read, compared with the same count taken when the
 * connection went idle. If it moved, the connection is given back (MHD
 * is parsing a request that will park itself). */
#include "server/restart_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "reload/log.h"
#include "server/request.h"
#include "server/server.h"

/* Bytes the process has read from the TCP socket fd. 0 or -errno. */
static int
consumed(int fd, uint64_t *out)
{
    struct tcp_info ti;
    socklen_t len;
    uint64_t a;
    int inq, tries;

    for (tries = 0; tries < 8; tries++) {
        memset(&ti, 0, sizeof(ti));
        len = sizeof(ti);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
            return -errno;
        }
        if (len < offsetof(struct tcp_info, tcpi_bytes_received)
                      + sizeof(ti.tcpi_bytes_received)) {
            return -ENOSYS;     /* kernel older than 4.1 */
        }
        a = ti.tcpi_bytes_received;
        if (ioctl(fd, FIONREAD, &inq) < 0) {
            return -errno;
        }
        len = sizeof(ti);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
            return -errno;
        }
        if (ti.tcpi_bytes_received == a) {
            *out = a - (uint64_t)inq;
            return 0;
        }
        /* A segment arrived between the two reads: again. */
    }
    return -EAGAIN;
}

static struct hs_conn *
conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

void
hs_restart_conn_notify(void *cls, struct MHD_Connection *c,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    struct hs_server *s = cls;
    struct hs_restart *rs = s->restart;
    const union MHD_ConnectionInfo *ci;
    struct hs_conn *cn;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        cn = calloc(1, sizeof(*cn));
        if (cn == NULL) {
            return;     /* untracked: it is closed at a restart */
        }
        cn->saved = -1;
        cn->head_since_ns = hs_restart_now_ns();
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        cn->fd = ci != NULL ? ci->connect_fd : -1;
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr != NULL) {
            cn->addrlen = ci->client_addr->sa_family == AF_INET6
                              ? sizeof(struct sockaddr_in6)
                              : sizeof(struct sockaddr_in);
            memcpy(&cn->addr, ci->client_addr, cn->addrlen);
        }
        pthread_mutex_lock(&rs->mu);
        if (cn->fd >= 0 && cn->fd == rs->probe_fd) {
            cn->probe = 1;
            cn->state = HS_CONN_CLOSING;    /* never taken, never busy */
        }
        cn->next = rs->conns;
        if (rs->conns != NULL) {
            rs->conns->prev = cn;
        }
        rs->conns = cn;
        pthread_cond_broadcast(&rs->cv);
        pthread_mutex_unlock(&rs->mu);
        *socket_context = cn;
        return;
    }
    cn = *socket_context;
    if (cn == NULL) {
        return;
    }
    *socket_context = NULL;
    pthread_mutex_lock(&rs->mu);
    if (cn->state == HS_CONN_BUSY) {
        rs->busy--;
    }
    if (cn->probe) {
        rs->probe_closed = 1;
        rs->probe_fd = -1;
    }
    if (cn->state == HS_CONN_STOLEN) {
        /* MHD closed the dummy; the socket itself goes to the next
         * image (or back to nobody if the restart is called off). */
        cn->closed = 1;
    } else {
        if (cn->prev != NULL) {
            cn->prev->next = cn->next;
        } else {
            rs->conns = cn->next;
        }
        if (cn->next != NULL) {
            cn->next->prev = cn->prev;
        }
        free(cn);
    }
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
}

static void
unsteal(struct hs_conn *cn)
{
    if (cn->saved < 0) {
        return;
    }
    if (!cn->closed) {
        dup3(cn->saved, cn->fd, O_CLOEXEC);
    }
    close(cn->saved);
    cn->saved = -1;
}

void
hs_restart_conn_request(struct hs_server *s, struct MHD_Connection *c)
{
    struct hs_restart *rs = s->restart;
    struct hs_conn *cn = conn_of(c);

    if (cn == NULL) {
        return;
    }
    pthread_mutex_lock(&rs->mu);
    if (cn->state == HS_CONN_STOLEN) {
        /* MHD read this request before the socket was taken: give it
         * back, the request parks like any other. */
        unsteal(cn);
    }
    if (cn->state != HS_CONN_BUSY) {
        cn->state = HS_CONN_BUSY;
        rs->busy++;
    }
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
}

/* Will MHD keep the connection open after r? Only a yes is acted on (the
 * connection then moves to the next image), so anything unusual is a
 * no: HTTP/1.1, no "Connection: close" either way, a response the app
 * produced with a length or chunked framing. */
static int
keeps_alive(struct hs_server *s, struct MHD_Connection *c,
            const struct hs_request *r)
{
    const char *conn;
    size_t i;

    if (r == NULL || !r->responded || s->draining
        || strcmp(r->version, "HTTP/1.1") != 0) {
        return 0;
    }
    conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Connection");
    if (conn != NULL && strcasestr(conn, "close") != NULL) {
        return 0;
    }
    for (i = 0; i < r->resp.nheaders; i++) {
        const struct hs_header *h = &r->resp.headers[i];
        if (strcasecmp(h->name, "Connection") == 0
            && strcasestr(h->value, "close") != NULL) {
            return 0;
        }
    }
    if (strcmp(r->method, "HEAD") == 0 && r->resp.kind == HS_RESP_STREAM
        && r->resp.content_length < 0) {
        return 0;       /* may be sent close-delimited (http.c) */
    }
    return 1;
}

void
hs_restart_conn_headers(struct hs_server *s, struct MHD_Connection *c)
{
    struct hs_restart *rs = s->restart;
    struct hs_conn *cn = conn_of(c);

    if (cn == NULL) {
        return;
    }
    pthread_mutex_lock(&rs->mu);
    cn->head_done = 1;
    pthread_mutex_unlock(&rs->mu);
}

int
hs_restart_reap_slow(struct hs_server *s, uint64_t limit_ns)
{
    struct hs_restart *rs = s->restart;
    uint64_t now = hs_restart_now_ns();
    struct hs_conn *cn;
    int n = 0;

    pthread_mutex_lock(&rs->mu);
    for (cn = rs->conns; cn != NULL; cn = cn->next) {
        if (cn->head_done || cn->probe || cn->fd < 0 || cn->saved >= 0
            || (cn->state != HS_CONN_FRESH && cn->state != HS_CONN_BUSY
                && cn->state != HS_CONN_IDLE)
            || now - cn->head_since_ns < limit_ns) {
            continue;
        }
        /* MHD closes its descriptor only after the CLOSED notification,
         * which needs rs->mu: the number is still this socket. Its thread
         * sees end of file and closes the connection. */
        shutdown(cn->fd, SHUT_RDWR);
        cn->head_done = 1;
        n++;
    }
    pthread_mutex_unlock(&rs->mu);
    return n;
}

void
hs_restart_conn_done(struct hs_server *s, struct MHD_Connection *c,
                     const struct hs_request *r, int ok)
{
    struct hs_restart *rs = s->restart;
    struct hs_conn *cn = conn_of(c);
    uint64_t mark = 0;
    int idle;

    if (cn == NULL) {
        return;
    }
    idle = ok && keeps_alive(s, c, r) && consumed(cn->fd, &mark) == 0;
    pthread_mutex_lock(&rs->mu);
    if (cn->state == HS_CONN_BUSY) {
        rs->busy--;
    }
    cn->state = idle ? HS_CONN_IDLE : HS_CONN_CLOSING;
    cn->mark = mark;
    cn->head_since_ns = hs_restart_now_ns();
    cn->head_done = 0;
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
}

/* ---- parking ------------------------------------------------------------ */

static int
is_restart_endpoint(const char *target)
{
    static const char ep[] = "/__hotserve__/restart";
    size_t n = sizeof(ep) - 1;

    return strncmp(target, ep, n) == 0
           && (target[n] == '\0' || target[n] == '?');
}

struct hs_handoff_req *
hs_restart_park(struct hs_restart *rs, struct hs_conn *conn, int handoff,
                struct hs_handoff_req *q)
{
    struct hs_parked *p = malloc(sizeof(*p)), **pp;
    int counted;

    if (p == NULL) {
        return q;
    }
    p->q = q;
    p->conn = conn;
    pthread_mutex_lock(&rs->mu);
    if (rs->released || !atomic_load(&rs->pending)) {
        pthread_mutex_unlock(&rs->mu);
        free(p);
        return q;
    }
    p->next = rs->parked;
    rs->parked = p;
    rs->nparked++;
    counted = handoff || (conn != NULL && conn->state == HS_CONN_BUSY);
    if (counted) {
        rs->busy--;
    }
    if (conn != NULL) {
        conn->state = HS_CONN_PARKED;
    }
    pthread_cond_broadcast(&rs->cv);
    while (!rs->released) {
        pthread_cond_wait(&rs->cv, &rs->mu);
    }
    /* Called off: the request runs here after all. */
    for (pp = &rs->parked; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    rs->nparked--;
    if (counted) {
        rs->busy++;
    }
    if (conn != NULL) {
        conn->state = HS_CONN_BUSY;
    }
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
    free(p);
    return q;
}

int
hs_restart_barrier(struct hs_server *s, struct MHD_Connection *c,
                   struct hs_request *r, const char *method,
                   const char *version, const struct hs_header *h,
                   size_t nh)
{
    struct hs_restart *rs = s->restart;
    const union MHD_ConnectionInfo *ci;
    const struct sockaddr *addr = NULL;
    struct hs_handoff_req *q;
    socklen_t addrlen = 0;
    int fd;

    if (!atomic_load(&rs->pending) && hs_bridge_barrier(s->bridge) == 0) {
        return 0;
    }
    if (is_restart_endpoint(r->raw_target)) {
        return 0;       /* answered here: "already restarting" */
    }
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    fd = ci != NULL ? ci->connect_fd : -1;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL) {
        addr = ci->client_addr;
        addrlen = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    }
    q = hs_handoff_req_new(fd, addr, addrlen, method, r->raw_target,
                           version, h, nh, &r->body,
                           (uint64_t)r->started.tv_sec * 1000000000u
                               + (uint64_t)r->started.tv_nsec);
    if (q == NULL) {
        hs_log(HS_LOG_WARN, "warning: out of memory: %s %s runs before "
               "the restart", method, r->raw_target);
        return 0;
    }
    q = hs_restart_park(rs, conn_of(c), 0, q);
    r->body = q->body;
    q->body.mem = NULL;
    q->body.fd = -1;
    q->body.len = 0;
    hs_handoff_req_free(q, 0);
    return 0;
}

/* ---- stealing ----------------------------------------------------------- */

static int
steal(struct hs_conn *cn, int dummy)
{
    uint64_t now;
    int saved = fcntl(cn->fd, F_DUPFD_CLOEXEC, 3);

    if (saved < 0) {
        return -errno;
    }
    /* From here on MHD's thread reads from and writes to the dummy. */
    if (dup3(dummy, cn->fd, O_CLOEXEC) < 0) {
        int err = errno;
        close(saved);
        return -err;
    }
    cn->saved = saved;
    if (consumed(saved, &now) < 0 || now != cn->mark) {
        unsteal(cn);
        return 1;
    }
    cn->state = HS_CONN_STOLEN;
    return 0;
}

size_t
hs_restart_steal_all(struct hs_restart *rs, int dummy)
{
    struct hs_conn *cn;
    size_t back = 0;
    int rc;

    for (cn = rs->conns; cn != NULL; cn = cn->next) {
        if ((cn->state != HS_CONN_FRESH && cn->state != HS_CONN_IDLE)
            || cn->fd < 0) {
            continue;
        }
        rc = steal(cn, dummy);
        if (rc > 0) {
            back++;
        } else if (rc < 0) {
            /* Left to MHD: closed with the image, like before. */
            cn->state = HS_CONN_CLOSING;
        }
    }
    return back;
}

size_t
hs_restart_recheck(struct hs_restart *rs)
{
    struct hs_conn *cn;
    uint64_t now;
    size_t back = 0;

    for (cn = rs->conns; cn != NULL; cn = cn->next) {
        if (cn->state == HS_CONN_STOLEN && !cn->closed
            && (consumed(cn->saved, &now) < 0 || now != cn->mark)) {
            unsteal(cn);
            cn->state = HS_CONN_IDLE;
            back++;
        }
    }
    return back;
}

void
hs_restart_unsteal_all(struct hs_restart *rs)
{
    struct hs_conn *cn, *next;

    for (cn = rs->conns; cn != NULL; cn = next) {
        next = cn->next;
        if (cn->state != HS_CONN_STOLEN) {
            continue;
        }
        unsteal(cn);
        cn->state = HS_CONN_IDLE;
        if (cn->closed) {
            if (cn->prev != NULL) {
                cn->prev->next = cn->next;
            } else {
                rs->conns = cn->next;
            }
            if (cn->next != NULL) {
                cn->next->prev = cn->prev;
            }
            free(cn);
        }
    }
}

int
hs_restart_collect(struct hs_restart *rs, struct hs_handoff_req ***reqs,
                   size_t *nreq, struct hs_handoff_conn **conns,
                   size_t *nconn)
{
    struct hs_conn *cn;
    struct hs_parked *p;
    size_t n = 0;

    for (cn = rs->conns; cn != NULL; cn = cn->next) {
        n += cn->state == HS_CONN_STOLEN;
    }
    *reqs = calloc(rs->nparked + 1, sizeof(**reqs));
    *conns = calloc(n + 1, sizeof(**conns));
    if (*reqs == NULL || *conns == NULL) {
        free(*reqs);
        free(*conns);
        return -ENOMEM;
    }
    *nreq = 0;
    for (p = rs->parked; p != NULL; p = p->next) {
        (*reqs)[(*nreq)++] = p->q;
    }
    *nconn = 0;
    for (cn = rs->conns; cn != NULL; cn = cn->next) {
        if (cn->state == HS_CONN_STOLEN) {
            struct hs_handoff_conn *hc = &(*conns)[(*nconn)++];
            hc->fd = cn->saved;
            hc->addr = cn->addr;
            hc->addrlen = cn->addrlen;
        }
    }
    return 0;
}

void
hs_restart_inherit(struct hs_restart *rs, int inherit)
{
    struct hs_conn *cn;
    struct hs_parked *p;
    int flags = inherit ? 0 : FD_CLOEXEC;

    for (cn = rs->conns; cn != NULL; cn = cn->next) {
        if (cn->state == HS_CONN_STOLEN) {
            fcntl(cn->saved, F_SETFD, flags);
        }
    }
    for (p = rs->parked; p != NULL; p = p->next) {
        fcntl(p->q->fd, F_SETFD, flags);
        if (p->q->body.fd >= 0) {
            fcntl(p->q->body.fd, F_SETFD, flags);
        }
    }
}

int
hs_restart_untracked(struct hs_restart *rs)
{
    const union MHD_DaemonInfo *di;
    struct hs_conn *cn;
    unsigned n = 0;

    if (rs->s->daemon == NULL) {
        return 0;
    }
    di = MHD_get_daemon_info(rs->s->daemon,
                             MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    if (di == NULL) {
        return 0;
    }
    for (cn = rs->conns; cn != NULL; cn = cn->next) {
        n += !cn->closed;
    }
    return di->num_connections > n;
}
