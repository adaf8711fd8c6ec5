/* struct hs_server owns everything one hotserve process runs: config,
 * listening socket, MHD daemon, interpreter-side objects, watcher, loop.
 *
 * Lock order (documented here, for the whole program):
 *   reload lock (bridge/reloader.c, rw)  ->  GIL
 *   the change-set mutex (reload/changeset.c) is a leaf: never held while
 *   calling Python or waiting for another lock;
 *   server->inflight_mu is a leaf too; server->stop_mu and the restart
 *   mutex (server/restart_int.h) are never held together.
 */
#ifndef HS_SERVER_H
#define HS_SERVER_H

#include <pthread.h>
#include <stdint.h>

#include "server/config.h"

struct MHD_Daemon;
struct hs_bridge;
struct hs_deadline;
struct hs_wsgi;
struct hs_changeset;
struct hs_pathfilter;
struct hs_watch;
struct hs_loop;
struct hs_restart;

struct hs_server {
    struct hs_config cfg;
    int argc;
    char **argv;
    char cwd[4096];
    int listen_fd;
    char host[64];              /* bound address, numeric */
    uint16_t port;              /* bound port (the real one for :0) */
    struct MHD_Daemon *daemon;
    struct hs_bridge *bridge;
    struct hs_wsgi *wsgi;       /* owned by bridge */
    struct hs_changeset *changes;
    struct hs_pathfilter *filter;
    struct hs_watch *watch;
    struct hs_loop *loop;
    struct hs_restart *restart;     /* server/restart.c */
    struct hs_deadline *deadline;   /* server/deadline.c */

    /* Requests between their first handler call and NOTIFY_COMPLETED;
     * shutdown waits for it to reach 0. */
    pthread_mutex_t inflight_mu;
    pthread_cond_t inflight_cv;
    unsigned inflight;
    int draining;               /* shutting down: answer with close */

    /* Set by the loop thread's signal callback, waited on by main. */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stop_signal;            /* the signal that asked us to stop */
    int interrupts;             /* SIGINTs seen */
    int restart_wanted;         /* hs_restart_request: main must run it */
};

/* Run hotserve with a parsed config: everything from banner to clean
 * shutdown. Returns the process exit status (0 clean, 1 runtime error).
 * Thread: main. */
int
hs_server_run(struct hs_server *s);

#endif
