/*
 * blocking-priv.h - the blocking pool's internal entry point (blocking.c),
 * for libtask modules whose jobs own memory (net/src/resolve.c).
 */
#ifndef LIBTASK_BLOCKING_PRIV_H
#define LIBTASK_BLOCKING_PRIV_H

#include <libtask/blocking.h>

/*
 * task__spawn_blocking_ex - task_spawn_blocking() with a drop callback:
 * when the job is discarded without running (aborted before a thread
 * started it, dropped at shutdown, refused because no pool thread could be
 * started after the spawn returned), @drop(@arg) is called once, on
 * whichever thread discards it, so that @arg can own memory.  When @fn
 * runs, @drop is not called (@fn owns @arg then).  When this returns an
 * error, neither is called: @arg stays the caller's.  @drop may be NULL.
 */
int task__spawn_blocking_ex(task_runtime *rt, task_blocking_fn fn,
                            void (*drop)(void *arg), void *arg,
                            task_handle **out);

#endif /* LIBTASK_BLOCKING_PRIV_H */
