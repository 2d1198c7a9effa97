/*
 * test_abort_race.c - task_abort racing completion, wakes and release,
 * thousands of times.  For every task: join reports 0 or -ECANCELED, and
 * 0 exactly when the body ran to its end; the cleanup runs exactly once;
 * nothing leaks (tasks_alive returns to 0, runtime_free succeeds, and ASan's
 * leak checker sees no task memory left).
 */
#include "helpers.h"

struct racer {
        TASK_FRAME;
        int yields, i;
        int body_done;
        struct gate *g;      /* optional: await it after the yields */
        atomic_int *cleanup; /* this task's own counter */
        atomic_long *total_cleanups;
};

static int racer(struct task_cx *cx, void *arg)
{
        struct racer *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->yields; f->i++)
                TASK_YIELD(f);
        if (f->g)
                TASK_AWAIT(f, gate_poll(cx, f->g));
        f->body_done = 1;
        TASK_CLEANUP(f);
        atomic_fetch_add(f->cleanup, 1);
        if (f->total_cleanups)
                atomic_fetch_add(f->total_cleanups, 1);
        TASK_END(f);
}

static unsigned xorshift(unsigned *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

static void spin(unsigned n)
{
        for (volatile unsigned i = 0; i < n; i++)
                ;
}

enum { BATCH = 64 };

struct tally {
        long ok, cancelled;
};

static void check_joined(task_handle *h, atomic_int *cleanup, struct tally *t)
{
        int rc = task_join_blocking(h);
        struct racer *f = task_handle_frame(h);

        cr_assert(rc == 0 || rc == -ECANCELED, "join: %d", rc);
        cr_assert_eq(atomic_load(cleanup), 1, "cleanup ran %d times (rc %d)",
                     atomic_load(cleanup), rc);
        if (rc == 0) {
                cr_assert_eq(f->body_done, 1,
                             "joined 0 but the body did not finish");
                t->ok++;
        } else {
                cr_assert_eq(f->body_done, 0,
                             "joined -ECANCELED but the body finished");
                t->cancelled++;
        }
}

Test(abort_race, abort_races_completion, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(2);
        long rounds = test_scaled(100000, 1000) / BATCH;
        unsigned seed = 12345;
        struct tally t = {0};

        for (long r = 0; r < rounds; r++) {
                task_handle *hs[BATCH];
                atomic_int cleanup[BATCH];

                for (int i = 0; i < BATCH; i++) {
                        struct racer f = {.yields = (int)(xorshift(&seed) % 4),
                                          .cleanup = &cleanup[i]};
                        atomic_init(&cleanup[i], 0);
                        cr_assert_eq(TASK_SPAWN(rt, racer, &f, &hs[i]), 0);
                }
                for (int i = 0; i < BATCH; i++) {
                        spin(xorshift(&seed) % 2000);
                        task_abort(hs[i]);
                }
                for (int i = 0; i < BATCH; i++) {
                        check_joined(hs[i], &cleanup[i], &t);
                        task_handle_release(hs[i]);
                }
        }
        cr_log_info("%ld finished first, %ld cancelled", t.ok, t.cancelled);
        /* Both outcomes must have happened, or the race was not a race. */
        cr_assert_gt(t.cancelled, 0);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        test_rt_free(rt);
}

/* Abort racing a wake from another thread (the gate opening). */
struct opener_arg {
        struct gate *gates;
        int n;
        unsigned seed;
};

static void *opener_thread(void *p)
{
        struct opener_arg *a = p;
        for (int i = 0; i < a->n; i++) {
                spin(xorshift(&a->seed) % 3000);
                gate_open(&a->gates[i]);
        }
        return NULL;
}

Test(abort_race, abort_races_wake, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(2);
        long rounds = test_scaled(100000, 1000) / BATCH;
        unsigned seed = 777;
        struct tally t = {0};

        for (long r = 0; r < rounds; r++) {
                task_handle *hs[BATCH];
                atomic_int cleanup[BATCH];
                struct gate gates[BATCH];
                struct opener_arg oa = {
                    .gates = gates, .n = BATCH, .seed = seed + (unsigned)r};
                pthread_t th;

                for (int i = 0; i < BATCH; i++) {
                        struct racer f = {.yields = (int)(xorshift(&seed) % 2),
                                          .g = &gates[i],
                                          .cleanup = &cleanup[i]};
                        gate_init(&gates[i]);
                        atomic_init(&cleanup[i], 0);
                        cr_assert_eq(TASK_SPAWN(rt, racer, &f, &hs[i]), 0);
                }
                cr_assert_eq(pthread_create(&th, NULL, opener_thread, &oa), 0);
                for (int i = 0; i < BATCH; i++) {
                        spin(xorshift(&seed) % 3000);
                        task_abort(hs[i]);
                }
                pthread_join(th, NULL);
                for (int i = 0; i < BATCH; i++) {
                        check_joined(hs[i], &cleanup[i], &t);
                        task_handle_release(hs[i]);
                        gate_destroy(&gates[i]);
                }
        }
        cr_log_info("%ld finished first, %ld cancelled", t.ok, t.cancelled);
        cr_assert_gt(t.cancelled, 0);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        test_rt_free(rt);
}

/* Aborts from several threads and release right after: cleanup still once. */
struct multi_abort_arg {
        task_handle **hs;
        int n;
        unsigned seed;
};

static void *multi_aborter(void *p)
{
        struct multi_abort_arg *a = p;
        for (int i = 0; i < a->n; i++) {
                spin(xorshift(&a->seed) % 1000);
                task_abort(a->hs[i]);
        }
        return NULL;
}

Test(abort_race, concurrent_aborts_and_release, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(3);
        long rounds = test_scaled(100000, 1000) / BATCH;
        long total = rounds * BATCH;
        atomic_int *cleanup = calloc((size_t)total, sizeof *cleanup);
        atomic_long total_cleanups = 0;
        unsigned seed = 4242;

        for (long r = 0; r < rounds; r++) {
                task_handle *hs[BATCH];
                struct multi_abort_arg ma[2];
                pthread_t th[2];

                for (int i = 0; i < BATCH; i++) {
                        struct racer f = {.yields = (int)(xorshift(&seed) % 3),
                                          .cleanup = &cleanup[r * BATCH + i],
                                          .total_cleanups = &total_cleanups};
                        cr_assert_eq(TASK_SPAWN(rt, racer, &f, &hs[i]), 0);
                }
                for (int k = 0; k < 2; k++) {
                        ma[k] = (struct multi_abort_arg){
                            .hs = hs, .n = BATCH, .seed = seed + (unsigned)k};
                        cr_assert_eq(
                            pthread_create(&th[k], NULL, multi_aborter, &ma[k]),
                            0);
                }
                for (int i = 0; i < BATCH; i++) {
                        spin(xorshift(&seed) % 1000);
                        task_abort(hs[i]);
                }
                for (int k = 0; k < 2; k++)
                        pthread_join(th[k], NULL);
                /* Release without joining: the tasks end detached. */
                for (int i = 0; i < BATCH; i++)
                        task_handle_release(hs[i]);
        }
        cr_assert(WAIT_UNTIL(atomic_load(&total_cleanups) >= total, 20000),
                  "%ld of %ld cleanups ran", atomic_load(&total_cleanups),
                  total);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        sleep_ms(10);
        for (long i = 0; i < total; i++)
                cr_assert_eq(atomic_load(&cleanup[i]), 1,
                             "task %ld: %d cleanups", i,
                             atomic_load(&cleanup[i]));
        cr_assert_eq(atomic_load(&total_cleanups), total);
        test_rt_free(rt);
        free(cleanup);
}

/* Aborts issued by tasks running on other workers. */
struct task_aborter {
        TASK_FRAME;
        task_handle **hs;
        int n, i;
};

static int task_aborter(struct task_cx *cx, void *arg)
{
        struct task_aborter *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                task_abort(f->hs[f->i]);
                if (f->i % 8 == 0)
                        TASK_YIELD(f);
        }
        TASK_END(f);
}

Test(abort_race, aborts_from_tasks, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(3);
        long rounds = test_scaled(100000, 1000) / BATCH;
        unsigned seed = 99;
        struct tally t = {0};

        for (long r = 0; r < rounds; r++) {
                task_handle *hs[BATCH], *ha;
                atomic_int cleanup[BATCH];
                struct task_aborter a = {.hs = hs, .n = BATCH};

                for (int i = 0; i < BATCH; i++) {
                        struct racer f = {.yields = (int)(xorshift(&seed) % 5),
                                          .cleanup = &cleanup[i]};
                        atomic_init(&cleanup[i], 0);
                        cr_assert_eq(TASK_SPAWN(rt, racer, &f, &hs[i]), 0);
                }
                cr_assert_eq(TASK_SPAWN(rt, task_aborter, &a, &ha), 0);
                cr_assert_eq(task_join_blocking(ha), 0);
                task_handle_release(ha);
                for (int i = 0; i < BATCH; i++) {
                        check_joined(hs[i], &cleanup[i], &t);
                        task_handle_release(hs[i]);
                }
        }
        cr_log_info("%ld finished first, %ld cancelled", t.ok, t.cancelled);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000));
        test_rt_free(rt);
}
