/*
 * libtask/task.h - the umbrella header: include this one.
 *
 * coro.h     the coroutine macros (TASK_BEGIN, TASK_AWAIT, TASK_YIELD, ...)
 * runtime.h  runtimes, spawning, join handles, wakers, dump and metrics
 * sync.h     sync primitives and channels (semaphore.h, mutex.h, mpsc.h, ...)
 */
#ifndef LIBTASK_TASK_H
#define LIBTASK_TASK_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/runtime.h>
#include <libtask/sync.h>

#define LIBTASK_VERSION_MAJOR 0
#define LIBTASK_VERSION_MINOR 1
#define LIBTASK_VERSION_PATCH 0

#endif /* LIBTASK_TASK_H */
