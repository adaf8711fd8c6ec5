/* hotserve: the command line entry point. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "server/server.h"

static const char *
env_lookup(const char *name)
{
    return getenv(name);
}

int
main(int argc, char **argv)
{
    struct hs_server s;
    char err[512];
    int rc;

    memset(&s, 0, sizeof(s));
    s.argc = argc;
    s.argv = argv;
    rc = hs_config_parse(&s.cfg, argc, argv, env_lookup, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "hotserve: error: %s\n"
                "Try 'hotserve --help' for more information.\n", err);
        hs_config_free(&s.cfg);
        return 2;
    }
    if (rc == HS_CONFIG_HELP) {
        fputs(hs_config_usage(), stdout);
        hs_config_free(&s.cfg);
        return 0;
    }
    if (rc == HS_CONFIG_VERSION) {
        printf("hotserve %s\n", HS_VERSION);
        hs_config_free(&s.cfg);
        return 0;
    }
    /* For hotserve.django in the embedded interpreter (and kept across
     * restarts, which re-parse the same command line anyway). */
    if (s.cfg.nostatic) {
        setenv("HOTSERVE_NOSTATIC", "1", 1);
    }
    if (s.cfg.insecure) {
        setenv("HOTSERVE_INSECURE", "1", 1);
    }
    rc = hs_server_run(&s);
    hs_config_free(&s.cfg);
    return rc;
}
