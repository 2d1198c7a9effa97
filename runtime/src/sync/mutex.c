/*
 * mutex.c - the fair mutex (libtask/mutex.h): a semaphore with one permit,
 * as Tokio builds its Mutex.  Fairness, hand-off and cancellation all come
 * from the semaphore: an unlock releases the permit, which goes straight to
 * the head waiter; an aborted waiter gives back a permit it was handed.
 *
 * What this file adds is the `locked` flag, so that an unlock of an
 * unlocked mutex is refused instead of adding a second permit (which would
 * let two holders in).  Invariant: every successful task_mutex_unlock()
 * clears a flag that an acquisition set, so releases never outnumber
 * acquisitions and the semaphore never holds more than one permit.  The
 * flag is set after the permit is acquired and cleared before it is
 * released; the semaphore's own release/acquire orders one holder's clear
 * before the next holder's set, so the flag itself needs no ordering
 * (relaxed): it guards no data.
 *
 * "Is it locked" is read from the semaphore instead (no free permit), which
 * also covers a lock handed to a waiter that has not run yet.
 */
#include <libtask/mutex.h>

#include <errno.h>

int task_mutex_init(struct task_mutex *m)
{
        if (!m)
                return -EINVAL;
        int rc = task_sem_init(&m->sem, 1);
        if (rc < 0)
                return rc;
        atomic_init(&m->locked, 0);
        return 0;
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

/* The caller has just acquired the permit. */
static void mutex_mark_locked(struct task_mutex *m)
{
        /* Relaxed: see the head comment. */
        atomic_store_explicit(&m->locked, 1, memory_order_relaxed);
}

bool task_mutex_lock_poll(struct task_cx *cx, struct task_mutex *m,
                          struct task_mutex_lock *op, int *rc)
{
        int r;

        if (!cx || !m || !op) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        /* On a cancelling poll this cancels the acquire and returns false. */
        if (!task_sem_acquire_poll(cx, &m->sem, 1, &op->acq, &r))
                return false;
        if (r == 0)
                mutex_mark_locked(m);
        if (rc)
                *rc = r;
        return true;
}

int task_mutex_try_lock(struct task_mutex *m)
{
        if (!m)
                return -EINVAL;
        int rc = task_sem_try_acquire(&m->sem, 1);
        if (rc == 0)
                mutex_mark_locked(m);
        return rc;
}

int task_mutex_lock_blocking(struct task_mutex *m)
{
        if (!m)
                return -EINVAL;
        int rc = task_sem_acquire_blocking(&m->sem, 1);
        if (rc == 0)
                mutex_mark_locked(m);
        return rc;
}

int task_mutex_unlock(struct task_mutex *m)
{
        if (!m)
                return -EINVAL;
        /* Relaxed: see the head comment. */
        if (!atomic_exchange_explicit(&m->locked, 0, memory_order_relaxed))
                return -EPERM;
        return task_sem_release(&m->sem, 1);
}

bool task_mutex_is_locked(struct task_mutex *m)
{
        return m && task_sem_available(&m->sem) == 0;
}
