/*
 * semaphore-priv.h - what the semaphore offers the primitives built on it
 * (the Mutex and the RwLock), beyond libtask/semaphore.h (internal).
 */
#ifndef LIBTASK_SYNC_SEMAPHORE_PRIV_H
#define LIBTASK_SYNC_SEMAPHORE_PRIV_H

#include <libtask/semaphore.h>

#include <stdint.h>

/*
 * task__sem_release_max - task_sem_release() of @n permits (n >= 1) that
 * is refused when the free count would exceed @limit (at most
 * TASK_SEM_MAX_PERMITS): returns 0, or -EOVERFLOW, having added nothing,
 * when count + n > limit.  While tasks wait the count is 0 and the permits
 * go to the queue, so then only n > limit is refused.
 *
 * A lock built on the semaphore passes the number of permits it was made
 * with (1 for the Mutex), so that an unlock of a lock that nobody holds,
 * which would add a permit that was never taken, is refused.  The
 * semaphore does not count the permits that are out, so it cannot tell a
 * holder from a waiter that was handed the permits but has not run yet:
 * see mutex.c.
 */
int task__sem_release_max(struct task_sem *s, uint64_t n, uint64_t limit);

#endif /* LIBTASK_SYNC_SEMAPHORE_PRIV_H */
