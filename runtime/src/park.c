/*
 * park.c - the parking driver: how an idle worker sleeps and is woken.
 *
 * The scheduler parks and unparks only through struct task__driver_ops
 * (runtime-priv.h), never by calling a sleep primitive itself.  This file
 * has the futex driver, the one in use until the io_uring driver arrives;
 * that driver will wait in io_uring_wait_cqe() on the worker's own ring and
 * unpark by IORING_OP_MSG_RING (or an eventfd), keeping the same parker
 * state word, so the scheduler does not change.
 *
 * The parker (after Rust std's futex parker):
 *
 *   park:   NOTIFIED -> EMPTY: consume the pending wake-up and return.
 *           EMPTY -> PARKED, then futex_wait while PARKED; on wake,
 *           NOTIFIED -> EMPTY and return (a spurious wake also returns,
 *           the caller loops).
 *   unpark: swap in NOTIFIED; if the old value was PARKED, futex_wake.
 *
 * No lost wake-ups: an unpark before the park leaves NOTIFIED, which the
 * park consumes; an unpark during it changes the word, so futex_wait either
 * does not sleep (value mismatch) or is woken.
 */
#include "runtime-priv.h"

#include <errno.h>
#include <time.h>

enum { EMPTY = 0, PARKED = 1, NOTIFIED = 2 };

void task__parker_park(struct task__parker *p, int64_t timeout_ns)
{
        uint32_t exp = NOTIFIED;

        /* Acquire: whatever the unparker published before unpark is seen. */
        if (atomic_compare_exchange_strong_explicit(&p->state, &exp, EMPTY,
                                                    memory_order_acquire,
                                                    memory_order_relaxed))
                return;
        exp = EMPTY;
        if (!atomic_compare_exchange_strong_explicit(&p->state, &exp, PARKED,
                                                     memory_order_acquire,
                                                     memory_order_relaxed)) {
                /* It became NOTIFIED in between. */
                atomic_store_explicit(&p->state, EMPTY, memory_order_relaxed);
                atomic_thread_fence(memory_order_acquire);
                return;
        }
        task__futex_wait(&p->state, PARKED, timeout_ns);
        /* Woken, timed out or spurious: leave EMPTY either way.  Acquire
         * pairs with the unparker's release swap. */
        atomic_exchange_explicit(&p->state, EMPTY, memory_order_acquire);
}

void task__parker_unpark(struct task__parker *p)
{
        /* Release: publishes the unparker's writes to the parked thread. */
        if (atomic_exchange_explicit(&p->state, NOTIFIED,
                                     memory_order_release) == PARKED)
                task__futex_wake(&p->state, 1);
}

static void futex_park(struct task__worker *w, int64_t timeout_ns)
{
        task__parker_park(&w->parker, timeout_ns);
}

static void futex_unpark(struct task__worker *w)
{
        task__parker_unpark(&w->parker);
}

const struct task__driver_ops task__futex_driver = {
    .name = "futex",
    .park = futex_park,
    .unpark = futex_unpark,
};

uint64_t task__now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
