/*
 * wheel-priv.h - the per-worker hierarchical timer wheel (internal).
 *
 * Every worker embeds one wheel (struct task__worker.wheel).  A timer is a
 * struct task_timer (libtask/time.h) that lives in the frame of the task
 * that awaits it, so registering one never allocates.  The wheel is
 * Tokio's: TASK__WHEEL_LEVELS levels of 64 slots; a slot of level L spans
 * 64^L ticks, so level 0 holds the timers due within the next 64 ticks,
 * level 1 those within 64^2, and so on; as time advances the slots of
 * higher levels are *cascaded* down (their timers re-inserted at a lower
 * level) until they reach level 0 and fire.  One bitmap per level says
 * which slots are occupied, so finding the next expiration is a few
 * count-trailing-zeros.
 *
 * Units: a tick is 2^TASK__WHEEL_TICK_SHIFT ns (65.536 us), finer than
 * Tokio's 1 ms.  A timer keeps its exact deadline (CLOCK_MONOTONIC ns) and
 * is filed under the tick that deadline rounds *up* to, so it fires at the
 * first expire whose `now` has reached that tick: never early, and at most
 * one tick (plus the worker's wake-up latency) late.  Six levels span 2^36
 * ticks, about 52 days; a deadline further away is filed in the farthest
 * slot and re-filed when that slot comes round (it still fires only when
 * due).
 *
 * Concurrency: the owner worker inserts and expires; any thread may cancel
 * (a task registered here may be stolen and aborted on another worker).
 * All three take the wheel's spinlock, which guards the slots, the bitmaps,
 * `count` and every linked timer's links.  `elapsed`, `next_tick` and the
 * cached clock are the owner's alone (no lock: a cancel never reads them).
 * A timer's state word is the hand-off to its task: the expiring worker
 * unlinks it and stores FIRED (release, under the lock) and from then on
 * never touches it; the task reads FIRED with acquire, without the lock,
 * and owns the timer again.
 *
 * References: a QUEUED timer holds a reference to its task (t->task, taken
 * by time.c before the insert), because a task *can* end with a timer
 * linked: a cleanup section that sleeps during an abort, or a hand-written
 * poll that polls a sleep and returns TASK_DONE, leaves it there, and the
 * reference keeps the task's memory (the frame the timer lives in) alive.
 * A cancel that unlinks the timer drops the reference; an expire hands it
 * to task_wake(), which consumes it; task__wheel_drain() (shutdown) drops
 * those still linked.
 */
#ifndef LIBTASK_TIME_WHEEL_PRIV_H
#define LIBTASK_TIME_WHEEL_PRIV_H

#include <libtask/time.h>
#include <libtask/wait.h> /* struct task__spinlock */

#include <stdbool.h>
#include <stdint.h>

#define TASK__WHEEL_TICK_SHIFT 16 /* a tick is 65.536 us */
#define TASK__WHEEL_LEVELS 6
#define TASK__WHEEL_SLOT_BITS 6
#define TASK__WHEEL_SLOTS 64
/* Ticks the wheel spans: 64^6 = 2^36. */
#define TASK__WHEEL_SPAN (UINT64_C(1) << (TASK__WHEEL_LEVELS * 6))

/* Timer states (task_timer.state). */
enum {
        TASK__TIMER_IDLE = 0,   /* not registered; owned by its task */
        TASK__TIMER_QUEUED = 1, /* linked in a wheel (its lock guards it) */
        TASK__TIMER_FIRED = 2,  /* due: unlinked, its task woken */
};

struct task__wheel {
        /* Guards everything below except the owner-only fields. */
        struct task__spinlock lock;
        /* Owner only: ticks processed; every timer filed at a tick <=
         * elapsed has been fired.  Read and written only by the owner
         * worker (insert and expire, some writes under the lock, the
         * expire's fast path without it); a cancel never reads it. */
        uint64_t elapsed;
        /* Owner only: a tick no later than the next expiration (cancels
         * on other workers only make it more conservative), so an expire
         * before it returns without taking the lock.  UINT64_MAX: empty. */
        uint64_t next_tick;
        /* Owner only: the cached clock (time.c): clock_ns was read during
         * the poll numbered clock_seq (struct task__worker.poll_seq). */
        uint64_t clock_ns;
        uint64_t clock_seq;
        /* Timers linked; under the lock. */
        uint64_t count;
        uint64_t occupied[TASK__WHEEL_LEVELS]; /* bit s: slot s non-empty */
        struct task_timer *slots[TASK__WHEEL_LEVELS][TASK__WHEEL_SLOTS];
};

/* ---- The scheduler's five calls ----------------------------------------- */

/* Set up an empty wheel (runtime build). */
void task__wheel_init(struct task__wheel *wh);
/* Tear down an empty wheel (runtime free, after task__wheel_drain()). */
void task__wheel_destroy(struct task__wheel *wh);
/*
 * Unlink every timer still linked on @wh (left there by tasks that ended
 * with a sleep pending), leave each IDLE and drop the task reference it
 * held (which may free the task).  Called by task_runtime_shutdown() after
 * every task was cancelled, on the shutdown thread, the workers gone; it
 * takes the wheel's lock, as a cancel does.
 */
void task__wheel_drain(struct task__wheel *wh);
/* When to expire next (CLOCK_MONOTONIC ns): no timer is due before it (a
 * timer due then, or a slot to cascade); UINT64_MAX when the wheel is
 * empty.  Park at most until then.  After cancels it may be earlier than
 * needed (an expire then finds nothing and moves it on).  Owner worker
 * only; O(1), no lock. */
uint64_t task__wheel_next_deadline(struct task__wheel *wh);
/* Fire every timer due at @now_ns: wake its task.  Owner worker only.
 * Returns how many fired.  Cheap when nothing is due (no lock). */
unsigned task__wheel_expire(struct task__wheel *wh, uint64_t now_ns);

/* ---- For time.c (and the wheel's own tests) ------------------------------ */

/*
 * Link @t (IDLE, with t->deadline_ns and t->task set) into @wh and make it
 * QUEUED; true: the wheel then owns the task reference in t->task (see the
 * head of this file).  False, leaving it IDLE and the reference the
 * caller's, when its tick has already been processed (it is due: the
 * caller treats it as fired).  @now_ns: the caller's clock, not before the
 * last expire's.  Owner worker only.  A timer with t->task == NULL (only
 * the wheel's unit tests make those) is marked FIRED without a wake-up when
 * it expires.
 */
bool task__wheel_insert(struct task__wheel *wh, struct task_timer *t,
                        uint64_t now_ns);

/*
 * Unregister @t from whichever wheel it is on, from any thread, and leave
 * it IDLE.  Returns true if it was still linked (it will never fire; the
 * task reference it held is dropped), false if it had fired (the expirer
 * handed the reference to the wake) or was idle.  Called by @t's owner
 * only (the task, from its poll, or a holder of the ended task's handle),
 * never concurrently with another call on @t.
 */
bool task__timer_cancel(struct task_timer *t);

/* The tick a deadline is filed under (rounded up). */
static inline uint64_t task__wheel_tick_of(uint64_t deadline_ns)
{
        uint64_t mask = (UINT64_C(1) << TASK__WHEEL_TICK_SHIFT) - 1;
        return (deadline_ns >> TASK__WHEEL_TICK_SHIFT) +
               ((deadline_ns & mask) != 0);
}

#endif /* LIBTASK_TIME_WHEEL_PRIV_H */
