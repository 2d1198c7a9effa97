/*
 * test_blocking.c - the blocking pool (libtask/blocking.h): results through
 * join handles from tasks and plain threads, both flavors, a stress of many
 * submitters on 2 workers, the thread cap, the keep-alive (threads go away;
 * a huge one saturates and never times out), the pool threads' name,
 * abort before a job starts (it never runs) and while it runs (the task
 * ends only after fn returned), detached jobs, shutdown (running jobs
 * finish, queued ones are dropped), bad input, and -ENOMEM / -EAGAIN by
 * fault injection (task__fault_alloc, runtime-priv.h: this suite links the
 * internal library).
 */
#include "helpers.h"

#include "runtime-priv.h"

#include <dirent.h>
#include <libtask/blocking.h>

/* ---- Tools ---------------------------------------------------------------- */

/* Threads in this process, from /proc/self/task. */
static int thread_count(void)
{
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)) != NULL)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void *noop_thread(void *arg)
{
        return arg;
}

/*
 * The thread count to compare with later: taken after one thread has come
 * and gone, so that threads a sanitizer starts with the first
 * pthread_create() (TSan's background thread) are already counted.
 */
static int thread_baseline(void)
{
        pthread_t th;

        cr_assert_eq(pthread_create(&th, NULL, noop_thread, NULL), 0);
        pthread_join(th, NULL);
        return thread_count();
}

static task_runtime *rt_with(enum task_flavor flavor, unsigned workers,
                             unsigned max_threads, uint64_t keep_alive_ns)
{
        struct task_runtime_opts o;
        task_runtime *rt = NULL;

        task_runtime_opts_init(&o);
        o.flavor = flavor;
        o.workers = workers;
        o.max_blocking_threads = max_threads;
        o.blocking_keep_alive_ns = keep_alive_ns;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        return rt;
}

/* Block (bounded: 10 s) until *@flag is set. */
static void wait_flag(atomic_int *flag)
{
        for (int i = 0; i < 10000 && !atomic_load(flag); i++)
                sleep_ms(1);
}

static void *double_it(void *arg)
{
        return (void *)((uintptr_t)arg * 2);
}

static atomic_long runs;

static void *count_run(void *arg)
{
        atomic_fetch_add(&runs, 1);
        return arg;
}

/* A job that says it started, then waits for a release. */
struct held {
        atomic_int started, release, finished;
};

static void *held_job(void *arg)
{
        struct held *hj = arg;

        atomic_store(&hj->started, 1);
        wait_flag(&hj->release);
        atomic_store(&hj->finished, 1);
        return hj;
}

static void held_init(struct held *hj)
{
        atomic_init(&hj->started, 0);
        atomic_init(&hj->release, 0);
        atomic_init(&hj->finished, 0);
}

/* ---- From a task, both flavors -------------------------------------------- */

struct one {
        TASK_FRAME;
        task_handle *h;
        uintptr_t in;
        int spawn_rc, join_rc;
        void *out;
};

static int one_fn(struct task_cx *cx, void *arg)
{
        struct one *f = arg;

        TASK_BEGIN(f);
        f->spawn_rc =
            task_spawn_blocking(cx->rt, double_it, (void *)f->in, &f->h);
        if (f->spawn_rc)
                TASK_RETURN(f);
        TASK_JOIN(f, f->h, &f->join_rc);
        f->out = task_blocking_result(f->h);
        task_handle_release(f->h);
        TASK_END(f);
}

static void one_from_task(enum task_flavor flavor)
{
        task_runtime *rt = test_rt_new_flavor(flavor);

        for (uintptr_t i = 1; i <= 20; i++) {
                struct one f = {.in = i};
                cr_assert_eq(task_block_on(rt, one_fn, &f, sizeof f), 0);
                cr_assert_eq(f.spawn_rc, 0);
                cr_assert_eq(f.join_rc, 0);
                cr_assert_eq((uintptr_t)f.out, 2 * i);
        }
        test_rt_free(rt);
}

Test(blocking, result_through_join_multi_thread, .timeout = 30)
{
        one_from_task(TASK_MULTI_THREAD);
}

Test(blocking, result_through_join_current_thread, .timeout = 30)
{
        one_from_task(TASK_CURRENT_THREAD);
}

/* ---- From a plain thread -------------------------------------------------- */

Test(blocking, spawn_and_join_from_plain_thread, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_handle *h[16];

        for (uintptr_t i = 0; i < 16; i++)
                cr_assert_eq(
                    task_spawn_blocking(rt, double_it, (void *)i, &h[i]), 0);
        for (uintptr_t i = 0; i < 16; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq((uintptr_t)task_blocking_result(h[i]), 2 * i);
                task_handle_release(h[i]);
        }
        test_rt_free(rt);
}

/* The current-thread flavor runs jobs with nobody in task_block_on: the
 * job runs on the pool, and a later block_on ends its task. */
Test(blocking, current_thread_job_runs_outside_block_on, .timeout = 30)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        task_handle *h;

        atomic_store(&runs, 0);
        cr_assert_eq(task_spawn_blocking(rt, count_run, (void *)7, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&runs) == 1, 5000));
        /* The pool thread wakes the task just after fn returns. */
        for (int i = 0; i < 10000 && !task_handle_finished(h); i++) {
                ct_settle(rt);
                if (!task_handle_finished(h))
                        sleep_ms(1);
        }
        cr_assert(task_handle_finished(h));
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq((uintptr_t)task_blocking_result(h), 7);
        task_handle_release(h);
        test_rt_free(rt);
}

/* ---- Stress: many submitters on 2 workers --------------------------------- */

#define BATCH 4

struct submitter {
        TASK_FRAME;
        long jobs; /* to run, in batches of BATCH */
        uintptr_t base;
        long i;
        int k;
        task_handle *h[BATCH];
        int rc;
};

static void *plus_one(void *arg)
{
        atomic_fetch_add_explicit(&runs, 1, memory_order_relaxed);
        return (void *)((uintptr_t)arg + 1);
}

static int submitter_fn(struct task_cx *cx, void *arg)
{
        struct submitter *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->jobs; f->i += BATCH) {
                for (f->k = 0; f->k < BATCH; f->k++) {
                        int rc = task_spawn_blocking(
                            cx->rt, plus_one,
                            (void *)(f->base + (uintptr_t)(f->i + f->k)),
                            &f->h[f->k]);
                        TCHECK(rc == 0);
                        if (rc)
                                f->h[f->k] = NULL;
                }
                for (f->k = 0; f->k < BATCH; f->k++) {
                        if (!f->h[f->k])
                                continue;
                        TASK_JOIN(f, f->h[f->k], &f->rc);
                        TCHECK(f->rc == 0);
                        TCHECK((uintptr_t)task_blocking_result(f->h[f->k]) ==
                               f->base + (uintptr_t)(f->i + f->k) + 1);
                        task_handle_release(f->h[f->k]);
                }
        }
        TASK_END(f);
}

Test(blocking, stress_many_submitters_two_workers, .timeout = 240)
{
        task_runtime *rt = test_rt_new_mt(2);
        const int nsub = 64;
        long total = test_scaled(100000, 4096);
        long per = (total / nsub + BATCH - 1) / BATCH * BATCH;
        task_handle *h[64];

        atomic_store(&runs, 0);
        uint64_t t0 = now_ns();
        for (int s = 0; s < nsub; s++) {
                struct submitter f = {.jobs = per, .base = (uintptr_t)s << 32};
                cr_assert_eq(TASK_SPAWN(rt, submitter_fn, &f, &h[s]), 0);
        }
        for (int s = 0; s < nsub; s++) {
                cr_assert_eq(task_join_blocking(h[s]), 0);
                task_handle_release(h[s]);
        }
        uint64_t t1 = now_ns();
        tcheck_assert_none();
        cr_assert_eq(atomic_load(&runs), per * nsub);
        cr_log_info("%ld jobs from %d submitters: %.0f ns per job\n",
                    per * nsub, nsub, (double)(t1 - t0) / (double)(per * nsub));
        test_rt_free(rt);
}

/* ---- The thread cap ------------------------------------------------------- */

static atomic_int running, running_max;

static void *capped_job(void *arg)
{
        int r = atomic_fetch_add(&running, 1) + 1;
        int m = atomic_load(&running_max);
        while (r > m && !atomic_compare_exchange_weak(&running_max, &m, r))
                ;
        sleep_ms(2);
        atomic_fetch_sub(&running, 1);
        return arg;
}

Test(blocking, never_more_threads_than_the_cap, .timeout = 60)
{
        task_runtime *rt = rt_with(TASK_MULTI_THREAD, 2, 4, 0);
        task_handle *h[64];
        int base = thread_baseline();

        atomic_store(&running, 0);
        atomic_store(&running_max, 0);
        for (uintptr_t i = 0; i < 64; i++)
                cr_assert_eq(
                    task_spawn_blocking(rt, capped_job, (void *)i, &h[i]), 0);
        int during = thread_count();
        for (uintptr_t i = 0; i < 64; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq((uintptr_t)task_blocking_result(h[i]), i);
                task_handle_release(h[i]);
        }
        cr_assert_leq(atomic_load(&running_max), 4);
        cr_assert_geq(atomic_load(&running_max), 1);
        cr_assert_leq(during - base, 4, "%d pool threads", during - base);
        cr_assert_leq(thread_count() - base, 4);
        test_rt_free(rt);
}

/* ---- Keep-alive ----------------------------------------------------------- */

#define KA_JOBS 8

static atomic_int ka_arrived, ka_peak;

/* All KA_JOBS run at once (each waits for the others), so there are
 * KA_JOBS pool threads; the last to arrive counts the threads. */
static void *ka_job(void *arg)
{
        if (atomic_fetch_add(&ka_arrived, 1) + 1 == KA_JOBS)
                atomic_store(&ka_peak, thread_count());
        for (int i = 0; i < 10000 && atomic_load(&ka_arrived) < KA_JOBS; i++)
                sleep_ms(1);
        return arg;
}

Test(blocking, idle_threads_exit_after_keep_alive, .timeout = 60)
{
        task_runtime *rt =
            rt_with(TASK_MULTI_THREAD, 2, 0, 50 * 1000000ull /* 50 ms */);
        task_handle *h[KA_JOBS];
        int base = thread_baseline();

        atomic_store(&ka_arrived, 0);
        atomic_store(&ka_peak, 0);
        for (int i = 0; i < KA_JOBS; i++)
                cr_assert_eq(task_spawn_blocking(rt, ka_job, NULL, &h[i]), 0);
        for (int i = 0; i < KA_JOBS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        cr_assert_geq(atomic_load(&ka_peak), base + KA_JOBS);
        cr_assert(WAIT_UNTIL(thread_count() <= base, 5000),
                  "%d threads remain above %d", thread_count(), base);
        /* The pool still works after its threads left. */
        task_handle *h2;
        cr_assert_eq(task_spawn_blocking(rt, double_it, (void *)21, &h2), 0);
        cr_assert_eq(task_join_blocking(h2), 0);
        cr_assert_eq((uintptr_t)task_blocking_result(h2), 42);
        task_handle_release(h2);
        test_rt_free(rt);
}

/* ---- Abort ---------------------------------------------------------------- */

Test(blocking, abort_before_start_skips_the_job, .timeout = 30)
{
        task_runtime *rt = rt_with(TASK_MULTI_THREAD, 2, 1, 0);
        struct held a;
        task_handle *ha, *hb;

        held_init(&a);
        atomic_store(&runs, 0);
        cr_assert_eq(task_spawn_blocking(rt, held_job, &a, &ha), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&a.started), 5000));
        /* The only thread is busy: this one waits in the queue. */
        cr_assert_eq(task_spawn_blocking(rt, count_run, NULL, &hb), 0);
        task_abort(hb);
        /* It ends at once, while the thread is still held. */
        cr_assert_eq(task_join_blocking(hb), -ECANCELED);
        cr_assert_null(task_blocking_result(hb));
        cr_assert_eq(atomic_load(&a.finished), 0);
        atomic_store(&a.release, 1);
        cr_assert_eq(task_join_blocking(ha), 0);
        cr_assert_eq(task_blocking_result(ha), &a);
        task_handle_release(ha);
        task_handle_release(hb);
        test_rt_free(rt);
        cr_assert_eq(atomic_load(&runs), 0, "the aborted job ran");
}

struct abort_join {
        TASK_FRAME;
        struct held *hj;
        task_handle *h;
        int rc;
};

/* A task that awaits a held job; aborting this task does not abort the
 * job (a join handle owner going away detaches, as in Tokio). */
static int abort_join_fn(struct task_cx *cx, void *arg)
{
        struct abort_join *f = arg;

        TASK_BEGIN(f);
        f->rc = task_spawn_blocking(cx->rt, held_job, f->hj, &f->h);
        if (f->rc)
                TASK_RETURN(f);
        TASK_JOIN(f, f->h, &f->rc);
        TASK_CLEANUP(f);
        task_handle_release(f->h);
        TASK_END(f);
}

Test(blocking, abort_while_running_ends_after_fn_returns, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct held a;
        task_handle *h;

        held_init(&a);
        cr_assert_eq(task_spawn_blocking(rt, held_job, &a, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&a.started), 5000));
        task_abort(h);
        /* fn is held: the task cannot have ended (not a timing check: it
         * is guaranteed until the release below). */
        sleep_ms(20);
        cr_assert_not(task_handle_finished(h));
        atomic_store(&a.release, 1);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(atomic_load(&a.finished), 1);
        /* fn ran: its result is kept for the owner. */
        cr_assert_eq(task_blocking_result(h), &a);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(blocking, aborting_the_joiner_detaches_the_job, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct held a;
        struct abort_join f = {0};
        task_handle *h;

        held_init(&a);
        f.hj = &a;
        cr_assert_eq(TASK_SPAWN(rt, abort_join_fn, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&a.started), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        task_handle_release(h);
        atomic_store(&a.release, 1);
        cr_assert(WAIT_UNTIL(atomic_load(&a.finished), 5000));
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        test_rt_free(rt);
}

Test(blocking, abort_race_stress, .timeout = 120)
{
        task_runtime *rt = rt_with(TASK_MULTI_THREAD, 2, 8, 0);
        long n = test_scaled(20000, 1000);
        long ran = 0, cancelled = 0;

        atomic_store(&runs, 0);
        for (long i = 0; i < n; i++) {
                task_handle *h;
                cr_assert_eq(task_spawn_blocking(rt, count_run, (void *)1, &h),
                             0);
                if (i & 1)
                        task_abort(h);
                int rc = task_join_blocking(h);
                void *r = task_blocking_result(h);
                cr_assert(rc == 0 || rc == -ECANCELED);
                if (rc == 0)
                        cr_assert_eq(r, (void *)1);
                if (r)
                        ran++;
                else
                        cancelled++;
                task_handle_release(h);
        }
        /* Every job that reported a result ran, and no other did. */
        cr_assert_eq(atomic_load(&runs), ran);
        cr_assert_eq(ran + cancelled, n);
        test_rt_free(rt);
}

/* ---- Detached ------------------------------------------------------------- */

Test(blocking, released_handle_job_still_runs, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);

        atomic_store(&runs, 0);
        for (int i = 0; i < 100; i++) {
                task_handle *h;
                cr_assert_eq(task_spawn_blocking(rt, count_run, NULL, &h), 0);
                task_handle_release(h);
        }
        cr_assert(WAIT_UNTIL(atomic_load(&runs) == 100, 10000));
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        test_rt_free(rt);
}

/* ---- Shutdown ------------------------------------------------------------- */

static void *short_job(void *arg)
{
        struct held *hj = arg;

        atomic_store(&hj->started, 1);
        sleep_ms(50);
        atomic_store(&hj->finished, 1);
        return hj;
}

static void shutdown_test(enum task_flavor flavor)
{
        int base = thread_baseline();
        task_runtime *rt = rt_with(flavor, flavor ? 0 : 2, 1, 0);
        struct held a;
        task_handle *ha, *hq[4];

        held_init(&a);
        atomic_store(&runs, 0);
        cr_assert_eq(task_spawn_blocking(rt, short_job, &a, &ha), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&a.started), 5000));
        for (int i = 0; i < 4; i++)
                cr_assert_eq(task_spawn_blocking(rt, count_run, NULL, &hq[i]),
                             0);
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        /* The running job finished before the shutdown returned; the
         * queued ones were dropped. */
        cr_assert_eq(atomic_load(&a.finished), 1);
        cr_assert_eq(atomic_load(&runs), 0);
        int rc = task_join_blocking(ha);
        cr_assert(rc == 0 || rc == -ECANCELED);
        cr_assert_eq(task_blocking_result(ha), &a);
        for (int i = 0; i < 4; i++) {
                cr_assert_eq(task_join_blocking(hq[i]), -ECANCELED);
                cr_assert_null(task_blocking_result(hq[i]));
                task_handle_release(hq[i]);
        }
        task_handle_release(ha);
        /* Later spawns are refused. */
        task_handle *h = NULL;
        cr_assert_eq(task_spawn_blocking(rt, count_run, NULL, &h), -ESHUTDOWN);
        cr_assert_null(h);
        cr_assert(WAIT_UNTIL(thread_count() <= base, 5000));
        test_rt_free(rt);
        cr_assert_eq(atomic_load(&runs), 0);
}

Test(blocking, shutdown_waits_for_running_drops_queued_multi_thread,
     .timeout = 30)
{
        shutdown_test(TASK_MULTI_THREAD);
}

Test(blocking, shutdown_waits_for_running_drops_queued_current_thread,
     .timeout = 30)
{
        shutdown_test(TASK_CURRENT_THREAD);
}

/* Freeing a runtime whose pool has idle threads: they are stopped. */
Test(blocking, free_with_idle_threads, .timeout = 30)
{
        int base = thread_baseline();
        task_runtime *rt = test_rt_new_mt(2);
        task_handle *h;

        cr_assert_eq(task_spawn_blocking(rt, double_it, (void *)1, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h);
        test_rt_free(rt);
        cr_assert(WAIT_UNTIL(thread_count() <= base, 5000));
}

/* A job that reports whether its thread is named "task-blocking" (the
 * pool thread names itself as it starts, before its first job). */
static void *name_job(void *arg)
{
        char name[32] = "";

        (void)arg;
        pthread_getname_np(pthread_self(), name, sizeof name);
        return (void *)(uintptr_t)(strcmp(name, "task-blocking") == 0);
}

/*
 * A keep-alive of UINT64_MAX (or anything that overflows now + keep-alive,
 * or the futex's signed timeout) means "never time out": the idle thread
 * must not exit at once (the sum used to wrap into the past).  Checked
 * after 100 ms, which only says "not early"; the free stops it.
 */
Test(blocking, huge_keep_alive_saturates, .timeout = 30)
{
        static const uint64_t ka[] = {UINT64_MAX, UINT64_MAX - 1,
                                      (uint64_t)INT64_MAX + 1};

        for (unsigned k = 0; k < sizeof ka / sizeof ka[0]; k++) {
                int base = thread_baseline();
                task_runtime *rt = rt_with(TASK_MULTI_THREAD, 2, 0, ka[k]);
                int with_rt = thread_count();
                task_handle *h;

                cr_assert_eq(task_spawn_blocking(rt, name_job, NULL, &h), 0);
                cr_assert_eq(task_join_blocking(h), 0);
                cr_assert_eq((uintptr_t)task_blocking_result(h), 1,
                             "pool thread not named task-blocking");
                task_handle_release(h);
                sleep_ms(100);
                cr_assert_eq(thread_count(), with_rt + 1,
                             "keep-alive %llu: the idle thread left early",
                             (unsigned long long)ka[k]);
                test_rt_free(rt);
                cr_assert(WAIT_UNTIL(thread_count() <= base, 5000));
        }
}

/* ---- Bad input ------------------------------------------------------------ */

static int nop_fn(struct task_cx *cx, void *arg)
{
        struct one *f = arg;
        TASK_BEGIN(f);
        TASK_END(f);
}

Test(blocking, bad_input, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_handle *h = (task_handle *)0x1;

        cr_assert_eq(task_spawn_blocking(NULL, double_it, NULL, &h), -EINVAL);
        cr_assert_eq(task_spawn_blocking(rt, NULL, NULL, &h), -EINVAL);
        cr_assert_eq(task_spawn_blocking(rt, double_it, NULL, NULL), -EINVAL);
        cr_assert_eq(h, (task_handle *)0x1, "*out written on failure");
        cr_assert_null(task_blocking_result(NULL));

        /* Not a blocking task's handle: NULL. */
        struct one f = {0};
        cr_assert_eq(TASK_SPAWN(rt, nop_fn, &f, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_null(task_blocking_result(h));
        task_handle_release(h);

        /* Not ended yet: NULL. */
        struct held a;
        held_init(&a);
        cr_assert_eq(task_spawn_blocking(rt, held_job, &a, &h), 0);
        cr_assert_null(task_blocking_result(h));
        atomic_store(&a.release, 1);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(task_blocking_result(h), &a);
        task_handle_release(h);
        test_rt_free(rt);
}

/* ---- Fault injection ------------------------------------------------------- */

/*
 * A fresh runtime, the Nth internal allocation failing: the pool, the task
 * (-ENOMEM) or the first pool thread (-EAGAIN: no thread runs).  Each
 * failure leaves nothing behind (the runtime frees; ASan checks leaks) and
 * the next spawn works.
 */
Test(blocking, enomem_and_eagain_leave_nothing_behind, .timeout = 60)
{
        bool seen_nomem = false, seen_again = false;

        for (long n = 1; n <= 12; n++) {
                task_runtime *rt = test_rt_new_mt(2);
                task_handle *h = (task_handle *)0x1;

                atomic_store(&runs, 0);
                atomic_store(&task__fault_alloc_countdown, n);
                int rc = task_spawn_blocking(rt, count_run, (void *)3, &h);
                atomic_store(&task__fault_alloc_countdown, 0);
                if (rc == 0) {
                        cr_assert_eq(task_join_blocking(h), 0);
                        cr_assert_eq(task_blocking_result(h), (void *)3);
                        task_handle_release(h);
                } else {
                        cr_assert(rc == -ENOMEM || rc == -EAGAIN, "rc %d", rc);
                        cr_assert_eq(h, (task_handle *)0x1);
                        seen_nomem |= rc == -ENOMEM;
                        seen_again |= rc == -EAGAIN;
                        /* Nothing ran, and the pool still works. */
                        cr_assert_eq(
                            task_spawn_blocking(rt, count_run, (void *)4, &h),
                            0);
                        cr_assert_eq(task_join_blocking(h), 0);
                        cr_assert_eq(task_blocking_result(h), (void *)4);
                        task_handle_release(h);
                        cr_assert_eq(atomic_load(&runs), 1);
                }
                test_rt_free(rt);
        }
        cr_assert(seen_nomem, "no -ENOMEM path was hit");
        cr_assert(seen_again, "no -EAGAIN path was hit");
}
