/*
 * test_barrier.c - the reusable barrier: nobody passes before n have
 * arrived, exactly one leader per generation, reuse for later generations,
 * n == 1, cancellation (an aborted or select-losing waiter withdraws its
 * arrival; one aborted after its generation completed undoes nothing),
 * blocking waits from threads mixed with tasks, destroy, bad input, a
 * stress with stealing, and the current-thread flavor.
 *
 * "Is task T waiting" is read from T's own wait node (wait_queued(),
 * helpers.h, on the operation in its frame): queued, not yet released.
 */
#include "helpers.h"

/* ---- A task that waits once ---------------------------------------------- */

struct party {
        TASK_FRAME;
        struct task_barrier *b;
        struct task_barrier_wait op;
        bool leader;
        int rc;
};

static int party_fn(struct task_cx *cx, void *arg)
{
        struct party *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        TASK_BARRIER_WAIT(f, f->b, &f->op, &f->leader, &f->rc);
        TASK_END(f);
}

static task_handle *spawn_party(task_runtime *rt, struct task_barrier *b)
{
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, party_fn, (&(struct party){.b = b}), &h),
                     0);
        return h;
}

static struct party *party_of(task_handle *h)
{
        return task_handle_frame(h);
}

static bool p_queued(task_handle *h)
{
        return wait_queued(&party_of(h)->op.w);
}

static task_handle *spawn_waiting(task_runtime *rt, struct task_barrier *b)
{
        task_handle *h = spawn_party(rt, b);
        cr_assert(WAIT_UNTIL(p_queued(h), 5000), "the party never waited");
        return h;
}

/* Join a party that must have passed; returns whether it led. */
static bool join_passed(task_handle *h)
{
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(party_of(h)->rc, 0);
        return party_of(h)->leader;
}

/* A ct_run_until() condition (helpers.h). */
static bool h_queued(void *h)
{
        return p_queued(h);
}

/* ---- One generation ------------------------------------------------------------ */

Test(barrier, nobody_passes_before_n_arrive_and_the_last_leads, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_barrier b;
        enum { N = 5 };
        task_handle *h[N];
        int leaders = 0;

        cr_assert_eq(task_barrier_init(&b, N), 0);
        for (int i = 0; i < N - 1; i++)
                h[i] = spawn_waiting(rt, &b);
        for (int i = 0; i < N - 1; i++)
                cr_assert_not(task_handle_finished(h[i]));
        cr_assert_eq(task_barrier_destroy(&b), -EBUSY);
        h[N - 1] = spawn_party(rt, &b);
        for (int i = 0; i < N; i++) {
                leaders += join_passed(h[i]);
                task_handle_release(h[i]);
        }
        cr_assert_eq(leaders, 1);
        cr_assert_eq(task_barrier_destroy(&b), 0);
        test_rt_free(rt);
}

Test(barrier, one_party_barrier_leads_at_once, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_barrier b;
        bool leader = false;

        cr_assert_eq(task_barrier_init(&b, 1), 0);
        for (int i = 0; i < 3; i++) {
                task_handle *h = spawn_party(rt, &b);
                cr_assert(join_passed(h));
                task_handle_release(h);
        }
        cr_assert_eq(task_barrier_wait_blocking(&b, &leader), 0);
        cr_assert(leader);
        cr_assert_eq(task_barrier_destroy(&b), 0);
        test_rt_free(rt);
}

/* ---- Generations ------------------------------------------------------------------ */

#define GENS 200

struct gens {
        struct task_barrier b;
        int n;
        atomic_int arrived[GENS];
        atomic_int leaders[GENS];
        int gens;
};

struct looper {
        TASK_FRAME;
        struct gens *g;
        struct task_barrier_wait op;
        int i;
        bool leader;
        int rc;
};

static int looper_fn(struct task_cx *cx, void *arg)
{
        struct looper *f = arg;
        struct gens *g = f->g;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->g->gens; f->i++) {
                atomic_fetch_add(&g->arrived[f->i % GENS], 1);
                TASK_BARRIER_WAIT(f, &f->g->b, &f->op, &f->leader, &f->rc);
                TCHECK(f->rc == 0);
                /* Everyone of this generation arrived before anyone left,
                 * and nobody can be GENS generations ahead to reuse the
                 * slot: exactly n arrivals per use of it so far. */
                TCHECK(atomic_load(&g->arrived[f->i % GENS]) ==
                       g->n * (f->i / GENS + 1));
                if (f->leader)
                        atomic_fetch_add(&g->leaders[f->i % GENS], 1);
                if (f->i % 5 == 0)
                        TASK_YIELD(f);
        }
        TASK_END(f);
}

Test(barrier, reusable_with_one_leader_per_generation, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        static struct gens g;
        enum { N = 7 };
        task_handle *h[N];

        g.n = N;
        g.gens = GENS;
        cr_assert_eq(task_barrier_init(&g.b, N), 0);
        for (int i = 0; i < N; i++)
                cr_assert_eq(TASK_SPAWN(rt, looper_fn,
                                        (&(struct looper){.g = &g}), &h[i]),
                             0);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        tcheck_assert_none();
        for (int k = 0; k < GENS; k++) {
                cr_assert_eq(atomic_load(&g.arrived[k]), N);
                cr_assert_eq(atomic_load(&g.leaders[k]), 1,
                             "generation %d had %d leaders", k,
                             atomic_load(&g.leaders[k]));
        }
        cr_assert_eq(task_barrier_destroy(&g.b), 0);
        test_rt_free(rt);
}

/*
 * More tasks than parties, and n above one wake batch (32): a leader drops
 * the lock between batches of wake-ups, and meanwhile other tasks can fill
 * and complete the next generation, whose leader must still release its
 * own parties behind the old generation's.  The tasks loop until the test
 * has seen enough generations, then are aborted (a fixed number of waits
 * per task could strand the last ones short of a full generation).
 */
struct crowd {
        struct task_barrier b;
        atomic_long leaders;
        atomic_long passed;
};

struct member {
        TASK_FRAME;
        struct crowd *c;
        struct task_barrier_wait op;
        bool leader;
};

static int member_fn(struct task_cx *cx, void *arg)
{
        struct member *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_BARRIER_WAIT(f, &f->c->b, &f->op, &f->leader, NULL);
                atomic_fetch_add(&f->c->passed, 1);
                if (f->leader)
                        atomic_fetch_add(&f->c->leaders, 1);
        }
        TASK_END(f);
}

Test(barrier, more_tasks_than_parties_across_wake_batches, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(2);
        static struct crowd c;
        enum { N = 40, TASKS = 3 * N };
        task_handle *h[TASKS];
        long target = test_scaled(5000, 200);

        cr_assert_eq(task_barrier_init(&c.b, N), 0);
        for (int i = 0; i < TASKS; i++)
                cr_assert_eq(TASK_SPAWN(rt, member_fn,
                                        (&(struct member){.c = &c}), &h[i]),
                             0);
        cr_assert(WAIT_UNTIL(atomic_load(&c.leaders) >= target, 50000),
                  "stuck after %ld generations", atomic_load(&c.leaders));
        for (int i = 0; i < TASKS; i++)
                task_abort(h[i]);
        for (int i = 0; i < TASKS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), -ECANCELED);
                task_handle_release(h[i]);
        }
        /* A party released but aborted before it ran is not counted
         * (fewer than TASKS of them). */
        cr_assert_leq(atomic_load(&c.passed), atomic_load(&c.leaders) * N);
        cr_assert_gt(atomic_load(&c.passed),
                     atomic_load(&c.leaders) * N - TASKS);
        cr_assert_eq(task_barrier_destroy(&c.b), 0, "aborted parties stayed");
        test_rt_free(rt);
}

/* ---- Cancellation ------------------------------------------------------------------ */

Test(barrier, aborted_waiter_withdraws_its_arrival, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_barrier b;

        cr_assert_eq(task_barrier_init(&b, 3), 0);
        task_handle *a = spawn_waiting(rt, &b);
        task_handle *x = spawn_waiting(rt, &b);
        task_abort(x);
        cr_assert_eq(task_join_blocking(x), -ECANCELED);
        cr_assert_eq(party_of(x)->rc, 1);

        /* Two arrivals count now: a third does not complete it. */
        task_handle *c = spawn_waiting(rt, &b);
        cr_assert(p_queued(a));
        cr_assert_not(task_handle_finished(c), "x still counted");
        task_handle *d = spawn_party(rt, &b);
        int leaders = join_passed(a) + join_passed(c) + join_passed(d);
        cr_assert_eq(leaders, 1);
        cr_assert(party_of(d)->leader, "the last to arrive leads");
        cr_assert_eq(task_barrier_destroy(&b), 0);
        task_handle_release(a);
        task_handle_release(x);
        task_handle_release(c);
        task_handle_release(d);
        test_rt_free(rt);
}

Test(barrier, aborted_after_release_undoes_nothing, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct task_barrier b;
        bool leader = false;

        cr_assert_eq(task_barrier_init(&b, 2), 0);
        task_handle *a = spawn_party(rt, &b);
        ct_run_until(rt, h_queued, a);
        /* The test thread completes the generation; a is released but has
         * not run when it is aborted. */
        cr_assert_eq(task_barrier_wait_blocking(&b, &leader), 0);
        cr_assert(leader);
        task_abort(a);
        ct_run_until(rt, h_finished, a);
        cr_assert_eq(task_join_blocking(a), -ECANCELED);

        /* The next generation needs 2 fresh arrivals. */
        task_handle *c = spawn_party(rt, &b);
        ct_run_until(rt, h_queued, c);
        task_handle *d = spawn_party(rt, &b);
        ct_run_until(rt, h_finished, c);
        ct_run_until(rt, h_finished, d);
        cr_assert_eq(join_passed(c) + join_passed(d), 1);
        cr_assert_eq(task_barrier_destroy(&b), 0);
        task_handle_release(a);
        task_handle_release(c);
        task_handle_release(d);
        test_rt_free(rt);
}

/* Select between the barrier and a gate, `tries` times, then just wait. */
struct sel {
        TASK_FRAME;
        struct gate *g;
        struct task_barrier *b;
        struct task_barrier_wait op;
        struct task_select sel;
        atomic_int lost; /* read by the test thread */
        bool leader;
        int rc;
};

static int sel_fn(struct task_cx *cx, void *arg)
{
        struct sel *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        TASK_SELECT(
            f, &f->sel, gate_poll(cx, f->g),
            task_barrier_wait_poll(cx, f->b, &f->op, &f->leader, &f->rc));
        if (f->sel.which == 0) {
                atomic_fetch_add(&f->lost, 1);
                TASK_BARRIER_WAIT(f, f->b, &f->op, &f->leader, &f->rc);
        }
        TASK_END(f);
}

static bool sel_waiting(void *h)
{
        struct sel *f = task_handle_frame(h);
        return wait_queued(&f->op.w) && gate_has_waiter(f->g);
}

Test(barrier, select_loser_withdraws_and_a_retry_counts_once, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_barrier b;
        struct gate g;
        task_handle *h;

        gate_init(&g);
        cr_assert_eq(task_barrier_init(&b, 3), 0);
        cr_assert_eq(
            TASK_SPAWN(rt, sel_fn, (&(struct sel){.g = &g, .b = &b}), &h), 0);
        cr_assert(WAIT_UNTIL(sel_waiting(h), 5000));
        gate_open(&g); /* the select loses the barrier, then waits again */
        cr_assert(WAIT_UNTIL(
            atomic_load(&((struct sel *)task_handle_frame(h))->lost) == 1 &&
                wait_queued(&((struct sel *)task_handle_frame(h))->op.w),
            5000));
        /* Counted once: one more party is not enough, two are. */
        task_handle *a = spawn_waiting(rt, &b);
        cr_assert_not(task_handle_finished(h));
        task_handle *c = spawn_party(rt, &b);
        cr_assert_eq(task_join_blocking(h), 0);
        struct sel *f = task_handle_frame(h);
        cr_assert_eq(f->rc, 0);
        int leaders = f->leader + join_passed(a) + join_passed(c);
        cr_assert_eq(leaders, 1);
        cr_assert_eq(task_barrier_destroy(&b), 0);
        task_handle_release(h);
        task_handle_release(a);
        task_handle_release(c);
        gate_destroy(&g);
        test_rt_free(rt);
}

/* ---- Threads ---------------------------------------------------------------------- */

struct tparty {
        struct task_barrier *b;
        int rc;
        bool leader;
};

static void *tparty_main(void *arg)
{
        struct tparty *t = arg;
        t->rc = task_barrier_wait_blocking(t->b, &t->leader);
        return NULL;
}

Test(barrier, threads_and_tasks_meet, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_barrier b;
        enum { T = 3 };
        pthread_t th[T];
        struct tparty tp[T];

        cr_assert_eq(task_barrier_init(&b, T + 2), 0);
        for (int i = 0; i < T; i++) {
                tp[i] = (struct tparty){.b = &b, .rc = 1};
                cr_assert_eq(pthread_create(&th[i], NULL, tparty_main, &tp[i]),
                             0);
        }
        task_handle *a = spawn_party(rt, &b);
        task_handle *c = spawn_party(rt, &b);
        int leaders = join_passed(a) + join_passed(c);
        for (int i = 0; i < T; i++) {
                cr_assert_eq(pthread_join(th[i], NULL), 0);
                cr_assert_eq(tp[i].rc, 0);
                leaders += tp[i].leader;
        }
        cr_assert_eq(leaders, 1);
        cr_assert_eq(task_barrier_destroy(&b), 0);
        task_handle_release(a);
        task_handle_release(c);
        test_rt_free(rt);
}

struct deadlk {
        TASK_FRAME;
        struct task_barrier *b;
        int rc;
};

static int deadlk_fn(struct task_cx *cx, void *arg)
{
        struct deadlk *f = arg;

        TASK_BEGIN(f);
        f->rc = task_barrier_wait_blocking(f->b, NULL);
        TASK_END(f);
}

Test(barrier, blocking_wait_from_a_task_is_edeadlk_and_not_counted,
     .timeout = 10)
{
        struct task_barrier b;
        bool leader = false;

        cr_assert_eq(task_barrier_init(&b, 2), 0);
        for (enum task_flavor fl = TASK_MULTI_THREAD; fl <= TASK_CURRENT_THREAD;
             fl++) {
                task_runtime *rt = test_rt_new_flavor(fl);
                struct deadlk f = {.b = &b};
                cr_assert_eq(task_block_on(rt, deadlk_fn, &f, sizeof f), 0);
                cr_assert_eq(f.rc, -EDEADLK);
                test_rt_free(rt);
        }
        /* The refused calls were not counted: the generation still needs
         * two arrivals. */
        struct tparty tp = {.b = &b, .rc = 1};
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, tparty_main, &tp), 0);
        cr_assert(WAIT_UNTIL(task_barrier_destroy(&b) == -EBUSY, 5000));
        cr_assert_eq(task_barrier_wait_blocking(&b, &leader), 0);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(tp.rc, 0);
        cr_assert(leader != tp.leader);
        cr_assert_eq(task_barrier_destroy(&b), 0);
}

/* ---- destroy and bad input ---------------------------------------------------------- */

struct badpoll {
        TASK_FRAME;
        struct task_barrier *b;
        struct task_barrier_wait op;
        int rc[3];
        bool ready[3];
        bool leader;
};

static int badpoll_fn(struct task_cx *cx, void *arg)
{
        struct badpoll *f = arg;

        TASK_BEGIN(f);
        f->ready[0] =
            task_barrier_wait_poll(cx, NULL, &f->op, &f->leader, &f->rc[0]);
        f->ready[1] =
            task_barrier_wait_poll(cx, f->b, NULL, &f->leader, &f->rc[1]);
        /* NULL is_leader and rc are allowed (1 party: passes at once). */
        f->ready[2] = task_barrier_wait_poll(cx, f->b, &f->op, NULL, NULL);
        TASK_END(f);
}

Test(barrier, bad_input_is_einval, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_barrier b;
        struct task_barrier_wait op = {0};
        int rc = 0;

        cr_assert_eq(task_barrier_init(NULL, 2), -EINVAL);
        cr_assert_eq(task_barrier_init(&b, 0), -EINVAL);
        cr_assert_eq(task_barrier_init(&b, 1), 0);
        cr_assert_eq(task_barrier_destroy(NULL), -EINVAL);
        cr_assert_eq(task_barrier_wait_blocking(NULL, NULL), -EINVAL);
        cr_assert(task_barrier_wait_poll(NULL, &b, &op, NULL, &rc));
        cr_assert_eq(rc, -EINVAL);

        struct badpoll f = {.b = &b};
        cr_assert_eq(task_block_on(rt, badpoll_fn, &f, sizeof f), 0);
        for (int i = 0; i < 2; i++) {
                cr_assert(f.ready[i]);
                cr_assert_eq(f.rc[i], -EINVAL);
        }
        cr_assert(f.ready[2]);
        cr_assert_eq(task_barrier_wait_blocking(&b, NULL), 0);
        cr_assert_eq(task_barrier_destroy(&b), 0);
        test_rt_free(rt);
}

/* ---- Stress with stealing ------------------------------------------------------------ */

struct tgens {
        struct gens *g;
};

static void *tgens_main(void *arg)
{
        struct gens *g = ((struct tgens *)arg)->g;
        bool leader;
        for (int i = 0; i < g->gens; i++) {
                atomic_fetch_add(&g->arrived[i % GENS], 1);
                TCHECK(task_barrier_wait_blocking(&g->b, &leader) == 0);
                TCHECK(atomic_load(&g->arrived[i % GENS]) ==
                       g->n * (i / GENS + 1));
                if (leader)
                        atomic_fetch_add(&g->leaders[i % GENS], 1);
        }
        return NULL;
}

Test(barrier, stress_generations_with_stealing, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        static struct gens g;
        enum { N = 64 };
        task_handle *h[N - 1];
        pthread_t th;
        struct tgens t = {.g = &g};
        long total_leaders = 0;

        g.n = N;
        g.gens = (int)test_scaled(1000000, 20000) / N;
        cr_assert_eq(task_barrier_init(&g.b, N), 0);
        for (int i = 0; i < N - 1; i++)
                cr_assert_eq(TASK_SPAWN(rt, looper_fn,
                                        (&(struct looper){.g = &g}), &h[i]),
                             0);
        cr_assert_eq(pthread_create(&th, NULL, tgens_main, &t), 0);
        for (int i = 0; i < N - 1; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        cr_assert_eq(pthread_join(th, NULL), 0);
        tcheck_assert_none();
        for (int k = 0; k < GENS; k++)
                total_leaders += atomic_load(&g.leaders[k]);
        cr_assert_eq(total_leaders, g.gens);
        cr_assert_eq(task_barrier_destroy(&g.b), 0);
        cr_log_info("barrier stress: %d generations of %d", g.gens, N);
        test_rt_free(rt);
}

/* ---- The current-thread flavor -------------------------------------------------------- */

struct ct_main {
        TASK_FRAME;
        struct gens *g;
        task_handle *h[6];
        int i;
        int rc;
};

static int ct_main_fn(struct task_cx *cx, void *arg)
{
        struct ct_main *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < 6; f->i++) {
                f->h[f->i] = NULL; /* a failed spawn leaves it untouched */
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), looper_fn,
                                  (&(struct looper){.g = f->g}),
                                  &f->h[f->i]) == 0);
        }
        for (f->i = 0; f->i < 6; f->i++) {
                if (!f->h[f->i])
                        continue; /* its failure is recorded */
                TASK_JOIN(f, f->h[f->i], &f->rc);
                TCHECK(f->rc == 0);
                task_handle_release(f->h[f->i]);
        }
        TASK_END(f);
}

Test(barrier, current_thread_flavor, .timeout = 30)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        static struct gens g;
        struct ct_main f = {.g = &g};

        g.n = 6;
        g.gens = GENS;
        cr_assert_eq(task_barrier_init(&g.b, 6), 0);
        cr_assert_eq(task_block_on(rt, ct_main_fn, &f, sizeof f), 0);
        tcheck_assert_none();
        for (int k = 0; k < GENS; k++)
                cr_assert_eq(atomic_load(&g.leaders[k]), 1);
        cr_assert_eq(task_barrier_destroy(&g.b), 0);
        test_rt_free(rt);
}
