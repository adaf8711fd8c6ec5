/* Which paths the watcher ignores: pure string logic, no I/O. */
#ifndef HS_PATHFILTER_H
#define HS_PATHFILTER_H

struct hs_pathfilter;

/* New filter holding the default excludes: .git, .hg, .svn, __pycache__,
 * .venv, venv, env (directories), node_modules, .mypy_cache,
 * .pytest_cache, .tox, *.pyc, *.pyo, and editor temp/swap/backup files:
 * *~, .*.swp, .*.swx, *.swp, .#*, #*#, 4913 (vim's write test), sed*
 * temp names of sed -i, *.tmp, *.bak, .~lock.*. NULL with errno on
 * failure. Thread: any. GIL: not needed. Locks: none. */
struct hs_pathfilter *
hs_pathfilter_new(void);

void
hs_pathfilter_free(struct hs_pathfilter *f);

/* Add a user exclude (--exclude GLOB). A glob without '/' matches any
 * single path component (like .gitignore: "build" excludes every build
 * directory, "*.log" every log file); a glob with '/' matches the path
 * relative to the watched root with fnmatch(FNM_PATHNAME), and "**"
 * matches any number of components. Returns 0, -EINVAL (empty), -ENOMEM.
 * Thread: any. Locks: none (configure before sharing). */
int
hs_pathfilter_add(struct hs_pathfilter *f, const char *glob);

/* Nonzero when rel (a path relative to a watched root, '/'-separated, no
 * leading "./") is excluded: any of its components matches a default or
 * user exclude, or the whole path matches a user glob with '/'.
 * Thread: any (read-only after configuration). Locks: none. */
int
hs_pathfilter_excluded(const struct hs_pathfilter *f, const char *rel);

/* Nonzero when the final component of a name is an editor temp/swap
 * file that only exists during a save (vim's 4913, .x.swp, x~, .#x,
 * sedXXXXXX): such names are never reported as changes.
 * Thread: any. Locks: none. */
int
hs_pathfilter_is_temp(const char *name);

#endif
