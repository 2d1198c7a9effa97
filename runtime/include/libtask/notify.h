/*
 * libtask/notify.h - wake tasks without passing data: Tokio's
 * tokio::sync::Notify.
 *
 * A Notify has a queue of waiting tasks and room for at most one stored
 * *permit*:
 *
 *  - task_notify_one() wakes the first waiter (FIFO).  If nobody waits it
 *    stores the permit instead, so a notify_one made before the wait is not
 *    lost: the next wait consumes the permit and completes at once.  Many
 *    notify_one calls with nobody waiting still store only one permit.
 *  - task_notify_waiters() wakes every task waiting right now and stores no
 *    permit (a later wait is not affected by it).
 *
 * Waiting is TASK_NOTIFIED(f, n, op) with a struct task_notified in the
 * frame.  Tokio's subtle guarantee holds: a wait whose operation struct was
 * prepared with task_notified_init() receives every task_notify_waiters()
 * call made after that init, even one made before the wait was first
 * polled.  That is what makes "prepare, check the condition, wait" free of
 * lost wake-ups with notify_waiters:
 *
 *     task_notified_init(&f->nd, &s->changed);   // enable the wait
 *     if (!condition_holds(s))                   // then check
 *             TASK_NOTIFIED(f, &s->changed, &f->nd);
 *
 * Without task_notified_init() the snapshot is taken when the first poll
 * begins, so a notify_waiters() between the check and the wait would be
 * missed (a notify_one() never is: it leaves its permit).
 *
 * The caller allocates the struct task_notify (32 bytes) where its users
 * can reach it and initialises it with task_notify_init(); nothing here
 * allocates.  All calls are safe from any thread; *_poll calls are made
 * from tasks, *_blocking calls from plain threads.
 *
 * Cancellation: a wait is cancellation-safe.  A waiter that is aborted, or
 * loses a TASK_SELECT, while queued simply leaves the queue.  One that
 * task_notify_one() had already picked but that had not yet returned passes
 * the notification on: to the next waiter, or, if nobody waits, back into
 * the permit (as Tokio does when a Notified future is dropped).  A
 * notify_waiters() wake-up is not passed on (it was meant for every waiter
 * of its moment, and the others have it).
 */
#ifndef LIBTASK_NOTIFY_H
#define LIBTASK_NOTIFY_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/wait.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The Notify.  The state word is (generation << 2) | EMPTY, WAITING or
 * NOTIFIED, where the generation counts task_notify_waiters() calls
 * (Tokio's design); the lock guards the queue.
 */
struct task_notify {
        _Atomic uint64_t state;
        struct task__spinlock lock; /* guards waiters */
        struct task_waitq waiters;
};

/*
 * A wait in progress: keep it in the frame, zeroed before first use (or
 * prepared with task_notified_init()).  56 bytes: the node only.
 */
struct task_notified {
        struct task_wait w;
};

/* Initialise @n: nobody waits, no permit.  Returns 0 or -EINVAL. */
TASK_API int task_notify_init(struct task_notify *n);

/*
 * task_notify_destroy - check that nobody waits on @n any more.  Returns 0,
 * -EBUSY while waiters are queued (then @n is left as it was), or -EINVAL.
 * The memory is the caller's.
 */
TASK_API int task_notify_destroy(struct task_notify *n);

/*
 * task_notify_one - wake the first waiter, or store the permit if nobody
 * waits (at most one permit is ever stored).  Lock-free when nobody waits.
 * NULL is ignored.
 */
TASK_API void task_notify_one(struct task_notify *n);

/*
 * task_notify_waiters - wake every task (and thread) waiting on @n now, and
 * every wait prepared with task_notified_init() before this call.  Stores
 * no permit and leaves a stored permit where it is.  NULL is ignored.
 */
TASK_API void task_notify_waiters(struct task_notify *n);

/*
 * task_notified_init - prepare @op for a wait on @n, taking the
 * notify_waiters snapshot now (Tokio: creating the Notified future, or
 * Notified::enable): a task_notify_waiters() call after this one completes
 * the wait even if it was not polled yet.  @op must be idle (zeroed, or
 * finished with its last wait).  The snapshot is used by the next wait on
 * @n through @op and then forgotten.  Returns 0, -EINVAL (NULL), or -EBUSY
 * (@op is in a wait).
 */
TASK_API int task_notified_init(struct task_notified *op,
                                struct task_notify *n);

/*
 * task_notify_poll - the poll of a wait on @n (see TASK_NOTIFIED).  True
 * when notified: a permit was consumed, task_notify_one() picked this
 * waiter, or a task_notify_waiters() call was made after the snapshot (see
 * task_notified_init()).  False while the task waits, queued through @op.
 * With a NULL argument it returns true at once (there is nothing to wait
 * for), or false on a cancelling poll.  Uses one unit of cooperative
 * budget.
 */
TASK_API bool task_notify_poll(struct task_cx *cx, struct task_notify *n,
                               struct task_notified *op);

/* TASK_NOTIFIED(f, n, op) - await a notification from @n. */
#define TASK_NOTIFIED(f, n, op) TASK_AWAIT(f, task_notify_poll((cx), (n), (op)))

/*
 * task_notify_wait_blocking - block the calling thread until notified (a
 * permit, a notify_one, or a notify_waiters made after this call began).
 * Returns 0, -EINVAL, or -EDEADLK on a runtime worker thread (it would
 * block the worker).
 */
TASK_API int task_notify_wait_blocking(struct task_notify *n);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_NOTIFY_H */
