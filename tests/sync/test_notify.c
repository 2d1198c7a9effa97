/*
 * test_notify.c - Notify: notify_one's single permit (a notify before the
 * wait is not lost, many notifies store one), FIFO wake-ups,
 * notify_waiters (everyone waiting now, no permit, a stored permit kept),
 * the task_notified_init() snapshot, cancellation (a notify_one picked
 * waiter that is aborted or loses a select passes the notification on;
 * a notify_waiters one does not), blocking waits from threads (and the
 * notify_waiters made after one began but before it queued), destroy,
 * bad input, stresses with stealing for both kinds of notification, and
 * the current-thread flavor.
 *
 * "Is task T waiting" is read from T's own wait node (wait_queued(),
 * helpers.h, on the struct task_notified in its frame), which turns QUEUED
 * under the Notify's lock and stays so until T is notified.  The tests
 * that need a waiter picked but not yet polled use a TASK_CURRENT_THREAD
 * runtime, where nothing runs between two task_block_on() calls.
 */
#include "helpers.h"

#include <sys/syscall.h>
#include <unistd.h>

/* ---- A task that waits once --------------------------------------------- */

struct waiter {
        TASK_FRAME;
        struct task_notify *n;
        atomic_int *seq;
        struct task_notified op;
        int pos;
        int done;
};

static int waiter_fn(struct task_cx *cx, void *arg)
{
        struct waiter *f = arg;

        TASK_BEGIN(f);
        TASK_NOTIFIED(f, f->n, &f->op);
        if (f->seq)
                f->pos = atomic_fetch_add(f->seq, 1);
        f->done = 1;
        TASK_END(f);
}

static task_handle *spawn_waiter(task_runtime *rt, struct task_notify *n,
                                 atomic_int *seq)
{
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, waiter_fn,
                                (&(struct waiter){.n = n, .seq = seq}), &h),
                     0);
        return h;
}

static struct waiter *waiter_of(task_handle *h)
{
        return task_handle_frame(h);
}

static bool w_queued(task_handle *h)
{
        return wait_queued(&waiter_of(h)->op.w);
}

/* Spawn a waiter and wait until it is queued on @n. */
static task_handle *spawn_queued(task_runtime *rt, struct task_notify *n,
                                 atomic_int *seq)
{
        task_handle *h = spawn_waiter(rt, n, seq);
        cr_assert(WAIT_UNTIL(w_queued(h), 5000), "the waiter never queued");
        return h;
}

/* Join a waiter that must have been notified. */
static void join_done(task_handle *h)
{
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(waiter_of(h)->done, 1);
}

/* A ct_run_until() condition (helpers.h). */
static bool h_queued(void *h)
{
        return w_queued(h);
}

/* ---- notify_one and its permit -------------------------------------------- */

Test(notify, notify_one_before_the_wait_is_not_lost, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;

        cr_assert_eq(task_notify_init(&n), 0);
        task_notify_one(&n);
        task_handle *h = spawn_waiter(rt, &n, NULL);
        join_done(h);
        task_handle_release(h);
        cr_assert_eq(task_notify_destroy(&n), 0);
        test_rt_free(rt);
}

Test(notify, many_notify_one_store_one_permit, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;

        cr_assert_eq(task_notify_init(&n), 0);
        for (int i = 0; i < 5; i++)
                task_notify_one(&n);
        task_handle *a = spawn_waiter(rt, &n, NULL);
        join_done(a);
        task_handle *b = spawn_queued(rt, &n, NULL);
        cr_assert_not(task_handle_finished(b), "a second permit was stored");
        cr_assert_eq(task_notify_destroy(&n), -EBUSY);
        task_notify_one(&n);
        join_done(b);
        cr_assert_eq(task_notify_destroy(&n), 0);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

Test(notify, notify_one_wakes_waiters_in_fifo_order, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;
        atomic_int seq = 0;
        enum { N = 8 };
        task_handle *h[N];

        cr_assert_eq(task_notify_init(&n), 0);
        for (int i = 0; i < N; i++)
                h[i] = spawn_queued(rt, &n, &seq);
        for (int i = 0; i < N; i++) {
                task_notify_one(&n);
                join_done(h[i]);
                for (int j = i + 1; j < N; j++)
                        cr_assert(w_queued(h[j]), "%d woken before %d", j, i);
        }
        for (int i = 0; i < N; i++) {
                cr_assert_eq(waiter_of(h[i])->pos, i);
                task_handle_release(h[i]);
        }
        /* Every notification was consumed: none is left as a permit. */
        task_handle *z = spawn_queued(rt, &n, NULL);
        task_notify_one(&n);
        join_done(z);
        task_handle_release(z);
        cr_assert_eq(task_notify_destroy(&n), 0);
        test_rt_free(rt);
}

/* ---- notify_waiters ---------------------------------------------------------- */

Test(notify, notify_waiters_wakes_all_and_stores_no_permit, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;
        enum { N = 40 }; /* more than one wake batch */
        task_handle *h[N];

        cr_assert_eq(task_notify_init(&n), 0);
        task_notify_waiters(&n); /* nobody waits: no effect */
        for (int i = 0; i < N; i++)
                h[i] = spawn_queued(rt, &n, NULL);
        task_notify_waiters(&n);
        for (int i = 0; i < N; i++) {
                join_done(h[i]);
                task_handle_release(h[i]);
        }
        task_handle *late = spawn_queued(rt, &n, NULL);
        cr_assert_not(task_handle_finished(late), "notify_waiters left a "
                                                  "permit");
        task_notify_one(&n);
        join_done(late);
        task_handle_release(late);
        cr_assert_eq(task_notify_destroy(&n), 0);
        test_rt_free(rt);
}

Test(notify, notify_waiters_leaves_a_stored_permit, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;

        cr_assert_eq(task_notify_init(&n), 0);
        task_notify_one(&n);
        task_notify_waiters(&n);
        task_handle *a = spawn_waiter(rt, &n, NULL);
        join_done(a); /* consumed the permit */
        task_handle *b = spawn_queued(rt, &n, NULL);
        cr_assert_not(task_handle_finished(b));
        task_notify_waiters(&n);
        join_done(b);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

/* ---- The notify_waiters snapshot ----------------------------------------------- */

struct snap {
        TASK_FRAME;
        struct task_notify *n;
        struct gate *g;
        bool init;
        atomic_int *ready;
        struct task_notified op;
        int rc;
        int done;
};

/* Prepare the wait (or not), report, wait on the gate, then on @n. */
static int snap_fn(struct task_cx *cx, void *arg)
{
        struct snap *f = arg;

        TASK_BEGIN(f);
        if (f->init)
                f->rc = task_notified_init(&f->op, f->n);
        atomic_store(f->ready, 1);
        TASK_AWAIT(f, gate_poll(cx, f->g));
        TASK_NOTIFIED(f, f->n, &f->op);
        f->done = 1;
        TASK_END(f);
}

static task_handle *spawn_snap(task_runtime *rt, struct task_notify *n,
                               struct gate *g, bool init, atomic_int *ready)
{
        task_handle *h;
        struct snap f = {.n = n, .g = g, .init = init, .ready = ready};

        cr_assert_eq(TASK_SPAWN(rt, snap_fn, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(ready) && gate_has_waiter(g), 5000));
        return h;
}

Test(notify, init_snapshot_receives_earlier_notify_waiters, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;
        struct gate g;
        atomic_int ready = 0;

        gate_init(&g);
        cr_assert_eq(task_notify_init(&n), 0);
        task_handle *h = spawn_snap(rt, &n, &g, true, &ready);
        task_notify_waiters(&n); /* after the init, before the first poll */
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h), 0);
        struct snap *f = task_handle_frame(h);
        cr_assert_eq(f->rc, 0);
        cr_assert_eq(f->done, 1);
        cr_assert_not(task_wait_pending(&f->op.w));
        cr_assert_eq(task_notify_destroy(&n), 0);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

static bool snap_queued(task_handle *h)
{
        return wait_queued(&((struct snap *)task_handle_frame(h))->op.w);
}

Test(notify, without_init_the_snapshot_is_the_first_poll, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;
        struct gate g;
        atomic_int ready = 0;

        gate_init(&g);
        cr_assert_eq(task_notify_init(&n), 0);
        task_handle *h = spawn_snap(rt, &n, &g, false, &ready);
        task_notify_waiters(&n); /* before the first poll: not seen */
        gate_open(&g);
        cr_assert(WAIT_UNTIL(snap_queued(h), 5000));
        cr_assert_not(task_handle_finished(h));
        task_notify_waiters(&n);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct snap *)task_handle_frame(h))->done, 1);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(notify, init_snapshot_is_not_fooled_by_earlier_calls, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;
        struct gate g;
        atomic_int ready = 0;

        gate_init(&g);
        cr_assert_eq(task_notify_init(&n), 0);
        task_notify_waiters(&n); /* before the init: not for this wait */
        task_handle *h = spawn_snap(rt, &n, &g, true, &ready);
        gate_open(&g);
        cr_assert(WAIT_UNTIL(snap_queued(h), 5000));
        cr_assert_not(task_handle_finished(h));
        task_notify_one(&n);
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Cancellation ----------------------------------------------------------------- */

Test(notify, aborted_queued_waiter_just_leaves, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;

        cr_assert_eq(task_notify_init(&n), 0);
        task_handle *a = spawn_queued(rt, &n, NULL);
        task_handle *b = spawn_queued(rt, &n, NULL);
        task_abort(a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        cr_assert(w_queued(b));
        task_notify_one(&n);
        join_done(b);
        cr_assert_eq(task_notify_destroy(&n), 0);
        /* No permit came out of the abort. */
        task_handle *c = spawn_queued(rt, &n, NULL);
        task_notify_one(&n);
        join_done(c);
        task_handle_release(a);
        task_handle_release(b);
        task_handle_release(c);
        test_rt_free(rt);
}

Test(notify, aborted_picked_waiter_passes_notify_one_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_notify n;

        cr_assert_eq(task_notify_init(&n), 0);
        task_handle *a = spawn_waiter(rt, &n, NULL);
        ct_run_until(rt, h_queued, a);
        task_handle *b = spawn_waiter(rt, &n, NULL);
        ct_run_until(rt, h_queued, b);

        task_notify_one(&n); /* picks a, which does not run yet */
        task_abort(a);
        ct_run_until(rt, h_finished, b);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        cr_assert_eq(waiter_of(a)->done, 0);
        join_done(b);
        cr_assert_eq(task_notify_destroy(&n), 0);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

Test(notify, aborted_picked_waiter_restores_the_permit, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_notify n;

        cr_assert_eq(task_notify_init(&n), 0);
        task_handle *a = spawn_waiter(rt, &n, NULL);
        ct_run_until(rt, h_queued, a);
        task_notify_one(&n);
        task_abort(a);
        ct_run_until(rt, h_finished, a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);

        /* The notification is the permit again: the next wait takes it. */
        task_handle *b = spawn_waiter(rt, &n, NULL);
        ct_run_until(rt, h_finished, b);
        join_done(b);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

Test(notify, aborted_notify_waiters_waiter_passes_nothing_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_notify n;

        cr_assert_eq(task_notify_init(&n), 0);
        task_handle *a = spawn_waiter(rt, &n, NULL);
        ct_run_until(rt, h_queued, a);
        task_notify_waiters(&n);
        task_abort(a);
        ct_run_until(rt, h_finished, a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);

        task_handle *b = spawn_waiter(rt, &n, NULL);
        ct_run_until(rt, h_queued, b);
        ct_settle(rt);
        cr_assert_not(task_handle_finished(b), "a permit came out of it");
        task_notify_one(&n);
        ct_run_until(rt, h_finished, b);
        join_done(b);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

struct sel {
        TASK_FRAME;
        struct gate *g;
        struct task_notify *n;
        struct task_notified op;
        struct task_select sel;
};

static int sel_fn(struct task_cx *cx, void *arg)
{
        struct sel *f = arg;

        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel, gate_poll(cx, f->g),
                    task_notify_poll(cx, f->n, &f->op));
        TASK_END(f);
}

static bool sel_waiting(void *h)
{
        struct sel *f = task_handle_frame(h);
        return wait_queued(&f->op.w) && gate_has_waiter(f->g);
}

Test(notify, select_loser_passes_notify_one_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_notify n;
        struct gate g;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_notify_init(&n), 0);
        cr_assert_eq(
            TASK_SPAWN(rt, sel_fn, (&(struct sel){.g = &g, .n = &n}), &h), 0);
        ct_run_until(rt, sel_waiting, h);
        task_handle *b = spawn_waiter(rt, &n, NULL);
        ct_run_until(rt, h_queued, b);

        /* Both branches ready before the select runs; the gate wins. */
        gate_open(&g);
        task_notify_one(&n);
        ct_run_until(rt, h_finished, b);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct sel *)task_handle_frame(h))->sel.which, 0);
        join_done(b);
        cr_assert_eq(task_notify_destroy(&n), 0);
        task_handle_release(h);
        task_handle_release(b);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(notify, select_on_multi_thread_winner_and_loser, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;
        struct gate g;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_notify_init(&n), 0);
        /* The notify wins: the gate's registration is dropped. */
        cr_assert_eq(
            TASK_SPAWN(rt, sel_fn, (&(struct sel){.g = &g, .n = &n}), &h), 0);
        cr_assert(WAIT_UNTIL(sel_waiting(h), 5000));
        task_notify_one(&n);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct sel *)task_handle_frame(h))->sel.which, 1);
        cr_assert_not(gate_has_waiter(&g));
        task_handle_release(h);

        /* The gate wins: the queued notify wait leaves the queue. */
        cr_assert_eq(
            TASK_SPAWN(rt, sel_fn, (&(struct sel){.g = &g, .n = &n}), &h), 0);
        cr_assert(WAIT_UNTIL(sel_waiting(h), 5000));
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct sel *)task_handle_frame(h))->sel.which, 0);
        cr_assert_eq(task_notify_destroy(&n), 0);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Threads ---------------------------------------------------------------------- */

struct tw {
        struct task_notify *n;
        atomic_int started;
        int rc;
};

static void *tw_main(void *arg)
{
        struct tw *t = arg;
        atomic_store(&t->started, 1);
        t->rc = task_notify_wait_blocking(t->n);
        return NULL;
}

Test(notify, blocking_wait_from_threads, .timeout = 10)
{
        struct task_notify n;
        struct tw t = {.n = &n, .rc = 1};
        pthread_t th;

        cr_assert_eq(task_notify_init(&n), 0);
        task_notify_one(&n);
        cr_assert_eq(task_notify_wait_blocking(&n), 0); /* the permit */

        cr_assert_eq(pthread_create(&th, NULL, tw_main, &t), 0);
        cr_assert(WAIT_UNTIL(task_notify_destroy(&n) == -EBUSY, 5000));
        task_notify_one(&n);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(t.rc, 0);

        t.rc = 1;
        cr_assert_eq(pthread_create(&th, NULL, tw_main, &t), 0);
        cr_assert(WAIT_UNTIL(task_notify_destroy(&n) == -EBUSY, 5000));
        task_notify_waiters(&n);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(t.rc, 0);
        cr_assert_eq(task_notify_destroy(&n), 0);
}

Test(notify, threads_and_tasks_share_the_fifo, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;
        struct tw t = {.n = &n, .rc = 1};
        pthread_t th;

        cr_assert_eq(task_notify_init(&n), 0);
        cr_assert_eq(pthread_create(&th, NULL, tw_main, &t), 0);
        cr_assert(WAIT_UNTIL(task_notify_destroy(&n) == -EBUSY, 5000));
        task_handle *a = spawn_queued(rt, &n, NULL);
        task_notify_one(&n); /* the thread first */
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(t.rc, 0);
        cr_assert(w_queued(a));
        task_notify_one(&n);
        join_done(a);
        task_handle_release(a);
        test_rt_free(rt);
}

/*
 * This file's sched_yield(), which libtask's calls resolve to: it forwards
 * to the kernel, and records that the thread that set yield_watch called
 * it.  The Notify's spinlock yields after spinning a while, so that is how
 * the next test learns that its thread is stalled taking the lock.
 */
static _Thread_local bool yield_watch;
static atomic_bool yield_seen;

int sched_yield(void)
{
        if (yield_watch)
                atomic_store(&yield_seen, true);
        return (int)syscall(SYS_sched_yield);
}

struct lw {
        struct task_notify *n;
        int rc;
        atomic_bool done;
};

static void *lw_main(void *arg)
{
        struct lw *t = arg;
        yield_watch = true;
        t->rc = task_notify_wait_blocking(t->n);
        atomic_store(&t->done, true);
        return NULL;
}

/*
 * A blocking wait receives a notify_waiters made after the call began,
 * even one made before the call took the Notify's lock.  To land one
 * exactly there, the test holds the lock itself (its flag is in the public
 * struct), waits until the thread yields in the spinlock, i.e. after its
 * lock-free steps, and then does what notify_waiters does with nobody
 * queued: it increments the generation (notify.c: the word is
 * (generation << 2) | state).  Then it lets the thread take the lock.
 */
Test(notify, blocking_wait_gets_a_notify_waiters_made_before_it_locks,
     .timeout = 20)
{
        struct task_notify n;
        struct lw t = {.n = &n, .rc = 1};
        pthread_t th;

        cr_assert_eq(task_notify_init(&n), 0);
        atomic_store(&n.lock.held, true);
        cr_assert_eq(pthread_create(&th, NULL, lw_main, &t), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&yield_seen), 5000),
                  "the thread never spun on the lock");
        atomic_fetch_add(&n.state, 4); /* notify_waiters, nobody queued */
        atomic_store(&n.lock.held, false);
        bool done = WAIT_UNTIL(atomic_load(&t.done), 5000);
        if (!done)
                task_notify_waiters(&n); /* it queued: let it go, then fail */
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert(done, "the notify_waiters was missed");
        cr_assert_eq(t.rc, 0);
        cr_assert_eq(task_notify_destroy(&n), 0);
}

struct deadlk {
        TASK_FRAME;
        struct task_notify *n;
        int rc;
};

static int deadlk_fn(struct task_cx *cx, void *arg)
{
        struct deadlk *f = arg;

        TASK_BEGIN(f);
        f->rc = task_notify_wait_blocking(f->n);
        TASK_END(f);
}

Test(notify, blocking_wait_from_a_task_is_edeadlk, .timeout = 10)
{
        struct task_notify n;

        cr_assert_eq(task_notify_init(&n), 0);
        task_notify_one(&n);
        for (enum task_flavor fl = TASK_MULTI_THREAD; fl <= TASK_CURRENT_THREAD;
             fl++) {
                task_runtime *rt = test_rt_new_flavor(fl);
                struct deadlk f = {.n = &n};
                cr_assert_eq(task_block_on(rt, deadlk_fn, &f, sizeof f), 0);
                cr_assert_eq(f.rc, -EDEADLK);
                test_rt_free(rt);
        }
        /* The permit is still there. */
        cr_assert_eq(task_notify_wait_blocking(&n), 0);
}

/* ---- Reuse, destroy and bad input -------------------------------------------------- */

struct reuse {
        TASK_FRAME;
        struct task_notify *n;
        struct task_notified op;
        int i;
};

static int reuse_fn(struct task_cx *cx, void *arg)
{
        struct reuse *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < 3; f->i++) {
                task_notify_one(f->n);
                TASK_NOTIFIED(f, f->n, &f->op); /* consumes its own permit */
        }
        TCHECK(task_notified_init(&f->op, f->n) == 0);
        task_notify_waiters(f->n);
        TASK_NOTIFIED(f, f->n, &f->op);
        TASK_END(f);
}

Test(notify, one_operation_struct_serves_many_waits, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;
        struct reuse f = {0};

        cr_assert_eq(task_notify_init(&n), 0);
        f.n = &n;
        cr_assert_eq(task_block_on(rt, reuse_fn, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_not(task_wait_pending(&f.op.w));
        cr_assert_eq(task_notify_destroy(&n), 0);
        test_rt_free(rt);
}

struct badpoll {
        TASK_FRAME;
        struct task_notify *n;
        struct task_notified op;
        bool ready[2];
};

static int badpoll_fn(struct task_cx *cx, void *arg)
{
        struct badpoll *f = arg;

        TASK_BEGIN(f);
        f->ready[0] = task_notify_poll(cx, NULL, &f->op);
        f->ready[1] = task_notify_poll(cx, f->n, NULL);
        TASK_END(f);
}

Test(notify, bad_input, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_notify n;
        struct task_notified op = {0};

        cr_assert_eq(task_notify_init(NULL), -EINVAL);
        cr_assert_eq(task_notify_init(&n), 0);
        cr_assert_eq(task_notify_destroy(NULL), -EINVAL);
        task_notify_one(NULL);
        task_notify_waiters(NULL);
        cr_assert_eq(task_notified_init(NULL, &n), -EINVAL);
        cr_assert_eq(task_notified_init(&op, NULL), -EINVAL);
        cr_assert_eq(task_notify_wait_blocking(NULL), -EINVAL);
        cr_assert(task_notify_poll(NULL, &n, &op));

        struct badpoll f = {.n = &n};
        cr_assert_eq(task_block_on(rt, badpoll_fn, &f, sizeof f), 0);
        cr_assert(f.ready[0]);
        cr_assert(f.ready[1]);

        /* An operation struct in a wait cannot be re-initialised. */
        task_handle *h = spawn_queued(rt, &n, NULL);
        cr_assert_eq(task_notified_init(&waiter_of(h)->op, &n), -EBUSY);
        cr_assert_eq(task_notify_destroy(&n), -EBUSY);
        task_notify_one(&n);
        join_done(h);
        task_handle_release(h);
        cr_assert_eq(task_notify_destroy(&n), 0);
        test_rt_free(rt);
}

/* ---- Stress: notify_one ping-pong ------------------------------------------------ */

struct pair {
        struct task_notify to_a, to_b;
        atomic_long turn; /* written by a before notifying b */
        long rounds;
};

struct pinger {
        TASK_FRAME;
        struct pair *p;
        struct task_notified op;
        long i;
        bool is_a;
};

static int pinger_fn(struct task_cx *cx, void *arg)
{
        struct pinger *f = arg;
        struct pair *p = f->p;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->p->rounds; f->i++) {
                if (f->is_a) {
                        atomic_store_explicit(&p->turn, f->i + 1,
                                              memory_order_relaxed);
                        task_notify_one(&p->to_b);
                        TASK_NOTIFIED(f, &f->p->to_a, &f->op);
                } else {
                        TASK_NOTIFIED(f, &f->p->to_b, &f->op);
                        /* Relaxed: the notification is what orders it. */
                        TCHECK(atomic_load_explicit(
                                   &p->turn, memory_order_relaxed) == f->i + 1);
                        task_notify_one(&p->to_a);
                }
        }
        TASK_END(f);
}

Test(notify, stress_notify_one_ping_pong_loses_nothing, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        enum { PAIRS = 32 };
        static struct pair p[PAIRS];
        task_handle *h[2 * PAIRS];
        long rounds = test_scaled(1000000, 20000) / PAIRS / 2;

        for (int i = 0; i < PAIRS; i++) {
                cr_assert_eq(task_notify_init(&p[i].to_a), 0);
                cr_assert_eq(task_notify_init(&p[i].to_b), 0);
                p[i].rounds = rounds;
        }
        for (int i = 0; i < 2 * PAIRS; i++)
                cr_assert_eq(TASK_SPAWN(rt, pinger_fn,
                                        (&(struct pinger){.p = &p[i / 2],
                                                          .is_a = i % 2 == 0}),
                                        &h[i]),
                             0);
        for (int i = 0; i < 2 * PAIRS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        tcheck_assert_none();
        for (int i = 0; i < PAIRS; i++) {
                cr_assert_eq(atomic_load(&p[i].turn), rounds);
                cr_assert_eq(task_notify_destroy(&p[i].to_a), 0);
                cr_assert_eq(task_notify_destroy(&p[i].to_b), 0);
        }
        test_rt_free(rt);
}

/* ---- Stress: notify_waiters with "init, check, wait" ------------------------------ */

/*
 * A producer publishes values 1..last; after each it calls notify_waiters
 * and waits until every watcher has acknowledged the value, so a single
 * lost wake-up (a watcher that checked the old value and then missed the
 * notify_waiters) hangs the test.
 */
struct bcast {
        struct task_notify changed; /* value changed: notify_waiters */
        struct task_notify acked;   /* all watchers saw it: notify_one */
        atomic_long value;
        atomic_int acks;
        int watchers;
        long last;
        atomic_long waits;
};

struct watcher {
        TASK_FRAME;
        struct bcast *b;
        struct task_notified op;
        long seen;
};

static int watcher_fn(struct task_cx *cx, void *arg)
{
        struct watcher *f = arg;
        struct bcast *b = f->b;

        TASK_BEGIN(f);
        while (f->seen < b->last) {
                TCHECK(task_notified_init(&f->op, &b->changed) == 0);
                long v = atomic_load(&b->value);
                TCHECK(v == f->seen || v == f->seen + 1);
                if (v > f->seen) {
                        f->seen = v;
                        if (atomic_fetch_add(&b->acks, 1) + 1 == b->watchers)
                                task_notify_one(&b->acked);
                        continue;
                }
                atomic_fetch_add_explicit(&b->waits, 1, memory_order_relaxed);
                TASK_NOTIFIED(f, &f->b->changed, &f->op);
        }
        TASK_END(f);
}

struct producer {
        TASK_FRAME;
        struct bcast *b;
        struct task_notified op;
        long i;
};

static int producer_fn(struct task_cx *cx, void *arg)
{
        struct producer *f = arg;
        struct bcast *b = f->b;

        TASK_BEGIN(f);
        for (f->i = 1; f->i <= b->last; f->i++) {
                atomic_store(&b->acks, 0);
                atomic_store(&b->value, f->i);
                task_notify_waiters(&b->changed);
                /* notify_one leaves a permit: no snapshot needed here. */
                while (atomic_load(&f->b->acks) < f->b->watchers)
                        TASK_NOTIFIED(f, &f->b->acked, &f->op);
        }
        TASK_END(f);
}

Test(notify, stress_notify_waiters_loses_nothing, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        static struct bcast b;
        enum { WATCHERS = 8 };
        task_handle *h[WATCHERS], *ph;

        cr_assert_eq(task_notify_init(&b.changed), 0);
        cr_assert_eq(task_notify_init(&b.acked), 0);
        b.watchers = WATCHERS;
        b.last = test_scaled(100000, 5000);
        for (int i = 0; i < WATCHERS; i++)
                cr_assert_eq(TASK_SPAWN(rt, watcher_fn,
                                        (&(struct watcher){.b = &b}), &h[i]),
                             0);
        cr_assert_eq(
            TASK_SPAWN(rt, producer_fn, (&(struct producer){.b = &b}), &ph), 0);
        cr_assert_eq(task_join_blocking(ph), 0);
        task_handle_release(ph);
        for (int i = 0; i < WATCHERS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq(((struct watcher *)task_handle_frame(h[i]))->seen,
                             b.last);
                task_handle_release(h[i]);
        }
        tcheck_assert_none();
        cr_log_info("notify_waiters stress: %ld values, %ld waits", b.last,
                    atomic_load(&b.waits));
        cr_assert_eq(task_notify_destroy(&b.changed), 0);
        test_rt_free(rt);
}

/* ---- Stress: concurrent notify_waiters, more waiters than a wake batch -------- */

/*
 * Two threads call notify_waiters in a loop while 64 tasks (two wake
 * batches: a notifier drops the lock between them, and the other notifier
 * and new waiters get in) wait again and again.  Every wait must end: a
 * waiter stranded behind another call's batch would hang the test.
 */
struct storm {
        struct task_notify n;
        atomic_bool stop;
        atomic_long wakes;
        atomic_long calls;
};

struct stormer {
        TASK_FRAME;
        struct storm *s;
        struct task_notified op;
};

static int stormer_fn(struct task_cx *cx, void *arg)
{
        struct stormer *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TCHECK(task_notified_init(&f->op, &f->s->n) == 0);
                if (atomic_load(&f->s->stop))
                        break;
                TASK_NOTIFIED(f, &f->s->n, &f->op);
                atomic_fetch_add_explicit(&f->s->wakes, 1,
                                          memory_order_relaxed);
        }
        TASK_END(f);
}

static void *storm_main(void *arg)
{
        struct storm *s = arg;
        while (!atomic_load(&s->stop)) {
                task_notify_waiters(&s->n);
                atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
        }
        task_notify_waiters(&s->n); /* after stop: the last word */
        return NULL;
}

Test(notify, stress_concurrent_notify_waiters_across_batches, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(2);
        static struct storm s;
        enum { TASKS = 64 };
        task_handle *h[TASKS];
        pthread_t th[2];
        long target = test_scaled(200000, 5000);

        cr_assert_eq(task_notify_init(&s.n), 0);
        for (int i = 0; i < TASKS; i++)
                cr_assert_eq(TASK_SPAWN(rt, stormer_fn,
                                        (&(struct stormer){.s = &s}), &h[i]),
                             0);
        for (int i = 0; i < 2; i++)
                cr_assert_eq(pthread_create(&th[i], NULL, storm_main, &s), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&s.wakes) >= target, 50000),
                  "only %ld wakes", atomic_load(&s.wakes));
        atomic_store(&s.stop, true);
        for (int i = 0; i < 2; i++)
                cr_assert_eq(pthread_join(th[i], NULL), 0);
        for (int i = 0; i < TASKS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        tcheck_assert_none();
        cr_log_info("storm: %ld wakes, %ld notify_waiters calls",
                    atomic_load(&s.wakes), atomic_load(&s.calls));
        cr_assert_eq(task_notify_destroy(&s.n), 0);
        test_rt_free(rt);
}

/* ---- The current-thread flavor ------------------------------------------------------ */

struct ct_main {
        TASK_FRAME;
        struct pair *p;
        task_handle *h[2];
        int i;
        int rc;
};

static int ct_main_fn(struct task_cx *cx, void *arg)
{
        struct ct_main *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < 2; f->i++) {
                f->h[f->i] = NULL; /* a failed spawn leaves it untouched */
                TCHECK(
                    TASK_SPAWN(task_cx_runtime(cx), pinger_fn,
                               (&(struct pinger){.p = f->p, .is_a = f->i == 0}),
                               &f->h[f->i]) == 0);
        }
        for (f->i = 0; f->i < 2; f->i++) {
                if (!f->h[f->i])
                        continue; /* its failure is recorded */
                TASK_JOIN(f, f->h[f->i], &f->rc);
                TCHECK(f->rc == 0);
                task_handle_release(f->h[f->i]);
        }
        TASK_END(f);
}

Test(notify, current_thread_flavor, .timeout = 30)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        static struct pair p;
        struct ct_main f = {.p = &p};

        cr_assert_eq(task_notify_init(&p.to_a), 0);
        cr_assert_eq(task_notify_init(&p.to_b), 0);
        p.rounds = test_scaled(50000, 2000);
        cr_assert_eq(task_block_on(rt, ct_main_fn, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_eq(atomic_load(&p.turn), p.rounds);

        /* notify_waiters from outside, served in the next block_on. */
        task_handle *a = spawn_waiter(rt, &p.to_a, NULL);
        ct_run_until(rt, h_queued, a);
        task_notify_waiters(&p.to_a);
        ct_run_until(rt, h_finished, a);
        join_done(a);
        task_handle_release(a);
        cr_assert_eq(task_notify_destroy(&p.to_a), 0);
        test_rt_free(rt);
}
