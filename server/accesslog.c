/* One line per request, written when MHD reports the request complete. */
#include "server/accesslog.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "reload/log.h"
#include "server/request.h"

/* Written once by hs_accesslog_init before request threads start. */
static int use_color;

void
hs_accesslog_init(void)
{
    const char *dc = getenv("DJANGO_COLORS");
    const char *term = getenv("TERM");

    use_color = isatty(STDERR_FILENO) && getenv("NO_COLOR") == NULL
                && (dc == NULL || strcmp(dc, "nocolor") != 0)
                && (term == NULL || strcmp(term, "dumb") != 0);
}

const char *
hs_accesslog_color(int status)
{
    if (status >= 200 && status < 300) {
        return "";
    }
    if (status >= 100 && status < 200) {
        return "\033[1m";
    }
    if (status == 304) {
        return "\033[36m";
    }
    if (status >= 300 && status < 400) {
        return "\033[32m";
    }
    if (status == 404) {
        return "\033[33m";
    }
    if (status >= 400 && status < 500) {
        return "\033[31;1m";
    }
    return "\033[35;1m";
}

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
    if (use_color && hs_accesslog_color(r->status)[0] != '\0') {
        hs_log(HS_LOG_INFO, "%s%s\033[0m", hs_accesslog_color(r->status),
               line);
    } else {
        hs_log(HS_LOG_INFO, "%s", line);
    }
}
