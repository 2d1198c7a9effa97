/*
 * libtask/blocking.h - the blocking pool: run blocking code on a thread
 * beside the workers and await it from a task.  (PLACEHOLDER: the two
 * declarations below are the fixed contract; the blocking-pool module
 * documents and implements them.)
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
 * task_spawn_blocking - run @fn(@arg) on @rt's blocking pool.  *@out gets a
 * join handle (await it with task_join_poll / TASK_JOIN, or
 * task_join_blocking; release it with task_handle_release).
 */
TASK_API int task_spawn_blocking(task_runtime *rt, task_blocking_fn fn,
                                 void *arg, task_handle **out);

/* The value @fn returned, once joining @h reported 0; else NULL. */
TASK_API void *task_blocking_result(task_handle *h);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_BLOCKING_H */
