/*
 * libtask/task.h - the umbrella header: include this one.
 *
 * coro.h     the coroutine macros (TASK_BEGIN, TASK_AWAIT, TASK_YIELD, ...)
 * runtime.h  runtimes, spawning, join handles, wakers, dump and metrics
 * sync.h     sync primitives and channels (semaphore.h, mutex.h, mpsc.h, ...)
 * io.h       the I/O operation struct; why io_uring was refused
 * time.h     sleep, sleep_until, timeout, interval
 * fs.h       files through io_uring
 * blocking.h the blocking pool (task_spawn_blocking)
 * signal.h   awaiting signals from a task
 *
 * Networking has its own umbrella, libtask/net.h.
 */
#ifndef LIBTASK_TASK_H
#define LIBTASK_TASK_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/runtime.h>
#include <libtask/sync.h>
#include <libtask/io.h>
#include <libtask/time.h>
#include <libtask/fs.h>
#include <libtask/blocking.h>
#include <libtask/signal.h>

#define LIBTASK_VERSION_MAJOR 0
#define LIBTASK_VERSION_MINOR 1
#define LIBTASK_VERSION_PATCH 0

#endif /* LIBTASK_TASK_H */
