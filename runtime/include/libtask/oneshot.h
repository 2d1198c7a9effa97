/*
 * libtask/oneshot.h - a channel for one value, sent once.  Tokio's
 * tokio::sync::oneshot.
 *
 * task_oneshot_new() makes a channel and its two ends: the sender sends at
 * most one value (task_oneshot_send(), which consumes the sender) or drops
 * out (task_oneshot_tx_drop()); the receiver awaits the value
 * (TASK_ONESHOT_RECV) and learns, with -EPIPE, when the sender went away
 * without sending.  The sender learns that the receiver is gone from
 * task_oneshot_send() returning -EPIPE (the value stays the caller's), from
 * task_oneshot_tx_closed(), or by awaiting it (TASK_ONESHOT_CLOSED).
 *
 * Values are byte copies of elem_size bytes (0 is allowed: a pure signal,
 * Tokio's oneshot::<()>).  A value sent and never received is passed to the
 * optional elem_drop (task_oneshot_new_opts()) when the receiver is dropped,
 * so an owning pointer in flight is not leaked.
 *
 * Ownership: the channel is one heap allocation shared by its two ends and
 * freed when both have been given up (the sender by task_oneshot_send() or
 * task_oneshot_tx_drop(), the receiver by task_oneshot_rx_drop()).  Each end
 * belongs to one owner at a time, who may hand it to another task or thread;
 * the two ends may be used from different threads at the same time.  An end
 * must not be used after it was given up.
 *
 * Cancellation: a receive is cancellation-safe: an aborted receive takes
 * nothing out of the channel, and a value sent meanwhile stays there for the
 * next receive (or for elem_drop).  Awaiting TASK_ONESHOT_CLOSED is
 * cancellation-safe too (there is no value in flight).
 */
#ifndef LIBTASK_ONESHOT_H
#define LIBTASK_ONESHOT_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/wait.h>

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The two ends of a oneshot channel (both point into one allocation). */
typedef struct task_oneshot_tx task_oneshot_tx;
typedef struct task_oneshot_rx task_oneshot_rx;

/* The largest value a oneshot carries. */
#define TASK_ONESHOT_MAX_ELEM ((size_t)1 << 30)

/* What task_oneshot_new_opts() reads (only during the call). */
struct task_oneshot_opts {
        size_t elem_size; /* bytes per value, 0..TASK_ONESHOT_MAX_ELEM */
        /*
         * Called (on the thread dropping the receiver) with a pointer to a
         * value that was sent and never received, or NULL: nothing to do.
         */
        void (*elem_drop)(void *elem);
};

/* A receive in progress: keep it in the frame, zeroed before first use. */
struct task_oneshot_recv {
        struct task_wait w;
};

/* A wait for the receiver to go away: in the frame, zeroed. */
struct task_oneshot_closed {
        struct task_wait w;
};

/*
 * task_oneshot_new - a channel for one value of @elem_size bytes.
 * @tx, @rx: receive the two ends, owned by the caller.
 * Returns 0, -EINVAL (NULL @tx or @rx, @elem_size too large) or -ENOMEM
 * (then nothing was created and *@tx, *@rx are untouched).
 */
TASK_API int task_oneshot_new(size_t elem_size, task_oneshot_tx **tx,
                              task_oneshot_rx **rx);

/* task_oneshot_new with the options in @o (not NULL). */
TASK_API int task_oneshot_new_opts(const struct task_oneshot_opts *o,
                                   task_oneshot_tx **tx, task_oneshot_rx **rx);

/* ---- Sender ---------------------------------------------------------------- */

/*
 * task_oneshot_send - send the value at @value (elem_size bytes, copied;
 * may be NULL when elem_size is 0) and give up the sender.  Never waits.
 * Returns 0: the value is in the channel (the receiver, or elem_drop, owns
 * it now); -EPIPE: the receiver is gone or closed, the value was not taken
 * and stays the caller's.  Either way @tx is consumed.  -EINVAL (NULL @tx,
 * NULL @value with a non-zero elem_size): nothing happened, @tx is still
 * the caller's.
 */
TASK_API int task_oneshot_send(task_oneshot_tx *tx, const void *value);

/*
 * task_oneshot_tx_drop - give up the sender without sending: the receiver's
 * receive completes with -EPIPE.  NULL is ignored.
 */
TASK_API void task_oneshot_tx_drop(task_oneshot_tx *tx);

/* True once the receiver was dropped or closed (a send would fail). */
TASK_API bool task_oneshot_tx_closed(task_oneshot_tx *tx);

/*
 * task_oneshot_closed_poll - the poll behind TASK_ONESHOT_CLOSED (Tokio's
 * Sender::closed()): true once the receiver was dropped or closed, with
 * *@rc (if not NULL) 0, or -EINVAL for a NULL argument.  False while it
 * waits, registered to be woken.  **Finish or cancel this wait before
 * sending or dropping @tx** (TASK_SELECT and aborts do that).
 */
TASK_API bool task_oneshot_closed_poll(struct task_cx *cx, task_oneshot_tx *tx,
                                       struct task_oneshot_closed *op, int *rc);

/* TASK_ONESHOT_CLOSED(f, tx, op, rcp) - await the receiver going away. */
#define TASK_ONESHOT_CLOSED(f, tx, op, rcp)                                    \
        TASK_AWAIT(f, task_oneshot_closed_poll((cx), (tx), (op), (rcp)))

/* ---- Receiver -------------------------------------------------------------- */

/*
 * task_oneshot_recv_poll - the poll behind TASK_ONESHOT_RECV.  True when
 * done, with *@rc (if not NULL):
 *   0        the value was copied to @out (elem_size bytes; @out may be
 *            NULL when elem_size is 0) and is the caller's;
 *   -EPIPE   no value will come: the sender was dropped without sending,
 *            the receiver was closed before a value arrived, or the value
 *            was already received (a oneshot is spent after one value:
 *            every later receive returns -EPIPE);
 *   -EINVAL  a NULL argument (NULL @out with a non-zero elem_size).
 * False while waiting, registered to be woken by the sender.  Uses one
 * unit of cooperative budget when ready.  Cancellation-safe: cancelled (an
 * abort, a select branch that lost), it drops its registration and takes
 * nothing; the value, if it arrives, waits for the next receive.
 */
TASK_API bool task_oneshot_recv_poll(struct task_cx *cx, task_oneshot_rx *rx,
                                     struct task_oneshot_recv *op, void *out,
                                     int *rc);

/* TASK_ONESHOT_RECV(f, rx, op, out, rcp) - await the value into @out. */
#define TASK_ONESHOT_RECV(f, rx, op, out, rcp)                                 \
        TASK_AWAIT(f, task_oneshot_recv_poll((cx), (rx), (op), (out), (rcp)))

/*
 * task_oneshot_try_recv - take the value if it is there.  Returns 0 (copied
 * to @out), -EAGAIN (not sent yet), -EPIPE (as for a receive), -EINVAL.
 */
TASK_API int task_oneshot_try_recv(task_oneshot_rx *rx, void *out);

/*
 * task_oneshot_recv_blocking - block the calling thread until the value
 * arrives or the sender is gone.  Returns as task_oneshot_try_recv() but
 * never -EAGAIN, or -EDEADLK on a runtime worker thread.
 */
TASK_API int task_oneshot_recv_blocking(task_oneshot_rx *rx, void *out);

/*
 * task_oneshot_rx_close - refuse the value from now on (Tokio's
 * Receiver::close()): a later send fails with -EPIPE and a waiting
 * TASK_ONESHOT_CLOSED completes.  A value sent before the close can still
 * be received.  The receiver stays the caller's.  NULL is ignored.
 */
TASK_API void task_oneshot_rx_close(task_oneshot_rx *rx);

/*
 * task_oneshot_rx_drop - close and give up the receiver.  A value sent and
 * not received is passed to elem_drop now.  **Finish or cancel a receive
 * in progress first.**  NULL is ignored.
 */
TASK_API void task_oneshot_rx_drop(task_oneshot_rx *rx);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_ONESHOT_H */
