/* The watcher on a real file system: each editor save style produces
 * exactly the final path, excluded directories stay silent, new
 * directories are watched and scanned, polling is exact, and running out
 * of inotify resources switches to polling with a notice.
 *
 * No sleeps: the kernel queues inotify events inside the syscall that
 * causes them, so a sync right after the change must see it. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "reload/changeset.h"
#include "reload/pathfilter.h"
#include "reload/watch.h"
#include "reload/watch_internal.h"

struct fx {
    char root[256];
    char other[256];            /* a second directory, outside the root */
    struct hs_changeset *cs;
    struct hs_pathfilter *filter;
    struct hs_watch *w;
};

static const char *
at(struct fx *f, const char *rel)
{
    static char buf[4][PATH_MAX];
    static int k;
    char *p = buf[k++ % 4];

    snprintf(p, PATH_MAX, "%s/%s", f->root, rel);
    return p;
}

static void
write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static void
rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
make_fixture(void **state, int force_poll)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");

    if (f == NULL) {
        return -1;
    }
    if (tmp == NULL || tmp[0] == '\0') {
        tmp = "/tmp";
    }
    snprintf(f->root, sizeof(f->root), "%s/hs_watch_XXXXXX", tmp);
    snprintf(f->other, sizeof(f->other), "%s/hs_watch_o_XXXXXX", tmp);
    if (mkdtemp(f->root) == NULL || mkdtemp(f->other) == NULL) {
        return -1;
    }
    /* Files and tool directories that exist before the watch starts. */
    write_file(at(f, "a.py"), "x = 1\n");
    write_file(at(f, "b.py"), "y = 2\n");
    mkdir(at(f, "__pycache__"), 0755);
    mkdir(at(f, ".git"), 0755);
    mkdir(at(f, "pkg"), 0755);
    write_file(at(f, "pkg/__init__.py"), "");
    write_file(at(f, "pkg/mod.py"), "z = 3\n");
    f->cs = hs_changeset_new();
    f->filter = hs_pathfilter_new();
    f->w = hs_watch_new(f->cs, f->filter, force_poll);
    if (f->cs == NULL || f->filter == NULL || f->w == NULL) {
        return -1;
    }
    *state = f;
    return 0;
}

static int
setup(void **state)
{
    if (make_fixture(state, 0) < 0) {
        return -1;
    }
    struct fx *f = *state;
    if (hs_watch_add_root(f->w, f->root) != 0) {
        return -1;
    }
    return 0;
}

static int
setup_poll(void **state)
{
    return make_fixture(state, 1);
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    hs_watch_free(f->w);
    hs_pathfilter_free(f->filter);
    hs_changeset_free(f->cs);
    rm_rf(f->root);
    rm_rf(f->other);
    free(f);
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sync, take the change set and compare it, as a set, with the expected
 * paths (relative to the root unless absolute; NULL-terminated). */
static void
expect_changes(struct fx *f, const char *const *want)
{
    struct hs_changes ch;
    char *exp[64];
    size_t n = 0;

    assert_true(hs_watch_sync(f->w) >= 0);
    hs_changeset_lock(f->cs);
    assert_int_equal(hs_changeset_take_locked(f->cs, &ch), 0);
    hs_changeset_unlock(f->cs);
    for (; want[n] != NULL; n++) {
        exp[n] = strdup(want[n][0] == '/' ? want[n] : at(f, want[n]));
    }
    if (ch.len > 0) {
        qsort(ch.paths, ch.len, sizeof(char *), cmp_str);
    }
    if (n > 0) {
        qsort(exp, n, sizeof(char *), cmp_str);
    }
    for (size_t i = 0; i < ch.len || i < n; i++) {
        const char *got = i < ch.len ? ch.paths[i] : "(nothing)";
        const char *w = i < n ? exp[i] : "(nothing)";
        if (strcmp(got, w) != 0) {
            for (size_t k = 0; k < ch.len; k++) {
                print_error("recorded: %s\n", ch.paths[k]);
            }
            fail_msg("change %zu: got %s, want %s", i, got, w);
        }
    }
    assert_int_equal(ch.overflow, 0);
    for (size_t i = 0; i < n; i++) {
        free(exp[i]);
    }
    hs_changes_free(&ch);
}

static const char *const NOTHING[] = {NULL};

static void
test_initial_files_not_reported(void **state)
{
    struct fx *f = *state;
    assert_int_equal(hs_watch_mode(f->w), HS_WATCH_INOTIFY);
    assert_true(hs_watch_fd(f->w) >= 0);
    assert_int_equal(hs_watch_sync(f->w), 0);
    expect_changes(f, NOTHING);
    assert_int_equal(hs_changeset_gen(f->cs), 0);
}

static void
test_inplace_write(void **state)
{
    struct fx *f = *state;
    write_file(at(f, "a.py"), "x = 2\n");
    assert_int_equal(hs_watch_sync(f->w), 1);
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
}

static void
test_temp_then_rename(void **state)
{
    struct fx *f = *state;
    /* VS Code / Emacs / generic "write temp, rename over". */
    write_file(at(f, "a.py.tmp"), "x = 3\n");
    assert_int_equal(rename(at(f, "a.py.tmp"), at(f, "a.py")), 0);
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
}

static void
test_jetbrains_safe_write(void **state)
{
    struct fx *f = *state;
    write_file(at(f, "a.py___jb_tmp___"), "x = 4\n");
    assert_int_equal(rename(at(f, "a.py"), at(f, "a.py___jb_old___")), 0);
    assert_int_equal(rename(at(f, "a.py___jb_tmp___"), at(f, "a.py")), 0);
    assert_int_equal(unlink(at(f, "a.py___jb_old___")), 0);
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
}

static void
test_vim_backup_style(void **state)
{
    struct fx *f = *state;
    /* vim probes the directory with "4913", moves the original to a.py~,
     * writes a new a.py and removes the backup. */
    write_file(at(f, "4913"), "");
    assert_int_equal(unlink(at(f, "4913")), 0);
    write_file(at(f, ".a.py.swp"), "swap");
    assert_int_equal(rename(at(f, "a.py"), at(f, "a.py~")), 0);
    write_file(at(f, "a.py"), "x = 5\n");
    assert_int_equal(unlink(at(f, "a.py~")), 0);
    assert_int_equal(unlink(at(f, ".a.py.swp")), 0);
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
}

static void
test_sed_inplace(void **state)
{
    struct fx *f = *state;
    write_file(at(f, "sedAbC123"), "x = 6\n");
    assert_int_equal(chmod(at(f, "sedAbC123"), 0644), 0);
    assert_int_equal(rename(at(f, "sedAbC123"), at(f, "a.py")), 0);
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
}

static void
test_touch_and_utime(void **state)
{
    struct fx *f = *state;
    static const char *const want[] = {"a.py", NULL};
    /* os.utime: IN_ATTRIB only. */
    assert_int_equal(utimensat(AT_FDCWD, at(f, "a.py"), NULL, 0), 0);
    expect_changes(f, want);
    /* touch(1): open for writing, futimens, close. */
    int fd = open(at(f, "a.py"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(futimens(fd, NULL), 0);
    close(fd);
    expect_changes(f, want);
}

static void
test_delete(void **state)
{
    struct fx *f = *state;
    assert_int_equal(unlink(at(f, "b.py")), 0);
    static const char *const want[] = {"b.py", NULL};
    expect_changes(f, want);
}

static void
test_move_out_and_back_in(void **state)
{
    struct fx *f = *state;
    char outside[PATH_MAX];
    snprintf(outside, sizeof(outside), "%s/b.py", f->other);
    assert_int_equal(rename(at(f, "b.py"), outside), 0);
    static const char *const gone[] = {"b.py", NULL};
    expect_changes(f, gone);
    assert_int_equal(rename(outside, at(f, "pkg/c.py")), 0);
    static const char *const back[] = {"pkg/c.py", NULL};
    expect_changes(f, back);
}

static void
test_mkdir_then_file_before_sync(void **state)
{
    struct fx *f = *state;
    /* The file is written before the new directory has a watch: only the
     * scan that follows the watch can find it. */
    assert_int_equal(mkdir(at(f, "newpkg"), 0755), 0);
    write_file(at(f, "newpkg/__init__.py"), "");
    write_file(at(f, "newpkg/.x.py.swp"), "");
    static const char *const want[] = {"newpkg/__init__.py", NULL};
    expect_changes(f, want);
    /* And the new watch reports later writes. */
    write_file(at(f, "newpkg/views.py"), "v = 1\n");
    static const char *const later[] = {"newpkg/views.py", NULL};
    expect_changes(f, later);
}

static void
test_write_in_progress_not_reported(void **state)
{
    struct fx *f = *state;
    /* IN_CREATE alone: the file is still being written. */
    int fd = open(at(f, "c.py"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "half", 4), 4);
    assert_int_equal(hs_watch_sync(f->w), 0);
    expect_changes(f, NOTHING);
    assert_int_equal(close(fd), 0);
    static const char *const want[] = {"c.py", NULL};
    expect_changes(f, want);
}

static void
test_dirs_named_like_temp_files(void **state)
{
    struct fx *f = *state;
    /* Temp-name rules are for file names: a package called "sedentary"
     * (nine letters like sed's temp files) or "4913" is watched. */
    assert_int_equal(mkdir(at(f, "sedentary"), 0755), 0);
    assert_int_equal(mkdir(at(f, "4913"), 0755), 0);
    write_file(at(f, "sedentary/models.py"), "");
    write_file(at(f, "4913/x.py"), "");
    static const char *const want[] = {
        "sedentary/models.py", "4913/x.py", NULL,
    };
    expect_changes(f, want);
    write_file(at(f, "sedentary/models.py"), "m = 1\n");
    static const char *const later[] = {"sedentary/models.py", NULL};
    expect_changes(f, later);
}

static void
test_nested_dirs_created_at_once(void **state)
{
    struct fx *f = *state;
    assert_int_equal(mkdir(at(f, "n1"), 0755), 0);
    assert_int_equal(mkdir(at(f, "n1/n2"), 0755), 0);
    assert_int_equal(mkdir(at(f, "n1/n2/n3"), 0755), 0);
    assert_int_equal(mkdir(at(f, "n1/n2/__pycache__"), 0755), 0);
    write_file(at(f, "n1/n2/n3/deep.py"), "d = 1\n");
    write_file(at(f, "n1/n2/__pycache__/deep.cpython-311.pyc"), "x");
    static const char *const want[] = {"n1/n2/n3/deep.py", NULL};
    expect_changes(f, want);
    write_file(at(f, "n1/n2/mid.py"), "m = 1\n");
    write_file(at(f, "n1/n2/n3/deep.py"), "d = 2\n");
    static const char *const later[] = {
        "n1/n2/mid.py", "n1/n2/n3/deep.py", NULL,
    };
    expect_changes(f, later);
    /* The new __pycache__ was not watched. */
    write_file(at(f, "n1/n2/__pycache__/mid.cpython-311.pyc"), "x");
    expect_changes(f, NOTHING);
}

static void
test_excluded_dirs_are_silent(void **state)
{
    struct fx *f = *state;
    write_file(at(f, "__pycache__/a.cpython-311.pyc"), "x");
    write_file(at(f, ".git/index"), "x");
    write_file(at(f, "a.pyc"), "x");
    assert_int_equal(mkdir(at(f, "node_modules"), 0755), 0);
    write_file(at(f, "node_modules/x.js"), "x");
    assert_int_equal(hs_watch_sync(f->w), 0);
    expect_changes(f, NOTHING);
    /* Their removal is not reported either. */
    assert_int_equal(unlink(at(f, "node_modules/x.js")), 0);
    assert_int_equal(rmdir(at(f, "node_modules")), 0);
    expect_changes(f, NOTHING);
    assert_false(hs_strmap_get(&f->w->by_path, at(f, "__pycache__"),
                               NULL));
    assert_false(hs_strmap_get(&f->w->by_path, at(f, ".git"), NULL));
    assert_true(hs_strmap_get(&f->w->by_path, at(f, "pkg"), NULL));
    assert_true(hs_strmap_get(&f->w->by_path, f->root, NULL));
}

static void
test_user_exclude(void **state)
{
    struct fx *f = *state;
    /* A fresh watcher with --exclude build and an anchored md glob. */
    struct hs_pathfilter *flt = hs_pathfilter_new();
    assert_int_equal(hs_pathfilter_add(flt, "build"), 0);
    assert_int_equal(hs_pathfilter_add(flt, "docs/*.md"), 0);
    assert_int_equal(mkdir(at(f, "build"), 0755), 0);
    assert_int_equal(mkdir(at(f, "docs"), 0755), 0);
    struct hs_watch *w2 = hs_watch_new(f->cs, flt, 0);
    assert_non_null(w2);
    assert_int_equal(hs_watch_add_root(w2, f->root), 0);
    hs_watch_free(f->w);
    f->w = w2;
    expect_changes(f, NOTHING);   /* drop what the first watcher saw */
    write_file(at(f, "build/out.py"), "x");
    write_file(at(f, "docs/index.md"), "x");
    write_file(at(f, "docs/conf.py"), "x");
    static const char *const want[] = {"docs/conf.py", NULL};
    expect_changes(f, want);
    hs_watch_free(f->w);
    f->w = NULL;
    hs_pathfilter_free(flt);
}

static void
test_removed_dir_drops_watches(void **state)
{
    struct fx *f = *state;
    assert_int_equal(mkdir(at(f, "pkg/sub"), 0755), 0);
    write_file(at(f, "pkg/sub/s.py"), "");
    static const char *const made[] = {"pkg/sub/s.py", NULL};
    expect_changes(f, made);
    size_t before = f->w->by_wd.len;
    assert_true(hs_strmap_get(&f->w->by_path, at(f, "pkg/sub"), NULL));
    assert_int_equal(unlink(at(f, "pkg/sub/s.py")), 0);
    assert_int_equal(unlink(at(f, "pkg/mod.py")), 0);
    assert_int_equal(unlink(at(f, "pkg/__init__.py")), 0);
    assert_int_equal(rmdir(at(f, "pkg/sub")), 0);
    assert_int_equal(rmdir(at(f, "pkg")), 0);
    /* Deleted directories are reported by path too: a module of a
     * package moved away has no event of its own. */
    static const char *const want[] = {
        "pkg/sub/s.py", "pkg/mod.py", "pkg/__init__.py", "pkg/sub", "pkg",
        NULL,
    };
    expect_changes(f, want);
    assert_int_equal(f->w->by_wd.len, before - 2);
    assert_false(hs_strmap_get(&f->w->by_path, at(f, "pkg"), NULL));
    assert_false(hs_strmap_get(&f->w->by_path, at(f, "pkg/sub"), NULL));
    /* A directory of the same name later is watched again. */
    assert_int_equal(mkdir(at(f, "pkg"), 0755), 0);
    write_file(at(f, "pkg/new.py"), "");
    static const char *const again[] = {"pkg/new.py", NULL};
    expect_changes(f, again);
}

static void
test_dir_moved_within_root(void **state)
{
    struct fx *f = *state;
    assert_int_equal(rename(at(f, "pkg"), at(f, "pkg2")), 0);
    static const char *const want[] = {
        "pkg", "pkg2/__init__.py", "pkg2/mod.py", NULL,
    };
    expect_changes(f, want);
    /* Events below the moved directory carry the new name. */
    write_file(at(f, "pkg2/mod.py"), "z = 4\n");
    static const char *const later[] = {"pkg2/mod.py", NULL};
    expect_changes(f, later);
    assert_false(hs_strmap_get(&f->w->by_path, at(f, "pkg"), NULL));
}

static void
test_burst_coalesces(void **state)
{
    struct fx *f = *state;
    uint64_t gen = hs_changeset_gen(f->cs);
    for (int i = 0; i < 100; i++) {
        write_file(at(f, "a.py"), i % 2 ? "x = 1\n" : "x = 2\n");
        write_file(at(f, "b.py"), "y\n");
    }
    assert_int_equal(hs_watch_sync(f->w), 200);
    assert_int_equal(hs_changeset_gen(f->cs), gen + 200);
    hs_changeset_lock(f->cs);
    assert_int_equal(hs_changeset_pending_locked(f->cs), 2);
    hs_changeset_unlock(f->cs);
    static const char *const want[] = {"a.py", "b.py", NULL};
    expect_changes(f, want);
}

struct syncer {
    struct hs_watch *w;
    atomic_int *stop;
    int errors;
};

static void *
sync_loop(void *arg)
{
    struct syncer *sy = arg;

    while (!atomic_load(sy->stop)) {
        if (hs_watch_sync(sy->w) < 0) {
            sy->errors++;
        }
    }
    return NULL;
}

/* The barrier holds with other threads draining the same fd: once a sync
 * returns, every write completed before it is in the set, whichever
 * thread read its event. */
static void
test_barrier_with_concurrent_syncs(void **state)
{
    struct fx *f = *state;
    enum { FILES = 300 };
    atomic_int stop;
    pthread_t t[2];
    struct syncer sy[2];
    char *seen = calloc(FILES, 1);
    char name[64];

    atomic_init(&stop, 0);
    for (int i = 0; i < 2; i++) {
        sy[i].w = f->w;
        sy[i].stop = &stop;
        sy[i].errors = 0;
        assert_int_equal(pthread_create(&t[i], NULL, sync_loop, &sy[i]), 0);
    }
    int missing = -1;
    for (int i = 0; i < FILES && missing < 0; i++) {
        struct hs_changes ch;
        snprintf(name, sizeof(name), "c%d.py", i);
        write_file(at(f, name), "c\n");
        if (hs_watch_sync(f->w) < 0) {
            missing = i;
            break;
        }
        hs_changeset_lock(f->cs);
        hs_changeset_take_locked(f->cs, &ch);
        hs_changeset_unlock(f->cs);
        size_t plen = strlen(f->root) + 2;
        for (size_t k = 0; k < ch.len; k++) {
            int n = -1;
            if (sscanf(ch.paths[k] + plen, "%d.py", &n) == 1 && n >= 0
                && n < FILES) {
                seen[n] = 1;
            }
        }
        hs_changes_free(&ch);
        if (!seen[i]) {
            missing = i;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(sy[i].errors, 0);
    }
    free(seen);
    assert_int_equal(missing, -1);
}

static void
test_overflow_sets_flag(void **state)
{
    struct fx *f = *state;
    alignas(struct inotify_event) char buf[sizeof(struct inotify_event)];
    struct inotify_event ev = {.wd = -1, .mask = IN_Q_OVERFLOW};
    struct hs_changes ch;
    memcpy(buf, &ev, sizeof(ev));
    uint64_t gen = hs_changeset_gen(f->cs);
    hs_changeset_lock(f->cs);
    hs_watch_process_locked(f->w, buf, sizeof(buf));
    assert_int_equal(hs_changeset_take_locked(f->cs, &ch), 0);
    hs_changeset_unlock(f->cs);
    assert_int_equal(ch.overflow, 1);
    assert_int_equal(ch.len, 0);
    assert_int_equal(ch.gen, gen + 1);
    hs_changes_free(&ch);
}

static void
test_overflow_rescans_for_new_dirs(void **state)
{
    struct fx *f = *state;
    alignas(struct inotify_event) char buf[64 * 1024];
    struct inotify_event ev = {.wd = -1, .mask = IN_Q_OVERFLOW};
    struct hs_changes ch;
    /* A directory is created, and the kernel drops its events. */
    assert_int_equal(mkdir(at(f, "lost"), 0755), 0);
    assert_int_equal(mkdir(at(f, "lost/deeper"), 0755), 0);
    assert_int_equal(mkdir(at(f, "pkg/lost2"), 0755), 0);
    hs_changeset_lock(f->cs);
    while (read(hs_watch_fd(f->w), buf, sizeof(buf)) > 0) {
        /* discard */
    }
    memcpy(buf, &ev, sizeof(ev));
    hs_watch_process_locked(f->w, buf, sizeof(ev));
    hs_changeset_unlock(f->cs);
    assert_int_equal(hs_watch_sync(f->w), 0);
    hs_changeset_lock(f->cs);
    assert_int_equal(hs_changeset_take_locked(f->cs, &ch), 0);
    hs_changeset_unlock(f->cs);
    assert_int_equal(ch.overflow, 1);
    hs_changes_free(&ch);
    /* The rescan after the overflow watches them. */
    write_file(at(f, "lost/deeper/x.py"), "");
    write_file(at(f, "pkg/lost2/y.py"), "");
    static const char *const want[] = {
        "lost/deeper/x.py", "pkg/lost2/y.py", NULL,
    };
    expect_changes(f, want);
}

static void
test_normalized_paths(void **state)
{
    struct fx *f = *state;
    char messy[PATH_MAX];
    char *norm = NULL;
    snprintf(messy, sizeof(messy), "%s//pkg/./../", f->root);
    assert_int_equal(hs_watch_normpath(messy, &norm), 0);
    assert_string_equal(norm, f->root);
    free(norm);
    assert_int_equal(hs_watch_normpath("/", &norm), 0);
    assert_string_equal(norm, "/");
    free(norm);
    assert_int_equal(hs_watch_normpath("/a/../../b//", &norm), 0);
    assert_string_equal(norm, "/b");
    free(norm);
    assert_int_equal(hs_watch_normpath("", &norm), -EINVAL);
    /* A root given in a messy form records clean paths. */
    struct hs_watch *w2 = hs_watch_new(f->cs, f->filter, 0);
    assert_int_equal(hs_watch_add_root(w2, messy), 0);
    hs_watch_free(f->w);
    f->w = w2;
    write_file(at(f, "pkg/mod.py"), "z = 9\n");
    static const char *const want[] = {"pkg/mod.py", NULL};
    expect_changes(f, want);
}

static void
test_add_root_errors(void **state)
{
    struct fx *f = *state;
    assert_int_equal(hs_watch_add_root(f->w, at(f, "missing")), -ENOENT);
    assert_int_equal(hs_watch_add_root(f->w, at(f, "a.py")), -ENOTDIR);
    assert_int_equal(hs_watch_add_root(f->w, ""), -EINVAL);
    /* Adding the same root again, or a directory inside it, is fine. */
    assert_int_equal(hs_watch_add_root(f->w, f->root), 0);
    assert_int_equal(hs_watch_add_root(f->w, at(f, "pkg")), 0);
    write_file(at(f, "pkg/mod.py"), "z = 5\n");
    static const char *const want[] = {"pkg/mod.py", NULL};
    expect_changes(f, want);
}

static void
test_track_outside_root(void **state)
{
    struct fx *f = *state;
    char tracked[PATH_MAX];
    char untracked[PATH_MAX];
    snprintf(tracked, sizeof(tracked), "%s/tpl.html", f->other);
    snprintf(untracked, sizeof(untracked), "%s/junk.txt", f->other);
    write_file(tracked, "<p>");
    assert_int_equal(hs_watch_track(f->w, tracked), 0);
    assert_int_equal(hs_watch_track(f->w, tracked), 0);  /* once */
    assert_int_equal(hs_watch_track(f->w, at(f, "a.py")), 0);
    write_file(tracked, "<p>2");
    write_file(untracked, "x");
    const char *const want[] = {tracked, NULL};
    expect_changes(f, want);
    assert_int_equal(hs_watch_track(f->w, f->other), -EISDIR);
    char nodir[PATH_MAX];
    snprintf(nodir, sizeof(nodir), "%s/nodir/x.py", f->other);
    assert_int_equal(hs_watch_track(f->w, nodir), -ENOENT);
    /* Deleting a tracked file reports it; removing its directory too. */
    assert_int_equal(unlink(untracked), 0);
    assert_int_equal(unlink(tracked), 0);
    expect_changes(f, want);
    write_file(tracked, "<p>3");
    assert_int_equal(hs_watch_sync(f->w), 1);
    assert_int_equal(unlink(tracked), 0);
    assert_int_equal(rmdir(f->other), 0);
    expect_changes(f, want);
    assert_false(hs_strmap_get(&f->w->by_path, f->other, NULL));
}

static void
test_root_added_over_tracked_dir(void **state)
{
    struct fx *f = *state;
    char tracked[PATH_MAX];
    char link[PATH_MAX];
    snprintf(tracked, sizeof(tracked), "%s/t.py", f->other);
    snprintf(link, sizeof(link), "%s/link", f->root);
    write_file(tracked, "");
    assert_int_equal(hs_watch_track(f->w, tracked), 0);
    /* The same directory becomes a root under another name. */
    assert_int_equal(symlink(f->other, link), 0);
    assert_int_equal(hs_watch_add_root(f->w, link), 0);
    char sub[PATH_MAX];
    snprintf(sub, sizeof(sub), "%s/sub", f->other);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_file(tracked, "t = 1\n");
    char untracked[PATH_MAX];
    snprintf(untracked, sizeof(untracked), "%s/u.py", f->other);
    write_file(untracked, "");
    /* Root rules now: every file, named under the root's path, and new
     * subdirectories are watched. */
    static const char *const want[] = {"link/t.py", "link/u.py", NULL};
    expect_changes(f, want);
    char deep[PATH_MAX];
    snprintf(deep, sizeof(deep), "%s/sub/d.py", f->other);
    write_file(deep, "");
    static const char *const later[] = {"link/sub/d.py", NULL};
    expect_changes(f, later);
}

static void
test_poll_same_size_same_second(void **state)
{
    struct fx *f = *state;
    const char *p = at(f, "a.py");
    struct stat before;
    struct stat after;
    struct timespec now;
    assert_int_equal(hs_watch_mode(f->w), HS_WATCH_POLL);
    assert_int_equal(hs_watch_fd(f->w), -1);
    for (int attempt = 0; attempt < 20; attempt++) {
        struct timespec deadline;
        write_file(p, "x = 1\n");
        assert_int_equal(stat(p, &before), 0);
        /* Wait (bounded) until the file system clock moves past the
         * first write's timestamp: two writes inside one clock tick are
         * indistinguishable to stat on kernels with coarse timestamps. */
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += 2;
        do {
            clock_gettime(CLOCK_REALTIME_COARSE, &now);
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            assert_true(t.tv_sec < deadline.tv_sec
                        || (t.tv_sec == deadline.tv_sec
                            && t.tv_nsec < deadline.tv_nsec));
        } while (now.tv_sec == before.st_mtim.tv_sec
                 && now.tv_nsec <= before.st_mtim.tv_nsec);
        if (now.tv_sec == before.st_mtim.tv_sec) {
            break;
        }
    }
    assert_int_equal(now.tv_sec, before.st_mtim.tv_sec);
    assert_int_equal(hs_watch_track(f->w, p), 0);
    assert_int_equal(hs_watch_sync(f->w), 0);
    /* Same size, same inode, same second: only the nanoseconds differ. */
    write_file(p, "x = 2\n");
    assert_int_equal(stat(p, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(after.st_ino, before.st_ino);
    if (after.st_mtim.tv_sec != before.st_mtim.tv_sec) {
        skip();     /* the second ended between the two writes */
    }
    assert_int_equal(hs_watch_sync(f->w), 1);
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
    assert_int_equal(hs_watch_sync(f->w), 0);
}

static void
test_poll_delete_and_reappear(void **state)
{
    struct fx *f = *state;
    assert_int_equal(hs_watch_track(f->w, at(f, "a.py")), 0);
    assert_int_equal(hs_watch_track(f->w, at(f, "b.py")), 0);
    assert_int_equal(hs_watch_sync(f->w), 0);
    assert_int_equal(unlink(at(f, "a.py")), 0);
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
    assert_int_equal(hs_watch_sync(f->w), 0);
    write_file(at(f, "a.py"), "x = 1\n");
    expect_changes(f, want);
    assert_int_equal(hs_watch_sync(f->w), 0);
}

static void
test_poll_rename_over_same_size(void **state)
{
    struct fx *f = *state;
    assert_int_equal(hs_watch_track(f->w, at(f, "a.py")), 0);
    write_file(at(f, "new.tmp"), "x = 1\n");    /* same bytes, new inode */
    assert_int_equal(rename(at(f, "new.tmp"), at(f, "a.py")), 0);
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
}

static void
test_poll_no_change_is_zero(void **state)
{
    struct fx *f = *state;
    assert_int_equal(hs_watch_add_root(f->w, f->root), 0);
    assert_int_equal(hs_watch_add_root(f->w, at(f, "nope")), -ENOENT);
    assert_int_equal(hs_watch_track(f->w, at(f, "pkg/mod.py")), 0);
    assert_int_equal(hs_watch_sync(f->w), 0);
    assert_int_equal(hs_watch_sync(f->w), 0);
    /* Untracked files are not polled, even inside a root. */
    write_file(at(f, "b.py"), "changed, but not tracked\n");
    write_file(at(f, "brand_new.py"), "");
    assert_int_equal(hs_watch_sync(f->w), 0);
    expect_changes(f, NOTHING);
    assert_int_equal(hs_changeset_gen(f->cs), 0);
}

static void
test_poll_missing_file_appears(void **state)
{
    struct fx *f = *state;
    assert_int_equal(hs_watch_track(f->w, at(f, "later.py")), 0);
    assert_int_equal(hs_watch_sync(f->w), 0);
    write_file(at(f, "later.py"), "");
    static const char *const want[] = {"later.py", NULL};
    expect_changes(f, want);
}

static void
test_fallback_to_polling(void **state)
{
    struct fx *f = *state;
    char msg[512];
    assert_int_equal(hs_watch_notice(f->w, msg, sizeof(msg)), 0);
    assert_int_equal(hs_watch_track(f->w, at(f, "a.py")), 0);
    /* A change queued before the switch is still reported. */
    write_file(at(f, "b.py"), "queued\n");
    hs_changeset_lock(f->cs);
    hs_watch_fallback_locked(f->w, -ENOSPC);
    hs_changeset_unlock(f->cs);
    assert_int_equal(hs_watch_mode(f->w), HS_WATCH_POLL);
    assert_int_equal(hs_watch_fd(f->w), -1);
    assert_int_equal(hs_watch_notice(f->w, msg, sizeof(msg)), 1);
    assert_non_null(strstr(msg, "inotify watch limit reached"));
    assert_non_null(strstr(msg, "switched to polling"));
    assert_non_null(strstr(msg, "sudo sysctl fs.inotify.max_user_watches="));
    assert_null(strstr(msg, "No space left"));
    assert_int_equal(hs_watch_notice(f->w, msg, sizeof(msg)), 0);
    static const char *const queued[] = {"b.py", NULL};
    expect_changes(f, queued);
    assert_int_equal(f->w->by_wd.len, 0);
    /* From now on tracked files are polled, others are not seen. */
    write_file(at(f, "a.py"), "x = 22\n");
    write_file(at(f, "b.py"), "y = 22\n");
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
    assert_int_equal(hs_watch_sync(f->w), 0);
}

static void
test_emfile_falls_back(void **state)
{
    struct fx *f = *state;
    struct rlimit old;
    struct rlimit low;
    char msg[512];
    /* Leave no free descriptor below the limit: inotify_init1 fails with
     * EMFILE, as when fs.inotify.max_user_instances is exhausted. */
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(probe >= 0);
    close(probe);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)probe;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct hs_watch *w2 = hs_watch_new(f->cs, f->filter, 0);
    int saved = errno;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    errno = saved;
    assert_non_null(w2);
    assert_int_equal(hs_watch_mode(w2), HS_WATCH_POLL);
    assert_int_equal(hs_watch_fd(w2), -1);
    assert_int_equal(hs_watch_notice(w2, msg, sizeof(msg)), 1);
    assert_non_null(strstr(msg, "fs.inotify.max_user_instances"));
    assert_non_null(strstr(msg, "sudo sysctl"));
    assert_int_equal(hs_watch_add_root(w2, f->root), 0);
    assert_int_equal(hs_watch_track(w2, at(f, "a.py")), 0);
    write_file(at(f, "a.py"), "x = 7\n");
    hs_watch_free(f->w);
    f->w = w2;
    static const char *const want[] = {"a.py", NULL};
    expect_changes(f, want);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_initial_files_not_reported,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_inplace_write,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_temp_then_rename,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_jetbrains_safe_write,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_vim_backup_style,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sed_inplace,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_touch_and_utime,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_out_and_back_in,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_then_file_before_sync,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_in_progress_not_reported,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirs_named_like_temp_files,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_dirs_created_at_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_excluded_dirs_are_silent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_exclude,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_dir_drops_watches,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_moved_within_root,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_coalesces,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_barrier_with_concurrent_syncs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_sets_flag,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_rescans_for_new_dirs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_normalized_paths,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_root_errors,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_track_outside_root,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_added_over_tracked_dir,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_to_polling,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_emfile_falls_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_same_size_same_second,
                                        setup_poll, teardown),
        cmocka_unit_test_setup_teardown(test_poll_delete_and_reappear,
                                        setup_poll, teardown),
        cmocka_unit_test_setup_teardown(test_poll_rename_over_same_size,
                                        setup_poll, teardown),
        cmocka_unit_test_setup_teardown(test_poll_no_change_is_zero,
                                        setup_poll, teardown),
        cmocka_unit_test_setup_teardown(test_poll_missing_file_appears,
                                        setup_poll, teardown),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
