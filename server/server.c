/* One hotserve process from start to clean exit. Start order matters:
 * socket (fail fast on usage problems) -> watches (before the app is
 * imported: a file saved while the app imports is then seen as a change,
 * also right after a restart) -> loop with signal handlers (before
 * Python, cstack.md 3.3) -> Python -> app -> MHD -> wait for a signal or
 * a restart (server/restart.c re-executes the process; the next image
 * goes through the same order with the inherited socket) -> MHD stopped
 * (threads joined) -> Python finalized. */
#include "server/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "reload/changeset.h"
#include "reload/log.h"
#include "reload/loop.h"
#include "reload/pathfilter.h"
#include "reload/watch.h"
#include "server/accesslog.h"
#include "server/deadline.h"
#include "server/http.h"
#include "server/listen.h"
#include "server/restart.h"

static void
on_signal(int signum, void *ctx)
{
    struct hs_server *s = ctx;

    pthread_mutex_lock(&s->stop_mu);
    if (signum == SIGINT && ++s->interrupts >= 2) {
        /* The second Ctrl-C: the user does not want to wait. */
        pthread_mutex_unlock(&s->stop_mu);
        hs_log(HS_LOG_WARN, "Interrupted again: exiting now.");
        _exit(130);
    }
    if (signum == SIGHUP) {
        pthread_mutex_unlock(&s->stop_mu);
        hs_restart_request(s, "SIGHUP received");
        return;
    }
    if (s->stop_signal == 0) {
        s->stop_signal = signum;
    }
    pthread_cond_broadcast(&s->stop_cv);
    pthread_mutex_unlock(&s->stop_mu);
    /* A restart draining right now is called off. */
    hs_restart_abort(s);
}

/* The bridge's restart callback. */
static int
restart_cb(void *ctx, const char *reason)
{
    return hs_restart_request(ctx, reason);
}

static int
setup_watch(struct hs_server *s)
{
    char notice[512];
    size_t i;
    int rc;

    s->changes = hs_changeset_new();
    s->filter = hs_pathfilter_new();
    if (s->changes == NULL || s->filter == NULL) {
        return -ENOMEM;
    }
    for (i = 0; i < s->cfg.exclude.len; i++) {
        rc = hs_pathfilter_add(s->filter, s->cfg.exclude.items[i]);
        if (rc < 0) {
            hs_log(HS_LOG_ERROR, "hotserve: error: invalid --exclude '%s'",
                   s->cfg.exclude.items[i]);
            return rc;
        }
    }
    s->watch = hs_watch_new(s->changes, s->filter, s->cfg.poll);
    if (s->watch == NULL) {
        return -errno;
    }
    rc = hs_watch_add_root(s->watch, s->cwd);
    if (rc < 0) {
        hs_log(HS_LOG_WARN, "warning: cannot watch %s: %s", s->cwd,
               strerror(-rc));
    }
    for (i = 0; i < s->cfg.watch.len; i++) {
        rc = hs_watch_add_root(s->watch, s->cfg.watch.items[i]);
        if (rc < 0) {
            hs_log(HS_LOG_ERROR, "hotserve: error: cannot watch '%s': %s",
                   s->cfg.watch.items[i], strerror(-rc));
            return rc;
        }
    }
    if (hs_watch_notice(s->watch, notice, sizeof(notice))) {
        hs_log(HS_LOG_WARN, "warning: %s", notice);
    }
    return 0;
}

static void
banner(struct hs_server *s, const char *pyinfo)
{
    const char *fmt = s->host[0] != '\0' && strchr(s->host, ':')
                          ? "http://[%s]:%u/" : "http://%s:%u/";
    char url[128];

    snprintf(url, sizeof(url), fmt, s->host, (unsigned)s->port);
    if (!s->cfg.bind.is_loopback) {
        hs_log(HS_LOG_WARN, "warning: listening on %s: hotserve is a "
               "development server; do not expose it on a network you do "
               "not trust", url);
    }
    if (s->cfg.quiet) {
        return;
    }
    printf("hotserve %s, serving %s with %s\n", HS_VERSION,
           s->cfg.app_spec, pyinfo);
    printf("Reloading: %s\n",
           !s->cfg.reload ? "off (--no-reload)"
           : s->watch && hs_watch_mode(s->watch) == HS_WATCH_POLL
               ? "on (polling)" : "on (inotify)");
    printf("Starting development server at %s\n", url);
    printf("Quit the server with CONTROL-C.\n");
    fflush(stdout);
}

/* Wait for a stop signal (returns 0) or a restart request (1). */
static int
wait_for_event(struct hs_server *s)
{
    int restart;

    pthread_mutex_lock(&s->stop_mu);
    while (s->stop_signal == 0 && !s->restart_wanted) {
        pthread_cond_wait(&s->stop_cv, &s->stop_mu);
    }
    restart = s->stop_signal == 0;
    pthread_mutex_unlock(&s->stop_mu);
    return restart;
}

int
hs_server_run(struct hs_server *s)
{
    struct hs_bridge_config bc;
    const char *roots[65];
    size_t nroots = 0, i;
    char err[512];
    int status = 1, fd;

    pthread_mutex_init(&s->inflight_mu, NULL);
    pthread_cond_init(&s->inflight_cv, NULL);
    pthread_mutex_init(&s->stop_mu, NULL);
    pthread_cond_init(&s->stop_cv, NULL);
    s->listen_fd = -1;
    /* Before --chdir: a restart execs from where we started. */
    s->restart = hs_restart_new(s);
    if (s->restart == NULL) {
        hs_log(HS_LOG_ERROR, "hotserve: error: out of memory");
        return 1;
    }
    hs_log_set_level(s->cfg.quiet ? HS_LOG_WARN : HS_LOG_INFO);
    hs_accesslog_init();
    if (s->cfg.chdir != NULL && chdir(s->cfg.chdir) < 0) {
        hs_log(HS_LOG_ERROR, "hotserve: error: cannot change directory to "
               "'%s': %s", s->cfg.chdir, strerror(errno));
        goto early;
    }
    if (getcwd(s->cwd, sizeof(s->cwd)) == NULL) {
        hs_log(HS_LOG_ERROR, "hotserve: error: getcwd: %s",
               strerror(errno));
        goto early;
    }
    for (i = 0; i < s->cfg.watch.len; i++) {
        /* Roots are absolute from here on: the reloader compares them
         * with module files. */
        char *abs = realpath(s->cfg.watch.items[i], NULL);
        if (abs == NULL) {
            hs_log(HS_LOG_ERROR, "hotserve: error: cannot watch '%s': %s",
                   s->cfg.watch.items[i], strerror(errno));
            goto early;
        }
        free(s->cfg.watch.items[i]);
        s->cfg.watch.items[i] = abs;
    }
    s->listen_fd = hs_listen_open(&s->cfg.bind, err, sizeof(err));
    if (s->listen_fd < 0) {
        hs_log(HS_LOG_ERROR, "hotserve: error: %s", err);
        goto early;
    }
    hs_listen_name(s->listen_fd, s->host, sizeof(s->host), &s->port);
    if (s->cfg.reload && setup_watch(s) < 0) {
        goto out;
    }
    s->loop = hs_loop_new(s->watch, on_signal, s);
    if (s->loop == NULL) {
        hs_log(HS_LOG_ERROR, "hotserve: error: cannot start the event "
               "loop");
        goto out;
    }
    memset(&bc, 0, sizeof(bc));
    bc.py.argv0 = s->argv[0];
    bc.py.python = s->cfg.python;
    bc.py.pythonpath = (const char *const *)s->cfg.pythonpath.items;
    bc.py.npythonpath = s->cfg.pythonpath.len;
    bc.py.cwd = s->cwd;
    bc.app_spec = s->cfg.app_spec;
    bc.module = s->cfg.module;
    bc.attr = s->cfg.attr;
    bc.factory = s->cfg.factory;
    bc.reload = s->cfg.reload;
    bc.watch = s->watch;
    bc.changes = s->changes;
    roots[nroots++] = s->cwd;
    for (i = 0; i < s->cfg.watch.len && nroots < 64; i++) {
        roots[nroots++] = s->cfg.watch.items[i];
    }
    bc.roots = roots;
    bc.nroots = nroots;
    bc.restart_always = s->cfg.strategy == HS_STRATEGY_RESTART;
    bc.restart_threshold = s->cfg.restart_threshold;
    bc.restart_on = (const char *const *)s->cfg.restart_on.items;
    bc.nrestart_on = s->cfg.restart_on.len;
    bc.restart = restart_cb;
    bc.restart_ctx = s;
    bc.start_ns = hs_restart_start_ns(s->restart);
    bc.restarted = hs_restart_is_restarted(s->restart);
    s->bridge = hs_bridge_open(&bc);
    if (s->bridge == NULL) {
        goto out;
    }
    s->wsgi = hs_bridge_wsgi(s->bridge);
    if (hs_http_start(s) < 0) {
        hs_log(HS_LOG_ERROR, "hotserve: error: cannot start the HTTP "
               "server");
        goto out;
    }
    if (hs_loop_start(s->loop) < 0) {
        hs_log(HS_LOG_ERROR, "hotserve: error: cannot start the loop "
               "thread");
        goto out;
    }
    s->deadline = hs_deadline_start(s);
    if (s->deadline == NULL && errno != 0) {
        hs_log(HS_LOG_WARN, "warning: no request-head deadline: %s",
               strerror(errno));
    }
    if (hs_restart_is_restarted(s->restart)) {
        hs_restart_resume(s);
    } else {
        banner(s, hs_bridge_describe(s->bridge));
    }
    while (wait_for_event(s)) {
        /* Returns only when the process image was not replaced. */
        hs_restart_run(s);
    }
    if (!s->cfg.quiet) {
        hs_log(HS_LOG_INFO, "Shutting down (%s)...",
               s->stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    }
    status = 0;
out:
    hs_deadline_stop(s->deadline);
    s->deadline = NULL;
    /* Requests parked for a restart that will not happen run here. */
    hs_restart_abort(s);
    fd = hs_http_stop(s, s->cfg.shutdown_timeout);
    if (fd == -ETIMEDOUT) {
        fflush(stdout);
        _exit(status);
    }
    if (fd >= 0 && fd != s->listen_fd) {
        close(fd);
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    hs_loop_free(s->loop);
    s->loop = NULL;
    /* Its threads ran Python: joined before Python is finalized. */
    hs_restart_free(s->restart);
    s->restart = NULL;
    hs_bridge_close(s->bridge);
    s->bridge = NULL;
    s->wsgi = NULL;
    hs_watch_free(s->watch);
    hs_pathfilter_free(s->filter);
    hs_changeset_free(s->changes);
    return status;
early:
    hs_restart_free(s->restart);
    s->restart = NULL;
    return 1;
}
