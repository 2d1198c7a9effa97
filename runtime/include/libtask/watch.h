/*
 * libtask/watch.h - a watch channel: one latest value, receivers notified
 * of changes.  Tokio's tokio::sync::watch.
 *
 * The channel holds a single value of @elem_size bytes and a version.
 * Every send replaces the value and bumps the version; a receiver
 * remembers the last version it has *seen* and can wait for a newer one
 * (task_watch_changed_poll / TASK_WATCH_CHANGED).  Intermediate values may
 * be skipped -- a receiver that looks after three sends sees only the
 * third -- but the latest value is never missed: after the last send, every
 * receiver that waits for a change gets it.
 *
 * Reading: task_watch_borrow() copies the current value out without
 * marking it seen; task_watch_borrow_and_update() copies it and marks its
 * version seen (the copy and the version always belong together).  A copy
 * is never torn: readers take no lock, and retry (a seqlock) if a send
 * rewrote the value while they copied it, so a reader never slows a sender.
 *
 * Sending, as Tokio does it:
 *  - task_watch_send() fails with -EPIPE when no receiver is left, and then
 *    does NOT store the value (a later subscriber sees the old one);
 *  - task_watch_send_replace(), task_watch_send_modify() and
 *    task_watch_send_if_modified() always store, receivers or not (the
 *    calls to keep a value up to date for receivers that subscribe later).
 *
 * Values are bytes: a borrow is a copy.  A value holding an owning pointer
 * hands every borrower the same pointer: use task_watch_send_replace() to
 * get the old value back when it is replaced, and a reference count of
 * your own.  The channel never interprets or frees a value.
 *
 * Ends and ownership: the channel is one heap allocation shared by its
 * ends and freed when the last sender and the last receiver are dropped.
 * A sender (task_watch_tx) is a counted reference (clone it for each user,
 * drop each clone once); the last sender's drop closes the channel and
 * wakes every waiting receiver.  A receiver (task_watch_rx) is a small
 * allocation holding the version it has seen; it is used by one task or
 * thread at a time (clone it for another).
 *
 * Thread safety: all calls may be made from any thread; *_poll calls from
 * tasks, *_blocking calls from plain threads.  Sends hold the channel's
 * spinlock while they copy the value in.
 *
 * Cancellation: waiting for a change is cancellation-safe: an aborted wait
 * marks nothing seen, so a change it would have reported is reported to
 * the next wait on that receiver.
 */
#ifndef LIBTASK_WATCH_H
#define LIBTASK_WATCH_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/wait.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A sender: a counted reference to the channel. */
typedef struct task_watch task_watch_tx;

/* A receiver: the version it has seen, owned by one user at a time. */
typedef struct task_watch_rx task_watch_rx;

/* A wait for a change in progress: keep it in the frame, zeroed first. */
struct task_watch_changed {
        struct task_wait w;
};

/*
 * task_watch_new - create a channel holding a copy of @initial.
 * @elem_size: the value's size in bytes; 0 makes a channel of pure change
 *             notifications (then @initial and every value may be NULL).
 * @tx: receives the first sender (the caller owns it: task_watch_tx_drop).
 * @rx: receives the first receiver (task_watch_rx_drop), or NULL.  It has
 *      seen the initial value: waiting for a change waits for a send.
 * Returns 0, -EINVAL (NULL @tx, NULL @initial with @elem_size > 0) or
 * -ENOMEM; on failure nothing was created and *@tx, *@rx are untouched.
 * @initial stays the caller's.
 */
TASK_API int task_watch_new(size_t elem_size, const void *initial,
                            task_watch_tx **tx, task_watch_rx **rx);

/* Another sender for the channel (*@out the caller's).  0 or -EINVAL. */
TASK_API int task_watch_tx_clone(task_watch_tx *tx, task_watch_tx **out);

/*
 * task_watch_tx_drop - drop one sender.  The last one closes the channel:
 * every receiver waiting for a change is woken (it gets a last unseen
 * value if there is one, else -EPIPE).  Frees the channel if no receiver
 * is left.  Once per sender; NULL is ignored.
 */
TASK_API void task_watch_tx_drop(task_watch_tx *tx);

/*
 * task_watch_subscribe - a new receiver that has seen the current value
 * (Tokio's Sender::subscribe).  *@out is the caller's: drop it with
 * task_watch_rx_drop().  Returns 0, -EINVAL or -ENOMEM; on failure *@out
 * is untouched and nothing was created.
 */
TASK_API int task_watch_subscribe(task_watch_tx *tx, task_watch_rx **out);

/*
 * task_watch_send - store a copy of @value and notify the receivers.
 * Returns 0, -EPIPE when no receiver is left (then nothing was stored:
 * Tokio's SendError), or -EINVAL.
 */
TASK_API int task_watch_send(task_watch_tx *tx, const void *value);

/*
 * task_watch_send_replace - store a copy of @value whether or not anybody
 * receives, notify, and copy the value it replaced to @old (if not NULL).
 * Returns 0 or -EINVAL.
 */
TASK_API int task_watch_send_replace(task_watch_tx *tx, const void *value,
                                     void *old);

/*
 * task_watch_send_modify - call @modify(value, @arg) on the stored value in
 * place, then notify, whether or not anybody receives.  **@modify runs
 * under the channel's spinlock: it must be short, must not block and must
 * not call any task_watch_* function on this channel.**  Returns 0 or
 * -EINVAL.
 */
TASK_API int task_watch_send_modify(task_watch_tx *tx,
                                    void (*modify)(void *value, void *arg),
                                    void *arg);

/*
 * task_watch_send_if_modified - as send_modify, but receivers are notified
 * only when @modify returns true.  If it changes the value and returns
 * false, the change is stored but not announced: a later borrow sees it,
 * has_changed and a wait for a change do not.  Returns 1 (notified), 0
 * (not) or -EINVAL.
 */
TASK_API int task_watch_send_if_modified(task_watch_tx *tx,
                                         bool (*modify)(void *value, void *arg),
                                         void *arg);

/* Copy the current value to @out (Tokio's Sender::borrow).  0 or -EINVAL. */
TASK_API int task_watch_tx_borrow(task_watch_tx *tx, void *out);

/* The number of live receivers (0 for NULL). */
TASK_API size_t task_watch_receiver_count(task_watch_tx *tx);

/*
 * task_watch_borrow - copy the current value to @out; does not mark it
 * seen.  Returns 0 or -EINVAL (NULL @rx, NULL @out with @elem_size > 0).
 * Works after the channel is closed (the last value stays readable).
 */
TASK_API int task_watch_borrow(task_watch_rx *rx, void *out);

/*
 * task_watch_borrow_and_update - copy the current value to @out and mark
 * its version seen (the value copied is exactly the version marked).
 * Returns 0 or -EINVAL.
 */
TASK_API int task_watch_borrow_and_update(task_watch_rx *rx, void *out);

/*
 * task_watch_has_changed - 1 when a version newer than the one @rx has seen
 * exists, 0 when not; -EPIPE when every sender is gone, **even if there is
 * an unseen last value** (as Tokio's has_changed; a wait for a change still
 * reports that value); -EINVAL.  Marks nothing seen.
 */
TASK_API int task_watch_has_changed(task_watch_rx *rx);

/* Mark the current version seen (Tokio's mark_unchanged).  NULL ignored. */
TASK_API void task_watch_mark_unchanged(task_watch_rx *rx);

/*
 * Mark the current version unseen, so that the next wait for a change
 * completes at once (Tokio's mark_changed).  NULL is ignored.
 */
TASK_API void task_watch_mark_changed(task_watch_rx *rx);

/*
 * task_watch_changed_poll - the poll of a wait for a change (see
 * TASK_WATCH_CHANGED).  True when done, with *@rc (if not NULL):
 *   0       a version newer than the one @rx had seen exists; it is now
 *           marked seen (read the value with task_watch_borrow());
 *   -EPIPE  every sender is gone and @rx has seen the last version;
 *   -EINVAL NULL @cx, @rx or @op.
 * False when the task waits, queued through @op.  Uses one unit of
 * cooperative budget.  Cancellation-safe: see the head of this file.
 */
TASK_API bool task_watch_changed_poll(struct task_cx *cx, task_watch_rx *rx,
                                      struct task_watch_changed *op, int *rc);

/* TASK_WATCH_CHANGED(f, rx, op, rcp) - await a change of @rx's channel. */
#define TASK_WATCH_CHANGED(f, rx, op, rcp)                                     \
        TASK_AWAIT(f, task_watch_changed_poll((cx), (rx), (op), (rcp)))

/*
 * task_watch_changed_blocking - block the calling thread until a change (or
 * the close).  Returns as the poll above, or -EDEADLK on a runtime worker
 * thread (it would block the worker).
 */
TASK_API int task_watch_changed_blocking(task_watch_rx *rx);

/*
 * task_watch_rx_clone - a new receiver that has seen what @rx has seen.
 * *@out is the caller's: drop it with task_watch_rx_drop().  @rx must not
 * be in use by another thread during the call.  Returns 0, -EINVAL or
 * -ENOMEM; on failure *@out is untouched and nothing was created.
 */
TASK_API int task_watch_rx_clone(task_watch_rx *rx, task_watch_rx **out);

/*
 * task_watch_rx_drop - drop a receiver; frees the channel if it was the
 * last end.  **No wait may be pending on @rx** (an aborted TASK_AWAIT has
 * already cancelled its own).  NULL is ignored.
 */
TASK_API void task_watch_rx_drop(task_watch_rx *rx);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_WATCH_H */
