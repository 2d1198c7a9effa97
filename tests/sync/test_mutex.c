/*
 * test_mutex.c - the fair mutex: lock/try_lock/unlock, unlock of an
 * unlocked mutex (-EPERM, nothing corrupted) and the documented case it
 * cannot refuse (a second unlock after a hand-off), strict FIFO fairness
 * under 2 workers (queued tasks acquire in queue order; contending tasks
 * take exact turns), the guard held across suspensions, cancellation (an
 * aborted waiter never holds the lock, a lock handed to an aborted waiter
 * passes on, a holder unlocks in its cleanup), TASK_SELECT, blocking locks
 * from threads, destroy, bad input, a stress with stealing, and the
 * current-thread flavor.
 *
 * "Is task T queued" is read from T's own wait node (wait_queued(),
 * helpers.h, on the lock operation in its frame): queued, not yet granted.
 */
#include "helpers.h"

/* ---- A task that locks, records its turn, unlocks ------------------------ */

struct locker {
        TASK_FRAME;
        struct task_mutex *m;
        atomic_int *seq;
        bool keep; /* do not unlock */
        struct task_mutex_lock op;
        int rc;
        int pos;
        bool held; /* set while it holds the lock */
        bool cleanup_unlocked;
};

static int locker_fn(struct task_cx *cx, void *arg)
{
        struct locker *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        TASK_MUTEX_LOCK(f, f->m, &f->op, &f->rc);
        f->held = true;
        if (f->seq)
                f->pos = atomic_fetch_add(f->seq, 1);
        if (!f->keep) {
                TCHECK(task_mutex_unlock(f->m) == 0);
                f->held = false;
        }
        TASK_CLEANUP(f);
        if (f->held && !f->keep) {
                task_mutex_unlock(f->m);
                f->cleanup_unlocked = true;
        }
        TASK_END(f);
}

static task_handle *spawn_locker(task_runtime *rt, struct task_mutex *m,
                                 atomic_int *seq, bool keep)
{
        task_handle *h;

        cr_assert_eq(
            TASK_SPAWN(rt, locker_fn,
                       (&(struct locker){.m = m, .seq = seq, .keep = keep}),
                       &h),
            0);
        return h;
}

static struct locker *locker_of(task_handle *h)
{
        return task_handle_frame(h);
}

static bool l_queued(task_handle *h)
{
        return wait_queued(&locker_of(h)->op.acq.w);
}

static task_handle *spawn_queued(task_runtime *rt, struct task_mutex *m,
                                 atomic_int *seq, bool keep)
{
        task_handle *h = spawn_locker(rt, m, seq, keep);
        cr_assert(WAIT_UNTIL(l_queued(h), 5000), "the lock never queued");
        return h;
}

/* A ct_run_until() condition (helpers.h). */
static bool h_queued(void *h)
{
        return l_queued(h);
}

/* ---- Basics ----------------------------------------------------------------- */

Test(mutex, try_lock_unlock_and_unlock_of_unlocked_is_eperm, .timeout = 10)
{
        struct task_mutex m;

        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_not(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_unlock(&m), -EPERM);
        cr_assert_eq(task_mutex_unlock(&m), -EPERM);
        cr_assert_eq(task_mutex_try_lock(&m), 0, "the -EPERMs corrupted it");
        cr_assert(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_try_lock(&m), -EAGAIN);
        cr_assert_eq(task_mutex_destroy(&m), -EBUSY);
        cr_assert_eq(task_mutex_unlock(&m), 0);
        cr_assert_eq(task_mutex_unlock(&m), -EPERM);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), -EAGAIN,
                     "a second unlock let two holders in");
        cr_assert_eq(task_mutex_unlock(&m), 0);
        cr_assert_eq(task_mutex_lock_blocking(&m), 0);
        cr_assert_eq(task_mutex_unlock(&m), 0);
        cr_assert_eq(task_mutex_destroy(&m), 0);
}

struct across {
        TASK_FRAME;
        struct task_mutex *m;
        struct task_mutex_lock op;
        int i;
        int rc;
        bool locked_while_yielding;
};

static int across_fn(struct task_cx *cx, void *arg)
{
        struct across *f = arg;

        TASK_BEGIN(f);
        TASK_MUTEX_LOCK(f, f->m, &f->op, &f->rc);
        for (f->i = 0; f->i < 10; f->i++) {
                TASK_YIELD(f);
                f->locked_while_yielding = task_mutex_is_locked(f->m) &&
                                           task_mutex_try_lock(f->m) == -EAGAIN;
                if (!f->locked_while_yielding)
                        TASK_RETURN(f);
        }
        TCHECK(task_mutex_unlock(f->m) == 0);
        TASK_END(f);
}

Test(mutex, guard_is_held_across_suspensions, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_mutex m;
        struct across f = {0};

        cr_assert_eq(task_mutex_init(&m), 0);
        f.m = &m;
        cr_assert_eq(task_block_on(rt, across_fn, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_eq(f.rc, 0);
        cr_assert(f.locked_while_yielding);
        cr_assert_not(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_destroy(&m), 0);
        test_rt_free(rt);
}

/* ---- Fairness ---------------------------------------------------------------- */

Test(mutex, queued_tasks_acquire_in_queue_order, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_mutex m;
        atomic_int seq = 0;
        enum { N = 16 };
        task_handle *h[N];

        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        for (int i = 0; i < N; i++)
                h[i] = spawn_queued(rt, &m, &seq, false);
        cr_assert_eq(task_mutex_unlock(&m), 0);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq(locker_of(h[i])->rc, 0);
                cr_assert_eq(locker_of(h[i])->pos, i, "task %d came %d-th", i,
                             locker_of(h[i])->pos);
                task_handle_release(h[i]);
        }
        cr_assert_not(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_destroy(&m), 0);
        test_rt_free(rt);
}

/* Contending tasks that re-lock at once must take exact turns. */
struct turns {
        struct task_mutex m;
        int log[4096]; /* owner ids, written under the lock */
        int n;         /* under the lock */
        int rounds;
};

struct turner {
        TASK_FRAME;
        struct turns *t;
        int id;
        int i;
        struct task_mutex_lock op;
};

static int turner_fn(struct task_cx *cx, void *arg)
{
        struct turner *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->t->rounds; f->i++) {
                TASK_MUTEX_LOCK(f, &f->t->m, &f->op, NULL);
                f->t->log[f->t->n++] = f->id;
                if (f->i % 2)
                        TASK_YIELD(f); /* held across a suspension */
                TCHECK(task_mutex_unlock(&f->t->m) == 0);
        }
        TASK_END(f);
}

Test(mutex, contending_tasks_take_exact_turns, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        static struct turns t;
        enum { N = 8 };
        task_handle *h[N];

        cr_assert_eq(task_mutex_init(&t.m), 0);
        t.rounds = 4096 / N;
        cr_assert_eq(task_mutex_try_lock(&t.m), 0);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(TASK_SPAWN(rt, turner_fn,
                                        (&(struct turner){.t = &t, .id = i}),
                                        &h[i]),
                             0);
                cr_assert(WAIT_UNTIL(
                    wait_queued(
                        &((struct turner *)task_handle_frame(h[i]))->op.acq.w),
                    5000));
        }
        cr_assert_eq(task_mutex_unlock(&t.m), 0);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        tcheck_assert_none();
        cr_assert_eq(t.n, N * t.rounds);
        for (int k = 0; k < t.n; k++)
                cr_assert_eq(t.log[k], k % N, "turn %d went to %d, not %d", k,
                             t.log[k], k % N);
        cr_assert_eq(task_mutex_destroy(&t.m), 0);
        test_rt_free(rt);
}

/* ---- Cancellation ----------------------------------------------------------- */

Test(mutex, aborted_waiter_never_holds_the_lock, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_mutex m;
        atomic_int seq = 0;

        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        task_handle *a = spawn_queued(rt, &m, &seq, false);
        task_handle *b = spawn_queued(rt, &m, &seq, false);
        task_abort(a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        cr_assert_eq(locker_of(a)->held, false);
        cr_assert_eq(locker_of(a)->rc, 1, "the aborted lock completed");
        cr_assert(l_queued(b));
        cr_assert_eq(task_mutex_unlock(&m), 0);
        cr_assert_eq(task_join_blocking(b), 0);
        cr_assert_eq(locker_of(b)->pos, 0);
        cr_assert_not(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_destroy(&m), 0);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

Test(mutex, lock_handed_to_an_aborted_waiter_passes_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_mutex m;
        atomic_int seq = 0;

        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        task_handle *a = spawn_locker(rt, &m, &seq, false);
        ct_run_until(rt, h_queued, a);
        task_handle *b = spawn_locker(rt, &m, &seq, true);
        ct_run_until(rt, h_queued, b);

        cr_assert_eq(task_mutex_unlock(&m), 0); /* handed to a */
        cr_assert(task_mutex_is_locked(&m));
        task_abort(a);
        ct_run_until(rt, h_finished, b);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        cr_assert_not(locker_of(a)->held);
        cr_assert_eq(task_join_blocking(b), 0);
        cr_assert(locker_of(b)->held);
        cr_assert_eq(locker_of(b)->pos, 0);
        cr_assert(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_unlock(&m), 0); /* b's lock */
        cr_assert_eq(task_mutex_destroy(&m), 0);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

Test(mutex, lock_handed_to_an_aborted_last_waiter_becomes_free, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_mutex m;

        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        task_handle *a = spawn_locker(rt, &m, NULL, true);
        ct_run_until(rt, h_queued, a);
        cr_assert_eq(task_mutex_unlock(&m), 0);
        task_abort(a);
        ct_run_until(rt, h_finished, a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        cr_assert_not(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        cr_assert_eq(task_mutex_unlock(&m), 0);
        cr_assert_eq(task_mutex_destroy(&m), 0);
        task_handle_release(a);
        test_rt_free(rt);
}

/*
 * The documented hole in -EPERM: once an unlock has handed the mutex to a
 * waiter, the mutex is locked (by that waiter, which has not run yet), so a
 * second unlock by the previous holder is not refused: it releases the
 * waiter's lock, here to the next waiter.  Pinned so that the behaviour,
 * and its bounds, stay what mutex.h says: the extra permit is absorbed by
 * the first unlock that finds the mutex free (-EPERM), and none is lost.
 */
Test(mutex, second_unlock_after_a_handoff_releases_the_waiters_lock,
     .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_mutex m;

        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        task_handle *a = spawn_locker(rt, &m, NULL, true);
        ct_run_until(rt, h_queued, a);
        task_handle *b = spawn_locker(rt, &m, NULL, true);
        ct_run_until(rt, h_queued, b);

        cr_assert_eq(task_mutex_unlock(&m), 0); /* handed to a */
        cr_assert_eq(task_mutex_unlock(&m), 0, "taken for a's: b gets it");
        ct_run_until(rt, h_finished, a);
        ct_run_until(rt, h_finished, b);
        cr_assert_eq(task_join_blocking(a), 0);
        cr_assert_eq(task_join_blocking(b), 0);
        cr_assert(locker_of(a)->held && locker_of(b)->held, "both got in");

        cr_assert_eq(task_mutex_unlock(&m), 0);      /* a's, say */
        cr_assert_eq(task_mutex_unlock(&m), -EPERM); /* b's: absorbed */
        cr_assert_eq(task_sem_available(&m.sem), 1);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), -EAGAIN, "one permit again");
        cr_assert_eq(task_mutex_unlock(&m), 0);
        cr_assert_eq(task_mutex_destroy(&m), 0);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

/* The same with the waiter aborted before it runs: its permit goes back
 * too, two are free, and the second is absorbed the same way. */
Test(mutex, second_unlock_after_a_handoff_then_abort_loses_no_permit,
     .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_mutex m;

        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        task_handle *a = spawn_locker(rt, &m, NULL, true);
        ct_run_until(rt, h_queued, a);
        cr_assert_eq(task_mutex_unlock(&m), 0); /* handed to a */
        cr_assert_eq(task_mutex_unlock(&m), 0); /* taken for a's */
        task_abort(a);
        ct_run_until(rt, h_finished, a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        cr_assert_not(locker_of(a)->held);
        cr_assert_eq(task_sem_available(&m.sem), 2);

        cr_assert_eq(task_mutex_try_lock(&m), 0);
        cr_assert_eq(task_mutex_unlock(&m), -EPERM, "absorbs the extra one");
        cr_assert_eq(task_sem_available(&m.sem), 1);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), -EAGAIN);
        cr_assert_eq(task_mutex_unlock(&m), 0);
        cr_assert_eq(task_mutex_destroy(&m), 0);
        task_handle_release(a);
        test_rt_free(rt);
}

/* A holder that waits on a gate while holding the lock. */
struct holder {
        TASK_FRAME;
        struct task_mutex *m;
        struct gate *g;
        bool unlock_in_cleanup;
        struct task_mutex_lock op;
        bool locked;
        bool cleanup_ran;
};

static int holder_fn(struct task_cx *cx, void *arg)
{
        struct holder *f = arg;

        TASK_BEGIN(f);
        TASK_MUTEX_LOCK(f, f->m, &f->op, NULL);
        f->locked = true;
        TASK_AWAIT(f, gate_poll(cx, f->g)); /* aborted here */
        TCHECK(task_mutex_unlock(f->m) == 0);
        f->locked = false;
        TASK_CLEANUP(f);
        f->cleanup_ran = true;
        if (f->locked && f->unlock_in_cleanup) {
                TCHECK(task_mutex_unlock(f->m) == 0);
                f->locked = false;
        }
        TASK_END(f);
}

static bool holder_parked(struct holder *f)
{
        return gate_has_waiter(f->g);
}

Test(mutex, aborted_holder_unlocks_in_its_cleanup, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_mutex m;
        struct gate g;
        atomic_int seq = 0;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(
            TASK_SPAWN(
                rt, holder_fn,
                (&(struct holder){.m = &m, .g = &g, .unlock_in_cleanup = true}),
                &h),
            0);
        cr_assert(WAIT_UNTIL(holder_parked(task_handle_frame(h)), 5000));
        cr_assert(task_mutex_is_locked(&m));
        task_handle *w = spawn_queued(rt, &m, &seq, false);
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert(((struct holder *)task_handle_frame(h))->cleanup_ran);
        cr_assert_eq(task_join_blocking(w), 0, "the waiter never got it");
        tcheck_assert_none();
        cr_assert_not(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_destroy(&m), 0);
        task_handle_release(h);
        task_handle_release(w);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(mutex, aborted_holder_without_cleanup_keeps_the_lock, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_mutex m;
        struct gate g;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(
            TASK_SPAWN(rt, holder_fn, (&(struct holder){.m = &m, .g = &g}), &h),
            0);
        cr_assert(WAIT_UNTIL(holder_parked(task_handle_frame(h)), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        /* Not released automatically: it is still locked. */
        cr_assert(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_try_lock(&m), -EAGAIN);
        cr_assert_eq(task_mutex_destroy(&m), -EBUSY);
        cr_assert_eq(task_mutex_unlock(&m), 0); /* anyone may release it */
        cr_assert_eq(task_mutex_destroy(&m), 0);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- TASK_SELECT ------------------------------------------------------------- */

struct sel {
        TASK_FRAME;
        struct gate *g;
        struct task_mutex *m;
        struct task_mutex_lock op;
        struct task_select sel;
        int rc;
};

static int sel_fn(struct task_cx *cx, void *arg)
{
        struct sel *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        TASK_SELECT(f, &f->sel, gate_poll(cx, f->g),
                    task_mutex_lock_poll(cx, f->m, &f->op, &f->rc));
        TASK_END(f);
}

static bool sel_waiting(void *h)
{
        struct sel *f = task_handle_frame(h);
        return wait_queued(&f->op.acq.w) && gate_has_waiter(f->g);
}

Test(mutex, select_loser_does_not_hold_the_lock, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_mutex m;
        struct gate g;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        cr_assert_eq(
            TASK_SPAWN(rt, sel_fn, (&(struct sel){.g = &g, .m = &m}), &h), 0);
        ct_run_until(rt, sel_waiting, h);
        gate_open(&g);
        cr_assert_eq(task_mutex_unlock(&m), 0); /* handed to the select */
        ct_run_until(rt, h_finished, h);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct sel *)task_handle_frame(h))->sel.which, 0);
        cr_assert_eq(((struct sel *)task_handle_frame(h))->rc, 1);
        cr_assert_not(task_mutex_is_locked(&m), "the loser kept the lock");
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        cr_assert_eq(task_mutex_unlock(&m), 0);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Threads ---------------------------------------------------------------- */

struct tlock {
        struct task_mutex *m;
        atomic_int *seq;
        int rc;
        int pos;
};

static void *tlock_main(void *arg)
{
        struct tlock *t = arg;
        t->rc = task_mutex_lock_blocking(t->m);
        t->pos = atomic_fetch_add(t->seq, 1);
        return NULL;
}

Test(mutex, blocking_lock_from_threads_in_fifo_with_tasks, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_mutex m;
        atomic_int seq = 0;
        pthread_t th;
        struct tlock t = {.m = &m, .seq = &seq};

        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        cr_assert_eq(pthread_create(&th, NULL, tlock_main, &t), 0);
        /* The only possible waiter: the sem reports it as queued. */
        cr_assert(WAIT_UNTIL(task_sem_destroy(&m.sem) == -EBUSY, 5000));
        task_handle *a = spawn_queued(rt, &m, &seq, false);
        cr_assert_eq(task_mutex_unlock(&m), 0); /* to the thread */
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(t.rc, 0);
        cr_assert(l_queued(a), "the task barged in");
        cr_assert_eq(task_mutex_unlock(&m), 0); /* the thread's lock */
        cr_assert_eq(task_join_blocking(a), 0);
        cr_assert_eq(t.pos, 0);
        cr_assert_eq(locker_of(a)->pos, 1);
        cr_assert_eq(task_mutex_destroy(&m), 0);
        task_handle_release(a);
        test_rt_free(rt);
}

struct deadlk {
        TASK_FRAME;
        struct task_mutex *m;
        int rc;
};

static int deadlk_fn(struct task_cx *cx, void *arg)
{
        struct deadlk *f = arg;

        TASK_BEGIN(f);
        f->rc = task_mutex_lock_blocking(f->m);
        TASK_END(f);
}

Test(mutex, blocking_lock_from_a_task_is_edeadlk, .timeout = 10)
{
        struct task_mutex m;

        cr_assert_eq(task_mutex_init(&m), 0);
        for (enum task_flavor fl = TASK_MULTI_THREAD; fl <= TASK_CURRENT_THREAD;
             fl++) {
                task_runtime *rt = test_rt_new_flavor(fl);
                struct deadlk f = {.m = &m};
                cr_assert_eq(task_block_on(rt, deadlk_fn, &f, sizeof f), 0);
                cr_assert_eq(f.rc, -EDEADLK);
                cr_assert_not(task_mutex_is_locked(&m));
                test_rt_free(rt);
        }
}

/* ---- destroy and bad input --------------------------------------------------- */

Test(mutex, destroy_is_ebusy_while_locked_or_waited_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_mutex m;

        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_try_lock(&m), 0);
        cr_assert_eq(task_mutex_destroy(&m), -EBUSY);
        task_handle *a = spawn_queued(rt, &m, NULL, false);
        cr_assert_eq(task_mutex_destroy(&m), -EBUSY);
        cr_assert(l_queued(a));
        cr_assert_eq(task_mutex_unlock(&m), 0);
        cr_assert_eq(task_join_blocking(a), 0);
        cr_assert_eq(task_mutex_destroy(&m), 0);
        task_handle_release(a);
        test_rt_free(rt);
}

struct badpoll {
        TASK_FRAME;
        struct task_mutex *m;
        struct task_mutex_lock op;
        int rc[2];
        bool ready[3];
};

static int badpoll_fn(struct task_cx *cx, void *arg)
{
        struct badpoll *f = arg;

        TASK_BEGIN(f);
        f->ready[0] = task_mutex_lock_poll(cx, NULL, &f->op, &f->rc[0]);
        f->ready[1] = task_mutex_lock_poll(cx, f->m, NULL, &f->rc[1]);
        f->ready[2] = task_mutex_lock_poll(cx, f->m, &f->op, NULL);
        TASK_END(f);
}

Test(mutex, bad_input_is_einval, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_mutex m;
        struct task_mutex_lock op = {0};
        int rc = 0;

        cr_assert_eq(task_mutex_init(NULL), -EINVAL);
        cr_assert_eq(task_mutex_init(&m), 0);
        cr_assert_eq(task_mutex_destroy(NULL), -EINVAL);
        cr_assert_eq(task_mutex_try_lock(NULL), -EINVAL);
        cr_assert_eq(task_mutex_lock_blocking(NULL), -EINVAL);
        cr_assert_eq(task_mutex_unlock(NULL), -EINVAL);
        cr_assert_not(task_mutex_is_locked(NULL));
        cr_assert(task_mutex_lock_poll(NULL, &m, &op, &rc));
        cr_assert_eq(rc, -EINVAL);
        cr_assert_not(task_mutex_is_locked(&m));

        struct badpoll f = {.m = &m};
        cr_assert_eq(task_block_on(rt, badpoll_fn, &f, sizeof f), 0);
        for (int i = 0; i < 2; i++) {
                cr_assert(f.ready[i]);
                cr_assert_eq(f.rc[i], -EINVAL);
        }
        cr_assert(f.ready[2], "a NULL rc is allowed");
        cr_assert(task_mutex_is_locked(&m));
        cr_assert_eq(task_mutex_unlock(&m), 0);
        cr_assert_eq(task_mutex_destroy(&m), 0);
        test_rt_free(rt);
}

/* ---- Stress with stealing ---------------------------------------------------- */

struct shared {
        struct task_mutex m;
        long counter; /* plain: only ever touched under the lock */
        atomic_int inside;
        long iters;
};

struct incr {
        TASK_FRAME;
        struct shared *s;
        struct task_mutex_lock op;
        long i;
};

static int incr_fn(struct task_cx *cx, void *arg)
{
        struct incr *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->s->iters; f->i++) {
                TASK_MUTEX_LOCK(f, &f->s->m, &f->op, NULL);
                TCHECK(atomic_fetch_add(&f->s->inside, 1) == 0);
                f->s->counter++;
                if (f->i % 8 == 0)
                        TASK_YIELD(f);
                atomic_fetch_sub(&f->s->inside, 1);
                TCHECK(task_mutex_unlock(&f->s->m) == 0);
        }
        TASK_END(f);
}

struct tincr {
        struct shared *s;
        long iters;
};

static void *tincr_main(void *arg)
{
        struct tincr *t = arg;
        for (long i = 0; i < t->iters; i++) {
                TCHECK(task_mutex_lock_blocking(&t->s->m) == 0);
                TCHECK(atomic_fetch_add(&t->s->inside, 1) == 0);
                t->s->counter++;
                atomic_fetch_sub(&t->s->inside, 1);
                TCHECK(task_mutex_unlock(&t->s->m) == 0);
        }
        return NULL;
}

Test(mutex, stress_mutual_exclusion_with_stealing, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        static struct shared s;
        enum { TASKS = 64 };
        task_handle *h[TASKS];
        long total = test_scaled(1000000, 20000);
        struct tincr t = {.s = &s, .iters = total / 100};
        pthread_t th;

        cr_assert_eq(task_mutex_init(&s.m), 0);
        s.iters = total / TASKS;
        for (int i = 0; i < TASKS; i++)
                cr_assert_eq(
                    TASK_SPAWN(rt, incr_fn, (&(struct incr){.s = &s}), &h[i]),
                    0);
        cr_assert_eq(pthread_create(&th, NULL, tincr_main, &t), 0);
        for (int i = 0; i < TASKS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        cr_assert_eq(pthread_join(th, NULL), 0);
        tcheck_assert_none();
        cr_assert_eq(s.counter, s.iters * TASKS + t.iters);
        cr_assert_not(task_mutex_is_locked(&s.m));
        cr_assert_eq(task_mutex_destroy(&s.m), 0);
        test_rt_free(rt);
}

/* ---- The current-thread flavor ------------------------------------------------ */

struct ct_main {
        TASK_FRAME;
        struct shared *s;
        task_handle *h[8];
        int i;
        int rc;
};

static int ct_main_fn(struct task_cx *cx, void *arg)
{
        struct ct_main *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < 8; f->i++) {
                f->h[f->i] = NULL; /* a failed spawn leaves it untouched */
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), incr_fn,
                                  (&(struct incr){.s = f->s}),
                                  &f->h[f->i]) == 0);
        }
        for (f->i = 0; f->i < 8; f->i++) {
                if (!f->h[f->i])
                        continue; /* its failure is recorded */
                TASK_JOIN(f, f->h[f->i], &f->rc);
                TCHECK(f->rc == 0);
                task_handle_release(f->h[f->i]);
        }
        TASK_END(f);
}

Test(mutex, current_thread_flavor, .timeout = 30)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        static struct shared s;
        struct ct_main f = {.s = &s};

        cr_assert_eq(task_mutex_init(&s.m), 0);
        s.iters = test_scaled(20000, 2000);
        cr_assert_eq(task_block_on(rt, ct_main_fn, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_eq(s.counter, s.iters * 8);
        cr_assert_not(task_mutex_is_locked(&s.m));
        cr_assert_eq(task_mutex_destroy(&s.m), 0);
        test_rt_free(rt);
}
