/* What one process image hands to the next across execve: idle client
 * connections (bare sockets, MHD reads their next request) and complete
 * requests that were waiting for the new code (the socket plus the parsed
 * request and its body, answered by the next image on a thread of its
 * own, since the bytes MHD read are gone from the socket).
 *
 * The list travels in an anonymous file (memfd) whose descriptor is
 * passed in HOTSERVE_HANDOFF_FD; the sockets and spooled bodies are
 * inherited descriptors named in it. Format: "HSHANDOFF1\n", then records
 * of little-endian fixed-size integers and length-prefixed strings (see
 * handoff.c). */
#ifndef HS_HANDOFF_H
#define HS_HANDOFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "bridge/wsgi.h"

struct hs_server;

/* An idle connection: MHD gets it with MHD_add_connection. */
struct hs_handoff_conn {
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

/* A complete request that has not run. Everything is owned. */
struct hs_handoff_req {
    int fd;                         /* the client socket */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *method;
    char *target;                   /* raw request-target */
    char *version;                  /* "HTTP/1.1" */
    struct hs_header *headers;      /* names and values NUL-terminated */
    size_t nheaders;
    struct hs_body body;            /* memory, or a spooled temp fd */
    uint64_t started_ns;            /* CLOCK_MONOTONIC, for the log */
};

/* A request record from parts (copied; body is moved: *body is emptied).
 * NULL on allocation failure. Thread: any. */
struct hs_handoff_req *
hs_handoff_req_new(int fd, const struct sockaddr *addr, socklen_t addrlen,
                   const char *method, const char *target,
                   const char *version, const struct hs_header *h,
                   size_t nh, struct hs_body *body, uint64_t started_ns);

/* Free q, its body and (close_fd) its socket. NULL is fine. */
void
hs_handoff_req_free(struct hs_handoff_req *q, int close_fd);

/* Write the list to a new memfd (without close-on-exec, like every fd
 * named in it after hs_handoff_inherit). Returns the memfd or a
 * negative errno. Thread: any. */
int
hs_handoff_write(struct hs_handoff_req *const *reqs, size_t nreq,
                 const struct hs_handoff_conn *conns, size_t nconn);

/* Read a list written by hs_handoff_write from fd (and close fd).
 * *reqs and *conns are malloc'd arrays (free the requests with
 * hs_handoff_req_free). Every fd named is set close-on-exec again.
 * Returns 0 or a negative errno (-EPROTO: not a handoff file; the fds
 * named in it cannot be trusted and are left alone). Thread: main. */
int
hs_handoff_read(int fd, struct hs_handoff_req ***reqs, size_t *nreq,
                struct hs_handoff_conn **conns, size_t *nconn);

/* Answer q on a thread of its own (joined by hs_handoff_join): the
 * barrier (which may hand it on again), the WSGI call, the response
 * written with "Connection: close", the access log line. Takes q.
 * Returns 0 or a negative errno (q is then answered 503 and freed).
 * Thread: main or connection. GIL: not held. */
int
hs_handoff_serve(struct hs_server *s, struct hs_handoff_req *q);

/* Join every thread started by hs_handoff_serve. Call after the HTTP
 * daemon stopped and before Python is finalized. Thread: main. */
void
hs_handoff_join(struct hs_server *s);

#endif
