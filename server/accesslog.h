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

/* Write the line for r to the log. Thread: connection. */
void
hs_accesslog_write(const struct hs_request *r, int aborted);

#endif
