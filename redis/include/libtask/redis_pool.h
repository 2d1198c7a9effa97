/*
 * libtask/redis_pool.h - a small pool of Redis connections (what bb8 or a
 * Tower pool gives Tokio users): tasks borrow a connection, use it alone,
 * and give it back.
 *
 *     task_redis_pool *pool;
 *     task_redis_pool_new("127.0.0.1:6379", NULL, 8, &pool);
 *     ... in a task:
 *     struct job { TASK_FRAME; struct task_redis_pool_get get;
 *                  struct task_redis_op op; task_redis *c; ... };
 *     TASK_REDIS_POOL_GET(f, pool, &f->get, TASK_MS(500), &f->c, &f->rc);
 *     if (f->rc < 0) ...            // -ETIMEDOUT: all 8 busy for 500 ms
 *     TASK_REDIS_CMD(f, f->c, &f->op, 2, get, NULL, &f->v, &f->rc);
 *     task_redis_pool_put(pool, f->c);
 *     ...
 *     task_redis_pool_close(pool);  // when every connection is back:
 *     task_redis_pool_free(pool);
 *
 * At most max_size connections exist at once (borrowed plus idle).  A get
 * takes a permit of the pool's semaphore (semaphore.h: waiters are served
 * in FIFO order, so nobody starves), then the most recently returned idle
 * connection, or, when none is idle, connects a new one (lazily: a new
 * pool holds no connection).  A put gives the connection back to the idle
 * set and the permit to the next waiter; a connection that is broken
 * (!task_redis_connected()) or still owes replies (task_redis_pending())
 * is closed instead, and its slot is connected afresh by a later get.  A
 * connection's options (reconnection, timeouts, AUTH, SELECT...) are the
 * pool's, given at creation.
 *
 * Put back only a connection in a neutral state: a subscriber, a MULTI
 * without EXEC, a CLIENT REPLY OFF or a SELECT of another database would
 * follow it to its next borrower.  task_redis_pool_discard() closes one
 * instead (its slot is free again).
 *
 * Errors of a get (*@rc): 0; -EINVAL; -ETIMEDOUT (no connection came free
 * within the wait timeout); -ESHUTDOWN (the pool is closed); -ENOMEM; the
 * connect's errors (redis_client.h: -ECONNREFUSED, ...), after which the
 * permit is given back.
 *
 * Cancellation: a get is cancellation-safe: a waiting get leaves the
 * semaphore's queue; one that was connecting drops the new connection;
 * the permit goes back either way.
 *
 * Ownership: the pool is allocated by task_redis_pool_new() and owned by
 * the caller until task_redis_pool_free().  A borrowed connection is the
 * borrower's to use alone (one task at a time) until task_redis_pool_put()
 * or task_redis_pool_discard(); it must not be closed with
 * task_redis_close() (discard it).  Replies are the caller's, as always.
 *
 * Thread safety: every function may be called from any thread; the get
 * from any task on any runtime.  Borrowed connections move freely between
 * tasks and workers (a task_redis is used by one task at a time).
 */
#ifndef LIBTASK_REDIS_POOL_H
#define LIBTASK_REDIS_POOL_H

#include <libtask/redis_client.h>
#include <libtask/semaphore.h>
#include <libtask/time.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A pool (opaque). */
typedef struct task_redis_pool task_redis_pool;

/* The most connections a pool may hold. */
#define TASK_REDIS_POOL_MAX 4096

/*
 * A get in progress: caller storage (in the frame), zeroed before its
 * first use, reusable once a get has completed.  Fields are private.
 */
struct task_redis_pool_get {
        struct task_sem_acquire acq;
        struct task_sleep sleep;
        struct task_redis_op op;
        task_redis *c;
        int slot;
        int state;
};

/*
 * task_redis_pool_new - a pool of at most @max_size (1 to
 * TASK_REDIS_POOL_MAX) connections to @where (an address as in
 * redis_client.h), each made with the options @o (NULL: the defaults;
 * copied now, strings included).  Connects nothing yet.  Returns 0 with
 * the pool in *@out (owned by the caller), -EINVAL or -ENOMEM (nothing
 * allocated, *@out untouched).
 */
TASK_API int task_redis_pool_new(const char *where,
                                 const struct task_redis_opts *o,
                                 unsigned max_size, task_redis_pool **out);

/*
 * task_redis_pool_get_poll - borrow a connection from @pool, waiting at
 * most @wait_ns (0: as long as it takes) for one to come free; connecting
 * a new one is bounded by the pool's opts.connect_timeout_ns instead.
 * True when done, with *@rc 0 and the connection in *@out (the caller's
 * until it is put back or discarded), or *@rc -errno (head of this file)
 * and *@out untouched.  @g: the get's state, in the caller's frame.
 */
TASK_API bool task_redis_pool_get_poll(struct task_cx *cx,
                                       task_redis_pool *pool,
                                       struct task_redis_pool_get *g,
                                       uint64_t wait_ns, task_redis **out,
                                       int *rc);
#define TASK_REDIS_POOL_GET(f, pool, g, wait_ns, outp, rcp)                    \
        TASK_AWAIT(f, task_redis_pool_get_poll((cx), (pool), (g), (wait_ns),   \
                                               (outp), (rcp)))

/*
 * task_redis_pool_put - give back @c, borrowed from @pool.  No call may be
 * in progress on it.  Kept for the next borrower if it is connected and
 * owes no reply; closed otherwise.  Returns 0, or -EINVAL (NULL, or @c is
 * not a connection borrowed from @pool: then nothing is done).
 */
TASK_API int task_redis_pool_put(task_redis_pool *pool, task_redis *c);

/*
 * task_redis_pool_discard - as task_redis_pool_put, but always close @c
 * (its state is not fit to share: a subscriber, a SELECT...).
 */
TASK_API int task_redis_pool_discard(task_redis_pool *pool, task_redis *c);

/*
 * task_redis_pool_close - refuse new gets (-ESHUTDOWN, waiters too) and
 * close the idle connections; connections still borrowed are closed when
 * put back.  Idempotent; NULL is ignored.
 */
TASK_API void task_redis_pool_close(task_redis_pool *pool);

/*
 * task_redis_pool_free - close (as above) and free @pool and its idle
 * connections.  Returns 0; -EBUSY while connections are borrowed or gets
 * are in progress (then nothing is freed: put them back, cancel the gets,
 * and call again); or -EINVAL (NULL).
 */
TASK_API int task_redis_pool_free(task_redis_pool *pool);

/* A snapshot of the pool (taken under its lock). */
struct task_redis_pool_stats {
        unsigned max_size;
        unsigned open;      /* connections: borrowed + idle */
        unsigned idle;      /* connected, waiting for a borrower */
        unsigned borrowed;  /* out, or being connected for a get */
        uint64_t connects;  /* connections made so far */
        uint64_t reuses;    /* gets served by an idle connection */
        uint64_t discarded; /* closed by put (broken, owing) or discard */
        uint64_t timeouts;  /* gets that gave up waiting */
};

/* Fill @st.  Returns 0 or -EINVAL. */
TASK_API int task_redis_pool_stats(task_redis_pool *pool,
                                   struct task_redis_pool_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_REDIS_POOL_H */
