/*
 * test_shutdown.c - task_runtime_shutdown and task_runtime_free with work
 * left: tasks still queued, idle (suspended forever) and running.  Every
 * unfinished task's cleanup runs exactly once (on the calling thread for
 * idle ones); joins after shutdown report 0 or -ECANCELED consistently with
 * what ran; spawn and block_on after shutdown fail; free is -EBUSY while a
 * handle or a waker is held and succeeds after release; shutdown is
 * idempotent; blocking calls from a worker are -EDEADLK.
 */
#include "helpers.h"

struct work {
        TASK_FRAME;
        int kind; /* 0: finish at once; 1: suspend forever; 2: yield forever */
        atomic_int *started, *finished, *cleanups;
        pthread_t cleanup_thread;
        int body_done;
        int spawn_rc_in_cleanup;
        bool try_spawn_in_cleanup;
};

static int noop(struct task_cx *cx, void *arg)
{
        struct work *f = arg;
        TASK_BEGIN(f);
        TASK_END(f);
}

static int work(struct task_cx *cx, void *arg)
{
        struct work *f = arg;
        TASK_BEGIN(f);
        atomic_fetch_add(f->started, 1);
        if (f->kind == 1)
                TASK_AWAIT(f, false);
        else if (f->kind == 2)
                for (;;)
                        TASK_YIELD(f);
        f->body_done = 1;
        atomic_fetch_add(f->finished, 1);
        TASK_CLEANUP(f);
        f->cleanup_thread = pthread_self();
        if (f->try_spawn_in_cleanup) {
                struct work c = {0};
                task_handle *h = NULL;
                f->spawn_rc_in_cleanup =
                    TASK_SPAWN(task_cx_runtime(cx), noop, &c, &h);
                if (f->spawn_rc_in_cleanup == 0)
                        task_handle_release(h);
        }
        atomic_fetch_add(f->cleanups, 1);
        TASK_END(f);
}

struct ctr {
        atomic_int started, finished, cleanups;
};

static struct work work_frame(struct ctr *c, int kind)
{
        struct work f = {.kind = kind,
                         .started = &c->started,
                         .finished = &c->finished,
                         .cleanups = &c->cleanups};
        return f;
}

/* ---- Idle tasks ------------------------------------------------------------------ */

Test(shutdown, idle_tasks_cancelled_on_calling_thread, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        enum { N = 200 };
        struct ctr c = {0};
        task_handle *hs[N];
        struct work f = work_frame(&c, 1);

        f.try_spawn_in_cleanup = true;
        for (int i = 0; i < N; i++)
                cr_assert_eq(TASK_SPAWN(rt, work, &f, &hs[i]), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&c.started) == N, 5000));
        sleep_ms(10);
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        cr_assert_eq(atomic_load(&c.cleanups), N, "cleanups: %d of %d",
                     atomic_load(&c.cleanups), N);
        cr_assert_eq(atomic_load(&c.finished), 0);
        for (int i = 0; i < N; i++) {
                struct work *r;
                cr_assert(task_handle_finished(hs[i]));
                cr_assert_eq(task_join_blocking(hs[i]), -ECANCELED);
                r = task_handle_frame(hs[i]);
                cr_assert(
                    pthread_equal(r->cleanup_thread, pthread_self()),
                    "an idle task's cleanup did not run on the shutdown caller");
                cr_assert_eq(r->spawn_rc_in_cleanup, -ESHUTDOWN,
                             "spawn from a cleanup during shutdown: %d",
                             r->spawn_rc_in_cleanup);
                task_handle_release(hs[i]);
        }
        test_rt_free(rt);
        cr_assert_eq(atomic_load(&c.cleanups), N, "cleanups ran again on free");
}

/* ---- Queued, never polled -------------------------------------------------------- */

struct holder {
        TASK_FRAME;
        atomic_int *holding, *release;
};

static int holder(struct task_cx *cx, void *arg)
{
        struct holder *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->holding, 1);
        while (!atomic_load(f->release))
                sched_yield();
        TASK_AWAIT(f, false);
        TASK_END(f);
}

struct release_later {
        atomic_int *release;
        long ms;
};

static void *release_later(void *p)
{
        struct release_later *r = p;
        sleep_ms(r->ms);
        atomic_store(r->release, 1);
        return NULL;
}

Test(shutdown, queued_and_running_tasks, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(1);
        enum { N = 1000 };
        struct ctr c = {0};
        atomic_int holding = 0, release = 0;
        struct holder hf = {.holding = &holding, .release = &release};
        struct release_later rl = {.release = &release, .ms = 100};
        task_handle *hh, *hs[N];
        pthread_t th;
        long ok = 0, cancelled = 0;

        /* The only worker is held inside a poll ("running"). */
        cr_assert_eq(TASK_SPAWN(rt, holder, &hf, &hh), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&holding), 5000));
        /* Half finish at once if polled, half suspend forever. */
        for (int i = 0; i < N; i++) {
                struct work f = work_frame(&c, i % 2);
                cr_assert_eq(TASK_SPAWN(rt, work, &f, &hs[i]), 0);
        }
        /* Shutdown must wait for the running poll to end. */
        cr_assert_eq(pthread_create(&th, NULL, release_later, &rl), 0);
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        pthread_join(th, NULL);
        cr_assert(atomic_load(&release),
                  "shutdown returned while a poll was still running");

        cr_assert_eq(
            task_join_blocking(hh), -ECANCELED,
            "the running task suspended forever and must have been cancelled");
        for (int i = 0; i < N; i++) {
                int rc = task_join_blocking(hs[i]);
                struct work *r = task_handle_frame(hs[i]);
                cr_assert(rc == 0 || rc == -ECANCELED);
                cr_assert_eq(r->body_done, rc == 0,
                             "task %d: rc %d, body_done %d", i, rc,
                             r->body_done);
                if (i % 2)
                        cr_assert_eq(rc, -ECANCELED, "task %d never finishes",
                                     i);
                if (rc == 0)
                        ok++;
                else
                        cancelled++;
                task_handle_release(hs[i]);
        }
        cr_assert_eq(atomic_load(&c.cleanups), N,
                     "every task's cleanup runs once");
        cr_assert_eq(atomic_load(&c.finished), ok);
        cr_assert_geq(cancelled, N / 2);
        cr_log_info("queued: %ld ran, %ld cancelled", ok, cancelled);
        task_handle_release(hh);
        test_rt_free(rt);
}

Test(shutdown, current_thread_queued_tasks, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        enum { N = 100 };
        struct ctr c = {0};
        task_handle *hs[N];
        struct work f = work_frame(&c, 0);

        for (int i = 0; i < N; i++)
                cr_assert_eq(TASK_SPAWN(rt, work, &f, &hs[i]), 0);
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        cr_assert_eq(atomic_load(&c.started), 0);
        cr_assert_eq(atomic_load(&c.cleanups), N);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_join_blocking(hs[i]), -ECANCELED);
                task_handle_release(hs[i]);
        }
        test_rt_free(rt);
}

/* ---- Busy tasks (always ready) ---------------------------------------------------- */

Test(shutdown, yielding_tasks_are_stopped, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        enum { N = 64 };
        struct ctr c = {0};
        struct work f = work_frame(&c, 2);

        for (int i = 0; i < N; i++)
                cr_assert_eq(TASK_SPAWN(rt, work, &f, NULL), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&c.started) == N, 5000));
        test_rt_free(rt);
        cr_assert_eq(atomic_load(&c.cleanups), N);
        cr_assert_eq(atomic_load(&c.finished), 0);
}

/* ---- After shutdown ---------------------------------------------------------------- */

Test(shutdown, spawn_and_block_on_after_shutdown_fail, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct ctr c = {0};
        struct work f = work_frame(&c, 0);
        task_handle *h = (task_handle *)0x1;
        int rc;

        cr_assert_eq(task_runtime_shutdown(rt), 0);
        cr_assert_eq(task_runtime_shutdown(rt), 0, "shutdown is idempotent");
        cr_assert_eq(TASK_SPAWN(rt, work, &f, &h), -ESHUTDOWN);
        cr_assert_eq(h, (task_handle *)0x1,
                     "*out was touched by a failed spawn");
        cr_assert_eq(TASK_SPAWN(rt, work, &f, NULL), -ESHUTDOWN);
        rc = task_block_on(rt, work, &f, sizeof f);
        /* The header lists -ESHUTDOWN for block_on, and -ECANCELED for "the
         * runtime was shut down first"; either way the task must not run. */
        cr_assert(rc == -ESHUTDOWN || rc == -ECANCELED,
                  "block_on after shutdown: %d", rc);
        cr_assert_eq(atomic_load(&c.started), 0);
        test_rt_free(rt);
}

Test(shutdown, current_thread_spawn_after_shutdown_fails, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct ctr c = {0};
        struct work f = work_frame(&c, 0);

        cr_assert_eq(task_runtime_shutdown(rt), 0);
        cr_assert_eq(TASK_SPAWN(rt, work, &f, NULL), -ESHUTDOWN);
        test_rt_free(rt);
}

/* block_on in progress when another thread shuts the runtime down. */
struct shut_arg {
        task_runtime *rt;
        atomic_int *started;
        int rc;
};

static void *shutdown_later(void *p)
{
        struct shut_arg *a = p;
        WAIT_UNTIL(atomic_load(a->started) > 0, 5000);
        sleep_ms(20);
        a->rc = task_runtime_shutdown(a->rt);
        return NULL;
}

Test(shutdown, block_on_interrupted_by_shutdown, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct ctr c = {0};
        struct work f = work_frame(&c, 1);
        struct shut_arg a = {.rt = rt, .started = &c.started, .rc = 1};
        pthread_t th;
        int rc;

        cr_assert_eq(pthread_create(&th, NULL, shutdown_later, &a), 0);
        rc = task_block_on(rt, work, &f, sizeof f);
        pthread_join(th, NULL);
        cr_assert_eq(a.rc, 0);
        cr_assert_eq(rc, -ECANCELED,
                     "block_on of a task cancelled by shutdown: %d", rc);
        cr_assert_eq(atomic_load(&c.cleanups), 1);
        test_rt_free(rt);
}

/* ---- -EBUSY while references are held --------------------------------------------- */

Test(shutdown, free_busy_while_handle_held, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct ctr c = {0};
        struct work f = work_frame(&c, 1);
        task_handle *h;
        int rc;

        cr_assert_eq(TASK_SPAWN(rt, work, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&c.started) == 1, 5000));
        rc = task_runtime_free(rt);
        cr_assert_eq(rc, -EBUSY, "free with a handle held: %d", rc);
        /* It was shut down anyway: the task is cancelled, the handle works. */
        cr_assert_eq(atomic_load(&c.cleanups), 1);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(TASK_SPAWN(rt, work, &f, NULL), -ESHUTDOWN);
        cr_assert_eq(task_runtime_free(rt), -EBUSY,
                     "second free with the handle still held");
        task_handle_release(h);
        cr_assert_eq(task_runtime_free(rt), 0);
        test_leak_check();
        cr_assert_eq(atomic_load(&c.cleanups), 1);
}

struct grab_waker {
        TASK_FRAME;
        task_waker *_Atomic *out;
        atomic_int *cleanups;
};

static int grab_waker(struct task_cx *cx, void *arg)
{
        struct grab_waker *f = arg;
        TASK_BEGIN(f);
        atomic_store(f->out, task_cx_waker(cx));
        TASK_AWAIT(f, false);
        TASK_CLEANUP(f);
        atomic_fetch_add(f->cleanups, 1);
        TASK_END(f);
}

Test(shutdown, free_busy_while_waker_held, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_waker *_Atomic w = NULL;
        atomic_int cleanups = 0;
        struct grab_waker f = {.out = &w, .cleanups = &cleanups};
        int rc;

        cr_assert_eq(TASK_SPAWN(rt, grab_waker, &f, NULL), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&w) != NULL, 5000));
        rc = task_runtime_free(rt);
        cr_assert_eq(rc, -EBUSY, "free with a waker held: %d", rc);
        cr_assert_eq(atomic_load(&cleanups), 1);
        /* Waking a task of a shut-down runtime does nothing harmful. */
        task_wake_by_ref(atomic_load(&w));
        task_wake(atomic_load(&w));
        cr_assert_eq(task_runtime_free(rt), 0);
        test_leak_check();
}

/* ---- Free straight away, with everything in flight --------------------------------- */

Test(shutdown, free_with_mixed_work_in_flight, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct ctr c = {0};

        for (int i = 0; i < 3000; i++) {
                struct work f = work_frame(&c, i % 3);
                cr_assert_eq(TASK_SPAWN(rt, work, &f, NULL), 0);
        }
        test_rt_free(rt);
        /* Every task either finished (its cleanup ran at the end) or was
         * cancelled (its cleanup ran at shutdown): exactly one cleanup each. */
        cr_assert_eq(atomic_load(&c.cleanups), 3000, "cleanups: %d",
                     atomic_load(&c.cleanups));
        cr_assert_leq(atomic_load(&c.finished), 1000);
}

Test(shutdown, free_unused_runtimes, .timeout = 10)
{
        for (int i = 0; i < 20; i++) {
                task_runtime *a = test_rt_new_mt(1 + i % 4);
                task_runtime *b = test_rt_new(TASK_CURRENT_THREAD, 0);
                if (i % 2)
                        cr_assert_eq(task_runtime_shutdown(a), 0);
                test_rt_free(a);
                test_rt_free(b);
        }
}

/* ---- From inside a worker ----------------------------------------------------------- */

struct inside {
        TASK_FRAME;
        int rc_shutdown, rc_free, rc_block_on;
};

static int inside(struct task_cx *cx, void *arg)
{
        struct inside *f = arg;
        struct work w = {0};
        TASK_BEGIN(f);
        f->rc_shutdown = task_runtime_shutdown(task_cx_runtime(cx));
        f->rc_free = task_runtime_free(task_cx_runtime(cx));
        f->rc_block_on = task_block_on(task_cx_runtime(cx), noop, &w, sizeof w);
        TASK_END(f);
}

Test(shutdown, blocking_calls_from_a_worker_are_edeadlk, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct inside f = {0};

        cr_assert_eq(task_block_on(rt, inside, &f, sizeof f), 0);
        cr_assert_eq(f.rc_shutdown, -EDEADLK, "shutdown from a worker: %d",
                     f.rc_shutdown);
        cr_assert_eq(f.rc_free, -EDEADLK, "free from a worker: %d", f.rc_free);
        cr_assert_eq(f.rc_block_on, -EDEADLK, "block_on from a worker: %d",
                     f.rc_block_on);
        /* The runtime still works. */
        cr_assert_eq(task_block_on(rt, inside, &f, sizeof f), 0);
        test_rt_free(rt);
}

/* ---- Thread hooks around shutdown ----------------------------------------------------- */

static atomic_int hook_starts, hook_stops;

static void on_start(void *arg)
{
        (void)arg;
        atomic_fetch_add(&hook_starts, 1);
}

static void on_stop(void *arg)
{
        (void)arg;
        atomic_fetch_add(&hook_stops, 1);
}

Test(shutdown, thread_stop_hooks_run_by_shutdown, .timeout = 10)
{
        struct task_runtime_opts o;
        task_runtime *rt;

        task_runtime_opts_init(&o);
        o.workers = 3;
        o.on_thread_start = on_start;
        o.on_thread_stop = on_stop;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&hook_starts) == 3, 5000));
        cr_assert_eq(atomic_load(&hook_stops), 0);
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        cr_assert_eq(atomic_load(&hook_stops), 3,
                     "workers were not stopped and joined");
        test_rt_free(rt);
        cr_assert_eq(atomic_load(&hook_starts), 3);
        cr_assert_eq(atomic_load(&hook_stops), 3);
}

/* ---- Racing shutdown ------------------------------------------------------------------ */

struct join_arg {
        task_handle *h;
        int rc;
};

static void *join_thread(void *p)
{
        struct join_arg *a = p;
        a->rc = task_join_blocking(a->h);
        return NULL;
}

Test(shutdown, blocked_joiner_released_by_shutdown, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct ctr c = {0};
        struct work f = work_frame(&c, 1);
        struct join_arg a = {.rc = 1};
        pthread_t th;

        cr_assert_eq(TASK_SPAWN(rt, work, &f, &a.h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&c.started) == 1, 5000));
        cr_assert_eq(pthread_create(&th, NULL, join_thread, &a), 0);
        sleep_ms(20); /* the thread is blocked in the join */
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        pthread_join(th, NULL);
        cr_assert_eq(a.rc, -ECANCELED, "a join blocked across shutdown: %d",
                     a.rc);
        task_handle_release(a.h);
        test_rt_free(rt);
}

struct spawn_race_arg {
        task_runtime *rt;
        struct ctr *c;
        atomic_int *go;
        long ok, shut, other;
};

static void *spawn_race_thread(void *p)
{
        struct spawn_race_arg *a = p;
        long i = 0;

        while (!atomic_load(a->go))
                sched_yield();
        for (;; i++) {
                struct work f = work_frame(a->c, (int)(i % 3));
                int rc = TASK_SPAWN(a->rt, work, &f, NULL);
                if (rc == 0) {
                        a->ok++;
                } else if (rc == -ESHUTDOWN) {
                        /* Once refused, always refused. */
                        if (++a->shut >= 100)
                                break;
                } else {
                        a->other++;
                        break;
                }
                if (a->shut && rc == 0)
                        a->other++; /* accepted after a refusal */
        }
        return NULL;
}

Test(shutdown, spawns_racing_shutdown_are_all_accounted_for, .timeout = 30)
{
        int rounds = (int)test_scaled(50, 10);

        for (int r = 0; r < rounds; r++) {
                task_runtime *rt = test_rt_new_mt(2);
                struct ctr c = {0};
                atomic_int go = 0;
                struct spawn_race_arg a[3];
                pthread_t th[3];
                long ok = 0;

                for (int i = 0; i < 3; i++) {
                        a[i] = (struct spawn_race_arg){
                            .rt = rt, .c = &c, .go = &go};
                        cr_assert_eq(pthread_create(&th[i], NULL,
                                                    spawn_race_thread, &a[i]),
                                     0);
                }
                atomic_store(&go, 1);
                sleep_ms(1 + r % 5);
                cr_assert_eq(task_runtime_shutdown(rt), 0);
                for (int i = 0; i < 3; i++) {
                        pthread_join(th[i], NULL);
                        cr_assert_eq(a[i].other, 0, "unexpected spawn results");
                        ok += a[i].ok;
                }
                /* Every accepted spawn ran its cleanup: finished or cancelled. */
                cr_assert_eq(atomic_load(&c.cleanups), ok,
                             "round %d: %d cleanups for %ld spawns", r,
                             atomic_load(&c.cleanups), ok);
                test_rt_free(rt);
                cr_assert_eq(atomic_load(&c.cleanups), ok);
        }
}

struct wake_race_arg {
        task_waker *w;
        atomic_int *stop;
};

static void *wake_race_thread(void *p)
{
        struct wake_race_arg *a = p;
        while (!atomic_load(a->stop))
                task_wake_by_ref(a->w);
        return NULL;
}

Test(shutdown, wakes_racing_shutdown, .timeout = 30)
{
        int rounds = (int)test_scaled(100, 10);

        for (int r = 0; r < rounds; r++) {
                task_runtime *rt = test_rt_new_mt(2);
                task_waker *_Atomic w = NULL;
                atomic_int cleanups = 0, stop = 0;
                struct grab_waker f = {.out = &w, .cleanups = &cleanups};
                struct wake_race_arg a = {.stop = &stop};
                pthread_t th[2];

                cr_assert_eq(TASK_SPAWN(rt, grab_waker, &f, NULL), 0);
                cr_assert(WAIT_UNTIL(atomic_load(&w) != NULL, 5000));
                a.w = atomic_load(&w);
                for (int i = 0; i < 2; i++)
                        cr_assert_eq(
                            pthread_create(&th[i], NULL, wake_race_thread, &a),
                            0);
                sleep_ms(r % 3);
                cr_assert_eq(task_runtime_shutdown(rt), 0);
                atomic_store(&stop, 1);
                for (int i = 0; i < 2; i++)
                        pthread_join(th[i], NULL);
                cr_assert_eq(atomic_load(&cleanups), 1);
                task_waker_drop(a.w);
                test_rt_free(rt);
        }
}
