/*
 * tests/redis/client/test_reader.c - the RESP reply reader, the value tree
 * and the request encoder (redis_value.h), without a server.
 *
 * Every reply is checked through a canonical text dump of its tree
 * (dump()), which shows every field that matters (type, bytes, integer,
 * double text and value, verbatim format) and checks the NUL after every
 * string.  Each input is read whole, a byte at a time and split in two at
 * every offset, and all must give the same dump; task_redis_reader_skip
 * must agree with feed on how many bytes a reply takes and its type.
 *
 * Out of memory is tested by fault injection: in a build without
 * sanitizers this file defines malloc, calloc and realloc (forwarding to
 * glibc's __libc_*), which the executable's symbols interpose for
 * libtask.so too; a thread-local budget makes the Nth allocation of the
 * test's own thread fail, and a live count proves nothing leaked.  ASan
 * and TSan own malloc themselves, so there those tests skip.
 */
#include <criterion/criterion.h>

#include <libtask/redis_value.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RDT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||     \
    __has_feature(memory_sanitizer)
#define RDT_SANITIZED 1
#endif
#endif

/* ---- Fault injection -------------------------------------------------------- */

#ifndef RDT_SANITIZED
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

/* Of the test's thread only: counting on, allocations left (-1: no
 * limit), blocks live, allocations made. */
static __thread bool rdt_counting;
static __thread long rdt_budget = -1;
static __thread long rdt_live;
static __thread long rdt_allocs;

static bool rdt_take(void)
{
        if (!rdt_counting)
                return true;
        if (rdt_budget == 0)
                return false;
        if (rdt_budget > 0)
                rdt_budget--;
        rdt_allocs++;
        return true;
}

void *malloc(size_t n)
{
        void *p;

        if (!rdt_take())
                return NULL;
        p = __libc_malloc(n);
        if (p && rdt_counting)
                rdt_live++;
        return p;
}

void *calloc(size_t n, size_t m)
{
        void *p;

        if (!rdt_take())
                return NULL;
        p = __libc_calloc(n, m);
        if (p && rdt_counting)
                rdt_live++;
        return p;
}

void *realloc(void *q, size_t n)
{
        void *p;

        if (!rdt_take())
                return NULL;
        p = __libc_realloc(q, n);
        if (p && !q && rdt_counting)
                rdt_live++;
        return p;
}

void free(void *p)
{
        if (p && rdt_counting)
                rdt_live--;
        __libc_free(p);
}

#define RDT_NEED_FAULTS()
#else
#define RDT_NEED_FAULTS()                                                      \
        cr_skip_test("fault injection needs the build's own malloc: "          \
                     "not under sanitizers")
static __thread bool rdt_counting;
static __thread long rdt_budget = -1;
static __thread long rdt_live;
static __thread long rdt_allocs;
#endif

/* Starts counting the test thread's allocations, failing after @budget
 * (-1: never). */
static void faults_arm(long budget)
{
        rdt_live = 0;
        rdt_allocs = 0;
        rdt_budget = budget;
        rdt_counting = true;
}

static void faults_disarm(void)
{
        rdt_counting = false;
        rdt_budget = -1;
}

/* ---- Dumps ----------------------------------------------------------------- */

struct dump {
        char *s;
        size_t len, cap;
};

static void d_add(struct dump *d, const char *s, size_t n)
{
        if (d->len + n + 1 > d->cap) {
                size_t cap = d->cap ? d->cap : 256;

                while (cap < d->len + n + 1)
                        cap *= 2;
                d->s = realloc(d->s, cap);
                cr_assert_not_null(d->s);
                d->cap = cap;
        }
        memcpy(d->s + d->len, s, n);
        d->len += n;
        d->s[d->len] = '\0';
}

static void d_str(struct dump *d, const char *s)
{
        d_add(d, s, strlen(s));
}

/* Bytes quoted, anything unprintable as \xHH. */
static void d_bytes(struct dump *d, const char *s, size_t n)
{
        char buf[8];

        d_add(d, "'", 1);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
                        d_add(d, (const char *)&c, 1);
                } else {
                        snprintf(buf, sizeof(buf), "\\x%02x", c);
                        d_str(d, buf);
                }
        }
        d_add(d, "'", 1);
}

static void dump_value(struct dump *d, const struct task_redis_value *v)
{
        char buf[64];

        switch (v->type) {
        case TASK_REDIS_NIL:
                d_str(d, "nil");
                return;
        case TASK_REDIS_INTEGER:
                snprintf(buf, sizeof(buf), "i%lld", (long long)v->integer);
                d_str(d, buf);
                return;
        case TASK_REDIS_BOOL:
                cr_assert(v->integer == 0 || v->integer == 1);
                d_str(d, v->integer ? "true" : "false");
                return;
        case TASK_REDIS_ARRAY:
        case TASK_REDIS_MAP:
        case TASK_REDIS_SET:
        case TASK_REDIS_PUSH:
                d_str(d, v->type == TASK_REDIS_ARRAY ? "*["
                         : v->type == TASK_REDIS_MAP ? "%["
                         : v->type == TASK_REDIS_SET ? "~["
                                                     : ">[");
                cr_assert(v->n == 0 || v->elem != NULL);
                if (v->type == TASK_REDIS_MAP)
                        cr_assert_eq(v->n % 2, 0);
                for (size_t i = 0; i < v->n; i++) {
                        if (i)
                                d_str(d, ",");
                        dump_value(d, &v->elem[i]);
                }
                d_str(d, "]");
                return;
        default:
                break;
        }
        /* The string types: NUL-terminated, binary-safe. */
        cr_assert_not_null(v->str);
        cr_assert_eq(v->str[v->len], '\0', "no NUL after a %s",
                     task_redis_type_name(v->type));
        switch (v->type) {
        case TASK_REDIS_STRING:
                d_str(d, "s");
                break;
        case TASK_REDIS_STATUS:
                d_str(d, "+");
                break;
        case TASK_REDIS_ERROR:
                d_str(d, "-");
                break;
        case TASK_REDIS_BIGNUM:
                d_str(d, "n");
                break;
        case TASK_REDIS_DOUBLE:
                snprintf(buf, sizeof(buf), "d(%.17g)", v->dval);
                d_str(d, buf);
                break;
        case TASK_REDIS_VERBATIM:
                cr_assert_eq(strlen(v->vfmt), 3);
                d_str(d, "v");
                d_str(d, v->vfmt);
                break;
        default:
                cr_assert_fail("type %d", (int)v->type);
        }
        d_bytes(d, v->str, v->len);
}

/* The dump of @v (caller frees). */
static char *dump(const struct task_redis_value *v)
{
        struct dump d = {0};

        dump_value(&d, v);
        return d.s;
}

/* ---- Reading helpers --------------------------------------------------------- */

/*
 * Reads one reply out of @in[0..@len) with a fresh reader, fed in pieces:
 * the first @split bytes, then the rest in pieces of @step bytes (0: at
 * once).  Returns the reader's final return code; the reply's dump in
 * *@out (caller frees) when 1.  Asserts that a reply ends exactly at
 * @len and that every call before it consumed all it was given.
 */
static int read_split(const char *in, size_t len, size_t split, size_t step,
                      const struct task_redis_reader_opts *o, char **out)
{
        struct task_redis_reader r;
        struct task_redis_value *v = NULL;
        size_t off = 0, used;
        int rc = 0;

        *out = NULL;
        cr_assert_eq(task_redis_reader_init(&r, o), 0);
        while (off < len) {
                size_t n = len - off;

                if (off < split)
                        n = split - off;
                else if (step && step < n)
                        n = step;
                rc = task_redis_reader_feed(&r, in + off, n, &used, &v);
                if (rc < 0)
                        break;
                if (rc == 0) {
                        cr_assert_eq(used, n, "partial feed used %zu of %zu",
                                     used, n);
                        cr_assert_null(v);
                } else {
                        cr_assert_eq(off + used, len,
                                     "reply ended at %zu, input at %zu",
                                     off + used, len);
                        *out = dump(v);
                        task_redis_value_free(v);
                        break;
                }
                off += used;
        }
        task_redis_reader_free(&r);
        return rc;
}

/* As read_split, skipping: the type in *@type. */
static int skip_split(const char *in, size_t len, size_t split, size_t step,
                      const struct task_redis_reader_opts *o,
                      enum task_redis_type *type)
{
        struct task_redis_reader r;
        size_t off = 0, used;
        int rc = 0;

        cr_assert_eq(task_redis_reader_init(&r, o), 0);
        while (off < len) {
                size_t n = len - off;

                if (off < split)
                        n = split - off;
                else if (step && step < n)
                        n = step;
                rc = task_redis_reader_skip(&r, in + off, n, &used, type);
                if (rc < 0)
                        break;
                if (rc == 0) {
                        cr_assert_eq(used, n);
                } else {
                        cr_assert_eq(off + used, len,
                                     "skip ended at %zu, input at %zu",
                                     off + used, len);
                        break;
                }
                off += used;
        }
        task_redis_reader_free(&r);
        return rc;
}

/* The root type a dump starts with. */
static enum task_redis_type dump_type(const char *d)
{
        switch (d[0]) {
        case 'n':
                return d[1] == 'i' ? TASK_REDIS_NIL : TASK_REDIS_BIGNUM;
        case 's':
                return TASK_REDIS_STRING;
        case '+':
                return TASK_REDIS_STATUS;
        case '-':
                return TASK_REDIS_ERROR;
        case 'i':
                return TASK_REDIS_INTEGER;
        case 'd':
                return TASK_REDIS_DOUBLE;
        case 't':
        case 'f':
                return TASK_REDIS_BOOL;
        case 'v':
                return TASK_REDIS_VERBATIM;
        case '*':
                return TASK_REDIS_ARRAY;
        case '%':
                return TASK_REDIS_MAP;
        case '~':
                return TASK_REDIS_SET;
        case '>':
                return TASK_REDIS_PUSH;
        }
        cr_assert_fail("dump %s", d);
        return TASK_REDIS_NIL;
}

/*
 * Reads @in whole, a byte at a time and split at every offset, with feed
 * and with skip: each must give a reply of dump @want (NULL: any, the
 * same every way; returned, caller frees).
 */
static char *check_reply(const char *in, size_t len, const char *want)
{
        char *first, *d;
        enum task_redis_type t;
        int rc;

        rc = read_split(in, len, 0, 0, NULL, &first);
        cr_assert_eq(rc, 1, "whole: rc %d for %.*s", rc, (int)len, in);
        if (want)
                cr_assert_str_eq(first, want, "got %s want %s", first, want);
        rc = read_split(in, len, 0, 1, NULL, &d);
        cr_assert_eq(rc, 1, "byte by byte: rc %d", rc);
        cr_assert_str_eq(d, first, "byte by byte: %s, whole: %s", d, first);
        free(d);
        for (size_t k = 1; k < len; k++) {
                rc = read_split(in, len, k, 0, NULL, &d);
                cr_assert_eq(rc, 1, "split at %zu: rc %d", k, rc);
                cr_assert_str_eq(d, first, "split at %zu: %s, whole: %s", k, d,
                                 first);
                free(d);
        }
        /* Skip agrees on the length (skip_split checks it) and type. */
        for (size_t k = 0; k < len; k++) {
                t = (enum task_redis_type) - 1;
                rc = skip_split(in, len, k, 0, NULL, &t);
                cr_assert_eq(rc, 1, "skip split at %zu: rc %d", k, rc);
                cr_assert_eq(t, dump_type(first), "skip type %s for %s",
                             task_redis_type_name(t), first);
        }
        rc = skip_split(in, len, 0, 1, NULL, &t);
        cr_assert_eq(rc, 1);
        cr_assert_eq(t, dump_type(first));
        return first;
}

#define CHECK(lit, want) free(check_reply(lit, sizeof(lit) - 1, want))

/* ---- Every type -------------------------------------------------------------- */

Test(reader, simple_strings_and_errors, .timeout = 30)
{
        CHECK("+OK\r\n", "+'OK'");
        CHECK("+\r\n", "+''");
        CHECK("+QUEUED\r\n", "+'QUEUED'");
        CHECK("-ERR unknown command 'foo'\r\n",
              "-'ERR unknown command \\x27foo\\x27'");
        CHECK("-WRONGTYPE Operation against a key\r\n",
              "-'WRONGTYPE Operation against a key'");
        /* RESP3 blob errors are errors too, binary-safe. */
        CHECK("!21\r\nSYNTAX invalid syntax\r\n", "-'SYNTAX invalid syntax'");
        CHECK("!4\r\na\r\nb\r\n", "-'a\\x0d\\x0ab'");
        /* A bare LF inside a line is content (only CRLF ends it). */
        CHECK("+a\nb\r\n", "+'a\\x0ab'");
}

Test(reader, integers, .timeout = 30)
{
        CHECK(":0\r\n", "i0");
        CHECK(":1000\r\n", "i1000");
        CHECK(":-1\r\n", "i-1");
        CHECK(":+7\r\n", "i7");
        CHECK(":007\r\n", "i7");
        CHECK(":9223372036854775807\r\n", "i9223372036854775807");
        CHECK(":-9223372036854775808\r\n", "i-9223372036854775808");
}

Test(reader, bulk_strings, .timeout = 30)
{
        CHECK("$3\r\nfoo\r\n", "s'foo'");
        CHECK("$0\r\n\r\n", "s''");
        CHECK("$-1\r\n", "nil");
        /* Binary-safe: NUL, CR, LF inside. */
        CHECK("$6\r\na\0b\r\nc\r\n", "s'a\\x00b\\x0d\\x0ac'");
        CHECK("$2\r\n\r\n\r\n", "s'\\x0d\\x0a'");
}

Test(reader, resp3_scalars, .timeout = 30)
{
        CHECK("_\r\n", "nil");
        CHECK("#t\r\n", "true");
        CHECK("#f\r\n", "false");
        CHECK("(3492890328409238509324850943850943825024385\r\n",
              "n'3492890328409238509324850943850943825024385'");
        CHECK("(-12\r\n", "n'-12'");
        CHECK("=15\r\ntxt:Some string\r\n", "vtxt'Some string'");
        CHECK("=4\r\nmkd:\r\n", "vmkd''");
        CHECK("=8\r\ntxt:a\r\nb\r\n", "vtxt'a\\x0d\\x0ab'");
}

Test(reader, doubles, .timeout = 30)
{
        CHECK(",1.23\r\n", "d(1.23)'1.23'");
        CHECK(",-0.5\r\n", "d(-0.5)'-0.5'");
        CHECK(",10\r\n", "d(10)'10'");
        CHECK(",1.5e3\r\n", "d(1500)'1.5e3'");
        CHECK(",-2.5E-3\r\n", "d(-0.0025000000000000001)'-2.5E-3'");
        CHECK(",.5\r\n", "d(0.5)'.5'");
        CHECK(",inf\r\n", "d(inf)'inf'");
        CHECK(",-inf\r\n", "d(-inf)'-inf'");
        CHECK(",+inf\r\n", "d(inf)'+inf'");

        /* nan: its dump's text depends on the sign printf gives it. */
        struct task_redis_reader r;
        struct task_redis_value *v;
        size_t used;

        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        cr_assert_eq(task_redis_reader_feed(&r, ",nan\r\n", 6, &used, &v), 1);
        cr_assert_eq(v->type, TASK_REDIS_DOUBLE);
        cr_assert(isnan(v->dval));
        cr_assert_str_eq(v->str, "nan");
        task_redis_value_free(v);
        cr_assert_eq(task_redis_reader_feed(&r, ",-inf\r\n", 7, &used, &v), 1);
        cr_assert(isinf(v->dval) && v->dval < 0);
        task_redis_value_free(v);
        task_redis_reader_free(&r);
        free(check_reply(",nan\r\n", 6, NULL));
}

Test(reader, aggregates, .timeout = 60)
{
        CHECK("*0\r\n", "*[]");
        CHECK("*-1\r\n", "nil");
        CHECK("*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n", "*[s'foo',s'bar']");
        CHECK("*3\r\n:1\r\n$-1\r\n+x\r\n", "*[i1,nil,+'x']");
        CHECK("*2\r\n*2\r\n:1\r\n:2\r\n*0\r\n", "*[*[i1,i2],*[]]");
        CHECK("%0\r\n", "%[]");
        /* RESP2's null array, and the same for RESP3 aggregates. */
        CHECK("%-1\r\n", "nil");
        CHECK("~-1\r\n", "nil");
        CHECK(">-1\r\n", "nil");
        CHECK("*2\r\n*-1\r\n%-1\r\n", "*[nil,nil]");
        CHECK("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
              "%[+'first',i1,+'second',i2]");
        CHECK("~3\r\n+a\r\n:1\r\n#f\r\n", "~[+'a',i1,false]");
        CHECK(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n",
              ">[s'message',s'ch',s'hello']");
        CHECK("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:5\r\n", "*[*[*[*[*[i5]]]]]");
        /* Everything inside everything. */
        CHECK("*8\r\n%1\r\n~1\r\n_\r\n>1\r\n,1.5\r\n(7\r\n=5\r\ntxt:x\r\n"
              "!1\r\nE\r\n#t\r\n$-1\r\n-ERR e\r\n*-1\r\n",
              "*[%[~[nil],>[d(1.5)'1.5']],n'7',vtxt'x',-'E',true,nil,"
              "-'ERR e',nil]");
}

Test(reader, attributes_are_dropped, .timeout = 60)
{
        /* The RESP3 spec's example: an attribute before a reply. */
        CHECK("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb"
              "\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
              "*[i2039123,i9543892]");
        /* Inside an aggregate, before an element; nested; empty. */
        CHECK("*2\r\n|1\r\n+k\r\n*1\r\n:1\r\n:5\r\n:6\r\n", "*[i5,i6]");
        CHECK("|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n+d\r\n$1\r\nz\r\n", "s'z'");
        CHECK("|0\r\n:3\r\n", "i3");
        CHECK("%1\r\n|1\r\n+x\r\n+y\r\n+k\r\n|1\r\n+p\r\n+q\r\n+v\r\n",
              "%[+'k',+'v']");
}

/* ---- Several replies, big replies ------------------------------------------- */

/* The inputs of the tests above, with their dumps. */
static const struct {
        const char *in;
        size_t len;
        const char *want;
} samples[] = {
#define S(lit, want)                                                           \
        {                                                                      \
                lit, sizeof(lit) - 1, want                                     \
        }
    S("+OK\r\n", "+'OK'"),
    S("-ERR x\r\n", "-'ERR x'"),
    S(":-42\r\n", "i-42"),
    S("$5\r\nhe\0lo\r\n", "s'he\\x00lo'"),
    S("$-1\r\n", "nil"),
    S("*-1\r\n", "nil"),
    S("*0\r\n", "*[]"),
    S("_\r\n", "nil"),
    S("#t\r\n", "true"),
    S(",2.5\r\n", "d(2.5)'2.5'"),
    S("(123\r\n", "n'123'"),
    S("=7\r\ntxt:abc\r\n", "vtxt'abc'"),
    S("!3\r\nERR\r\n", "-'ERR'"),
    S("%1\r\n+k\r\n*2\r\n:1\r\n:2\r\n", "%[+'k',*[i1,i2]]"),
    S("~2\r\n+a\r\n+b\r\n", "~[+'a',+'b']"),
    S(">2\r\n+pong\r\n$0\r\n\r\n", ">[+'pong',s'']"),
    S("|1\r\n+a\r\n+b\r\n:9\r\n", "i9"),
    S("*2\r\n*1\r\n$1\r\nx\r\n_\r\n", "*[*[s'x'],nil]"),
#undef S
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

/* All samples, @reps times over, in one buffer. */
static char *samples_concat(int reps, size_t *len)
{
        size_t n = 0, off = 0;
        char *buf;

        for (size_t i = 0; i < NSAMPLES; i++)
                n += samples[i].len;
        buf = malloc(n * (size_t)reps);
        cr_assert_not_null(buf);
        for (int k = 0; k < reps; k++)
                for (size_t i = 0; i < NSAMPLES; i++) {
                        memcpy(buf + off, samples[i].in, samples[i].len);
                        off += samples[i].len;
                }
        *len = off;
        return buf;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
        uint64_t x = rng_state;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return rng_state = x;
}

Test(reader, samples_each_way, .timeout = 60)
{
        for (size_t i = 0; i < NSAMPLES; i++)
                free(check_reply(samples[i].in, samples[i].len,
                                 samples[i].want));
}

Test(reader, many_replies_in_one_buffer, .timeout = 60)
{
        size_t len;
        char *buf = samples_concat(5, &len);
        struct task_redis_reader r, rs;

        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        cr_assert_eq(task_redis_reader_init(&rs, NULL), 0);
        /* Chunks of 1..64 bytes (and the whole buffer once): replies come
         * out in order, each dump as expected, skip in step. */
        for (size_t chunk = 0; chunk <= 64; chunk++) {
                size_t off = 0, next = 0, nskip = 0;

                while (off < len) {
                        size_t n = chunk ? chunk : len;
                        size_t used, c = 0;

                        if (n > len - off)
                                n = len - off;
                        while (c < n) {
                                struct task_redis_value *v;
                                int rc = task_redis_reader_feed(
                                    &r, buf + off + c, n - c, &used, &v);

                                cr_assert_geq(rc, 0, "rc %d", rc);
                                c += used;
                                if (rc == 0)
                                        break;
                                char *d = dump(v);

                                cr_assert_str_eq(d,
                                                 samples[next % NSAMPLES].want,
                                                 "reply %zu (chunk %zu): %s",
                                                 next, chunk, d);
                                free(d);
                                task_redis_value_free(v);
                                next++;
                        }
                        cr_assert_eq(c, n);
                        for (c = 0; c < n;) {
                                enum task_redis_type t;
                                int rc = task_redis_reader_skip(
                                    &rs, buf + off + c, n - c, &used, &t);

                                cr_assert_geq(rc, 0);
                                c += used;
                                if (rc == 0)
                                        break;
                                cr_assert_eq(
                                    t,
                                    dump_type(samples[nskip % NSAMPLES].want));
                                nskip++;
                        }
                        off += n;
                }
                cr_assert_eq(next, 5 * NSAMPLES);
                cr_assert_eq(nskip, 5 * NSAMPLES);
        }
        /* Random chunks, both readers. */
        for (int round = 0; round < 200; round++) {
                size_t off = 0, next = 0, nskip = 0, off2 = 0;

                while (off < len) {
                        size_t n = 1 + rng() % 40, used;
                        struct task_redis_value *v;

                        if (n > len - off)
                                n = len - off;
                        int rc =
                            task_redis_reader_feed(&r, buf + off, n, &used, &v);

                        cr_assert_geq(rc, 0);
                        if (rc == 1) {
                                char *d = dump(v);

                                cr_assert_str_eq(d,
                                                 samples[next % NSAMPLES].want);
                                free(d);
                                task_redis_value_free(v);
                                next++;
                        }
                        off += used;
                }
                while (off2 < len) {
                        size_t n = 1 + rng() % 40, used;

                        if (n > len - off2)
                                n = len - off2;
                        int rc = task_redis_reader_skip(&rs, buf + off2, n,
                                                        &used, NULL);

                        cr_assert_geq(rc, 0);
                        nskip += (size_t)rc;
                        off2 += used;
                }
                cr_assert_eq(next, 5 * NSAMPLES);
                cr_assert_eq(nskip, 5 * NSAMPLES);
        }
        task_redis_reader_free(&r);
        task_redis_reader_free(&rs);
        free(buf);
}

/* Appends to a growing buffer. */
static void b_add(char **b, size_t *len, size_t *cap, const char *s, size_t n)
{
        if (*len + n > *cap) {
                *cap = (*cap ? *cap : 1024);
                while (*cap < *len + n)
                        *cap *= 2;
                *b = realloc(*b, *cap);
                cr_assert_not_null(*b);
        }
        memcpy(*b + *len, s, n);
        *len += n;
}

/* Reads @in with a fresh reader in random chunks (up to @maxchunk). */
static struct task_redis_value *read_chunks(const char *in, size_t len,
                                            size_t maxchunk)
{
        struct task_redis_reader r;
        struct task_redis_value *v = NULL;
        size_t off = 0, used;
        int rc = 0;

        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        while (off < len) {
                size_t n = 1 + rng() % maxchunk;

                if (n > len - off)
                        n = len - off;
                rc = task_redis_reader_feed(&r, in + off, n, &used, &v);
                cr_assert_geq(rc, 0, "rc %d at %zu of %zu", rc, off, len);
                off += used;
                if (rc == 1)
                        break;
        }
        cr_assert_eq(rc, 1);
        cr_assert_eq(off, len);
        task_redis_reader_free(&r);
        return v;
}

Test(reader, long_arrays_grow, .timeout = 60)
{
        /* Longer than the reader allocates at the header: the element
         * array grows while nested replies and strings are placed. */
        const size_t n = 20000;
        char *b = NULL, tmp[64];
        size_t len = 0, cap = 0;

        snprintf(tmp, sizeof(tmp), "*%zu\r\n", n);
        b_add(&b, &len, &cap, tmp, strlen(tmp));
        for (size_t i = 0; i < n; i++) {
                if (i % 1000 == 7)
                        snprintf(tmp, sizeof(tmp),
                                 "%%1\r\n$3\r\nkey\r\n*1\r\n:%zu\r\n", i);
                else if (i % 2)
                        snprintf(tmp, sizeof(tmp), ":%zu\r\n", i);
                else
                        snprintf(
                            tmp, sizeof(tmp), "$%zu\r\nv%.*s\r\n", 1 + i % 50,
                            (int)(i % 50),
                            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
                b_add(&b, &len, &cap, tmp, strlen(tmp));
        }
        for (int way = 0; way < 3; way++) {
                struct task_redis_value *v = read_chunks(b, len,
                                                         way == 0   ? len
                                                         : way == 1 ? 7
                                                                    : 4096);

                cr_assert_eq(v->type, TASK_REDIS_ARRAY);
                cr_assert_eq(v->n, n);
                for (size_t i = 0; i < n; i++) {
                        const struct task_redis_value *e = &v->elem[i];

                        if (i % 1000 == 7) {
                                cr_assert_eq(e->type, TASK_REDIS_MAP);
                                cr_assert_eq(e->n, 2);
                                cr_assert_str_eq(e->elem[0].str, "key");
                                cr_assert_eq(e->elem[1].elem[0].integer,
                                             (int64_t)i);
                        } else if (i % 2) {
                                cr_assert_eq(e->type, TASK_REDIS_INTEGER);
                                cr_assert_eq(e->integer, (int64_t)i);
                        } else {
                                cr_assert_eq(e->type, TASK_REDIS_STRING);
                                cr_assert_eq(e->len, 1 + i % 50);
                                cr_assert_eq(e->str[0], 'v');
                        }
                }
                task_redis_value_free(v);
        }
        /* And skip counts it as one array. */
        struct task_redis_reader r;
        enum task_redis_type t;
        size_t used;

        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        cr_assert_eq(task_redis_reader_skip(&r, b, len, &used, &t), 1);
        cr_assert_eq(used, len);
        cr_assert_eq(t, TASK_REDIS_ARRAY);
        task_redis_reader_free(&r);
        free(b);
}

Test(reader, big_bulks, .timeout = 60)
{
        const size_t sizes[] = {16383, 16384, 100000, 3u << 20};

        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
                size_t n = sizes[k], len = 0, cap = 0;
                char *b = NULL, tmp[32];

                /* Alone, and inside an array next to small ones. */
                snprintf(tmp, sizeof(tmp), "*3\r\n+a\r\n$%zu\r\n", n);
                b_add(&b, &len, &cap, tmp, strlen(tmp));
                for (size_t i = 0; i < n; i++) {
                        char c = (char)(i * 7);

                        b_add(&b, &len, &cap, &c, 1);
                }
                b_add(&b, &len, &cap, "\r\n$1\r\nz\r\n", 9);
                for (int way = 0; way < 2; way++) {
                        struct task_redis_value *v =
                            read_chunks(b, len, way ? 1000 : len);

                        cr_assert_eq(v->n, 3);
                        cr_assert_eq(v->elem[1].len, n);
                        for (size_t i = 0; i < n; i++)
                                cr_assert_eq(v->elem[1].str[i], (char)(i * 7));
                        cr_assert_eq(v->elem[1].str[n], '\0');
                        cr_assert_str_eq(v->elem[2].str, "z");
                        task_redis_value_free(v);
                }
                struct task_redis_value *v =
                    read_chunks(b + 8, len - 8 - 7, 777);

                cr_assert_eq(v->type, TASK_REDIS_STRING);
                cr_assert_eq(v->len, n);
                task_redis_value_free(v);
                free(b);
        }
}

Test(reader, deep_nesting_to_the_limit, .timeout = 30)
{
        /* 64 levels (the default) are fine; 65 are -E2BIG. */
        for (int depth = 63; depth <= 65; depth++) {
                char *b = NULL;
                size_t len = 0, cap = 0;

                for (int i = 0; i < depth; i++)
                        b_add(&b, &len, &cap, "*1\r\n", 4);
                b_add(&b, &len, &cap, ":1\r\n", 4);

                char *d;
                enum task_redis_type t;
                int want = depth <= 64 ? 1 : -E2BIG;

                cr_assert_eq(read_split(b, len, 0, 0, NULL, &d), want);
                if (want == 1) {
                        cr_assert_eq(strlen(d), 2 + 3 * (size_t)depth);
                        free(d);
                }
                cr_assert_eq(read_split(b, len, 0, 1, NULL, &d), want);
                free(d);
                cr_assert_eq(skip_split(b, len, 0, 0, NULL, &t), want);
                cr_assert_eq(skip_split(b, len, 0, 3, NULL, &t), want);
                free(b);
        }
}

/* ---- Bad input and limits ---------------------------------------------------- */

/* @in must fail with @err however it is fed, in feed and in skip, and
 * leave the reader reset (the next reply reads). */
static void check_error(const char *in, size_t len,
                        const struct task_redis_reader_opts *o, int err)
{
        struct task_redis_reader r;
        struct task_redis_value *v;
        char *d;
        enum task_redis_type t;
        size_t used;
        int rc;

        for (size_t k = 0; k <= len; k++) {
                rc = read_split(in, len, k, 0, o, &d);
                cr_assert_eq(rc, err, "%.*s split at %zu: rc %d, want %d",
                             (int)len, in, k, rc, err);
                rc = skip_split(in, len, k, 0, o, &t);
                cr_assert_eq(rc, err, "skip %.*s split at %zu: rc %d", (int)len,
                             in, k, rc);
        }
        cr_assert_eq(read_split(in, len, 0, 1, o, &d), err);
        cr_assert_eq(skip_split(in, len, 0, 1, o, &t), err);

        /* After the error, a reset reader reads the next reply. */
        cr_assert_eq(task_redis_reader_init(&r, o), 0);
        rc = task_redis_reader_feed(&r, in, len, &used, &v);
        cr_assert_eq(rc, err);
        task_redis_reader_reset(&r);
        cr_assert_eq(task_redis_reader_feed(&r, "+OK\r\n", 5, &used, &v), 1);
        cr_assert_str_eq(v->str, "OK");
        task_redis_value_free(v);
        rc = task_redis_reader_skip(&r, in, len, &used, &t);
        cr_assert_eq(rc, err);
        task_redis_reader_reset(&r);
        cr_assert_eq(task_redis_reader_skip(&r, ":1\r\n", 4, &used, &t), 1);
        cr_assert_eq(t, TASK_REDIS_INTEGER);
        task_redis_reader_free(&r);
}

#define BAD(lit) check_error(lit, sizeof(lit) - 1, NULL, -EPROTO)
#define ERR(lit, o, err) check_error(lit, sizeof(lit) - 1, o, err)

Test(reader, garbage_is_eproto, .timeout = 60)
{
        BAD("@");
        BAD("hello\r\n");
        BAD("\r\n");
        BAD(" +OK\r\n");
        BAD("+OK\rX");
        BAD("+OK\r\r\n");
        BAD("-ERR\rx\r\n");
        BAD("#x\r\n");
        BAD("#tt\r\n");
        BAD("#t\n");
        BAD("_x\r\n");
        BAD("_\n");
        BAD("$3\r\nfooXY");
        BAD("$3\r\nfoo\rX");
        BAD("$3\r\nfoo\n");
        BAD("*1\r\n@");
        BAD("*2\r\n:1\r\nxx");
        /* RESP3 streamed strings and aggregates. */
        BAD("$?\r\n;3\r\nfoo\r\n;0\r\n");
        BAD("*?\r\n:1\r\n.\r\n");
        /* Verbatim strings need "fmt:". */
        BAD("=3\r\nabc\r\n");
        BAD("=5\r\ntxt;x\r\n");
        BAD("=4\r\ntxt\r\n\r\n");
}

Test(reader, bad_numbers_are_eproto, .timeout = 60)
{
        BAD(":\r\n");
        BAD(":-\r\n");
        BAD(":+\r\n");
        BAD(":abc\r\n");
        BAD(": 1\r\n");
        BAD(":1 \r\n");
        BAD(":1-\r\n");
        BAD(":--1\r\n");
        BAD(":1.5\r\n");
        BAD(":1\n");
        BAD(":1\r\r\n");
        BAD(":9223372036854775808\r\n");
        BAD(":-9223372036854775809\r\n");
        BAD(":99999999999999999999999999\r\n");
        /* Lengths: only "-1" may be negative, and only where RESP has a
         * null; no '+'. */
        BAD("$-2\r\n");
        BAD("$-0\r\n");
        BAD("$-10\r\n");
        BAD("$+3\r\nfoo\r\n");
        BAD("$\r\n");
        BAD("$3x\r\n");
        BAD("*-2\r\n");
        BAD("*-99999999999999999999999\r\n");
        BAD("!-1\r\n");
        BAD("=-1\r\n");
        BAD("|-1\r\n");
        BAD("*1a\r\n");
        /* Doubles and big numbers must look like ones. */
        BAD(",\r\n");
        BAD(",abc\r\n");
        BAD(",1.2.3\r\n");
        BAD(",1e\r\n");
        BAD(",1e+\r\n");
        BAD(",-\r\n");
        BAD(",.\r\n");
        BAD(",infinity\r\n");
        BAD(",in\r\n");
        BAD(",na\r\n");
        BAD(",0x10\r\n");
        BAD(", 1\r\n");
        BAD("(\r\n");
        BAD("(-\r\n");
        BAD("(12a\r\n");
        BAD("(1.5\r\n");
}

Test(reader, limits_are_e2big, .timeout = 60)
{
        struct task_redis_reader_opts o = {
            .max_bulk = 10, .max_elems = 4, .max_depth = 3};
        char *d;

        /* At the limits: fine. */
        cr_assert_eq(read_split("$10\r\n0123456789\r\n", 17, 0, 0, &o, &d), 1);
        free(d);
        cr_assert_eq(read_split("+0123456789\r\n", 13, 0, 0, &o, &d), 1);
        free(d);
        cr_assert_eq(
            read_split("*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n", 20, 0, 0, &o, &d), 1);
        free(d);
        cr_assert_eq(
            read_split("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", 20, 0, 0, &o, &d), 1);
        free(d);
        cr_assert_eq(read_split("*1\r\n*1\r\n*1\r\n:1\r\n", 16, 0, 0, &o, &d),
                     1);
        free(d);
        /* Beyond. */
        ERR("$11\r\n", &o, -E2BIG);
        ERR("!11\r\n", &o, -E2BIG);
        ERR("=100\r\n", &o, -E2BIG);
        ERR("+01234567890\r\n", &o, -E2BIG);
        ERR("-01234567890", &o, -E2BIG);
        ERR(",1234567890.5\r\n", &o, -E2BIG);
        ERR("*5\r\n", &o, -E2BIG);
        ERR("~5\r\n", &o, -E2BIG);
        ERR(">5\r\n", &o, -E2BIG);
        ERR("%3\r\n", &o, -E2BIG);
        ERR("|3\r\n", &o, -E2BIG);
        ERR("*1\r\n*1\r\n*1\r\n*1\r\n", &o, -E2BIG);
        ERR("*1\r\n*1\r\n*1\r\n*0\r\n", &o, -E2BIG);
        ERR("*1\r\n*1\r\n*1\r\n|1\r\n", &o, -E2BIG);
        /* The defaults: 512 MiB, 2^24 elements, whatever the digits. */
        ERR("$536870913\r\n", NULL, -E2BIG);
        ERR("*16777217\r\n", NULL, -E2BIG);
        ERR("$99999999999999999999999999\r\n", NULL, -E2BIG);
        ERR("*184467440737095516160\r\n", NULL, -E2BIG);
        /* What is announced within the limits costs no more than the
         * reader's start: "*16777216" does not allocate 16M elements. */
        struct task_redis_reader r;
        struct task_redis_value *v;
        size_t used;

        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        cr_assert_eq(
            task_redis_reader_feed(&r, "*16777216\r\n:1\r\n", 15, &used, &v),
            0);
        task_redis_reader_free(&r);
}

Test(reader, garbage_after_a_reply, .timeout = 30)
{
        struct task_redis_reader r;
        struct task_redis_value *v;
        size_t used;

        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        cr_assert_eq(task_redis_reader_feed(&r, "+OK\r\n@x", 7, &used, &v), 1);
        cr_assert_eq(used, 5);
        task_redis_value_free(v);
        cr_assert_eq(task_redis_reader_feed(&r, "@x", 2, &used, &v), -EPROTO);
        task_redis_reader_free(&r);
}

Test(reader, bad_arguments, .timeout = 30)
{
        struct task_redis_reader r;
        struct task_redis_value *v = (void *)1;
        size_t used = 99;

        cr_assert_eq(task_redis_reader_init(NULL, NULL), -EINVAL);
        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        cr_assert_eq(task_redis_reader_feed(NULL, "+", 1, &used, &v), -EINVAL);
        cr_assert_eq(task_redis_reader_feed(&r, NULL, 1, &used, &v), -EINVAL);
        cr_assert_eq(task_redis_reader_feed(&r, "+", 1, &used, NULL), -EINVAL);
        cr_assert_eq(task_redis_reader_skip(NULL, "+", 1, &used, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_reader_skip(&r, NULL, 1, &used, NULL), -EINVAL);
        /* Nothing to read is no error. */
        cr_assert_eq(task_redis_reader_feed(&r, NULL, 0, &used, &v), 0);
        cr_assert_eq(used, 0);
        cr_assert_null(v);
        cr_assert_eq(task_redis_reader_skip(&r, "", 0, &used, NULL), 0);
        /* NULL is fine where the header says so. */
        task_redis_value_free(NULL);
        task_redis_reader_reset(NULL);
        task_redis_reader_free(NULL);
        task_redis_reader_free(&r);
        /* Freed, it may be init'ed again. */
        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        task_redis_reader_free(&r);
}

Test(reader, reset_drops_a_partial_reply, .timeout = 30)
{
        struct task_redis_reader r;
        struct task_redis_value *v;
        size_t used;

        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        cr_assert_eq(
            task_redis_reader_feed(&r, "*3\r\n$5\r\nab", 10, &used, &v), 0);
        task_redis_reader_reset(&r);
        cr_assert_eq(task_redis_reader_feed(&r, ":2\r\n", 4, &used, &v), 1);
        cr_assert_eq(v->integer, 2);
        task_redis_value_free(v);
        cr_assert_eq(task_redis_reader_skip(&r, "*3\r\n+a", 6, &used, NULL), 0);
        task_redis_reader_reset(&r);
        cr_assert_eq(task_redis_reader_feed(&r, ":3\r\n", 4, &used, &v), 1);
        cr_assert_eq(v->integer, 3);
        task_redis_value_free(v);
        /* Freed with a partial reply inside: nothing leaks (ASan). */
        cr_assert_eq(
            task_redis_reader_feed(&r, "*2\r\n+abc\r\n+de", 13, &used, &v), 0);
        task_redis_reader_free(&r);
}

/* ---- The value API ---------------------------------------------------------- */

Test(value, type_names_and_errors, .timeout = 30)
{
        struct task_redis_reader r;
        struct task_redis_value *v;
        size_t used;

        cr_assert_str_eq(task_redis_type_name(TASK_REDIS_STRING), "string");
        cr_assert_str_eq(task_redis_type_name(TASK_REDIS_NIL), "nil");
        cr_assert_str_eq(task_redis_type_name(TASK_REDIS_ARRAY), "array");
        cr_assert_str_eq(task_redis_type_name(TASK_REDIS_MAP), "map");
        cr_assert_str_eq(task_redis_type_name(TASK_REDIS_ERROR), "error");
        cr_assert_str_eq(task_redis_type_name(TASK_REDIS_PUSH), "push");
        cr_assert_str_eq(task_redis_type_name((enum task_redis_type)99),
                         "unknown");
        for (int t = TASK_REDIS_NIL; t <= TASK_REDIS_PUSH; t++)
                cr_assert_str_neq(task_redis_type_name(t), "unknown");

        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        cr_assert_eq(task_redis_reader_feed(&r, "-WRONGTYPE Operation\r\n", 22,
                                            &used, &v),
                     1);
        cr_assert(task_redis_value_is_error(v, NULL));
        cr_assert(task_redis_value_is_error(v, "WRONGTYPE"));
        cr_assert_not(task_redis_value_is_error(v, "WRONG"));
        cr_assert_not(task_redis_value_is_error(v, "ERR"));
        task_redis_value_free(v);
        cr_assert_eq(task_redis_reader_feed(&r, "!3\r\nERR\r\n", 9, &used, &v),
                     1);
        cr_assert(task_redis_value_is_error(v, "ERR"));
        task_redis_value_free(v);
        cr_assert_eq(
            task_redis_reader_feed(&r, "*1\r\n-ERR x\r\n", 12, &used, &v), 1);
        cr_assert_not(task_redis_value_is_error(v, NULL));
        cr_assert(task_redis_value_is_error(&v->elem[0], "ERR"));
        task_redis_value_free(v);
        cr_assert_eq(task_redis_reader_feed(&r, "+ERR\r\n", 6, &used, &v), 1);
        cr_assert_not(task_redis_value_is_error(v, NULL));
        task_redis_value_free(v);
        cr_assert_not(task_redis_value_is_error(NULL, NULL));
        task_redis_reader_free(&r);
}

/* ---- The encoder ---------------------------------------------------------- */

Test(encode, multibulk_bytes, .timeout = 30)
{
        const char *argv[] = {"SET", "key", "value"};
        const char want[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        char out[128];

        memset(out, '#', sizeof(out));
        cr_assert_eq(task_redis_encode(out, sizeof(out), 3, argv, NULL),
                     (long long)sizeof(want) - 1);
        cr_assert_eq(memcmp(out, want, sizeof(want) - 1), 0);
        cr_assert_eq(out[sizeof(want) - 1], '#');

        /* Exactly enough room; one byte short writes nothing. */
        memset(out, '#', sizeof(out));
        cr_assert_eq(task_redis_encode(out, sizeof(want) - 2, 3, argv, NULL),
                     (long long)sizeof(want) - 1);
        for (size_t i = 0; i < sizeof(out); i++)
                cr_assert_eq(out[i], '#');
        cr_assert_eq(task_redis_encode(out, sizeof(want) - 1, 3, argv, NULL),
                     (long long)sizeof(want) - 1);
        cr_assert_eq(memcmp(out, want, sizeof(want) - 1), 0);
        /* Sizing call. */
        cr_assert_eq(task_redis_encode(NULL, 0, 3, argv, NULL),
                     (long long)sizeof(want) - 1);

        const char *one[] = {"PING"};

        cr_assert_eq(task_redis_encode(out, sizeof(out), 1, one, NULL), 14);
        cr_assert_eq(memcmp(out, "*1\r\n$4\r\nPING\r\n", 14), 0);
}

Test(encode, bad_arguments, .timeout = 30)
{
        const char *argv[] = {"GET", NULL};
        const size_t lens[] = {3, 1};
        const size_t lens0[] = {3, 0};
        char out[64];

        cr_assert_eq(task_redis_encode(out, sizeof(out), 0, argv, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_encode(out, sizeof(out), -1, argv, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_encode(out, sizeof(out), 1, NULL, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_encode(NULL, 10, 1, argv, NULL), -EINVAL);
        cr_assert_eq(task_redis_encode(out, sizeof(out), 2, argv, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_encode(out, sizeof(out), 2, argv, lens),
                     -EINVAL);
        /* A NULL argument of length 0 is the empty string. */
        cr_assert_eq(task_redis_encode(out, sizeof(out), 2, argv, lens0), 19);
        cr_assert_eq(memcmp(out, "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", 19), 0);
}

/* Encodes @argv, reads it back as a reply and checks it is an array of
 * the same strings. */
static void round_trip(int argc, const char *const *argv, const size_t *lens)
{
        long long need = task_redis_encode(NULL, 0, argc, argv, lens);
        char *buf;
        char *d;

        cr_assert_gt(need, 0);
        buf = malloc((size_t)need + 1);
        cr_assert_not_null(buf);
        buf[need] = '#';
        cr_assert_eq(task_redis_encode(buf, (size_t)need, argc, argv, lens),
                     need);
        cr_assert_eq(buf[need], '#');

        struct task_redis_value *v =
            read_chunks(buf, (size_t)need, 1 + rng() % 64);

        cr_assert_eq(v->type, TASK_REDIS_ARRAY);
        cr_assert_eq(v->n, (size_t)argc);
        for (int i = 0; i < argc; i++) {
                size_t len = lens ? lens[i] : strlen(argv[i]);

                cr_assert_eq(v->elem[i].type, TASK_REDIS_STRING);
                cr_assert_eq(v->elem[i].len, len);
                cr_assert(len == 0 ||
                          memcmp(v->elem[i].str, argv[i], len) == 0);
        }
        task_redis_value_free(v);
        if (need < 4096) {
                d = check_reply(buf, (size_t)need, NULL);
                free(d);
        }
        free(buf);
}

Test(encode, round_trip_binary_safe, .timeout = 60)
{
        const char *a1[] = {"SET", "k", "v"};
        const char *a2[] = {"SET", "a\0b\r\nc", "", "\r\n", "$3\r\n"};
        const size_t l2[] = {3, 6, 0, 2, 4};

        round_trip(3, a1, NULL);
        round_trip(5, a2, l2);

        /* Lengths around every digit count, and a large argument. */
        static char big[1 << 20];
        const size_t sizes[] = {0,    1,     9,     10,     11,
                                99,   100,   101,   999,    1000,
                                9999, 10000, 99999, 100000, sizeof(big)};

        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (char)(rng() & 0xff);
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
                const char *a[] = {"APPEND", "key", big};
                const size_t l[] = {6, 3, sizes[k]};

                round_trip(3, a, l);
        }
        /* Many arguments (argc of several digits). */
        const char *many[1200];
        size_t ml[1200];

        for (int i = 0; i < 1200; i++) {
                many[i] = big + i;
                ml[i] = (size_t)i % 13;
        }
        round_trip(1, many, ml);
        round_trip(9, many, ml);
        round_trip(10, many, ml);
        round_trip(1200, many, ml);
}

/* ---- Out of memory ---------------------------------------------------------- */

/*
 * Reads @in (fed in pieces of @step bytes, 0: whole) with the Nth
 * allocation failing, for every N until it succeeds: each failure must
 * be -ENOMEM, leak nothing, and leave a reader that reads the next reply.
 */
static void check_enomem(const char *in, size_t len, size_t step)
{
        for (long budget = 0;; budget++) {
                struct task_redis_reader r;
                struct task_redis_value *v = NULL;
                size_t off = 0, used;
                int rc = 0;

                cr_assert_lt(budget, 1000, "never succeeds");
                faults_arm(budget);
                cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
                while (off < len) {
                        size_t n = step && step < len - off ? step : len - off;

                        rc = task_redis_reader_feed(&r, in + off, n, &used, &v);
                        if (rc != 0)
                                break;
                        off += n;
                }
                if (rc == 1) {
                        char *d;

                        /* Every reply allocates: no budget, no reply. */
                        cr_assert_gt(budget, 0);
                        cr_assert_eq(off + used, len);
                        rdt_budget = -1;
                        d = dump(v);
                        free(d);
                        task_redis_value_free(v);
                        task_redis_reader_free(&r);
                        faults_disarm();
                        cr_assert_eq(rdt_live, 0, "%ld blocks leaked",
                                     rdt_live);
                        return;
                }
                cr_assert_eq(rc, -ENOMEM, "budget %ld: rc %d", budget, rc);
                /* The reader is reset and works again. */
                rdt_budget = -1;
                cr_assert_eq(
                    task_redis_reader_feed(&r, "*1\r\n+ok\r\n", 9, &used, &v),
                    1);
                cr_assert_str_eq(v->elem[0].str, "ok");
                task_redis_value_free(v);
                task_redis_reader_free(&r);
                faults_disarm();
                cr_assert_eq(rdt_live, 0, "budget %ld: %ld blocks leaked",
                             budget, rdt_live);
        }
}

Test(reader, enomem_leaks_nothing, .timeout = 120)
{
        RDT_NEED_FAULTS();
        /* Warm the double parser's C locale (allocated once, for good). */
        free(check_reply(",1.5\r\n", 6, NULL));

        for (size_t i = 0; i < NSAMPLES; i++) {
                check_enomem(samples[i].in, samples[i].len, 0);
                check_enomem(samples[i].in, samples[i].len, 1);
        }
        size_t len;
        char *buf = samples_concat(1, &len);
        char *arr = malloc(len + 16);
        int hdr = snprintf(arr, 16, "*%zu\r\n", NSAMPLES);

        memcpy(arr + hdr, buf, len);
        check_enomem(arr, len + (size_t)hdr, 0);
        check_enomem(arr, len + (size_t)hdr, 1);
        check_enomem(arr, len + (size_t)hdr, 5);
        free(arr);
        free(buf);

        /* A long array that grows, a big bulk. */
        char *b = NULL, tmp[32];
        size_t blen = 0, cap = 0;

        b_add(&b, &blen, &cap, "*5000\r\n", 7);
        for (int i = 0; i < 4999; i++)
                b_add(&b, &blen, &cap, "$1\r\nx\r\n", 7);
        snprintf(tmp, sizeof(tmp), "$%d\r\n", 20000);
        b_add(&b, &blen, &cap, tmp, strlen(tmp));
        for (int i = 0; i < 20000; i++)
                b_add(&b, &blen, &cap, "y", 1);
        b_add(&b, &blen, &cap, "\r\n", 2);
        check_enomem(b, blen, 0);
        check_enomem(b, blen, 4096);
        /* A bulk that grows in its own block as it arrives. */
        blen = 0;
        snprintf(tmp, sizeof(tmp), "*2\r\n:1\r\n$%d\r\n", 5 << 20);
        b_add(&b, &blen, &cap, tmp, strlen(tmp));
        b = realloc(b, blen + (5u << 20) + 2);
        cr_assert_not_null(b);
        memset(b + blen, 'z', 5u << 20);
        blen += 5u << 20;
        memcpy(b + blen, "\r\n", 2);
        blen += 2;
        check_enomem(b, blen, 0);
        check_enomem(b, blen, 300000);
        free(b);
}

Test(reader, steady_state_allocations, .timeout = 30)
{
        RDT_NEED_FAULTS();
        struct task_redis_reader r;
        struct task_redis_value *v;
        size_t len, used, off;
        char *buf = samples_concat(20, &len);

        free(check_reply(",1.5\r\n", 6, NULL));
        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        /* Warm up: the reader's stack and line buffer. */
        for (off = 0; off < len; off += used)
                cr_assert_geq(task_redis_reader_skip(
                                  &r, buf + off, len - off > 3 ? 3 : len - off,
                                  &used, NULL),
                              0);
        for (off = 0; off < len; off += used) {
                int rc = task_redis_reader_feed(
                    &r, buf + off, len - off > 3 ? 3 : len - off, &used, &v);

                cr_assert_geq(rc, 0);
                if (rc)
                        task_redis_value_free(v);
        }
        /* Skip allocates nothing, however the bytes come. */
        faults_arm(0);
        for (int step = 1; step < 20; step++)
                for (off = 0; off < len; off += used) {
                        size_t n =
                            len - off < (size_t)step ? len - off : (size_t)step;
                        cr_assert_geq(task_redis_reader_skip(&r, buf + off, n,
                                                             &used, NULL),
                                      0);
                }
        faults_disarm();
        cr_assert_eq(rdt_allocs, 0);

        /* Feed allocates one block per reply when it comes whole. */
        const struct {
                const char *in;
                size_t len;
        } one[] = {{"+OK\r\n", 5},
                   {"$3\r\nbar\r\n", 9},
                   {":1\r\n", 4},
                   {"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n", 22},
                   {"%1\r\n+a\r\n:1\r\n", 12}};

        for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
                faults_arm(-1);
                cr_assert_eq(task_redis_reader_feed(&r, one[i].in, one[i].len,
                                                    &used, &v),
                             1);
                task_redis_value_free(v);
                faults_disarm();
                cr_assert_eq(rdt_allocs, 1, "%s: %ld allocations", one[i].in,
                             rdt_allocs);
                cr_assert_eq(rdt_live, 0);
        }
        task_redis_reader_free(&r);
        free(buf);
}
