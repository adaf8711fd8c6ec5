/* The log sink: one write(2) per call so concurrent lines never mix. */
#include "reload/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Written once at startup before any other thread exists, read after. */
static enum hs_log_level threshold = HS_LOG_INFO;

void
hs_log_set_level(enum hs_log_level level)
{
    threshold = level;
}

static void
write_all(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

void
hs_log(enum hs_log_level level, const char *fmt, ...)
{
    char stackbuf[1024];
    char *buf = stackbuf;
    va_list ap;
    int n;

    if (level < threshold) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(stackbuf, sizeof(stackbuf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof(stackbuf) - 1) {
        buf = malloc((size_t)n + 2);
        if (buf == NULL) {
            buf = stackbuf;
            n = sizeof(stackbuf) - 2;
        } else {
            va_start(ap, fmt);
            vsnprintf(buf, (size_t)n + 1, fmt, ap);
            va_end(ap);
        }
    }
    buf[n] = '\n';
    write_all(buf, (size_t)n + 1);
    if (buf != stackbuf) {
        free(buf);
    }
}

void
hs_log_raw(const char *text, size_t len)
{
    write_all(text, len);
}
