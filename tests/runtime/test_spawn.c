/*
 * test_spawn.c - spawning tasks and block_on on a multi-thread runtime:
 * the frame is copied in, results come back through the handle's frame,
 * spawning from outside and from inside tasks, ids, frame size and
 * alignment, and block_on's copy-out.
 */
#include "helpers.h"

#include <stdalign.h>

/* ---- A task that records where and how it ran ----------------------------- */

struct rec {
        TASK_FRAME;
        int in;
        int out;
        atomic_int *ran;
        pthread_t thread;
        uint64_t id;
};

static int rec(struct task_cx *cx, void *arg)
{
        struct rec *f = arg;
        TASK_BEGIN(f);
        f->out = f->in * 2;
        f->thread = pthread_self();
        f->id = task_cx_id(cx);
        TCHECK(task_cx_runtime(cx) != NULL);
        atomic_fetch_add(f->ran, 1);
        TASK_END(f);
}

Test(spawn, task_runs_on_a_worker_and_returns_result, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int ran = 0;
        struct rec f = {.in = 21, .ran = &ran};
        task_handle *h = NULL;
        struct rec *res;

        cr_assert_eq(task_runtime_workers(rt), 2);
        cr_assert_eq(TASK_SPAWN(rt, rec, &f, &h), 0);
        cr_assert_not_null(h);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert(task_handle_finished(h));
        res = task_handle_frame(h);
        cr_assert_not_null(res);
        cr_assert_eq(res->out, 42);
        cr_assert_eq(atomic_load(&ran), 1);
        cr_assert_not(
            pthread_equal(res->thread, pthread_self()),
            "a multi-thread runtime ran the task on the spawning thread");
        cr_assert_neq(res->id, 0);
        cr_assert_eq(res->id, task_handle_id(h),
                     "task_cx_id differs from task_handle_id");
        /* The caller's frame is the caller's: the task worked on a copy. */
        cr_assert_eq(f.out, 0);
        cr_assert_neq((void *)res, (void *)&f);
        tcheck_assert_none();
        task_handle_release(h);
        test_rt_free(rt);
}

/* ---- The frame is copied at spawn time ------------------------------------ */

struct gated_copy {
        TASK_FRAME;
        struct gate *g;
        int value;
        int seen;
};

static int gated_copy(struct task_cx *cx, void *arg)
{
        struct gated_copy *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        f->seen = f->value;
        TASK_END(f);
}

Test(spawn, frame_is_copied_at_spawn, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct gate g;
        struct gated_copy f = {.value = 5};
        task_handle *h = NULL;

        gate_init(&g);
        f.g = &g;
        cr_assert_eq(TASK_SPAWN(rt, gated_copy, &f, &h), 0);
        /* Changing (then destroying) the caller's frame must not matter. */
        f.value = 99;
        memset(&f, 0xa5, sizeof f);
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct gated_copy *)task_handle_frame(h))->seen, 5);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Many spawns from outside --------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

Test(spawn, many_spawns_from_outside_each_run_once, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        long n = test_scaled(20000, 500);
        task_handle **hs = calloc((size_t)n, sizeof *hs);
        atomic_int ran = 0;
        uint64_t *ids = calloc((size_t)n, sizeof *ids);

        cr_assert_not_null(hs);
        for (long i = 0; i < n; i++) {
                struct rec f = {.in = (int)i, .ran = &ran};
                int rc = TASK_SPAWN(rt, rec, &f, &hs[i]);
                cr_assert_eq(rc, 0, "spawn %ld: %d", i, rc);
        }
        for (long i = 0; i < n; i++) {
                struct rec *res;
                cr_assert_eq(task_join_blocking(hs[i]), 0);
                res = task_handle_frame(hs[i]);
                cr_assert_eq(res->out, 2 * (int)i);
                ids[i] = task_handle_id(hs[i]);
                cr_assert_eq(ids[i], res->id);
                task_handle_release(hs[i]);
        }
        cr_assert_eq(atomic_load(&ran), n);
        /* Ids are unique (and never 0). */
        qsort(ids, (size_t)n, sizeof ids[0], cmp_u64);
        cr_assert_neq(ids[0], 0);
        for (long i = 1; i < n; i++)
                cr_assert_neq(ids[i], ids[i - 1], "duplicate id");
        tcheck_assert_none();
        free(ids);
        free(hs);
        test_rt_free(rt);
}

Test(spawn, ids_are_unique_across_runtimes, .timeout = 20)
{
        task_runtime *a = test_rt_new_mt(1),
                     *b = test_rt_new(TASK_CURRENT_THREAD, 0);
        enum { N = 2000 };
        uint64_t ids[2 * N];
        atomic_int ran = 0;

        for (int i = 0; i < N; i++) {
                struct rec f = {.ran = &ran};
                task_handle *h1, *h2;
                cr_assert_eq(TASK_SPAWN(a, rec, &f, &h1), 0);
                cr_assert_eq(TASK_SPAWN(b, rec, &f, &h2), 0);
                ids[2 * i] = task_handle_id(h1);
                ids[2 * i + 1] = task_handle_id(h2);
                task_handle_release(h1);
                task_handle_release(h2);
        }
        qsort(ids, 2 * N, sizeof ids[0], cmp_u64);
        cr_assert_neq(ids[0], 0);
        for (int i = 1; i < 2 * N; i++)
                cr_assert_neq(ids[i], ids[i - 1], "duplicate id %llu",
                              (unsigned long long)ids[i]);
        test_rt_free(a);
        test_rt_free(b);
}

/* ---- Spawning from inside a task ------------------------------------------- */

struct fanout {
        TASK_FRAME;
        int n, i;
        task_handle *hs[64];
        atomic_int *ran;
        int sum;
        int rc;
        int spawn_err;
};

static int fanout(struct task_cx *cx, void *arg)
{
        struct fanout *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                struct rec c = {.in = f->i, .ran = f->ran};
                int rc = TASK_SPAWN(task_cx_runtime(cx), rec, &c, &f->hs[f->i]);
                if (rc)
                        f->spawn_err = rc;
        }
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_JOIN(f, f->hs[f->i], &f->rc);
                TCHECK(f->rc == 0);
                f->sum += ((struct rec *)task_handle_frame(f->hs[f->i]))->out;
                task_handle_release(f->hs[f->i]);
        }
        TASK_END(f);
}

Test(spawn, spawn_from_inside_a_task_and_join, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int ran = 0;
        struct fanout f = {.n = 64, .ran = &ran};
        int rc = task_block_on(rt, fanout, &f, sizeof f);

        cr_assert_eq(rc, 0, "block_on: %d", rc);
        cr_assert_eq(f.spawn_err, 0, "spawn inside: %d", f.spawn_err);
        cr_assert_eq(atomic_load(&ran), 64);
        /* sum of 2*i for i < 64 */
        cr_assert_eq(f.sum, 64 * 63);
        tcheck_assert_none();
        test_rt_free(rt);
}

/* ---- block_on copies the frame in and out ---------------------------------- */

struct bo {
        TASK_FRAME;
        int in, out, yields;
        pthread_t thread;
};

static int bo(struct task_cx *cx, void *arg)
{
        struct bo *f = arg;
        TASK_BEGIN(f);
        f->thread = pthread_self();
        for (f->out = 0; f->out < f->in; f->out++)
                TASK_YIELD(f);
        TASK_END(f);
}

Test(spawn, block_on_copies_frame_back_out, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct bo f = {.in = 10};

        cr_assert_eq(task_block_on(rt, bo, &f, sizeof f), 0);
        cr_assert_eq(f.out, 10);
        cr_assert_not(pthread_equal(f.thread, pthread_self()));
        /* Again, with the same runtime. */
        f.co.lc = 0;
        f.in = 3;
        cr_assert_eq(task_block_on(rt, bo, &f, sizeof f), 0);
        cr_assert_eq(f.out, 3);
        test_rt_free(rt);
}

static void *block_on_thread(void *arg)
{
        task_runtime *rt = arg;
        struct bo f = {.in = 100};
        int rc = task_block_on(rt, bo, &f, sizeof f);
        TCHECK(rc == 0);
        TCHECK(f.out == 100);
        return NULL;
}

Test(spawn, block_on_from_several_threads_at_once, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        pthread_t th[4];

        for (int i = 0; i < 4; i++)
                cr_assert_eq(pthread_create(&th[i], NULL, block_on_thread, rt),
                             0);
        for (int i = 0; i < 4; i++)
                pthread_join(th[i], NULL);
        tcheck_assert_none();
        test_rt_free(rt);
}

/* ---- Frame sizes, alignment and stability -------------------------------- */

struct big {
        TASK_FRAME;
        uint64_t first;
        unsigned char blob[8192];
        uint64_t last;
        uintptr_t addr;
        int polls;
        int ok;
};

static int big(struct task_cx *cx, void *arg)
{
        struct big *f = arg;
        TASK_BEGIN(f);
        f->addr = (uintptr_t)f;
        f->ok = f->first == 0x1122334455667788ull &&
                f->last == 0x8877665544332211ull;
        for (size_t i = 0; i < sizeof f->blob; i++)
                if (f->blob[i] != (unsigned char)(i * 7))
                        f->ok = 0;
        for (f->polls = 1; f->polls < 5; f->polls++) {
                TASK_YIELD(f);
                /* The frame does not move between polls. */
                if ((uintptr_t)f != f->addr)
                        f->ok = 0;
        }
        TASK_END(f);
}

Test(spawn, large_frame_copied_whole_and_stable, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct big *f = calloc(1, sizeof *f);
        task_handle *h;
        struct big *res;

        f->first = 0x1122334455667788ull;
        f->last = 0x8877665544332211ull;
        for (size_t i = 0; i < sizeof f->blob; i++)
                f->blob[i] = (unsigned char)(i * 7);
        cr_assert_eq(TASK_SPAWN(rt, big, f, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        res = task_handle_frame(h);
        cr_assert_eq(res->ok, 1, "frame content or address changed");
        cr_assert_eq(res->polls, 5);
        cr_assert_eq((uintptr_t)res, res->addr,
                     "task_handle_frame is not the frame polled");
        cr_assert_eq(res->addr % 8, 0, "frame not 8-byte aligned");
        task_handle_release(h);
        free(f);
        test_rt_free(rt);
}

struct tiny {
        TASK_FRAME;
};

static atomic_int tiny_runs;

static int tiny(struct task_cx *cx, void *arg)
{
        struct tiny *f = arg;
        TASK_BEGIN(f);
        TCHECK(((uintptr_t)f % alignof(struct task_co)) == 0);
        atomic_fetch_add(&tiny_runs, 1);
        TASK_END(f);
}

Test(spawn, minimal_frame_and_null_site, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct tiny f = {0};
        task_handle *h;

        cr_assert_eq(task_spawn_at(rt, tiny, &f, sizeof f, &h, NULL), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h);
        cr_assert_eq(
            task_spawn_at(rt, tiny, &f, sizeof(struct task_co), &h, NULL), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h);
        cr_assert_eq(atomic_load(&tiny_runs), 2);
        tcheck_assert_none();
        test_rt_free(rt);
}

/* Frames of many sizes, to cross any size-class boundary of the allocator. */
struct sized {
        TASK_FRAME;
        uint32_t size;
        uint32_t sum_in;
        uint32_t sum_seen;
        unsigned char bytes[];
};

static int sized(struct task_cx *cx, void *arg)
{
        struct sized *f = arg;
        TASK_BEGIN(f);
        f->sum_seen = 0;
        for (uint32_t i = 0; i < f->size; i++)
                f->sum_seen += f->bytes[i];
        TASK_YIELD(f);
        TASK_END(f);
}

Test(spawn, frames_of_many_sizes, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        enum { MAXB = 3000 };
        task_handle *hs[MAXB / 37 + 1];
        int n = 0;

        for (uint32_t b = 0; b < MAXB; b += 37) {
                size_t sz = sizeof(struct sized) + b;
                struct sized *f = calloc(1, sz);
                f->size = b;
                for (uint32_t i = 0; i < b; i++) {
                        f->bytes[i] = (unsigned char)(i + b);
                        f->sum_in += f->bytes[i];
                }
                cr_assert_eq(task_spawn(rt, sized, f, sz, &hs[n]), 0);
                n++;
                free(f);
        }
        for (int i = 0; i < n; i++) {
                struct sized *res;
                cr_assert_eq(task_join_blocking(hs[i]), 0);
                res = task_handle_frame(hs[i]);
                cr_assert_eq(res->sum_seen, res->sum_in,
                             "frame of %u extra bytes corrupted", res->size);
                task_handle_release(hs[i]);
        }
        test_rt_free(rt);
}

/* ---- Spawning from foreign threads concurrently --------------------------- */

struct spawner_arg {
        task_runtime *rt;
        int n;
        atomic_int *ran;
};

static void *spawner_thread(void *p)
{
        struct spawner_arg *a = p;
        for (int i = 0; i < a->n; i++) {
                struct rec f = {.in = i, .ran = a->ran};
                int rc = TASK_SPAWN(a->rt, rec, &f, NULL);
                TCHECK(rc == 0);
        }
        return NULL;
}

Test(spawn, concurrent_spawns_from_foreign_threads, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        atomic_int ran = 0;
        struct spawner_arg a = {
            .rt = rt, .n = (int)test_scaled(20000, 500), .ran = &ran};
        pthread_t th[4];

        for (int i = 0; i < 4; i++)
                cr_assert_eq(pthread_create(&th[i], NULL, spawner_thread, &a),
                             0);
        for (int i = 0; i < 4; i++)
                pthread_join(th[i], NULL);
        cr_assert(WAIT_UNTIL(atomic_load(&ran) == 4 * a.n, 20000),
                  "ran %d of %d", atomic_load(&ran), 4 * a.n);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        tcheck_assert_none();
        test_rt_free(rt);
}
