/*
 * libtask/sync.h - the sync primitives and channels, for tasks (and, where
 * it makes sense, plain threads): Tokio's tokio::sync.  docs/sync.md shows
 * each with an example and says which operations are cancellation-safe.
 *
 * wait.h       wait nodes, cancellation, TASK_SELECT, TASK_JOIN_ALL
 * semaphore.h  weighted fair semaphore
 * mutex.h      fair (FIFO) mutex
 * rwlock.h     fair reader-writer lock
 * notify.h     Notify: notify_one (with a permit), notify_waiters
 * barrier.h    a reusable barrier
 * oneshot.h    one value, once
 * mpsc.h       multi-producer, single-consumer channels, bounded/unbounded
 * broadcast.h  every receiver sees every value; laggers are told
 * watch.h      the latest value, receivers notified of changes
 * joinset.h    a set of tasks: await the next to finish, abort all
 */
#ifndef LIBTASK_SYNC_H
#define LIBTASK_SYNC_H

#include <libtask/barrier.h>
#include <libtask/broadcast.h>
#include <libtask/joinset.h>
#include <libtask/mpsc.h>
#include <libtask/mutex.h>
#include <libtask/notify.h>
#include <libtask/oneshot.h>
#include <libtask/rwlock.h>
#include <libtask/semaphore.h>
#include <libtask/wait.h>
#include <libtask/watch.h>

#endif /* LIBTASK_SYNC_H */
