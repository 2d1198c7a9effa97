/*
 * test_runtime.c - building runtimes: the worker count (explicit, default,
 * $LIBTASK_WORKERS) and that that many workers really run at once; thread
 * start/stop hooks; worker thread names; the scheduling knobs
 * (disable_lifo_slot, max_lifo_polls, global_queue_interval, budget) at
 * their extremes still run everything.
 */
#include "helpers.h"

#include <sched.h>
#include <unistd.h>

/* ---- Workers ------------------------------------------------------------------------ */

/* Each waits until all @n have arrived: only n concurrent workers finish it. */
struct rendezvous {
        TASK_FRAME;
        atomic_int *arrived;
        int n;
        pthread_t thread;
        int ok;
};

static int rendezvous(struct task_cx *cx, void *arg)
{
        struct rendezvous *f = arg;
        uint64_t end = now_ns() + 10ull * 1000 * 1000 * 1000;
        TASK_BEGIN(f);
        f->thread = pthread_self();
        atomic_fetch_add(f->arrived, 1);
        while (atomic_load(f->arrived) < f->n && now_ns() < end)
                sched_yield();
        f->ok = atomic_load(f->arrived) >= f->n;
        TASK_END(f);
}

static void check_concurrency(task_runtime *rt, unsigned n)
{
        atomic_int arrived = 0;
        task_handle *hs[64];

        cr_assert_leq(n, 64);
        for (unsigned i = 0; i < n; i++) {
                struct rendezvous f = {.arrived = &arrived, .n = (int)n};
                cr_assert_eq(TASK_SPAWN(rt, rendezvous, &f, &hs[i]), 0);
        }
        for (unsigned i = 0; i < n; i++) {
                struct rendezvous *r;
                cr_assert_eq(task_join_blocking(hs[i]), 0);
                r = task_handle_frame(hs[i]);
                cr_assert(r->ok, "only %d of %u workers ran at once",
                          atomic_load(&arrived), n);
                for (unsigned j = 0; j < i; j++)
                        cr_assert_not(pthread_equal(
                            r->thread,
                            ((struct rendezvous *)task_handle_frame(hs[j]))
                                ->thread));
        }
        for (unsigned i = 0; i < n; i++)
                task_handle_release(hs[i]);
}

Test(runtime, explicit_worker_counts, .timeout = 60)
{
        const unsigned counts[] = {1, 2, 3, 5, 8};

        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
                task_runtime *rt = test_rt_new_mt(counts[i]);
                struct task_runtime_metrics m;
                cr_assert_eq(task_runtime_workers(rt), counts[i]);
                cr_assert_eq(task_runtime_metrics(rt, &m), 0);
                cr_assert_eq(m.workers, counts[i]);
                check_concurrency(rt, counts[i]);
                test_rt_free(rt);
        }
}

static unsigned cpus_affinity(void)
{
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0)
                return (unsigned)CPU_COUNT(&set);
        return 0;
}

Test(runtime, default_workers_is_cpu_count, .timeout = 20)
{
        task_runtime *rt;
        unsigned n, onln = (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
                    aff = cpus_affinity();

        unsetenv("LIBTASK_WORKERS");
        rt = test_rt_new_mt(0);
        n = task_runtime_workers(rt);
        cr_assert(n == onln || n == aff,
                  "%u workers; CPUs online %u, in affinity mask %u", n, onln,
                  aff);
        test_rt_free(rt);
}

Test(runtime, libtask_workers_env, .timeout = 20)
{
        task_runtime *rt;

        setenv("LIBTASK_WORKERS", "3", 1);
        rt = test_rt_new_mt(0);
        cr_assert_eq(task_runtime_workers(rt), 3);
        check_concurrency(rt, 3);
        test_rt_free(rt);
        /* An explicit count wins over the environment. */
        rt = test_rt_new_mt(2);
        cr_assert_eq(task_runtime_workers(rt), 2);
        test_rt_free(rt);
        unsetenv("LIBTASK_WORKERS");
}

Test(runtime, current_thread_has_one_worker, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 4);
        cr_assert_eq(task_runtime_workers(rt), 1);
        test_rt_free(rt);
}

/* ---- Thread hooks and names ------------------------------------------------------------ */

struct hooks {
        pthread_mutex_t mu;
        pthread_t started[16];
        int nstart, nstop;
        bool stop_on_started_thread;
};

static void hook_start(void *arg)
{
        struct hooks *h = arg;
        pthread_mutex_lock(&h->mu);
        if (h->nstart < 16)
                h->started[h->nstart] = pthread_self();
        h->nstart++;
        pthread_mutex_unlock(&h->mu);
}

static void hook_stop(void *arg)
{
        struct hooks *h = arg;
        bool known = false;
        pthread_mutex_lock(&h->mu);
        for (int i = 0; i < h->nstart && i < 16; i++)
                if (pthread_equal(h->started[i], pthread_self()))
                        known = true;
        if (!known)
                h->stop_on_started_thread = false;
        h->nstop++;
        pthread_mutex_unlock(&h->mu);
}

struct who {
        TASK_FRAME;
        pthread_t thread;
        char name[32];
};

static int who(struct task_cx *cx, void *arg)
{
        struct who *f = arg;
        TASK_BEGIN(f);
        f->thread = pthread_self();
        pthread_getname_np(pthread_self(), f->name, sizeof f->name);
        TASK_END(f);
}

static int hooks_nstart(struct hooks *h)
{
        int n;
        pthread_mutex_lock(&h->mu);
        n = h->nstart;
        pthread_mutex_unlock(&h->mu);
        return n;
}

Test(runtime, thread_hooks_and_names, .timeout = 20)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        struct hooks h = {.mu = PTHREAD_MUTEX_INITIALIZER,
                          .stop_on_started_thread = true};
        /* Short enough to survive the 15-character limit with an index. */
        char name[32] = "lt-test";
        struct who w = {0};
        bool known = false;

        task_runtime_opts_init(&o);
        o.workers = 3;
        o.on_thread_start = hook_start;
        o.on_thread_stop = hook_stop;
        o.hook_arg = &h;
        o.thread_name = name;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        /* The name is copied: changing ours must not matter. */
        strcpy(name, "XXXXXXXX");
        cr_assert(WAIT_UNTIL(hooks_nstart(&h) == 3, 5000),
                  "start hook ran %d times", hooks_nstart(&h));
        cr_assert_eq(task_block_on(rt, who, &w, sizeof w), 0);
        pthread_mutex_lock(&h.mu);
        for (int i = 0; i < 3; i++)
                if (pthread_equal(h.started[i], w.thread))
                        known = true;
        pthread_mutex_unlock(&h.mu);
        cr_assert(known, "the task ran on a thread the start hook never saw");
        cr_assert_eq(strncmp(w.name, "lt-test", 7), 0, "worker named '%s'",
                     w.name);
        test_rt_free(rt);
        cr_assert_eq(h.nstart, 3);
        cr_assert_eq(h.nstop, 3);
        cr_assert(h.stop_on_started_thread,
                  "the stop hook ran on a thread that is not a worker");
}

Test(runtime, default_and_long_thread_names, .timeout = 20)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        struct who w = {0};

        task_runtime_opts_init(&o);
        o.workers = 1;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        cr_assert_eq(task_block_on(rt, who, &w, sizeof w), 0);
        cr_assert_eq(strncmp(w.name, "task-wrk", 8), 0,
                     "default worker name '%s'", w.name);
        test_rt_free(rt);

        o.thread_name =
            "a-very-long-worker-thread-name-prefix-beyond-any-limit";
        cr_assert_eq(task_runtime_new(&o, &rt), 0,
                     "a long thread name was refused");
        memset(&w, 0, sizeof w);
        cr_assert_eq(task_block_on(rt, who, &w, sizeof w), 0);
        cr_assert_gt(strlen(w.name), 0);
        cr_assert_eq(strncmp(w.name, o.thread_name,
                             strlen(w.name) < 8 ? strlen(w.name) : 8),
                     0, "long prefix: worker named '%s'", w.name);
        test_rt_free(rt);
}

/* ---- Knobs at their extremes ------------------------------------------------------------- */

struct tree {
        TASK_FRAME;
        int depth, i;
        atomic_long *leaves;
};

static int tree(struct task_cx *cx, void *arg)
{
        struct tree *f = arg;
        TASK_BEGIN(f);
        if (f->depth == 0) {
                atomic_fetch_add(f->leaves, 1);
                TASK_RETURN(f);
        }
        for (f->i = 0; f->i < 4; f->i++) {
                struct tree c = {.depth = f->depth - 1, .leaves = f->leaves};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), tree, &c, NULL) == 0);
                TASK_YIELD(f);
        }
        TASK_END(f);
}

static void run_tree_with(struct task_runtime_opts *o)
{
        task_runtime *rt;
        atomic_long leaves = 0;
        struct tree f = {.depth = 7, .leaves = &leaves};

        cr_assert_eq(task_runtime_new(o, &rt), 0);
        cr_assert_eq(TASK_SPAWN(rt, tree, &f, NULL), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&leaves) == 4 * 4 * 4 * 4 * 4 * 4 * 4,
                             20000),
                  "leaves %ld", atomic_load(&leaves));
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        tcheck_assert_none();
        test_rt_free(rt);
}

Test(runtime, lifo_slot_disabled, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime_opts_init(&o);
        o.workers = 2;
        o.disable_lifo_slot = true;
        run_tree_with(&o);
}

Test(runtime, lifo_polls_one, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime_opts_init(&o);
        o.workers = 2;
        o.max_lifo_polls = 1;
        run_tree_with(&o);
}

Test(runtime, global_queue_every_tick, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime_opts_init(&o);
        o.workers = 2;
        o.global_queue_interval = 1;
        run_tree_with(&o);
}

Test(runtime, budget_one_and_tiny_queue, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime_opts_init(&o);
        o.workers = 3;
        o.budget = 1;
        o.queue_size = 2;
        run_tree_with(&o);
}

Test(runtime, huge_knobs, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime_opts_init(&o);
        o.workers = 2;
        o.budget = 1u << 30;
        o.max_lifo_polls = 1u << 30;
        o.global_queue_interval = 1u << 30;
        o.queue_size = 65536;
        run_tree_with(&o);
}

struct wait_leaves {
        TASK_FRAME;
        atomic_long *leaves;
        long want;
};

static int wait_leaves(struct task_cx *cx, void *arg)
{
        struct wait_leaves *f = arg;
        TASK_BEGIN(f);
        while (atomic_load(f->leaves) < f->want)
                TASK_YIELD(f);
        TASK_END(f);
}

Test(runtime, current_thread_knobs, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        atomic_long leaves = 0;
        struct tree f = {.depth = 6, .leaves = &leaves};
        struct wait_leaves w = {.leaves = &leaves, .want = 4096};

        task_runtime_opts_init(&o);
        o.flavor = TASK_CURRENT_THREAD;
        o.disable_lifo_slot = true;
        o.budget = 1;
        o.global_queue_interval = 1;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        cr_assert_eq(TASK_SPAWN(rt, tree, &f, NULL), 0);
        cr_assert_eq(task_block_on(rt, wait_leaves, &w, sizeof w), 0);
        cr_assert_eq(atomic_load(&leaves), 4096);
        tcheck_assert_none();
        test_rt_free(rt);
}

/* ---- The LIFO slot cannot starve the run queue ------------------------------------------ */

/*
 * Two tasks wake each other forever: each wake, made by the running task,
 * puts the other in the LIFO slot.  A third task yields (so it waits in the
 * local run queue, not the global one) until the ping-pong has gone on for
 * a while, then stops it.  With one worker it gets polled only because LIFO
 * polls in a row are capped (max_lifo_polls); without the cap this hangs.
 */
struct pinger {
        TASK_FRAME;
        task_waker *_Atomic *mine, *_Atomic *other;
        atomic_int *stop;
        atomic_long *rounds;
};

static bool ping_poll(struct task_cx *cx, struct pinger *f)
{
        task_waker *o = atomic_load(f->other);

        if (atomic_load(f->stop)) {
                if (o)
                        task_wake_by_ref(
                            o); /* so that the other one ends too */
                return true;
        }
        if (!atomic_load(f->mine))
                atomic_store(f->mine, task_cx_waker(cx));
        if (o)
                task_wake_by_ref(o);
        atomic_fetch_add(f->rounds, 1);
        return false;
}

static int pinger(struct task_cx *cx, void *arg)
{
        struct pinger *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, ping_poll(cx, f));
        TASK_END(f);
}

struct stopper {
        TASK_FRAME;
        atomic_int *stop;
        atomic_long *rounds;
};

static int stopper(struct task_cx *cx, void *arg)
{
        struct stopper *f = arg;
        TASK_BEGIN(f);
        while (atomic_load(f->rounds) < 1000)
                TASK_YIELD(f);
        atomic_store(f->stop, 1);
        TASK_END(f);
}

struct lifo_main {
        TASK_FRAME;
        task_waker *_Atomic wa, *_Atomic wb;
        atomic_int *stop;
        atomic_long *rounds;
        task_handle *ha, *hb, *hs;
        int rc;
};

static int lifo_main(struct task_cx *cx, void *arg)
{
        struct lifo_main *f = arg;
        TASK_BEGIN(f);
        {
                struct pinger a = {.mine = &f->wa,
                                   .other = &f->wb,
                                   .stop = f->stop,
                                   .rounds = f->rounds};
                struct pinger b = {.mine = &f->wb,
                                   .other = &f->wa,
                                   .stop = f->stop,
                                   .rounds = f->rounds};
                struct stopper s = {.stop = f->stop, .rounds = f->rounds};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), stopper, &s, &f->hs) ==
                       0);
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), pinger, &a, &f->ha) ==
                       0);
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), pinger, &b, &f->hb) ==
                       0);
        }
        TASK_JOIN(f, f->hs, &f->rc);
        TASK_JOIN(f, f->ha, &f->rc);
        TASK_JOIN(f, f->hb, &f->rc);
        task_handle_release(f->ha);
        task_handle_release(f->hb);
        task_handle_release(f->hs);
        task_waker_drop(atomic_load(&f->wa));
        task_waker_drop(atomic_load(&f->wb));
        TASK_END(f);
}

static void run_lifo_ping_pong(enum task_flavor flavor)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        atomic_int stop = 0;
        atomic_long rounds = 0;
        struct lifo_main m = {.stop = &stop, .rounds = &rounds};

        task_runtime_opts_init(&o);
        o.flavor = flavor;
        o.workers = 1;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        cr_assert_eq(task_block_on(rt, lifo_main, &m, sizeof m), 0);
        cr_assert_eq(atomic_load(&stop), 1);
        cr_assert_geq(atomic_load(&rounds), 1000);
        tcheck_assert_none();
        test_rt_free(rt);
}

Test(runtime, lifo_ping_pong_does_not_starve_queue, .timeout = 10)
{
        run_lifo_ping_pong(TASK_MULTI_THREAD);
}

Test(runtime, lifo_ping_pong_does_not_starve_queue_current_thread,
     .timeout = 10)
{
        run_lifo_ping_pong(TASK_CURRENT_THREAD);
}
