/*
 * fuzz_resp.c - libFuzzer target for the RESP parser and encoder
 * (redis/server/resp.c).  Built with -Dfuzz=true and clang
 * (tests/redis/meson.build); .ci/run's fuzz step runs it for a minute on
 * tests/redis/fuzz-corpus/.
 *
 * The input's first byte is the control byte; the rest is what a client
 * sends.  Control: bits 0-5 pick the chunk size (1..64 bytes) in which
 * the bytes after the split point arrive; the split point is the
 * control byte's share of the input (ctl/256 of it), which arrives first,
 * in one piece; bit 6: RESP3 replies; bit 7: small limits (a 64-byte
 * max_bulk_len, the pre-AUTH limits, a 256-byte output buffer limit).
 *
 * The bytes go through a task_buf the way a connection feeds its input:
 * append a chunk, parse complete requests until MORE, advance by what
 * each consumed, keep the unconsumed tail; stop at the first protocol
 * error (the server would close).  Each request's arguments are encoded
 * back as a multibulk request with the encoder, which must parse to the
 * same arguments (checked; a mismatch aborts), and a handful of other
 * replies are built from them.  Sanitizers catch the rest: overflows,
 * leaks, undefined behaviour.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libtask/buf.h>

#include "resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
        if (!ok)
                abort();
}

/* Encode @p's request back and parse it again: same arguments. */
static void round_trip(const struct rds_parser *p, struct rds_out *o,
                       bool small)
{
        struct rds_parser q;
        size_t i;
        int rc;

        task_buf_clear(&o->buf);
        o->err = 0;
        rds_reply_array_len(o, p->argc);
        for (i = 0; i < p->argc; i++)
                rds_reply_bulk(o, p->argv[i].p, p->argv[i].len);
        if (o->err) {
                /* Only the small output limit may refuse it. */
                check(small && o->err == -ENOBUFS);
                return;
        }
        rds_parser_init(&q);
        rc = rds_parse(&q, task_buf_data(&o->buf), task_buf_len(&o->buf));
        check(rc == RDS_PARSE_OK);
        check(q.consumed == task_buf_len(&o->buf));
        check(q.argc == p->argc);
        for (i = 0; i < p->argc; i++) {
                check(q.argv[i].len == p->argv[i].len);
                check(q.argv[i].len == 0 ||
                      memcmp(q.argv[i].p, p->argv[i].p, q.argv[i].len) == 0);
        }
        rds_parser_free(&q);
}

/* Other replies built from the arguments, as command handlers build
 * them. */
static void other_replies(const struct rds_parser *p, struct rds_out *o)
{
        const struct rds_arg *a = &p->argv[p->argc - 1];

        task_buf_clear(&o->buf);
        o->err = 0;
        rds_reply_arity_error(o, &p->argv[0]);
        rds_reply_errorf(o,
                         "ERR unknown command '%.*s', with args beginning "
                         "with: ",
                         (int)(a->len > 128 ? 128 : a->len),
                         (const char *)a->p);
        rds_reply_map_len(o, p->argc);
        rds_reply_bulk_ll(o, (long long)a->len);
        rds_reply_int(o, -(long long)p->argc);
        rds_reply_double(o, (double)a->len / 3.0);
        rds_reply_verbatim(o, "txt", a->p, a->len);
        rds_reply_bool(o, p->argc & 1);
        rds_reply_null(o);
        rds_reply_null_array(o);
        rds_reply_set_len(o, a->len);
        rds_reply_push_len(o, 3);
        rds_reply_ok(o);
        rds_reply_raw(o, a->p, a->len);
}

/* Parse every complete request in @in.  False after a protocol error or
 * -ENOMEM (the connection would be closed). */
static bool drain(struct rds_parser *p, struct task_buf *in, struct rds_out *o,
                  bool small)
{
        for (;;) {
                size_t len = task_buf_len(in);
                int rc = rds_parse(p, task_buf_data(in), len);

                if (rc == RDS_PARSE_MORE) {
                        /* Reserve for a big bulk, as the server does (but
                         * not the 512 MB a header may announce). */
                        if (p->want > len && p->want <= (1u << 20))
                                check(task_buf_reserve(in, p->want - len) == 0);
                        return true;
                }
                if (rc == RDS_PARSE_ERROR) {
                        check(p->error != NULL);
                        check(strncmp(p->error, "ERR Protocol error: ", 20) ==
                              0);
                        return false;
                }
                check(rc == RDS_PARSE_OK);
                check(p->consumed > 0 && p->consumed <= len);
                if (p->argc > 0) {
                        round_trip(p, o, small);
                        other_replies(p, o);
                }
                check(task_buf_advance(in, p->consumed) == 0);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct task_buf in = {0};
        struct rds_parser p;
        struct rds_out o;
        size_t split, chunk, off;
        uint8_t ctl;
        bool small;

        if (size < 1)
                return 0;
        ctl = data[0];
        data++;
        size--;
        small = ctl & 0x80;
        chunk = (size_t)(ctl & 0x3f) + 1;
        split = size * ctl / 256;

        rds_parser_init(&p);
        rds_out_init(&o);
        o.proto = ctl & 0x40 ? 3 : 2;
        if (small) {
                p.max_bulk_len = 64;
                p.unauthenticated = true;
                task_buf_set_limit(&o.buf, 256);
        }

        check(task_buf_append(&in, data, split) == 0);
        if (drain(&p, &in, &o, small)) {
                for (off = split; off < size; off += chunk) {
                        size_t n = size - off < chunk ? size - off : chunk;

                        check(task_buf_append(&in, data + off, n) == 0);
                        if (!drain(&p, &in, &o, small))
                                break;
                }
        }

        rds_parser_free(&p);
        rds_out_free(&o);
        task_buf_free(&in);
        return 0;
}
