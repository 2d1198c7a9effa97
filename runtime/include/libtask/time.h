/*
 * libtask/time.h - sleeping, timeouts and intervals: Tokio's tokio::time.
 *
 * Clock: every time here is CLOCK_MONOTONIC in nanoseconds (task_now_ns()).
 *
 * Timers live in a hierarchical timer wheel per worker (6 levels of 64
 * slots, ticks of 65.536 us; the design is in docs/io.md, section "Time:
 * sleep, timeout, interval").  A sleep is registered on the wheel of the
 * worker that polls it first and stays there even if its task is stolen;
 * cancelling it from any worker is a lock and an unlink.  A timer fires at the first check of its worker's wheel at or
 * after its deadline: **never early**, and normally within a tick plus the
 * worker's wake-up latency; a worker busy in a long poll fires its timers
 * late.
 *
 * The cached clock: a relative sleep's deadline is computed from the
 * polling worker's cached clock, which is read afresh at the first time
 * operation of every poll and reused for the rest of that poll.  So one
 * poll that starts 100,000 sleeps reads the clock once, and a poll never
 * computes a deadline from a time older than its own start.  (A poll that
 * computes for 10 ms and then starts a 1 ms sleep gets a deadline 1 ms after
 * the clock was read, which may already be past: keep polls short.)
 *
 * Operation structs (struct task_sleep, struct task_interval) are kept in
 * the task's frame, zeroed before first use, like every libtask operation
 * (see wait.h for the hazards: **never copy or move one while it waits**).
 * Nothing here allocates.  Poll functions are called from tasks only.
 *
 * Cancellation: an abort (or a TASK_SELECT branch that lost) polls the
 * sleep in cancelling mode, which unlinks its timer from the wheel it is on
 * (from any worker); a sleep is cancellation-safe (nothing is lost but the
 * wait).  See the table in docs/io.md ("Time: sleep, timeout, interval",
 * "Cancellation").  A registered timer holds a reference to its task, so a
 * task that ends with a sleep pending (a TASK_SLEEP in a TASK_CLEANUP run
 * by an abort does not hold the task back: the task ends at once) stays
 * allocated until the timer fires or task_runtime_shutdown() drops it.
 */
#ifndef LIBTASK_TIME_H
#define LIBTASK_TIME_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/wait.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct task;
struct task__wheel;

/* Convenient units: TASK_MS(5) nanoseconds. */
#define TASK_US(n) ((uint64_t)(n)*UINT64_C(1000))
#define TASK_MS(n) ((uint64_t)(n)*UINT64_C(1000000))
#define TASK_SEC(n) ((uint64_t)(n)*UINT64_C(1000000000))

/*
 * A timer: the entry a wheel links.  Public only to be embedded in the
 * operation structs; treat it as opaque.  While registered, its links
 * belong to the wheel (under the wheel's lock); the wheel records which
 * wheel it is on, so that any worker can unlink it.
 */
struct task_timer {
        struct task_timer *next, *prev; /* the wheel slot's list */
        struct task__wheel *wheel;      /* the wheel it was registered on */
        struct task *task;              /* to wake; a reference if queued */
        uint64_t deadline_ns;           /* exact deadline */
        _Atomic uint32_t state;         /* idle, queued, fired */
        uint32_t slot;                  /* level * 64 + slot, while queued */
};

/* ---- The clock ----------------------------------------------------------- */

/* Now: CLOCK_MONOTONIC in ns, read afresh (any thread). */
TASK_API uint64_t task_now_ns(void);

/*
 * The polling worker's cached clock (see the head of this file): what a
 * relative sleep started now would count from.  From a task's poll; with a
 * NULL @cx, or off a worker, it is task_now_ns().
 */
TASK_API uint64_t task_cx_now_ns(struct task_cx *cx);

/* ---- Sleep --------------------------------------------------------------- */

/* A sleep in progress: keep it in the frame, zeroed before first use.
 * After it completes (or is cancelled) it may be reused. */
struct task_sleep {
        struct task_timer timer;
};

/*
 * task_sleep_poll - the poll behind TASK_SLEEP: sleep for @ns nanoseconds.
 * The first poll computes the deadline (the cached clock + @ns, saturating)
 * and registers the timer; later polls only check it (their @ns is
 * ignored).  True once the deadline has passed (the sleep is then idle
 * again); false otherwise, with the task registered to be woken then.
 * A deadline already past is ready at the first poll, without touching the
 * wheel.  Becoming ready spends one unit of cooperative budget: with the
 * budget spent it returns false and the task yields, staying ready.
 * Called in cancelling mode it unregisters the timer and returns false.
 * NULL @s: true (ready) at once, or false in cancelling mode; the sleep
 * has no error to report.  Polled off a worker (only a cleanup section run
 * by task_runtime_shutdown() can be), a sleep is ready at once: nothing
 * would ever wake it.
 */
TASK_API bool task_sleep_poll(struct task_cx *cx, struct task_sleep *s,
                              uint64_t ns);

/*
 * task_sleep_until_poll - as task_sleep_poll, until the absolute
 * CLOCK_MONOTONIC time @deadline_ns (UINT64_MAX: never).
 */
TASK_API bool task_sleep_until_poll(struct task_cx *cx, struct task_sleep *s,
                                    uint64_t deadline_ns);

/*
 * task_sleep_deadline - the deadline of the last sleep started with @s
 * (kept after it completes), or 0 if none was started.  Owner only.
 */
TASK_API uint64_t task_sleep_deadline(const struct task_sleep *s);

/*
 * task_sleep_cancel - abandon a sleep started by hand (a poll returned
 * false and will not be polled again): its timer is unregistered and @s is
 * idle.  TASK_SLEEP, TASK_TIMEOUT and TASK_SELECT do this for you.  Called
 * by the task that owns @s (or after that task has ended).  NULL and idle
 * sleeps are ignored.
 */
TASK_API void task_sleep_cancel(struct task_sleep *s);

/* TASK_SLEEP(f, s, ns) - await @ns nanoseconds (@s: a struct task_sleep *). */
#define TASK_SLEEP(f, s, ns) TASK_AWAIT(f, task_sleep_poll((cx), (s), (ns)))

/* TASK_SLEEP_UNTIL(f, s, deadline_ns) - await an absolute deadline. */
#define TASK_SLEEP_UNTIL(f, s, deadline)                                       \
        TASK_AWAIT(f, task_sleep_until_poll((cx), (s), (deadline)))

/* ---- Timeout ------------------------------------------------------------- */

/*
 * TASK_TIMEOUT(f, sel, sleep, ns, cond, rcp) - await @cond (a poll call of
 * any awaitable, as in TASK_AWAIT) for at most @ns nanoseconds: Tokio's
 * tokio::time::timeout.  @sel: a struct task_select *, @sleep: a struct
 * task_sleep *, both in the frame.  Built on TASK_SELECT, with @cond
 * first: if @cond is ready it wins, even when the deadline has passed too,
 * and *@rcp is whatever @cond wrote to it; if the deadline passes first,
 * @cond's operation is cancelled (polled once in cancelling mode, exactly as
 * an abort would: read its header for what that loses) and *@rcp is
 * -ETIMEDOUT.  (@sel)->which tells which won: 0 @cond, 1 the timeout.
 * On an abort both are cancelled.  Cancellation-safe iff @cond is.
 *
 *     TASK_TIMEOUT(f, &f->sel, &f->sleep, TASK_MS(100),
 *                  task_mpsc_recv_poll(cx, rx, &f->recv, &f->v, &f->rc),
 *                  &f->rc);
 *     if (f->rc == -ETIMEDOUT) ...
 */
#define TASK_TIMEOUT(f, sel, sleep, ns, cond, rcp)                             \
        do {                                                                   \
                TASK_SELECT(f, sel, cond,                                      \
                            task_sleep_poll((cx), (sleep), (ns)));             \
                if ((sel)->which == 1)                                         \
                        *(rcp) = -ETIMEDOUT;                                   \
        } while (0)

/* TASK_TIMEOUT_AT - as TASK_TIMEOUT, with an absolute deadline. */
#define TASK_TIMEOUT_AT(f, sel, sleep, deadline, cond, rcp)                    \
        do {                                                                   \
                TASK_SELECT(f, sel, cond,                                      \
                            task_sleep_until_poll((cx), (sleep), (deadline))); \
                if ((sel)->which == 1)                                         \
                        *(rcp) = -ETIMEDOUT;                                   \
        } while (0)

/* ---- Interval ------------------------------------------------------------ */

/*
 * What an interval does when its task falls behind.  A tick is *missed*
 * when it is observed one whole period late or more (the next tick is then
 * already due).  A tick observed less late than that changes nothing: the
 * next one is still due one period after it was scheduled.
 */
enum task_missed_tick {
        /* Fire the missed ticks back to back, at once, until caught up
         * (the schedule stays start + k * period).  The default. */
        TASK_MISSED_TICK_BURST = 0,
        /* Restart the schedule from now: the next tick is one period after
         * the late tick was observed. */
        TASK_MISSED_TICK_DELAY = 1,
        /* Drop the missed ticks: the next tick is the first one of the
         * original schedule that is still in the future. */
        TASK_MISSED_TICK_SKIP = 2,
};

/* An interval: keep it in the frame. */
struct task_interval {
        struct task_sleep sleep;
        uint64_t next_ns;   /* the deadline of the next tick */
        uint64_t period_ns; /* 0: not initialised */
        int policy;         /* enum task_missed_tick */
};

/*
 * task_interval_init - ticks every @period_ns, the first one at once (now),
 * as tokio::time::interval.  @iv: zeroed or idle.  Returns 0, -EINVAL
 * (NULL, @period_ns 0, unknown @policy) or -EBUSY (a tick is being awaited
 * on @iv: cancel the task's wait first).
 */
TASK_API int task_interval_init(struct task_interval *iv, uint64_t period_ns,
                                enum task_missed_tick policy);

/*
 * task_interval_init_at - as task_interval_init, the first tick at
 * @start_ns (CLOCK_MONOTONIC; not 0), as tokio::time::interval_at.
 */
TASK_API int task_interval_init_at(struct task_interval *iv, uint64_t start_ns,
                                   uint64_t period_ns,
                                   enum task_missed_tick policy);

/*
 * task_interval_tick_poll - the poll behind TASK_INTERVAL_TICK: true when
 * the next tick is due, with *@tick_ns (if not NULL) set to the time it
 * was scheduled for (never after now), and the following tick scheduled by
 * the missed-tick policy; false otherwise, the task registered to be woken
 * then.  Cancelling (an abort, a lost select) drops the wait, not the tick:
 * the next poll still returns it.  A NULL or uninitialised @iv is ready at
 * once with *@tick_ns = 0 (a real tick is never 0); false in cancelling mode.
 */
TASK_API bool task_interval_tick_poll(struct task_cx *cx,
                                      struct task_interval *iv,
                                      uint64_t *tick_ns);

/* TASK_INTERVAL_TICK(f, iv, tickp) - await the next tick of @iv. */
#define TASK_INTERVAL_TICK(f, iv, tickp)                                       \
        TASK_AWAIT(f, task_interval_tick_poll((cx), (iv), (tickp)))

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_TIME_H */
