/*
 * task.c - the task state machine: spawn, poll outcome, wake, join, abort
 * and reference counting.  The state word is described in runtime-priv.h.
 *
 * The transitions, each one atomic RMW (or none):
 *
 *   spawn        (new) -> SCHEDULED [+ JOIN_INTEREST]; then pushed.
 *   wake         idle -> SCHEDULED, and the waker pushes the task;
 *                SCHEDULED -> SCHEDULED|NOTIFIED (the poller re-queues);
 *                COMPLETE or already NOTIFIED: nothing.
 *   poll start   nothing: a popped task is SCHEDULED already, and only the
 *                polling worker touches the frame until it gives it up.
 *   poll PENDING yield: nothing, the task stays SCHEDULED and goes to the
 *                back of the local queue.  Otherwise one CAS: NOTIFIED ->
 *                clear it and re-queue; else clear SCHEDULED (idle).
 *   poll DONE    -> COMPLETE (CANCELLED kept only if this was a cancelling
 *                poll), the join waiter is woken, the runtime's reference
 *                dropped.  A detached task nobody else refers to is freed
 *                with no RMW at all.
 *   abort        idle -> SCHEDULED|CANCELLED (pushed); SCHEDULED ->
 *                |CANCELLED|NOTIFIED; ended: nothing.
 *
 * So a task is pushed exactly once per idle -> SCHEDULED transition, never
 * twice however many wakes race, and a wake during a poll is never lost
 * (it leaves NOTIFIED, which the post-poll CAS sees).
 *
 * Memory orderings: the post-poll CAS is acq_rel: release publishes the
 * frame's writes to whoever polls next; acquire makes the wakers' writes
 * (released by their RMW) visible to the re-poll.  The idle -> SCHEDULED
 * CAS is acq_rel for the same two reasons, and the queue push/pop carries
 * the frame to the next poller (release tail / acquire head).  Reference
 * drops are acq_rel so that the freer sees every holder's last access.
 */
#include "runtime-priv.h"

#include <errno.h>
#include <string.h>

#define MAX_FRAME ((size_t)1 << 29)

/* A thread blocked in task_join_blocking(): tagged TASK__JW_THREAD. */
struct thread_waiter {
        _Atomic uint32_t done;
};

static inline uint64_t load_state(const struct task *t, memory_order mo)
{
        return atomic_load_explicit(&((struct task *)t)->state, mo);
}

/* Drop a reference; the caller is inside a foreign_ops bracket if needed. */
static void unref(struct task *t)
{
        /* acq_rel: our accesses happen before the free; the freer sees all. */
        uint64_t prev = atomic_fetch_sub_explicit(&t->state, TASK_ST_REF_ONE,
                                                  memory_order_acq_rel);
        if (TASK_ST_REFS(prev) == 1)
                task__task_free(t);
}

static void drop_ref(struct task *t)
{
        struct task_runtime *rt = task__rt_of(t);
        bool foreign = task__foreign_enter(rt);
        unref(t);
        task__foreign_exit(rt, foreign);
}

static void wake_waiter(struct task *t, uintptr_t waiter)
{
        void *p = (void *)(waiter & ~TASK__JW_TAGS);

        if (waiter & TASK__JW_JOINSET) {
                task__joinset_notify(p, t);
        } else if (waiter & TASK__JW_THREAD) {
                struct thread_waiter *tw = p;
                /* Release: the joiner reads the task's final state after. */
                atomic_store_explicit(&tw->done, 1, memory_order_release);
                task__futex_wake(&tw->done, 1);
        } else if (waiter) {
                task_wake(p);
        }
}

static void drop_waiter(uintptr_t waiter)
{
        if (waiter & TASK__JW_JOINSET)
                task__joinset_forget((void *)(waiter & ~TASK__JW_TAGS));
        else if (waiter && !(waiter & TASK__JW_THREAD))
                drop_ref((struct task *)waiter);
}

/*
 * The task ended (its poll returned TASK_DONE, or a cancelling poll ran).
 * @w: the worker that polled it, or NULL (shutdown).
 */
static void complete(struct task__worker *w, struct task *t, bool cancelled)
{
        struct task_runtime *rt = task__rt_of(t);
        /* Acquire: pairs with the release of the last handle/waker drop. */
        uint64_t st = load_state(t, memory_order_acquire);

        if (w)
                task__metric_inc_ended(&w->m.ended);
        else
                atomic_fetch_add_explicit(&rt->ext_ended, 1,
                                          memory_order_release);

        if (TASK_ST_REFS(st) == 1 &&
            !(st & (TASK_ST_JOIN_INTEREST | TASK_ST_JOIN_WAKER))) {
                /* Only the runtime refers to it: nobody can see it end. */
                task__task_free(t);
                return;
        }

        uint64_t next;
        do {
                next = (st | TASK_ST_COMPLETE) &
                       ~(TASK_ST_SCHEDULED | TASK_ST_NOTIFIED);
                if (!cancelled)
                        next &= ~TASK_ST_CANCELLED;
                else
                        next |= TASK_ST_CANCELLED;
        } while (!atomic_compare_exchange_weak_explicit(
            &t->state, &st, next, memory_order_acq_rel, memory_order_acquire));

        if (st & TASK_ST_JOIN_WAKER) {
                /* We saw JOIN_WAKER at COMPLETE: the waiter is ours now.
                 * The acquire above pairs with the joiner's release CAS. */
                wake_waiter(t, atomic_load_explicit(&t->join_waiter,
                                                    memory_order_relaxed));
        }
        /* The runtime's reference.  No foreign_ops bracket: we are a worker,
         * or the shutdown thread, before the runtime can be freed. */
        unref(t);
}

/* ---- Spawn ----------------------------------------------------------------- */

static void init_task(struct task *t, struct task__heap *h, task_fn fn,
                      const void *frame, size_t size, bool handle,
                      const struct task_site *site)
{
        uint64_t large = load_state(t, memory_order_relaxed) & TASK_ST_LARGE;

        memcpy(task__frame(t), frame, size);
        atomic_store_explicit(&t->id, task__id_next(h), memory_order_relaxed);
        atomic_store_explicit(&t->fn, fn, memory_order_relaxed);
        atomic_store_explicit(&t->site, NULL, memory_order_relaxed);
        atomic_store_explicit(&t->spawn, site, memory_order_relaxed);
        t->next = NULL;
        atomic_store_explicit(&t->join_waiter, 0, memory_order_relaxed);
        uint64_t st = large | TASK_ST_SCHEDULED | TASK_ST_REF_ONE;
        if (handle)
                st += TASK_ST_JOIN_INTEREST | TASK_ST_REF_ONE;
        /* Release: a task dump that sees the state sees the fields. */
        atomic_store_explicit(&t->state, st, memory_order_release);
}

int task_spawn_at(task_runtime *rt, task_fn fn, const void *frame, size_t size,
                  task_handle **out, const struct task_site *site)
{
        struct task *t;

        if (!rt || !fn || size < sizeof(struct task_co) || size > MAX_FRAME ||
            !frame)
                return -EINVAL;

        struct task__worker *w = task__current_worker(rt);
        if (w) {
                /* Acquire: pairs with the release store in shutdown. */
                if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
                        return -ESHUTDOWN;
                t = task__task_alloc(&w->heap, sizeof(*t) + size);
                if (!t)
                        return -ENOMEM;
                init_task(t, &w->heap, fn, frame, size, out != NULL, site);
                task__metric_inc(&w->m.spawned, 1);
                if (out)
                        *out = t;
                task__worker_schedule_local(w, t, false);
                return 0;
        }

        /*
         * From outside the runtime.  The shutdown check and the push happen
         * under the external heap's lock: shutdown takes that lock after
         * raising the flag, so a spawn either fails or is fully pushed (and
         * in the registry) before shutdown starts cancelling.
         */
        struct task__heap *h = &rt->ext_heap;
        task__spin_lock(&h->lock);
        if (atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
                task__spin_unlock(&h->lock);
                return -ESHUTDOWN;
        }
        t = task__task_alloc(h, sizeof(*t) + size);
        if (!t) {
                task__spin_unlock(&h->lock);
                return -ENOMEM;
        }
        init_task(t, h, fn, frame, size, out != NULL, site);
        atomic_fetch_add_explicit(&rt->ext_spawned, 1, memory_order_relaxed);
        if (out)
                *out = t;
        task__inject_push(&rt->inject, t);
        /*
         * The task may run, end and be released, and the runtime be freed,
         * as soon as the lock is dropped.  So decide under the lock whether
         * a worker must be woken (usually not: one is searching); only then
         * enter foreign_ops, still under the lock (shutdown takes it, so
         * task_runtime_free sees the count and waits for
         * task__foreign_exit), and notify after dropping it.
         */
        bool notify = task__idle_notify_wanted(&rt->idle);
        bool foreign = notify && task__foreign_enter(rt);
        task__spin_unlock(&h->lock);
        if (notify)
                task__notify_parked(rt);
        task__foreign_exit(rt, foreign);
        return 0;
}

/* ---- Poll ------------------------------------------------------------------ */

void task__poll(struct task__worker *w, struct task *t)
{
        struct task_runtime *rt = w->rt;
        /* Acquire: CANCELLED was set by a release RMW in task_abort(). */
        uint64_t st = load_state(t, memory_order_acquire);
        struct task_cx cx = {
            .task = t,
            .rt = rt,
            .site = NULL,
            .budget = (int)rt->opts.budget,
            .cancelling = (st & TASK_ST_CANCELLED) != 0,
            .yielded = 0,
        };
        task_fn fn = atomic_load_explicit(&t->fn, memory_order_relaxed);
        uint64_t seq = atomic_load_explicit(&w->poll_seq, memory_order_relaxed);

        /* Published for the stall detector: odd while polling. */
        atomic_store_explicit(&w->current, t, memory_order_relaxed);
        atomic_store_explicit(&w->poll_seq, seq + 1, memory_order_relaxed);
        int r = fn(&cx, task__frame(t));
        atomic_store_explicit(&w->poll_seq, seq + 2, memory_order_relaxed);
        task__metric_inc(&w->m.polls, 1);

        /* A cancelling poll ends the task, even if its cleanup suspended
         * (a documented hazard), unless a resource asked it to wait for
         * its cancellation to finish (cx.cancel_wait: an I/O in flight). */
        if (r != TASK_PENDING ||
            TASK__UNLIKELY_(cx.cancelling && !cx.cancel_wait)) {
                complete(w, t, cx.cancelling);
                return;
        }
        if (cx.site)
                atomic_store_explicit(&t->site, cx.site, memory_order_relaxed);
        if (cx.yielded) {
                /* Still SCHEDULED: no state change, to the back of the queue. */
                task__worker_schedule_local(w, t, true);
                return;
        }

        st = load_state(t, memory_order_relaxed);
        for (;;) {
                uint64_t next;
                if (st & TASK_ST_NOTIFIED)
                        next = st & ~TASK_ST_NOTIFIED;
                else
                        next = st & ~TASK_ST_SCHEDULED;
                if (atomic_compare_exchange_weak_explicit(&t->state, &st, next,
                                                          memory_order_acq_rel,
                                                          memory_order_relaxed))
                        break;
        }
        if (st & TASK_ST_NOTIFIED)
                task__worker_schedule_local(w, t, true);
}

void task__cancel_at_shutdown(struct task *t)
{
        struct task_runtime *rt = task__rt_of(t);
        uint64_t st = load_state(t, memory_order_acquire);

        if (st & TASK_ST_COMPLETE)
                return;
        /* The workers are gone: this thread is the only poller. */
        struct task_cx cx = {
            .task = t,
            .rt = rt,
            .budget = (int)rt->opts.budget,
            .cancelling = 1,
        };
        task_fn fn = atomic_load_explicit(&t->fn, memory_order_relaxed);
        (void)fn(&cx, task__frame(t)); /* ends the task even if it suspends */
        complete(NULL, t, true);
}

/* ---- Wake ------------------------------------------------------------------ */

void task__schedule(struct task_runtime *rt, struct task *t, bool is_yield)
{
        struct task__worker *w = task__current_worker(rt);

        if (w) {
                task__worker_schedule_local(w, t, is_yield);
        } else {
                task__inject_push(&rt->inject, t);
                task__notify_parked(rt);
        }
}

/*
 * Wake @t; with @consume, also give up the caller's reference.  The drop is
 * folded into the transition when the task has not ended: it cannot end
 * before it is polled again, so the runtime's own reference keeps it alive
 * and no foreign thread holds a reference after the task may have run.
 * (Except at shutdown, which ends SCHEDULED tasks itself; the push then
 * finds the global queue closed and touches nothing of the task.)
 */
static void wake(struct task *t, bool consume)
{
        struct task_runtime *rt = task__rt_of(t);
        bool foreign = task__foreign_enter(rt);
        uint64_t drop = consume ? TASK_ST_REF_ONE : 0;
        uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
        uint64_t next;

        for (;;) {
                if ((st & TASK_ST_COMPLETE) ||
                    (st & (TASK_ST_SCHEDULED | TASK_ST_NOTIFIED)) ==
                        (TASK_ST_SCHEDULED | TASK_ST_NOTIFIED)) {
                        /* Nothing to do but drop the reference, which
                         * may be the last one (an ended task). */
                        if (consume)
                                unref(t);
                        task__foreign_exit(rt, foreign);
                        return;
                }
                if (st & TASK_ST_SCHEDULED)
                        next = (st | TASK_ST_NOTIFIED) - drop;
                else
                        next = (st | TASK_ST_SCHEDULED) - drop;
                /* Release: the waker's writes reach the next poll (via the
                 * poller's acq_rel CAS, or via the queue we push to);
                 * acquire: the last poll's frame writes travel with us. */
                if (atomic_compare_exchange_weak_explicit(&t->state, &st, next,
                                                          memory_order_acq_rel,
                                                          memory_order_relaxed))
                        break;
        }
        if (!(st & TASK_ST_SCHEDULED))
                task__schedule(rt, t, false);
        task__foreign_exit(rt, foreign);
}

void task_wake(task_waker *w)
{
        if (w)
                wake(w, true);
}

void task_wake_by_ref(task_waker *w)
{
        if (w)
                wake(w, false);
}

task_waker *task_cx_waker(struct task_cx *cx)
{
        if (!cx || !cx->task)
                return NULL;
        /* Relaxed: creating a reference from a held one orders nothing. */
        atomic_fetch_add_explicit(&cx->task->state, TASK_ST_REF_ONE,
                                  memory_order_relaxed);
        return cx->task;
}

task_waker *task_waker_clone(task_waker *w)
{
        if (w)
                atomic_fetch_add_explicit(&w->state, TASK_ST_REF_ONE,
                                          memory_order_relaxed);
        return w;
}

void task_waker_drop(task_waker *w)
{
        if (w)
                drop_ref(w);
}

/* ---- Join handles ---------------------------------------------------------- */

/*
 * Install @waiter (a task reference, a thread waiter tagged TASK__JW_THREAD
 * or a JoinSet tagged TASK__JW_JOINSET) as the join
 * waiter.  Returns false, having installed it, or true when the task has
 * completed meanwhile (then @waiter was not installed; *@stp is the final
 * state).  Called only by the handle's owner.
 */
bool task__join_install(struct task *t, uintptr_t waiter, uint64_t *stp)
{
        uint64_t st = load_state(t, memory_order_acquire);

        if (st & TASK_ST_JOIN_WAKER) {
                /* Take the field back before rewriting it. */
                for (;;) {
                        if (st & TASK_ST_COMPLETE) {
                                *stp = st;
                                return true;
                        }
                        if (atomic_compare_exchange_weak_explicit(
                                &t->state, &st, st & ~TASK_ST_JOIN_WAKER,
                                memory_order_acq_rel, memory_order_acquire))
                                break;
                }
                drop_waiter(atomic_load_explicit(&t->join_waiter,
                                                 memory_order_relaxed));
                st &= ~TASK_ST_JOIN_WAKER;
        }
        atomic_store_explicit(&t->join_waiter, waiter, memory_order_relaxed);
        for (;;) {
                if (st & TASK_ST_COMPLETE) {
                        atomic_store_explicit(&t->join_waiter, 0,
                                              memory_order_relaxed);
                        *stp = st;
                        return true;
                }
                /* Release: the completer that sees JOIN_WAKER sees the
                 * waiter field. */
                if (atomic_compare_exchange_weak_explicit(
                        &t->state, &st, st | TASK_ST_JOIN_WAKER,
                        memory_order_acq_rel, memory_order_acquire))
                        return false;
        }
}

bool task_join_poll(struct task_cx *cx, task_handle *h, int *rc)
{
        if (!cx || !h) {
                if (rc)
                        *rc = -EINVAL;
                return true;
        }
        /* An abort's last look (coro.h): leave the join waiter as it is. */
        if (cx->cancelling)
                return false;
        /* Acquire: the task's frame (its results) is visible once COMPLETE. */
        uint64_t st = load_state(h, memory_order_acquire);
        if (!(st & TASK_ST_COMPLETE)) {
                if ((st & TASK_ST_JOIN_WAKER) &&
                    atomic_load_explicit(&h->join_waiter,
                                         memory_order_relaxed) ==
                        (uintptr_t)cx->task)
                        return false; /* already registered */
                task_waker *me = task_cx_waker(cx);
                if (!task__join_install(h, (uintptr_t)me, &st))
                        return false;
                drop_ref(me);
        }
        /* Ready: spend budget, as every resource that is ready does. */
        if (!task_coop_proceed(cx))
                return false;
        if (rc)
                *rc = task__join_result(st);
        return true;
}

int task_join_blocking(task_handle *h)
{
        if (!h)
                return -EINVAL;
        struct task_runtime *rt = task__rt_of(h);
        if (task__current_worker(rt))
                return -EDEADLK;

        uint64_t st = load_state(h, memory_order_acquire);
        if (st & TASK_ST_COMPLETE)
                return task__join_result(st);

        struct thread_waiter tw;
        atomic_init(&tw.done, 0);
        if (task__join_install(h, (uintptr_t)&tw | TASK__JW_THREAD, &st))
                return task__join_result(st);
        /* Acquire: pairs with the completer's release store of done. */
        while (atomic_load_explicit(&tw.done, memory_order_acquire) == 0)
                task__futex_wait(&tw.done, 0, -1);
        return task__join_result(load_state(h, memory_order_acquire));
}

void task_abort(task_handle *h)
{
        if (!h)
                return;
        uint64_t st = load_state(h, memory_order_relaxed);
        uint64_t next;

        for (;;) {
                if (st & (TASK_ST_COMPLETE | TASK_ST_CANCELLED))
                        return;
                if (st & TASK_ST_SCHEDULED)
                        next = st | TASK_ST_CANCELLED | TASK_ST_NOTIFIED;
                else
                        next = st | TASK_ST_CANCELLED | TASK_ST_SCHEDULED;
                /* Release: pairs with the acquire load at poll start. */
                if (atomic_compare_exchange_weak_explicit(&h->state, &st, next,
                                                          memory_order_acq_rel,
                                                          memory_order_relaxed))
                        break;
        }
        if (!(st & TASK_ST_SCHEDULED))
                task__schedule(task__rt_of(h), h, false);
}

void task_handle_release(task_handle *h)
{
        if (!h)
                return;
        struct task_runtime *rt = task__rt_of(h);
        bool foreign = task__foreign_enter(rt);
        uint64_t st = load_state(h, memory_order_relaxed);
        uint64_t next;
        bool take_waiter;

        for (;;) {
                take_waiter =
                    (st & TASK_ST_JOIN_WAKER) && !(st & TASK_ST_COMPLETE);
                next = (st & ~(TASK_ST_JOIN_INTEREST |
                               (take_waiter ? TASK_ST_JOIN_WAKER : 0))) -
                       TASK_ST_REF_ONE;
                if (atomic_compare_exchange_weak_explicit(&h->state, &st, next,
                                                          memory_order_acq_rel,
                                                          memory_order_relaxed))
                        break;
        }
        if (take_waiter)
                drop_waiter(atomic_load_explicit(&h->join_waiter,
                                                 memory_order_relaxed));
        if (TASK_ST_REFS(next) == 0)
                task__task_free(h);
        task__foreign_exit(rt, foreign);
}

void *task_handle_frame(task_handle *h)
{
        return h ? task__frame(h) : NULL;
}

bool task_handle_finished(const task_handle *h)
{
        return h && (load_state(h, memory_order_acquire) & TASK_ST_COMPLETE);
}

uint64_t task_handle_id(const task_handle *h)
{
        return h ? atomic_load_explicit(&((struct task *)h)->id,
                                        memory_order_relaxed)
                 : 0;
}

uint64_t task_cx_id(const struct task_cx *cx)
{
        return (cx && cx->task) ? task_handle_id(cx->task) : 0;
}
