/*
 * lock-priv.h - the runtime's spinlock (internal).
 *
 * A test-and-test-and-set lock on a C11 atomic that waits with ck_pr_stall()
 * (`pause`) and a capped exponential backoff.  Why not ck_spinlock:
 * ThreadSanitizer does not understand ck_pr's inline-assembly atomics, and
 * every lock in the scheduler must be visible to it (see docs/runtime.md);
 * ck_pr_stall is only a `pause`, which TSan need not see.  Why not
 * ck_backoff_eb: its ceiling is 2^20 iterations, and measured here a worker
 * waiting on the global queue's lock while a thread spawned into it backed
 * off for so long that remote spawns went from 35 to 600 ns each.  Critical
 * sections under these locks are a few pointer moves, so after about 127
 * pauses in all the holder has probably been preempted (more runnable
 * threads than cores, as with a spawning thread and two workers on two
 * cores) and the waiter yields its core instead.  Nothing under these locks
 * blocks.
 */
#ifndef LIBTASK_LOCK_PRIV_H
#define LIBTASK_LOCK_PRIV_H

#include <libtask/wait.h> /* struct task__spinlock, embedded in primitives */

#include <ck_pr.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

static inline void task__spin_init(struct task__spinlock *l)
{
        atomic_init(&l->held, false);
}

static inline bool task__spin_trylock(struct task__spinlock *l)
{
        /* Acquire: the critical section sees what the last holder wrote. */
        return !atomic_load_explicit(&l->held, memory_order_relaxed) &&
               !atomic_exchange_explicit(&l->held, true, memory_order_acquire);
}

static inline void task__spin_lock(struct task__spinlock *l)
{
        unsigned int backoff = 1;

        while (!task__spin_trylock(l)) {
                while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
                        if (backoff > 64) {
                                /* The holder is probably preempted (more
                                 * threads than cores): let it run. */
                                sched_yield();
                                continue;
                        }
                        for (unsigned int i = 0; i < backoff; i++)
                                ck_pr_stall(); /* pause */
                        backoff <<= 1;
                }
        }
}

static inline void task__spin_unlock(struct task__spinlock *l)
{
        /* Release: pairs with the acquire exchange of the next holder. */
        atomic_store_explicit(&l->held, false, memory_order_release);
}

#endif /* LIBTASK_LOCK_PRIV_H */
