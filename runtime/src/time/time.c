/*
 * time.c - sleep, sleep_until, timeout and interval (libtask/time.h) on top
 * of the per-worker timer wheel (wheel.c).
 *
 * A sleep's timer (struct task_timer) lives in the task's frame.  Its life:
 *
 *   IDLE --first poll, deadline ahead--> QUEUED on the polling worker's
 *   wheel, holding a reference to the task (task_cx_waker)
 *   QUEUED --the wheel's owner expires it--> FIRED, task woken (the wake
 *   consumes the timer's reference)
 *   FIRED --the task's next poll--> IDLE (ready: the sleep completes)
 *   QUEUED --cancelling poll / task_sleep_cancel, any worker--> IDLE (the
 *   reference dropped)
 *   QUEUED --task_runtime_shutdown's drain--> IDLE (the reference dropped)
 *
 * Why a reference and not a plain pointer: a task can end with its timer
 * linked.  Usually it cannot (a TASK_SLEEP that completed left it IDLE, an
 * abort's cancelling poll unlinks it), but a TASK_SLEEP in a TASK_CLEANUP
 * section run by an abort is polled with cancelling cleared, links its
 * timer and returns pending, and the task ends anyway (a cancelling poll
 * always ends it); a hand-written poll may also poll a sleep once and
 * return TASK_DONE.  The reference keeps the task's memory (and the frame
 * the timer lives in) alive until the timer fires or is drained.  It costs
 * one increment per registered timer and one decrement per cancelled one;
 * a timer that fires costs nothing extra (its reference is the wake's).
 *
 * The cached clock (time.h): the worker's clock is re-read when its poll
 * sequence number (struct task__worker.poll_seq, odd during a poll, bumped
 * at its start and end) differs from the one it was read at, i.e. at the
 * first time operation of each poll.
 */
#include "runtime-priv.h"

#include <libtask/runtime.h>
#include <libtask/time.h>

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The worker's cached clock (owner thread only). */
static inline uint64_t worker_now(struct task__worker *w)
{
        struct task__wheel *wh = &w->wheel;
        /* Relaxed: poll_seq is written by this thread only. */
        uint64_t seq = atomic_load_explicit(&w->poll_seq, memory_order_relaxed);

        if (wh->clock_seq != seq) {
                wh->clock_ns = task__now_ns();
                wh->clock_seq = seq;
        }
        return wh->clock_ns;
}

uint64_t task_now_ns(void)
{
        return task__now_ns();
}

uint64_t task_cx_now_ns(struct task_cx *cx)
{
        struct task__worker *w = cx ? task__current_worker(cx->rt) : NULL;

        return w ? worker_now(w) : task__now_ns();
}

/*
 * The sleep poll: @v is a duration (@relative) or a deadline.  See
 * task_sleep_poll() in time.h for the contract.
 */
static bool sleep_poll(struct task_cx *cx, struct task_sleep *s, uint64_t v,
                       bool relative)
{
        struct task_timer *t;
        uint32_t st;

        if (!cx || !s)
                return !(cx && cx->cancelling);
        t = &s->timer;
        if (TASK__UNLIKELY_(cx->cancelling)) {
                task__timer_cancel(t);
                return false;
        }
        /* Acquire: pairs with the expirer's release store of FIRED. */
        st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st == TASK__TIMER_QUEUED)
                return false;
        if (st == TASK__TIMER_IDLE) {
                struct task__worker *w = task__current_worker(cx->rt);
                uint64_t now = w ? worker_now(w) : task__now_ns();

                t->deadline_ns = relative ? sat_add(now, v) : v;
                if (t->deadline_ns > now && w) {
                        /* The linked timer's reference (see above). */
                        t->task = task_cx_waker(cx);
                        if (task__wheel_insert(&w->wheel, t, now))
                                return false;
                        task_waker_drop(t->task); /* due already */
                        t->task = NULL;
                }
                /* Due already (or off a worker: nobody would wake us). */
        }
        if (!task_coop_proceed(cx)) {
                /* Stay ready for the next poll (the task yields). */
                atomic_store_explicit(&t->state, TASK__TIMER_FIRED,
                                      memory_order_relaxed);
                return false;
        }
        /* Relaxed: nobody else looks at an IDLE or FIRED timer. */
        atomic_store_explicit(&t->state, TASK__TIMER_IDLE,
                              memory_order_relaxed);
        return true;
}

bool task_sleep_poll(struct task_cx *cx, struct task_sleep *s, uint64_t ns)
{
        return sleep_poll(cx, s, ns, true);
}

bool task_sleep_until_poll(struct task_cx *cx, struct task_sleep *s,
                           uint64_t deadline_ns)
{
        return sleep_poll(cx, s, deadline_ns, false);
}

uint64_t task_sleep_deadline(const struct task_sleep *s)
{
        return s ? s->timer.deadline_ns : 0;
}

void task_sleep_cancel(struct task_sleep *s)
{
        if (s)
                task__timer_cancel(&s->timer);
}

/* ---- Interval ---------------------------------------------------------------- */

int task_interval_init_at(struct task_interval *iv, uint64_t start_ns,
                          uint64_t period_ns, enum task_missed_tick policy)
{
        if (!iv || !period_ns || !start_ns ||
            ((unsigned)policy > TASK_MISSED_TICK_SKIP))
                return -EINVAL;
        /* Acquire: a FIRED timer's expirer is done with it (see above). */
        uint32_t st =
            atomic_load_explicit(&iv->sleep.timer.state, memory_order_acquire);
        if (st == TASK__TIMER_QUEUED)
                return -EBUSY;
        atomic_store_explicit(&iv->sleep.timer.state, TASK__TIMER_IDLE,
                              memory_order_relaxed);
        iv->next_ns = start_ns;
        iv->period_ns = period_ns;
        iv->policy = (int)policy;
        return 0;
}

int task_interval_init(struct task_interval *iv, uint64_t period_ns,
                       enum task_missed_tick policy)
{
        return task_interval_init_at(iv, task__now_ns(), period_ns, policy);
}

/* The tick after the one due at @due, observed at @now. */
static uint64_t interval_next(const struct task_interval *iv, uint64_t due,
                              uint64_t now)
{
        uint64_t p = iv->period_ns;
        uint64_t next = sat_add(due, p);

        if (now < next || iv->policy == TASK_MISSED_TICK_BURST)
                return next; /* not missed, or catch up back to back */
        if (iv->policy == TASK_MISSED_TICK_DELAY)
                return sat_add(now, p);
        /* SKIP: the first tick of the schedule due + k * p after now. */
        return sat_add(now, p - (now - due) % p);
}

bool task_interval_tick_poll(struct task_cx *cx, struct task_interval *iv,
                             uint64_t *tick_ns)
{
        if (!cx || !iv || !iv->period_ns) {
                if (cx && cx->cancelling)
                        return false;
                if (tick_ns)
                        *tick_ns = 0;
                return true;
        }
        if (!task_sleep_until_poll(cx, &iv->sleep, iv->next_ns))
                return false; /* also the cancelling poll: tick kept */
        uint64_t due = iv->next_ns;
        iv->next_ns = interval_next(iv, due, task_cx_now_ns(cx));
        if (tick_ns)
                *tick_ns = due;
        return true;
}
