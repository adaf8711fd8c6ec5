/* Private to restart.c, restart_conn.c and handoff.c: the restart state
 * and the connection table.
 *
 * Lock order: s->stop_mu and rs->mu are never held together; rs->mu is a
 * leaf for every thread but the main one, which holds it from the last
 * check until execve (a thread blocked on it then simply vanishes with
 * the image). Nobody holds rs->mu while taking the GIL. */
#ifndef HS_RESTART_INT_H
#define HS_RESTART_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server/handoff.h"
#include "server/restart.h"

/* Where a connection is, as far as a restart is concerned. */
enum hs_conn_state {
    HS_CONN_FRESH = 0,      /* accepted, no request line seen yet */
    HS_CONN_BUSY,           /* a request is being read or answered */
    HS_CONN_IDLE,           /* between requests, MHD keeps it alive */
    HS_CONN_CLOSING,        /* between requests, MHD will close it */
    HS_CONN_PARKED,         /* its request waits for the next image */
    HS_CONN_STOLEN,         /* taken from MHD for the next image */
};

struct hs_conn {
    struct hs_conn *prev, *next;
    int fd;                 /* MHD's descriptor number */
    int saved;              /* the real socket while stolen, else -1 */
    enum hs_conn_state state;
    int closed;             /* MHD closed its number while stolen */
    int probe;              /* the restart's own probe connection */
    uint64_t mark;          /* bytes MHD had read when it went idle */
    uint64_t head_since_ns; /* when this connection became ready for a
                               request line (accept, or the end of the
                               previous request) */
    int head_done;          /* that request's headers are complete */
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

/* A request waiting for the next image. */
struct hs_parked {
    struct hs_parked *next;
    struct hs_handoff_req *q;
    struct hs_conn *conn;   /* NULL when parked by a handoff thread */
};

struct hs_hthread {
    struct hs_hthread *next;
    pthread_t tid;
};

struct hs_restart {
    struct hs_server *s;
    pthread_mutex_t mu;     /* everything below up to `threads` */
    pthread_cond_t cv;      /* busy, parked and connection changes */
    struct hs_conn *conns;
    unsigned busy;          /* requests running here (not parked) */
    struct hs_parked *parked;
    size_t nparked;
    int abort;              /* a stop signal ended the drain */
    int probe_fd;           /* the probe's socket as MHD got it, -1 */
    int probe_closed;       /* MHD closed the probe (or there is none) */
    int released;           /* no parking: the restart is off */
    struct hs_hthread *threads;

    /* Under s->stop_mu (pending is also read without it). */
    atomic_int pending;     /* asked for, not yet exec'd or called off */
    int failed;             /* an exec failed: no more restarts */
    char reason[512];
    uint64_t t0_ns;         /* when it was asked for */

    /* Fixed at startup. */
    int restarted;          /* this image came from a restart */
    uint64_t start_ns;      /* see hs_restart_start_ns */
    uint64_t prev_t0_ns;    /* the previous image's t0_ns */
    char prev_reason[512];
    int handoff_fd;         /* HOTSERVE_HANDOFF_FD, -1 */
    char *orig_cwd;         /* before --chdir */
    char exe[4096];         /* what to exec: /proc/self/exe */
};

static inline uint64_t
hs_restart_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* restart_conn.c, for restart.c. All with rs->mu held. */

/* Take every FRESH and IDLE connection away from MHD (its descriptor
 * number now names `dummy`). Returns how many could not be taken because
 * MHD had read bytes of a new request (they were given back). */
size_t
hs_restart_steal_all(struct hs_restart *rs, int dummy);

/* Check that MHD read nothing more from the stolen connections; give
 * back the ones it did. Returns how many were given back. */
size_t
hs_restart_recheck(struct hs_restart *rs);

/* Give every stolen connection back to MHD. */
void
hs_restart_unsteal_all(struct hs_restart *rs);

/* Arrays of what to hand over (borrowed pointers; free the arrays). */
int
hs_restart_collect(struct hs_restart *rs, struct hs_handoff_req ***reqs,
                   size_t *nreq, struct hs_handoff_conn **conns,
                   size_t *nconn);

/* Clear or set close-on-exec on every descriptor to hand over. */
void
hs_restart_inherit(struct hs_restart *rs, int inherit);

/* Connections MHD counts that the table does not know (yet or any
 * longer): an accept racing with the quiesce, a closed connection MHD has
 * not reaped. */
int
hs_restart_untracked(struct hs_restart *rs);

/* Park q (taken) and wait until the image is replaced or the restart is
 * called off; then returns q (the caller runs it here). conn is the MHD
 * connection's entry (NULL: untracked, or handoff set: a thread of
 * handoff.c, counted in busy). Called without rs->mu. */
struct hs_handoff_req *
hs_restart_park(struct hs_restart *rs, struct hs_conn *conn, int handoff,
                struct hs_handoff_req *q);

#endif
