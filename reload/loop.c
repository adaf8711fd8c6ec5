/* The loop thread: uv_signal for INT/TERM/HUP, uv_poll on the inotify fd
 * so changes are drained as they happen (the request barrier then finds
 * the fd empty), uv_async to stop. */
#include "reload/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <uv.h>

#include "reload/log.h"
#include "reload/watch.h"

struct hs_loop {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm, sighup;
    uv_poll_t poll;
    uv_async_t stop;
    uv_thread_t thread;
    int polling;        /* poll handle initialized */
    int started;
    struct hs_watch *watch;
    hs_loop_signal_fn on_signal;
    void *ctx;
};

static void
on_signal(uv_signal_t *h, int signum)
{
    struct hs_loop *l = h->data;

    l->on_signal(signum, l->ctx);
}

static void
on_readable(uv_poll_t *h, int status, int events)
{
    struct hs_loop *l = h->data;
    char notice[512];

    (void)events;
    if (status < 0) {
        hs_log(HS_LOG_WARN, "warning: watching for changes failed: %s",
               uv_strerror(status));
        uv_poll_stop(h);
        return;
    }
    hs_watch_sync(l->watch);
    /* The watcher may have switched to polling (watch limit reached by a
     * new directory): tell the user once, with the fix. */
    if (hs_watch_notice(l->watch, notice, sizeof(notice))) {
        hs_log(HS_LOG_WARN, "warning: %s", notice);
    }
    if (hs_watch_fd(l->watch) < 0) {
        uv_poll_stop(h);
    }
}

static void
close_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static void
on_stop(uv_async_t *h)
{
    uv_walk(h->loop, close_cb, NULL);
}

static void
run(void *arg)
{
    struct hs_loop *l = arg;
    sigset_t none;

    /* The main thread blocks nothing, but be explicit: this thread must
     * receive the signals libuv turns into loop events. */
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
}

struct hs_loop *
hs_loop_new(struct hs_watch *w, hs_loop_signal_fn cb, void *ctx)
{
    struct hs_loop *l = calloc(1, sizeof(*l));
    int fd, rc;

    if (l == NULL) {
        return NULL;
    }
    l->watch = w;
    l->on_signal = cb;
    l->ctx = ctx;
    rc = uv_loop_init(&l->loop);
    if (rc < 0) {
        free(l);
        errno = -rc;
        return NULL;
    }
    uv_signal_init(&l->loop, &l->sigint);
    uv_signal_init(&l->loop, &l->sigterm);
    uv_signal_init(&l->loop, &l->sighup);
    uv_async_init(&l->loop, &l->stop, on_stop);
    l->sigint.data = l->sigterm.data = l->sighup.data = l;
    uv_signal_start(&l->sigint, on_signal, SIGINT);
    uv_signal_start(&l->sigterm, on_signal, SIGTERM);
    uv_signal_start(&l->sighup, on_signal, SIGHUP);
    fd = w != NULL ? hs_watch_fd(w) : -1;
    if (fd >= 0 && uv_poll_init(&l->loop, &l->poll, fd) == 0) {
        l->poll.data = l;
        l->polling = 1;
        uv_poll_start(&l->poll, UV_READABLE, on_readable);
    }
    return l;
}

int
hs_loop_start(struct hs_loop *l)
{
    int rc = uv_thread_create(&l->thread, run, l);

    if (rc == 0) {
        l->started = 1;
    }
    return rc;
}

void
hs_loop_free(struct hs_loop *l)
{
    if (l == NULL) {
        return;
    }
    if (l->started) {
        uv_async_send(&l->stop);
        uv_thread_join(&l->thread);
    } else {
        uv_walk(&l->loop, close_cb, NULL);
        uv_run(&l->loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&l->loop);
    free(l);
}
