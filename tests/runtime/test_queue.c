/*
 * test_queue.c - the per-worker local run queue (queue-priv.h), internal.
 *
 * The queue stores task pointers; an overflow links tasks through
 * task->next, so the tests use real-size `struct task` objects (from
 * runtime-priv.h) that are never run: an item's identity is its index in
 * one array.  Single-threaded semantics first (FIFO, capacity, overflow of
 * half + 1 into the inject queue, stealing half, push_list), then an owner
 * pushing and popping while three thieves steal: every item is seen exactly
 * once.
 */
#include "helpers.h"

#include "inject-priv.h"
#include "queue-priv.h"
#include "runtime-priv.h"

static struct task *items;
static long nitems;

static void items_alloc(long n)
{
        items = calloc((size_t)n, sizeof *items);
        cr_assert_not_null(items);
        nitems = n;
}

static long idx(const struct task *t)
{
        cr_assert_not_null(t);
        cr_assert(t >= items && t < items + nitems, "pointer not one of ours");
        return t - items;
}

static struct task__queue q_init(uint32_t cap)
{
        struct task__queue q;
        cr_assert_eq(task__queue_init(&q, cap), 0);
        return q;
}

/* Pop everything from @inject in order into @out; returns the count. */
static long inject_drain(struct task__inject *inj, long *out, long max)
{
        long n = 0;
        for (;;) {
                struct task *rest;
                size_t nrest;
                struct task *t =
                    task__inject_pop_batch(inj, 1000, &rest, &nrest);
                if (!t)
                        return n;
                cr_assert_lt(n, max);
                out[n++] = idx(t);
                for (size_t i = 0; i < nrest; i++, rest = rest->next) {
                        cr_assert_not_null(rest);
                        cr_assert_lt(n, max);
                        out[n++] = idx(rest);
                }
                cr_assert_null(rest, "rest list longer than nrest");
        }
}

/* ---- Single-threaded ---------------------------------------------------------- */

Test(queue, empty_queue)
{
        struct task__queue q = q_init(8);

        cr_assert_eq(task__queue_len(&q), 0);
        cr_assert_eq(task__queue_remaining_owner(&q), 8);
        cr_assert_null(task__queue_pop_owner(&q));
        task__queue_destroy(&q);
}

Test(queue, fifo_up_to_capacity)
{
        struct task__queue q = q_init(8);
        struct task__inject inj;
        struct task__queue_stats st = {0};

        items_alloc(8);
        task__inject_init(&inj);
        for (int i = 0; i < 8; i++) {
                task__queue_push_back_owner(&q, &items[i], &inj, &st);
                cr_assert_eq(task__queue_len(&q), (uint32_t)i + 1);
                cr_assert_eq(task__queue_remaining_owner(&q),
                             8 - (uint32_t)i - 1);
        }
        cr_assert_eq(st.overflows, 0);
        cr_assert_eq(task__inject_len(&inj), 0);
        for (int i = 0; i < 8; i++)
                cr_assert_eq(idx(task__queue_pop_owner(&q)), i);
        cr_assert_null(task__queue_pop_owner(&q));
        cr_assert_eq(task__queue_remaining_owner(&q), 8);
        task__queue_destroy(&q);
        free(items);
}

Test(queue, fifo_across_index_wrap)
{
        struct task__queue q = q_init(4);
        struct task__inject inj;
        struct task__queue_stats st = {0};
        long next_push = 0, next_pop = 0;

        items_alloc(16);
        task__inject_init(&inj);
        for (int round = 0; round < 200000; round++) {
                int k = 1 + round % 4;
                for (int i = 0; i < k; i++)
                        task__queue_push_back_owner(
                            &q, &items[next_push++ % 16], &inj, &st);
                for (int i = 0; i < k; i++)
                        cr_assert_eq(idx(task__queue_pop_owner(&q)),
                                     next_pop++ % 16);
        }
        cr_assert_null(task__queue_pop_owner(&q));
        cr_assert_eq(st.overflows, 0);
        task__queue_destroy(&q);
        free(items);
}

Test(queue, overflow_moves_half_plus_one_to_inject)
{
        struct task__queue q = q_init(8);
        struct task__inject inj;
        struct task__queue_stats st = {0};
        long got[16], nq = 0, ni;
        bool seen[9] = {0};

        items_alloc(9);
        task__inject_init(&inj);
        for (int i = 0; i < 9; i++)
                task__queue_push_back_owner(&q, &items[i], &inj, &st);
        cr_assert_eq(st.overflows, 1);
        cr_assert_eq(task__queue_len(&q), 4, "queue keeps half: len %u",
                     task__queue_len(&q));
        cr_assert_eq(task__inject_len(&inj), 5);

        ni = inject_drain(&inj, got, 16);
        cr_assert_eq(ni, 5);
        /* The batch is in push order and ends with the task being pushed. */
        cr_assert_eq(got[4], 8);
        for (int i = 1; i < 4; i++)
                cr_assert_lt(got[i - 1], got[i], "overflow batch out of order");
        for (int i = 0; i < 5; i++)
                seen[got[i]] = true;
        for (struct task *t; (t = task__queue_pop_owner(&q));) {
                long k = idx(t);
                cr_assert_not(seen[k], "item %ld in both queues", k);
                seen[k] = true;
                if (nq)
                        cr_assert_lt(got[5 + nq - 1], k);
                got[5 + nq++] = k;
        }
        cr_assert_eq(nq, 4);
        for (int i = 0; i < 9; i++)
                cr_assert(seen[i], "item %d lost", i);
        task__queue_destroy(&q);
        free(items);
}

Test(queue, repeated_overflows_lose_nothing)
{
        enum { N = 5000, CAP = 16 };
        struct task__queue q = q_init(CAP);
        struct task__inject inj;
        struct task__queue_stats st = {0};
        long *got = calloc(N, sizeof *got);
        int *count = calloc(N, sizeof *count);
        long ni, last = -1;

        items_alloc(N);
        task__inject_init(&inj);
        for (int i = 0; i < N; i++)
                task__queue_push_back_owner(&q, &items[i], &inj, &st);
        cr_assert_geq(st.overflows, (N - CAP) / (CAP / 2 + 1));
        cr_assert_eq(task__queue_len(&q) + task__inject_len(&inj), N);
        /*
         * No global order across batches: each batch is the queue's oldest
         * half plus the newest task, so a later batch holds older tasks
         * than the end of the one before it.
         */
        ni = inject_drain(&inj, got, N);
        for (long i = 0; i < ni; i++)
                count[got[i]]++;
        for (struct task *t; (t = task__queue_pop_owner(&q));) {
                long k = idx(t);
                count[k]++;
                cr_assert_lt(last, k);
                last = k;
        }
        for (int i = 0; i < N; i++)
                cr_assert_eq(count[i], 1, "item %d seen %d times", i, count[i]);
        free(got);
        free(count);
        task__queue_destroy(&q);
        free(items);
}

static void check_steal(uint32_t n)
{
        struct task__queue src = q_init(16), dst = q_init(16);
        struct task__inject inj;
        struct task__queue_stats st = {0}, sst = {0};
        struct task *r;
        bool seen[16] = {0};
        uint32_t stolen, left;
        long last = -1;

        items_alloc(16);
        task__inject_init(&inj);
        for (uint32_t i = 0; i < n; i++)
                task__queue_push_back_owner(&src, &items[i], &inj, &sst);
        r = task__queue_steal_into(&src, &dst, &st);
        cr_assert_not_null(r, "steal from a queue of %u returned nothing", n);
        stolen = 1 + task__queue_len(&dst);
        left = task__queue_len(&src);
        cr_assert_eq(stolen + left, n);
        cr_assert(stolen == n / 2 || stolen == n - n / 2, "stole %u of %u",
                  stolen, n);
        cr_assert_eq(st.steal_ops, 1);
        cr_assert_eq(st.steal_tasks, stolen, "steal_tasks %llu, moved %u",
                     (unsigned long long)st.steal_tasks, stolen);
        /* Thieves take the oldest: the victim keeps the newest, in order. */
        seen[idx(r)] = true;
        for (struct task *t; (t = task__queue_pop_owner(&dst));) {
                long k = idx(t);
                cr_assert_lt(last, k, "stolen tasks out of order");
                last = k;
                seen[k] = true;
        }
        for (uint32_t i = 0; i < stolen; i++)
                cr_assert(seen[i], "stolen set is not the oldest %u", stolen);
        for (uint32_t i = stolen; i < n; i++)
                cr_assert_eq(idx(task__queue_pop_owner(&src)), i);
        cr_assert_null(task__queue_pop_owner(&src));
        task__queue_destroy(&src);
        task__queue_destroy(&dst);
        free(items);
}

Test(queue, steal_takes_half_of_even)
{
        check_steal(8);
}

Test(queue, steal_takes_half_of_odd)
{
        check_steal(7);
}

Test(queue, steal_single_task)
{
        check_steal(1);
}

Test(queue, steal_full_queue)
{
        check_steal(16);
}

Test(queue, steal_from_empty_returns_null)
{
        struct task__queue src = q_init(8), dst = q_init(8);
        struct task__queue_stats st = {0};

        cr_assert_null(task__queue_steal_into(&src, &dst, &st));
        cr_assert_eq(st.steal_ops, 0);
        cr_assert_eq(st.steal_tasks, 0);
        task__queue_destroy(&src);
        task__queue_destroy(&dst);
}

Test(queue, no_steal_into_more_than_half_full_queue)
{
        struct task__queue src = q_init(8), dst = q_init(8);
        struct task__inject inj;
        struct task__queue_stats st = {0};
        struct task *r;

        items_alloc(16);
        task__inject_init(&inj);
        for (int i = 0; i < 8; i++)
                task__queue_push_back_owner(&src, &items[i], &inj, &st);
        for (int i = 8; i < 13; i++) /* 5 of 8: more than half */
                task__queue_push_back_owner(&dst, &items[i], &inj, &st);
        cr_assert_null(task__queue_steal_into(&src, &dst, &st));
        cr_assert_eq(task__queue_len(&src), 8);
        cr_assert_eq(task__queue_len(&dst), 5);
        cr_assert_eq(st.steal_ops, 0);
        /* At exactly half it may steal. */
        cr_assert_eq(idx(task__queue_pop_owner(&dst)), 8);
        r = task__queue_steal_into(&src, &dst, &st);
        cr_assert_not_null(r);
        cr_assert_leq(task__queue_len(&dst), 8);
        task__queue_destroy(&src);
        task__queue_destroy(&dst);
        free(items);
}

Test(queue, push_list_owner_keeps_order)
{
        struct task__queue q = q_init(16);
        struct task__inject inj;
        struct task__queue_stats st = {0};

        items_alloc(10);
        task__inject_init(&inj);
        task__queue_push_back_owner(&q, &items[0], &inj, &st);
        for (int i = 1; i < 9; i++)
                items[i].next = &items[i + 1];
        items[9].next = NULL;
        cr_assert_eq(task__queue_remaining_owner(&q), 15);
        task__queue_push_list_owner(&q, &items[1], 9);
        cr_assert_eq(task__queue_len(&q), 10);
        cr_assert_eq(task__queue_remaining_owner(&q), 6);
        for (int i = 0; i < 10; i++)
                cr_assert_eq(idx(task__queue_pop_owner(&q)), i);
        cr_assert_null(task__queue_pop_owner(&q));
        task__queue_destroy(&q);
        free(items);
}

/* ---- Under contention -------------------------------------------------------------- */

struct shared {
        struct task__queue owner_q;
        struct task__inject inj;
        atomic_uchar *seen;
        atomic_int owner_done;
        atomic_long dups;
        atomic_long thief_steals;
        long n;
};

static void see(struct shared *s, struct task *t)
{
        long k = t - items;
        if (k < 0 || k >= nitems) {
                TCHECK(k >= 0 && k < nitems);
                return;
        }
        if (atomic_fetch_add_explicit(&s->seen[k], 1, memory_order_relaxed) !=
            0)
                atomic_fetch_add(&s->dups, 1);
}

static void *owner_thread(void *p)
{
        struct shared *s = p;
        struct task__queue_stats st = {0};
        unsigned rng = 1;

        for (long i = 0; i < s->n; i++) {
                task__queue_push_back_owner(&s->owner_q, &items[i], &s->inj,
                                            &st);
                rng = rng * 1103515245u + 12345u;
                /* Pop about one in three, in small bursts. */
                if ((rng >> 16) % 3 == 0) {
                        int k = 1 + (int)((rng >> 20) % 3);
                        for (int j = 0; j < k; j++) {
                                struct task *t =
                                    task__queue_pop_owner(&s->owner_q);
                                if (!t)
                                        break;
                                see(s, t);
                        }
                }
        }
        /* Drain what is left, racing the thieves. */
        for (struct task *t; (t = task__queue_pop_owner(&s->owner_q));)
                see(s, t);
        atomic_store(&s->owner_done, 1);
        return NULL;
}

static void *thief_thread(void *p)
{
        struct shared *s = p;
        struct task__queue dst;
        struct task__queue_stats st = {0};

        /* Same capacity as the victim, as in the runtime: a steal of half of
         * the victim must fit in an empty queue. */
        TCHECK(task__queue_init(&dst, s->owner_q.mask + 1) == 0);
        for (;;) {
                bool done = atomic_load(&s->owner_done);
                struct task *t = task__queue_steal_into(&s->owner_q, &dst, &st);
                if (t) {
                        see(s, t);
                        for (struct task *u; (u = task__queue_pop_owner(&dst));)
                                see(s, u);
                } else if (done) {
                        break;
                } else {
                        sched_yield();
                }
        }
        TCHECK(task__queue_len(&dst) == 0);
        TCHECK(st.steal_tasks >= st.steal_ops);
        atomic_fetch_add(&s->thief_steals, (long)st.steal_ops);
        task__queue_destroy(&dst);
        return NULL;
}

static void run_contended(uint32_t cap, int nthieves)
{
        struct shared s;
        pthread_t owner, thieves[3];
        long *rest = NULL, ni, missing = 0;

        s.n = test_scaled(1000000, 20000);
        items_alloc(s.n);
        cr_assert_eq(task__queue_init(&s.owner_q, cap), 0);
        task__inject_init(&s.inj);
        s.seen = calloc((size_t)s.n, sizeof *s.seen);
        atomic_init(&s.owner_done, 0);
        atomic_init(&s.dups, 0);
        atomic_init(&s.thief_steals, 0);

        for (int i = 0; i < nthieves; i++)
                cr_assert_eq(
                    pthread_create(&thieves[i], NULL, thief_thread, &s), 0);
        cr_assert_eq(pthread_create(&owner, NULL, owner_thread, &s), 0);
        pthread_join(owner, NULL);
        for (int i = 0; i < nthieves; i++)
                pthread_join(thieves[i], NULL);
        tcheck_assert_none();
        cr_assert_eq(task__queue_len(&s.owner_q), 0);

        /* Overflowed items are in the inject queue. */
        rest = calloc((size_t)s.n, sizeof *rest);
        ni = inject_drain(&s.inj, rest, s.n);
        for (long i = 0; i < ni; i++)
                see(&s, &items[rest[i]]);
        cr_assert_eq(atomic_load(&s.dups), 0, "%ld items seen twice",
                     atomic_load(&s.dups));
        for (long i = 0; i < s.n; i++)
                if (atomic_load(&s.seen[i]) != 1)
                        missing++;
        cr_assert_eq(missing, 0, "%ld of %ld items lost", missing, s.n);
        cr_log_info("cap %u: %ld steals, %ld overflowed", cap,
                    atomic_load(&s.thief_steals), ni);
        cr_assert_gt(atomic_load(&s.thief_steals), 0,
                     "the thieves never stole");
        free(rest);
        free(s.seen);
        task__queue_destroy(&s.owner_q);
        free(items);
}

Test(queue, owner_and_three_thieves_small_queue, .timeout = 60)
{
        run_contended(16, 3);
}

Test(queue, owner_and_two_thieves_default_size, .timeout = 60)
{
        run_contended(256, 2);
}
