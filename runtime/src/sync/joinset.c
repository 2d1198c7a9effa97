/*
 * joinset.c - JoinSet: a set of tasks joined in the order they end
 * (libtask/joinset.h).
 *
 * How a finished task finds the set: the set installs itself as each
 * task's join waiter, tagged TASK__JW_JOINSET (task.c's wake_waiter()).  The
 * task's completer then calls task__joinset_notify(), which appends the
 * task to the set's ready list (linked through task.next, free once a task
 * is COMPLETE: no run queue holds it any more) and wakes the task waiting
 * in join_next, if any.  So join_next is O(1), with no scan of the set.
 *
 * Who touches what:
 *  - ready list, waiter, dead: under the lock (owner and completers).
 *  - v[] (every task of the set, each with two references: the join handle,
 *    which goes to the caller of join_next, and a plain reference, which
 *    keeps the entry readable until the set drops it), n, joined: the owner
 *    only.  A joined task is marked by next == JOINED (written under the
 *    lock when it leaves the ready list); entries are compacted out of v[]
 *    lazily, once most of them are joined.
 *  - refs: one for the owner, one per task whose join waiter is the set
 *    (dropped by its notify, or by task__joinset_forget when a handle
 *    release takes the waiter back).  The set's memory lives until the last
 *    is gone, so a completer never notifies freed memory even when the
 *    owner frees the set at the same moment.
 */
#include "sync/wait-priv.h"

#include <libtask/joinset.h>

#include <stdlib.h>

#define JOINED ((struct task *)1)

struct task_joinset {
        _Atomic long refs;
        struct task__spinlock lock;
        struct task *ready_head, *ready_tail; /* under lock */
        task_waker *waiter;                   /* under lock */
        bool dead;                            /* under lock */
        struct task **v;                      /* owner only */
        size_t n, cap, joined;
        /* n - joined, written by the owner, readable anywhere (relaxed:
         * task_joinset_len is a snapshot that orders nothing). */
        _Atomic size_t len;
};

static void set_unref(struct task_joinset *set)
{
        /* Acq_rel: the freer sees every completer's last access. */
        if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) == 1)
                free(set);
}

int task_joinset_new(task_joinset **out)
{
        if (!out)
                return -EINVAL;
        struct task_joinset *set =
            task__fault_alloc() ? NULL : calloc(1, sizeof(*set));
        if (!set)
                return -ENOMEM;
        atomic_init(&set->refs, 1);
        atomic_init(&set->len, 0);
        task__spin_init(&set->lock);
        *out = set;
        return 0;
}

/* Under the lock. */
static void ready_push(struct task_joinset *set, struct task *t)
{
        t->next = NULL;
        if (set->ready_tail)
                set->ready_tail->next = t;
        else
                set->ready_head = t;
        set->ready_tail = t;
}

void task__joinset_notify(struct task_joinset *set, struct task *t)
{
        task_waker *w = NULL;

        task__spin_lock(&set->lock);
        if (!set->dead) {
                ready_push(set, t);
                w = set->waiter;
                set->waiter = NULL;
        }
        task__spin_unlock(&set->lock);
        if (w)
                task_wake(w);
        set_unref(set);
}

void task__joinset_forget(struct task_joinset *set)
{
        set_unref(set);
}

int task_joinset_spawn_at(task_joinset *set, task_runtime *rt, task_fn fn,
                          const void *frame, size_t size, uint64_t *id,
                          const struct task_site *site)
{
        task_handle *h;
        uint64_t st;

        if (!set)
                return -EINVAL;
        if (set->n == set->cap) {
                size_t cap = set->cap ? set->cap * 2 : 16;
                struct task **v = task__fault_alloc()
                                      ? NULL
                                      : realloc(set->v, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                set->v = v;
                set->cap = cap;
        }
        int r = task_spawn_at(rt, fn, frame, size, &h, site);
        if (r < 0)
                return r;
        (void)task_waker_clone(h); /* the entry's own reference */
        atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
        if (task__join_install(h, (uintptr_t)set | TASK__JW_JOINSET, &st)) {
                /* It ended already: nobody will notify; queue it here. */
                set_unref(set); /* never the last: the owner holds one */
                task__spin_lock(&set->lock);
                ready_push(set, h);
                task__spin_unlock(&set->lock);
        }
        set->v[set->n++] = h;
        atomic_fetch_add_explicit(&set->len, 1, memory_order_relaxed);
        if (id)
                *id = task_handle_id(h);
        return 0;
}

/* Under the lock (next is written by completers under it). */
static bool entry_joined(struct task *t)
{
        /* Acquire: pairs with the completer's COMPLETE CAS. */
        uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);
        return (st & TASK_ST_COMPLETE) && t->next == JOINED;
}

/* Drop the entries already handed out, once they are most of v[]. */
static void compact(struct task_joinset *set)
{
        size_t k = 0;

        if (set->joined < 64 || set->joined * 2 < set->n)
                return;
        /* Pass 1, under the lock: tag the joined entries with bit 0. */
        task__spin_lock(&set->lock);
        for (size_t i = 0; i < set->n; i++)
                if (entry_joined(set->v[i]))
                        set->v[i] = (struct task *)((uintptr_t)set->v[i] | 1);
        task__spin_unlock(&set->lock);
        /* Pass 2: drop their references, keep the others in order. */
        for (size_t i = 0; i < set->n; i++) {
                uintptr_t e = (uintptr_t)set->v[i];
                if (e & 1)
                        task_waker_drop((struct task *)(e & ~(uintptr_t)1));
                else
                        set->v[k++] = (struct task *)e;
        }
        set->n = k;
        set->joined = 0;
}

/* Take the next ended task, under the lock; NULL if none. */
static struct task *ready_pop(struct task_joinset *set)
{
        struct task *t = set->ready_head;
        if (t) {
                set->ready_head = t->next;
                if (!set->ready_head)
                        set->ready_tail = NULL;
                t->next = JOINED;
        }
        return t;
}

/* The caller now owns @t's join handle. */
static void hand_out(struct task_joinset *set, struct task *t,
                     task_handle **out, int *rc)
{
        uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);
        set->joined++;
        atomic_fetch_sub_explicit(&set->len, 1, memory_order_relaxed);
        *out = t;
        if (rc)
                *rc = task__join_result(st);
        compact(set);
}

bool task_joinset_join_next_poll(struct task_cx *cx, task_joinset *set,
                                 task_handle **out, int *rc)
{
        if (!cx || !set || !out) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        if (cx->cancelling) {
                /* Dropped: forget our registration, take nothing. */
                task_waker *w = NULL;
                task__spin_lock(&set->lock);
                if (set->waiter && task_waker_wakes(set->waiter, cx)) {
                        w = set->waiter;
                        set->waiter = NULL;
                }
                task__spin_unlock(&set->lock);
                task_waker_drop(w);
                return false;
        }
        if (!task_coop_proceed(cx))
                return false;

        task_waker *old = NULL;
        task__spin_lock(&set->lock);
        struct task *t = ready_pop(set);
        if (!t && set->n - set->joined > 0 &&
            !(set->waiter && task_waker_wakes(set->waiter, cx))) {
                old = set->waiter;
                set->waiter = task_cx_waker(cx);
        }
        task__spin_unlock(&set->lock);
        task_waker_drop(old);

        if (t) {
                hand_out(set, t, out, rc);
                return true;
        }
        if (set->n - set->joined == 0) {
                *out = NULL;
                if (rc)
                        *rc = -ECHILD;
                return true;
        }
        cx->budget++; /* not ready: give the unit back */
        return false;
}

int task_joinset_try_join_next(task_joinset *set, task_handle **out,
                               int *task_rc)
{
        if (!set || !out)
                return -EINVAL;
        task__spin_lock(&set->lock);
        struct task *t = ready_pop(set);
        task__spin_unlock(&set->lock);
        if (t) {
                hand_out(set, t, out, task_rc);
                return 0;
        }
        return set->n - set->joined == 0 ? -ECHILD : -EAGAIN;
}

void task_joinset_abort_all(task_joinset *set)
{
        if (!set)
                return;
        /* An ended task ignores the abort, so joined entries may be hit. */
        for (size_t i = 0; i < set->n; i++)
                task_abort(set->v[i]);
}

size_t task_joinset_len(const task_joinset *set)
{
        return set ? atomic_load_explicit(&((task_joinset *)set)->len,
                                          memory_order_relaxed)
                   : 0;
}

void task_joinset_free(task_joinset *set)
{
        if (!set)
                return;
        task__spin_lock(&set->lock);
        set->dead = true; /* completers stop touching the ready list */
        task_waker *w = set->waiter;
        set->waiter = NULL;
        for (size_t i = 0; i < set->n; i++)
                if (entry_joined(set->v[i]))
                        set->v[i] = (struct task *)((uintptr_t)set->v[i] | 1);
        task__spin_unlock(&set->lock);
        task_waker_drop(w);

        for (size_t i = 0; i < set->n; i++) {
                uintptr_t e = (uintptr_t)set->v[i];
                struct task *t = (struct task *)(e & ~(uintptr_t)1);
                if (!(e & 1)) {
                        /* Ours: abort it and drop its handle (which takes
                         * the set back as its join waiter if it runs on). */
                        task_abort(t);
                        task_handle_release(t);
                }
                task_waker_drop(t);
        }
        free(set->v);
        set_unref(set);
}
