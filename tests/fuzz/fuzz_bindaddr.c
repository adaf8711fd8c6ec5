/* libFuzzer target: --bind parsing (server/bindaddr.c). Input: one byte
 * giving the error buffer's size, then the argument (cut at a NUL, as a C
 * string would be).
 *
 * Checked: the result is 0, -EINVAL or -ERANGE; a failure leaves *out
 * untouched and writes a one-line, NUL-terminated reason within errlen; a
 * success gives a non-empty, terminated host that inet_pton accepts for
 * AF_INET/AF_INET6 and that is a host name (letters, digits, '-', '.')
 * for AF_UNSPEC, a loopback flag that agrees with the address, and a
 * result that survives formatting it back ("HOST:PORT" or "[V6]:PORT")
 * and parsing again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "server/bindaddr.h"
#include "tests/fuzz/fuzz.h"

static void
check_success(const struct hs_bindaddr *b)
{
    unsigned char addr[sizeof(struct in6_addr)];
    size_t hlen = strnlen(b->host, sizeof(b->host));

    FUZZ_CHECK(hlen > 0 && hlen < sizeof(b->host));
    FUZZ_CHECK(b->is_loopback == 0 || b->is_loopback == 1);
    switch (b->family) {
    case AF_INET:
        FUZZ_CHECK(inet_pton(AF_INET, b->host, addr) == 1);
        FUZZ_CHECK(b->is_loopback == (addr[0] == 127));
        break;
    case AF_INET6:
        FUZZ_CHECK(inet_pton(AF_INET6, b->host, addr) == 1);
        if (IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr))
            FUZZ_CHECK(b->is_loopback);
        break;
    case AF_UNSPEC:
        for (size_t i = 0; i < hlen; i++) {
            unsigned char c = (unsigned char)b->host[i];

            FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                       (c >= 'A' && c <= 'Z') || c == '-' || c == '.');
        }
        FUZZ_CHECK(b->is_loopback == (strcasecmp(b->host, "localhost")
                                      == 0));
        break;
    default:
        FUZZ_CHECK(!"unexpected family");
    }
}

static void
check_roundtrip(const struct hs_bindaddr *b)
{
    char text[HS_BINDADDR_HOST_MAX + 16];
    struct hs_bindaddr again;
    int n;

    n = snprintf(text, sizeof(text), b->family == AF_INET6 ? "[%s]:%u"
                                                           : "%s:%u",
                 b->host, (unsigned)b->port);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text));
    FUZZ_CHECK(hs_bindaddr_parse(text, &again, NULL, 0) == 0);
    FUZZ_CHECK(strcmp(again.host, b->host) == 0);
    FUZZ_CHECK(again.port == b->port && again.family == b->family);
    FUZZ_CHECK(again.is_loopback == b->is_loopback);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hs_bindaddr out, before;
    size_t errlen;
    char *err;
    char *s;
    int rc;

    if (size == 0)
        return 0;
    errlen = data[0] % 128;     /* 0 (no buffer) .. 127, small ones cut */
    s = malloc(size);
    err = errlen ? malloc(errlen) : NULL;
    FUZZ_CHECK(s != NULL && (errlen == 0 || err != NULL));
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (err != NULL)
        memset(err, 'x', errlen);
    memset(&out, 0xa5, sizeof(out));
    before = out;

    rc = hs_bindaddr_parse(s, &out, err, errlen);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
    if (err != NULL) {
        FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
        FUZZ_CHECK(strchr(err, '\n') == NULL || strchr(s, '\n') != NULL);
    }
    if (rc < 0) {
        FUZZ_CHECK(memcmp(&out, &before, sizeof(out)) == 0);
        if (errlen > 1)
            FUZZ_CHECK(err[0] != '\0');
    } else {
        check_success(&out);
        check_roundtrip(&out);
        if (s[strspn(s, "0123456789")] == '\0')
            FUZZ_CHECK(strcmp(out.host, "127.0.0.1") == 0);
        if (err != NULL)
            FUZZ_CHECK(err[0] == '\0');
    }
    free(s);
    free(err);
    return 0;
}
