/* libFuzzer target: command line and HOTSERVE_* parsing (server/config.c)
 * with a fake getenv. Input: NUL-separated fields; a field of the form
 * "HOTSERVE_NAME=value" sets that variable (first one wins), every other
 * field is the next argv element after "hotserve".
 *
 * Checked: the result is RUN, HELP, VERSION or -EINVAL; the error text is
 * NUL-terminated inside the buffer, non-empty on failure and one line
 * (unless the input holds a newline); a failure leaves the config zeroed;
 * a RUN config has the application, values inside the documented ranges,
 * no empty list item, and no access log when quiet; the caller's argv is
 * not reordered; a second parse of the same input gives the same result
 * and message (getopt state is reset). LeakSanitizer (in the fuzzing
 * build) checks that every path frees what it allocated.
 */
#include <errno.h>
#include <string.h>

#include "server/config.h"
#include "tests/fuzz/fuzz.h"

#define MAX_ARGS 64
#define MAX_ENV 32
#define ERRLEN 160

struct fake_env {
    const char *name[MAX_ENV];
    size_t name_len[MAX_ENV];
    const char *value[MAX_ENV];
    size_t n;
};

/* getenv has no context argument. */
static struct fake_env env;

static const char *
fake_getenv(const char *name)
{
    for (size_t i = 0; i < env.n; i++) {
        if (strlen(name) == env.name_len[i] &&
            strncmp(name, env.name[i], env.name_len[i]) == 0)
            return env.value[i];
    }
    return NULL;
}

static int
all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return 0;
    }
    return 1;
}

static void
check_list(const struct hs_strlist *l)
{
    FUZZ_CHECK(l->len == 0 || l->items != NULL);
    for (size_t i = 0; i < l->len; i++)
        FUZZ_CHECK(l->items[i] != NULL && l->items[i][0] != '\0');
}

static void
check_run(const struct hs_config *c)
{
    FUZZ_CHECK(c->app_spec != NULL && c->module != NULL && c->attr != NULL);
    FUZZ_CHECK(c->module[0] != '\0' && c->attr[0] != '\0');
    FUZZ_CHECK(strncmp(c->app_spec, c->module, strlen(c->module)) == 0);
    FUZZ_CHECK(c->max_connections >= 1 && c->max_connections <= 10000);
    FUZZ_CHECK(c->timeout <= 86400);
    FUZZ_CHECK(c->shutdown_timeout <= 3600);
    FUZZ_CHECK(c->max_header_size >= 1024 &&
               c->max_header_size <= ((size_t)64 << 20));
    FUZZ_CHECK(c->bind.host[0] != '\0');
    FUZZ_CHECK(memchr(c->bind.host, '\0', sizeof(c->bind.host)) != NULL);
    FUZZ_CHECK(!c->quiet || !c->access_log);
    FUZZ_CHECK(c->chdir == NULL || c->chdir[0] != '\0');
    FUZZ_CHECK(c->python == NULL || c->python[0] != '\0');
    check_list(&c->pythonpath);
    check_list(&c->watch);
    check_list(&c->exclude);
}

static int
parse_once(int argc, char **argv, char *err, struct hs_config *cfg)
{
    char *copy[MAX_ARGS + 2];
    int rc;

    memcpy(copy, argv, (size_t)(argc + 1) * sizeof(*argv));
    memset(cfg, 0, sizeof(*cfg));
    memset(err, 'x', ERRLEN);
    rc = hs_config_parse(cfg, argc, argv, fake_getenv, err, ERRLEN);
    FUZZ_CHECK(rc == HS_CONFIG_RUN || rc == HS_CONFIG_HELP ||
               rc == HS_CONFIG_VERSION || rc == -EINVAL);
    FUZZ_CHECK(memchr(err, '\0', ERRLEN) != NULL);
    FUZZ_CHECK(memcmp(copy, argv, (size_t)(argc + 1) * sizeof(*argv)) == 0);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *argv[MAX_ARGS + 2];
    int argc = 1;
    char err[ERRLEN], err2[ERRLEN];
    struct hs_config cfg, cfg2;
    int rc, rc2;
    int has_newline;

    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    has_newline = memchr(data, '\n', size) != NULL;
    argv[0] = (char *)"hotserve";
    memset(&env, 0, sizeof(env));
    /* Each NUL ends a field; what follows the last NUL is a field only
     * when non-empty, so the empty input means "no arguments". */
    for (char *p = text; p < text + size; p += strlen(p) + 1) {
        char *eq = strchr(p, '=');

        if (strncmp(p, "HOTSERVE_", 9) == 0 && eq != NULL) {
            if (env.n < MAX_ENV) {
                env.name[env.n] = p;
                env.name_len[env.n] = (size_t)(eq - p);
                env.value[env.n] = eq + 1;
                env.n++;
            }
        } else if (argc < MAX_ARGS) {
            argv[argc++] = p;
        }
    }
    argv[argc] = NULL;

    rc = parse_once(argc, argv, err, &cfg);
    if (rc < 0) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(has_newline || strchr(err, '\n') == NULL);
        FUZZ_CHECK(all_zero(&cfg, sizeof(cfg)));
    } else if (rc == HS_CONFIG_RUN) {
        check_run(&cfg);
    }
    rc2 = parse_once(argc, argv, err2, &cfg2);
    FUZZ_CHECK(rc2 == rc && strcmp(err, err2) == 0);
    hs_config_free(&cfg);
    hs_config_free(&cfg2);
    hs_config_free(&cfg2);      /* freeing twice is allowed: it zeroes */
    free(text);
    return 0;
}
