/* The libuv loop thread: process signals and eager draining of the
 * watcher. The only file that includes uv.h. */
#ifndef HS_LOOP_H
#define HS_LOOP_H

struct hs_watch;
struct hs_loop;

/* Called on the loop thread for SIGINT, SIGTERM and SIGHUP. */
typedef void (*hs_loop_signal_fn)(int signum, void *ctx);

/* Create the loop, install the signal handlers (call this BEFORE Python
 * is initialized: `import signal` leaves handlers it did not install
 * alone, cstack.md 3.3), and watch w's fd when w is not NULL and has one.
 * Nothing runs until hs_loop_start. NULL with errno on failure.
 * Thread: main. GIL: not held. */
struct hs_loop *
hs_loop_new(struct hs_watch *w, hs_loop_signal_fn on_signal, void *ctx);

/* Start the loop thread. Returns 0 or a negative errno. Thread: main. */
int
hs_loop_start(struct hs_loop *l);

/* Stop the loop thread, join it, close every handle and free. NULL is
 * fine. Thread: main (not the loop thread). */
void
hs_loop_free(struct hs_loop *l);

#endif
