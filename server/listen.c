/* Create or adopt the listening socket. */
#include "server/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/bindaddr.h"

static int
adopt(const char *s, char *err, size_t errlen)
{
    char *end;
    long fd;
    int type = 0;
    socklen_t len = sizeof(type);

    errno = 0;
    fd = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || fd < 0 || fd > 65535
        || getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0
        || type != SOCK_STREAM) {
        snprintf(err, errlen, "HOTSERVE_LISTEN_FD=%s is not a listening "
                 "stream socket", s);
        return -EBADF;
    }
    /* The restart cleared close-on-exec to pass the fd; set it again so
     * children of the app do not inherit it. */
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    unsetenv("HOTSERVE_LISTEN_FD");
    return (int)fd;
}

int
hs_listen_open(const struct hs_bindaddr *addr, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    const char *inherited = getenv("HOTSERVE_LISTEN_FD");
    int fd = -1, rc, one = 1, saved = 0;

    if (inherited != NULL) {
        return adopt(inherited, err, errlen);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = addr->family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", (unsigned)addr->port);
    rc = getaddrinfo(addr->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", addr->host,
                 gai_strerror(rc));
        return -EINVAL;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0
            && listen(fd, SOMAXCONN) == 0) {
            break;
        }
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        const char *why = saved == EADDRINUSE
            ? "address already in use (is another server running? pick "
              "another port with --bind)"
            : saved == EACCES ? "permission denied (ports below 1024 need "
                                "root)"
            : saved == EADDRNOTAVAIL ? "address not available on this "
                                       "machine"
            : strerror(saved);
        snprintf(err, errlen,
                 addr->family == AF_INET6 ? "cannot listen on [%s]:%u: %s"
                                          : "cannot listen on %s:%u: %s",
                 addr->host, (unsigned)addr->port, why);
        return -(saved ? saved : EINVAL);
    }
    return fd;
}

int
hs_listen_name(int fd, char *host, size_t hostlen, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return -errno;
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)hostlen);
        *port = ntohs(s6->sin6_port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)hostlen);
        *port = ntohs(s4->sin_port);
    }
    return 0;
}
