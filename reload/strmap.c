/* Linear-probing hash tables with backward-shift deletion (no tombstones,
 * so lookups stay short however many keys come and go). */
#include "reload/strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 16

uint64_t
hs_strmap_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    /* FNV's low bits mix poorly for short keys; fold the high half in. */
    return h ^ (h >> 32);
}

/* Keep the load factor at or below 3/4. */
static int
needs_grow(size_t len, size_t cap)
{
    return cap == 0 || (len + 1) * 4 > cap * 3;
}

static int
str_grow(struct hs_strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : MIN_CAP;
    struct hs_strmap_slot *ns = calloc(ncap, sizeof(*ns));

    if (ns == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        struct hs_strmap_slot *s = &m->slots[i];
        if (s->key == NULL) {
            continue;
        }
        size_t j = (size_t)s->hash & (ncap - 1);
        while (ns[j].key != NULL) {
            j = (j + 1) & (ncap - 1);
        }
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t
str_probe(const struct hs_strmap *m, const char *key, uint64_t h)
{
    size_t i = (size_t)h & (m->cap - 1);

    while (m->slots[i].key != NULL) {
        if (m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0) {
            break;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

int
hs_strmap_put(struct hs_strmap *m, const char *key, size_t val)
{
    uint64_t h = hs_strmap_hash(key);

    if (needs_grow(m->len, m->cap) && str_grow(m) < 0) {
        return -ENOMEM;
    }
    size_t i = str_probe(m, key, h);
    if (m->slots[i].key == NULL) {
        m->len++;
    }
    m->slots[i].key = key;
    m->slots[i].hash = h;
    m->slots[i].val = val;
    return 0;
}

int
hs_strmap_get(const struct hs_strmap *m, const char *key, size_t *val)
{
    if (m->len == 0) {
        return 0;
    }
    size_t i = str_probe(m, key, hs_strmap_hash(key));
    if (m->slots[i].key == NULL) {
        return 0;
    }
    if (val != NULL) {
        *val = m->slots[i].val;
    }
    return 1;
}

int
hs_strmap_del(struct hs_strmap *m, const char *key)
{
    if (m->len == 0) {
        return 0;
    }
    size_t mask = m->cap - 1;
    size_t i = str_probe(m, key, hs_strmap_hash(key));
    if (m->slots[i].key == NULL) {
        return 0;
    }
    /* Shift back every following entry that would otherwise become
     * unreachable from its home slot. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].key == NULL) {
            break;
        }
        size_t home = (size_t)m->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = NULL;
    m->len--;
    return 1;
}

void
hs_strmap_clear(struct hs_strmap *m)
{
    if (m->len > 0) {
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
        m->len = 0;
    }
}

void
hs_strmap_free(struct hs_strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static size_t
int_home(int key, size_t cap)
{
    uint64_t h = (uint64_t)(unsigned)key * 0x9e3779b97f4a7c15ull;

    return (size_t)(h >> 32) & (cap - 1);
}

static int
int_grow(struct hs_intmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : MIN_CAP;
    struct hs_intmap_slot *ns = malloc(ncap * sizeof(*ns));

    if (ns == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < ncap; i++) {
        ns[i].key = -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key < 0) {
            continue;
        }
        size_t j = int_home(m->slots[i].key, ncap);
        while (ns[j].key >= 0) {
            j = (j + 1) & (ncap - 1);
        }
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static size_t
int_probe(const struct hs_intmap *m, int key)
{
    size_t i = int_home(key, m->cap);

    while (m->slots[i].key >= 0 && m->slots[i].key != key) {
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

int
hs_intmap_put(struct hs_intmap *m, int key, size_t val)
{
    if (key < 0) {
        return -EINVAL;
    }
    if (needs_grow(m->len, m->cap) && int_grow(m) < 0) {
        return -ENOMEM;
    }
    size_t i = int_probe(m, key);
    if (m->slots[i].key < 0) {
        m->len++;
    }
    m->slots[i].key = key;
    m->slots[i].val = val;
    return 0;
}

int
hs_intmap_get(const struct hs_intmap *m, int key, size_t *val)
{
    if (key < 0 || m->len == 0) {
        return 0;
    }
    size_t i = int_probe(m, key);
    if (m->slots[i].key < 0) {
        return 0;
    }
    if (val != NULL) {
        *val = m->slots[i].val;
    }
    return 1;
}

int
hs_intmap_del(struct hs_intmap *m, int key)
{
    if (key < 0 || m->len == 0) {
        return 0;
    }
    size_t mask = m->cap - 1;
    size_t i = int_probe(m, key);
    if (m->slots[i].key < 0) {
        return 0;
    }
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].key < 0) {
            break;
        }
        size_t home = int_home(m->slots[j].key, m->cap);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = -1;
    m->len--;
    return 1;
}

void
hs_intmap_free(struct hs_intmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}
