/* Backend-neutral change detection: raw inotify on Linux (watch_inotify.c),
 * stat polling as the fallback (watch_poll.c). Both feed one change set.
 * The library never prints: conditions worth telling the user about are
 * reported through hs_watch_notice().
 */
#ifndef HS_WATCH_H
#define HS_WATCH_H

#include <stddef.h>

struct hs_changeset;
struct hs_pathfilter;
struct hs_watch;

enum hs_watch_mode {
    HS_WATCH_INOTIFY = 0,
    HS_WATCH_POLL = 1,
};

/* New watcher feeding cs (borrowed; must outlive the watcher), ignoring
 * what filter excludes (borrowed). force_poll selects the polling backend;
 * otherwise inotify is used and polling only when inotify cannot work.
 * NULL with errno on failure. Thread: any. GIL: not needed. */
struct hs_watch *
hs_watch_new(struct hs_changeset *cs, const struct hs_pathfilter *filter,
             int force_poll);

/* Stop watching and free; NULL is fine. */
void
hs_watch_free(struct hs_watch *w);

/* Watch a directory tree (one inotify watch per directory, every
 * non-excluded subdirectory). If inotify runs out of watches (ENOSPC) or
 * instances (EMFILE) the watcher switches itself to polling and sets a
 * notice. Returns 0, or a negative errno (-ENOENT, -ENOTDIR, -EACCES).
 * Thread: any. Locks: takes the change-set lock. */
int
hs_watch_add_root(struct hs_watch *w, const char *dir);

/* Track a file explicitly (an imported module's source, a template):
 * the polling backend stats exactly these at each sync; files outside
 * every root are also watched by inotify (their directory is added,
 * without recursion). Returns 0 or a negative errno.
 * Thread: any. Locks: takes the change-set lock. */
int
hs_watch_track(struct hs_watch *w, const char *path);

/* The barrier: record in the change set every change that completed
 * before this call (inotify: read the fd until EAGAIN; new directories get
 * watches and are scanned; IN_Q_OVERFLOW sets the overflow flag; poll:
 * stat the tracked files and compare mtime_ns, size, inode). Only final
 * names are recorded (temp files of atomic saves are skipped).
 * Returns the number of paths added (>= 0) or a negative errno.
 * Thread: any. GIL: must not be held (it is cheap, but the lock is a leaf).
 * Locks: takes the change-set lock. */
int
hs_watch_sync(struct hs_watch *w);

/* The inotify fd to poll for readability (the loop thread calls
 * hs_watch_sync when it is readable), or -1 in polling mode. */
int
hs_watch_fd(const struct hs_watch *w);

enum hs_watch_mode
hs_watch_mode(const struct hs_watch *w);

/* A pending one-line message for the user, e.g. "inotify watch limit
 * reached (fs.inotify.max_user_watches=8192): switched to polling; raise it
 * with: sudo sysctl fs.inotify.max_user_watches=524288", copied into buf;
 * returns 1 if there was one (and clears it), else 0. Thread: any. */
int
hs_watch_notice(struct hs_watch *w, char *buf, size_t len);

#endif
