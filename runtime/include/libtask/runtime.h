/*
 * libtask/runtime.h - runtimes, spawning, join handles, wakers, the task
 * dump and metrics.
 *
 * A runtime runs tasks (see coro.h) on worker threads:
 *
 *  - TASK_MULTI_THREAD: N workers (default: the number of CPUs), each with a
 *    bounded local run queue and a LIFO slot, a shared global queue, work
 *    stealing and parking.  The design is in docs/runtime.md.
 *  - TASK_CURRENT_THREAD: no worker threads; tasks run on the thread that
 *    calls task_block_on(), and only while it does.
 *
 * Ownership, in one paragraph: the caller owns the task_runtime it creates
 * and frees it with task_runtime_free().  A spawned task is one allocation
 * (a header of at most 64 bytes followed by its frame) owned by the runtime.
 * A join handle is a counted reference to that allocation, owned by whoever
 * received it, and released with task_handle_release(); until then the
 * task's frame stays readable through task_handle_frame(), which is how a
 * task returns results.  Wakers are counted references too.
 *
 * Thread safety: every function here may be called from any thread, except
 * those taking a `struct task_cx *`, which are called only from inside the
 * poll function that received that cx.
 */
#ifndef LIBTASK_RUNTIME_H
#define LIBTASK_RUNTIME_H

#include <libtask/common.h>
#include <libtask/coro.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct task_runtime task_runtime;
struct task_info;

/* A join handle: a counted reference to a task (the task itself). */
typedef struct task task_handle;

/* A waker: a counted reference to a task, used to wake it from anywhere. */
typedef struct task task_waker;

/* ---- Building a runtime ------------------------------------------------- */

enum task_flavor {
        TASK_MULTI_THREAD = 0,
        TASK_CURRENT_THREAD = 1,
};

/*
 * The builder's knobs.  Initialise with task_runtime_opts_init() and change
 * what you need; a zero field means "the default" wherever one is listed.
 * The struct is read during task_runtime_new() only; strings are copied.
 */
struct task_runtime_opts {
        enum task_flavor flavor; /* TASK_MULTI_THREAD */
        unsigned workers;        /* 0: CPUs (or $LIBTASK_WORKERS); max 1024 */
        /* Local queue: a power of two, 2..65536; 0: 256. */
        unsigned queue_size;
        /* Ticks between global-queue checks; 0: 61. */
        unsigned global_queue_interval;
        unsigned budget;         /* cooperative budget per poll; 0: 128 */
        unsigned max_lifo_polls; /* LIFO polls in a row; 0: 3 */
        bool disable_lifo_slot;  /* false */
        /* Worker thread names: prefix (10 chars) + "-N"; NULL: "task-wrk". */
        const char *thread_name;
        void (*on_thread_start)(void *arg); /* called on each worker thread */
        void (*on_thread_stop)(void *arg);  /* ... before it exits */
        void *hook_arg;
        /*
         * Stall detector: a task that holds a worker for longer than this is
         * reported once per stall, with its id and spawn and suspension
         * sites, to on_stall (or to stderr when on_stall is NULL).  0: off.
         */
        uint64_t stall_threshold_ns;
        void (*on_stall)(const struct task_info *info, uint64_t held_ns,
                         void *arg);
        void *stall_arg;
        /* Blocking pool (libtask/blocking.h): at most this many threads;
         * 0: 512. */
        unsigned max_blocking_threads;
        /* An idle blocking thread exits after this long; 0: 10 s. */
        uint64_t blocking_keep_alive_ns;
        /* Entries of each worker's io_uring submission queue (a power of
         * two, 2..32768); 0: 256.  The completion queue is 16 times that. */
        unsigned io_ring_entries;
};

/* Fill @o with the defaults.  @o must not be NULL. */
TASK_API void task_runtime_opts_init(struct task_runtime_opts *o);

/*
 * task_runtime_new - build a runtime and start its workers.
 * @opts: knobs, or NULL for all defaults.  Read only during the call.
 * @out: receives the runtime, owned by the caller (task_runtime_free()).
 * Returns 0, -EINVAL (NULL @out, a knob out of range), -ENOMEM, the
 * -errno of a failed pthread_create, or the -errno with which the kernel
 * refused a worker's io_uring (-EPERM: disabled by sysctl or seccomp;
 * -ENOSYS: no io_uring; task_io_setup_error() in libtask/io.h says what to
 * do).  On failure nothing is left behind.
 */
TASK_API int task_runtime_new(const struct task_runtime_opts *opts,
                              task_runtime **out);

/*
 * task_runtime_shutdown - stop the runtime: new spawns fail with -ESHUTDOWN,
 * the workers stop and are joined, and every task that has not finished is
 * cancelled (its cleanup section runs, on the calling thread).  Join handles
 * stay valid: joining one now reports 0 or -ECANCELED.  Idempotent.
 * Returns 0, -EINVAL (NULL), or -EDEADLK when called from one of the
 * runtime's own workers.
 */
TASK_API int task_runtime_shutdown(task_runtime *rt);

/*
 * task_runtime_free - shut down (as above) and free the runtime and all its
 * memory.  Returns 0; -EBUSY if join handles or wakers are still held (the
 * runtime is then shut down but not freed: release them and call again, as
 * with libuv's uv_loop_close()); -EINVAL; -EDEADLK from one of its workers.
 */
TASK_API int task_runtime_free(task_runtime *rt);

/* The number of workers (1 for TASK_CURRENT_THREAD); 0 for NULL. */
TASK_API unsigned task_runtime_workers(const task_runtime *rt);

/* ---- Spawning ----------------------------------------------------------- */

/*
 * task_spawn_at - spawn a task.
 * @rt: the runtime.
 * @fn: the poll function.
 * @frame: the initial frame, copied into the task's allocation (the caller
 *         keeps ownership of @frame).  Not NULL.  Its TASK_FRAME member
 *         must be zero (a struct initialised with `= { ... }` is): it is
 *         the resume point, and zero means "start at the top".
 * @size: sizeof the frame, from sizeof(struct task_co) up to 512 MiB.
 * @out: receives a join handle (a reference the caller owns and releases
 *       with task_handle_release()), or NULL to detach the task at once.
 * @site: the spawn site shown by the task dump, or NULL.
 * Returns 0, -EINVAL, -ENOMEM or -ESHUTDOWN.  On failure nothing was spawned
 * and *@out is untouched.
 *
 * Called from one of @rt's workers (that is, from a task), the new task goes
 * to that worker's LIFO slot and runs soon on the same worker unless stolen;
 * from anywhere else it goes to the global queue and a parked worker is
 * woken.  For a TASK_CURRENT_THREAD runtime a task spawned from outside runs
 * during the next task_block_on().
 */
TASK_API int task_spawn_at(task_runtime *rt, task_fn fn, const void *frame,
                           size_t size, task_handle **out,
                           const struct task_site *site);

/* task_spawn_at with this line recorded as the spawn site. */
#define task_spawn(rt, fn, frame, size, out)                                   \
        task_spawn_at((rt), (fn), (frame), (size), (out), TASK_SITE_HERE(#fn))

/*
 * TASK_SPAWN(rt, fn, framep, out) - spawn @fn with the frame *@framep (of
 * the frame's own type, so the size is taken from it).  Returns as
 * task_spawn_at().
 */
#define TASK_SPAWN(rt, fn, framep, out)                                        \
        task_spawn_at((rt), (fn), (framep), sizeof *(framep), (out),           \
                      TASK_SITE_HERE(#fn))

/*
 * task_block_on - run @fn to completion on @rt and wait for it: the analog
 * of Tokio's Runtime::block_on, and the entry point from main().
 * @frame: in/out: copied in before the task starts, copied back out when it
 *         has finished, so results may be read from it afterwards.
 * On TASK_MULTI_THREAD the task runs on the workers while the calling
 * thread sleeps.  On TASK_CURRENT_THREAD the calling thread runs the
 * scheduler -- @fn and every other task as it becomes ready -- until @fn
 * finishes; tasks still queued then run during the next task_block_on.
 * Returns 0; -ECANCELED (the runtime was shut down while @fn ran);
 * -ESHUTDOWN (it was shut down before); -EBUSY (TASK_CURRENT_THREAD: another
 * thread is inside task_block_on on this runtime); -EDEADLK when called
 * from a worker of @rt; -EINVAL; -ENOMEM.
 */
TASK_API int task_block_on(task_runtime *rt, task_fn fn, void *frame,
                           size_t size);

/* ---- Join handles ------------------------------------------------------- */

/*
 * task_join_poll - the poll behind TASK_JOIN: true when the task has ended,
 * with *@rc (if not NULL) set to 0 or -ECANCELED; false otherwise, having
 * registered the calling task to be woken when it ends.  Consumes one unit
 * of cooperative budget; with the budget spent it returns false and the
 * caller yields.  Only one task at a time may wait on a handle.  Called in
 * cancelling mode (an abort's last look, coro.h) it returns false and
 * changes nothing: a registered waiter stays (waking an ended task later
 * is harmless, and the reference goes when the joined task ends).
 */
TASK_API bool task_join_poll(struct task_cx *cx, task_handle *h, int *rc);

/*
 * task_join_blocking - block the calling (non-worker) thread until the task
 * ends.  (A TASK_CURRENT_THREAD task only makes progress while some thread
 * is inside task_block_on.)  Returns 0, -ECANCELED, -EINVAL, or -EDEADLK when called from a
 * worker thread of the task's runtime (it would block that worker).  The
 * handle stays owned by the caller.
 */
TASK_API int task_join_blocking(task_handle *h);

/*
 * task_abort - cancel the task: if it is suspended it is woken for a
 * cancelling poll (its cleanup runs); if it is running, that happens at its
 * next suspension; if it has ended, nothing happens.  Joining it then
 * reports -ECANCELED (or 0 if it finished first).  NULL is ignored.
 */
TASK_API void task_abort(task_handle *h);

/*
 * task_handle_release - drop the join handle: the task runs on, detached,
 * and its memory is freed when it has ended and nothing else refers to it.
 * The handle (and its frame) must not be used afterwards.  NULL is ignored.
 */
TASK_API void task_handle_release(task_handle *h);

/* The task's frame: readable by the handle's owner once the task has ended. */
TASK_API void *task_handle_frame(task_handle *h);

/* True once the task has ended (finished or cancelled). */
TASK_API bool task_handle_finished(const task_handle *h);

/* The task's id: unique within the process, never 0.  0 for NULL. */
TASK_API uint64_t task_handle_id(const task_handle *h);

/* ---- Inside a task ------------------------------------------------------ */

/* The running task's id. */
TASK_API uint64_t task_cx_id(const struct task_cx *cx);

/* The runtime the task runs on (to spawn more tasks onto). */
static inline task_runtime *task_cx_runtime(const struct task_cx *cx)
{
        return cx->rt;
}

/*
 * task_coop_proceed - spend one unit of the cooperative budget.  A resource
 * that is ready calls this first; on false it must behave as "not ready" and
 * the task yields (this poll's budget is spent), so a task that always finds
 * its resources ready cannot hold a worker forever.
 */
static inline bool task_coop_proceed(struct task_cx *cx)
{
        if (cx->budget > 0) {
                cx->budget--;
                return true;
        }
        cx->yielded = 1;
        return false;
}

/* ---- Wakers (for writing your own awaitable resources) ------------------ */

/*
 * task_cx_waker - a new waker for the running task.  The caller owns the
 * reference and gives it up with task_wake() or task_waker_drop().
 */
TASK_API task_waker *task_cx_waker(struct task_cx *cx);

/*
 * task_wake - wake the task and drop the reference.  Safe from any thread
 * and in any task state: a task that has ended is not woken; a task woken
 * many times, concurrently or not, is scheduled exactly once, and polled
 * again after the wake if it was running when woken.
 */
TASK_API void task_wake(task_waker *w);

/* task_wake_by_ref - wake the task, keeping the reference. */
TASK_API void task_wake_by_ref(task_waker *w);

/* task_waker_clone - a second reference to the same task. */
TASK_API task_waker *task_waker_clone(task_waker *w);

/* task_waker_drop - drop the reference without waking.  NULL is ignored. */
TASK_API void task_waker_drop(task_waker *w);

/* True when @w would wake the task polled with @cx. */
static inline bool task_waker_wakes(const task_waker *w,
                                    const struct task_cx *cx)
{
        return w == cx->task;
}

/* ---- Task dump ---------------------------------------------------------- */

/* One task as the dump sees it.  Valid only during the callback. */
struct task_info {
        uint64_t id;
        const char *state;             /* "idle", "scheduled", "running", ... */
        task_fn fn;                    /* its poll function */
        const struct task_site *spawn; /* spawn site, or NULL */
        const struct task_site *suspend; /* last suspension point, or NULL */
        int worker;                      /* worker polling it now, or -1 */
};

/*
 * task_runtime_dump - call @cb once for every live task (spawned and not yet
 * freed), from the calling thread, while the runtime runs.  Cheap: it reads
 * the task allocator's slabs and takes no scheduler lock, so it cannot
 * deadlock and never stops a worker.  The view is a snapshot that tasks
 * spawned or ended during the call may or may not appear in.  @cb returns
 * non-zero to stop early.  Returns the number of tasks reported, or -EINVAL.
 */
TASK_API int task_runtime_dump(task_runtime *rt,
                               int (*cb)(const struct task_info *ti, void *arg),
                               void *arg);

/* task_runtime_dump_file - the dump as text, one line per task, to @out. */
TASK_API int task_runtime_dump_file(task_runtime *rt, FILE *out);

/* ---- Metrics ------------------------------------------------------------ */

/* Runtime-wide counters; readable at any time without stopping anything. */
struct task_runtime_metrics {
        unsigned workers;
        uint64_t tasks_alive;   /* spawned and not yet ended */
        uint64_t tasks_spawned; /* total spawned */
        uint64_t global_queue_depth;
        uint64_t polls;       /* sum over workers */
        uint64_t steal_ops;   /* successful steal operations */
        uint64_t steal_tasks; /* tasks moved by them */
        uint64_t overflows;   /* local queue overflows to the global queue */
        uint64_t parks, unparks;
        uint64_t stalls; /* reported by the stall detector */
};

/* Per-worker counters.  busy_ns counts time not parked. */
struct task_worker_metrics {
        uint64_t polls, steal_ops, steal_tasks, overflows, parks, unparks;
        uint64_t local_queue_depth;
        uint64_t busy_ns;
};

/* Fill @out.  Returns 0 or -EINVAL. */
TASK_API int task_runtime_metrics(task_runtime *rt,
                                  struct task_runtime_metrics *out);

/* Fill @out for worker @idx.  Returns 0 or -EINVAL (bad @idx, NULL). */
TASK_API int task_worker_metrics(task_runtime *rt, unsigned idx,
                                 struct task_worker_metrics *out);

/* ---- TASK_MAIN ---------------------------------------------------------- */

/* Fields a TASK_MAIN frame must have: `struct app { TASK_FRAME; TASK_MAIN_ARGS; ... };` */
#define TASK_MAIN_ARGS                                                         \
        int argc;                                                              \
        char **argv;                                                           \
        int exit_code

/*
 * task_main_run - what TASK_MAIN expands to: a default multi-thread runtime
 * ($LIBTASK_WORKERS overrides the worker count), block_on @fn, free.
 * Returns the exit status: *@exit_code after @fn finishes, or 1 with a
 * message on stderr if the runtime could not run it.
 */
TASK_API int task_main_run(task_fn fn, void *frame, size_t size,
                           const int *exit_code);

/*
 * TASK_MAIN(fn, frame_type) - define main() to run @fn (the analog of
 * #[tokio::main]).  The frame starts zeroed with argc/argv set; main returns
 * the frame's exit_code.
 */
#define TASK_MAIN(fn, frame_type)                                              \
        int main(int argc, char **argv)                                        \
        {                                                                      \
                static frame_type task__main_frame_;                           \
                task__main_frame_.argc = argc;                                 \
                task__main_frame_.argv = argv;                                 \
                return task_main_run((fn), &task__main_frame_,                 \
                                     sizeof task__main_frame_,                 \
                                     &task__main_frame_.exit_code);            \
        }

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_RUNTIME_H */
