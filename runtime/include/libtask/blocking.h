/*
 * libtask/blocking.h - the blocking pool: run blocking code (a read of a
 * slow file, getaddrinfo, a CPU-heavy loop, a C library that blocks) on a
 * thread beside the workers and await it from a task.  Tokio's
 * tokio::task::spawn_blocking.
 *
 *     struct f { TASK_FRAME; task_handle *h; int rc; };
 *     ...
 *     rc = task_spawn_blocking(cx->rt, compress, buf, &f->h);
 *     if (rc == 0) {
 *             TASK_JOIN(f, f->h, &f->rc);
 *             if (f->rc == 0)
 *                     out = task_blocking_result(f->h);
 *             task_handle_release(f->h);
 *     }
 *
 * The pool belongs to the runtime and is created on the first
 * task_spawn_blocking().  It starts a thread when a job arrives and no
 * thread is idle, up to `max_blocking_threads` threads (struct
 * task_runtime_opts; 0: 512); jobs beyond that wait in a FIFO queue.  An
 * idle thread exits after `blocking_keep_alive_ns` (0: 10 s).  A job is
 * never run on a worker thread, so it may block as long as it likes; but
 * it holds a pool thread meanwhile, and one that never returns holds the
 * runtime's shutdown too (below).
 *
 * Cancellation (task_abort() on the handle):
 *  - before a pool thread has started the job: the job is skipped (@fn
 *    never runs) and the task ends at once, as cancelled;
 *  - while @fn runs: C cannot interrupt it.  @fn runs to completion; the
 *    task ends, as cancelled, only after @fn has returned, so once a join
 *    reports -ECANCELED, @fn is no longer touching @arg.  Its return value
 *    is still kept (task_blocking_result()), so that memory it returns
 *    can be freed.
 *
 * Shutdown (task_runtime_shutdown()): jobs still queued are dropped (their
 * @fn never runs; their tasks end cancelled); the shutdown waits for the
 * jobs already running to return, with no time limit, as Tokio's
 * Runtime::drop does, and for the pool's threads to exit.  **A job that
 * never returns (a read from a pipe nobody writes, a wait on a task of the
 * runtime being shut down) hangs task_runtime_shutdown().**  Give such jobs
 * a way out (a timeout, a descriptor you close before shutting down).
 */
#ifndef LIBTASK_BLOCKING_H
#define LIBTASK_BLOCKING_H

#include <libtask/common.h>
#include <libtask/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A blocking job: runs on a pool thread; its return value is the result. */
typedef void *(*task_blocking_fn)(void *arg);

/*
 * task_spawn_blocking - run @fn(@arg) on @rt's blocking pool.
 * @rt:  the runtime; any thread may call this (a task, or a plain thread).
 * @fn:  the job; called once on a pool thread, unless the job is
 *       cancelled before it starts.
 * @arg: passed to @fn; owned by the caller, who must keep it valid until
 *       @fn has returned, that is, until a join of the handle returns
 *       (whatever it reports) or the runtime has been shut down.
 * @out: receives a join handle, owned by the caller: await it with
 *       task_join_poll() / TASK_JOIN, or task_join_blocking() from a
 *       thread; abort it with task_abort(); release it with
 *       task_handle_release() (the job runs on, detached).
 *
 * Joining reports 0 when @fn ran and the task was not aborted (the result
 * is then task_blocking_result()), -ECANCELED when it was aborted, dropped
 * at shutdown, or refused because no pool thread could be started.
 *
 * Returns 0, -EINVAL (NULL @rt, @fn or @out), -ENOMEM (the pool or the
 * task could not be allocated), -ESHUTDOWN (the runtime is shut down), or
 * -EAGAIN (no pool thread runs and none could be started: pthread_create
 * failed).  On failure @fn never runs and *@out is untouched.
 *
 * Cost: one task allocation (the job lives in the task's frame) and, on
 * the submitting thread, one compare-and-swap on the pool's inbox; plus a
 * futex wake when a pool thread is idle, or a pthread_create when none is
 * and the pool may grow.
 */
TASK_API int task_spawn_blocking(task_runtime *rt, task_blocking_fn fn,
                                 void *arg, task_handle **out);

/*
 * task_blocking_result - the value @fn returned, once the task of @h (a
 * handle from task_spawn_blocking()) has ended and @fn ran to completion:
 * after a join that reported 0, and also after one that reported
 * -ECANCELED because of an abort that came while @fn ran (so that what @fn
 * returned can be freed).  NULL when @fn never ran, while the task has not
 * ended, for NULL, and for a handle of another kind of task.  The value is
 * the caller's, as @fn handed it over; the pool never touches it.
 */
TASK_API void *task_blocking_result(task_handle *h);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_BLOCKING_H */
