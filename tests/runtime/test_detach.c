/*
 * test_detach.c - detached tasks: spawned with a NULL @out or whose handle
 * was released.  They run to completion, their memory is freed once they
 * end (the dump no longer reports them), and a runtime with detached tasks
 * still pending frees cleanly, cancelling them.
 */
#include "helpers.h"

struct flagger {
        TASK_FRAME;
        struct gate *g; /* NULL: finish at once */
        atomic_int *done, *cleanup;
};

static int flagger(struct task_cx *cx, void *arg)
{
        struct flagger *f = arg;
        TASK_BEGIN(f);
        if (f->g)
                TASK_AWAIT(f, gate_poll(cx, f->g));
        atomic_fetch_add(f->done, 1);
        TASK_CLEANUP(f);
        if (f->cleanup)
                atomic_fetch_add(f->cleanup, 1);
        TASK_END(f);
}

static int count_cb(const struct task_info *ti, void *arg)
{
        (void)ti;
        (*(int *)arg)++;
        return 0;
}

static int live_tasks(task_runtime *rt)
{
        int n = 0;
        int rc = task_runtime_dump(rt, count_cb, &n);
        cr_assert_geq(rc, 0);
        cr_assert_eq(rc, n);
        return n;
}

Test(detach, spawn_without_handle_runs_and_is_freed, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int done = 0;
        struct flagger f = {.done = &done};

        for (int i = 0; i < 100; i++)
                cr_assert_eq(TASK_SPAWN(rt, flagger, &f, NULL), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&done) == 100, 5000));
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        cr_assert(WAIT_UNTIL(live_tasks(rt) == 0, 5000),
                  "detached tasks that ended are still reported by the dump");
        test_rt_free(rt);
}

Test(detach, released_handle_task_runs_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        atomic_int done = 0;
        struct flagger f = {.done = &done};
        task_handle *h;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, flagger, &f, &h), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        task_handle_release(h);
        cr_assert_eq(live_tasks(rt), 1,
                     "released an idle task's handle: it must stay alive");
        gate_open(&g);
        cr_assert(WAIT_UNTIL(atomic_load(&done) == 1, 5000));
        cr_assert(WAIT_UNTIL(live_tasks(rt) == 0, 5000));
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(detach, release_after_end_frees_the_task, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int done = 0;
        struct flagger f = {.done = &done};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, flagger, &f, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        /* Ended but referenced: the frame is still readable. */
        cr_assert_eq(((struct flagger *)task_handle_frame(h))->done, &done);
        cr_assert_eq(test_tasks_alive(rt), 0);
        task_handle_release(h);
        cr_assert(WAIT_UNTIL(live_tasks(rt) == 0, 5000));
        test_rt_free(rt);
}

Test(detach, free_cancels_pending_detached_tasks, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        atomic_int done = 0, cleanup = 0;
        struct flagger f = {.done = &done, .cleanup = &cleanup};

        gate_init(&g);
        f.g = &g;
        for (int i = 0; i < 50; i++)
                cr_assert_eq(TASK_SPAWN(rt, flagger, &f, NULL), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&g.polls) >= 50, 5000));
        /* The gate only remembers the last waiter; drop it so that no
         * waker is held and free can succeed. */
        gate_forget(&g);
        test_rt_free(rt);
        cr_assert_eq(atomic_load(&done), 0);
        cr_assert_eq(atomic_load(&cleanup), 50, "cleanups: %d",
                     atomic_load(&cleanup));
        gate_destroy(&g);
}

/* ---- A tree of detached spawners ------------------------------------------ */

struct tree {
        TASK_FRAME;
        int depth, fan;
        atomic_long *leaves;
};

static int tree(struct task_cx *cx, void *arg)
{
        struct tree *f = arg;
        TASK_BEGIN(f);
        if (f->depth == 0) {
                atomic_fetch_add(f->leaves, 1);
        } else {
                for (int i = 0; i < f->fan; i++) {
                        struct tree c = {.depth = f->depth - 1,
                                         .fan = f->fan,
                                         .leaves = f->leaves};
                        TCHECK(TASK_SPAWN(task_cx_runtime(cx), tree, &c,
                                          NULL) == 0);
                }
        }
        TASK_END(f);
}

Test(detach, detached_tree_completes, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_long leaves = 0;
        struct tree f = {.depth = 4, .fan = 8, .leaves = &leaves};

        cr_assert_eq(TASK_SPAWN(rt, tree, &f, NULL), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&leaves) == 8 * 8 * 8 * 8, 10000),
                  "leaves: %ld", atomic_load(&leaves));
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        tcheck_assert_none();
        test_rt_free(rt);
}

/* ---- Releasing a child's handle from inside a task ------------------------- */

struct releaser {
        TASK_FRAME;
        struct gate *g;
        atomic_int *done;
};

static int releaser(struct task_cx *cx, void *arg)
{
        struct releaser *f = arg;
        TASK_BEGIN(f);
        {
                struct flagger c = {.g = f->g, .done = f->done};
                task_handle *h = NULL;
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), flagger, &c, &h) == 0);
                task_handle_release(h);
        }
        TASK_END(f);
}

Test(detach, release_from_inside_a_task, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        atomic_int done = 0;
        struct releaser f = {.done = &done};

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(task_block_on(rt, releaser, &f, sizeof f), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        gate_open(&g);
        cr_assert(WAIT_UNTIL(atomic_load(&done) == 1, 5000));
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        tcheck_assert_none();
        gate_destroy(&g);
        test_rt_free(rt);
}
