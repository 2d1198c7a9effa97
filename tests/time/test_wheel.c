/*
 * test_wheel.c - the per-worker timer wheel (time/wheel-priv.h), internal.
 *
 * The wheel is driven by hand: bare timers (no task: an expiry just marks
 * them FIRED), deadlines on a made-up clock, expire() at chosen times.  The
 * property checked everywhere is the exact one: after expire(now), a timer
 * has fired if and only if the tick its deadline rounds up to is at most
 * now's tick.  That is "never early" (deadline <= tick * 65.536 us <= now)
 * and "never late by a tick" at once, and it implies exactly once (a FIRED
 * timer is unlinked).  Then: cancelling, cascading through every level,
 * deadlines beyond the wheel's span (clamped, re-filed, still exact),
 * next_deadline() as a park timeout, and cancels from other threads racing
 * the owner's expiry.
 */
#include "helpers.h"

#include "runtime-priv.h"

#define T_NS (UINT64_C(1) << TASK__WHEEL_TICK_SHIFT)

static struct task__wheel wh;

/* A fresh wheel whose clock starts at @base_ns. */
static void wheel_at(uint64_t base_ns)
{
        task__wheel_init(&wh);
        wh.elapsed = base_ns >> TASK__WHEEL_TICK_SHIFT;
}

static uint32_t state_of(struct task_timer *t)
{
        return atomic_load_explicit(&t->state, memory_order_acquire);
}

static void arm(struct task_timer *t, uint64_t deadline, uint64_t now)
{
        memset(t, 0, sizeof *t);
        t->deadline_ns = deadline;
        cr_assert(task__wheel_insert(&wh, t, now), "deadline %llu now %llu",
                  (unsigned long long)deadline, (unsigned long long)now);
        cr_assert_eq(state_of(t), TASK__TIMER_QUEUED);
}

static bool due(uint64_t deadline, uint64_t now)
{
        return task__wheel_tick_of(deadline) <= (now >> TASK__WHEEL_TICK_SHIFT);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
        uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        return z ^ (z >> 31);
}

Test(wheel, empty)
{
        wheel_at(TASK_SEC(1000));
        cr_assert_eq(task__wheel_next_deadline(&wh), UINT64_MAX);
        cr_assert_eq(task__wheel_expire(&wh, TASK_SEC(2000)), 0);
        cr_assert_eq(task__wheel_next_deadline(&wh), UINT64_MAX);
        task__wheel_destroy(&wh);
}

Test(wheel, one_timer_fires_at_its_tick_exactly_once)
{
        uint64_t base = TASK_SEC(1000);
        uint64_t d = base + TASK_MS(3) + 17; /* not on a tick boundary */
        uint64_t tick_ns = task__wheel_tick_of(d) * T_NS;
        struct task_timer t;

        wheel_at(base);
        arm(&t, d, base);
        cr_assert_eq(wh.count, 1);
        cr_assert_leq(task__wheel_next_deadline(&wh), tick_ns);
        cr_assert_eq(task__wheel_expire(&wh, d - 1), 0);
        cr_assert_eq(task__wheel_expire(&wh, tick_ns - 1), 0);
        cr_assert_eq(state_of(&t), TASK__TIMER_QUEUED);
        cr_assert_eq(task__wheel_expire(&wh, tick_ns), 1);
        cr_assert_eq(state_of(&t), TASK__TIMER_FIRED);
        cr_assert_eq(wh.count, 0);
        cr_assert_eq(task__wheel_expire(&wh, tick_ns + TASK_SEC(5)), 0);
        /* Cancelling a fired timer reports it fired and idles it. */
        cr_assert_not(task__timer_cancel(&t));
        cr_assert_eq(state_of(&t), TASK__TIMER_IDLE);
        cr_assert_eq(task__wheel_next_deadline(&wh), UINT64_MAX);
}

Test(wheel, due_timer_is_refused)
{
        uint64_t base = TASK_SEC(1000);
        struct task_timer t = {0};

        wheel_at(base);
        cr_assert_eq(task__wheel_expire(&wh, base + TASK_MS(10)), 0);
        /* The wheel has processed base + 10 ms: a deadline before that is
         * due, and insert says so instead of filing it. */
        t.deadline_ns = base + TASK_MS(5);
        cr_assert_not(task__wheel_insert(&wh, &t, base + TASK_MS(10)));
        cr_assert_eq(state_of(&t), TASK__TIMER_IDLE);
        cr_assert_eq(wh.count, 0);
}

Test(wheel, cancel_unlinks)
{
        uint64_t base = TASK_SEC(1000);
        struct task_timer t[3];

        wheel_at(base);
        for (int i = 0; i < 3; i++)
                arm(&t[i], base + TASK_MS(1), base); /* one slot, 3 timers */
        cr_assert(task__timer_cancel(&t[1])); /* the middle of the list */
        cr_assert_eq(state_of(&t[1]), TASK__TIMER_IDLE);
        cr_assert_not(task__timer_cancel(&t[1])); /* idle: nothing */
        cr_assert(task__timer_cancel(&t[2]));     /* the head */
        cr_assert_eq(wh.count, 1);
        cr_assert_eq(task__wheel_expire(&wh, base + TASK_MS(2)), 1);
        cr_assert_eq(state_of(&t[0]), TASK__TIMER_FIRED);
        cr_assert_eq(state_of(&t[1]), TASK__TIMER_IDLE);
        cr_assert_eq(state_of(&t[2]), TASK__TIMER_IDLE);
        /* The last one out of a slot clears its bit. */
        arm(&t[0], base + TASK_SEC(3), base + TASK_MS(2));
        cr_assert_neq(task__wheel_next_deadline(&wh), UINT64_MAX);
        cr_assert(task__timer_cancel(&t[0]));
        /* next_deadline() is not refreshed by a cancel (it is the owner's
         * lock-free lower bound) but by the next expire. */
        uint64_t nd = task__wheel_next_deadline(&wh);
        cr_assert_neq(nd, UINT64_MAX);
        cr_assert_eq(task__wheel_expire(&wh, nd), 0);
        cr_assert_eq(task__wheel_next_deadline(&wh), UINT64_MAX);
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/*
 * One timer per level boundary, expired one tick at a time around each of
 * them: each fires exactly at its tick, after cascading down from its
 * level.
 */
Test(wheel, cascades_through_every_level)
{
        uint64_t base = TASK_SEC(1000) & ~(T_NS * 64 * 64 - 1);
        enum { N = TASK__WHEEL_LEVELS * 3 };
        struct task_timer t[N];
        uint64_t d[N];
        int n = 0;

        wheel_at(base);
        for (unsigned level = 0; level < TASK__WHEEL_LEVELS; level++) {
                uint64_t span = UINT64_C(1) << (6 * level);
                uint64_t offs[3] = {span, span + 1, 63 * span + 5};
                for (int k = 0; k < 3; k++) {
                        d[n] = base + offs[k] * T_NS - 3; /* rounds up */
                        arm(&t[n], d[n], base);
                        n++;
                }
        }
        /* Walk the deadlines in order (they were armed level by level). */
        uint64_t sorted[N];
        memcpy(sorted, d, sizeof d);
        qsort(sorted, N, sizeof *sorted, cmp_u64);
        uint64_t last = 0;
        for (int i = 0; i < n; i++) {
                uint64_t tick = task__wheel_tick_of(sorted[i]);
                uint64_t from = tick - 2 > last ? tick - 2 : last + 1;
                for (uint64_t at = from; at <= tick + 1; last = at++) {
                        task__wheel_expire(&wh, at * T_NS);
                        for (int j = 0; j < n; j++)
                                cr_assert_eq(state_of(&t[j]) ==
                                                 TASK__TIMER_FIRED,
                                             due(d[j], at * T_NS),
                                             "timer %d at tick %llu", j,
                                             (unsigned long long)at);
                }
        }
        cr_assert_eq(wh.count, 0);
}

/*
 * Deadlines beyond the span (2^36 ticks, ~52 days) are filed in the last
 * slot and re-filed when it comes round, until due; UINT64_MAX never fires.
 */
Test(wheel, far_deadlines_clamp)
{
        uint64_t base = TASK_SEC(1000);
        uint64_t span_ns = TASK__WHEEL_SPAN * T_NS;
        uint64_t d[3] = {base + span_ns + TASK_MS(7), base + 5 * span_ns + 11,
                         UINT64_MAX};
        struct task_timer t[3];
        uint64_t now = base;

        wheel_at(base);
        for (int i = 0; i < 3; i++)
                arm(&t[i], d[i], base);
        /* Park-driven: always jump to the next deadline the wheel gives. */
        int iters = 0;
        while (state_of(&t[1]) != TASK__TIMER_FIRED) {
                uint64_t nd = task__wheel_next_deadline(&wh);
                cr_assert_neq(nd, UINT64_MAX);
                cr_assert_gt(nd, now, "next_deadline went backwards");
                now = nd;
                task__wheel_expire(&wh, now);
                for (int i = 0; i < 3; i++)
                        cr_assert_eq(state_of(&t[i]) == TASK__TIMER_FIRED,
                                     due(d[i], now));
                cr_assert_lt(++iters, 1000);
        }
        cr_assert_eq(wh.count, 1);
        /* The end of the clock: still not due. */
        task__wheel_expire(&wh, UINT64_MAX - 1);
        cr_assert_eq(state_of(&t[2]), TASK__TIMER_QUEUED);
        cr_assert(task__timer_cancel(&t[2]));
        cr_assert_eq(wh.count, 0);
}

/* An empty wheel that nobody expired for a while files relative to now. */
Test(wheel, empty_wheel_catches_up_on_insert)
{
        uint64_t base = TASK_SEC(1000);
        struct task_timer t;

        wheel_at(base);
        uint64_t later = base + TASK_SEC(3600);
        arm(&t, later + TASK_US(100), later);
        cr_assert_eq(wh.elapsed, later >> TASK__WHEEL_TICK_SHIFT);
        cr_assert_eq(t.slot / TASK__WHEEL_SLOTS, 0, "filed at level %u",
                     t.slot / TASK__WHEEL_SLOTS);
        cr_assert_eq(task__wheel_expire(&wh, later + TASK_US(200)), 1);
}

struct rt_timer {
        struct task_timer t;
        uint64_t d;
        bool cancelled;     /* cancel was called */
        bool cancel_linked; /* ... and found it linked: it never fires */
};

static int by_tick(const void *a, const void *b)
{
        uint64_t x = task__wheel_tick_of((*(struct rt_timer *const *)a)->d);
        uint64_t y = task__wheel_tick_of((*(struct rt_timer *const *)b)->d);
        return x < y ? -1 : x > y;
}

/*
 * Hundreds of thousands of timers (0..50 ms mostly, some seconds to
 * months), random cancels between expiries at random times: after every
 * expire, exactly the due, uncancelled timers have fired (counted through
 * expire's return value and a walk of the newly due ones), and
 * next_deadline() is a lower bound of the next due timer.
 */
static void random_run(bool park_driven)
{
        long n = test_scaled(300000, 20000);
        struct rt_timer *tm = calloc((size_t)n, sizeof *tm);
        struct rt_timer **order = calloc((size_t)n, sizeof *order);
        uint64_t base = TASK_SEC(1000) + 12345;
        uint64_t now = base, fired = 0, cancelled_early = 0, due_live = 0;
        long next_due = 0;

        cr_assert(tm && order);
        wheel_at(base);
        for (long i = 0; i < n; i++) {
                uint64_t r = rnd() % 100, span;
                if (r < 70)
                        span = TASK_MS(50);
                else if (r < 90)
                        span = TASK_SEC(10);
                else if (r < 98)
                        span = TASK_SEC(86400);
                else
                        span = TASK_SEC(86400) * 400;
                tm[i].d = base + 1 + rnd() % span;
                arm(&tm[i].t, tm[i].d, base);
                order[i] = &tm[i];
        }
        qsort(order, (size_t)n, sizeof *order, by_tick);
        while (next_due < n) {
                /* Cancel a few random timers (the owner may cancel any). */
                for (int k = 0; k < 8; k++) {
                        struct rt_timer *x = &tm[rnd() % (uint64_t)n];
                        if (x->cancelled)
                                continue;
                        bool was_due = due(x->d, now);
                        bool linked = task__timer_cancel(&x->t);
                        cr_assert_eq(linked, !was_due);
                        x->cancelled = true;
                        x->cancel_linked = linked;
                        if (linked)
                                cancelled_early++;
                }
                uint64_t nd = task__wheel_next_deadline(&wh);
                if (park_driven) {
                        if (nd == UINT64_MAX) {
                                /* Only cancelled timers are left. */
                                for (long j = next_due; j < n; j++)
                                        cr_assert(order[j]->cancel_linked);
                                break;
                        }
                        now = nd;
                } else {
                        /* Small steps first, then ever bigger jumps. */
                        uint64_t step = now - base < TASK_MS(60)
                                            ? rnd() % TASK_US(300)
                                            : rnd() % ((now - base) / 4 + 1);
                        now += step;
                }
                fired += task__wheel_expire(&wh, now);
                /* Walk the newly due timers: all fired (or cancelled). */
                while (next_due < n && due(order[next_due]->d, now)) {
                        struct rt_timer *x = order[next_due++];
                        if (x->cancel_linked)
                                continue;
                        due_live++;
                        /* Fired (and idled again if cancelled after). */
                        cr_assert(state_of(&x->t) == (x->cancelled
                                                          ? TASK__TIMER_IDLE
                                                          : TASK__TIMER_FIRED),
                                  "due timer not fired: deadline %llu now %llu",
                                  (unsigned long long)x->d,
                                  (unsigned long long)now);
                }
                /* ... and no other fired: the counts match. */
                cr_assert_eq(fired, due_live);
                cr_assert_eq(wh.count, (uint64_t)n - fired - cancelled_early);
                if (next_due < n) {
                        uint64_t nd2 = task__wheel_next_deadline(&wh);
                        cr_assert_gt(nd2, now);
                        /* Lower bound of the first uncancelled pending. */
                        for (long j = next_due; j < n; j++) {
                                if (order[j]->cancelled)
                                        continue;
                                cr_assert_leq(nd2,
                                              task__wheel_tick_of(order[j]->d) *
                                                  T_NS);
                                break;
                        }
                }
        }
        cr_assert_eq(wh.count, 0);
        cr_assert_eq(task__wheel_next_deadline(&wh), UINT64_MAX);
        free(order);
        free(tm);
}

Test(wheel, random_timers_fire_exactly_when_due, .timeout = 120)
{
        random_run(false);
}

Test(wheel, park_driven_random_timers, .timeout = 120)
{
        random_run(true);
}

/*
 * Cancels from other threads race the owner's expiry: each timer ends up
 * either cancelled while linked (cancel returned true: it never fired) or
 * fired (counted once by expire), never both, never neither.
 */
struct canceller {
        pthread_t th;
        struct rt_timer *tm;
        long n;
        uint64_t seed;
        long linked; /* cancels that found the timer linked */
};

static atomic_bool go;

static void *cancel_main(void *arg)
{
        struct canceller *c = arg;

        while (!atomic_load(&go))
                sched_yield();
        for (long i = 0; i < c->n; i++) {
                c->seed = c->seed * 6364136223846793005u + 1442695040888963407u;
                if ((c->seed >> 33) % 4 == 0)
                        sched_yield();
                if (task__timer_cancel(&c->tm[i].t))
                        c->linked++;
                c->tm[i].cancelled = true;
        }
        return NULL;
}

Test(wheel, cancel_from_other_threads_races_expiry, .timeout = 120)
{
        enum { NTH = 3 };
        long per = test_scaled(50000, 5000);
        long n = per * NTH;
        struct rt_timer *tm = calloc((size_t)n, sizeof *tm);
        struct canceller c[NTH];
        uint64_t base = TASK_SEC(1000), now = base, fired = 0;

        cr_assert_not_null(tm);
        wheel_at(base);
        for (long i = 0; i < n; i++) {
                tm[i].d = base + 1 + rnd() % TASK_MS(200);
                arm(&tm[i].t, tm[i].d, base);
        }
        atomic_store(&go, false);
        for (int k = 0; k < NTH; k++) {
                c[k] = (struct canceller){
                    .tm = tm + k * per, .n = per, .seed = (uint64_t)k + 1};
                cr_assert_eq(pthread_create(&c[k].th, NULL, cancel_main, &c[k]),
                             0);
        }
        atomic_store(&go, true);
        while (now < base + TASK_MS(250)) {
                now += TASK_US(20);
                fired += task__wheel_expire(&wh, now);
        }
        long linked = 0;
        for (int k = 0; k < NTH; k++) {
                pthread_join(c[k].th, NULL);
                linked += c[k].linked;
        }
        cr_assert_eq(fired + (uint64_t)linked, (uint64_t)n,
                     "fired %llu + cancelled %ld != %ld",
                     (unsigned long long)fired, linked, n);
        cr_assert_eq(wh.count, 0);
        for (long i = 0; i < n; i++)
                cr_assert_eq(state_of(&tm[i].t), TASK__TIMER_IDLE);
        free(tm);
}
