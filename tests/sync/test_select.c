/*
 * test_select.c - TASK_SELECT and TASK_JOIN_ALL (libtask/wait.h): the first
 * ready branch wins and the others' waits are dropped (a losing semaphore
 * acquire keeps no permit and leaves no waiter), ties go to the first
 * branch, an abort drops every branch, and a join-all polls each branch
 * until it completes and never after.
 */
#include "helpers.h"

#include <errno.h>

/* A countable branch: ready once *gate is non-zero; counts its polls. */
struct probe {
        atomic_int *gate;
        int polls, cancels;
        bool done;      /* returned true once */
        int after_done; /* polls (of any kind) after that */
};

static bool probe_poll(struct task_cx *cx, struct probe *p)
{
        if (p->done)
                p->after_done++;
        if (cx->cancelling) {
                p->cancels++;
                return false;
        }
        p->polls++;
        if (atomic_load(p->gate)) {
                p->done = true;
                return true;
        }
        /* Re-poll soon: a yield is our registration. */
        cx->yielded = 1;
        return false;
}

/* Select between two semaphores. */
struct two {
        TASK_FRAME;
        struct task_sem *a, *b;
        struct task_sem_acquire oa, ob;
        struct task_select sel;
        int rca, rcb;
        int which;
        atomic_int *cleanups;
};

static int two(struct task_cx *cx, void *arg)
{
        struct two *f = arg;
        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel,
                    task_sem_acquire_poll(cx, f->a, 1, &f->oa, &f->rca),
                    task_sem_acquire_poll(cx, f->b, 1, &f->ob, &f->rcb));
        f->which = f->sel.which;
        TASK_CLEANUP(f);
        if (f->cleanups)
                atomic_fetch_add(f->cleanups, 1);
        TASK_END(f);
}

Test(select, ready_branch_wins_at_once, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem a, b;
        struct two f = {.a = &a, .b = &b, .which = -2};

        cr_assert_eq(task_sem_init(&a, 0), 0);
        cr_assert_eq(task_sem_init(&b, 1), 0);
        cr_assert_eq(task_block_on(rt, two, &f, sizeof f), 0);
        cr_assert_eq(f.which, 1);
        cr_assert_eq(f.rcb, 0);
        cr_assert_eq(task_sem_available(&b), 0);
        /* The loser left nothing queued on a. */
        cr_assert_eq(task_sem_destroy(&a), 0);
        cr_assert_eq(task_sem_release(&a, 1), 0);
        cr_assert_eq(task_sem_available(&a), 1);
        test_rt_free(rt);
}

Test(select, ties_go_to_the_first_branch, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem a, b;
        struct two f = {.a = &a, .b = &b, .which = -2};

        cr_assert_eq(task_sem_init(&a, 1), 0);
        cr_assert_eq(task_sem_init(&b, 1), 0);
        cr_assert_eq(task_block_on(rt, two, &f, sizeof f), 0);
        cr_assert_eq(f.which, 0);
        cr_assert_eq(task_sem_available(&a), 0);
        cr_assert_eq(task_sem_available(&b), 1, "the loser took a permit");
        test_rt_free(rt);
}

Test(select, later_winner_drops_the_queued_loser, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem a, b;
        struct two f = {.a = &a, .b = &b, .which = -2};
        task_handle *h;

        cr_assert_eq(task_sem_init(&a, 0), 0);
        cr_assert_eq(task_sem_init(&b, 0), 0);
        cr_assert_eq(TASK_SPAWN(rt, two, &f, &h), 0);
        /* Both branches queue. */
        cr_assert(WAIT_UNTIL(task_sem_destroy(&a) == -EBUSY &&
                                 task_sem_destroy(&b) == -EBUSY,
                             5000));
        cr_assert_eq(task_sem_release(&b, 1), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        struct two *r = task_handle_frame(h);
        cr_assert_eq(r->which, 1);
        cr_assert_eq(task_sem_destroy(&a), 0, "the loser is still queued");
        cr_assert_eq(task_sem_release(&a, 1), 0);
        cr_assert_eq(task_sem_available(&a), 1);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(select, abort_drops_every_branch, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem a, b;
        atomic_int cleanups = 0;
        struct two f = {.a = &a, .b = &b, .cleanups = &cleanups};
        task_handle *h;

        cr_assert_eq(task_sem_init(&a, 0), 0);
        cr_assert_eq(task_sem_init(&b, 0), 0);
        cr_assert_eq(TASK_SPAWN(rt, two, &f, &h), 0);
        cr_assert(WAIT_UNTIL(task_sem_destroy(&a) == -EBUSY &&
                                 task_sem_destroy(&b) == -EBUSY,
                             5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(atomic_load(&cleanups), 1);
        cr_assert_eq(task_sem_destroy(&a), 0);
        cr_assert_eq(task_sem_destroy(&b), 0);
        /* Permits released now are not swallowed by a dead waiter. */
        cr_assert_eq(task_sem_release(&a, 2), 0);
        cr_assert_eq(task_sem_available(&a), 2);
        task_handle_release(h);
        test_rt_free(rt);
}

/* Select between a join handle and a probe. */
struct joinsel {
        TASK_FRAME;
        task_handle *child;
        struct probe p;
        struct task_select sel;
        int rc;
};

static int sleeper(struct task_cx *cx, void *arg)
{
        struct {
                TASK_FRAME;
                struct gate *g;
        } *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        TASK_END(f);
}

static int joinsel(struct task_cx *cx, void *arg)
{
        struct joinsel *f = arg;
        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel, task_join_poll(cx, f->child, &f->rc),
                    probe_poll(cx, &f->p));
        TASK_END(f);
}

Test(select, join_handle_branch_wins, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        atomic_int never = 0;
        struct {
                TASK_FRAME;
                struct gate *g;
        } sf = {.g = &g};
        struct joinsel f = {.p = {.gate = &never}};

        gate_init(&g);
        cr_assert_eq(TASK_SPAWN(rt, sleeper, &sf, &f.child), 0);
        task_handle *h;
        cr_assert_eq(TASK_SPAWN(rt, joinsel, &f, &h), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h), 0);
        struct joinsel *r = task_handle_frame(h);
        cr_assert_eq(r->sel.which, 0);
        cr_assert_eq(r->rc, 0);
        cr_assert_eq(r->p.cancels, 1, "the loser is dropped exactly once");
        cr_assert_geq(r->p.polls, 1);
        task_handle_release(r->child);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* Join-all over three probes that become ready one after the other. */
struct all {
        TASK_FRAME;
        struct probe p[3];
        struct task_select sel;
        struct task_sem *s;
        struct task_sem_acquire op;
        int rc;
};

static int all(struct task_cx *cx, void *arg)
{
        struct all *f = arg;
        TASK_BEGIN(f);
        TASK_JOIN_ALL(f, &f->sel, probe_poll(cx, &f->p[0]),
                      task_sem_acquire_poll(cx, f->s, 2, &f->op, &f->rc),
                      probe_poll(cx, &f->p[1]), probe_poll(cx, &f->p[2]));
        TASK_END(f);
}

Test(join_all, polls_each_branch_until_done_and_never_after, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int g[3] = {0, 0, 0};
        struct task_sem s;
        struct all f = {0};
        task_handle *h;

        cr_assert_eq(task_sem_init(&s, 0), 0);
        f.s = &s;
        for (int i = 0; i < 3; i++)
                f.p[i].gate = &g[i];
        cr_assert_eq(TASK_SPAWN(rt, all, &f, &h), 0);
        struct all *r = task_handle_frame(h);
        atomic_store(&g[1], 1);
        cr_assert(WAIT_UNTIL(task_sem_destroy(&s) == -EBUSY, 5000));
        atomic_store(&g[0], 1);
        cr_assert_eq(task_sem_release(&s, 2), 0);
        sleep_ms(20);
        atomic_store(&g[2], 1);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(r->rc, 0);
        cr_assert_eq(r->sel.done, 0xfu);
        cr_assert_eq(task_sem_available(&s), 0, "acquired exactly once");
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(r->p[i].cancels, 0);
                cr_assert(r->p[i].done);
                cr_assert_eq(r->p[i].after_done, 0,
                             "branch %d was polled again after it completed",
                             i);
        }
        task_handle_release(h);
        test_rt_free(rt);
}

Test(join_all, abort_drops_the_branches_still_waiting, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int g[3] = {1, 0, 0};
        struct task_sem s;
        struct all f = {0};
        task_handle *h;

        cr_assert_eq(task_sem_init(&s, 0), 0);
        f.s = &s;
        for (int i = 0; i < 3; i++)
                f.p[i].gate = &g[i];
        cr_assert_eq(TASK_SPAWN(rt, all, &f, &h), 0);
        cr_assert(WAIT_UNTIL(task_sem_destroy(&s) == -EBUSY, 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        struct all *r = task_handle_frame(h);
        cr_assert_eq(r->p[0].cancels, 0, "a done branch was dropped");
        cr_assert_eq(r->p[0].after_done, 0, "a done branch was polled again");
        cr_assert_eq(r->p[1].cancels, 1);
        cr_assert_eq(r->p[2].cancels, 1);
        cr_assert_eq(task_sem_destroy(&s), 0, "the acquire is still queued");
        cr_assert_eq(task_sem_release(&s, 2), 0);
        cr_assert_eq(task_sem_available(&s), 2);
        task_handle_release(h);
        test_rt_free(rt);
}

/* A select inside a sub-coroutine, aborted through its parent. */
struct outer {
        TASK_FRAME;
        struct two sub;
};

static int outer(struct task_cx *cx, void *arg)
{
        struct outer *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT_CO(f, two, &f->sub);
        TASK_END(f);
}

Test(select, abort_reaches_a_select_in_a_sub_coroutine, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem a, b;
        atomic_int cleanups = 0;
        struct outer f = {.sub = {.a = &a, .b = &b, .cleanups = &cleanups}};
        task_handle *h;

        cr_assert_eq(task_sem_init(&a, 0), 0);
        cr_assert_eq(task_sem_init(&b, 0), 0);
        cr_assert_eq(TASK_SPAWN(rt, outer, &f, &h), 0);
        cr_assert(WAIT_UNTIL(task_sem_destroy(&a) == -EBUSY &&
                                 task_sem_destroy(&b) == -EBUSY,
                             5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(atomic_load(&cleanups), 1);
        cr_assert_eq(task_sem_destroy(&a), 0);
        cr_assert_eq(task_sem_destroy(&b), 0);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(select, shutdown_drops_the_waits_of_pending_selects, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem a, b;
        atomic_int cleanups = 0;

        cr_assert_eq(task_sem_init(&a, 0), 0);
        cr_assert_eq(task_sem_init(&b, 0), 0);
        for (int i = 0; i < 10; i++) {
                struct two f = {.a = &a, .b = &b, .cleanups = &cleanups};
                cr_assert_eq(TASK_SPAWN(rt, two, &f, NULL), 0);
        }
        cr_assert(WAIT_UNTIL(task_sem_destroy(&a) == -EBUSY, 5000));
        test_rt_free(rt);
        cr_assert_eq(atomic_load(&cleanups), 10);
        cr_assert_eq(task_sem_destroy(&a), 0);
        cr_assert_eq(task_sem_destroy(&b), 0);
}
