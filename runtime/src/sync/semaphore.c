/*
 * semaphore.c - the fair, weighted, closable semaphore (libtask/semaphore.h).
 * The Mutex and the RwLock are built on it, and release through
 * task__sem_release_max() (semaphore-priv.h) so that an unlock nobody
 * matches is refused.  (The bounded mpsc channel is not built on it: one
 * CAS per send on its own word measured 23 ns a message, the semaphore plus
 * a ring 43; see mpsc.c.)
 *
 * The word: (permits << 2) | WAITERS | CLOSED.  Invariants:
 *
 *  - WAITERS is set exactly while the queue is non-empty; both change only
 *    under the lock.
 *  - While WAITERS is set the word's count is 0: every permit released then
 *    goes to the queue, head first, so nobody can overtake a waiter.  Fast
 *    paths (a CAS on the word, no lock) run only while WAITERS is clear, and
 *    fail (falling back to the lock) as soon as it is set.
 *  - A queued waiter's operation holds n (asked for) and its node's arg
 *    (still missing): n - arg permits have been set aside for it.  A node
 *    leaves the queue when arg reaches 0 (DONE, result 0), when the
 *    semaphore closes (DONE, result -EPIPE, its set-aside permits back in
 *    the pool) or when it is cancelled (its set-aside permits go on to the
 *    next waiters).
 *
 * Orderings: the fast-path CASes are acq_rel: release so that what a task
 * wrote before releasing permits is visible to whoever takes them (acquire).
 * Under the lock, the lock orders the queue and the word's updates; a
 * waiter's permits are published by the release store of DONE.
 */
#include "sync/semaphore-priv.h"
#include "sync/wait-priv.h"

#include <libtask/semaphore.h>

#include <stddef.h>

#define SEM_CLOSED UINT64_C(1)
#define SEM_WAITERS UINT64_C(2)
#define SEM_SHIFT 2
#define SEM_PERMITS(w) ((w) >> SEM_SHIFT)

static void sem_cancel(struct task_wait *w);

/* Every semaphore wait node is the head of a struct task_sem_acquire. */
static struct task_sem_acquire *op_of(struct task_wait *w)
{
        return (
            struct task_sem_acquire *)((char *)w -
                                       offsetof(struct task_sem_acquire, w));
}

static const struct task_wait_ops sem_wait_ops = {
    .cancel = sem_cancel,
};

int task_sem_init(struct task_sem *s, uint64_t permits)
{
        if (!s || permits > TASK_SEM_MAX_PERMITS)
                return -EINVAL;
        atomic_init(&s->word, permits << SEM_SHIFT);
        task__spin_init(&s->lock);
        task__waitq_init(&s->waiters);
        return 0;
}

int task_sem_destroy(struct task_sem *s)
{
        if (!s)
                return -EINVAL;
        return task__waitq_destroy(&s->lock, &s->waiters);
}

/* Lock-free take of @n permits: 1 taken, 0 not possible now, -EPIPE. */
static int sem_try_fast(struct task_sem *s, uint64_t n)
{
        uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed);
        for (;;) {
                if (cur & SEM_CLOSED)
                        return -EPIPE;
                if ((cur & SEM_WAITERS) || SEM_PERMITS(cur) < n)
                        return 0;
                /* Acq_rel: acquire what the releaser published. */
                if (atomic_compare_exchange_weak_explicit(
                        &s->word, &cur, cur - (n << SEM_SHIFT),
                        memory_order_acq_rel, memory_order_relaxed))
                        return 1;
        }
}

/*
 * Under the lock: hand @n permits to the queue, head first, completing the
 * waiters they satisfy; what is left goes to the word (and WAITERS is
 * cleared once the queue is empty).  May drop and retake the lock to wake a
 * full wake list.
 */
static void sem_add_locked(struct task_sem *s, uint64_t n,
                           struct task__wakelist *wl)
{
        struct task_wait *w;

        while (n > 0 && (w = s->waiters.head) != NULL) {
                if (atomic_load_explicit(&s->word, memory_order_relaxed) &
                    SEM_CLOSED) {
                        /* task_sem_close() is draining the queue (it may
                         * have dropped the lock to wake a batch): its
                         * waiters get -EPIPE, the permits go to the pool. */
                        atomic_fetch_add_explicit(&s->word, n << SEM_SHIFT,
                                                  memory_order_release);
                        return;
                }
                if (w->arg > n) {
                        w->arg -= n; /* the head keeps waiting: nobody */
                        n = 0;       /* overtakes it */
                        break;
                }
                if (task__wakelist_full(wl)) {
                        task__spin_unlock(&s->lock);
                        task__wakelist_wake(wl);
                        task__spin_lock(&s->lock);
                        continue; /* the queue may have changed */
                }
                n -= w->arg;
                w->arg = 0;
                task__waitq_remove(&s->waiters, w);
                w->result = 0;
                task__wait_complete(wl, w);
        }
        uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed);
        if (!task__waitq_empty(&s->waiters)) {
                /* n is 0 here: the head absorbed it all. */
                return;
        }
        for (;;) {
                uint64_t next =
                    ((SEM_PERMITS(cur) + n) << SEM_SHIFT) | (cur & SEM_CLOSED);
                /* Release: the permits carry our writes to their takers. */
                if (atomic_compare_exchange_weak_explicit(&s->word, &cur, next,
                                                          memory_order_acq_rel,
                                                          memory_order_relaxed))
                        return;
        }
}

/*
 * Under the lock, after the fast path failed: take what is free (setting
 * WAITERS) and queue @w for the rest.  Returns 1 when all @n were free
 * after all (nothing queued), 0 when queued, -EPIPE when closed.
 */
static int sem_acquire_locked(struct task_sem *s, uint64_t n,
                              struct task_cx *cx, struct task_sem_acquire *op)
{
        struct task_wait *w = &op->w;
        uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed);
        uint64_t take;
        for (;;) {
                if (cur & SEM_CLOSED)
                        return -EPIPE;
                uint64_t avail = SEM_PERMITS(cur);
                uint64_t next;
                if (!(cur & SEM_WAITERS) && avail >= n) {
                        take = n;
                        next = cur - (n << SEM_SHIFT);
                } else {
                        take = avail; /* < n, or 0 under WAITERS */
                        next = SEM_WAITERS | (cur & SEM_CLOSED);
                }
                /* Acq_rel: as in sem_try_fast; the fast paths can race us
                 * until WAITERS is set, hence the CAS. */
                if (atomic_compare_exchange_weak_explicit(&s->word, &cur, next,
                                                          memory_order_acq_rel,
                                                          memory_order_relaxed))
                        break;
        }
        if (take == n)
                return 1;
        op->n = n;
        w->arg = n - take;
        w->result = 0;
        task__wait_enqueue(cx, &s->waiters, w, s, &sem_wait_ops);
        return 0;
}

/*
 * Under the lock: @w (queued) leaves; its set-aside permits go on.  With
 * nothing set aside (n - arg == 0) sem_add_locked() still does what is
 * needed: it clears WAITERS if @w was the last waiter.
 */
static void sem_unqueue_locked(struct task_sem *s, struct task_wait *w,
                               struct task__wakelist *wl)
{
        uint64_t got = op_of(w)->n - w->arg;
        task__wait_unqueue(&s->waiters, w);
        sem_add_locked(s, got, wl);
}

static void sem_cancel(struct task_wait *w)
{
        struct task_sem *s = w->obj;
        struct task__wakelist wl;
        task__wakelist_init(&wl);

        task__spin_lock(&s->lock);
        uint32_t st = task__wait_state(w);
        if (st == TASK_WAIT_QUEUED) {
                sem_unqueue_locked(s, w, &wl);
        } else if (st == TASK_WAIT_DONE) {
                /* Granted but never taken: the permits go back (n >= 1:
                 * an acquire of 0 never queues). */
                if (w->result == 0)
                        sem_add_locked(s, op_of(w)->n, &wl);
                task__wait_reset(w);
        }
        task__spin_unlock(&s->lock);
        task__wakelist_wake(&wl);
}

bool task_sem_acquire_poll(struct task_cx *cx, struct task_sem *s, uint64_t n,
                           struct task_sem_acquire *op, int *rc)
{
        int r;

        if (!cx || !s || !op || n > TASK_SEM_MAX_PERMITS) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        struct task_wait *w = &op->w;
        switch (task__wait_poll_begin(cx, w, s)) {
        case TASK__WAIT_CANCELLED:
        case TASK_WAIT_QUEUED:
                return false;
        case TASK_WAIT_DONE:
                r = w->result;
                task__wait_reset(w);
                goto out;
        }
        if (!task_coop_proceed(cx))
                return false;
        r = sem_try_fast(s, n);
        if (r == 0) {
                task__spin_lock(&s->lock);
                r = sem_acquire_locked(s, n, cx, op);
                task__spin_unlock(&s->lock);
                if (r == 0) {
                        cx->budget++; /* not ready: give the unit back */
                        return false;
                }
        }
        if (r > 0)
                r = 0;
out:
        if (rc)
                *rc = r;
        return true;
}

int task_sem_try_acquire(struct task_sem *s, uint64_t n)
{
        if (!s || n > TASK_SEM_MAX_PERMITS)
                return -EINVAL;
        if (n == 0) /* nothing to take: only a close can refuse it */
                return task_sem_is_closed(s) ? -EPIPE : 0;
        int r = sem_try_fast(s, n);
        return r > 0 ? 0 : r == 0 ? -EAGAIN : r;
}

int task_sem_acquire_blocking(struct task_sem *s, uint64_t n)
{
        if (!s || n > TASK_SEM_MAX_PERMITS)
                return -EINVAL;
        if (task__on_worker())
                return -EDEADLK;
        int r = sem_try_fast(s, n);
        if (r != 0)
                return r > 0 ? 0 : r;

        struct task_sem_acquire op = {0};
        task__spin_lock(&s->lock);
        r = sem_acquire_locked(s, n, NULL, &op);
        task__spin_unlock(&s->lock);
        if (r != 0)
                return r > 0 ? 0 : r;
        task__wait_block(&op.w);
        return op.w.result;
}

/*
 * task__sem_release_max() while tasks wait: the permits go to the queue,
 * under the lock.  Kept out of line (noinline) so that the lock-free path
 * does not pay for this one's stack frame (the wake list) and saved
 * registers: measured, 11.3 -> 10.3 ns per uncontended try_lock + unlock.
 */
__attribute__((noinline)) static int
sem_release_slow(struct task_sem *s, uint64_t n, uint64_t limit)
{
        struct task__wakelist wl;

        task__wakelist_init(&wl);
        task__spin_lock(&s->lock);
        uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed);
        if (!(cur & SEM_WAITERS) && SEM_PERMITS(cur) + n > limit) {
                task__spin_unlock(&s->lock);
                return -EOVERFLOW;
        }
        sem_add_locked(s, n, &wl);
        task__spin_unlock(&s->lock);
        task__wakelist_wake(&wl);
        return 0;
}

/* Lock-free while nobody waits.  Callers pass limit <= TASK_SEM_MAX_PERMITS. */
int task__sem_release_max(struct task_sem *s, uint64_t n, uint64_t limit)
{
        if (n > limit)
                return -EOVERFLOW;
        uint64_t cur = atomic_load_explicit(&s->word, memory_order_relaxed);
        while (!(cur & SEM_WAITERS)) {
                if (SEM_PERMITS(cur) + n > limit)
                        return -EOVERFLOW;
                /* Release: what we wrote is visible to the next taker. */
                if (atomic_compare_exchange_weak_explicit(
                        &s->word, &cur, cur + (n << SEM_SHIFT),
                        memory_order_acq_rel, memory_order_relaxed))
                        return 0;
        }
        return sem_release_slow(s, n, limit);
}

int task_sem_release(struct task_sem *s, uint64_t n)
{
        if (!s)
                return -EINVAL;
        if (n == 0)
                return 0;
        return task__sem_release_max(s, n, TASK_SEM_MAX_PERMITS);
}

void task_sem_close(struct task_sem *s)
{
        struct task__wakelist wl;
        task__wakelist_init(&wl);
        struct task_wait *w;
        uint64_t back = 0;

        if (!s)
                return;
        task__spin_lock(&s->lock);
        atomic_fetch_or_explicit(&s->word, SEM_CLOSED, memory_order_acq_rel);
        while ((w = s->waiters.head) != NULL) {
                if (task__wakelist_full(&wl)) {
                        task__spin_unlock(&s->lock);
                        task__wakelist_wake(&wl);
                        task__spin_lock(&s->lock);
                        continue;
                }
                task__waitq_remove(&s->waiters, w);
                back += op_of(w)->n - w->arg;
                w->result = -EPIPE; /* nothing to give back on cancel */
                task__wait_complete(&wl, w);
        }
        sem_add_locked(s, back, &wl); /* clears WAITERS, returns the permits */
        task__spin_unlock(&s->lock);
        task__wakelist_wake(&wl);
}

bool task_sem_is_closed(struct task_sem *s)
{
        return s && (atomic_load_explicit(&s->word, memory_order_acquire) &
                     SEM_CLOSED);
}

uint64_t task_sem_available(struct task_sem *s)
{
        return s ? SEM_PERMITS(
                       atomic_load_explicit(&s->word, memory_order_relaxed))
                 : 0;
}
