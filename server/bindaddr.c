/* --bind parsing. Only inet_pton is used to validate numeric addresses;
 * names are checked for shape and resolved later by the listener. */
#include "server/bindaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 8000

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
all_digits(const char *s, size_t len)
{
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        if (!is_digit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/* Decimal port, digits only (no sign, no spaces). The value saturates so a
 * long digit string reports -ERANGE instead of wrapping. */
static int
parse_port(const char *p, size_t len, const char *whole, uint16_t *port,
           char *err, size_t errlen)
{
    unsigned long v = 0;
    size_t i;

    if (len == 0) {
        set_err(err, errlen, "missing port in '%s'", whole);
        return -EINVAL;
    }
    if (!all_digits(p, len)) {
        set_err(err, errlen, "invalid port '%.*s' in '%s'", (int)len, p,
                whole);
        return -EINVAL;
    }
    for (i = 0; i < len; i++) {
        v = v * 10 + (unsigned long)(p[i] - '0');
        if (v > 65535) {
            set_err(err, errlen,
                    "port '%.*s' out of range (0-65535) in '%s'", (int)len,
                    p, whole);
            return -ERANGE;
        }
    }
    *port = (uint16_t)v;
    return 0;
}

/* RFC 1123 host name: dot-separated labels of 1-63 letters, digits and
 * '-', not starting or ending with '-', 253 bytes at most. */
static int
is_hostname(const char *h, size_t len)
{
    size_t i;
    size_t label = 0;

    if (len == 0 || len > 253)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];

        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!(is_digit(c) || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || c == '-'))
            return 0;
        if (c == '-' && label == 0)
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0 && h[len - 1] != '-';
}

static int
v6_is_loopback(const struct in6_addr *a)
{
    static const unsigned char mapped[12] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
    };

    if (IN6_IS_ADDR_LOOPBACK(a))
        return 1;
    /* ::ffff:127.x.y.z reaches the IPv4 loopback too */
    return memcmp(a->s6_addr, mapped, sizeof(mapped)) == 0 &&
           a->s6_addr[12] == 127;
}

/* Classify and store host[0..len) (no brackets). bracketed says the user
 * wrote "[...]", which only an IPv6 address may use. */
static int
set_host(struct hs_bindaddr *out, const char *h, size_t len, int bracketed,
         const char *whole, char *err, size_t errlen)
{
    char buf[HS_BINDADDR_HOST_MAX];
    unsigned char addr[sizeof(struct in6_addr)];
    size_t i;
    int dotted_numeric = 1;

    if (len == 0) {
        set_err(err, errlen, "missing host in '%s'", whole);
        return -EINVAL;
    }
    if (len >= sizeof(buf)) {
        set_err(err, errlen, "host too long in '%.40s...'", whole);
        return -EINVAL;
    }
    if (memchr(h, '\0', len) != NULL) {
        set_err(err, errlen, "invalid host in '%s'", whole);
        return -EINVAL;
    }
    memcpy(buf, h, len);
    buf[len] = '\0';

    if (bracketed) {
        if (inet_pton(AF_INET6, buf, addr) != 1) {
            set_err(err, errlen, "invalid IPv6 address '%s' in '%s'", buf,
                    whole);
            return -EINVAL;
        }
        out->family = AF_INET6;
        out->is_loopback = v6_is_loopback((const struct in6_addr *)addr);
        goto done;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        out->family = AF_INET6;
        out->is_loopback = v6_is_loopback((const struct in6_addr *)addr);
        goto done;
    }
    /* All digits and dots: an IPv4 address or nothing. Without this,
     * "127.1" or "999.0.0.1" would pass as host names. */
    for (i = 0; i < len; i++) {
        if (!is_digit((unsigned char)buf[i]) && buf[i] != '.')
            dotted_numeric = 0;
    }
    if (dotted_numeric) {
        if (inet_pton(AF_INET, buf, addr) != 1) {
            set_err(err, errlen, "invalid IPv4 address '%s' in '%s'", buf,
                    whole);
            return -EINVAL;
        }
        out->family = AF_INET;
        out->is_loopback = addr[0] == 127;
        goto done;
    }
    if (!is_hostname(buf, len)) {
        set_err(err, errlen, "invalid host '%s' in '%s'", buf, whole);
        return -EINVAL;
    }
    out->family = AF_UNSPEC;
    out->is_loopback = strcasecmp(buf, "localhost") == 0;
done:
    memcpy(out->host, buf, len + 1);
    return 0;
}

int
hs_bindaddr_parse(const char *s, struct hs_bindaddr *out,
                  char *err, size_t errlen)
{
    struct hs_bindaddr res;
    const char *colon;
    size_t len;
    int rc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    memset(&res, 0, sizeof(res));
    res.port = DEFAULT_PORT;
    if (s == NULL || s[0] == '\0') {
        set_err(err, errlen, "empty bind address");
        return -EINVAL;
    }
    len = strlen(s);

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL) {
            set_err(err, errlen, "missing ']' in '%s'", s);
            return -EINVAL;
        }
        rc = set_host(&res, s + 1, (size_t)(close - s - 1), 1, s, err,
                      errlen);
        if (rc < 0)
            return rc;
        if (close[1] == ':') {
            rc = parse_port(close + 2, strlen(close + 2), s, &res.port, err,
                            errlen);
            if (rc < 0)
                return rc;
        } else if (close[1] != '\0') {
            set_err(err, errlen, "expected ':PORT' after ']' in '%s'", s);
            return -EINVAL;
        }
        goto done;
    }

    if (all_digits(s, len)) {
        rc = parse_port(s, len, s, &res.port, err, errlen);
        if (rc < 0)
            return rc;
        rc = set_host(&res, DEFAULT_HOST, strlen(DEFAULT_HOST), 0, s, err,
                      errlen);
        if (rc < 0)
            return rc;
        goto done;
    }

    colon = strchr(s, ':');
    if (colon == NULL) {
        rc = set_host(&res, s, len, 0, s, err, errlen);
        if (rc < 0)
            return rc;
        goto done;
    }

    if (strchr(colon + 1, ':') != NULL) {
        /* Two or more colons: only a whole bare IPv6 address ("::1") is
         * unambiguous; "::1:8000" could be either, so ask for brackets. */
        unsigned char addr[sizeof(struct in6_addr)];

        if (len < HS_BINDADDR_HOST_MAX &&
            inet_pton(AF_INET6, s, addr) == 1) {
            rc = set_host(&res, s, len, 0, s, err, errlen);
            if (rc < 0)
                return rc;
            goto done;
        }
        set_err(err, errlen,
                "invalid address '%s' (write IPv6 addresses in brackets, "
                "e.g. [::1]:8000)", s);
        return -EINVAL;
    }

    if (colon == s) {
        rc = set_host(&res, DEFAULT_HOST, strlen(DEFAULT_HOST), 0, s, err,
                      errlen);
    } else {
        rc = set_host(&res, s, (size_t)(colon - s), 0, s, err, errlen);
    }
    if (rc < 0)
        return rc;
    rc = parse_port(colon + 1, strlen(colon + 1), s, &res.port, err, errlen);
    if (rc < 0)
        return rc;
done:
    *out = res;
    return 0;
}
