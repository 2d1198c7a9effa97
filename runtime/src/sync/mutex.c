/*
 * mutex.c - the fair mutex (libtask/mutex.h): a semaphore with one permit,
 * as Tokio builds its Mutex.  Fairness, hand-off and cancellation all come
 * from the semaphore: an unlock releases the permit, which goes straight to
 * the head waiter; an aborted waiter gives back a permit it was handed.
 *
 * The mutex is locked exactly while its permit is out: held by a task or a
 * thread, or handed to a waiter that has not run yet.  An unlock releases
 * it through task__sem_release_max() with a limit of 1, so the unlock of a
 * mutex that is not locked (its permit is free) is refused with -EPERM and
 * adds nothing.  The only cost is on the unlock path, and it is the CAS
 * that releases the permit.
 *
 * What it cannot refuse is an unlock by a caller that does not hold the
 * permit while it is out.  The lock is not tied to a task, so that may be
 * legitimate (a guard passed on); when it is a bug, typically a second
 * unlock by the previous holder after the first one handed the lock to a
 * waiter, it releases the waiter's lock under it, as unlocking a pthread
 * mutex one does not own releases the owner's.  Refusing it would take
 * either a count of the permits handed to waiters that have not taken them
 * yet, updated by both sides of every hand-off, or a flag set by every lock
 * and cleared by every unlock (what this file had before: one more
 * read-modify-write per lock and unlock).  We accept it instead, because
 * the damage stays bounded.  Such an unlock puts one permit too many in
 * circulation (if the waiter is then cancelled before it runs, its own
 * permit goes back too, and two are free).  The extra permit lets one more
 * locker in, until the first unlock that finds a permit free absorbs it:
 * that unlock returns -EPERM, even if its caller did hold the lock, which
 * is where the bug shows.  No permit is ever lost (a refused unlock leaves
 * one free), so the mutex cannot deadlock because of it.
 */
#include "sync/semaphore-priv.h"

#include <libtask/mutex.h>

#include <errno.h>

int task_mutex_init(struct task_mutex *m)
{
        if (!m)
                return -EINVAL;
        return task_sem_init(&m->sem, 1);
}

int task_mutex_destroy(struct task_mutex *m)
{
        if (!m)
                return -EINVAL;
        int rc = task_sem_destroy(&m->sem);
        if (rc < 0)
                return rc;
        return task_sem_available(&m->sem) == 0 ? -EBUSY : 0;
}

bool task_mutex_lock_poll(struct task_cx *cx, struct task_mutex *m,
                          struct task_mutex_lock *op, int *rc)
{
        if (!cx || !m || !op) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        /* On a cancelling poll this cancels the acquire and returns false. */
        return task_sem_acquire_poll(cx, &m->sem, 1, &op->acq, rc);
}

int task_mutex_try_lock(struct task_mutex *m)
{
        if (!m)
                return -EINVAL;
        return task_sem_try_acquire(&m->sem, 1);
}

int task_mutex_lock_blocking(struct task_mutex *m)
{
        if (!m)
                return -EINVAL;
        return task_sem_acquire_blocking(&m->sem, 1);
}

int task_mutex_unlock(struct task_mutex *m)
{
        if (!m)
                return -EINVAL;
        /* -EOVERFLOW: the permit is free, so the mutex is not locked. */
        return task__sem_release_max(&m->sem, 1, 1) == 0 ? 0 : -EPERM;
}

bool task_mutex_is_locked(struct task_mutex *m)
{
        return m && task_sem_available(&m->sem) == 0;
}
