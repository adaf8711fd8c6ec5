/* libFuzzer target: header name -> WSGI environ key (bridge/hdrkey.c).
 * Input: one byte choosing the output capacity, then the header name
 * (any bytes).
 *
 * Checked: the result is the key length, -EINVAL or -ENOSPC; -EINVAL
 * exactly for names that are empty or hold a byte outside RFC 9110
 * tchar or an '_'; a key fits cap with its NUL, is CONTENT_TYPE /
 * CONTENT_LENGTH or "HTTP_" + the name upper-cased with '-' -> '_', and
 * holds only [A-Z0-9_] and the other tchar punctuation; -ENOSPC exactly
 * when the key would not fit (or exceeds HS_HDRKEY_MAX); nothing is
 * written past cap.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "bridge/hdrkey.h"
#include "tests/fuzz/fuzz.h"

static int
tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^`|~", c) != NULL);
}

static int
is_cgi_name(const char *n, size_t len)
{
    return (len == 12 && strncasecmp(n, "Content-Type", len) == 0) ||
           (len == 14 && strncasecmp(n, "Content-Length", len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap, len, want;
    char *name;
    char *out;
    int valid = 1;
    ssize_t rc;

    if (size == 0)
        return 0;
    /* 0..255, and 0 means "plenty" to exercise long names too */
    cap = data[0] != 0 ? data[0] : 2 * HS_HDRKEY_MAX;
    len = size - 1;
    name = malloc(len ? len : 1);
    out = malloc(cap);
    FUZZ_CHECK(name != NULL && out != NULL);
    memcpy(name, data + 1, len);

    for (size_t i = 0; i < len; i++)
        valid = valid && tchar((unsigned char)name[i]);
    valid = valid && len > 0;
    want = (is_cgi_name(name, len) ? 0 : 5) + len;

    rc = hs_hdrkey_environ(name, len, out, cap);
    if (!valid) {
        FUZZ_CHECK(rc == -EINVAL);
    } else if (want >= cap || want >= HS_HDRKEY_MAX) {
        FUZZ_CHECK(rc == -ENOSPC);
    } else {
        FUZZ_CHECK(rc >= 0 && (size_t)rc == want);
        FUZZ_CHECK(out[rc] == '\0' && strlen(out) == (size_t)rc);
        if (is_cgi_name(name, len)) {
            FUZZ_CHECK(strcmp(out, len == 12 ? "CONTENT_TYPE"
                                             : "CONTENT_LENGTH") == 0);
        } else {
            FUZZ_CHECK(strncmp(out, "HTTP_", 5) == 0);
            for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)name[i];
                char k = out[5 + i];

                if (c == '-')
                    FUZZ_CHECK(k == '_');
                else if (c >= 'a' && c <= 'z')
                    FUZZ_CHECK(k == (char)(c - 'a' + 'A'));
                else
                    FUZZ_CHECK(k == (char)c);
            }
        }
        for (ssize_t i = 0; i < rc; i++)
            FUZZ_CHECK(!(out[i] >= 'a' && out[i] <= 'z'));
        FUZZ_CHECK(strcmp(hs_hdrkey_joiner(out),
                          strcmp(out, "HTTP_COOKIE") == 0 ? "; " : ", ")
                   == 0);
    }
    free(name);
    free(out);
    return 0;
}
