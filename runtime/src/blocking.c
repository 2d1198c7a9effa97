/*
 * blocking.c - the blocking pool (libtask/blocking.h): jobs run on threads
 * beside the workers, awaited through an ordinary task's join handle.
 *
 * A job is a struct blocking_job inside the frame of a small task (the
 * "job task", poll function blocking_task).  task_spawn_blocking() spawns
 * that task, gives the job a waker reference to it, and pushes the job onto
 * the pool's inbox.  A pool thread takes it, runs fn(arg), stores the
 * result, marks it DONE and wakes the task, whose next poll returns DONE.
 * The waker reference the job holds keeps the task's memory (the frame,
 * the job) alive for as long as the pool may touch it, whatever happens to
 * the task meanwhile; the pool gives it up by waking the task after its
 * last access to the job, whether the job ran or was dropped.
 *
 * The job's state word (job.state), each transition one atomic operation:
 *
 *   QUEUED -> RUNNING   a pool thread claims it (CAS)
 *   QUEUED -> DROPPED   the task's cancelling poll (abort before start), or
 *                       the pool refusing it (shutdown; no thread could be
 *                       started) (CAS)
 *   RUNNING -> DONE     the pool thread, after fn returned (release store)
 *
 * The job task, polled: DONE -> finished.  DROPPED by the pool -> it aborts
 * itself, so that its join reports -ECANCELED.  QUEUED or RUNNING ->
 * pending (the job's waker will wake it).  Polled cancelling: QUEUED -> it
 * drops the job and ends; RUNNING -> it stays suspended (cx->cancel_wait)
 * until the pool wakes it after fn returns, then ends: a join that reports
 * -ECANCELED therefore never returns while fn still runs.
 *
 * The queue.  Submitters (tasks on the workers, plain threads) push onto a
 * lock-free LIFO inbox: one CAS, no lock, never contended by the pool's
 * threads except for the one that empties it.  Pool threads take jobs under
 * a mutex that only they hold: the first that finds its FIFO `ready` list
 * empty moves the whole inbox into it (one exchange, then reversed, so
 * jobs start in submission order within a batch and batches in order).
 * Tokio has one mutex that submitters and pool threads all take; the
 * sharded queue it tried was reverted over a hang.  Here a submitter never
 * waits for a pool thread, which is what the "many submitters" load needs;
 * the take mutex is held for a few pointer moves by threads that are about
 * to run blocking code anyway.  (docs/io.md, "The blocking pool", has the
 * measurement.)
 *
 * The inbox's bit 0 is CLOSED: shutdown exchanges the inbox for CLOSED, in
 * one step taking every queued job and refusing every later push, so no
 * job can slip in behind the drain.
 *
 * Threads.  Counters: `nthreads` (running or reserved: what the cap
 * counts), `idle` (in the idle section and not yet handed a wake token),
 * `tokens` (wake tokens; bit 31 is CLOSED; the futex idle threads sleep
 * on), `alive` (threads that may still touch the pool: what the shutdown
 * waits for; a thread leaves it as its very last access), and `users`
 * (submitters inside task__spawn_blocking_ex after their first access).
 *
 *  - A submitter, after its push: if idle > 0, it decrements idle and adds
 *    a token (futex wake); else, below the cap, it reserves a thread
 *    (nthreads + 1) and starts one; else every thread is busy, and one of
 *    them will find the job when its current job returns.
 *  - A pool thread with no job increments idle, then looks at the queue
 *    again; then sleeps until it gets a token, or the keep-alive passes.
 *    It leaves the idle section either by consuming a token or by taking
 *    back its own idle count (a CAS on idle > 0); when idle is 0, a token
 *    is on its way for it.
 *  - Both sides store (push; idle++) then load (idle; the queue), all
 *    seq_cst: the store-buffering pattern, where seq_cst guarantees that
 *    at least one side sees the other's store, so a job never waits while
 *    a thread sleeps.
 *  - A thread that times out leaves idle, decrements nthreads, then looks
 *    at the queue once more (the same pattern against a submitter that saw
 *    it counted as alive and busy) and, if a job waits, reserves itself
 *    again.
 *  - A submitter that cannot start a thread (pthread_create failed) gives
 *    its reservation back; if no thread is left at all, nobody would ever
 *    run the queue, so it drops every queued job (their tasks end
 *    cancelled) and reports -EAGAIN for its own.
 *
 * Shutdown (task__blocking_shutdown, from task_runtime_shutdown before it
 * cancels the remaining tasks), in order:
 *  1. Close the inbox (exchange with CLOSED): later submissions fail with
 *     -ESHUTDOWN.
 *  2. Under the take mutex, drop every queued job (QUEUED -> DROPPED) and
 *     wake its task: it ends cancelled (now, or in the runtime's final
 *     cancelling sweep).
 *  3. Set CLOSED in `tokens` and wake every idle thread: they exit.
 *  3b. Wait for `users` to reach 0.  A submitter increments it (seq_cst)
 *     before its push, which fails on CLOSED; step 1's exchange comes
 *     before this load (seq_cst): either the push sees CLOSED or we wait
 *     for the submitter, who may still be starting a thread (`alive`).
 *  4. Wait, with no limit, for `alive` to reach 0: running jobs return,
 *     their threads find the queue closed and exit.
 * task__blocking_destroy (runtime free) repeats 1-4 (a pool created
 * concurrently with the shutdown would have missed it) and frees the pool.
 *
 * The pool is created lazily, by the first task_spawn_blocking(), and
 * installed with a CAS on rt->blocking (a loser frees its copy): a runtime
 * that never blocks has no pool and no threads.
 */
#include "blocking-priv.h"
#include "runtime-priv.h"

#include <libtask/blocking.h>

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_THREADS 512u
#define DEFAULT_KEEP_ALIVE_NS (10ull * 1000000000ull)

/* Job states. */
enum {
        JOB_QUEUED = 1,
        JOB_RUNNING = 2,
        JOB_DONE = 3,
        JOB_DROPPED = 4,
};

#define INBOX_CLOSED ((uintptr_t)1)
#define TOKENS_CLOSED (UINT32_C(1) << 31)

/*
 * A job, in its task's frame.  Written by the submitter before the push
 * (fn, arg, waker; the push publishes them); afterwards `next` belongs to
 * the queue, `result` to the thread that runs it, `state` as above.
 */
struct blocking_job {
        struct blocking_job *next;
        task_waker *waker; /* the job's reference to its task */
        task_blocking_fn fn;
        void (*drop)(void *arg); /* called if fn never runs, or NULL */
        void *arg;
        void *result;
        _Atomic uint32_t state;
};

struct blocking_frame {
        TASK_FRAME;
        struct blocking_job job;
};

struct task__blocking_pool {
        struct task_runtime *rt;
        unsigned max_threads;
        uint64_t keep_alive_ns;
        /* Submitters push here (a LIFO stack | INBOX_CLOSED); the pool's
         * threads take all of it at once, under take_mu. */
        _Alignas(TASK__CACHELINE) _Atomic uintptr_t inbox;
        /* Pool threads only. */
        _Alignas(TASK__CACHELINE) pthread_mutex_t take_mu;
        struct blocking_job *ready_head, *ready_tail; /* under take_mu */
        /* Thread accounting (see the head of this file). */
        _Alignas(TASK__CACHELINE) _Atomic uint32_t idle;
        _Atomic uint32_t tokens;
        _Atomic uint32_t nthreads;
        _Atomic uint32_t alive;
        _Atomic uint32_t users;
};

/* ---- The job task ------------------------------------------------------- */

/*
 * The poll the job task awaits: true when the job is DONE.  Follows the
 * rules of coro.h for a cancelling call (see the head of this file).
 */
static bool job_poll(struct task_cx *cx, struct blocking_job *job)
{
        /* Acquire: pairs with the pool's release store of DONE (the
         * result), or with its CAS to DROPPED. */
        uint32_t st = atomic_load_explicit(&job->state, memory_order_acquire);

        if (cx->cancelling) {
                /* Acquire on both outcomes: pairs with the pool's release
                 * store of DONE if we lose to it; on success the pool,
                 * seeing DROPPED in its own CAS, skips the job. */
                if (st == JOB_QUEUED &&
                    atomic_compare_exchange_strong_explicit(
                        &job->state, &st, JOB_DROPPED, memory_order_acquire,
                        memory_order_acquire))
                        return false;
                if (st == JOB_RUNNING)
                        cx->cancel_wait = 1; /* woken when fn returns */
                return false;
        }
        if (st == JOB_DONE)
                return true;
        if (st == JOB_DROPPED) {
                /* Refused by the pool (shutdown, no thread): end as
                 * cancelled.  The abort makes the next poll a cancelling
                 * one (NOTIFIED is set: we are being polled). */
                task_abort(cx->task);
        }
        return false;
}

/*
 * The job task's poll function.  Written by hand rather than with
 * TASK_BEGIN/TASK_AWAIT: a task aborted before its first poll skips the
 * awaits and runs only its cleanup (coro.h), and this one must look at its
 * job on every poll, the first one included, cancelling or not.
 */
static int blocking_task(struct task_cx *cx, void *frame)
{
        static const struct task_site wait_site = {__FILE__, "blocking_task",
                                                   __LINE__};
        struct blocking_frame *f = frame;

        if (job_poll(cx, &f->job))
                return TASK_DONE;
        if (cx->cancelling && !cx->cancel_wait)
                return TASK_DONE; /* ends as cancelled */
        cx->site = &wait_site;
        return TASK_PENDING;
}

/* ---- The queue ----------------------------------------------------------- */

/*
 * Push @job; false when the inbox is closed.  Release: the job's fields
 * travel to the thread that takes the inbox (acquire).  Seq_cst, because a
 * successful push is the store of the store-buffering pair described at
 * the head of this file (then the submitter loads `idle`).
 */
static bool inbox_push(struct task__blocking_pool *p, struct blocking_job *job)
{
        uintptr_t h = atomic_load_explicit(&p->inbox, memory_order_relaxed);

        do {
                if (h & INBOX_CLOSED)
                        return false;
                job->next = (struct blocking_job *)h;
        } while (!atomic_compare_exchange_weak_explicit(
            &p->inbox, &h, (uintptr_t)job, memory_order_seq_cst,
            memory_order_relaxed));
        return true;
}

/* Under take_mu: append the LIFO chain @h to the ready list, reversed. */
static void ready_append_locked(struct task__blocking_pool *p,
                                struct blocking_job *h)
{
        struct blocking_job *fifo = NULL, *tail = h;

        while (h) {
                struct blocking_job *next = h->next;
                h->next = fifo;
                fifo = h;
                h = next;
        }
        if (!fifo)
                return;
        if (p->ready_tail)
                p->ready_tail->next = fifo;
        else
                p->ready_head = fifo;
        p->ready_tail = tail;
}

/* Under take_mu: move the inbox (unless closed) to the ready list. */
static void inbox_take_locked(struct task__blocking_pool *p)
{
        uintptr_t h = atomic_load_explicit(&p->inbox, memory_order_seq_cst);

        for (;;) {
                if (h == 0 || (h & INBOX_CLOSED))
                        return;
                /* Acquire: pairs with the pushes' release (the jobs'
                 * fields); only take_mu's holder empties the inbox, so
                 * there is no ABA. */
                if (atomic_compare_exchange_weak_explicit(&p->inbox, &h, 0,
                                                          memory_order_seq_cst,
                                                          memory_order_seq_cst))
                        break;
        }
        ready_append_locked(p, (struct blocking_job *)h);
}

/* The next job to run, or NULL. */
static struct blocking_job *take_job(struct task__blocking_pool *p)
{
        struct blocking_job *job;

        pthread_mutex_lock(&p->take_mu);
        if (!p->ready_head)
                inbox_take_locked(p);
        job = p->ready_head;
        if (job) {
                p->ready_head = job->next;
                if (!p->ready_head)
                        p->ready_tail = NULL;
        }
        pthread_mutex_unlock(&p->take_mu);
        return job;
}

/* Is a job waiting?  Seq_cst: the load of the store-buffering pair. */
static bool queue_nonempty(struct task__blocking_pool *p)
{
        uintptr_t h = atomic_load_explicit(&p->inbox, memory_order_seq_cst);
        bool ready;

        if (h != 0 && !(h & INBOX_CLOSED))
                return true;
        pthread_mutex_lock(&p->take_mu);
        ready = p->ready_head != NULL;
        pthread_mutex_unlock(&p->take_mu);
        return ready;
}

/*
 * A job that will not run leaves the pool: its drop callback (except for
 * @mine, whose submitter keeps its argument), then the wake that gives up
 * the job's reference (the task ends cancelled, or has already).
 */
static void job_discard(struct blocking_job *job, struct blocking_job *mine)
{
        task_waker *w = job->waker;

        if (job->drop && job != mine)
                job->drop(job->arg);
        task_wake(w);
}

/*
 * Drop every queued job (shutdown, or no thread left): QUEUED -> DROPPED,
 * then job_discard().  A job its task already dropped goes the same way.
 * @close: also close the inbox.  @mine: the caller's own job, if any.
 * Returns whether @mine was among them (not taken by a thread).
 */
static bool drop_queued(struct task__blocking_pool *p, bool close,
                        struct blocking_job *mine)
{
        struct blocking_job *list;
        bool found = false;

        pthread_mutex_lock(&p->take_mu);
        if (close) {
                /* Acquire: as inbox_take_locked().  Refuses later pushes. */
                uintptr_t h = atomic_exchange_explicit(&p->inbox, INBOX_CLOSED,
                                                       memory_order_seq_cst);
                if (!(h & INBOX_CLOSED))
                        ready_append_locked(p, (struct blocking_job *)h);
        } else {
                inbox_take_locked(p);
        }
        list = p->ready_head;
        p->ready_head = p->ready_tail = NULL;
        pthread_mutex_unlock(&p->take_mu);

        while (list) {
                struct blocking_job *job = list;
                uint32_t st = JOB_QUEUED;
                list = job->next; /* before the wake: then it may be gone */
                found |= job == mine;
                /* Release: the task's poll (acquire) sees DROPPED. */
                atomic_compare_exchange_strong_explicit(
                    &job->state, &st, JOB_DROPPED, memory_order_release,
                    memory_order_relaxed);
                job_discard(job, mine);
        }
        return found;
}

/* ---- Pool threads -------------------------------------------------------- */

static void run_job(struct blocking_job *job)
{
        uint32_t st = JOB_QUEUED;
        task_waker *w = job->waker;

        /* Relaxed: the job's fields came with the inbox (release push,
         * acquire take); this CAS only decides who owns the job.  It fails
         * when the task dropped the job (an abort before the start). */
        if (atomic_compare_exchange_strong_explicit(
                &job->state, &st, JOB_RUNNING, memory_order_relaxed,
                memory_order_relaxed)) {
                job->result = job->fn(job->arg);
                /* Release: the result, to the poll that sees DONE. */
                atomic_store_explicit(&job->state, JOB_DONE,
                                      memory_order_release);
                /* Our last access to the job was above; the reference
                 * keeps the task's memory alive until here. */
                task_wake(w);
                return;
        }
        job_discard(job, NULL);
}

/* Take back one idle count if there is one (leave the idle section). */
static bool idle_take_back(struct task__blocking_pool *p)
{
        uint32_t i = atomic_load_explicit(&p->idle, memory_order_seq_cst);

        while (i > 0) {
                if (atomic_compare_exchange_weak_explicit(&p->idle, &i, i - 1,
                                                          memory_order_seq_cst,
                                                          memory_order_seq_cst))
                        return true;
        }
        return false;
}

/*
 * Reserve a thread slot below the cap.  Seq_cst: the reservation is seen
 * by submitters deciding whether to start a thread.
 */
static bool thread_reserve(struct task__blocking_pool *p)
{
        uint32_t n = atomic_load_explicit(&p->nthreads, memory_order_seq_cst);

        while (n < p->max_threads) {
                if (atomic_compare_exchange_weak_explicit(
                        &p->nthreads, &n, n + 1, memory_order_seq_cst,
                        memory_order_seq_cst))
                        return true;
        }
        return false;
}

/* Give a slot back (seq_cst: the store of the exit-time pattern). */
static void thread_release(struct task__blocking_pool *p)
{
        atomic_fetch_sub_explicit(&p->nthreads, 1, memory_order_seq_cst);
}

/*
 * A thread is gone (or will not start).  Release: everything it did to
 * the pool happens before the shutdown's acquire load that sees `alive`
 * reach 0, after which the pool may be freed.  The futex wake may touch
 * the word after that: harmless (runtime-priv.h, task__futex_wake).
 */
static void alive_release(struct task__blocking_pool *p)
{
        if (atomic_fetch_sub_explicit(&p->alive, 1, memory_order_release) == 1)
                task__futex_wake(&p->alive, INT_MAX);
}

/*
 * Wait in the idle section for a token.  Returns true with a token
 * consumed (look for work again), false when the pool closed or the
 * keep-alive passed with no token coming (the caller exits).
 */
static bool idle_wait(struct task__blocking_pool *p)
{
        uint64_t now0 = task__now_ns();
        /* Saturating: a keep-alive of UINT64_MAX must not wrap into the
         * past.  UINT64_MAX: no deadline (the thread never times out). */
        uint64_t deadline = p->keep_alive_ns > UINT64_MAX - now0
                                ? UINT64_MAX
                                : now0 + p->keep_alive_ns;
        bool expired = false;

        for (;;) {
                /* Acquire: pairs with the submitter's release increment;
                 * the job it pushed is reached through the inbox anyway. */
                uint32_t t =
                    atomic_load_explicit(&p->tokens, memory_order_acquire);
                if (t & TOKENS_CLOSED)
                        return false;
                if (t > 0) {
                        if (atomic_compare_exchange_weak_explicit(
                                &p->tokens, &t, t - 1, memory_order_acquire,
                                memory_order_relaxed))
                                return true;
                        continue;
                }
                if (expired) {
                        /* Leave by ourselves; if idle is 0 a submitter
                         * counted us out and its token is on the way. */
                        if (idle_take_back(p))
                                return false;
                } else if (deadline == UINT64_MAX) {
                        task__futex_wait(&p->tokens, 0, -1);
                        continue;
                } else {
                        uint64_t now = task__now_ns();
                        if (now >= deadline) {
                                expired = true;
                                continue;
                        }
                        uint64_t left = deadline - now;
                        /* Clamped: a negative timeout means no limit. */
                        task__futex_wait(&p->tokens, 0,
                                         left > (uint64_t)INT64_MAX
                                             ? INT64_MAX
                                             : (int64_t)left);
                        continue;
                }
                /* Expired, token coming: wait for it (no timeout). */
                task__futex_wait(&p->tokens, 0, -1);
        }
}

static void *pool_thread(void *arg)
{
        struct task__blocking_pool *p = arg;

        /* Named from inside: the thread is detached, so its pthread_t is
         * only safe to use while it runs, i.e. here (best effort). */
        pthread_setname_np(pthread_self(), "task-blocking");
        for (;;) {
                struct blocking_job *job = take_job(p);
                if (job) {
                        run_job(job);
                        continue;
                }
                if (atomic_load_explicit(&p->tokens, memory_order_acquire) &
                    TOKENS_CLOSED)
                        break;
                /* Idle: announce it, then look again (store, then load). */
                atomic_fetch_add_explicit(&p->idle, 1, memory_order_seq_cst);
                if (queue_nonempty(p) && idle_take_back(p))
                        continue;
                if (idle_wait(p))
                        continue;
                if (atomic_load_explicit(&p->tokens, memory_order_acquire) &
                    TOKENS_CLOSED)
                        break;
                /* Keep-alive passed: leave, unless a job arrived that a
                 * submitter left to us (it saw us alive). */
                thread_release(p);
                if (queue_nonempty(p) && thread_reserve(p))
                        continue;
                alive_release(p); /* the last access */
                return NULL;
        }
        thread_release(p);
        alive_release(p); /* the last access */
        return NULL;
}

/* Start a pool thread on a reserved slot.  Returns 0 or a positive errno. */
static int thread_start(struct task__blocking_pool *p)
{
        pthread_attr_t attr;
        pthread_t th;
        int rc;

        if (task__fault_alloc())
                return EAGAIN;
        rc = pthread_attr_init(&attr);
        if (rc)
                return rc;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&th, &attr, pool_thread, p);
        pthread_attr_destroy(&attr);
        return rc;
}

/*
 * After pushing a job: make sure a thread will run it.  Returns 0, or
 * -errno when no thread is alive and none could be started (then every
 * queued job was dropped, this one included).
 */
static int pool_kick(struct task__blocking_pool *p, struct blocking_job *mine)
{
        for (;;) {
                /* Seq_cst: the load of the store-buffering pair. */
                uint32_t i =
                    atomic_load_explicit(&p->idle, memory_order_seq_cst);
                if (i > 0) {
                        if (!atomic_compare_exchange_weak_explicit(
                                &p->idle, &i, i - 1, memory_order_seq_cst,
                                memory_order_seq_cst))
                                continue;
                        /* Release: pairs with idle_wait()'s acquire. */
                        atomic_fetch_add_explicit(&p->tokens, 1,
                                                  memory_order_release);
                        task__futex_wake(&p->tokens, 1);
                        return 0;
                }
                if (!thread_reserve(p))
                        return 0; /* all busy: one will find the job */
                /* Relaxed: `users` keeps the shutdown waiting meanwhile. */
                atomic_fetch_add_explicit(&p->alive, 1, memory_order_relaxed);
                int rc = thread_start(p);
                if (rc == 0)
                        return 0;
                thread_release(p);
                alive_release(p);
                if (atomic_load_explicit(&p->nthreads, memory_order_seq_cst) >
                    0)
                        return 0; /* a live thread will find it */
                /* A thread may have run our job and exited meanwhile: then
                 * it ran, and this is a success. */
                return drop_queued(p, false, mine) ? -rc : 0;
        }
}

/* ---- The pool ------------------------------------------------------------ */

static struct task__blocking_pool *pool_get(struct task_runtime *rt)
{
        /* Acquire: pairs with the installing CAS (the pool's fields). */
        struct task__blocking_pool *p =
            atomic_load_explicit(&rt->blocking, memory_order_acquire);
        if (p)
                return p;
        p = task__fault_alloc() ? NULL : calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->rt = rt;
        p->max_threads = rt->opts.max_blocking_threads
                             ? rt->opts.max_blocking_threads
                             : DEFAULT_MAX_THREADS;
        p->keep_alive_ns = rt->opts.blocking_keep_alive_ns
                               ? rt->opts.blocking_keep_alive_ns
                               : DEFAULT_KEEP_ALIVE_NS;
        pthread_mutex_init(&p->take_mu, NULL);
        atomic_init(&p->inbox, 0);
        atomic_init(&p->idle, 0);
        atomic_init(&p->tokens, 0);
        atomic_init(&p->nthreads, 0);
        atomic_init(&p->alive, 0);
        atomic_init(&p->users, 0);
        struct task__blocking_pool *expected = NULL;
        /* Release: publishes the fields; acquire on failure: the winner's. */
        if (!atomic_compare_exchange_strong_explicit(&rt->blocking, &expected,
                                                     p, memory_order_acq_rel,
                                                     memory_order_acquire)) {
                pthread_mutex_destroy(&p->take_mu);
                free(p);
                p = expected;
        }
        return p;
}

int task__spawn_blocking_ex(task_runtime *rt, task_blocking_fn fn,
                            void (*drop)(void *arg), void *arg,
                            task_handle **out)
{
        static const struct task_site site = {__FILE__, "task_spawn_blocking",
                                              __LINE__};
        struct blocking_frame init = {
            .job = {.fn = fn, .drop = drop, .arg = arg, .state = JOB_QUEUED},
        };
        struct task__blocking_pool *p;
        struct blocking_job *job;
        task_handle *h;
        int rc;

        if (!rt || !fn || !out)
                return -EINVAL;
        /* Acquire: pairs with the shutdown's store (a cheap early out; the
         * inbox's CLOSED bit is what really refuses). */
        if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
                return -ESHUTDOWN;
        p = pool_get(rt);
        if (!p)
                return -ENOMEM;
        rc = task_spawn_at(rt, blocking_task, &init, sizeof init, &h, &site);
        if (rc)
                return rc;
        job = &((struct blocking_frame *)task_handle_frame(h))->job;
        /* The task may be polled already: it reads only job->state. */
        job->waker = task_waker_clone(h);
        /* Seq_cst: step 3b at the head of this file. */
        atomic_fetch_add_explicit(&p->users, 1, memory_order_seq_cst);
        if (!inbox_push(p, job)) {
                rc = -ESHUTDOWN;
                task_waker_drop(job->waker);
                goto out_users;
        }
        rc = pool_kick(p, job);
        /* Release: our accesses to the pool come before the shutdown's
         * acquire load of 0 (step 3b).  The last one. */
        atomic_fetch_sub_explicit(&p->users, 1, memory_order_release);
        if (rc)
                goto out_abort; /* the job was dropped and its task woken */
        *out = h;
        return 0;

out_users:
        atomic_fetch_sub_explicit(&p->users, 1, memory_order_release);
out_abort:
        /* fn never runs; the task ends cancelled at its next poll. */
        task_abort(h);
        task_handle_release(h);
        return rc;
}

int task_spawn_blocking(task_runtime *rt, task_blocking_fn fn, void *arg,
                        task_handle **out)
{
        return task__spawn_blocking_ex(rt, fn, NULL, arg, out);
}

void *task_blocking_result(task_handle *h)
{
        if (!h || !task_handle_finished(h) ||
            atomic_load_explicit(&h->fn, memory_order_relaxed) != blocking_task)
                return NULL;
        struct blocking_job *job =
            &((struct blocking_frame *)task_handle_frame(h))->job;
        /* Acquire: pairs with the release store of DONE (the result). */
        if (atomic_load_explicit(&job->state, memory_order_acquire) != JOB_DONE)
                return NULL;
        return job->result;
}

/* Steps 1-4 of the shutdown (head of this file).  Idempotent. */
static void pool_close(struct task__blocking_pool *p)
{
        drop_queued(p, true, NULL);
        /* Release: pairs with idle_wait()'s acquire. */
        atomic_fetch_or_explicit(&p->tokens, TOKENS_CLOSED,
                                 memory_order_release);
        task__futex_wake(&p->tokens, INT_MAX);
        /* Seq_cst (and so acquire, pairing with the submitters' release
         * decrement): step 3b.  Submitters are never blocked in there. */
        while (atomic_load_explicit(&p->users, memory_order_seq_cst))
                sched_yield();
        for (;;) {
                /* Acquire: pairs with alive_release(). */
                uint32_t n =
                    atomic_load_explicit(&p->alive, memory_order_acquire);
                if (n == 0)
                        break;
                task__futex_wait(&p->alive, n, -1);
        }
}

void task__blocking_shutdown(struct task_runtime *rt)
{
        struct task__blocking_pool *p =
            atomic_load_explicit(&rt->blocking, memory_order_acquire);
        if (p)
                pool_close(p);
}

void task__blocking_destroy(struct task_runtime *rt)
{
        struct task__blocking_pool *p =
            atomic_load_explicit(&rt->blocking, memory_order_acquire);
        if (!p)
                return;
        pool_close(p);
        atomic_store_explicit(&rt->blocking, NULL, memory_order_relaxed);
        pthread_mutex_destroy(&p->take_mu);
        free(p);
}
