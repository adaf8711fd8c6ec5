/* Pure parsing of the --bind argument: no I/O. */
#ifndef HS_BINDADDR_H
#define HS_BINDADDR_H

#include <stddef.h>
#include <stdint.h>

#define HS_BINDADDR_HOST_MAX 256

struct hs_bindaddr {
    char host[HS_BINDADDR_HOST_MAX]; /* numeric address or name, no [] */
    uint16_t port;                   /* 0 means "any free port" */
    int family;                      /* AF_INET, AF_INET6, or AF_UNSPEC
                                        for a name such as localhost */
    int is_loopback;                 /* 127.0.0.0/8, ::1, localhost */
};

/* Parse "HOST:PORT", "PORT", ":PORT", "HOST", "[V6]:PORT", "[V6]".
 * A missing host is 127.0.0.1, a missing port is 8000 (runserver's
 * defaults). Numeric IPv4/IPv6 addresses are validated with inet_pton; a
 * name must be a valid hostname (letters, digits, '-', '.').
 * Returns 0, or -EINVAL (bad syntax or host) or -ERANGE (port > 65535)
 * with a one-line reason written to err (errlen bytes, may be 0).
 * Thread: any. GIL: not needed. Locks: none. */
int
hs_bindaddr_parse(const char *s, struct hs_bindaddr *out,
                  char *err, size_t errlen);

#endif
