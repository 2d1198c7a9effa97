/*
 * test_util.c - redis/server/util.c against Redis 7.0's own rules: which
 * strings are integers (string2ll) and floats (string2ld, string2d), how
 * INCRBYFLOAT prints its result (the expected strings were taken from a
 * real Redis 7.0.15), %.17g doubles, the glob matcher (expected results
 * from KEYS on Redis 7.0.15, including its nesting limit) and its guard
 * against exponential patterns, rds_arg_is and the clocks.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* ---- Integers ---------------------------------------------------------------- */

static bool ll(const char *s, long long *v)
{
        return rds_str2ll(s, strlen(s), v);
}

Test(str2ll, accepts_canonical_integers)
{
        static const struct {
                const char *s;
                long long v;
        } ok[] = {
            {"0", 0},
            {"1", 1},
            {"-1", -1},
            {"10", 10},
            {"123456", 123456},
            {"-987654321", -987654321},
            {"9223372036854775807", LLONG_MAX},
            {"-9223372036854775808", LLONG_MIN},
            {"-9223372036854775807", -LLONG_MAX},
        };

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                long long v = 42;

                cr_assert(ll(ok[i].s, &v), "%s refused", ok[i].s);
                cr_assert_eq(v, ok[i].v, "%s -> %lld", ok[i].s, v);
        }
}

Test(str2ll, refuses_what_redis_refuses)
{
        static const char *bad[] = {
            "",
            "-",
            "-0",
            "+1",
            " 1",
            "1 ",
            "01",
            "00",
            "-01",
            "1a",
            "a1",
            "1.0",
            "1e3",
            "0x10",
            "9223372036854775808",   /* LLONG_MAX + 1 */
            "-9223372036854775809",  /* LLONG_MIN - 1 */
            "18446744073709551615",  /* ULLONG_MAX */
            "18446744073709551616",  /* ULLONG_MAX + 1 */
            "99999999999999999999",  /* 20 digits, above ULLONG_MAX */
            "100000000000000000000", /* 21 characters */
            "-100000000000000000000",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                long long v = 42;

                cr_assert_not(ll(bad[i], &v), "'%s' accepted", bad[i]);
                cr_assert_eq(v, 42, "'%s' wrote the output", bad[i]);
        }
}

Test(str2ll, is_binary_safe_and_uses_the_length)
{
        long long v;

        cr_assert_not(rds_str2ll("1\0", 2, &v));
        cr_assert_not(rds_str2ll("\0"
                                 "1",
                                 2, &v));
        cr_assert(rds_str2ll("123xyz", 3, &v));
        cr_assert_eq(v, 123);
        cr_assert_not(rds_str2ll("123", 0, &v));
}

Test(str2ull, full_unsigned_range)
{
        unsigned long long v;

        cr_assert(rds_str2ull("18446744073709551615", 20, &v));
        cr_assert_eq(v, ULLONG_MAX);
        cr_assert(rds_str2ull("0", 1, &v));
        cr_assert_eq(v, 0);
        cr_assert(rds_str2ull("9223372036854775808", 19, &v));
        cr_assert_eq(v, 9223372036854775808ULL);
        cr_assert_not(rds_str2ull("18446744073709551616", 20, &v));
        cr_assert_not(rds_str2ull("-1", 2, &v));
        cr_assert_not(rds_str2ull("+1", 2, &v));
        cr_assert_not(rds_str2ull("01", 2, &v));
        cr_assert_not(rds_str2ull("", 0, &v));
        cr_assert_not(rds_str2ull(" 1", 2, &v));
}

Test(ll2str, prints_like_printf)
{
        static const long long vals[] = {
            0,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            101,
            999,
            1000,
            12345,
            -12345,
            1000000,
            LLONG_MAX,
            LLONG_MIN,
            LLONG_MIN + 1,
            INT_MAX,
            INT_MIN,
            4294967296LL,
        };
        char buf[RDS_LONG_STR_SIZE], want[32];

        for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
                size_t n = rds_ll2str(buf, vals[i]);

                snprintf(want, sizeof(want), "%lld", vals[i]);
                cr_assert_str_eq(buf, want);
                cr_assert_eq(n, strlen(want));
        }
        /* Every power of ten and its neighbours, both signs. */
        for (long long p = 1; p <= LLONG_MAX / 10; p *= 10) {
                long long around[] = {p - 1, p, p + 1, -p + 1, -p, -p - 1};

                for (size_t i = 0; i < 6; i++) {
                        size_t n = rds_ll2str(buf, around[i]);
                        long long back;

                        snprintf(want, sizeof(want), "%lld", around[i]);
                        cr_assert_str_eq(buf, want);
                        cr_assert(rds_str2ll(buf, n, &back));
                        cr_assert_eq(back, around[i]);
                }
        }
}

Test(ll2str, random_round_trip)
{
        char buf[RDS_LONG_STR_SIZE], want[32];
        unsigned long long x = 0x9e3779b97f4a7c15ULL;

        for (int i = 0; i < 100000; i++) {
                long long v;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                /* Shift by a varying amount: short numbers too. */
                v = (long long)(x >> (i % 64));
                if (i & 1)
                        v = -v;
                rds_ll2str(buf, v);
                snprintf(want, sizeof(want), "%lld", v);
                cr_assert_str_eq(buf, want);
        }
}

Test(ull_digits, counts_and_writes)
{
        char buf[24];

        cr_assert_eq(rds_ull_digits(0), 1);
        cr_assert_eq(rds_ull_digits(9), 1);
        cr_assert_eq(rds_ull_digits(10), 2);
        cr_assert_eq(rds_ull_digits(99999), 5);
        cr_assert_eq(rds_ull_digits(100000), 6);
        cr_assert_eq(rds_ull_digits(ULLONG_MAX), 20);
        memset(buf, 'x', sizeof(buf));
        rds_ull_write(buf, ULLONG_MAX, 20);
        cr_assert_eq(memcmp(buf, "18446744073709551615x", 21), 0);
}

/* ---- Floats ------------------------------------------------------------------ */

static bool ld(const char *s, long double *v)
{
        return rds_str2ld(s, strlen(s), v);
}

Test(str2ld, accepts_and_refuses_like_string2ld)
{
        long double v;
        char *big;

        cr_assert(ld("10.5", &v));
        cr_assert_eq(v, 10.5L);
        cr_assert(ld("-5.5", &v));
        cr_assert(ld("5.0e3", &v));
        cr_assert_eq(v, 5000.0L);
        cr_assert(ld("0x10", &v)); /* strtold reads hex */
        cr_assert_eq(v, 16.0L);
        cr_assert(ld("inf", &v)); /* the caller refuses it */
        cr_assert(isinf(v));
        cr_assert(ld("-infinity", &v));
        cr_assert(isinf(v) && v < 0);
        cr_assert(ld(".5", &v));
        cr_assert(ld("+1", &v));
        cr_assert(ld("007", &v));
        cr_assert_eq(v, 7.0L);

        cr_assert_not(ld("", &v));
        cr_assert_not(ld(" 1", &v));
        cr_assert_not(ld("\t1", &v));
        cr_assert_not(ld("1 ", &v));
        cr_assert_not(ld("abc", &v));
        cr_assert_not(ld("1.5x", &v));
        cr_assert_not(ld("nan", &v));
        cr_assert_not(ld("-nan", &v));
        cr_assert_not(ld("1e5000", &v));  /* overflow */
        cr_assert_not(ld("1e-5000", &v)); /* underflow to zero */

        /* strtold must read the whole argument: Redis 7.0.15 refuses
         * INCRBYFLOAT k "1\0" (and "\0" "1"). */
        cr_assert_not(rds_str2ld("1\0", 2, &v));
        cr_assert_not(rds_str2ld("1\0x", 3, &v));
        cr_assert_not(rds_str2ld("\0"
                                 "1",
                                 2, &v));
        cr_assert(rds_str2ld("12x", 2, &v)); /* the length counts */
        cr_assert_eq(v, 12.0L);

        /* At most 5 KB (MAX_LONG_DOUBLE_CHARS). */
        big = malloc(5 * 1024 + 1);
        memset(big, '0', 5 * 1024);
        big[0] = '1';
        big[1] = '.';
        cr_assert(rds_str2ld(big, 5 * 1024 - 1, &v));
        cr_assert_eq(v, 1.0L);
        cr_assert_not(rds_str2ld(big, 5 * 1024, &v));
        free(big);
}

Test(str2d, accepts_and_refuses_like_string2d)
{
        double v;
        char *big;

        cr_assert(rds_str2d("1.5", 3, &v));
        cr_assert_eq(v, 1.5);
        cr_assert(rds_str2d("-inf", 4, &v));
        cr_assert(isinf(v) && v < 0);
        cr_assert(rds_str2d("+inf", 4, &v));
        cr_assert(rds_str2d("4e-320", 6, &v)); /* subnormal: not zero */
        cr_assert_gt(v, 0);
        /* As ZADD took them on Redis 7.0.15. */
        cr_assert(rds_str2d("0x10", 4, &v));
        cr_assert_eq(v, 16);
        cr_assert(rds_str2d("Infinity", 8, &v));
        cr_assert(isinf(v));
        cr_assert(rds_str2d("+1.5", 4, &v));
        cr_assert(rds_str2d(".5", 2, &v));
        cr_assert_not(rds_str2d("1e", 2, &v));
        cr_assert(rds_str2d("12345abc", 5, &v)); /* the length counts */
        cr_assert_eq(v, 12345);

        cr_assert_not(rds_str2d("", 0, &v));
        cr_assert_not(rds_str2d(" 1", 2, &v));
        cr_assert_not(rds_str2d("1 ", 2, &v));
        cr_assert_not(rds_str2d("nan", 3, &v));
        cr_assert_not(rds_str2d("1e400", 5, &v));
        cr_assert_not(rds_str2d("1e-400", 6, &v));
        cr_assert_not(rds_str2d("1\0", 2, &v));
        cr_assert_not(rds_str2d("x", 1, &v));

        /* Longer than the stack copy: 0.5 with 997 more zeros. */
        big = malloc(1001);
        memset(big, '0', 1000);
        big[1] = '.';
        big[2] = '5';
        cr_assert(rds_str2d(big, 1000, &v));
        cr_assert_eq(v, 0.5);
        /* 0.000...05, 1000 characters: too small for a double (zero). */
        big[2] = '0';
        big[999] = '5';
        cr_assert_not(rds_str2d(big, 1000, &v));
        big[500] = 'x';
        cr_assert_not(rds_str2d(big, 1000, &v));
        free(big);
}

/* INCRBYFLOAT: base + increment in long double, printed by ld2str.  The
 * expected strings are what Redis 7.0.15 stored for the same input. */
Test(ld2str, incrbyfloat_outputs_match_redis)
{
        static const struct {
                const char *base, *incr, *want;
        } cases[] = {
            {"0", "10.5", "10.5"},
            {"10.50", "0.1", "10.6"},
            {"0", "5.0e3", "5000"},
            {"0", "3.0000000000000001", "3.0000000000000001"},
            {"3", "1.5", "4.5"},
            {"0", "-0.0", "0"},
            {"1", "-1", "0"},
            {"0", "0.1", "0.1"},
            {"0.1", "0.2", "0.3"},
            {"0", "1e20", "100000000000000000000"},
            {"0", "1.1e-10", "0.00000000011"},
            {"0", "123456789.123456789", "123456789.12345678899873747"},
            {"5", "0x10", "21"},
            {"0", "-5.5", "-5.5"},
            {"0", "2.5e-5", "0.000025"},
            {"10", "-10.0", "0"},
            {"0", "7", "7"},
        };
        char buf[5 * 1024];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                long double a, b;
                size_t n;

                cr_assert(ld(cases[i].base, &a));
                cr_assert(ld(cases[i].incr, &b));
                n = rds_ld2str(buf, sizeof(buf), a + b);
                cr_assert_str_eq(buf, cases[i].want, "%s + %s", cases[i].base,
                                 cases[i].incr);
                cr_assert_eq(n, strlen(cases[i].want));
        }
}

Test(ld2str, huge_values_and_limits)
{
        char buf[5 * 1024], small[20];
        long double v;
        size_t n;

        /* Redis 7.0.15: INCRBYFLOAT k 1e300 stores all 301 digits. */
        cr_assert(ld("1e300", &v));
        n = rds_ld2str(buf, sizeof(buf), v);
        cr_assert_eq(n, 301);
        cr_assert_eq(
            memcmp(buf, "10000000000000000000089973240795591938705", 41), 0);
        cr_assert_eq(rds_ld2str(buf, sizeof(buf), -0.0L), 1);
        cr_assert_str_eq(buf, "0");
        /* Not finite, or no room: 0. */
        cr_assert_eq(rds_ld2str(buf, sizeof(buf), (long double)INFINITY), 0);
        cr_assert_eq(rds_ld2str(buf, sizeof(buf), (long double)NAN), 0);
        /* The room is checked before the zeros are trimmed, as Redis
         * does: "1.50000000000000000" needs 20 bytes. */
        cr_assert_eq(rds_ld2str(small, 19, 1.5L), 0);
        cr_assert_eq(rds_ld2str(small, 20, 1.5L), 3);
        cr_assert_str_eq(small, "1.5");
        cr_assert_eq(rds_ld2str(small, sizeof(small), 12345.0L), 0);
}

Test(d2str, percent_17g)
{
        static const struct {
                double v;
                const char *want;
        } cases[] = {
            {1.5, "1.5"},
            {0.1, "0.10000000000000001"},
            {3, "3"},
            {-0.0, "-0"},
            {1e300, "1.0000000000000001e+300"},
            {123456789012345678.0, "1.2345678901234568e+17"},
            {-2.5, "-2.5"},
        };
        char buf[RDS_DOUBLE_STR_SIZE];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t n = rds_d2str(buf, sizeof(buf), cases[i].v);

                cr_assert_str_eq(buf, cases[i].want);
                cr_assert_eq(n, strlen(cases[i].want));
        }
        cr_assert_eq(rds_d2str(buf, sizeof(buf), INFINITY), 3);
        cr_assert_str_eq(buf, "inf");
        cr_assert_eq(rds_d2str(buf, sizeof(buf), -INFINITY), 4);
        cr_assert_str_eq(buf, "-inf");
        cr_assert_eq(rds_d2str(buf, 4, -INFINITY), 0);
        cr_assert_eq(rds_d2str(buf, 3, 1.25), 0);
}

/* ---- Glob -------------------------------------------------------------------- */

static bool gm(const char *pat, const char *s)
{
        return rds_glob_match(pat, strlen(pat), s, strlen(s), false);
}

/* Each result is what KEYS <pattern> gave for a key <string> on Redis
 * 7.0.15. */
Test(glob, matches_like_redis_keys)
{
        static const struct {
                const char *pat, *s;
                bool want;
        } cases[] = {
            {"*", "anything", true},
            {"a*", "abc", true},
            {"a*", "bac", false},
            {"*c", "abc", true},
            {"a?c", "abc", true},
            {"a?c", "ac", false},
            {"[abc]", "b", true},
            {"[abc]", "d", false},
            {"[^abc]", "d", true},
            {"[^abc]", "a", false},
            {"[a-c]x", "bx", true},
            {"[c-a]x", "bx", true}, /* reversed range */
            {"[a-c]", "d", false},
            {"\\*", "*", true},
            {"\\*", "a", false},
            {"a\\", "a\\", true}, /* trailing backslash is literal */
            {"h[\\]]llo", "h]llo", true},
            {"h[\\]]llo", "hallo", false},
            {"[", "[", false},
            {"[a", "a", true}, /* unterminated class */
            {"[a", "[", false},
            {"a[", "a[", false},
            {"a[", "a", false},
            {"[]]", "]", false},
            {"[^]", "x", true},
            {"[^", "x", true},
            {"h*o", "hello", true},
            {"h**o", "hello", true},
            {"*a*b*c*", "xaybzc", true},
            {"*a*b*c*", "xaybz", false},
            {"a*", "a", true},
            {"[a-]", "-", false},
            {"[a-]", "a", true},
            {"[-a]", "-", true},
            {"\\", "\\", true},
            {"ab\\", "ab", false},
            {"[\\", "\\", true},
            {"[\\a]", "a", true},
            {"H*", "hello", false},
            {"*\\?", "a?", true},
            {"*\\?", "ab", false},
            {"a*?", "a", false},
            {"a*?", "ab", true},
            {"[a-\\]]", "b", false},
            {"?", "", false},
            {"*", "", false}, /* the loop never runs: Redis's rule */
            {"", "", true},
            {"", "a", false},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                cr_assert_eq(gm(cases[i].pat, cases[i].s), cases[i].want,
                             "'%s' vs '%s'", cases[i].pat, cases[i].s);
}

Test(glob, nocase)
{
        cr_assert(rds_glob_match("H*O", 3, "hello", 5, true));
        cr_assert_not(rds_glob_match("H*O", 3, "hello", 5, false));
        cr_assert(rds_glob_match("[A-C]x", 6, "bX", 2, true));
        cr_assert(rds_glob_match("[abc]", 5, "B", 1, true));
        cr_assert_not(rds_glob_match("[abc]", 5, "B", 1, false));
        cr_assert(rds_glob_match("\\A", 2, "a", 1, true));
        cr_assert(
            rds_glob_match("maxmemory*", 10, "MAXMEMORY-policy", 16, true));
}

Test(glob, binary_safe)
{
        cr_assert(rds_glob_match("a?c", 3, "a\0c", 3, false));
        cr_assert(rds_glob_match("a\0*", 3, "a\0xyz", 5, false));
        cr_assert_not(rds_glob_match("a\0*", 3, "a\1xyz", 5, false));
        /* Bytes above 0x7f compare as Redis's signed chars in ranges:
         * [a-\xff] is the range -1..'a', which holds \xff and 'A' but not
         * 'b'. */
        cr_assert(rds_glob_match("[a-\xff]", 5, "\xff", 1, false));
        cr_assert(rds_glob_match("[a-\xff]", 5, "A", 1, false));
        cr_assert_not(rds_glob_match("[a-\xff]", 5, "b", 1, false));
        cr_assert(rds_glob_match("\xe9*", 2, "\xe9t\xe9", 3, false));
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Without skipLongerMatches this takes about C(60,30) steps. */
Test(glob, exponential_pattern_finishes_fast, .timeout = 10)
{
        char pat[256], s[128];
        size_t pl = 0;
        double t0;

        for (int i = 0; i < 30; i++) {
                pat[pl++] = 'a';
                pat[pl++] = '*';
        }
        pat[pl++] = 'b';
        memset(s, 'a', 60);
        t0 = now_s();
        for (int i = 0; i < 100; i++)
                cr_assert_not(rds_glob_match(pat, pl, s, 60, false));
        cr_assert_lt(now_s() - t0, 1.0);
        /* And a match still works after many stars. */
        s[59] = 'b';
        cr_assert(rds_glob_match(pat, pl, s, 60, false));
}

/* Redis 7.0.15 gives up past 1000 nested '*': KEYS ("*a" x 1000) matched
 * a key of 3000 'a's, KEYS ("*a" x 1001) did not.  Also: no stack
 * overflow on a long pattern. */
Test(glob, nesting_limit_like_redis, .timeout = 10)
{
        size_t n = 3000, pl;
        char *s = malloc(n), *pat = malloc(2 * 5000);

        memset(s, 'a', n);
        for (pl = 0; pl < 2 * 1000; pl += 2) {
                pat[pl] = '*';
                pat[pl + 1] = 'a';
        }
        cr_assert(rds_glob_match(pat, pl, s, n, false));
        pat[pl] = '*';
        pat[pl + 1] = 'a';
        cr_assert_not(rds_glob_match(pat, pl + 2, s, n, false));
        /* a* x 1200: Redis 7.0.15 says no; a* x 900: yes. */
        for (pl = 0; pl < 2 * 1200; pl += 2) {
                pat[pl] = 'a';
                pat[pl + 1] = '*';
        }
        cr_assert_not(rds_glob_match(pat, pl, s, n, false));
        cr_assert(rds_glob_match(pat, 2 * 900, s, n, false));
        for (pl = 0; pl < 2 * 5000; pl += 2) {
                pat[pl] = '*';
                pat[pl + 1] = 'a';
        }
        cr_assert_not(rds_glob_match(pat, pl, s, n, false));
        free(s);
        free(pat);
}

/* ---- Small helpers ------------------------------------------------------------ */

Test(arg_is, case_insensitive_exact_length)
{
        cr_assert(rds_arg_is("GET", 3, "get"));
        cr_assert(rds_arg_is("gEt", 3, "GET"));
        cr_assert_not(rds_arg_is("GE", 2, "get"));
        cr_assert_not(rds_arg_is("GETX", 4, "get"));
        cr_assert_not(rds_arg_is("ge\0", 3, "get"));
        cr_assert_not(rds_arg_is("get", 3, "ge"));
        cr_assert(rds_arg_is("", 0, ""));
        cr_assert_not(rds_arg_is("[et", 3, "{et")); /* only letters fold */
}

Test(clock, unix_time_agrees_with_time)
{
        int64_t ms = rds_unix_ms(), us = rds_unix_us();
        time_t t = time(NULL);

        cr_assert_lt(llabs(ms / 1000 - (int64_t)t), 2);
        cr_assert_lt(llabs(us / 1000 - ms), 1000);
        cr_assert_geq(rds_unix_ms(), ms);
}

/* The sdssplitargs word splitter shared by inline requests and redis.conf
 * (the quoting cases themselves are pinned through the parser in
 * test_resp.c and through config files in test_server_cmds.py). */
Test(split_word, walks_the_line_word_by_word)
{
        static const char line[] = "  set \"a\\x41\\n\" 'it\\'s'\tx  ";
        const unsigned char *s = (const unsigned char *)line;
        const unsigned char *end = s + sizeof line - 1;
        unsigned char out[sizeof line];
        size_t n;

        cr_assert_eq(rds_split_word(&s, end, out, &n), 1);
        cr_assert_eq(n, 3);
        cr_assert_eq(memcmp(out, "set", 3), 0);
        cr_assert_eq(rds_split_word(&s, end, out, &n), 1);
        cr_assert_eq(n, 3);
        cr_assert_eq(memcmp(out, "aA\n", 3), 0);
        cr_assert_eq(rds_split_word(&s, end, out, &n), 1);
        cr_assert_eq(n, 4);
        cr_assert_eq(memcmp(out, "it's", 4), 0);
        cr_assert_eq(rds_split_word(&s, end, out, &n), 1);
        cr_assert_eq(n, 1);
        cr_assert_eq(out[0], 'x');
        cr_assert_eq(rds_split_word(&s, end, out, &n), 0);
        cr_assert_eq(s, end);
}

Test(split_word, refuses_unbalanced_quotes_and_keeps_the_cursor)
{
        static const char *bad[] = {"\"open", "'open", "\"a\"b", "'a'b"};

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                const unsigned char *s = (const unsigned char *)bad[i];
                const unsigned char *start = s;
                unsigned char out[16];
                size_t n = 99;

                cr_assert_eq(
                    rds_split_word(&s, start + strlen(bad[i]), out, &n),
                    -EINVAL, "%s", bad[i]);
                cr_assert_eq(s, start, "%s", bad[i]);
                cr_assert_eq(n, 99, "%s", bad[i]);
        }
}
