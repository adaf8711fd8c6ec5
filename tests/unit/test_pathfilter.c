/* Path filters: built-in excludes, editor temp names, user globs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reload/pathfilter.h"

static void
expect_excluded(const struct hs_pathfilter *f, const char *const *paths,
                int want)
{
    for (const char *const *p = paths; *p != NULL; p++) {
        if ((hs_pathfilter_excluded(f, *p) != 0) != want) {
            fail_msg("hs_pathfilter_excluded(\"%s\") should be %d", *p,
                     want);
        }
    }
}

static void
expect_temp(const char *const *names, int want)
{
    for (const char *const *p = names; *p != NULL; p++) {
        if ((hs_pathfilter_is_temp(*p) != 0) != want) {
            fail_msg("hs_pathfilter_is_temp(\"%s\") should be %d", *p, want);
        }
    }
}

static void
test_default_directories(void **state)
{
    (void)state;
    struct hs_pathfilter *f = hs_pathfilter_new();
    static const char *const yes[] = {
        ".git", ".git/config", "app/.git/HEAD", ".hg/store", ".svn/x",
        "__pycache__", "pkg/__pycache__/m.cpython-311.pyc",
        ".venv/lib/python3.11/site-packages/django/__init__.py",
        "venv/bin/activate", "env/lib/x.py", "web/node_modules/x/i.js",
        ".mypy_cache/3.11/x.json", ".pytest_cache/v/x", ".tox/py311/x.py",
        NULL,
    };
    static const char *const no[] = {
        "app/views.py", "environment/x.py", "myvenv/x.py", "gitx/a.py",
        ".github/workflows/ci.yml", "pycache/x.py", "envs.py", "", NULL,
    };
    assert_non_null(f);
    expect_excluded(f, yes, 1);
    expect_excluded(f, no, 0);
    hs_pathfilter_free(f);
}

static void
test_default_bytecode(void **state)
{
    (void)state;
    struct hs_pathfilter *f = hs_pathfilter_new();
    static const char *const yes[] = {"a.pyc", "pkg/b.pyo", NULL};
    static const char *const no[] = {"a.py", "a.pyx", "a.pyi", "pyc", NULL};
    expect_excluded(f, yes, 1);
    expect_excluded(f, no, 0);
    hs_pathfilter_free(f);
}

static void
test_temp_names(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "4913", ".x.swp", ".a.py.swp", ".a.py.swx", ".a.py.swo", "x.swp",
        "x~", "a.py~", ".#x", ".#a.py", "#a.py#", "sedAbC123", "sed0a1B2c",
        "sedabcdef", "x.tmp", "a.py.bak", ".~lock.a.odt#",
        "a.py___jb_tmp___", "a.py___jb_old___", ".goutputstream-ABC123",
        "pkg/4913", "/abs/dir/.a.py.swp", NULL,
    };
    static const char *const no[] = {
        "a.py", "sed.py", "sedAbC12", "sedAbC1234", "sedAb-123", "sed",
        "49130", "4913.py", "x", "#x", "~x", "x.swpx", "a.py.tmpl",
        "tmp", "pkg/", "", NULL,
    };
    expect_temp(yes, 1);
    expect_temp(no, 0);
}

static void
test_temp_rule_on_final_component_only(void **state)
{
    (void)state;
    struct hs_pathfilter *f = hs_pathfilter_new();
    static const char *const yes[] = {
        "4913", "pkg/.views.py.swp", "pkg/views.py~", "pkg/sedAbC123",
        NULL,
    };
    /* A package may be called "sedentary" (nine letters, like sed's
     * temp names); temp rules apply to the file name only. */
    static const char *const no[] = {
        "sedentary/models.py", "x~/a.py", "4913/a.py", NULL,
    };
    expect_excluded(f, yes, 1);
    expect_excluded(f, no, 0);
    hs_pathfilter_free(f);
}

static void
test_user_component_globs(void **state)
{
    (void)state;
    struct hs_pathfilter *f = hs_pathfilter_new();
    assert_int_equal(hs_pathfilter_add(f, "build"), 0);
    assert_int_equal(hs_pathfilter_add(f, "*.log"), 0);
    assert_int_equal(hs_pathfilter_add(f, "dist/"), 0);
    static const char *const yes[] = {
        "build", "build/x.py", "src/build/x.py", "a.log", "logs/web.log",
        ".hidden.log", "dist/x", "a/dist/b/c.py", NULL,
    };
    static const char *const no[] = {
        "builder/x.py", "rebuild.py", "a.logx", "log/a.py", "distro/x.py",
        NULL,
    };
    expect_excluded(f, yes, 1);
    expect_excluded(f, no, 0);
    hs_pathfilter_free(f);
}

static void
test_user_anchored_globs(void **state)
{
    (void)state;
    struct hs_pathfilter *f = hs_pathfilter_new();
    assert_int_equal(hs_pathfilter_add(f, "docs/*.md"), 0);
    assert_int_equal(hs_pathfilter_add(f, "/generated"), 0);
    assert_int_equal(hs_pathfilter_add(f, "./local/settings_*.py"), 0);
    static const char *const yes[] = {
        "docs/a.md", "generated", "generated/x.py", "generated/a/b.py",
        "local/settings_dev.py", NULL,
    };
    static const char *const no[] = {
        /* '*' does not cross '/', and the globs are anchored at the
         * root. */
        "docs/sub/a.md", "x/docs/a.md", "docs/a.mdx", "a/generated/x.py",
        "generatedx/y.py", "local/settings.py", "x/local/settings_a.py",
        NULL,
    };
    expect_excluded(f, yes, 1);
    expect_excluded(f, no, 0);
    hs_pathfilter_free(f);
}

static void
test_user_doublestar_globs(void **state)
{
    (void)state;
    struct hs_pathfilter *f = hs_pathfilter_new();
    assert_int_equal(hs_pathfilter_add(f, "**/migrations/*.py"), 0);
    assert_int_equal(hs_pathfilter_add(f, "a/**/b"), 0);
    assert_int_equal(hs_pathfilter_add(f, "static/**"), 0);
    static const char *const yes[] = {
        "migrations/0001_initial.py", "app/migrations/0001_initial.py",
        "x/y/z/migrations/0002.py", "a/b", "a/x/b", "a/x/y/z/b",
        "a/x/b/c.py", "static/css/site.css", "static/x", NULL,
    };
    static const char *const no[] = {
        "app/migrations/sub/x.py", "app/migrations/README",
        "app/migration/0001.py", "a/x/c", "b", "x/a/b", "staticx/a.css",
        NULL,
    };
    expect_excluded(f, yes, 1);
    expect_excluded(f, no, 0);
    hs_pathfilter_free(f);
}

static void
test_add_rejects_empty_globs(void **state)
{
    (void)state;
    struct hs_pathfilter *f = hs_pathfilter_new();
    assert_int_equal(hs_pathfilter_add(f, ""), -EINVAL);
    assert_int_equal(hs_pathfilter_add(f, "/"), -EINVAL);
    assert_int_equal(hs_pathfilter_add(f, "./"), -EINVAL);
    assert_int_equal(hs_pathfilter_add(f, NULL), -EINVAL);
    /* Nothing was added: ordinary paths stay included. */
    assert_int_equal(hs_pathfilter_excluded(f, "a.py"), 0);
    hs_pathfilter_free(f);
    hs_pathfilter_free(NULL);
}

static void
test_many_components(void **state)
{
    (void)state;
    struct hs_pathfilter *f = hs_pathfilter_new();
    char path[3000];
    size_t n = 0;
    /* Longer than the matcher's stack buffers. */
    for (int i = 0; i < 700; i++) {
        path[n++] = 'd';
        path[n++] = '/';
    }
    memcpy(path + n, "x.py", 5);
    assert_int_equal(hs_pathfilter_add(f, "**/e/x.py"), 0);
    assert_int_equal(hs_pathfilter_excluded(f, path), 0);
    path[n - 2] = 'e';
    assert_int_equal(hs_pathfilter_excluded(f, path), 1);
    memcpy(path + n, "__pycache__", 12);
    path[n - 2] = 'd';
    assert_int_equal(hs_pathfilter_excluded(f, path), 1);
    hs_pathfilter_free(f);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_directories),
        cmocka_unit_test(test_default_bytecode),
        cmocka_unit_test(test_temp_names),
        cmocka_unit_test(test_temp_rule_on_final_component_only),
        cmocka_unit_test(test_user_component_globs),
        cmocka_unit_test(test_user_anchored_globs),
        cmocka_unit_test(test_user_doublestar_globs),
        cmocka_unit_test(test_add_rejects_empty_globs),
        cmocka_unit_test(test_many_components),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests_name("pathfilter", tests, NULL, NULL);
}
