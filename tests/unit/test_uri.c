/* server/uri.c: request-target split and percent-decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "server/uri.h"

/* Split a NUL-terminated literal (its length excludes the NUL). */
static int
split(const char *t, struct hs_uri *u)
{
    return hs_uri_split(t, strlen(t), u);
}

static void
assert_span(const char *p, size_t len, const char *want)
{
    assert_non_null(p);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(p, want, len);
}

/* Decode a literal into buf (NUL-terminated for readability of failures);
 * returns the decoded length. */
static size_t
decode(const char *in, char *buf, size_t cap)
{
    size_t n;

    assert_true(strlen(in) < cap);
    n = hs_uri_pct_decode(in, strlen(in), buf);
    assert_true(n <= strlen(in));
    buf[n] = '\0';
    return n;
}

static void
test_origin_form_path_only(void **state)
{
    struct hs_uri u;
    const char *t = "/a/b.html";

    (void)state;
    assert_int_equal(split(t, &u), 0);
    assert_ptr_equal(u.path, t);        /* borrowed, not copied */
    assert_span(u.path, u.path_len, "/a/b.html");
    assert_null(u.query);
    assert_int_equal(u.query_len, 0);
    assert_int_equal(u.is_asterisk, 0);
    assert_int_equal(u.is_absolute, 0);
}

static void
test_origin_form_query_split(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("/search?q=a+b&x=%2F", &u), 0);
    assert_span(u.path, u.path_len, "/search");
    assert_span(u.query, u.query_len, "q=a+b&x=%2F");
    assert_int_equal(u.is_absolute, 0);
}

static void
test_root_path(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("/", &u), 0);
    assert_span(u.path, u.path_len, "/");
    assert_null(u.query);
}

static void
test_empty_query_is_not_null(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("/p?", &u), 0);
    assert_span(u.path, u.path_len, "/p");
    assert_non_null(u.query);
    assert_int_equal(u.query_len, 0);
}

static void
test_query_keeps_later_question_marks(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("/p?a=1?b=2", &u), 0);
    assert_span(u.path, u.path_len, "/p");
    assert_span(u.query, u.query_len, "a=1?b=2");
}

static void
test_double_slash_is_origin_form(void **state)
{
    struct hs_uri u;

    (void)state;
    /* "//x" is an absolute-path with an empty first segment, not a
     * network-path reference: it must not be taken as a host. */
    assert_int_equal(split("//evil.example/p", &u), 0);
    assert_span(u.path, u.path_len, "//evil.example/p");
    assert_int_equal(u.is_absolute, 0);
}

static void
test_percent_escapes_kept_raw(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("/a%20b/c%2Fd%00x?k=%00", &u), 0);
    assert_span(u.path, u.path_len, "/a%20b/c%2Fd%00x");
    assert_span(u.query, u.query_len, "k=%00");
}

static void
test_absolute_form_stripped(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("http://example.com:8080/p/q?x=1", &u), 0);
    assert_span(u.path, u.path_len, "/p/q");
    assert_span(u.query, u.query_len, "x=1");
    assert_int_equal(u.is_absolute, 1);
    assert_int_equal(u.is_asterisk, 0);
}

static void
test_absolute_form_empty_path_is_root(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("http://example.com", &u), 0);
    assert_span(u.path, u.path_len, "/");
    assert_null(u.query);
    assert_int_equal(u.is_absolute, 1);
}

static void
test_absolute_form_query_without_path(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("https://h:1?a=b", &u), 0);
    assert_span(u.path, u.path_len, "/");
    assert_span(u.query, u.query_len, "a=b");
    assert_int_equal(u.is_absolute, 1);
}

static void
test_absolute_form_userinfo_and_ipv6(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("http://u:p@[::1]:80/x", &u), 0);
    assert_span(u.path, u.path_len, "/x");
    assert_int_equal(u.is_absolute, 1);
}

static void
test_absolute_form_bad_authority_rejected(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("s://]ufd/:", &u), -EINVAL);
    assert_int_equal(split("http://[::1/x", &u), -EINVAL);
    assert_int_equal(split("http://h:8x/x", &u), -EINVAL);
    assert_int_equal(split("http://a b/x", &u), -EINVAL);
    assert_int_equal(split("http://h:8080/x", &u), 0);
}

static void
test_absolute_form_scheme_case_and_chars(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("HTTP://h/", &u), 0);
    assert_span(u.path, u.path_len, "/");
    assert_int_equal(split("svn+ssh.x-y://h/z", &u), 0);
    assert_span(u.path, u.path_len, "/z");
}

static void
test_rejects_absolute_form_without_host(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("http:///p", &u), -EINVAL);
    assert_int_equal(split("http://", &u), -EINVAL);
    assert_int_equal(split("http://?q", &u), -EINVAL);
}

static void
test_rejects_bad_scheme(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("1http://h/", &u), -EINVAL);
    assert_int_equal(split("ht_tp://h/", &u), -EINVAL);
    assert_int_equal(split("http:/h/p", &u), -EINVAL);
    assert_int_equal(split("://h/p", &u), -EINVAL);
}

static void
test_asterisk(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("*", &u), 0);
    assert_int_equal(u.is_asterisk, 1);
    assert_int_equal(u.is_absolute, 0);
    assert_span(u.path, u.path_len, "/");
    assert_null(u.query);
}

static void
test_rejects_asterisk_with_more(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("*?x", &u), -EINVAL);
    assert_int_equal(split("**", &u), -EINVAL);
    assert_int_equal(split("*/", &u), -EINVAL);
}

static void
test_rejects_empty(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(hs_uri_split("", 0, &u), -EINVAL);
    assert_int_equal(hs_uri_split(NULL, 0, &u), -EINVAL);
    /* A NUL-terminated buffer passed with len 0 is still empty. */
    assert_int_equal(hs_uri_split("/x", 0, &u), -EINVAL);
}

static void
test_rejects_relative(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("p/q", &u), -EINVAL);
    assert_int_equal(split("index.html", &u), -EINVAL);
    assert_int_equal(split("?q=1", &u), -EINVAL);
    assert_int_equal(split("./p", &u), -EINVAL);
}

static void
test_rejects_authority_form(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("example.com:443", &u), -EINVAL);
    assert_int_equal(split("localhost:8000", &u), -EINVAL);
}

static void
test_rejects_fragment(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("/p#frag", &u), -EINVAL);
    assert_int_equal(split("/p?q=1#frag", &u), -EINVAL);
    assert_int_equal(split("http://h/p#f", &u), -EINVAL);
    assert_int_equal(split("#", &u), -EINVAL);
}

static void
test_rejects_control_bytes(void **state)
{
    struct hs_uri u;
    const char nul[] = "/a\0b";
    char t[4] = "/a_";
    unsigned c;

    (void)state;
    assert_int_equal(hs_uri_split(nul, sizeof(nul) - 1, &u), -EINVAL);
    for (c = 0; c < 0x20; c++) {
        t[2] = (char)c;
        assert_int_equal(hs_uri_split(t, 3, &u), -EINVAL);
    }
    assert_int_equal(split("/a\r\nX: y", &u), -EINVAL);
    assert_int_equal(split("/a\tb", &u), -EINVAL);
}

static void
test_rejects_space_del_non_ascii(void **state)
{
    struct hs_uri u;

    (void)state;
    assert_int_equal(split("/a b", &u), -EINVAL);
    assert_int_equal(split("/a?q=a b", &u), -EINVAL);
    assert_int_equal(split("/a\x7f", &u), -EINVAL);
    assert_int_equal(split("/caf\xc3\xa9", &u), -EINVAL);
    assert_int_equal(split("/\x80", &u), -EINVAL);
    assert_int_equal(split("/\xff", &u), -EINVAL);
}

static void
test_accepts_every_visible_ascii_but_hash(void **state)
{
    struct hs_uri u;
    char t[2] = {'/', 0};
    unsigned c;

    (void)state;
    for (c = 0x21; c < 0x7f; c++) {
        t[1] = (char)c;
        if (c == '#')
            assert_int_equal(hs_uri_split(t, 2, &u), -EINVAL);
        else
            assert_int_equal(hs_uri_split(t, 2, &u), 0);
    }
}

static void
test_len_bounds_the_target(void **state)
{
    struct hs_uri u;
    /* Only the first 6 bytes are the target: the '#' and space after them
     * must not be looked at. */
    const char buf[] = "/a?b=c# x";

    (void)state;
    assert_int_equal(hs_uri_split(buf, 6, &u), 0);
    assert_span(u.path, u.path_len, "/a");
    assert_span(u.query, u.query_len, "b=c");
}

static void
test_failure_clears_output(void **state)
{
    struct hs_uri u;

    (void)state;
    memset(&u, 0x5a, sizeof(u));
    assert_int_equal(split("p", &u), -EINVAL);
    assert_null(u.path);
    assert_int_equal(u.path_len, 0);
    assert_null(u.query);
    assert_int_equal(u.is_absolute, 0);
    assert_int_equal(u.is_asterisk, 0);
}

static void
test_pct_slash_decoded(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(decode("/a%2Fb%2fc", buf, sizeof(buf)), 6);
    assert_string_equal(buf, "/a/b/c");
}

static void
test_pct_null_kept(void **state)
{
    char buf[64];
    size_t n;

    (void)state;
    n = decode("/a%00b", buf, sizeof(buf));
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "/a\0b", 4);
}

static void
test_pct_mixed_case_hex(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(decode("%41%6a%4A%7e%7E", buf, sizeof(buf)), 5);
    assert_string_equal(buf, "AjJ~~");
}

static void
test_pct_high_bytes(void **state)
{
    char buf[64];

    (void)state;
    /* UTF-8 "é" stays as its two raw bytes (PATH_INFO is bytes). */
    assert_int_equal(decode("/caf%C3%A9%ff", buf, sizeof(buf)), 7);
    assert_memory_equal(buf, "/caf\xc3\xa9\xff", 7);
}

static void
test_bad_escape_literal(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(decode("/%zz", buf, sizeof(buf)), 4);
    assert_string_equal(buf, "/%zz");
    assert_int_equal(decode("%g1%1g", buf, sizeof(buf)), 6);
    assert_string_equal(buf, "%g1%1g");
}

static void
test_truncated_escape_literal(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(decode("/a%4", buf, sizeof(buf)), 4);
    assert_string_equal(buf, "/a%4");
    assert_int_equal(decode("/a%", buf, sizeof(buf)), 3);
    assert_string_equal(buf, "/a%");
    assert_int_equal(decode("%", buf, sizeof(buf)), 1);
    assert_string_equal(buf, "%");
}

static void
test_percent_after_bad_escape_decodes(void **state)
{
    char buf[64];

    (void)state;
    /* "%%41": the first '%' is literal, then "%41" is 'A'. */
    assert_int_equal(decode("%%41", buf, sizeof(buf)), 2);
    assert_string_equal(buf, "%A");
    /* An escape that decodes to '%' is not decoded again. */
    assert_int_equal(decode("%2541", buf, sizeof(buf)), 3);
    assert_string_equal(buf, "%41");
}

static void
test_plus_untouched(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(decode("/a+b%2B", buf, sizeof(buf)), 5);
    assert_string_equal(buf, "/a+b+");
}

static void
test_pct_decode_in_place(void **state)
{
    char buf[] = "/x%20y%2Fz%00!%q";
    size_t n;

    (void)state;
    n = hs_uri_pct_decode(buf, strlen(buf), buf);
    assert_int_equal(n, 10);
    assert_memory_equal(buf, "/x y/z\0!%q", 10);
}

static void
test_pct_decode_empty(void **state)
{
    char out[1] = {'#'};

    (void)state;
    assert_int_equal(hs_uri_pct_decode("", 0, out), 0);
    assert_int_equal(out[0], '#');      /* nothing written */
}

static void
test_pct_decode_respects_len(void **state)
{
    char out[8];

    (void)state;
    /* len 2 cuts "%41" short: both bytes are copied as they are and the
     * byte after them is not read. */
    assert_int_equal(hs_uri_pct_decode("%41", 2, out), 2);
    assert_memory_equal(out, "%4", 2);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_form_path_only),
        cmocka_unit_test(test_origin_form_query_split),
        cmocka_unit_test(test_root_path),
        cmocka_unit_test(test_empty_query_is_not_null),
        cmocka_unit_test(test_query_keeps_later_question_marks),
        cmocka_unit_test(test_double_slash_is_origin_form),
        cmocka_unit_test(test_percent_escapes_kept_raw),
        cmocka_unit_test(test_absolute_form_stripped),
        cmocka_unit_test(test_absolute_form_empty_path_is_root),
        cmocka_unit_test(test_absolute_form_query_without_path),
        cmocka_unit_test(test_absolute_form_userinfo_and_ipv6),
        cmocka_unit_test(test_absolute_form_bad_authority_rejected),
        cmocka_unit_test(test_absolute_form_scheme_case_and_chars),
        cmocka_unit_test(test_rejects_absolute_form_without_host),
        cmocka_unit_test(test_rejects_bad_scheme),
        cmocka_unit_test(test_asterisk),
        cmocka_unit_test(test_rejects_asterisk_with_more),
        cmocka_unit_test(test_rejects_empty),
        cmocka_unit_test(test_rejects_relative),
        cmocka_unit_test(test_rejects_authority_form),
        cmocka_unit_test(test_rejects_fragment),
        cmocka_unit_test(test_rejects_control_bytes),
        cmocka_unit_test(test_rejects_space_del_non_ascii),
        cmocka_unit_test(test_accepts_every_visible_ascii_but_hash),
        cmocka_unit_test(test_len_bounds_the_target),
        cmocka_unit_test(test_failure_clears_output),
        cmocka_unit_test(test_pct_slash_decoded),
        cmocka_unit_test(test_pct_null_kept),
        cmocka_unit_test(test_pct_mixed_case_hex),
        cmocka_unit_test(test_pct_high_bytes),
        cmocka_unit_test(test_bad_escape_literal),
        cmocka_unit_test(test_truncated_escape_literal),
        cmocka_unit_test(test_percent_after_bad_escape_decodes),
        cmocka_unit_test(test_plus_untouched),
        cmocka_unit_test(test_pct_decode_in_place),
        cmocka_unit_test(test_pct_decode_empty),
        cmocka_unit_test(test_pct_decode_respects_len),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("uri", tests, NULL, NULL);
}
