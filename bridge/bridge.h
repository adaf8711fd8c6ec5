/* The server's one door into the Python side, free of Python.h: start the
 * interpreter, load the app (with reloading), and stop it all. */
#ifndef HS_BRIDGE_H
#define HS_BRIDGE_H

#include <stddef.h>

#include "bridge/py.h"

struct hs_watch;
struct hs_changeset;
struct hs_wsgi;
struct hs_bridge;

struct hs_bridge_config {
    struct hs_py_config py;
    const char *app_spec;          /* for messages */
    const char *module;
    const char *attr;
    int factory;
    int reload;                    /* 0: --no-reload */
    struct hs_watch *watch;        /* borrowed, NULL without reload */
    struct hs_changeset *changes;  /* borrowed, NULL without reload */
    const char *const *roots;      /* watched roots (absolute) */
    size_t nroots;
};

/* Start Python and load the app. When the app's own code fails to import
 * and reloading is on, the bridge still opens: every request gets the
 * error page until a change fixes it. Returns the bridge, or NULL after
 * logging one "hotserve: error: ..." line (bad app spec, app not
 * importable without reload, Python failed to start).
 * Thread: main. GIL: not held before or after. */
struct hs_bridge *
hs_bridge_open(const struct hs_bridge_config *cfg);

/* The dispatcher to hand requests to (owned by the bridge). */
struct hs_wsgi *
hs_bridge_wsgi(struct hs_bridge *b);

/* "Python 3.11.2 (/usr)" for the banner (valid until close). */
const char *
hs_bridge_describe(const struct hs_bridge *b);

/* Free the app, the reloader and the interpreter. Every thread that ran
 * Python must be joined first (stop MHD before). NULL is fine.
 * Thread: main. GIL: not held. */
void
hs_bridge_close(struct hs_bridge *b);

#endif
