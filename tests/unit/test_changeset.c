/* The change set: dedupe, first-seen order, generation, overflow, take. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reload/changeset.h"

static struct hs_changes
take(struct hs_changeset *cs)
{
    struct hs_changes ch;

    memset(&ch, 0xAB, sizeof(ch));  /* take must overwrite everything */
    hs_changeset_lock(cs);
    assert_int_equal(hs_changeset_take_locked(cs, &ch), 0);
    hs_changeset_unlock(cs);
    return ch;
}

static void
add(struct hs_changeset *cs, const char *path)
{
    hs_changeset_lock(cs);
    assert_int_equal(hs_changeset_add_locked(cs, path), 0);
    hs_changeset_unlock(cs);
}

static void
test_new_is_empty(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    assert_non_null(cs);
    assert_int_equal(hs_changeset_gen(cs), 0);
    hs_changeset_lock(cs);
    assert_int_equal(hs_changeset_pending_locked(cs), 0);
    hs_changeset_unlock(cs);
    struct hs_changes ch = take(cs);
    assert_int_equal(ch.len, 0);
    assert_int_equal(ch.overflow, 0);
    assert_int_equal(ch.gen, 0);
    hs_changes_free(&ch);
    hs_changeset_free(cs);
}

static void
test_dedupe_keeps_first_seen_order(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    add(cs, "/p/b.py");
    add(cs, "/p/a.py");
    add(cs, "/p/b.py");
    add(cs, "/p/c.py");
    add(cs, "/p/a.py");
    hs_changeset_lock(cs);
    assert_int_equal(hs_changeset_pending_locked(cs), 3);
    hs_changeset_unlock(cs);
    struct hs_changes ch = take(cs);
    assert_int_equal(ch.len, 3);
    assert_string_equal(ch.paths[0], "/p/b.py");
    assert_string_equal(ch.paths[1], "/p/a.py");
    assert_string_equal(ch.paths[2], "/p/c.py");
    hs_changes_free(&ch);
    hs_changeset_free(cs);
}

static void
test_every_add_bumps_generation(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    add(cs, "/p/a.py");
    assert_int_equal(hs_changeset_gen(cs), 1);
    /* The second save of the same file must be visible to a reader
     * comparing generations although the set does not grow. */
    add(cs, "/p/a.py");
    assert_int_equal(hs_changeset_gen(cs), 2);
    struct hs_changes ch = take(cs);
    assert_int_equal(ch.gen, 2);
    assert_int_equal(ch.len, 1);
    hs_changes_free(&ch);
    /* take keeps the generation. */
    assert_int_equal(hs_changeset_gen(cs), 2);
    hs_changeset_free(cs);
}

static void
test_overflow_flag_and_generation(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    hs_changeset_lock(cs);
    hs_changeset_set_overflow_locked(cs);
    hs_changeset_unlock(cs);
    assert_int_equal(hs_changeset_gen(cs), 1);
    add(cs, "/p/a.py");
    struct hs_changes ch = take(cs);
    assert_int_equal(ch.overflow, 1);
    assert_int_equal(ch.len, 1);
    assert_int_equal(ch.gen, 2);
    hs_changes_free(&ch);
    /* The flag is handed over once. */
    ch = take(cs);
    assert_int_equal(ch.overflow, 0);
    assert_int_equal(ch.len, 0);
    hs_changes_free(&ch);
    hs_changeset_free(cs);
}

static void
test_take_empties_the_set(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    add(cs, "/p/a.py");
    struct hs_changes ch = take(cs);
    assert_int_equal(ch.len, 1);
    hs_changeset_lock(cs);
    assert_int_equal(hs_changeset_pending_locked(cs), 0);
    hs_changeset_unlock(cs);
    /* The dedupe index was emptied too: the path is new again (checked
     * while the taken strings are still alive, so a stale index entry
     * would find them). */
    add(cs, "/p/a.py");
    hs_changeset_lock(cs);
    assert_int_equal(hs_changeset_pending_locked(cs), 1);
    hs_changeset_unlock(cs);
    hs_changes_free(&ch);
    ch = take(cs);
    assert_int_equal(ch.len, 1);
    assert_string_equal(ch.paths[0], "/p/a.py");
    hs_changes_free(&ch);
    hs_changeset_free(cs);
}

static void
test_paths_are_copied(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    char buf[32];
    snprintf(buf, sizeof(buf), "/p/x.py");
    add(cs, buf);
    buf[3] = 'y';
    add(cs, buf);
    struct hs_changes ch = take(cs);
    assert_int_equal(ch.len, 2);
    assert_string_equal(ch.paths[0], "/p/x.py");
    assert_string_equal(ch.paths[1], "/p/y.py");
    hs_changes_free(&ch);
    hs_changeset_free(cs);
}

static void
test_rejects_empty_path(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    hs_changeset_lock(cs);
    assert_int_equal(hs_changeset_add_locked(cs, ""), -EINVAL);
    assert_int_equal(hs_changeset_add_locked(cs, NULL), -EINVAL);
    assert_int_equal(hs_changeset_pending_locked(cs), 0);
    hs_changeset_unlock(cs);
    assert_int_equal(hs_changeset_gen(cs), 0);
    hs_changeset_free(cs);
}

static void
test_changes_free_zeroes(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    add(cs, "/p/a.py");
    struct hs_changes ch = take(cs);
    hs_changes_free(&ch);
    assert_null(ch.paths);
    assert_int_equal(ch.len, 0);
    hs_changes_free(&ch);   /* twice is fine */
    hs_changes_free(NULL);
    hs_changeset_free(NULL);
    hs_changeset_free(cs);
}

static void
test_many_paths_dedupe(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    char path[64];
    hs_changeset_lock(cs);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) {
            snprintf(path, sizeof(path), "/p/m%d.py", i);
            assert_int_equal(hs_changeset_add_locked(cs, path), 0);
        }
    }
    assert_int_equal(hs_changeset_pending_locked(cs), 5000);
    hs_changeset_unlock(cs);
    assert_int_equal(hs_changeset_gen(cs), 15000);
    struct hs_changes ch = take(cs);
    assert_int_equal(ch.len, 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(path, sizeof(path), "/p/m%d.py", i);
        assert_string_equal(ch.paths[i], path);
    }
    hs_changes_free(&ch);
    hs_changeset_free(cs);
}

struct worker {
    struct hs_changeset *cs;
    int id;
    int failures;
};

static void *
adder(void *arg)
{
    struct worker *wk = arg;
    char path[64];

    for (int i = 0; i < 2000; i++) {
        snprintf(path, sizeof(path), "/p/t%d/%d.py", wk->id, i % 100);
        hs_changeset_lock(wk->cs);
        if (hs_changeset_add_locked(wk->cs, path) != 0) {
            wk->failures++;
        }
        hs_changeset_unlock(wk->cs);
    }
    return NULL;
}

static void
test_concurrent_adds(void **state)
{
    (void)state;
    struct hs_changeset *cs = hs_changeset_new();
    pthread_t t[4];
    struct worker wk[4];
    for (int i = 0; i < 4; i++) {
        wk[i].cs = cs;
        wk[i].id = i;
        wk[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, adder, &wk[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(wk[i].failures, 0);
    }
    assert_int_equal(hs_changeset_gen(cs), 8000);
    struct hs_changes ch = take(cs);
    assert_int_equal(ch.len, 400);
    hs_changes_free(&ch);
    hs_changeset_free(cs);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_is_empty),
        cmocka_unit_test(test_dedupe_keeps_first_seen_order),
        cmocka_unit_test(test_every_add_bumps_generation),
        cmocka_unit_test(test_overflow_flag_and_generation),
        cmocka_unit_test(test_take_empties_the_set),
        cmocka_unit_test(test_paths_are_copied),
        cmocka_unit_test(test_rejects_empty_path),
        cmocka_unit_test(test_changes_free_zeroes),
        cmocka_unit_test(test_many_paths_dedupe),
        cmocka_unit_test(test_concurrent_adds),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests_name("changeset", tests, NULL, NULL);
}
