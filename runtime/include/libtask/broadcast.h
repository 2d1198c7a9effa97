/*
 * libtask/broadcast.h - a multi-producer, multi-consumer broadcast channel:
 * every receiver sees every value sent after it subscribed.  Tokio's
 * tokio::sync::broadcast.
 *
 * The channel is a ring of @capacity values of @elem_size bytes each.  A
 * send copies the value into the ring (overwriting the oldest value once the
 * ring is full) and never waits; each receiver keeps its own position in the
 * ring and copies values out in order.  A receiver that falls more than
 * @capacity values behind has lost the overwritten ones: its next receive
 * reports -EOVERFLOW with the number it missed, and it continues from the
 * oldest value still held.  A slow receiver never slows the senders, and a
 * loss is never silent.
 *
 * Values are bytes: **each receiver gets its own copy of the bytes**.  If a
 * value holds an owning pointer, every receiver gets the same pointer, so
 * the object needs a reference count of the user's own (one reference per
 * receiver that will see it: task_broadcast_send() returns that number).
 * A value that is overwritten in the ring, or still in it when the channel
 * is freed, is simply gone: the channel never interprets or frees it.
 *
 * Ends and ownership: the channel is one heap allocation, shared by its
 * ends and freed when the last sender and the last receiver have been
 * dropped.  A sender handle (task_broadcast_tx) is a counted reference:
 * clone it for every task or thread that sends, and drop each clone once.
 * A receiver (task_broadcast_rx) is a small allocation of its own (its
 * position); one receiver is used by one task or thread at a time, and
 * handed to another with task_broadcast_rx_clone() (same position) or
 * task_broadcast_subscribe() (new values only).  When the last sender is
 * dropped the channel is closed: receivers get the values still in the ring
 * for them, then -EPIPE.  When the last receiver is dropped, sends fail with
 * -EPIPE until somebody subscribes again.
 *
 * Thread safety: all calls may be made from any thread; *_poll calls from
 * tasks, *_blocking calls from plain threads.  A send holds the channel's
 * spinlock while it copies the value in; receivers copy values out without
 * taking it.
 *
 * Cancellation: a receive is cancellation-safe.  A value is consumed only
 * by the poll that copies it to @out and returns true; an aborted receive
 * (or a TASK_SELECT branch that lost) leaves the receiver's position where
 * it was, so the value is received by the next receive on that receiver.
 */
#ifndef LIBTASK_BROADCAST_H
#define LIBTASK_BROADCAST_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/wait.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest capacity a channel can have. */
#define TASK_BROADCAST_MAX_CAPACITY (UINT32_C(1) << 30)

/* A sender: a counted reference to the channel. */
typedef struct task_broadcast task_broadcast_tx;

/* A receiver: a position in the channel, owned by one user at a time. */
typedef struct task_broadcast_rx task_broadcast_rx;

/* A receive in progress: keep it in the frame, zeroed before first use. */
struct task_broadcast_recv {
        struct task_wait w;
};

/*
 * task_broadcast_new - create a channel.
 * @capacity: how many values the ring holds, 1..TASK_BROADCAST_MAX_CAPACITY
 *            (exactly: unlike Tokio, it is not rounded up).
 * @elem_size: the size of a value in bytes; 0 makes a channel of signals
 *             that carry no data (then values and @out may be NULL).
 * @tx: receives the first sender (the caller owns it: task_broadcast_tx_drop).
 * @rx: receives the first receiver (task_broadcast_rx_drop), or NULL for a
 *      channel with no receiver yet (sends fail until one subscribes).
 * Returns 0, -EINVAL (NULL @tx, @capacity out of range, a ring too large to
 * address) or -ENOMEM; on failure nothing was created and *@tx, *@rx are
 * untouched.
 */
TASK_API int task_broadcast_new(size_t capacity, size_t elem_size,
                                task_broadcast_tx **tx, task_broadcast_rx **rx);

/*
 * task_broadcast_tx_clone - another sender for the same channel (the
 * channel stays open until every sender is dropped).  *@out is owned by the
 * caller.  Returns 0 or -EINVAL.  Does not allocate.
 */
TASK_API int task_broadcast_tx_clone(task_broadcast_tx *tx,
                                     task_broadcast_tx **out);

/*
 * task_broadcast_tx_drop - drop one sender.  The last one closes the
 * channel: every waiting receiver is woken and gets what is left for it,
 * then -EPIPE.  Frees the channel if no receiver is left either.  Once per
 * sender; NULL is ignored.
 */
TASK_API void task_broadcast_tx_drop(task_broadcast_tx *tx);

/*
 * task_broadcast_subscribe - a new receiver that will see the values sent
 * after this call (not those already in the ring).  Tokio's
 * Sender::subscribe.  *@out is owned by the caller (task_broadcast_rx_drop).
 * Returns 0, -EINVAL or -ENOMEM (then *@out is untouched).
 */
TASK_API int task_broadcast_subscribe(task_broadcast_tx *tx,
                                      task_broadcast_rx **out);

/*
 * task_broadcast_rx_clone - a new receiver at the same position as @rx: it
 * will see the same values @rx has not received yet (and lag the same way).
 * *@out is owned by the caller (task_broadcast_rx_drop).  @rx must not be
 * in use by another thread during the call.  Returns 0, -EINVAL or -ENOMEM
 * (then *@out is untouched).
 */
TASK_API int task_broadcast_rx_clone(task_broadcast_rx *rx,
                                     task_broadcast_rx **out);

/*
 * task_broadcast_resubscribe - a new receiver at the channel's tail, as
 * task_broadcast_subscribe() would make, from a receiver (Tokio's
 * Receiver::resubscribe).  Works after the channel closed (the new receiver
 * then gets -EPIPE at once).  *@out is owned by the caller
 * (task_broadcast_rx_drop).  Returns 0, -EINVAL or -ENOMEM (then *@out is
 * untouched).
 */
TASK_API int task_broadcast_resubscribe(task_broadcast_rx *rx,
                                        task_broadcast_rx **out);

/*
 * task_broadcast_rx_drop - drop a receiver; values it has not received are
 * left to the others.  Frees the channel if it was the last end.  **No
 * receive may be pending on @rx** (a TASK_AWAIT that was aborted has
 * already cancelled its receive, so a cleanup section may drop @rx).  NULL
 * is ignored.
 */
TASK_API void task_broadcast_rx_drop(task_broadcast_rx *rx);

/*
 * task_broadcast_send - send a copy of the @elem_size bytes at @value to
 * every receiver; never waits.  When the ring is full the oldest value is
 * overwritten (receivers that had not received it will report the loss).
 * Returns the number of receivers the value was sent to (at least 1;
 * INT_MAX at most; one that lags may still lose it), -EPIPE when there is
 * no receiver (then the value was not stored: Tokio's SendError), or
 * -EINVAL (NULL @tx, NULL @value with @elem_size > 0).  @value stays the
 * caller's.
 */
TASK_API int task_broadcast_send(task_broadcast_tx *tx, const void *value);

/*
 * task_broadcast_recv_poll - the poll of a receive (see
 * TASK_BROADCAST_RECV).  True when done, with *@rc (if not NULL):
 *   0          the next value was copied to @out (@elem_size bytes);
 *   -EOVERFLOW the receiver fell behind: *@missed (if not NULL) is the
 *              number of values it lost, and its position moved to the
 *              oldest value still held, which the next receive returns;
 *              the bytes at @out are unspecified;
 *   -EPIPE     every sender is gone and the receiver has received all
 *              that was left for it;
 *   -EINVAL    NULL @cx, @rx or @op, or NULL @out with @elem_size > 0.
 * False when the task waits (queued on the channel through @op; a send or
 * the last sender's drop wakes it).  Uses one unit of cooperative budget.
 * Cancellation-safe: see the head of this file.
 */
TASK_API bool task_broadcast_recv_poll(struct task_cx *cx,
                                       task_broadcast_rx *rx,
                                       struct task_broadcast_recv *op,
                                       void *out, uint64_t *missed, int *rc);

/*
 * TASK_BROADCAST_RECV(f, rx, op, out, missedp, rcp) - await the next value
 * of @rx into @out.  @op, @out, @missedp and @rcp must live in the frame.
 */
#define TASK_BROADCAST_RECV(f, rx, op, out, missedp, rcp)                      \
        TASK_AWAIT(f, task_broadcast_recv_poll((cx), (rx), (op), (out),        \
                                               (missedp), (rcp)))

/*
 * task_broadcast_try_recv - receive without waiting.  Returns as the poll
 * above, or -EAGAIN when there is no new value for @rx yet (and a sender
 * is left).
 */
TASK_API int task_broadcast_try_recv(task_broadcast_rx *rx, void *out,
                                     uint64_t *missed);

/*
 * task_broadcast_recv_blocking - block the calling thread until a receive
 * completes.  Returns as the poll above, or -EDEADLK on a runtime worker
 * thread (it would block the worker).
 */
TASK_API int task_broadcast_recv_blocking(task_broadcast_rx *rx, void *out,
                                          uint64_t *missed);

/* The number of live receivers (0 for NULL). */
TASK_API size_t task_broadcast_receiver_count(task_broadcast_tx *tx);

/*
 * The number of values sent that @rx has not received yet.  It can exceed
 * the capacity, in which case the next receive reports -EOVERFLOW.  0 for
 * NULL.
 */
TASK_API uint64_t task_broadcast_rx_len(task_broadcast_rx *rx);

/* True once every sender is gone (values may still be left for @rx). */
TASK_API bool task_broadcast_rx_is_closed(task_broadcast_rx *rx);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_BROADCAST_H */
