/*
 * libtask/rwlock.h - an asynchronous, fair reader-writer lock: Tokio's
 * tokio::sync::RwLock.
 *
 * Many readers, or one writer.  Requests are served strictly in FIFO
 * order, which makes it write-preferring in the way that matters: a writer
 * waiting behind readers blocks every reader that arrives after it, so a
 * stream of readers cannot starve a writer (and a writer queued behind
 * readers does not starve them either).  Tokio's design: a semaphore with
 * max_readers permits, where a read takes one and a write takes them all.
 * The limit on concurrent readers is therefore max_readers (a read beyond
 * it waits like any other); TASK_RWLOCK_MAX_READERS by default, as in
 * Tokio, and settable at init.
 *
 * Like the Mutex, the lock is not tied to a task: any task or thread may
 * release it.  A read_unlock with no reader, or a write_unlock with no
 * writer, returns -EPERM and changes nothing.  As with the Mutex (see
 * mutex.h), an unlock that comes while the lock is being handed to waiters
 * that have not run yet is taken for theirs: a read_unlock is refused only
 * when no permit is out at all, or a writer holds the lock and has run.
 *
 * The caller allocates the struct and initialises it with
 * task_rwlock_init(); nothing here allocates.  All calls are safe from any
 * thread; *_poll calls are made from tasks, *_blocking calls from plain
 * threads.
 *
 * Cancellation: read and write are cancellation-safe.  An aborted waiter
 * (or a losing TASK_SELECT branch) never ends up holding the lock: it
 * leaves the queue, and whatever share of the lock had already been set
 * aside for it (a writer collects the readers' permits as they leave) or
 * handed to it passes on to the next waiters.  A task aborted while it
 * holds the lock keeps it: release it in the TASK_CLEANUP section (see
 * mutex.h).
 */
#ifndef LIBTASK_RWLOCK_H
#define LIBTASK_RWLOCK_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/semaphore.h>
#include <libtask/wait.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The default reader limit: Tokio's MAX_READS (u32::MAX >> 3). */
#define TASK_RWLOCK_MAX_READERS (UINT32_MAX >> 3)

/*
 * The lock: a semaphore of max_readers permits, and a flag set while a
 * writer holds it, kept so that an unlock that matches no holder can be
 * refused.
 */
struct task_rwlock {
        struct task_sem sem;
        uint64_t max_readers;    /* written by init only */
        _Atomic uint32_t writer; /* set and cleared by the writer */
};

/* A read lock in progress: keep it in the frame, zeroed before first use. */
struct task_rwlock_read {
        struct task_sem_acquire acq;
};

/* A write lock in progress: keep it in the frame, zeroed before first use. */
struct task_rwlock_write {
        struct task_sem_acquire acq;
};

/*
 * task_rwlock_init - initialise @rw, unlocked, allowing @max_readers
 * concurrent readers (0: TASK_RWLOCK_MAX_READERS; at most
 * TASK_SEM_MAX_PERMITS).  Returns 0 or -EINVAL.
 */
TASK_API int task_rwlock_init(struct task_rwlock *rw, uint64_t max_readers);

/*
 * task_rwlock_destroy - check that @rw is unused.  Returns 0, -EBUSY while
 * it is held or waiters are queued (then @rw is left as it was), or
 * -EINVAL.  The memory is the caller's.
 */
TASK_API int task_rwlock_destroy(struct task_rwlock *rw);

/*
 * task_rwlock_read_poll - the poll of a read lock of @rw (see
 * TASK_RWLOCK_READ).  True when done, with *@rc (if not NULL) 0: the
 * caller holds a read lock until task_rwlock_read_unlock(); or -EINVAL.
 * False while the task waits, queued in FIFO order through @op.  Uses one
 * unit of cooperative budget.
 */
TASK_API bool task_rwlock_read_poll(struct task_cx *cx, struct task_rwlock *rw,
                                    struct task_rwlock_read *op, int *rc);

/* TASK_RWLOCK_READ(f, rw, op, rcp) - await a read lock.  @rcp may be NULL. */
#define TASK_RWLOCK_READ(f, rw, op, rcp)                                       \
        TASK_AWAIT(f, task_rwlock_read_poll((cx), (rw), (op), (rcp)))

/*
 * task_rwlock_write_poll - the poll of a write lock of @rw (see
 * TASK_RWLOCK_WRITE).  True when done, with *@rc (if not NULL) 0: the
 * caller holds the write lock until task_rwlock_write_unlock() (or
 * task_rwlock_downgrade()); or -EINVAL.  False while the task waits.  Uses
 * one unit of cooperative budget.
 */
TASK_API bool task_rwlock_write_poll(struct task_cx *cx, struct task_rwlock *rw,
                                     struct task_rwlock_write *op, int *rc);

/* TASK_RWLOCK_WRITE(f, rw, op, rcp) - await the write lock.  @rcp may be
 * NULL. */
#define TASK_RWLOCK_WRITE(f, rw, op, rcp)                                      \
        TASK_AWAIT(f, task_rwlock_write_poll((cx), (rw), (op), (rcp)))

/*
 * task_rwlock_try_read, task_rwlock_try_write - take the lock if that is
 * possible now and nobody waits.  Return 0, -EAGAIN (not now), -EINVAL.
 */
TASK_API int task_rwlock_try_read(struct task_rwlock *rw);
TASK_API int task_rwlock_try_write(struct task_rwlock *rw);

/*
 * task_rwlock_read_blocking, task_rwlock_write_blocking - block the calling
 * thread until it holds the lock (in FIFO order with the tasks).  Return 0,
 * -EINVAL, or -EDEADLK on a runtime worker thread.
 */
TASK_API int task_rwlock_read_blocking(struct task_rwlock *rw);
TASK_API int task_rwlock_write_blocking(struct task_rwlock *rw);

/*
 * task_rwlock_read_unlock - release one read lock.  Returns 0, -EPERM when
 * no read lock is held (nothing changes), or -EINVAL.
 */
TASK_API int task_rwlock_read_unlock(struct task_rwlock *rw);

/*
 * task_rwlock_write_unlock - release the write lock: the waiters at the
 * head of the queue get it (a writer, or the readers up to the next
 * writer).  Returns 0, -EPERM when it is not write-locked, or -EINVAL.
 */
TASK_API int task_rwlock_write_unlock(struct task_rwlock *rw);

/*
 * task_rwlock_downgrade - turn the write lock into a read lock, atomically
 * (no writer can get in between); waiting readers may then join, up to the
 * first waiting writer.  Tokio's RwLockWriteGuard::downgrade.  Returns 0,
 * -EPERM when it is not write-locked, or -EINVAL.
 */
TASK_API int task_rwlock_downgrade(struct task_rwlock *rw);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_RWLOCK_H */
