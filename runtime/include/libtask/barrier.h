/*
 * libtask/barrier.h - a reusable barrier: Tokio's tokio::sync::Barrier.
 *
 * A barrier for n parties: each party waits (TASK_BARRIER_WAIT) until n
 * have arrived; then all n are released together and the barrier starts a
 * new *generation*, ready for the next n.  Exactly one party of each
 * generation is told it is the *leader*: the last to arrive, which is
 * released at once without suspending.  Tasks and plain threads
 * (task_barrier_wait_blocking()) may mix.
 *
 * The caller allocates the struct and initialises it with
 * task_barrier_init(); nothing here allocates.  All calls are safe from any
 * thread; *_poll calls are made from tasks, *_blocking calls from plain
 * threads.
 *
 * Cancellation: unlike Tokio's Barrier::wait (which is not cancel-safe: a
 * dropped wait stays counted), a libtask wait is cancellation-safe.  A
 * waiter that is aborted, or loses a TASK_SELECT, before its generation is
 * complete *withdraws its arrival*: the barrier then needs one more party,
 * exactly as if the wait had never started, so a task that selects between
 * the barrier and something else and retries is never counted twice, and a
 * generation never releases fewer live parties than n.  (The price: if a
 * party is aborted and never replaced, the others wait for it, as they
 * would for any party that never arrives.)  A waiter whose generation was
 * already complete when it was aborted had been released: nothing is
 * undone, and the others are not affected.
 */
#ifndef LIBTASK_BARRIER_H
#define LIBTASK_BARRIER_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/wait.h>

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The barrier.  Every field but n is guarded by the lock. */
struct task_barrier {
        struct task__spinlock lock;
        uint32_t n;          /* parties per generation; set by init */
        uint32_t arrived;    /* in the current generation */
        uint64_t generation; /* completed generations */
        struct task_waitq waiters;
};

/* A wait in progress: keep it in the frame, zeroed before first use. */
struct task_barrier_wait {
        struct task_wait w;
};

/*
 * task_barrier_init - initialise @b for @n parties (n >= 1; a barrier of
 * 1 releases every wait at once, as its leader).  Returns 0 or -EINVAL.
 */
TASK_API int task_barrier_init(struct task_barrier *b, unsigned n);

/*
 * task_barrier_destroy - check that nobody waits on @b.  Returns 0, -EBUSY
 * while waiters are queued (then @b is left as it was), or -EINVAL.  The
 * memory is the caller's.
 */
TASK_API int task_barrier_destroy(struct task_barrier *b);

/*
 * task_barrier_wait_poll - the poll of a wait on @b (see
 * TASK_BARRIER_WAIT).  True when the caller's generation is complete, with
 * *@is_leader (if not NULL) true for exactly one party of the generation,
 * and *@rc (if not NULL) 0; or true at once with *@rc -EINVAL for a NULL
 * argument.  False while the task waits, counted as arrived and queued
 * through @op.  Uses one unit of cooperative budget.
 */
TASK_API bool task_barrier_wait_poll(struct task_cx *cx, struct task_barrier *b,
                                     struct task_barrier_wait *op,
                                     bool *is_leader, int *rc);

/*
 * TASK_BARRIER_WAIT(f, b, op, is_leaderp, rcp) - arrive at @b and await
 * the rest of the generation.  @is_leaderp and @rcp may be NULL.
 */
#define TASK_BARRIER_WAIT(f, b, op, is_leaderp, rcp)                           \
        TASK_AWAIT(                                                            \
            f, task_barrier_wait_poll((cx), (b), (op), (is_leaderp), (rcp)))

/*
 * task_barrier_wait_blocking - arrive at @b and block the calling thread
 * until the generation is complete; *@is_leader (if not NULL) as above.
 * Returns 0, -EINVAL, or -EDEADLK on a runtime worker thread.
 */
TASK_API int task_barrier_wait_blocking(struct task_barrier *b,
                                        bool *is_leader);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_BARRIER_H */
