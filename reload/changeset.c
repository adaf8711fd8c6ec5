/* The change set: dirty paths in first-seen order, deduplicated through a
 * hash index, plus a generation counter readers can poll without the lock. */
#include "reload/changeset.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "reload/strmap.h"

struct hs_changeset {
    pthread_mutex_t mu;
    char **paths;               /* owned, first-seen order */
    size_t len;
    size_t cap;
    struct hs_strmap index;     /* path (borrowed from paths) -> position */
    int overflow;
    /* Written only under mu; read anywhere (relaxed) by hs_changeset_gen. */
    _Atomic uint64_t gen;
};

struct hs_changeset *
hs_changeset_new(void)
{
    struct hs_changeset *cs = calloc(1, sizeof(*cs));
    int rc;

    if (cs == NULL) {
        return NULL;
    }
    rc = pthread_mutex_init(&cs->mu, NULL);
    if (rc != 0) {
        free(cs);
        errno = rc;
        return NULL;
    }
    atomic_init(&cs->gen, 0);
    return cs;
}

void
hs_changeset_free(struct hs_changeset *cs)
{
    if (cs == NULL) {
        return;
    }
    for (size_t i = 0; i < cs->len; i++) {
        free(cs->paths[i]);
    }
    free(cs->paths);
    hs_strmap_free(&cs->index);
    pthread_mutex_destroy(&cs->mu);
    free(cs);
}

void
hs_changeset_lock(struct hs_changeset *cs)
{
    pthread_mutex_lock(&cs->mu);
}

void
hs_changeset_unlock(struct hs_changeset *cs)
{
    pthread_mutex_unlock(&cs->mu);
}

static void
bump(struct hs_changeset *cs)
{
    uint64_t g = atomic_load_explicit(&cs->gen, memory_order_relaxed);

    atomic_store_explicit(&cs->gen, g + 1, memory_order_relaxed);
}

int
hs_changeset_add_locked(struct hs_changeset *cs, const char *path)
{
    char *copy;

    if (path == NULL || path[0] == '\0') {
        return -EINVAL;
    }
    if (hs_strmap_get(&cs->index, path, NULL)) {
        bump(cs);
        return 0;
    }
    if (cs->len == cs->cap) {
        size_t ncap = cs->cap ? cs->cap * 2 : 16;
        char **np = realloc(cs->paths, ncap * sizeof(*np));
        if (np == NULL) {
            return -ENOMEM;
        }
        cs->paths = np;
        cs->cap = ncap;
    }
    copy = strdup(path);
    if (copy == NULL) {
        return -ENOMEM;
    }
    if (hs_strmap_put(&cs->index, copy, cs->len) < 0) {
        free(copy);
        return -ENOMEM;
    }
    cs->paths[cs->len++] = copy;
    bump(cs);
    return 0;
}

void
hs_changeset_set_overflow_locked(struct hs_changeset *cs)
{
    cs->overflow = 1;
    bump(cs);
}

int
hs_changeset_take_locked(struct hs_changeset *cs, struct hs_changes *out)
{
    /* Handing the array over allocates nothing, so this cannot fail. */
    out->paths = cs->paths;
    out->len = cs->len;
    out->overflow = cs->overflow;
    out->gen = atomic_load_explicit(&cs->gen, memory_order_relaxed);
    cs->paths = NULL;
    cs->len = 0;
    cs->cap = 0;
    cs->overflow = 0;
    hs_strmap_clear(&cs->index);
    return 0;
}

size_t
hs_changeset_pending_locked(const struct hs_changeset *cs)
{
    return cs->len;
}

uint64_t
hs_changeset_gen(const struct hs_changeset *cs)
{
    /* C11 atomic_load takes a non-const pointer in some libcs' headers. */
    return atomic_load_explicit((_Atomic uint64_t *)&cs->gen,
                                memory_order_relaxed);
}

void
hs_changes_free(struct hs_changes *out)
{
    if (out == NULL) {
        return;
    }
    for (size_t i = 0; i < out->len; i++) {
        free(out->paths[i]);
    }
    free(out->paths);
    memset(out, 0, sizeof(*out));
}
