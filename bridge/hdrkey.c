/* Header name -> WSGI environ key (PEP 3333, CGI 1.1 meta-variables). */
#include "bridge/hdrkey.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define PREFIX "HTTP_"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. */
static int
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static char
key_char(unsigned char c)
{
    if (c == '-')
        return '_';
    if (c >= 'a' && c <= 'z')
        return (char)(c - 'a' + 'A');
    return (char)c;
}

static int
name_is(const char *name, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(name, lit, len) == 0;
}

ssize_t
hs_hdrkey_environ(const char *name, size_t len, char *out, size_t cap)
{
    size_t prefix;
    size_t key_len;
    size_t i;

    if (name == NULL || len == 0)
        return -EINVAL;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        /* '_' is a token character, but "X_Auth" and "X-Auth" would map to
         * the same key, letting a client spoof a header a proxy set. */
        if (!is_tchar(c) || c == '_')
            return -EINVAL;
    }
    /* CGI gives these two their own names, without HTTP_. */
    prefix = name_is(name, len, "Content-Type") ||
                     name_is(name, len, "Content-Length")
                 ? 0
                 : PREFIX_LEN;
    key_len = prefix + len;
    if (key_len >= HS_HDRKEY_MAX || key_len >= cap)
        return -ENOSPC;
    memcpy(out, PREFIX, prefix);
    for (i = 0; i < len; i++)
        out[prefix + i] = key_char((unsigned char)name[i]);
    out[key_len] = '\0';
    return (ssize_t)key_len;
}

const char *
hs_hdrkey_joiner(const char *key)
{
    if (key != NULL && strcmp(key, "HTTP_COOKIE") == 0)
        return "; ";
    return ", ";
}
