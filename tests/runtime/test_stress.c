/*
 * test_stress.c - millions of tasks with heavy stealing.
 *
 * Every task has an index and bumps its own counter exactly once; at the end
 * every counter must be exactly 1, the runtime's counters must agree, and
 * work must have been stolen.  Sizes scale with $LIBTASK_TEST_SCALE (and are
 * reduced automatically under ASan and TSan, see helpers.h); at scale 1 the
 * whole file takes a few seconds on two cores.
 *
 * Shapes:
 *  - a spawn tree: root -> 64 spawners -> batches of 128 leaves, each batch
 *    followed by a yield (so the spawner's local queue fills without
 *    overflowing and idle workers must steal), every 8th leaf spawning one
 *    more task;
 *  - the same tree with join handles and TASK_JOIN at every level;
 *  - ping-pong pairs passing a token through wakers across workers;
 *  - remote spawns from several foreign threads at once.
 */
#include "helpers.h"

/* ---- Per-task "ran exactly once" accounting ------------------------------- */

struct ledger {
        atomic_uchar *ran; /* one counter per task index */
        long n;
        atomic_long done;
        atomic_long dups;
};

static void ledger_init(struct ledger *l, long n)
{
        l->ran = calloc((size_t)n, sizeof *l->ran);
        cr_assert_not_null(l->ran);
        l->n = n;
        atomic_init(&l->done, 0);
        atomic_init(&l->dups, 0);
}

static void ledger_mark(struct ledger *l, long idx)
{
        if (idx < 0 || idx >= l->n) {
                TCHECK(idx >= 0 && idx < l->n);
                return;
        }
        if (atomic_fetch_add_explicit(&l->ran[idx], 1, memory_order_relaxed) !=
            0)
                atomic_fetch_add(&l->dups, 1);
        atomic_fetch_add_explicit(&l->done, 1, memory_order_release);
}

static void ledger_check(struct ledger *l)
{
        long missing = 0, first_bad = -1;

        cr_assert_eq(atomic_load(&l->dups), 0, "%ld tasks ran more than once",
                     atomic_load(&l->dups));
        for (long i = 0; i < l->n; i++) {
                if (atomic_load_explicit(&l->ran[i], memory_order_relaxed) !=
                    1) {
                        missing++;
                        if (first_bad < 0)
                                first_bad = i;
                }
        }
        cr_assert_eq(missing, 0,
                     "%ld tasks did not run exactly once (first: %ld)", missing,
                     first_bad);
        free(l->ran);
}

static void wait_ledger(struct ledger *l, long timeout_ms)
{
        bool ok = WAIT_UNTIL(
            atomic_load_explicit(&l->done, memory_order_acquire) >= l->n,
            timeout_ms);
        cr_assert(ok, "only %ld of %ld tasks ran", atomic_load(&l->done), l->n);
}

/* ---- The spawn tree --------------------------------------------------------- */

enum { SPAWNERS = 64, BATCH = 128, EXTRA_EVERY = 8 };

struct tree_shape {
        struct ledger *l;
        long leaves_per_spawner;
        long leaves; /* SPAWNERS * leaves_per_spawner */
        long extras; /* leaves / EXTRA_EVERY */
        /* Indices: 0 root, 1..SPAWNERS spawners, then leaves, then extras. */
};

static long shape_total(const struct tree_shape *s)
{
        return 1 + SPAWNERS + s->leaves + s->extras;
}

struct leaf {
        TASK_FRAME;
        const struct tree_shape *s;
        long idx; /* leaf number, 0..leaves-1, or extra number + leaves */
};

static int leaf(struct task_cx *cx, void *arg)
{
        struct leaf *f = arg;
        TASK_BEGIN(f);
        if (f->idx < f->s->leaves && f->idx % EXTRA_EVERY == 0) {
                struct leaf c = {.s = f->s,
                                 .idx = f->s->leaves + f->idx / EXTRA_EVERY};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), leaf, &c, NULL) == 0);
        }
        ledger_mark(f->s->l, 1 + SPAWNERS + f->idx);
        TASK_END(f);
}

struct spawner {
        TASK_FRAME;
        const struct tree_shape *s;
        long which;
        long next;
};

static int spawner(struct task_cx *cx, void *arg)
{
        struct spawner *f = arg;
        TASK_BEGIN(f);
        for (f->next = 0; f->next < f->s->leaves_per_spawner;) {
                for (int b = 0; b < BATCH && f->next < f->s->leaves_per_spawner;
                     b++, f->next++) {
                        struct leaf c = {
                            .s = f->s,
                            .idx =
                                f->which * f->s->leaves_per_spawner + f->next};
                        int rc =
                            TASK_SPAWN(task_cx_runtime(cx), leaf, &c, NULL);
                        TCHECK(rc == 0);
                }
                TASK_YIELD(f);
        }
        ledger_mark(f->s->l, 1 + f->which);
        TASK_END(f);
}

struct root {
        TASK_FRAME;
        const struct tree_shape *s;
};

static int root(struct task_cx *cx, void *arg)
{
        struct root *f = arg;
        TASK_BEGIN(f);
        for (long i = 0; i < SPAWNERS; i++) {
                struct spawner c = {.s = f->s, .which = i};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), spawner, &c, NULL) == 0);
        }
        ledger_mark(f->s->l, 0);
        TASK_END(f);
}

static void run_tree(unsigned workers, long total_leaves)
{
        task_runtime *rt = test_rt_new_mt(workers);
        struct ledger l;
        struct tree_shape s;
        struct root r;
        struct task_runtime_metrics m0, m;
        uint64_t sum_polls = 0, sum_steals = 0;
        uint64_t t0 = now_ns();

        s.l = &l;
        s.leaves_per_spawner = total_leaves / SPAWNERS;
        if (s.leaves_per_spawner < 1)
                s.leaves_per_spawner = 1;
        s.leaves = SPAWNERS * s.leaves_per_spawner;
        s.extras = (s.leaves + EXTRA_EVERY - 1) / EXTRA_EVERY;
        ledger_init(&l, shape_total(&s));
        r = (struct root){.s = &s};

        cr_assert_eq(task_runtime_metrics(rt, &m0), 0);
        cr_assert_eq(TASK_SPAWN(rt, root, &r, NULL), 0);
        wait_ledger(&l, 100000);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 10000),
                  "tasks_alive stays %llu",
                  (unsigned long long)test_tasks_alive(rt));
        tcheck_assert_none();
        ledger_check(&l);

        cr_assert_eq(task_runtime_metrics(rt, &m), 0);
        cr_assert_eq(m.tasks_spawned - m0.tasks_spawned,
                     (uint64_t)shape_total(&s),
                     "tasks_spawned %llu, expected %ld",
                     (unsigned long long)(m.tasks_spawned - m0.tasks_spawned),
                     shape_total(&s));
        cr_assert_geq(m.polls, (uint64_t)shape_total(&s));
        cr_assert_gt(m.steal_ops, 0, "no steals with %u workers and %ld tasks",
                     workers, shape_total(&s));
        cr_assert_geq(m.steal_tasks, m.steal_ops);
        for (unsigned i = 0; i < workers; i++) {
                struct task_worker_metrics wm;
                cr_assert_eq(task_worker_metrics(rt, i, &wm), 0);
                sum_polls += wm.polls;
                sum_steals += wm.steal_ops;
        }
        cr_assert_eq(sum_polls, m.polls, "per-worker polls do not add up");
        cr_assert_eq(sum_steals, m.steal_ops,
                     "per-worker steals do not add up");
        cr_log_info(
            "tree: %ld tasks on %u workers in %.2f s; steals %llu ops, %llu tasks; "
            "overflows %llu; parks %llu",
            shape_total(&s), workers, (double)(now_ns() - t0) / 1e9,
            (unsigned long long)m.steal_ops, (unsigned long long)m.steal_tasks,
            (unsigned long long)m.overflows, (unsigned long long)m.parks);
        test_rt_free(rt);
}

Test(stress, spawn_tree_4_workers, .timeout = 120)
{
        run_tree(4, test_scaled(4L * 1000 * 1000, 64 * 16));
}

Test(stress, spawn_tree_2_workers, .timeout = 120)
{
        run_tree(2, test_scaled(2L * 1000 * 1000, 64 * 16));
}

/* ---- The same tree with join handles ---------------------------------------- */

struct jleaf {
        TASK_FRAME;
        struct ledger *l;
        long idx;
        long out;
};

static int jleaf(struct task_cx *cx, void *arg)
{
        struct jleaf *f = arg;
        TASK_BEGIN(f);
        if (f->idx % 3 == 0)
                TASK_YIELD(f);
        f->out = f->idx * 3;
        ledger_mark(f->l, f->idx);
        TASK_END(f);
}

struct jspawner {
        TASK_FRAME;
        struct ledger *l;
        long base, n;
        long i, j;
        task_handle **hs; /* owned; freed by the cleanup */
        int rc;
        long bad;
};

static int jspawner(struct task_cx *cx, void *arg)
{
        struct jspawner *f = arg;
        TASK_BEGIN(f);
        f->hs = calloc((size_t)BATCH, sizeof *f->hs);
        TCHECK(f->hs != NULL);
        for (f->i = 0; f->i < f->n; f->i += BATCH) {
                for (f->j = 0; f->j < BATCH && f->i + f->j < f->n; f->j++) {
                        struct jleaf c = {.l = f->l,
                                          .idx = f->base + f->i + f->j};
                        TCHECK(TASK_SPAWN(task_cx_runtime(cx), jleaf, &c,
                                          &f->hs[f->j]) == 0);
                }
                for (f->j = 0; f->j < BATCH && f->i + f->j < f->n; f->j++) {
                        TASK_JOIN(f, f->hs[f->j], &f->rc);
                        if (f->rc != 0 ||
                            ((struct jleaf *)task_handle_frame(f->hs[f->j]))
                                    ->out != (f->base + f->i + f->j) * 3)
                                f->bad++;
                        task_handle_release(f->hs[f->j]);
                        f->hs[f->j] = NULL;
                }
        }
        TASK_CLEANUP(f);
        free(f->hs);
        f->hs = NULL;
        TASK_END(f);
}

struct jroot {
        TASK_FRAME;
        struct ledger *l;
        long per;
        long i;
        int rc;
        long bad;
        task_handle *hs[SPAWNERS];
};

static int jroot(struct task_cx *cx, void *arg)
{
        struct jroot *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < SPAWNERS; f->i++) {
                struct jspawner c = {
                    .l = f->l, .base = f->i * f->per, .n = f->per};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), jspawner, &c,
                                  &f->hs[f->i]) == 0);
        }
        for (f->i = 0; f->i < SPAWNERS; f->i++) {
                TASK_JOIN(f, f->hs[f->i], &f->rc);
                TCHECK(f->rc == 0);
                f->bad +=
                    ((struct jspawner *)task_handle_frame(f->hs[f->i]))->bad;
                task_handle_release(f->hs[f->i]);
        }
        TASK_END(f);
}

Test(stress, join_tree_3_workers, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(3);
        long per = test_scaled(500L * 1000, 64 * 16) / SPAWNERS;
        struct ledger l;
        struct jroot r = {.per = per};
        struct task_runtime_metrics m;

        ledger_init(&l, per * SPAWNERS);
        r.l = &l;
        cr_assert_eq(task_block_on(rt, jroot, &r, sizeof r), 0);
        cr_assert_eq(r.bad, 0, "%ld joins reported a wrong result", r.bad);
        cr_assert_eq(atomic_load(&l.done), l.n);
        tcheck_assert_none();
        ledger_check(&l);
        cr_assert_eq(task_runtime_metrics(rt, &m), 0);
        cr_assert_gt(m.steal_ops, 0);
        test_rt_free(rt);
}

/* ---- Ping-pong pairs through wakers ----------------------------------------- */

struct pp_pair {
        atomic_int turn;               /* 0 or 1: whose move it is */
        task_waker *_Atomic waiter[2]; /* registered by the side that waits */
        int count[2];                  /* written only by its side */
};

static bool pp_my_turn(struct task_cx *cx, struct pp_pair *p, int side)
{
        task_waker *old;

        /* Acquire: pairs with the release store in pp_pass(). */
        if (atomic_load_explicit(&p->turn, memory_order_acquire) == side)
                return true;
        old = atomic_exchange(&p->waiter[side], task_cx_waker(cx));
        task_waker_drop(old);
        /* Re-check after registering: the other side may have passed the
         * turn before it could see our waker. */
        return atomic_load(&p->turn) == side;
}

static void pp_pass(struct pp_pair *p, int side)
{
        task_waker *w;

        atomic_store_explicit(&p->turn, !side, memory_order_release);
        w = atomic_exchange(&p->waiter[!side], NULL);
        if (w)
                task_wake(w);
}

struct pp {
        TASK_FRAME;
        struct pp_pair *p;
        int side, rounds, i;
};

static int pp(struct task_cx *cx, void *arg)
{
        struct pp *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->rounds; f->i++) {
                TASK_AWAIT(f, pp_my_turn(cx, f->p, f->side));
                f->p->count[f->side]++;
                pp_pass(f->p, f->side);
        }
        TASK_CLEANUP(f);
        task_waker_drop(atomic_exchange(&f->p->waiter[f->side], NULL));
        TASK_END(f);
}

Test(stress, ping_pong_pairs, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        int pairs = 500, rounds = (int)test_scaled(1000, 40);
        struct pp_pair *ps = calloc((size_t)pairs, sizeof *ps);
        task_handle **hs = calloc((size_t)pairs * 2, sizeof *hs);

        for (int i = 0; i < pairs; i++) {
                for (int s = 0; s < 2; s++) {
                        struct pp f = {
                            .p = &ps[i], .side = s, .rounds = rounds};
                        cr_assert_eq(TASK_SPAWN(rt, pp, &f, &hs[2 * i + s]), 0);
                }
        }
        for (int i = 0; i < 2 * pairs; i++) {
                cr_assert_eq(task_join_blocking(hs[i]), 0);
                task_handle_release(hs[i]);
        }
        for (int i = 0; i < pairs; i++) {
                cr_assert_eq(ps[i].count[0], rounds);
                cr_assert_eq(ps[i].count[1], rounds);
        }
        free(hs);
        free(ps);
        test_rt_free(rt);
}

/* ---- Remote spawns from several threads ------------------------------------- */

struct rleaf {
        TASK_FRAME;
        struct ledger *l;
        long idx;
};

static int rleaf(struct task_cx *cx, void *arg)
{
        struct rleaf *f = arg;
        TASK_BEGIN(f);
        if (f->idx & 1)
                TASK_YIELD(f);
        ledger_mark(f->l, f->idx);
        TASK_END(f);
}

struct remote_arg {
        task_runtime *rt;
        struct ledger *l;
        long base, n;
};

static void *remote_spawner(void *p)
{
        struct remote_arg *a = p;
        for (long i = 0; i < a->n; i++) {
                struct rleaf f = {.l = a->l, .idx = a->base + i};
                task_handle *h = NULL;
                /* Half detached at once, half released right after spawning. */
                if (i & 2) {
                        TCHECK(TASK_SPAWN(a->rt, rleaf, &f, NULL) == 0);
                } else {
                        TCHECK(TASK_SPAWN(a->rt, rleaf, &f, &h) == 0);
                        task_handle_release(h);
                }
        }
        return NULL;
}

Test(stress, remote_spawns_from_four_threads, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        long per = test_scaled(200L * 1000, 1000);
        struct ledger l;
        struct remote_arg a[4];
        pthread_t th[4];

        ledger_init(&l, 4 * per);
        for (int i = 0; i < 4; i++) {
                a[i] = (struct remote_arg){
                    .rt = rt, .l = &l, .base = i * per, .n = per};
                cr_assert_eq(
                    pthread_create(&th[i], NULL, remote_spawner, &a[i]), 0);
        }
        for (int i = 0; i < 4; i++)
                pthread_join(th[i], NULL);
        wait_ledger(&l, 60000);
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 10000));
        tcheck_assert_none();
        ledger_check(&l);
        test_rt_free(rt);
}
