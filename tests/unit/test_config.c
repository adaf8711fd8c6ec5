/* server/config.c: command line and HOTSERVE_* environment parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server/config.h"

/* The fake environment: NULL-terminated name/value pairs. */
static const char *const *fake_env;
static int fake_env_foreign_lookups;    /* names not starting HOTSERVE_ */

static const char *
fake_getenv(const char *name)
{
    size_t i;

    if (strncmp(name, "HOTSERVE_", 9) != 0)
        fake_env_foreign_lookups++;
    for (i = 0; fake_env != NULL && fake_env[i] != NULL; i += 2) {
        if (strcmp(fake_env[i], name) == 0)
            return fake_env[i + 1];
    }
    return NULL;
}

static const char *const no_env[] = {NULL};

#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ARGV(...) ((char *[]){"hotserve", __VA_ARGS__, NULL})

static char err[512];

static int
run_env(struct hs_config *cfg, const char *const *env, char **argv)
{
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    fake_env = env;
    memset(err, 'x', sizeof(err) - 1);
    err[sizeof(err) - 1] = '\0';
    return hs_config_parse(cfg, argc, argv, fake_getenv, err, sizeof(err));
}

static int
run(struct hs_config *cfg, char **argv)
{
    return run_env(cfg, no_env, argv);
}

/* Expect a usage error with exactly msg, and cfg released. */
static void
assert_usage_error(const char *const *env, char **argv, const char *msg)
{
    struct hs_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(run_env(&cfg, env, argv), -EINVAL);
    assert_string_equal(err, msg);
    assert_null(cfg.app_spec);
    assert_null(cfg.module);
    assert_null(cfg.pythonpath.items);
    hs_config_free(&cfg);
}

static void
assert_list(const struct hs_strlist *l, const char *const *want)
{
    size_t n = 0;

    while (want[n] != NULL)
        n++;
    assert_int_equal(l->len, n);
    for (n = 0; n < l->len; n++)
        assert_string_equal(l->items[n], want[n]);
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define EMPTY_LIST ((const char *const[]){NULL})

static void
test_defaults(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("myproject.wsgi")), HS_CONFIG_RUN);
    assert_string_equal(err, "");
    assert_string_equal(cfg.app_spec, "myproject.wsgi");
    assert_string_equal(cfg.module, "myproject.wsgi");
    assert_string_equal(cfg.attr, "application");
    assert_int_equal(cfg.factory, 0);
    assert_string_equal(cfg.bind.host, "127.0.0.1");
    assert_int_equal(cfg.bind.port, 8000);
    assert_int_equal(cfg.bind.family, AF_INET);
    assert_int_equal(cfg.bind.is_loopback, 1);
    assert_null(cfg.chdir);
    assert_null(cfg.python);
    assert_list(&cfg.pythonpath, EMPTY_LIST);
    assert_int_equal(cfg.max_connections, 128);
    assert_int_equal(cfg.timeout, 60);
    assert_int_equal(cfg.max_header_size, 131072);
    assert_int_equal(cfg.max_body_size, 1073741824);
    assert_int_equal(cfg.shutdown_timeout, 10);
    assert_int_equal(cfg.access_log, 1);
    assert_int_equal(cfg.quiet, 0);
    assert_int_equal(cfg.reload, 1);
    assert_int_equal(cfg.poll, 0);
    assert_list(&cfg.watch, EMPTY_LIST);
    assert_list(&cfg.exclude, EMPTY_LIST);
    assert_list(&cfg.restart_on, EMPTY_LIST);
    assert_int_equal(cfg.restart_threshold, 50);
    assert_int_equal(cfg.strategy, HS_STRATEGY_AUTO);
    hs_config_free(&cfg);
}

static void
test_module_and_attr(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("myproject.wsgi:app")), HS_CONFIG_RUN);
    assert_string_equal(cfg.app_spec, "myproject.wsgi:app");
    assert_string_equal(cfg.module, "myproject.wsgi");
    assert_string_equal(cfg.attr, "app");
    assert_int_equal(cfg.factory, 0);
    hs_config_free(&cfg);
}

static void
test_dotted_attr(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("_pkg.m2:server.wsgi_app")),
                     HS_CONFIG_RUN);
    assert_string_equal(cfg.module, "_pkg.m2");
    assert_string_equal(cfg.attr, "server.wsgi_app");
    hs_config_free(&cfg);
}

static void
test_factory_parens(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("app:create_app()")), HS_CONFIG_RUN);
    assert_string_equal(cfg.app_spec, "app:create_app()");
    assert_string_equal(cfg.module, "app");
    assert_string_equal(cfg.attr, "create_app");
    assert_int_equal(cfg.factory, 1);
    hs_config_free(&cfg);
}

static void
test_factory_flag(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--factory", "app:make")),
                     HS_CONFIG_RUN);
    assert_string_equal(cfg.attr, "make");
    assert_int_equal(cfg.factory, 1);
    hs_config_free(&cfg);
    /* Both spellings at once are fine. */
    assert_int_equal(run(&cfg, ARGV("app:make()", "--factory")),
                     HS_CONFIG_RUN);
    assert_string_equal(cfg.attr, "make");
    assert_int_equal(cfg.factory, 1);
    hs_config_free(&cfg);
}

static void
test_invalid_module_name(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("my-project.wsgi"),
                       "invalid module name 'my-project.wsgi' in "
                       "'my-project.wsgi' (expected a dotted Python name "
                       "such as myproject.wsgi)");
    assert_usage_error(no_env, ARGV("myproject/wsgi.py:app"),
                       "invalid module name 'myproject/wsgi.py' in "
                       "'myproject/wsgi.py:app' (expected a dotted Python "
                       "name such as myproject.wsgi)");
}

static void
test_invalid_dotted_paths(void **state)
{
    static const char *const bad[] = {
        "a..b", ".wsgi", "wsgi.", "1app", "a.2b", "a b", "a-b:app",
        "app:1x", "app:a..b", "app:.a", "app:a.", "app:a-b", "app:()",
        "app:make(1)", "app:make(", "app:make)", "app:x:y", "app:a b",
    };
    struct hs_config cfg = {0};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = {"hotserve", (char *)bad[i], NULL};

        if (run(&cfg, argv) != -EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_null(cfg.module);
    }
}

static void
test_invalid_attr_message(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("app:make(1)"),
                       "invalid attribute 'make(1)' in 'app:make(1)' "
                       "(expected NAME, NAME.NAME or NAME() for a "
                       "factory)");
}

static void
test_empty_module(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV(":app"),
                       "missing module name in ':app'");
    assert_usage_error(no_env, ARGV(""),
                       "empty application: usage: hotserve [OPTIONS] "
                       "MODULE[:ATTR]");
}

static void
test_missing_attr(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("app:"),
                       "missing attribute name after ':' in 'app:'");
}

static void
test_missing_application(void **state)
{
    struct hs_config cfg = {0};
    char *argv[] = {"hotserve", NULL};

    (void)state;
    assert_int_equal(run(&cfg, argv), -EINVAL);
    assert_string_equal(err, "missing application: usage: hotserve "
                             "[OPTIONS] MODULE[:ATTR]");
    assert_usage_error(no_env, ARGV("-q"),
                       "missing application: usage: hotserve [OPTIONS] "
                       "MODULE[:ATTR]");
}

static void
test_extra_positional(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("app", "other"),
                       "unexpected argument 'other' (only one "
                       "MODULE[:ATTR] is allowed)");
}

static void
test_options_after_positional(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("app:x", "-b", "9000", "--poll")),
                     HS_CONFIG_RUN);
    assert_string_equal(cfg.attr, "x");
    assert_int_equal(cfg.bind.port, 9000);
    assert_int_equal(cfg.poll, 1);
    hs_config_free(&cfg);
}

static void
test_caller_argv_unchanged(void **state)
{
    struct hs_config cfg = {0};
    char *argv[] = {"hotserve", "app", "--poll", "-b", "1", NULL};
    char *copy[6];

    (void)state;
    memcpy(copy, argv, sizeof(copy));
    assert_int_equal(run(&cfg, argv), HS_CONFIG_RUN);
    assert_memory_equal(argv, copy, sizeof(copy));
    hs_config_free(&cfg);
}

static void
test_double_dash_ends_options(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("-q", "--", "app")), HS_CONFIG_RUN);
    assert_string_equal(cfg.module, "app");
    assert_int_equal(cfg.quiet, 1);
    hs_config_free(&cfg);
    /* After "--" an option-looking word is the positional. */
    assert_usage_error(no_env, ARGV("--", "--poll"),
                       "invalid module name '--poll' in '--poll' (expected "
                       "a dotted Python name such as myproject.wsgi)");
}

static void
test_bind_spellings(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("-b", "0.0.0.0:9000", "app")),
                     HS_CONFIG_RUN);
    assert_string_equal(cfg.bind.host, "0.0.0.0");
    assert_int_equal(cfg.bind.port, 9000);
    assert_int_equal(cfg.bind.is_loopback, 0);
    hs_config_free(&cfg);

    assert_int_equal(run(&cfg, ARGV("--bind=[::1]:9001", "app")),
                     HS_CONFIG_RUN);
    assert_string_equal(cfg.bind.host, "::1");
    assert_int_equal(cfg.bind.port, 9001);
    assert_int_equal(cfg.bind.family, AF_INET6);
    hs_config_free(&cfg);

    assert_int_equal(run(&cfg, ARGV("--bind", "localhost", "app")),
                     HS_CONFIG_RUN);
    assert_string_equal(cfg.bind.host, "localhost");
    assert_int_equal(cfg.bind.port, 8000);
    hs_config_free(&cfg);

    assert_int_equal(run(&cfg, ARGV("-b9002", "app")), HS_CONFIG_RUN);
    assert_int_equal(cfg.bind.port, 9002);
    hs_config_free(&cfg);
}

static void
test_last_option_wins(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("-b", "1", "-b", "2", "--timeout", "5",
                                    "--timeout", "6", "app")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.bind.port, 2);
    assert_int_equal(cfg.timeout, 6);
    hs_config_free(&cfg);
}

static void
test_bad_bind_message(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("-b", "127.0.0.1:abc", "app"),
                       "--bind: invalid port 'abc' in '127.0.0.1:abc'");
    assert_usage_error(no_env, ARGV("--bind", "1.2.3.4:70000", "app"),
                       "--bind: port '70000' out of range (0-65535) in "
                       "'1.2.3.4:70000'");
}

static void
test_paths(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--chdir", "/srv/site", "--python",
                                    ".venv/bin/python", "app")),
                     HS_CONFIG_RUN);
    assert_string_equal(cfg.chdir, "/srv/site");
    assert_string_equal(cfg.python, ".venv/bin/python");
    hs_config_free(&cfg);
}

static void
test_empty_path_rejected(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("--chdir", "", "app"),
                       "--chdir: empty value");
    assert_usage_error(no_env, ARGV("--watch=", "app"),
                       "--watch: empty value");
}

static void
test_repeatable_lists(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--pythonpath", "src", "--pythonpath",
                                    "lib:x", "--watch", "src", "--watch",
                                    "templates", "--exclude", "*.log",
                                    "--exclude", "tmp/*,a", "app")),
                     HS_CONFIG_RUN);
    /* On the command line each value is one item, never split. */
    assert_list(&cfg.pythonpath, LIST("src", "lib:x"));
    assert_list(&cfg.watch, LIST("src", "templates"));
    assert_list(&cfg.exclude, LIST("*.log", "tmp/*,a"));
    hs_config_free(&cfg);
}

static void
test_numbers(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--max-connections", "1", "--timeout",
                                    "0", "--shutdown-timeout", "3600",
                                    "--max-header-size", "1024",
                                    "--max-body-size", "0", "app")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.max_connections, 1);
    assert_int_equal(cfg.timeout, 0);
    assert_int_equal(cfg.shutdown_timeout, 3600);
    assert_int_equal(cfg.max_header_size, 1024);
    assert_int_equal(cfg.max_body_size, 0);
    hs_config_free(&cfg);
    assert_int_equal(run(&cfg, ARGV("--max-connections=10000", "app")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.max_connections, 10000);
    hs_config_free(&cfg);
}

static void
test_max_connections_range(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("--max-connections", "0", "app"),
                       "--max-connections: value '0' out of range (1 to "
                       "10000)");
    assert_usage_error(no_env, ARGV("--max-connections", "10001", "app"),
                       "--max-connections: value '10001' out of range (1 "
                       "to 10000)");
    assert_usage_error(no_env,
                       ARGV("--max-connections",
                            "99999999999999999999999999", "app"),
                       "--max-connections: value "
                       "'99999999999999999999999999' out of range (1 to "
                       "10000)");
}

static void
test_bad_number(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("--max-connections", "abc", "app"),
                       "--max-connections: invalid number 'abc' (expected "
                       "a whole number)");
    assert_usage_error(no_env, ARGV("--timeout", "-1", "app"),
                       "--timeout: invalid number '-1' (expected a whole "
                       "number)");
    assert_usage_error(no_env, ARGV("--timeout", "5s", "app"),
                       "--timeout: invalid number '5s' (expected a whole "
                       "number)");
    assert_usage_error(no_env, ARGV("--timeout", " 5", "app"),
                       "--timeout: invalid number ' 5' (expected a whole "
                       "number)");
    assert_usage_error(no_env, ARGV("--shutdown-timeout", "", "app"),
                       "--shutdown-timeout: invalid number '' (expected a "
                       "whole number)");
    assert_usage_error(no_env, ARGV("--shutdown-timeout", "3601", "app"),
                       "--shutdown-timeout: value '3601' out of range (0 to "
                       "3600)");
    /* Sizes only take suffixes where documented. */
    assert_usage_error(no_env, ARGV("--max-connections", "1k", "app"),
                       "--max-connections: invalid number '1k' (expected "
                       "a whole number)");
}

static void
test_size_suffixes(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--max-header-size", "64k",
                                    "--max-body-size", "10m", "app")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.max_header_size, 65536);
    assert_int_equal(cfg.max_body_size, 10485760);
    hs_config_free(&cfg);
    assert_int_equal(run(&cfg, ARGV("--max-header-size", "1M",
                                    "--max-body-size", "2G", "app")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.max_header_size, 1048576);
    assert_int_equal(cfg.max_body_size, (size_t)2 << 30);
    hs_config_free(&cfg);
    assert_int_equal(run(&cfg, ARGV("--max-body-size", "3K", "app")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.max_body_size, 3072);
    hs_config_free(&cfg);
}

static void
test_bad_size(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("--max-body-size", "1t", "app"),
                       "--max-body-size: invalid number '1t' (expected "
                       "BYTES with an optional k, m or g suffix)");
    assert_usage_error(no_env, ARGV("--max-body-size", "1kb", "app"),
                       "--max-body-size: invalid number '1kb' (expected "
                       "BYTES with an optional k, m or g suffix)");
    assert_usage_error(no_env, ARGV("--max-body-size", "k", "app"),
                       "--max-body-size: invalid number 'k' (expected "
                       "BYTES with an optional k, m or g suffix)");
    assert_usage_error(no_env, ARGV("--max-header-size", "1g", "app"),
                       "--max-header-size: value '1g' out of range (1024 "
                       "to 67108864)");
    assert_usage_error(no_env, ARGV("--max-header-size", "1023", "app"),
                       "--max-header-size: value '1023' out of range (1024 "
                       "to 67108864)");
    /* The multiplication must not wrap around. */
    assert_usage_error(no_env,
                       ARGV("--max-body-size", "17179869184g", "app"),
                       "--max-body-size: value '17179869184g' out of range "
                       "(0 to 9223372036854775807)");
}

static void
test_flags(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--no-access-log", "--no-reload",
                                    "--poll", "app")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.access_log, 0);
    assert_int_equal(cfg.reload, 0);
    assert_int_equal(cfg.poll, 1);
    assert_int_equal(cfg.quiet, 0);
    hs_config_free(&cfg);
}

static void
test_quiet_disables_access_log(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("-q", "app")), HS_CONFIG_RUN);
    assert_int_equal(cfg.quiet, 1);
    assert_int_equal(cfg.access_log, 0);
    hs_config_free(&cfg);
    assert_int_equal(run(&cfg, ARGV("--quiet", "app")), HS_CONFIG_RUN);
    assert_int_equal(cfg.quiet, 1);
    hs_config_free(&cfg);
}

static void
test_short_option_cluster(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("-qb", "9003", "app")), HS_CONFIG_RUN);
    assert_int_equal(cfg.quiet, 1);
    assert_int_equal(cfg.bind.port, 9003);
    hs_config_free(&cfg);
}

static void
test_abbreviated_long_option(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--no-rel", "--pythonp", "a",
                                    "--python", "py", "app")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.reload, 0);
    assert_list(&cfg.pythonpath, LIST("a"));
    assert_string_equal(cfg.python, "py");
    hs_config_free(&cfg);
}

static void
test_help(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--help")), HS_CONFIG_HELP);
    hs_config_free(&cfg);
    assert_int_equal(run(&cfg, ARGV("app", "-h")), HS_CONFIG_HELP);
    hs_config_free(&cfg);
}

static void
test_help_beats_errors(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--frob", "-b", "x:y", "--help")),
                     HS_CONFIG_HELP);
    hs_config_free(&cfg);
    assert_int_equal(run_env(&cfg, ENV("HOTSERVE_TIMEOUT", "soon"),
                             ARGV("-h")),
                     HS_CONFIG_HELP);
    hs_config_free(&cfg);
}

static void
test_version(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--version")), HS_CONFIG_VERSION);
    hs_config_free(&cfg);
    assert_int_equal(run(&cfg, ARGV("-V", "a", "b")), HS_CONFIG_VERSION);
    hs_config_free(&cfg);
}

static void
test_unknown_option_message(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("--frob", "app"),
                       "unrecognized option '--frob'");
    assert_usage_error(no_env, ARGV("app", "--frob=1"),
                       "unrecognized option '--frob'");
    assert_usage_error(no_env, ARGV("-x", "app"),
                       "unrecognized option '-x'");
    /* The unknown letter inside a cluster, after a long option. */
    assert_usage_error(no_env, ARGV("--poll", "-xq", "app"),
                       "unrecognized option '-x'");
}

static void
test_first_error_reported(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("--frob", "--timeout", "x", "app"),
                       "unrecognized option '--frob'");
}

static void
test_missing_argument_message(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("app", "--bind"),
                       "option '--bind' requires an argument");
    assert_usage_error(no_env, ARGV("app", "-b"),
                       "option '-b' requires an argument");
    assert_usage_error(no_env, ARGV("app", "-qb"),
                       "option '-b' requires an argument");
    assert_usage_error(no_env, ARGV("app", "--timeout"),
                       "option '--timeout' requires an argument");
    assert_usage_error(no_env, ARGV("app", "--watc"),
                       "option '--watch' requires an argument");
}

static void
test_flag_with_argument_message(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("--quiet=1", "app"),
                       "option '--quiet' doesn't allow an argument");
    assert_usage_error(no_env, ARGV("--poll=yes", "app"),
                       "option '--poll' doesn't allow an argument");
}

static void
test_ambiguous_option_message(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("--max", "5", "app"),
                       "ambiguous option '--max' (could be "
                       "--max-connections, --max-header-size, "
                       "--max-body-size)");
    assert_usage_error(no_env, ARGV("--pyth=x", "app"),
                       "ambiguous option '--pyth' (could be --pythonpath, "
                       "--python)");
}

static void
test_env_values(void **state)
{
    struct hs_config cfg = {0};
    const char *const *env = ENV(
        "HOTSERVE_APP", "site.wsgi:make()",
        "HOTSERVE_BIND", "0.0.0.0:9100",
        "HOTSERVE_CHDIR", "/srv",
        "HOTSERVE_PYTHONPATH", "src:lib",
        "HOTSERVE_PYTHON", "/venv/bin/python",
        "HOTSERVE_MAX_CONNECTIONS", "64",
        "HOTSERVE_TIMEOUT", "5",
        "HOTSERVE_MAX_HEADER_SIZE", "16k",
        "HOTSERVE_MAX_BODY_SIZE", "1m",
        "HOTSERVE_SHUTDOWN_TIMEOUT", "2",
        "HOTSERVE_NO_ACCESS_LOG", "1",
        "HOTSERVE_NO_RELOAD", "true",
        "HOTSERVE_POLL", "yes",
        "HOTSERVE_WATCH", "src:templates",
        "HOTSERVE_EXCLUDE", "*.log,tmp/*");
    char *argv[] = {"hotserve", NULL};

    (void)state;
    assert_int_equal(run_env(&cfg, env, argv), HS_CONFIG_RUN);
    assert_string_equal(cfg.app_spec, "site.wsgi:make()");
    assert_string_equal(cfg.module, "site.wsgi");
    assert_string_equal(cfg.attr, "make");
    assert_int_equal(cfg.factory, 1);
    assert_string_equal(cfg.bind.host, "0.0.0.0");
    assert_int_equal(cfg.bind.port, 9100);
    assert_string_equal(cfg.chdir, "/srv");
    assert_list(&cfg.pythonpath, LIST("src", "lib"));
    assert_string_equal(cfg.python, "/venv/bin/python");
    assert_int_equal(cfg.max_connections, 64);
    assert_int_equal(cfg.timeout, 5);
    assert_int_equal(cfg.max_header_size, 16384);
    assert_int_equal(cfg.max_body_size, 1048576);
    assert_int_equal(cfg.shutdown_timeout, 2);
    assert_int_equal(cfg.access_log, 0);
    assert_int_equal(cfg.quiet, 0);
    assert_int_equal(cfg.reload, 0);
    assert_int_equal(cfg.poll, 1);
    assert_list(&cfg.watch, LIST("src", "templates"));
    assert_list(&cfg.exclude, LIST("*.log", "tmp/*"));
    hs_config_free(&cfg);
}

static void
test_env_quiet_and_factory(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run_env(&cfg, ENV("HOTSERVE_QUIET", "on",
                                       "HOTSERVE_FACTORY", "TRUE"),
                             ARGV("app:make")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.quiet, 1);
    assert_int_equal(cfg.access_log, 0);
    assert_int_equal(cfg.factory, 1);
    assert_string_equal(cfg.attr, "make");
    hs_config_free(&cfg);
}

static void
test_env_false_values(void **state)
{
    static const char *const falses[] = {"0", "false", "No", "OFF"};
    struct hs_config cfg = {0};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(falses) / sizeof(falses[0]); i++) {
        assert_int_equal(run_env(&cfg,
                                 ENV("HOTSERVE_NO_RELOAD", falses[i],
                                     "HOTSERVE_NO_ACCESS_LOG", falses[i],
                                     "HOTSERVE_POLL", falses[i],
                                     "HOTSERVE_QUIET", falses[i]),
                                 ARGV("app")),
                         HS_CONFIG_RUN);
        assert_int_equal(cfg.reload, 1);
        assert_int_equal(cfg.access_log, 1);
        assert_int_equal(cfg.poll, 0);
        assert_int_equal(cfg.quiet, 0);
        hs_config_free(&cfg);
    }
}

static void
test_env_overridden_by_argv(void **state)
{
    struct hs_config cfg = {0};
    const char *const *env = ENV("HOTSERVE_BIND", "0.0.0.0:9100",
                                 "HOTSERVE_MAX_CONNECTIONS", "64",
                                 "HOTSERVE_CHDIR", "/env",
                                 "HOTSERVE_APP", "envapp:app");

    (void)state;
    assert_int_equal(run_env(&cfg, env, ARGV("-b", "9200",
                                             "--max-connections", "7",
                                             "--chdir", "/argv",
                                             "argvapp")),
                     HS_CONFIG_RUN);
    assert_string_equal(cfg.bind.host, "127.0.0.1");
    assert_int_equal(cfg.bind.port, 9200);
    assert_int_equal(cfg.max_connections, 7);
    assert_string_equal(cfg.chdir, "/argv");
    assert_string_equal(cfg.app_spec, "argvapp");
    assert_string_equal(cfg.module, "argvapp");
    assert_string_equal(cfg.attr, "application");
    hs_config_free(&cfg);
}

static void
test_env_list_replaced_by_argv(void **state)
{
    struct hs_config cfg = {0};
    const char *const *env = ENV("HOTSERVE_WATCH", "a:b",
                                 "HOTSERVE_PYTHONPATH", "p",
                                 "HOTSERVE_EXCLUDE", "*.tmp");

    (void)state;
    assert_int_equal(run_env(&cfg, env, ARGV("--watch", "c", "--watch", "d",
                                             "app")),
                     HS_CONFIG_RUN);
    assert_list(&cfg.watch, LIST("c", "d"));
    /* Lists not given on the command line keep the variable's value. */
    assert_list(&cfg.pythonpath, LIST("p"));
    assert_list(&cfg.exclude, LIST("*.tmp"));
    hs_config_free(&cfg);
}

static void
test_env_list_separators(void **state)
{
    struct hs_config cfg = {0};
    const char *const *env = ENV("HOTSERVE_PYTHONPATH", ":a::b c:",
                                 "HOTSERVE_WATCH", "/x,y",
                                 "HOTSERVE_EXCLUDE",
                                 " *.log , tmp/*,,\t.git ,");

    (void)state;
    assert_int_equal(run_env(&cfg, env, ARGV("app")), HS_CONFIG_RUN);
    assert_list(&cfg.pythonpath, LIST("a", "b c"));
    assert_list(&cfg.watch, LIST("/x,y"));
    assert_list(&cfg.exclude, LIST("*.log", "tmp/*", ".git"));
    hs_config_free(&cfg);
}

static void
test_env_empty_is_unset(void **state)
{
    struct hs_config cfg = {0};
    const char *const *env = ENV("HOTSERVE_BIND", "",
                                 "HOTSERVE_TIMEOUT", "",
                                 "HOTSERVE_QUIET", "",
                                 "HOTSERVE_CHDIR", "",
                                 "HOTSERVE_APP", "");
    char *argv[] = {"hotserve", NULL};

    (void)state;
    assert_int_equal(run_env(&cfg, env, ARGV("app")), HS_CONFIG_RUN);
    assert_int_equal(cfg.bind.port, 8000);
    assert_int_equal(cfg.timeout, 60);
    assert_int_equal(cfg.quiet, 0);
    assert_null(cfg.chdir);
    hs_config_free(&cfg);
    assert_usage_error(env, argv,
                       "missing application: usage: hotserve [OPTIONS] "
                       "MODULE[:ATTR]");
}

static void
test_env_bad_value_names_variable(void **state)
{
    (void)state;
    assert_usage_error(ENV("HOTSERVE_MAX_CONNECTIONS", "lots"), ARGV("app"),
                       "HOTSERVE_MAX_CONNECTIONS: invalid number 'lots' "
                       "(expected a whole number)");
    assert_usage_error(ENV("HOTSERVE_BIND", "127.0.0.1:abc"), ARGV("app"),
                       "HOTSERVE_BIND: invalid port 'abc' in "
                       "'127.0.0.1:abc'");
    assert_usage_error(ENV("HOTSERVE_QUIET", "maybe"), ARGV("app"),
                       "HOTSERVE_QUIET: invalid value 'maybe' (expected 1, "
                       "true, yes, on, 0, false, no or off)");
    assert_usage_error(ENV("HOTSERVE_MAX_BODY_SIZE", "9x"), ARGV("app"),
                       "HOTSERVE_MAX_BODY_SIZE: invalid number '9x' "
                       "(expected BYTES with an optional k, m or g "
                       "suffix)");
    assert_usage_error(ENV("HOTSERVE_APP", "my-site.wsgi"),
                       ((char *[]){"hotserve", NULL}),
                       "HOTSERVE_APP: invalid module name 'my-site.wsgi' "
                       "in 'my-site.wsgi' (expected a dotted Python name "
                       "such as myproject.wsgi)");
}

static void
test_env_bad_value_is_error_even_if_overridden(void **state)
{
    (void)state;
    /* Fail loudly rather than let a broken variable lie in wait for the
     * day the flag is dropped. */
    assert_usage_error(ENV("HOTSERVE_TIMEOUT", "soon"),
                       ARGV("--timeout", "5", "app"),
                       "HOTSERVE_TIMEOUT: invalid number 'soon' (expected "
                       "a whole number)");
}

static void
test_only_hotserve_variables_read(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    fake_env_foreign_lookups = 0;
    assert_int_equal(run(&cfg, ARGV("app")), HS_CONFIG_RUN);
    assert_int_equal(fake_env_foreign_lookups, 0);
    hs_config_free(&cfg);
}

static void
test_null_getenv(void **state)
{
    struct hs_config cfg = {0};
    char *argv[] = {"hotserve", "--timeout", "9", "app", NULL};
    char e[64] = "stale";

    (void)state;
    assert_int_equal(hs_config_parse(&cfg, 4, argv, NULL, e, sizeof(e)),
                     HS_CONFIG_RUN);
    assert_string_equal(e, "");
    assert_int_equal(cfg.timeout, 9);
    hs_config_free(&cfg);
}

static void
test_null_err_buffer(void **state)
{
    struct hs_config cfg = {0};
    char *argv[] = {"hotserve", "--frob", NULL};

    (void)state;
    assert_int_equal(hs_config_parse(&cfg, 2, argv, fake_getenv, NULL, 0),
                     -EINVAL);
    hs_config_free(&cfg);
}

static void
test_parse_repeatable(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    /* Stop getopt in the middle of a cluster, then parse again: the next
     * call must start from scratch. */
    assert_int_equal(run(&cfg, ARGV("-xq", "a", "b")), -EINVAL);
    assert_int_equal(run(&cfg, ARGV("-q", "app")), HS_CONFIG_RUN);
    assert_int_equal(cfg.quiet, 1);
    assert_string_equal(cfg.module, "app");
    hs_config_free(&cfg);
    assert_int_equal(run(&cfg, ARGV("app2")), HS_CONFIG_RUN);
    assert_int_equal(cfg.quiet, 0);
    assert_string_equal(cfg.module, "app2");
    hs_config_free(&cfg);
}

static void
test_parse_after_foreign_getopt(void **state)
{
    struct hs_config cfg = {0};
    char *other[] = {"prog", "-zy", NULL};

    (void)state;
    /* Leave getopt in the middle of "-zy" as another caller might; parse
     * must reinitialize rather than continue with the stale 'y'. */
    optind = 0;
    opterr = 0;
    assert_int_equal(getopt(2, other, "zy"), 'z');
    assert_int_equal(run(&cfg, ARGV("app")), HS_CONFIG_RUN);
    assert_string_equal(err, "");
    assert_string_equal(cfg.module, "app");
    hs_config_free(&cfg);
}

static void
test_error_releases_config(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--watch", "w", "--chdir", "d", "app",
                                    "--timeout", "x")),
                     -EINVAL);
    assert_null(cfg.chdir);
    assert_null(cfg.app_spec);
    assert_null(cfg.watch.items);
    assert_int_equal(cfg.watch.len, 0);
    hs_config_free(&cfg);
}

static void
test_free_null_and_twice(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    hs_config_free(NULL);
    assert_int_equal(run(&cfg, ARGV("--pythonpath", "x", "app")),
                     HS_CONFIG_RUN);
    hs_config_free(&cfg);
    assert_null(cfg.pythonpath.items);
    hs_config_free(&cfg);
}

static void
test_restart_options(void **state)
{
    struct hs_config cfg = {0};

    (void)state;
    assert_int_equal(run(&cfg, ARGV("--restart-on", "*/settings.py",
                                    "--restart-on", "a,b",
                                    "--restart-threshold", "7",
                                    "--strategy", "restart", "app")),
                     HS_CONFIG_RUN);
    /* On the command line a glob is one item, never split. */
    assert_list(&cfg.restart_on, LIST("*/settings.py", "a,b"));
    assert_int_equal(cfg.restart_threshold, 7);
    assert_int_equal(cfg.strategy, HS_STRATEGY_RESTART);
    hs_config_free(&cfg);
    assert_int_equal(run(&cfg, ARGV("--strategy=auto",
                                    "--restart-threshold=0", "app")),
                     HS_CONFIG_RUN);
    assert_int_equal(cfg.strategy, HS_STRATEGY_AUTO);
    assert_int_equal(cfg.restart_threshold, 0);
    hs_config_free(&cfg);
}

static void
test_restart_options_env(void **state)
{
    struct hs_config cfg = {0};
    const char *const *env = ENV("HOTSERVE_RESTART_ON",
                                 " */settings.py, .env,,models/* ",
                                 "HOTSERVE_RESTART_THRESHOLD", "200",
                                 "HOTSERVE_STRATEGY", "restart");

    (void)state;
    assert_int_equal(run_env(&cfg, env, ARGV("app")), HS_CONFIG_RUN);
    assert_list(&cfg.restart_on, LIST("*/settings.py", ".env", "models/*"));
    assert_int_equal(cfg.restart_threshold, 200);
    assert_int_equal(cfg.strategy, HS_STRATEGY_RESTART);
    hs_config_free(&cfg);
    /* The command line replaces the variable's list and value. */
    assert_int_equal(run_env(&cfg, env, ARGV("--restart-on", "x.py",
                                             "--strategy", "auto", "app")),
                     HS_CONFIG_RUN);
    assert_list(&cfg.restart_on, LIST("x.py"));
    assert_int_equal(cfg.strategy, HS_STRATEGY_AUTO);
    hs_config_free(&cfg);
}

static void
test_restart_options_errors(void **state)
{
    (void)state;
    assert_usage_error(no_env, ARGV("--strategy", "sometimes", "app"),
                       "--strategy: invalid strategy 'sometimes' (expected "
                       "auto or restart)");
    assert_usage_error(ENV("HOTSERVE_STRATEGY", "RESTART"), ARGV("app"),
                       "HOTSERVE_STRATEGY: invalid strategy 'RESTART' "
                       "(expected auto or restart)");
    assert_usage_error(no_env, ARGV("--restart-threshold", "-1", "app"),
                       "--restart-threshold: invalid number '-1' (expected "
                       "a whole number)");
    assert_usage_error(no_env, ARGV("--restart-threshold", "1000001",
                                    "app"),
                       "--restart-threshold: value '1000001' out of range "
                       "(0 to 1000000)");
    assert_usage_error(no_env, ARGV("--restart-on", "", "app"),
                       "--restart-on: empty value");
    assert_usage_error(no_env, ARGV("--restart-on"),
                       "option '--restart-on' requires an argument");
    assert_usage_error(no_env, ARGV("--restart", "x", "app"),
                       "ambiguous option '--restart' (could be "
                       "--restart-on, --restart-threshold)");
}

static void
test_usage_documents_every_option(void **state)
{
    static const char *const words[] = {
        "usage: hotserve [OPTIONS] MODULE[:ATTR]",
        "-b, --bind", "--chdir", "--pythonpath", "--python ", "--factory",
        "--max-connections", "--timeout", "--max-header-size",
        "--max-body-size", "--shutdown-timeout", "--no-access-log",
        "-q, --quiet", "--no-reload", "--poll", "--watch", "--exclude",
        "--strategy auto|restart", "--restart-on GLOB",
        "--restart-threshold N", "SIGHUP", "POST /__hotserve__/restart",
        "-h, --help", "-V, --version",
        "HOTSERVE_APP", "HOTSERVE_BIND", "HOTSERVE_CHDIR",
        "HOTSERVE_PYTHONPATH", "HOTSERVE_PYTHON]", "HOTSERVE_FACTORY",
        "HOTSERVE_MAX_CONNECTIONS", "HOTSERVE_TIMEOUT",
        "HOTSERVE_MAX_HEADER_SIZE", "HOTSERVE_MAX_BODY_SIZE",
        "HOTSERVE_SHUTDOWN_TIMEOUT", "HOTSERVE_NO_ACCESS_LOG",
        "HOTSERVE_QUIET", "HOTSERVE_NO_RELOAD", "HOTSERVE_POLL",
        "HOTSERVE_WATCH", "HOTSERVE_EXCLUDE", "HOTSERVE_STRATEGY",
        "HOTSERVE_RESTART_ON", "HOTSERVE_RESTART_THRESHOLD",
        "[default: auto]", "[default: 50]",
        "[default: 127.0.0.1:8000]", "[default: 128]", "[default: 60]",
        "[default: 128k]", "[default: 1g]", "[default: 10]",
        "[default ATTR: application]",
    };
    const char *u = hs_config_usage();
    size_t i;

    (void)state;
    assert_non_null(u);
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(u, words[i]) == NULL)
            fail_msg("--help does not mention '%s'", words[i]);
    }
}

static void
test_usage_fits_80_columns(void **state)
{
    const char *p = hs_config_usage();
    size_t lines = 0;

    (void)state;
    while (*p != '\0') {
        size_t n = strcspn(p, "\n");

        if (n > 79)
            fail_msg("help line too long (%zu): %.*s", n, (int)n, p);
        lines++;
        p += n;
        assert_int_equal(*p, '\n');     /* ends with a newline */
        p++;
    }
    assert_true(lines > 20);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_module_and_attr),
        cmocka_unit_test(test_dotted_attr),
        cmocka_unit_test(test_factory_parens),
        cmocka_unit_test(test_factory_flag),
        cmocka_unit_test(test_invalid_module_name),
        cmocka_unit_test(test_invalid_dotted_paths),
        cmocka_unit_test(test_invalid_attr_message),
        cmocka_unit_test(test_empty_module),
        cmocka_unit_test(test_missing_attr),
        cmocka_unit_test(test_missing_application),
        cmocka_unit_test(test_extra_positional),
        cmocka_unit_test(test_options_after_positional),
        cmocka_unit_test(test_caller_argv_unchanged),
        cmocka_unit_test(test_double_dash_ends_options),
        cmocka_unit_test(test_bind_spellings),
        cmocka_unit_test(test_last_option_wins),
        cmocka_unit_test(test_bad_bind_message),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_empty_path_rejected),
        cmocka_unit_test(test_repeatable_lists),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_max_connections_range),
        cmocka_unit_test(test_bad_number),
        cmocka_unit_test(test_size_suffixes),
        cmocka_unit_test(test_bad_size),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_quiet_disables_access_log),
        cmocka_unit_test(test_short_option_cluster),
        cmocka_unit_test(test_abbreviated_long_option),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_help_beats_errors),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_unknown_option_message),
        cmocka_unit_test(test_first_error_reported),
        cmocka_unit_test(test_missing_argument_message),
        cmocka_unit_test(test_flag_with_argument_message),
        cmocka_unit_test(test_ambiguous_option_message),
        cmocka_unit_test(test_env_values),
        cmocka_unit_test(test_env_quiet_and_factory),
        cmocka_unit_test(test_env_false_values),
        cmocka_unit_test(test_env_overridden_by_argv),
        cmocka_unit_test(test_env_list_replaced_by_argv),
        cmocka_unit_test(test_env_list_separators),
        cmocka_unit_test(test_env_empty_is_unset),
        cmocka_unit_test(test_env_bad_value_names_variable),
        cmocka_unit_test(test_env_bad_value_is_error_even_if_overridden),
        cmocka_unit_test(test_only_hotserve_variables_read),
        cmocka_unit_test(test_null_getenv),
        cmocka_unit_test(test_null_err_buffer),
        cmocka_unit_test(test_parse_repeatable),
        cmocka_unit_test(test_parse_after_foreign_getopt),
        cmocka_unit_test(test_error_releases_config),
        cmocka_unit_test(test_free_null_and_twice),
        cmocka_unit_test(test_restart_options),
        cmocka_unit_test(test_restart_options_env),
        cmocka_unit_test(test_restart_options_errors),
        cmocka_unit_test(test_usage_documents_every_option),
        cmocka_unit_test(test_usage_fits_80_columns),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
