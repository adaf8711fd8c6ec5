/* Request state and the body spool (memory, then an unlinked temp file). */
#include "server/request.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hs_request *
hs_request_new(const char *target, size_t len)
{
    struct hs_request *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        return NULL;
    }
    r->raw_target = malloc(len + 1);
    if (r->raw_target == NULL) {
        free(r);
        return NULL;
    }
    memcpy(r->raw_target, target, len);
    r->raw_target[len] = '\0';
    r->raw_target_len = len;
    r->body.fd = -1;
    r->resp.fd = -1;
    r->max_body = SIZE_MAX;
    clock_gettime(CLOCK_MONOTONIC, &r->started);
    return r;
}

static int
open_tmp(void)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    if (dir == NULL || dir[0] == '\0') {
        dir = "/tmp";
    }
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && strcmp(dir, "/tmp") != 0) {
        fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    }
    return fd < 0 ? -errno : fd;
}

static int
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
hs_request_append(struct hs_request *r, const char *data, size_t len)
{
    struct hs_body *b = &r->body;
    int rc;

    if (r->too_large || b->len + len > r->max_body || b->len + len < len) {
        r->too_large = 1;
        return 0;
    }
    if (b->fd < 0 && b->len + len > HS_SPOOL_MEM_MAX) {
        int fd = open_tmp();
        if (fd < 0) {
            return fd;
        }
        rc = write_all(fd, b->mem, b->len);
        if (rc < 0) {
            close(fd);
            return rc;
        }
        free(b->mem);
        b->mem = NULL;
        r->body_cap = 0;
        b->fd = fd;
    }
    if (b->fd >= 0) {
        rc = write_all(b->fd, data, len);
        if (rc < 0) {
            return rc;
        }
    } else {
        if (b->len + len > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 16384;
            char *m;
            while (cap < b->len + len) {
                cap *= 2;
            }
            m = realloc(b->mem, cap);
            if (m == NULL) {
                return -ENOMEM;
            }
            b->mem = m;
            r->body_cap = cap;
        }
        memcpy(b->mem + b->len, data, len);
    }
    b->len += len;
    return 0;
}

void
hs_request_free(struct hs_request *r)
{
    if (r == NULL) {
        return;
    }
    if (r->responded) {
        hs_wsgi_response_free(&r->resp);
    }
    free(r->body.mem);
    if (r->body.fd >= 0) {
        close(r->body.fd);
    }
    free(r->raw_target);
    free(r);
}
