/* The module import graph and reload planning.
 *
 * A plan is the importer closure of the changed nodes, condensed into
 * strongly connected components (iterative Tarjan), then ordered with
 * Kahn's algorithm where the ready component with the smallest member id
 * goes first: the order of the components is a function of the graph
 * alone, not of the order edges were added in. Inside a cycle the members
 * follow the order a fresh import would finish them in, which depends on
 * the order of the import statements (the order edges were added). */
#include "reload/depgraph.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "reload/strmap.h"

struct edge {
    int to;
    unsigned kind;
};

struct node {
    char *name;             /* owned; key in by_name */
    char *file;             /* owned or NULL; key in by_file */
    uint64_t exec_ns;
    struct edge *out;       /* modules this one imports */
    size_t nout;
    size_t capout;
    int *in;                /* modules importing this one */
    size_t nin;
    size_t capin;
};

struct hs_graph {
    struct node *nodes;
    size_t len;
    size_t cap;
    struct hs_strmap by_name;
    struct hs_strmap by_file;
};

struct hs_graph *
hs_graph_new(void)
{
    return calloc(1, sizeof(struct hs_graph));
}

void
hs_graph_free(struct hs_graph *g)
{
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < g->len; i++) {
        free(g->nodes[i].name);
        free(g->nodes[i].file);
        free(g->nodes[i].out);
        free(g->nodes[i].in);
    }
    free(g->nodes);
    hs_strmap_free(&g->by_name);
    hs_strmap_free(&g->by_file);
    free(g);
}

static int
valid(const struct hs_graph *g, int id)
{
    return g != NULL && id >= 0 && (size_t)id < g->len;
}

int
hs_graph_node(struct hs_graph *g, const char *name)
{
    size_t id;
    char *copy;

    if (g == NULL || name == NULL || name[0] == '\0') {
        return -EINVAL;
    }
    if (hs_strmap_get(&g->by_name, name, &id)) {
        return (int)id;
    }
    if (g->len >= INT_MAX) {
        return -ENOMEM;
    }
    if (g->len == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 64;
        struct node *nn = realloc(g->nodes, ncap * sizeof(*nn));
        if (nn == NULL) {
            return -ENOMEM;
        }
        g->nodes = nn;
        g->cap = ncap;
    }
    copy = strdup(name);
    if (copy == NULL) {
        return -ENOMEM;
    }
    if (hs_strmap_put(&g->by_name, copy, g->len) < 0) {
        free(copy);
        return -ENOMEM;
    }
    memset(&g->nodes[g->len], 0, sizeof(g->nodes[0]));
    g->nodes[g->len].name = copy;
    return (int)g->len++;
}

int
hs_graph_find(const struct hs_graph *g, const char *name)
{
    size_t id;

    if (g == NULL || name == NULL || !hs_strmap_get(&g->by_name, name, &id)) {
        return -ENOENT;
    }
    return (int)id;
}

int
hs_graph_find_file(const struct hs_graph *g, const char *path)
{
    size_t id;

    if (g == NULL || path == NULL || !hs_strmap_get(&g->by_file, path, &id)) {
        return -ENOENT;
    }
    return (int)id;
}

int
hs_graph_set_file(struct hs_graph *g, int id, const char *path)
{
    struct node *n;
    char *copy = NULL;
    size_t owner;

    if (!valid(g, id)) {
        return -EINVAL;
    }
    n = &g->nodes[id];
    if (path != NULL) {
        if (n->file != NULL && strcmp(n->file, path) == 0) {
            /* Same file; make sure the index points here again in case
             * another node claimed it meanwhile. */
            return hs_strmap_put(&g->by_file, n->file, (size_t)id);
        }
        copy = strdup(path);
        if (copy == NULL) {
            return -ENOMEM;
        }
        if (hs_strmap_put(&g->by_file, copy, (size_t)id) < 0) {
            free(copy);
            return -ENOMEM;
        }
    }
    if (n->file != NULL) {
        /* Another node may have taken the same path since; leave it. */
        if (hs_strmap_get(&g->by_file, n->file, &owner)
            && owner == (size_t)id) {
            hs_strmap_del(&g->by_file, n->file);
        }
        free(n->file);
    }
    n->file = copy;
    return 0;
}

const char *
hs_graph_name(const struct hs_graph *g, int id)
{
    return valid(g, id) ? g->nodes[id].name : NULL;
}

const char *
hs_graph_file(const struct hs_graph *g, int id)
{
    return valid(g, id) ? g->nodes[id].file : NULL;
}

size_t
hs_graph_count(const struct hs_graph *g)
{
    return g != NULL ? g->len : 0;
}

void
hs_graph_set_exec_ns(struct hs_graph *g, int id, uint64_t ns)
{
    if (valid(g, id)) {
        g->nodes[id].exec_ns = ns;
    }
}

uint64_t
hs_graph_exec_ns(const struct hs_graph *g, int id)
{
    return valid(g, id) ? g->nodes[id].exec_ns : 0;
}

/* Make room for one more element in a growable array. */
static int
reserve(void **arr, size_t *cap, size_t len, size_t elem)
{
    if (len < *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap * 2 : 4;
    void *na = realloc(*arr, ncap * elem);
    if (na == NULL) {
        return -ENOMEM;
    }
    *arr = na;
    *cap = ncap;
    return 0;
}

int
hs_graph_add_edge(struct hs_graph *g, int importer, int imported,
                  unsigned kind)
{
    struct node *a;
    struct node *b;

    if (!valid(g, importer) || !valid(g, imported)
        || (kind & (HS_EDGE_BINDS | HS_EDGE_HOLDS)) == 0) {
        return -EINVAL;
    }
    if (importer == imported) {
        return 0;
    }
    kind &= HS_EDGE_BINDS | HS_EDGE_HOLDS;
    a = &g->nodes[importer];
    b = &g->nodes[imported];
    for (size_t i = 0; i < a->nout; i++) {
        if (a->out[i].to == imported) {
            a->out[i].kind |= kind;
            return 0;
        }
    }
    /* Reserve both sides first so a failure leaves the graph as it was. */
    if (reserve((void **)&a->out, &a->capout, a->nout, sizeof(*a->out)) < 0
        || reserve((void **)&b->in, &b->capin, b->nin, sizeof(*b->in)) < 0) {
        return -ENOMEM;
    }
    a->out[a->nout].to = imported;
    a->out[a->nout].kind = kind;
    a->nout++;
    b->in[b->nin++] = importer;
    return 0;
}

unsigned
hs_graph_edge_kind(const struct hs_graph *g, int importer, int imported)
{
    if (!valid(g, importer) || !valid(g, imported)) {
        return 0;
    }
    const struct node *a = &g->nodes[importer];
    for (size_t i = 0; i < a->nout; i++) {
        if (a->out[i].to == imported) {
            return a->out[i].kind;
        }
    }
    return 0;
}

size_t
hs_graph_nimports(const struct hs_graph *g, int importer)
{
    return valid(g, importer) ? g->nodes[importer].nout : 0;
}

int
hs_graph_import_at(const struct hs_graph *g, int importer, size_t i,
                   int *imported, unsigned *kind)
{
    if (!valid(g, importer) || i >= g->nodes[importer].nout) {
        return -EINVAL;
    }
    *imported = g->nodes[importer].out[i].to;
    *kind = g->nodes[importer].out[i].kind;
    return 0;
}

int
hs_graph_clear_imports(struct hs_graph *g, int importer)
{
    struct node *a;

    if (!valid(g, importer)) {
        return -EINVAL;
    }
    a = &g->nodes[importer];
    for (size_t i = 0; i < a->nout; i++) {
        struct node *b = &g->nodes[a->out[i].to];
        for (size_t k = 0; k < b->nin; k++) {
            if (b->in[k] == importer) {
                b->in[k] = b->in[--b->nin];
                break;
            }
        }
    }
    a->nout = 0;
    return 0;
}

static int
cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x;
    int b = *(const int *)y;

    return (a > b) - (a < b);
}

/* The ready set of Kahn's algorithm: a two-level bitmap over local
 * indices (a component is represented by its smallest member, which is
 * unique), so "take the smallest" is a few word scans instead of a heap
 * walk. */
struct ready {
    uint64_t *bits;         /* one bit per local index */
    uint64_t *sum;          /* one bit per nonzero word of bits */
};

/* Index of the lowest set bit of x (x != 0), without compiler builtins:
 * isolate the bit, multiply by a de Bruijn sequence, look the top six
 * bits up. */
static int
lowest_bit(uint64_t x)
{
    static const unsigned char debruijn[64] = {
        0, 1, 56, 2, 57, 49, 28, 3, 61, 58, 42, 50, 38, 29, 17, 4,
        62, 47, 59, 36, 45, 43, 51, 22, 53, 39, 33, 30, 24, 18, 12, 5,
        63, 55, 48, 27, 60, 41, 37, 16, 46, 35, 44, 21, 52, 32, 23, 11,
        54, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
    };

    return debruijn[((x & (~x + 1)) * 0x03f79d71b4ca8b09ull) >> 58];
}

static void
ready_add(struct ready *r, int k)
{
    size_t w = (size_t)k >> 6;

    r->bits[w] |= 1ull << (k & 63);
    r->sum[w >> 6] |= 1ull << (w & 63);
}

/* Remove and return the smallest member; the set must not be empty. */
static int
ready_pop(struct ready *r)
{
    size_t s = 0;
    size_t w;
    int b;

    while (r->sum[s] == 0) {
        s++;
    }
    w = s * 64 + (size_t)lowest_bit(r->sum[s]);
    b = lowest_bit(r->bits[w]);
    r->bits[w] &= r->bits[w] - 1;
    if (r->bits[w] == 0) {
        r->sum[s] &= ~(1ull << (w & 63));
    }
    return (int)(w * 64 + (size_t)b);
}

struct frame {
    int v;                  /* local index */
    size_t pos;             /* next out edge to look at */
};

/* Tarjan's SCC algorithm without recursion over the n affected nodes
 * (local indices; aff maps local -> node id, local maps node id ->
 * local + 1 or 0 when unaffected). Fills comp[] and returns the count. */
static int
tarjan(const struct hs_graph *g, const int *aff, const int *local, int n,
       int *comp, int *idx, int *low, int *stk, char *onstk,
       struct frame *fr)
{
    int next = 0;
    int ncomp = 0;
    int sp = 0;

    for (int i = 0; i < n; i++) {
        idx[i] = -1;
    }
    for (int r = 0; r < n; r++) {
        int fp = 0;
        if (idx[r] >= 0) {
            continue;
        }
        idx[r] = low[r] = next++;
        stk[sp++] = r;
        onstk[r] = 1;
        fr[fp].v = r;
        fr[fp].pos = 0;
        fp++;
        while (fp > 0) {
            struct frame *f = &fr[fp - 1];
            int v = f->v;
            const struct node *nv = &g->nodes[aff[v]];
            if (f->pos < nv->nout) {
                int w = local[nv->out[f->pos++].to] - 1;
                if (w < 0) {
                    continue;
                }
                if (idx[w] < 0) {
                    idx[w] = low[w] = next++;
                    stk[sp++] = w;
                    onstk[w] = 1;
                    fr[fp].v = w;
                    fr[fp].pos = 0;
                    fp++;
                } else if (onstk[w] && idx[w] < low[v]) {
                    low[v] = idx[w];
                }
                continue;
            }
            fp--;
            if (low[v] == idx[v]) {
                int w;
                do {
                    w = stk[--sp];
                    onstk[w] = 0;
                    comp[w] = ncomp;
                } while (w != v);
                ncomp++;
            }
            if (fp > 0 && low[v] < low[fr[fp - 1].v]) {
                low[fr[fp - 1].v] = low[v];
            }
        }
    }
    return ncomp;
}

/* Write the members of cycle c in the order a fresh import finishes them:
 * the member seen first (smallest id) starts, its imports run in the
 * order they happened (edge insertion order), each module finishes after
 * the ones it imports (post-order), and an import of a member still
 * running is skipped, as Python hands out the partly initialised module.
 * For "a imports b, b imports a" entered through a: b, then a. Iterative.
 * seen must be all zero for the members. Returns the new pos. */
static size_t
emit_cycle(const struct hs_graph *g, const int *aff, const int *local,
           const int *comp, int c, int first, char *seen, struct frame *fr,
           int *order, int *group, size_t pos, int gi)
{
    int fp = 0;

    seen[first] = 1;
    fr[fp].v = first;
    fr[fp].pos = 0;
    fp++;
    while (fp > 0) {
        struct frame *f = &fr[fp - 1];
        const struct node *nd = &g->nodes[aff[f->v]];
        if (f->pos < nd->nout) {
            int w = local[nd->out[f->pos++].to] - 1;
            if (w >= 0 && comp[w] == c && !seen[w]) {
                seen[w] = 1;
                fr[fp].v = w;
                fr[fp].pos = 0;
                fp++;
            }
            continue;
        }
        order[pos] = aff[f->v];
        group[pos] = gi;
        pos++;
        fp--;
    }
    return pos;
}

/* Condense the n affected nodes into components and write them to
 * order/group, dependencies first, ties by smallest member id, members of
 * a cycle in import order (emit_cycle). work holds 6n ints of scratch, r
 * an empty ready set for n. Returns the number of groups. */
static size_t
condense(const struct hs_graph *g, const int *aff, const int *local, int n,
         int *work, char *onstk, struct frame *fr, struct ready *r,
         int *order, int *group)
{
    int *comp = work;
    int *idx = work + n;
    int *low = work + 2 * n;
    int *stk = work + 3 * n;
    int *indeg = work + 4 * n;
    int *key = work + 5 * n;
    int ncomp = tarjan(g, aff, local, n, comp, idx, low, stk, onstk, fr);

    /* Members of each component in ascending id: counting sort. */
    int *count = idx;
    int *start = low;
    int *members = stk;
    for (int c = 0; c < ncomp; c++) {
        count[c] = 0;
        indeg[c] = 0;
    }
    for (int i = 0; i < n; i++) {
        count[comp[i]]++;
    }
    for (int c = 0, s = 0; c < ncomp; c++) {
        start[c] = s;
        s += count[c];
        count[c] = 0;
    }
    for (int i = 0; i < n; i++) {
        int c = comp[i];
        members[start[c] + count[c]++] = i;
    }
    for (int c = 0; c < ncomp; c++) {
        key[c] = members[start[c]];
    }
    /* A component waits for every component it imports from. */
    for (int i = 0; i < n; i++) {
        const struct node *nd = &g->nodes[aff[i]];
        for (size_t e = 0; e < nd->nout; e++) {
            int w = local[nd->out[e].to] - 1;
            if (w >= 0 && comp[w] != comp[i]) {
                indeg[comp[i]]++;
            }
        }
    }
    for (int c = 0; c < ncomp; c++) {
        if (indeg[c] == 0) {
            ready_add(r, key[c]);
        }
    }
    size_t pos = 0;
    size_t ngroups = 0;
    for (size_t left = (size_t)ncomp; left > 0; left--) {
        int c = comp[ready_pop(r)];
        if (count[c] == 1) {
            order[pos] = aff[members[start[c]]];
            group[pos] = (int)ngroups;
            pos++;
        } else {
            /* onstk is all zero again once Tarjan is done. */
            pos = emit_cycle(g, aff, local, comp, c, members[start[c]],
                             onstk, fr, order, group, pos, (int)ngroups);
        }
        ngroups++;
        for (int k = 0; k < count[c]; k++) {
            const struct node *nd = &g->nodes[aff[members[start[c] + k]]];
            for (size_t e = 0; e < nd->nin; e++) {
                /* Importers of an affected node are affected. */
                int u = local[nd->in[e]] - 1;
                assert(u >= 0);
                if (comp[u] != c && --indeg[comp[u]] == 0) {
                    ready_add(r, key[comp[u]]);
                }
            }
        }
    }
    /* The condensation is acyclic, so every component was emitted. */
    assert(pos == (size_t)n);
    (void)pos;
    return ngroups;
}

int
hs_graph_plan(const struct hs_graph *g, const int *changed, size_t nchanged,
              struct hs_plan *out)
{
    size_t V = hs_graph_count(g);
    int *local = NULL;
    int *aff = NULL;
    int *work = NULL;
    uint64_t *bitmap = NULL;
    char *onstk = NULL;
    struct frame *fr = NULL;
    int *order = NULL;
    int *group = NULL;
    int n = 0;
    int rc = -ENOMEM;

    if (out == NULL || (changed == NULL && nchanged > 0)) {
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (V == 0) {
        return 0;
    }
    local = calloc(V, sizeof(*local));
    aff = malloc(V * sizeof(*aff));
    if (local == NULL || aff == NULL) {
        goto done;
    }
    /* The closure: changed nodes and everything importing them. */
    for (size_t i = 0; i < nchanged; i++) {
        int c = changed[i];
        if (c >= 0 && (size_t)c < V && local[c] == 0) {
            local[c] = 1;
            aff[n++] = c;
        }
    }
    for (int k = 0; k < n; k++) {
        const struct node *nd = &g->nodes[aff[k]];
        for (size_t e = 0; e < nd->nin; e++) {
            int u = nd->in[e];
            if (local[u] == 0) {
                local[u] = 1;
                aff[n++] = u;
            }
        }
    }
    if (n == 0) {
        rc = 0;
        goto done;
    }
    /* Local indices follow node ids, so "smallest member id" is
     * "smallest local index" below. A large closure is put in id order
     * by one pass over the marks, a small one by sorting. */
    if ((size_t)n * 16 < V) {
        qsort(aff, (size_t)n, sizeof(*aff), cmp_int);
    } else {
        int k = 0;
        for (size_t v = 0; v < V; v++) {
            if (local[v] != 0) {
                aff[k++] = (int)v;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        local[aff[i]] = i + 1;
    }

    size_t nbits = (size_t)n / 64 + 1;
    work = malloc((size_t)n * 6 * sizeof(*work));
    bitmap = calloc(nbits + nbits / 64 + 1, sizeof(*bitmap));
    onstk = calloc((size_t)n, 1);
    fr = malloc((size_t)n * sizeof(*fr));
    order = malloc((size_t)n * sizeof(*order));
    group = malloc((size_t)n * sizeof(*group));
    if (work == NULL || bitmap == NULL || onstk == NULL || fr == NULL
        || order == NULL || group == NULL) {
        goto done;
    }
    struct ready r = { bitmap, bitmap + nbits };
    out->ngroups = condense(g, aff, local, n, work, onstk, fr, &r, order,
                            group);
    out->order = order;
    out->group = group;
    out->len = (size_t)n;
    order = NULL;
    group = NULL;
    rc = 0;

done:
    free(local);
    free(aff);
    free(work);
    free(bitmap);
    free(onstk);
    free(fr);
    free(order);
    free(group);
    return rc;
}

uint64_t
hs_plan_cost_ns(const struct hs_graph *g, const struct hs_plan *p)
{
    uint64_t sum = 0;

    if (p == NULL) {
        return 0;
    }
    for (size_t i = 0; i < p->len; i++) {
        sum += hs_graph_exec_ns(g, p->order[i]);
    }
    return sum;
}

void
hs_plan_free(struct hs_plan *p)
{
    if (p == NULL) {
        return;
    }
    free(p->order);
    free(p->group);
    memset(p, 0, sizeof(*p));
}
