/* libFuzzer target: watcher path filters (reload/pathfilter.c).
 * Input: '\n'-separated lines; the lines before the first empty line are
 * --exclude globs (at most MAX_GLOBS), the lines after it are paths.
 *
 * Checked: hs_pathfilter_add returns 0, or -EINVAL exactly for a glob
 * with no component; for every path, hs_pathfilter_excluded and
 * hs_pathfilter_excluded_dir agree with a reference built from the
 * filter's documented rules (defaults, taken from a filter without user
 * globs; component globs; anchored globs matched by a plain recursive
 * "**" matcher); excluding a directory excludes everything below it; a
 * temp name is always excluded; a directory exclusion implies a file
 * exclusion.
 */
#include <errno.h>
#include <fnmatch.h>
#include <string.h>

#include "reload/pathfilter.h"
#include "reload/watch_internal.h"
#include "tests/fuzz/fuzz.h"

#define MAX_GLOBS 8

/* A glob as the documentation describes it. */
struct ref_glob {
    char *buf;
    char **comps;
    size_t n;
    int anchored;
};

/* Split s in place on '/', dropping empty components. */
static size_t
split(char *s, char **comps)
{
    size_t n = 0;

    for (char *tok = strtok(s, "/"); tok != NULL; tok = strtok(NULL, "/"))
        comps[n++] = tok;
    return n;
}

static int
ref_glob_init(struct ref_glob *g, const char *glob)
{
    size_t len;

    if (strncmp(glob, "./", 2) == 0)
        glob += 2;
    len = strlen(glob);
    g->buf = strdup(glob);
    g->comps = malloc((len / 2 + 2) * sizeof(*g->comps));
    FUZZ_CHECK(g->buf != NULL && g->comps != NULL);
    while (len > 0 && g->buf[len - 1] == '/')
        g->buf[--len] = '\0';
    g->anchored = strchr(g->buf, '/') != NULL;
    g->n = split(g->buf, g->comps);
    if (g->anchored && g->n > 0 && strcmp(g->comps[g->n - 1], "**") != 0)
        g->comps[g->n++] = "**";
    return g->n > 0;
}

/* memo: 0 unknown, 1 no, 2 yes; (np + 1) x (nt + 1) */
static int
ref_match(char **pat, size_t np, size_t i, char **txt, size_t nt, size_t j,
          unsigned char *memo)
{
    unsigned char *m = &memo[i * (nt + 1) + j];
    int r;

    if (*m != 0)
        return *m == 2;
    if (i == np)
        r = j == nt;
    else if (strcmp(pat[i], "**") == 0)
        r = ref_match(pat, np, i + 1, txt, nt, j, memo) ||
            (j < nt && ref_match(pat, np, i, txt, nt, j + 1, memo));
    else
        r = j < nt && fnmatch(pat[i], txt[j], 0) == 0 &&
            ref_match(pat, np, i + 1, txt, nt, j + 1, memo);
    *m = r ? 2 : 1;
    return r;
}

static int
ref_excluded(const struct hs_pathfilter *defaults,
             const struct ref_glob *globs, size_t nglobs, const char *rel,
             int as_file)
{
    size_t len = strlen(rel);
    char *buf = strdup(rel);
    char **comps = malloc((len / 2 + 1) * sizeof(*comps));
    size_t n;
    int hit;

    FUZZ_CHECK(buf != NULL && comps != NULL);
    hit = as_file ? hs_pathfilter_excluded(defaults, rel)
                  : hs_pathfilter_excluded_dir(defaults, rel);
    n = split(buf, comps);
    for (size_t k = 0; k < nglobs && !hit; k++) {
        const struct ref_glob *g = &globs[k];

        if (!g->anchored) {
            for (size_t i = 0; i < n && !hit; i++)
                hit = fnmatch(g->comps[0], comps[i], 0) == 0;
        } else {
            unsigned char *memo = calloc((g->n + 1) * (n + 1), 1);

            FUZZ_CHECK(memo != NULL);
            hit = ref_match(g->comps, g->n, 0, comps, n, 0, memo);
            free(memo);
        }
    }
    free(buf);
    free(comps);
    return hit;
}

static void
check_path(const struct hs_pathfilter *f, const struct hs_pathfilter *dflt,
           const struct ref_glob *globs, size_t nglobs, const char *rel)
{
    int file = hs_pathfilter_excluded(f, rel) != 0;
    int dir = hs_pathfilter_excluded_dir(f, rel) != 0;
    size_t len = strlen(rel);
    char *below;

    FUZZ_CHECK(file == ref_excluded(dflt, globs, nglobs, rel, 1));
    FUZZ_CHECK(dir == ref_excluded(dflt, globs, nglobs, rel, 0));
    FUZZ_CHECK(!dir || file);
    if (hs_pathfilter_is_temp(rel))
        FUZZ_CHECK(file);
    /* Below an excluded directory everything is excluded. */
    below = malloc(len + sizeof("/x.py"));
    FUZZ_CHECK(below != NULL);
    memcpy(below, rel, len);
    memcpy(below + len, "/x.py", sizeof("/x.py"));
    if (dir) {
        FUZZ_CHECK(hs_pathfilter_excluded_dir(f, below));
        FUZZ_CHECK(hs_pathfilter_excluded(f, below));
    }
    free(below);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hs_pathfilter *f = hs_pathfilter_new();
    struct hs_pathfilter *dflt = hs_pathfilter_new();
    struct ref_glob globs[MAX_GLOBS];
    size_t nglobs = 0;
    char *text = malloc(size + 1);
    char *line;
    char *next;
    int in_globs = 1;

    FUZZ_CHECK(f != NULL && dflt != NULL && text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    /* A NUL ends the input, as it would end a C string. */
    for (line = text; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (in_globs && line[0] == '\0') {
            in_globs = 0;
            continue;
        }
        if (in_globs && nglobs < MAX_GLOBS) {
            struct ref_glob g;
            int ok = ref_glob_init(&g, line);
            int rc = hs_pathfilter_add(f, line);

            FUZZ_CHECK(rc == (ok ? 0 : -EINVAL));
            if (ok) {
                globs[nglobs++] = g;
            } else {
                free(g.buf);
                free(g.comps);
            }
            continue;
        }
        check_path(f, dflt, globs, nglobs, line);
    }
    for (size_t k = 0; k < nglobs; k++) {
        free(globs[k].buf);
        free(globs[k].comps);
    }
    hs_pathfilter_free(f);
    hs_pathfilter_free(dflt);
    free(text);
    return 0;
}
