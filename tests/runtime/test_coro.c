/*
 * test_coro.c - the coroutine macros of coro.h.
 *
 * Two halves.  The first drives poll functions by hand with a task_cx built
 * on the stack, which pins the macros' own semantics (resume points, loops
 * and ifs around awaits, TASK_RETURN, TASK_CLEANUP, cancelling polls, nested
 * TASK_AWAIT_CO, the recorded suspension site) without any scheduler.  The
 * second runs the same kind of coroutines as real tasks to check that the
 * runtime drives them the same way (abort while nested, abort before the
 * first poll).
 */
#include "helpers.h"

/* ---- A trace of what ran, in order --------------------------------------- */

static char trace[1024];

static void tr(const char *s)
{
        if (trace[0])
                strncat(trace, ",", sizeof trace - strlen(trace) - 1);
        strncat(trace, s, sizeof trace - strlen(trace) - 1);
}

/* One poll of @fn on @frame, by hand. */
static int poll_once(task_fn fn, void *frame, bool cancelling,
                     struct task_cx *out)
{
        struct task_cx cx;
        int r;

        memset(&cx, 0, sizeof cx);
        cx.budget = 128;
        cx.cancelling = cancelling;
        r = fn(&cx, frame);
        if (out)
                *out = cx;
        return r;
}

/* Poll until done (at most @max polls); returns the number of polls. */
static int poll_to_end(task_fn fn, void *frame, int max)
{
        for (int n = 1; n <= max; n++)
                if (poll_once(fn, frame, false, NULL) == TASK_DONE)
                        return n;
        return -1;
}

/* ---- Loops around yields ------------------------------------------------- */

struct counter {
        TASK_FRAME;
        int i, n;
        int body_runs;
};

static int counter(struct task_cx *cx, void *arg)
{
        struct counter *f = arg;
        TASK_BEGIN(f);
        f->body_runs++;
        for (f->i = 0; f->i < f->n; f->i++)
                TASK_YIELD(f);
        TASK_END(f);
}

Test(coro, yield_loop_suspends_once_per_iteration)
{
        struct counter f = {.n = 5};
        struct task_cx cx;

        for (int k = 0; k < 5; k++) {
                cr_assert_eq(poll_once(counter, &f, false, &cx), TASK_PENDING,
                             "poll %d should suspend", k);
                cr_assert_eq(cx.yielded, 1, "TASK_YIELD must set cx->yielded");
                cr_assert_eq(f.i, k);
        }
        cr_assert_eq(poll_once(counter, &f, false, &cx), TASK_DONE);
        cr_assert_eq(f.body_runs, 1, "code before the loop ran %d times",
                     f.body_runs);
        cr_assert_eq(f.co.lc, TASK__LC_DONE);
}

Test(coro, zero_iterations_finish_on_first_poll)
{
        struct counter f = {.n = 0};
        struct task_cx cx;

        cr_assert_eq(poll_once(counter, &f, false, &cx), TASK_DONE);
        cr_assert_eq(cx.yielded, 0);
        cr_assert_eq(f.body_runs, 1);
}

/* ---- TASK_AWAIT re-evaluates its condition ------------------------------- */

struct awaiter {
        TASK_FRAME;
        int evals, ready_at;
        int after;
        int line;
        int cancel_evals;
};

static bool awaiter_cond(struct task_cx *cx, struct awaiter *f)
{
        if (cx->cancelling) {
                f->cancel_evals++;
                return false;
        }
        return ++f->evals >= f->ready_at;
}

static int awaiter(struct task_cx *cx, void *arg)
{
        struct awaiter *f = arg;
        TASK_BEGIN(f);
        f->line = __LINE__ + 1; /* the suspension point's line */
        TASK_AWAIT(f, awaiter_cond(cx, f));
        f->after++;
        TASK_END(f);
}

Test(coro, await_evaluates_condition_on_every_poll)
{
        struct awaiter f = {.ready_at = 4};
        struct task_cx cx;

        for (int k = 1; k <= 3; k++) {
                cr_assert_eq(poll_once(awaiter, &f, false, &cx), TASK_PENDING);
                cr_assert_eq(f.evals, k);
                cr_assert_eq(f.after, 0);
                cr_assert_eq(cx.yielded, 0, "a plain await is not a yield");
        }
        cr_assert_eq(poll_once(awaiter, &f, false, &cx), TASK_DONE);
        cr_assert_eq(f.evals, 4);
        cr_assert_eq(f.after, 1);
}

Test(coro, await_ready_at_once_does_not_suspend)
{
        struct awaiter f = {.ready_at = 1};

        cr_assert_eq(poll_once(awaiter, &f, false, NULL), TASK_DONE);
        cr_assert_eq(f.evals, 1);
        cr_assert_eq(f.after, 1);
}

Test(coro, suspension_records_site)
{
        struct awaiter f = {.ready_at = 100};
        struct task_cx cx;

        cr_assert_eq(poll_once(awaiter, &f, false, &cx), TASK_PENDING);
        cr_assert_not_null(cx.site);
        cr_assert_eq(cx.site->line, f.line);
        cr_assert_str_eq(cx.site->file, __FILE__);
        cr_assert_str_eq(cx.site->name, "awaiter");
}

Test(coro, cancelling_poll_gives_condition_one_last_look)
{
        struct awaiter f = {.ready_at = 100};

        cr_assert_eq(poll_once(awaiter, &f, false, NULL), TASK_PENDING);
        cr_assert_eq(poll_once(awaiter, &f, true, NULL), TASK_DONE);
        cr_assert_eq(f.evals, 1, "a normal evaluation on the cancelling poll");
        cr_assert_eq(f.cancel_evals, 1,
                     "the resource must see the abort exactly once");
        cr_assert_eq(f.after, 0);
}

Test(coro, cancel_before_first_poll_evaluates_nothing)
{
        struct awaiter f = {.ready_at = 100};

        cr_assert_eq(poll_once(awaiter, &f, true, NULL), TASK_DONE);
        cr_assert_eq(f.evals + f.cancel_evals, 0);
}

/* ---- Branches and nested loops around suspension points ------------------ */

struct branchy {
        TASK_FRAME;
        int mode;
        int i, j;
        int gate;
        int out;
};

static int branchy(struct task_cx *cx, void *arg)
{
        struct branchy *f = arg;
        TASK_BEGIN(f);
        if (f->mode == 0) {
                TASK_YIELD(f);
                f->out += 1;
        } else if (f->mode == 1) {
                for (f->i = 0; f->i < 3; f->i++) {
                        for (f->j = 0; f->j < 2; f->j++) {
                                if ((f->i + f->j) % 2)
                                        TASK_YIELD(f);
                                else
                                        TASK_AWAIT(f, f->gate-- <= 0);
                                f->out += 10;
                        }
                }
        } else {
                do {
                        TASK_YIELD(f);
                        f->out += 100;
                } while (f->out < 500);
                while (f->out < 800) {
                        f->out += 100;
                        TASK_YIELD(f);
                }
        }
        f->out += 1000;
        TASK_END(f);
}

Test(coro, if_branch_resumes_in_the_right_arm)
{
        struct branchy f = {.mode = 0};

        cr_assert_eq(poll_to_end(branchy, &f, 10), 2);
        cr_assert_eq(f.out, 1001);
}

Test(coro, nested_loops_with_mixed_awaits)
{
        struct branchy f = {.mode = 1, .gate = 2};
        int polls = poll_to_end(branchy, &f, 100);

        /*
         * Six inner iterations: three yields (odd i+j) and three awaits, the
         * first of which fails twice (gate 2 -> 1 -> 0 -> -1 ready).
         */
        cr_assert_eq(polls, 1 + 3 + 2, "polls=%d", polls);
        cr_assert_eq(f.out, 6 * 10 + 1000);
        cr_assert_eq(f.i, 3);
}

Test(coro, do_while_and_while_loops)
{
        struct branchy f = {.mode = 2};
        int polls = poll_to_end(branchy, &f, 100);

        /* do-while: 5 yields to reach 500; while: 3 more yields to reach 800. */
        cr_assert_eq(polls, 1 + 5 + 3, "polls=%d", polls);
        cr_assert_eq(f.out, 1800);
}

/* ---- TASK_CLEANUP and TASK_RETURN ---------------------------------------- */

struct cleaned {
        TASK_FRAME;
        int early;     /* TASK_RETURN after the first yield */
        int early_now; /* TASK_RETURN before any suspension */
        int init;      /* set by the "spawner" */
        int seen_init; /* what the cleanup saw */
        int body, after, cleanup;
};

static int cleaned(struct task_cx *cx, void *arg)
{
        struct cleaned *f = arg;
        TASK_BEGIN(f);
        tr("body");
        f->body++;
        if (f->early_now)
                TASK_RETURN(f);
        TASK_YIELD(f);
        if (f->early)
                TASK_RETURN(f);
        tr("after");
        f->after++;
        TASK_CLEANUP(f);
        tr("cleanup");
        f->seen_init = f->init;
        f->cleanup++;
        TASK_END(f);
}

Test(coro, cleanup_runs_on_normal_end)
{
        struct cleaned f = {0};

        cr_assert_eq(poll_to_end(cleaned, &f, 10), 2);
        cr_assert_str_eq(trace, "body,after,cleanup");
        cr_assert_eq(f.cleanup, 1);
        cr_assert_eq(f.co.lc, TASK__LC_DONE);
}

Test(coro, task_return_runs_cleanup_and_skips_rest)
{
        struct cleaned f = {.early = 1};

        cr_assert_eq(poll_to_end(cleaned, &f, 10), 2);
        cr_assert_str_eq(trace, "body,cleanup");
        cr_assert_eq(f.after, 0);
        cr_assert_eq(f.cleanup, 1);
}

Test(coro, task_return_before_first_suspension)
{
        struct cleaned f = {.early_now = 1};
        struct task_cx cx;

        cr_assert_eq(poll_once(cleaned, &f, false, &cx), TASK_DONE);
        cr_assert_str_eq(trace, "body,cleanup");
        cr_assert_eq(cx.yielded, 0);
}

Test(coro, abort_at_suspension_runs_cleanup_only)
{
        struct cleaned f = {0};

        cr_assert_eq(poll_once(cleaned, &f, false, NULL), TASK_PENDING);
        cr_assert_eq(poll_once(cleaned, &f, true, NULL), TASK_DONE);
        cr_assert_str_eq(trace, "body,cleanup");
        cr_assert_eq(f.cleanup, 1);
        cr_assert_eq(f.co.lc, TASK__LC_DONE);
}

Test(coro, abort_before_first_poll_runs_only_cleanup)
{
        struct cleaned f = {.init = 42};

        cr_assert_eq(poll_once(cleaned, &f, true, NULL), TASK_DONE);
        cr_assert_str_eq(trace, "cleanup");
        cr_assert_eq(f.body, 0);
        cr_assert_eq(f.seen_init, 42, "cleanup saw the spawner's frame");
}

struct no_cleanup {
        TASK_FRAME;
        int early, body, after;
};

static int no_cleanup(struct task_cx *cx, void *arg)
{
        struct no_cleanup *f = arg;
        TASK_BEGIN(f);
        f->body++;
        TASK_YIELD(f);
        if (f->early)
                TASK_RETURN(f);
        f->after++;
        TASK_END(f);
}

Test(coro, return_and_abort_without_cleanup_section)
{
        struct no_cleanup a = {.early = 1}, b = {0}, c = {0};

        cr_assert_eq(poll_to_end(no_cleanup, &a, 10), 2);
        cr_assert_eq(a.after, 0);
        cr_assert_eq(a.co.lc, TASK__LC_DONE);

        cr_assert_eq(poll_once(no_cleanup, &b, false, NULL), TASK_PENDING);
        cr_assert_eq(poll_once(no_cleanup, &b, true, NULL), TASK_DONE);
        cr_assert_eq(b.after, 0);

        cr_assert_eq(poll_once(no_cleanup, &c, true, NULL), TASK_DONE);
        cr_assert_eq(c.body, 0);
}

/* ---- Nested sub-coroutines ----------------------------------------------- */

struct inner {
        TASK_FRAME;
        int in;  /* input */
        int out; /* output */
        int i;
        int ret_early;  /* TASK_RETURN after the first yield */
        struct gate *g; /* when set, await it instead of yielding */
        int line;
};

static int inner(struct task_cx *cx, void *arg)
{
        struct inner *f = arg;
        TASK_BEGIN(f);
        tr("inner");
        f->out = 0;
        for (f->i = 1; f->i <= f->in; f->i++) {
                f->out += f->i;
                if (f->g) {
                        f->line = __LINE__ + 1;
                        TASK_AWAIT(f, gate_poll(cx, f->g));
                } else {
                        TASK_YIELD(f);
                }
                if (f->ret_early)
                        TASK_RETURN(f);
        }
        tr("inner-done");
        TASK_CLEANUP(f);
        tr("inner-cleanup");
        TASK_END(f);
}

struct mid {
        TASK_FRAME;
        struct inner sub; /* embedded in the caller's frame */
        int in, out;
};

static int mid(struct task_cx *cx, void *arg)
{
        struct mid *f = arg;
        TASK_BEGIN(f);
        tr("mid");
        f->sub.in = f->in;
        TASK_AWAIT_CO(f, inner, &f->sub);
        f->out = f->sub.out * 2;
        tr("mid-done");
        TASK_CLEANUP(f);
        tr("mid-cleanup");
        TASK_END(f);
}

struct outer {
        TASK_FRAME;
        struct mid sub;
        int in, out;
        int rounds, r;
        int results[4];
        struct gate *g;
};

static int outer(struct task_cx *cx, void *arg)
{
        struct outer *f = arg;
        TASK_BEGIN(f);
        tr("outer");
        for (f->r = 0; f->r < f->rounds; f->r++) {
                f->sub.in = f->in + f->r;
                f->sub.sub.g = f->g;
                TASK_AWAIT_CO(f, mid, &f->sub);
                f->results[f->r] = f->sub.out;
        }
        tr("outer-done");
        TASK_YIELD(f);
        tr("outer-after-yield");
        TASK_CLEANUP(f);
        tr("outer-cleanup");
        TASK_END(f);
}

Test(coro, nested_subcoroutines_return_results)
{
        struct outer f = {.in = 3, .rounds = 1};
        int polls = poll_to_end(outer, &f, 100);

        /* inner yields 3 times, outer once more. */
        cr_assert_eq(polls, 1 + 3 + 1, "polls=%d", polls);
        cr_assert_eq(f.results[0], (1 + 2 + 3) * 2);
        cr_assert_str_eq(
            trace, "outer,mid,inner,inner-done,inner-cleanup,mid-done,"
                   "mid-cleanup,outer-done,outer-after-yield,outer-cleanup");
}

Test(coro, subcoroutine_reused_in_a_loop_restarts_each_time)
{
        struct outer f = {.in = 1, .rounds = 3};
        int polls = poll_to_end(outer, &f, 100);

        /* inner yields in = 1, 2, 3 times, then outer once more. */
        cr_assert_eq(polls, 1 + 1 + 2 + 3 + 1, "polls=%d", polls);
        cr_assert_eq(f.results[0], 1 * 2);
        cr_assert_eq(f.results[1], 3 * 2);
        cr_assert_eq(f.results[2], 6 * 2);
}

Test(coro, subcoroutine_suspension_records_its_own_site)
{
        struct outer f = {.in = 2, .rounds = 1};
        struct task_cx cx;

        /* inner suspends at its TASK_YIELD: the site names inner, not outer. */
        cr_assert_eq(poll_once(outer, &f, false, &cx), TASK_PENDING);
        cr_assert_not_null(cx.site);
        cr_assert_str_eq(cx.site->name, "inner");
        cr_assert_str_eq(cx.site->file, __FILE__);
}

Test(coro, abort_in_nested_runs_cleanups_innermost_first)
{
        struct outer f = {.in = 3, .rounds = 1};

        cr_assert_eq(poll_once(outer, &f, false, NULL), TASK_PENDING);
        cr_assert_eq(poll_once(outer, &f, false, NULL), TASK_PENDING);
        cr_assert_eq(poll_once(outer, &f, true, NULL), TASK_DONE);
        cr_assert_str_eq(
            trace, "outer,mid,inner,inner-cleanup,mid-cleanup,outer-cleanup");
        cr_assert_eq(f.results[0], 0);
}

Test(coro, abort_after_sub_finished_runs_its_cleanup_once)
{
        struct outer f = {.in = 1, .rounds = 1};

        /* Poll 1: inner yields; poll 2: inner ends, outer yields. */
        cr_assert_eq(poll_once(outer, &f, false, NULL), TASK_PENDING);
        cr_assert_eq(poll_once(outer, &f, false, NULL), TASK_PENDING);
        cr_assert_eq(poll_once(outer, &f, true, NULL), TASK_DONE);
        cr_assert_str_eq(trace,
                         "outer,mid,inner,inner-done,inner-cleanup,mid-done,"
                         "mid-cleanup,outer-done,outer-cleanup");
}

Test(coro, abort_before_first_poll_skips_subcoroutines)
{
        struct outer f = {.in = 3, .rounds = 1};

        cr_assert_eq(poll_once(outer, &f, true, NULL), TASK_DONE);
        cr_assert_str_eq(trace, "outer-cleanup");
}

struct ret_parent {
        TASK_FRAME;
        struct inner sub;
        int after;
};

static int ret_parent(struct task_cx *cx, void *arg)
{
        struct ret_parent *f = arg;
        TASK_BEGIN(f);
        f->sub.in = 5;
        f->sub.ret_early = 1;
        TASK_AWAIT_CO(f, inner, &f->sub);
        tr("parent-after");
        f->after = 1;
        TASK_CLEANUP(f);
        tr("parent-cleanup");
        TASK_END(f);
}

Test(coro, task_return_in_sub_does_not_cancel_parent)
{
        struct ret_parent f = {0};

        cr_assert_eq(poll_to_end(ret_parent, &f, 10), 2);
        cr_assert_eq(f.after, 1);
        cr_assert_eq(f.sub.out, 1);
        cr_assert_str_eq(trace,
                         "inner,inner-cleanup,parent-after,parent-cleanup");
}

/* ---- The same coroutines as real tasks ------------------------------------ */

struct rt_outer {
        TASK_FRAME;
        struct outer o;
        atomic_int *started;
};

static int rt_outer(struct task_cx *cx, void *arg)
{
        struct rt_outer *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->started, 1);
        TASK_AWAIT_CO(f, outer, &f->o);
        TASK_END(f);
}

Test(coro, runtime_abort_in_nested_runs_cleanups_innermost_first, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        atomic_int started = 0;
        struct rt_outer f = {.o = {.in = 3, .rounds = 1}, .started = &started};
        task_handle *h = NULL;
        int rc;

        gate_init(&g);
        f.o.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, rt_outer, &f, &h), 0);
        /* Suspended inside inner, on the gate. */
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000),
                  "the task never reached the gate");
        task_abort(h);
        rc = task_join_blocking(h);
        cr_assert_eq(rc, -ECANCELED, "join: %d", rc);
        cr_assert_str_eq(
            trace, "outer,mid,inner,inner-cleanup,mid-cleanup,outer-cleanup");
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(coro, runtime_nested_completes_and_frame_is_readable, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        atomic_int started = 0;
        struct rt_outer f = {.o = {.in = 2, .rounds = 1}, .started = &started};
        task_handle *h = NULL;
        struct rt_outer *res;

        gate_init(&g);
        f.o.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, rt_outer, &f, &h), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        cr_assert_not(task_handle_finished(h));
        /* The gate stays open: both inner iterations pass it. */
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h), 0);
        res = task_handle_frame(h);
        cr_assert_not_null(res);
        cr_assert_eq(res->o.results[0], (1 + 2) * 2);
        cr_assert_str_eq(
            trace, "outer,mid,inner,inner-done,inner-cleanup,mid-done,"
                   "mid-cleanup,outer-done,outer-after-yield,outer-cleanup");
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

struct rt_main_abort_early {
        TASK_FRAME;
        task_handle *h;
        int rc;
};

static int rt_main_abort_early(struct task_cx *cx, void *arg)
{
        struct rt_main_abort_early *f = arg;
        TASK_BEGIN(f);
        TASK_JOIN(f, f->h, &f->rc);
        TASK_END(f);
}

Test(coro, runtime_abort_before_first_poll_runs_only_cleanup, .timeout = 20)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int started = 0;
        struct rt_outer f = {.o = {.in = 3, .rounds = 1}, .started = &started};
        struct rt_main_abort_early m = {.rc = 1};
        task_handle *h = NULL;
        int rc;

        /* On a current-thread runtime nothing runs before block_on. */
        cr_assert_eq(TASK_SPAWN(rt, rt_outer, &f, &h), 0);
        task_abort(h);
        m.h = h;
        rc = task_block_on(rt, rt_main_abort_early, &m, sizeof m);
        cr_assert_eq(rc, 0, "block_on: %d", rc);
        cr_assert_eq(m.rc, -ECANCELED);
        cr_assert_eq(atomic_load(&started), 0, "the body ran");
        /* rt_outer has no cleanup; the outer coroutine's never ran either. */
        cr_assert_str_eq(trace, "");
        task_handle_release(h);
        test_rt_free(rt);
}

struct rt_cleaned {
        TASK_FRAME;
        int init;
        atomic_int *body, *cleanup, *seen_init;
};

static int rt_cleaned(struct task_cx *cx, void *arg)
{
        struct rt_cleaned *f = arg;
        TASK_BEGIN(f);
        atomic_fetch_add(f->body, 1);
        TASK_YIELD(f);
        TASK_CLEANUP(f);
        atomic_fetch_add(f->cleanup, 1);
        atomic_store(f->seen_init, f->init);
        TASK_END(f);
}

Test(coro, runtime_abort_before_first_poll_cleanup_sees_spawner_frame,
     .timeout = 20)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int body = 0, cleanup = 0, seen = 0;
        struct rt_cleaned f = {
            .init = 7, .body = &body, .cleanup = &cleanup, .seen_init = &seen};
        struct rt_main_abort_early m = {.rc = 1};
        task_handle *h = NULL;

        cr_assert_eq(TASK_SPAWN(rt, rt_cleaned, &f, &h), 0);
        task_abort(h);
        m.h = h;
        cr_assert_eq(task_block_on(rt, rt_main_abort_early, &m, sizeof m), 0);
        cr_assert_eq(m.rc, -ECANCELED);
        cr_assert_eq(atomic_load(&body), 0);
        cr_assert_eq(atomic_load(&cleanup), 1);
        cr_assert_eq(atomic_load(&seen), 7);
        task_handle_release(h);
        test_rt_free(rt);
}
