/*
 * test_semaphore.c - the fair, weighted, closable semaphore: weighted
 * acquire, strict FIFO (a big head request is not overtaken, arrivals queue
 * behind waiters), try_acquire, close, release overflow, cancellation of
 * queued and granted waiters, TASK_SELECT's losing branch, blocking
 * acquires from threads, destroy, bad input, a stress with stealing, and
 * the current-thread flavor.
 *
 * "Is task T queued" is read from T's own wait node (wait_queued(),
 * helpers.h, on the operation struct in its frame): the node turns QUEUED
 * under the semaphore's lock, so once the test thread sees it, any later
 * call on the semaphore sees T in the queue; it stays QUEUED until T is
 * granted (DONE), so "still queued" also says "not granted".  The tests
 * that need a waiter to be granted but not yet polled use a
 * TASK_CURRENT_THREAD runtime, where nothing runs between two
 * task_block_on() calls.
 */
#include "helpers.h"

/* ---- A task that acquires, and tools to watch it ------------------------- */

struct acq {
        TASK_FRAME;
        struct task_sem *s;
        uint64_t n;
        bool release; /* give the permits back at once */
        atomic_int *seq;
        struct task_sem_acquire op;
        int rc;
        int pos; /* this task's place in *seq's order, once done */
};

static int acq_fn(struct task_cx *cx, void *arg)
{
        struct acq *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        TASK_SEM_ACQUIRE(f, f->s, f->n, &f->op, &f->rc);
        if (f->seq)
                f->pos = atomic_fetch_add(f->seq, 1);
        if (f->rc == 0 && f->release)
                TCHECK(task_sem_release(f->s, f->n) == 0);
        TASK_END(f);
}

static task_handle *spawn_acq(task_runtime *rt, struct task_sem *s, uint64_t n,
                              bool release, atomic_int *seq)
{
        struct acq f = {.s = s, .n = n, .release = release, .seq = seq};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, acq_fn, &f, &h), 0);
        return h;
}

static struct acq *acq_of(task_handle *h)
{
        return task_handle_frame(h);
}

/* True while the task's acquire is queued (not granted yet). */
static bool acq_queued(task_handle *h)
{
        return wait_queued(&acq_of(h)->op.w);
}

/* Spawn an acquire of @n and wait until it is queued on @s. */
static task_handle *spawn_queued(task_runtime *rt, struct task_sem *s,
                                 uint64_t n, atomic_int *seq)
{
        task_handle *h = spawn_acq(rt, s, n, false, seq);
        cr_assert(WAIT_UNTIL(acq_queued(h), 5000), "acquire never queued");
        return h;
}

static int join_rc(task_handle *h)
{
        cr_assert_eq(task_join_blocking(h), 0);
        return acq_of(h)->rc;
}

/* A ct_run_until() condition (helpers.h). */
static bool h_queued(void *h)
{
        return acq_queued(h);
}

/* ---- Weighted acquire ---------------------------------------------------- */

struct weighted {
        TASK_FRAME;
        struct task_sem *s;
        struct task_sem_acquire op;
        int rc1, rc2, rc3;
        uint64_t left1, left2;
};

static int weighted_fn(struct task_cx *cx, void *arg)
{
        struct weighted *f = arg;

        TASK_BEGIN(f);
        TASK_SEM_ACQUIRE(f, f->s, 3, &f->op, &f->rc1);
        f->left1 = task_sem_available(f->s);
        TASK_SEM_ACQUIRE(f, f->s, 7, &f->op, &f->rc2);
        f->left2 = task_sem_available(f->s);
        TASK_SEM_ACQUIRE(f, f->s, 0, &f->op, &f->rc3); /* at once */
        TASK_END(f);
}

Test(semaphore, weighted_acquire_takes_exactly_n, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;
        struct weighted f = {0};

        cr_assert_eq(task_sem_init(&s, 10), 0);
        f.s = &s;
        cr_assert_eq(task_block_on(rt, weighted_fn, &f, sizeof f), 0);
        cr_assert_eq(f.rc1, 0);
        cr_assert_eq(f.rc2, 0);
        cr_assert_eq(f.rc3, 0);
        cr_assert_eq(f.left1, 7);
        cr_assert_eq(f.left2, 0);
        cr_assert_eq(task_sem_try_acquire(&s, 1), -EAGAIN);
        cr_assert_eq(task_sem_release(&s, 4), 0);
        cr_assert_eq(task_sem_try_acquire(&s, 4), 0);
        cr_assert_eq(task_sem_try_acquire(&s, 0), 0);
        cr_assert_eq(task_sem_release(&s, 10), 0);
        cr_assert_eq(task_sem_available(&s), 10);
        cr_assert_eq(task_sem_destroy(&s), 0);
        test_rt_free(rt);
}

Test(semaphore, waiter_completes_when_enough_released, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 1), 0);
        task_handle *h = spawn_queued(rt, &s, 3, NULL);
        cr_assert_eq(task_sem_available(&s), 0, "the waiter holds back 1");
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert(acq_queued(h));
        cr_assert_not(task_handle_finished(h));
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert_eq(join_rc(h), 0);
        cr_assert_eq(task_sem_available(&s), 0);
        task_handle_release(h);
        cr_assert_eq(task_sem_release(&s, 3), 0);
        cr_assert_eq(task_sem_available(&s), 3);
        cr_assert_eq(task_sem_destroy(&s), 0);
        test_rt_free(rt);
}

/* ---- Strict FIFO ---------------------------------------------------------- */

Test(semaphore, big_head_request_is_not_overtaken, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;
        atomic_int seq = 0;

        cr_assert_eq(task_sem_init(&s, 2), 0);
        task_handle *a = spawn_queued(rt, &s, 5, &seq); /* takes 2, needs 3 */
        task_handle *b = spawn_queued(rt, &s, 1, &seq);
        cr_assert_eq(task_sem_try_acquire(&s, 1), -EAGAIN);

        /* 1 free: enough for b, but a is at the head and keeps it. */
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert(acq_queued(a));
        cr_assert(acq_queued(b));
        cr_assert_not(task_handle_finished(b), "b overtook the head");
        cr_assert_eq(task_sem_available(&s), 0);
        cr_assert_eq(task_sem_try_acquire(&s, 1), -EAGAIN);

        /* 2 more: a is complete, nothing left for b. */
        cr_assert_eq(task_sem_release(&s, 2), 0);
        cr_assert_eq(join_rc(a), 0);
        cr_assert(acq_queued(b));
        cr_assert_not(task_handle_finished(b));

        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert_eq(join_rc(b), 0);
        cr_assert_eq(acq_of(a)->pos, 0);
        cr_assert_eq(acq_of(b)->pos, 1);
        cr_assert_eq(task_sem_available(&s), 0);
        task_handle_release(a);
        task_handle_release(b);
        cr_assert_eq(task_sem_destroy(&s), 0);
        test_rt_free(rt);
}

Test(semaphore, new_arrivals_queue_behind_waiters, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;
        atomic_int seq = 0;
        enum { N = 6 };
        task_handle *h[N];

        cr_assert_eq(task_sem_init(&s, 0), 0);
        h[0] = spawn_queued(rt, &s, 2, &seq);
        cr_assert_eq(task_sem_release(&s, 1), 0); /* h0 needs 1 more */
        /* Later arrivals, each asking for what is being released. */
        for (int i = 1; i < N; i++)
                h[i] = spawn_queued(rt, &s, 1, &seq);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_sem_release(&s, 1), 0);
                cr_assert_eq(join_rc(h[i]), 0);
                for (int j = i + 1; j < N; j++)
                        cr_assert(acq_queued(h[j]), "%d served before %d", j,
                                  i);
        }
        for (int i = 0; i < N; i++) {
                cr_assert_eq(acq_of(h[i])->pos, i);
                task_handle_release(h[i]);
        }
        cr_assert_eq(task_sem_destroy(&s), 0);
        test_rt_free(rt);
}

/* ---- try_acquire ---------------------------------------------------------- */

Test(semaphore, try_acquire_never_waits_and_fails_while_anybody_waits,
     .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 3), 0);
        cr_assert_eq(task_sem_try_acquire(&s, 4), -EAGAIN);
        cr_assert_eq(task_sem_available(&s), 3, "a failed try took permits");
        cr_assert_eq(task_sem_try_acquire(&s, 2), 0);
        cr_assert_eq(task_sem_try_acquire(&s, 2), -EAGAIN);
        cr_assert_eq(task_sem_release(&s, 2), 0);

        /* A waiter for 5 holds back the 3 free permits. */
        task_handle *h = spawn_queued(rt, &s, 5, NULL);
        cr_assert_eq(task_sem_try_acquire(&s, 1), -EAGAIN);
        cr_assert_eq(task_sem_available(&s), 0);
        cr_assert_eq(task_sem_release(&s, 2), 0);
        cr_assert_eq(join_rc(h), 0);
        task_handle_release(h);
        cr_assert_eq(task_sem_try_acquire(&s, 1), -EAGAIN);
        cr_assert_eq(task_sem_release(&s, 5), 0);
        cr_assert_eq(task_sem_try_acquire(&s, 5), 0);
        cr_assert_eq(task_sem_destroy(&s), 0);
        test_rt_free(rt);
}

/* ---- close ------------------------------------------------------------------ */

Test(semaphore, close_fails_waiters_and_later_acquires, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 2), 0);
        task_handle *a = spawn_queued(rt, &s, 5, NULL); /* 2 set aside */
        task_handle *b = spawn_queued(rt, &s, 1, NULL);
        cr_assert_eq(task_sem_destroy(&s), -EBUSY);
        cr_assert_not(task_sem_is_closed(&s));

        task_sem_close(&s);
        cr_assert(task_sem_is_closed(&s));
        cr_assert_eq(join_rc(a), -EPIPE);
        cr_assert_eq(join_rc(b), -EPIPE);
        cr_assert_eq(task_sem_available(&s), 2,
                     "the permits set aside for a did not come back");
        cr_assert_eq(task_sem_destroy(&s), 0);

        /* Later acquires fail, from a task, a thread and try. */
        task_handle *c = spawn_acq(rt, &s, 1, false, NULL);
        cr_assert_eq(join_rc(c), -EPIPE);
        task_handle *z = spawn_acq(rt, &s, 0, false, NULL);
        cr_assert_eq(join_rc(z), -EPIPE);
        cr_assert_eq(task_sem_acquire_blocking(&s, 1), -EPIPE);
        cr_assert_eq(task_sem_try_acquire(&s, 1), -EPIPE);

        /* Release still works, close is idempotent. */
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert_eq(task_sem_available(&s), 3);
        task_sem_close(&s);
        cr_assert_eq(task_sem_available(&s), 3);
        task_handle_release(a);
        task_handle_release(b);
        task_handle_release(c);
        task_handle_release(z);
        test_rt_free(rt);
}

/* ---- release overflow ------------------------------------------------------- */

Test(semaphore, release_overflow_adds_nothing, .timeout = 10)
{
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, TASK_SEM_MAX_PERMITS), 0);
        cr_assert_eq(task_sem_release(&s, 1), -EOVERFLOW);
        cr_assert_eq(task_sem_available(&s), TASK_SEM_MAX_PERMITS);
        cr_assert_eq(task_sem_try_acquire(&s, 10), 0);
        cr_assert_eq(task_sem_release(&s, 11), -EOVERFLOW);
        cr_assert_eq(task_sem_available(&s), TASK_SEM_MAX_PERMITS - 10);
        cr_assert_eq(task_sem_release(&s, 10), 0);
        cr_assert_eq(task_sem_available(&s), TASK_SEM_MAX_PERMITS);

        cr_assert_eq(task_sem_init(&s, 0), 0);
        cr_assert_eq(task_sem_release(&s, TASK_SEM_MAX_PERMITS + 1),
                     -EOVERFLOW);
        cr_assert_eq(task_sem_available(&s), 0);
        cr_assert_eq(task_sem_release(&s, 0), 0);
        cr_assert_eq(task_sem_release(&s, TASK_SEM_MAX_PERMITS), 0);
        cr_assert_eq(task_sem_available(&s), TASK_SEM_MAX_PERMITS);
        cr_assert_eq(task_sem_destroy(&s), 0);
}

/* ---- Cancellation ----------------------------------------------------------- */

Test(semaphore, aborted_waiter_passes_its_partial_permits_on, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 0), 0);
        task_handle *a = spawn_queued(rt, &s, 5, NULL);
        task_handle *b = spawn_queued(rt, &s, 2, NULL);
        task_handle *c = spawn_queued(rt, &s, 2, NULL);
        cr_assert_eq(task_sem_release(&s, 3), 0); /* a: 3 set aside */
        cr_assert(acq_queued(b));

        task_abort(a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        /* a's 3: 2 complete b, 1 goes to c (still needs 1). */
        cr_assert_eq(join_rc(b), 0);
        cr_assert(acq_queued(c));
        cr_assert_eq(task_sem_available(&s), 0);
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert_eq(join_rc(c), 0);
        cr_assert_eq(task_sem_available(&s), 0);

        /* b and c hold 2 each: all 4 come back, the 5th was never added. */
        cr_assert_eq(task_sem_release(&s, 4), 0);
        cr_assert_eq(task_sem_available(&s), 4);
        cr_assert_eq(task_sem_destroy(&s), 0);
        task_handle_release(a);
        task_handle_release(b);
        task_handle_release(c);
        test_rt_free(rt);
}

Test(semaphore, aborted_waiter_at_tail_leaves_queue_and_counts, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 1), 0);
        task_handle *a = spawn_queued(rt, &s, 3, NULL); /* 1 set aside */
        task_handle *b = spawn_queued(rt, &s, 1, NULL);
        task_abort(b);
        cr_assert_eq(task_join_blocking(b), -ECANCELED);
        task_abort(a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        cr_assert_eq(task_sem_available(&s), 1);
        cr_assert_eq(task_sem_destroy(&s), 0);
        cr_assert_eq(task_sem_try_acquire(&s, 1), 0);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

Test(semaphore, aborted_granted_waiter_gives_permits_back, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 0), 0);
        task_handle *a = spawn_acq(rt, &s, 2, false, NULL);
        ct_run_until(rt, h_queued, a);

        /* Granted while nothing runs: a is DONE but not polled. */
        cr_assert_eq(task_sem_release(&s, 2), 0);
        cr_assert_eq(task_sem_available(&s), 0);
        cr_assert_eq(atomic_load(&acq_of(a)->op.w.state), TASK_WAIT_DONE,
                     "a was not granted");
        task_abort(a);
        ct_run_until(rt, h_finished, a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        cr_assert_eq(task_sem_available(&s), 2, "the granted permits leaked");
        cr_assert_eq(task_sem_destroy(&s), 0);
        task_handle_release(a);
        test_rt_free(rt);
}

Test(semaphore, aborted_granted_waiter_passes_permits_to_next, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 0), 0);
        task_handle *a = spawn_acq(rt, &s, 2, false, NULL);
        ct_run_until(rt, h_queued, a);
        task_handle *b = spawn_acq(rt, &s, 1, false, NULL);
        ct_run_until(rt, h_queued, b);

        cr_assert_eq(task_sem_release(&s, 2), 0); /* all to a */
        task_abort(a);
        ct_run_until(rt, h_finished, b);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);
        cr_assert_eq(join_rc(b), 0);
        cr_assert_eq(task_sem_available(&s), 1);
        task_handle_release(a);
        task_handle_release(b);
        test_rt_free(rt);
}

/* ---- TASK_SELECT -------------------------------------------------------------- */

struct sel {
        TASK_FRAME;
        struct gate *g;
        struct task_sem *s;
        struct task_sem_acquire op;
        struct task_select sel;
        int rc;
};

static int sel_fn(struct task_cx *cx, void *arg)
{
        struct sel *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        TASK_SELECT(f, &f->sel, gate_poll(cx, f->g),
                    task_sem_acquire_poll(cx, f->s, 1, &f->op, &f->rc));
        TASK_END(f);
}

static bool sel_waiting(void *h)
{
        struct sel *f = task_handle_frame(h);
        return wait_queued(&f->op.w) && gate_has_waiter(f->g);
}

Test(semaphore, select_losing_branch_does_not_keep_the_permit, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_sem s;
        struct gate g;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_sem_init(&s, 0), 0);
        cr_assert_eq(
            TASK_SPAWN(rt, sel_fn, (&(struct sel){.g = &g, .s = &s}), &h), 0);
        ct_run_until(rt, sel_waiting, h);

        /* Both branches become ready before the task runs; the gate is
         * first, so it wins and the granted permit must go back. */
        gate_open(&g);
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert_eq(task_sem_available(&s), 0);
        ct_run_until(rt, h_finished, h);
        cr_assert_eq(task_join_blocking(h), 0);
        struct sel *f = task_handle_frame(h);
        cr_assert_eq(f->sel.which, 0);
        cr_assert_eq(f->rc, 1, "the losing branch reported a result");
        cr_assert_not(task_wait_pending(&f->op.w));
        cr_assert_eq(task_sem_available(&s), 1, "the loser kept the permit");
        cr_assert_eq(task_sem_destroy(&s), 0);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(semaphore, select_queued_loser_leaves_the_queue, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;
        struct gate g;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_sem_init(&s, 0), 0);
        cr_assert_eq(
            TASK_SPAWN(rt, sel_fn, (&(struct sel){.g = &g, .s = &s}), &h), 0);
        cr_assert(WAIT_UNTIL(sel_waiting(h), 5000));
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct sel *)task_handle_frame(h))->sel.which, 0);
        cr_assert_eq(task_sem_destroy(&s), 0, "the loser stayed queued");
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert_eq(task_sem_available(&s), 1);
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

Test(semaphore, select_winning_acquire_holds_and_drops_the_other, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;
        struct gate g;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_sem_init(&s, 0), 0);
        cr_assert_eq(
            TASK_SPAWN(rt, sel_fn, (&(struct sel){.g = &g, .s = &s}), &h), 0);
        cr_assert(WAIT_UNTIL(sel_waiting(h), 5000));
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        struct sel *f = task_handle_frame(h);
        cr_assert_eq(f->sel.which, 1);
        cr_assert_eq(f->rc, 0);
        cr_assert_eq(task_sem_available(&s), 0, "the winner holds it");
        cr_assert_not(gate_has_waiter(&g), "the losing gate kept a waker");
        task_handle_release(h);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Threads ------------------------------------------------------------------- */

struct blocker {
        struct task_sem *s;
        uint64_t n;
        atomic_int *seq;
        int rc;
        int pos;
};

static void *blocker_main(void *arg)
{
        struct blocker *b = arg;
        b->rc = task_sem_acquire_blocking(b->s, b->n);
        b->pos = atomic_fetch_add(b->seq, 1);
        return NULL;
}

Test(semaphore, blocking_acquire_from_threads_in_fifo_with_tasks, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;
        atomic_int seq = 0;
        pthread_t th;
        struct blocker b = {.s = &s, .n = 2, .seq = &seq};

        cr_assert_eq(task_sem_init(&s, 1), 0);
        cr_assert_eq(pthread_create(&th, NULL, blocker_main, &b), 0);
        /* The thread is the only possible waiter: -EBUSY says it queued. */
        cr_assert(WAIT_UNTIL(task_sem_destroy(&s) == -EBUSY, 5000));
        task_handle *a = spawn_queued(rt, &s, 1, &seq);
        cr_assert_eq(task_sem_release(&s, 1), 0); /* the thread's 2nd */
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(b.rc, 0);
        cr_assert(acq_queued(a), "the task overtook the thread");
        cr_assert_eq(task_sem_release(&s, 2), 0); /* the thread's 2 */
        cr_assert_eq(join_rc(a), 0);
        cr_assert_eq(b.pos, 0);
        cr_assert_eq(acq_of(a)->pos, 1);
        cr_assert_eq(task_sem_available(&s), 1);
        task_handle_release(a);
        cr_assert_eq(task_sem_destroy(&s), 0);
        test_rt_free(rt);
}

Test(semaphore, blocking_acquire_wakes_on_release_and_close, .timeout = 10)
{
        struct task_sem s;
        atomic_int seq = 0;
        pthread_t th;
        struct blocker b = {.s = &s, .n = 3, .seq = &seq};

        cr_assert_eq(task_sem_init(&s, 2), 0);
        cr_assert_eq(task_sem_acquire_blocking(&s, 2), 0);
        cr_assert_eq(task_sem_acquire_blocking(&s, 0), 0);
        cr_assert_eq(pthread_create(&th, NULL, blocker_main, &b), 0);
        cr_assert(WAIT_UNTIL(task_sem_destroy(&s) == -EBUSY, 5000));
        cr_assert_eq(task_sem_release(&s, 3), 0);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(b.rc, 0);

        cr_assert_eq(pthread_create(&th, NULL, blocker_main, &b), 0);
        cr_assert(WAIT_UNTIL(task_sem_destroy(&s) == -EBUSY, 5000));
        task_sem_close(&s);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(b.rc, -EPIPE);
        cr_assert_eq(task_sem_destroy(&s), 0);
}

struct deadlk {
        TASK_FRAME;
        struct task_sem *s;
        int rc;
};

static int deadlk_fn(struct task_cx *cx, void *arg)
{
        struct deadlk *f = arg;

        TASK_BEGIN(f);
        f->rc = task_sem_acquire_blocking(f->s, 1);
        TASK_END(f);
}

Test(semaphore, blocking_acquire_from_a_task_is_edeadlk, .timeout = 10)
{
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 1), 0);
        for (enum task_flavor fl = TASK_MULTI_THREAD; fl <= TASK_CURRENT_THREAD;
             fl++) {
                task_runtime *rt = test_rt_new_flavor(fl);
                struct deadlk f = {.s = &s};
                cr_assert_eq(task_block_on(rt, deadlk_fn, &f, sizeof f), 0);
                cr_assert_eq(f.rc, -EDEADLK);
                cr_assert_eq(task_sem_available(&s), 1);
                test_rt_free(rt);
        }
}

/* ---- destroy and bad input ----------------------------------------------------- */

Test(semaphore, destroy_is_ebusy_while_waiters_remain, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 0), 0);
        cr_assert_eq(task_sem_destroy(&s), 0);
        task_handle *a = spawn_queued(rt, &s, 1, NULL);
        cr_assert_eq(task_sem_destroy(&s), -EBUSY);
        cr_assert(acq_queued(a), "destroy disturbed the waiter");
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert_eq(join_rc(a), 0);
        cr_assert_eq(task_sem_destroy(&s), 0);
        task_handle_release(a);
        test_rt_free(rt);
}

struct badpoll {
        TASK_FRAME;
        struct task_sem *s;
        struct task_sem_acquire op;
        int rc[4];
        bool ready[4];
};

static int badpoll_fn(struct task_cx *cx, void *arg)
{
        struct badpoll *f = arg;

        TASK_BEGIN(f);
        f->ready[0] = task_sem_acquire_poll(cx, NULL, 1, &f->op, &f->rc[0]);
        f->ready[1] = task_sem_acquire_poll(cx, f->s, 1, NULL, &f->rc[1]);
        f->ready[2] = task_sem_acquire_poll(cx, f->s, TASK_SEM_MAX_PERMITS + 1,
                                            &f->op, &f->rc[2]);
        f->ready[3] = task_sem_acquire_poll(cx, f->s, 1, &f->op, NULL);
        TASK_END(f);
}

Test(semaphore, bad_input_is_einval, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_sem s;
        struct task_sem_acquire op = {0};
        int rc = 0;

        cr_assert_eq(task_sem_init(NULL, 1), -EINVAL);
        cr_assert_eq(task_sem_init(&s, TASK_SEM_MAX_PERMITS + 1), -EINVAL);
        cr_assert_eq(task_sem_init(&s, 1), 0);
        cr_assert_eq(task_sem_destroy(NULL), -EINVAL);
        cr_assert_eq(task_sem_try_acquire(NULL, 1), -EINVAL);
        cr_assert_eq(task_sem_try_acquire(&s, TASK_SEM_MAX_PERMITS + 1),
                     -EINVAL);
        cr_assert_eq(task_sem_acquire_blocking(NULL, 1), -EINVAL);
        cr_assert_eq(task_sem_acquire_blocking(&s, TASK_SEM_MAX_PERMITS + 1),
                     -EINVAL);
        cr_assert_eq(task_sem_release(NULL, 1), -EINVAL);
        task_sem_close(NULL);
        cr_assert_not(task_sem_is_closed(NULL));
        cr_assert_eq(task_sem_available(NULL), 0);
        cr_assert(task_sem_acquire_poll(NULL, &s, 1, &op, &rc));
        cr_assert_eq(rc, -EINVAL);

        struct badpoll f = {.s = &s};
        cr_assert_eq(task_block_on(rt, badpoll_fn, &f, sizeof f), 0);
        for (int i = 0; i < 3; i++) {
                cr_assert(f.ready[i], "bad call %d waited", i);
                cr_assert_eq(f.rc[i], -EINVAL, "bad call %d: %d", i, f.rc[i]);
        }
        cr_assert(f.ready[3], "a NULL rc is allowed");
        cr_assert_eq(task_sem_available(&s), 0);
        cr_assert_eq(task_sem_release(&s, 1), 0);
        cr_assert_eq(task_sem_destroy(&s), 0);
        test_rt_free(rt);
}

/* ---- Stress with stealing --------------------------------------------------- */

#define STRESS_PERMITS 4

struct stress {
        struct task_sem s;
        atomic_long holders; /* permits held right now */
        atomic_long ops;
        long iters;
};

struct worker {
        TASK_FRAME;
        struct stress *st;
        struct task_sem_acquire op;
        long i;
        uint64_t n;
        int rc;
};

static int worker_fn(struct task_cx *cx, void *arg)
{
        struct worker *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->st->iters; f->i++) {
                f->n = 1 + (uint64_t)((f->i + task_cx_id(cx)) % 3);
                TASK_SEM_ACQUIRE(f, &f->st->s, f->n, &f->op, &f->rc);
                TCHECK(f->rc == 0);
                long h =
                    atomic_fetch_add(&f->st->holders, (long)f->n) + (long)f->n;
                TCHECK(h <= STRESS_PERMITS);
                if (f->i % 4 == 0)
                        TASK_YIELD(f); /* hold across a suspension */
                atomic_fetch_sub(&f->st->holders, (long)f->n);
                TCHECK(task_sem_release(&f->st->s, f->n) == 0);
                atomic_fetch_add_explicit(&f->st->ops, 1, memory_order_relaxed);
        }
        TASK_END(f);
}

struct stress_thread {
        struct stress *st;
        long iters;
};

static void *stress_thread_main(void *arg)
{
        struct stress_thread *t = arg;
        for (long i = 0; i < t->iters; i++) {
                uint64_t n = 1 + (uint64_t)(i % STRESS_PERMITS);
                TCHECK(task_sem_acquire_blocking(&t->st->s, n) == 0);
                long h = atomic_fetch_add(&t->st->holders, (long)n) + (long)n;
                TCHECK(h <= STRESS_PERMITS);
                atomic_fetch_sub(&t->st->holders, (long)n);
                TCHECK(task_sem_release(&t->st->s, n) == 0);
                atomic_fetch_add_explicit(&t->st->ops, 1, memory_order_relaxed);
        }
        return NULL;
}

Test(semaphore, stress_holders_never_exceed_permits, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        static struct stress st;
        enum { TASKS = 64 };
        task_handle *h[TASKS];
        long total = test_scaled(1000000, 20000);
        pthread_t th;
        struct stress_thread t = {.st = &st, .iters = total / 100};

        cr_assert_eq(task_sem_init(&st.s, STRESS_PERMITS), 0);
        atomic_store(&st.holders, 0);
        atomic_store(&st.ops, 0);
        st.iters = total / TASKS;
        for (int i = 0; i < TASKS; i++)
                cr_assert_eq(TASK_SPAWN(rt, worker_fn,
                                        (&(struct worker){.st = &st}), &h[i]),
                             0);
        cr_assert_eq(pthread_create(&th, NULL, stress_thread_main, &t), 0);
        for (int i = 0; i < TASKS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        cr_assert_eq(pthread_join(th, NULL), 0);
        tcheck_assert_none();
        cr_assert_eq(atomic_load(&st.ops), st.iters * TASKS + t.iters);
        cr_assert_eq(atomic_load(&st.holders), 0);
        cr_assert_eq(task_sem_available(&st.s), STRESS_PERMITS,
                     "permits were lost or made up");
        cr_assert_eq(task_sem_destroy(&st.s), 0);

        struct task_runtime_metrics m;
        cr_assert_eq(task_runtime_metrics(rt, &m), 0);
        cr_log_info("stress: %ld ops, %llu steal ops", atomic_load(&st.ops),
                    (unsigned long long)m.steal_ops);
        test_rt_free(rt);
}

/* ---- The current-thread flavor ---------------------------------------------- */

struct ct_main {
        TASK_FRAME;
        struct stress *st;
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
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), worker_fn,
                                  (&(struct worker){.st = f->st}),
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

Test(semaphore, current_thread_flavor, .timeout = 30)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        static struct stress st;
        struct ct_main f = {.st = &st};

        cr_assert_eq(task_sem_init(&st.s, STRESS_PERMITS), 0);
        st.iters = test_scaled(20000, 2000);
        cr_assert_eq(task_block_on(rt, ct_main_fn, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_eq(atomic_load(&st.ops), st.iters * 8);
        cr_assert_eq(task_sem_available(&st.s), STRESS_PERMITS);

        /* A waiter queued by one block_on is served in the next. */
        cr_assert_eq(task_sem_try_acquire(&st.s, STRESS_PERMITS), 0);
        task_handle *a = spawn_acq(rt, &st.s, 2, true, NULL);
        ct_run_until(rt, h_queued, a);
        cr_assert_eq(task_sem_release(&st.s, STRESS_PERMITS), 0);
        ct_run_until(rt, h_finished, a);
        cr_assert_eq(join_rc(a), 0);
        task_handle_release(a);
        cr_assert_eq(task_sem_available(&st.s), STRESS_PERMITS);
        cr_assert_eq(task_sem_destroy(&st.s), 0);
        test_rt_free(rt);
}

Test(semaphore, try_acquire_zero_succeeds_until_closed, .timeout = 10)
{
        struct task_sem s;

        cr_assert_eq(task_sem_init(&s, 0), 0);
        cr_assert_eq(task_sem_try_acquire(&s, 0), 0);
        cr_assert_eq(task_sem_try_acquire(&s, 1), -EAGAIN);
        task_sem_close(&s);
        cr_assert_eq(task_sem_try_acquire(&s, 0), -EPIPE);
        cr_assert_eq(task_sem_destroy(&s), 0);
}
