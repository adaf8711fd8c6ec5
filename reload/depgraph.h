/* The module import graph and reload planning. Pure C: no I/O, no
 * Python. Nodes are project modules (by dotted name) with their file; an
 * edge importer -> imported says "importer must run again when imported
 * changed". Not thread-safe: the bridge mutates and plans it under the
 * reload write lock (or with the GIL held while importing).
 */
#ifndef HS_DEPGRAPH_H
#define HS_DEPGRAPH_H

#include <stddef.h>
#include <stdint.h>

/* Edge kinds (bit flags; one edge can carry both). */
#define HS_EDGE_BINDS 1u   /* "from m import f": copies names out of m */
#define HS_EDGE_HOLDS 2u   /* "import m" / import_module: holds m itself */

struct hs_graph;

struct hs_plan {
    int *order;        /* node ids, dependencies first; owned */
    int *group;        /* group[i]: strongly connected component index of
                          order[i]; members of one group are consecutive
                          and must be reloaded as one unit */
    size_t len;
    size_t ngroups;
};

/* New empty graph, NULL with errno on failure. */
struct hs_graph *
hs_graph_new(void);

/* NULL is fine. */
void
hs_graph_free(struct hs_graph *g);

/* The id (>= 0) of module `name`, creating the node if needed. Ids are
 * dense and stable, assigned in first-seen order. -ENOMEM on failure. */
int
hs_graph_node(struct hs_graph *g, const char *name);

/* The id of module `name` or of the module whose file is `path`, or
 * -ENOENT. O(1) average (hash tables). */
int
hs_graph_find(const struct hs_graph *g, const char *name);
int
hs_graph_find_file(const struct hs_graph *g, const char *path);

/* Set (or clear with NULL) the node's source file; replaces the previous
 * file in the file index. Returns 0 or -ENOMEM / -EINVAL (bad id). */
int
hs_graph_set_file(struct hs_graph *g, int id, const char *path);

/* Accessors; NULL / 0 for a bad id. Strings are borrowed from the graph
 * and valid until the node's next change or hs_graph_free. */
const char *
hs_graph_name(const struct hs_graph *g, int id);
const char *
hs_graph_file(const struct hs_graph *g, int id);
size_t
hs_graph_count(const struct hs_graph *g);

/* Measured cost of executing the module body once, in nanoseconds. */
void
hs_graph_set_exec_ns(struct hs_graph *g, int id, uint64_t ns);
uint64_t
hs_graph_exec_ns(const struct hs_graph *g, int id);

/* Add (or OR the kind into) the edge importer -> imported. Self edges
 * are ignored. Returns 0, -EINVAL (bad id) or -ENOMEM. */
int
hs_graph_add_edge(struct hs_graph *g, int importer, int imported,
                  unsigned kind);

/* Kind bits of the edge importer -> imported, 0 if there is none. */
unsigned
hs_graph_edge_kind(const struct hs_graph *g, int importer, int imported);

/* The i-th edge leaving `importer` (0 <= i < hs_graph_nimports): sets
 * *imported and *kind and returns 0, or -EINVAL for a bad id or index.
 * Lets callers walk a module's imports in O(its edges), in the order they
 * were added, instead of probing every node. */
size_t
hs_graph_nimports(const struct hs_graph *g, int importer);
int
hs_graph_import_at(const struct hs_graph *g, int importer, size_t i,
                   int *imported, unsigned *kind);

/* Drop every edge leaving `importer` (done before the module runs again,
 * so its import statements rebuild them). Returns 0 or -EINVAL. */
int
hs_graph_clear_imports(struct hs_graph *g, int importer);

/* Plan a reload: the changed nodes plus every node that reaches one of
 * them through edges (its importers, transitively), strongly connected
 * components collapsed into groups, in topological order with
 * dependencies first. Ties are broken by node id, so the order is
 * stable. Invalid or duplicate ids in `changed` are ignored. out is
 * overwritten (free it with hs_plan_free). Returns 0 or -ENOMEM.
 * Iterative (no recursion), O(V + E) of the affected subgraph. */
int
hs_graph_plan(const struct hs_graph *g, const int *changed, size_t nchanged,
              struct hs_plan *out);

/* Sum of hs_graph_exec_ns over the plan (predicted re-exec cost). */
uint64_t
hs_plan_cost_ns(const struct hs_graph *g, const struct hs_plan *p);

/* Free what p holds and zero it; NULL is fine. */
void
hs_plan_free(struct hs_plan *p);

#endif
