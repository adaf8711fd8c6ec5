/* The request-head deadline: a thread that closes connections whose
 * request line and headers take longer than --timeout to arrive. */
#ifndef HS_DEADLINE_H
#define HS_DEADLINE_H

struct hs_server;
struct hs_deadline;

/* Start the thread (nothing when s->cfg.timeout is 0). Returns the
 * handle, or NULL (no deadline: errno set on failure, 0 when disabled).
 * Thread: main. */
struct hs_deadline *
hs_deadline_start(struct hs_server *s);

/* Stop and join the thread; NULL is fine. Thread: main. */
void
hs_deadline_stop(struct hs_deadline *d);

#endif
