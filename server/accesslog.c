/* One line per request, written when MHD reports the request complete. */
#include "server/accesslog.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "reload/log.h"
#include "server/request.h"

size_t
hs_accesslog_format(const struct hs_request *r, int aborted,
                    double elapsed_ms, const char *stamp, char *buf,
                    size_t len)
{
    char target[1024];
    size_t i, n = 0;
    int w;

    /* Control bytes in a logged target could forge log lines or drive
     * the terminal: escape them. */
    for (i = 0; i < r->raw_target_len && n + 5 < sizeof(target); i++) {
        unsigned char c = (unsigned char)r->raw_target[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            n += (size_t)snprintf(target + n, sizeof(target) - n, "\\x%02x",
                                  c);
        } else {
            target[n++] = (char)c;
        }
    }
    target[n] = '\0';
    w = snprintf(buf, len, "[%s] \"%s %s %s\" %d %llu %.1fms%s", stamp,
                 r->method, target, r->version, r->status,
                 (unsigned long long)r->bytes, elapsed_ms,
                 aborted ? " (aborted)" : "");
    if (w < 0) {
        return 0;
    }
    return (size_t)w < len ? (size_t)w : len - 1;
}

void
hs_accesslog_write(const struct hs_request *r, int aborted)
{
    struct timespec now;
    struct tm tm;
    time_t t = time(NULL);
    char stamp[32], line[1400];
    double ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (double)(now.tv_sec - r->started.tv_sec) * 1e3
         + (double)(now.tv_nsec - r->started.tv_nsec) / 1e6;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%d/%b/%Y %H:%M:%S", &tm);
    hs_accesslog_format(r, aborted, ms, stamp, line, sizeof(line));
    hs_log(HS_LOG_INFO, "%s", line);
}
