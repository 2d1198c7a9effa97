/*
 * test_joinset.c - JoinSet (libtask/joinset.h): tasks are joined in the
 * order they end, an empty set says -ECHILD, abort_all and free cancel what
 * runs, an aborted join_next takes nothing out of the set, the entries'
 * bookkeeping survives many thousands of tasks, and bad input is -EINVAL.
 * Links the internal library for the -ENOMEM fault-injection hook.
 */
#include "helpers.h"

#include "runtime-priv.h"

#include <errno.h>
#include <string.h>

/* A member: waits on its gate (if any), then reports its index. */
struct member {
        TASK_FRAME;
        struct gate *g;
        int idx;
        int out;
        atomic_int *cleanups;
};

static int member(struct task_cx *cx, void *arg)
{
        struct member *f = arg;
        TASK_BEGIN(f);
        if (f->g)
                TASK_AWAIT(f, gate_poll(cx, f->g));
        f->out = f->idx * 10;
        TASK_CLEANUP(f);
        if (f->cleanups)
                atomic_fetch_add(f->cleanups, 1);
        TASK_END(f);
}

/* Joins everything in the set, recording the order and results. */
struct joiner {
        TASK_FRAME;
        task_joinset *set;
        task_handle *h;
        int rc;
        int n;
        int order[64];
        int rcs[64];
        int end_rc;
};

static int joiner(struct task_cx *cx, void *arg)
{
        struct joiner *f = arg;
        TASK_BEGIN(f);
        for (;;) {
                TASK_JOINSET_JOIN_NEXT(f, f->set, &f->h, &f->rc);
                if (f->rc == -ECHILD)
                        break;
                if (f->n < 64) {
                        f->rcs[f->n] = f->rc;
                        f->order[f->n] =
                            f->rc == 0
                                ? ((struct member *)task_handle_frame(f->h))
                                      ->idx
                                : -1;
                }
                f->n++;
                task_handle_release(f->h);
        }
        f->end_rc = f->rc;
        TASK_END(f);
}

Test(joinset, joins_in_completion_order, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_joinset *set;
        struct gate g[3];
        struct joiner j = {0};
        task_handle *jh;

        cr_assert_eq(task_joinset_new(&set), 0);
        for (int i = 0; i < 3; i++) {
                gate_init(&g[i]);
                struct member m = {.g = &g[i], .idx = i};
                cr_assert_eq(TASK_JOINSET_SPAWN(set, rt, member, &m), 0);
        }
        cr_assert_eq(task_joinset_len(set), 3);
        j.set = set;
        cr_assert_eq(TASK_SPAWN(rt, joiner, &j, &jh), 0);
        /* Open in the order 2, 0, 1, each once the previous was joined. */
        int open_order[3] = {2, 0, 1};
        for (int k = 0; k < 3; k++) {
                cr_assert(WAIT_UNTIL(gate_has_waiter(&g[open_order[k]]), 5000));
                gate_open(&g[open_order[k]]);
                cr_assert(
                    WAIT_UNTIL(task_joinset_len(set) == (size_t)(2 - k), 5000));
        }
        cr_assert_eq(task_join_blocking(jh), 0);
        struct joiner *r = task_handle_frame(jh);
        cr_assert_eq(r->n, 3);
        for (int k = 0; k < 3; k++) {
                cr_assert_eq(r->order[k], open_order[k], "k=%d: %d", k,
                             r->order[k]);
                cr_assert_eq(r->rcs[k], 0);
        }
        cr_assert_eq(r->end_rc, -ECHILD);
        task_handle_release(jh);
        task_joinset_free(set);
        for (int i = 0; i < 3; i++)
                gate_destroy(&g[i]);
        test_rt_free(rt);
}

Test(joinset, empty_set_is_echild_at_once, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        task_joinset *set;
        struct joiner j = {0};
        task_handle *out = (task_handle *)&j;
        int rc = 7;

        cr_assert_eq(task_joinset_new(&set), 0);
        cr_assert_eq(task_joinset_len(set), 0);
        cr_assert_eq(task_joinset_try_join_next(set, &out, &rc), -ECHILD);
        cr_assert_eq(out, (task_handle *)&j, "-ECHILD must leave *out alone");
        cr_assert_eq(rc, 7);
        j.set = set;
        cr_assert_eq(task_block_on(rt, joiner, &j, sizeof j), 0);
        cr_assert_eq(j.n, 0);
        cr_assert_eq(j.end_rc, -ECHILD);
        task_joinset_free(set);
        test_rt_free(rt);
}

Test(joinset, try_join_next_eagain_then_result, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_joinset *set;
        struct gate g;
        task_handle *out = NULL;
        int rc = 7;

        gate_init(&g);
        cr_assert_eq(task_joinset_new(&set), 0);
        struct member m = {.g = &g, .idx = 4};
        uint64_t id = 0;
        cr_assert_eq(
            task_joinset_spawn_at(set, rt, member, &m, sizeof m, &id, NULL), 0);
        cr_assert_neq(id, 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        cr_assert_eq(task_joinset_try_join_next(set, &out, &rc), -EAGAIN);
        cr_assert_null(out);
        gate_open(&g);
        cr_assert(
            WAIT_UNTIL(task_joinset_try_join_next(set, &out, &rc) == 0, 5000));
        cr_assert_eq(rc, 0);
        cr_assert_eq(task_handle_id(out), id);
        cr_assert_eq(((struct member *)task_handle_frame(out))->out, 40);
        task_handle_release(out);
        cr_assert_eq(task_joinset_len(set), 0);
        cr_assert_eq(task_joinset_try_join_next(set, &out, &rc), -ECHILD);
        task_joinset_free(set);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(joinset, abort_all_joins_cancelled, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_joinset *set;
        struct gate g;
        atomic_int cleanups = 0;
        struct joiner j = {0};

        gate_init(&g); /* never opened */
        cr_assert_eq(task_joinset_new(&set), 0);
        for (int i = 0; i < 20; i++) {
                struct member m = {.g = &g, .idx = i, .cleanups = &cleanups};
                cr_assert_eq(TASK_JOINSET_SPAWN(set, rt, member, &m), 0);
        }
        task_joinset_abort_all(set);
        j.set = set;
        cr_assert_eq(task_block_on(rt, joiner, &j, sizeof j), 0);
        cr_assert_eq(j.n, 20);
        /* The gate never opens: every member can only have been aborted. */
        for (int k = 0; k < 20; k++)
                cr_assert_eq(j.rcs[k], -ECANCELED, "k=%d: %d", k, j.rcs[k]);
        cr_assert_eq(atomic_load(&cleanups), 20);
        task_joinset_free(set);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(joinset, free_aborts_running_tasks, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_joinset *set;
        struct gate g;
        atomic_int cleanups = 0;

        gate_init(&g);
        cr_assert_eq(task_joinset_new(&set), 0);
        for (int i = 0; i < 50; i++) {
                struct member m = {
                    .g = i % 2 ? &g : NULL, .idx = i, .cleanups = &cleanups};
                cr_assert_eq(TASK_JOINSET_SPAWN(set, rt, member, &m), 0);
        }
        /* Some have ended (no gate), some wait, some may not have run. */
        task_joinset_free(set);
        cr_assert(WAIT_UNTIL(atomic_load(&cleanups) == 50, 5000),
                  "cleanups: %d", atomic_load(&cleanups));
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        gate_destroy(&g);
        test_rt_free(rt);
}

/* True when the task with @id has been polled and is now idle, suspended. */
struct find {
        uint64_t id;
        bool idle;
};

static int find_cb(const struct task_info *ti, void *arg)
{
        struct find *fd = arg;
        if (ti->id != fd->id)
                return 0;
        fd->idle = ti->suspend && strcmp(ti->state, "idle") == 0;
        return 1;
}

static bool suspended(task_runtime *rt, uint64_t id)
{
        struct find fd = {.id = id};
        task_runtime_dump(rt, find_cb, &fd);
        return fd.idle;
}

/* join_next inside a task that is aborted while it waits. */
Test(joinset, aborted_join_next_takes_nothing, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_joinset *set;
        struct gate g;
        struct joiner j = {0};
        task_handle *jh, *out;
        int rc;

        gate_init(&g);
        cr_assert_eq(task_joinset_new(&set), 0);
        struct member m = {.g = &g, .idx = 3};
        cr_assert_eq(TASK_JOINSET_SPAWN(set, rt, member, &m), 0);
        j.set = set;
        cr_assert_eq(TASK_SPAWN(rt, joiner, &j, &jh), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        /* The joiner's only suspension point is its join_next. */
        cr_assert(WAIT_UNTIL(suspended(rt, task_handle_id(jh)), 5000));
        task_abort(jh);
        cr_assert_eq(task_join_blocking(jh), -ECANCELED);
        task_handle_release(jh);
        cr_assert_eq(task_joinset_len(set), 1);
        gate_open(&g);
        cr_assert(
            WAIT_UNTIL(task_joinset_try_join_next(set, &out, &rc) == 0, 5000));
        cr_assert_eq(rc, 0);
        cr_assert_eq(((struct member *)task_handle_frame(out))->out, 30);
        task_handle_release(out);
        task_joinset_free(set);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* Many members, joined by a task: every result once, entries compacted. */
struct many {
        TASK_FRAME;
        task_joinset *set;
        int i, n;
        task_handle *h;
        int rc;
        long sum;
        int joined;
};

static int many(struct task_cx *cx, void *arg)
{
        struct many *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                struct member m = {.idx = f->i};
                if (TASK_JOINSET_SPAWN(f->set, task_cx_runtime(cx), member,
                                       &m) != 0)
                        TASK_RETURN(f);
                /* Join as we go, now and then, to interleave. */
                if (f->i % 7 == 0) {
                        TASK_JOINSET_JOIN_NEXT(f, f->set, &f->h, &f->rc);
                        f->sum +=
                            ((struct member *)task_handle_frame(f->h))->out;
                        f->joined++;
                        task_handle_release(f->h);
                }
        }
        for (;;) {
                TASK_JOINSET_JOIN_NEXT(f, f->set, &f->h, &f->rc);
                if (f->rc == -ECHILD)
                        break;
                f->sum += ((struct member *)task_handle_frame(f->h))->out;
                f->joined++;
                task_handle_release(f->h);
        }
        TASK_END(f);
}

static void many_on(enum task_flavor flavor)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct many f = {0};

        f.n = (int)test_scaled(20000, 500);
        cr_assert_eq(task_joinset_new(&f.set), 0);
        cr_assert_eq(task_block_on(rt, many, &f, sizeof f), 0);
        cr_assert_eq(f.joined, f.n);
        cr_assert_eq(f.sum, 10L * f.n * (f.n - 1) / 2);
        cr_assert_eq(task_joinset_len(f.set), 0);
        task_joinset_free(f.set);
        test_rt_free(rt);
}

Test(joinset, many_members_multi_thread, .timeout = 60)
{
        many_on(TASK_MULTI_THREAD);
}

Test(joinset, many_members_current_thread, .timeout = 60)
{
        many_on(TASK_CURRENT_THREAD);
}

Test(joinset, spawn_after_shutdown_is_eshutdown, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        task_joinset *set;
        struct member m = {0};

        cr_assert_eq(task_joinset_new(&set), 0);
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        cr_assert_eq(TASK_JOINSET_SPAWN(set, rt, member, &m), -ESHUTDOWN);
        cr_assert_eq(task_joinset_len(set), 0);
        task_joinset_free(set);
        test_rt_free(rt);
}

Test(joinset, enomem_leaves_nothing, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        task_joinset *set = NULL;
        struct member m = {0};

        atomic_store(&task__fault_alloc_countdown, 1);
        cr_assert_eq(task_joinset_new(&set), -ENOMEM);
        atomic_store(&task__fault_alloc_countdown, 0);
        cr_assert_eq(task_joinset_new(&set), 0);
        atomic_store(&task__fault_alloc_countdown, 1);
        cr_assert_eq(TASK_JOINSET_SPAWN(set, rt, member, &m), -ENOMEM);
        atomic_store(&task__fault_alloc_countdown, 0);
        cr_assert_eq(task_joinset_len(set), 0);
        cr_assert_eq(TASK_JOINSET_SPAWN(set, rt, member, &m), 0);
        cr_assert_eq(task_joinset_len(set), 1);
        task_joinset_free(set);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        test_rt_free(rt);
}

static int noop(struct task_cx *cx, void *arg)
{
        (void)cx;
        (void)arg;
        return TASK_DONE;
}

Test(joinset, bad_input_is_einval, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        task_joinset *set;
        task_handle *out;
        int rc = 0;
        struct task_cx cx = {0};
        struct member m = {0};

        cr_assert_eq(task_joinset_new(NULL), -EINVAL);
        cr_assert_eq(task_joinset_new(&set), 0);
        cr_assert_eq(TASK_JOINSET_SPAWN(NULL, rt, member, &m), -EINVAL);
        cr_assert_eq(
            task_joinset_spawn_at(set, NULL, member, &m, sizeof m, NULL, NULL),
            -EINVAL);
        cr_assert_eq(
            task_joinset_spawn_at(set, rt, NULL, &m, sizeof m, NULL, NULL),
            -EINVAL);
        cr_assert_eq(task_joinset_spawn_at(set, rt, noop, NULL, 8, NULL, NULL),
                     -EINVAL);
        cr_assert_eq(task_joinset_try_join_next(NULL, &out, &rc), -EINVAL);
        cr_assert_eq(task_joinset_try_join_next(set, NULL, &rc), -EINVAL);
        cr_assert(task_joinset_join_next_poll(&cx, NULL, &out, &rc));
        cr_assert_eq(rc, -EINVAL);
        rc = 0;
        cr_assert(task_joinset_join_next_poll(NULL, set, &out, &rc));
        cr_assert_eq(rc, -EINVAL);
        cr_assert_eq(task_joinset_len(NULL), 0);
        task_joinset_abort_all(NULL);
        task_joinset_free(NULL);
        cr_assert_eq(task_joinset_len(set), 0);
        task_joinset_free(set);
        test_rt_free(rt);
}
