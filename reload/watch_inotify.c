/* The Linux backend: one non-blocking inotify fd, one watch per directory,
 * drained by whoever holds the change-set lock (the barrier). The kernel
 * queues an event inside the syscall that caused it, so a drain that
 * reaches EAGAIN has seen every change completed before it started. */
#include "reload/watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reload/changeset.h"
#include "reload/pathfilter.h"
#include "reload/watch_internal.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE \
                    | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF \
                    | IN_ONLYDIR | IN_EXCL_UNLINK)

/* A file name is final after these; IN_CREATE alone is followed by a
 * write (IN_CLOSE_WRITE) and IN_MODIFY means a write is under way. */
#define CHANGE_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM \
                     | IN_DELETE | IN_ATTRIB)

#define READ_BUF (64 * 1024)

/* Everything queued before a sync fits in max_queued_events (16384 by
 * default) of at most 272 bytes each, about 70 reads; stop well after
 * that so a process writing without pause cannot hold the barrier. */
#define MAX_READS 256

struct hs_watch *
hs_watch_new(struct hs_changeset *cs, const struct hs_pathfilter *filter,
             int force_poll)
{
    struct hs_watch *w;

    if (cs == NULL) {
        errno = EINVAL;
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->cs = cs;
    w->filter = filter;
    w->fd = -1;
    atomic_init(&w->mode, force_poll ? HS_WATCH_POLL : HS_WATCH_INOTIFY);
    if (!force_poll) {
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0) {
            int err = errno;
            if (err == ENOMEM) {
                free(w);
                errno = ENOMEM;
                return NULL;
            }
            /* No other thread knows w yet: no lock needed. */
            hs_watch_fallback_locked(w, -err);
        }
    }
    return w;
}

void
hs_watch_free(struct hs_watch *w)
{
    if (w == NULL) {
        return;
    }
    if (w->fd >= 0) {
        close(w->fd);
    }
    for (size_t i = 0; i < w->ndirs; i++) {
        free(w->dirs[i].path);
    }
    free(w->dirs);
    free(w->free_slots);
    hs_intmap_free(&w->by_wd);
    hs_strmap_free(&w->by_path);
    for (size_t i = 0; i < w->ntracked; i++) {
        free(w->tracked[i].path);
    }
    free(w->tracked);
    hs_strmap_free(&w->tracked_index);
    for (size_t i = 0; i < w->nroots; i++) {
        free(w->roots[i]);
    }
    free(w->roots);
    free(w);
}

int
hs_watch_fd(const struct hs_watch *w)
{
    if (w == NULL || atomic_load(&w->mode) != HS_WATCH_INOTIFY) {
        return -1;
    }
    return w->fd;
}

enum hs_watch_mode
hs_watch_mode(const struct hs_watch *w)
{
    return w != NULL ? (enum hs_watch_mode)atomic_load(&w->mode)
                     : HS_WATCH_POLL;
}

/* dir + "/" + name into buf; -ENAMETOOLONG if it does not fit. */
static int
join(char *buf, size_t size, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    size_t nl = strlen(name);
    int root = dl == 1 && dir[0] == '/';

    if (dl + nl + 2 > size) {
        return -ENAMETOOLONG;
    }
    memcpy(buf, dir, dl);
    if (!root) {
        buf[dl++] = '/';
    }
    memcpy(buf + dl, name, nl + 1);
    return 0;
}

/* The part of full below its root (root_len bytes long). */
static const char *
relpath(const char *full, size_t root_len)
{
    const char *p = full + root_len;

    return *p == '/' ? p + 1 : p;
}

static void
drop_slot(struct hs_watch *w, size_t slot)
{
    struct hs_wdir *d = &w->dirs[slot];
    size_t s;

    hs_intmap_del(&w->by_wd, d->wd);
    if (hs_strmap_get(&w->by_path, d->path, &s) && s == slot) {
        hs_strmap_del(&w->by_path, d->path);
    }
    free(d->path);
    d->path = NULL;
    d->wd = -1;
    /* free_slots has capdirs entries, so there is always room. */
    w->free_slots[w->nfree++] = slot;
}

static int
new_slot(struct hs_watch *w, size_t *slot)
{
    if (w->nfree > 0) {
        *slot = w->free_slots[--w->nfree];
        return 0;
    }
    if (w->ndirs == w->capdirs) {
        size_t ncap = w->capdirs ? w->capdirs * 2 : 64;
        struct hs_wdir *nd = realloc(w->dirs, ncap * sizeof(*nd));
        if (nd == NULL) {
            return -ENOMEM;
        }
        w->dirs = nd;
        size_t *nf = realloc(w->free_slots, ncap * sizeof(*nf));
        if (nf == NULL) {
            return -ENOMEM;
        }
        w->free_slots = nf;
        w->capdirs = ncap;
    }
    *slot = w->ndirs++;
    w->dirs[*slot].path = NULL;
    w->dirs[*slot].wd = -1;
    return 0;
}

/* add_dir_watch results besides 0 (newly watched, or a directory watched
 * for tracked files that a root now covers) and negative errnos. */
#define WATCHED_HERE 1      /* already watched under this path */
#define WATCHED_ELSEWHERE 2 /* same directory, reached by another path */

/* Watch one directory. Returns 0, WATCHED_HERE, WATCHED_ELSEWHERE or a
 * negative errno. */
static int
add_dir_watch(struct hs_watch *w, const char *path, size_t root_len,
              int track_only)
{
    size_t slot;
    char *copy;
    int wd = inotify_add_watch(w->fd, path, WATCH_MASK);

    if (wd < 0) {
        return -errno;
    }
    if (hs_intmap_get(&w->by_wd, wd, &slot)) {
        struct hs_wdir *d = &w->dirs[slot];
        if (d->track_only && !track_only) {
            /* A root now covers a directory of tracked files (perhaps
             * under another name, e.g. its resolved path): the root's
             * name wins, so its paths stay relative to the root. */
            if (strcmp(d->path, path) != 0) {
                copy = strdup(path);
                if (copy == NULL || hs_strmap_put(&w->by_path, copy,
                                                  slot) < 0) {
                    free(copy);
                    return -ENOMEM;
                }
                hs_strmap_del(&w->by_path, d->path);
                free(d->path);
                d->path = copy;
            }
            d->track_only = 0;
            d->root_len = root_len;
            return 0;
        }
        /* Overlapping roots, a symlinked root, a bind mount: the first
         * path wins, and not descending again avoids mount loops. */
        return strcmp(d->path, path) == 0 ? WATCHED_HERE : WATCHED_ELSEWHERE;
    }
    if (hs_strmap_get(&w->by_path, path, &slot)) {
        /* An older directory of that name was replaced. */
        inotify_rm_watch(w->fd, w->dirs[slot].wd);
        drop_slot(w, slot);
    }
    copy = strdup(path);
    if (copy == NULL || new_slot(w, &slot) < 0) {
        goto nomem;
    }
    if (hs_intmap_put(&w->by_wd, wd, slot) < 0) {
        w->free_slots[w->nfree++] = slot;
        goto nomem;
    }
    if (hs_strmap_put(&w->by_path, copy, slot) < 0) {
        hs_intmap_del(&w->by_wd, wd);
        w->free_slots[w->nfree++] = slot;
        goto nomem;
    }
    w->dirs[slot].path = copy;
    w->dirs[slot].wd = wd;
    w->dirs[slot].root_len = root_len;
    w->dirs[slot].track_only = track_only;
    return 0;

nomem:
    free(copy);
    inotify_rm_watch(w->fd, wd);
    return -ENOMEM;
}

/* Stop watching path and every watched directory below it. */
static void
remove_subtree(struct hs_watch *w, const char *path)
{
    size_t plen = strlen(path);

    for (size_t i = 0; i < w->ndirs; i++) {
        const char *p = w->dirs[i].path;
        if (p == NULL || strncmp(p, path, plen) != 0) {
            continue;
        }
        if (p[plen] == '\0' || p[plen] == '/' || plen == 1) {
            inotify_rm_watch(w->fd, w->dirs[i].wd);
            drop_slot(w, i);
        }
    }
}

static int
push(char ***stack, size_t *n, size_t *cap, const char *path)
{
    char *copy;

    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **ns = realloc(*stack, ncap * sizeof(*ns));
        if (ns == NULL) {
            return -ENOMEM;
        }
        *stack = ns;
        *cap = ncap;
    }
    copy = strdup(path);
    if (copy == NULL) {
        return -ENOMEM;
    }
    (*stack)[(*n)++] = copy;
    return 0;
}

static int
entry_is_dir(DIR *d, const struct dirent *de)
{
    struct stat st;

    if (de->d_type != DT_UNKNOWN) {
        return de->d_type == DT_DIR;
    }
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return 0;
    }
    return S_ISDIR(st.st_mode);
}

/* Watch top and every non-excluded directory below it (symbolic links are
 * not followed), without recursion. The watch goes on before the listing,
 * so a file created meanwhile is either listed or produces an event. With
 * report, every file found is recorded: it may have been written before
 * its directory had a watch. With rescan, directories already watched are
 * walked too (after lost events, to find new subdirectories). Returns 0,
 * or the negative errno of watching top itself; failures below top skip
 * that directory. */
static int
watch_tree_locked(struct hs_watch *w, const char *top, size_t root_len,
                  int report, int rescan)
{
    char full[PATH_MAX + NAME_MAX + 2];
    char **stack = NULL;
    size_t n = 0;
    size_t cap = 0;
    int first = 1;
    int rc = 0;

    if (push(&stack, &n, &cap, top) < 0) {
        hs_changeset_set_overflow_locked(w->cs);
        return -ENOMEM;
    }
    while (n > 0) {
        char *dir = stack[--n];
        int r = -ECANCELED;
        DIR *d;
        struct dirent *de;

        if (atomic_load(&w->mode) == HS_WATCH_INOTIFY) {
            r = add_dir_watch(w, dir, root_len, 0);
            if (r == -ENOSPC) {
                hs_watch_fallback_locked(w, r);
                r = -ECANCELED;
            }
            if (r == WATCHED_HERE && rescan) {
                r = 0;
            }
        }
        if (r != 0) {
            if (first && r < 0 && r != -ECANCELED) {
                rc = r;
            }
            if (r == -ENOMEM) {
                hs_changeset_set_overflow_locked(w->cs);
            }
            first = 0;
            free(dir);
            continue;
        }
        first = 0;
        d = opendir(dir);
        if (d == NULL) {
            free(dir);
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            const char *name = de->d_name;
            if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0
                || join(full, sizeof(full), dir, name) < 0) {
                continue;
            }
            const char *rel = relpath(full, root_len);
            if (entry_is_dir(d, de)) {
                if (!hs_pathfilter_excluded_dir(w->filter, rel)
                    && push(&stack, &n, &cap, full) < 0) {
                    hs_changeset_set_overflow_locked(w->cs);
                }
            } else if (report && !hs_pathfilter_is_temp(name)
                       && !hs_pathfilter_excluded(w->filter, rel)) {
                hs_watch_record_locked(w, full);
            }
        }
        closedir(d);
        free(dir);
    }
    free(stack);
    return rc;
}

/* A watched directory went away (deleted, moved, unmounted): report it and
 * the tracked files in it, and drop the watches below it. */
static void
dir_gone(struct hs_watch *w, const char *path, int report_dir)
{
    if (report_dir) {
        hs_watch_record_locked(w, path);
    }
    hs_watch_record_tracked_under_locked(w, path);
    remove_subtree(w, path);
}

static void
handle_event(struct hs_watch *w, uint32_t m, int wd, const char *name)
{
    char full[PATH_MAX + NAME_MAX + 2];
    const struct hs_wdir *d;
    size_t slot;

    if (m & IN_Q_OVERFLOW) {
        hs_changeset_set_overflow_locked(w->cs);
        w->rescan_pending = 1;
        return;
    }
    if (!hs_intmap_get(&w->by_wd, wd, &slot)) {
        return;                 /* a watch already dropped */
    }
    d = &w->dirs[slot];
    if (m & IN_IGNORED) {
        drop_slot(w, slot);
        return;
    }
    if (name[0] == '\0') {
        /* A subdirectory's removal is normally handled through its
         * parent's event first, which drops this watch; what remains
         * here is a root or a directory of tracked files. */
        if (m & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
            int report_dir = !d->track_only;
            /* Copy: dir_gone frees d->path. */
            snprintf(full, sizeof(full), "%s", d->path);
            dir_gone(w, full, report_dir);
        }
        return;
    }
    if (join(full, sizeof(full), d->path, name) < 0) {
        hs_changeset_set_overflow_locked(w->cs);
        return;
    }
    if (d->track_only) {
        if (!(m & IN_ISDIR) && (m & CHANGE_MASK)
            && hs_strmap_get(&w->tracked_index, full, NULL)) {
            hs_watch_record_locked(w, full);
        }
        return;
    }
    size_t root_len = d->root_len;   /* d may move once watches change */
    const char *rel = relpath(full, root_len);
    if (m & IN_ISDIR) {
        if (hs_pathfilter_excluded_dir(w->filter, rel)) {
            return;
        }
        if (m & (IN_CREATE | IN_MOVED_TO)) {
            if (atomic_load(&w->mode) == HS_WATCH_INOTIFY) {
                watch_tree_locked(w, full, root_len, 1, 0);
            }
        } else if (m & (IN_DELETE | IN_MOVED_FROM)) {
            dir_gone(w, full, 1);
        }
        return;
    }
    if ((m & CHANGE_MASK) && !hs_pathfilter_is_temp(name)
        && !hs_pathfilter_excluded(w->filter, rel)) {
        hs_watch_record_locked(w, full);
    }
}

void
hs_watch_process_locked(struct hs_watch *w, const char *buf, size_t len)
{
    size_t off = 0;

    while (off + sizeof(struct inotify_event) <= len) {
        struct inotify_event ev;
        const char *name;
        char empty = '\0';
        memcpy(&ev, buf + off, sizeof(ev));
        off += sizeof(ev);
        if (ev.len > len - off) {
            break;              /* truncated: cannot happen with read(2) */
        }
        name = buf + off;
        if (ev.len == 0 || strnlen(name, ev.len) == ev.len) {
            /* No name, or one without its NUL: treat as the directory. */
            name = &empty;
        }
        off += ev.len;
        handle_event(w, ev.mask, ev.wd, name);
    }
}

static int
drain_into(struct hs_watch *w, char *buf, int process)
{
    for (int i = 0; i < MAX_READS; i++) {
        ssize_t n = read(w->fd, buf, READ_BUF);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN ? 0 : -errno;
        }
        if (n == 0) {
            return 0;
        }
        if (process) {
            hs_watch_process_locked(w, buf, (size_t)n);
        }
    }
    return 0;
}

int
hs_watch_drain_locked(struct hs_watch *w)
{
    alignas(struct inotify_event) char buf[READ_BUF];
    int rc;

    if (w->fd < 0) {
        return 0;
    }
    rc = drain_into(w, buf, 1);
    if (w->rescan_pending && atomic_load(&w->mode) == HS_WATCH_INOTIFY) {
        /* Directories created while events were lost have no watch yet.
         * Their files need no report: the overflow flag already says
         * that anything may have changed. */
        w->rescan_pending = 0;
        for (size_t i = 0; i < w->nroots; i++) {
            watch_tree_locked(w, w->roots[i], strlen(w->roots[i]), 0, 1);
        }
        /* What the new watches saw while the walk ran. */
        drain_into(w, buf, 1);
    }
    if (w->drop_pending) {
        /* Switched to polling: every queued event is recorded now, the
         * watches can go. The fd stays open (see struct hs_watch). */
        w->drop_pending = 0;
        for (size_t i = 0; i < w->ndirs; i++) {
            if (w->dirs[i].path != NULL) {
                inotify_rm_watch(w->fd, w->dirs[i].wd);
                drop_slot(w, i);
            }
        }
        drain_into(w, buf, 0);
    }
    return rc;
}

int
hs_watch_inotify_track_dir_locked(struct hs_watch *w, const char *dir)
{
    int r;

    if (atomic_load(&w->mode) != HS_WATCH_INOTIFY
        || hs_strmap_get(&w->by_path, dir, NULL)) {
        return 0;
    }
    r = add_dir_watch(w, dir, 0, 1);
    if (r == -ENOSPC) {
        hs_watch_fallback_locked(w, r);
        return 0;
    }
    return r < 0 ? r : 0;
}

static int
remember_root(struct hs_watch *w, char *root)
{
    for (size_t i = 0; i < w->nroots; i++) {
        if (strcmp(w->roots[i], root) == 0) {
            free(root);
            return 0;
        }
    }
    char **nr = realloc(w->roots, (w->nroots + 1) * sizeof(*nr));
    if (nr == NULL) {
        free(root);
        return -ENOMEM;
    }
    w->roots = nr;
    w->roots[w->nroots++] = root;
    return 0;
}

int
hs_watch_add_root(struct hs_watch *w, const char *dir)
{
    struct stat st;
    char *root = NULL;
    int rc;

    if (w == NULL || dir == NULL) {
        return -EINVAL;
    }
    rc = hs_watch_normpath(dir, &root);
    if (rc < 0) {
        return rc;
    }
    if (stat(root, &st) < 0) {
        rc = -errno;
        free(root);
        return rc;
    }
    if (!S_ISDIR(st.st_mode)) {
        free(root);
        return -ENOTDIR;
    }
    hs_changeset_lock(w->cs);
    if (atomic_load(&w->mode) == HS_WATCH_INOTIFY) {
        /* Apply what is queued first, so the map matches the disk. */
        hs_watch_drain_locked(w);
        rc = watch_tree_locked(w, root, strlen(root), 0, 0);
        if (w->drop_pending) {
            hs_watch_drain_locked(w);
        }
    }
    if (rc == 0) {
        rc = remember_root(w, root);
    } else {
        free(root);
    }
    hs_changeset_unlock(w->cs);
    return rc;
}

int
hs_watch_sync(struct hs_watch *w)
{
    int rc = 0;
    int n;

    if (w == NULL) {
        return -EINVAL;
    }
    hs_changeset_lock(w->cs);
    w->recorded = 0;
    if (w->fd >= 0) {
        rc = hs_watch_drain_locked(w);
    }
    if (atomic_load_explicit(&w->mode, memory_order_relaxed)
        == HS_WATCH_POLL) {
        hs_watch_poll_scan_locked(w);
    }
    n = w->recorded;
    hs_changeset_unlock(w->cs);
    return rc < 0 ? rc : n;
}
