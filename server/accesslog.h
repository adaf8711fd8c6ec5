/* The access log line, runserver style plus the duration:
 *   [22/Nov/2026 10:00:00] "GET /path?q HTTP/1.1" 200 1234 3.1ms */
#ifndef HS_ACCESSLOG_H
#define HS_ACCESSLOG_H

#include <stddef.h>

struct hs_request;

/* Format the line for a finished request into buf (len bytes); aborted
 * marks a response the client did not receive completely. Returns the
 * line length (without a newline). Pure: the clock values come from r
 * and now_ms. Thread: any. */
size_t
hs_accesslog_format(const struct hs_request *r, int aborted,
                    double elapsed_ms, const char *stamp, char *buf,
                    size_t len);

/* Color lines by status like runserver (Django's DARK palette) when
 * stderr is a terminal and neither NO_COLOR, DJANGO_COLORS=nocolor nor
 * TERM=dumb says otherwise. Decided once at startup, before any request
 * thread exists. Thread: main. */
void
hs_accesslog_init(void);

/* The ANSI color that starts a line with this status ("" for none). */
const char *
hs_accesslog_color(int status);

/* Write the line for r to the log. Thread: connection. */
void
hs_accesslog_write(const struct hs_request *r, int aborted);

#endif
