/*
 * fuzz_reply.c - libFuzzer target for the client's RESP reply reader and
 * request encoder (redis/client/reader.c, value.c, encode.c).  Built with
 * -Dfuzz=true and clang (tests/redis/meson.build); seed corpus in
 * tests/redis/fuzz-reply-corpus/.
 *
 * The input's first two bytes are control bytes; the rest is what a server
 * sends.  Byte 0: bits 0-5 the chunk size (1..64) in which feed reads the
 * bytes after the split point; the split point is byte 0's share of the
 * input (ctl/256 of it), read first in one piece.  Byte 1: bits 0-5 the
 * chunk size for skip; bit 6: small limits (max_bulk 64, max_elems 8,
 * max_depth 4); bit 7: the encoder round trip uses lengths (binary) or
 * C strings.
 *
 * What must hold (a failure aborts):
 *  - feeding the bytes whole and in chunks gives the same replies (deep
 *    equality of the trees), ending at the same offsets, and the same
 *    final outcome (an error code, or a partial reply);
 *  - skip, in its own chunks, counts the same replies with the same
 *    types and end offsets, and ends the same way;
 *  - every string is NUL-terminated, every map has pairs;
 *  - the input split into arguments and encoded reads back as an array
 *    of those strings.
 * Sanitizers catch the rest: overflows, leaks, undefined behaviour.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libtask/redis_value.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REPLIES 512

static void check(bool ok)
{
        if (!ok)
                abort();
}

static bool is_aggregate(enum task_redis_type t)
{
        return t == TASK_REDIS_ARRAY || t == TASK_REDIS_MAP ||
               t == TASK_REDIS_SET || t == TASK_REDIS_PUSH;
}

/* Checks @v's invariants and compares it with @w (deep). */
static bool same(const struct task_redis_value *v,
                 const struct task_redis_value *w)
{
        if (v->type != w->type)
                return false;
        if (is_aggregate(v->type)) {
                check(v->n == 0 || v->elem);
                check(v->type != TASK_REDIS_MAP || v->n % 2 == 0);
                if (v->n != w->n)
                        return false;
                for (size_t i = 0; i < v->n; i++)
                        if (!same(&v->elem[i], &w->elem[i]))
                                return false;
                return true;
        }
        switch (v->type) {
        case TASK_REDIS_NIL:
                return true;
        case TASK_REDIS_INTEGER:
        case TASK_REDIS_BOOL:
                return v->integer == w->integer;
        default:
                break;
        }
        check(v->str && v->str[v->len] == '\0');
        if (v->type == TASK_REDIS_VERBATIM &&
            memcmp(v->vfmt, w->vfmt, sizeof(v->vfmt)) != 0)
                return false;
        /* Doubles: their text decides (nan != nan). */
        return v->len == w->len && memcmp(v->str, w->str, v->len) == 0;
}

/* What reading a stream gave: the replies, where each ended, the end. */
struct outcome {
        struct task_redis_value *v[MAX_REPLIES];
        enum task_redis_type type[MAX_REPLIES];
        size_t end[MAX_REPLIES];
        size_t n;
        int rc; /* 0: ended inside a reply or between replies; -errno */
        bool partial;
};

static void outcome_free(struct outcome *o)
{
        for (size_t i = 0; i < o->n; i++)
                task_redis_value_free(o->v[i]);
        o->n = 0;
}

/*
 * Reads @p[0..@len): the first @split bytes in one piece, the rest in
 * pieces of @chunk bytes; with skip if @skip.
 */
static void read_stream(const uint8_t *p, size_t len, size_t split,
                        size_t chunk, bool skip,
                        const struct task_redis_reader_opts *lim,
                        struct outcome *o)
{
        struct task_redis_reader r;
        size_t off = 0;

        memset(o, 0, sizeof(*o));
        check(task_redis_reader_init(&r, lim) == 0);
        while (off < len && o->n < MAX_REPLIES) {
                size_t n = off < split ? split - off : chunk;
                size_t used = 0;
                struct task_redis_value *v = NULL;
                enum task_redis_type t = TASK_REDIS_NIL;
                int rc;

                if (n > len - off)
                        n = len - off;
                if (skip)
                        rc = task_redis_reader_skip(&r, p + off, n, &used, &t);
                else
                        rc = task_redis_reader_feed(&r, p + off, n, &used, &v);
                if (rc < 0) {
                        o->rc = rc;
                        break;
                }
                check(used <= n);
                if (rc == 0) {
                        check(used == n && v == NULL);
                        o->partial = true;
                } else {
                        check(used > 0);
                        o->partial = false;
                        o->v[o->n] = v;
                        o->type[o->n] = skip ? t : v->type;
                        o->end[o->n] = off + used;
                        o->n++;
                }
                off += used;
        }
        task_redis_reader_free(&r);
}

/* The bytes split into arguments, encoded, read back. */
static void encode_round_trip(const uint8_t *p, size_t len, bool binary)
{
        const char *argv[8];
        size_t lens[8];
        char *cstr[8] = {0};
        int argc = 1 + (len ? p[0] % 8 : 0);
        size_t piece = len / (size_t)argc;

        for (int i = 0; i < argc; i++) {
                argv[i] = (const char *)p + (size_t)i * piece;
                lens[i] = i == argc - 1 ? len - (size_t)i * piece : piece;
                if (!binary) {
                        /* As C strings: up to the first NUL. */
                        cstr[i] = malloc(lens[i] + 1);
                        check(cstr[i] != NULL);
                        memcpy(cstr[i], argv[i], lens[i]);
                        cstr[i][lens[i]] = '\0';
                        lens[i] = strlen(cstr[i]);
                        argv[i] = cstr[i];
                }
        }
        long long need =
            task_redis_encode(NULL, 0, argc, argv, binary ? lens : NULL);

        check(need > 0);
        char *buf = malloc((size_t)need);

        check(buf != NULL);
        check(task_redis_encode(buf, (size_t)need, argc, argv,
                                binary ? lens : NULL) == need);

        struct task_redis_reader r;
        struct task_redis_value *v = NULL;
        size_t used = 0;

        check(task_redis_reader_init(&r, NULL) == 0);
        check(task_redis_reader_feed(&r, buf, (size_t)need, &used, &v) == 1);
        check(used == (size_t)need);
        check(v->type == TASK_REDIS_ARRAY && v->n == (size_t)argc);
        for (int i = 0; i < argc; i++) {
                check(v->elem[i].type == TASK_REDIS_STRING);
                check(v->elem[i].len == lens[i]);
                check(memcmp(v->elem[i].str, argv[i], lens[i]) == 0);
        }
        task_redis_value_free(v);
        task_redis_reader_free(&r);
        free(buf);
        for (int i = 0; i < argc; i++)
                free(cstr[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct outcome whole, chunked, skipped;
        const struct task_redis_reader_opts small = {
            .max_bulk = 64, .max_elems = 8, .max_depth = 4};

        if (size < 2)
                return 0;
        uint8_t c0 = data[0], c1 = data[1];
        const uint8_t *p = data + 2;
        size_t len = size - 2;
        size_t split = len * c0 / 256;
        const struct task_redis_reader_opts *lim = c1 & 0x40 ? &small : NULL;

        read_stream(p, len, len, len, false, lim, &whole);
        read_stream(p, len, split, 1 + (c0 & 63), false, lim, &chunked);
        read_stream(p, len, 0, 1 + (c1 & 63), true, lim, &skipped);

        check(whole.n == chunked.n && whole.n == skipped.n);
        check(whole.rc == chunked.rc && whole.rc == skipped.rc);
        if (whole.n < MAX_REPLIES && whole.rc == 0)
                check(whole.partial == chunked.partial &&
                      whole.partial == skipped.partial);
        for (size_t i = 0; i < whole.n; i++) {
                check(same(whole.v[i], chunked.v[i]));
                check(same(chunked.v[i], whole.v[i]));
                check(whole.end[i] == chunked.end[i]);
                check(whole.end[i] == skipped.end[i]);
                check(whole.type[i] == skipped.type[i]);
        }
        outcome_free(&whole);
        outcome_free(&chunked);

        encode_round_trip(p, len, c1 & 0x80);
        return 0;
}
