/* Full restarts that never refuse a connection: the process re-executes
 * itself (same binary, same arguments) and the next image inherits the
 * listening socket, the idle client connections and the requests that
 * were waiting for the new code.
 *
 * Asked for by the reloader (bridge/reloader_policy.c decides when), by
 * SIGHUP and by POST /__hotserve__/restart. The main thread then runs the
 * sequence (restart.c): stop accepting (MHD_quiesce_daemon: the listening
 * socket stays open, new connections wait in its backlog), let requests
 * that are running finish (--shutdown-timeout), take the idle
 * connections away from MHD, and execve with the socket, the connections
 * and the waiting requests passed by file descriptor
 * (HOTSERVE_LISTEN_FD, HOTSERVE_HANDOFF_FD). A request that reaches the
 * barrier while a restart is pending is never run by the old code: its
 * thread parks it here and the next image answers it (server/handoff.c).
 *
 * Connections are tracked from MHD's callbacks (restart_conn.c) so that
 * the exec happens only when every connection is either idle between
 * requests, not yet sent anything, or parked. */
#ifndef HS_RESTART_H
#define HS_RESTART_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

struct hs_server;
struct hs_request;
struct hs_header;
struct hs_restart;

/* Restart state for s. Reads (and removes from the environment) what the
 * previous image passed: HOTSERVE_RESTART_T0, HOTSERVE_RESTART_EXEC,
 * HOTSERVE_RESTART_REASON, HOTSERVE_HANDOFF_FD. Call first thing in
 * hs_server_run, before --chdir is applied (the next image must start
 * in the same directory). NULL on allocation failure.
 * Thread: main. GIL: not needed. */
struct hs_restart *
hs_restart_new(struct hs_server *s);

/* Join the threads serving handed-over requests, close what is left and
 * free. The HTTP daemon must be stopped first; call before Python is
 * finalized (those threads ran Python). NULL is fine. Thread: main. */
void
hs_restart_free(struct hs_restart *rs);

/* CLOCK_MONOTONIC ns to measure the restart cost from: when the previous
 * image was about to exec, or when this process started its work.
 * Thread: any. */
uint64_t
hs_restart_start_ns(const struct hs_restart *rs);

/* 1 when this image was started by a restart. Thread: any. */
int
hs_restart_is_restarted(const struct hs_restart *rs);

/* Ask for a restart. Logs "restarting: REASON …" and wakes the main
 * thread. Returns 1 when a restart is pending (now or already), 0 when
 * it cannot happen (shutting down, or an earlier exec failed).
 * Thread: any (loop thread for SIGHUP, connection threads for the
 * reloader and the endpoint). GIL: any. Locks: takes s->stop_mu (leaf). */
int
hs_restart_request(struct hs_server *s, const char *reason);

/* Run the restart the main thread was woken for. Returns only when the
 * image was not replaced: the exec failed (logged; the server keeps
 * serving with in-process reloads; no more restarts) or a stop signal
 * arrived during the drain. Returns 0 after an exec failure (the daemon
 * runs again), -EINTR when stopping.
 * Thread: main. GIL: not held. Locks: none held. */
int
hs_restart_run(struct hs_server *s);

/* A stop signal arrived: end a drain in progress and release parked
 * requests (they run here). Thread: any. Locks: none held. */
void
hs_restart_abort(struct hs_server *s);

/* After the HTTP daemon started: adopt what the previous image passed
 * (idle connections go to MHD, waiting requests get a thread each) and
 * log "… ready in N ms". Thread: main. GIL: not held. */
void
hs_restart_resume(struct hs_server *s);

/* ---- hooks called from server/http.c ------------------------------------ */

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the server. */
void
hs_restart_conn_notify(void *cls, struct MHD_Connection *c,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode code);

/* A request line arrived on c (MHD's URI log callback).
 * Thread: connection. */
void
hs_restart_conn_request(struct hs_server *s, struct MHD_Connection *c);

/* The request r on c is complete (NOTIFY_COMPLETED; r may be NULL, ok is
 * 0 when it ended with an error): the connection is idle until the next
 * request line. Thread: connection. */
void
hs_restart_conn_done(struct hs_server *s, struct MHD_Connection *c,
                     const struct hs_request *r, int ok);

/* Before dispatching the complete request r on c: run the change barrier
 * (hs_bridge_barrier). When a restart is pending, the request is handed
 * to the next image: this call then does not return (the thread waits
 * for the exec) unless the restart is called off, in which case r is as
 * before and 0 is returned. Returns 0: dispatch here.
 * Thread: connection. GIL: not held. Locks: none held. */
int
hs_restart_barrier(struct hs_server *s, struct MHD_Connection *c,
                   struct hs_request *r, const char *method,
                   const char *version, const struct hs_header *h,
                   size_t nh);

/* The request line and headers on connection c are complete (the
 * handler's first call). Thread: connection. Locks: restart mutex. */
void
hs_restart_conn_headers(struct hs_server *s, struct MHD_Connection *c);

/* Close (shutdown) every connection whose next request's line and headers
 * have not arrived within limit_ns of the connection becoming ready for
 * it: slowloris clients that trickle a byte now and then defeat MHD's
 * idle timeout, not this. Returns how many were closed.
 * Thread: the deadline thread. Locks: restart mutex. */
int
hs_restart_reap_slow(struct hs_server *s, uint64_t limit_ns);

#endif
