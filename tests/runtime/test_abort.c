/*
 * test_abort.c - task_abort: on an idle task (cleanup runs at once), before
 * the first poll (only the cleanup runs), on a running task (cancelled at its
 * next suspension), on a finished task (nothing happens), twice, from a task,
 * on itself, and with a cleanup that wrongly suspends.
 */
#include "helpers.h"

struct victim {
        TASK_FRAME;
        struct gate *g;
        atomic_int *body, *after, *cleanup;
        int mark;
};

static int victim(struct task_cx *cx, void *arg)
{
        struct victim *f = arg;
        TASK_BEGIN(f);
        atomic_fetch_add(f->body, 1);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        atomic_fetch_add(f->after, 1);
        TASK_CLEANUP(f);
        f->mark = 1;
        atomic_fetch_add(f->cleanup, 1);
        TASK_END(f);
}

struct counts {
        atomic_int body, after, cleanup;
};

static struct victim victim_frame(struct gate *g, struct counts *c)
{
        struct victim f = {.g = g,
                           .body = &c->body,
                           .after = &c->after,
                           .cleanup = &c->cleanup};
        return f;
}

Test(abort, idle_task_runs_cleanup_and_joins_cancelled, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct counts c = {0};
        struct victim f;
        task_handle *h;

        gate_init(&g);
        f = victim_frame(&g, &c);
        cr_assert_eq(TASK_SPAWN(rt, victim, &f, &h), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert(task_handle_finished(h));
        cr_assert_eq(atomic_load(&c.body), 1);
        cr_assert_eq(atomic_load(&c.after), 0);
        cr_assert_eq(atomic_load(&c.cleanup), 1);
        cr_assert_eq(((struct victim *)task_handle_frame(h))->mark, 1);
        /* Opening the gate now wakes a task that has ended: nothing happens. */
        gate_open(&g);
        sleep_ms(10);
        cr_assert_eq(atomic_load(&c.after), 0);
        cr_assert_eq(atomic_load(&c.cleanup), 1);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(abort, before_first_poll_runs_only_cleanup, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct gate g;
        struct counts c = {0};
        struct victim f;
        task_handle *h;

        gate_init(&g);
        f = victim_frame(&g, &c);
        /* A current-thread runtime polls nothing outside block_on. */
        cr_assert_eq(TASK_SPAWN(rt, victim, &f, &h), 0);
        task_abort(h);
        /* No block_on at all: joining from outside must still be possible
         * once the runtime is shut down, which cancels and ends it. */
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(atomic_load(&c.body), 0,
                     "the body ran after an abort before the first poll");
        cr_assert_eq(atomic_load(&c.cleanup), 1);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* Abort before the first poll on a multi-thread runtime whose only worker is
 * held by a spinning task, so the victim is certainly still queued. */
struct holder {
        TASK_FRAME;
        atomic_int *holding, *release;
};

static int holder(struct task_cx *cx, void *arg)
{
        struct holder *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->holding, 1);
        while (!atomic_load(f->release))
                sched_yield();
        TASK_END(f);
}

Test(abort, queued_task_aborted_before_first_poll, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct gate g;
        struct counts c = {0};
        atomic_int holding = 0, release = 0;
        struct holder hf = {.holding = &holding, .release = &release};
        struct victim f;
        task_handle *hh, *h;

        gate_init(&g);
        f = victim_frame(&g, &c);
        cr_assert_eq(TASK_SPAWN(rt, holder, &hf, &hh), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&holding), 5000));
        cr_assert_eq(TASK_SPAWN(rt, victim, &f, &h), 0);
        task_abort(h);
        atomic_store(&release, 1);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(task_join_blocking(hh), 0);
        cr_assert_eq(atomic_load(&c.body), 0);
        cr_assert_eq(atomic_load(&c.cleanup), 1);
        task_handle_release(h);
        task_handle_release(hh);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Abort of a running task ----------------------------------------------- */

struct runner {
        TASK_FRAME;
        atomic_int *in_poll, *release;
        atomic_int *after_yield, *cleanup;
};

static int runner(struct task_cx *cx, void *arg)
{
        struct runner *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->in_poll, 1);
        while (!atomic_load(f->release))
                sched_yield();
        TASK_YIELD(f);
        atomic_fetch_add(f->after_yield, 1);
        TASK_CLEANUP(f);
        atomic_fetch_add(f->cleanup, 1);
        TASK_END(f);
}

Test(abort, running_task_cancelled_at_next_suspension, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int in_poll = 0, release = 0, after = 0, cleanup = 0;
        struct runner f = {.in_poll = &in_poll,
                           .release = &release,
                           .after_yield = &after,
                           .cleanup = &cleanup};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, runner, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&in_poll), 5000));
        task_abort(h);
        cr_assert_not(task_handle_finished(h),
                      "abort ended a task in the middle of a poll");
        cr_assert_eq(atomic_load(&cleanup), 0,
                     "cleanup ran while the task was running");
        atomic_store(&release, 1);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(atomic_load(&after), 0,
                     "the task resumed past its suspension");
        cr_assert_eq(atomic_load(&cleanup), 1);
        task_handle_release(h);
        test_rt_free(rt);
}

struct finisher {
        TASK_FRAME;
        atomic_int *in_poll, *release, *cleanup;
        int finished;
};

static int finisher(struct task_cx *cx, void *arg)
{
        struct finisher *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->in_poll, 1);
        while (!atomic_load(f->release))
                sched_yield();
        f->finished = 1;
        TASK_CLEANUP(f);
        atomic_fetch_add(f->cleanup, 1);
        TASK_END(f);
}

Test(abort, running_task_that_finishes_in_that_poll_joins_ok, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int in_poll = 0, release = 0, cleanup = 0;
        struct finisher f = {
            .in_poll = &in_poll, .release = &release, .cleanup = &cleanup};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, finisher, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&in_poll), 5000));
        task_abort(h);
        atomic_store(&release, 1);
        /* It finished first: "Joining it then reports ... 0 if it finished first". */
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct finisher *)task_handle_frame(h))->finished, 1);
        cr_assert_eq(atomic_load(&cleanup), 1);
        task_handle_release(h);
        test_rt_free(rt);
}

/* ---- Abort of a finished task, double abort, NULL -------------------------- */

Test(abort, finished_task_is_untouched, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct counts c = {0};
        struct victim f;
        task_handle *h;

        gate_init(&g);
        gate_open(&g);
        f = victim_frame(&g, &c);
        cr_assert_eq(TASK_SPAWN(rt, victim, &f, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        task_abort(h);
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), 0,
                     "abort changed a finished task's result");
        cr_assert_eq(atomic_load(&c.after), 1);
        cr_assert_eq(atomic_load(&c.cleanup), 1);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(abort, null_is_ignored)
{
        task_abort(NULL);
}

static void *abort_thread(void *p)
{
        task_abort(p);
        return NULL;
}

Test(abort, concurrent_aborts_run_cleanup_once, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        int rounds = (int)test_scaled(500, 50);

        for (int r = 0; r < rounds; r++) {
                struct gate g;
                struct counts c = {0};
                struct victim f;
                task_handle *h;
                pthread_t th[4];

                gate_init(&g);
                f = victim_frame(&g, &c);
                cr_assert_eq(TASK_SPAWN(rt, victim, &f, &h), 0);
                if (r % 2)
                        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
                for (int i = 0; i < 4; i++)
                        cr_assert_eq(
                            pthread_create(&th[i], NULL, abort_thread, h), 0);
                for (int i = 0; i < 4; i++)
                        pthread_join(th[i], NULL);
                cr_assert_eq(task_join_blocking(h), -ECANCELED);
                cr_assert_eq(atomic_load(&c.cleanup), 1,
                             "round %d: %d cleanups", r,
                             atomic_load(&c.cleanup));
                cr_assert_eq(atomic_load(&c.after), 0);
                task_handle_release(h);
                gate_destroy(&g);
        }
        test_rt_free(rt);
}

/* ---- Abort from a task, and of itself -------------------------------------- */

struct aborter {
        TASK_FRAME;
        task_handle *victim;
        int rc;
};

static int aborter(struct task_cx *cx, void *arg)
{
        struct aborter *f = arg;
        TASK_BEGIN(f);
        task_abort(f->victim);
        TASK_JOIN(f, f->victim, &f->rc);
        TASK_END(f);
}

Test(abort, abort_from_another_task, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct counts c = {0};
        struct victim f;
        struct aborter a = {.rc = 1};
        task_handle *h;

        gate_init(&g);
        f = victim_frame(&g, &c);
        cr_assert_eq(TASK_SPAWN(rt, victim, &f, &h), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        a.victim = h;
        cr_assert_eq(task_block_on(rt, aborter, &a, sizeof a), 0);
        cr_assert_eq(a.rc, -ECANCELED);
        cr_assert_eq(atomic_load(&c.cleanup), 1);
        cr_assert_eq(atomic_load(&c.after), 0);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

struct self_abort {
        TASK_FRAME;
        task_handle *_Atomic *self;
        atomic_int *after, *cleanup;
};

static int self_abort(struct task_cx *cx, void *arg)
{
        struct self_abort *f = arg;
        task_handle *me;
        TASK_BEGIN(f);
        while (!(me = atomic_load(f->self)))
                sched_yield();
        TCHECK(task_handle_id(me) == task_cx_id(cx));
        task_abort(me);
        TASK_YIELD(f);
        atomic_fetch_add(f->after, 1);
        TASK_CLEANUP(f);
        atomic_fetch_add(f->cleanup, 1);
        TASK_END(f);
}

Test(abort, task_aborting_itself_is_cancelled_at_next_suspension, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_handle *_Atomic self = NULL;
        atomic_int after = 0, cleanup = 0;
        struct self_abort f = {
            .self = &self, .after = &after, .cleanup = &cleanup};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, self_abort, &f, &h), 0);
        atomic_store(&self, h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(atomic_load(&after), 0);
        cr_assert_eq(atomic_load(&cleanup), 1);
        tcheck_assert_none();
        task_handle_release(h);
        test_rt_free(rt);
}

/* ---- Aborting a joiner leaves the joined task alone ----------------------- */

struct join_waiter {
        TASK_FRAME;
        task_handle *h;
        int rc;
        atomic_int *cleanup;
};

static int join_waiter(struct task_cx *cx, void *arg)
{
        struct join_waiter *f = arg;
        TASK_BEGIN(f);
        TASK_JOIN(f, f->h, &f->rc);
        TASK_CLEANUP(f);
        atomic_fetch_add(f->cleanup, 1);
        TASK_END(f);
}

Test(abort, aborting_a_joiner_does_not_cancel_the_joined, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct counts c = {0};
        struct victim f;
        atomic_int jcleanup = 0;
        struct join_waiter j = {.cleanup = &jcleanup};
        task_handle *h, *hj;

        gate_init(&g);
        f = victim_frame(&g, &c);
        cr_assert_eq(TASK_SPAWN(rt, victim, &f, &h), 0);
        j.h = h;
        cr_assert_eq(TASK_SPAWN(rt, join_waiter, &j, &hj), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        sleep_ms(10);
        task_abort(hj);
        cr_assert_eq(task_join_blocking(hj), -ECANCELED);
        cr_assert_eq(atomic_load(&jcleanup), 1);
        cr_assert_not(task_handle_finished(h),
                      "the joined task ended with its joiner");
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(atomic_load(&c.after), 1);
        task_handle_release(hj);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- A cleanup that suspends during an abort ------------------------------- */

struct bad_cleanup {
        TASK_FRAME;
        struct gate *g;
        atomic_int *part1, *part2;
};

static int bad_cleanup(struct task_cx *cx, void *arg)
{
        struct bad_cleanup *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        TASK_CLEANUP(f);
        atomic_fetch_add(f->part1, 1);
        TASK_YIELD(f);
        atomic_fetch_add(f->part2, 1);
        TASK_END(f);
}

Test(abort, cleanup_suspending_during_abort_is_finished_anyway, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        atomic_int part1 = 0, part2 = 0;
        struct bad_cleanup f = {.part1 = &part1, .part2 = &part2};
        task_handle *h;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, bad_cleanup, &f, &h), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        sleep_ms(10);
        cr_assert_eq(atomic_load(&part1), 1);
        cr_assert_eq(atomic_load(&part2), 0,
                     "the rest of the cleanup ran after it suspended");
        task_handle_release(h);
        gate_destroy(&g);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        test_rt_free(rt);
}

/* ---- An await inside the cleanup of an aborted task ---------------------- */

struct quick {
        TASK_FRAME;
};

static int quick(struct task_cx *cx, void *arg)
{
        struct quick *f = arg;
        TASK_BEGIN(f);
        TASK_END(f);
}

struct joins_in_cleanup {
        TASK_FRAME;
        struct gate *g;
        task_handle *child;
        int rc;
        atomic_int *done; /* 1: reached the end of the cleanup */
};

static int joins_in_cleanup(struct task_cx *cx, void *arg)
{
        struct joins_in_cleanup *f = arg;
        TASK_BEGIN(f);
        if (TASK_SPAWN(task_cx_runtime(cx), quick, &(struct quick){0},
                       &f->child) != 0)
                TASK_RETURN(f);
        TASK_AWAIT(f, gate_poll(cx, f->g)); /* never opens: aborted here */
        TASK_CLEANUP(f);
        if (f->child) {
                /* The child ends at once: this await must complete even
                 * though the task is being aborted. */
                TASK_JOIN(f, f->child, &f->rc);
                task_handle_release(f->child);
                atomic_store(f->done, 1);
        }
        TASK_END(f);
}

Test(abort, cleanup_can_await_what_is_ready, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        atomic_int done = 0;
        struct joins_in_cleanup f = {.done = &done};
        task_handle *h;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, joins_in_cleanup, &f, &h), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        struct joins_in_cleanup *r = task_handle_frame(h);
        cr_assert(WAIT_UNTIL(task_handle_finished(r->child), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(atomic_load(&done), 1, "the cleanup stopped at its join");
        cr_assert_eq(r->rc, 0);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt); /* the child's handle was released */
}
