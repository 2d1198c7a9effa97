/*
 * test_metrics.c - runtime and per-worker counters move as the work says:
 * tasks_spawned counts spawns, tasks_alive returns to 0, polls count polls,
 * idle workers park, a full local queue overflows, per-worker counters add
 * up to the runtime's, busy time accrues, the stall detector reports a task
 * that holds its worker; bad arguments are -EINVAL.
 */
#include "helpers.h"

struct yielder {
        TASK_FRAME;
        int n, i;
};

static int yielder(struct task_cx *cx, void *arg)
{
        struct yielder *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++)
                TASK_YIELD(f);
        TASK_END(f);
}

static struct task_runtime_metrics metrics(task_runtime *rt)
{
        struct task_runtime_metrics m;
        memset(&m, 0xff, sizeof m);
        cr_assert_eq(task_runtime_metrics(rt, &m), 0);
        return m;
}

Test(metrics, fresh_runtime, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(3);
        struct task_runtime_metrics m = metrics(rt);

        cr_assert_eq(m.workers, 3);
        cr_assert_eq(m.tasks_alive, 0);
        cr_assert_eq(m.tasks_spawned, 0);
        cr_assert_eq(m.polls, 0);
        cr_assert_eq(m.steal_ops, 0);
        cr_assert_eq(m.steal_tasks, 0);
        cr_assert_eq(m.overflows, 0);
        cr_assert_eq(m.global_queue_depth, 0);
        cr_assert_eq(m.stalls, 0);
        test_rt_free(rt);
}

Test(metrics, spawned_alive_and_polls, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        enum { N = 100, Y = 5 };
        task_handle *hs[N];
        struct task_runtime_metrics m;

        for (int i = 0; i < N; i++) {
                struct yielder f = {.n = Y};
                cr_assert_eq(TASK_SPAWN(rt, yielder, &f, &hs[i]), 0);
        }
        m = metrics(rt);
        cr_assert_eq(m.tasks_spawned, N);
        cr_assert_leq(m.tasks_alive, N);
        for (int i = 0; i < N; i++)
                cr_assert_eq(task_join_blocking(hs[i]), 0);
        cr_assert(WAIT_UNTIL(metrics(rt).tasks_alive == 0, 5000),
                  "tasks_alive stays %llu",
                  (unsigned long long)metrics(rt).tasks_alive);
        m = metrics(rt);
        cr_assert_eq(m.tasks_spawned, N);
        /* Each task is polled Y + 1 times; nothing else runs. */
        cr_assert_eq(m.polls, (uint64_t)N * (Y + 1), "polls %llu, expected %d",
                     (unsigned long long)m.polls, N * (Y + 1));
        for (int i = 0; i < N; i++)
                task_handle_release(hs[i]);
        test_rt_free(rt);
}

Test(metrics, tasks_alive_counts_unfinished_tasks, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_handle *hs[10];

        for (int i = 0; i < 10; i++) {
                struct yielder f = {.n = 1000000000};
                cr_assert_eq(TASK_SPAWN(rt, yielder, &f, &hs[i]), 0);
        }
        sleep_ms(5);
        cr_assert_eq(metrics(rt).tasks_alive, 10);
        for (int i = 0; i < 10; i++)
                task_abort(hs[i]);
        for (int i = 0; i < 10; i++) {
                cr_assert_eq(task_join_blocking(hs[i]), -ECANCELED);
                task_handle_release(hs[i]);
        }
        cr_assert(WAIT_UNTIL(metrics(rt).tasks_alive == 0, 5000));
        cr_assert_eq(metrics(rt).tasks_spawned, 10);
        test_rt_free(rt);
}

Test(metrics, idle_workers_park_and_unpark, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_runtime_metrics m0, m1;
        struct yielder f = {.n = 10};

        cr_assert(WAIT_UNTIL(metrics(rt).parks >= 1, 5000),
                  "idle workers never parked");
        sleep_ms(20);
        m0 = metrics(rt);
        cr_assert_eq(task_block_on(rt, yielder, &f, sizeof f), 0);
        cr_assert(WAIT_UNTIL(metrics(rt).parks > m0.parks, 5000),
                  "the worker did not park again after the work");
        m1 = metrics(rt);
        cr_assert_gt(m1.unparks, m0.unparks,
                     "a spawn onto a parked runtime unparked nobody");
        test_rt_free(rt);
}

/*
 * tasks_alive is a snapshot of moving counters, but it must never report
 * fewer tasks than are certainly alive: K tasks suspended for the whole
 * test while a tree of short tasks spawns and ends on every worker.
 */
struct idle_task {
        TASK_FRAME;
        struct gate *g;
};

static int idle_task(struct task_cx *cx, void *arg)
{
        struct idle_task *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        TASK_END(f);
}

static atomic_long churn_ended;

struct churn {
        TASK_FRAME;
        int depth;
};

static int churn(struct task_cx *cx, void *arg)
{
        struct churn *f = arg;
        TASK_BEGIN(f);
        TASK_YIELD(f);
        if (f->depth > 0) {
                struct churn c = {.depth = f->depth - 1};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), churn, &c, NULL) == 0);
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), churn, &c, NULL) == 0);
        }
        atomic_fetch_add(&churn_ended, 1);
        TASK_END(f);
}

Test(metrics, tasks_alive_never_undercounts, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(3);
        enum { K = 8, DEPTH = 17 };
        const long total = (1L << (DEPTH + 1)) - 1;
        struct gate g[K];
        task_handle *hs[K];
        struct churn c = {.depth = DEPTH};
        uint64_t min = UINT64_MAX, samples = 0;
        uint64_t end = now_ns() + 40ull * 1000 * 1000 * 1000;

        for (int i = 0; i < K; i++) {
                struct idle_task f = {.g = &g[i]};
                gate_init(&g[i]);
                cr_assert_eq(TASK_SPAWN(rt, idle_task, &f, &hs[i]), 0);
        }
        cr_assert_eq(TASK_SPAWN(rt, churn, &c, NULL), 0);
        while (atomic_load(&churn_ended) < total && now_ns() < end) {
                uint64_t a = metrics(rt).tasks_alive;
                if (a < min)
                        min = a;
                samples++;
        }
        cr_assert_eq(atomic_load(&churn_ended), total);
        cr_log_info("%llu samples, min tasks_alive %llu",
                    (unsigned long long)samples, (unsigned long long)min);
        cr_assert_geq(
            min, K, "tasks_alive read %llu with %d tasks suspended throughout",
            (unsigned long long)min, K);
        for (int i = 0; i < K; i++) {
                gate_open(&g[i]);
                cr_assert_eq(task_join_blocking(hs[i]), 0);
                task_handle_release(hs[i]);
                gate_destroy(&g[i]);
        }
        tcheck_assert_none();
        test_rt_free(rt);
}

/* ---- Per-worker metrics -------------------------------------------------------------- */

Test(metrics, per_worker_sum_to_runtime, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(3);
        enum { N = 300 };
        task_handle *hs[N];
        struct task_runtime_metrics m;
        struct task_worker_metrics wm;
        uint64_t polls = 0, parks = 0, busy = 0, steals = 0, steal_tasks = 0,
                 overflows = 0;

        for (int i = 0; i < N; i++) {
                struct yielder f = {.n = 3};
                cr_assert_eq(TASK_SPAWN(rt, yielder, &f, &hs[i]), 0);
        }
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_join_blocking(hs[i]), 0);
                task_handle_release(hs[i]);
        }
        /* Quiesce: all idle, parked. */
        cr_assert(WAIT_UNTIL(metrics(rt).tasks_alive == 0, 5000));
        sleep_ms(50);
        m = metrics(rt);
        for (unsigned i = 0; i < 3; i++) {
                memset(&wm, 0xff, sizeof wm);
                cr_assert_eq(task_worker_metrics(rt, i, &wm), 0);
                polls += wm.polls;
                parks += wm.parks;
                busy += wm.busy_ns;
                steals += wm.steal_ops;
                steal_tasks += wm.steal_tasks;
                overflows += wm.overflows;
                cr_assert_eq(wm.local_queue_depth, 0);
        }
        cr_assert_eq(polls, m.polls);
        cr_assert_eq(polls, (uint64_t)N * 4);
        cr_assert_eq(parks, m.parks);
        cr_assert_eq(steals, m.steal_ops);
        cr_assert_eq(steal_tasks, m.steal_tasks);
        cr_assert_eq(overflows, m.overflows);
        cr_assert_gt(busy, 0, "no busy time after %d polls", N * 4);
        test_rt_free(rt);
}

Test(metrics, bad_worker_index, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_runtime *ct = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_worker_metrics wm;
        struct task_runtime_metrics m;

        cr_assert_eq(task_worker_metrics(rt, 0, &wm), 0);
        cr_assert_eq(task_worker_metrics(rt, 1, &wm), 0);
        cr_assert_eq(task_worker_metrics(rt, 2, &wm), -EINVAL);
        cr_assert_eq(task_worker_metrics(rt, 1000000, &wm), -EINVAL);
        cr_assert_eq(task_worker_metrics(rt, 0, NULL), -EINVAL);
        cr_assert_eq(task_worker_metrics(NULL, 0, &wm), -EINVAL);
        cr_assert_eq(task_runtime_metrics(NULL, &m), -EINVAL);
        cr_assert_eq(task_runtime_metrics(rt, NULL), -EINVAL);
        /* A current-thread runtime has one worker: index 0. */
        cr_assert_eq(task_worker_metrics(ct, 0, &wm), 0);
        cr_assert_eq(task_worker_metrics(ct, 1, &wm), -EINVAL);
        cr_assert_eq(metrics(ct).workers, 1);
        test_rt_free(rt);
        test_rt_free(ct);
}

/* ---- Overflow and global queue depth ------------------------------------------------- */

struct fan {
        TASK_FRAME;
        int n;
};

static int fan(struct task_cx *cx, void *arg)
{
        struct fan *f = arg;
        TASK_BEGIN(f);
        for (int i = 0; i < f->n; i++) {
                struct yielder c = {.n = 0};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), yielder, &c, NULL) == 0);
        }
        TASK_END(f);
}

Test(metrics, full_local_queue_overflows, .timeout = 10)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        struct fan f = {.n = 200};
        struct task_runtime_metrics m;
        struct task_worker_metrics wm;
        task_handle *h;

        task_runtime_opts_init(&o);
        o.workers = 1;
        o.queue_size = 16;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        /* One poll spawns 200 tasks onto a worker whose queue holds 16. */
        cr_assert_eq(TASK_SPAWN(rt, fan, &f, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h);
        cr_assert(WAIT_UNTIL(metrics(rt).tasks_alive == 0, 5000));
        m = metrics(rt);
        cr_assert_geq(m.overflows, 1,
                      "200 spawns into a queue of 16 did not overflow");
        cr_assert_eq(task_worker_metrics(rt, 0, &wm), 0);
        cr_assert_eq(wm.overflows, m.overflows);
        cr_assert_eq(m.tasks_spawned, 201);
        cr_assert_eq(m.polls, 201);
        cr_assert_eq(m.global_queue_depth, 0);
        tcheck_assert_none();
        test_rt_free(rt);
}

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

Test(metrics, global_queue_depth_counts_remote_spawns, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        atomic_int ran = 0;
        struct counted f = {.ran = &ran};
        struct wait_ran main_f = {.ran = &ran, .want = 25};

        for (int i = 0; i < 25; i++)
                cr_assert_eq(TASK_SPAWN(rt, counted, &f, NULL), 0);
        /* Nothing runs outside block_on: all 25 wait in the global queue. */
        cr_assert_eq(metrics(rt).global_queue_depth, 25);
        cr_assert_eq(metrics(rt).tasks_alive, 25);
        cr_assert_eq(task_block_on(rt, wait_ran, &main_f, sizeof main_f), 0);
        cr_assert_eq(metrics(rt).global_queue_depth, 0);
        cr_assert_eq(metrics(rt).tasks_alive, 0);
        test_rt_free(rt);
}

/* ---- The stall detector ------------------------------------------------------------- */

struct hog {
        TASK_FRAME;
        long ms;
};

static int hog(struct task_cx *cx, void *arg)
{
        struct hog *f = arg;
        TASK_BEGIN(f);
        TASK_YIELD(f);
        sleep_ms(f->ms); /* holds the worker without suspending */
        TASK_END(f);
}

struct stall_log {
        pthread_mutex_t mu;
        int calls;
        uint64_t id;
        uint64_t held_ns;
        int has_spawn, has_suspend, susp_line;
};

static void on_stall(const struct task_info *ti, uint64_t held_ns, void *arg)
{
        struct stall_log *l = arg;
        pthread_mutex_lock(&l->mu);
        l->calls++;
        l->id = ti->id;
        l->held_ns = held_ns;
        l->has_spawn = ti->spawn != NULL;
        l->has_suspend = ti->suspend != NULL;
        l->susp_line = ti->suspend ? ti->suspend->line : 0;
        pthread_mutex_unlock(&l->mu);
}

static int stall_calls(struct stall_log *l)
{
        int n;
        pthread_mutex_lock(&l->mu);
        n = l->calls;
        pthread_mutex_unlock(&l->mu);
        return n;
}

Test(metrics, stall_detector_reports_once, .timeout = 20)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        struct stall_log l = {.mu = PTHREAD_MUTEX_INITIALIZER};
        struct hog f = {.ms = 400};
        task_handle *h;

        task_runtime_opts_init(&o);
        o.workers = 2;
        o.stall_threshold_ns = 50 * 1000 * 1000;
        o.on_stall = on_stall;
        o.stall_arg = &l;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        cr_assert_eq(TASK_SPAWN(rt, hog, &f, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        sleep_ms(100);
        cr_assert_eq(stall_calls(&l), 1, "%d stall reports for one stall",
                     stall_calls(&l));
        cr_assert_eq(l.id, task_handle_id(h));
        cr_assert_geq(l.held_ns, o.stall_threshold_ns);
        cr_assert(l.has_spawn, "stall report without the spawn site");
        cr_assert(l.has_suspend,
                  "stall report without the last suspension site");
        cr_assert_eq(metrics(rt).stalls, 1);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(metrics, no_stall_reports_when_off_or_below_threshold, .timeout = 20)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        struct stall_log l = {.mu = PTHREAD_MUTEX_INITIALIZER};
        struct hog f = {.ms = 20};
        task_handle *h;

        task_runtime_opts_init(&o);
        o.workers = 2;
        o.stall_threshold_ns = 2000ull * 1000 * 1000;
        o.on_stall = on_stall;
        o.stall_arg = &l;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        cr_assert_eq(TASK_SPAWN(rt, hog, &f, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(stall_calls(&l), 0);
        cr_assert_eq(metrics(rt).stalls, 0);
        task_handle_release(h);
        test_rt_free(rt);
}
