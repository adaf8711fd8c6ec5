/* Pure mapping of HTTP header names to WSGI environ keys: no Python. */
#ifndef HS_HDRKEY_H
#define HS_HDRKEY_H

#include <stddef.h>
#include <sys/types.h>

/* Longest environ key hs_hdrkey_environ produces ("HTTP_" + name). */
#define HS_HDRKEY_MAX 256

/* Write the environ key for header `name` into out (cap bytes, NUL
 * terminated): "Content-Type" -> "CONTENT_TYPE", "Content-Length" ->
 * "CONTENT_LENGTH", anything else "HTTP_" + upper-case with '-' -> '_'
 * ("x-forwarded-for" -> "HTTP_X_FORWARDED_FOR").
 * Returns the key length, -EINVAL when the name must be dropped (empty, a
 * byte that is not an RFC 9110 token character, or an '_', which would
 * let "X_Auth" spoof "X-Auth": CVE-2015-0219, as runserver and gunicorn
 * do), or -ENOSPC when cap is too small.
 * Thread: any. GIL: not needed. Locks: none. */
ssize_t
hs_hdrkey_environ(const char *name, size_t len, char *out, size_t cap);

/* The separator used to join repeated headers with this environ key:
 * "; " for HTTP_COOKIE (RFC 6265), ", " for everything else (RFC 9110
 * 5.3). Thread: any. GIL: not needed. Locks: none. */
const char *
hs_hdrkey_joiner(const char *key);

#endif
