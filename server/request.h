/* Per-request state on a connection thread: the raw target captured
 * before MHD decodes it, the body spool, the response being sent. */
#ifndef HS_REQUEST_H
#define HS_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bridge/wsgi.h"

/* Bodies up to this size stay in memory; larger ones go to a temp file. */
#define HS_SPOOL_MEM_MAX (1024 * 1024)

struct hs_request {
    char *raw_target;           /* owned, NUL-terminated, as sent */
    size_t raw_target_len;
    const char *raw_ptr;        /* MHD's copy in its read buffer (for the
                                   request-line NUL check), borrowed */
    struct timespec started;
    char method[32];            /* for the access log */
    char version[16];
    int counted;                /* counted in server->inflight */
    int responded;              /* hs_wsgi_call ran: resp is valid */
    int status;                 /* status sent, for the access log */
    uint64_t bytes;             /* body bytes handed to MHD */
    int too_large;              /* body over --max-body-size */
    size_t max_body;
    struct hs_body body;        /* the spool */
    size_t body_cap;
    struct hs_wsgi_response resp;
};

/* New request for a raw target (copied). NULL on allocation failure.
 * Thread: connection (MHD's URI log callback). */
struct hs_request *
hs_request_new(const char *target, size_t len);

/* Append body bytes: memory first, an unlinked temp file (O_TMPFILE in
 * $TMPDIR or /tmp) past HS_SPOOL_MEM_MAX. Bytes past max_body are counted
 * but dropped and too_large is set. Returns 0 or a negative errno (the
 * temp file could not be written). Thread: connection. */
int
hs_request_append(struct hs_request *r, const char *data, size_t len);

/* Free the request, its spool, and its response (hs_wsgi_response_free,
 * which calls the iterable's close()); NULL is fine. Thread: connection.
 * GIL: not held. */
void
hs_request_free(struct hs_request *r);

#endif
