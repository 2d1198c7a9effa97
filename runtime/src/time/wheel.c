/*
 * wheel.c - the per-worker hierarchical timer wheel (wheel-priv.h).
 *
 * After Tokio's runtime/time/wheel: levels of 64 slots, a slot of level L
 * spanning 64^L ticks, one occupancy bitmap per level.  Invariants (all
 * under the wheel's lock, except `elapsed` and `next_tick`, which only the
 * owner reads or writes):
 *
 *  1. A timer filed relative to `elapsed` at tick p sits at the level of
 *     the highest 6-bit group in which p and elapsed differ, in slot
 *     (p >> 6L) & 63; p is its deadline's tick, or elapsed + SPAN - 1 when
 *     that is further (the clamp: such a timer is re-filed, not fired,
 *     when its slot comes round).
 *  2. Every occupied slot starts after `elapsed`, so the earliest
 *     expiration is the first occupied slot after elapsed's position in
 *     the lowest non-empty level.  At the top level the search wraps round
 *     to the next 2^36-tick block, and elapsed's own slot index, if
 *     occupied, is that of a timer one whole block later (the clamp files
 *     timers there), so it is looked at last.
 *  3. `next_tick` is at most the start of every occupied slot: an insert
 *     lowers it to its slot's start, a cancel (on any thread) leaves it,
 *     which only makes it more conservative.  So an expire at a tick before
 *     it has nothing to do and just moves `elapsed` forward.
 *  4. `elapsed` only moves forward: to the start of each slot that expires
 *     (whose timers are then fired or re-filed lower, emptying it), and to
 *     now when nothing else is due.
 *
 * References: a linked timer holds a reference to its task (taken by
 * time.c before the insert).  A task can end with its timer still linked
 * (a cleanup section that sleeps during an abort, a hand-written poll that
 * returns TASK_DONE with a sleep pending), and the reference keeps its
 * memory, where the timer lives, alive until the timer fires, is
 * cancelled, or is drained at shutdown.
 *
 * Firing a timer: under the lock, unlink it, move its task reference into
 * the wake batch, store FIRED with release; after the lock is dropped
 * (every 32 timers, so that a big batch does not hold it long), wake the
 * tasks with task_wake(), which consumes the reference (for a task that
 * has ended it only drops it, which may free the task).  The timer is not
 * touched after the FIRED store: its task may reuse it at once, and once
 * the batch's reference is gone it may be freed.
 *
 * Cancelling: under the lock, unlink it and store IDLE; after the lock,
 * drop the reference.  Draining (shutdown): the same for every timer left.
 *
 * Called by: the worker loop (expire, next_deadline; worker.c), time.c
 * (insert, cancel), the runtime build, shutdown and free (init, drain,
 * destroy).
 */
#include "runtime-priv.h"

#include <libtask/runtime.h>

#include <string.h>

#define SLOT_MASK ((uint64_t)TASK__WHEEL_SLOTS - 1)
#define WAKE_BATCH 32

static inline unsigned level_shift(unsigned level)
{
        return level * TASK__WHEEL_SLOT_BITS;
}

void task__wheel_init(struct task__wheel *wh)
{
        memset(wh, 0, sizeof(*wh));
        task__spin_init(&wh->lock);
        wh->elapsed = task__now_ns() >> TASK__WHEEL_TICK_SHIFT;
        wh->next_tick = UINT64_MAX;
}

void task__wheel_destroy(struct task__wheel *wh)
{
        /* Timers live in task frames: nothing to free.  The shutdown
         * drained the wheel (task__wheel_drain), so no timer, and no task
         * reference, is left here. */
        (void)wh;
}

/* The level at which a timer for tick @p is filed relative to @elapsed. */
static inline unsigned level_for(uint64_t elapsed, uint64_t p)
{
        uint64_t masked = (elapsed ^ p) | SLOT_MASK;

        if (masked >= TASK__WHEEL_SPAN)
                masked = TASK__WHEEL_SPAN - 1;
        unsigned significant = 63u - (unsigned)__builtin_clzll(masked);
        return significant / TASK__WHEEL_SLOT_BITS;
}

/* Under the lock: link @t (deadline tick @when > elapsed).  Returns the
 * tick at which its slot starts (its next look at the timer). */
static uint64_t file_timer(struct task__wheel *wh, struct task_timer *t,
                           uint64_t when)
{
        uint64_t p = when - wh->elapsed >= TASK__WHEEL_SPAN
                         ? wh->elapsed + TASK__WHEEL_SPAN - 1
                         : when;
        unsigned level = level_for(wh->elapsed, p);
        unsigned shift = level_shift(level);
        unsigned slot = (unsigned)((p >> shift) & SLOT_MASK);
        struct task_timer **head = &wh->slots[level][slot];

        t->slot = level * TASK__WHEEL_SLOTS + slot;
        t->prev = NULL;
        t->next = *head;
        if (*head)
                (*head)->prev = t;
        *head = t;
        wh->occupied[level] |= UINT64_C(1) << slot;
        return p & ~((UINT64_C(1) << shift) - 1);
}

/* Under the lock: take @t out of its slot. */
static void unlink_timer(struct task__wheel *wh, struct task_timer *t)
{
        unsigned level = t->slot / TASK__WHEEL_SLOTS;
        unsigned slot = t->slot % TASK__WHEEL_SLOTS;

        if (t->prev)
                t->prev->next = t->next;
        else
                wh->slots[level][slot] = t->next;
        if (t->next)
                t->next->prev = t->prev;
        if (!wh->slots[level][slot])
                wh->occupied[level] &= ~(UINT64_C(1) << slot);
}

bool task__wheel_insert(struct task__wheel *wh, struct task_timer *t,
                        uint64_t now_ns)
{
        uint64_t when = task__wheel_tick_of(t->deadline_ns);
        uint64_t now = now_ns >> TASK__WHEEL_TICK_SHIFT;

        /* An empty wheel may jump to now (invariant 2 holds vacuously), so
         * that a timer is filed relative to the present, as low as it can
         * go, rather than to whenever the wheel was last looked at. */
        task__spin_lock(&wh->lock);
        if (wh->count == 0 && now > wh->elapsed)
                wh->elapsed = now;
        if (when <= wh->elapsed) {
                /* Due already: the caller treats it as fired. */
                task__spin_unlock(&wh->lock);
                return false;
        }
        t->wheel = wh;
        uint64_t start = file_timer(wh, t, when);
        wh->count++;
        /* Relaxed: the lock publishes it to cancellers and the expirer;
         * the owner (the only other reader) wrote it. */
        atomic_store_explicit(&t->state, TASK__TIMER_QUEUED,
                              memory_order_relaxed);
        task__spin_unlock(&wh->lock);
        if (start < wh->next_tick)
                wh->next_tick = start;
        return true;
}

bool task__timer_cancel(struct task_timer *t)
{
        /* Acquire: pairs with the expirer's release store of FIRED, so its
         * last reads of @t happen before our caller reuses it. */
        uint32_t st = atomic_load_explicit(&t->state, memory_order_acquire);

        if (st == TASK__TIMER_IDLE)
                return false;
        if (st == TASK__TIMER_QUEUED) {
                /* The wheel may be another worker's, expiring right now:
                 * its lock decides which of us takes the timer out. */
                struct task__wheel *wh = t->wheel;
                task__spin_lock(&wh->lock);
                st = atomic_load_explicit(&t->state, memory_order_relaxed);
                if (st == TASK__TIMER_QUEUED) {
                        struct task *task = t->task;
                        unlink_timer(wh, t);
                        wh->count--;
                        atomic_store_explicit(&t->state, TASK__TIMER_IDLE,
                                              memory_order_relaxed);
                        task__spin_unlock(&wh->lock);
                        /* The linked timer's reference.  Never the last
                         * one: our caller runs the task's poll or holds
                         * its handle. */
                        task_waker_drop(task);
                        return true;
                }
                task__spin_unlock(&wh->lock);
        }
        /* FIRED: the expirer is done with it (and consumed the wake). */
        atomic_store_explicit(&t->state, TASK__TIMER_IDLE,
                              memory_order_relaxed);
        return false;
}

/* The next slot to look at: its level, slot and start tick. */
struct expiration {
        unsigned level, slot;
        uint64_t tick;
};

/* Under the lock: the earliest expiration (invariant 2), if any. */
static bool next_expiration(const struct task__wheel *wh, struct expiration *e)
{
        uint64_t elapsed = wh->elapsed;

        for (unsigned level = 0; level < TASK__WHEEL_LEVELS; level++) {
                uint64_t occ = wh->occupied[level];
                if (!occ)
                        continue;
                unsigned shift = level_shift(level);
                /* Search from the slot after elapsed's own: elapsed's
                 * own slot comes last, as only the top level can have it
                 * occupied, by a timer a whole block (2^36 ticks) later
                 * (filed there by the clamp). */
                unsigned from = (unsigned)((elapsed >> shift) + 1) & SLOT_MASK;
                uint64_t rot =
                    from ? (occ >> from) | (occ << (64 - from)) : occ;
                unsigned slot =
                    ((unsigned)__builtin_ctzll(rot) + from) & SLOT_MASK;
                uint64_t level_range = UINT64_C(1)
                                       << (shift + TASK__WHEEL_SLOT_BITS);
                uint64_t tick =
                    (elapsed & ~(level_range - 1)) + ((uint64_t)slot << shift);
                /* Only the top level wraps (a slot "behind" elapsed is in
                 * the next block): invariant 2. */
                if (tick <= elapsed)
                        tick += level_range;
                e->level = level;
                e->slot = slot;
                e->tick = tick;
                return true;
        }
        return false;
}

uint64_t task__wheel_next_deadline(struct task__wheel *wh)
{
        /* Invariant 3: no lock, no search.  Stale only by cancels, and
         * then early: an expire at that time finds nothing and refreshes
         * it. */
        uint64_t tick = wh->next_tick;

        if (tick > (UINT64_MAX >> TASK__WHEEL_TICK_SHIFT))
                return UINT64_MAX;
        return tick << TASK__WHEEL_TICK_SHIFT;
}

static void wake_batch(struct task **batch, unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                task_wake(batch[i]);
}

unsigned task__wheel_expire(struct task__wheel *wh, uint64_t now_ns)
{
        uint64_t now = now_ns >> TASK__WHEEL_TICK_SHIFT;
        struct task *batch[WAKE_BATCH];
        unsigned nb = 0, fired = 0;
        struct expiration e;

        if (now < wh->next_tick) {
                /* Nothing due (invariant 3): elapsed follows the clock, so
                 * new timers are filed as low as they can go. */
                if (now > wh->elapsed)
                        wh->elapsed = now;
                return 0;
        }
        task__spin_lock(&wh->lock);
        while (next_expiration(wh, &e) && e.tick <= now) {
                struct task_timer **head = &wh->slots[e.level][e.slot];
                struct task_timer *t;

                wh->elapsed = e.tick;
                while ((t = *head) != NULL) {
                        uint64_t when = task__wheel_tick_of(t->deadline_ns);
                        unlink_timer(wh, t);
                        if (when > wh->elapsed) {
                                /* Cascade: re-filed at a lower level (or,
                                 * clamped, further on at the top). */
                                (void)file_timer(wh, t, when);
                                continue;
                        }
                        /* The timer's reference moves to the batch: the
                         * wake consumes it, nothing is cloned. */
                        struct task *task = t->task;
                        wh->count--;
                        fired++;
                        /* Release: pairs with the owner's acquire load
                         * (time.c, task__timer_cancel); the last access to
                         * @t by this thread is before it. */
                        atomic_store_explicit(&t->state, TASK__TIMER_FIRED,
                                              memory_order_release);
                        if (!task)
                                continue; /* a unit test's bare timer */
                        batch[nb++] = task;
                        if (nb == WAKE_BATCH) {
                                /* Wake outside the lock; the slot stays
                                 * consistent for cancellers meanwhile. */
                                task__spin_unlock(&wh->lock);
                                wake_batch(batch, nb);
                                nb = 0;
                                task__spin_lock(&wh->lock);
                        }
                }
        }
        if (now > wh->elapsed)
                wh->elapsed = now;
        wh->next_tick = next_expiration(wh, &e) ? e.tick : UINT64_MAX;
        task__spin_unlock(&wh->lock);
        wake_batch(batch, nb);
        return fired;
}

void task__wheel_drain(struct task__wheel *wh)
{
        for (;;) {
                struct task_timer *t = NULL;

                /* One timer per lock hold: the drop below may free the
                 * task (and the frame the timer lives in), so it is done
                 * outside the lock, after the last access to the timer. */
                task__spin_lock(&wh->lock);
                for (unsigned level = 0; level < TASK__WHEEL_LEVELS && !t;
                     level++) {
                        uint64_t occ = wh->occupied[level];
                        if (occ)
                                t = wh->slots[level]
                                             [(unsigned)__builtin_ctzll(occ)];
                }
                if (!t) {
                        wh->next_tick = UINT64_MAX;
                        task__spin_unlock(&wh->lock);
                        return;
                }
                struct task *task = t->task;
                unlink_timer(wh, t);
                wh->count--;
                /* Release: pairs with the acquire load of a later
                 * task_sleep_cancel() on the ended task's frame (through
                 * its handle), which then leaves the timer alone. */
                atomic_store_explicit(&t->state, TASK__TIMER_IDLE,
                                      memory_order_release);
                task__spin_unlock(&wh->lock);
                task_waker_drop(task); /* NULL: a unit test's bare timer */
        }
}
