/*
 * lock-priv.h - the runtime's spinlock (internal).
 *
 * A test-and-test-and-set lock on a C11 atomic, backing off with
 * ck_backoff_eb() and ck_pr_stall() between attempts.  Why not ck_spinlock: ThreadSanitizer
 * does not understand ck_pr's inline assembly, and every lock in the
 * scheduler must be visible to it (see docs/runtime.md); ck_backoff and ck_pr_stall
 * are only a counted loop and a `pause`, so TSan need not see them.  Critical sections under
 * these locks are a few pointer moves; nothing under them blocks.
 */
#ifndef LIBTASK_LOCK_PRIV_H
#define LIBTASK_LOCK_PRIV_H

#include <ck_backoff.h>
#include <ck_pr.h>
#include <stdatomic.h>
#include <stdbool.h>

struct task__spinlock {
        atomic_bool held;
};

#define TASK__SPINLOCK_INIT                                                    \
        {                                                                      \
                false                                                          \
        }

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
        unsigned int backoff = CK_BACKOFF_INITIALIZER >> 6;

        while (!task__spin_trylock(l)) {
                while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
                        ck_pr_stall(); /* pause: let the holder's core run */
                        ck_backoff_eb(&backoff);
                }
        }
}

static inline void task__spin_unlock(struct task__spinlock *l)
{
        /* Release: pairs with the acquire exchange of the next holder. */
        atomic_store_explicit(&l->held, false, memory_order_release);
}

#endif /* LIBTASK_LOCK_PRIV_H */
