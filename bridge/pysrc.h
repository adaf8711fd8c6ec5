/* The embedded Python package (generated from bridge/python/ at build
 * time by bridge/embed_py.py). */
#ifndef HS_PYSRC_H
#define HS_PYSRC_H

struct hs_pysrc {
    const char *name;     /* dotted module name, "hotserve.x" */
    int is_package;
    const char *source;   /* UTF-8 source text */
};

/* Terminated by an entry whose name is NULL. */
extern const struct hs_pysrc hs_pysrc_table[];

#endif
