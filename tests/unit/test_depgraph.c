/* The import graph: nodes, files, edges, importer closure, SCC groups and
 * the dependencies-first order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reload/depgraph.h"

/* Create nodes named by the strings, in order: ids 0, 1, 2, ... */
static void
nodes(struct hs_graph *g, const char *const *names)
{
    for (int i = 0; names[i] != NULL; i++) {
        assert_int_equal(hs_graph_node(g, names[i]), i);
    }
}

static void
edge(struct hs_graph *g, int importer, int imported)
{
    assert_int_equal(hs_graph_add_edge(g, importer, imported,
                                       HS_EDGE_HOLDS), 0);
}

/* Plan for changed and compare with the expected order and groups. */
static void
expect_plan(const struct hs_graph *g, const int *changed, size_t nchanged,
            const int *order, const int *group, size_t len, size_t ngroups)
{
    struct hs_plan p;

    assert_int_equal(hs_graph_plan(g, changed, nchanged, &p), 0);
    assert_int_equal(p.len, len);
    assert_int_equal(p.ngroups, ngroups);
    for (size_t i = 0; i < len; i++) {
        if (p.order[i] != order[i] || p.group[i] != group[i]) {
            fail_msg("plan[%zu] = node %d group %d, want node %d group %d",
                     i, p.order[i], p.group[i], order[i], group[i]);
        }
    }
    hs_plan_free(&p);
}

static void
test_node_ids_are_dense_and_stable(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    assert_non_null(g);
    assert_int_equal(hs_graph_node(g, "app"), 0);
    assert_int_equal(hs_graph_node(g, "app.views"), 1);
    assert_int_equal(hs_graph_node(g, "app"), 0);
    assert_int_equal(hs_graph_count(g), 2);
    assert_string_equal(hs_graph_name(g, 1), "app.views");
    assert_int_equal(hs_graph_find(g, "app.views"), 1);
    assert_int_equal(hs_graph_find(g, "nope"), -ENOENT);
    assert_int_equal(hs_graph_node(g, ""), -EINVAL);
    assert_int_equal(hs_graph_node(g, NULL), -EINVAL);
    assert_null(hs_graph_name(g, 2));
    assert_null(hs_graph_name(g, -1));
    assert_null(hs_graph_file(g, 0));
    assert_int_equal(hs_graph_count(g), 2);
    hs_graph_free(g);
    hs_graph_free(NULL);
}

static void
test_set_file_replaces_index(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    static const char *const names[] = {"a", "b", NULL};
    nodes(g, names);
    assert_int_equal(hs_graph_set_file(g, 0, "/p/a.py"), 0);
    assert_int_equal(hs_graph_find_file(g, "/p/a.py"), 0);
    assert_string_equal(hs_graph_file(g, 0), "/p/a.py");
    /* Replacing drops the old name from the index. */
    assert_int_equal(hs_graph_set_file(g, 0, "/p/a/__init__.py"), 0);
    assert_int_equal(hs_graph_find_file(g, "/p/a.py"), -ENOENT);
    assert_int_equal(hs_graph_find_file(g, "/p/a/__init__.py"), 0);
    /* Setting the same file again is harmless. */
    assert_int_equal(hs_graph_set_file(g, 0, "/p/a/__init__.py"), 0);
    assert_int_equal(hs_graph_find_file(g, "/p/a/__init__.py"), 0);
    /* A later claim on a path wins; the loser letting go of its file
     * must not remove the winner's entry. */
    assert_int_equal(hs_graph_set_file(g, 1, "/p/shared.py"), 0);
    assert_int_equal(hs_graph_set_file(g, 0, "/p/shared.py"), 0);
    assert_int_equal(hs_graph_find_file(g, "/p/shared.py"), 0);
    assert_int_equal(hs_graph_find_file(g, "/p/a/__init__.py"), -ENOENT);
    assert_int_equal(hs_graph_set_file(g, 1, "/p/b.py"), 0);
    assert_int_equal(hs_graph_find_file(g, "/p/shared.py"), 0);
    assert_int_equal(hs_graph_find_file(g, "/p/b.py"), 1);
    /* Clearing. */
    assert_int_equal(hs_graph_set_file(g, 1, NULL), 0);
    assert_null(hs_graph_file(g, 1));
    assert_int_equal(hs_graph_find_file(g, "/p/b.py"), -ENOENT);
    assert_int_equal(hs_graph_set_file(g, 7, "/p/x.py"), -EINVAL);
    assert_int_equal(hs_graph_set_file(g, -1, "/p/x.py"), -EINVAL);
    assert_int_equal(hs_graph_find_file(g, "/p/x.py"), -ENOENT);
    hs_graph_free(g);
}

static void
test_edges_kinds_and_bad_input(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    static const char *const names[] = {"a", "b", NULL};
    nodes(g, names);
    assert_int_equal(hs_graph_add_edge(g, 0, 1, HS_EDGE_BINDS), 0);
    assert_int_equal(hs_graph_edge_kind(g, 0, 1), HS_EDGE_BINDS);
    assert_int_equal(hs_graph_add_edge(g, 0, 1, HS_EDGE_HOLDS), 0);
    assert_int_equal(hs_graph_edge_kind(g, 0, 1),
                     HS_EDGE_BINDS | HS_EDGE_HOLDS);
    assert_int_equal(hs_graph_edge_kind(g, 1, 0), 0);
    /* Self edges are ignored. */
    assert_int_equal(hs_graph_add_edge(g, 0, 0, HS_EDGE_HOLDS), 0);
    assert_int_equal(hs_graph_edge_kind(g, 0, 0), 0);
    assert_int_equal(hs_graph_add_edge(g, 0, 2, HS_EDGE_HOLDS), -EINVAL);
    assert_int_equal(hs_graph_add_edge(g, -1, 0, HS_EDGE_HOLDS), -EINVAL);
    assert_int_equal(hs_graph_add_edge(g, 1, 0, 0), -EINVAL);
    assert_int_equal(hs_graph_edge_kind(g, 1, 0), 0);
    assert_int_equal(hs_graph_edge_kind(g, 0, 9), 0);
    /* A duplicate edge is one edge: one importer in the closure. */
    int changed = 1;
    static const int order[] = {1, 0};
    static const int group[] = {0, 1};
    expect_plan(g, &changed, 1, order, group, 2, 2);
    hs_graph_free(g);
}

static void
test_chain_order_dependencies_first(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    /* a imports b imports c: ids run against the dependency order, so
     * id ties cannot produce the expected order by accident. */
    static const char *const names[] = {"a", "b", "c", NULL};
    nodes(g, names);
    edge(g, 0, 1);
    edge(g, 1, 2);
    int c = 2;
    static const int o1[] = {2, 1, 0};
    static const int g1[] = {0, 1, 2};
    expect_plan(g, &c, 1, o1, g1, 3, 3);
    int b = 1;
    static const int o2[] = {1, 0};
    static const int g2[] = {0, 1};
    expect_plan(g, &b, 1, o2, g2, 2, 2);
    int a = 0;
    static const int o3[] = {0};
    static const int g3[] = {0};
    expect_plan(g, &a, 1, o3, g3, 1, 1);
    hs_graph_free(g);
}

static void
test_closure_leaves_out_unrelated(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    /* 0 views -> 2 models; 1 urls -> 0 views; 3 admin -> 2 models;
     * 2 models -> 4 utils (a dependency, not an importer); 5 other. */
    static const char *const names[] = {
        "views", "urls", "models", "admin", "utils", "other", NULL,
    };
    nodes(g, names);
    edge(g, 0, 2);
    edge(g, 1, 0);
    edge(g, 3, 2);
    edge(g, 2, 4);
    edge(g, 5, 4);
    int changed = 2;
    /* models first; then views (0) and admin (3) are both ready and go by
     * id; urls waits for views. */
    static const int order[] = {2, 0, 1, 3};
    static const int group[] = {0, 1, 2, 3};
    expect_plan(g, &changed, 1, order, group, 4, 4);
    hs_graph_free(g);
}

static void
test_diamond_order(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    static const char *const names[] = {
        "top", "right", "left", "base", NULL,
    };
    nodes(g, names);
    edge(g, 0, 2);
    edge(g, 0, 1);
    edge(g, 2, 3);
    edge(g, 1, 3);
    int changed = 3;
    static const int order[] = {3, 1, 2, 0};
    static const int group[] = {0, 1, 2, 3};
    expect_plan(g, &changed, 1, order, group, 4, 4);
    /* Both sides changed: base is not in the plan. */
    int both[] = {2, 1};
    static const int o2[] = {1, 2, 0};
    static const int g2[] = {0, 1, 2};
    expect_plan(g, both, 2, o2, g2, 3, 3);
    hs_graph_free(g);
}

static void
test_cycle_is_one_group_in_place(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    /* x <-> y form a cycle, y imports w, z imports x, q imports z,
     * r imports w directly. */
    static const char *const names[] = {
        "q", "z", "y", "x", "w", "r", NULL,
    };
    nodes(g, names);
    edge(g, 3, 2);   /* x -> y */
    edge(g, 2, 3);   /* y -> x */
    edge(g, 2, 4);   /* y -> w */
    edge(g, 1, 3);   /* z -> x */
    edge(g, 0, 1);   /* q -> z */
    edge(g, 5, 4);   /* r -> w */
    int changed = 4;
    /* w, then {y, x} (ready together with r; the group's smallest id 2
     * beats r's 5), then z, then q... and r, whose id 5 loses to z (1)
     * and q (0) as they become ready. Inside the cycle: y was seen first
     * and imports x, so a fresh import finishes x first. */
    static const int order[] = {4, 3, 2, 1, 0, 5};
    static const int group[] = {0, 1, 1, 2, 3, 4};
    expect_plan(g, &changed, 1, order, group, 6, 5);
    /* Changing a cycle member reloads the whole cycle. */
    int x = 3;
    static const int o2[] = {3, 2, 1, 0};
    static const int g2[] = {0, 0, 1, 2};
    expect_plan(g, &x, 1, o2, g2, 4, 3);
    hs_graph_free(g);
}

static void
test_three_cycle_between_dependency_and_importer(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    /* a -> b -> c -> a, d imports a, a imports e. */
    static const char *const names[] = {"d", "c", "a", "e", "b", NULL};
    nodes(g, names);
    edge(g, 2, 4);
    edge(g, 4, 1);
    edge(g, 1, 2);
    edge(g, 0, 2);
    edge(g, 2, 3);
    int changed = 3;
    /* The cycle entered at c (smallest id): c imports a, a imports b, b's
     * import of c finds it running; b finishes, then a, then c. */
    static const int order[] = {3, 4, 2, 1, 0};
    static const int group[] = {0, 1, 1, 1, 2};
    expect_plan(g, &changed, 1, order, group, 5, 3);
    hs_graph_free(g);
}

/* "app imports a; a: TOKEN = ..., import b, COMBO = TOKEN + b.TOKEN;
 * b imports a": a fresh process runs a's body up to "import b", runs all
 * of b, then finishes a. Re-executing in that order gives the same COMBO
 * as a restart, whichever of the two changed. */
static void
test_cycle_members_in_import_order(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    static const char *const names[] = {"app", "a", "b", "c", NULL};
    nodes(g, names);
    edge(g, 0, 1);   /* app -> a */
    edge(g, 1, 2);   /* a -> b */
    edge(g, 2, 1);   /* b -> a (a is still running) */
    int b = 2;
    static const int o1[] = {2, 1, 0};
    static const int g1[] = {0, 0, 1};
    expect_plan(g, &b, 1, o1, g1, 3, 2);
    int a = 1;
    expect_plan(g, &a, 1, o1, g1, 3, 2);
    /* a also imports c (after b), and c imports a: b, c, then a. */
    edge(g, 1, 3);
    edge(g, 3, 1);
    static const int o2[] = {2, 3, 1, 0};
    static const int g2[] = {0, 0, 0, 1};
    expect_plan(g, &b, 1, o2, g2, 4, 2);
    /* Re-executing a rebuilds its edges in statement order: c first. */
    assert_int_equal(hs_graph_clear_imports(g, 1), 0);
    edge(g, 1, 3);
    edge(g, 1, 2);
    static const int o3[] = {3, 2, 1, 0};
    expect_plan(g, &b, 1, o3, g2, 4, 2);
    hs_graph_free(g);
}

static int
cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x;
    int b = *(const int *)y;

    return (a > b) - (a < b);
}

/* The same graph built with edges in another order plans the same. */
static void
test_order_is_stable(void **state)
{
    (void)state;
    enum { N = 40 };
    int edges[200][2];
    int ne = 0;
    unsigned seed = 12345;
    for (int i = 0; i < 200; i++) {
        seed = seed * 1103515245u + 12345u;
        int a = (int)((seed >> 8) % N);
        seed = seed * 1103515245u + 12345u;
        int b = (int)((seed >> 8) % N);
        edges[ne][0] = a;
        edges[ne][1] = b;
        ne++;
    }
    struct hs_graph *g1 = hs_graph_new();
    struct hs_graph *g2 = hs_graph_new();
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_int_equal(hs_graph_node(g1, name), i);
        assert_int_equal(hs_graph_node(g2, name), i);
    }
    for (int i = 0; i < ne; i++) {
        assert_int_equal(hs_graph_add_edge(g1, edges[i][0], edges[i][1],
                                           HS_EDGE_HOLDS), 0);
        int k = ne - 1 - i;
        assert_int_equal(hs_graph_add_edge(g2, edges[k][0], edges[k][1],
                                           HS_EDGE_BINDS), 0);
    }
    for (int c = 0; c < N; c++) {
        int changed[2] = {c, (c * 7) % N};
        struct hs_plan p1, p2;
        assert_int_equal(hs_graph_plan(g1, changed, 2, &p1), 0);
        assert_int_equal(hs_graph_plan(g2, changed, 2, &p2), 0);
        assert_int_equal(p1.len, p2.len);
        assert_int_equal(p1.ngroups, p2.ngroups);
        assert_memory_equal(p1.group, p2.group, p1.len * sizeof(int));
        /* Groups and their order do not depend on the edge order; the
         * order inside a cycle follows it (import order), so compare
         * each group's members as a set. */
        for (size_t i = 0; i < p1.len;) {
            size_t j = i;
            while (j < p1.len && p1.group[j] == p1.group[i]) {
                j++;
            }
            qsort(p1.order + i, j - i, sizeof(int), cmp_int);
            qsort(p2.order + i, j - i, sizeof(int), cmp_int);
            i = j;
        }
        assert_memory_equal(p1.order, p2.order, p1.len * sizeof(int));
        /* And exactly the same again on the same graph. */
        struct hs_plan p3, p4;
        assert_int_equal(hs_graph_plan(g1, changed, 2, &p3), 0);
        assert_int_equal(hs_graph_plan(g1, changed, 2, &p4), 0);
        assert_memory_equal(p3.order, p4.order, p3.len * sizeof(int));
        hs_plan_free(&p4);
        hs_plan_free(&p1);
        hs_plan_free(&p2);
        hs_plan_free(&p3);
    }
    hs_graph_free(g1);
    hs_graph_free(g2);
}

static void
test_invalid_and_duplicate_ids_ignored(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    static const char *const names[] = {"a", "b", "c", NULL};
    nodes(g, names);
    edge(g, 0, 1);
    edge(g, 1, 2);
    int changed[] = {2, 2, -1, 99, 2, -ENOENT};
    static const int order[] = {2, 1, 0};
    static const int group[] = {0, 1, 2};
    expect_plan(g, changed, 6, order, group, 3, 3);
    int junk[] = {-5, 3};
    struct hs_plan p;
    assert_int_equal(hs_graph_plan(g, junk, 2, &p), 0);
    assert_int_equal(p.len, 0);
    assert_int_equal(p.ngroups, 0);
    hs_plan_free(&p);
    assert_int_equal(hs_graph_plan(g, NULL, 0, &p), 0);
    assert_int_equal(p.len, 0);
    hs_plan_free(&p);
    assert_int_equal(hs_graph_plan(g, NULL, 1, &p), -EINVAL);
    hs_plan_free(NULL);
    /* An empty graph. */
    struct hs_graph *e = hs_graph_new();
    int zero = 0;
    assert_int_equal(hs_graph_plan(e, &zero, 1, &p), 0);
    assert_int_equal(p.len, 0);
    hs_plan_free(&p);
    hs_graph_free(e);
    hs_graph_free(g);
}

static void
test_imports_listed_in_insertion_order(void **state)
{
    struct hs_graph *g = hs_graph_new();
    int a = hs_graph_node(g, "a"), b = hs_graph_node(g, "b");
    int c = hs_graph_node(g, "c"), to;
    unsigned kind;

    (void)state;
    assert_int_equal(hs_graph_add_edge(g, a, c, HS_EDGE_HOLDS), 0);
    assert_int_equal(hs_graph_add_edge(g, a, b, HS_EDGE_BINDS), 0);
    assert_int_equal(hs_graph_add_edge(g, a, c, HS_EDGE_BINDS), 0);
    assert_int_equal(hs_graph_nimports(g, a), 2);
    assert_int_equal(hs_graph_import_at(g, a, 0, &to, &kind), 0);
    assert_int_equal(to, c);
    assert_int_equal(kind, HS_EDGE_HOLDS | HS_EDGE_BINDS);
    assert_int_equal(hs_graph_import_at(g, a, 1, &to, &kind), 0);
    assert_int_equal(to, b);
    assert_int_equal(kind, HS_EDGE_BINDS);
    assert_int_equal(hs_graph_import_at(g, a, 2, &to, &kind), -EINVAL);
    assert_int_equal(hs_graph_nimports(g, b), 0);
    assert_int_equal(hs_graph_nimports(g, 99), 0);
    assert_int_equal(hs_graph_import_at(g, 99, 0, &to, &kind), -EINVAL);
    hs_graph_free(g);
}

static void
test_clear_imports_drops_both_directions(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    static const char *const names[] = {"a", "b", "c", NULL};
    nodes(g, names);
    edge(g, 0, 1);
    edge(g, 0, 2);
    edge(g, 1, 2);
    assert_int_equal(hs_graph_clear_imports(g, 0), 0);
    assert_int_equal(hs_graph_edge_kind(g, 0, 1), 0);
    assert_int_equal(hs_graph_edge_kind(g, 0, 2), 0);
    assert_int_equal(hs_graph_edge_kind(g, 1, 2), HS_EDGE_HOLDS);
    /* a is no longer an importer of c (the reverse lists were updated). */
    int c = 2;
    static const int o1[] = {2, 1};
    static const int g1[] = {0, 1};
    expect_plan(g, &c, 1, o1, g1, 2, 2);
    /* Re-executing a rebuilds its edges. */
    edge(g, 0, 2);
    static const int o2[] = {2, 0, 1};
    static const int gr2[] = {0, 1, 2};
    expect_plan(g, &c, 1, o2, gr2, 3, 3);
    assert_int_equal(hs_graph_clear_imports(g, 3), -EINVAL);
    assert_int_equal(hs_graph_clear_imports(g, -1), -EINVAL);
    hs_graph_free(g);
}

static void
test_plan_cost(void **state)
{
    (void)state;
    struct hs_graph *g = hs_graph_new();
    static const char *const names[] = {"a", "b", "c", NULL};
    nodes(g, names);
    edge(g, 0, 1);
    hs_graph_set_exec_ns(g, 0, 1000);
    hs_graph_set_exec_ns(g, 1, 250);
    hs_graph_set_exec_ns(g, 2, 7);
    hs_graph_set_exec_ns(g, 9, 7);
    assert_int_equal(hs_graph_exec_ns(g, 1), 250);
    assert_int_equal(hs_graph_exec_ns(g, 9), 0);
    int b = 1;
    struct hs_plan p;
    assert_int_equal(hs_graph_plan(g, &b, 1, &p), 0);
    assert_int_equal(hs_plan_cost_ns(g, &p), 1250);
    hs_plan_free(&p);
    assert_int_equal(hs_plan_cost_ns(g, NULL), 0);
    hs_graph_free(g);
}

/* A reference: Kahn's algorithm on an acyclic graph taking the smallest
 * ready id each step, written independently (O(n^2) scan, no heap). */
static int *
reference_order(const char *in_plan, int n, int *const *imports,
                const int *nimports, int **importers, const int *nimporters,
                int *len)
{
    int *pending = calloc((size_t)n, sizeof(int));
    char *done = calloc((size_t)n, 1);
    int *out = malloc((size_t)n * sizeof(int));
    int k = 0;
    for (int u = 0; u < n; u++) {
        if (!in_plan[u]) {
            continue;
        }
        for (int e = 0; e < nimports[u]; e++) {
            pending[u] += in_plan[imports[u][e]] ? 1 : 0;
        }
    }
    for (;;) {
        int best = -1;
        for (int u = 0; u < n; u++) {
            if (in_plan[u] && !done[u] && pending[u] == 0) {
                best = u;
                break;
            }
        }
        if (best < 0) {
            break;
        }
        done[best] = 1;
        out[k++] = best;
        for (int e = 0; e < nimporters[best]; e++) {
            pending[importers[best][e]]--;
        }
    }
    free(pending);
    free(done);
    *len = k;
    return out;
}

static void
test_10k_layered_graph(void **state)
{
    (void)state;
    enum { L = 100, W = 100, N = L * W, FAN = 3 };
    struct hs_graph *g = hs_graph_new();
    int *id = malloc(N * sizeof(int));      /* (layer, i) -> node id */
    int *imports[N];
    int nimports[N];
    int *importers[N];
    int nimporters[N];
    char name[32];

    /* Ids are handed out in a scrambled order so that they do not follow
     * the layers. */
    for (int k = 0; k < N; k++) {
        int slot = (int)(((long)k * 7919) % N);
        snprintf(name, sizeof(name), "pkg.l%d.m%d", slot / W, slot % W);
        int v = hs_graph_node(g, name);
        assert_int_equal(v, k);
        id[slot] = v;
    }
    for (int v = 0; v < N; v++) {
        imports[v] = malloc(FAN * sizeof(int));
        nimports[v] = 0;
        importers[v] = malloc(W * FAN * sizeof(int));
        nimporters[v] = 0;
    }
    for (int l = 1; l < L; l++) {
        for (int i = 0; i < W; i++) {
            int u = id[l * W + i];
            int t[FAN] = {i, (i * 7 + 3) % W, (i + 1) % W};
            for (int f = 0; f < FAN; f++) {
                int v = id[(l - 1) * W + t[f]];
                if (hs_graph_edge_kind(g, u, v) != 0) {
                    continue;
                }
                edge(g, u, v);
                imports[u][nimports[u]++] = v;
                importers[v][nimporters[v]++] = u;
            }
        }
    }
    assert_int_equal(hs_graph_count(g), N);

    /* A bottom-layer module: most of the graph imports it. */
    int changed = id[0 * W + 42];
    char *in_plan = calloc(N, 1);
    int *queue = malloc(N * sizeof(int));
    int qn = 0;
    in_plan[changed] = 1;
    queue[qn++] = changed;
    for (int k = 0; k < qn; k++) {
        for (int e = 0; e < nimporters[queue[k]]; e++) {
            int u = importers[queue[k]][e];
            if (!in_plan[u]) {
                in_plan[u] = 1;
                queue[qn++] = u;
            }
        }
    }
    assert_true(qn > N / 2);

    struct hs_plan p;
    assert_int_equal(hs_graph_plan(g, &changed, 1, &p), 0);
    assert_int_equal(p.len, (size_t)qn);
    assert_int_equal(p.ngroups, (size_t)qn);   /* acyclic */
    int rlen;
    int *ref = reference_order(in_plan, N, imports, nimports, importers,
                               nimporters, &rlen);
    assert_int_equal(rlen, qn);
    for (int k = 0; k < qn; k++) {
        if (p.order[k] != ref[k] || p.group[k] != k) {
            fail_msg("plan[%d] = %d (group %d), reference %d", k,
                     p.order[k], p.group[k], ref[k]);
        }
    }
    hs_plan_free(&p);

    /* A top-layer module: nothing imports it. */
    changed = id[(L - 1) * W + 5];
    assert_int_equal(hs_graph_plan(g, &changed, 1, &p), 0);
    assert_int_equal(p.len, 1);
    assert_int_equal(p.order[0], changed);
    hs_plan_free(&p);

    free(ref);
    free(in_plan);
    free(queue);
    for (int v = 0; v < N; v++) {
        free(imports[v]);
        free(importers[v]);
    }
    free(id);
    hs_graph_free(g);
}

/* 10k-deep chains: the DFS must not recurse. */
static void
test_10k_chain_and_ring(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct hs_graph *g = hs_graph_new();
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_int_equal(hs_graph_node(g, name), i);
    }
    /* m0 imports m1 imports ... m9999. */
    for (int i = 0; i + 1 < N; i++) {
        edge(g, i, i + 1);
    }
    int changed = N - 1;
    struct hs_plan p;
    assert_int_equal(hs_graph_plan(g, &changed, 1, &p), 0);
    assert_int_equal(p.len, N);
    assert_int_equal(p.ngroups, N);
    for (int k = 0; k < N; k++) {
        assert_int_equal(p.order[k], N - 1 - k);
        assert_int_equal(p.group[k], k);
    }
    hs_plan_free(&p);

    /* Close the ring: one strongly connected group of 10k, entered at m0
     * whose imports lead down to m9999, which finishes first; then an
     * outside importer. */
    edge(g, N - 1, 0);
    assert_int_equal(hs_graph_node(g, "outside"), N);
    edge(g, N, N / 2);
    changed = 123;
    assert_int_equal(hs_graph_plan(g, &changed, 1, &p), 0);
    assert_int_equal(p.len, N + 1);
    assert_int_equal(p.ngroups, 2);
    for (int k = 0; k < N; k++) {
        assert_int_equal(p.order[k], N - 1 - k);
        assert_int_equal(p.group[k], 0);
    }
    assert_int_equal(p.order[N], N);
    assert_int_equal(p.group[N], 1);
    hs_plan_free(&p);
    hs_graph_free(g);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_ids_are_dense_and_stable),
        cmocka_unit_test(test_set_file_replaces_index),
        cmocka_unit_test(test_edges_kinds_and_bad_input),
        cmocka_unit_test(test_chain_order_dependencies_first),
        cmocka_unit_test(test_closure_leaves_out_unrelated),
        cmocka_unit_test(test_diamond_order),
        cmocka_unit_test(test_cycle_is_one_group_in_place),
        cmocka_unit_test(test_three_cycle_between_dependency_and_importer),
        cmocka_unit_test(test_cycle_members_in_import_order),
        cmocka_unit_test(test_order_is_stable),
        cmocka_unit_test(test_invalid_and_duplicate_ids_ignored),
        cmocka_unit_test(test_clear_imports_drops_both_directions),
        cmocka_unit_test(test_imports_listed_in_insertion_order),
        cmocka_unit_test(test_plan_cost),
        cmocka_unit_test(test_10k_layered_graph),
        cmocka_unit_test(test_10k_chain_and_ring),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests_name("depgraph", tests, NULL, NULL);
}
