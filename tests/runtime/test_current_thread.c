/*
 * test_current_thread.c - the same API on a TASK_CURRENT_THREAD runtime:
 * tasks run on the thread that calls task_block_on() and only while it does;
 * spawns from outside wait for the next block_on; spawns from inside run in
 * the same block_on; wakes from other threads reach a block_on that is
 * waiting; nested block_on is refused.
 */
#include "helpers.h"

struct where {
        TASK_FRAME;
        atomic_int *ran;
        pthread_t thread;
        int yields, i;
};

static int where(struct task_cx *cx, void *arg)
{
        struct where *f = arg;
        TASK_BEGIN(f);
        f->thread = pthread_self();
        for (f->i = 0; f->i < f->yields; f->i++)
                TASK_YIELD(f);
        atomic_fetch_add(f->ran, 1);
        TASK_END(f);
}

Test(current_thread, one_worker_and_runs_on_caller, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int ran = 0;
        struct where f = {.ran = &ran, .yields = 3};

        cr_assert_eq(task_runtime_workers(rt), 1);
        cr_assert_eq(task_block_on(rt, where, &f, sizeof f), 0);
        cr_assert_eq(atomic_load(&ran), 1);
        cr_assert(pthread_equal(f.thread, pthread_self()),
                  "current-thread task ran on another thread");
        test_rt_free(rt);
}

/* ---- Spawns from outside run during the next block_on --------------------- */

struct join_all {
        TASK_FRAME;
        task_handle **hs;
        int n, i;
        int rc, bad;
};

static int join_all(struct task_cx *cx, void *arg)
{
        struct join_all *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_JOIN(f, f->hs[f->i], &f->rc);
                if (f->rc)
                        f->bad++;
        }
        TASK_END(f);
}

Test(current_thread, spawn_from_outside_runs_during_block_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int ran = 0;
        task_handle *hs[10];
        struct join_all j = {.hs = hs, .n = 10};

        for (int i = 0; i < 10; i++) {
                struct where f = {.ran = &ran, .yields = i % 3};
                cr_assert_eq(TASK_SPAWN(rt, where, &f, &hs[i]), 0);
        }
        sleep_ms(30);
        cr_assert_eq(atomic_load(&ran), 0, "tasks ran outside task_block_on");
        for (int i = 0; i < 10; i++)
                cr_assert_not(task_handle_finished(hs[i]));
        cr_assert_eq(task_block_on(rt, join_all, &j, sizeof j), 0);
        cr_assert_eq(j.bad, 0);
        cr_assert_eq(atomic_load(&ran), 10);
        for (int i = 0; i < 10; i++) {
                cr_assert(pthread_equal(
                    ((struct where *)task_handle_frame(hs[i]))->thread,
                    pthread_self()));
                task_handle_release(hs[i]);
        }
        test_rt_free(rt);
}

/* Detached tasks spawned from outside run during an unrelated block_on. */
struct count {
        atomic_int *ran;
        int want;
};

/* A ct_run_until() condition (helpers.h): @p's count reached. */
static bool count_reached(void *p)
{
        struct count *c = p;
        return atomic_load(c->ran) >= c->want;
}

Test(current_thread, detached_outside_spawns_run_in_block_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int ran = 0;
        struct count c = {.ran = &ran, .want = 20};

        for (int i = 0; i < 20; i++) {
                struct where f = {.ran = &ran, .yields = 1};
                cr_assert_eq(TASK_SPAWN(rt, where, &f, NULL), 0);
        }
        ct_run_until(rt, count_reached, &c);
        cr_assert_eq(atomic_load(&ran), 20, "only %d of 20 ran",
                     atomic_load(&ran));
        test_rt_free(rt);
}

/* ---- Spawns from inside ------------------------------------------------------ */

struct spawn_inside {
        TASK_FRAME;
        atomic_int *ran;
        task_handle *hs[32];
        int i, rc, bad;
        pthread_t me;
};

static int spawn_inside(struct task_cx *cx, void *arg)
{
        struct spawn_inside *f = arg;
        TASK_BEGIN(f);
        f->me = pthread_self();
        for (f->i = 0; f->i < 32; f->i++) {
                struct where c = {.ran = f->ran, .yields = f->i % 4};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), where, &c,
                                  &f->hs[f->i]) == 0);
        }
        for (f->i = 0; f->i < 32; f->i++) {
                TASK_JOIN(f, f->hs[f->i], &f->rc);
                if (f->rc || !pthread_equal(((struct where *)task_handle_frame(
                                                 f->hs[f->i]))
                                                ->thread,
                                            f->me))
                        f->bad++;
                task_handle_release(f->hs[f->i]);
        }
        TASK_END(f);
}

Test(current_thread, spawn_from_inside_runs_in_same_block_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int ran = 0;
        struct spawn_inside f = {.ran = &ran};

        cr_assert_eq(task_block_on(rt, spawn_inside, &f, sizeof f), 0);
        cr_assert_eq(f.bad, 0);
        cr_assert_eq(atomic_load(&ran), 32);
        tcheck_assert_none();
        test_rt_free(rt);
}

/* ---- Tasks left over continue in the next block_on --------------------------- */

struct leave_behind {
        TASK_FRAME;
        struct gate *g;
        atomic_int *ran;
};

static int leaver(struct task_cx *cx, void *arg)
{
        struct leave_behind *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        atomic_fetch_add(f->ran, 1);
        TASK_END(f);
}

static int spawn_leaver(struct task_cx *cx, void *arg)
{
        struct leave_behind *f = arg;
        TASK_BEGIN(f);
        {
                struct leave_behind c = {.g = f->g, .ran = f->ran};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), leaver, &c, NULL) == 0);
        }
        /* Give it a poll so that it registers on the gate. */
        TASK_YIELD(f);
        TASK_YIELD(f);
        TASK_END(f);
}

Test(current_thread, leftover_tasks_continue_in_next_block_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct gate g;
        atomic_int ran = 0;
        struct leave_behind f = {.ran = &ran};
        struct count c = {.ran = &ran, .want = 1};

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(task_block_on(rt, spawn_leaver, &f, sizeof f), 0);
        cr_assert(gate_has_waiter(&g),
                  "the child never polled during the first block_on");
        cr_assert_eq(atomic_load(&ran), 0);
        /* Woken from outside while no block_on runs: queued, not run. */
        gate_open(&g);
        sleep_ms(20);
        cr_assert_eq(atomic_load(&ran), 0, "a task ran outside block_on");
        ct_run_until(rt, count_reached, &c);
        cr_assert_eq(atomic_load(&ran), 1);
        tcheck_assert_none();
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- A wake from another thread reaches a waiting block_on ------------------- */

struct await_gate {
        TASK_FRAME;
        struct gate *g;
        int done;
};

static int await_gate(struct task_cx *cx, void *arg)
{
        struct await_gate *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        f->done = 1;
        TASK_END(f);
}

static void *open_later(void *p)
{
        struct gate *g = p;
        WAIT_UNTIL(gate_has_waiter(g), 5000);
        sleep_ms(20);
        gate_open(g);
        return NULL;
}

Test(current_thread, wake_from_other_thread_unparks_block_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct gate g;
        struct await_gate f = {0};
        pthread_t th;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(pthread_create(&th, NULL, open_later, &g), 0);
        cr_assert_eq(task_block_on(rt, await_gate, &f, sizeof f), 0);
        pthread_join(th, NULL);
        cr_assert_eq(f.done, 1);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* Spawned from another thread while block_on is parked: it must run. */
struct spawn_later_arg {
        task_runtime *rt;
        struct gate *g;
};

struct opener {
        TASK_FRAME;
        struct gate *g;
};

static int opener(struct task_cx *cx, void *arg)
{
        struct opener *f = arg;
        TASK_BEGIN(f);
        gate_open(f->g);
        TASK_END(f);
}

static void *spawn_later(void *p)
{
        struct spawn_later_arg *a = p;
        struct opener o = {.g = a->g};
        WAIT_UNTIL(gate_has_waiter(a->g), 5000);
        sleep_ms(20);
        TCHECK(TASK_SPAWN(a->rt, opener, &o, NULL) == 0);
        return NULL;
}

Test(current_thread, remote_spawn_unparks_block_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct gate g;
        struct await_gate f = {0};
        struct spawn_later_arg a = {.rt = rt, .g = &g};
        pthread_t th;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(pthread_create(&th, NULL, spawn_later, &a), 0);
        cr_assert_eq(task_block_on(rt, await_gate, &f, sizeof f), 0);
        pthread_join(th, NULL);
        cr_assert_eq(f.done, 1);
        tcheck_assert_none();
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Blocking calls from inside --------------------------------------------- */

struct nested {
        TASK_FRAME;
        int rc_block_on, rc_free, rc_join;
        task_handle *h;
};

static int noop(struct task_cx *cx, void *arg)
{
        struct where *f = arg;
        TASK_BEGIN(f);
        TASK_END(f);
}

static int nested(struct task_cx *cx, void *arg)
{
        struct nested *f = arg;
        struct where w = {0};
        TASK_BEGIN(f);
        f->rc_block_on = task_block_on(task_cx_runtime(cx), noop, &w, sizeof w);
        f->rc_free = task_runtime_free(task_cx_runtime(cx));
        if (f->h)
                f->rc_join = task_join_blocking(f->h);
        TASK_END(f);
}

Test(current_thread, blocking_calls_from_inside_are_edeadlk, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct nested f = {0};
        struct where w = {0};
        atomic_int ran = 0;

        w.ran = &ran;
        w.yields = 1000000; /* still pending when joined */
        cr_assert_eq(TASK_SPAWN(rt, where, &w, &f.h), 0);
        cr_assert_eq(task_block_on(rt, nested, &f, sizeof f), 0);
        cr_assert_eq(f.rc_block_on, -EDEADLK, "nested block_on: %d",
                     f.rc_block_on);
        cr_assert_eq(f.rc_free, -EDEADLK, "free from inside: %d", f.rc_free);
        cr_assert_eq(f.rc_join, -EDEADLK, "join_blocking from inside: %d",
                     f.rc_join);
        task_abort(f.h);
        task_handle_release(f.h);
        test_rt_free(rt);
}

/* ---- Many tasks, many yields on one thread --------------------------------- */

struct many {
        TASK_FRAME;
        int n, i;
        atomic_int *ran;
};

static int many(struct task_cx *cx, void *arg)
{
        struct many *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                struct where c = {.ran = f->ran, .yields = f->i % 5};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), where, &c, NULL) == 0);
                if (f->i % 100 == 0)
                        TASK_YIELD(f);
        }
        while (atomic_load(f->ran) < f->n)
                TASK_YIELD(f);
        TASK_END(f);
}

Test(current_thread, many_detached_tasks_complete, .timeout = 20)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int ran = 0;
        struct many f = {.n = (int)test_scaled(100000, 2000), .ran = &ran};

        cr_assert_eq(task_block_on(rt, many, &f, sizeof f), 0);
        cr_assert_eq(atomic_load(&ran), f.n);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 1000));
        tcheck_assert_none();
        test_rt_free(rt);
}
