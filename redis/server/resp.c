/*
 * redis/server/resp.c - the RESP request parser and the reply encoder.
 *
 * Parser.  It follows Redis 7.0's processInputBuffer, processInlineBuffer
 * and processMultibulkBuffer (networking.c) decision for decision, so that
 * a client sees the same replies and the same protocol errors:
 *
 *  - A request whose first byte is '*' is a multibulk request; anything
 *    else is an inline one.
 *  - Inline: the line runs to the first '\n' (a '\r' before it is dropped,
 *    so "PING\n" works as "PING\r\n"), and is split by sdssplitargs's
 *    rules: blanks separate arguments; "..." takes \n \r \t \b \a \\ \"
 *    and \xHH escapes (any other escaped character stands for itself);
 *    '...' takes \' only; a quote may start in the middle of an argument;
 *    a closing quote must be followed by a blank or the end of the line,
 *    and an unclosed quote is "unbalanced quotes in request".  No '\n'
 *    within RDS_INLINE_MAX bytes: "too big inline request".  A blank line
 *    is a request of no arguments (skipped).
 *  - Multibulk: "*<count>\r" then, per argument, "$<len>\r" and <len>
 *    bytes.  As in Redis, the byte after each '\r' and the two bytes after
 *    each bulk are skipped without looking at them.  The counts are parsed
 *    by string2ll's strict rules (rds_str2ll).  A count <= 0 is skipped; a
 *    bad one, or one above RDS_MAX_MULTIBULK, is "invalid multibulk
 *    length" (Redis 7.0 itself allows up to INT_MAX; the 1M bound is this
 *    server's, set in resp.h, so that a client cannot make a connection
 *    hold millions of argument slots); a negative, bad or too big bulk
 *    length is "invalid bulk length"; a line other than "$..." where a
 *    bulk length belongs is "expected '$', got 'c'".  Before AUTH, a
 *    count above 10 or a bulk above 16384 bytes is refused as Redis does.
 *    No '\r' within RDS_INLINE_MAX bytes of a count line: "too big mbulk
 *    count string" / "too big bulk count string".
 *
 * Where this differs from Redis: Redis looks for line ends with strchr on
 * its NUL-terminated query buffer, so a NUL byte before the line end hides
 * the line (the request then waits until it is "too big").  Here a NUL is
 * an ordinary byte: inline arguments may contain it, and a multibulk count
 * line with one is simply an invalid number.
 *
 * Incremental, never rescanning: the parser keeps offsets (the buffer may
 * move between calls) of where it is: pos, the start of the line or bulk
 * being read, and nl_scan, where the search for the next line end resumes
 * (memchr from there, never from the line start again); arguments already
 * read are kept as offsets in offs[] and turned into pointers when the
 * request completes.  So a request that arrives a byte at a time costs
 * O(its size) over all calls.  The common count line ("*3\r", "$5\r": a
 * short canonical number) is read digit by digit, which finds its '\r'
 * and its value in one pass, without memchr and rds_str2ll; anything else
 * (and a line not yet complete) takes the memchr path, so this costs at
 * most 19 bytes of look-ahead per call.  Bulk contents are never scanned:
 * the parser jumps over them by their length.  For a big bulk (>=
 * RDS_BIG_ARG) the parser sets p->want to the size the whole request
 * needs, so that the reader can reserve it at once.
 *
 * Memory.  argv/offs grow geometrically as arguments arrive (a multibulk
 * count reserves at most 1024 slots up front, as Redis does, so a bare
 * "*1000000" costs 24 KB, not 24 MB) and are reused by the next request: no
 * allocation per request in steady state.  Arrays beyond RDS_ARGV_KEEP
 * slots, and an inline scratch buffer beyond RDS_IBUF_KEEP bytes, are
 * given back when the next request starts, so one huge request does not
 * pin its memory for the rest of the connection.
 *
 * Encoder.  Each reply reserves exactly the bytes it appends in the output
 * buffer (so a buffer limit refuses exactly what does not fit), writes
 * them in place (numbers by rds_ull_write, no printf except in
 * rds_reply_errorf and for doubles) and commits.  Constant replies are one
 * append.  The first failure is kept in out->err and every later reply is
 * dropped, so a half-built reply is never followed by more output.
 */
#include "resp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* argv/offs slots and inline scratch bytes kept between requests. */
#define RDS_ARGV_KEEP 256
#define RDS_ARGV_MIN 16
#define RDS_IBUF_KEEP 4096
/* Slots a multibulk count reserves before its arguments arrive. */
#define RDS_ARGV_PREALLOC_MAX 1024
/* Redis's limits before authentication. */
#define RDS_UNAUTH_MAX_MULTIBULK 10
#define RDS_UNAUTH_MAX_BULK 16384

enum rds_parse_state {
        RDS_ST_START = 0, /* between requests */
        RDS_ST_INLINE,    /* looking for the inline line's '\n' */
        RDS_ST_COUNT,     /* looking for the "*<count>" line's '\r' */
        RDS_ST_BULKLEN,   /* looking for a "$<len>" line's '\r' */
        RDS_ST_BULK,      /* waiting for bulk_len + 2 bytes at pos */
        RDS_ST_ERROR,     /* a protocol error was reported: sticky */
};

#define RDS_PROTO_ERR(what) "ERR Protocol error: " what

/* ---- Parser ---------------------------------------------------------------- */

int rds_parser_init(struct rds_parser *p)
{
        memset(p, 0, sizeof(*p));
        p->max_bulk_len = RDS_PROTO_MAX_BULK_LEN_DEFAULT;
        p->bulk_len = -1;
        return 0;
}

void rds_parser_free(struct rds_parser *p)
{
        free(p->argv);
        free(p->offs);
        free(p->ibuf);
        p->argv = NULL;
        p->offs = NULL;
        p->ibuf = NULL;
        p->argcap = 0;
        p->ibuf_cap = 0;
        p->argc = 0;
}

/* Give back what one big request grew.  A failed shrink keeps that
 * array larger, which is harmless: argcap is what both arrays hold at
 * least, KEEP slots whichever of the two shrank. */
static void rds_parser_trim(struct rds_parser *p)
{
        if (p->argcap > RDS_ARGV_KEEP) {
                struct rds_arg *a;
                size_t *o;

                a = realloc(p->argv, RDS_ARGV_KEEP * sizeof(*a));
                if (a)
                        p->argv = a;
                o = realloc(p->offs, RDS_ARGV_KEEP * sizeof(*o));
                if (o)
                        p->offs = o;
                p->argcap = RDS_ARGV_KEEP;
        }
        if (p->ibuf_cap > RDS_IBUF_KEEP) {
                free(p->ibuf);
                p->ibuf = NULL;
                p->ibuf_cap = 0;
        }
}

void rds_parser_reset(struct rds_parser *p)
{
        p->state = RDS_ST_START;
        p->pos = 0;
        p->nl_scan = 0;
        p->mb_left = 0;
        p->bulk_len = -1;
        p->argc = 0;
        p->consumed = 0;
        p->want = 0;
        p->error = NULL;
        rds_parser_trim(p);
}

/* Make room for @need arguments.  0 or -ENOMEM (the arrays unchanged in
 * capacity; the parser's state stays consistent). */
static int rds_parser_grow(struct rds_parser *p, size_t need)
{
        size_t cap = p->argcap ? p->argcap : RDS_ARGV_MIN;
        struct rds_arg *a;
        size_t *o;

        while (cap < need)
                cap *= 2;
        if (cap > SIZE_MAX / sizeof(*a))
                return -ENOMEM;
        a = realloc(p->argv, cap * sizeof(*a));
        if (!a)
                return -ENOMEM;
        p->argv = a;
        o = realloc(p->offs, cap * sizeof(*o));
        if (!o)
                return -ENOMEM; /* argv grew; argcap still describes both */
        p->offs = o;
        p->argcap = cap;
        return 0;
}

static inline int rds_parser_reserve(struct rds_parser *p, size_t need)
{
        return need <= p->argcap ? 0 : rds_parser_grow(p, need);
}

static int rds_parse_fail(struct rds_parser *p, const char *msg)
{
        p->error = msg;
        p->state = RDS_ST_ERROR;
        return RDS_PARSE_ERROR;
}

/* A request is complete: report it and get ready for the next one. */
static int rds_parse_done(struct rds_parser *p, size_t consumed)
{
        p->consumed = consumed;
        p->state = RDS_ST_START;
        p->pos = 0;
        p->nl_scan = 0;
        p->bulk_len = -1;
        p->mb_left = 0;
        return RDS_PARSE_OK;
}

/*
 * Split an inline line (@s, @n bytes, without its line end) into
 * arguments in p->ibuf, as sdssplitargs does.  Returns RDS_PARSE_OK,
 * RDS_PARSE_ERROR (unbalanced quotes) or -ENOMEM.
 */
static int rds_split_inline(struct rds_parser *p, const unsigned char *s,
                            size_t n)
{
        const unsigned char *end = s + n;
        unsigned char *w;
        int rc;

        p->argc = 0;
        /* Arguments never take more bytes than the line: one allocation,
         * and the argument pointers into it stay valid. */
        if (n > p->ibuf_cap) {
                unsigned char *b = realloc(p->ibuf, n);

                if (!b)
                        return -ENOMEM;
                p->ibuf = b;
                p->ibuf_cap = n;
        }
        w = p->ibuf;
        for (;;) {
                size_t wlen;

                rc = rds_split_word(&s, end, w, &wlen);
                if (rc == 0)
                        return RDS_PARSE_OK;
                if (rc < 0)
                        goto unbalanced;
                rc = rds_parser_reserve(p, p->argc + 1);
                if (rc < 0)
                        return rc;
                p->argv[p->argc].p = w;
                p->argv[p->argc].len = wlen;
                p->argc++;
                w += wlen;
        }

unbalanced:
        p->argc = 0;
        return rds_parse_fail(p, RDS_PROTO_ERR("unbalanced quotes in request"));
}

static int rds_parse_inline(struct rds_parser *p, const unsigned char *data,
                            size_t len)
{
        const unsigned char *nl;
        size_t nloff, linelen;
        int rc;

        nl = memchr(data + p->nl_scan, '\n', len - p->nl_scan);
        if (!nl) {
                p->nl_scan = len;
                if (len > RDS_INLINE_MAX)
                        return rds_parse_fail(
                            p, RDS_PROTO_ERR("too big inline request"));
                return RDS_PARSE_MORE;
        }
        nloff = (size_t)(nl - data);
        linelen = nloff;
        if (linelen > 0 && data[linelen - 1] == '\r')
                linelen--;
        rc = rds_split_inline(p, data, linelen);
        if (rc != RDS_PARSE_OK) {
                /* -ENOMEM: the next call finds the same line again. */
                p->nl_scan = nloff;
                return rc;
        }
        return rds_parse_done(p, nloff + 1);
}

/* "expected '$', got 'c'", with CR and LF shown as spaces as Redis's
 * addReplyErrorFormat does (and a NUL too, which Redis never gets to
 * report: see the head of this file). */
static int rds_parse_fail_dollar(struct rds_parser *p, unsigned char c)
{
        if (c == '\r' || c == '\n' || c == '\0')
                c = ' ';
        snprintf(p->errbuf, sizeof(p->errbuf),
                 RDS_PROTO_ERR("expected '$', got '%c'"), c);
        return rds_parse_fail(p, p->errbuf);
}

/*
 * The common line, "$3\r" or "*3\r": a canonical decimal of 1 to 18
 * digits (no sign, no leading zero) right after the '$' or '*' at @at - 1,
 * then '\r' and at least one more byte.  Reads it while it looks for the
 * '\r' (the first '\r' after the line start, as memchr would find: digits
 * are not '\r'), and the value is what rds_str2ll would give.  Returns the
 * offset of the '\r', or 0 for anything else (the caller takes the
 * general path, which also handles the errors and a line not complete).
 */
static inline size_t rds_short_num(const unsigned char *data, size_t at,
                                   size_t len, long long *out)
{
        size_t i = at, lim = len - 1; /* room for the byte after '\r' */
        unsigned long long v = 0;

        if (lim > at + 18)
                lim = at + 18;
        while (i < lim && (unsigned)(data[i] - '0') <= 9) {
                v = v * 10 + (unsigned)(data[i] - '0');
                i++;
        }
        if (i == at || i >= len - 1 || data[i] != '\r' ||
            (data[at] == '0' && i - at > 1))
                return 0;
        *out = (long long)v;
        return i;
}

int rds_parse(struct rds_parser *p, const unsigned char *data, size_t len)
{
        const unsigned char *cr;
        struct rds_arg *argv;
        size_t *offs;
        size_t roff, pos, nl, argc, cap, i;
        long long ll, left, blen;
        int rc, state;

        p->want = 0;
        if (p->pos > len || p->nl_scan > len) {
                /* The caller's buffer shrank under a partial request: it
                 * was emptied, so start again from what is there. */
                rds_parser_reset(p);
        }
        switch (p->state) {
        case RDS_ST_START:
                if (len == 0)
                        return RDS_PARSE_MORE;
                if (p->argcap > RDS_ARGV_KEEP || p->ibuf_cap > RDS_IBUF_KEEP)
                        rds_parser_trim(p);
                p->argc = 0;
                p->pos = 0;
                if (data[0] != '*') {
                        p->state = RDS_ST_INLINE;
                        p->nl_scan = 0;
                        return rds_parse_inline(p, data, len);
                }
                p->state = RDS_ST_COUNT;
                p->nl_scan = 1;
                roff = rds_short_num(data, 1, len, &ll);
                if (roff)
                        goto have_count;
                /* fall through */
        case RDS_ST_COUNT:
                cr = memchr(data + p->nl_scan, '\r', len - p->nl_scan);
                if (!cr) {
                        p->nl_scan = len;
                        if (len > RDS_INLINE_MAX)
                                return rds_parse_fail(
                                    p, RDS_PROTO_ERR(
                                           "too big mbulk count string"));
                        return RDS_PARSE_MORE;
                }
                roff = (size_t)(cr - data);
                if (roff + 1 >= len) {
                        /* The byte after '\r' is not there yet. */
                        p->nl_scan = roff;
                        return RDS_PARSE_MORE;
                }
                if (!rds_str2ll(data + 1, roff - 1, &ll))
                        return rds_parse_fail(
                            p, RDS_PROTO_ERR("invalid multibulk length"));
        have_count:
                if (ll > RDS_MAX_MULTIBULK)
                        return rds_parse_fail(
                            p, RDS_PROTO_ERR("invalid multibulk length"));
                if (ll > RDS_UNAUTH_MAX_MULTIBULK && p->unauthenticated)
                        return rds_parse_fail(
                            p,
                            RDS_PROTO_ERR("unauthenticated multibulk length"));
                if (ll <= 0)
                        return rds_parse_done(p, roff + 2);
                rc = rds_parser_reserve(p, ll < RDS_ARGV_PREALLOC_MAX
                                               ? (size_t)ll
                                               : RDS_ARGV_PREALLOC_MAX);
                if (rc < 0) {
                        p->nl_scan = roff; /* retried from the same line */
                        return rc;
                }
                p->mb_left = ll;
                p->pos = roff + 2;
                p->nl_scan = p->pos;
                p->bulk_len = -1;
                p->state = RDS_ST_BULKLEN;
                break;
        case RDS_ST_INLINE:
                return rds_parse_inline(p, data, len);
        case RDS_ST_BULKLEN:
        case RDS_ST_BULK:
                break;
        default:
                return RDS_PARSE_ERROR;
        }

        /*
         * The arguments.  The loop works on locals (stores into argv would
         * otherwise make the compiler reload every field of *p) and saves
         * them back whenever it leaves.  Invariant: pos <= nl <= len.
         */
        pos = p->pos;
        nl = p->nl_scan;
        argc = p->argc;
        left = p->mb_left;
        blen = p->bulk_len;
        state = p->state;
        argv = p->argv;
        offs = p->offs;
        cap = p->argcap;
#define RDS_SAVE()                                                             \
        do {                                                                   \
                p->pos = pos;                                                  \
                p->nl_scan = nl;                                               \
                p->argc = argc;                                                \
                p->mb_left = left;                                             \
                p->bulk_len = blen;                                            \
                p->state = state;                                              \
        } while (0)
        while (left > 0) {
                if (state == RDS_ST_BULKLEN) {
                        if (pos < len && data[pos] == '$' &&
                            (roff = rds_short_num(data, pos + 1, len, &ll))) {
                                /* The common case: no memchr, no str2ll. */
                        } else {
                                cr = memchr(data + nl, '\r', len - nl);
                                if (!cr) {
                                        nl = len;
                                        RDS_SAVE();
                                        if (len - pos > RDS_INLINE_MAX)
                                                return rds_parse_fail(
                                                    p, RDS_PROTO_ERR(
                                                           "too big bulk count "
                                                           "string"));
                                        return RDS_PARSE_MORE;
                                }
                                roff = (size_t)(cr - data);
                                if (roff + 1 >= len) {
                                        nl = roff;
                                        RDS_SAVE();
                                        return RDS_PARSE_MORE;
                                }
                                RDS_SAVE();
                                if (data[pos] != '$')
                                        return rds_parse_fail_dollar(p,
                                                                     data[pos]);
                                if (!rds_str2ll(data + pos + 1, roff - pos - 1,
                                                &ll) ||
                                    ll < 0)
                                        return rds_parse_fail(
                                            p, RDS_PROTO_ERR(
                                                   "invalid bulk length"));
                        }
                        if (ll > p->max_bulk_len) {
                                RDS_SAVE();
                                return rds_parse_fail(
                                    p, RDS_PROTO_ERR("invalid bulk length"));
                        }
                        if (ll > RDS_UNAUTH_MAX_BULK && p->unauthenticated) {
                                RDS_SAVE();
                                return rds_parse_fail(
                                    p, RDS_PROTO_ERR(
                                           "unauthenticated bulk length"));
                        }
                        pos = roff + 2;
                        nl = pos;
                        blen = ll;
                        state = RDS_ST_BULK;
                }
                /* The bulk and the two bytes that end it. */
                if (len - pos < (size_t)blen + 2) {
                        if (blen >= RDS_BIG_ARG)
                                p->want = pos + (size_t)blen + 2;
                        RDS_SAVE();
                        return RDS_PARSE_MORE;
                }
                if (argc == cap) {
                        RDS_SAVE();
                        rc = rds_parser_grow(p, argc + 1);
                        if (rc < 0)
                                return rc; /* state saved: retried as is */
                        argv = p->argv;
                        offs = p->offs;
                        cap = p->argcap;
                }
                offs[argc] = pos;
                argv[argc].len = (size_t)blen;
                argc++;
                pos += (size_t)blen + 2;
                nl = pos;
                blen = -1;
                left--;
                state = RDS_ST_BULKLEN;
        }
#undef RDS_SAVE
        for (i = 0; i < argc; i++)
                argv[i].p = data + offs[i];
        p->argc = argc;
        return rds_parse_done(p, pos);
}

/* ---- Encoder --------------------------------------------------------------- */

void rds_out_init(struct rds_out *o)
{
        task_buf_init(&o->buf);
        o->proto = 2;
        o->err = 0;
}

void rds_out_free(struct rds_out *o)
{
        task_buf_free(&o->buf);
}

/* Room for exactly @n bytes at the end of the output, or NULL (the error
 * is kept in o->err and the reply is dropped). */
static inline unsigned char *rds_out_room(struct rds_out *o, size_t n)
{
        int rc;

        if (o->err)
                return NULL;
        rc = task_buf_reserve(&o->buf, n);
        if (rc < 0) {
                o->err = rc;
                return NULL;
        }
        return task_buf_spare(&o->buf);
}

static inline void rds_out_commit(struct rds_out *o, size_t n)
{
        int rc = task_buf_commit(&o->buf, n);

        if (rc < 0)
                o->err = rc;
}

static inline void rds_out_put(struct rds_out *o, const void *p, size_t n)
{
        int rc;

        if (o->err)
                return;
        rc = task_buf_append(&o->buf, p, n);
        if (rc < 0)
                o->err = rc;
}

/* Bytes of "<prefix><n>\r\n" for a length or count. */
static inline size_t rds_hdr_len(unsigned long long n)
{
        return 1 + rds_ull_digits(n) + 2;
}

/* Write "<prefix><n>\r\n" at @w; returns the end. */
static inline unsigned char *rds_hdr_write(unsigned char *w, char prefix,
                                           unsigned long long n)
{
        unsigned d = rds_ull_digits(n);

        *w++ = (unsigned char)prefix;
        rds_ull_write((char *)w, n, d);
        w += d;
        *w++ = '\r';
        *w++ = '\n';
        return w;
}

static void rds_reply_hdr(struct rds_out *o, char prefix, unsigned long long n)
{
        unsigned char *w = rds_out_room(o, rds_hdr_len(n));

        if (w)
                rds_out_commit(o, (size_t)(rds_hdr_write(w, prefix, n) - w));
}

void rds_reply_raw(struct rds_out *o, const void *p, size_t len)
{
        rds_out_put(o, p, len);
}

void rds_reply_simple(struct rds_out *o, const char *s)
{
        size_t n = strlen(s);
        unsigned char *w = rds_out_room(o, n + 3);

        if (!w)
                return;
        w[0] = '+';
        memcpy(w + 1, s, n);
        w[n + 1] = '\r';
        w[n + 2] = '\n';
        rds_out_commit(o, n + 3);
}

void rds_reply_ok(struct rds_out *o)
{
        rds_out_put(o, "+OK\r\n", 5);
}

/* Append "-" @msg "\r\n" with CR and LF in @msg turned into spaces: an
 * error is one line, whatever a command put in it. */
static void rds_reply_error_len(struct rds_out *o, const char *msg, size_t n)
{
        unsigned char *w = rds_out_room(o, n + 3);
        size_t i;

        if (!w)
                return;
        w[0] = '-';
        memcpy(w + 1, msg, n);
        for (i = 1; i <= n; i++)
                if (w[i] == '\r' || w[i] == '\n')
                        w[i] = ' ';
        w[n + 1] = '\r';
        w[n + 2] = '\n';
        rds_out_commit(o, n + 3);
}

void rds_reply_error(struct rds_out *o, const char *msg)
{
        rds_reply_error_len(o, msg, strlen(msg));
}

void rds_reply_errorf(struct rds_out *o, const char *fmt, ...)
{
        char small[256], *buf = small;
        va_list ap;
        int n;

        if (o->err)
                return;
        va_start(ap, fmt);
        n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0) {
                o->err = -EINVAL;
                return;
        }
        if ((size_t)n >= sizeof(small)) {
                buf = malloc((size_t)n + 1);
                if (!buf) {
                        o->err = -ENOMEM;
                        return;
                }
                va_start(ap, fmt);
                vsnprintf(buf, (size_t)n + 1, fmt, ap);
                va_end(ap);
        }
        rds_reply_error_len(o, buf, (size_t)n);
        if (buf != small)
                free(buf);
}

void rds_reply_arity_error(struct rds_out *o, const struct rds_arg *name)
{
        static const char head[] = "-ERR wrong number of arguments for '";
        static const char tail[] = "' command\r\n";
        size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1, i;
        unsigned char *w = rds_out_room(o, hl + name->len + tl);

        if (!w)
                return;
        memcpy(w, head, hl);
        for (i = 0; i < name->len; i++) {
                unsigned char c = name->p[i];

                if (c >= 'A' && c <= 'Z')
                        c = (unsigned char)(c + ('a' - 'A'));
                else if (c == '\r' || c == '\n')
                        c = ' ';
                w[hl + i] = c;
        }
        memcpy(w + hl + name->len, tail, tl);
        rds_out_commit(o, hl + name->len + tl);
}

void rds_reply_int(struct rds_out *o, long long v)
{
        unsigned long long u;
        unsigned char *w, *s;
        size_t n;

        /* The commonest integer replies (EXISTS, DEL, SETNX, EXPIRE...). */
        if (v == 0) {
                rds_out_put(o, ":0\r\n", 4);
                return;
        }
        if (v == 1) {
                rds_out_put(o, ":1\r\n", 4);
                return;
        }
        u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        n = rds_hdr_len(u) + (v < 0);
        w = rds_out_room(o, n);
        if (!w)
                return;
        s = w;
        if (v < 0) {
                *s++ = ':';
                rds_hdr_write(s, '-', u);
        } else {
                rds_hdr_write(s, ':', u);
        }
        rds_out_commit(o, n);
}

void rds_reply_bulk(struct rds_out *o, const void *p, size_t len)
{
        size_t h = rds_hdr_len(len);
        unsigned char *w;

        if (len > SIZE_MAX - h - 2) {
                if (!o->err)
                        o->err = -ENOMEM;
                return;
        }
        w = rds_out_room(o, h + len + 2);
        if (!w)
                return;
        rds_hdr_write(w, '$', len);
        if (len)
                memcpy(w + h, p, len);
        w[h + len] = '\r';
        w[h + len + 1] = '\n';
        rds_out_commit(o, h + len + 2);
}

void rds_reply_bulk_cstr(struct rds_out *o, const char *s)
{
        rds_reply_bulk(o, s, strlen(s));
}

void rds_reply_bulk_ll(struct rds_out *o, long long v)
{
        char buf[RDS_LONG_STR_SIZE];
        size_t n = rds_ll2str(buf, v);

        rds_reply_bulk(o, buf, n);
}

void rds_reply_double(struct rds_out *o, double v)
{
        char buf[RDS_DOUBLE_STR_SIZE];
        size_t n = rds_d2str(buf, sizeof(buf), v);
        unsigned char *w;

        if (o->proto == 2) {
                rds_reply_bulk(o, buf, n);
                return;
        }
        w = rds_out_room(o, n + 3);
        if (!w)
                return;
        w[0] = ',';
        memcpy(w + 1, buf, n);
        w[n + 1] = '\r';
        w[n + 2] = '\n';
        rds_out_commit(o, n + 3);
}

void rds_reply_null(struct rds_out *o)
{
        if (o->proto == 2)
                rds_out_put(o, "$-1\r\n", 5);
        else
                rds_out_put(o, "_\r\n", 3);
}

void rds_reply_null_array(struct rds_out *o)
{
        if (o->proto == 2)
                rds_out_put(o, "*-1\r\n", 5);
        else
                rds_out_put(o, "_\r\n", 3);
}

void rds_reply_array_len(struct rds_out *o, size_t n)
{
        rds_reply_hdr(o, '*', n);
}

void rds_reply_map_len(struct rds_out *o, size_t n)
{
        if (o->proto == 2)
                rds_reply_hdr(o, '*', (unsigned long long)n * 2);
        else
                rds_reply_hdr(o, '%', n);
}

void rds_reply_set_len(struct rds_out *o, size_t n)
{
        rds_reply_hdr(o, o->proto == 2 ? '*' : '~', n);
}

void rds_reply_push_len(struct rds_out *o, size_t n)
{
        rds_reply_hdr(o, o->proto == 2 ? '*' : '>', n);
}

void rds_reply_bool(struct rds_out *o, bool v)
{
        if (o->proto == 2)
                rds_out_put(o, v ? ":1\r\n" : ":0\r\n", 4);
        else
                rds_out_put(o, v ? "#t\r\n" : "#f\r\n", 4);
}

void rds_reply_verbatim(struct rds_out *o, const char *fmt3, const void *p,
                        size_t len)
{
        size_t h;
        unsigned char *w;

        if (o->proto == 2) {
                rds_reply_bulk(o, p, len);
                return;
        }
        if (len > SIZE_MAX - 64) {
                if (!o->err)
                        o->err = -ENOMEM;
                return;
        }
        /* "=<len+4>\r\ntxt:<bytes>\r\n" */
        h = rds_hdr_len(len + 4);
        w = rds_out_room(o, h + 4 + len + 2);
        if (!w)
                return;
        rds_hdr_write(w, '=', len + 4);
        memcpy(w + h, fmt3, 3);
        w[h + 3] = ':';
        if (len)
                memcpy(w + h + 4, p, len);
        w[h + 4 + len] = '\r';
        w[h + 4 + len + 1] = '\n';
        rds_out_commit(o, h + 4 + len + 2);
}
