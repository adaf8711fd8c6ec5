/* bridge/hdrkey.c: header name -> WSGI environ key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "bridge/hdrkey.h"

static void
assert_key(const char *name, const char *want)
{
    char out[HS_HDRKEY_MAX];
    ssize_t n;

    memset(out, 'z', sizeof(out));
    n = hs_hdrkey_environ(name, strlen(name), out, sizeof(out));
    if (n < 0)
        fail_msg("'%s' was dropped: %zd", name, n);
    assert_int_equal(n, strlen(want));
    assert_string_equal(out, want);
}

static void
assert_dropped(const char *name, size_t len)
{
    char out[HS_HDRKEY_MAX];

    memset(out, 'z', sizeof(out));
    assert_int_equal(hs_hdrkey_environ(name, len, out, sizeof(out)),
                     -EINVAL);
}

static void
test_common_headers(void **state)
{
    (void)state;
    assert_key("Host", "HTTP_HOST");
    assert_key("User-Agent", "HTTP_USER_AGENT");
    assert_key("Accept-Language", "HTTP_ACCEPT_LANGUAGE");
    assert_key("Cookie", "HTTP_COOKIE");
    assert_key("X-CSRFToken", "HTTP_X_CSRFTOKEN");
}

static void
test_lower_case_upper_cased(void **state)
{
    (void)state;
    assert_key("x-forwarded-for", "HTTP_X_FORWARDED_FOR");
    assert_key("x-requested-with", "HTTP_X_REQUESTED_WITH");
}

static void
test_content_type_no_prefix(void **state)
{
    (void)state;
    assert_key("Content-Type", "CONTENT_TYPE");
    assert_key("content-type", "CONTENT_TYPE");
    assert_key("CONTENT-TYPE", "CONTENT_TYPE");
}

static void
test_content_length_no_prefix(void **state)
{
    (void)state;
    assert_key("Content-Length", "CONTENT_LENGTH");
    assert_key("content-LENGTH", "CONTENT_LENGTH");
}

static void
test_other_content_headers_prefixed(void **state)
{
    (void)state;
    assert_key("Content-Encoding", "HTTP_CONTENT_ENCODING");
    assert_key("Content-Typ", "HTTP_CONTENT_TYP");
    assert_key("Content-Types", "HTTP_CONTENT_TYPES");
    assert_key("Content-MD5", "HTTP_CONTENT_MD5");
}

static void
test_token_punctuation_kept(void **state)
{
    (void)state;
    /* Every tchar but '_' is allowed; only '-' and letters change. */
    assert_key("a!#$%&'*+-.^`|~9", "HTTP_A!#$%&'*+_.^`|~9");
}

static void
test_underscore_header_dropped(void **state)
{
    (void)state;
    assert_dropped("X_Auth_User", 11);
    assert_dropped("Content_Type", 12);
    assert_dropped("_", 1);
    assert_dropped("x-real_ip", 9);
}

static void
test_non_token_dropped(void **state)
{
    (void)state;
    assert_dropped("X Auth", 6);
    assert_dropped("X:Auth", 6);
    assert_dropped("X(y)", 4);
    assert_dropped("X\"y", 3);
    assert_dropped("X/y", 3);
    assert_dropped("X@y", 3);
    assert_dropped("X\ty", 3);
    assert_dropped("X\x7fy", 3);
    assert_dropped("caf\xc3\xa9", 5);
    assert_dropped("X\0Y", 3);
}

static void
test_empty_dropped(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(hs_hdrkey_environ("", 0, out, sizeof(out)), -EINVAL);
    assert_int_equal(hs_hdrkey_environ(NULL, 0, out, sizeof(out)), -EINVAL);
}

static void
test_len_bounds_the_name(void **state)
{
    char out[HS_HDRKEY_MAX];

    (void)state;
    /* Only "Host" is the name; the '_' after it must not be read. */
    assert_int_equal(hs_hdrkey_environ("Host_x", 4, out, sizeof(out)), 9);
    assert_string_equal(out, "HTTP_HOST");
}

static void
test_exact_cap(void **state)
{
    char out[10];

    (void)state;
    memset(out, 'z', sizeof(out));
    assert_int_equal(hs_hdrkey_environ("Host", 4, out, 10), 9);
    assert_string_equal(out, "HTTP_HOST");
}

static void
test_cap_too_small(void **state)
{
    char out[9];

    (void)state;
    memset(out, 'z', sizeof(out));
    assert_int_equal(hs_hdrkey_environ("Host", 4, out, 9), -ENOSPC);
    assert_int_equal(out[0], 'z');              /* nothing written */
    assert_int_equal(hs_hdrkey_environ("Host", 4, NULL, 0), -ENOSPC);
    assert_int_equal(hs_hdrkey_environ("Content-Type", 12, out, 9),
                     -ENOSPC);
}

static void
test_longest_key(void **state)
{
    char name[HS_HDRKEY_MAX];
    char out[2 * HS_HDRKEY_MAX];
    size_t max_name = HS_HDRKEY_MAX - 1 - 5;    /* "HTTP_" + name + NUL */

    (void)state;
    memset(name, 'a', sizeof(name));
    assert_int_equal(hs_hdrkey_environ(name, max_name, out, HS_HDRKEY_MAX),
                     HS_HDRKEY_MAX - 1);
    assert_int_equal(strlen(out), HS_HDRKEY_MAX - 1);
    assert_memory_equal(out, "HTTP_AAA", 8);
    /* One byte more would exceed HS_HDRKEY_MAX even with room in out. */
    assert_int_equal(hs_hdrkey_environ(name, max_name + 1, out, sizeof(out)),
                     -ENOSPC);
}

static void
test_joiner(void **state)
{
    (void)state;
    assert_string_equal(hs_hdrkey_joiner("HTTP_COOKIE"), "; ");
    assert_string_equal(hs_hdrkey_joiner("HTTP_ACCEPT"), ", ");
    assert_string_equal(hs_hdrkey_joiner("HTTP_X_FORWARDED_FOR"), ", ");
    assert_string_equal(hs_hdrkey_joiner("HTTP_SET_COOKIE"), ", ");
    assert_string_equal(hs_hdrkey_joiner("http_cookie"), ", ");
    assert_string_equal(hs_hdrkey_joiner(NULL), ", ");
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common_headers),
        cmocka_unit_test(test_lower_case_upper_cased),
        cmocka_unit_test(test_content_type_no_prefix),
        cmocka_unit_test(test_content_length_no_prefix),
        cmocka_unit_test(test_other_content_headers_prefixed),
        cmocka_unit_test(test_token_punctuation_kept),
        cmocka_unit_test(test_underscore_header_dropped),
        cmocka_unit_test(test_non_token_dropped),
        cmocka_unit_test(test_empty_dropped),
        cmocka_unit_test(test_len_bounds_the_name),
        cmocka_unit_test(test_exact_cap),
        cmocka_unit_test(test_cap_too_small),
        cmocka_unit_test(test_longest_key),
        cmocka_unit_test(test_joiner),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("hdrkey", tests, NULL, NULL);
}
