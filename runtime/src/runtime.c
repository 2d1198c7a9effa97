/*
 * runtime.c - building a runtime, block_on, shutdown and freeing.
 *
 * Shutdown, in order (task_runtime_shutdown):
 *
 *  1. Raise `shutdown` (release).  Spawns from workers see it and fail with
 *     -ESHUTDOWN; spawns from other threads check it under the external
 *     heap's lock, which step 2 takes once, so after step 2 no spawn from
 *     outside is half done.
 *  2. Lock and unlock the external heap.
 *  3. Unpark every worker.  Each finishes the poll in hand and leaves its
 *     loop; join the threads (their on_thread_stop hooks run).  For the
 *     current-thread flavor, wait for a running task_block_on to return.
 *  4. Stop the stall detector.
 *  5. Close the global queue: later wakes from other threads push nowhere
 *     (their tasks are cancelled in step 6 anyway).
 *  6. Walk the task registry on this thread: every task that has not ended
 *     is polled once in cancelling mode (its cleanup runs), then completed
 *     as cancelled, which wakes its joiner and frees it if nothing else
 *     refers to it.  Then empty the timer wheels (a timer left linked by a
 *     task that ended holds a reference to it).  The rings were drained
 *     by their workers in step 3.
 *
 * task_runtime_free then frees everything, or returns -EBUSY while join
 * handles or wakers still refer to tasks (their memory belongs to the
 * runtime's slabs).  Before it frees, it waits for operations that other
 * threads started on the runtime's memory to finish (foreign_ops: a wake
 * from another runtime's worker may still be notifying a parked worker
 * after the task it woke has run, ended and been released).
 */
#include "runtime-priv.h"

#include <libtask/io.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKERS 1024

void task_runtime_opts_init(struct task_runtime_opts *o)
{
        if (!o)
                return;
        memset(o, 0, sizeof(*o));
        o->flavor = TASK_MULTI_THREAD;
}

static unsigned default_workers(void)
{
        const char *env = getenv("LIBTASK_WORKERS");
        if (env && *env) {
                char *end;
                unsigned long v = strtoul(env, &end, 10);
                if (*end == '\0' && v > 0 && v <= MAX_WORKERS)
                        return (unsigned)v;
        }
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
                n = 1;
        if (n > MAX_WORKERS)
                n = MAX_WORKERS;
        return (unsigned)n;
}

static int resolve_opts(struct task_runtime_opts *o)
{
        if (o->flavor != TASK_MULTI_THREAD && o->flavor != TASK_CURRENT_THREAD)
                return -EINVAL;
        if (o->workers > MAX_WORKERS)
                return -EINVAL;
        if (o->flavor == TASK_CURRENT_THREAD)
                o->workers = 1;
        else if (o->workers == 0)
                o->workers = default_workers();
        if (o->queue_size == 0)
                o->queue_size = 256;
        if (o->queue_size < 2 || o->queue_size > 65536 ||
            (o->queue_size & (o->queue_size - 1)))
                return -EINVAL;
        if (o->global_queue_interval == 0)
                o->global_queue_interval = 61;
        if (o->budget == 0)
                o->budget = 128;
        if (o->budget > INT32_MAX)
                return -EINVAL;
        if (o->max_lifo_polls == 0)
                o->max_lifo_polls = 3;
        if (o->io_ring_entries == 0)
                o->io_ring_entries = 256;
        if (o->io_ring_entries < 2 || o->io_ring_entries > 32768 ||
            (o->io_ring_entries & (o->io_ring_entries - 1)))
                return -EINVAL;
        return 0;
}

static void unpark_all(struct task_runtime *rt)
{
        for (unsigned i = 0; i < rt->nworkers; i++)
                rt->driver->unpark(&rt->workers[i]);
}

static void destroy(struct task_runtime *rt)
{
        if (rt->workers) {
                for (unsigned i = 0; i < rt->nworkers; i++)
                        task__worker_destroy(&rt->workers[i]);
                free(rt->workers);
        }
        task__idle_destroy(&rt->idle);
        task__blocking_destroy(rt);
        task__registry_destroy(rt);
        pthread_mutex_destroy(&rt->shutdown_mu);
        pthread_mutex_destroy(&rt->monitor_mu);
        pthread_cond_destroy(&rt->monitor_cv);
        free(rt);
}

static void join_workers(struct task_runtime *rt)
{
        for (unsigned i = 0; i < rt->nworkers; i++) {
                struct task__worker *w = &rt->workers[i];
                if (w->thread_started) {
                        pthread_join(w->thread, NULL);
                        w->thread_started = false;
                }
        }
}

static int start_workers(struct task_runtime *rt)
{
        for (unsigned i = 0; i < rt->nworkers; i++) {
                struct task__worker *w = &rt->workers[i];
                int rc = task__fault_alloc()
                             ? EAGAIN
                             : pthread_create(&w->thread, NULL,
                                              task__worker_main, w);
                if (rc) {
                        atomic_store_explicit(&rt->shutdown, true,
                                              memory_order_release);
                        unpark_all(rt);
                        join_workers(rt);
                        return -rc;
                }
                w->thread_started = true;
        }
        return 0;
}

int task_runtime_new(const struct task_runtime_opts *opts, task_runtime **out)
{
        struct task_runtime_opts o;
        int rc;

        if (!out)
                return -EINVAL;
        if (opts)
                o = *opts;
        else
                task_runtime_opts_init(&o);
        rc = resolve_opts(&o);
        if (rc)
                return rc;

        struct task_runtime *rt =
            task__fault_alloc() ? NULL : calloc(1, sizeof(*rt));
        if (!rt)
                return -ENOMEM;
        rt->opts = o;
        snprintf(rt->thread_name, sizeof(rt->thread_name), "%s",
                 o.thread_name ? o.thread_name : "task-wrk");
        rt->opts.thread_name = rt->thread_name;
        rt->flavor = o.flavor;
        rt->nworkers = o.workers;
        rt->driver = &task__uring_driver;
        atomic_init(&rt->shutdown, false);
        atomic_init(&rt->block_on_active, false);
        atomic_init(&rt->foreign_ops, 0);
        atomic_init(&rt->pages, NULL);
        atomic_init(&rt->large_all, NULL);
        task__spin_init(&rt->large_lock);
        task__spin_init(&rt->chunk_lock);
        task__inject_init(&rt->inject);
        task__heap_init(&rt->ext_heap, rt);
        pthread_mutex_init(&rt->shutdown_mu, NULL);
        pthread_mutex_init(&rt->monitor_mu, NULL);
        pthread_cond_init(&rt->monitor_cv, NULL);

        rc = task__idle_init(&rt->idle, rt->nworkers);
        if (rc) {
                pthread_mutex_destroy(&rt->shutdown_mu);
                pthread_mutex_destroy(&rt->monitor_mu);
                pthread_cond_destroy(&rt->monitor_cv);
                free(rt);
                return rc;
        }
        rt->workers = task__fault_alloc()
                          ? NULL
                          : calloc(rt->nworkers, sizeof(*rt->workers));
        if (!rt->workers) {
                rc = -ENOMEM;
                goto out_destroy;
        }
        for (unsigned i = 0; i < rt->nworkers; i++) {
                rc = task__worker_init(&rt->workers[i], rt, i);
                if (rc) {
                        /* Workers past i were zeroed by calloc: safe to destroy. */
                        goto out_destroy;
                }
        }
        if (rt->flavor == TASK_MULTI_THREAD) {
                rc = start_workers(rt);
                if (rc)
                        goto out_destroy;
        }
        rc = task__monitor_start(rt);
        if (rc)
                goto out_stop;
        *out = rt;
        return 0;

out_stop:
        atomic_store_explicit(&rt->shutdown, true, memory_order_release);
        unpark_all(rt);
        join_workers(rt);
out_destroy:
        destroy(rt);
        return rc;
}

unsigned task_runtime_workers(const task_runtime *rt)
{
        return rt ? rt->nworkers : 0;
}

static int cancel_cb(struct task *t, void *arg)
{
        (void)arg;
        task__cancel_at_shutdown(t);
        return 0;
}

int task_runtime_shutdown(task_runtime *rt)
{
        if (!rt)
                return -EINVAL;
        if (task__current_worker(rt))
                return -EDEADLK;

        pthread_mutex_lock(&rt->shutdown_mu);
        if (rt->shut_down) {
                pthread_mutex_unlock(&rt->shutdown_mu);
                return 0;
        }
        /* 1-2. */
        atomic_store_explicit(&rt->shutdown, true, memory_order_seq_cst);
        task__spin_lock(&rt->ext_heap.lock);
        task__spin_unlock(&rt->ext_heap.lock);
        /* 3. */
        unpark_all(rt);
        join_workers(rt);
        while (
            atomic_load_explicit(&rt->block_on_active, memory_order_acquire)) {
                unpark_all(rt);
                sched_yield();
        }
        /* The current-thread ring has no single issuer: drain it here,
         * as this thread's worker, so its wakes stay local. */
        if (rt->flavor == TASK_CURRENT_THREAD) {
                struct task__worker *prev = task__tls_worker;
                task__tls_worker = &rt->workers[0];
                task__io_ring_drain(&rt->workers[0].io);
                task__tls_worker = prev;
        }
        /* Cancel requests pushed to a ring's mailbox after its drain
         * looked: release them, so their operations finish and their
         * tasks are woken (into the global queue, still open) and then
         * cancelled with a clean cleanup in step 6. */
        for (unsigned i = 0; i < rt->nworkers; i++)
                task__io_ring_orphan_mailbox(&rt->workers[i].io);
        /* The blocking pool: running jobs finish, queued ones are dropped. */
        task__blocking_shutdown(rt);
        /* 4. */
        task__monitor_stop(rt);
        /* 5. */
        task__spin_lock(&rt->inject.lock);
        rt->inject.closed = true;
        rt->inject.head = rt->inject.tail = NULL;
        atomic_store_explicit(&rt->inject.len, 0, memory_order_relaxed);
        task__spin_unlock(&rt->inject.lock);
        /* 6. */
        task__registry_walk(rt, cancel_cb, NULL);
        /* A timer a task linked and then walked away from (a cleanup that
         * slept during an abort) holds a reference to that task: drop it,
         * or the runtime could never be freed. */
        for (unsigned i = 0; i < rt->nworkers; i++)
                task__wheel_drain(&rt->workers[i].wheel);
        rt->shut_down = true;
        pthread_mutex_unlock(&rt->shutdown_mu);
        return 0;
}

static int count_live(struct task *t, void *arg)
{
        (void)t;
        (*(size_t *)arg)++;
        return 0;
}

int task_runtime_free(task_runtime *rt)
{
        if (!rt)
                return -EINVAL;
        int rc = task_runtime_shutdown(rt);
        if (rc)
                return rc;
        size_t live = 0;
        task__registry_walk(rt, count_live, &live);
        if (live)
                return -EBUSY;
        /* Acquire: the walk read each task's state relaxed; this fence
         * pairs with the acq_rel RMW that dropped the last reference (its
         * foreign_ops increment came before it), so the load below sees
         * that increment if the walk saw the drop. */
        atomic_thread_fence(memory_order_acquire);
        /*
         * No task is referenced any more, but a thread that dropped the last
         * reference or woke a task from outside may still be touching our
         * memory (a free list, the global queue, a parker): wait for it.
         * Acquire: pairs with task__foreign_exit()'s release.
         */
        while (atomic_load_explicit(&rt->foreign_ops, memory_order_acquire))
                sched_yield();
        destroy(rt);
        return 0;
}

int task_block_on(task_runtime *rt, task_fn fn, void *frame, size_t size)
{
        task_handle *h;
        int rc;

        if (!rt || !fn || !frame || size < sizeof(struct task_co))
                return -EINVAL;
        if (task__current_worker(rt))
                return -EDEADLK;

        if (rt->flavor == TASK_MULTI_THREAD) {
                rc = task_spawn_at(rt, fn, frame, size, &h, NULL);
                if (rc)
                        return rc;
                rc = task_join_blocking(h);
                if (rc == 0)
                        memcpy(frame, task_handle_frame(h), size);
                task_handle_release(h);
                return rc;
        }

        /* Current thread: this thread becomes the runtime's only worker. */
        if (atomic_exchange_explicit(&rt->block_on_active, true,
                                     memory_order_acquire))
                return -EBUSY;
        struct task__worker *w = &rt->workers[0];
        struct task__worker *prev = task__tls_worker;
        task__tls_worker = w;
        rc = task_spawn_at(rt, fn, frame, size, &h, NULL);
        task__tls_worker = prev;
        if (rc == 0) {
                task__worker_run_until(w, h);
                uint64_t st =
                    atomic_load_explicit(&h->state, memory_order_acquire);
                if (!(st & TASK_ST_COMPLETE))
                        rc = -ECANCELED;
                else if (st & TASK_ST_CANCELLED)
                        rc = -ECANCELED;
                else
                        memcpy(frame, task_handle_frame(h), size);
                task_handle_release(h);
        }
        /* Release: shutdown waits for this before it cancels tasks. */
        atomic_store_explicit(&rt->block_on_active, false,
                              memory_order_release);
        return rc;
}

int task_main_run(task_fn fn, void *frame, size_t size, const int *exit_code)
{
        task_runtime *rt;
        int rc = task_runtime_new(NULL, &rt);

        if (rc) {
                const char *why = task_io_setup_error(rc);
                fprintf(stderr, "libtask: cannot start the runtime: %s\n",
                        why ? why : task_strerror(rc));
                return 1;
        }
        rc = task_block_on(rt, fn, frame, size);
        if (rc) {
                fprintf(stderr, "libtask: main task: %s\n", task_strerror(rc));
                task_runtime_free(rt);
                return 1;
        }
        rc = task_runtime_free(rt);
        if (rc)
                fprintf(stderr, "libtask: runtime not freed: %s\n",
                        task_strerror(rc));
        return exit_code ? *exit_code : 0;
}
