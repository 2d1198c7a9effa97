/*
 * task-bench.c - micro-benchmarks of the libtask multi-thread runtime,
 * workload for workload the same as the Tokio peer
 * (../shared/peers/tokio-bench/src/main.rs), with the same flags and the
 * same output lines, so that bench/compare-tokio.sh can put the two side by
 * side.
 *
 * Each timed workload runs --warmup times untimed, then --iters times timed
 * (wall clock, CLOCK_MONOTONIC, measured on the main thread), and prints
 *
 *   workload=<name> iters=<k> ns_per_iter_median=<x> ns_per_iter_min=<y>
 *   ops_per_iter=<n> ns_per_op_median=<z>
 *
 * on one line.  The median of an even number of samples is the mean of the
 * two middle ones, truncated, as the peer computes it.
 *
 * Memory mode (--mode mem|all) runs idle_tasks_mem in a fresh child process
 * per kind (this binary re-executed with --mem-kind) so that heap freed by
 * the timed workloads cannot hide the RSS growth, and prints
 *
 *   workload=idle_tasks_mem kind=pending tasks=<n> rss_before_bytes=<a>
 *   rss_after_bytes=<b> rss_bytes_per_task=<c>
 *   spawn_and_first_poll_ns_per_task=<d> frame_bytes=<f>
 *
 * (one line; frame_bytes, which the peer lacks, is sizeof the idle task's
 * frame, so that the runtime's own overhead per task is c - f).
 *
 * Signalling the main thread: the peer's main thread blocks in a std mpsc
 * receive (a futex wait); here it blocks in sem_wait(), which is also a
 * futex wait, and whose sem_post() makes a system call only when a waiter is
 * asleep.  Nothing busy-waits except the bounded 1 ms polling loop of the
 * memory probe, which the peer has too.
 *
 * mutex_contended and mutex_handoff are not in the shared peer: their Tokio
 * twins are in bench/tokio-twin (same shape, same lines), which
 * compare-tokio.sh runs beside the peer.
 *
 * Not yet here: the echo server mode.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <libtask/task.h>
#include <libtask/time.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The peer's constants (tokio-bench/src/main.rs). */
enum {
        NUM_SPAWN = 10000,
        YIELD_TASKS = 200,
        NUM_YIELD = 1000,
        NUM_PINGS = 1000,
        CHAIN_LEN = 1000,
        MPSC_PRODUCERS = 4,
        MPSC_TOTAL = 250000,
        MPSC_CAP = 1024,
        MUTEX_TASKS = 8,
        MUTEX_ITERS = 12500,
        HANDOFF_ITERS = 1250,
        TIMER_CHURN_N = 100000,
        TIMER_MAX_MS = 10000,
        TIMER_FIRE_TASKS = 10000,
        MEM_WAIT_S = 60, /* bound on "every idle task polled once" */
};

/* ---- Options ------------------------------------------------------------ */

struct opts {
        unsigned workers;
        unsigned iters;
        unsigned warmup;
        char **only; /* NULL: every workload; else a NULL-terminated list */
        const char *mode; /* "bench", "mem" or "all" */
        unsigned long mem_tasks;
        const char *mem_kind; /* NULL: each kind in a child; else one */
        unsigned long long time_limit_s;
};

struct workload {
        const char *name;
        void (*run)(task_runtime *rt, const struct opts *o);
};

/* ---- Helpers ------------------------------------------------------------ */

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A libtask call that must not fail in a benchmark: report and exit 1. */
static void check(int rc, const char *what)
{
        if (rc < 0) {
                fprintf(stderr, "task-bench: %s: %s\n", what,
                        task_strerror(rc));
                exit(1);
        }
}

static void sem_wait_nointr(sem_t *s)
{
        while (sem_wait(s) != 0) {
                if (errno != EINTR) {
                        perror("task-bench: sem_wait");
                        exit(1);
                }
        }
}

static void sem_init_or_die(sem_t *s)
{
        if (sem_init(s, 0, 0) != 0) {
                perror("task-bench: sem_init");
                exit(1);
        }
}

/* The watchdog: every run is bounded in time, as the peer's is. */
static void *watchdog_main(void *arg)
{
        unsigned long long limit = *(const unsigned long long *)arg;
        struct timespec until;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)limit;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL))
                ;
        fprintf(stderr, "task-bench: time limit of %llu s reached, aborting\n",
                limit);
        /*
         * _exit, not exit: a hung worker may hold a lock that atexit
         * handlers or stdio would wait for.  Every result line has already
         * been flushed when it was printed.
         */
        _exit(3);
        return NULL;
}

static void watchdog_start(const unsigned long long *limit)
{
        pthread_t th;
        int err = pthread_create(&th, NULL, watchdog_main, (void *)limit);
        if (err) {
                fprintf(stderr, "task-bench: watchdog: %s\n", strerror(err));
                exit(1);
        }
        pthread_detach(th);
}

static task_runtime *runtime_build(unsigned workers)
{
        struct task_runtime_opts ro;
        task_runtime *rt;

        task_runtime_opts_init(&ro);
        ro.flavor = TASK_MULTI_THREAD;
        ro.workers = workers;
        check(task_runtime_new(&ro, &rt), "task_runtime_new");
        return rt;
}

static void runtime_free(task_runtime *rt)
{
        check(task_runtime_free(rt), "task_runtime_free");
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

static void report(const char *name, unsigned ops, uint64_t *samples,
                   unsigned n)
{
        qsort(samples, n, sizeof *samples, cmp_u64);
        uint64_t median =
            n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
        printf("workload=%s iters=%u ns_per_iter_median=%llu "
               "ns_per_iter_min=%llu ops_per_iter=%u ns_per_op_median=%.1f\n",
               name, n, (unsigned long long)median,
               (unsigned long long)samples[0], ops, (double)median / ops);
        fflush(stdout);
}

/* Run @iter --warmup times, then time it --iters times, and report. */
static void bench(const char *name, unsigned ops, const struct opts *o,
                  void (*iter)(void *ctx), void *ctx)
{
        uint64_t *samples = malloc(o->iters * sizeof *samples);
        if (!samples) {
                fprintf(stderr, "task-bench: out of memory\n");
                exit(1);
        }
        for (unsigned i = 0; i < o->warmup; i++)
                iter(ctx);
        for (unsigned i = 0; i < o->iters; i++) {
                uint64_t t = now_ns();
                iter(ctx);
                samples[i] = now_ns() - t;
        }
        report(name, ops, samples, o->iters);
        free(samples);
}

/*
 * spawn_join: a task that spawns @fn with @frame onto its own runtime and
 * joins it: Tokio's `tokio::spawn(fut).await` inside a block_on, so that
 * the spawned task starts on a worker whichever thread runs block_on's task.
 */
struct spawn_join {
        TASK_FRAME;
        task_fn fn;
        const void *frame;
        size_t size;
        task_handle *h;
        int rc;
};

static int spawn_join(struct task_cx *cx, void *arg)
{
        struct spawn_join *f = arg;

        TASK_BEGIN(f);
        check(task_spawn(task_cx_runtime(cx), f->fn, f->frame, f->size, &f->h),
              "spawn");
        TASK_JOIN(f, f->h, &f->rc);
        check(f->rc, "join");
        task_handle_release(f->h);
        f->h = NULL;
        TASK_END(f);
}

static void block_on_spawned(task_runtime *rt, task_fn fn, const void *frame,
                             size_t size)
{
        struct spawn_join sj = {.fn = fn, .frame = frame, .size = size};
        check(task_block_on(rt, spawn_join, &sj, sizeof sj), "task_block_on");
}

/* ---- spawn_many_local --------------------------------------------------- */

/*
 * From inside one runtime task, spawn NUM_SPAWN detached tasks (they go to
 * that worker's LIFO slot and local queue, overflowing to the global one);
 * each decrements a shared counter, and the one that takes it to zero wakes
 * the main thread, which blocks on a semaphore.
 */
struct local_ctx {
        /*
         * Tasks remaining.  Written by the main thread (store, before it
         * spawns the root) and by the tasks (fetch_sub); relaxed is enough:
         * the spawn orders the store before the tasks' RMWs, and sem_post ->
         * sem_wait orders the last RMW before the next iteration's store.
         */
        atomic_uint rem;
        sem_t done;
};

struct local_child {
        TASK_FRAME;
        struct local_ctx *ctx;
};

static int local_child(struct task_cx *cx, void *arg)
{
        struct local_child *f = arg;

        TASK_BEGIN(f);
        if (atomic_fetch_sub_explicit(&f->ctx->rem, 1, memory_order_relaxed) ==
            1)
                sem_post(&f->ctx->done);
        TASK_END(f);
}

/* The root: its frame has the same shape as a child's. */
static int local_root(struct task_cx *cx, void *arg)
{
        struct local_child *f = arg;

        TASK_BEGIN(f);
        for (int i = 0; i < NUM_SPAWN; i++) {
                struct local_child c = {.ctx = f->ctx};
                check(TASK_SPAWN(task_cx_runtime(cx), local_child, &c, NULL),
                      "spawn");
        }
        TASK_END(f);
}

struct rt_ctx {
        task_runtime *rt;
        void *ctx;
};

static void spawn_many_local_iter(void *arg)
{
        struct rt_ctx *rc = arg;
        struct local_ctx *ctx = rc->ctx;
        struct local_child root = {.ctx = ctx};

        atomic_store_explicit(&ctx->rem, NUM_SPAWN, memory_order_relaxed);
        check(TASK_SPAWN(rc->rt, local_root, &root, NULL), "spawn");
        sem_wait_nointr(&ctx->done);
}

static void spawn_many_local(task_runtime *rt, const struct opts *o)
{
        struct local_ctx ctx;
        struct rt_ctx rc = {.rt = rt, .ctx = &ctx};

        sem_init_or_die(&ctx.done);
        bench("spawn_many_local", NUM_SPAWN, o, spawn_many_local_iter, &rc);
        sem_destroy(&ctx.done);
}

/* ---- spawn_many_remote_idle --------------------------------------------- */

/*
 * From the main thread (not a worker: every spawn goes through the global
 * queue), spawn NUM_SPAWN empty tasks keeping their join handles, then
 * block_on a task that joins and releases each handle in order.  One
 * difference in shape: Tokio's block_on polls its future on the calling
 * thread, ours runs it as a task on a worker (joining from main with
 * task_join_blocking instead measured about 74 against 66 ns/op).
 */
struct empty_frame {
        TASK_FRAME;
};

static int empty_task(struct task_cx *cx, void *arg)
{
        struct empty_frame *f = arg;

        TASK_BEGIN(f);
        TASK_END(f);
}

struct join_all {
        TASK_FRAME;
        task_handle **hs;
        unsigned n, i;
        int rc;
};

static int join_all(struct task_cx *cx, void *arg)
{
        struct join_all *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_JOIN(f, f->hs[f->i], &f->rc);
                check(f->rc, "join");
                task_handle_release(f->hs[f->i]);
                f->hs[f->i] = NULL;
        }
        TASK_END(f);
}

struct remote_ctx {
        task_runtime *rt;
        task_handle **hs; /* NUM_SPAWN slots, reused by every iteration */
};

static void spawn_many_remote_idle_iter(void *arg)
{
        struct remote_ctx *ctx = arg;
        struct empty_frame e = {0};
        struct join_all ja = {.hs = ctx->hs, .n = NUM_SPAWN};

        for (int i = 0; i < NUM_SPAWN; i++)
                check(TASK_SPAWN(ctx->rt, empty_task, &e, &ctx->hs[i]),
                      "spawn");
        check(task_block_on(ctx->rt, join_all, &ja, sizeof ja),
              "task_block_on");
}

static void spawn_many_remote_idle(task_runtime *rt, const struct opts *o)
{
        struct remote_ctx ctx = {.rt = rt};

        ctx.hs = calloc(NUM_SPAWN, sizeof *ctx.hs);
        if (!ctx.hs) {
                fprintf(stderr, "task-bench: out of memory\n");
                exit(1);
        }
        bench("spawn_many_remote_idle", NUM_SPAWN, o,
              spawn_many_remote_idle_iter, &ctx);
        free(ctx.hs);
}

/* ---- yield_many --------------------------------------------------------- */

/*
 * YIELD_TASKS tasks spawned from the main thread each yield NUM_YIELD times
 * and then post a semaphore; the main thread waits for all of them.
 */
struct yield_frame {
        TASK_FRAME;
        unsigned i;
        sem_t *done;
};

static int yield_task(struct task_cx *cx, void *arg)
{
        struct yield_frame *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < NUM_YIELD; f->i++)
                TASK_YIELD(f);
        sem_post(f->done);
        TASK_END(f);
}

static void yield_many_iter(void *arg)
{
        struct rt_ctx *rc = arg;
        struct yield_frame y = {.done = rc->ctx};

        for (int i = 0; i < YIELD_TASKS; i++)
                check(TASK_SPAWN(rc->rt, yield_task, &y, NULL), "spawn");
        for (int i = 0; i < YIELD_TASKS; i++)
                sem_wait_nointr(rc->ctx);
}

static void yield_many(task_runtime *rt, const struct opts *o)
{
        sem_t done;
        struct rt_ctx rc = {.rt = rt, .ctx = &done};

        sem_init_or_die(&done);
        bench("yield_many", YIELD_TASKS * NUM_YIELD, o, yield_many_iter, &rc);
        sem_destroy(&done);
}

/* ---- ping_pong ---------------------------------------------------------- */

/*
 * As the peer (after Tokio's own bench): a root task spawned from the main
 * thread spawns NUM_PINGS tasks; each creates two oneshots, spawns a peer
 * that awaits the first and sends on the second, sends on the first,
 * awaits the second, and counts down; the last one posts the semaphore the
 * main thread waits on.  The oneshots carry no bytes (Tokio's
 * oneshot::<()>).
 */
struct pp_ctx {
        atomic_uint rem; /* as local_ctx.rem */
        sem_t done;
};

struct pp_peer {
        TASK_FRAME;
        task_oneshot_rx *rx1;
        task_oneshot_tx *tx2;
        struct task_oneshot_recv recv;
        int rc;
};

static int pp_peer(struct task_cx *cx, void *arg)
{
        struct pp_peer *f = arg;

        TASK_BEGIN(f);
        TASK_ONESHOT_RECV(f, f->rx1, &f->recv, NULL, &f->rc);
        check(f->rc, "ping_pong: recv ping");
        task_oneshot_rx_drop(f->rx1);
        check(task_oneshot_send(f->tx2, NULL), "ping_pong: send pong");
        TASK_END(f);
}

struct pp_ping {
        TASK_FRAME;
        struct pp_ctx *ctx;
        task_oneshot_rx *rx2;
        struct task_oneshot_recv recv;
        int rc;
};

static int pp_ping(struct task_cx *cx, void *arg)
{
        struct pp_ping *f = arg;
        task_oneshot_tx *tx1;
        struct pp_peer peer = {0};

        TASK_BEGIN(f);
        check(task_oneshot_new(0, &tx1, &peer.rx1), "oneshot");
        check(task_oneshot_new(0, &peer.tx2, &f->rx2), "oneshot");
        check(TASK_SPAWN(task_cx_runtime(cx), pp_peer, &peer, NULL), "spawn");
        check(task_oneshot_send(tx1, NULL), "ping_pong: send ping");
        TASK_ONESHOT_RECV(f, f->rx2, &f->recv, NULL, &f->rc);
        check(f->rc, "ping_pong: recv pong");
        task_oneshot_rx_drop(f->rx2);
        if (atomic_fetch_sub_explicit(&f->ctx->rem, 1, memory_order_relaxed) ==
            1)
                sem_post(&f->ctx->done);
        TASK_END(f);
}

/* The root: its frame has the same shape as a ping's (ctx only). */
static int pp_root(struct task_cx *cx, void *arg)
{
        struct pp_ping *f = arg;

        TASK_BEGIN(f);
        for (int i = 0; i < NUM_PINGS; i++) {
                struct pp_ping p = {.ctx = f->ctx};
                check(TASK_SPAWN(task_cx_runtime(cx), pp_ping, &p, NULL),
                      "spawn");
        }
        TASK_END(f);
}

static void ping_pong_iter(void *arg)
{
        struct rt_ctx *rc = arg;
        struct pp_ctx *ctx = rc->ctx;
        struct pp_ping root = {.ctx = ctx};

        atomic_store_explicit(&ctx->rem, NUM_PINGS, memory_order_relaxed);
        check(TASK_SPAWN(rc->rt, pp_root, &root, NULL), "spawn");
        sem_wait_nointr(&ctx->done);
}

static void ping_pong(task_runtime *rt, const struct opts *o)
{
        struct pp_ctx ctx;
        struct rt_ctx rc = {.rt = rt, .ctx = &ctx};

        sem_init_or_die(&ctx.done);
        bench("ping_pong", NUM_PINGS, o, ping_pong_iter, &rc);
        sem_destroy(&ctx.done);
}

/* ---- chained_spawn ------------------------------------------------------ */

/*
 * A root task spawned from the main thread spawns a task, which spawns the
 * next, CHAIN_LEN deep; the last posts the semaphore the main thread waits
 * on.  (The root has n = CHAIN_LEN, the last n = 0: CHAIN_LEN spawns from
 * tasks, as in the peer.)
 */
struct chain_frame {
        TASK_FRAME;
        unsigned n;
        sem_t *done;
};

static int chain_task(struct task_cx *cx, void *arg)
{
        struct chain_frame *f = arg;

        TASK_BEGIN(f);
        if (f->n == 0) {
                sem_post(f->done);
        } else {
                struct chain_frame next = {.n = f->n - 1, .done = f->done};
                check(TASK_SPAWN(task_cx_runtime(cx), chain_task, &next, NULL),
                      "spawn");
        }
        TASK_END(f);
}

static void chained_spawn_iter(void *arg)
{
        struct rt_ctx *rc = arg;
        struct chain_frame root = {.n = CHAIN_LEN, .done = rc->ctx};

        check(TASK_SPAWN(rc->rt, chain_task, &root, NULL), "spawn");
        sem_wait_nointr(rc->ctx);
}

static void chained_spawn(task_runtime *rt, const struct opts *o)
{
        sem_t done;
        struct rt_ctx rc = {.rt = rt, .ctx = &done};

        sem_init_or_die(&done);
        bench("chained_spawn", CHAIN_LEN, o, chained_spawn_iter, &rc);
        sem_destroy(&done);
}

/* ---- channel_mpsc ------------------------------------------------------- */

/*
 * As the peer: the main thread (the peer's block_on future runs on it, so
 * its spawns go through the injection queue, as ours do from here) makes a
 * bounded channel of MPSC_CAP u64, spawns MPSC_PRODUCERS producers (each
 * sends its share of MPSC_TOTAL, one TASK_MPSC_SEND at a time, then drops
 * its sender), drops its own sender, spawns the consumer (one
 * TASK_MPSC_RECV at a time until -EPIPE, counting and summing), waits for
 * it and checks count and sum.
 */
struct mpsc_prod {
        TASK_FRAME;
        task_mpsc_tx *tx;
        uint64_t base, i, n, v;
        struct task_mpsc_send op;
        int rc;
};

static int mpsc_prod(struct task_cx *cx, void *arg)
{
        struct mpsc_prod *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                f->v = f->base + f->i;
                TASK_MPSC_SEND(f, f->tx, &f->op, &f->v, &f->rc);
                check(f->rc, "channel_mpsc: send");
        }
        task_mpsc_tx_drop(f->tx);
        TASK_END(f);
}

struct mpsc_cons {
        TASK_FRAME;
        task_mpsc_rx *rx;
        struct task_mpsc_recv op;
        uint64_t v, n, sum;
        int rc;
};

static int mpsc_cons(struct task_cx *cx, void *arg)
{
        struct mpsc_cons *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_MPSC_RECV(f, f->rx, &f->op, &f->v, &f->rc);
                if (f->rc == -EPIPE)
                        break;
                check(f->rc, "channel_mpsc: recv");
                f->n++;
                f->sum += f->v;
        }
        task_mpsc_rx_drop(f->rx);
        TASK_END(f);
}

static void channel_mpsc_iter(void *arg)
{
        task_runtime *rt = arg;
        const uint64_t per = MPSC_TOTAL / MPSC_PRODUCERS;
        const uint64_t total = per * MPSC_PRODUCERS;
        task_mpsc_tx *tx;
        struct mpsc_cons c = {0};
        task_handle *h;

        check(task_mpsc_new(MPSC_CAP, sizeof(uint64_t), &tx, &c.rx), "mpsc");
        for (uint64_t p = 0; p < MPSC_PRODUCERS; p++) {
                struct mpsc_prod pr = {
                    .tx = task_mpsc_tx_clone(tx), .base = p * per, .n = per};
                check(TASK_SPAWN(rt, mpsc_prod, &pr, NULL), "spawn");
        }
        task_mpsc_tx_drop(tx);
        check(TASK_SPAWN(rt, mpsc_cons, &c, &h), "spawn");
        check(task_join_blocking(h), "join");
        struct mpsc_cons *r = task_handle_frame(h);
        if (r->n != total || r->sum != total * (total - 1) / 2) {
                fprintf(stderr,
                        "task-bench: channel_mpsc: received %llu values "
                        "summing to %llu\n",
                        (unsigned long long)r->n, (unsigned long long)r->sum);
                exit(1);
        }
        task_handle_release(h);
}

static void channel_mpsc(task_runtime *rt, const struct opts *o)
{
        bench("channel_mpsc", MPSC_TOTAL, o, channel_mpsc_iter, rt);
}

/*
 * mutex_contended / mutex_handoff: the twins of bench/tokio-twin's
 * workloads of the same names (the shared peer has no Mutex workload).  The
 * main thread spawns MUTEX_TASKS tasks (through the global queue, as the
 * twin's block_on future does) and joins them; each locks one task_mutex,
 * increments the counter it guards and unlocks, MUTEX_ITERS times.
 * mutex_handoff yields while holding the lock, so that nearly every lock
 * waits in the Mutex's queue and is handed over by an unlock (the fair
 * path), HANDOFF_ITERS times per task.  ops = lock/unlock pairs.
 */
struct mutex_shared {
        struct task_mutex m;
        uint64_t counter; /* guarded by m */
};

struct mutex_task {
        TASK_FRAME;
        struct mutex_shared *sh;
        struct task_mutex_lock op;
        unsigned i, n;
        bool hold_across_yield;
};

static int mutex_task(struct task_cx *cx, void *arg)
{
        struct mutex_task *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_MUTEX_LOCK(f, &f->sh->m, &f->op, NULL);
                f->sh->counter++;
                if (f->hold_across_yield)
                        TASK_YIELD(f);
                task_mutex_unlock(&f->sh->m);
        }
        TASK_END(f);
}

struct mutex_iter {
        task_runtime *rt;
        unsigned n;
        bool hold;
};

static void mutex_iter(void *arg)
{
        struct mutex_iter *it = arg;
        struct mutex_shared sh = {.counter = 0};
        task_handle *h[MUTEX_TASKS];

        check(task_mutex_init(&sh.m), "mutex init");
        for (unsigned i = 0; i < MUTEX_TASKS; i++) {
                struct mutex_task t = {
                    .sh = &sh, .n = it->n, .hold_across_yield = it->hold};
                check(TASK_SPAWN(it->rt, mutex_task, &t, &h[i]), "spawn");
        }
        for (unsigned i = 0; i < MUTEX_TASKS; i++) {
                check(task_join_blocking(h[i]), "join");
                task_handle_release(h[i]);
        }
        if (sh.counter != (uint64_t)MUTEX_TASKS * it->n) {
                fprintf(stderr, "task-bench: mutex: counter %llu\n",
                        (unsigned long long)sh.counter);
                exit(1);
        }
        check(task_mutex_destroy(&sh.m), "mutex destroy");
}

static void mutex_contended(task_runtime *rt, const struct opts *o)
{
        struct mutex_iter it = {.rt = rt, .n = MUTEX_ITERS, .hold = false};
        bench("mutex_contended", MUTEX_TASKS * MUTEX_ITERS, o, mutex_iter, &it);
}

static void mutex_handoff(task_runtime *rt, const struct opts *o)
{
        struct mutex_iter it = {.rt = rt, .n = HANDOFF_ITERS, .hold = true};
        bench("mutex_handoff", MUTEX_TASKS * HANDOFF_ITERS, o, mutex_iter, &it);
}

/* ---- Timers --------------------------------------------------------------- */

/*
 * TIMER_CHURN_N durations, uniform in 1..=TIMER_MAX_MS ms, from the peer's
 * fixed-seed splitmix64 (timer_durations in its main.rs): the same multiset
 * of deadlines, computed once, outside the timed region.
 */
static uint64_t *timer_durations(void)
{
        static uint64_t *durs;
        uint64_t x = UINT64_C(0x5EED000000000001);

        if (durs)
                return durs;
        durs = malloc(TIMER_CHURN_N * sizeof *durs);
        if (!durs) {
                fprintf(stderr, "task-bench: out of memory\n");
                exit(1);
        }
        for (unsigned i = 0; i < TIMER_CHURN_N; i++) {
                x += UINT64_C(0x9E3779B97F4A7C15);
                uint64_t z = x;
                z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
                z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
                z ^= z >> 31;
                durs[i] = TASK_MS(1 + z % TIMER_MAX_MS);
        }
        return durs;
}

/*
 * timer_churn: per-timer insert + cancel cost, no per-timer task and no
 * per-timer allocation.  One iteration (block_on + one spawned task, as
 * the peer's): the task, inside one poll, polls TIMER_CHURN_N sleeps once
 * each (task_sleep_poll: reads the worker's cached clock, registers the
 * timer on its wheel; must return false), the sleeps living in an array
 * allocated once before the first iteration (the peer's Vec with reused
 * capacity); then cancels each (task_sleep_cancel: the wheel's lock and an
 * unlink = the peer's drop).  No budget to bypass: a sleep that registers
 * spends none (the peer needs tokio::task::unconstrained).
 */
struct churn_frame {
        TASK_FRAME;
        struct task_sleep *sleeps;
        const uint64_t *durs;
};

static int churn_task(struct task_cx *cx, void *arg)
{
        struct churn_frame *f = arg;

        TASK_BEGIN(f);
        for (unsigned i = 0; i < TIMER_CHURN_N; i++)
                if (task_sleep_poll(cx, &f->sleeps[i], f->durs[i])) {
                        fprintf(stderr, "task-bench: timer_churn: a sleep "
                                        "was ready at once\n");
                        exit(1);
                }
        for (unsigned i = 0; i < TIMER_CHURN_N; i++)
                task_sleep_cancel(&f->sleeps[i]);
        TASK_END(f);
}

struct churn_ctx {
        task_runtime *rt;
        struct churn_frame frame;
};

static void timer_churn_iter(void *arg)
{
        struct churn_ctx *c = arg;

        block_on_spawned(c->rt, churn_task, &c->frame, sizeof c->frame);
}

static void timer_churn(task_runtime *rt, const struct opts *o)
{
        struct churn_ctx c = {.rt = rt};

        c.frame.durs = timer_durations();
        c.frame.sleeps = calloc(TIMER_CHURN_N, sizeof *c.frame.sleeps);
        if (!c.frame.sleeps) {
                fprintf(stderr, "task-bench: out of memory\n");
                exit(1);
        }
        bench("timer_churn", TIMER_CHURN_N, o, timer_churn_iter, &c);
        free(c.frame.sleeps);
}

/*
 * timer_churn_tasks: the same timers, each owned by its own task.  The
 * root task spawns TIMER_CHURN_N tasks; task i bumps a shared counter and
 * then sleeps d_i (its first poll registers the timer); the one that brings
 * the counter to N notifies the root (task_notify_one), so when the root
 * resumes every task has at least started the poll that registers its
 * timer.  The root then aborts all N handles and joins each (the aborted
 * task's cancelling poll unlinks its timer, from whichever worker); a task
 * whose timer fired first just finished: counted and printed, as the peer
 * does.
 */
struct churn_shared {
        atomic_uint started;
        atomic_uint fired;
        struct task_notify all_started;
};

struct churn_child {
        TASK_FRAME;
        struct churn_shared *sh;
        uint64_t d;
        struct task_sleep sleep;
};

static int churn_child(struct task_cx *cx, void *arg)
{
        struct churn_child *f = arg;

        TASK_BEGIN(f);
        /* Relaxed: counters; the Notify orders the last one for the root. */
        if (atomic_fetch_add_explicit(&f->sh->started, 1,
                                      memory_order_relaxed) +
                1 ==
            TIMER_CHURN_N)
                task_notify_one(&f->sh->all_started);
        TASK_SLEEP(f, &f->sleep, f->d);
        atomic_fetch_add_explicit(&f->sh->fired, 1, memory_order_relaxed);
        TASK_END(f);
}

struct churn_root {
        TASK_FRAME;
        struct churn_shared *sh;
        task_handle **hs;
        const uint64_t *durs;
        struct task_notified nt;
        unsigned i;
        int rc;
};

static int churn_root(struct task_cx *cx, void *arg)
{
        struct churn_root *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < TIMER_CHURN_N; f->i++) {
                struct churn_child c = {.sh = f->sh, .d = f->durs[f->i]};
                check(TASK_SPAWN(task_cx_runtime(cx), churn_child, &c,
                                 &f->hs[f->i]),
                      "spawn");
        }
        TASK_NOTIFIED(f, &f->sh->all_started, &f->nt);
        for (f->i = 0; f->i < TIMER_CHURN_N; f->i++)
                task_abort(f->hs[f->i]);
        for (f->i = 0; f->i < TIMER_CHURN_N; f->i++) {
                TASK_JOIN(f, f->hs[f->i], &f->rc);
                if (f->rc != 0 && f->rc != -ECANCELED)
                        check(f->rc, "join");
                task_handle_release(f->hs[f->i]);
                f->hs[f->i] = NULL;
        }
        TASK_END(f);
}

struct churn_tasks_ctx {
        task_runtime *rt;
        struct churn_shared sh;
        struct churn_root root;
        unsigned *fired; /* per iteration, warm-up included */
        unsigned n;
};

static void timer_churn_tasks_iter(void *arg)
{
        struct churn_tasks_ctx *c = arg;

        atomic_store(&c->sh.started, 0);
        atomic_store(&c->sh.fired, 0);
        block_on_spawned(c->rt, churn_root, &c->root, sizeof c->root);
        c->fired[c->n++] = atomic_load(&c->sh.fired);
}

static int cmp_uint(const void *a, const void *b)
{
        unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
        return (x > y) - (x < y);
}

static void timer_churn_tasks(task_runtime *rt, const struct opts *o)
{
        struct churn_tasks_ctx c = {.rt = rt};

        check(task_notify_init(&c.sh.all_started), "notify_init");
        c.root.sh = &c.sh;
        c.root.durs = timer_durations();
        c.root.hs = calloc(TIMER_CHURN_N, sizeof *c.root.hs);
        c.fired = calloc(o->iters + o->warmup, sizeof *c.fired);
        if (!c.root.hs || !c.fired) {
                fprintf(stderr, "task-bench: out of memory\n");
                exit(1);
        }
        bench("timer_churn_tasks", TIMER_CHURN_N, o, timer_churn_tasks_iter,
              &c);
        unsigned *f = c.fired + o->warmup;
        qsort(f, o->iters, sizeof *f, cmp_uint);
        printf("# timer_churn_tasks: timers that fired before abort, median "
               "per iteration: %u of %u\n",
               f[o->iters / 2], (unsigned)TIMER_CHURN_N);
        fflush(stdout);
        task_notify_destroy(&c.sh.all_started);
        free(c.fired);
        free(c.root.hs);
}

/*
 * timer_fire: timer wake-up cost.  The main thread spawns a root task,
 * which spawns TIMER_FIRE_TASKS tasks; each sleeps 1 ms once, then
 * decrements a shared counter, and the one that reaches 0 posts the main
 * thread's semaphore.  The root, done spawning, records the time since the
 * main thread's start (the spawn phase, printed as a comment as the peer
 * does).  Our wheel's tick is 65.536 us and deadlines are exact (rounded up
 * to the tick), where Tokio's is 1 ms with deadlines rounded up to it: a
 * 1 ms sleep here fires 1.0-1.07 ms after it started, there 1-2 ms.
 */
struct fire_ctx {
        atomic_uint rem; /* as local_ctx.rem */
        sem_t done;
        uint64_t t0;        /* main thread, before spawning the root */
        uint64_t *spawn_ns; /* per iteration, warm-up included */
        unsigned n;
        task_runtime *rt;
};

struct fire_child {
        TASK_FRAME;
        struct fire_ctx *ctx;
        struct task_sleep sleep;
};

static int fire_child(struct task_cx *cx, void *arg)
{
        struct fire_child *f = arg;

        TASK_BEGIN(f);
        TASK_SLEEP(f, &f->sleep, TASK_MS(1));
        if (atomic_fetch_sub_explicit(&f->ctx->rem, 1, memory_order_relaxed) ==
            1)
                sem_post(&f->ctx->done);
        TASK_END(f);
}

static int fire_root(struct task_cx *cx, void *arg)
{
        struct fire_child *f = arg;

        TASK_BEGIN(f);
        for (int i = 0; i < TIMER_FIRE_TASKS; i++) {
                struct fire_child c = {.ctx = f->ctx};
                check(TASK_SPAWN(task_cx_runtime(cx), fire_child, &c, NULL),
                      "spawn");
        }
        /* Read by the main thread after the semaphore (which orders it):
         * the last child runs after this write. */
        f->ctx->spawn_ns[f->ctx->n] = now_ns() - f->ctx->t0;
        TASK_END(f);
}

static void timer_fire_iter(void *arg)
{
        struct fire_ctx *c = arg;
        struct fire_child root = {.ctx = c};

        atomic_store_explicit(&c->rem, TIMER_FIRE_TASKS, memory_order_relaxed);
        c->t0 = now_ns();
        check(TASK_SPAWN(c->rt, fire_root, &root, NULL), "spawn");
        sem_wait_nointr(&c->done);
        c->n++;
}

static void timer_fire(task_runtime *rt, const struct opts *o)
{
        struct fire_ctx c = {.rt = rt};

        sem_init_or_die(&c.done);
        c.spawn_ns = calloc(o->iters + o->warmup, sizeof *c.spawn_ns);
        if (!c.spawn_ns) {
                fprintf(stderr, "task-bench: out of memory\n");
                exit(1);
        }
        bench("timer_fire", TIMER_FIRE_TASKS, o, timer_fire_iter, &c);
        uint64_t *s = c.spawn_ns + o->warmup;
        qsort(s, o->iters, sizeof *s, cmp_u64);
        printf("# timer_fire: spawn phase (root task done spawning %u tasks) "
               "median %llu ns; timer tick 65.536 us, deadlines rounded up\n",
               (unsigned)TIMER_FIRE_TASKS, (unsigned long long)s[o->iters / 2]);
        fflush(stdout);
        sem_destroy(&c.done);
        free(c.spawn_ns);
}

/* In the peer's order, then the twins' (bench/tokio-twin). */
static const struct workload workloads[] = {
    {"spawn_many_local", spawn_many_local},
    {"spawn_many_remote_idle", spawn_many_remote_idle},
    {"yield_many", yield_many},
    {"ping_pong", ping_pong},
    {"chained_spawn", chained_spawn},
    {"channel_mpsc", channel_mpsc},
    {"timer_churn", timer_churn},
    {"timer_churn_tasks", timer_churn_tasks},
    {"timer_fire", timer_fire},
    {"mutex_contended", mutex_contended},
    {"mutex_handoff", mutex_handoff},
};
static const size_t n_workloads = sizeof workloads / sizeof workloads[0];

/* ---- Command line ------------------------------------------------------ */

static const char *const mem_kinds[] = {"pending", "notify"};
#define N_MEM_KINDS (sizeof mem_kinds / sizeof mem_kinds[0])

_Noreturn static void usage(void)
{
        fprintf(stderr,
                "usage: task-bench [--workers N(2)] [--iters K(50)] "
                "[--warmup W(5)] [--only a,b,...] [--mode bench|mem|all "
                "(bench)] [--mem-tasks N(1000000)] [--mem-kind pending|notify "
                "(each kind in a fresh child process)] "
                "[--time-limit SECS(300)]\nworkloads: ");
        for (size_t i = 0; i < n_workloads; i++)
                fprintf(stderr, "%s%s", i ? "," : "", workloads[i].name);
        fputc('\n', stderr);
        exit(2);
}

/* A decimal number, '_' allowed as a digit separator (as the peer allows). */
static unsigned long long parse_num(const char *s, unsigned long long max)
{
        char buf[64];
        size_t n = 0;

        for (; *s; s++) {
                if (*s == '_')
                        continue;
                if (*s < '0' || *s > '9' || n + 1 >= sizeof buf)
                        usage();
                buf[n++] = *s;
        }
        if (n == 0)
                usage();
        buf[n] = '\0';
        errno = 0;
        unsigned long long v = strtoull(buf, NULL, 10);
        if (errno || v > max)
                usage();
        return v;
}

static bool workload_known(const char *name)
{
        for (size_t i = 0; i < n_workloads; i++)
                if (strcmp(workloads[i].name, name) == 0)
                        return true;
        return false;
}

/* Split @list at commas into a NULL-terminated vector; every name known. */
static char **parse_only(const char *list)
{
        size_t n = 1;
        for (const char *p = list; *p; p++)
                n += *p == ',';
        char **v = calloc(n + 1, sizeof *v);
        char *copy = strdup(list);
        if (!v || !copy) {
                fprintf(stderr, "task-bench: out of memory\n");
                exit(1);
        }
        /* Not strtok: an empty name ("a,,b", "") must be rejected. */
        char *p = copy;
        for (size_t i = 0; i < n; i++) {
                char *comma = strchr(p, ',');
                if (comma)
                        *comma = '\0';
                if (!workload_known(p))
                        usage();
                v[i] = p;
                p = comma ? comma + 1 : p + strlen(p);
        }
        return v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
        *o = (struct opts){
            .workers = 2,
            .iters = 50,
            .warmup = 5,
            .mode = "bench",
            .mem_tasks = 1000000,
            .time_limit_s = 300,
        };
        for (int i = 1; i < argc; i += 2) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || !v)
                        usage();
                if (strcmp(a, "--workers") == 0)
                        o->workers = (unsigned)parse_num(v, UINT_MAX);
                else if (strcmp(a, "--iters") == 0)
                        o->iters = (unsigned)parse_num(v, 100000000);
                else if (strcmp(a, "--warmup") == 0)
                        o->warmup = (unsigned)parse_num(v, 100000000);
                else if (strcmp(a, "--only") == 0)
                        o->only = parse_only(v);
                else if (strcmp(a, "--mode") == 0)
                        o->mode = v;
                else if (strcmp(a, "--mem-tasks") == 0)
                        o->mem_tasks = (unsigned long)parse_num(v, ULONG_MAX);
                else if (strcmp(a, "--mem-kind") == 0)
                        o->mem_kind = v;
                else if (strcmp(a, "--time-limit") == 0)
                        o->time_limit_s = parse_num(v, 100ULL * 365 * 86400);
                else
                        usage();
        }
        if (o->workers == 0 || o->iters == 0)
                usage();
        if (strcmp(o->mode, "bench") != 0 && strcmp(o->mode, "mem") != 0 &&
            strcmp(o->mode, "all") != 0)
                usage();
        if (o->mem_kind) {
                bool ok = false;
                for (size_t k = 0; k < N_MEM_KINDS; k++)
                        ok |= strcmp(o->mem_kind, mem_kinds[k]) == 0;
                if (!ok)
                        usage();
        }
}

static bool wanted(const struct opts *o, const char *name)
{
        if (!o->only)
                return true;
        for (char **p = o->only; *p; p++)
                if (strcmp(*p, name) == 0)
                        return true;
        return false;
}

/* ---- idle_tasks_mem ----------------------------------------------------- */

/*
 * Idle tasks: polled once, then pending forever with no wake-up arranged
 * (Tokio's `std::future::pending()`).  The frame is the resume point alone,
 * so what is measured beyond it is the runtime's own cost per task.
 */
struct idle_frame {
        TASK_FRAME;
};

/* Idle tasks polled so far.  Written by the tasks, read by the main thread. */
static atomic_ulong idle_started;

static int idle_task(struct task_cx *cx, void *arg)
{
        struct idle_frame *f = arg;

        TASK_BEGIN(f);
        atomic_fetch_add_explicit(&idle_started, 1, memory_order_relaxed);
        TASK_AWAIT(f, false);
        TASK_END(f);
}

/* kind=notify: each task waits on one shared Notify that never fires. */
static struct task_notify idle_notify;

struct idle_notify_frame {
        TASK_FRAME;
        struct task_notified op;
};

static int idle_notify_task(struct task_cx *cx, void *arg)
{
        struct idle_notify_frame *f = arg;

        TASK_BEGIN(f);
        atomic_fetch_add_explicit(&idle_started, 1, memory_order_relaxed);
        TASK_NOTIFIED(f, &idle_notify, &f->op);
        TASK_END(f);
}

struct idle_root {
        TASK_FRAME;
        unsigned long n;
        bool notify;
};

static int idle_root(struct task_cx *cx, void *arg)
{
        struct idle_root *f = arg;

        TASK_BEGIN(f);
        for (unsigned long i = 0; i < f->n; i++) {
                struct idle_frame idle = {0};
                struct idle_notify_frame nf = {0};
                check(f->notify ? TASK_SPAWN(task_cx_runtime(cx),
                                             idle_notify_task, &nf, NULL)
                                : TASK_SPAWN(task_cx_runtime(cx), idle_task,
                                             &idle, NULL),
                      "spawn");
        }
        TASK_END(f);
}

static uint64_t vm_rss_bytes(void)
{
        FILE *fp = fopen("/proc/self/status", "r");
        char line[256];
        unsigned long long kb = 0;
        bool found = false;

        if (!fp) {
                perror("task-bench: /proc/self/status");
                exit(1);
        }
        while (fgets(line, sizeof line, fp))
                if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) {
                        found = true;
                        break;
                }
        fclose(fp);
        if (!found) {
                fprintf(stderr, "task-bench: no VmRSS in /proc/self/status\n");
                exit(1);
        }
        return kb * 1024;
}

static void idle_tasks_mem(const struct opts *o, const char *kind)
{
        unsigned long n = o->mem_tasks;
        task_runtime *rt = runtime_build(o->workers);
        struct empty_frame e = {0};
        bool notify = strcmp(kind, "notify") == 0;
        struct idle_root root = {.n = n, .notify = notify};
        size_t frame_bytes = notify ? sizeof(struct idle_notify_frame)
                                    : sizeof(struct idle_frame);

        check(task_notify_init(&idle_notify), "notify init");

        /* Warm the runtime (workers started and polling) before measuring. */
        block_on_spawned(rt, empty_task, &e, sizeof e);
        atomic_store_explicit(&idle_started, 0, memory_order_relaxed);

        uint64_t before = vm_rss_bytes();
        uint64_t t = now_ns();
        block_on_spawned(rt, idle_root, &root, sizeof root);

        /* Wait (bounded) until every task has been polled once. */
        uint64_t deadline = now_ns() + (uint64_t)MEM_WAIT_S * 1000000000u;
        while (atomic_load_explicit(&idle_started, memory_order_relaxed) < n) {
                if (now_ns() > deadline) {
                        fprintf(stderr,
                                "task-bench: idle tasks not all polled in "
                                "%d s (%lu of %lu)\n",
                                MEM_WAIT_S,
                                atomic_load_explicit(&idle_started,
                                                     memory_order_relaxed),
                                n);
                        exit(1);
                }
                nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
        }
        uint64_t spawn_ns = now_ns() - t;
        uint64_t after = vm_rss_bytes();

        printf(
            "workload=idle_tasks_mem kind=%s tasks=%lu rss_before_bytes=%llu "
            "rss_after_bytes=%llu rss_bytes_per_task=%.1f "
            "spawn_and_first_poll_ns_per_task=%.1f frame_bytes=%zu\n",
            kind, n, (unsigned long long)before, (unsigned long long)after,
            (double)(after > before ? after - before : 0) / (double)n,
            (double)spawn_ns / (double)n, frame_bytes);
        fflush(stdout);

        /* Freeing the runtime cancels every idle task. */
        t = now_ns();
        runtime_free(rt);
        fprintf(stderr, "# idle_tasks_mem kind=%s runtime free took %llu ms\n",
                kind, (unsigned long long)((now_ns() - t) / 1000000));
}

/*
 * Run idle_tasks_mem for @kind in a fresh copy of this binary and copy its
 * workload= lines to stdout; its stderr is inherited.
 */
static void idle_tasks_mem_child(const struct opts *o, const char *kind)
{
        char workers[32], tasks[32], limit[32];
        snprintf(workers, sizeof workers, "%u", o->workers);
        snprintf(tasks, sizeof tasks, "%lu", o->mem_tasks);
        snprintf(limit, sizeof limit, "%llu", o->time_limit_s);
        char *args[] = {"task-bench", "--mode",       "mem",   "--mem-kind",
                        (char *)kind, "--workers",    workers, "--mem-tasks",
                        tasks,        "--time-limit", limit,   NULL};
        posix_spawn_file_actions_t fa;
        int pfd[2], err, status;
        pid_t pid;

        if (pipe(pfd) != 0) {
                perror("task-bench: pipe");
                exit(1);
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&fa, pfd[0]);
        posix_spawn_file_actions_addclose(&fa, pfd[1]);
        err = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pfd[1]);
        if (err) {
                fprintf(stderr, "task-bench: spawn child: %s\n", strerror(err));
                exit(1);
        }

        FILE *in = fdopen(pfd[0], "r");
        char line[1024];
        if (!in) {
                perror("task-bench: fdopen");
                exit(1);
        }
        while (fgets(line, sizeof line, in))
                if (strncmp(line, "workload=", 9) == 0)
                        fputs(line, stdout);
        fclose(in);
        fflush(stdout);

        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        perror("task-bench: waitpid");
                        exit(1);
                }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFSIGNALED(status))
                        fprintf(stderr,
                                "task-bench: mem child (%s) killed "
                                "by signal %d\n",
                                kind, WTERMSIG(status));
                else
                        fprintf(stderr,
                                "task-bench: mem child (%s) exited "
                                "with status %d\n",
                                kind, WEXITSTATUS(status));
                exit(1);
        }
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
        struct opts o;

        parse_args(argc, argv, &o);
        watchdog_start(&o.time_limit_s);

        printf("# task-bench workers=%u iters=%u warmup=%u mode=%s\n",
               o.workers, o.iters, o.warmup, o.mode);
        fflush(stdout);

        if (strcmp(o.mode, "bench") == 0 || strcmp(o.mode, "all") == 0) {
                task_runtime *rt = runtime_build(o.workers);
                for (size_t i = 0; i < n_workloads; i++)
                        if (wanted(&o, workloads[i].name))
                                workloads[i].run(rt, &o);
                runtime_free(rt);
        }
        if (strcmp(o.mode, "mem") == 0 || strcmp(o.mode, "all") == 0) {
                if (o.mem_kind) {
                        idle_tasks_mem(&o, o.mem_kind);
                } else {
                        /*
                         * Each kind in a fresh process, so that heap freed
                         * by an earlier run does not hide the RSS growth.
                         */
                        for (size_t k = 0; k < N_MEM_KINDS; k++)
                                idle_tasks_mem_child(&o, mem_kinds[k]);
                }
        }
        if (o.only) {
                free(o.only[0]);
                free(o.only);
        }
        return 0;
}
