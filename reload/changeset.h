/* The change set: dirty paths + generation + overflow flag. Pure C (no
 * I/O, no Python), protected by its own mutex, which is a leaf lock: never
 * hold it while calling Python or waiting for another lock. */
#ifndef HS_CHANGESET_H
#define HS_CHANGESET_H

#include <stddef.h>
#include <stdint.h>

struct hs_changeset;

/* What hs_changeset_take_locked hands over; the caller owns it. */
struct hs_changes {
    char **paths;      /* absolute paths, each owned, in first-seen order */
    size_t len;
    int overflow;      /* events were lost: anything may have changed */
    uint64_t gen;      /* generation at the time of the take */
};

/* New empty set (generation 0). NULL with errno on failure.
 * Thread: any. GIL: not needed. Locks: none. */
struct hs_changeset *
hs_changeset_new(void);

/* NULL is fine. Thread: any (no other user left). */
void
hs_changeset_free(struct hs_changeset *cs);

/* Take and release the set's mutex. Thread: any. GIL: must NOT be held
 * while waiting (it is a leaf lock). */
void
hs_changeset_lock(struct hs_changeset *cs);
void
hs_changeset_unlock(struct hs_changeset *cs);

/* Record that path changed. Duplicates are folded (one entry per path
 * until the next take) but every call bumps the generation, so a reader
 * comparing generations sees the second save of the same file.
 * Returns 0 or -ENOMEM. Thread: any. Locks: cs held. */
int
hs_changeset_add_locked(struct hs_changeset *cs, const char *path);

/* Record that events were lost (IN_Q_OVERFLOW); bumps the generation.
 * Thread: any. Locks: cs held. */
void
hs_changeset_set_overflow_locked(struct hs_changeset *cs);

/* Move every recorded change into out (zeroed by this call) and empty the
 * set; the generation is kept. Returns 0 or -ENOMEM (set unchanged).
 * Thread: any. Locks: cs held. */
int
hs_changeset_take_locked(struct hs_changeset *cs, struct hs_changes *out);

/* Number of paths waiting. Thread: any. Locks: cs held. */
size_t
hs_changeset_pending_locked(const struct hs_changeset *cs);

/* The generation, read without the lock (relaxed atomic): a cheap "did
 * anything change since gen X" test before taking the lock.
 * Thread: any. GIL: any. Locks: none. */
uint64_t
hs_changeset_gen(const struct hs_changeset *cs);

/* Free what out holds and zero it; NULL is fine. */
void
hs_changes_free(struct hs_changes *out);

#endif
