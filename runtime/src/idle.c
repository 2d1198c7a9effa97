/*
 * idle.c - who searches for work, who sleeps, and whom to wake.
 *
 * After Tokio's multi_thread/idle.rs.  `state` packs two counters:
 * num_searching (workers looking for work to steal) and num_unparked
 * (workers not asleep).  The rules:
 *
 *  1. At most half of the workers search at once (searching is expensive:
 *     it touches every other worker's queue).
 *  2. A worker that publishes new work wakes a sleeper only when nobody is
 *     searching (a searcher will find the work) and somebody sleeps.  The
 *     woken worker starts out searching.
 *  3. A searcher that finds work stops searching; if it was the last
 *     searcher and work is left anywhere, it wakes another sleeper, so that
 *     the work keeps being spread (see worker.c).
 *  4. The last searcher to park rechecks every queue after parking (see
 *     worker.c), so work published between its last look and its parking
 *     -- when the publisher saw a searcher and did not wake anyone -- is
 *     never stranded.
 *
 * Ordering: decisions read `state` after a seq_cst fence, and every change
 * to it is a seq_cst RMW, so "publish work, then read state" (publisher)
 * and "change state, then look for work" (parker) cannot both miss each
 * other (the store-load pattern of Dekker's algorithm).
 *
 * The sleepers list and the per-worker is_sleeping flags are under `lock`.
 */
#include "runtime-priv.h"

#include <errno.h>
#include <stdlib.h>

#define SEARCH_MASK 0xffffu
#define UNPARK_SHIFT 16
#define UNPARK_ONE (1u << UNPARK_SHIFT)

static inline unsigned num_searching(uint32_t s)
{
        return s & SEARCH_MASK;
}

static inline unsigned num_unparked(uint32_t s)
{
        return s >> UNPARK_SHIFT;
}

int task__idle_init(struct task__idle *idle, unsigned n)
{
        idle->sleepers = calloc(n, sizeof(*idle->sleepers));
        idle->is_sleeping = calloc(n, sizeof(*idle->is_sleeping));
        if (!idle->sleepers || !idle->is_sleeping || task__fault_alloc()) {
                free(idle->sleepers);
                free(idle->is_sleeping);
                return -ENOMEM;
        }
        /* Every worker starts unparked and not searching. */
        atomic_init(&idle->state, n << UNPARK_SHIFT);
        idle->num_workers = n;
        idle->nsleepers = 0;
        task__spin_init(&idle->lock);
        return 0;
}

void task__idle_destroy(struct task__idle *idle)
{
        free(idle->sleepers);
        free(idle->is_sleeping);
}

static bool should_wake(struct task__idle *idle)
{
        uint32_t s = atomic_load_explicit(&idle->state, memory_order_seq_cst);
        return num_searching(s) == 0 && num_unparked(s) < idle->num_workers;
}

bool task__idle_notify_wanted(struct task__idle *idle)
{
        /* Rule 2; the fence orders the caller's publication of work before
         * this read (pairs with the seq_cst RMW in transition_to_parked). */
        atomic_thread_fence(memory_order_seq_cst);
        return should_wake(idle);
}

int task__idle_worker_to_notify(struct task__idle *idle)
{
        if (!task__idle_notify_wanted(idle))
                return -1;

        task__spin_lock(&idle->lock);
        /* Re-check under the lock: someone may have beaten us to it. */
        if (!should_wake(idle) || idle->nsleepers == 0) {
                task__spin_unlock(&idle->lock);
                return -1;
        }
        /* One more unparked worker, and it is searching. */
        atomic_fetch_add_explicit(&idle->state, UNPARK_ONE | 1u,
                                  memory_order_seq_cst);
        unsigned w = idle->sleepers[--idle->nsleepers];
        idle->is_sleeping[w] = false;
        task__spin_unlock(&idle->lock);
        return (int)w;
}

bool task__idle_transition_to_parked(struct task__idle *idle, unsigned w,
                                     bool searching)
{
        task__spin_lock(&idle->lock);
        uint32_t dec = UNPARK_ONE | (searching ? 1u : 0u);
        uint32_t prev =
            atomic_fetch_sub_explicit(&idle->state, dec, memory_order_seq_cst);
        idle->sleepers[idle->nsleepers++] = w;
        idle->is_sleeping[w] = true;
        task__spin_unlock(&idle->lock);
        return searching && num_searching(prev) == 1;
}

bool task__idle_transition_to_searching(struct task__idle *idle)
{
        uint32_t s = atomic_load_explicit(&idle->state, memory_order_seq_cst);
        if (2 * num_searching(s) >= idle->num_workers)
                return false;
        /* Racing searchers may overshoot the half by a little; Tokio too. */
        atomic_fetch_add_explicit(&idle->state, 1u, memory_order_seq_cst);
        return true;
}

bool task__idle_transition_from_searching(struct task__idle *idle)
{
        uint32_t prev =
            atomic_fetch_sub_explicit(&idle->state, 1u, memory_order_seq_cst);
        return num_searching(prev) == 1;
}

bool task__idle_is_parked(struct task__idle *idle, unsigned w)
{
        task__spin_lock(&idle->lock);
        bool r = idle->is_sleeping[w];
        task__spin_unlock(&idle->lock);
        return r;
}

void task__idle_unpark_worker_by_id(struct task__idle *idle, unsigned w)
{
        task__spin_lock(&idle->lock);
        if (idle->is_sleeping[w]) {
                for (unsigned i = 0; i < idle->nsleepers; i++) {
                        if (idle->sleepers[i] == w) {
                                idle->sleepers[i] =
                                    idle->sleepers[--idle->nsleepers];
                                break;
                        }
                }
                idle->is_sleeping[w] = false;
                /* It wakes up searching, like a notified worker. */
                atomic_fetch_add_explicit(&idle->state, UNPARK_ONE | 1u,
                                          memory_order_seq_cst);
        }
        task__spin_unlock(&idle->lock);
}
