/*
 * libtask/redis_cmd.h - typed helpers for the everyday commands: PING, GET,
 * SET (with expiry and options), DEL, INCR, INCRBY, EXPIRE and PUBLISH.
 *
 * Each helper is a poll function over task_redis_cmd_poll (redis_client.h)
 * plus a TASK_REDIS_<NAME> macro that awaits it.  They take binary-safe
 * keys and values (pointer + length), build the command on the stack and
 * hand it to task_redis_cmd_poll, which copies it into the output buffer;
 * so nothing is allocated beyond the reply itself (and for GET, that
 * reply is what the caller receives).  Arguments are read at the first
 * poll only: they may be temporaries.
 *
 *     struct app { TASK_FRAME; task_redis *c; struct task_redis_op op;
 *                  struct task_redis_value *v; int64_t n; int rc; };
 *     ...
 *     struct task_redis_set_opts so = {.px_ms = 60000};
 *     TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "v", 1, &so, NULL, &f->rc);
 *     TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
 *     // f->rc == 0: f->v is the value (a TASK_REDIS_STRING), or NULL
 *     task_redis_value_free(f->v);
 *     TASK_REDIS_INCR(f, f->c, &f->op, "hits", 4, &f->n, &f->rc);
 *
 * Strings: a pointer may be NULL only with a length of 0 (the empty
 * string, a valid key or value in Redis).
 *
 * Errors (*@rc), beyond those of task_redis_cmd_poll (redis_client.h):
 *  - -EREMOTEIO: the server answered with an error (WRONGTYPE, "value is
 *    not an integer or out of range", ...); its text is
 *    task_redis_last_error(c) until the next call on the client;
 *  - -EPROTO: the reply is of a type the command never answers with (the
 *    connection stays usable: the reply was read whole);
 *  - -EINVAL, with no I/O: a NULL client, op or output, a NULL string with
 *    a non-zero length, options that contradict each other.
 * On any error the outputs are untouched, except *@val / *@old set to NULL.
 *
 * Concurrency and cancellation are task_redis_cmd_poll's: one call at a
 * time on a client; a cancelled helper is a cancelled command.
 */
#ifndef LIBTASK_REDIS_CMD_H
#define LIBTASK_REDIS_CMD_H

#include <libtask/redis_client.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PING ---------------------------------------------------------------- */

/*
 * task_redis_ping_poll - PING, or PING @msg when @msg is not NULL (then
 * @len bytes).  True when done, with *@rc 0 when the server answered PONG
 * (or echoed @msg exactly), -EPROTO when it answered anything else.
 */
TASK_API bool task_redis_ping_poll(struct task_cx *cx, task_redis *c,
                                   struct task_redis_op *op, const char *msg,
                                   size_t len, int *rc);
#define TASK_REDIS_PING(f, c, op, msg, len, rcp)                               \
        TASK_AWAIT(f,                                                          \
                   task_redis_ping_poll((cx), (c), (op), (msg), (len), (rcp)))

/* ---- GET ------------------------------------------------------------------ */

/*
 * task_redis_get_poll - GET the @klen bytes at @key.  True when done, with
 * *@rc 0 and *@val the value, a TASK_REDIS_STRING reply owned by the
 * caller (its bytes: (*val)->str, (*val)->len, NUL-terminated; free it
 * with task_redis_value_free()), or NULL when the key does not exist.
 * Handing over the reply itself is the zero-copy choice: the reader
 * copied the bytes once, into their final place.  On an error (*@rc < 0;
 * WRONGTYPE is -EREMOTEIO) *@val is NULL.
 */
TASK_API bool task_redis_get_poll(struct task_cx *cx, task_redis *c,
                                  struct task_redis_op *op, const char *key,
                                  size_t klen, struct task_redis_value **val,
                                  int *rc);
#define TASK_REDIS_GET(f, c, op, key, klen, valp, rcp)                         \
        TASK_AWAIT(f, task_redis_get_poll((cx), (c), (op), (key), (klen),      \
                                          (valp), (rcp)))

/* ---- SET ------------------------------------------------------------------ */

/* SET's flags (struct task_redis_set_opts.flags). */
enum {
        TASK_REDIS_SET_NX = 1u << 0,      /* only if the key does not exist */
        TASK_REDIS_SET_XX = 1u << 1,      /* only if the key exists */
        TASK_REDIS_SET_KEEPTTL = 1u << 2, /* keep the key's time to live */
        TASK_REDIS_SET_GET = 1u << 3,     /* return the old value */
};

/*
 * SET's options: zero-initialise, then set what you need.  At most one of
 * px_ms, pxat_ms and TASK_REDIS_SET_KEEPTTL; not NX with XX.  NX or XX
 * with GET needs Redis 7.0 or later.
 */
struct task_redis_set_opts {
        uint64_t px_ms;   /* PX: expire in this many ms (0: no PX) */
        uint64_t pxat_ms; /* PXAT: expire at this unix time, in ms (0: none) */
        unsigned flags;   /* TASK_REDIS_SET_* */
};

/* *rc of a SET that NX or XX refused (the key was left as it was). */
#define TASK_REDIS_NOT_SET 1

/*
 * task_redis_set_poll - SET @key (@klen bytes) to @val (@vlen bytes) with
 * the options @o (NULL: none).  True when done, with *@rc:
 *  - 0: the value was set;
 *  - TASK_REDIS_NOT_SET (positive): NX or XX refused it;
 *  - -errno (-EREMOTEIO for an error reply, e.g. WRONGTYPE with GET on a
 *    list, or an expiry Redis finds invalid).
 * With TASK_REDIS_SET_GET, @old must not be NULL: *@old is the old value
 * (a TASK_REDIS_STRING owned by the caller, task_redis_value_free()) or
 * NULL when the key did not exist, whether or not NX/XX let the SET
 * happen.  (With GET and NX, Redis answers the old value without saying
 * whether it set: the helper deduces it, since NX sets exactly when there
 * was no old value and XX exactly when there was.)  Without GET, @old
 * may be NULL, else *@old is set to NULL.
 */
TASK_API bool task_redis_set_poll(struct task_cx *cx, task_redis *c,
                                  struct task_redis_op *op, const char *key,
                                  size_t klen, const char *val, size_t vlen,
                                  const struct task_redis_set_opts *o,
                                  struct task_redis_value **old, int *rc);
#define TASK_REDIS_SET(f, c, op, key, klen, val, vlen, o, oldp, rcp)           \
        TASK_AWAIT(f, task_redis_set_poll((cx), (c), (op), (key), (klen),      \
                                          (val), (vlen), (o), (oldp), (rcp)))

/* ---- DEL ------------------------------------------------------------------ */

/*
 * task_redis_del_poll - DEL the @n keys @keys[0..@n) (@lens[i] bytes each;
 * @lens NULL: C strings), @n >= 1.  True when done, with *@rc 0 and
 * *@deleted (may be NULL) the number of keys that existed and were
 * removed.  Up to 64 keys the command is built on the stack; more cost
 * a temporary allocation per poll (-ENOMEM, nothing sent, if it fails).
 */
TASK_API bool task_redis_del_poll(struct task_cx *cx, task_redis *c,
                                  struct task_redis_op *op, int n,
                                  const char *const *keys, const size_t *lens,
                                  int64_t *deleted, int *rc);
#define TASK_REDIS_DEL(f, c, op, n, keys, lens, deletedp, rcp)                 \
        TASK_AWAIT(f, task_redis_del_poll((cx), (c), (op), (n), (keys),        \
                                          (lens), (deletedp), (rcp)))

/* ---- INCR, INCRBY ------------------------------------------------------- */

/*
 * task_redis_incr_poll - INCR @key.  True when done, with *@rc 0 and
 * *@value (may be NULL) the value after the increment.  A value that is
 * not an integer, or an overflow, is the server's error: -EREMOTEIO.
 */
TASK_API bool task_redis_incr_poll(struct task_cx *cx, task_redis *c,
                                   struct task_redis_op *op, const char *key,
                                   size_t klen, int64_t *value, int *rc);
#define TASK_REDIS_INCR(f, c, op, key, klen, valuep, rcp)                      \
        TASK_AWAIT(f, task_redis_incr_poll((cx), (c), (op), (key), (klen),     \
                                           (valuep), (rcp)))

/* task_redis_incrby_poll - INCRBY @key @by; as task_redis_incr_poll. */
TASK_API bool task_redis_incrby_poll(struct task_cx *cx, task_redis *c,
                                     struct task_redis_op *op, const char *key,
                                     size_t klen, int64_t by, int64_t *value,
                                     int *rc);
#define TASK_REDIS_INCRBY(f, c, op, key, klen, by, valuep, rcp)                \
        TASK_AWAIT(f, task_redis_incrby_poll((cx), (c), (op), (key), (klen),   \
                                             (by), (valuep), (rcp)))

/* ---- EXPIRE ------------------------------------------------------------- */

/* EXPIRE's flags (Redis 7.0): at most one of NX, XX, GT, LT, except that
 * XX may go with GT or LT. */
enum {
        TASK_REDIS_EXPIRE_NX = 1u << 0, /* only if the key has no expiry */
        TASK_REDIS_EXPIRE_XX = 1u << 1, /* only if it has one */
        TASK_REDIS_EXPIRE_GT = 1u << 2, /* only if later than the current */
        TASK_REDIS_EXPIRE_LT = 1u << 3, /* only if sooner than the current */
};

/*
 * task_redis_expire_poll - EXPIRE @key @seconds with @flags
 * (TASK_REDIS_EXPIRE_*).  True when done, with *@rc 0 and *@set (may be
 * NULL) true when the expiry was set (false: no such key, or a flag's
 * condition did not hold).  A zero or negative @seconds deletes the key
 * (Redis's rule; *@set says whether it existed).  -EINVAL for NX with XX,
 * GT or LT, or GT with LT.
 */
TASK_API bool task_redis_expire_poll(struct task_cx *cx, task_redis *c,
                                     struct task_redis_op *op, const char *key,
                                     size_t klen, int64_t seconds,
                                     unsigned flags, bool *set, int *rc);
#define TASK_REDIS_EXPIRE(f, c, op, key, klen, seconds, flags, setp, rcp)      \
        TASK_AWAIT(f,                                                          \
                   task_redis_expire_poll((cx), (c), (op), (key), (klen),      \
                                          (seconds), (flags), (setp), (rcp)))

/* ---- PUBLISH ------------------------------------------------------------ */

/*
 * task_redis_publish_poll - PUBLISH @msg (@mlen bytes) on @chan (@clen
 * bytes).  True when done, with *@rc 0 and *@receivers (may be NULL) the
 * number of subscribers (channel and pattern subscriptions) that got it.
 */
TASK_API bool task_redis_publish_poll(struct task_cx *cx, task_redis *c,
                                      struct task_redis_op *op,
                                      const char *chan, size_t clen,
                                      const char *msg, size_t mlen,
                                      int64_t *receivers, int *rc);
#define TASK_REDIS_PUBLISH(f, c, op, chan, clen, msg, mlen, recvp, rcp)        \
        TASK_AWAIT(f, task_redis_publish_poll((cx), (c), (op), (chan), (clen), \
                                              (msg), (mlen), (recvp), (rcp)))

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_REDIS_CMD_H */
