/* Path exclusion rules: built-in names of tool directories and editor
 * temporary files, plus user globs in .gitignore spirit. */
#include "reload/pathfilter.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "reload/watch_internal.h"

/* Directory names (or any component) that never hold project sources. */
static const char *const default_names[] = {
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env",
    "node_modules", ".mypy_cache", ".pytest_cache", ".tox",
};

/* Compiled bytecode: any component. */
static const char *const default_globs[] = {
    "*.pyc", "*.pyo",
};

/* Names that exist only while an editor or tool saves a file. Checked on
 * the final component only: a package may well be called "sedentary". */
static const char *const temp_globs[] = {
    "*~",                   /* vim/emacs backups */
    ".*.sw?",               /* vim swap files: .x.swp, .x.swo, .x.swx */
    "*.swp",
    ".#*",                  /* emacs lock links */
    "#*#",                  /* emacs auto-save */
    "4913",                 /* vim's "can I write here" probe */
    "*.tmp",
    "*.bak",
    ".~lock.*",             /* LibreOffice locks */
    "*___jb_tmp___",        /* JetBrains safe write */
    "*___jb_old___",
    ".goutputstream-*",     /* GLib / gedit */
};

/* A user glob, split into '/'-separated components. */
struct uglob {
    char *buf;              /* the components, NUL-separated; owned */
    char **comps;           /* pointers into buf; owned array */
    size_t ncomps;
    int anchored;           /* had a '/': matched against the whole path */
};

struct hs_pathfilter {
    struct uglob *globs;
    size_t len;
    size_t cap;
};

struct hs_pathfilter *
hs_pathfilter_new(void)
{
    return calloc(1, sizeof(struct hs_pathfilter));
}

void
hs_pathfilter_free(struct hs_pathfilter *f)
{
    if (f == NULL) {
        return;
    }
    for (size_t i = 0; i < f->len; i++) {
        free(f->globs[i].buf);
        free(f->globs[i].comps);
    }
    free(f->globs);
    free(f);
}

/* Split s in place at '/', dropping empty components. comps must have room
 * for strlen(s) / 2 + 1 entries. Returns the count. */
static size_t
split(char *s, char **comps)
{
    size_t n = 0;
    char *p = s;

    while (*p != '\0') {
        while (*p == '/') {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        comps[n++] = p;
        while (*p != '\0' && *p != '/') {
            p++;
        }
    }
    return n;
}

int
hs_pathfilter_add(struct hs_pathfilter *f, const char *glob)
{
    struct uglob g = {0};
    size_t len;

    if (f == NULL || glob == NULL) {
        return -EINVAL;
    }
    if (glob[0] == '.' && glob[1] == '/') {
        glob += 2;
    }
    len = strlen(glob);
    g.buf = malloc(len + 1);
    /* One more slot than split can fill, for the implicit trailing "**". */
    g.comps = malloc((len / 2 + 2) * sizeof(*g.comps));
    if (g.buf == NULL || g.comps == NULL) {
        goto nomem;
    }
    memcpy(g.buf, glob, len + 1);
    /* "/build" and "a/b" are anchored at the root; "build/" (a trailing
     * slash only) still matches a component anywhere, as in .gitignore. */
    while (len > 0 && g.buf[len - 1] == '/') {
        g.buf[--len] = '\0';
    }
    g.anchored = strchr(g.buf, '/') != NULL;
    g.ncomps = split(g.buf, g.comps);
    if (g.ncomps == 0) {
        free(g.buf);
        free(g.comps);
        return -EINVAL;
    }
    if (g.anchored && strcmp(g.comps[g.ncomps - 1], "**") != 0) {
        /* Excluding a directory excludes everything below it. */
        g.comps[g.ncomps++] = "**";
    }
    if (f->len == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 8;
        struct uglob *ng = realloc(f->globs, ncap * sizeof(*ng));
        if (ng == NULL) {
            goto nomem;
        }
        f->globs = ng;
        f->cap = ncap;
    }
    f->globs[f->len++] = g;
    return 0;

nomem:
    free(g.buf);
    free(g.comps);
    return -ENOMEM;
}

/* Component-wise glob match where a "**" component matches any number of
 * path components. Greedy with one backtrack point: enough, because every
 * other pattern component consumes exactly one path component. */
static int
match_comps(char *const *pat, size_t np, char *const *txt, size_t nt)
{
    size_t i = 0;
    size_t j = 0;
    size_t star_i = (size_t)-1;
    size_t star_j = 0;

    while (j < nt) {
        if (i < np && strcmp(pat[i], "**") == 0) {
            star_i = i++;
            star_j = j;
        } else if (i < np && fnmatch(pat[i], txt[j], 0) == 0) {
            i++;
            j++;
        } else if (star_i != (size_t)-1) {
            i = star_i + 1;
            j = ++star_j;
        } else {
            return 0;
        }
    }
    while (i < np && strcmp(pat[i], "**") == 0) {
        i++;
    }
    return i == np;
}

static int
in_list(const char *const *list, size_t n, const char *name, int glob)
{
    for (size_t i = 0; i < n; i++) {
        if (glob ? fnmatch(list[i], name, 0) == 0
                 : strcmp(list[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int
excluded(const struct hs_pathfilter *f, const char *rel, int as_file)
{
    char sbuf[1024];
    char *scomps[256];
    char *buf = sbuf;
    char **comps = scomps;
    size_t len;
    size_t n;
    int hit = 0;

    if (rel == NULL) {
        return 0;
    }
    len = strlen(rel);
    if (len >= sizeof(sbuf) || len / 2 + 1 > NELEM(scomps)) {
        buf = malloc(len + 1);
        comps = malloc((len / 2 + 1) * sizeof(*comps));
        if (buf == NULL || comps == NULL) {
            /* Cannot decide: report the path rather than lose a change. */
            goto done;
        }
    }
    memcpy(buf, rel, len + 1);
    n = split(buf, comps);
    for (size_t i = 0; i < n && !hit; i++) {
        const char *c = comps[i];
        hit = in_list(default_names, NELEM(default_names), c, 0)
              || in_list(default_globs, NELEM(default_globs), c, 1);
        for (size_t k = 0; f != NULL && k < f->len && !hit; k++) {
            const struct uglob *g = &f->globs[k];
            hit = !g->anchored && fnmatch(g->comps[0], c, 0) == 0;
        }
    }
    if (!hit && as_file && n > 0) {
        hit = hs_pathfilter_is_temp(comps[n - 1]);
    }
    for (size_t k = 0; f != NULL && k < f->len && !hit; k++) {
        const struct uglob *g = &f->globs[k];
        hit = g->anchored && match_comps(g->comps, g->ncomps, comps, n);
    }

done:
    if (buf != sbuf) {
        free(buf);
    }
    if (comps != scomps) {
        free(comps);
    }
    return hit;
}

int
hs_pathfilter_excluded(const struct hs_pathfilter *f, const char *rel)
{
    return excluded(f, rel, 1);
}

int
hs_pathfilter_excluded_dir(const struct hs_pathfilter *f, const char *rel)
{
    return excluded(f, rel, 0);
}

/* GNU sed -i writes to mkstemp("sedXXXXXX"): "sed" + six [A-Za-z0-9]. */
static int
is_sed_temp(const char *name)
{
    if (strncmp(name, "sed", 3) != 0 || strlen(name) != 9) {
        return 0;
    }
    for (const char *p = name + 3; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9'))) {
            return 0;
        }
    }
    return 1;
}

int
hs_pathfilter_is_temp(const char *name)
{
    const char *slash;

    if (name == NULL) {
        return 0;
    }
    slash = strrchr(name, '/');
    if (slash != NULL) {
        name = slash + 1;
    }
    if (name[0] == '\0') {
        return 0;
    }
    return is_sed_temp(name) || in_list(temp_globs, NELEM(temp_globs),
                                        name, 1);
}
