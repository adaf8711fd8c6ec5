/* Private to reload/: small open-addressing hash tables used by the change
 * set, the import graph and the watcher. Keys are borrowed (the owner keeps
 * the strings alive while they are in the map); values are size_t indices.
 * Not thread-safe: every user guards its tables with its own lock. */
#ifndef HS_STRMAP_H
#define HS_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct hs_strmap_slot {
    const char *key;        /* NULL: empty slot */
    uint64_t hash;
    size_t val;
};

/* Zero-initialise to get an empty map. */
struct hs_strmap {
    struct hs_strmap_slot *slots;
    size_t cap;             /* 0 or a power of two */
    size_t len;
};

/* FNV-1a over the NUL-terminated key. */
uint64_t
hs_strmap_hash(const char *key);

/* Insert or replace key -> val; key is borrowed. Returns 0 or -ENOMEM.
 * Thread: owner's lock. */
int
hs_strmap_put(struct hs_strmap *m, const char *key, size_t val);

/* 1 and *val set when key is present, else 0. val may be NULL. */
int
hs_strmap_get(const struct hs_strmap *m, const char *key, size_t *val);

/* Remove key; returns 1 if it was present, else 0. */
int
hs_strmap_del(struct hs_strmap *m, const char *key);

/* Remove every key, keeping the storage. */
void
hs_strmap_clear(struct hs_strmap *m);

/* Release the storage and zero the map. */
void
hs_strmap_free(struct hs_strmap *m);

struct hs_intmap_slot {
    int key;                /* < 0: empty slot */
    size_t val;
};

/* Non-negative int keys (inotify watch descriptors). Zero-initialise. */
struct hs_intmap {
    struct hs_intmap_slot *slots;
    size_t cap;
    size_t len;
};

/* key must be >= 0. Returns 0, -EINVAL or -ENOMEM. */
int
hs_intmap_put(struct hs_intmap *m, int key, size_t val);
int
hs_intmap_get(const struct hs_intmap *m, int key, size_t *val);
int
hs_intmap_del(struct hs_intmap *m, int key);
void
hs_intmap_free(struct hs_intmap *m);

#endif
