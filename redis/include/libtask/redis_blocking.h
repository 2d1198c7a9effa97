/*
 * libtask/redis_blocking.h - the Redis client for plain synchronous C: the
 * async client's API (redis_client.h) as ordinary blocking calls, no
 * coroutines, no runtime to set up.  Tokio's "bridging with sync code":
 * each handle owns a current-thread runtime, and every call is one
 * task_block_on() of the async call on it, so the calling thread drives
 * the I/O itself while it waits and nothing runs between calls.
 *
 *     task_redis_blocking *r;
 *     struct task_redis_value *v;
 *     int rc = task_redis_blocking_connect("127.0.0.1:6379", NULL, &r);
 *     if (rc < 0) ...                        // -ECONNREFUSED, -ETIMEDOUT ...
 *     static const char *const set[] = {"SET", "greeting", "hello"};
 *     rc = task_redis_blocking_cmd(r, 3, set, NULL, &v);
 *     // rc == 0: v is the reply (+OK), maybe an error value
 *     task_redis_value_free(v);
 *     task_redis_blocking_close(r);
 *
 * Names: task_redis_blocking_<verb> mirrors task_redis_<verb>_poll (the
 * contract, "this call blocks the thread", is in the name, as libtask's
 * other *_blocking calls); a call that has an async twin behaves as that
 * twin, documented in redis_client.h, redis_cmd.h and redis_sub.h: the
 * same arguments, the same errors, the same ownership.  Only what differs
 * is said here.
 *
 * Threads: a handle is used by one thread at a time (it may move between
 * threads between calls, with the usual happens-before of handing it
 * over: a mutex, a queue, a join).  Two threads calling on one handle at
 * once is a bug; the second call may be refused with -EBUSY, but that
 * is not a guarantee.  Handles are independent: any number of threads may
 * each use their own handle at the same time.
 *
 * Not from a task: a blocking call would stall a libtask worker (and with
 * it every task queued there), so every call that does I/O returns
 * -EDEADLK, doing nothing, when called on a libtask worker thread (from
 * inside a task of any runtime).  Tasks use redis_client.h directly.  The
 * threads of the blocking pool (task_spawn_blocking, libtask/blocking.h)
 * are not workers: the blocking client may be used there.
 *
 * Timeouts: opts.connect_timeout_ns and opts.command_timeout_ns (given to
 * the connect) apply as in the async client; the calls that wait for
 * something that may never come (a message, a push) take their own
 * timeout in milliseconds.
 *
 * Errors: those of the async twin, plus -EDEADLK (above), -EBUSY (another
 * thread is inside a call on the same handle) and the errors of creating
 * the runtime at connect time (task_runtime_new: -ENOMEM, io_uring
 * refused -EPERM / -ENOSYS).  -EINVAL for a NULL handle or argument.
 *
 * Allocation: a call allocates nothing the async call would not (the
 * state of the call lives on the caller's stack and is copied into a task
 * slot that the handle's runtime recycles): a GET on an established
 * connection mallocs only its reply.  A handle costs a runtime: an
 * io_uring of 64 entries, a task slab (2 MiB of address space, of which
 * a few pages are touched) and the client itself: about 60 KiB
 * resident once connected.
 *
 * Ownership: the handle is allocated by task_redis_blocking_connect() and
 * freed by task_redis_blocking_close(), which also frees the connection
 * and the runtime.  Replies are the caller's (task_redis_value_free()).
 */
#ifndef LIBTASK_REDIS_BLOCKING_H
#define LIBTASK_REDIS_BLOCKING_H

#include <libtask/common.h>
#include <libtask/redis_client.h>
#include <libtask/redis_cmd.h>
#include <libtask/redis_sub.h>
#include <libtask/redis_value.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A blocking client: a connection and the runtime that drives it
 * (opaque). */
typedef struct task_redis_blocking task_redis_blocking;

/* ---- Connecting ------------------------------------------------------------ */

/*
 * task_redis_blocking_connect - start a current-thread runtime and connect
 * it to @where with @o (NULL: the defaults), as task_redis_connect_poll:
 * the address forms, the handshake and its errors are that call's.
 * Returns 0 with the handle in *@out (owned by the caller,
 * task_redis_blocking_close()), or -errno with *@out untouched and
 * nothing left behind: -EINVAL, -EDEADLK, -ENOMEM, the runtime's errors,
 * the connect's (-ECONNREFUSED, -ETIMEDOUT, -EACCES, ...).
 */
TASK_API int task_redis_blocking_connect(const char *where,
                                         const struct task_redis_opts *o,
                                         task_redis_blocking **out);

/*
 * task_redis_blocking_close - close the connection (with the replies,
 * pushes and subscriptions still queued in it) and free the handle and
 * its runtime.  NULL is accepted.  Not while another thread is inside a
 * call on @b.
 */
TASK_API void task_redis_blocking_close(task_redis_blocking *b);

/* ---- Commands ---------------------------------------------------------------- */

/*
 * task_redis_blocking_cmd - send the command @argv[0..@argc) (@lens[i]
 * bytes each; @lens NULL: C strings) and wait for its reply, as
 * task_redis_cmd_poll: 0 with *@reply the reply (owned by the caller; a
 * server error is a TASK_REDIS_ERROR value, not a failure), or -errno
 * with *@reply NULL.  Replies still owed to appended commands are read
 * first and dropped.
 */
TASK_API int task_redis_blocking_cmd(task_redis_blocking *b, int argc,
                                     const char *const *argv,
                                     const size_t *lens,
                                     struct task_redis_value **reply);

/* ---- Pipelining -------------------------------------------------------------- */

/*
 * task_redis_blocking_append - queue a command (no I/O), as
 * task_redis_append: 0, -EINVAL, -ENOMEM, -ENOTCONN.  The arguments are
 * copied.
 */
TASK_API int task_redis_blocking_append(task_redis_blocking *b, int argc,
                                        const char *const *argv,
                                        const size_t *lens);

/*
 * task_redis_blocking_flush - write every queued command, as
 * task_redis_flush_poll: 0 or -errno.
 */
TASK_API int task_redis_blocking_flush(task_redis_blocking *b);

/*
 * task_redis_blocking_reply - wait for the reply to the oldest command
 * not yet answered (flushing first if commands are still queued), as
 * task_redis_reply_poll: 0 with *@reply (owned by the caller), or -errno
 * with *@reply NULL (-ENOENT: no reply is owed).
 */
TASK_API int task_redis_blocking_reply(task_redis_blocking *b,
                                       struct task_redis_value **reply);

/* Replies owed: commands appended and not yet read (0 for NULL). */
TASK_API size_t task_redis_blocking_pending(const task_redis_blocking *b);

/* ---- RESP3 push messages ---------------------------------------------------- */

/*
 * task_redis_blocking_push - the next RESP3 push message, as
 * task_redis_push_poll, waiting at most @timeout_ms milliseconds (< 0:
 * for ever; 0: only what has arrived already, within a millisecond).  0
 * with *@push (a TASK_REDIS_PUSH value owned by the caller), -ETIMEDOUT
 * with *@push NULL, or -errno.  A timeout that strikes in the middle of a push being
 * read breaks the connection (redis_client.h, "Broken connections").
 */
TASK_API int task_redis_blocking_push(task_redis_blocking *b, int timeout_ms,
                                      struct task_redis_value **push);

/* ---- Typed helpers (redis_cmd.h) ------------------------------------------- */

/*
 * Each is its task_redis_<name>_poll twin of redis_cmd.h, blocking: the
 * same arguments after the handle, the same outputs, and the value that
 * twin leaves in *rc as the return value (0, TASK_REDIS_NOT_SET for a SET
 * that NX/XX refused, or -errno: -EREMOTEIO for an error reply, whose text
 * is task_redis_last_error(task_redis_blocking_client(b))).
 */

/* PING, or PING @msg (@len bytes) when @msg is not NULL. */
TASK_API int task_redis_blocking_ping(task_redis_blocking *b, const char *msg,
                                      size_t len);

/* GET: *@val the value (the caller's) or NULL when the key does not exist. */
TASK_API int task_redis_blocking_get(task_redis_blocking *b, const char *key,
                                     size_t klen,
                                     struct task_redis_value **val);

/* SET with the options @o (NULL: none); *@old as task_redis_set_poll. */
TASK_API int task_redis_blocking_set(task_redis_blocking *b, const char *key,
                                     size_t klen, const char *val, size_t vlen,
                                     const struct task_redis_set_opts *o,
                                     struct task_redis_value **old);

/* DEL @n keys; *@deleted (may be NULL) the number removed. */
TASK_API int task_redis_blocking_del(task_redis_blocking *b, int n,
                                     const char *const *keys,
                                     const size_t *lens, int64_t *deleted);

/* INCR; *@value (may be NULL) the value after it. */
TASK_API int task_redis_blocking_incr(task_redis_blocking *b, const char *key,
                                      size_t klen, int64_t *value);

/* INCRBY @by; *@value (may be NULL) the value after it. */
TASK_API int task_redis_blocking_incrby(task_redis_blocking *b, const char *key,
                                        size_t klen, int64_t by,
                                        int64_t *value);

/* EXPIRE @seconds with TASK_REDIS_EXPIRE_* @flags; *@set (may be NULL). */
TASK_API int task_redis_blocking_expire(task_redis_blocking *b, const char *key,
                                        size_t klen, int64_t seconds,
                                        unsigned flags, bool *set);

/* PUBLISH; *@receivers (may be NULL) the subscribers that got it. */
TASK_API int task_redis_blocking_publish(task_redis_blocking *b,
                                         const char *chan, size_t clen,
                                         const char *msg, size_t mlen,
                                         int64_t *receivers);

/* ---- The subscriber (redis_sub.h) -------------------------------------------- */

/* A blocking subscriber: a blocking handle in pub/sub mode (opaque). */
typedef struct task_redis_blocking_sub task_redis_blocking_sub;

/*
 * task_redis_blocking_sub_new - make a subscriber of @b, as
 * task_redis_sub_new: @b must be connected, owe no replies, and not be
 * subscribed yet.  Returns 0 with *@out (the caller's,
 * task_redis_blocking_sub_close()), and @b now owned by it: do not use or
 * close @b any more.  Or -EINVAL, -ENOTCONN, -EBUSY, -ENOMEM, with @b
 * still the caller's.  No I/O: subscribe next.
 */
TASK_API int task_redis_blocking_sub_new(task_redis_blocking *b,
                                         task_redis_blocking_sub **out);

/* task_redis_blocking_sub_close - close the subscriber, its connection
 * and the blocking handle it took over.  NULL is accepted. */
TASK_API void task_redis_blocking_sub_close(task_redis_blocking_sub *s);

/*
 * SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE: as their
 * task_redis_(p)(un)subscribe_poll twins (@n names, @lens NULL for C
 * strings; @n 0 unsubscribes from all), waiting for every confirmation.
 * Messages that arrive meanwhile are queued for
 * task_redis_blocking_sub_next().  0 or -errno.
 */
TASK_API int task_redis_blocking_subscribe(task_redis_blocking_sub *s, int n,
                                           const char *const *chans,
                                           const size_t *lens);
TASK_API int task_redis_blocking_psubscribe(task_redis_blocking_sub *s, int n,
                                            const char *const *pats,
                                            const size_t *lens);
TASK_API int task_redis_blocking_unsubscribe(task_redis_blocking_sub *s, int n,
                                             const char *const *chans,
                                             const size_t *lens);
TASK_API int task_redis_blocking_punsubscribe(task_redis_blocking_sub *s, int n,
                                              const char *const *pats,
                                              const size_t *lens);

/*
 * task_redis_blocking_sub_next - the next message, waiting at most
 * @timeout_ms milliseconds (< 0: for ever; 0: only what has arrived,
 * within a millisecond).  0 with *@msg the message (the caller's:
 * task_redis_msg_free()), -ETIMEDOUT with *@msg zeroed (nothing is
 * lost: a message half read when time ran out is delivered by the next
 * call), or -errno.
 */
TASK_API int task_redis_blocking_sub_next(task_redis_blocking_sub *s,
                                          int timeout_ms,
                                          struct task_redis_msg *msg);

/* PING while subscribed (a liveness check): 0 or -errno. */
TASK_API int task_redis_blocking_sub_ping(task_redis_blocking_sub *s);

/*
 * task_redis_blocking_sub_async - the async subscriber inside @s, for the
 * state calls of redis_sub.h (task_redis_sub_channels, _patterns,
 * _queued, task_redis_sub_client + task_redis_last_error).  Owned by @s;
 * NULL for NULL.
 */
TASK_API const task_redis_sub *
task_redis_blocking_sub_async(const task_redis_blocking_sub *s);

/* ---- State ----------------------------------------------------------------- */

/*
 * task_redis_blocking_client - the async client inside @b, for the state
 * calls of redis_client.h that take a const client (task_redis_protocol,
 * task_redis_connected, task_redis_last_error, task_redis_fd,
 * task_redis_reconnects).  Owned by @b; NULL for NULL.  Calling the
 * async API's poll functions on it is not supported.
 */
TASK_API const task_redis *
task_redis_blocking_client(const task_redis_blocking *b);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_REDIS_BLOCKING_H */
