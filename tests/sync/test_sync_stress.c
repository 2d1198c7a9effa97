/*
 * test_sync_stress.c - no lost wake-ups, no lost permits, across workers
 * that steal from each other: many tasks select between two one-permit
 * semaphores millions of times (scaled by $LIBTASK_TEST_SCALE), with and
 * without a storm of aborts hitting tasks while they wait, and a JoinSet of
 * such pickers drained as they finish, on both runtime flavors.  Every run
 * ends by checking
 * that every permit came back and that nobody is left queued.
 */
#include "helpers.h"

#include <errno.h>

struct pair {
        struct task_sem a, b;
        atomic_long holders_a, holders_b, ops;
        atomic_int violations;
};

struct picker {
        TASK_FRAME;
        struct pair *p;
        long i, n;
        struct task_sem_acquire oa, ob;
        struct task_select sel;
        int rca, rcb;
        int held; /* 0 none, 1 a, 2 b: for the cleanup */
};

/* The holder count of what @f holds (a function: locals do not survive). */
static atomic_long *holders(struct picker *f)
{
        return f->held == 1 ? &f->p->holders_a : &f->p->holders_b;
}

static int picker(struct task_cx *cx, void *arg)
{
        struct picker *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_SELECT(
                    f, &f->sel,
                    task_sem_acquire_poll(cx, &f->p->a, 1, &f->oa, &f->rca),
                    task_sem_acquire_poll(cx, &f->p->b, 1, &f->ob, &f->rcb));
                f->held = f->sel.which + 1;
                if (atomic_fetch_add(holders(f), 1) != 0)
                        atomic_fetch_add(&f->p->violations, 1);
                if (f->i % 3 == 0)
                        TASK_YIELD(f); /* hold it across a suspension */
                atomic_fetch_sub(holders(f), 1);
                task_sem_release(f->held == 1 ? &f->p->a : &f->p->b, 1);
                f->held = 0;
                atomic_fetch_add(&f->p->ops, 1);
        }
        TASK_CLEANUP(f);
        if (f->held) {
                atomic_fetch_sub(holders(f), 1);
                task_sem_release(f->held == 1 ? &f->p->a : &f->p->b, 1);
        }
        TASK_END(f);
}

static void pair_init(struct pair *p)
{
        cr_assert_eq(task_sem_init(&p->a, 1), 0);
        cr_assert_eq(task_sem_init(&p->b, 1), 0);
        atomic_init(&p->holders_a, 0);
        atomic_init(&p->holders_b, 0);
        atomic_init(&p->ops, 0);
        atomic_init(&p->violations, 0);
}

static void pair_check(struct pair *p)
{
        cr_assert_eq(atomic_load(&p->violations), 0,
                     "two holders of a one-permit semaphore");
        cr_assert_eq(task_sem_available(&p->a), 1, "a lost a permit");
        cr_assert_eq(task_sem_available(&p->b), 1, "b lost a permit");
        cr_assert_eq(task_sem_destroy(&p->a), 0, "a waiter is left on a");
        cr_assert_eq(task_sem_destroy(&p->b), 0, "a waiter is left on b");
}

static void select_storm(enum task_flavor flavor, unsigned workers)
{
        task_runtime *rt = test_rt_new(flavor, workers);
        struct pair p;
        enum { TASKS = 64 };
        task_handle *h[TASKS];
        long per = test_scaled(20000, 200);

        pair_init(&p);
        for (int i = 0; i < TASKS; i++) {
                struct picker f = {.p = &p, .n = per};
                cr_assert_eq(TASK_SPAWN(rt, picker, &f, &h[i]), 0);
        }
        for (int i = 0; i < TASKS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        cr_assert_eq(atomic_load(&p.ops), (long)TASKS * per);
        pair_check(&p);
        test_rt_free(rt);
}

Test(sync_stress, select_over_two_semaphores_multi_thread, .timeout = 300)
{
        select_storm(TASK_MULTI_THREAD, 2);
}

Test(sync_stress, select_over_two_semaphores_four_workers, .timeout = 300)
{
        select_storm(TASK_MULTI_THREAD, 4);
}

/* The same, while another thread aborts random pickers as they run. */
Test(sync_stress, aborts_while_waiting_lose_no_permit, .timeout = 300)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct pair p;
        enum { TASKS = 64 };
        task_handle *h[TASKS];
        long per = test_scaled(20000, 200);
        int cancelled = 0;
        unsigned seed = 12345;

        pair_init(&p);
        for (int i = 0; i < TASKS; i++) {
                struct picker f = {.p = &p, .n = per};
                cr_assert_eq(TASK_SPAWN(rt, picker, &f, &h[i]), 0);
        }
        for (int k = 0; k < TASKS / 2; k++) {
                int i = (int)(rand_r(&seed) % TASKS);
                struct timespec ts = {0, 200000 + rand_r(&seed) % 800000};
                nanosleep(&ts, NULL);
                task_abort(h[i]);
        }
        for (int i = 0; i < TASKS; i++) {
                int rc = task_join_blocking(h[i]);
                cr_assert(rc == 0 || rc == -ECANCELED);
                cancelled += rc == -ECANCELED;
                task_handle_release(h[i]);
        }
        cr_log_info("%d of %d pickers were cancelled mid-run", cancelled,
                    TASKS);
        pair_check(&p);
        test_rt_free(rt);
}

/* The same pickers in a JoinSet that a block_on task spawns and drains. */
struct joiner {
        TASK_FRAME;
        task_joinset *set;
        struct pair *p;
        long per;
        int i, rc, joined;
        task_handle *h;
};

static int joiner(struct task_cx *cx, void *arg)
{
        struct joiner *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < 32; f->i++) {
                struct picker pk = {.p = f->p, .n = f->per};
                if (TASK_JOINSET_SPAWN(f->set, task_cx_runtime(cx), picker,
                                       &pk) != 0)
                        TASK_RETURN(f);
        }
        for (;;) {
                TASK_JOINSET_JOIN_NEXT(f, f->set, &f->h, &f->rc);
                if (f->rc == -ECHILD)
                        break;
                if (f->rc == 0)
                        f->joined++;
                task_handle_release(f->h);
        }
        TASK_END(f);
}

static void joinset_storm(enum task_flavor flavor, unsigned workers)
{
        task_runtime *rt = test_rt_new(flavor, workers);
        struct pair p;
        struct joiner j = {0};

        pair_init(&p);
        j.p = &p;
        j.per = test_scaled(20000, 200);
        cr_assert_eq(task_joinset_new(&j.set), 0);
        cr_assert_eq(task_block_on(rt, joiner, &j, sizeof j), 0);
        cr_assert_eq(j.joined, 32);
        cr_assert_eq(atomic_load(&p.ops), 32L * j.per);
        pair_check(&p);
        task_joinset_free(j.set);
        test_rt_free(rt);
}

Test(sync_stress, joinset_of_pickers_multi_thread, .timeout = 300)
{
        joinset_storm(TASK_MULTI_THREAD, 2);
}

Test(sync_stress, joinset_of_pickers_current_thread, .timeout = 300)
{
        joinset_storm(TASK_CURRENT_THREAD, 1);
}
