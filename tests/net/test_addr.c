/*
 * test_addr.c - socket addresses: parsing IPv4 and IPv6 literals (with
 * scopes) and the wildcard forms, rejecting bad text, Unix paths and
 * abstract names, formatting (round trips), the accessors, equality, and
 * NULL everywhere.
 */
#include "net_helpers.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

static void roundtrip(const char *text, int family, int port)
{
        struct task_addr a;
        char buf[TASK_ADDR_STRLEN];
        int rc = task_addr_parse(&a, text);

        cr_assert_eq(rc, 0, "parse \"%s\": %d", text, rc);
        cr_assert_eq(task_addr_family(&a), family, "%s", text);
        cr_assert_eq(task_addr_port(&a), port, "%s", text);
        rc = task_addr_format(&a, buf, sizeof buf);
        cr_assert_eq(rc, (int)strlen(text), "format %s: %d", text, rc);
        cr_assert_str_eq(buf, text);
}

Test(addr, ipv4_and_ipv6_literals_round_trip, .timeout = 10)
{
        roundtrip("127.0.0.1:80", AF_INET, 80);
        roundtrip("0.0.0.0:0", AF_INET, 0);
        roundtrip("255.255.255.255:65535", AF_INET, 65535);
        roundtrip("[::1]:80", AF_INET6, 80);
        roundtrip("[::]:0", AF_INET6, 0);
        roundtrip("[2001:db8::42]:8080", AF_INET6, 8080);
        roundtrip("[::ffff:10.0.0.1]:1", AF_INET6, 1);
}

Test(addr, sockaddr_fields_are_network_order, .timeout = 10)
{
        struct task_addr a;

        cr_assert_eq(task_addr_parse(&a, "10.1.2.3:4660"), 0);
        const struct sockaddr_in *sin = (const void *)task_addr_sockaddr(&a);
        cr_assert_eq(a.len, sizeof(struct sockaddr_in));
        cr_assert_eq(sin->sin_port, htons(4660));
        cr_assert_eq(sin->sin_addr.s_addr, htonl(0x0a010203));

        cr_assert_eq(task_addr_parse(&a, "[::1]:7"), 0);
        const struct sockaddr_in6 *sin6 = (const void *)&a.ss;
        cr_assert_eq(a.len, sizeof(struct sockaddr_in6));
        cr_assert_eq(sin6->sin6_port, htons(7));
        cr_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
}

Test(addr, ipv6_scope_by_name_and_index, .timeout = 10)
{
        struct task_addr a;
        char buf[TASK_ADDR_STRLEN];
        unsigned lo = if_nametoindex("lo");

        if (lo == 0)
                cr_skip_test("no loopback interface named lo");
        cr_assert_eq(task_addr_parse(&a, "[fe80::1%lo]:9"), 0);
        cr_assert_eq(((struct sockaddr_in6 *)&a.ss)->sin6_scope_id, lo);
        cr_assert_gt(task_addr_format(&a, buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "[fe80::1%lo]:9");

        char text[64];
        snprintf(text, sizeof text, "[fe80::1%%%u]:9", lo);
        cr_assert_eq(task_addr_parse(&a, text), 0);
        cr_assert_eq(((struct sockaddr_in6 *)&a.ss)->sin6_scope_id, lo);

        cr_assert_eq(task_addr_parse(&a, "[fe80::1%nosuchif0]:9"), -ENODEV);
        cr_assert_eq(task_addr_parse(&a, "[fe80::1%]:9"), -EINVAL);
}

Test(addr, wildcard_forms, .timeout = 10)
{
        struct task_addr a;
        char buf[TASK_ADDR_STRLEN];

        cr_assert_eq(task_addr_parse(&a, ":8080"), 0);
        cr_assert_eq(task_addr_format(&a, buf, sizeof buf), 12);
        cr_assert_str_eq(buf, "0.0.0.0:8080");
        cr_assert_eq(task_addr_parse(&a, "*:1"), 0);
        cr_assert_eq(task_addr_family(&a), AF_INET);
        cr_assert_eq(task_addr_any(&a, AF_INET6, 5), 0);
        task_addr_format(&a, buf, sizeof buf);
        cr_assert_str_eq(buf, "[::]:5");
        cr_assert_eq(task_addr_loopback(&a, AF_INET6, 6), 0);
        task_addr_format(&a, buf, sizeof buf);
        cr_assert_str_eq(buf, "[::1]:6");
        cr_assert_eq(task_addr_loopback(&a, AF_UNIX, 6), -EINVAL);
        cr_assert_eq(task_addr_any(&a, 12345, 6), -EINVAL);
}

Test(addr, bad_text_is_einval, .timeout = 10)
{
        static const char *bad[] = {
            "",
            ":",
            "127.0.0.1",
            "127.0.0.1:",
            "127.0.0.1:65536",
            "127.0.0.1:99999",
            "127.0.0.1:123456",
            "127.0.0.1:-1",
            "127.0.0.1:+80",
            "127.0.0.1: 80",
            "127.0.0.1:80 ",
            " 127.0.0.1:80",
            "127.0.0.1:80x",
            "127.0.0.1:0x50",
            "127.1:80",
            "127.0.0.256:80",
            "127.0.0.01:80",
            "1.2.3.4.5:80",
            "localhost:80",
            "example.com:443",
            "::1:80",
            "[::1]",
            "[::1]:",
            "[::1]80",
            "[::1:80",
            "::1]:80",
            "[127.0.0.1]:80",
            "[]:80",
            "[:::1]:80",
            "[::1]:80:80",
            "[::1]:65536",
            "*:",
            "**:80",
            "unix:/tmp/x",
        };
        struct task_addr a;

        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                memset(&a, 0xAB, sizeof a);
                int rc = task_addr_parse(&a, bad[i]);
                cr_assert_eq(rc, -EINVAL, "\"%s\" gave %d", bad[i], rc);
                cr_assert_eq(task_addr_family(&a), AF_UNSPEC,
                             "\"%s\" left an address", bad[i]);
        }
        cr_assert_eq(task_addr_from_ip(&a, "1.2.3.4:5", 1), -EINVAL);
        cr_assert_eq(task_addr_from_ip(&a, "[::1]", 1), -EINVAL);
        cr_assert_eq(task_addr_from_ip(&a, "", 1), -EINVAL);
        cr_assert_eq(task_addr_from_ip(&a, "::1", 1), 0);
        cr_assert_eq(task_addr_port(&a), 1);
}

Test(addr, unix_paths_and_abstract_names, .timeout = 10)
{
        struct task_addr a, b;
        char buf[TASK_ADDR_STRLEN];
        char longp[200];

        cr_assert_eq(task_addr_unix(&a, "/tmp/sock"), 0);
        cr_assert_eq(task_addr_family(&a), AF_UNIX);
        cr_assert_eq(task_addr_port(&a), -EINVAL);
        cr_assert_eq(task_addr_set_port(&a, 1), -EINVAL);
        cr_assert_eq(task_addr_format(&a, buf, sizeof buf), 9);
        cr_assert_str_eq(buf, "/tmp/sock");
        cr_assert_str_eq(((struct sockaddr_un *)&a.ss)->sun_path, "/tmp/sock");

        cr_assert_eq(task_addr_unix(&b, "@name"), 0);
        const struct sockaddr_un *sun = (const void *)&b.ss;
        cr_assert_eq(sun->sun_path[0], '\0');
        cr_assert_eq(memcmp(sun->sun_path + 1, "name", 4), 0);
        cr_assert_eq(b.len, offsetof(struct sockaddr_un, sun_path) + 5);
        cr_assert_eq(task_addr_format(&b, buf, sizeof buf), 5);
        cr_assert_str_eq(buf, "@name");
        cr_assert_not(task_addr_equal(&a, &b));

        cr_assert_eq(task_addr_unix(&a, ""), -EINVAL);
        cr_assert_eq(task_addr_unix(&a, "@"), -EINVAL);
        memset(longp, 'x', sizeof longp);
        longp[0] = '/';
        longp[108] = '\0';
        cr_assert_eq(task_addr_unix(&a, longp), -ENAMETOOLONG);
        longp[107] = '\0';
        cr_assert_eq(task_addr_unix(&a, longp), 0);
        cr_assert_eq(task_addr_format(&a, buf, sizeof buf), 107);
        longp[0] = '@';
        longp[108] = '\0';
        longp[107] = 'x';
        cr_assert_eq(task_addr_unix(&a, longp), -ENAMETOOLONG);
        longp[107] = '\0';
        cr_assert_eq(task_addr_unix(&a, longp), 0);
        cr_assert_eq(task_addr_format(&a, buf, sizeof buf), 107);

        /* An unbound socket's address. */
        memset(&a, 0, sizeof a);
        a.ss.ss_family = AF_UNIX;
        a.len = sizeof(sa_family_t);
        task_addr_format(&a, buf, sizeof buf);
        cr_assert_str_eq(buf, "(unnamed)");
}

Test(addr, format_reports_a_short_buffer, .timeout = 10)
{
        struct task_addr a;
        char buf[8];

        cr_assert_eq(task_addr_parse(&a, "127.0.0.1:80"), 0);
        cr_assert_eq(task_addr_format(&a, buf, sizeof buf), -ENOSPC);
        cr_assert_str_eq(buf, "");
        cr_assert_eq(task_addr_format(&a, NULL, 0), -ENOSPC);
        cr_assert_eq(task_addr_unix(&a, "@abcdefghij"), 0);
        cr_assert_eq(task_addr_format(&a, buf, sizeof buf), -ENOSPC);
        cr_assert_str_eq(buf, "");
}

Test(addr, set_port_and_equal, .timeout = 10)
{
        struct task_addr a, b, c;

        cr_assert_eq(task_addr_parse(&a, "127.0.0.1:80"), 0);
        cr_assert_eq(task_addr_parse(&b, "127.0.0.1:81"), 0);
        cr_assert_not(task_addr_equal(&a, &b));
        cr_assert_eq(task_addr_set_port(&b, 80), 0);
        cr_assert(task_addr_equal(&a, &b));
        cr_assert_eq(task_addr_parse(&c, "[::1]:80"), 0);
        cr_assert_not(task_addr_equal(&a, &c));
        cr_assert_eq(task_addr_set_port(&c, 443), 0);
        cr_assert_eq(task_addr_port(&c), 443);
        cr_assert_eq(task_addr_unix(&a, "/x"), 0);
        /* The same path, its length counting the NUL or not. */
        b = a;
        b.len--;
        cr_assert(task_addr_equal(&a, &b));
        cr_assert_eq(task_addr_unix(&b, "/y"), 0);
        cr_assert_not(task_addr_equal(&a, &b));
        cr_assert_not(task_addr_equal(&a, NULL));
}

Test(addr, from_sockaddr_checks_family_and_length, .timeout = 10)
{
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
        struct sockaddr sa = {.sa_family = AF_APPLETALK};
        struct task_addr a;

        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(task_addr_from_sockaddr(&a, (void *)&sin, sizeof sin), 0);
        cr_assert_eq(task_addr_port(&a), 9);
        cr_assert_eq(task_addr_from_sockaddr(&a, (void *)&sin, 4), -EINVAL);
        cr_assert_eq(task_addr_from_sockaddr(&a, (void *)&sin6, sizeof sin),
                     -EINVAL);
        cr_assert_eq(task_addr_from_sockaddr(&a, (void *)&sin6, sizeof sin6),
                     0);
        cr_assert_eq(task_addr_from_sockaddr(&a, &sa, sizeof sa), -EINVAL);
        cr_assert_eq(task_addr_from_sockaddr(&a, NULL, 16), -EINVAL);
}

Test(addr, null_arguments, .timeout = 10)
{
        struct task_addr a;
        char buf[TASK_ADDR_STRLEN];

        cr_assert_eq(task_addr_parse(NULL, "1.2.3.4:5"), -EINVAL);
        cr_assert_eq(task_addr_parse(&a, NULL), -EINVAL);
        cr_assert_eq(task_addr_from_ip(NULL, "::1", 1), -EINVAL);
        cr_assert_eq(task_addr_from_ip(&a, NULL, 1), -EINVAL);
        cr_assert_eq(task_addr_unix(NULL, "/x"), -EINVAL);
        cr_assert_eq(task_addr_unix(&a, NULL), -EINVAL);
        cr_assert_eq(task_addr_format(NULL, buf, sizeof buf), -EINVAL);
        cr_assert_eq(task_addr_parse(&a, "1.2.3.4:5"), 0);
        cr_assert_eq(task_addr_format(&a, NULL, 5), -EINVAL);
        cr_assert_eq(task_addr_family(NULL), AF_UNSPEC);
        cr_assert_eq(task_addr_port(NULL), -EINVAL);
        cr_assert_eq(task_addr_set_port(NULL, 1), -EINVAL);
        cr_assert_eq(task_addr_from_sockaddr(NULL, NULL, 0), -EINVAL);
        cr_assert_eq(task_addr_loopback(NULL, AF_INET, 1), -EINVAL);
        memset(&a, 0, sizeof a);
        cr_assert_eq(task_addr_format(&a, buf, sizeof buf), -EINVAL);
}
