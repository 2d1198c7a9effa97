/*
 * worker.c - the worker loop: which task runs next, the LIFO slot,
 * stealing, and parking.
 *
 * One iteration of a worker (after Tokio's multi_thread/worker.rs):
 *
 *  1. Every `global_queue_interval` ticks (61), take one task from the
 *     global queue first, so that it never starves behind local work.
 *  2. Otherwise: the LIFO slot, then the local queue, then a batch from the
 *     global queue (min(len / workers + 1, free local slots, 128); the first
 *     runs, the rest go to the local queue).
 *  3. Nothing: search -- if fewer than half the workers are searching --
 *     by stealing half of another worker's queue (victims from a random
 *     start), then the global queue again; still nothing, keep searching
 *     for a few microseconds (spin_for_work).
 *  4. Still nothing: park (see park() below for the no-lost-wake-up steps).
 *
 * Running a task: a worker that was searching stops searching, and if it
 * was the last searcher and work is left anywhere it wakes a sleeper (see
 * run_task for why only then).  After the poll, the task in the LIFO slot -- the one the poll
 * spawned or woke last -- runs at once, at most `max_lifo_polls` (3) times in
 * a row; then it goes to the back of the queue, so that two tasks waking
 * each other cannot starve the rest.
 *
 * Scheduling from a worker (spawn, wake, yield): a task spawned or woken by
 * the running task goes to the LIFO slot and the slot's previous occupant to
 * the back of the local queue; a yielding task goes to the back.  When the
 * queue then holds work beyond the task this worker runs next, and some
 * worker sleeps while none searches, one sleeper is woken to come and
 * steal.  That check is a plain load, without the fence that remote pushes
 * use: this worker will run the task itself if
 * nobody comes, so a missed wake-up costs parallelism, never progress.
 * Tasks woken by a batch of I/O completions do not wake a
 * sleeper (unless the batch left REAP_NOTIFY tasks queued): if they are
 * still queued at the next tick (61 polls), this worker cannot keep up
 * alone and wakes one then.  So a server that one worker can carry stays
 * on that worker instead of two half-idle workers taking turns sleeping.
 *
 * I/O and timers: the worker's ring and wheel are serviced (maintain())
 * every tick, whenever the worker runs out of local tasks, and by parking,
 * which sleeps in the ring until a completion, a wake-up or the earliest
 * timer.
 *
 * Everything here runs on the worker's own thread except
 * task__notify_parked(), which any thread calls.
 */
#include "runtime-priv.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

_Thread_local struct task__worker *task__tls_worker
    __attribute__((tls_model("initial-exec")));

#define GLOBAL_BATCH_MAX 128
/*
 * A completion batch that leaves at least this many tasks queued wakes a
 * helper at once; smaller ones wait for the next tick (see next_task()).
 * 64: on the echo benchmark, 50 connections stay on one worker (both
 * faster and with a lower p99 than spread over two), 500 spread.
 */
#define REAP_NOTIFY 64

static bool shutting_down(struct task_runtime *rt)
{
        /* Acquire: pairs with the release store in task_runtime_shutdown. */
        return atomic_load_explicit(&rt->shutdown, memory_order_acquire);
}

static inline uint32_t rng_next(struct task__worker *w)
{
        /* xorshift32: a victim order, not cryptography. */
        uint32_t x = w->rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        w->rng = x;
        return x;
}

int task__worker_init(struct task__worker *w, struct task_runtime *rt,
                      unsigned idx)
{
        memset(w, 0, sizeof(*w));
        int rc = task__queue_init(&w->q, rt->opts.queue_size);
        if (rc)
                return rc;
        w->rt = rt;
        w->idx = idx;
        w->rng = 0x9E3779B9u * (idx + 1);
        w->tick = rt->opts.global_queue_interval;
        atomic_init(&w->poll_seq, 0);
        atomic_init(&w->current, NULL);
        atomic_init(&w->parker.state, 0);
        task__heap_init(&w->heap, rt);
        task__wheel_init(&w->wheel);
        rc = task__io_ring_init(&w->io, w, rt->flavor == TASK_MULTI_THREAD,
                                rt->opts.io_ring_entries);
        if (rc) {
                task__wheel_destroy(&w->wheel);
                task__queue_destroy(&w->q);
                memset(w, 0, sizeof(*w));
                return rc;
        }
        return 0;
}

void task__worker_destroy(struct task__worker *w)
{
        if (!w->rt)
                return; /* never initialised (calloc'd zeroes) */
        task__io_ring_destroy(&w->io);
        task__wheel_destroy(&w->wheel);
        task__queue_destroy(&w->q);
}

static void maybe_notify_others(struct task__worker *w);

/* The LIFO slot, else the head of the local queue, or NULL. */
static struct task *pop_local(struct task__worker *w)
{
        struct task *t = w->lifo;

        if (t) {
                w->lifo = NULL;
                return t;
        }
        return task__queue_pop_owner(&w->q);
}

/* Fire the timers that are due. */
static void expire_timers(struct task__worker *w)
{
        uint64_t next = task__wheel_next_deadline(&w->wheel);

        if (next != UINT64_MAX) {
                uint64_t now = task__now_ns();
                if (next <= now)
                        task__wheel_expire(&w->wheel, now);
        }
}

/*
 * The driver's non-blocking pass: submit the queued SQEs, take the cancel
 * mailbox, reap completions, fire due timers.  Everything it wakes lands
 * on this worker (the LIFO slot and the local queue).  Completions wake
 * with `reaping` set (see the head comment).
 */
static void maintain(struct task__worker *w)
{
        w->reaping = true;
        task__io_ring_poll(&w->io);
        w->reaping = false;
        if (task__queue_len(&w->q) >= REAP_NOTIFY)
                maybe_notify_others(w);
        expire_timers(w);
}

/* Anything for maintain() to do (cheap: no system call)? */
static bool maintain_wanted(struct task__worker *w)
{
        if (task__io_ring_has_work(&w->io))
                return true;
        uint64_t next = task__wheel_next_deadline(&w->wheel);
        return next != UINT64_MAX && next <= task__now_ns();
}

void task__notify_parked(struct task_runtime *rt)
{
        int idx = task__idle_worker_to_notify(&rt->idle);
        if (idx >= 0)
                rt->driver->unpark(&rt->workers[idx]);
}

static void push_back(struct task__worker *w, struct task *t)
{
        struct task__queue_stats st = {0};

        task__queue_push_back_owner(&w->q, t, &w->rt->inject, &st);
        if (TASK__UNLIKELY_(st.overflows))
                task__metric_inc(&w->m.overflows, st.overflows);
}

/*
 * Is a sleeper worth waking?  Only if there is work beyond the one task
 * this worker runs next (as Tokio's should_notify_others): otherwise a
 * lone task that keeps yielding is stolen back and forth, each time at the
 * price of a wake-up.  Then the cheap check of the head comment.
 */
static void maybe_notify_others(struct task__worker *w)
{
        struct task_runtime *rt = w->rt;

        if (task__queue_len(&w->q) + (w->lifo != NULL) < 2)
                return;
        uint32_t s =
            atomic_load_explicit(&rt->idle.state, memory_order_relaxed);
        if ((s & 0xffffu) == 0 && (s >> 16) < rt->idle.num_workers)
                task__notify_parked(rt);
}

void task__worker_schedule_local(struct task__worker *w, struct task *t,
                                 bool is_yield)
{
        struct task_runtime *rt = w->rt;

        if (!is_yield && !rt->opts.disable_lifo_slot) {
                struct task *prev = w->lifo;
                w->lifo = t;
                if (!prev)
                        return;
                t = prev;
        }
        push_back(w, t);
        /* Not for the tasks a completion batch wakes: see next_task(). */
        if (!w->reaping)
                maybe_notify_others(w);
}

/* A batch from the global queue: the first is returned, the rest queued. */
static struct task *pop_global_batch(struct task__worker *w)
{
        struct task_runtime *rt = w->rt;
        size_t len = task__inject_len(&rt->inject);

        if (len == 0)
                return NULL;
        size_t n = len / rt->nworkers + 1;
        size_t room = task__queue_remaining_owner(&w->q) + 1;
        if (n > room)
                n = room;
        if (n > GLOBAL_BATCH_MAX)
                n = GLOBAL_BATCH_MAX;

        struct task *rest;
        size_t nrest;
        struct task *t = task__inject_pop_batch(&rt->inject, n, &rest, &nrest);
        if (nrest)
                task__queue_push_list_owner(&w->q, rest, (uint32_t)nrest);
        return t;
}

static struct task *next_task(struct task__worker *w)
{
        struct task *t;

        if (TASK__UNLIKELY_(--w->tick == 0)) {
                w->tick = w->rt->opts.global_queue_interval;
                /*
                 * The tasks a completion batch woke did not wake a sleeper
                 * (maintain and park set `reaping`): a worker that keeps up
                 * with its own connections serves them alone -- measured on
                 * the echo benchmark, spreading every batch over both
                 * workers halved the throughput, each worker then sleeping
                 * and waking for one or two tasks at a time.  Work still
                 * queued a tick later (61 polls) is more than one worker
                 * keeps up with: now wake a helper.  (Before this tick's
                 * own batch is reaped, which would count as leftover.)
                 */
                maybe_notify_others(w);
                /* I/O and timers too, as Tokio's event_interval. */
                maintain(w);
                struct task *rest;
                size_t nrest;
                t = task__inject_pop_batch(&w->rt->inject, 1, &rest, &nrest);
                if (t)
                        return t;
        }
        t = pop_local(w);
        if (t)
                return t;
        t = pop_global_batch(w);
        if (t)
                return t;
        /* Out of work: submit what the tasks queued and collect what the
         * kernel finished, before looking elsewhere. */
        if (maintain_wanted(w)) {
                maintain(w);
                return pop_local(w);
        }
        return NULL;
}

/* Is any task queued anywhere (a snapshot)? */
static bool work_pending(struct task_runtime *rt)
{
        for (unsigned i = 0; i < rt->nworkers; i++)
                if (task__queue_len(&rt->workers[i].q))
                        return true;
        return task__inject_len(&rt->inject) != 0;
}

static void run_task(struct task__worker *w, struct task *t)
{
        struct task_runtime *rt = w->rt;

        if (w->searching) {
                w->searching = false;
                /*
                 * The last searcher hands the search on if work is left
                 * anywhere (its queue, a peer's, the global queue): pushes
                 * that saw it searching woke nobody.  Relaying when nothing
                 * is left, as Tokio does, cost a futex wake per task for a
                 * trickle of remote spawns.
                 */
                if (task__idle_transition_from_searching(&rt->idle) &&
                    (w->lifo || work_pending(rt)))
                        task__notify_parked(rt);
        }
        task__poll(w, t);

        unsigned lifo_polls = 0;
        while ((t = w->lifo) != NULL) {
                w->lifo = NULL;
                if (lifo_polls >= rt->opts.max_lifo_polls) {
                        push_back(w, t);
                        return;
                }
                lifo_polls++;
                task__poll(w, t);
        }
}

static struct task *steal_work(struct task__worker *w)
{
        struct task_runtime *rt = w->rt;
        unsigned n = rt->nworkers;

        if (n > 1) {
                if (!w->searching) {
                        if (!task__idle_transition_to_searching(&rt->idle))
                                return NULL;
                        w->searching = true;
                }
                unsigned start = rng_next(w) % n;
                for (unsigned i = 0; i < n; i++) {
                        unsigned v = (start + i) % n;
                        if (v == w->idx)
                                continue;
                        struct task__queue_stats st = {0};
                        struct task *t = task__queue_steal_into(
                            &rt->workers[v].q, &w->q, &st);
                        if (t) {
                                task__metric_inc(&w->m.steal_ops, st.steal_ops);
                                task__metric_inc(&w->m.steal_tasks,
                                                 st.steal_tasks);
                                return t;
                        }
                }
        }
        return pop_global_batch(w);
}

/*
 * Before parking, a searching worker (at most half of them are) keeps
 * looking for a few tens of microseconds, polling the queues' lengths with
 * sched_yield() in between, and steals when something shows up.  Producers
 * do not wake anyone while it searches, so work that trickles in (a thread
 * spawning from outside, a task on another worker waking ours) is picked up
 * without a park and a futex wake per task.
 */
#define SPIN_ROUNDS 64
#define SPIN_BATCH 64
#define SPIN_PEER_MIN 16

/* Does a peer have enough queued to be worth a steal while we spin? */
static bool peer_work_visible(struct task_runtime *rt, unsigned self)
{
        for (unsigned i = 0; i < rt->nworkers; i++)
                if (i != self &&
                    task__queue_len(&rt->workers[i].q) > SPIN_PEER_MIN)
                        return true;
        return false;
}

static struct task *spin_for_work(struct task__worker *w)
{
        struct task_runtime *rt = w->rt;
        size_t last = 0, stable = 0;

        if (!w->searching)
                return NULL; /* too many searchers already */
        /*
         * A worker with I/O in flight parks on its ring instead: its own
         * completions end that wait at once, and spinning would take the
         * core from the threads that produce them (the peers' clients).
         */
        if (w->io.inflight)
                return NULL;
        for (unsigned r = 0; r < SPIN_ROUNDS; r++) {
                /* Yield rather than pause: with more runnable threads than
                 * cores, a spinning searcher must not take the time slice
                 * of the thread that would produce its work (measured:
                 * with pauses alone, 8-worker runtimes sharing 2 cores
                 * with 5 others missed a 10 s rendezvous). */
                sched_yield();
                if (shutting_down(rt))
                        return NULL;
                /* Our own completions and timers come first. */
                if (maintain_wanted(w)) {
                        maintain(w);
                        struct task *t = pop_local(w);
                        if (t)
                                return t;
                }
                /*
                 * Take from the global queue once a batch has gathered, or
                 * once it stops growing: grabbing every task as it arrives
                 * would bounce the queue's cache line (and idle.state, as
                 * we leave and re-enter searching) between this worker and
                 * the spawning thread for each task.  A lone task waits for
                 * three looks (microseconds when a core is free).  A peer's
                 * short queue is left to it, or to steal_work() after we
                 * park as the last searcher and recheck.
                 */
                size_t len = task__inject_len(&rt->inject);
                stable = (len && len == last) ? stable + 1 : 0;
                if ((len && (len >= SPIN_BATCH || stable >= 2)) ||
                    peer_work_visible(rt, w->idx)) {
                        struct task *t = steal_work(w);
                        if (t)
                                return t;
                }
                last = len;
        }
        return NULL;
}

/* Is there work anywhere?  Then wake someone (the last searcher parked). */
static void notify_if_work_pending(struct task_runtime *rt)
{
        if (work_pending(rt))
                task__notify_parked(rt);
}

/*
 * Park, without losing a wake-up:
 *  1. Register as a sleeper (idle.c; a seq_cst RMW) and stop searching.
 *  2. If this was the last searcher, or the only worker, look at every queue
 *     once more and wake someone -- possibly ourselves -- if work is there.
 *  3. Sleep through the driver until unparked, then leave only if somebody
 *     took us out of the sleepers list (we are searching again), work is at
 *     hand, or the runtime shuts down; otherwise it was spurious: sleep on.
 */
static void park(struct task__worker *w)
{
        struct task_runtime *rt = w->rt;

        if (w->lifo || task__queue_len(&w->q))
                return;
        bool last =
            task__idle_transition_to_parked(&rt->idle, w->idx, w->searching);
        w->searching = false;
        if (last || rt->nworkers == 1)
                notify_if_work_pending(rt);

        uint64_t now = task__now_ns();
        task__metric_inc(&w->m.busy_ns, now - w->busy_since);
        task__metric_inc(&w->m.parks, 1);
        for (;;) {
                /* Sleep until the earliest timer at most. */
                int64_t timeout = -1;
                uint64_t next = task__wheel_next_deadline(&w->wheel);
                if (next != UINT64_MAX) {
                        now = task__now_ns();
                        timeout = next > now ? (int64_t)(next - now) : 0;
                }
                w->reaping = true;
                rt->driver->park(w, timeout);
                w->reaping = false;
                expire_timers(w);
                if (shutting_down(rt))
                        break;
                if (w->lifo || task__queue_len(&w->q)) {
                        task__idle_unpark_worker_by_id(&rt->idle, w->idx);
                        w->searching = true;
                        break;
                }
                if (!task__idle_is_parked(&rt->idle, w->idx)) {
                        w->searching = true;
                        break;
                }
        }
        /* (A batch reaped here wakes no helper directly: this worker now
         * searches, and run_task() hands the search on if work is left.) */
        task__metric_inc(&w->m.unparks, 1);
        w->busy_since = task__now_ns();
}

void *task__worker_main(void *arg)
{
        struct task__worker *w = arg;
        struct task_runtime *rt = w->rt;

        task__tls_worker = w;
        /* This thread becomes the ring's single issuer.  Enabling an
         * R_DISABLED ring cannot fail once its setup succeeded, short of
         * a kernel bug; if it does, I/O calls report -ESHUTDOWN. */
        (void)task__io_ring_enable(&w->io);
        /* Named before the start hook runs, as Tokio does. */
        char name[16];
        snprintf(name, sizeof(name), "%.10s-%u", rt->thread_name,
                 w->idx & 0x3ffu);
        pthread_setname_np(pthread_self(), name);
        if (rt->opts.on_thread_start)
                rt->opts.on_thread_start(rt->opts.hook_arg);
        w->busy_since = task__now_ns();
        while (!shutting_down(rt)) {
                struct task *t = next_task(w);
                if (!t)
                        t = steal_work(w);
                if (!t)
                        t = spin_for_work(w);
                if (t) {
                        run_task(w, t);
                        continue;
                }
                park(w);
        }
        task__metric_inc(&w->m.busy_ns, task__now_ns() - w->busy_since);
        /* No operation may outlive the runtime's memory. */
        task__io_ring_drain(&w->io);
        if (rt->opts.on_thread_stop)
                rt->opts.on_thread_stop(rt->opts.hook_arg);
        task__tls_worker = NULL;
        return NULL;
}

void task__worker_run_until(struct task__worker *w, struct task *root)
{
        struct task_runtime *rt = w->rt;
        struct task__worker *prev = task__tls_worker;

        task__tls_worker = w;
        w->busy_since = task__now_ns();
        /* Acquire: the root's frame is complete when we see COMPLETE. */
        while (!(atomic_load_explicit(&root->state, memory_order_acquire) &
                 TASK_ST_COMPLETE) &&
               !shutting_down(rt)) {
                struct task *t = next_task(w);
                if (t) {
                        run_task(w, t);
                        continue;
                }
                park(w);
        }
        /* Hand the kernel what the tasks queued: it works on it until the
         * next task_block_on. */
        task__io_ring_poll(&w->io);
        task__metric_inc(&w->m.busy_ns, task__now_ns() - w->busy_since);
        task__tls_worker = prev;
}
