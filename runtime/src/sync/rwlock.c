/*
 * rwlock.c - the fair reader-writer lock (libtask/rwlock.h): a semaphore
 * of max_readers permits where a read takes one and a write takes them all,
 * as Tokio builds its RwLock.  FIFO order, hand-off, write preference (a
 * queued writer holds back the readers behind it: the semaphore never lets
 * anyone overtake its head waiter) and cancellation all come from the
 * semaphore.
 *
 * What this file adds is `writer`, set while a writer holds the lock, so
 * that an unlock that matches no holder is refused (-EPERM):
 *
 *  - write_unlock and downgrade clear it with an exchange, and are refused
 *    when it was clear.  They release with no limit: an extra permit that
 *    a bogus read_unlock let in while the writer held the lock is absorbed
 *    later (below), where a limit here would throw the writer's permits
 *    away and leave the lock unable to admit a writer ever again.
 *  - read_unlock is refused when it is set, and otherwise releases one
 *    permit through task__sem_release_max() with a limit of max_readers,
 *    refused when every permit is free already (no reader holds one).
 *
 * Readers do not record themselves: the permit they hold is the record,
 * and taking and giving it back is the semaphore's single CAS each way.
 * As with the Mutex (see mutex.c), a read_unlock while permits are out
 * but held by no reader (and by no writer that has run) is accepted, since
 * the semaphore cannot tell: they may be handed to a waiter that has not
 * run yet (a writer sets `writer` only when it runs), or set aside for a
 * queued writer.  Such an unlock puts one permit too many in circulation;
 * the first read_unlock that finds every permit free, or a writer that has
 * run, absorbs it (and returns -EPERM), and no permit is ever lost by a
 * refusal.
 *
 * Orderings: `writer` guards no data, so its accesses are relaxed.  It is
 * set after the writer acquired every permit and cleared before they are
 * released, and the semaphore's release/acquire orders a writer's clear
 * before anything a later holder does: a reader that holds a permit reads
 * it clear (unless a bogus unlock let a writer in beside it).
 */
#include "sync/semaphore-priv.h"

#include <libtask/rwlock.h>

#include <errno.h>

int task_rwlock_init(struct task_rwlock *rw, uint64_t max_readers)
{
        if (!rw || max_readers > TASK_SEM_MAX_PERMITS)
                return -EINVAL;
        if (max_readers == 0)
                max_readers = TASK_RWLOCK_MAX_READERS;
        int rc = task_sem_init(&rw->sem, max_readers);
        if (rc < 0)
                return rc;
        rw->max_readers = max_readers;
        atomic_init(&rw->writer, 0);
        return 0;
}

int task_rwlock_destroy(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        int rc = task_sem_destroy(&rw->sem);
        if (rc < 0)
                return rc;
        return task_sem_available(&rw->sem) != rw->max_readers ? -EBUSY : 0;
}

/* A writer has just acquired every permit. */
static void rw_mark_write(struct task_rwlock *rw)
{
        /* Relaxed: see the head comment. */
        atomic_store_explicit(&rw->writer, 1, memory_order_relaxed);
}

bool task_rwlock_read_poll(struct task_cx *cx, struct task_rwlock *rw,
                           struct task_rwlock_read *op, int *rc)
{
        if (!cx || !rw || !op) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        /* On a cancelling poll this cancels the acquire and returns false. */
        return task_sem_acquire_poll(cx, &rw->sem, 1, &op->acq, rc);
}

bool task_rwlock_write_poll(struct task_cx *cx, struct task_rwlock *rw,
                            struct task_rwlock_write *op, int *rc)
{
        int r;

        if (!cx || !rw || !op) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        if (!task_sem_acquire_poll(cx, &rw->sem, rw->max_readers, &op->acq, &r))
                return false;
        if (r == 0)
                rw_mark_write(rw);
        if (rc)
                *rc = r;
        return true;
}

int task_rwlock_try_read(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        return task_sem_try_acquire(&rw->sem, 1);
}

int task_rwlock_try_write(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        int rc = task_sem_try_acquire(&rw->sem, rw->max_readers);
        if (rc == 0)
                rw_mark_write(rw);
        return rc;
}

int task_rwlock_read_blocking(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        return task_sem_acquire_blocking(&rw->sem, 1);
}

int task_rwlock_write_blocking(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        int rc = task_sem_acquire_blocking(&rw->sem, rw->max_readers);
        if (rc == 0)
                rw_mark_write(rw);
        return rc;
}

int task_rwlock_read_unlock(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        /* Relaxed: see the head comment. */
        if (atomic_load_explicit(&rw->writer, memory_order_relaxed))
                return -EPERM;
        /* -EOVERFLOW: every permit is free, so no reader holds one. */
        return task__sem_release_max(&rw->sem, 1, rw->max_readers) == 0
                   ? 0
                   : -EPERM;
}

/* Erase the writer; false when there is none. */
static bool rw_unmark_write(struct task_rwlock *rw)
{
        /* Relaxed: see the head comment. */
        return atomic_exchange_explicit(&rw->writer, 0, memory_order_relaxed);
}

int task_rwlock_write_unlock(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        if (!rw_unmark_write(rw))
                return -EPERM;
        return task_sem_release(&rw->sem, rw->max_readers);
}

int task_rwlock_downgrade(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        if (!rw_unmark_write(rw)) /* the writer becomes one reader */
                return -EPERM;
        return rw->max_readers > 1
                   ? task_sem_release(&rw->sem, rw->max_readers - 1)
                   : 0;
}
