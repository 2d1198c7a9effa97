/*
 * test_sleep.c - sleep and sleep_until (libtask/time.h) end to end: never
 * early, ready at once when already due, reuse of one op, the cached
 * clock, the cooperative budget, abort while sleeping, cancellation from
 * another worker than the one whose wheel holds the timer, a runtime freed
 * with timers registered, tasks that end with a timer still linked (a
 * sleep in an aborted task's cleanup, a hand-written poll), bad input;
 * both flavors.
 *
 * Internal (libtask_internal): the wheels' timer counts (read under each
 * wheel's lock) prove that cancelled sleeps leave their wheel, and the
 * timer's wheel pointer says which worker registered it.  No "on time"
 * assertion anywhere: a sleep is only checked for never waking early.
 */
#include "helpers.h"

#include "runtime-priv.h"

#include <libtask/time.h>

/* Timers linked in all of @rt's wheels. */
static uint64_t wheel_timers(task_runtime *rt)
{
        uint64_t n = 0;

        for (unsigned i = 0; i < rt->nworkers; i++) {
                struct task__wheel *wh = &rt->workers[i].wheel;
                task__spin_lock(&wh->lock);
                n += wh->count;
                task__spin_unlock(&wh->lock);
        }
        return n;
}

/* A ct_run_until() condition: struct timers_at's runtime has n timers. */
struct timers_at {
        task_runtime *rt;
        uint64_t n;
};

static bool has_timers(void *arg)
{
        struct timers_at *t = arg;
        return wheel_timers(t->rt) == t->n;
}

/* Wait until @rt's wheels hold @n timers (driving a current-thread one). */
static void wait_timers(task_runtime *rt, enum task_flavor fl, uint64_t n)
{
        struct timers_at t = {rt, n};

        if (fl == TASK_CURRENT_THREAD)
                ct_run_until(rt, has_timers, &t);
        cr_assert(WAIT_UNTIL(wheel_timers(rt) == n, 5000),
                  "%llu timers, expected %llu",
                  (unsigned long long)wheel_timers(rt), (unsigned long long)n);
}

/* Join @h from a task: on a current-thread runtime, this is what drives
 * it (and it parks until timers are due, where ct_run_until would spin). */
struct joiner {
        TASK_FRAME;
        task_handle *h;
        int rc;
};

static int joiner_fn(struct task_cx *cx, void *arg)
{
        struct joiner *f = arg;

        TASK_BEGIN(f);
        TASK_JOIN(f, f->h, &f->rc);
        TASK_END(f);
}

static int join_task(task_runtime *rt, task_handle *h)
{
        struct joiner j = {.h = h, .rc = 1};

        cr_assert_eq(task_block_on(rt, joiner_fn, &j, sizeof j), 0);
        return j.rc;
}

/* ---- Never early --------------------------------------------------------- */

struct sleeper {
        TASK_FRAME;
        struct task_sleep s;
        uint64_t ns;    /* relative sleep; or */
        uint64_t until; /* absolute deadline when non-zero */
        uint64_t before, deadline, woke;
        int reps, i;
        bool cleaned;
};

static int sleeper_fn(struct task_cx *cx, void *arg)
{
        struct sleeper *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < (f->reps ? f->reps : 1); f->i++) {
                /* What the sleep counts from: this poll's cached clock. */
                f->before = task_cx_now_ns(cx);
                if (f->until)
                        TASK_SLEEP_UNTIL(f, &f->s, f->until);
                else
                        TASK_SLEEP(f, &f->s, f->ns);
                f->woke = task_now_ns();
                f->deadline = task_sleep_deadline(&f->s);
                TCHECK(f->woke >= f->deadline);
                if (!f->until)
                        TCHECK(f->deadline == f->before + f->ns);
                else
                        TCHECK(f->deadline == f->until);
        }
        TASK_CLEANUP(f);
        f->cleaned = true;
        TASK_END(f);
}

static void never_early(enum task_flavor fl)
{
        static const uint64_t ns[] = {
            0,          1,          TASK_US(10), TASK_US(70), TASK_US(300),
            TASK_MS(1), TASK_MS(3), TASK_MS(7)};
        enum { N = sizeof ns / sizeof ns[0] };
        task_runtime *rt = test_rt_new_flavor(fl);
        task_handle *h[N];

        for (int i = 0; i < N; i++) {
                struct sleeper f = {.ns = ns[i], .reps = 5};
                cr_assert_eq(TASK_SPAWN(rt, sleeper_fn, &f, &h[i]), 0);
        }
        for (int i = 0; i < N; i++) {
                cr_assert_eq(join_task(rt, h[i]), 0);
                struct sleeper *f = task_handle_frame(h[i]);
                cr_assert_geq(f->woke, f->deadline);
                task_handle_release(h[i]);
        }
        tcheck_assert_none();
        cr_assert_eq(wheel_timers(rt), 0);
        test_rt_free(rt);
}

Test(sleep, never_early_multi_thread, .timeout = 30)
{
        never_early(TASK_MULTI_THREAD);
}

Test(sleep, never_early_current_thread, .timeout = 30)
{
        never_early(TASK_CURRENT_THREAD);
}

Test(sleep, sleep_until_never_early_and_past_is_ready, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        uint64_t now = task_now_ns();
        struct sleeper a = {.until = now + TASK_MS(4)};
        struct sleeper b = {.until = now > TASK_SEC(1) ? now - TASK_SEC(1) : 1};

        cr_assert_eq(task_block_on(rt, sleeper_fn, &a, sizeof a), 0);
        cr_assert_geq(a.woke, now + TASK_MS(4));
        cr_assert_eq(task_block_on(rt, sleeper_fn, &b, sizeof b), 0);
        tcheck_assert_none();
        test_rt_free(rt);
}

/* ---- Ready at once, the cached clock, the budget --------------------------- */

struct probe {
        TASK_FRAME;
        struct task_sleep s;
        bool zero_ready, past_ready, future_ready;
        uint64_t c1, c2, c3, d;
};

static int probe_fn(struct task_cx *cx, void *arg)
{
        struct probe *f = arg;

        TASK_BEGIN(f);
        f->zero_ready = task_sleep_poll(cx, &f->s, 0);
        f->past_ready = task_sleep_until_poll(cx, &f->s, 1);
        /* The cached clock stands still within a poll... */
        f->c1 = task_cx_now_ns(cx);
        while (task_now_ns() < f->c1 + TASK_US(500))
                ;
        f->c2 = task_cx_now_ns(cx);
        /* ... and a relative sleep counts from it. */
        f->future_ready = task_sleep_poll(cx, &f->s, TASK_MS(1));
        f->d = task_sleep_deadline(&f->s);
        TASK_AWAIT(f, task_sleep_poll(cx, &f->s, TASK_SEC(3600)));
        /* A new poll reads the clock afresh. */
        f->c3 = task_cx_now_ns(cx);
        TASK_END(f);
}

Test(sleep, due_sleeps_are_ready_at_once_and_the_clock_is_cached, .timeout = 30)
{
        for (enum task_flavor fl = TASK_MULTI_THREAD; fl <= TASK_CURRENT_THREAD;
             fl++) {
                task_runtime *rt = test_rt_new_flavor(fl);
                struct probe f = {0};

                cr_assert_eq(task_block_on(rt, probe_fn, &f, sizeof f), 0);
                cr_assert(f.zero_ready);
                cr_assert(f.past_ready);
                cr_assert_not(f.future_ready);
                cr_assert_eq(f.c1, f.c2);
                /* The later polls' ns (an hour) was ignored. */
                cr_assert_eq(f.d, f.c1 + TASK_MS(1));
                cr_assert_gt(f.c3, f.c2);
                cr_assert_geq(f.c3, f.d);
                test_rt_free(rt);
        }
}

/* A task spinning on ready sleeps yields when its budget is spent. */
struct spinner {
        TASK_FRAME;
        struct task_sleep s;
        atomic_bool *flag;
        long n;
};

static int spinner_fn(struct task_cx *cx, void *arg)
{
        struct spinner *f = arg;

        TASK_BEGIN(f);
        while (!atomic_load(f->flag) && f->n < 1000000) {
                TASK_SLEEP(f, &f->s, 0);
                f->n++;
        }
        TASK_END(f);
}

struct setter {
        TASK_FRAME;
        atomic_bool *flag;
};

static int setter_fn(struct task_cx *cx, void *arg)
{
        struct setter *f = arg;

        TASK_BEGIN(f);
        atomic_store(f->flag, true);
        TASK_END(f);
}

Test(sleep, ready_sleeps_spend_the_budget, .timeout = 30)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        atomic_bool flag = false;
        struct setter s = {.flag = &flag};
        struct spinner sp = {.flag = &flag};

        cr_assert_eq(TASK_SPAWN(rt, setter_fn, &s, NULL), 0);
        /* One thread: the setter runs only if the spinner yields. */
        cr_assert_eq(task_block_on(rt, spinner_fn, &sp, sizeof sp), 0);
        cr_assert(atomic_load(&flag));
        cr_assert_lt(sp.n, 1000000);
        test_rt_free(rt);
}

/* ---- Abort, cancellation from another worker, free with timers --------- */

static void abort_while_sleeping(enum task_flavor fl)
{
        task_runtime *rt = test_rt_new_flavor(fl);
        enum { N = 50 };
        task_handle *h[N];

        for (int i = 0; i < N; i++) {
                struct sleeper f = {.ns = TASK_SEC(3600)};
                cr_assert_eq(TASK_SPAWN(rt, sleeper_fn, &f, &h[i]), 0);
        }
        wait_timers(rt, fl, N);
        for (int i = 0; i < N; i++)
                task_abort(h[i]);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(join_task(rt, h[i]), -ECANCELED);
                struct sleeper *f = task_handle_frame(h[i]);
                cr_assert(f->cleaned);
                cr_assert_eq(atomic_load(&f->s.timer.state), TASK__TIMER_IDLE);
                task_handle_release(h[i]);
        }
        cr_assert_eq(wheel_timers(rt), 0);
        test_rt_free(rt);
}

Test(sleep, abort_while_sleeping_multi_thread, .timeout = 30)
{
        abort_while_sleeping(TASK_MULTI_THREAD);
}

Test(sleep, abort_while_sleeping_current_thread, .timeout = 30)
{
        abort_while_sleeping(TASK_CURRENT_THREAD);
}

/*
 * A task sleeps (registered on the wheel of the worker that polled it),
 * then is woken by a gate from outside, so that its next poll -- which
 * drops the sleep as a select loser -- runs on whichever worker takes it
 * from the global queue.  Repeat until that was the other worker a good
 * number of times: each such cancel unlinks from a foreign wheel.
 */
struct loser {
        TASK_FRAME;
        struct task_select sel;
        struct task_sleep s;
        struct gate *g;
        struct task__wheel *reg;  /* the wheel the sleep went on */
        struct task__wheel *mine; /* the polling worker's, at the cancel */
};

/* The sleep branch, noting the wheel it registered on. */
static bool loser_sleep(struct task_cx *cx, struct loser *f)
{
        bool ready = task_sleep_poll(cx, &f->s, TASK_SEC(3600));

        if (!cx->cancelling)
                f->reg = f->s.timer.wheel;
        return ready;
}

static int loser_fn(struct task_cx *cx, void *arg)
{
        struct loser *f = arg;

        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel, gate_poll(cx, f->g), loser_sleep(cx, f));
        TCHECK(f->sel.which == 0);
        f->mine = &task__current_worker(cx->rt)->wheel;
        TCHECK(atomic_load(&f->s.timer.state) == TASK__TIMER_IDLE);
        TASK_END(f);
}

Test(sleep, cancel_from_another_worker, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(2);
        int foreign = 0, rounds = 0;

        while (foreign < 20 && rounds < 5000) {
                struct gate g;
                struct loser f = {.g = &g};
                task_handle *h;

                gate_init(&g);
                rounds++;
                cr_assert_eq(TASK_SPAWN(rt, loser_fn, &f, &h), 0);
                cr_assert(WAIT_UNTIL(wheel_timers(rt) == 1, 5000));
                gate_open(&g);
                cr_assert_eq(task_join_blocking(h), 0);
                struct loser *r = task_handle_frame(h);
                cr_assert_not_null(r->reg);
                if (r->reg != r->mine)
                        foreign++;
                task_handle_release(h);
                cr_assert_eq(wheel_timers(rt), 0);
        }
        tcheck_assert_none();
        cr_assert_geq(foreign, 20, "only %d foreign cancels in %d rounds",
                      foreign, rounds);
        test_rt_free(rt);
}

/* Shutdown cancels sleeping tasks: their timers leave, no reference leaks. */
static void free_with_timers(enum task_flavor fl)
{
        task_runtime *rt = test_rt_new_flavor(fl);
        enum { N = 1000 };

        for (int i = 0; i < N; i++) {
                struct sleeper f = {.ns = TASK_SEC(60) + (uint64_t)i};
                cr_assert_eq(TASK_SPAWN(rt, sleeper_fn, &f, NULL), 0);
        }
        wait_timers(rt, fl, N);
        test_rt_free(rt);
}

Test(sleep, runtime_freed_with_timers_registered_multi_thread, .timeout = 30)
{
        free_with_timers(TASK_MULTI_THREAD);
}

Test(sleep, runtime_freed_with_timers_registered_current_thread, .timeout = 30)
{
        free_with_timers(TASK_CURRENT_THREAD);
}

/*
 * A task can end with a timer linked (the timer then holds a reference to
 * it): a TASK_SLEEP in a TASK_CLEANUP run by an abort is polled with
 * cancelling cleared, links its timer and returns pending, and the task
 * ends anyway; a hand-written poll may poll a sleep once and return
 * TASK_DONE.  The task's memory, where the timer lives, must stay valid
 * until the timer fires (a short sleep: the wake finds the task ended and
 * drops the reference) or the shutdown drains it (a long one).  Other
 * timers inserted meanwhile on the same wheels (same slots: same
 * durations) link next to the orphans; under ASan that was a
 * use-after-free.  test_rt_free() proves no reference leaks.
 */
struct cleanup_sleeper {
        TASK_FRAME;
        struct task_sleep s, in_cleanup;
        uint64_t cleanup_ns;
        bool cleanup_started, cleanup_done;
};

static int cleanup_sleeper_fn(struct task_cx *cx, void *arg)
{
        struct cleanup_sleeper *f = arg;

        TASK_BEGIN(f);
        TASK_SLEEP(f, &f->s, TASK_SEC(3600));
        TASK_CLEANUP(f);
        f->cleanup_started = true;
        /* Not waited for during an abort: the task ends here. */
        TASK_SLEEP(f, &f->in_cleanup, f->cleanup_ns);
        f->cleanup_done = true;
        TASK_END(f);
}

struct hand_poll {
        TASK_FRAME; /* unused: this poll is written by hand */
        struct task_sleep s;
        uint64_t ns;
        bool pending;
};

/* Polls a sleep once and walks away from it. */
static int hand_poll_fn(struct task_cx *cx, void *arg)
{
        struct hand_poll *f = arg;

        f->pending = !task_sleep_poll(cx, &f->s, f->ns);
        return TASK_DONE;
}

static void ended_with_timer_linked(enum task_flavor fl)
{
        enum { N = 16 }; /* per kind: long and short, cleanup and by hand */
        task_runtime *rt = test_rt_new_flavor(fl);
        task_handle *h[2 * N];

        /* Sleep, then abort: the cleanups link their timers and end. */
        for (int i = 0; i < 2 * N; i++) {
                struct cleanup_sleeper f = {.cleanup_ns = i < N ? TASK_SEC(3600)
                                                                : TASK_MS(2)};
                cr_assert_eq(TASK_SPAWN(rt, cleanup_sleeper_fn, &f, &h[i]), 0);
        }
        wait_timers(rt, fl, 2 * N);
        for (int i = 0; i < 2 * N; i++)
                task_abort(h[i]);
        for (int i = 0; i < 2 * N; i++) {
                cr_assert_eq(join_task(rt, h[i]), -ECANCELED);
                struct cleanup_sleeper *f = task_handle_frame(h[i]);
                cr_assert(f->cleanup_started);
                cr_assert_not(f->cleanup_done);
                task_handle_release(h[i]);
        }
        /* Polled once, TASK_DONE with the sleep pending; detached. */
        for (int i = 0; i < 2 * N; i++) {
                struct hand_poll f = {.ns =
                                          i < N ? TASK_SEC(3600) : TASK_MS(2)};
                cr_assert_eq(TASK_SPAWN(rt, hand_poll_fn, &f, &h[i]), 0);
        }
        for (int i = 0; i < 2 * N; i++) {
                cr_assert_eq(join_task(rt, h[i]), 0);
                struct hand_poll *f = task_handle_frame(h[i]);
                cr_assert(f->pending);
                task_handle_release(h[i]);
        }
        /* The short orphans fire on their ended tasks (which frees
         * them); the long ones stay. */
        wait_timers(rt, fl, 2 * N);
        /* More timers on the same wheels, in the same slots: sleepers of
         * both durations, the short ones completing, the long ones
         * aborted (their cancel unlinks next to the orphans). */
        for (int i = 0; i < 2 * N; i++) {
                struct sleeper f = {.ns = i < N ? TASK_SEC(3600) : TASK_MS(2)};
                cr_assert_eq(TASK_SPAWN(rt, sleeper_fn, &f, &h[i]), 0);
        }
        for (int i = N; i < 2 * N; i++) {
                cr_assert_eq(join_task(rt, h[i]), 0);
                task_handle_release(h[i]);
        }
        wait_timers(rt, fl, 3 * N);
        for (int i = 0; i < N; i++) {
                task_abort(h[i]);
                cr_assert_eq(join_task(rt, h[i]), -ECANCELED);
                task_handle_release(h[i]);
        }
        cr_assert_eq(wheel_timers(rt), 2 * N);
        tcheck_assert_none();
        /* The shutdown drains the 2N long orphans and drops their tasks. */
        test_rt_free(rt);
}

Test(sleep, task_ended_with_timer_linked_multi_thread, .timeout = 30)
{
        ended_with_timer_linked(TASK_MULTI_THREAD);
}

Test(sleep, task_ended_with_timer_linked_current_thread, .timeout = 30)
{
        ended_with_timer_linked(TASK_CURRENT_THREAD);
}

/* ---- Bad input ----------------------------------------------------------- */

struct bad {
        TASK_FRAME;
        bool a, b;
};

static int bad_fn(struct task_cx *cx, void *arg)
{
        struct bad *f = arg;

        TASK_BEGIN(f);
        f->a = task_sleep_poll(cx, NULL, TASK_SEC(1));
        f->b = task_sleep_until_poll(cx, NULL, UINT64_MAX);
        TASK_END(f);
}

Test(sleep, bad_input, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct bad f = {0};
        struct task_sleep s = {0};
        struct task_cx cx = {.cancelling = 1};

        cr_assert_eq(task_block_on(rt, bad_fn, &f, sizeof f), 0);
        cr_assert(f.a && f.b); /* NULL op: ready at once */
        cr_assert_not(task_sleep_poll(&cx, NULL, 5)); /* cancelling */
        cr_assert(task_sleep_poll(NULL, &s, 5));
        task_sleep_cancel(NULL);
        task_sleep_cancel(&s); /* idle: nothing */
        cr_assert_eq(task_sleep_deadline(NULL), 0);
        cr_assert_eq(task_sleep_deadline(&s), 0);
        cr_assert_gt(task_now_ns(), 0);
        cr_assert_gt(task_cx_now_ns(NULL), 0);
        test_rt_free(rt);
}
