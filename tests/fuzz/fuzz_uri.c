/* libFuzzer target: request-target splitting and percent-decoding
 * (server/uri.c). The input is the raw target, any bytes.
 *
 * Checked: hs_uri_split returns 0 or -EINVAL; a failure leaves the output
 * zeroed; a success accepted only bytes a target may hold, and its path
 * and query are inside the target (or the static "/"), the path starts
 * with '/', has no '?', and the query runs to the end of the target.
 * hs_uri_pct_decode never writes past len, agrees with a naive decoder,
 * and decoding in place gives the same bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "server/uri.h"
#include "tests/fuzz/fuzz.h"

static int
inside(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

static int
target_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

static void
check_split(const char *t, size_t len)
{
    struct hs_uri u;
    int rc;

    memset(&u, 0xa5, sizeof(u));
    rc = hs_uri_split(t, len, &u);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc < 0) {
        FUZZ_CHECK(u.path == NULL && u.path_len == 0);
        FUZZ_CHECK(u.query == NULL && u.query_len == 0);
        FUZZ_CHECK(!u.is_asterisk && !u.is_absolute);
        return;
    }
    FUZZ_CHECK(len > 0);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK(target_byte((unsigned char)t[i]));
    FUZZ_CHECK(u.path != NULL && u.path_len > 0 && u.path[0] == '/');
    /* inside the target, or the library's own "/" */
    FUZZ_CHECK(inside(u.path, u.path_len, t, len) || u.path_len == 1);
    FUZZ_CHECK(memchr(u.path, '?', u.path_len) == NULL);
    if (u.query != NULL) {
        FUZZ_CHECK(inside(u.query, u.query_len, t, len));
        FUZZ_CHECK(u.query > t && u.query[-1] == '?');
        FUZZ_CHECK(u.query + u.query_len == t + len);
    }
    FUZZ_CHECK(u.is_asterisk == (len == 1 && t[0] == '*'));
    if (t[0] == '/') {
        FUZZ_CHECK(u.path == t && !u.is_absolute);
        FUZZ_CHECK(u.path_len + (u.query ? u.query_len + 1 : 0) == len);
    } else if (!u.is_asterisk) {
        FUZZ_CHECK(u.is_absolute);
        FUZZ_CHECK(isalpha((unsigned char)t[0]));
        FUZZ_CHECK(memmem(t, len, "://", 3) != NULL);
    }
}

static int
hexval(unsigned char c)
{
    const char *digits = "0123456789abcdef";
    const char *p = c != 0 ? strchr(digits, tolower(c)) : NULL;

    return p != NULL ? (int)(p - digits) : -1;
}

/* The obvious decoder, for comparison. */
static size_t
naive_decode(const char *in, size_t len, char *out)
{
    size_t w = 0;

    for (size_t r = 0; r < len; r++) {
        if (in[r] == '%' && r + 2 < len && hexval((unsigned char)in[r + 1])
            >= 0 && hexval((unsigned char)in[r + 2]) >= 0) {
            out[w++] = (char)(hexval((unsigned char)in[r + 1]) * 16 +
                              hexval((unsigned char)in[r + 2]));
            r += 2;
        } else {
            out[w++] = in[r];
        }
    }
    return w;
}

static void
check_decode(const char *in, size_t len)
{
    /* Exactly len bytes each, so ASan sees any write past the end. */
    char *out = malloc(len ? len : 1);
    char *ref = malloc(len ? len : 1);
    char *inplace = malloc(len ? len : 1);
    size_t n, nref, nin;

    FUZZ_CHECK(out != NULL && ref != NULL && inplace != NULL);
    n = hs_uri_pct_decode(in, len, out);
    nref = naive_decode(in, len, ref);
    FUZZ_CHECK(n <= len);
    FUZZ_CHECK(n == nref && memcmp(out, ref, n) == 0);
    if (memchr(in, '%', len) == NULL)
        FUZZ_CHECK(n == len);
    memcpy(inplace, in, len);
    nin = hs_uri_pct_decode(inplace, len, inplace);
    FUZZ_CHECK(nin == n && memcmp(inplace, out, n) == 0);
    free(out);
    free(ref);
    free(inplace);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes: no terminator to lean on. */
    char *t = malloc(size ? size : 1);

    FUZZ_CHECK(t != NULL);
    memcpy(t, data, size);
    check_split(t, size);
    check_decode(t, size);
    free(t);
    return 0;
}
