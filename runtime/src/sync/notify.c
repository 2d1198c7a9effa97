/*
 * notify.c - Notify: notify_one with a single stored permit, notify_waiters
 * (libtask/notify.h).  Tokio's tokio::sync::Notify, same state machine.
 *
 * The state word: (generation << 2) | EMPTY (0), WAITING (1) or NOTIFIED
 * (2).  The generation counts task_notify_waiters() calls.  Invariants:
 *
 *  - WAITING is set exactly while the queue is non-empty; both change only
 *    under the lock.  NOTIFIED (the permit) and WAITING exclude each other:
 *    a wait that finds the permit consumes it instead of queueing.
 *  - The generation changes only under the lock (notify_waiters).
 *  - Lock-free transitions: task_notify_one() turns EMPTY or NOTIFIED into
 *    NOTIFIED, and a poll turns NOTIFIED into EMPTY (consuming the permit).
 *    Everything else takes the lock, and so does notify_one when it sees
 *    WAITING.
 *  - A queued node's `arg` is the generation its wait started in (its
 *    snapshot).  A node is never queued with a snapshot older than the
 *    current generation (the poll completes it instead), so queued nodes
 *    are ordered by snapshot and notify_waiters completes exactly the head
 *    run of nodes older than its own generation, even when it drops the
 *    lock between batches of wake-ups and new waiters queue behind them.
 *  - A completed node's `result` says why: NOTIFY_ONE (picked by
 *    notify_one: if cancelled before it is consumed, the notification is
 *    passed on, like Tokio's Notified::drop) or NOTIFY_ALL (notify_waiters:
 *    not passed on).
 *  - A wait's snapshot is taken before anything else it does: by
 *    task_notified_init(), else on entry to its first poll, or on entry to
 *    task_notify_wait_blocking().  Any notify_waiters whose increment the
 *    snapshot did not see completes the wait.  An idle node's `result`
 *    says whether it holds a snapshot (NOTIFIED_SNAPSHOT, for `obj`).
 *
 * Orderings.  Every change of the permit is a read-modify-write, acq_rel:
 * a notify_one even rewrites NOTIFIED over NOTIFIED, so that the wait that
 * consumes the permit (acquire) reads from the latest notify_one (release)
 * and sees what that notifier wrote before notifying; a plain load there
 * would leave a waiter that consumed an older permit free to miss the new
 * condition.
 *
 * The snapshot against notify_waiters is message passing, with the
 * generation as the flag.  The waiter (task_notified_init(), then its check
 * of the condition) only reads: the snapshot, an acquire load of the word,
 * then the condition.  The notifier writes the condition, then increments
 * the generation with a release read-modify-write.  If the snapshot reads
 * a word that holds the increment, the waiter's check sees the condition;
 * if it reads an older word, the increment completes the wait: its poll
 * finds the generation changed, or, if it queued first (both sides take the
 * lock, so one of them goes first), notify_waiters completes its node.
 * Either way no wake-up is lost.  No fence is needed: that takes a
 * store-buffering pattern, where each side stores before it loads what the
 * other stored, and the waiter stores nothing that the notifier loads
 * (until it queues, under the lock).
 *
 * "A word that holds the increment" is the increment itself or any later
 * value of the word, and every later write either is a read-modify-write,
 * which continues the increment's release sequence, or is the release
 * store of notify_clear_waiting_locked(), made under the lock by the
 * notifier or by a thread that took the lock after it.  Either way the
 * acquire load that reads it synchronizes with a write that the increment
 * happens before.  The same pairing serves a poll that finds the
 * generation changed without the lock (task_notify_poll()).
 */
#include "sync/wait-priv.h"

#include <libtask/notify.h>

#define NOTIFY_EMPTY UINT64_C(0)
#define NOTIFY_WAITING UINT64_C(1)
#define NOTIFY_NOTIFIED UINT64_C(2)
#define NOTIFY_STATE_MASK UINT64_C(3)
#define NOTIFY_GEN_ONE UINT64_C(4)
#define NOTIFY_GEN(s) ((s) >> 2)
#define NOTIFY_STATE(s) ((s)&NOTIFY_STATE_MASK)
#define NOTIFY_WITH(s, st) (((s) & ~NOTIFY_STATE_MASK) | (st))

/* task_wait.result of a completed node. */
#define NOTIFY_ONE 1
#define NOTIFY_ALL 2

/* task_wait.result of an idle node: `arg` holds a snapshot (taken by
 * task_notified_init() or by a first poll that then yielded for budget) for
 * the notify in `obj` (a node is idle or done, never both, so one field
 * serves both; the value differs from NOTIFY_ONE/ALL anyway). */
#define NOTIFIED_SNAPSHOT 4

static void notify_cancel(struct task_wait *w);

static const struct task_wait_ops notify_wait_ops = {
    .cancel = notify_cancel,
};

int task_notify_init(struct task_notify *n)
{
        if (!n)
                return -EINVAL;
        atomic_init(&n->state, NOTIFY_EMPTY);
        task__spin_init(&n->lock);
        task__waitq_init(&n->waiters);
        return 0;
}

int task_notify_destroy(struct task_notify *n)
{
        if (!n)
                return -EINVAL;
        return task__waitq_destroy(&n->lock, &n->waiters);
}

/* Lock-free: consume the permit if it is stored.  True when consumed. */
static bool notify_take_permit(struct task_notify *n)
{
        uint64_t cur = atomic_load_explicit(&n->state, memory_order_relaxed);
        while (NOTIFY_STATE(cur) == NOTIFY_NOTIFIED) {
                /* Acq_rel: acquire pairs with the release of the notify_one
                 * that stored the permit (see the head comment). */
                if (atomic_compare_exchange_weak_explicit(
                        &n->state, &cur, NOTIFY_WITH(cur, NOTIFY_EMPTY),
                        memory_order_acq_rel, memory_order_relaxed))
                        return true;
        }
        return false;
}

/*
 * Under the lock, with the queue empty: WAITING becomes EMPTY.  No
 * lock-free path changes a WAITING word and the generation changes only
 * under the lock, so a plain store of the re-read word is exact.
 */
static void notify_clear_waiting_locked(struct task_notify *n)
{
        uint64_t cur = atomic_load_explicit(&n->state, memory_order_relaxed);
        if (NOTIFY_STATE(cur) == NOTIFY_WAITING)
                /* Release: a notify_one that reads EMPTY and stores the
                 * permit is ordered after our queue changes. */
                atomic_store_explicit(&n->state, NOTIFY_WITH(cur, NOTIFY_EMPTY),
                                      memory_order_release);
}

/*
 * Under the lock: one notify_one.  The head waiter is completed (added to
 * @wl, which must have room), or, if nobody waits, the permit is stored.
 */
static void notify_one_locked(struct task_notify *n, struct task__wakelist *wl)
{
        uint64_t cur = atomic_load_explicit(&n->state, memory_order_relaxed);
        for (;;) {
                if (NOTIFY_STATE(cur) == NOTIFY_WAITING) {
                        struct task_wait *w = task__waitq_pop(&n->waiters);
                        w->result = NOTIFY_ONE;
                        if (task__waitq_empty(&n->waiters))
                                notify_clear_waiting_locked(n);
                        task__wait_complete(wl, w); /* last touch of w */
                        return;
                }
                /* Acq_rel: as in task_notify_one() (a poll may be consuming
                 * the permit lock-free at the same time). */
                if (atomic_compare_exchange_weak_explicit(
                        &n->state, &cur, NOTIFY_WITH(cur, NOTIFY_NOTIFIED),
                        memory_order_acq_rel, memory_order_relaxed))
                        return;
        }
}

void task_notify_one(struct task_notify *n)
{
        if (!n)
                return;
        uint64_t cur = atomic_load_explicit(&n->state, memory_order_relaxed);
        while (NOTIFY_STATE(cur) != NOTIFY_WAITING) {
                /* Acq_rel, and a write even over NOTIFIED: the release pairs
                 * with the acquire of the poll that consumes the permit. */
                if (atomic_compare_exchange_weak_explicit(
                        &n->state, &cur, NOTIFY_WITH(cur, NOTIFY_NOTIFIED),
                        memory_order_acq_rel, memory_order_relaxed))
                        return;
        }

        struct task__wakelist wl;

        task__wakelist_init(&wl);
        task__spin_lock(&n->lock);
        notify_one_locked(n, &wl);
        task__spin_unlock(&n->lock);
        task__wakelist_wake(&wl);
}

void task_notify_waiters(struct task_notify *n)
{
        struct task__wakelist wl;
        task__wakelist_init(&wl);
        struct task_wait *w;

        if (!n)
                return;
        task__spin_lock(&n->lock);
        /* Release: publishes what the caller wrote before notifying to every
         * acquire load of the word that reads this generation or a later
         * one: the snapshots and task_notify_poll()'s check (see the head
         * comment). */
        uint64_t gen = NOTIFY_GEN(atomic_fetch_add_explicit(
                           &n->state, NOTIFY_GEN_ONE, memory_order_release)) +
                       1;
        while ((w = n->waiters.head) != NULL && w->arg < gen) {
                if (task__wakelist_full(&wl)) {
                        task__spin_unlock(&n->lock);
                        task__wakelist_wake(&wl);
                        task__spin_lock(&n->lock);
                        continue; /* the queue may have changed */
                }
                task__waitq_remove(&n->waiters, w);
                w->result = NOTIFY_ALL;
                task__wait_complete(&wl, w);
        }
        if (task__waitq_empty(&n->waiters))
                notify_clear_waiting_locked(n);
        task__spin_unlock(&n->lock);
        task__wakelist_wake(&wl);
}

/* The generation now.  Acquire: pairs with the release increment in
 * task_notify_waiters() (see the head comment). */
static uint64_t notify_snapshot(struct task_notify *n)
{
        return NOTIFY_GEN(
            atomic_load_explicit(&n->state, memory_order_acquire));
}

int task_notified_init(struct task_notified *op, struct task_notify *n)
{
        if (!op || !n)
                return -EINVAL;
        if (task_wait_pending(&op->w))
                return -EBUSY;
        op->w.obj = n;
        op->w.arg = notify_snapshot(n);
        op->w.result = NOTIFIED_SNAPSHOT;
        return 0;
}

/*
 * Under the lock, after the lock-free attempt failed: complete on a new
 * generation (since the snapshot @gen) or a permit, else queue @w with the
 * snapshot @gen.  Returns 1 when notified (nothing queued), 0 when queued.
 */
static int notify_wait_locked(struct task_notify *n, struct task_cx *cx,
                              struct task_wait *w, uint64_t gen)
{
        uint64_t cur = atomic_load_explicit(&n->state, memory_order_relaxed);
        for (;;) {
                if (NOTIFY_GEN(cur) != gen)
                        return 1; /* notify_waiters since the snapshot */
                uint64_t st = NOTIFY_STATE(cur);
                if (st == NOTIFY_WAITING)
                        break;
                uint64_t next = NOTIFY_WITH(
                    cur, st == NOTIFY_NOTIFIED ? NOTIFY_EMPTY : NOTIFY_WAITING);
                /* Acq_rel: consuming the permit acquires, as in
                 * notify_take_permit(); EMPTY -> WAITING races the
                 * lock-free notify_one, hence the CAS. */
                if (atomic_compare_exchange_weak_explicit(
                        &n->state, &cur, next, memory_order_acq_rel,
                        memory_order_relaxed)) {
                        if (st == NOTIFY_NOTIFIED)
                                return 1;
                        break;
                }
        }
        w->arg = gen;
        w->result = 0;
        task__wait_enqueue(cx, &n->waiters, w, n, &notify_wait_ops);
        return 0;
}

static void notify_cancel(struct task_wait *w)
{
        struct task_notify *n = w->obj;
        struct task__wakelist wl;
        task__wakelist_init(&wl);

        task__spin_lock(&n->lock);
        uint32_t st = task__wait_state(w);
        if (st == TASK_WAIT_QUEUED) {
                task__wait_unqueue(&n->waiters, w);
                if (task__waitq_empty(&n->waiters))
                        notify_clear_waiting_locked(n);
        } else if (st == TASK_WAIT_DONE) {
                /* Picked by notify_one but never returned: pass it on. */
                if (w->result == NOTIFY_ONE)
                        notify_one_locked(n, &wl);
                task__wait_reset(w);
        }
        task__spin_unlock(&n->lock);
        task__wakelist_wake(&wl);
        w->result = 0;
}

bool task_notify_poll(struct task_cx *cx, struct task_notify *n,
                      struct task_notified *op)
{
        if (!cx || !n || !op)
                return !(cx && cx->cancelling);
        struct task_wait *w = &op->w;
        switch (task__wait_poll_begin(cx, w, n)) {
        case TASK__WAIT_CANCELLED:
                w->result = 0; /* drop a snapshot */
                return false;
        case TASK_WAIT_QUEUED:
                return false;
        case TASK_WAIT_DONE:
                task__wait_reset(w);
                goto done;
        }
        if (!(w->result & NOTIFIED_SNAPSHOT) || w->obj != n) {
                /* No task_notified_init(): the first poll takes the
                 * snapshot, before the budget check can make it yield. */
                w->obj = n;
                w->arg = notify_snapshot(n);
                w->result = NOTIFIED_SNAPSHOT;
        }
        if (!task_coop_proceed(cx))
                return false;
        uint64_t gen = w->arg;
        w->result = 0; /* the snapshot is used by this wait only */
        /* Tokio's order: the permit first, then the generation. */
        if (notify_take_permit(n))
                goto done;
        /* Acquire: pairs with the increment in notify_waiters. */
        if (notify_snapshot(n) != gen)
                goto done;
        task__spin_lock(&n->lock);
        int r = notify_wait_locked(n, cx, w, gen);
        task__spin_unlock(&n->lock);
        if (r == 0) {
                cx->budget++; /* not ready: give the unit back */
                return false;
        }
done:
        w->result = 0;
        w->obj = NULL;
        return true;
}

int task_notify_wait_blocking(struct task_notify *n)
{
        if (!n)
                return -EINVAL;
        if (task__on_worker())
                return -EDEADLK;
        /* The snapshot first: a notify_waiters made after the call began
         * completes it, even one made before the lock is taken below. */
        uint64_t gen = notify_snapshot(n);
        if (notify_take_permit(n))
                return 0;
        struct task_wait w = {0};
        task__spin_lock(&n->lock);
        int r = notify_wait_locked(n, NULL, &w, gen);
        task__spin_unlock(&n->lock);
        if (r == 0)
                task__wait_block(&w);
        return 0;
}
