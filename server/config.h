/* Command line and HOTSERVE_* environment parsing: no I/O beyond the
 * environment lookup the caller passes in, so it unit-tests. */
#ifndef HS_CONFIG_H
#define HS_CONFIG_H

#include <stddef.h>

#include "server/bindaddr.h"

/* What hs_config_parse asks the caller to do. */
enum hs_config_action {
    HS_CONFIG_RUN = 0,      /* serve */
    HS_CONFIG_HELP = 1,     /* print hs_config_usage() to stdout, exit 0 */
    HS_CONFIG_VERSION = 2,  /* print the version, exit 0 */
};

/* How changes are applied (--strategy). */
enum hs_strategy {
    HS_STRATEGY_AUTO = 0,       /* reload in-process, restart when needed */
    HS_STRATEGY_RESTART = 1,    /* every change is a full restart */
};

struct hs_strlist {
    char **items;           /* owned, each owned */
    size_t len;
};

struct hs_config {
    char *app_spec;         /* "MODULE[:ATTR]" as given */
    char *module;           /* "myproject.wsgi" */
    char *attr;             /* "application" unless given; without "()" */
    int factory;            /* call attr() to get the app: "ATTR()" or
                               --factory */
    struct hs_bindaddr bind;
    char *chdir;            /* --chdir DIR, NULL if not given */
    struct hs_strlist pythonpath;  /* --pythonpath DIR, repeatable */
    char *python;           /* --python PATH (a venv's interpreter) */
    unsigned max_connections;      /* --max-connections N (default 128) */
    unsigned timeout;              /* --timeout SECONDS idle (default 60) */
    size_t max_header_size;        /* --max-header-size BYTES (128 KiB) */
    size_t max_body_size;          /* --max-body-size BYTES (1 GiB) */
    unsigned shutdown_timeout;     /* --shutdown-timeout SECONDS (10) */
    int access_log;                /* 0 with --no-access-log */
    int quiet;                     /* -q/--quiet: no banner, no access log */
    /* Reloading. */
    int reload;                    /* 0 with --no-reload */
    int poll;                      /* --poll: stat polling, no inotify */
    struct hs_strlist watch;       /* --watch DIR, repeatable */
    struct hs_strlist exclude;     /* --exclude GLOB, repeatable */
    /* Restarts. */
    struct hs_strlist restart_on;  /* --restart-on GLOB, repeatable */
    unsigned restart_threshold;    /* --restart-threshold N (default 50) */
    enum hs_strategy strategy;     /* --strategy auto|restart */
    /* Django (runserver's flags; hotserve.django reads them from the
     * HOTSERVE_NOSTATIC / HOTSERVE_INSECURE variables main() exports). */
    int nostatic;                  /* --nostatic: no static files */
    int insecure;                  /* --insecure: static with DEBUG off */
};

/* Returns the value of an environment variable or NULL (getenv shape). */
typedef const char *(*hs_config_getenv_fn)(const char *name);

/* Fill cfg from defaults, then HOTSERVE_<OPTION> variables (read through
 * getenv_fn, e.g. HOTSERVE_BIND, HOTSERVE_MAX_CONNECTIONS,
 * HOTSERVE_NO_ACCESS_LOG=1; repeatable options take a ':'-separated
 * list for paths, ','-separated for globs), then argv (getopt_long; the
 * command line wins). cfg must be zeroed or freed before.
 * Returns an hs_config_action (>= 0), or -EINVAL for a usage error with a
 * one-line message (no "hotserve: " prefix) written to err.
 * Not reentrant (getopt). Thread: main. GIL: not needed. Locks: none. */
int
hs_config_parse(struct hs_config *cfg, int argc, char *const argv[],
                hs_config_getenv_fn getenv_fn, char *err, size_t errlen);

/* The --help text, documenting every option and its variable.
 * Thread: any. GIL: not needed. Locks: none. */
const char *
hs_config_usage(void);

/* Free everything cfg owns and zero it; NULL is fine.
 * Thread: any. GIL: not needed. Locks: none. */
void
hs_config_free(struct hs_config *cfg);

#endif
