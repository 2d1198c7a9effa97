/*
 * test_yield.c - TASK_YIELD: a yielding task is polled again, goes to the
 * back of the run queue so that other ready tasks run before it resumes,
 * lets tasks from the global queue in, and many yielding tasks all finish.
 */
#include "helpers.h"

struct yielder {
        TASK_FRAME;
        int n, i;
        int polls;
};

static int yielder(struct task_cx *cx, void *arg)
{
        struct yielder *f = arg;
        f->polls++;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++)
                TASK_YIELD(f);
        TASK_END(f);
}

Test(yield, yielding_task_is_polled_again, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct yielder f = {.n = 1000};

        cr_assert_eq(task_block_on(rt, yielder, &f, sizeof f), 0);
        cr_assert_eq(f.i, 1000);
        cr_assert_eq(f.polls, 1001, "polls=%d", f.polls);
        test_rt_free(rt);
}

/* ---- Two yielding tasks on one worker alternate ----------------------------- */

#define LOG_MAX 4096

struct alog {
        atomic_int len;
        char ev[LOG_MAX];
};

struct pingy {
        TASK_FRAME;
        struct alog *log;
        char name;
        int n, i;
};

static int pingy(struct task_cx *cx, void *arg)
{
        struct pingy *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                int at = atomic_fetch_add(&f->log->len, 1);
                if (at < LOG_MAX)
                        f->log->ev[at] = f->name;
                TASK_YIELD(f);
        }
        TASK_END(f);
}

struct two {
        TASK_FRAME;
        struct alog *log;
        task_handle *a, *b;
        int rc;
};

static int two(struct task_cx *cx, void *arg)
{
        struct two *f = arg;
        TASK_BEGIN(f);
        {
                struct pingy pa = {.log = f->log, .name = 'A', .n = 200};
                struct pingy pb = {.log = f->log, .name = 'B', .n = 200};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), pingy, &pa, &f->a) == 0);
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), pingy, &pb, &f->b) == 0);
        }
        TASK_JOIN(f, f->a, &f->rc);
        TASK_JOIN(f, f->b, &f->rc);
        task_handle_release(f->a);
        task_handle_release(f->b);
        TASK_END(f);
}

/*
 * Once both are running, a yield by one must let the other (ready) one run
 * before the yielder resumes: no two consecutive entries from one task
 * until one of them has finished.
 */
static void check_alternation(struct alog *log, enum task_flavor flavor)
{
        int n = atomic_load(&log->len);
        int first_a = -1, first_b = -1, last_a = -1, last_b = -1;

        cr_assert_eq(n, 400);
        for (int i = 0; i < n; i++) {
                if (log->ev[i] == 'A') {
                        if (first_a < 0)
                                first_a = i;
                        last_a = i;
                } else {
                        if (first_b < 0)
                                first_b = i;
                        last_b = i;
                }
        }
        {
                int start = first_a > first_b ? first_a : first_b;
                int end = last_a < last_b ? last_a : last_b;
                for (int i = start + 1; i <= end; i++)
                        cr_assert_neq(
                            log->ev[i], log->ev[i - 1],
                            "%s: task %c ran twice in a row at %d while the "
                            "other was ready: %.*s",
                            flavor == TASK_CURRENT_THREAD ? "current-thread"
                                                          : "1 worker",
                            log->ev[i], i, n < 80 ? n : 80, log->ev);
        }
}

Test(yield, two_yielders_alternate_on_one_worker, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct alog log = {0};
        struct two f = {.log = &log};

        cr_assert_eq(task_block_on(rt, two, &f, sizeof f), 0);
        tcheck_assert_none();
        check_alternation(&log, TASK_MULTI_THREAD);
        test_rt_free(rt);
}

Test(yield, two_yielders_alternate_on_current_thread, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct alog log = {0};
        struct two f = {.log = &log};

        cr_assert_eq(task_block_on(rt, two, &f, sizeof f), 0);
        tcheck_assert_none();
        check_alternation(&log, TASK_CURRENT_THREAD);
        test_rt_free(rt);
}

/* ---- A yield loop lets a task from the global queue in --------------------- */

struct wait_flag {
        TASK_FRAME;
        atomic_int *flag;
        atomic_int *started;
        long spins;
};

static int wait_flag(struct task_cx *cx, void *arg)
{
        struct wait_flag *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->started, 1);
        while (!atomic_load(f->flag)) {
                f->spins++;
                TASK_YIELD(f);
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

Test(yield, yield_loop_lets_remote_spawn_run, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        atomic_int flag = 0, started = 0;
        struct wait_flag w = {.flag = &flag, .started = &started};
        struct set_flag s = {.flag = &flag};
        task_handle *hw, *hs;

        cr_assert_eq(TASK_SPAWN(rt, wait_flag, &w, &hw), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&started), 5000));
        /* The only worker is busy yielding; this goes to the global queue. */
        cr_assert_eq(TASK_SPAWN(rt, set_flag, &s, &hs), 0);
        cr_assert_eq(task_join_blocking(hw), 0,
                     "the yielding task never saw the flag");
        cr_assert_eq(task_join_blocking(hs), 0);
        task_handle_release(hw);
        task_handle_release(hs);
        test_rt_free(rt);
}

Test(yield, yield_loop_lets_remote_spawn_run_current_thread, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int flag = 0, started = 0;
        struct wait_flag w = {.flag = &flag, .started = &started};
        struct set_flag s = {.flag = &flag};
        task_handle *hs;

        cr_assert_eq(TASK_SPAWN(rt, set_flag, &s, &hs), 0);
        cr_assert_eq(task_block_on(rt, wait_flag, &w, sizeof w), 0);
        cr_assert_eq(atomic_load(&flag), 1);
        cr_assert_eq(task_join_blocking(hs), 0);
        task_handle_release(hs);
        test_rt_free(rt);
}

/* ---- Many yielding tasks (Tokio's yield_many) ------------------------------ */

struct ycount {
        TASK_FRAME;
        int n, i;
        atomic_long *total;
};

static int ycount(struct task_cx *cx, void *arg)
{
        struct ycount *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                atomic_fetch_add_explicit(f->total, 1, memory_order_relaxed);
                TASK_YIELD(f);
        }
        TASK_END(f);
}

Test(yield, many_tasks_many_yields, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        int tasks = 200, yields = (int)test_scaled(1000, 50);
        atomic_long total = 0;
        task_handle *hs[200];

        for (int i = 0; i < tasks; i++) {
                struct ycount f = {.n = yields, .total = &total};
                cr_assert_eq(TASK_SPAWN(rt, ycount, &f, &hs[i]), 0);
        }
        for (int i = 0; i < tasks; i++) {
                cr_assert_eq(task_join_blocking(hs[i]), 0);
                task_handle_release(hs[i]);
        }
        cr_assert_eq(atomic_load(&total), (long)tasks * yields);
        test_rt_free(rt);
}

/* ---- Abort while yielding ----------------------------------------------------- */

struct endless {
        TASK_FRAME;
        atomic_int *started, *cleanup;
};

static int endless(struct task_cx *cx, void *arg)
{
        struct endless *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->started, 1);
        for (;;)
                TASK_YIELD(f);
        TASK_CLEANUP(f);
        atomic_fetch_add(f->cleanup, 1);
        TASK_END(f);
}

Test(yield, endless_yielder_can_be_aborted, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int started = 0, cleanup = 0;
        struct endless f = {.started = &started, .cleanup = &cleanup};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, endless, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&started), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(atomic_load(&cleanup), 1);
        task_handle_release(h);
        test_rt_free(rt);
}
