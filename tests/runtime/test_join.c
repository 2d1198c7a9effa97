/*
 * test_join.c - join handles: task_join_blocking from outside, TASK_JOIN
 * from tasks (on the same runtime and across runtimes), results through
 * task_handle_frame, task_handle_finished, repeated joins, long join chains
 * and joins racing completion.
 */
#include "helpers.h"

struct gated {
        TASK_FRAME;
        struct gate *g;
        int result;
};

static int gated(struct task_cx *cx, void *arg)
{
        struct gated *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        f->result = 1234;
        TASK_END(f);
}

struct quick {
        TASK_FRAME;
        int v;
};

static int quick(struct task_cx *cx, void *arg)
{
        struct quick *f = arg;
        TASK_BEGIN(f);
        f->v++;
        TASK_END(f);
}

Test(join, blocking_join_waits_for_suspended_task, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct gated f = {0};
        task_handle *h;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, gated, &f, &h), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        cr_assert_not(task_handle_finished(h));
        sleep_ms(20);
        cr_assert_not(task_handle_finished(h),
                      "finished while awaiting a closed gate");
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert(task_handle_finished(h));
        cr_assert_eq(((struct gated *)task_handle_frame(h))->result, 1234);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(join, join_twice_and_join_finished_task, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct quick f = {.v = 1};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, quick, &f, &h), 0);
        cr_assert(WAIT_UNTIL(task_handle_finished(h), 5000));
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct quick *)task_handle_frame(h))->v, 2);
        task_handle_release(h);
        test_rt_free(rt);
}

static void *open_after_20ms(void *p)
{
        sleep_ms(20);
        gate_open(p);
        return NULL;
}

/* ---- TASK_JOIN from tasks -------------------------------------------------- */

struct joiner {
        TASK_FRAME;
        task_handle *h;
        int rc;
        int result;
        int done;
};

static int joiner(struct task_cx *cx, void *arg)
{
        struct joiner *f = arg;
        TASK_BEGIN(f);
        f->rc = 1;
        TASK_JOIN(f, f->h, &f->rc);
        f->result = ((struct gated *)task_handle_frame(f->h))->result;
        f->done = 1;
        TASK_END(f);
}

Test(join, task_joins_task_woken_from_outside, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct gated f = {0};
        struct joiner j = {0};
        task_handle *h, *hj;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, gated, &f, &h), 0);
        j.h = h;
        cr_assert_eq(TASK_SPAWN(rt, joiner, &j, &hj), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        sleep_ms(10);
        cr_assert_not(task_handle_finished(hj),
                      "joiner finished before the joined task");
        gate_open(&g);
        cr_assert_eq(task_join_blocking(hj), 0);
        {
                struct joiner *r = task_handle_frame(hj);
                cr_assert_eq(r->done, 1);
                cr_assert_eq(r->rc, 0);
                cr_assert_eq(r->result, 1234);
        }
        task_handle_release(hj);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(join, task_join_reports_cancelled, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct gated f = {0};
        struct joiner j = {0};
        task_handle *h, *hj;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, gated, &f, &h), 0);
        j.h = h;
        cr_assert_eq(TASK_SPAWN(rt, joiner, &j, &hj), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(hj), 0);
        cr_assert_eq(((struct joiner *)task_handle_frame(hj))->rc, -ECANCELED);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        task_handle_release(hj);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* A joiner on one runtime, the joined task on another. */
Test(join, join_across_runtimes, .timeout = 10)
{
        task_runtime *a = test_rt_new_mt(1), *b = test_rt_new_mt(1);
        struct gate g;
        struct gated f = {0};
        struct joiner j = {0};
        task_handle *h, *hj;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(b, gated, &f, &h), 0);
        j.h = h;
        cr_assert_eq(TASK_SPAWN(a, joiner, &j, &hj), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        gate_open(&g);
        cr_assert_eq(task_join_blocking(hj), 0);
        cr_assert_eq(((struct joiner *)task_handle_frame(hj))->rc, 0);
        cr_assert_eq(((struct joiner *)task_handle_frame(hj))->result, 1234);
        task_handle_release(hj);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(a);
        test_rt_free(b);
}

/*
 * The same, many times, freeing the joiner's runtime as soon as everything
 * is joined and released: nothing is held, so free must succeed at once,
 * even though the joined task's runtime (another runtime's worker) woke the
 * joiner a moment ago.
 */
Test(join, free_right_after_cross_runtime_join, .timeout = 60)
{
        int rounds = (int)test_scaled(300, 50);

        for (int r = 0; r < rounds; r++) {
                task_runtime *a = test_rt_new_mt(1), *b = test_rt_new_mt(1);
                struct gate g;
                struct gated f = {0};
                struct joiner j = {0};
                task_handle *h, *hj;
                int rc;

                gate_init(&g);
                f.g = &g;
                cr_assert_eq(TASK_SPAWN(b, gated, &f, &h), 0);
                j.h = h;
                cr_assert_eq(TASK_SPAWN(a, joiner, &j, &hj), 0);
                cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
                gate_open(&g);
                cr_assert_eq(task_join_blocking(hj), 0);
                task_handle_release(hj);
                task_handle_release(h);
                rc = task_runtime_free(a);
                cr_assert_eq(
                    rc, 0,
                    "round %d: free of the joiner's runtime: %d (%s) with "
                    "nothing held",
                    r, rc, task_strerror(rc));
                test_rt_free(b);
                gate_destroy(&g);
        }
        test_leak_check();
}

/* A task on runtime A blocking on a handle of runtime B is legal (no EDEADLK). */
struct blocking_joiner {
        TASK_FRAME;
        task_handle *h;
        int rc;
};

static int blocking_joiner(struct task_cx *cx, void *arg)
{
        struct blocking_joiner *f = arg;
        TASK_BEGIN(f);
        f->rc = task_join_blocking(f->h);
        TASK_END(f);
}

Test(join, blocking_join_from_worker_of_other_runtime, .timeout = 10)
{
        task_runtime *a = test_rt_new_mt(1), *b = test_rt_new_mt(1);
        struct quick q = {0};
        struct blocking_joiner bj = {.rc = 1};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(b, quick, &q, &h), 0);
        bj.h = h;
        cr_assert_eq(task_block_on(a, blocking_joiner, &bj, sizeof bj), 0);
        cr_assert_eq(bj.rc, 0,
                     "join_blocking from a worker of another runtime: %d",
                     bj.rc);
        task_handle_release(h);
        test_rt_free(a);
        test_rt_free(b);
}

/* ---- A chain: task i joins task i-1 ---------------------------------------- */

struct link {
        TASK_FRAME;
        task_handle *prev;
        int depth;
        int rc;
};

static int link_fn(struct task_cx *cx, void *arg)
{
        struct link *f = arg;
        TASK_BEGIN(f);
        f->depth = 0;
        if (f->prev) {
                TASK_JOIN(f, f->prev, &f->rc);
                TCHECK(f->rc == 0);
                f->depth =
                    ((struct link *)task_handle_frame(f->prev))->depth + 1;
                task_handle_release(f->prev);
                f->prev = NULL;
        }
        TASK_END(f);
}

Test(join, long_chain_of_joins, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        int n = (int)test_scaled(10000, 500);
        task_handle *prev = NULL, *h = NULL;

        /* Each task takes ownership of the previous handle. */
        for (int i = 0; i < n; i++) {
                struct link f = {.prev = prev};
                cr_assert_eq(TASK_SPAWN(rt, link_fn, &f, &h), 0);
                prev = h;
        }
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct link *)task_handle_frame(h))->depth, n - 1);
        task_handle_release(h);
        tcheck_assert_none();
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        test_rt_free(rt);
}

/* ---- Joins racing completion ---------------------------------------------- */

struct spin_then_done {
        TASK_FRAME;
        int spins;
        int i;
        int out;
};

static int spin_then_done(struct task_cx *cx, void *arg)
{
        struct spin_then_done *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->spins; f->i++)
                TASK_YIELD(f);
        f->out = 77;
        TASK_END(f);
}

Test(join, blocking_join_races_completion, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        int n = (int)test_scaled(20000, 1000);

        for (int i = 0; i < n; i++) {
                struct spin_then_done f = {.spins = i % 3};
                task_handle *h;
                cr_assert_eq(TASK_SPAWN(rt, spin_then_done, &f, &h), 0);
                cr_assert_eq(task_join_blocking(h), 0);
                cr_assert_eq(
                    ((struct spin_then_done *)task_handle_frame(h))->out, 77);
                task_handle_release(h);
        }
        test_rt_free(rt);
}

struct join_many {
        TASK_FRAME;
        int n, i;
        int rc;
        int bad;
        task_handle *hs[256];
};

static int join_many(struct task_cx *cx, void *arg)
{
        struct join_many *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                struct spin_then_done c = {.spins = f->i % 4};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), spin_then_done, &c,
                                  &f->hs[f->i]) == 0);
        }
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_JOIN(f, f->hs[f->i], &f->rc);
                if (f->rc != 0 ||
                    ((struct spin_then_done *)task_handle_frame(f->hs[f->i]))
                            ->out != 77)
                        f->bad++;
                task_handle_release(f->hs[f->i]);
        }
        TASK_END(f);
}

Test(join, task_joins_racing_completion_on_other_workers, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(3);
        int rounds = (int)test_scaled(200, 10);

        for (int r = 0; r < rounds; r++) {
                struct join_many f = {.n = 256};
                cr_assert_eq(task_block_on(rt, join_many, &f, sizeof f), 0);
                cr_assert_eq(f.bad, 0, "round %d: %d bad joins", r, f.bad);
        }
        tcheck_assert_none();
        test_rt_free(rt);
}

/* ---- Handing a handle to another task ------------------------------------- */

struct owner {
        TASK_FRAME;
        task_handle *h;
        int rc;
        int saw;
};

static int owner(struct task_cx *cx, void *arg)
{
        struct owner *f = arg;
        TASK_BEGIN(f);
        TASK_JOIN(f, f->h, &f->rc);
        f->saw = ((struct quick *)task_handle_frame(f->h))->v;
        TASK_CLEANUP(f);
        task_handle_release(f->h);
        f->h = NULL;
        TASK_END(f);
}

Test(join, handle_handed_over_and_released_by_cleanup, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct quick q = {.v = 10};
        struct owner o = {0};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, quick, &q, &h), 0);
        o.h = h; /* ownership moves into the frame */
        cr_assert_eq(task_block_on(rt, owner, &o, sizeof o), 0);
        cr_assert_eq(o.rc, 0);
        cr_assert_eq(o.saw, 11);
        cr_assert_null(o.h);
        /* No handle is held any more, so free succeeds. */
        test_rt_free(rt);
}

/* ---- A joiner that is aborted, then another joiner --------------------------- */

struct join_cleanup {
        TASK_FRAME;
        task_handle *h;
        int rc;
        atomic_int *cleanup;
};

static int join_cleanup(struct task_cx *cx, void *arg)
{
        struct join_cleanup *f = arg;
        TASK_BEGIN(f);
        f->rc = 1;
        TASK_JOIN(f, f->h, &f->rc);
        TASK_CLEANUP(f);
        if (f->cleanup)
                atomic_fetch_add(f->cleanup, 1);
        TASK_END(f);
}

Test(join, second_joiner_after_first_was_aborted, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct gated f = {0};
        atomic_int cleanup = 0;
        struct join_cleanup j1 = {.cleanup = &cleanup}, j2 = {0};
        task_handle *h, *h1, *h2;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, gated, &f, &h), 0);
        j1.h = j2.h = h;
        cr_assert_eq(TASK_SPAWN(rt, join_cleanup, &j1, &h1), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        sleep_ms(10); /* j1 is registered as h's waiter by now */
        task_abort(h1);
        cr_assert_eq(task_join_blocking(h1), -ECANCELED);
        cr_assert_eq(atomic_load(&cleanup), 1);
        /* The handle is free to be awaited again, by another task. */
        cr_assert_eq(TASK_SPAWN(rt, join_cleanup, &j2, &h2), 0);
        sleep_ms(10);
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h2), 0, "the second joiner never woke");
        cr_assert_eq(((struct join_cleanup *)task_handle_frame(h2))->rc, 0);
        /* And by a thread. */
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h1);
        task_handle_release(h2);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Spurious wakes of a task waiting in TASK_JOIN ------------------------------ */

struct spam_arg {
        task_waker *w;
        atomic_int *stop;
};

static void *spam_wakes(void *p)
{
        struct spam_arg *a = p;
        while (!atomic_load(a->stop))
                task_wake_by_ref(a->w);
        return NULL;
}

struct woken_joiner {
        TASK_FRAME;
        task_handle *h;
        int rc;
        long polls;
        task_waker *_Atomic *self;
};

static bool join_counting(struct task_cx *cx, struct woken_joiner *f)
{
        f->polls++;
        if (!atomic_load(f->self))
                atomic_store(f->self, task_cx_waker(cx));
        return task_join_poll(cx, f->h, &f->rc);
}

static int woken_joiner(struct task_cx *cx, void *arg)
{
        struct woken_joiner *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, join_counting(cx, f));
        TASK_END(f);
}

Test(join, spurious_wakes_while_joining_leak_nothing, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct gated f = {0};
        task_waker *_Atomic self = NULL;
        struct woken_joiner j = {.self = &self};
        atomic_int stop = 0;
        struct spam_arg sa = {.stop = &stop};
        task_handle *h, *hj;
        pthread_t th;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, gated, &f, &h), 0);
        j.h = h;
        cr_assert_eq(TASK_SPAWN(rt, woken_joiner, &j, &hj), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&self) != NULL, 5000));
        sa.w = atomic_load(&self);
        cr_assert_eq(pthread_create(&th, NULL, spam_wakes, &sa), 0);
        sleep_ms(50);
        cr_assert_not(task_handle_finished(hj));
        gate_open(&g);
        cr_assert_eq(task_join_blocking(hj), 0);
        atomic_store(&stop, 1);
        pthread_join(th, NULL);
        cr_assert_eq(((struct woken_joiner *)task_handle_frame(hj))->rc, 0);
        cr_log_info("joiner polled %ld times",
                    ((struct woken_joiner *)task_handle_frame(hj))->polls);
        cr_assert_gt(((struct woken_joiner *)task_handle_frame(hj))->polls, 2,
                     "the spurious wakes did not poll the joiner");
        task_waker_drop(sa.w);
        task_handle_release(hj);
        task_handle_release(h);
        gate_destroy(&g);
        /* Every re-registration's reference was given back. */
        test_rt_free(rt);
}

/* ---- Joining across flavors ------------------------------------------------------ */

Test(join, current_thread_task_joins_multi_thread_task, .timeout = 10)
{
        task_runtime *mt = test_rt_new_mt(2),
                     *ct = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct gate g;
        struct gated f = {0};
        struct joiner j = {0};
        task_handle *h;
        pthread_t th;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(mt, gated, &f, &h), 0);
        j.h = h;
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        /* Opened from another thread while block_on waits (parked). */
        cr_assert_eq(pthread_create(&th, NULL, open_after_20ms, &g), 0);
        cr_assert_eq(task_block_on(ct, joiner, &j, sizeof j), 0);
        pthread_join(th, NULL);
        cr_assert_eq(j.rc, 0);
        cr_assert_eq(j.result, 1234);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(ct);
        test_rt_free(mt);
}
