/*
 * rwlock.c - the fair reader-writer lock (libtask/rwlock.h): a semaphore
 * of max_readers permits where a read takes one and a write takes them all,
 * as Tokio builds its RwLock.  FIFO order, hand-off, write preference (a
 * queued writer holds back the readers behind it: the semaphore never lets
 * anyone overtake its head waiter) and cancellation all come from the
 * semaphore.
 *
 * What this file adds is `held`: the number of readers, or RW_WRITER while
 * a writer holds the lock.  A holder records itself there after acquiring
 * its permits and erases itself before releasing them, so an unlock that
 * matches no holder is refused (-EPERM) and the semaphore never gets more
 * than max_readers permits back.  The semaphore's release/acquire orders
 * one holder's erasure before the next holder's record; `held` guards no
 * data, so its own accesses are relaxed.  Invariant: `held` is 0, a reader
 * count in 1..max_readers, or RW_WRITER alone.
 *
 * "Is it in use" (for destroy) is read from the semaphore instead (fewer
 * than max_readers free permits), which also covers a lock handed to a
 * waiter that has not run yet.
 */
#include <libtask/rwlock.h>

#include <errno.h>

#define RW_WRITER (UINT64_C(1) << 63)

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
        atomic_init(&rw->held, 0);
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

/* A reader has just acquired its permit. */
static void rw_mark_read(struct task_rwlock *rw)
{
        /* Relaxed: see the head comment. */
        atomic_fetch_add_explicit(&rw->held, 1, memory_order_relaxed);
}

/* A writer has just acquired every permit: no holder is recorded. */
static void rw_mark_write(struct task_rwlock *rw)
{
        /* Relaxed: see the head comment. */
        atomic_store_explicit(&rw->held, RW_WRITER, memory_order_relaxed);
}

bool task_rwlock_read_poll(struct task_cx *cx, struct task_rwlock *rw,
                           struct task_rwlock_read *op, int *rc)
{
        int r;

        if (!cx || !rw || !op) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        /* On a cancelling poll this cancels the acquire and returns false. */
        if (!task_sem_acquire_poll(cx, &rw->sem, 1, &op->acq, &r))
                return false;
        if (r == 0)
                rw_mark_read(rw);
        if (rc)
                *rc = r;
        return true;
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
        int rc = task_sem_try_acquire(&rw->sem, 1);
        if (rc == 0)
                rw_mark_read(rw);
        return rc;
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
        int rc = task_sem_acquire_blocking(&rw->sem, 1);
        if (rc == 0)
                rw_mark_read(rw);
        return rc;
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
        uint64_t cur = atomic_load_explicit(&rw->held, memory_order_relaxed);
        do {
                if (cur == 0 || (cur & RW_WRITER))
                        return -EPERM;
                /* Relaxed: see the head comment. */
        } while (!atomic_compare_exchange_weak_explicit(
            &rw->held, &cur, cur - 1, memory_order_relaxed,
            memory_order_relaxed));
        return task_sem_release(&rw->sem, 1);
}

/* Erase the writer; false when there is none. */
static bool rw_unmark_write(struct task_rwlock *rw, uint64_t to)
{
        uint64_t expect = RW_WRITER;
        /* Relaxed: see the head comment. */
        return atomic_compare_exchange_strong_explicit(
            &rw->held, &expect, to, memory_order_relaxed, memory_order_relaxed);
}

int task_rwlock_write_unlock(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        if (!rw_unmark_write(rw, 0))
                return -EPERM;
        return task_sem_release(&rw->sem, rw->max_readers);
}

int task_rwlock_downgrade(struct task_rwlock *rw)
{
        if (!rw)
                return -EINVAL;
        if (!rw_unmark_write(rw, 1)) /* the writer becomes one reader */
                return -EPERM;
        return rw->max_readers > 1
                   ? task_sem_release(&rw->sem, rw->max_readers - 1)
                   : 0;
}
