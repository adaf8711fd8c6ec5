/* The listening socket: created here, or adopted from HOTSERVE_LISTEN_FD
 * after a restart (the socket outlives the process image, so connections
 * wait in the backlog instead of being refused). */
#ifndef HS_LISTEN_H
#define HS_LISTEN_H

#include <stddef.h>
#include <stdint.h>

struct hs_bindaddr;

/* Bind and listen on addr (SO_REUSEADDR, close-on-exec, backlog
 * SOMAXCONN), or adopt the fd named by HOTSERVE_LISTEN_FD when set (and
 * unset it). Returns the fd, or a negative errno with a one-line message
 * in err ("127.0.0.1:8000 is already in use", "cannot resolve 'x'").
 * Thread: main. GIL: not needed. */
int
hs_listen_open(const struct hs_bindaddr *addr, char *err, size_t errlen);

/* The bound address as "127.0.0.1" / "::1" and the port. Returns 0 or a
 * negative errno. Thread: any. */
int
hs_listen_name(int fd, char *host, size_t hostlen, uint16_t *port);

#endif
