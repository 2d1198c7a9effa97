/*
 * libtask/mutex.h - an asynchronous, fair mutex: Tokio's
 * tokio::sync::Mutex.
 *
 * A task locks it with TASK_MUTEX_LOCK and owns it, across any number of
 * suspensions, until it calls task_mutex_unlock() (the analog of dropping
 * Tokio's MutexGuard).  Waiters are served strictly in FIFO order: the
 * mutex is a semaphore with one permit (exactly Tokio's design), and an
 * unlock hands the lock to the head waiter directly, so nobody arriving
 * later can barge in.  Plain threads lock it with task_mutex_lock_blocking()
 * and the two kinds of users mix freely.
 *
 * The lock is not tied to a task: any task or thread may unlock a mutex that
 * is locked (as an OwnedMutexGuard can move between tasks).  Unlocking a
 * mutex that is not locked returns -EPERM and changes nothing.  A mutex is
 * locked from the moment an unlock hands it to a waiter, even before that
 * waiter runs, so a second unlock by the previous holder is refused only if
 * nobody was waiting; otherwise it releases the waiter's lock, as an
 * unlock by a non-owner of a pthread mutex would.  That is a bug the mutex
 * cannot always report: mutual exclusion is broken until a later unlock
 * finds the mutex free and returns -EPERM.
 *
 * The caller allocates the struct and initialises it with
 * task_mutex_init(); nothing here allocates.  All calls are safe from any
 * thread; *_poll calls are made from tasks, *_blocking calls from plain
 * threads.
 *
 * Cancellation: locking is cancellation-safe.  An aborted waiter (or a
 * losing TASK_SELECT branch) never ends up holding the lock: it leaves the
 * queue, and if the lock had already been handed to it, it passes on to the
 * next waiter (or becomes free).  A task aborted while it *holds* the lock
 * keeps it: the lock is released only by task_mutex_unlock(), so a task
 * that can be aborted while holding it unlocks in its TASK_CLEANUP section,
 * which is where a Rust MutexGuard living in the frame would be dropped:
 *
 *     TASK_MUTEX_LOCK(f, &s->mu, &f->lk, NULL);
 *     f->locked = true;
 *     ...                                  // may suspend, may be aborted
 *     task_mutex_unlock(&s->mu);
 *     f->locked = false;
 *     TASK_CLEANUP(f);
 *     if (f->locked)
 *             task_mutex_unlock(&s->mu);
 */
#ifndef LIBTASK_MUTEX_H
#define LIBTASK_MUTEX_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/semaphore.h>
#include <libtask/wait.h>

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The mutex: a one-permit semaphore.  It is locked while its permit is out
 * (held, or handed to a waiter that has not run yet).
 */
struct task_mutex {
        struct task_sem sem;
};

/* A lock in progress: keep it in the frame, zeroed before first use. */
struct task_mutex_lock {
        struct task_sem_acquire acq;
};

/* Initialise @m, unlocked.  Returns 0 or -EINVAL. */
TASK_API int task_mutex_init(struct task_mutex *m);

/*
 * task_mutex_destroy - check that @m is unused.  Returns 0, -EBUSY while
 * it is locked or waiters are queued (then @m is left as it was), or
 * -EINVAL.  The memory is the caller's.
 */
TASK_API int task_mutex_destroy(struct task_mutex *m);

/*
 * task_mutex_lock_poll - the poll of a lock of @m (see TASK_MUTEX_LOCK).
 * True when done, with *@rc (if not NULL) 0: the caller holds the lock
 * until it calls task_mutex_unlock(); or -EINVAL (a NULL argument).  False
 * while the task waits, queued in FIFO order through @op.  Uses one unit of
 * cooperative budget.
 */
TASK_API bool task_mutex_lock_poll(struct task_cx *cx, struct task_mutex *m,
                                   struct task_mutex_lock *op, int *rc);

/*
 * TASK_MUTEX_LOCK(f, m, op, rcp) - await the lock of @m.  @rcp may be NULL
 * (the only failure is -EINVAL, for a NULL @m or @op).
 */
#define TASK_MUTEX_LOCK(f, m, op, rcp)                                         \
        TASK_AWAIT(f, task_mutex_lock_poll((cx), (m), (op), (rcp)))

/*
 * task_mutex_try_lock - lock @m if it is free and nobody waits.  Returns 0
 * (the caller holds the lock), -EAGAIN (not now), or -EINVAL.
 */
TASK_API int task_mutex_try_lock(struct task_mutex *m);

/*
 * task_mutex_lock_blocking - block the calling thread until it holds the
 * lock (in FIFO order with the tasks).  Returns 0, -EINVAL, or -EDEADLK on
 * a runtime worker thread (it would block the worker).
 */
TASK_API int task_mutex_lock_blocking(struct task_mutex *m);

/*
 * task_mutex_unlock - release the lock: the first waiter, if any, gets it.
 * Returns 0, -EPERM when @m is not locked (nothing changes), or -EINVAL.
 * It releases the lock whoever holds it (see above).
 */
TASK_API int task_mutex_unlock(struct task_mutex *m);

/* True while @m is locked or being handed to a waiter (a snapshot). */
TASK_API bool task_mutex_is_locked(struct task_mutex *m);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_MUTEX_H */
