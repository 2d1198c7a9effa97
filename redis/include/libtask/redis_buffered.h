/*
 * libtask/redis_buffered.h - many tasks sharing one Redis connection, their
 * commands coalesced into one write automatically: mini-redis's "buffered
 * client", done better.
 *
 *     task_redis_buffered *b;
 *     task_redis_buffered_new(rt, "127.0.0.1:6379", NULL, &b);
 *     ... in any number of tasks, on any worker:
 *     struct job { TASK_FRAME; struct task_redis_call call;
 *                  struct task_redis_value *v; int rc; };
 *     const char *get[] = {"GET", key};         // copied at the first poll
 *     TASK_REDIS_BUFFERED_CMD(f, b, &f->call, 2, get, NULL, &f->v, &f->rc);
 *     // f->rc == 0: f->v is this task's own reply (owned by it)
 *     ...
 *     task_redis_buffered_close(b);
 *
 * How it works.  A *driver* task, spawned by task_redis_buffered_new() on
 * the runtime given, owns the connection (a task_redis, redis_client.h).
 * A caller's first poll copies its command into the client's *pending
 * batch* (one growable buffer, under a spinlock) and suspends.  The driver
 * takes the whole pending batch at once (swapping it with its own, so
 * callers keep queueing meanwhile), appends every command to the
 * connection, writes them all with one flush, then reads the replies in
 * order and hands each to its caller, waking it.  While a batch is on the
 * wire the next one accumulates, so the more callers there are, the more
 * commands each write carries: under load, one write and one read serve
 * hundreds of tasks (task_redis_buffered_stats() counts the batches).
 * Each caller gets its own reply, in the order its command reached the
 * batch; commands from one task keep their order.
 *
 * No allocation per command: the call state (struct task_redis_call) is
 * the caller's storage, in its frame; the two batch buffers and the
 * driver's argument array grow to their high-water mark and are reused.
 * The reply itself is the only allocation (as with TASK_REDIS_CMD).
 *
 * Errors (*@rc of a call): 0 (the reply is in *@reply; a server error is
 * a TASK_REDIS_ERROR value, not a failure); -EINVAL; -ENOMEM (the command
 * did not fit in memory: nothing was sent); -ESHUTDOWN (the client was
 * closed before the command was written, or its runtime shut down); and
 * the connection's errors (redis_client.h): when the connection breaks
 * (-ECONNRESET, -EPIPE, -EPROTO, the command timeout's -ETIMEDOUT ...),
 * every command of the batch on the wire whose reply had not arrived
 * fails with that error; a command is never sent twice.  Commands queued
 * later go to a new connection when opts.reconnect is on (task_redis's
 * reconnection, with its backoff); with it off they fail with -ENOTCONN.
 * If the first connect fails, the commands waiting for it fail with the
 * connect's error and the next batch connects again.
 *
 * Cancellation (an abort, a lost TASK_SELECT or TASK_TIMEOUT) never waits
 * for the server: a call still queued leaves the batch (its command is
 * never sent); a call already on the wire is *detached*: the caller
 * returns at once, and the driver frees the reply when it arrives.  (The
 * caller waits, through cx->cancel_wait, only for the few instructions
 * during which the driver may be storing its reply.)  So wrapping a call
 * in TASK_TIMEOUT bounds the caller's wait even against a silent server;
 * the connection itself stays bounded by opts.command_timeout_ns.
 *
 * Ownership.  task_redis_buffered_new() allocates the client; the caller
 * owns one reference, given up by task_redis_buffered_close().  The
 * driver and every call in progress hold their own references, so the
 * memory is freed when the last of them lets go: after close, calls
 * still in progress finish safely, and the driver closes the connection
 * once the batch on the wire is answered.  Replies belong to the caller
 * (task_redis_value_free()).  A struct task_redis_call is zeroed before
 * its first use, must stay where it is while a call is in progress, and
 * is reusable once the call has completed (or was cancelled).
 *
 * Thread safety: every function may be called from any thread; the poll
 * from any task on any runtime (not only the driver's).
 */
#ifndef LIBTASK_REDIS_BUFFERED_H
#define LIBTASK_REDIS_BUFFERED_H

#include <libtask/redis_client.h>
#include <libtask/runtime.h>

#include <stdatomic.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A buffered client (opaque): one connection shared by many tasks. */
typedef struct task_redis_buffered task_redis_buffered;

/*
 * One call through a buffered client: caller storage (in the task's
 * frame), zeroed before its first use.  The fields are private; they are
 * public only so that the struct can be embedded.  Written by the caller
 * while it queues; reply, rc and done by whoever completes the call (the
 * driver or task_redis_buffered_close()), before done is stored.
 */
struct task_redis_call {
        struct task_redis_buffered *b; /* while in progress (a reference) */
        task_waker *waker;             /* the caller's, while queued */
        struct task_redis_value *reply;
        uint64_t seq; /* the batch its command went into */
        size_t off;   /* its entry's offset in that batch */
        int rc;
        int state;             /* the caller's: idle, waiting */
        _Atomic uint32_t done; /* stored (release) once reply and rc are */
};

/*
 * task_redis_buffered_new - a buffered client for @where (an address as
 * in redis_client.h) with the options @o (NULL: the defaults; read and
 * copied now, strings included), whose driver task runs on @rt.  Returns
 * at once: the driver connects when the first batch of commands comes
 * (connect errors reach those commands).  Returns 0 with the client in
 * *@out (the caller holds one reference: task_redis_buffered_close()),
 * -EINVAL (NULL, an empty @where), -ENOMEM, or spawn's -ESHUTDOWN; on
 * failure nothing is left behind and *@out is untouched.
 */
TASK_API int task_redis_buffered_new(task_runtime *rt, const char *where,
                                     const struct task_redis_opts *o,
                                     task_redis_buffered **out);

/*
 * task_redis_buffered_wrap - as task_redis_buffered_new, over a client
 * already connected (its options, reconnection included, stay in
 * force).  On success the buffered client owns @c (it closes it); on
 * failure the caller still does.  No call may be in progress on @c, and
 * the caller must not use @c afterwards.
 */
TASK_API int task_redis_buffered_wrap(task_runtime *rt, task_redis *c,
                                      task_redis_buffered **out);

/*
 * task_redis_buffered_cmd_poll - send the command @argv[0..@argc) (as
 * task_redis_cmd_poll: @lens[i] bytes each, or C strings when @lens is
 * NULL) through @b, and await its reply.  @argv and its strings are
 * copied at the first poll: they may be temporaries.  @call: this call's
 * state, in the caller's frame (see its struct).  True when done, with
 * *@rc 0 and *@reply the reply (owned by the caller), or *@rc -errno and
 * *@reply NULL (see the head of this file).  False while it waits; the
 * task is woken when its reply is in.  Called in cancelling mode it
 * cancels or detaches the call (head of this file).
 */
TASK_API bool
task_redis_buffered_cmd_poll(struct task_cx *cx, task_redis_buffered *b,
                             struct task_redis_call *call, int argc,
                             const char *const *argv, const size_t *lens,
                             struct task_redis_value **reply, int *rc);
#define TASK_REDIS_BUFFERED_CMD(f, b, call, argc, argv, lens, replyp, rcp)     \
        TASK_AWAIT(f, task_redis_buffered_cmd_poll((cx), (b), (call), (argc),  \
                                                   (argv), (lens), (replyp),   \
                                                   (rcp)))

/*
 * task_redis_buffered_close - give up the caller's reference to @b: every
 * call still queued (its command not yet written) completes at once with
 * -ESHUTDOWN, later calls fail with -ESHUTDOWN, the batch on the wire (if
 * any) still gets its replies, then the driver closes the connection and
 * ends.  The memory goes with the last reference (the driver's, or that
 * of a call still in progress).  @b must not be used by the caller
 * afterwards.  Never blocks; safe from any thread and from a task.  NULL
 * is accepted.
 */
TASK_API void task_redis_buffered_close(task_redis_buffered *b);

/* Counters, for tests and metrics (each read on its own, relaxed). */
struct task_redis_buffered_stats {
        uint64_t commands;  /* commands written to the server */
        uint64_t batches;   /* batches written: one flush each */
        uint64_t max_batch; /* the most commands one batch carried */
        uint64_t cancelled; /* calls cancelled while queued */
        uint64_t detached;  /* calls cancelled on the wire (reply dropped) */
        uint64_t failed;    /* calls completed with an error */
        uint64_t connects;  /* connections made by the driver (new() only) */
};

/* Fill @st.  Returns 0 or -EINVAL. */
TASK_API int task_redis_buffered_stats(const task_redis_buffered *b,
                                       struct task_redis_buffered_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_REDIS_BUFFERED_H */
