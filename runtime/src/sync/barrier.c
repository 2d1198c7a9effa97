/*
 * barrier.c - the reusable barrier (libtask/barrier.h).
 *
 * Everything happens under the lock: a party arrives (arrived++) and
 * queues, or, as the n-th, becomes the leader: it starts the next
 * generation (generation++, arrived = 0) and completes every queued node of
 * the finished one.  Invariants:
 *
 *  - arrived < n between calls, and arrived is the number of queued nodes
 *    of the current generation.
 *  - A queued node's `arg` is the generation it arrived in.  Nodes queue
 *    in arrival order, so the nodes of finished generations are the head
 *    run of the queue with arg != the current generation, and a leader
 *    completes exactly those.  Not just its own generation's: a leader
 *    drops the lock to wake each full batch, and meanwhile other parties
 *    can fill and finish the next generation, whose leader then finds the
 *    older nodes still at the head; either leader releases them all.
 *  - Cancelling a queued node withdraws its arrival (arrived--) only if it
 *    belongs to the current generation; a node of a finished generation
 *    (still queued because the leader is between batches) was released,
 *    and only leaves the queue.
 *
 * Orderings: the lock orders everything; a released party sees what every
 * party of its generation wrote before arriving (lock release/acquire, then
 * the release store of DONE that its poll loads with acquire).
 */
#include "sync/wait-priv.h"

#include <libtask/barrier.h>

static void barrier_cancel(struct task_wait *w);

static const struct task_wait_ops barrier_wait_ops = {
    .cancel = barrier_cancel,
};

int task_barrier_init(struct task_barrier *b, unsigned n)
{
        if (!b || n == 0)
                return -EINVAL;
        task__spin_init(&b->lock);
        b->n = n;
        b->arrived = 0;
        b->generation = 0;
        task__waitq_init(&b->waiters);
        return 0;
}

int task_barrier_destroy(struct task_barrier *b)
{
        if (!b)
                return -EINVAL;
        return task__waitq_destroy(&b->lock, &b->waiters);
}

/*
 * Under the lock: arrive.  As the n-th party, start the next generation,
 * complete the finished one's waiters (waking them through @wl, possibly
 * dropping the lock in between) and return true (the leader).  Otherwise
 * queue @w (for the task polled with @cx, or the calling thread) and
 * return false.
 */
static bool barrier_arrive_locked(struct task_barrier *b, struct task_cx *cx,
                                  struct task_wait *w,
                                  struct task__wakelist *wl)
{
        if (b->arrived + 1 < b->n) {
                b->arrived++;
                w->arg = b->generation;
                w->result = 0;
                task__wait_enqueue(cx, &b->waiters, w, b, &barrier_wait_ops);
                return false;
        }
        b->generation++;
        b->arrived = 0;
        struct task_wait *q;
        while ((q = b->waiters.head) != NULL && q->arg != b->generation) {
                if (task__wakelist_full(wl)) {
                        task__spin_unlock(&b->lock);
                        task__wakelist_wake(wl);
                        task__spin_lock(&b->lock);
                        continue; /* the queue may have changed */
                }
                task__waitq_remove(&b->waiters, q);
                task__wait_complete(wl, q);
        }
        return true;
}

static void barrier_cancel(struct task_wait *w)
{
        struct task_barrier *b = w->obj;

        task__spin_lock(&b->lock);
        uint32_t st = task__wait_state(w);
        if (st == TASK_WAIT_QUEUED) {
                if (w->arg == b->generation)
                        b->arrived--; /* withdraw the arrival */
                task__wait_unqueue(&b->waiters, w);
        } else if (st == TASK_WAIT_DONE) {
                task__wait_reset(w); /* released already: nothing to undo */
        }
        task__spin_unlock(&b->lock);
}

bool task_barrier_wait_poll(struct task_cx *cx, struct task_barrier *b,
                            struct task_barrier_wait *op, bool *is_leader,
                            int *rc)
{
        bool leader = false;

        if (!cx || !b || !op) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        struct task_wait *w = &op->w;
        switch (task__wait_poll_begin(cx, w, b)) {
        case TASK__WAIT_CANCELLED:
        case TASK_WAIT_QUEUED:
                return false;
        case TASK_WAIT_DONE:
                task__wait_reset(w);
                goto out;
        }
        if (!task_coop_proceed(cx))
                return false;
        struct task__wakelist wl;
        task__wakelist_init(&wl);
        task__spin_lock(&b->lock);
        leader = barrier_arrive_locked(b, cx, w, &wl);
        task__spin_unlock(&b->lock);
        if (!leader) {
                cx->budget++; /* not ready: give the unit back */
                return false;
        }
        task__wakelist_wake(&wl);
out:
        if (is_leader)
                *is_leader = leader;
        if (rc)
                *rc = 0;
        return true;
}

int task_barrier_wait_blocking(struct task_barrier *b, bool *is_leader)
{
        if (!b)
                return -EINVAL;
        if (task__on_worker())
                return -EDEADLK;
        struct task_wait w = {0};
        struct task__wakelist wl;
        task__wakelist_init(&wl);
        task__spin_lock(&b->lock);
        bool leader = barrier_arrive_locked(b, NULL, &w, &wl);
        task__spin_unlock(&b->lock);
        if (leader)
                task__wakelist_wake(&wl);
        else
                task__wait_block(&w);
        if (is_leader)
                *is_leader = leader;
        return 0;
}
