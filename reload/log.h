/* The one log sink. It lives in the bottom layer (reload/) so that every
 * layer can log without depending upward; library code never prints
 * anything else. Each call is written with one write(2) to stderr, so
 * lines from concurrent threads never interleave. */
#ifndef HS_LOG_H
#define HS_LOG_H

#include <stddef.h>

enum hs_log_level {
    HS_LOG_DEBUG = 0,
    HS_LOG_INFO = 1,    /* banner, reload lines */
    HS_LOG_WARN = 2,
    HS_LOG_ERROR = 3,
};

/* Set the threshold below which lines are dropped (default INFO; -q sets
 * WARN). Called once at startup, before other threads exist. */
void
hs_log_set_level(enum hs_log_level level);

/* Format one line (a '\n' is added) and write it. Thread: any. GIL: any.
 * Locks: none. */
void
hs_log(enum hs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write text as it is (e.g. a traceback, several lines), with one
 * write(2). Thread: any. GIL: any. Locks: none. */
void
hs_log_raw(const char *text, size_t len);

#endif
