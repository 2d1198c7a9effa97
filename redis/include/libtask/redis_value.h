/*
 * libtask/redis_value.h - Redis replies as values, and the incremental
 * RESP2/RESP3 reply reader that builds them.
 *
 * A reply is a tree of struct task_redis_value: a tagged node whose type
 * says which fields hold its content.  Every RESP2 and RESP3 type has its
 * own tag; errors (`-ERR ...`, RESP3 blob errors `!`) are values of type
 * TASK_REDIS_ERROR, never a failure of the call that read them.  RESP3
 * attributes (`|`) are read and dropped: no client in use acts on them.
 *
 *     struct task_redis_value *v;      // from any client call, or a reader
 *     if (v->type == TASK_REDIS_ARRAY)
 *             for (size_t i = 0; i < v->n; i++)
 *                     printf("%.*s\n", (int)v->elem[i].len, v->elem[i].str);
 *     task_redis_value_free(v);
 *
 * Ownership: a reply's root is owned by whoever received it (the caller of
 * the client call or of task_redis_reader_feed) and freed, whole, with
 * task_redis_value_free(root).  The nodes and strings inside belong to the
 * root: never free or keep them past it.  Strings are NUL-terminated (the
 * NUL is not counted in len) and binary-safe (they may hold NULs).
 *
 * The reader (struct task_redis_reader) turns bytes into replies.  It is
 * incremental: feed it whatever bytes have arrived, it consumes them all
 * and keeps a partial reply until the rest comes, so nothing is rescanned
 * and a large bulk string is copied once, into its final place.  It does
 * no I/O: the clients (redis_client.h) feed it from their socket; use it
 * directly to speak RESP over a transport of your own.
 *
 * Limits: a bulk string (or a simple line: + - , () longer than max_bulk
 * (default 512 MiB, Redis's proto-max-bulk-len), an aggregate with more
 * than max_elems elements (a map's or attribute's pairs count twice) or
 * nesting deeper than max_depth (attributes count) make the reader fail
 * with -E2BIG.  Within the limits, memory follows the bytes that arrive,
 * not what the server announces: an element array is allocated whole up
 * to 1024 elements and a bulk up to 1 MiB; beyond, they grow as their
 * contents come.
 *
 * Strictness: lines end in CRLF; a length may be negative only as the
 * RESP2 null "-1" ($ * and RESP3's % ~ >); integers must fit int64_t;
 * doubles must look like one (digits, '.', exponent; inf, -inf, nan);
 * RESP3's streamed strings and aggregates ($? *? ; .) are not supported
 * (no server sends them unasked).  Anything else is -EPROTO.
 *
 * Errors: -EPROTO (bytes that are not RESP: the stream can no longer be
 * trusted, drop the connection), -E2BIG (a limit), -ENOMEM, -EINVAL
 * (NULL).  After any of them the reader holds no partial reply; call
 * task_redis_reader_reset() before feeding it bytes from a new stream.
 */
#ifndef LIBTASK_REDIS_VALUE_H
#define LIBTASK_REDIS_VALUE_H

#include <libtask/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a value is (its RESP type byte in the comment). */
enum task_redis_type {
        TASK_REDIS_NIL = 0,  /* RESP2 $-1 and *-1, RESP3 _ */
        TASK_REDIS_STRING,   /* $ bulk string: str, len */
        TASK_REDIS_STATUS,   /* + simple string: str, len */
        TASK_REDIS_ERROR,    /* - error, ! blob error: str, len */
        TASK_REDIS_INTEGER,  /* : integer: integer */
        TASK_REDIS_DOUBLE,   /* , double: dval, and the text sent in str */
        TASK_REDIS_BOOL,     /* # boolean: integer (0 or 1) */
        TASK_REDIS_BIGNUM,   /* ( big number: its digits in str */
        TASK_REDIS_VERBATIM, /* = verbatim string: str (after "txt:"), vfmt */
        TASK_REDIS_ARRAY,    /* * array: elem[0..n) */
        TASK_REDIS_MAP,      /* % map: elem[0..n), key, value, key, value */
        TASK_REDIS_SET,      /* ~ set: elem[0..n) */
        TASK_REDIS_PUSH,     /* > push: elem[0..n) (pub/sub messages, ...) */
};

/*
 * A reply, or a node inside one.  Read-only for the receiver.
 * For MAP, n counts keys and values both (n = 2 x pairs), so every
 * aggregate walks the same way.
 */
struct task_redis_value {
        enum task_redis_type type;
        char vfmt[4];    /* VERBATIM: its format ("txt", "mkd") */
        int64_t integer; /* INTEGER, BOOL */
        double dval;     /* DOUBLE (inf, -inf, nan included) */
        char *str;       /* STRING, STATUS, ERROR, DOUBLE, BIGNUM, */
        size_t len;      /* VERBATIM: the bytes, NUL-terminated */
        struct task_redis_value *elem; /* ARRAY, MAP, SET, PUSH */
        size_t n;
};

/*
 * task_redis_value_free - free a reply received from a client or a reader,
 * with everything inside it.  @v must be a root (never a node inside
 * one); NULL is accepted and does nothing.
 */
TASK_API void task_redis_value_free(struct task_redis_value *v);

/* The name of a type, as redis-cli's TYPE-like words: "string", "nil",
 * "array", ... (static). */
TASK_API const char *task_redis_type_name(enum task_redis_type t);

/*
 * task_redis_value_is_error - true when @v is an error reply (and, for an
 * aggregate, false even if an element is one).  @prefix, if not NULL,
 * must also match the error's first word ("WRONGTYPE", "NOAUTH", ...).
 */
TASK_API bool task_redis_value_is_error(const struct task_redis_value *v,
                                        const char *prefix);

/* ---- The reader ----------------------------------------------------------- */

/* Limits of a reader (task_redis_reader_init): 0 takes the default. */
struct task_redis_reader_opts {
        size_t max_bulk;    /* largest bulk/blob string (512 MiB) */
        size_t max_elems;   /* most elements of one aggregate (1 << 24) */
        unsigned max_depth; /* deepest nesting of aggregates (64) */
};

/* The reader's partial state.  Fields are private (the struct is public
 * so that it can be embedded by value). */
struct task_redis_reader {
        struct task_redis_reader_opts lim;
        void *priv;     /* parse stack, partial reply: allocated on demand */
        uint64_t rem;   /* bytes left of a bulk; length of a line so far */
        uint64_t num;   /* the number being read; a bulk's length; ... */
        uint32_t state; /* what the next byte is */
        uint32_t depth; /* open aggregates */
        uint32_t nattr; /* of which attributes */
        uint8_t item;   /* type byte of the item being read */
        uint8_t flags;  /* signs and digits seen */
        uint8_t top;    /* the reply's type (enum task_redis_type) */
        uint8_t spare8;
        uint64_t spare[4];
};

/*
 * task_redis_reader_init - make @r an empty reader with the limits in @o
 * (NULL: the defaults).  A zeroed struct is not a valid reader.  Returns
 * 0 or -EINVAL.
 */
TASK_API int task_redis_reader_init(struct task_redis_reader *r,
                                    const struct task_redis_reader_opts *o);

/* task_redis_reader_reset - drop any partial reply (a new stream). */
TASK_API void task_redis_reader_reset(struct task_redis_reader *r);

/* task_redis_reader_free - free what @r holds (it may be init'ed again). */
TASK_API void task_redis_reader_free(struct task_redis_reader *r);

/*
 * task_redis_reader_feed - read the next reply out of @p[0..@len).
 * Returns 1 when a whole reply was read: *@out is its root (owned by the
 * caller, task_redis_value_free()) and *@used the bytes consumed, which
 * may be fewer than @len (the next reply starts there: call again).
 * Returns 0 when @p ends inside a reply: all @len bytes were consumed
 * into the reader's partial state (*@used = @len) and *@out is NULL;
 * feed the next bytes.  Returns -EPROTO, -E2BIG, -ENOMEM or -EINVAL as
 * the head of this file says, with *@used and *@out unspecified.
 */
TASK_API int task_redis_reader_feed(struct task_redis_reader *r, const void *p,
                                    size_t len, size_t *used,
                                    struct task_redis_value **out);

/*
 * task_redis_reader_skip - as task_redis_reader_feed, but build nothing:
 * 1 when a whole reply went past, with *@type its top-level type (so a
 * load generator can count errors) if @type is not NULL.  It copies
 * nothing, whatever the reply's size, and allocates only the reader's
 * stack of open aggregates, once, when the first aggregate arrives (kept
 * until task_redis_reader_free: so -ENOMEM is possible only then).  The
 * limits and the checks still apply, with the same errors as feed.  A
 * reader must not switch between feed and skip in the middle of a reply.
 */
TASK_API int task_redis_reader_skip(struct task_redis_reader *r, const void *p,
                                    size_t len, size_t *used,
                                    enum task_redis_type *type);

/* ---- Writing commands ----------------------------------------------------- */

/*
 * task_redis_encode - the RESP request for the command @argv[0..@argc)
 * (@lens[i] bytes each; @lens NULL: every argv[i] is a C string), written
 * as a multibulk into @out when it fits in @cap bytes.  Returns the
 * request's size in bytes (larger than @cap: nothing useful was written;
 * call again with that much room), or -EINVAL (@argc < 1, a NULL argv[i]
 * with a non-zero length, @out NULL with @cap > 0).
 */
TASK_API long long task_redis_encode(void *out, size_t cap, int argc,
                                     const char *const *argv,
                                     const size_t *lens);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_REDIS_VALUE_H */
