/* Pure request-target parsing (RFC 9112 section 3.2): no I/O, no MHD.
 *
 * libmicrohttpd decodes the path in place and truncates at %00, so hotserve
 * parses the raw target it captures in the URI log callback instead.
 */
#ifndef HS_URI_H
#define HS_URI_H

#include <stddef.h>
#include <sys/types.h>

struct hs_uri {
    const char *path;      /* borrowed from the target; "/" for "*" too */
    size_t path_len;
    const char *query;     /* after '?', raw; NULL when there is no '?' */
    size_t query_len;
    int is_asterisk;       /* the target was exactly "*" (OPTIONS *) */
    int is_absolute;       /* absolute-form: scheme://authority was removed */
};

/* Split a raw request-target into path and query. Accepts origin-form
 * ("/p?q"), absolute-form ("http://host:1/p?q", path "/" when empty) and
 * asterisk-form ("*"). Fragments ("#...") are not part of a target.
 * Returns 0, or -EINVAL for an empty target, a relative path ("p/q"),
 * authority-form, a fragment, or bytes that may not appear in a target
 * (controls, space, DEL, non-ASCII, '#').
 * Thread: any. GIL: not needed. Locks: none. */
int
hs_uri_split(const char *target, size_t len, struct hs_uri *out);

/* Percent-decode len bytes of in into out (which needs len bytes; in == out
 * is allowed). "%2F" becomes '/', "%00" becomes a NUL byte (kept, not a
 * terminator); a '%' not followed by two hex digits is copied unchanged, as
 * Python's urllib.parse.unquote does. '+' is left alone (only form bodies
 * and query strings give it a meaning). Returns the decoded length.
 * Thread: any. GIL: not needed. Locks: none. */
size_t
hs_uri_pct_decode(const char *in, size_t len, char *out);

#endif
