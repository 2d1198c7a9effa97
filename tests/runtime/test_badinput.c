/*
 * test_badinput.c - every public function with NULL or out-of-range
 * arguments returns -EINVAL (or ignores them where runtime.h says so);
 * builder knobs out of range are -EINVAL; blocking calls from a worker of
 * the same runtime are -EDEADLK; allocation failures are -ENOMEM with
 * nothing created and nothing leaked.
 *
 * -ENOMEM uses the internal fault-injection hook task__fault_alloc_countdown
 * (runtime-priv.h), so this suite links the internal static library.  When
 * set to N > 0, each internal allocation decrements it and the one that
 * brings it to 0 fails.  ASan's leak checker (in the sanitizer builds) checks
 * that the failure paths free what they had allocated.
 */
#include "helpers.h"

#include "runtime-priv.h"

#include <limits.h>

struct nop {
        TASK_FRAME;
        int v;
};

static int nop(struct task_cx *cx, void *arg)
{
        struct nop *f = arg;
        TASK_BEGIN(f);
        f->v++;
        TASK_END(f);
}

/* ---- task_strerror ---------------------------------------------------------------- */

Test(badinput, strerror_never_null)
{
        const int codes[] = {0,         EINVAL,  ENOMEM, ESHUTDOWN,
                             ECANCELED, EDEADLK, EBUSY};
        const char *s[7];

        for (int i = 0; i < 7; i++) {
                s[i] = task_strerror(-codes[i]);
                cr_assert_not_null(s[i]);
                cr_assert_gt(strlen(s[i]), 0, "empty string for %d", -codes[i]);
                cr_assert_str_eq(task_strerror(codes[i]), s[i],
                                 "absolute value %d gives another string",
                                 codes[i]);
        }
        for (int i = 1; i < 7; i++)
                for (int j = i + 1; j < 7; j++)
                        cr_assert_str_neq(s[i], s[j],
                                          "%d and %d share a message",
                                          -codes[i], -codes[j]);
        cr_assert_not_null(task_strerror(-12345));
        cr_assert_not_null(task_strerror(12345));
        cr_assert_not_null(task_strerror(INT_MAX));
        cr_assert_not_null(task_strerror(INT_MIN));
}

/* ---- Building ---------------------------------------------------------------------- */

static int try_new(struct task_runtime_opts *o)
{
        task_runtime *rt = (task_runtime *)0x1;
        int rc = task_runtime_new(o, &rt);

        if (rc == 0) {
                cr_assert_neq(rt, (task_runtime *)0x1);
                test_rt_free(rt);
        } else {
                cr_assert_eq(rt, (task_runtime *)0x1,
                             "a failed task_runtime_new wrote *out");
        }
        return rc;
}

Test(badinput, runtime_new_null_out)
{
        struct task_runtime_opts o;

        task_runtime_opts_init(&o);
        cr_assert_eq(task_runtime_new(&o, NULL), -EINVAL);
        cr_assert_eq(task_runtime_new(NULL, NULL), -EINVAL);
}

Test(badinput, runtime_new_null_opts_is_defaults, .timeout = 10)
{
        cr_assert_eq(try_new(NULL), 0);
}

Test(badinput, queue_size_must_be_power_of_two_in_range, .timeout = 20)
{
        const unsigned bad[] = {1,     3,      5,        6,       7,
                                100,   255,    257,      1000,    65535,
                                65537, 131072, 1u << 31, UINT_MAX};
        const unsigned good[] = {0, 2, 4, 256, 1024, 65536};
        struct task_runtime_opts o;

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                task_runtime_opts_init(&o);
                o.workers = 1;
                o.queue_size = bad[i];
                cr_assert_eq(try_new(&o), -EINVAL, "queue_size %u accepted",
                             bad[i]);
        }
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
                task_runtime_opts_init(&o);
                o.workers = 1;
                o.queue_size = good[i];
                cr_assert_eq(try_new(&o), 0, "queue_size %u refused", good[i]);
        }
}

Test(badinput, workers_limit, .timeout = 60)
{
        struct task_runtime_opts o;

        task_runtime_opts_init(&o);
        o.workers = 1025;
        cr_assert_eq(try_new(&o), -EINVAL);
        o.workers = UINT_MAX;
        cr_assert_eq(try_new(&o), -EINVAL);
        if (!TEST_ASAN && !TEST_TSAN) {
                o.workers = 1024;
                cr_assert_eq(try_new(&o), 0,
                             "1024 workers (the documented maximum) refused");
        }
}

Test(badinput, bad_flavor)
{
        struct task_runtime_opts o;

        task_runtime_opts_init(&o);
        o.flavor = (enum task_flavor)2;
        cr_assert_eq(try_new(&o), -EINVAL);
        o.flavor = (enum task_flavor) - 1;
        cr_assert_eq(try_new(&o), -EINVAL);
}

Test(badinput, opts_init_defaults)
{
        struct task_runtime_opts o;

        memset(&o, 0xa5, sizeof o);
        task_runtime_opts_init(&o);
        cr_assert_eq(o.flavor, TASK_MULTI_THREAD);
        cr_assert_eq(o.disable_lifo_slot, false);
        cr_assert_null(o.on_thread_start);
        cr_assert_null(o.on_thread_stop);
        cr_assert_null(o.on_stall);
        cr_assert_eq(o.stall_threshold_ns, 0);
        cr_assert(o.workers <= 1024);
        cr_assert(o.queue_size == 0 || o.queue_size == 256);
        cr_assert(o.budget == 0 || o.budget == 128);
        cr_assert(o.global_queue_interval == 0 ||
                  o.global_queue_interval == 61);
        cr_assert(o.max_lifo_polls == 0 || o.max_lifo_polls == 3);
}

/* ---- NULL runtime ------------------------------------------------------------------ */

Test(badinput, null_runtime_everywhere)
{
        struct nop f = {0};
        struct task_runtime_metrics m;
        struct task_worker_metrics wm;
        task_handle *h = (task_handle *)0x1;

        cr_assert_eq(task_runtime_shutdown(NULL), -EINVAL);
        cr_assert_eq(task_runtime_free(NULL), -EINVAL);
        cr_assert_eq(task_runtime_workers(NULL), 0);
        cr_assert_eq(TASK_SPAWN(NULL, nop, &f, &h), -EINVAL);
        cr_assert_eq(h, (task_handle *)0x1);
        cr_assert_eq(task_spawn_at(NULL, nop, &f, sizeof f, NULL, NULL),
                     -EINVAL);
        cr_assert_eq(task_block_on(NULL, nop, &f, sizeof f), -EINVAL);
        cr_assert_eq(task_runtime_metrics(NULL, &m), -EINVAL);
        cr_assert_eq(task_worker_metrics(NULL, 0, &wm), -EINVAL);
        cr_assert_eq(task_runtime_dump(NULL, NULL, NULL), -EINVAL);
        cr_assert_eq(task_runtime_dump_file(NULL, stderr), -EINVAL);
}

Test(badinput, null_handles_and_wakers)
{
        struct task_cx cx = {0};
        int rc = 1;

        cr_assert_eq(task_join_blocking(NULL), -EINVAL);
        cr_assert_eq(task_handle_id(NULL), 0);
        cr_assert_null(task_handle_frame(NULL));
        cr_assert_not(task_handle_finished(NULL));
        task_abort(NULL);
        task_handle_release(NULL);
        /* A join poll on nothing is ready at once, with -EINVAL. */
        cr_assert(task_join_poll(&cx, NULL, &rc));
        cr_assert_eq(rc, -EINVAL);
        rc = 1;
        cr_assert(task_join_poll(NULL, NULL, &rc));
        cr_assert_eq(rc, -EINVAL);
        cr_assert(task_join_poll(&cx, NULL, NULL));
        /* Wakers: NULL in, nothing done, NULL out. */
        cr_assert_null(task_cx_waker(NULL));
        cr_assert_null(task_cx_waker(&cx)); /* no task behind this cx */
        cr_assert_null(task_waker_clone(NULL));
        task_wake(NULL);
        task_wake_by_ref(NULL);
        task_waker_drop(NULL);
        cr_assert_eq(task_cx_id(NULL), 0);
        cr_assert_eq(task_cx_id(&cx), 0);
}

Test(badinput, task_main_run_bad_arguments, .timeout = 20)
{
        struct nop f = {0};
        int code = 7;

        /* block_on refuses; task_main_run says so and returns 1, not the
         * frame's exit code, and runs nothing. */
        cr_assert_eq(task_main_run(NULL, &f, sizeof f, &code), 1);
        cr_assert_eq(task_main_run(nop, NULL, sizeof f, &code), 1);
        cr_assert_eq(task_main_run(nop, &f, 0, &code), 1);
        cr_assert_eq(f.v, 0);
        /* Good arguments: the frame's exit code (NULL means 0). */
        cr_assert_eq(task_main_run(nop, &f, sizeof f, &code), 7);
        cr_assert_eq(f.v, 1);
        cr_assert_eq(task_main_run(nop, &f, sizeof f, NULL), 0);
        test_leak_check();
}

/* ---- Spawn and block_on arguments --------------------------------------------------- */

static int dump_never(const struct task_info *ti, void *arg)
{
        (void)ti;
        (void)arg;
        return 0;
}

Test(badinput, spawn_bad_arguments, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct nop f = {0};
        task_handle *h = (task_handle *)0x1;
        int rc;

        cr_assert_eq(task_spawn_at(rt, NULL, &f, sizeof f, &h, NULL), -EINVAL,
                     "NULL fn");
        cr_assert_eq(task_spawn_at(rt, nop, NULL, sizeof f, &h, NULL), -EINVAL,
                     "NULL frame with a size");
        cr_assert_eq(task_spawn_at(rt, nop, &f, 1, &h, NULL), -EINVAL,
                     "size below sizeof(struct task_co)");
        cr_assert_eq(
            task_spawn_at(rt, nop, &f, sizeof(struct task_co) - 1, &h, NULL),
            -EINVAL);
        rc = task_spawn_at(rt, nop, &f, SIZE_MAX, &h, NULL);
        cr_assert(rc == -EINVAL || rc == -ENOMEM, "SIZE_MAX frame: %d", rc);
        rc = task_spawn_at(rt, nop, &f, SIZE_MAX / 2, &h, NULL);
        cr_assert(rc == -EINVAL || rc == -ENOMEM, "SIZE_MAX/2 frame: %d", rc);
        cr_assert_eq(h, (task_handle *)0x1, "a failed spawn wrote *out");
        cr_assert_eq(task_runtime_dump(rt, dump_never, NULL), 0,
                     "a failed spawn left a task");
        {
                struct task_runtime_metrics m;
                cr_assert_eq(task_runtime_metrics(rt, &m), 0);
                cr_assert_eq(m.tasks_spawned, 0);
        }
        test_rt_free(rt);
}

Test(badinput, block_on_bad_arguments, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct nop f = {0};

        cr_assert_eq(task_block_on(rt, NULL, &f, sizeof f), -EINVAL);
        cr_assert_eq(task_block_on(rt, nop, NULL, sizeof f), -EINVAL);
        cr_assert_eq(task_block_on(rt, nop, &f, 1), -EINVAL);
        cr_assert_eq(f.v, 0);
        cr_assert_eq(task_block_on(rt, nop, &f, sizeof f), 0);
        cr_assert_eq(f.v, 1);
        test_rt_free(rt);
}

Test(badinput, dump_bad_arguments, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);

        cr_assert_eq(task_runtime_dump(rt, NULL, NULL), -EINVAL);
        cr_assert_eq(task_runtime_dump_file(rt, NULL), -EINVAL);
        test_rt_free(rt);
}

/* ---- -EDEADLK ----------------------------------------------------------------------- */

struct deadlk {
        TASK_FRAME;
        task_handle *child;
        int rc_join, rc_block_on, rc_free, rc_shutdown;
        int rc_join_after;
};

static int deadlk(struct task_cx *cx, void *arg)
{
        struct deadlk *f = arg;
        struct nop n = {0};
        TASK_BEGIN(f);
        TCHECK(TASK_SPAWN(task_cx_runtime(cx), nop, &n, &f->child) == 0);
        f->rc_join = task_join_blocking(f->child);
        f->rc_block_on = task_block_on(task_cx_runtime(cx), nop, &n, sizeof n);
        f->rc_free = task_runtime_free(task_cx_runtime(cx));
        f->rc_shutdown = task_runtime_shutdown(task_cx_runtime(cx));
        TASK_JOIN(f, f->child, &f->rc_join_after);
        task_handle_release(f->child);
        TASK_END(f);
}

Test(badinput, blocking_calls_from_worker_are_edeadlk, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct deadlk f = {0};

        cr_assert_eq(task_block_on(rt, deadlk, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_eq(f.rc_join, -EDEADLK, "join_blocking from a worker: %d",
                     f.rc_join);
        cr_assert_eq(f.rc_block_on, -EDEADLK, "block_on from a worker: %d",
                     f.rc_block_on);
        cr_assert_eq(f.rc_free, -EDEADLK, "free from a worker: %d", f.rc_free);
        cr_assert_eq(f.rc_shutdown, -EDEADLK, "shutdown from a worker: %d",
                     f.rc_shutdown);
        cr_assert_eq(f.rc_join_after, 0);
        test_rt_free(rt);
}

/* ---- -ENOMEM by fault injection --------------------------------------------------- */

static void fault_set(long n)
{
        atomic_store(&task__fault_alloc_countdown, n);
}

static void new_until_success(enum task_flavor flavor, unsigned workers)
{
        struct task_runtime_opts o;
        int failures = 0;
        long n;

        task_runtime_opts_init(&o);
        o.flavor = flavor;
        o.workers = workers;
        for (n = 1; n < 10000; n++) {
                task_runtime *rt = (task_runtime *)0x1;
                int rc;

                fault_set(n);
                rc = task_runtime_new(&o, &rt);
                fault_set(0);
                /*
                 * -ENOMEM, or -EAGAIN where the failing "allocation" is a
                 * worker thread: runtime.h returns "the -errno of a failed
                 * pthread_create" then.
                 */
                if (rc == -ENOMEM ||
                    (rc == -EAGAIN && flavor == TASK_MULTI_THREAD)) {
                        cr_assert_eq(rt, (task_runtime *)0x1,
                                     "failed new wrote *out");
                        failures++;
                        continue;
                }
                cr_assert_eq(rc, 0, "allocation %ld failing: rc %d (%s)", n, rc,
                             task_strerror(rc));
                test_rt_free(rt);
                break;
        }
        cr_assert_lt(n, 10000, "task_runtime_new never succeeded");
        cr_assert_gt(failures, 0,
                     "no allocation of task_runtime_new went through the hook");
        cr_assert_eq(failures, n - 1,
                     "allocation failures %d, but success only at %ld",
                     failures, n);
        cr_log_info("task_runtime_new: %d allocations checked", failures);
}

Test(badinput, runtime_new_enomem_multi_thread, .timeout = 30)
{
        new_until_success(TASK_MULTI_THREAD, 3);
}

Test(badinput, runtime_new_enomem_current_thread, .timeout = 30)
{
        new_until_success(TASK_CURRENT_THREAD, 0);
}

static int count_cb(const struct task_info *ti, void *arg)
{
        (void)ti;
        (*(int *)arg)++;
        return 0;
}

static int live(task_runtime *rt)
{
        int n = 0;
        cr_assert_geq(task_runtime_dump(rt, count_cb, &n), 0);
        return n;
}

struct big_nop {
        TASK_FRAME;
        char blob[6000]; /* beyond the slab classes: a large block */
        int v;
};

static int big_nop(struct task_cx *cx, void *arg)
{
        struct big_nop *f = arg;
        TASK_BEGIN(f);
        f->v++;
        TASK_END(f);
}

Test(badinput, spawn_enomem_from_outside, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct nop f = {0};
        struct big_nop *b = calloc(1, sizeof *b);
        task_handle *h = (task_handle *)0x1;
        struct task_runtime_metrics m;
        int rc;

        /* Workers are idle: the only allocation now is the spawn's. */
        fault_set(1);
        rc = TASK_SPAWN(rt, nop, &f, &h);
        fault_set(0);
        cr_assert_eq(rc, -ENOMEM, "spawn under a failing allocation: %d", rc);
        cr_assert_eq(h, (task_handle *)0x1, "a failed spawn wrote *out");

        fault_set(1);
        rc = TASK_SPAWN(rt, big_nop, b, &h);
        fault_set(0);
        cr_assert_eq(rc, -ENOMEM, "large spawn under a failing allocation: %d",
                     rc);
        cr_assert_eq(h, (task_handle *)0x1);

        cr_assert_eq(task_runtime_metrics(rt, &m), 0);
        cr_assert_eq(m.tasks_spawned, 0);
        cr_assert_eq(m.tasks_alive, 0);
        cr_assert_eq(live(rt), 0);

        /* And it works again afterwards. */
        cr_assert_eq(TASK_SPAWN(rt, nop, &f, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h);
        cr_assert_eq(TASK_SPAWN(rt, big_nop, b, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h);
        free(b);
        test_rt_free(rt);
}

struct spawn_fail {
        TASK_FRAME;
        int rc_small, rc_large, rc_after;
        task_handle *h;
        int rc;
};

static int spawn_fail(struct task_cx *cx, void *arg)
{
        struct spawn_fail *f = arg;
        TASK_BEGIN(f);
        {
                struct nop n = {0};
                struct big_nop *b = calloc(1, sizeof *b);
                task_handle *h = (task_handle *)0x1;
                fault_set(1);
                f->rc_small = TASK_SPAWN(task_cx_runtime(cx), nop, &n, &h);
                fault_set(1);
                f->rc_large = TASK_SPAWN(task_cx_runtime(cx), big_nop, b, &h);
                fault_set(0);
                TCHECK(h == (task_handle *)0x1);
                f->rc_after = TASK_SPAWN(task_cx_runtime(cx), nop, &n, &f->h);
                free(b);
        }
        if (f->rc_after == 0) {
                TASK_JOIN(f, f->h, &f->rc);
                task_handle_release(f->h);
        }
        TASK_END(f);
}

Test(badinput, spawn_enomem_from_a_task, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct spawn_fail f = {0};

        cr_assert_eq(task_block_on(rt, spawn_fail, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_eq(f.rc_small, -ENOMEM);
        cr_assert_eq(f.rc_large, -ENOMEM);
        cr_assert_eq(f.rc_after, 0);
        cr_assert_eq(f.rc, 0);
        test_rt_free(rt);
}

Test(badinput, spawn_enomem_current_thread, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct nop f = {0};
        task_handle *h = (task_handle *)0x1;
        int rc;

        fault_set(1);
        rc = TASK_SPAWN(rt, nop, &f, &h);
        fault_set(0);
        cr_assert_eq(rc, -ENOMEM);
        cr_assert_eq(h, (task_handle *)0x1);
        cr_assert_eq(live(rt), 0);
        fault_set(1);
        rc = task_block_on(rt, nop, &f, sizeof f);
        fault_set(0);
        cr_assert_eq(rc, -ENOMEM, "block_on under a failing allocation: %d",
                     rc);
        cr_assert_eq(f.v, 0, "the task ran although block_on failed");
        test_rt_free(rt);
}

/* Many spawns with failures sprinkled in: the successes all run, nothing
 * leaks (checked by LSan in the sanitizer build). */
struct counted {
        TASK_FRAME;
        atomic_int *ran;
};

static int counted(struct task_cx *cx, void *arg)
{
        struct counted *f = arg;
        TASK_BEGIN(f);
        atomic_fetch_add(f->ran, 1);
        TASK_END(f);
}

struct wait_ran {
        TASK_FRAME;
        atomic_int *ran;
        int want;
};

static int wait_ran(struct task_cx *cx, void *arg)
{
        struct wait_ran *f = arg;
        TASK_BEGIN(f);
        while (atomic_load(f->ran) < f->want)
                TASK_YIELD(f);
        TASK_END(f);
}

Test(badinput, sprinkled_spawn_failures, .timeout = 20)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int ran = 0;
        struct counted f = {.ran = &ran};
        int ok = 0, failed = 0;
        struct task_runtime_metrics m;

        for (int i = 0; i < 5000; i++) {
                int rc;
                if (i % 7 == 0)
                        fault_set(1);
                rc = TASK_SPAWN(rt, counted, &f, NULL);
                fault_set(0);
                if (rc == 0)
                        ok++;
                else if (rc == -ENOMEM)
                        failed++;
                else
                        cr_assert_fail("spawn: %d", rc);
        }
        cr_assert_eq(failed, (5000 + 6) / 7);
        cr_assert_eq(task_runtime_metrics(rt, &m), 0);
        cr_assert_eq(m.tasks_spawned, (uint64_t)ok);
        {
                struct wait_ran w = {.ran = &ran, .want = ok};
                cr_assert_eq(task_block_on(rt, wait_ran, &w, sizeof w), 0);
        }
        cr_assert_eq(atomic_load(&ran), ok, "%d of %d spawned tasks ran",
                     atomic_load(&ran), ok);
        test_rt_free(rt);
}

/* ---- task_strerror ------------------------------------------------------- */

Test(badinput, strerror_names_every_libtask_code)
{
        const int codes[] = {0,          -EINVAL,    -ENOMEM, -ESHUTDOWN,
                             -ECANCELED, -EDEADLK,   -EBUSY,  -EPIPE,
                             -EAGAIN,    -EOVERFLOW, -ECHILD};
        for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
                const char *s = task_strerror(codes[i]);
                cr_assert_not_null(s);
                cr_assert_neq(strlen(s), 0);
                /* Same text for -e and e; never glibc's "Unknown error". */
                cr_assert_str_eq(s, task_strerror(-codes[i]));
                cr_assert_null(strstr(s, "Unknown"), "%d: %s", codes[i], s);
        }
        cr_assert_str_eq(task_strerror(-EPIPE),
                         "closed: the other side is gone");
        cr_assert_str_eq(task_strerror(INT_MIN), "unknown error");
}
