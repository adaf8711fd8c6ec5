/* Full restart: quiesce -> drain -> hand over -> execve.
 *
 * The sequence (main thread, GIL never held while MHD is touched):
 *  1. MHD_quiesce_daemon: MHD stops accepting; the listening socket stays
 *     open (a quiesced daemon never closes it), so connections that
 *     arrive from now on wait in its backlog for the next image.
 *  2. Drain: wait until no request is running here (--shutdown-timeout;
 *     past it, the requests still running are cut off by the exec).
 *     Requests that reach the barrier meanwhile park (restart_conn.c).
 *  3. Flush Python's stdout/stderr and drop the bytecode of files that
 *     changed (hs_bridge_before_exec).
 *  4. Take the idle connections away from MHD (restart_conn.c) and write
 *     the handoff file: idle sockets and parked requests (handoff.c).
 *  5. Clear close-on-exec on the listening socket, the handed-over
 *     descriptors and the handoff file, go back to the directory we
 *     started in (--chdir is applied again), ignore SIGHUP during the
 *     gap (a second one would otherwise kill the process), empty the
 *     signal mask (execve keeps the caller's), and execve the same
 *     binary (/proc/self/exe) with the saved argv and an environment
 *     naming the fds and the restart's start time and reason.
 *
 * Python is not finalized before the exec. Py_FinalizeEx would wait for
 * the app's non-daemon threads (threading._shutdown), which can take
 * forever, and it would have to run while connection threads hold thread
 * states (parked requests, requests cut off at the deadline). The exec
 * replaces the whole image, so nothing leaks: the kernel frees the
 * memory, and every descriptor Python, libuv, MHD and inotify opened is
 * close-on-exec (PEP 446 for Python's). What is lost is what finalizing
 * would have run: atexit handlers and __del__ methods, exactly as with
 * os.execv() in Python. Buffered output is flushed (step 3). A clean
 * stop (SIGINT/SIGTERM) still finalizes.
 *
 * The MHD daemon is not stopped either: MHD_stop_daemon shuts down every
 * connection's socket, including the parked and stolen ones that the
 * next image answers. The exec ends its threads.
 *
 * If execve fails (the binary was deleted or replaced by something that
 * cannot run), everything is given back, parked requests run here with
 * in-process reloading, the daemon is restarted on the same socket, and
 * no further restart is attempted. HOTSERVE_RESTART_EXE names another
 * binary to exec instead of /proc/self/exe (for tests of that path). */
#include "server/restart_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "reload/log.h"
#include "server/http.h"
#include "server/server.h"

extern char **environ;

#define ENV_LISTEN "HOTSERVE_LISTEN_FD"
#define ENV_HANDOFF "HOTSERVE_HANDOFF_FD"
#define ENV_T0 "HOTSERVE_RESTART_T0"
#define ENV_EXEC "HOTSERVE_RESTART_EXEC"
#define ENV_REASON "HOTSERVE_RESTART_REASON"

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

struct hs_restart *
hs_restart_new(struct hs_server *s)
{
    struct hs_restart *rs = calloc(1, sizeof(*rs));
    const char *v;
    uint64_t n;

    if (rs == NULL) {
        return NULL;
    }
    rs->s = s;
    rs->handoff_fd = -1;
    rs->probe_fd = -1;
    pthread_mutex_init(&rs->mu, NULL);
    pthread_cond_init(&rs->cv, NULL);
    atomic_init(&rs->pending, 0);
    rs->start_ns = hs_restart_now_ns();
    rs->orig_cwd = getcwd(NULL, 0);
    v = getenv("HOTSERVE_RESTART_EXE");
    snprintf(rs->exe, sizeof(rs->exe), "%s",
             v != NULL && v[0] != '\0' ? v : "/proc/self/exe");
    /* What the previous image left us. No other thread exists yet, so
     * changing the environment is safe. */
    if (parse_u64(getenv(ENV_T0), &n) == 0) {
        rs->restarted = 1;
        rs->prev_t0_ns = n;
        if (parse_u64(getenv(ENV_EXEC), &n) == 0) {
            rs->start_ns = n;
        }
        v = getenv(ENV_REASON);
        snprintf(rs->prev_reason, sizeof(rs->prev_reason), "%s",
                 v != NULL ? v : "");
    }
    if (parse_u64(getenv(ENV_HANDOFF), &n) == 0 && n < 65536) {
        rs->handoff_fd = (int)n;
        fcntl(rs->handoff_fd, F_SETFD, FD_CLOEXEC);
    }
    unsetenv(ENV_T0);
    unsetenv(ENV_EXEC);
    unsetenv(ENV_REASON);
    unsetenv(ENV_HANDOFF);
    return rs;
}

void
hs_restart_free(struct hs_restart *rs)
{
    struct hs_conn *cn, *next;

    if (rs == NULL) {
        return;
    }
    hs_handoff_join(rs->s);
    for (cn = rs->conns; cn != NULL; cn = next) {
        next = cn->next;
        if (cn->saved >= 0) {
            close(cn->saved);
        }
        free(cn);
    }
    if (rs->handoff_fd >= 0) {
        close(rs->handoff_fd);
    }
    pthread_mutex_destroy(&rs->mu);
    pthread_cond_destroy(&rs->cv);
    free(rs->orig_cwd);
    free(rs);
}

uint64_t
hs_restart_start_ns(const struct hs_restart *rs)
{
    return rs->start_ns;
}

int
hs_restart_is_restarted(const struct hs_restart *rs)
{
    return rs->restarted;
}

int
hs_restart_request(struct hs_server *s, const char *reason)
{
    struct hs_restart *rs = s->restart;
    int failed;

    pthread_mutex_lock(&s->stop_mu);
    if (s->stop_signal != 0 || rs->failed) {
        failed = rs->failed;
        pthread_mutex_unlock(&s->stop_mu);
        if (failed) {
            hs_log(HS_LOG_WARN, "not restarting (%s): an earlier restart "
                   "failed; changes are applied in-process", reason);
        }
        return 0;
    }
    if (atomic_load(&rs->pending)) {
        pthread_mutex_unlock(&s->stop_mu);
        return 1;
    }
    snprintf(rs->reason, sizeof(rs->reason), "%s", reason);
    rs->t0_ns = hs_restart_now_ns();
    atomic_store(&rs->pending, 1);
    /* Logged before main is woken: the exec may follow at once. */
    hs_log(HS_LOG_INFO, "restarting: %s \xe2\x80\xa6", reason);
    s->restart_wanted = 1;
    pthread_cond_broadcast(&s->stop_cv);
    pthread_mutex_unlock(&s->stop_mu);
    return 1;
}

/* The restart will not happen: parked requests run here. rs->mu held. */
static void
release_locked(struct hs_restart *rs)
{
    rs->released = 1;
    atomic_store(&rs->pending, 0);
    pthread_cond_broadcast(&rs->cv);
}

void
hs_restart_abort(struct hs_server *s)
{
    struct hs_restart *rs = s->restart;

    if (rs == NULL) {
        return;
    }
    /* Restart requests are refused from now on (stop_signal is set or
     * the server is failing): parked requests may run here. */
    hs_bridge_restart_cancelled(s->bridge);
    pthread_mutex_lock(&rs->mu);
    rs->abort = 1;
    release_locked(rs);
    pthread_mutex_unlock(&rs->mu);
}

/* ---- the exec ----------------------------------------------------------- */

static int
is_ours(const char *var)
{
    static const char *const names[] = {ENV_LISTEN, ENV_HANDOFF, ENV_T0,
                                        ENV_EXEC, ENV_REASON, NULL};
    size_t i, n;

    for (i = 0; names[i] != NULL; i++) {
        n = strlen(names[i]);
        if (strncmp(var, names[i], n) == 0 && var[n] == '=') {
            return 1;
        }
    }
    return 0;
}

/* environ minus our variables plus the new values; the strings of ours
 * are in `own` (5 slots) to be freed on failure. */
static char **
make_env(struct hs_restart *rs, int listen_fd, int handoff_fd, char **own)
{
    size_t n = 0, i, k = 0;
    char **env;

    while (environ[n] != NULL) {
        n++;
    }
    env = calloc(n + 6, sizeof(*env));
    if (env == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (!is_ours(environ[i])) {
            env[k++] = environ[i];
        }
    }
    if (asprintf(&own[0], ENV_LISTEN "=%d", listen_fd) < 0) {
        own[0] = NULL;
    }
    if (asprintf(&own[1], ENV_T0 "=%" PRIu64, rs->t0_ns) < 0) {
        own[1] = NULL;
    }
    if (asprintf(&own[2], ENV_EXEC "=%" PRIu64, hs_restart_now_ns()) < 0) {
        own[2] = NULL;
    }
    if (asprintf(&own[3], ENV_REASON "=%s", rs->reason) < 0) {
        own[3] = NULL;
    }
    own[4] = NULL;
    if (handoff_fd >= 0
        && asprintf(&own[4], ENV_HANDOFF "=%d", handoff_fd) < 0) {
        own[4] = NULL;
    }
    for (i = 0; i < 5; i++) {
        if (own[i] != NULL) {
            env[k++] = own[i];
        } else if (i < 4) {
            free(env);
            return NULL;
        }
    }
    env[k] = NULL;
    return env;
}

static int
past(const struct timespec *deadline)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec
           || (now.tv_sec == deadline->tv_sec
               && now.tv_nsec >= deadline->tv_nsec);
}

/* A short wait (ms) for MHD: to finish reading a request it started on
 * a connection we tried to take, or to reap one. rs->mu held. */
static void
settle(struct hs_restart *rs, const struct timespec *deadline, long ms)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_nsec += ms * 1000 * 1000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    if (t.tv_sec > deadline->tv_sec
        || (t.tv_sec == deadline->tv_sec && t.tv_nsec > deadline->tv_nsec)) {
        t = *deadline;
    }
    pthread_cond_clockwait(&rs->cv, &rs->mu, CLOCK_MONOTONIC, &t);
}

/* Wait until nothing runs here and MHD has told us about every
 * connection it accepted, or the deadline. rs->mu held. 0, or -EINTR
 * when a stop signal arrived.
 *
 * "Every connection it accepted": MHD's listening thread may be between
 * accept4() and our STARTED callback when the daemon is quiesced, and
 * that socket would be closed by the exec. The probe (see
 * hs_restart_run) settles it: MHD reaps a closed connection in its
 * listening thread after the accepts of the same loop iteration, and our
 * table never holds a connection MHD does not count. So once the probe
 * is closed and MHD counts exactly what the table holds, the probe has
 * been reaped, the iteration that was running at the quiesce is over,
 * and the ones after it do not accept. */
static int
drain(struct hs_restart *rs, const struct timespec *deadline, int *warned)
{
    while (!rs->abort && !past(deadline)) {
        if (rs->busy > 0 || !rs->probe_closed) {
            pthread_cond_clockwait(&rs->cv, &rs->mu, CLOCK_MONOTONIC,
                                   deadline);
        } else if (hs_restart_untracked(rs)) {
            /* MHD counts a connection we have not heard of: accepted
             * right at the quiesce, or closed and not yet reaped by MHD
             * (no callback tells when): look again shortly. */
            settle(rs, deadline, 2);
        } else {
            break;
        }
    }
    if (rs->abort) {
        return -EINTR;
    }
    if (rs->busy > 0 && !*warned) {
        hs_log(HS_LOG_WARN, "warning: %u request(s) still running after "
               "%u s (--shutdown-timeout): the restart cuts them off",
               rs->busy, rs->s->cfg.shutdown_timeout);
        *warned = 1;
    }
    return 0;
}

/* Everything after the drain, rs->mu held. Returns only on failure: a
 * negative errno (-EINTR: stopping), with nothing handed over. */
static int
hand_over_and_exec(struct hs_restart *rs, const struct timespec *deadline,
                   int dummy[2])
{
    struct hs_server *s = rs->s;
    struct hs_handoff_req **reqs = NULL;
    struct hs_handoff_conn *conns = NULL;
    size_t nreq = 0, nconn = 0, i;
    struct sigaction ign, old_hup;
    sigset_t none, old_mask;
    char *own[5] = {NULL, NULL, NULL, NULL, NULL};
    char **env = NULL;
    int warned = 0, hfd = -1, rc, err;

    for (;;) {
        size_t back;

        rc = drain(rs, deadline, &warned);
        if (rc < 0) {
            return rc;
        }
        back = hs_restart_steal_all(rs, dummy[0]);
        /* As late as possible: MHD may have read from a socket right
         * before it was taken. */
        back += hs_restart_recheck(rs);
        if (back == 0 || past(deadline)) {
            break;
        }
        /* MHD had read part of a request on a connection given back: a
         * thread of it may have gone to poll the dummy meanwhile. A byte
         * wakes it (it then reads the real socket again; one that reads
         * the byte holds a connection that is not its own any more). */
        if (send(dummy[1], "x", 1, MSG_NOSIGNAL) < 0) {
            hs_log(HS_LOG_DEBUG, "restart: wake: %s", strerror(errno));
        }
        settle(rs, deadline, 10);
    }
    rc = hs_restart_collect(rs, &reqs, &nreq, &conns, &nconn);
    if (rc < 0) {
        return rc;
    }
    if (nreq + nconn > 0) {
        hfd = hs_handoff_write(reqs, nreq, conns, nconn);
        if (hfd < 0) {
            rc = hfd;
            goto fail;
        }
    }
    env = make_env(rs, s->listen_fd, hfd, own);
    if (env == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    hs_log(HS_LOG_DEBUG, "restart: exec %s (%zu waiting request(s), %zu "
           "idle connection(s) handed over)", rs->exe, nreq, nconn);
    hs_restart_inherit(rs, 1);
    fcntl(s->listen_fd, F_SETFD, 0);
    if (rs->orig_cwd != NULL && chdir(rs->orig_cwd) < 0) {
        hs_log(HS_LOG_WARN, "warning: restart: cannot go back to %s: %s",
               rs->orig_cwd, strerror(errno));
    }
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGHUP, &ign, &old_hup);
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, &old_mask);

    execve(rs->exe, s->argv, env);

    err = errno;
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    if (chdir(s->cwd) < 0) {
        hs_log(HS_LOG_WARN, "warning: cannot go back to %s: %s", s->cwd,
               strerror(errno));
    }
    fcntl(s->listen_fd, F_SETFD, FD_CLOEXEC);
    hs_restart_inherit(rs, 0);
    hs_log(HS_LOG_ERROR, "error: cannot restart: execve %s: %s; serving on "
           "with in-process reloads", rs->exe, strerror(err));
    rc = -err;
fail:
    if (hfd >= 0) {
        close(hfd);
    }
    for (i = 0; i < 5; i++) {
        free(own[i]);
    }
    free(env);
    free(reqs);
    free(conns);
    return rc;
}

/* A connection of our own for drain() to watch: one end of a socket
 * pair given to MHD; the other end (returned, -1 on failure) is closed
 * after the quiesce. */
static int
add_probe(struct hs_restart *rs)
{
    struct sockaddr_in addr;
    int sv[2];

    pthread_mutex_lock(&rs->mu);
    rs->probe_closed = 1;
    pthread_mutex_unlock(&rs->mu);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0) {
        return -1;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_lock(&rs->mu);
    rs->probe_fd = sv[0];
    rs->probe_closed = 0;
    pthread_mutex_unlock(&rs->mu);
    /* MHD owns sv[0] from here, also when it fails (it closes it). */
    if (MHD_add_connection(rs->s->daemon, sv[0],
                           (const struct sockaddr *)&addr,
                           sizeof(addr)) != MHD_YES) {
        pthread_mutex_lock(&rs->mu);
        rs->probe_fd = -1;
        rs->probe_closed = 1;
        pthread_mutex_unlock(&rs->mu);
        close(sv[1]);
        hs_log(HS_LOG_DEBUG, "restart: no probe connection: %s",
               strerror(errno));
        return -1;
    }
    return sv[1];
}

int
hs_restart_run(struct hs_server *s)
{
    struct hs_restart *rs = s->restart;
    struct timespec deadline;
    int dummy[2] = {-1, -1}, probe = -1;
    int rc, warned = 0, quiesced = 0;

    pthread_mutex_lock(&s->stop_mu);
    s->restart_wanted = 0;
    pthread_mutex_unlock(&s->stop_mu);
    if (s->daemon == NULL) {
        rc = -EINVAL;
        goto off;
    }
    /* A socket that is never readable: MHD's threads of the connections
     * taken for the next image poll it until the exec. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   dummy) < 0) {
        rc = -errno;
        hs_log(HS_LOG_ERROR, "error: cannot restart: socketpair: %s",
               strerror(-rc));
        goto off;
    }
    probe = add_probe(rs);
    /* From here connections wait in the listening socket's backlog. */
    MHD_quiesce_daemon(s->daemon);
    quiesced = 1;
    if (probe >= 0) {
        close(probe);       /* the probe's connection ends: see drain() */
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)s->cfg.shutdown_timeout;

    pthread_mutex_lock(&rs->mu);
    rc = drain(rs, &deadline, &warned);
    pthread_mutex_unlock(&rs->mu);
    if (rc == 0) {
        hs_bridge_before_exec(s->bridge);
        pthread_mutex_lock(&rs->mu);
        rc = hand_over_and_exec(rs, &deadline, dummy);
        /* Still here: give everything back. */
        hs_restart_unsteal_all(rs);
        pthread_mutex_unlock(&rs->mu);
        /* Wake MHD threads polling the dummy: their descriptor numbers
         * name the client sockets again. */
        if (send(dummy[1], "x", 1, MSG_NOSIGNAL) < 0) {
            hs_log(HS_LOG_DEBUG, "restart: wake: %s", strerror(errno));
        }
    }
off:
    /* Parked requests run here now (before the daemon is stopped: it
     * waits for them), with in-process reloads: first make sure that
     * their barrier neither finds the old restart pending nor asks for a
     * new one, or they would run the old code. */
    if (rc != -EINTR) {
        pthread_mutex_lock(&s->stop_mu);
        rs->failed = 1;
        pthread_mutex_unlock(&s->stop_mu);
    }
    hs_bridge_restart_cancelled(s->bridge);
    pthread_mutex_lock(&rs->mu);
    release_locked(rs);
    pthread_mutex_unlock(&rs->mu);
    if (rc == -EINTR) {
        /* Stopping: the shutdown stops the quiesced daemon. */
        goto out;
    }
    if (quiesced) {
        /* Replace the quiesced daemon with one that accepts again. */
        if (hs_http_stop(s, s->cfg.shutdown_timeout) == -ETIMEDOUT) {
            hs_log(HS_LOG_ERROR, "error: requests still running; exiting");
            fflush(stdout);
            _exit(1);
        }
        s->draining = 0;
        if (hs_http_start(s) < 0) {
            hs_log(HS_LOG_ERROR, "error: cannot start the HTTP server "
                   "again; exiting");
            _exit(1);
        }
    }
    rc = 0;
out:
    if (dummy[0] >= 0) {
        close(dummy[0]);
        close(dummy[1]);
    }
    return rc;
}

void
hs_restart_resume(struct hs_server *s)
{
    struct hs_restart *rs = s->restart;
    struct hs_handoff_req **reqs = NULL;
    struct hs_handoff_conn *conns = NULL;
    size_t nreq = 0, nconn = 0, i;
    int rc;

    if (rs->handoff_fd >= 0) {
        rc = hs_handoff_read(rs->handoff_fd, &reqs, &nreq, &conns, &nconn);
        rs->handoff_fd = -1;
        if (rc < 0) {
            hs_log(HS_LOG_WARN, "warning: restart: cannot read what the "
                   "previous process handed over: %s", strerror(-rc));
        }
        for (i = 0; i < nconn; i++) {
            /* MHD closes the socket when it cannot take it. */
            if (MHD_add_connection(s->daemon, conns[i].fd,
                                   (const struct sockaddr *)&conns[i].addr,
                                   conns[i].addrlen) != MHD_YES) {
                hs_log(HS_LOG_WARN, "warning: restart: an idle connection "
                       "could not be taken over: %s", strerror(errno));
            }
        }
        for (i = 0; i < nreq; i++) {
            hs_handoff_serve(s, reqs[i]);
        }
        free(reqs);
        free(conns);
    }
    if (rs->restarted) {
        hs_log(HS_LOG_INFO, "\xe2\x80\xa6 ready in %.0f ms",
               (double)(hs_restart_now_ns() - rs->prev_t0_ns) / 1e6);
    }
}
