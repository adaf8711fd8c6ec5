/* Slow-header deadline. MHD's --timeout counts idle time only, so a
 * client sending one header byte every few seconds (slowloris) would keep
 * a connection thread forever; 128 of them fill --max-connections. This
 * thread closes a connection whose request head is not complete --timeout
 * seconds after the connection became ready for it. */
#include "server/deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "reload/log.h"
#include "server/restart.h"
#include "server/server.h"

/* How often connections are checked: the deadline is met within this. */
#define HS_DEADLINE_TICK_MS 250

struct hs_deadline {
    struct hs_server *s;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void *
run(void *arg)
{
    struct hs_deadline *d = arg;
    uint64_t limit = (uint64_t)d->s->cfg.timeout * 1000000000u;
    struct timespec ts;
    int n;

    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += HS_DEADLINE_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        if (d->stop) {
            break;
        }
        pthread_mutex_unlock(&d->mu);
        n = hs_restart_reap_slow(d->s, limit);
        if (n > 0) {
            hs_log(HS_LOG_DEBUG, "closed %d connection(s) whose request "
                   "head took longer than %u s", n, d->s->cfg.timeout);
        }
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

struct hs_deadline *
hs_deadline_start(struct hs_server *s)
{
    struct hs_deadline *d;
    pthread_condattr_t ca;
    int rc;

    errno = 0;
    if (s->cfg.timeout == 0 || s->restart == NULL) {
        return NULL;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->s = s;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&d->tid, NULL, run, d);
    if (rc != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        errno = rc;
        return NULL;
    }
    return d;
}

void
hs_deadline_stop(struct hs_deadline *d)
{
    if (d == NULL) {
        return;
    }
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->tid, NULL);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
