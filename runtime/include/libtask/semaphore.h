/*
 * libtask/semaphore.h - an asynchronous counting semaphore: weighted,
 * fair, closable.  Tokio's tokio::sync::Semaphore.
 *
 * A semaphore holds a number of permits.  An acquire of n permits completes
 * when n are available; waiters are served strictly in FIFO order (a
 * waiter at the head that needs 5 permits while 3 are free keeps them, and
 * nobody behind it, or arriving later, can take them), so a large request
 * is never starved by small ones.  Closing it fails every waiter and every
 * later acquire with -EPIPE; releasing still works.
 *
 * The caller allocates the struct (in shared memory its users can reach)
 * and initialises it with task_sem_init(); nothing here allocates.  All
 * calls are safe from any thread; *_poll calls are made from tasks,
 * *_blocking calls from plain threads.
 *
 * Cancellation: an acquire is cancellation-safe in the sense that nothing is
 * lost: an aborted waiter leaves the queue, and permits already set aside
 * for it go to the next waiters (or back to the pool).  It loses its place
 * in the queue.
 */
#ifndef LIBTASK_SEMAPHORE_H
#define LIBTASK_SEMAPHORE_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/wait.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most permits a semaphore can hold (and acquire or release at once). */
#define TASK_SEM_MAX_PERMITS (UINT64_MAX >> 3)

/*
 * The semaphore.  The word is (permits << 2) | WAITERS (bit 1) | CLOSED
 * (bit 0); while WAITERS is set, free permits are all handed to the queue
 * and the word's count stays 0, which is what keeps the order fair.
 */
struct task_sem {
        _Atomic uint64_t word;
        struct task__spinlock lock; /* guards waiters */
        struct task_waitq waiters;
};

/* An acquire in progress: keep it in the frame, zeroed before first use. */
struct task_sem_acquire {
        struct task_wait w;
        uint64_t n; /* permits asked for */
};

/* Initialise @s with @permits.  Returns 0 or -EINVAL (NULL, too many). */
TASK_API int task_sem_init(struct task_sem *s, uint64_t permits);

/*
 * task_sem_destroy - check that nobody waits on @s any more.  Returns 0, or
 * -EBUSY while waiters are queued (then @s is left as it was), -EINVAL.
 * The memory is the caller's.
 */
TASK_API int task_sem_destroy(struct task_sem *s);

/*
 * task_sem_acquire_poll - the poll of an acquire of @n permits (see
 * TASK_SEM_ACQUIRE).  True when done, with *@rc (if not NULL) 0 (the
 * permits are the caller's; give them back with task_sem_release()),
 * -EPIPE (closed) or -EINVAL (NULL argument, @n above the maximum).  False
 * when the task waits, queued on @s through @op.  @n == 0 completes at
 * once unless @s is closed.  Uses one unit of cooperative budget.
 */
TASK_API bool task_sem_acquire_poll(struct task_cx *cx, struct task_sem *s,
                                    uint64_t n, struct task_sem_acquire *op,
                                    int *rc);

/* TASK_SEM_ACQUIRE(f, s, n, op, rcp) - await @n permits of @s. */
#define TASK_SEM_ACQUIRE(f, s, n, op, rcp)                                     \
        TASK_AWAIT(f, task_sem_acquire_poll((cx), (s), (n), (op), (rcp)))

/*
 * task_sem_try_acquire - take @n permits if they are free now and nobody
 * waits.  Returns 0, -EAGAIN (not now), -EPIPE (closed), -EINVAL.  @n == 0
 * succeeds unless @s is closed (as Tokio's try_acquire_many(0)).
 */
TASK_API int task_sem_try_acquire(struct task_sem *s, uint64_t n);

/*
 * task_sem_acquire_blocking - block the calling thread until @n permits
 * are its.  Returns 0, -EPIPE, -EINVAL, or -EDEADLK on a runtime worker
 * thread (it would block the worker).
 */
TASK_API int task_sem_acquire_blocking(struct task_sem *s, uint64_t n);

/*
 * task_sem_release - add @n permits (the head waiters get them first).
 * Returns 0, -EINVAL, or -EOVERFLOW when the count would exceed
 * TASK_SEM_MAX_PERMITS (then nothing was added).  Works after close.
 */
TASK_API int task_sem_release(struct task_sem *s, uint64_t n);

/*
 * task_sem_close - close @s: every queued waiter completes with -EPIPE
 * (permits set aside for it return to the pool), and so does every later
 * acquire.  Idempotent.  NULL is ignored.
 */
TASK_API void task_sem_close(struct task_sem *s);

/* True once task_sem_close() was called. */
TASK_API bool task_sem_is_closed(struct task_sem *s);

/* Permits free right now (0 while anybody waits). */
TASK_API uint64_t task_sem_available(struct task_sem *s);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_SEMAPHORE_H */
