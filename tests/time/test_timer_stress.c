/*
 * test_timer_stress.c - hundreds of thousands of timers (scaled by
 * test_scaled()) with random durations of 0..50 ms and random cancels, on
 * a 2-worker runtime (and a smaller run on the current-thread flavor):
 *
 *  - plain sleepers (two sleeps in a row on one op) must complete each
 *    sleep exactly once, never before its deadline;
 *  - aborted sleepers (aborted from the test thread, some before their
 *    first poll, some while sleeping, some after waking) end cancelled
 *    with their timer idle, or finished exactly as a plain sleeper;
 *  - racers select between two sleeps: the winner is due, the loser is
 *    dropped (unlinked, wherever the task runs by then).
 *
 * And one slot holding hundreds of timers, expired in batches of 32 wakes
 * while woken and aborted tasks cancel timers in it from the other worker.
 *
 * At the end every wheel is empty and the runtime frees without leaks.  The
 * exact firing order (a timer fires at the first expiry at or after its
 * tick, so ticks fire in order) is pinned by test_wheel.c on the wheel
 * itself; here the wake-ups go through run queues, whose order is not the
 * wheel's.
 */
#include "helpers.h"

#include "runtime-priv.h"

#include <libtask/time.h>

static uint64_t wheel_timers(task_runtime *rt)
{
        uint64_t n = 0;

        for (unsigned i = 0; i < rt->nworkers; i++) {
                struct task__wheel *wh = &rt->workers[i].wheel;
                task__spin_lock(&wh->lock);
                n += wh->count;
                task__spin_unlock(&wh->lock);
        }
        return n;
}

enum { PLAIN, ABORTED, RACER };

struct st {
        TASK_FRAME;
        int kind;
        uint64_t d1, d2;
        struct task_sleep s1, s2;
        struct task_select sel;
        int i, fired;
        bool cleaned;
};

static int st_fn(struct task_cx *cx, void *arg)
{
        struct st *f = arg;

        TASK_BEGIN(f);
        if (f->kind == RACER) {
                TASK_SELECT(f, &f->sel, task_sleep_poll(cx, &f->s1, f->d1),
                            task_sleep_poll(cx, &f->s2, f->d2));
                uint64_t now = task_now_ns();
                struct task_sleep *w = f->sel.which ? &f->s2 : &f->s1;
                struct task_sleep *l = f->sel.which ? &f->s1 : &f->s2;
                TCHECK(now >= task_sleep_deadline(w));
                TCHECK(atomic_load(&l->timer.state) == TASK__TIMER_IDLE);
                f->fired++;
        } else {
                for (f->i = 0; f->i < 2; f->i++) {
                        TASK_SLEEP(f, &f->s1, f->i ? f->d2 : f->d1);
                        TCHECK(task_now_ns() >= task_sleep_deadline(&f->s1));
                        f->fired++;
                }
        }
        TASK_CLEANUP(f);
        f->cleaned = true;
        TCHECK(atomic_load(&f->s1.timer.state) == TASK__TIMER_IDLE);
        TCHECK(atomic_load(&f->s2.timer.state) == TASK__TIMER_IDLE);
        TASK_END(f);
}

/* Join every handle from a task (drives a current-thread runtime). */
struct join_all {
        TASK_FRAME;
        task_handle **hs;
        int *rcs;
        long n, i;
};

static int join_all_fn(struct task_cx *cx, void *arg)
{
        struct join_all *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++)
                TASK_JOIN(f, f->hs[f->i], &f->rcs[f->i]);
        TASK_END(f);
}

static uint64_t rng = 0x2545F4914F6CDD1Du;

static uint64_t rnd(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static void stress(enum task_flavor fl, long n)
{
        task_runtime *rt = test_rt_new_flavor(fl);
        task_handle **hs = calloc((size_t)n, sizeof *hs);
        int *rcs = calloc((size_t)n, sizeof *rcs);
        int *kind = calloc((size_t)n, sizeof *kind);
        long counts[3] = {0}, cancelled = 0;

        cr_assert(hs && rcs && kind);
        for (long i = 0; i < n; i++) {
                uint64_t r = rnd() % 10;
                struct st f = {
                    .kind = r < 6   ? PLAIN
                            : r < 8 ? ABORTED
                                    : RACER,
                    .d1 = rnd() % TASK_MS(50),
                    .d2 = rnd() % TASK_MS(50),
                };
                kind[i] = f.kind;
                counts[f.kind]++;
                cr_assert_eq(TASK_SPAWN(rt, st_fn, &f, &hs[i]), 0);
                /* Abort some at once (often before their first poll). */
                if (f.kind == ABORTED && rnd() % 4 == 0)
                        task_abort(hs[i]);
        }
        if (fl == TASK_MULTI_THREAD) {
                /* The rest while they sleep (or after they woke). */
                sleep_ms(10);
                for (long i = 0; i < n; i++)
                        if (kind[i] == ABORTED)
                                task_abort(hs[i]);
                for (long i = 0; i < n; i++)
                        rcs[i] = task_join_blocking(hs[i]);
        } else {
                for (long i = 0; i < n; i++)
                        if (kind[i] == ABORTED && rnd() % 2)
                                task_abort(hs[i]);
                struct join_all j = {.hs = hs, .rcs = rcs, .n = n};
                cr_assert_eq(task_block_on(rt, join_all_fn, &j, sizeof j), 0);
        }
        for (long i = 0; i < n; i++) {
                struct st *f = task_handle_frame(hs[i]);
                cr_assert(f->cleaned);
                if (rcs[i] == -ECANCELED) {
                        cr_assert_eq(kind[i], ABORTED);
                        cr_assert_lt(f->fired, 2);
                        cancelled++;
                } else {
                        cr_assert_eq(rcs[i], 0);
                        cr_assert_eq(f->fired, kind[i] == RACER ? 1 : 2,
                                     "task %ld fired %d", i, f->fired);
                }
                task_handle_release(hs[i]);
        }
        tcheck_assert_none();
        cr_assert_eq(wheel_timers(rt), 0);
        cr_log_info("%ld tasks: %ld plain, %ld aborted (%ld cancelled), %ld "
                    "racers",
                    n, counts[PLAIN], counts[ABORTED], cancelled,
                    counts[RACER]);
        free(kind);
        free(rcs);
        free(hs);
        test_rt_free(rt);
}

Test(timer_stress, random_timers_and_cancels_multi_thread, .timeout = 300)
{
        stress(TASK_MULTI_THREAD, test_scaled(200000, 10000));
}

Test(timer_stress, random_timers_and_cancels_current_thread, .timeout = 300)
{
        stress(TASK_CURRENT_THREAD, test_scaled(50000, 5000));
}

/*
 * One slot, many timers, concurrent cancels.  Every round, SLOT_TASKS tasks
 * each select between two sleeps with the same absolute deadline, so each
 * worker's wheel holds hundreds of timers in one slot and expires them in
 * one pass, dropping its lock every 32 wakes (wheel.c).  Meanwhile: the
 * woken tasks run on either worker and cancel their losing sleep, which is
 * often still linked in that very slot of the other worker's wheel (or was
 * fired in the same pass: a spurious wake); and the test thread aborts a
 * third of the tasks around the deadline, their cancelling polls unlinking
 * from whichever wheel holds them.  Each task finishes with its winner due
 * and both timers idle, or ends cancelled with both idle; the wheels end
 * empty.
 */
enum { SLOT_TASKS = 512 };

struct slot_racer {
        TASK_FRAME;
        struct task_select sel;
        struct task_sleep s1, s2;
        uint64_t deadline, woke;
        bool done;
};

static int slot_racer_fn(struct task_cx *cx, void *arg)
{
        struct slot_racer *f = arg;

        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel, task_sleep_until_poll(cx, &f->s1, f->deadline),
                    task_sleep_until_poll(cx, &f->s2, f->deadline));
        f->woke = task_now_ns();
        TCHECK(f->woke >= f->deadline);
        TCHECK(atomic_load(&f->s1.timer.state) == TASK__TIMER_IDLE);
        TCHECK(atomic_load(&f->s2.timer.state) == TASK__TIMER_IDLE);
        f->done = true;
        TASK_END(f);
}

Test(timer_stress, one_slot_batches_with_cross_worker_cancels, .timeout = 300)
{
        task_runtime *rt = test_rt_new_mt(2);
        long rounds = test_scaled(40, 5), finished = 0, cancelled = 0;
        task_handle *hs[SLOT_TASKS];

        for (long r = 0; r < rounds; r++) {
                uint64_t deadline = task_now_ns() + TASK_MS(20);

                for (int i = 0; i < SLOT_TASKS; i++) {
                        struct slot_racer f = {.deadline = deadline};
                        cr_assert_eq(TASK_SPAWN(rt, slot_racer_fn, &f, &hs[i]),
                                     0);
                }
                /* Aborts from about 0.3 ms before the deadline to just
                 * after it, a few microseconds apart. */
                while (task_now_ns() + TASK_US(300) < deadline)
                        ;
                for (int i = 0; i < SLOT_TASKS; i += 3) {
                        task_abort(hs[i]);
                        for (uint64_t t = task_now_ns() + TASK_US(3);
                             task_now_ns() < t;)
                                ;
                }
                for (int i = 0; i < SLOT_TASKS; i++) {
                        int rc = task_join_blocking(hs[i]);
                        struct slot_racer *f = task_handle_frame(hs[i]);
                        cr_assert_eq(atomic_load(&f->s1.timer.state),
                                     TASK__TIMER_IDLE);
                        cr_assert_eq(atomic_load(&f->s2.timer.state),
                                     TASK__TIMER_IDLE);
                        if (rc == -ECANCELED) {
                                cr_assert_eq(i % 3, 0);
                                cr_assert_not(f->done);
                                cancelled++;
                        } else {
                                cr_assert_eq(rc, 0);
                                cr_assert(f->done);
                                finished++;
                        }
                        task_handle_release(hs[i]);
                }
                tcheck_assert_none();
                cr_assert_eq(wheel_timers(rt), 0);
        }
        cr_log_info("%ld rounds of %d: %ld finished, %ld cancelled", rounds,
                    SLOT_TASKS, finished, cancelled);
        test_rt_free(rt);
}
