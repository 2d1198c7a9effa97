/*
 * test_interval.c - intervals (libtask/time.h): the first tick at once,
 * then one every period, never early; the missed-tick policies (BURST
 * fires the missed ticks back to back, DELAY restarts the schedule from
 * the late tick, SKIP jumps to the next tick of the original schedule);
 * -EBUSY while a tick is awaited; abort; bad input; both flavors.
 * Internal only to see the timer's state from the test thread.
 */
#include "helpers.h"

#include "runtime-priv.h"

#include <libtask/time.h>

#define P TASK_MS(2)

struct ticker {
        TASK_FRAME;
        struct task_interval iv;
        uint64_t ticks[8], seen[8];
        int i, n;
        atomic_bool first_done;
        bool cleaned;
};

static int ticker_fn(struct task_cx *cx, void *arg)
{
        struct ticker *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_INTERVAL_TICK(f, &f->iv, &f->ticks[f->i]);
                f->seen[f->i] = task_now_ns();
                atomic_store(&f->first_done, true);
        }
        TASK_CLEANUP(f);
        f->cleaned = true;
        TASK_END(f);
}

Test(interval, ticks_every_period_never_early, .timeout = 30)
{
        for (enum task_flavor fl = TASK_MULTI_THREAD; fl <= TASK_CURRENT_THREAD;
             fl++) {
                task_runtime *rt = test_rt_new_flavor(fl);
                struct ticker f = {.n = 6};
                uint64_t t0 = task_now_ns();

                cr_assert_eq(
                    task_interval_init(&f.iv, P, TASK_MISSED_TICK_BURST), 0);
                cr_assert_eq(task_block_on(rt, ticker_fn, &f, sizeof f), 0);
                cr_assert_geq(f.ticks[0], t0); /* the first: at init */
                for (int i = 0; i < f.n; i++) {
                        cr_assert_eq(f.ticks[i], f.ticks[0] + (uint64_t)i * P);
                        cr_assert_geq(f.seen[i], f.ticks[i]);
                }
                test_rt_free(rt);
        }
}

/*
 * The policies, from inside one poll (so every read of the cached clock
 * gives the same `now`): an interval whose start is 5.5 periods ago.
 */
struct policy_probe {
        TASK_FRAME;
        enum task_missed_tick policy;
        struct task_interval iv;
        uint64_t now, start, ticks[8];
        int ready; /* ticks ready without waiting */
};

static int policy_fn(struct task_cx *cx, void *arg)
{
        struct policy_probe *f = arg;
        uint64_t p = TASK_MS(10);

        TASK_BEGIN(f);
        f->now = task_cx_now_ns(cx);
        f->start = f->now - 5 * p - p / 2;
        TCHECK(task_interval_init_at(&f->iv, f->start, p, f->policy) == 0);
        while (f->ready < 8 &&
               task_interval_tick_poll(cx, &f->iv, &f->ticks[f->ready]))
                f->ready++;
        /* The tick after the last ready one is registered: let it go. */
        task_sleep_cancel(&f->iv.sleep);
        TASK_END(f);
}

static struct policy_probe run_policy(enum task_missed_tick policy)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct policy_probe f = {.policy = policy};

        cr_assert_eq(task_block_on(rt, policy_fn, &f, sizeof f), 0);
        tcheck_assert_none();
        test_rt_free(rt);
        return f;
}

Test(interval, burst_fires_missed_ticks_back_to_back, .timeout = 30)
{
        struct policy_probe f = run_policy(TASK_MISSED_TICK_BURST);
        uint64_t p = TASK_MS(10);

        cr_assert_eq(f.ready, 6); /* start + 0..5 p are all past */
        for (int i = 0; i < f.ready; i++)
                cr_assert_eq(f.ticks[i], f.start + (uint64_t)i * p);
        cr_assert_eq(f.iv.next_ns, f.start + 6 * p);
}

Test(interval, delay_restarts_the_schedule_from_the_late_tick, .timeout = 30)
{
        struct policy_probe f = run_policy(TASK_MISSED_TICK_DELAY);
        uint64_t p = TASK_MS(10);

        cr_assert_eq(f.ready, 1);
        cr_assert_eq(f.ticks[0], f.start);
        cr_assert_eq(f.iv.next_ns, f.now + p);
}

Test(interval, skip_drops_missed_ticks_keeping_the_grid, .timeout = 30)
{
        struct policy_probe f = run_policy(TASK_MISSED_TICK_SKIP);
        uint64_t p = TASK_MS(10);

        cr_assert_eq(f.ready, 1);
        cr_assert_eq(f.ticks[0], f.start);
        cr_assert_eq(f.iv.next_ns, f.start + 6 * p); /* first after now */
}

/* A tick observed late by less than a period is not missed: no policy
 * moves the schedule. */
struct slightly_late {
        TASK_FRAME;
        struct task_interval iv;
        uint64_t tick;
        bool ready;
};

static int slightly_late_fn(struct task_cx *cx, void *arg)
{
        struct slightly_late *f = arg;
        uint64_t now;

        TASK_BEGIN(f);
        now = task_cx_now_ns(cx);
        TCHECK(task_interval_init_at(&f->iv, now - TASK_MS(3), TASK_MS(10),
                                     TASK_MISSED_TICK_DELAY) == 0);
        f->ready = task_interval_tick_poll(cx, &f->iv, &f->tick);
        TCHECK(f->iv.next_ns == now - TASK_MS(3) + TASK_MS(10));
        TASK_END(f);
}

Test(interval, slightly_late_tick_keeps_the_schedule, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct slightly_late f = {0};

        cr_assert_eq(task_block_on(rt, slightly_late_fn, &f, sizeof f), 0);
        cr_assert(f.ready);
        tcheck_assert_none();
        test_rt_free(rt);
}

Test(interval, busy_while_awaited_and_abort, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_handle *h;
        struct ticker f = {.n = 2};

        cr_assert_eq(
            task_interval_init(&f.iv, TASK_SEC(3600), TASK_MISSED_TICK_SKIP),
            0);
        cr_assert_eq(TASK_SPAWN(rt, ticker_fn, &f, &h), 0);
        struct ticker *r = task_handle_frame(h);
        cr_assert(WAIT_UNTIL(
            atomic_load(&r->iv.sleep.timer.state) == TASK__TIMER_QUEUED, 5000));
        cr_assert(atomic_load(&r->first_done));
        cr_assert_eq(task_interval_init(&r->iv, P, TASK_MISSED_TICK_BURST),
                     -EBUSY);
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert(r->cleaned);
        cr_assert_eq(atomic_load(&r->iv.sleep.timer.state), TASK__TIMER_IDLE);
        /* Cancelling dropped the wait, not the tick: still scheduled. */
        cr_assert_eq(r->iv.next_ns, r->ticks[0] + TASK_SEC(3600));
        cr_assert_eq(task_interval_init(&r->iv, P, TASK_MISSED_TICK_BURST), 0);
        task_handle_release(h);
        test_rt_free(rt);
}

struct bad_tick {
        TASK_FRAME;
        struct task_interval zero;
        uint64_t t1, t2;
        bool r1, r2;
};

static int bad_tick_fn(struct task_cx *cx, void *arg)
{
        struct bad_tick *f = arg;

        TASK_BEGIN(f);
        f->t1 = f->t2 = 99;
        f->r1 = task_interval_tick_poll(cx, NULL, &f->t1);
        f->r2 = task_interval_tick_poll(cx, &f->zero, &f->t2);
        TASK_END(f);
}

Test(interval, bad_input, .timeout = 10)
{
        struct task_interval iv = {0};
        task_runtime *rt = test_rt_new_mt(1);
        struct bad_tick f = {0};
        struct task_cx cx = {.cancelling = 1};

        cr_assert_eq(task_interval_init(NULL, P, TASK_MISSED_TICK_BURST),
                     -EINVAL);
        cr_assert_eq(task_interval_init(&iv, 0, TASK_MISSED_TICK_BURST),
                     -EINVAL);
        cr_assert_eq(task_interval_init(&iv, P, (enum task_missed_tick)7),
                     -EINVAL);
        cr_assert_eq(task_interval_init_at(&iv, 0, P, TASK_MISSED_TICK_SKIP),
                     -EINVAL);
        cr_assert_eq(task_block_on(rt, bad_tick_fn, &f, sizeof f), 0);
        cr_assert(f.r1 && f.r2);
        cr_assert_eq(f.t1, 0);
        cr_assert_eq(f.t2, 0);
        cr_assert_not(task_interval_tick_poll(&cx, NULL, NULL));
        test_rt_free(rt);
}
