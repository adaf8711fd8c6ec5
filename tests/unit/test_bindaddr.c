/* server/bindaddr.c: --bind parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "server/bindaddr.h"

struct parsed {
    int rc;
    struct hs_bindaddr a;
    char err[256];
};

static struct parsed
parse(const char *s)
{
    struct parsed p;

    memset(&p, 0x5a, sizeof(p));        /* catch fields left unset */
    p.rc = hs_bindaddr_parse(s, &p.a, p.err, sizeof(p.err));
    return p;
}

static void
assert_addr(const char *s, const char *host, unsigned port, int family,
            int loopback)
{
    struct parsed p = parse(s);

    if (p.rc != 0)
        fail_msg("'%s' failed: %d %s", s, p.rc, p.err);
    assert_string_equal(p.a.host, host);
    assert_int_equal(p.a.port, port);
    assert_int_equal(p.a.family, family);
    assert_int_equal(p.a.is_loopback, loopback);
    assert_string_equal(p.err, "");
}

static void
assert_error(const char *s, int rc, const char *msg)
{
    struct parsed p = parse(s);

    assert_int_equal(p.rc, rc);
    assert_string_equal(p.err, msg);
}

static void
test_host_and_port(void **state)
{
    (void)state;
    assert_addr("127.0.0.1:8080", "127.0.0.1", 8080, AF_INET, 1);
    assert_addr("0.0.0.0:80", "0.0.0.0", 80, AF_INET, 0);
    assert_addr("192.168.1.20:9000", "192.168.1.20", 9000, AF_INET, 0);
}

static void
test_port_only_uses_default_host(void **state)
{
    (void)state;
    assert_addr("9000", "127.0.0.1", 9000, AF_INET, 1);
    assert_addr(":9000", "127.0.0.1", 9000, AF_INET, 1);
}

static void
test_host_only_uses_default_port(void **state)
{
    (void)state;
    assert_addr("0.0.0.0", "0.0.0.0", 8000, AF_INET, 0);
    assert_addr("10.1.2.3", "10.1.2.3", 8000, AF_INET, 0);
}

static void
test_port_zero_means_any(void **state)
{
    (void)state;
    assert_addr("127.0.0.1:0", "127.0.0.1", 0, AF_INET, 1);
    assert_addr("0", "127.0.0.1", 0, AF_INET, 1);
}

static void
test_port_limits(void **state)
{
    (void)state;
    assert_addr(":65535", "127.0.0.1", 65535, AF_INET, 1);
    assert_addr("127.0.0.1:00080", "127.0.0.1", 80, AF_INET, 1);
}

static void
test_port_out_of_range(void **state)
{
    (void)state;
    assert_error("127.0.0.1:65536", -ERANGE,
                 "port '65536' out of range (0-65535) in "
                 "'127.0.0.1:65536'");
    assert_error("70000", -ERANGE,
                 "port '70000' out of range (0-65535) in '70000'");
    /* Long enough to overflow an unsigned long if it were not capped. */
    assert_error(":99999999999999999999999", -ERANGE,
                 "port '99999999999999999999999' out of range (0-65535) in "
                 "':99999999999999999999999'");
}

static void
test_invalid_port_message(void **state)
{
    (void)state;
    assert_error("127.0.0.1:abc", -EINVAL,
                 "invalid port 'abc' in '127.0.0.1:abc'");
    assert_error(":-1", -EINVAL, "invalid port '-1' in ':-1'");
    assert_error(":+80", -EINVAL, "invalid port '+80' in ':+80'");
    assert_error(":80 ", -EINVAL, "invalid port '80 ' in ':80 '");
    assert_error("[::1]:x", -EINVAL, "invalid port 'x' in '[::1]:x'");
}

static void
test_missing_port(void **state)
{
    (void)state;
    assert_error("127.0.0.1:", -EINVAL, "missing port in '127.0.0.1:'");
    assert_error(":", -EINVAL, "missing port in ':'");
    assert_error("[::1]:", -EINVAL, "missing port in '[::1]:'");
}

static void
test_ipv6_brackets(void **state)
{
    (void)state;
    assert_addr("[::1]:8080", "::1", 8080, AF_INET6, 1);
    assert_addr("[::]:0", "::", 0, AF_INET6, 0);
    assert_addr("[2001:db8::5]:443", "2001:db8::5", 443, AF_INET6, 0);
}

static void
test_ipv6_brackets_default_port(void **state)
{
    (void)state;
    assert_addr("[::1]", "::1", 8000, AF_INET6, 1);
    assert_addr("[fe80::1]", "fe80::1", 8000, AF_INET6, 0);
}

static void
test_ipv6_bare(void **state)
{
    (void)state;
    assert_addr("::1", "::1", 8000, AF_INET6, 1);
    assert_addr("::", "::", 8000, AF_INET6, 0);
    assert_addr("2001:db8::1", "2001:db8::1", 8000, AF_INET6, 0);
    /* A valid address as a whole wins: this is host ::1:8000 (the
     * address 0::1:8000), not ::1 port 8000. Brackets say the other. */
    assert_addr("::1:8000", "::1:8000", 8000, AF_INET6, 0);
}

static void
test_ipv6_v4_mapped_loopback(void **state)
{
    (void)state;
    assert_addr("[::ffff:127.0.0.1]:1", "::ffff:127.0.0.1", 1, AF_INET6, 1);
    assert_addr("[::ffff:10.0.0.1]:1", "::ffff:10.0.0.1", 1, AF_INET6, 0);
}

static void
test_ipv6_bare_with_port_is_ambiguous(void **state)
{
    (void)state;
    assert_error("::1:8000:x", -EINVAL,
                 "invalid address '::1:8000:x' (write IPv6 addresses in "
                 "brackets, e.g. [::1]:8000)");
    assert_error("1:2:3", -EINVAL,
                 "invalid address '1:2:3' (write IPv6 addresses in "
                 "brackets, e.g. [::1]:8000)");
}

static void
test_ipv6_bad_brackets(void **state)
{
    (void)state;
    assert_error("[::1", -EINVAL, "missing ']' in '[::1'");
    assert_error("[::1]8000", -EINVAL,
                 "expected ':PORT' after ']' in '[::1]8000'");
    assert_error("[]:80", -EINVAL, "missing host in '[]:80'");
    assert_error("[127.0.0.1]:80", -EINVAL,
                 "invalid IPv6 address '127.0.0.1' in '[127.0.0.1]:80'");
    assert_error("[localhost]", -EINVAL,
                 "invalid IPv6 address 'localhost' in '[localhost]'");
    assert_error("[::g]:80", -EINVAL,
                 "invalid IPv6 address '::g' in '[::g]:80'");
}

static void
test_hostname(void **state)
{
    (void)state;
    assert_addr("localhost:8001", "localhost", 8001, AF_UNSPEC, 1);
    assert_addr("LocalHost", "LocalHost", 8000, AF_UNSPEC, 1);
    assert_addr("web-1.internal:80", "web-1.internal", 80, AF_UNSPEC, 0);
    assert_addr("db", "db", 8000, AF_UNSPEC, 0);
    assert_addr("3com.example", "3com.example", 8000, AF_UNSPEC, 0);
}

static void
test_localhost_subdomain_not_loopback(void **state)
{
    (void)state;
    /* Only the exact name is known to resolve to the loopback. */
    assert_addr("localhost.example", "localhost.example", 8000, AF_UNSPEC,
                0);
}

static void
test_invalid_hostname(void **state)
{
    (void)state;
    assert_error("my_host:80", -EINVAL,
                 "invalid host 'my_host' in 'my_host:80'");
    assert_error("-bad:80", -EINVAL, "invalid host '-bad' in '-bad:80'");
    assert_error("bad-:80", -EINVAL, "invalid host 'bad-' in 'bad-:80'");
    assert_error("a..b", -EINVAL, "invalid host 'a..b' in 'a..b'");
    assert_error(".a", -EINVAL, "invalid host '.a' in '.a'");
    assert_error("a.", -EINVAL, "invalid host 'a.' in 'a.'");
    assert_error("a b:80", -EINVAL, "invalid host 'a b' in 'a b:80'");
    assert_error("*:80", -EINVAL, "invalid host '*' in '*:80'");
    assert_error("unix:/tmp/s", -EINVAL,
                 "invalid port '/tmp/s' in 'unix:/tmp/s'");
}

static void
test_hostname_label_limits(void **state)
{
    char ok[64 + 5];
    char bad[65 + 5];

    (void)state;
    memset(ok, 'a', 63);
    strcpy(ok + 63, ".com");
    assert_addr(ok, ok, 8000, AF_UNSPEC, 0);
    memset(bad, 'a', 64);
    strcpy(bad + 64, ".com");
    assert_int_equal(parse(bad).rc, -EINVAL);
}

static void
test_host_too_long(void **state)
{
    char s[HS_BINDADDR_HOST_MAX + 8];
    struct parsed p;

    (void)state;
    memset(s, 'a', HS_BINDADDR_HOST_MAX);
    strcpy(s + HS_BINDADDR_HOST_MAX, ":80");
    p = parse(s);
    assert_int_equal(p.rc, -EINVAL);
    assert_non_null(strstr(p.err, "host too long"));
}

static void
test_invalid_ipv4(void **state)
{
    (void)state;
    assert_error("999.0.0.1:80", -EINVAL,
                 "invalid IPv4 address '999.0.0.1' in '999.0.0.1:80'");
    /* inet_aton would take these; a bind address must be spelled out. */
    assert_error("127.1", -EINVAL,
                 "invalid IPv4 address '127.1' in '127.1'");
    assert_error("1.2.3.4.5:1", -EINVAL,
                 "invalid IPv4 address '1.2.3.4.5' in '1.2.3.4.5:1'");
    assert_error("1.2.3.:1", -EINVAL,
                 "invalid IPv4 address '1.2.3.' in '1.2.3.:1'");
}

static void
test_loopback_range(void **state)
{
    (void)state;
    assert_addr("127.255.0.9:1", "127.255.0.9", 1, AF_INET, 1);
    assert_addr("126.0.0.1:1", "126.0.0.1", 1, AF_INET, 0);
    assert_addr("128.0.0.1:1", "128.0.0.1", 1, AF_INET, 0);
}

static void
test_empty(void **state)
{
    (void)state;
    assert_error("", -EINVAL, "empty bind address");
    assert_int_equal(parse(NULL).rc, -EINVAL);
}

static void
test_failure_leaves_output(void **state)
{
    struct hs_bindaddr a;
    char err[64];

    (void)state;
    memset(&a, 0, sizeof(a));
    strcpy(a.host, "keep");
    a.port = 1234;
    assert_int_equal(hs_bindaddr_parse("1.2.3.4:x", &a, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(a.host, "keep");
    assert_int_equal(a.port, 1234);
}

static void
test_err_buffer_optional_and_truncated(void **state)
{
    struct hs_bindaddr a;
    char small[8];

    (void)state;
    assert_int_equal(hs_bindaddr_parse("x:y", &a, NULL, 0), -EINVAL);
    memset(small, 'z', sizeof(small));
    assert_int_equal(hs_bindaddr_parse("x:y", &a, small, sizeof(small)),
                     -EINVAL);
    assert_string_equal(small, "invalid");
}

static void
test_success_clears_err(void **state)
{
    struct hs_bindaddr a;
    char err[32] = "stale";

    (void)state;
    assert_int_equal(hs_bindaddr_parse("80", &a, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_and_port),
        cmocka_unit_test(test_port_only_uses_default_host),
        cmocka_unit_test(test_host_only_uses_default_port),
        cmocka_unit_test(test_port_zero_means_any),
        cmocka_unit_test(test_port_limits),
        cmocka_unit_test(test_port_out_of_range),
        cmocka_unit_test(test_invalid_port_message),
        cmocka_unit_test(test_missing_port),
        cmocka_unit_test(test_ipv6_brackets),
        cmocka_unit_test(test_ipv6_brackets_default_port),
        cmocka_unit_test(test_ipv6_bare),
        cmocka_unit_test(test_ipv6_v4_mapped_loopback),
        cmocka_unit_test(test_ipv6_bare_with_port_is_ambiguous),
        cmocka_unit_test(test_ipv6_bad_brackets),
        cmocka_unit_test(test_hostname),
        cmocka_unit_test(test_localhost_subdomain_not_loopback),
        cmocka_unit_test(test_invalid_hostname),
        cmocka_unit_test(test_hostname_label_limits),
        cmocka_unit_test(test_host_too_long),
        cmocka_unit_test(test_invalid_ipv4),
        cmocka_unit_test(test_loopback_range),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_failure_leaves_output),
        cmocka_unit_test(test_err_buffer_optional_and_truncated),
        cmocka_unit_test(test_success_clears_err),
    };

    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("bindaddr", tests, NULL, NULL);
}
