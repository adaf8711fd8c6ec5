/* Private to reload/watch_*.c (and their unit test): the watcher's state,
 * shared by the inotify backend and the polling backend. The public API
 * is reload/watch.h. Every function here needs the change-set lock held,
 * because the change set's mutex guards the watcher's state as well. */
#ifndef HS_WATCH_INTERNAL_H
#define HS_WATCH_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reload/strmap.h"
#include "reload/watch.h"

struct hs_pathfilter;

/* A watched directory (inotify mode). */
struct hs_wdir {
    char *path;             /* absolute, normalized; owned. NULL: free slot */
    int wd;
    size_t root_len;        /* length of the root prefix of path */
    int track_only;         /* watched for tracked files only: outside the
                               roots, no recursion, report tracked names */
};

/* What stat says about a tracked file; exists == 0 when it is missing. */
struct hs_sig {
    int exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    int64_t ctime_ns;
};

struct hs_tracked {
    char *path;             /* absolute, normalized; owned */
    struct hs_sig sig;
};

struct hs_watch {
    struct hs_changeset *cs;            /* borrowed */
    const struct hs_pathfilter *filter; /* borrowed, may be NULL */
    _Atomic int mode;                   /* enum hs_watch_mode */
    /* The inotify fd, or -1. Kept open until hs_watch_free even after a
     * switch to polling, so a loop still polling the number never sees it
     * reused by an unrelated file. */
    int fd;

    struct hs_wdir *dirs;
    size_t ndirs;                       /* used slots, including free ones */
    size_t capdirs;
    size_t *free_slots;
    size_t nfree;
    struct hs_intmap by_wd;             /* wd -> slot */
    struct hs_strmap by_path;           /* path -> slot */

    struct hs_tracked *tracked;
    size_t ntracked;
    size_t captracked;
    struct hs_strmap tracked_index;     /* path -> index in tracked */

    char **roots;                       /* as normalized; owned */
    size_t nroots;

    int drop_pending;   /* switched to polling: remove the inotify watches
                           once the queued events are recorded */
    int rescan_pending; /* events were lost: walk the roots again for
                           directories created meanwhile */
    int recorded;       /* paths recorded by the current call */
    char notice[320];
    int has_notice;
};

/* Normalize path lexically: absolute (relative to the working directory),
 * no "." or ".." components, no "//", no trailing '/'. Symbolic links are
 * not resolved. *out is new. Returns 0, -EINVAL (empty), -ENAMETOOLONG,
 * -ENOMEM or the error of getcwd. */
int
hs_watch_normpath(const char *path, char **out);

/* Record path in the change set. On -ENOMEM the overflow flag is set
 * instead, so the change is not silently lost. */
void
hs_watch_record_locked(struct hs_watch *w, const char *path);

/* Record every tracked file at or below dir. */
void
hs_watch_record_tracked_under_locked(struct hs_watch *w, const char *dir);

/* The signature of path now (exists == 0 if stat says ENOENT or
 * ENOTDIR). Returns 0 or the negative errno of another stat failure. */
int
hs_watch_stat_sig(const char *path, struct hs_sig *sig);

/* Polling backend: stat every tracked file, record the ones whose
 * signature changed, remember the new signatures. */
void
hs_watch_poll_scan_locked(struct hs_watch *w);

/* Switch to polling because inotify failed with err (negative errno:
 * -ENOSPC, -EMFILE, ...): refresh the tracked signatures, set the mode and
 * a notice naming the fix. The watches are removed later by
 * hs_watch_finish_fallback_locked, after the queued events are recorded. */
void
hs_watch_fallback_locked(struct hs_watch *w, int err);

/* Inotify backend: watch dir (normalized) for the tracked files in it,
 * unless a root already covers it. Returns 0 or a negative errno. */
int
hs_watch_inotify_track_dir_locked(struct hs_watch *w, const char *dir);

/* Drain the inotify fd and, after a switch to polling, remove the
 * watches. Returns 0 or a negative errno from read. */
int
hs_watch_drain_locked(struct hs_watch *w);

/* Apply len bytes of inotify events (as read(2) returns them). Exposed for
 * the unit test, which feeds synthetic events (IN_Q_OVERFLOW). */
void
hs_watch_process_locked(struct hs_watch *w, const char *buf, size_t len);

/* hs_pathfilter_excluded without the temp-name rule, for directories:
 * temp names are file names, and a package may be called "sedentary". */
int
hs_pathfilter_excluded_dir(const struct hs_pathfilter *f, const char *rel);

#endif
