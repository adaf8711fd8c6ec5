/* Request-target parsing (RFC 9112 section 3.2) and percent-decoding.
 *
 * Everything here works on (pointer, length) pairs: the raw target MHD hands
 * to the URI log callback may contain any byte, including NUL, and is not
 * trusted. One forward pass per call, no allocation, no recursion, so the
 * functions are safe to fuzz directly.
 */
#include "server/uri.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static int
valid_authority(const char *a, size_t n);

static const char root_path[] = "/";

/* Bytes that never appear in a request-target on the wire: controls
 * (including NUL), space, DEL, anything non-ASCII, and '#', which starts a
 * fragment that clients must not send (RFC 9110 section 4.2.4). */
static int
is_forbidden(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || c == '#';
}

static int
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static int
is_scheme_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}

/* Length of the scheme if target starts with "scheme://", else 0. */
static size_t
scheme_prefix_len(const char *t, size_t len)
{
    size_t i = 0;

    if (len == 0 || !is_alpha((unsigned char)t[0]))
        return 0;
    while (i < len && is_scheme_char((unsigned char)t[i]))
        i++;
    if (len - i < 3 || t[i] != ':' || t[i + 1] != '/' || t[i + 2] != '/')
        return 0;
    return i;
}

/* Split "path[?query]" starting at t[start] into out. An empty path (only
 * possible after an authority) becomes "/". */
static void
split_path_query(const char *t, size_t len, size_t start, struct hs_uri *out)
{
    const char *q = start < len ? memchr(t + start, '?', len - start) : NULL;
    size_t path_end = q != NULL ? (size_t)(q - t) : len;

    if (path_end == start) {
        out->path = root_path;
        out->path_len = 1;
    } else {
        out->path = t + start;
        out->path_len = path_end - start;
    }
    if (q != NULL) {
        out->query = q + 1;
        out->query_len = len - path_end - 1;
    }
}

int
hs_uri_split(const char *target, size_t len, struct hs_uri *out)
{
    size_t i;
    size_t scheme_len;
    size_t auth_start;
    size_t auth_end;

    memset(out, 0, sizeof(*out));
    if (target == NULL || len == 0)
        return -EINVAL;
    for (i = 0; i < len; i++) {
        if (is_forbidden((unsigned char)target[i]))
            return -EINVAL;
    }

    if (target[0] == '/') {
        split_path_query(target, len, 0, out);
        return 0;
    }

    if (target[0] == '*') {
        if (len != 1)
            return -EINVAL;
        out->path = root_path;
        out->path_len = 1;
        out->is_asterisk = 1;
        return 0;
    }

    /* absolute-form: scheme "://" authority path-abempty [ "?" query ].
     * Anything else that does not start with '/' is a relative reference
     * or authority-form ("host:port", only meaningful for CONNECT). */
    scheme_len = scheme_prefix_len(target, len);
    if (scheme_len == 0)
        return -EINVAL;
    auth_start = scheme_len + 3;
    auth_end = auth_start;
    while (auth_end < len && target[auth_end] != '/' &&
           target[auth_end] != '?')
        auth_end++;
    if (auth_end == auth_start)
        return -EINVAL;         /* "http:///p": no host */
    if (!valid_authority(target + auth_start, auth_end - auth_start))
        return -EINVAL;         /* "s://]ufd/": not a host */
    split_path_query(target, len, auth_end, out);
    out->is_absolute = 1;
    return 0;
}

/* unreserved / pct-encoded / sub-delims, as a reg-name allows. */
static int
is_auth_char(unsigned char c)
{
    return isalnum(c) || (c != 0 && strchr("-._~%!$&'()*+,;=", c) != NULL);
}

/* RFC 3986 3.2: [ userinfo "@" ] host [ ":" port ], where host is an
 * IP-literal in brackets or a reg-name / IPv4 address. */
static int
valid_authority(const char *a, size_t n)
{
    size_t i = 0, at;

    for (at = n; at > 0; at--) {
        if (a[at - 1] == '@') {
            break;
        }
    }
    for (; i + 1 < at; i++) {       /* userinfo */
        if (!is_auth_char((unsigned char)a[i]) && a[i] != ':') {
            return 0;
        }
    }
    i = at;
    if (i < n && a[i] == '[') {
        while (i < n && a[i] != ']') {
            unsigned char c = (unsigned char)a[i];
            if (i > at && !(isxdigit(c) || c == ':' || c == '.')) {
                return 0;
            }
            i++;
        }
        if (i == n) {
            return 0;
        }
        i++;
    } else {
        for (; i < n && a[i] != ':'; i++) {
            if (!is_auth_char((unsigned char)a[i])) {
                return 0;
            }
        }
    }
    if (i < n) {
        if (a[i] != ':') {
            return 0;
        }
        for (i++; i < n; i++) {
            if (!isdigit((unsigned char)a[i])) {
                return 0;
            }
        }
    }
    return 1;
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t
hs_uri_pct_decode(const char *in, size_t len, char *out)
{
    size_t r = 0;
    size_t w = 0;

    /* w never passes r, so decoding in place (in == out) is safe. */
    while (r < len) {
        if (in[r] == '%' && len - r >= 3) {
            int hi = hex_value((unsigned char)in[r + 1]);
            int lo = hex_value((unsigned char)in[r + 2]);

            if (hi >= 0 && lo >= 0) {
                out[w++] = (char)(unsigned char)(hi << 4 | lo);
                r += 3;
                continue;
            }
        }
        out[w++] = in[r++];
    }
    return w;
}
