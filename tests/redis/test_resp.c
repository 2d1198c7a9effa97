/*
 * test_resp.c - redis/server/resp.c: the request parser and the reply
 * encoder.
 *
 * Parser: every request of a corpus (multibulk, inline, skipped lines,
 * binary bulks, protocol errors) is parsed whole, then again fed a byte at
 * a time (each call with a fresh copy of the bytes, so that a pointer kept
 * across calls would be caught by ASan) and split in two at every point:
 * each way must give MORE until the last byte and then the same result.
 * Pipelines of thousands of random requests go through a task_buf fed in
 * random chunks as a connection feeds it.  The inline quoting rules and
 * every protocol error are pinned to what Redis 7.0.15 answered for the
 * same bytes (checked against the real server).  Limits: bulk lengths,
 * counts, the pre-AUTH limits, the 64 KB lines.  Memory: argv reused
 * across requests, given back after a huge one; p->want for big bulks; a
 * request fed a byte at a time is parsed in linear time (no rescans).
 *
 * Encoder: every rds_reply_* byte for byte in RESP2 and RESP3, no
 * allocation when the buffer has room, and the sticky -ENOBUFS / -ENOMEM
 * error with nothing appended after it.
 */
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libtask/buf.h>

#include <malloc.h>

#include "resp.h"

/* ---- Helpers ----------------------------------------------------------------- */

#define S(lit) (const unsigned char *)(lit), sizeof(lit) - 1

/* A parse result, copied out of the parser. */
struct res {
        int rc;
        size_t consumed;
        size_t argc;
        unsigned char **args;
        size_t *lens;
        char error[128];
};

static void res_take(struct res *r, const struct rds_parser *p, int rc)
{
        memset(r, 0, sizeof(*r));
        r->rc = rc;
        if (rc == RDS_PARSE_OK) {
                r->consumed = p->consumed;
                r->argc = p->argc;
                r->args = calloc(p->argc + 1, sizeof(*r->args));
                r->lens = calloc(p->argc + 1, sizeof(*r->lens));
                for (size_t i = 0; i < p->argc; i++) {
                        r->lens[i] = p->argv[i].len;
                        r->args[i] = malloc(p->argv[i].len + 1);
                        memcpy(r->args[i], p->argv[i].p, p->argv[i].len);
                }
        } else if (rc == RDS_PARSE_ERROR) {
                cr_assert_not_null(p->error);
                snprintf(r->error, sizeof(r->error), "%s", p->error);
        }
}

static void res_free(struct res *r)
{
        for (size_t i = 0; i < r->argc; i++)
                free(r->args[i]);
        free(r->args);
        free(r->lens);
        memset(r, 0, sizeof(*r));
}

static void res_assert_eq(const struct res *a, const struct res *b,
                          const char *what)
{
        cr_assert_eq(a->rc, b->rc, "%s: rc %d vs %d", what, a->rc, b->rc);
        if (a->rc == RDS_PARSE_ERROR)
                cr_assert_str_eq(a->error, b->error, "%s", what);
        if (a->rc != RDS_PARSE_OK)
                return;
        cr_assert_eq(a->consumed, b->consumed, "%s: consumed %zu vs %zu", what,
                     a->consumed, b->consumed);
        cr_assert_eq(a->argc, b->argc, "%s: argc %zu vs %zu", what, a->argc,
                     b->argc);
        for (size_t i = 0; i < a->argc; i++) {
                cr_assert_eq(a->lens[i], b->lens[i], "%s: arg %zu", what, i);
                cr_assert_eq(memcmp(a->args[i], b->args[i], a->lens[i]), 0,
                             "%s: arg %zu", what, i);
        }
}

struct settings {
        long long max_bulk_len; /* 0: the default */
        bool unauthenticated;
};

static void parser_setup(struct rds_parser *p, const struct settings *s)
{
        cr_assert_eq(rds_parser_init(p), 0);
        if (s && s->max_bulk_len)
                p->max_bulk_len = s->max_bulk_len;
        if (s)
                p->unauthenticated = s->unauthenticated;
}

/* Parse @data whole with a fresh parser. */
static void parse_whole(const void *data, size_t len, const struct settings *s,
                        struct res *out)
{
        struct rds_parser p;
        int rc;

        parser_setup(&p, s);
        rc = rds_parse(&p, data, len);
        res_take(out, &p, rc);
        rds_parser_free(&p);
}

/*
 * The incremental checks for one request @data (@len bytes; the request
 * may be followed by more bytes, which must not matter).  @want is the
 * whole-buffer result.  @copy: give each call a fresh heap copy.
 */
static void check_incremental(const unsigned char *data, size_t len,
                              const struct settings *s, const struct res *want,
                              bool copy)
{
        struct rds_parser p;
        struct res got;
        unsigned char *prev = NULL;
        size_t k, end = want->rc == RDS_PARSE_OK ? want->consumed : len;
        int rc = RDS_PARSE_MORE;

        /* A byte at a time, same parser. */
        parser_setup(&p, s);
        for (k = 1; k <= len; k++) {
                const unsigned char *d = data;

                if (copy) {
                        unsigned char *c = malloc(k);

                        memcpy(c, data, k);
                        free(prev); /* stale pointers would now be caught */
                        prev = c;
                        d = c;
                }
                rc = rds_parse(&p, d, k);
                if (rc != RDS_PARSE_MORE)
                        break;
                cr_assert_lt(k, end, "MORE with the whole request there");
        }
        res_take(&got, &p, rc);
        res_assert_eq(&got, want, "byte at a time");
        if (want->rc == RDS_PARSE_OK)
                cr_assert_eq(k, want->consumed, "completed at %zu, not %zu", k,
                             want->consumed);
        res_free(&got);
        free(prev);
        rds_parser_free(&p);

        /* Two parts, split at every point. */
        for (k = 0; k < end; k++) {
                parser_setup(&p, s);
                rc = rds_parse(&p, data, k);
                if (want->rc == RDS_PARSE_OK)
                        cr_assert_eq(rc, RDS_PARSE_MORE, "split at %zu", k);
                if (rc == RDS_PARSE_MORE)
                        rc = rds_parse(&p, data, len);
                res_take(&got, &p, rc);
                res_assert_eq(&got, want, "split in two");
                res_free(&got);
                rds_parser_free(&p);
        }
}

/* The whole, byte-at-a-time and split parses must agree; returns the
 * result for further checks (res_free it). */
static void parse_all_ways(const void *data, size_t len,
                           const struct settings *s, struct res *out)
{
        parse_whole(data, len, s, out);
        check_incremental(data, len, s, out, len < 4096);
}

static void expect_args(const void *data, size_t len, size_t nargs,
                        const char *const *args, const size_t *lens)
{
        struct res r;

        parse_all_ways(data, len, NULL, &r);
        cr_assert_eq(r.rc, RDS_PARSE_OK, "rc %d (%s) for '%.*s'", r.rc, r.error,
                     (int)len, (const char *)data);
        cr_assert_eq(r.argc, nargs, "argc %zu for '%.*s'", r.argc, (int)len,
                     (const char *)data);
        for (size_t i = 0; i < nargs; i++) {
                size_t l = lens ? lens[i] : strlen(args[i]);

                cr_assert_eq(r.lens[i], l, "arg %zu of '%.*s'", i, (int)len,
                             (const char *)data);
                cr_assert_eq(memcmp(r.args[i], args[i], l), 0,
                             "arg %zu of '%.*s'", i, (int)len,
                             (const char *)data);
        }
        res_free(&r);
}

static void expect_error(const void *data, size_t len, const struct settings *s,
                         const char *error)
{
        struct res r;

        parse_all_ways(data, len, s, &r);
        cr_assert_eq(r.rc, RDS_PARSE_ERROR, "rc %d for '%.*s'", r.rc,
                     (int)(len > 40 ? 40 : len), (const char *)data);
        cr_assert_str_eq(r.error, error);
        res_free(&r);
}

static void expect_more(const void *data, size_t len, const struct settings *s)
{
        struct res r;

        parse_whole(data, len, s, &r);
        cr_assert_eq(r.rc, RDS_PARSE_MORE, "rc %d (%s)", r.rc, r.error);
        res_free(&r);
}

/* ---- Multibulk --------------------------------------------------------------- */

Test(parse, multibulk_basic)
{
        static const char *const a[] = {"SET", "key", "value"};

        expect_args(S("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"), 3, a,
                    NULL);
        static const char *const b[] = {"PING"};

        expect_args(S("*1\r\n$4\r\nPING\r\n"), 1, b, NULL);
}

Test(parse, multibulk_empty_and_binary_args)
{
        static const char *const a[] = {"", "a\0b\r\nc", "\r\n", "\0"};
        static const size_t l[] = {0, 6, 2, 1};

        expect_args(S("*4\r\n$0\r\n\r\n$6\r\na\0b\r\nc\r\n$2\r\n\r\n\r\n"
                      "$1\r\n\0\r\n"),
                    4, a, l);
}

Test(parse, multibulk_followed_by_more_data)
{
        struct res r;

        parse_all_ways(S("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI"), NULL, &r);
        cr_assert_eq(r.rc, RDS_PARSE_OK);
        cr_assert_eq(r.consumed, 14);
        res_free(&r);
}

/* Redis skips the byte after each '\r' and the two after each bulk without
 * looking at them; Redis 7.0.15 answered +PONG to both of these. */
Test(parse, multibulk_terminators_are_not_checked)
{
        static const char *const a[] = {"PING"};
        struct res r;

        expect_args(S("*1\rX$4\rXPING\rX"), 1, a, NULL);
        parse_all_ways(S("*1\r\n$4\r\npingXY*1\r\n"), NULL, &r);
        cr_assert_eq(r.rc, RDS_PARSE_OK);
        cr_assert_eq(r.consumed, 14);
        res_free(&r);
}

Test(parse, skipped_requests)
{
        static const struct {
                const char *s;
                size_t consumed;
        } cases[] = {
            {"*0\r\n", 4},
            {"*-1\r\n", 5},
            {"*-10\r\nPING\r\n", 6},
            {"*-9223372036854775808\r\n", 23},
            {"\r\n", 2},
            {"\n", 1},
            {"   \r\nPING\r\n", 5},
            {"\t \x0b\x0c\r\n", 6},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct res r;

                parse_all_ways(cases[i].s, strlen(cases[i].s), NULL, &r);
                cr_assert_eq(r.rc, RDS_PARSE_OK, "'%s'", cases[i].s);
                cr_assert_eq(r.argc, 0, "'%s'", cases[i].s);
                cr_assert_eq(r.consumed, cases[i].consumed, "'%s'", cases[i].s);
                res_free(&r);
        }
}

/* ---- Inline ------------------------------------------------------------------ */

Test(parse, inline_line_ends)
{
        static const char *const a[] = {"PING"};
        static const char *const b[] = {"set", "a", "b"};
        struct res r;

        expect_args(S("PING\r\n"), 1, a, NULL);
        expect_args(S("PING\n"), 1, a, NULL);
        expect_args(S("PING\r\r\n"), 1, a, NULL);
        expect_args(S("set a b\n"), 3, b, NULL);
        parse_all_ways(S("PING\nPING\r\n"), NULL, &r);
        cr_assert_eq(r.consumed, 5);
        res_free(&r);
}

/* Each expectation is what Redis 7.0.15 made of "RPUSH L <line>\r\n"
 * (read back with LRANGE), or the error it replied. */
Test(parse, inline_quoting_like_redis)
{
        static const struct {
                const char *line;
                size_t n; /* arguments; 0: unbalanced quotes */
                const char *args[3];
                size_t lens[3]; /* 0: strlen */
        } cases[] = {
            {"a b", 2, {"a", "b"}, {0}},
            {"  a   b  ", 2, {"a", "b"}, {0}},
            {"\"a b\" c", 2, {"a b", "c"}, {0}},
            {"'a b' c", 2, {"a b", "c"}, {0}},
            {"\"a\\x41\\n\\r\\t\\b\\a\\\\\\\"z\"",
             1,
             {"aA\n\r\t\b\a\\\"z"},
             {0}},
            {"\"\\xZZ\"", 1, {"xZZ"}, {0}},
            {"\"\\x4\"", 1, {"x4"}, {0}},
            {"'a\\'b'", 1, {"a'b"}, {0}},
            {"'a\\nb'", 1, {"a\\nb"}, {0}},
            {"'a\\\\b'", 1, {"a\\\\b"}, {0}},
            {"a\"b c\"d", 0, {0}, {0}},
            {"a\"b c\"", 1, {"ab c"}, {0}},
            {"\"abc", 0, {0}, {0}},
            {"'abc", 0, {0}, {0}},
            {"\"a\"b", 0, {0}, {0}},
            {"\"a\" b", 2, {"a", "b"}, {0}},
            {"\"\"", 1, {""}, {0}},
            {"\"\" ''", 2, {"", ""}, {0}},
            {"a\tb", 2, {"a", "b"}, {0}},
            {"a\vb", 1, {"a\vb"}, {0}},
            {"\va", 1, {"a"}, {0}},
            {"\"a\"\tb", 2, {"a", "b"}, {0}},
            {"\"a\"\vb", 2, {"a", "b"}, {0}},
            {"\"\\\"", 0, {0}, {0}},
            {"\"a\\\"", 0, {0}, {0}},
            {"'\\'", 0, {0}, {0}},
            {"a\rb", 2, {"a", "b"}, {0}},
            {"\"\\x\"", 1, {"x"}, {0}},
            {"\"\\", 0, {0}, {0}},
            {"a'b'", 1, {"ab"}, {0}},
            {"x \"y\"z", 0, {0}, {0}},
            {"\"\\xff\\x00\"", 1, {"\xff"}, {2}},
            {"\\x41", 1, {"\\x41"}, {0}},
            {"\"\\X41\"", 1, {"X41"}, {0}},
            {"\"\\xaF\"", 1, {"\xaf"}, {0}},
            {"'a'\fb", 2, {"a", "b"}, {0}},
            {"a\"b\"c", 0, {0}, {0}},
            {"'a\\'", 0, {0}, {0}},
            {"\"a\\\\\"b", 0, {0}, {0}},
            {"a\x7f"
             "b",
             1,
             {"a\x7f"
              "b"},
             {0}},
            {"\xc3\xa9 x", 2, {"\xc3\xa9", "x"}, {0}},
        };
        char line[256];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t len = (size_t)snprintf(line, sizeof(line),
                                              "RPUSH L %s\r\n", cases[i].line);
                const char *args[5] = {"RPUSH", "L"};
                size_t lens[5] = {5, 1};

                if (cases[i].n == 0) {
                        expect_error(line, len, NULL,
                                     "ERR Protocol error: unbalanced quotes "
                                     "in request");
                        continue;
                }
                for (size_t j = 0; j < cases[i].n; j++) {
                        args[2 + j] = cases[i].args[j];
                        lens[2 + j] = cases[i].lens[j]
                                          ? cases[i].lens[j]
                                          : strlen(cases[i].args[j]);
                }
                expect_args(line, len, 2 + cases[i].n, args, lens);
        }
}

/* A NUL is an ordinary byte here (Redis never finds such a line; see
 * resp.c). */
Test(parse, inline_nul_is_a_byte)
{
        static const char *const a[] = {"a\0b", "c"};
        static const size_t l[] = {3, 1};

        expect_args(S("a\0b c\r\n"), 2, a, l);
}

/* ---- Protocol errors ---------------------------------------------------------- */

#define PE "ERR Protocol error: "

Test(parse, protocol_errors_like_redis)
{
        static const struct {
                const char *s;
                size_t len; /* 0: strlen */
                const char *error;
        } cases[] = {
            {"*3000000000\r\n", 0, PE "invalid multibulk length"},
            {"*1048577\r\n", 0, PE "invalid multibulk length"},
            {"*a\r\n", 0, PE "invalid multibulk length"},
            {"*\r\n", 0, PE "invalid multibulk length"},
            {"* 1\r\n", 0, PE "invalid multibulk length"},
            {"*+1\r\n", 0, PE "invalid multibulk length"},
            {"*01\r\n", 0, PE "invalid multibulk length"},
            {"*1 \r\n", 0, PE "invalid multibulk length"},
            {"*-0\r\n", 0, PE "invalid multibulk length"},
            {"*1\0\r\n", 5, PE "invalid multibulk length"},
            {"*1\r\n\r\n", 0, PE "expected '$', got ' '"},
            {"*1\r\n\n\r\n", 0, PE "expected '$', got ' '"},
            {"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", 0,
             PE "expected '$', got 'f'"},
            {"*1\r\n:3\r\n", 0, PE "expected '$', got ':'"},
            {"*2\r\n$1\r\na\r\n*1\r\n", 0, PE "expected '$', got '*'"},
            {"*1\r\n$-1\r\n", 0, PE "invalid bulk length"},
            {"*1\r\n$ 3\r\n", 0, PE "invalid bulk length"},
            {"*1\r\n$a\r\n", 0, PE "invalid bulk length"},
            {"*1\r\n$\r\n", 0, PE "invalid bulk length"},
            {"*1\r\n$03\r\n", 0, PE "invalid bulk length"},
            {"*1\r\n$536870913\r\n", 0, PE "invalid bulk length"},
            {"*1\r\n$99999999999999999999\r\n", 0, PE "invalid bulk length"},
            {"set \"a b\"c\r\n", 0, PE "unbalanced quotes in request"},
            {"echo 'a\r\n", 0, PE "unbalanced quotes in request"},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                expect_error(cases[i].s,
                             cases[i].len ? cases[i].len : strlen(cases[i].s),
                             NULL, cases[i].error);
}

Test(parse, error_is_sticky_until_reset)
{
        struct rds_parser p;

        rds_parser_init(&p);
        cr_assert_eq(rds_parse(&p, S("*x\r\n")), RDS_PARSE_ERROR);
        cr_assert_eq(rds_parse(&p, S("PING\r\n")), RDS_PARSE_ERROR);
        rds_parser_reset(&p);
        cr_assert_eq(rds_parse(&p, S("PING\r\n")), RDS_PARSE_OK);
        cr_assert_eq(p.argc, 1);
        rds_parser_free(&p);
}

/* ---- Limits -------------------------------------------------------------------- */

Test(limits, bulk_length)
{
        struct settings small = {.max_bulk_len = 100};
        struct rds_parser p;
        char req[300];
        size_t n;

        expect_error(S("*1\r\n$101\r\n"), &small, PE "invalid bulk length");
        n = (size_t)snprintf(req, sizeof(req), "*1\r\n$100\r\n%0100d\r\n", 0);
        cr_assert_eq(n, 112);
        parser_setup(&p, &small);
        cr_assert_eq(rds_parse(&p, (unsigned char *)req, n), RDS_PARSE_OK);
        cr_assert_eq(p.argv[0].len, 100);
        cr_assert_eq(p.argv[0].p, (unsigned char *)req + 10);
        rds_parser_free(&p);
        /* The default, 512 MB: exactly 512 MB waits for its bytes, and
         * asks for room for the whole request at once. */
        parser_setup(&p, NULL);
        cr_assert_eq(p.max_bulk_len, 512LL * 1024 * 1024);
        cr_assert_eq(rds_parse(&p, S("*1\r\n$536870912\r\n")), RDS_PARSE_MORE);
        cr_assert_eq(p.want, 16 + 536870912 + 2);
        rds_parser_free(&p);
        expect_error(S("*1\r\n$536870913\r\n"), NULL, PE "invalid bulk length");
}

Test(limits, multibulk_count)
{
        struct rds_parser p;

        expect_more(S("*1048576\r\n"), NULL);
        expect_error(S("*1048577\r\n"), NULL, PE "invalid multibulk length");
        /* A big count alone reserves at most 1024 slots, as Redis. */
        parser_setup(&p, NULL);
        cr_assert_eq(rds_parse(&p, S("*1048576\r\n")), RDS_PARSE_MORE);
        cr_assert_leq(p.argcap, 1024);
        rds_parser_free(&p);
}

Test(limits, unauthenticated)
{
        struct settings unauth = {.unauthenticated = true};
        struct rds_parser p;
        char *req;
        size_t n;

        expect_error(S("*11\r\n"), &unauth,
                     PE "unauthenticated multibulk length");
        expect_more(S("*10\r\n"), &unauth);
        expect_more(S("*11\r\n"), NULL);
        expect_error(S("*2\r\n$4\r\necho\r\n$16385\r\n"), &unauth,
                     PE "unauthenticated bulk length");
        expect_more(S("*2\r\n$4\r\necho\r\n$16384\r\n"), &unauth);
        /* Counts <= 0 are still skipped; inline requests have no limit. */
        {
                struct res r;

                parse_whole(S("*-100\r\n"), &unauth, &r);
                cr_assert_eq(r.rc, RDS_PARSE_OK);
                res_free(&r);
        }
        n = 20000;
        req = malloc(n + 2);
        memset(req, 'a', n);
        memcpy(req + n, "\r\n", 2);
        parser_setup(&p, &unauth);
        cr_assert_eq(rds_parse(&p, (unsigned char *)req, n + 2), RDS_PARSE_OK);
        cr_assert_eq(p.argc, 1);
        cr_assert_eq(p.argv[0].len, n);
        /* Once authenticated, the connection clears the flag. */
        p.unauthenticated = false;
        cr_assert_eq(rds_parse(&p, S("*11\r\n")), RDS_PARSE_MORE);
        rds_parser_free(&p);
        free(req);
}

/* Redis's PROTO_INLINE_MAX_SIZE rule: an error only when more than 64 KB
 * are buffered without a line end. */
Test(limits, long_lines, .timeout = 60)
{
        size_t max = RDS_INLINE_MAX;
        unsigned char *b = malloc(max + 16);
        struct rds_parser p;

        /* Inline. */
        memset(b, 'a', max + 1);
        expect_more(b, max, NULL);
        parser_setup(&p, NULL);
        cr_assert_eq(rds_parse(&p, b, max), RDS_PARSE_MORE);
        cr_assert_eq(rds_parse(&p, b, max + 1), RDS_PARSE_ERROR);
        cr_assert_str_eq(p.error, PE "too big inline request");
        rds_parser_free(&p);
        /* A 64 KB line that has its '\n' is fine. */
        b[max] = '\n';
        parser_setup(&p, NULL);
        cr_assert_eq(rds_parse(&p, b, max + 1), RDS_PARSE_OK);
        cr_assert_eq(p.argv[0].len, max);
        rds_parser_free(&p);

        /* The multibulk count line. */
        memset(b, '1', max + 1);
        b[0] = '*';
        expect_more(b, max, NULL);
        parser_setup(&p, NULL);
        cr_assert_eq(rds_parse(&p, b, max + 1), RDS_PARSE_ERROR);
        cr_assert_str_eq(p.error, PE "too big mbulk count string");
        rds_parser_free(&p);

        /* A bulk count line: counted from the line's start. */
        memcpy(b, "*1\r\n$", 5);
        memset(b + 5, '1', max + 4);
        expect_more(b, 4 + max, NULL);
        parser_setup(&p, NULL);
        cr_assert_eq(rds_parse(&p, b, 4 + max + 1), RDS_PARSE_ERROR);
        cr_assert_str_eq(p.error, PE "too big bulk count string");
        rds_parser_free(&p);
        free(b);
}

/* ---- Memory ------------------------------------------------------------------ */

Test(memory, argv_reused_in_steady_state)
{
        static const unsigned char req[] =
            "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        struct rds_parser p;
        struct rds_arg *argv;
        size_t *offs, cap;

        rds_parser_init(&p);
        cr_assert_eq(rds_parse(&p, req, sizeof(req) - 1), RDS_PARSE_OK);
        argv = p.argv;
        offs = p.offs;
        cap = p.argcap;
        for (int i = 0; i < 10000; i++) {
                cr_assert_eq(rds_parse(&p, req, sizeof(req) - 1), RDS_PARSE_OK);
                cr_assert_eq(p.argc, 3);
                cr_assert_eq(rds_parse(&p, S("PING\r\n")), RDS_PARSE_OK);
        }
        cr_assert_eq(p.argv, argv);
        cr_assert_eq(p.offs, offs);
        cr_assert_eq(p.argcap, cap);
        rds_parser_free(&p);
}

Test(memory, huge_request_is_given_back, .timeout = 60)
{
        size_t n = 200000, len = 0, i;
        unsigned char *req = malloc(16 + n * 7);
        struct rds_parser p;

        len += (size_t)sprintf((char *)req, "*%zu\r\n", n);
        for (i = 0; i < n; i++) {
                memcpy(req + len, "$1\r\nx\r\n", 7);
                req[len + 4] = (unsigned char)('a' + i % 26);
                len += 7;
        }
        rds_parser_init(&p);
        cr_assert_eq(rds_parse(&p, req, len), RDS_PARSE_OK);
        cr_assert_eq(p.argc, n);
        cr_assert_eq(p.consumed, len);
        for (i = 0; i < n; i++)
                cr_assert_eq(p.argv[i].p[0], 'a' + i % 26);
        cr_assert_geq(p.argcap, n);
        /* The next request gives the big arrays back. */
        cr_assert_eq(rds_parse(&p, S("*1\r\n$4\r\nPING\r\n")), RDS_PARSE_OK);
        cr_assert_leq(p.argcap, 1024);
        cr_assert_eq(p.argc, 1);
        cr_assert_eq(memcmp(p.argv[0].p, "PING", 4), 0);
        rds_parser_free(&p);
        free(req);
}

/*
 * Failure injection for the parser's shrinking reallocs: while
 * fail_realloc_size is not 0, a realloc to exactly that many bytes fails.
 * Every other call goes to the real realloc (the sanitizer's under ASan).
 * Criterion runs each test in its own process, so a test's setting
 * cannot leak into another.
 */
static size_t fail_realloc_size;

void *realloc(void *ptr, size_t size)
{
        static void *(*real)(void *, size_t);

        if (fail_realloc_size && size == fail_realloc_size)
                return NULL;
        if (!real)
                real = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
        return real(ptr, size);
}

/* After a big request, the next one shrinks argv and offs back to 256
 * slots; when one of the two shrinks fails, argcap must still describe
 * both arrays (it used to keep the big capacity, so the next big request
 * wrote past the array that had shrunk). */
static void shrink_fails(size_t fail_size)
{
        size_t n = 300, len = 0, i;
        unsigned char *req = malloc(16 + n * 7);
        struct rds_parser p;

        len += (size_t)sprintf((char *)req, "*%zu\r\n", n);
        for (i = 0; i < n; i++) {
                memcpy(req + len, "$1\r\nx\r\n", 7);
                req[len + 4] = (unsigned char)('a' + i % 26);
                len += 7;
        }
        rds_parser_init(&p);
        cr_assert_eq(rds_parse(&p, req, len), RDS_PARSE_OK);
        cr_assert_gt(p.argcap, 256);
        fail_realloc_size = fail_size;
        cr_assert_eq(rds_parse(&p, S("*1\r\n$4\r\nPING\r\n")), RDS_PARSE_OK);
        fail_realloc_size = 0;
        cr_assert_geq(malloc_usable_size(p.argv), p.argcap * sizeof(*p.argv));
        cr_assert_geq(malloc_usable_size(p.offs), p.argcap * sizeof(*p.offs));
        /* And the next big request is parsed whole. */
        cr_assert_eq(rds_parse(&p, req, len), RDS_PARSE_OK);
        cr_assert_eq(p.argc, n);
        for (i = 0; i < n; i++)
                cr_assert_eq(p.argv[i].p[0], 'a' + i % 26);
        cr_assert_geq(malloc_usable_size(p.argv), p.argcap * sizeof(*p.argv));
        cr_assert_geq(malloc_usable_size(p.offs), p.argcap * sizeof(*p.offs));
        rds_parser_free(&p);
        free(req);
}

Test(memory, failed_shrink_of_offs_keeps_argcap_right)
{
        shrink_fails(256 * sizeof(size_t));
}

Test(memory, failed_shrink_of_argv_keeps_argcap_right)
{
        shrink_fails(256 * sizeof(struct rds_arg));
}

Test(memory, want_for_big_bulks)
{
        size_t n = 100000;
        unsigned char *req = malloc(n + 64);
        struct rds_parser p;
        size_t hl;

        hl = (size_t)sprintf((char *)req, "*2\r\n$3\r\nSET\r\n$%zu\r\n", n);
        memset(req + hl, 'v', n);
        memcpy(req + hl + n, "\r\n", 2);
        rds_parser_init(&p);
        cr_assert_eq(rds_parse(&p, req, hl), RDS_PARSE_MORE);
        cr_assert_eq(p.want, hl + n + 2);
        cr_assert_eq(rds_parse(&p, req, hl + n + 1), RDS_PARSE_MORE);
        cr_assert_eq(p.want, hl + n + 2);
        cr_assert_eq(rds_parse(&p, req, hl + n + 2), RDS_PARSE_OK);
        cr_assert_eq(p.want, 0);
        cr_assert_eq(p.argv[1].len, n);
        /* Small bulks: no reservation asked for. */
        cr_assert_eq(rds_parse(&p, S("*1\r\n$100\r\n")), RDS_PARSE_MORE);
        cr_assert_eq(p.want, 0);
        rds_parser_free(&p);
        free(req);
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 100,000 arguments (700 KB) arriving a byte at a time: 700,000 calls.  A
 * parser that rescanned from the request's start would do ~2.5e11 steps;
 * this one must finish in well under the time limit. */
Test(memory, no_rescans_byte_at_a_time, .timeout = 30)
{
        size_t n = 100000, len = 0, k;
        unsigned char *req = malloc(16 + n * 7);
        struct rds_parser p;
        double t0;
        int rc = RDS_PARSE_MORE;

        len += (size_t)sprintf((char *)req, "*%zu\r\n", n);
        for (size_t i = 0; i < n; i++) {
                memcpy(req + len, "$1\r\nx\r\n", 7);
                len += 7;
        }
        rds_parser_init(&p);
        t0 = now_s();
        for (k = 1; k <= len && rc == RDS_PARSE_MORE; k++)
                rc = rds_parse(&p, req, k);
        cr_assert_eq(rc, RDS_PARSE_OK);
        cr_assert_eq(k - 1, len);
        cr_assert_eq(p.argc, n);
        cr_assert_lt(now_s() - t0, 5.0);
        rds_parser_free(&p);

        /* An inline line: the '\n' search resumes where it stopped. */
        memset(req, 'a', 60000);
        rds_parser_init(&p);
        for (k = 1; k <= 60000; k++)
                cr_assert_eq(rds_parse(&p, req, k), RDS_PARSE_MORE);
        cr_assert_eq(p.nl_scan, 60000);
        req[60000] = '\n';
        cr_assert_eq(rds_parse(&p, req, 60001), RDS_PARSE_OK);
        rds_parser_free(&p);
        free(req);
}

/* ---- Pipelines ----------------------------------------------------------------- */

/* xorshift64: reproducible pseudo-random numbers. */
static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

struct gen {
        unsigned char *buf;
        size_t len, cap;
};

static void gen_put(struct gen *g, const void *p, size_t n)
{
        if (g->len + n > g->cap) {
                g->cap = (g->len + n) * 2;
                g->buf = realloc(g->buf, g->cap);
        }
        memcpy(g->buf + g->len, p, n);
        g->len += n;
}

/* Append one random request; returns its expected argc (argument bytes
 * are checked by re-parsing each request alone). */
static void gen_request(struct gen *g)
{
        unsigned kind = (unsigned)(rng() % 10);
        char hdr[32];

        if (kind == 0) {
                static const char *const lines[] = {
                    "PING\r\n", "set a b\n",         "get \"x y\"\r\n",
                    "\r\n",     "echo 'it\\'s'\r\n", "mset k1 v1 k2 v2\r\n",
                };
                const char *l = lines[rng() % 6];

                gen_put(g, l, strlen(l));
        } else if (kind == 1) {
                gen_put(g, "*0\r\n", 4);
        } else {
                size_t argc = 1 + rng() % 6;

                gen_put(g, hdr, (size_t)sprintf(hdr, "*%zu\r\n", argc));
                for (size_t i = 0; i < argc; i++) {
                        size_t n = rng() % 4 == 0 ? rng() % 2000 : rng() % 20;
                        unsigned char b[2000];

                        for (size_t j = 0; j < n; j++)
                                b[j] = (unsigned char)rng();
                        gen_put(g, hdr, (size_t)sprintf(hdr, "$%zu\r\n", n));
                        gen_put(g, b, n);
                        gen_put(g, "\r\n", 2);
                }
        }
}

/* A pipeline of @nreq requests, fed in random chunks through a task_buf
 * exactly as a connection does, must give the same requests as parsing
 * each one on its own. */
static void run_pipeline(size_t nreq, size_t max_chunk)
{
        struct gen g = {0};
        size_t *ends = malloc(nreq * sizeof(*ends));
        struct task_buf in = {0};
        struct rds_parser p;
        size_t fed = 0, done = 0, start = 0;

        for (size_t i = 0; i < nreq; i++) {
                gen_request(&g);
                ends[i] = g.len;
        }
        rds_parser_init(&p);
        while (done < nreq) {
                size_t chunk = 1 + rng() % max_chunk;

                if (chunk > g.len - fed)
                        chunk = g.len - fed;
                cr_assert_gt(chunk, 0, "ran out of input at request %zu", done);
                cr_assert_eq(task_buf_append(&in, g.buf + fed, chunk), 0);
                fed += chunk;
                for (;;) {
                        int rc = rds_parse(&p, task_buf_data(&in),
                                           task_buf_len(&in));
                        struct res got, want;

                        if (rc == RDS_PARSE_MORE)
                                break;
                        cr_assert_eq(rc, RDS_PARSE_OK);
                        cr_assert_eq(start + p.consumed, ends[done],
                                     "request %zu", done);
                        res_take(&got, &p, rc);
                        parse_whole(g.buf + start, ends[done] - start, NULL,
                                    &want);
                        res_assert_eq(&got, &want, "pipelined request");
                        res_free(&got);
                        res_free(&want);
                        cr_assert_eq(task_buf_advance(&in, p.consumed), 0);
                        start = ends[done];
                        done++;
                        if (done == nreq)
                                break;
                }
        }
        cr_assert_eq(task_buf_len(&in), 0);
        task_buf_free(&in);
        rds_parser_free(&p);
        free(ends);
        free(g.buf);
}

Test(pipeline, small_chunks, .timeout = 60)
{
        run_pipeline(2000, 7);
}

Test(pipeline, large_chunks, .timeout = 60)
{
        run_pipeline(5000, 16384);
}

Test(pipeline, whole_buffer, .timeout = 60)
{
        run_pipeline(1000, 1 << 30);
}

/* Every split point of a mixed pipeline's first requests. */
Test(pipeline, random_requests_every_split, .timeout = 120)
{
        for (int i = 0; i < 300; i++) {
                struct gen g = {0};
                struct res r;

                gen_request(&g);
                gen_put(&g, "*1\r\n$4\r\nPING\r\n", 14);
                parse_all_ways(g.buf, g.len, NULL, &r);
                cr_assert_eq(r.rc, RDS_PARSE_OK);
                cr_assert_eq(r.consumed, g.len - 14);
                res_free(&r);
                free(g.buf);
        }
}

/* ---- Encoder --------------------------------------------------------------------- */

static void expect_out(struct rds_out *o, const void *want, size_t n)
{
        size_t len = task_buf_len(&o->buf);

        cr_assert_eq(o->err, 0, "err %d", o->err);
        cr_assert_eq(len, n, "got %zu bytes '%.*s', want %zu '%.*s'", len,
                     (int)len, (const char *)task_buf_data(&o->buf), n, (int)n,
                     (const char *)want);
        cr_assert_eq(memcmp(task_buf_data(&o->buf), want, n), 0,
                     "got '%.*s', want '%.*s'", (int)len,
                     (const char *)task_buf_data(&o->buf), (int)n,
                     (const char *)want);
        task_buf_clear(&o->buf);
}

#define EXPECT(o, lit) expect_out((o), (lit), sizeof(lit) - 1)

/* The replies both protocols write the same. */
static void common_replies(struct rds_out *o)
{
        struct rds_arg name = {(const unsigned char *)"GeT", 3};
        struct rds_arg crlf = {(const unsigned char *)"a\r\nB", 4};
        char longmsg[700];

        rds_reply_simple(o, "PONG");
        EXPECT(o, "+PONG\r\n");
        rds_reply_simple(o, "");
        EXPECT(o, "+\r\n");
        rds_reply_ok(o);
        EXPECT(o, "+OK\r\n");
        rds_reply_error(o, "ERR unknown");
        EXPECT(o, "-ERR unknown\r\n");
        rds_reply_error(o, "ERR a\r\nb\rc\nd");
        EXPECT(o, "-ERR a  b c d\r\n");
        rds_reply_errorf(o,
                         "ERR unknown command '%s', with args beginning "
                         "with: %s",
                         "foo", "");
        EXPECT(o, "-ERR unknown command 'foo', with args beginning with: \r\n");
        rds_reply_errorf(o, "ERR %d\n%s", 42, "x");
        EXPECT(o, "-ERR 42 x\r\n");
        /* Longer than errorf's stack buffer. */
        memset(longmsg, 'z', sizeof(longmsg) - 1);
        longmsg[sizeof(longmsg) - 1] = '\0';
        rds_reply_errorf(o, "ERR %s", longmsg);
        cr_assert_eq(task_buf_len(&o->buf), 1 + 4 + 699 + 2);
        cr_assert_eq(memcmp(task_buf_data(&o->buf) + 5 + 699, "\r\n", 2), 0);
        task_buf_clear(&o->buf);
        rds_reply_arity_error(o, &name);
        EXPECT(o, "-ERR wrong number of arguments for 'get' command\r\n");
        rds_reply_arity_error(o, &crlf);
        EXPECT(o, "-ERR wrong number of arguments for 'a  b' command\r\n");

        rds_reply_int(o, 0);
        EXPECT(o, ":0\r\n");
        rds_reply_int(o, 1);
        EXPECT(o, ":1\r\n");
        rds_reply_int(o, -1);
        EXPECT(o, ":-1\r\n");
        rds_reply_int(o, 42);
        EXPECT(o, ":42\r\n");
        rds_reply_int(o, LLONG_MAX);
        EXPECT(o, ":9223372036854775807\r\n");
        rds_reply_int(o, LLONG_MIN);
        EXPECT(o, ":-9223372036854775808\r\n");

        rds_reply_bulk(o, "abc", 3);
        EXPECT(o, "$3\r\nabc\r\n");
        rds_reply_bulk(o, "", 0);
        EXPECT(o, "$0\r\n\r\n");
        rds_reply_bulk(o, NULL, 0);
        EXPECT(o, "$0\r\n\r\n");
        rds_reply_bulk(o, "a\0\r\nb", 5);
        EXPECT(o, "$5\r\na\0\r\nb\r\n");
        rds_reply_bulk_cstr(o, "hello world");
        EXPECT(o, "$11\r\nhello world\r\n");
        rds_reply_bulk_ll(o, -12);
        EXPECT(o, "$3\r\n-12\r\n");
        rds_reply_bulk_ll(o, LLONG_MIN);
        EXPECT(o, "$20\r\n-9223372036854775808\r\n");

        rds_reply_array_len(o, 3);
        EXPECT(o, "*3\r\n");
        rds_reply_array_len(o, 0);
        EXPECT(o, "*0\r\n");
        rds_reply_array_len(o, 1234567);
        EXPECT(o, "*1234567\r\n");
        rds_reply_raw(o, "+RAW\r\n", 6);
        EXPECT(o, "+RAW\r\n");
        rds_reply_raw(o, NULL, 0);
        EXPECT(o, "");
}

Test(encode, resp2)
{
        struct rds_out o;

        rds_out_init(&o);
        cr_assert_eq(o.proto, 2);
        common_replies(&o);
        rds_reply_double(&o, 1.5);
        EXPECT(&o, "$3\r\n1.5\r\n");
        rds_reply_double(&o, 0.1);
        EXPECT(&o, "$19\r\n0.10000000000000001\r\n");
        rds_reply_double(&o, INFINITY);
        EXPECT(&o, "$3\r\ninf\r\n");
        rds_reply_double(&o, -INFINITY);
        EXPECT(&o, "$4\r\n-inf\r\n");
        rds_reply_null(&o);
        EXPECT(&o, "$-1\r\n");
        rds_reply_null_array(&o);
        EXPECT(&o, "*-1\r\n");
        rds_reply_map_len(&o, 2);
        EXPECT(&o, "*4\r\n");
        rds_reply_map_len(&o, 0);
        EXPECT(&o, "*0\r\n");
        rds_reply_set_len(&o, 2);
        EXPECT(&o, "*2\r\n");
        rds_reply_push_len(&o, 3);
        EXPECT(&o, "*3\r\n");
        rds_reply_bool(&o, true);
        EXPECT(&o, ":1\r\n");
        rds_reply_bool(&o, false);
        EXPECT(&o, ":0\r\n");
        rds_reply_verbatim(&o, "txt", "hello", 5);
        EXPECT(&o, "$5\r\nhello\r\n");
        rds_out_free(&o);
}

Test(encode, resp3)
{
        struct rds_out o;

        rds_out_init(&o);
        o.proto = 3;
        common_replies(&o);
        rds_reply_double(&o, 1.5);
        EXPECT(&o, ",1.5\r\n");
        rds_reply_double(&o, 3);
        EXPECT(&o, ",3\r\n");
        rds_reply_double(&o, 0.1);
        EXPECT(&o, ",0.10000000000000001\r\n");
        rds_reply_double(&o, INFINITY);
        EXPECT(&o, ",inf\r\n");
        rds_reply_double(&o, -INFINITY);
        EXPECT(&o, ",-inf\r\n");
        rds_reply_null(&o);
        EXPECT(&o, "_\r\n");
        rds_reply_null_array(&o);
        EXPECT(&o, "_\r\n");
        rds_reply_map_len(&o, 2);
        EXPECT(&o, "%2\r\n");
        rds_reply_set_len(&o, 2);
        EXPECT(&o, "~2\r\n");
        rds_reply_push_len(&o, 3);
        EXPECT(&o, ">3\r\n");
        rds_reply_bool(&o, true);
        EXPECT(&o, "#t\r\n");
        rds_reply_bool(&o, false);
        EXPECT(&o, "#f\r\n");
        rds_reply_verbatim(&o, "txt", "hello", 5);
        EXPECT(&o, "=9\r\ntxt:hello\r\n");
        rds_reply_verbatim(&o, "mkd", "", 0);
        EXPECT(&o, "=4\r\nmkd:\r\n");
        rds_out_free(&o);
}

Test(encode, replies_append_in_order)
{
        struct rds_out o;

        rds_out_init(&o);
        rds_reply_array_len(&o, 2);
        rds_reply_bulk(&o, "k", 1);
        rds_reply_int(&o, 7);
        rds_reply_null(&o);
        EXPECT(&o, "*2\r\n$1\r\nk\r\n:7\r\n$-1\r\n");
        rds_out_free(&o);
}

Test(encode, big_bulk)
{
        struct rds_out o;
        size_t n = 1 << 20;
        char *v = malloc(n);

        memset(v, 'q', n);
        rds_out_init(&o);
        rds_reply_bulk(&o, v, n);
        cr_assert_eq(o.err, 0);
        cr_assert_eq(task_buf_len(&o.buf), 10 + n + 2);
        cr_assert_eq(memcmp(task_buf_data(&o.buf), "$1048576\r\n", 10), 0);
        cr_assert_eq(task_buf_data(&o.buf)[10 + n - 1], 'q');
        cr_assert_eq(memcmp(task_buf_data(&o.buf) + 10 + n, "\r\n", 2), 0);
        rds_out_free(&o);
        free(v);
}

/* With room in the buffer, no reply moves or grows it. */
Test(encode, no_allocation_with_room)
{
        struct rds_out o;
        unsigned char *mem;
        size_t cap;

        rds_out_init(&o);
        cr_assert_eq(task_buf_reserve(&o.buf, 4096), 0);
        mem = o.buf.mem;
        cap = task_buf_capacity(&o.buf);
        for (int i = 0; i < 1000; i++) {
                rds_reply_ok(&o);
                rds_reply_int(&o, i);
                rds_reply_bulk(&o, "value", 5);
                rds_reply_null(&o);
                rds_reply_array_len(&o, 2);
                task_buf_clear(&o.buf);
        }
        cr_assert_eq(o.err, 0);
        cr_assert_eq(o.buf.mem, mem);
        cr_assert_eq(task_buf_capacity(&o.buf), cap);
        rds_out_free(&o);
}

/* Each reply reserves exactly what it writes: at the limit, what fits
 * goes in; the first refusal is sticky and nothing follows it. */
Test(encode, enobufs_is_sticky)
{
        struct rds_out o;

        rds_out_init(&o);
        cr_assert_eq(task_buf_set_limit(&o.buf, 17), 0);
        rds_reply_ok(&o);         /* 5 */
        rds_reply_int(&o, 12345); /* 8: 13 */
        rds_reply_int(&o, 1);     /* 4: 17, exactly the limit */
        cr_assert_eq(o.err, 0);
        cr_assert_eq(task_buf_len(&o.buf), 17);
        task_buf_clear(&o.buf);
        rds_reply_bulk(&o, "0123456789", 10); /* 17 */
        cr_assert_eq(o.err, 0);
        task_buf_clear(&o.buf);
        rds_reply_ok(&o);
        rds_reply_bulk(&o, "0123456789", 10); /* 5 + 17 > 17 */
        cr_assert_eq(o.err, -ENOBUFS);
        cr_assert_eq(task_buf_len(&o.buf), 5);
        /* Would fit, but the error is sticky. */
        rds_reply_int(&o, 1);
        rds_reply_ok(&o);
        rds_reply_null(&o);
        rds_reply_simple(&o, "x");
        rds_reply_error(&o, "ERR x");
        rds_reply_errorf(&o, "ERR %d", 1);
        rds_reply_array_len(&o, 1);
        rds_reply_raw(&o, "x", 1);
        rds_reply_bool(&o, true);
        rds_reply_double(&o, 1);
        rds_reply_verbatim(&o, "txt", "a", 1);
        rds_reply_bulk_ll(&o, 5);
        cr_assert_eq(o.err, -ENOBUFS);
        cr_assert_eq(task_buf_len(&o.buf), 5);
        cr_assert_eq(memcmp(task_buf_data(&o.buf), "+OK\r\n", 5), 0);
        /* The caller resets it. */
        o.err = 0;
        task_buf_clear(&o.buf);
        rds_reply_int(&o, 1);
        EXPECT(&o, ":1\r\n");
        rds_out_free(&o);
}

/* A reply no allocator can give: -ENOMEM, nothing appended, and the bytes
 * behind the pointer never read (the length alone decides). */
Test(encode, enomem_is_sticky)
{
        struct rds_out o;

        rds_out_init(&o);
        rds_reply_ok(&o);
        rds_reply_bulk(&o, "x", (size_t)PTRDIFF_MAX);
        cr_assert_eq(o.err, -ENOMEM);
        rds_reply_ok(&o);
        cr_assert_eq(task_buf_len(&o.buf), 5);
        o.err = 0;
        rds_reply_bulk(&o, "x", SIZE_MAX);
        cr_assert_eq(o.err, -ENOMEM);
        o.err = 0;
        o.proto = 3;
        rds_reply_verbatim(&o, "txt", "x", SIZE_MAX - 8);
        cr_assert_eq(o.err, -ENOMEM);
        cr_assert_eq(task_buf_len(&o.buf), 5);
        rds_out_free(&o);
}

/* What the server does with a parsed request: encode its arguments back
 * as a multibulk request, which must parse to the same arguments. */
Test(encode, round_trip_through_the_parser)
{
        struct rds_out o;
        struct rds_parser p;
        struct res first, second;

        rds_out_init(&o);
        rds_parser_init(&p);
        cr_assert_eq(rds_parse(&p, S("set \"a\\r\\nb\" '\\'' \"\\x00\"\r\n")),
                     RDS_PARSE_OK);
        res_take(&first, &p, RDS_PARSE_OK);
        rds_reply_array_len(&o, p.argc);
        for (size_t i = 0; i < p.argc; i++)
                rds_reply_bulk(&o, p.argv[i].p, p.argv[i].len);
        cr_assert_eq(rds_parse(&p, task_buf_data(&o.buf), task_buf_len(&o.buf)),
                     RDS_PARSE_OK);
        res_take(&second, &p, RDS_PARSE_OK);
        cr_assert_eq(second.consumed, task_buf_len(&o.buf));
        second.consumed = first.consumed;
        res_assert_eq(&first, &second, "round trip");
        cr_assert_eq(first.argc, 4);
        res_free(&first);
        res_free(&second);
        rds_parser_free(&p);
        rds_out_free(&o);
}
