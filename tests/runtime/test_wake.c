/*
 * test_wake.c - wakers under concurrency.
 *
 * The target task counts its polls and, at the start of each poll, records
 * how many wakes had been issued (a sequence number every waker bumps just
 * before waking).  Invariants:
 *
 *  - it is never polled concurrently (an atomic "in poll" flag);
 *  - no wake is lost: for every wake, a poll starts after it, i.e. the
 *    recorded sequence eventually reaches every issued number;
 *  - wakes coalesce: never more polls than wakes (+1 for the first poll).
 *
 * Plus: wake_by_ref vs task_wake with clones, wakes from tasks on other
 * workers, self-wakes, wakes after the task ended, task_waker_wakes.
 */
#include "helpers.h"

struct wstate {
        atomic_int in_poll;
        atomic_int concurrent; /* polls that found in_poll set */
        atomic_long seq;       /* wakes issued so far */
        atomic_long seen;      /* seq read at the start of the latest poll */
        atomic_long polls;
        atomic_int stop;
        atomic_int done;           /* set by the task's last poll, last thing */
        task_waker *_Atomic waker; /* the task's own waker, set on first poll */
        int spin; /* busy iterations per poll, widening races */
};

static bool target_poll(struct task_cx *cx, struct wstate *s)
{
        bool stop;

        if (atomic_exchange(&s->in_poll, 1) != 0)
                atomic_fetch_add(&s->concurrent, 1);
        /* seq_cst: this load is ordered after the runtime's transition to
         * "running", which follows any wake that it absorbed. */
        atomic_store(&s->seen, atomic_load(&s->seq));
        atomic_fetch_add(&s->polls, 1);
        if (!atomic_load(&s->waker))
                atomic_store(&s->waker, task_cx_waker(cx));
        for (volatile int i = 0; i < s->spin; i++)
                ;
        stop = atomic_load(&s->stop);
        atomic_store(&s->in_poll, 0);
        /* seq_cst: the test may reuse *s once it sees this. */
        if (stop)
                atomic_store(&s->done, 1);
        return stop;
}

struct target {
        TASK_FRAME;
        struct wstate *s;
};

static int target(struct task_cx *cx, void *arg)
{
        struct target *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, target_poll(cx, f->s));
        TASK_END(f);
}

enum wake_mode { BY_REF, CLONE_AND_WAKE };

struct waker_arg {
        struct wstate *s;
        task_waker *w; /* this thread's own reference */
        long n;
        int check_every;
        enum wake_mode mode;
        atomic_long *lost;
};

/* Wait until a poll has started after wake number @n. */
static bool wait_seen(struct wstate *s, long n, long ms)
{
        return WAIT_UNTIL(atomic_load(&s->seen) >= n, ms);
}

static void *waker_thread(void *p)
{
        struct waker_arg *a = p;

        for (long k = 0; k < a->n; k++) {
                long my = atomic_fetch_add(&a->s->seq, 1) + 1;
                if (a->mode == BY_REF)
                        task_wake_by_ref(a->w);
                else
                        task_wake(task_waker_clone(a->w));
                if (a->check_every && k % a->check_every == 0 &&
                    !wait_seen(a->s, my, 5000)) {
                        atomic_fetch_add(a->lost, 1);
                        break;
                }
        }
        task_waker_drop(a->w);
        return NULL;
}

static void run_concurrent_wakers(unsigned workers, int nthreads,
                                  enum wake_mode mode, int spin)
{
        task_runtime *rt = test_rt_new_mt(workers);
        struct wstate s = {.spin = spin};
        struct target f = {.s = &s};
        task_handle *h;
        task_waker *w;
        atomic_long lost = 0;
        pthread_t th[8];
        struct waker_arg a[8];
        long per = test_scaled(100000, 2000);
        long total, polls;

        cr_assert_eq(TASK_SPAWN(rt, target, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&s.waker) != NULL, 5000));
        w = atomic_load(&s.waker);
        for (int i = 0; i < nthreads; i++) {
                a[i] = (struct waker_arg){.s = &s,
                                          .w = task_waker_clone(w),
                                          .n = per,
                                          .check_every = 16 << i,
                                          .mode = mode,
                                          .lost = &lost};
                cr_assert_eq(pthread_create(&th[i], NULL, waker_thread, &a[i]),
                             0);
        }
        for (int i = 0; i < nthreads; i++)
                pthread_join(th[i], NULL);
        cr_assert_eq(atomic_load(&lost), 0,
                     "a wake was not followed by a poll within 5 s");
        total = atomic_load(&s.seq);
        cr_assert_eq(total, per * nthreads);
        cr_assert(wait_seen(&s, total, 5000),
                  "lost wake: last poll saw %ld of %ld wakes",
                  atomic_load(&s.seen), total);
        cr_assert_not(task_handle_finished(h));

        atomic_store(&s.stop, 1);
        task_wake_by_ref(w);
        cr_assert_eq(task_join_blocking(h), 0);
        polls = atomic_load(&s.polls);
        cr_assert_eq(atomic_load(&s.concurrent), 0,
                     "polled concurrently %d times",
                     atomic_load(&s.concurrent));
        /* First poll + at most one per wake (+ the stop wake). */
        cr_assert_leq(polls, total + 2, "%ld polls for %ld wakes", polls,
                      total);
        cr_assert_geq(polls, 2);
        cr_log_info("%d threads, %ld wakes, %ld polls", nthreads, total, polls);
        task_waker_drop(w);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(wake, wake_by_ref_from_4_threads, .timeout = 60)
{
        run_concurrent_wakers(2, 4, BY_REF, 0);
}

Test(wake, wake_by_ref_during_slow_polls, .timeout = 60)
{
        run_concurrent_wakers(2, 4, BY_REF, 2000);
}

Test(wake, clone_and_wake_from_4_threads, .timeout = 60)
{
        run_concurrent_wakers(3, 4, CLONE_AND_WAKE, 100);
}

Test(wake, wake_by_ref_one_worker, .timeout = 60)
{
        run_concurrent_wakers(1, 3, BY_REF, 50);
}

/* ---- Wakes from tasks on other workers -------------------------------------- */

struct waking_task {
        TASK_FRAME;
        struct wstate *s;
        task_waker *w; /* owned */
        long n, k;
        long lost;
};

static int waking_task(struct task_cx *cx, void *arg)
{
        struct waking_task *f = arg;
        TASK_BEGIN(f);
        for (f->k = 0; f->k < f->n; f->k++) {
                atomic_fetch_add(&f->s->seq, 1);
                task_wake_by_ref(f->w);
                if (f->k % 4 == 0)
                        TASK_YIELD(f);
        }
        TASK_CLEANUP(f);
        task_waker_drop(f->w);
        f->w = NULL;
        TASK_END(f);
}

Test(wake, wakes_from_tasks_on_other_workers, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(4);
        struct wstate s = {.spin = 20};
        struct target f = {.s = &s};
        task_handle *h, *hw[6];
        task_waker *w;
        long per = test_scaled(50000, 1000), total;

        cr_assert_eq(TASK_SPAWN(rt, target, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&s.waker) != NULL, 5000));
        w = atomic_load(&s.waker);
        for (int i = 0; i < 6; i++) {
                struct waking_task t = {
                    .s = &s, .w = task_waker_clone(w), .n = per};
                cr_assert_eq(TASK_SPAWN(rt, waking_task, &t, &hw[i]), 0);
        }
        for (int i = 0; i < 6; i++) {
                cr_assert_eq(task_join_blocking(hw[i]), 0);
                task_handle_release(hw[i]);
        }
        total = atomic_load(&s.seq);
        cr_assert_eq(total, 6 * per);
        cr_assert(wait_seen(&s, total, 5000), "lost wake: saw %ld of %ld",
                  atomic_load(&s.seen), total);
        cr_assert_eq(atomic_load(&s.concurrent), 0);
        atomic_store(&s.stop, 1);
        task_wake(w);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_leq(atomic_load(&s.polls), total + 2);
        task_handle_release(h);
        test_rt_free(rt);
}

/* ---- Self-wake ---------------------------------------------------------------- */

struct self_waker {
        TASK_FRAME;
        int n, polls;
        bool wakes_self;
};

static bool self_wake_poll(struct task_cx *cx, struct self_waker *f)
{
        task_waker *w;

        f->polls++;
        if (f->polls > f->n)
                return true;
        w = task_cx_waker(cx);
        f->wakes_self = task_waker_wakes(w, cx);
        /* Woken while running: must be polled again after this poll. */
        task_wake(w);
        return false;
}

static int self_waker(struct task_cx *cx, void *arg)
{
        struct self_waker *f = arg;
        TASK_BEGIN(f);
        TASK_AWAIT(f, self_wake_poll(cx, f));
        TASK_END(f);
}

Test(wake, self_wake_while_running_repolls, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct self_waker f = {.n = 1000};

        cr_assert_eq(task_block_on(rt, self_waker, &f, sizeof f), 0);
        cr_assert_eq(f.polls, 1001);
        cr_assert(f.wakes_self,
                  "task_waker_wakes is false for the task's own waker");
        test_rt_free(rt);
}

Test(wake, self_wake_on_current_thread, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct self_waker f = {.n = 1000};

        cr_assert_eq(task_block_on(rt, self_waker, &f, sizeof f), 0);
        cr_assert_eq(f.polls, 1001);
        test_rt_free(rt);
}

/* ---- task_waker_wakes is false for another task ---------------------------- */

struct other_check {
        TASK_FRAME;
        task_waker *other;
        int result;
};

static int other_check(struct task_cx *cx, void *arg)
{
        struct other_check *f = arg;
        TASK_BEGIN(f);
        f->result = task_waker_wakes(f->other, cx) ? 1 : 0;
        TASK_END(f);
}

Test(wake, waker_wakes_only_its_task, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct wstate s = {0};
        struct target f = {.s = &s};
        struct other_check o = {.result = -1};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, target, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&s.waker) != NULL, 5000));
        o.other = atomic_load(&s.waker);
        cr_assert_eq(task_block_on(rt, other_check, &o, sizeof o), 0);
        cr_assert_eq(o.result, 0);
        atomic_store(&s.stop, 1);
        task_wake(atomic_load(&s.waker));
        cr_assert_eq(task_join_blocking(h), 0);
        task_handle_release(h);
        test_rt_free(rt);
}

/* ---- Wakes after the task ended ------------------------------------------------ */

Test(wake, wake_after_end_is_harmless, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct wstate s = {0};
        struct target f = {.s = &s};
        task_handle *h;
        task_waker *w, *c1, *c2;
        long polls;

        cr_assert_eq(TASK_SPAWN(rt, target, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&s.waker) != NULL, 5000));
        w = atomic_load(&s.waker);
        c1 = task_waker_clone(w);
        c2 = task_waker_clone(w);
        atomic_store(&s.stop, 1);
        task_wake_by_ref(w);
        cr_assert_eq(task_join_blocking(h), 0);
        polls = atomic_load(&s.polls);
        task_handle_release(h);
        /* The task ended and its handle is gone: only wakers keep it. */
        for (int i = 0; i < 100; i++)
                task_wake_by_ref(w);
        task_wake(c1);
        sleep_ms(10);
        cr_assert_eq(atomic_load(&s.polls), polls, "an ended task was polled");
        task_waker_drop(c2);
        task_waker_drop(w);
        task_waker_drop(NULL);
        test_rt_free(rt);
}

/* Wakes racing the task's own completion, many times. */
Test(wake, wakes_racing_completion, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        int rounds = (int)test_scaled(2000, 100);

        for (int r = 0; r < rounds; r++) {
                struct wstate s = {0};
                struct target f = {.s = &s};
                task_handle *h;
                task_waker *w;

                cr_assert_eq(TASK_SPAWN(rt, target, &f, &h), 0);
                cr_assert(WAIT_UNTIL(atomic_load(&s.waker) != NULL, 5000));
                w = atomic_load(&s.waker);
                atomic_store(&s.stop, 1);
                for (int i = 0; i < 10; i++)
                        task_wake_by_ref(w);
                if (r & 1)
                        task_handle_release(h);
                for (int i = 0; i < 10; i++)
                        task_wake_by_ref(w);
                task_wake(w);
                if (!(r & 1)) {
                        cr_assert_eq(task_join_blocking(h), 0);
                        cr_assert_eq(atomic_load(&s.concurrent), 0);
                        task_handle_release(h);
                } else {
                        /* Detached: wait for its last access to s. */
                        cr_assert(WAIT_UNTIL(atomic_load(&s.done), 5000));
                        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
                }
        }
        test_rt_free(rt);
}
