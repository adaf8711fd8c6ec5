/* The libmicrohttpd daemon and the request state machine. */
#ifndef HS_HTTP_H
#define HS_HTTP_H

struct hs_server;

/* Start MHD on s->listen_fd (thread per connection; limits from s->cfg).
 * Returns 0 or a negative errno. Thread: main. GIL: not held. */
int
hs_http_start(struct hs_server *s);

/* Graceful stop: stop accepting (the listening fd stays open), let
 * in-flight requests finish for up to timeout_s seconds, then close every
 * connection and join their threads. Returns the listening fd (still
 * open, owned by the caller), -1 when there was no daemon, or -ETIMEDOUT
 * when requests were still running at the deadline (nothing was joined:
 * the caller must exit the process without finalizing Python). Thread: main. GIL: not held (stop
 * joins threads that may wait for the GIL). */
int
hs_http_stop(struct hs_server *s, unsigned timeout_s);

#endif
