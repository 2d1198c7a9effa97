/*
 * wait-priv.h - the machinery every sync primitive shares (internal).
 *
 * A primitive keeps a FIFO queue of struct task_wait nodes (task_waitq)
 * under its spinlock.  The protocol, for a node @w owned by a task T (or a
 * thread):
 *
 *  1. T, in a poll, finds the primitive not ready: under the lock it calls
 *     task__wait_enqueue(), which stores a waker for T in the node, links
 *     it and marks it QUEUED.  From then on the primitive owns the node's
 *     links and waker.
 *  2. Whoever makes the primitive ready, under the lock, unlinks @w, writes
 *     the outcome (w->result, w->arg, ...) and calls task__wait_complete():
 *     that moves the waker to a wake list and stores DONE with release.
 *     **After that store it must not touch @w**: T may see DONE at once,
 *     finish, and its frame (holding @w) may be gone.  The wakes happen
 *     after the lock is dropped (task__wakelist_wake), with the waker's own
 *     reference keeping T's memory alive.
 *  3. T, polled again, loads DONE with acquire (pairing with 2), reads the
 *     outcome, and sets the node IDLE: it is T's alone again.
 *  4. Cancel (T aborted, a select branch lost, task_wait_cancel): under the
 *     lock, a QUEUED node is unlinked and its waker dropped; a DONE node's
 *     grant is given back by the primitive (ops->cancel).  Either way IDLE.
 *
 * A thread waiter is a node on the thread's stack with no waker: complete
 * records the address of w->state in the wake list, and the wake is a
 * futex wake on it.  That futex wake may come after the thread has seen
 * DONE and returned (its stack reused): FUTEX_WAKE on such an address is
 * harmless (at worst a spurious wake-up, which every futex waiter
 * tolerates); task_join_blocking() relies on the same rule.
 */
#ifndef LIBTASK_SYNC_WAIT_PRIV_H
#define LIBTASK_SYNC_WAIT_PRIV_H

#include "runtime-priv.h"

#include <libtask/wait.h>

#include <errno.h>
#include <stdatomic.h>

/* ---- Wait queues (under the primitive's lock) ---------------------------- */

static inline void task__waitq_init(struct task_waitq *q)
{
        q->head = q->tail = NULL;
}

static inline bool task__waitq_empty(const struct task_waitq *q)
{
        return q->head == NULL;
}

static inline void task__waitq_push(struct task_waitq *q, struct task_wait *w)
{
        w->next = NULL;
        w->prev = q->tail;
        if (q->tail)
                q->tail->next = w;
        else
                q->head = w;
        q->tail = w;
}

static inline void task__waitq_remove(struct task_waitq *q, struct task_wait *w)
{
        if (w->prev)
                w->prev->next = w->next;
        else
                q->head = w->next;
        if (w->next)
                w->next->prev = w->prev;
        else
                q->tail = w->prev;
        w->next = w->prev = NULL;
}

static inline struct task_wait *task__waitq_pop(struct task_waitq *q)
{
        struct task_wait *w = q->head;
        if (w)
                task__waitq_remove(q, w);
        return w;
}

/* ---- Node states --------------------------------------------------------- */

static inline uint32_t task__wait_state(struct task_wait *w)
{
        /* Acquire: pairs with the release store of DONE in complete(). */
        return atomic_load_explicit(&w->state, memory_order_acquire);
}

/* The owner takes a DONE node back (step 3). */
static inline void task__wait_reset(struct task_wait *w)
{
        /* Relaxed: nobody else looks at an IDLE node. */
        atomic_store_explicit(&w->state, TASK_WAIT_IDLE, memory_order_relaxed);
        w->obj = NULL;
}

/*
 * Step 1, under the primitive's lock: queue @w at the tail for the task
 * polled with @cx (or, with @cx NULL, for the calling thread).
 */
static inline void task__wait_enqueue(struct task_cx *cx, struct task_waitq *q,
                                      struct task_wait *w, void *obj,
                                      const struct task_wait_ops *ops)
{
        w->ops = ops;
        w->obj = obj;
        w->waker = cx ? task_cx_waker(cx) : NULL;
        /* Relaxed: the lock orders it with whoever completes the node. */
        atomic_store_explicit(&w->state, TASK_WAIT_QUEUED,
                              memory_order_relaxed);
        task__waitq_push(q, w);
}

/*
 * The start of every poll function, after its argument checks (steps 2-5
 * of the pattern in the sync brief): on a cancelling poll, cancel @w and
 * return TASK__WAIT_CANCELLED (the poll returns false); a node still
 * pending on another object than @obj (its operation struct was reused) is
 * cancelled and counts as IDLE.  Otherwise the state of @w: QUEUED (return
 * false, the waker is in place), DONE (read the outcome, then
 * task__wait_reset()) or IDLE (start the operation).
 */
#define TASK__WAIT_CANCELLED UINT32_C(0xffffffff)

static inline uint32_t task__wait_poll_begin(struct task_cx *cx,
                                             struct task_wait *w, void *obj)
{
        if (cx->cancelling) {
                task_wait_cancel(w);
                return TASK__WAIT_CANCELLED;
        }
        uint32_t st = task__wait_state(w);
        if (st != TASK_WAIT_IDLE && w->obj != obj) {
                task_wait_cancel(w); /* reused for another object */
                st = TASK_WAIT_IDLE;
        }
        return st;
}

/*
 * task_X_destroy() of a primitive whose only resource is its queue @q,
 * guarded by @l: 0, or -EBUSY while a node is queued.
 */
static inline int task__waitq_destroy(struct task__spinlock *l,
                                      struct task_waitq *q)
{
        task__spin_lock(l);
        bool busy = !task__waitq_empty(q);
        task__spin_unlock(l);
        return busy ? -EBUSY : 0;
}

/* ---- Waking, after the lock is dropped ----------------------------------- */

#define TASK__WAKE_BATCH 32

/* Tasks (their waker references) and futex words (tagged with bit 0). */
struct task__wakelist {
        unsigned n;
        uintptr_t e[TASK__WAKE_BATCH];
};

/*
 * Start an empty list.  Declare the list uninitialised and call this: an
 * `= {0}` initialiser zeroes all 264 bytes on every call, a measurable
 * cost on a send's hot path.
 */
static inline void task__wakelist_init(struct task__wakelist *wl)
{
        wl->n = 0;
}

static inline bool task__wakelist_full(const struct task__wakelist *wl)
{
        return wl->n == TASK__WAKE_BATCH;
}

/*
 * Step 2, under the lock: @w is already unlinked and its outcome written.
 * The caller checks task__wakelist_full() first (drop the lock, wake,
 * take the lock again).
 */
static inline void task__wait_complete(struct task__wakelist *wl,
                                       struct task_wait *w)
{
        if (w->waker) {
                wl->e[wl->n++] = (uintptr_t)w->waker;
                w->waker = NULL;
        } else {
                wl->e[wl->n++] = (uintptr_t)&w->state | 1;
        }
        /* Release: publishes the outcome to the owner's acquire load.  The
         * last access to @w. */
        atomic_store_explicit(&w->state, TASK_WAIT_DONE, memory_order_release);
}

/*
 * Wake everything in @wl (not under any lock) and empty it.
 *
 * A primitive that completes many nodes under its lock drops the lock to
 * wake a full list, then takes it again.  **In that window anything may
 * happen to it**: other completers, new waiters, cancellations.  After
 * retaking the lock, re-derive what is left to do from the primitive's
 * state (its queue head, its counters), never from what was read before.
 */
void task__wakelist_wake(struct task__wakelist *wl);

/*
 * Step 4 for a QUEUED node, under the lock: unlink it; its waker (our own
 * task's, which cannot be its last reference) is dropped.
 */
static inline void task__wait_unqueue(struct task_waitq *q, struct task_wait *w)
{
        task__waitq_remove(q, w);
        if (w->waker) {
                task_waker_drop(w->waker);
                w->waker = NULL;
        }
        atomic_store_explicit(&w->state, TASK_WAIT_IDLE, memory_order_relaxed);
        w->obj = NULL;
}

/* ---- Threads -------------------------------------------------------------- */

/* True on a libtask worker thread (of any runtime): blocking there is a bug. */
static inline bool task__on_worker(void)
{
        return task__tls_worker != NULL;
}

/* Block the calling thread until its node @w leaves QUEUED. */
void task__wait_block(struct task_wait *w);

#endif /* LIBTASK_SYNC_WAIT_PRIV_H */
