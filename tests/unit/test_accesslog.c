/* The access log line: format, escaping, status colors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/accesslog.h"
#include "server/request.h"

static struct hs_request *
make(const char *target, int status, uint64_t bytes)
{
    struct hs_request *r = hs_request_new(target, strlen(target));

    assert_non_null(r);
    strcpy(r->method, "GET");
    strcpy(r->version, "HTTP/1.1");
    r->status = status;
    r->bytes = bytes;
    return r;
}

static void
test_runserver_style_line(void **state)
{
    char buf[256];
    struct hs_request *r = make("/path?q=1", 200, 1234);

    (void)state;
    hs_accesslog_format(r, 0, 3.14, "22/Nov/2026 10:00:00", buf,
                        sizeof(buf));
    assert_string_equal(buf, "[22/Nov/2026 10:00:00] \"GET /path?q=1 "
                             "HTTP/1.1\" 200 1234 3.1ms");
    hs_request_free(r);
}

static void
test_aborted_marked(void **state)
{
    char buf[256];
    struct hs_request *r = make("/x", 200, 10);

    (void)state;
    hs_accesslog_format(r, 1, 0.04, "s", buf, sizeof(buf));
    assert_string_equal(buf, "[s] \"GET /x HTTP/1.1\" 200 10 0.0ms "
                             "(aborted)");
    hs_request_free(r);
}

static void
test_control_bytes_escaped(void **state)
{
    char buf[256];
    struct hs_request *r = make("/a\"b\x1b[31m\\", 400, 0);

    (void)state;
    hs_accesslog_format(r, 0, 1.0, "s", buf, sizeof(buf));
    assert_string_equal(buf, "[s] \"GET /a\\x22b\\x1b[31m\\x5c HTTP/1.1\" "
                             "400 0 1.0ms");
    hs_request_free(r);
}

static void
test_truncated_to_buffer(void **state)
{
    char buf[16];
    struct hs_request *r = make("/long/path/here", 200, 1);
    size_t n;

    (void)state;
    n = hs_accesslog_format(r, 0, 1.0, "s", buf, sizeof(buf));
    assert_int_equal(n, sizeof(buf) - 1);
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    hs_request_free(r);
}

static void
test_status_colors_like_django(void **state)
{
    (void)state;
    assert_string_equal(hs_accesslog_color(200), "");
    assert_string_equal(hs_accesslog_color(101), "\033[1m");
    assert_string_equal(hs_accesslog_color(304), "\033[36m");
    assert_string_equal(hs_accesslog_color(302), "\033[32m");
    assert_string_equal(hs_accesslog_color(404), "\033[33m");
    assert_string_equal(hs_accesslog_color(403), "\033[31;1m");
    assert_string_equal(hs_accesslog_color(500), "\033[35;1m");
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runserver_style_line),
        cmocka_unit_test(test_aborted_marked),
        cmocka_unit_test(test_control_bytes_escaped),
        cmocka_unit_test(test_truncated_to_buffer),
        cmocka_unit_test(test_status_colors_like_django),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests_name("accesslog", tests, NULL, NULL);
}
