/* bridge/reloader_policy.c: hs_reloader_glob_match, the matching of
 * --restart-on globs (and the framework defaults) against changed files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "bridge/reloader.h"

#define ABS "/home/me/site/"

static int
m(const char *glob, const char *rel)
{
    char abs[512];

    snprintf(abs, sizeof(abs), ABS "%s", rel);
    return hs_reloader_glob_match(glob, rel, abs);
}

static void
test_slashless_glob_matches_file_name(void **state)
{
    (void)state;
    assert_true(m("models.py", "models.py"));
    assert_true(m("models.py", "shop/models.py"));
    assert_true(m("models.py", "a/b/c/models.py"));
    assert_false(m("models.py", "shop/mymodels.py"));
    assert_false(m("models.py", "models.py/x.py"));
    assert_true(m("*.env", "deploy/prod.env"));
    assert_true(m(".env", ".env"));
    assert_false(m(".env", "x.env"));
}

static void
test_glob_with_slash_matches_relative_path(void **state)
{
    (void)state;
    assert_true(m("*/settings.py", "mysite/settings.py"));
    /* fnmatch without FNM_PATHNAME: '*' crosses '/'. */
    assert_true(m("*/settings.py", "a/b/settings.py"));
    assert_false(m("*/settings.py", "settings.py"));
    assert_true(m("mysite/settings/*", "mysite/settings/dev.py"));
    assert_false(m("mysite/settings/*", "other/settings/dev.py"));
    assert_false(m("settings/*", "mysite/settings/dev.py"));
}

static void
test_dot_slash_anchors_at_working_directory(void **state)
{
    (void)state;
    assert_true(m("./settings.py", "settings.py"));
    assert_false(m("./settings.py", "app/settings.py"));
    assert_true(m("./mysite/*.py", "mysite/urls.py"));
}

static void
test_double_star_is_any_depth(void **state)
{
    (void)state;
    assert_true(m("**/migrations/*", "migrations/0001.py"));
    assert_true(m("**/migrations/*", "shop/migrations/0001.py"));
    assert_true(m("**/migrations/*", "a/b/migrations/x/0002.py"));
    assert_false(m("**/migrations/*", "shop/migrations"));
    assert_false(m("**/migrations/*", "shop/mymigrations/0001.py"));
    assert_true(m("**/models/*", "models/base.py"));
}

static void
test_absolute_glob_matches_absolute_path(void **state)
{
    (void)state;
    assert_true(m(ABS "*/settings.py", "mysite/settings.py"));
    assert_false(m("/elsewhere/*", "mysite/settings.py"));
    assert_false(hs_reloader_glob_match("/x/*", "x/y", NULL));
}

static void
test_bad_input(void **state)
{
    (void)state;
    assert_false(hs_reloader_glob_match(NULL, "a.py", ABS "a.py"));
    assert_false(hs_reloader_glob_match("", "a.py", ABS "a.py"));
    assert_false(hs_reloader_glob_match("a.py", NULL, NULL));
    assert_false(m("[", "a.py"));
    assert_true(m("[ab].py", "b.py"));
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slashless_glob_matches_file_name),
        cmocka_unit_test(test_glob_with_slash_matches_relative_path),
        cmocka_unit_test(test_dot_slash_anchors_at_working_directory),
        cmocka_unit_test(test_double_star_is_any_depth),
        cmocka_unit_test(test_absolute_glob_matches_absolute_path),
        cmocka_unit_test(test_bad_input),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("restartrule", tests, NULL, NULL);
}
