/*
 * test_budget.c - the cooperative budget.  A task that keeps awaiting a
 * resource that is always ready (a join handle of a finished task) must
 * still yield once its budget is spent, so that with a single worker (or on
 * a current-thread runtime) another task gets to run.  Without the budget
 * these tests hang until their timeout.
 */
#include "helpers.h"

struct done_task {
        TASK_FRAME;
};

static int done_task(struct task_cx *cx, void *arg)
{
        struct done_task *f = arg;
        TASK_BEGIN(f);
        TASK_END(f);
}

/* Awaits the finished handle again and again until *stop. */
struct greedy {
        TASK_FRAME;
        task_handle *h;
        atomic_int *stop;
        atomic_int *started;
        int rc;
        long iterations;
        long polls;
        long max_per_poll, cur;
        long full_polls_wrong; /* polls that stopped short of the budget */
        int budget;
};

static int greedy(struct task_cx *cx, void *arg)
{
        struct greedy *f = arg;

        /* Account the previous poll: it ended by running out of budget. */
        if (f->polls > 0) {
                if (f->cur > f->max_per_poll)
                        f->max_per_poll = f->cur;
                if (f->budget && f->cur != f->budget && !atomic_load(f->stop))
                        f->full_polls_wrong++;
        }
        f->polls++;
        f->cur = 0;
        TASK_BEGIN(f);
        atomic_store(f->started, 1);
        while (!atomic_load(f->stop)) {
                TASK_JOIN(f, f->h, &f->rc);
                f->iterations++;
                f->cur++;
        }
        TASK_END(f);
}

struct set_flag {
        TASK_FRAME;
        atomic_int *flag;
};

static int set_flag(struct task_cx *cx, void *arg)
{
        struct set_flag *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->flag, 1);
        TASK_END(f);
}

static task_handle *finished_handle(task_runtime *rt)
{
        struct done_task d = {0};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, done_task, &d, &h), 0);
        return h;
}

Test(budget, ready_join_loop_yields_to_others_one_worker, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        atomic_int stop = 0, started = 0;
        task_handle *hd = finished_handle(rt), *hg, *hs;
        struct greedy g = {.stop = &stop, .started = &started};
        struct set_flag s = {.flag = &stop};

        cr_assert_eq(task_join_blocking(hd), 0);
        g.h = hd;
        cr_assert_eq(TASK_SPAWN(rt, greedy, &g, &hg), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&started), 5000));
        /* The only worker is busy with `greedy`; this one must still run. */
        cr_assert_eq(TASK_SPAWN(rt, set_flag, &s, &hs), 0);
        cr_assert_eq(task_join_blocking(hg), 0);
        cr_assert_eq(task_join_blocking(hs), 0);
        {
                struct greedy *r = task_handle_frame(hg);
                cr_assert_eq(r->rc, 0);
                cr_assert_gt(r->iterations, 0);
                cr_assert_leq(r->max_per_poll, 128,
                              "%ld ready joins in one poll (budget 128)",
                              r->max_per_poll);
        }
        task_handle_release(hg);
        task_handle_release(hs);
        task_handle_release(hd);
        test_rt_free(rt);
}

Test(budget, ready_join_loop_yields_on_current_thread, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int stop = 0, started = 0;
        task_handle *hd = finished_handle(rt), *hs;
        struct greedy g = {.stop = &stop, .started = &started};
        struct set_flag s = {.flag = &stop};

        /* Spawned before block_on: runs only if greedy yields. */
        cr_assert_eq(TASK_SPAWN(rt, set_flag, &s, &hs), 0);
        g.h = hd;
        cr_assert_eq(task_block_on(rt, greedy, &g, sizeof g), 0);
        cr_assert_eq(atomic_load(&stop), 1);
        cr_assert_eq(task_join_blocking(hd), 0);
        task_handle_release(hs);
        task_handle_release(hd);
        test_rt_free(rt);
}

/* With opts.budget = B, every poll that runs out of budget does exactly B. */
Test(budget, budget_knob_sets_ready_polls_per_poll, .timeout = 10)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        atomic_int stop = 0, started = 0;
        task_handle *hd, *hg, *hs;
        struct greedy g = {.stop = &stop, .started = &started, .budget = 10};
        struct set_flag s = {.flag = &stop};

        task_runtime_opts_init(&o);
        o.workers = 1;
        o.budget = 10;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        hd = finished_handle(rt);
        cr_assert_eq(task_join_blocking(hd), 0);
        g.h = hd;
        cr_assert_eq(TASK_SPAWN(rt, greedy, &g, &hg), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&started), 5000));
        sleep_ms(5);
        cr_assert_eq(TASK_SPAWN(rt, set_flag, &s, &hs), 0);
        cr_assert_eq(task_join_blocking(hg), 0);
        {
                struct greedy *r = task_handle_frame(hg);
                cr_assert_eq(r->max_per_poll, 10,
                             "max ready joins per poll %ld, budget 10",
                             r->max_per_poll);
                cr_assert_eq(
                    r->full_polls_wrong, 0,
                    "%ld polls ended without spending the budget of 10",
                    r->full_polls_wrong);
                cr_assert_gt(r->polls, 2);
        }
        task_handle_release(hg);
        task_handle_release(hs);
        task_handle_release(hd);
        test_rt_free(rt);
}

/* task_coop_proceed: a hand-written always-ready resource. */
struct coop_spin {
        TASK_FRAME;
        atomic_int *stop;
        atomic_int *started;
        long proceeds;
};

static bool always_ready(struct task_cx *cx, struct coop_spin *f)
{
        if (!task_coop_proceed(cx))
                return false; /* budget spent: the task yields */
        f->proceeds++;
        return true;
}

static int coop_spin(struct task_cx *cx, void *arg)
{
        struct coop_spin *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->started, 1);
        while (!atomic_load(f->stop))
                TASK_AWAIT(f, always_ready(cx, f));
        TASK_END(f);
}

Test(budget, coop_proceed_yields_when_spent, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        atomic_int stop = 0, started = 0;
        struct coop_spin c = {.stop = &stop, .started = &started};
        struct set_flag s = {.flag = &stop};
        task_handle *hc, *hs;

        cr_assert_eq(TASK_SPAWN(rt, coop_spin, &c, &hc), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&started), 5000));
        cr_assert_eq(TASK_SPAWN(rt, set_flag, &s, &hs), 0);
        cr_assert_eq(task_join_blocking(hc), 0);
        cr_assert_gt(((struct coop_spin *)task_handle_frame(hc))->proceeds, 0);
        task_handle_release(hc);
        task_handle_release(hs);
        test_rt_free(rt);
}

/* The budget is per poll: it is refilled, so a long ready loop finishes. */
struct count_ready {
        TASK_FRAME;
        task_handle *h;
        int rc;
        long i, n;
};

static int count_ready(struct task_cx *cx, void *arg)
{
        struct count_ready *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++)
                TASK_JOIN(f, f->h, &f->rc);
        TASK_END(f);
}

Test(budget, budget_refills_every_poll, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_handle *hd = finished_handle(rt);
        struct count_ready c = {.n = 100000};

        cr_assert_eq(task_join_blocking(hd), 0);
        c.h = hd;
        cr_assert_eq(task_block_on(rt, count_ready, &c, sizeof c), 0);
        cr_assert_eq(c.i, 100000);
        cr_assert_eq(c.rc, 0);
        task_handle_release(hd);
        test_rt_free(rt);
}
