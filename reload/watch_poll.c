/* The polling backend and what both backends share: the tracked-file set
 * with stat signatures, path normalization, the switch from inotify to
 * polling and the user notice. */
#include "reload/watch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reload/changeset.h"
#include "reload/pathfilter.h"
#include "reload/watch_internal.h"

int
hs_watch_normpath(const char *path, char **out)
{
    char *cwd = NULL;
    char *src = NULL;
    char *dst = NULL;
    size_t need;
    size_t n = 0;
    const char *p;

    *out = NULL;
    if (path == NULL || path[0] == '\0') {
        return -EINVAL;
    }
    if (path[0] != '/') {
        cwd = getcwd(NULL, 0);
        if (cwd == NULL) {
            return errno == ENOMEM ? -ENOMEM : -errno;
        }
    }
    need = (cwd != NULL ? strlen(cwd) + 1 : 0) + strlen(path) + 2;
    src = malloc(need);
    dst = malloc(need);
    if (src == NULL || dst == NULL) {
        free(cwd);
        free(src);
        free(dst);
        return -ENOMEM;
    }
    snprintf(src, need, "%s%s%s", cwd != NULL ? cwd : "",
             cwd != NULL ? "/" : "", path);
    free(cwd);
    /* dst holds "/comp" pieces; ".." drops the last one. */
    p = src;
    while (*p != '\0') {
        const char *q;
        size_t len;
        while (*p == '/') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        q = p;
        while (*q != '\0' && *q != '/') {
            q++;
        }
        len = (size_t)(q - p);
        if (len == 1 && p[0] == '.') {
            /* nothing */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (n > 0 && dst[n - 1] != '/') {
                n--;
            }
            if (n > 0) {
                n--;
            }
        } else {
            dst[n++] = '/';
            memcpy(dst + n, p, len);
            n += len;
        }
        p = q;
    }
    if (n == 0) {
        dst[n++] = '/';
    }
    dst[n] = '\0';
    free(src);
    if (n >= PATH_MAX) {
        free(dst);
        return -ENAMETOOLONG;
    }
    *out = dst;
    return 0;
}

void
hs_watch_record_locked(struct hs_watch *w, const char *path)
{
    if (hs_changeset_add_locked(w->cs, path) < 0) {
        hs_changeset_set_overflow_locked(w->cs);
        return;
    }
    w->recorded++;
}

void
hs_watch_record_tracked_under_locked(struct hs_watch *w, const char *dir)
{
    size_t dlen = strlen(dir);

    for (size_t i = 0; i < w->ntracked; i++) {
        const char *p = w->tracked[i].path;
        if (dlen == 1 || (strncmp(p, dir, dlen) == 0 && p[dlen] == '/')) {
            hs_watch_record_locked(w, p);
        }
    }
}

static int64_t
ns(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
hs_watch_stat_sig(const char *path, struct hs_sig *sig)
{
    struct stat st;

    memset(sig, 0, sizeof(*sig));
    if (stat(path, &st) < 0) {
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    }
    sig->exists = 1;
    sig->dev = st.st_dev;
    sig->ino = st.st_ino;
    sig->size = st.st_size;
    sig->mtime_ns = ns(st.st_mtim);
    /* ctime too: an editor or tool that restores the mtime (rsync -t,
     * git checkout of an identical-size file) still changes the ctime.
     * A stat racing a rename can see the new inode before its ctime
     * settles and report one save twice: one extra reload, never a
     * missed one. */
    sig->ctime_ns = ns(st.st_ctim);
    return 0;
}

static int
sig_equal(const struct hs_sig *a, const struct hs_sig *b)
{
    if (!a->exists || !b->exists) {
        return a->exists == b->exists;
    }
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size
           && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

void
hs_watch_poll_scan_locked(struct hs_watch *w)
{
    for (size_t i = 0; i < w->ntracked; i++) {
        struct hs_tracked *t = &w->tracked[i];
        struct hs_sig now;
        /* A file we may not stat any more is as good as gone. */
        if (hs_watch_stat_sig(t->path, &now) < 0) {
            now.exists = 0;
        }
        if (!sig_equal(&t->sig, &now)) {
            t->sig = now;
            hs_watch_record_locked(w, t->path);
        }
    }
}

static long
read_sysctl(const char *name)
{
    char path[128];
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/sys/fs/inotify/%s", name);
    f = fopen(path, "re");
    if (f == NULL) {
        return -1;
    }
    if (fscanf(f, "%ld", &v) != 1) {
        v = -1;
    }
    fclose(f);
    return v;
}

/* "... reached (fs.inotify.NAME=CUR): switched to polling; raise it with:
 * sudo sysctl fs.inotify.NAME=NEW" */
static void
limit_notice(struct hs_watch *w, const char *what, const char *name,
             long suggested)
{
    long cur = read_sysctl(name);
    long want = suggested;
    char curtxt[32] = "";

    if (cur > 0) {
        snprintf(curtxt, sizeof(curtxt), "=%ld", cur);
        if (cur >= want) {
            want = cur * 2;
        }
    }
    snprintf(w->notice, sizeof(w->notice),
             "%s (fs.inotify.%s%s): switched to polling; raise it with: "
             "sudo sysctl fs.inotify.%s=%ld",
             what, name, curtxt, name, want);
}

void
hs_watch_fallback_locked(struct hs_watch *w, int err)
{
    if (atomic_load(&w->mode) == HS_WATCH_POLL) {
        return;
    }
    /* Signatures from now on: a change after this point is seen by the
     * next poll; one before it is still in the inotify queue, which is
     * drained (and recorded) before the watches go. */
    for (size_t i = 0; i < w->ntracked; i++) {
        struct hs_tracked *t = &w->tracked[i];
        if (hs_watch_stat_sig(t->path, &t->sig) < 0) {
            t->sig.exists = 0;
        }
    }
    atomic_store(&w->mode, HS_WATCH_POLL);
    if (err == -ENOSPC) {
        limit_notice(w, "inotify watch limit reached", "max_user_watches",
                     524288);
    } else if (err == -EMFILE) {
        limit_notice(w, "inotify instance limit or open file limit reached",
                     "max_user_instances", 1024);
    } else {
        snprintf(w->notice, sizeof(w->notice),
                 "inotify is not available (%s): switched to polling",
                 strerror(-err));
    }
    w->has_notice = 1;
    w->drop_pending = w->fd >= 0;
}

static int
add_tracked(struct hs_watch *w, char *path, const struct hs_sig *sig)
{
    if (w->ntracked == w->captracked) {
        size_t ncap = w->captracked ? w->captracked * 2 : 64;
        struct hs_tracked *nt = realloc(w->tracked, ncap * sizeof(*nt));
        if (nt == NULL) {
            return -ENOMEM;
        }
        w->tracked = nt;
        w->captracked = ncap;
    }
    if (hs_strmap_put(&w->tracked_index, path, w->ntracked) < 0) {
        return -ENOMEM;
    }
    w->tracked[w->ntracked].path = path;
    w->tracked[w->ntracked].sig = *sig;
    w->ntracked++;
    return 0;
}

/* Is the absolute path np excluded under one of the roots? */
static int
excluded_locked(const struct hs_watch *w, const char *np)
{
    size_t i;

    for (i = 0; i < w->nroots; i++) {
        size_t n = strlen(w->roots[i]);
        if (strncmp(np, w->roots[i], n) == 0 && np[n] == '/'
            && hs_pathfilter_excluded(w->filter, np + n + 1)) {
            return 1;
        }
    }
    return 0;
}

int
hs_watch_track(struct hs_watch *w, const char *path)
{
    struct hs_sig sig;
    struct stat st;
    char *np = NULL;
    char *dir = NULL;
    int rc;

    if (w == NULL || path == NULL) {
        return -EINVAL;
    }
    rc = hs_watch_normpath(path, &np);
    if (rc < 0) {
        return rc;
    }
    if (stat(np, &st) == 0 && S_ISDIR(st.st_mode)) {
        free(np);
        return -EISDIR;
    }
    /* Stat before the lock: an earlier signature can only make a change
     * more visible, never hide one. */
    rc = hs_watch_stat_sig(np, &sig);
    if (rc < 0) {
        free(np);
        return rc;
    }
    hs_changeset_lock(w->cs);
    if (hs_strmap_get(&w->tracked_index, np, NULL) || excluded_locked(w, np)) {
        /* Already tracked, or the user excluded it (--exclude): an
         * excluded module is never reported, whatever imports it. */
        free(np);
        rc = 0;
        goto out;
    }
    rc = add_tracked(w, np, &sig);
    if (rc < 0) {
        free(np);
        goto out;
    }
    if (atomic_load(&w->mode) == HS_WATCH_INOTIFY) {
        /* Apply what is queued first, so the map matches the disk. */
        hs_watch_drain_locked(w);
    }
    if (atomic_load(&w->mode) == HS_WATCH_INOTIFY) {
        dir = strdup(np);
        if (dir == NULL) {
            rc = -ENOMEM;
        } else {
            char *slash = strrchr(dir, '/');
            slash[slash == dir ? 1 : 0] = '\0';
            rc = hs_watch_inotify_track_dir_locked(w, dir);
            free(dir);
        }
        if (rc < 0) {
            /* Not watchable: do not pretend it is tracked. */
            w->ntracked--;
            hs_strmap_del(&w->tracked_index, np);
            free(np);
        }
    }
    if (w->drop_pending) {
        hs_watch_drain_locked(w);
    }

out:
    hs_changeset_unlock(w->cs);
    return rc;
}

int
hs_watch_notice(struct hs_watch *w, char *buf, size_t len)
{
    int had;

    if (w == NULL) {
        return 0;
    }
    hs_changeset_lock(w->cs);
    had = w->has_notice;
    if (had && buf != NULL && len > 0) {
        snprintf(buf, len, "%s", w->notice);
    }
    w->has_notice = 0;
    hs_changeset_unlock(w->cs);
    return had;
}
