/*
 * libtask/mpsc.h - multi-producer, single-consumer channels, bounded and
 * unbounded.  Tokio's tokio::sync::mpsc.
 *
 * A channel carries values of a fixed size (elem_size bytes, copied; 0 is
 * allowed) from any number of senders to one receiver, in order per
 * sender.  A *bounded* channel holds at most `capacity` values: a send
 * waits while it is full, and waiting senders are served in FIFO order (a
 * sender that arrives later never overtakes one that waits).  An
 * *unbounded* channel never makes a sender wait (it grows; a send can fail
 * with -ENOMEM).
 *
 * Closing: when every sender has been dropped, the receiver gets what is
 * left and then -EPIPE.  task_mpsc_rx_close() closes from the receiving
 * side (Tokio's Receiver::close()): sends fail with -EPIPE from then on
 * (waiting senders too), and the receiver drains what was sent before.
 * When the receiver is dropped, sends fail with -EPIPE and the values still
 * inside are passed to the optional elem_drop (task_mpsc_new_opts()).
 *
 * Ownership: the channel is one heap object (plus, unbounded, its blocks)
 * shared by its ends and freed when the receiver and every sender have
 * been dropped.  A sender is a counted reference: task_mpsc_tx_clone()
 * makes another (the pointer may compare equal: each must be dropped
 * once), task_mpsc_tx_drop() gives one up.  The receiver is one owner at a
 * time (it may be handed to another task or thread, but two receives must
 * not run at once).  Values are the caller's until a send returns 0, then
 * the channel's until a receive returns them (or elem_drop gets them).
 *
 * Threads: every call is safe from any thread; *_poll calls are made from
 * tasks, *_blocking calls from plain threads (-EDEADLK on a worker thread,
 * which they would block).
 *
 * Cancellation (see docs/sync.md for the table):
 *  - send is cancellation-safe: if the sending task is aborted (or a
 *    select branch loses) while it waits for room, the value was not sent
 *    and is still the caller's; the sender loses its place in the queue.
 *  - recv and recv_many are cancellation-safe: a value never leaves the
 *    channel unless a receive returns it, so an aborted receive loses
 *    nothing and the next receive gets the value.
 *
 * Hot paths do not allocate: a bounded channel is one allocation made at
 * creation (its ring of slots included); an unbounded channel allocates a
 * block per 32 values only when its recycled blocks run out.
 */
#ifndef LIBTASK_MPSC_H
#define LIBTASK_MPSC_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/wait.h>

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct task_mpsc_tx task_mpsc_tx;
typedef struct task_mpsc_rx task_mpsc_rx;

/* Limits: values up to 64 KiB; bounded capacity up to 2^24. */
#define TASK_MPSC_MAX_ELEM ((size_t)1 << 16)
#define TASK_MPSC_MAX_CAPACITY ((size_t)1 << 24)

/* What task_mpsc_new_opts() reads (only during the call). */
struct task_mpsc_opts {
        size_t capacity;  /* 1..TASK_MPSC_MAX_CAPACITY, or 0: unbounded */
        size_t elem_size; /* bytes per value, 0..TASK_MPSC_MAX_ELEM */
        /*
         * Called with each value still inside when the receiver is dropped
         * (or the channel freed), or NULL: nothing to do.
         */
        void (*elem_drop)(void *elem);
};

/* A send in progress: keep it in the frame, zeroed before first use. */
struct task_mpsc_send {
        struct task_wait w; /* the wait for room (bounded) */
};

/* A receive in progress: keep it in the frame, zeroed before first use. */
struct task_mpsc_recv {
        struct task_wait w;
};

/*
 * task_mpsc_new - a bounded channel for @capacity values of @elem_size
 * bytes.  @tx, @rx receive a sender and the receiver, owned by the caller.
 * Returns 0, -EINVAL (NULL @tx or @rx, @capacity 0 or too large, @elem_size
 * too large) or -ENOMEM (then nothing was created, *@tx and *@rx are
 * untouched).
 */
TASK_API int task_mpsc_new(size_t capacity, size_t elem_size, task_mpsc_tx **tx,
                           task_mpsc_rx **rx);

/* task_mpsc_unbounded_new - an unbounded channel; as task_mpsc_new(). */
TASK_API int task_mpsc_unbounded_new(size_t elem_size, task_mpsc_tx **tx,
                                     task_mpsc_rx **rx);

/* Either kind, with an elem_drop: the options in @o (not NULL). */
TASK_API int task_mpsc_new_opts(const struct task_mpsc_opts *o,
                                task_mpsc_tx **tx, task_mpsc_rx **rx);

/* ---- Senders --------------------------------------------------------------- */

/*
 * task_mpsc_tx_clone - another sender for the same channel (the returned
 * pointer may equal @tx; drop each once).  NULL for NULL.
 */
TASK_API task_mpsc_tx *task_mpsc_tx_clone(task_mpsc_tx *tx);

/*
 * task_mpsc_tx_drop - give up a sender.  When the last one goes, the
 * receiver drains what is left and then gets -EPIPE.  **Finish or cancel a
 * send in progress on it first.**  NULL is ignored.
 */
TASK_API void task_mpsc_tx_drop(task_mpsc_tx *tx);

/* True once the receiver was closed or dropped (sends fail with -EPIPE). */
TASK_API bool task_mpsc_tx_closed(task_mpsc_tx *tx);

/*
 * task_mpsc_send_poll - the poll behind TASK_MPSC_SEND: send the value at
 * @value (elem_size bytes, copied when the send completes; NULL allowed
 * when elem_size is 0).  True when done, with *@rc (if not NULL):
 *   0        sent: the value is the channel's now;
 *   -EPIPE   the receiver closed or was dropped: not sent, still yours;
 *   -ENOMEM  (unbounded) no memory for a new block: not sent, still yours;
 *   -EINVAL  a NULL argument.
 * False while a bounded channel is full: the task waits in FIFO order for
 * room.  **@value must stay valid and unchanged until the poll returns
 * true** (it is read then).  Uses one unit of cooperative budget.
 * Cancellation-safe: cancelled while waiting, nothing was sent and the
 * value is still the caller's.
 */
TASK_API bool task_mpsc_send_poll(struct task_cx *cx, task_mpsc_tx *tx,
                                  struct task_mpsc_send *op, const void *value,
                                  int *rc);

/* TASK_MPSC_SEND(f, tx, op, value, rcp) - await sending *@value. */
#define TASK_MPSC_SEND(f, tx, op, value, rcp)                                  \
        TASK_AWAIT(f, task_mpsc_send_poll((cx), (tx), (op), (value), (rcp)))

/*
 * task_mpsc_try_send - send now if there is room.  Returns 0, -EAGAIN (a
 * bounded channel is full, or senders are waiting for room: they go
 * first), -EPIPE (closed), -ENOMEM (unbounded), -EINVAL.  On failure the
 * value is still the caller's.
 */
TASK_API int task_mpsc_try_send(task_mpsc_tx *tx, const void *value);

/*
 * task_mpsc_send_blocking - send, blocking the calling thread while a
 * bounded channel is full.  Returns as task_mpsc_try_send() but never
 * -EAGAIN; -EDEADLK on a runtime worker thread (even for an unbounded
 * channel, where task_mpsc_try_send() never waits: use it there).
 */
TASK_API int task_mpsc_send_blocking(task_mpsc_tx *tx, const void *value);

/* ---- Receiver -------------------------------------------------------------- */

/*
 * task_mpsc_recv_poll - the poll behind TASK_MPSC_RECV.  True when done,
 * with *@rc (if not NULL):
 *   0        the next value was copied to @out (NULL allowed when
 *            elem_size is 0) and is the caller's;
 *   -EPIPE   closed (every sender dropped, or task_mpsc_rx_close()) and
 *            nothing is left: every later receive returns -EPIPE too;
 *   -EINVAL  a NULL argument.
 * False while the channel is empty: the task is registered to be woken by
 * the next send (or close).  Uses one unit of cooperative budget when a
 * value is taken.  Cancellation-safe: a value leaves the channel only when
 * a receive returns it.
 */
TASK_API bool task_mpsc_recv_poll(struct task_cx *cx, task_mpsc_rx *rx,
                                  struct task_mpsc_recv *op, void *out,
                                  int *rc);

/* TASK_MPSC_RECV(f, rx, op, out, rcp) - await the next value into @out. */
#define TASK_MPSC_RECV(f, rx, op, out, rcp)                                    \
        TASK_AWAIT(f, task_mpsc_recv_poll((cx), (rx), (op), (out), (rcp)))

/*
 * task_mpsc_recv_many_poll - receive a batch (Tokio's recv_many): wait
 * until at least one value is there, then copy up to @max values, in
 * order, to @buf (an array of @max elements), with *@n the number copied.
 * *@rc as task_mpsc_recv_poll() (with *@n 0 on -EPIPE).  @max 0 completes
 * at once with *@n 0 and *@rc 0.  Cancellation-safe, like recv.
 */
TASK_API bool task_mpsc_recv_many_poll(struct task_cx *cx, task_mpsc_rx *rx,
                                       struct task_mpsc_recv *op, void *buf,
                                       size_t max, size_t *n, int *rc);

/* TASK_MPSC_RECV_MANY(f, rx, op, buf, max, np, rcp) - await a batch. */
#define TASK_MPSC_RECV_MANY(f, rx, op, buf, max, np, rcp)                      \
        TASK_AWAIT(f, task_mpsc_recv_many_poll((cx), (rx), (op), (buf), (max), \
                                               (np), (rcp)))

/*
 * task_mpsc_try_recv - take the next value if there is one.  Returns 0,
 * -EAGAIN (empty, senders remain), -EPIPE (closed and empty), -EINVAL.
 */
TASK_API int task_mpsc_try_recv(task_mpsc_rx *rx, void *out);

/*
 * task_mpsc_recv_blocking - receive, blocking the calling thread while
 * empty.  Returns 0, -EPIPE, -EINVAL, or -EDEADLK on a worker thread.
 */
TASK_API int task_mpsc_recv_blocking(task_mpsc_rx *rx, void *out);

/*
 * task_mpsc_rx_close - close from the receiving side: sends fail with
 * -EPIPE from now on (senders waiting for room too), and the receiver goes
 * on receiving what was sent before, then gets -EPIPE.  Idempotent.  NULL
 * is ignored.
 */
TASK_API void task_mpsc_rx_close(task_mpsc_rx *rx);

/*
 * task_mpsc_rx_drop - close and give up the receiver: the values inside
 * go to elem_drop.  **Finish or cancel a receive in progress first.**
 * NULL is ignored.
 */
TASK_API void task_mpsc_rx_drop(task_mpsc_rx *rx);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_MPSC_H */
