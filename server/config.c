/* Command line and HOTSERVE_* environment parsing.
 *
 * Order of precedence: built-in defaults, then HOTSERVE_<OPTION> variables,
 * then the command line. Every option goes through apply_option() whether
 * it came from the environment or argv, so both are validated the same way
 * and an error names where the bad value came from ("--timeout: ..." or
 * "HOTSERVE_TIMEOUT: ..."). The first error is kept and reported, except
 * that --help and --version always win (so "hotserve --frob --help" still
 * shows the help).
 */
#include "server/config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_BIND "127.0.0.1:8000"
#define DEFAULT_ATTR "application"
#define DEFAULT_MAX_CONNECTIONS 128u
#define DEFAULT_TIMEOUT 60u
#define DEFAULT_MAX_HEADER_SIZE ((size_t)128 * 1024)
#define DEFAULT_MAX_BODY_SIZE ((size_t)1024 * 1024 * 1024)
#define DEFAULT_SHUTDOWN_TIMEOUT 10u
#define DEFAULT_RESTART_THRESHOLD 50u

#define USAGE_LINE "usage: hotserve [OPTIONS] MODULE[:ATTR]"

enum opt_id {
    OPT_BIND = 'b',
    OPT_HELP = 'h',
    OPT_QUIET = 'q',
    OPT_VERSION = 'V',
    OPT_CHDIR = 256,
    OPT_PYTHONPATH,
    OPT_PYTHON,
    OPT_MAX_CONNECTIONS,
    OPT_TIMEOUT,
    OPT_MAX_HEADER_SIZE,
    OPT_MAX_BODY_SIZE,
    OPT_SHUTDOWN_TIMEOUT,
    OPT_NO_ACCESS_LOG,
    OPT_NO_RELOAD,
    OPT_POLL,
    OPT_WATCH,
    OPT_EXCLUDE,
    OPT_FACTORY,
    OPT_RESTART_ON,
    OPT_RESTART_THRESHOLD,
    OPT_STRATEGY,
    OPT_NOSTATIC,       /* Django: runserver's --nostatic / --insecure */
    OPT_INSECURE,
};

static const char short_opts[] = ":b:hqV";

static const struct option long_opts[] = {
    {"bind", required_argument, NULL, OPT_BIND},
    {"chdir", required_argument, NULL, OPT_CHDIR},
    {"pythonpath", required_argument, NULL, OPT_PYTHONPATH},
    {"python", required_argument, NULL, OPT_PYTHON},
    {"factory", no_argument, NULL, OPT_FACTORY},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-header-size", required_argument, NULL, OPT_MAX_HEADER_SIZE},
    {"max-body-size", required_argument, NULL, OPT_MAX_BODY_SIZE},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT},
    {"no-access-log", no_argument, NULL, OPT_NO_ACCESS_LOG},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"no-reload", no_argument, NULL, OPT_NO_RELOAD},
    {"poll", no_argument, NULL, OPT_POLL},
    {"nostatic", no_argument, NULL, OPT_NOSTATIC},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"watch", required_argument, NULL, OPT_WATCH},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"restart-on", required_argument, NULL, OPT_RESTART_ON},
    {"restart-threshold", required_argument, NULL, OPT_RESTART_THRESHOLD},
    {"strategy", required_argument, NULL, OPT_STRATEGY},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* The variables read before argv, in this order. HOTSERVE_APP (the
 * positional) is handled separately. */
static const struct {
    const char *name;
    int id;
} env_opts[] = {
    {"HOTSERVE_BIND", OPT_BIND},
    {"HOTSERVE_CHDIR", OPT_CHDIR},
    {"HOTSERVE_PYTHONPATH", OPT_PYTHONPATH},
    {"HOTSERVE_PYTHON", OPT_PYTHON},
    {"HOTSERVE_FACTORY", OPT_FACTORY},
    {"HOTSERVE_MAX_CONNECTIONS", OPT_MAX_CONNECTIONS},
    {"HOTSERVE_TIMEOUT", OPT_TIMEOUT},
    {"HOTSERVE_MAX_HEADER_SIZE", OPT_MAX_HEADER_SIZE},
    {"HOTSERVE_MAX_BODY_SIZE", OPT_MAX_BODY_SIZE},
    {"HOTSERVE_SHUTDOWN_TIMEOUT", OPT_SHUTDOWN_TIMEOUT},
    {"HOTSERVE_NO_ACCESS_LOG", OPT_NO_ACCESS_LOG},
    {"HOTSERVE_QUIET", OPT_QUIET},
    {"HOTSERVE_NO_RELOAD", OPT_NO_RELOAD},
    {"HOTSERVE_POLL", OPT_POLL},
    {"HOTSERVE_WATCH", OPT_WATCH},
    {"HOTSERVE_EXCLUDE", OPT_EXCLUDE},
    {"HOTSERVE_RESTART_ON", OPT_RESTART_ON},
    {"HOTSERVE_RESTART_THRESHOLD", OPT_RESTART_THRESHOLD},
    {"HOTSERVE_STRATEGY", OPT_STRATEGY},
    {"HOTSERVE_NOSTATIC", OPT_NOSTATIC},
    {"HOTSERVE_INSECURE", OPT_INSECURE},
};

/* State of one hs_config_parse call. */
struct parse_state {
    int from_env;           /* the value being applied came from a variable */
    int argv_pythonpath;    /* argv gave one: env entries were dropped */
    int argv_watch;
    int argv_exclude;
    int argv_restart_on;
    int help;
    int version;
    int rc;                 /* first error, 0 if none */
    char *err;
    size_t errlen;
};

static void
fail(struct parse_state *st, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keep the first error only: later ones are usually consequences. */
static void
fail(struct parse_state *st, int rc, const char *fmt, ...)
{
    va_list ap;

    if (st->rc != 0)
        return;
    st->rc = rc;
    if (st->err == NULL || st->errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(st->err, st->errlen, fmt, ap);
    va_end(ap);
}

static void
fail_nomem(struct parse_state *st)
{
    fail(st, -ENOMEM, "out of memory");
}

static const char *
long_name(int id)
{
    size_t i;

    for (i = 0; long_opts[i].name != NULL; i++) {
        if (long_opts[i].val == id)
            return long_opts[i].name;
    }
    return "?";
}

static void
strlist_clear(struct hs_strlist *l)
{
    size_t i;

    for (i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

static int
strlist_append(struct hs_strlist *l, const char *s, size_t n)
{
    char **items;
    char *copy;

    copy = strndup(s, n);
    if (copy == NULL)
        return -ENOMEM;
    items = realloc(l->items, (l->len + 1) * sizeof(*items));
    if (items == NULL) {
        free(copy);
        return -ENOMEM;
    }
    items[l->len++] = copy;
    l->items = items;
    return 0;
}

/* Append each non-empty sep-separated item of s. Glob lists are written by
 * hand ("*.log, build"), so their items are trimmed of blanks; paths are
 * kept exactly. */
static int
strlist_split(struct hs_strlist *l, const char *s, char sep, int trim)
{
    const char *p = s;

    for (;;) {
        const char *end = strchr(p, sep);
        const char *b = p;
        const char *e = end != NULL ? end : p + strlen(p);

        if (trim) {
            while (b < e && (*b == ' ' || *b == '\t'))
                b++;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
        }
        if (e > b && strlist_append(l, b, (size_t)(e - b)) < 0)
            return -ENOMEM;
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}

static int
set_string(char **dst, const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

/* Decimal number, digits only, with an optional k/m/g (x1024) suffix when
 * suffix is set. Returns 0, -EINVAL (not a number) or -ERANGE. */
static int
parse_number(const char *s, int suffix, uint64_t min, uint64_t max,
             uint64_t *out)
{
    uint64_t v = 0;
    uint64_t mult = 1;
    const char *p = s;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (suffix && *p != '\0') {
        switch (*p) {
        case 'k': case 'K': mult = (uint64_t)1 << 10; break;
        case 'm': case 'M': mult = (uint64_t)1 << 20; break;
        case 'g': case 'G': mult = (uint64_t)1 << 30; break;
        default: return -EINVAL;
        }
        p++;
    }
    if (*p != '\0')
        return -EINVAL;
    if (v > UINT64_MAX / mult)
        return -ERANGE;
    v *= mult;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

/* Where the value came from, for messages: "--timeout" or
 * "HOTSERVE_TIMEOUT". */
static void
source_name(const struct parse_state *st, int id, const char *env,
            char *buf, size_t len)
{
    if (st->from_env)
        snprintf(buf, len, "%s", env);
    else
        snprintf(buf, len, "--%s", long_name(id));
}

static int
apply_number(struct parse_state *st, const char *src, const char *value,
             int suffix, uint64_t min, uint64_t max, uint64_t *out)
{
    int rc = parse_number(value, suffix, min, max, out);

    if (rc == -EINVAL) {
        fail(st, -EINVAL, "%s: invalid number '%s' (expected %s)", src,
             value, suffix ? "BYTES with an optional k, m or g suffix"
                           : "a whole number");
    } else if (rc == -ERANGE) {
        fail(st, -EINVAL,
             "%s: value '%s' out of range (%" PRIu64 " to %" PRIu64 ")",
             src, value, min, max);
    }
    return rc;
}

/* 1/true/yes/on and 0/false/no/off, any case. */
static int
parse_bool(const char *s)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    }
    return -EINVAL;
}

/* Apply one option. value is the argument, or for a flag taken from the
 * environment the variable's text (NULL for a flag on the command line). */
static void
apply_option(struct hs_config *cfg, struct parse_state *st, int id,
             const char *value, const char *env)
{
    char src[64];
    char msg[256];
    struct hs_bindaddr bind;
    uint64_t n;
    int on = 1;
    int rc = 0;

    source_name(st, id, env, src, sizeof(src));
    if (value == NULL && (id == OPT_BIND || id == OPT_CHDIR ||
                          id == OPT_PYTHON || id == OPT_PYTHONPATH ||
                          id == OPT_WATCH || id == OPT_EXCLUDE ||
                          id == OPT_RESTART_ON))
        value = "";
    if (st->from_env && value != NULL &&
        (id == OPT_FACTORY || id == OPT_NO_ACCESS_LOG || id == OPT_QUIET ||
         id == OPT_NO_RELOAD || id == OPT_POLL || id == OPT_NOSTATIC ||
         id == OPT_INSECURE)) {
        on = parse_bool(value);
        if (on < 0) {
            fail(st, -EINVAL,
                 "%s: invalid value '%s' (expected 1, true, yes, on, 0, "
                 "false, no or off)", src, value);
            return;
        }
    }

    switch (id) {
    case OPT_BIND:
        rc = hs_bindaddr_parse(value, &bind, msg, sizeof(msg));
        if (rc < 0) {
            fail(st, -EINVAL, "%s: %s", src, msg);
            return;
        }
        cfg->bind = bind;
        return;
    case OPT_CHDIR:
    case OPT_PYTHON:
        if (value[0] == '\0') {
            fail(st, -EINVAL, "%s: empty value", src);
            return;
        }
        rc = set_string(id == OPT_CHDIR ? &cfg->chdir : &cfg->python,
                        value);
        break;
    case OPT_PYTHONPATH:
    case OPT_WATCH:
    case OPT_EXCLUDE:
    case OPT_RESTART_ON: {
        struct hs_strlist *l;
        int *argv_seen;
        int globs = id == OPT_EXCLUDE || id == OPT_RESTART_ON;

        if (id == OPT_PYTHONPATH) {
            l = &cfg->pythonpath;
            argv_seen = &st->argv_pythonpath;
        } else if (id == OPT_WATCH) {
            l = &cfg->watch;
            argv_seen = &st->argv_watch;
        } else if (id == OPT_EXCLUDE) {
            l = &cfg->exclude;
            argv_seen = &st->argv_exclude;
        } else {
            l = &cfg->restart_on;
            argv_seen = &st->argv_restart_on;
        }
        if (st->from_env) {
            rc = strlist_split(l, value, globs ? ',' : ':', globs);
            break;
        }
        if (value[0] == '\0') {
            fail(st, -EINVAL, "%s: empty value", src);
            return;
        }
        /* The command line replaces the variable's list, not extends. */
        if (!*argv_seen) {
            strlist_clear(l);
            *argv_seen = 1;
        }
        rc = strlist_append(l, value, strlen(value));
        break;
    }
    case OPT_MAX_CONNECTIONS:
        if (apply_number(st, src, value, 0, 1, 10000, &n) == 0)
            cfg->max_connections = (unsigned)n;
        return;
    case OPT_TIMEOUT:
        if (apply_number(st, src, value, 0, 0, 86400, &n) == 0)
            cfg->timeout = (unsigned)n;
        return;
    case OPT_SHUTDOWN_TIMEOUT:
        if (apply_number(st, src, value, 0, 0, 3600, &n) == 0)
            cfg->shutdown_timeout = (unsigned)n;
        return;
    case OPT_RESTART_THRESHOLD:
        if (apply_number(st, src, value, 0, 0, 1000000, &n) == 0)
            cfg->restart_threshold = (unsigned)n;
        return;
    case OPT_STRATEGY:
        if (strcmp(value, "auto") == 0)
            cfg->strategy = HS_STRATEGY_AUTO;
        else if (strcmp(value, "restart") == 0)
            cfg->strategy = HS_STRATEGY_RESTART;
        else
            fail(st, -EINVAL, "%s: invalid strategy '%s' (expected auto "
                 "or restart)", src, value);
        return;
    case OPT_MAX_HEADER_SIZE:
        if (apply_number(st, src, value, 1, 1024, (uint64_t)64 << 20,
                         &n) == 0)
            cfg->max_header_size = (size_t)n;
        return;
    case OPT_MAX_BODY_SIZE:
        if (apply_number(st, src, value, 1, 0,
                         SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX,
                         &n) == 0)
            cfg->max_body_size = (size_t)n;
        return;
    case OPT_FACTORY:
        cfg->factory = on;
        return;
    case OPT_NO_ACCESS_LOG:
        cfg->access_log = !on;
        return;
    case OPT_QUIET:
        cfg->quiet = on;
        return;
    case OPT_NO_RELOAD:
        cfg->reload = !on;
        return;
    case OPT_POLL:
        cfg->poll = on;
        return;
    case OPT_NOSTATIC:
        cfg->nostatic = on;
        return;
    case OPT_INSECURE:
        cfg->insecure = on;
        return;
    case OPT_HELP:
        st->help = 1;
        return;
    case OPT_VERSION:
        st->version = 1;
        return;
    default:
        fail(st, -EINVAL, "internal error: unhandled option %d", id);
        return;
    }
    if (rc < 0)
        fail_nomem(st);
}

/* A Python identifier byte. Bytes >= 0x80 are let through (PEP 3131
 * allows non-ASCII identifiers); the import will judge them. */
static int
is_ident_char(unsigned char c, int first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
        c >= 0x80)
        return 1;
    return !first && c >= '0' && c <= '9';
}

/* "name(.name)*" over s[0..len). */
static int
is_dotted_name(const char *s, size_t len)
{
    size_t i;
    int first = 1;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (first)
                return 0;
            first = 1;
            continue;
        }
        if (!is_ident_char(c, first))
            return 0;
        first = 0;
    }
    return !first;
}

/* Parse "MODULE[:ATTR]" into cfg; prefix names a variable ("HOTSERVE_APP:
 * ") or is "" for the command line. */
static void
set_app(struct hs_config *cfg, struct parse_state *st, const char *spec,
        const char *prefix)
{
    const char *colon = strchr(spec, ':');
    size_t mod_len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    const char *attr = colon != NULL ? colon + 1 : DEFAULT_ATTR;
    size_t attr_len = strlen(attr);
    int factory = 0;
    char *app_spec = NULL;
    char *module = NULL;
    char *attr_copy = NULL;

    if (spec[0] == '\0') {
        fail(st, -EINVAL, "%sempty application: " USAGE_LINE, prefix);
        return;
    }
    if (mod_len == 0) {
        fail(st, -EINVAL, "%smissing module name in '%s'", prefix, spec);
        return;
    }
    if (!is_dotted_name(spec, mod_len)) {
        fail(st, -EINVAL,
             "%sinvalid module name '%.*s' in '%s' (expected a dotted "
             "Python name such as myproject.wsgi)", prefix, (int)mod_len,
             spec, spec);
        return;
    }
    if (attr_len == 0) {
        fail(st, -EINVAL, "%smissing attribute name after ':' in '%s'",
             prefix, spec);
        return;
    }
    if (attr_len > 2 && strcmp(attr + attr_len - 2, "()") == 0) {
        factory = 1;
        attr_len -= 2;
    }
    if (!is_dotted_name(attr, attr_len)) {
        fail(st, -EINVAL,
             "%sinvalid attribute '%s' in '%s' (expected NAME, NAME.NAME "
             "or NAME() for a factory)", prefix, attr, spec);
        return;
    }

    app_spec = strdup(spec);
    module = strndup(spec, mod_len);
    attr_copy = strndup(attr, attr_len);
    if (app_spec == NULL || module == NULL || attr_copy == NULL)
        goto fail;
    free(cfg->app_spec);
    free(cfg->module);
    free(cfg->attr);
    cfg->app_spec = app_spec;
    cfg->module = module;
    cfg->attr = attr_copy;
    /* "ATTR()" turns factory on; it never turns off HOTSERVE_FACTORY or
     * --factory. */
    if (factory)
        cfg->factory = 1;
    return;
fail:
    free(app_spec);
    free(module);
    free(attr_copy);
    fail_nomem(st);
}

static void
set_defaults(struct hs_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    /* DEFAULT_BIND is a constant the parser accepts */
    (void)hs_bindaddr_parse(DEFAULT_BIND, &cfg->bind, NULL, 0);
    cfg->max_connections = DEFAULT_MAX_CONNECTIONS;
    cfg->timeout = DEFAULT_TIMEOUT;
    cfg->max_header_size = DEFAULT_MAX_HEADER_SIZE;
    cfg->max_body_size = DEFAULT_MAX_BODY_SIZE;
    cfg->shutdown_timeout = DEFAULT_SHUTDOWN_TIMEOUT;
    cfg->restart_threshold = DEFAULT_RESTART_THRESHOLD;
    cfg->strategy = HS_STRATEGY_AUTO;
    cfg->access_log = 1;
    cfg->reload = 1;
}

static void
read_env(struct hs_config *cfg, struct parse_state *st,
         hs_config_getenv_fn getenv_fn)
{
    const char *v;
    size_t i;

    if (getenv_fn == NULL)
        return;
    st->from_env = 1;
    /* An empty variable counts as unset: compose files often write
     * HOTSERVE_X=${X:-}. */
    for (i = 0; i < sizeof(env_opts) / sizeof(env_opts[0]); i++) {
        v = getenv_fn(env_opts[i].name);
        if (v != NULL && v[0] != '\0')
            apply_option(cfg, st, env_opts[i].id, v, env_opts[i].name);
    }
    v = getenv_fn("HOTSERVE_APP");
    if (v != NULL && v[0] != '\0')
        set_app(cfg, st, v, "HOTSERVE_APP: ");
    st->from_env = 0;
}

/* Whether id is one of our options (a short letter or a long-only id). */
static int
is_known_option(int id)
{
    if (id >= 256)
        return 1;
    return id > 0 && id != ':' && strchr(short_opts, id) != NULL;
}

/* Report a getopt failure. opt is what getopt_long returned ('?' or ':'),
 * arg the argv element just consumed (optind - 1). For an unknown letter
 * inside a cluster ("-qx") optind has not moved on, so arg is only trusted
 * where getopt_long is known to have advanced past the element. */
static void
option_error(struct parse_state *st, int opt, const char *arg)
{
    int is_long = arg != NULL && strncmp(arg, "--", 2) == 0;
    const char *name = is_long ? arg + 2 : NULL;
    size_t name_len = is_long ? strcspn(name, "=") : 0;
    char buf[256];
    size_t used = 0;
    size_t matches = 0;
    size_t i;

    if (opt == ':') {
        /* A missing argument is always the last element, so arg is it. */
        if (optopt >= 256 || is_long)
            fail(st, -EINVAL, "option '--%s' requires an argument",
                 long_name(optopt));
        else
            fail(st, -EINVAL, "option '-%c' requires an argument", optopt);
        return;
    }
    if (optopt != 0) {
        /* A known option can only fail here as "--quiet=1". */
        if (is_known_option(optopt))
            fail(st, -EINVAL, "option '--%s' doesn't allow an argument",
                 long_name(optopt));
        else if (optopt > ' ' && optopt < 0x7f)
            fail(st, -EINVAL, "unrecognized option '-%c'", optopt);
        else
            fail(st, -EINVAL, "unrecognized option byte 0x%02x",
                 (unsigned)optopt & 0xffu);
        return;
    }
    if (!is_long) {
        fail(st, -EINVAL, "unrecognized option '%s'", arg ? arg : "");
        return;
    }
    /* getopt_long does not say whether a long option was unknown or an
     * ambiguous abbreviation ("--max"); tell the user which. */
    buf[0] = '\0';
    for (i = 0; long_opts[i].name != NULL; i++) {
        if (strncmp(long_opts[i].name, name, name_len) != 0)
            continue;
        matches++;
        if (used < sizeof(buf)) {
            int n = snprintf(buf + used, sizeof(buf) - used, "%s--%s",
                             used > 0 ? ", " : "", long_opts[i].name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (matches > 1)
        fail(st, -EINVAL, "ambiguous option '--%.*s' (could be %s)",
             (int)name_len, name, buf);
    else
        fail(st, -EINVAL, "unrecognized option '--%.*s'", (int)name_len,
             name);
}

int
hs_config_parse(struct hs_config *cfg, int argc, char *const argv[],
                hs_config_getenv_fn getenv_fn, char *err, size_t errlen)
{
    struct parse_state st;
    char **args = NULL;
    int nargs;
    int opt;
    int i;

    memset(&st, 0, sizeof(st));
    st.err = err;
    st.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    set_defaults(cfg);
    read_env(cfg, &st, getenv_fn);

    if (argc < 0 || (argc > 0 && argv == NULL)) {
        fail(&st, -EINVAL, "invalid argument vector");
        goto out;
    }
    /* getopt_long permutes the vector it is given; work on a copy so the
     * caller's argv (kept for the restart execv) stays as typed. */
    nargs = argc > 0 ? argc : 1;
    args = calloc((size_t)nargs + 1, sizeof(*args));
    if (args == NULL) {
        fail_nomem(&st);
        goto out;
    }
    for (i = 0; i < argc; i++)
        args[i] = argv[i];
    if (argc == 0)
        args[0] = (char *)"hotserve";

    /* optind = 0 makes glibc reinitialize completely, so parse can run
     * more than once in a process (tests). opterr = 0: we word errors. */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(nargs, args, short_opts, long_opts, NULL)) !=
           -1) {
        if (opt == '?' || opt == ':') {
            int at = optind - 1;

            option_error(&st, opt, at >= 1 && at < nargs ? args[at] : NULL);
            continue;
        }
        apply_option(cfg, &st, opt, optarg, NULL);
    }

    if (st.help || st.version)
        goto out;
    if (optind < nargs) {
        set_app(cfg, &st, args[optind], "");
        if (optind + 1 < nargs)
            fail(&st, -EINVAL,
                 "unexpected argument '%s' (only one MODULE[:ATTR] is "
                 "allowed)", args[optind + 1]);
    }
    if (cfg->app_spec == NULL)
        fail(&st, -EINVAL, "missing application: " USAGE_LINE);
    /* Quiet means no access log either; keep the field the server reads
     * authoritative. */
    if (cfg->quiet)
        cfg->access_log = 0;

out:
    free(args);
    if (st.help)
        return HS_CONFIG_HELP;
    if (st.version)
        return HS_CONFIG_VERSION;
    if (st.rc < 0) {
        hs_config_free(cfg);
        return st.rc;
    }
    return HS_CONFIG_RUN;
}

void
hs_config_free(struct hs_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->app_spec);
    free(cfg->module);
    free(cfg->attr);
    free(cfg->chdir);
    free(cfg->python);
    strlist_clear(&cfg->pythonpath);
    strlist_clear(&cfg->watch);
    strlist_clear(&cfg->exclude);
    strlist_clear(&cfg->restart_on);
    memset(cfg, 0, sizeof(*cfg));
}

static const char usage_text[] =
USAGE_LINE "\n"
"\n"
"Serve the WSGI application ATTR of the Python module MODULE over HTTP,\n"
"and before each request reload the modules changed on disk and the\n"
"modules that import them.\n"
"\n"
"  hotserve myproject.wsgi                 # myproject.wsgi:application\n"
"  hotserve -b 0.0.0.0:8000 'app:create_app()'\n"
"\n"
"Every option can also be set with the environment variable shown; the\n"
"command line wins. Flags take 1/true/yes/on or 0/false/no/off. An empty\n"
"variable counts as unset.\n"
"\n"
"Arguments:\n"
"  MODULE[:ATTR]             the application: a dotted module name and an\n"
"                            attribute of it [default ATTR: application]\n"
"                            \"ATTR()\" calls ATTR to create the app\n"
"                            [env: HOTSERVE_APP]\n"
"\n"
"Server:\n"
"  -b, --bind ADDRESS        listen on HOST:PORT, PORT, :PORT, HOST,\n"
"                            [IPV6]:PORT or [IPV6]; port 0 picks a free\n"
"                            port [default: 127.0.0.1:8000]\n"
"                            [env: HOTSERVE_BIND]\n"
"  --max-connections N       most connections served at once, 1-10000\n"
"                            [default: 128] [env: HOTSERVE_MAX_CONNECTIONS]\n"
"  --timeout SECONDS         close a connection idle this long, or whose\n"
"                            request line and headers take longer to\n"
"                            arrive (slow clients), 0 never\n"
"                            [default: 60] [env: HOTSERVE_TIMEOUT]\n"
"  --max-header-size BYTES   largest request line plus headers; k and m\n"
"                            suffixes are KiB and MiB [default: 128k]\n"
"                            [env: HOTSERVE_MAX_HEADER_SIZE]\n"
"  --max-body-size BYTES     largest request body, larger ones get 413;\n"
"                            k, m and g suffixes [default: 1g]\n"
"                            [env: HOTSERVE_MAX_BODY_SIZE]\n"
"  --shutdown-timeout SECONDS\n"
"                            on SIGINT/SIGTERM and before a restart, wait\n"
"                            this long for requests in flight, 0-3600\n"
"                            [default: 10]\n"
"                            [env: HOTSERVE_SHUTDOWN_TIMEOUT]\n"
"  --no-access-log           do not log one line per request\n"
"                            [env: HOTSERVE_NO_ACCESS_LOG]\n"
"  -q, --quiet               no banner and no access log, only warnings\n"
"                            and errors [env: HOTSERVE_QUIET]\n"
"\n"
"Python:\n"
"  --factory                 ATTR is a factory: call it with no arguments\n"
"                            to get the app (same as \"ATTR()\")\n"
"                            [env: HOTSERVE_FACTORY]\n"
"  --chdir DIR               change to DIR before importing the app\n"
"                            [env: HOTSERVE_CHDIR]\n"
"  --pythonpath DIR          put DIR on sys.path; repeatable\n"
"                            [env: HOTSERVE_PYTHONPATH, ':'-separated]\n"
"  --python PATH             use the packages of the virtualenv whose\n"
"                            interpreter is PATH, e.g. .venv/bin/python\n"
"                            [default: $VIRTUAL_ENV's, if set]\n"
"                            [env: HOTSERVE_PYTHON]\n"
"\n"
"Reloading:\n"
"  --no-reload               never reload or restart on changes: serve\n"
"                            the code as first imported\n"
"                            [env: HOTSERVE_NO_RELOAD]\n"
"  --poll                    detect changes by polling file times instead\n"
"                            of inotify (Docker bind mounts, WSL, NFS)\n"
"                            [env: HOTSERVE_POLL]\n"
"  --watch DIR               also watch DIR for changes (the working\n"
"                            directory always is); repeatable\n"
"                            [env: HOTSERVE_WATCH, ':'-separated]\n"
"  --exclude GLOB            ignore changes to paths matching GLOB;\n"
"                            repeatable [env: HOTSERVE_EXCLUDE,\n"
"                            ','-separated]\n"
"\n"
"Restarts (the process re-executes itself; the socket stays open, so\n"
"requests wait instead of being refused; also on SIGHUP and on\n"
"POST /__hotserve__/restart from this machine):\n"
"  --strategy auto|restart   auto: reload changed modules in-process and\n"
"                            restart only when that is unsafe or slower;\n"
"                            restart: restart on every change\n"
"                            [default: auto] [env: HOTSERVE_STRATEGY]\n"
"  --restart-on GLOB         restart when a file matching GLOB changes;\n"
"                            GLOB without '/' matches the file name,\n"
"                            with '/' the path from the working\n"
"                            directory ('*' crosses '/', '**/' is any\n"
"                            depth); repeatable. Django projects add\n"
"                            their settings, models.py, models/, apps.py,\n"
"                            migrations/ and .env [env:\n"
"                            HOTSERVE_RESTART_ON, ','-separated]\n"
"  --restart-threshold N     restart when more than N modules change at\n"
"                            once (a branch switch); 0 never\n"
"                            [default: 50] [env: HOTSERVE_RESTART_THRESHOLD]\n"
"\n"
"Django (detected when the app is a Django project):\n"
"  --nostatic                do not serve static files (runserver's\n"
"                            --nostatic) [env: HOTSERVE_NOSTATIC]\n"
"  --insecure                serve static files with DEBUG off too\n"
"                            (runserver's --insecure)\n"
"                            [env: HOTSERVE_INSECURE]\n"
"\n"
"Other:\n"
"  -h, --help                show this help and exit\n"
"  -V, --version             show the version and exit\n";

const char *
hs_config_usage(void)
{
    return usage_text;
}
