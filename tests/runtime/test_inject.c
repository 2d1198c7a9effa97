/*
 * test_inject.c - the global injection queue (inject-priv.h), internal.
 *
 * FIFO order for single pushes and batches, pop_batch's limits and its
 * NULL-terminated rest list, the length hint; then producers and consumers
 * on several threads: every item popped exactly once, and each consumer
 * sees every producer's items in push order.
 */
#include "helpers.h"

#include "inject-priv.h"
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
        cr_assert(t >= items && t < items + nitems);
        return t - items;
}

/* Pop up to @max and check the batch is exactly @want (a -1-terminated list). */
static void expect_batch(struct task__inject *q, size_t max, const long *want)
{
        struct task *rest = (struct task *)0x1;
        size_t nrest = 12345, n = 0;
        struct task *t = task__inject_pop_batch(q, max, &rest, &nrest);

        while (want[n] >= 0)
                n++;
        if (n == 0) {
                cr_assert_null(t);
                cr_assert_eq(nrest, 0);
                cr_assert_null(rest);
                return;
        }
        cr_assert_eq(idx(t), want[0]);
        cr_assert_eq(nrest, n - 1, "nrest %zu, want %zu", nrest, n - 1);
        for (size_t i = 1; i < n; i++, rest = rest->next)
                cr_assert_eq(idx(rest), want[i], "rest[%zu]", i - 1);
        cr_assert_null(rest, "rest not NULL-terminated");
}

Test(inject, empty_pop)
{
        struct task__inject q;

        task__inject_init(&q);
        cr_assert_eq(task__inject_len(&q), 0);
        expect_batch(&q, 10, (long[]){-1});
}

Test(inject, single_pushes_fifo)
{
        struct task__inject q;

        items_alloc(5);
        task__inject_init(&q);
        for (int i = 0; i < 5; i++)
                task__inject_push(&q, &items[i]);
        cr_assert_eq(task__inject_len(&q), 5);
        expect_batch(&q, 3, (long[]){0, 1, 2, -1});
        cr_assert_eq(task__inject_len(&q), 2);
        expect_batch(&q, 10, (long[]){3, 4, -1});
        cr_assert_eq(task__inject_len(&q), 0);
        expect_batch(&q, 10, (long[]){-1});
        free(items);
}

Test(inject, pop_one_at_a_time)
{
        struct task__inject q;

        items_alloc(3);
        task__inject_init(&q);
        for (int i = 0; i < 3; i++)
                task__inject_push(&q, &items[i]);
        expect_batch(&q, 1, (long[]){0, -1});
        expect_batch(&q, 1, (long[]){1, -1});
        /* Push after a partial pop keeps order. */
        task__inject_push(&q, &items[0]);
        expect_batch(&q, 1, (long[]){2, -1});
        expect_batch(&q, 1, (long[]){0, -1});
        expect_batch(&q, 1, (long[]){-1});
        free(items);
}

Test(inject, pop_zero_takes_nothing)
{
        struct task__inject q;
        struct task *rest;
        size_t nrest;

        items_alloc(2);
        task__inject_init(&q);
        task__inject_push(&q, &items[0]);
        cr_assert_null(task__inject_pop_batch(&q, 0, &rest, &nrest));
        cr_assert_eq(task__inject_len(&q), 1);
        expect_batch(&q, 5, (long[]){0, -1});
        free(items);
}

Test(inject, batches_and_singles_interleave_fifo)
{
        struct task__inject q;

        items_alloc(10);
        task__inject_init(&q);
        task__inject_push(&q, &items[0]);
        /* A batch 1..4, linked through next. */
        for (int i = 1; i < 4; i++)
                items[i].next = &items[i + 1];
        items[4].next = NULL;
        task__inject_push_batch(&q, &items[1], &items[4], 4);
        task__inject_push(&q, &items[5]);
        items[6].next = &items[7];
        task__inject_push_batch(&q, &items[6], &items[7], 2);
        cr_assert_eq(task__inject_len(&q), 8);
        expect_batch(&q, 2, (long[]){0, 1, -1});
        expect_batch(&q, 100, (long[]){2, 3, 4, 5, 6, 7, -1});
        cr_assert_eq(task__inject_len(&q), 0);
        free(items);
}

/* ---- Concurrent producers and consumers --------------------------------------- */

enum { PRODUCERS = 4, CONSUMERS = 3 };

struct ishared {
        struct task__inject q;
        long per; /* items per producer */
        atomic_uchar *seen;
        atomic_long consumed;
        atomic_long dups, order_errors;
};

struct parg {
        struct ishared *s;
        int id;
};

/* Producer p owns items [p * per, (p + 1) * per). */
static void *producer(void *p)
{
        struct parg *a = p;
        struct ishared *s = a->s;
        long base = a->id * s->per, i = 0;
        unsigned rng = (unsigned)a->id + 1;

        while (i < s->per) {
                rng = rng * 1103515245u + 12345u;
                long k = 1 + (long)((rng >> 16) % 8);
                if (k > s->per - i)
                        k = s->per - i;
                if (k == 1) {
                        task__inject_push(&s->q, &items[base + i]);
                } else {
                        for (long j = 0; j < k - 1; j++)
                                items[base + i + j].next =
                                    &items[base + i + j + 1];
                        task__inject_push_batch(&s->q, &items[base + i],
                                                &items[base + i + k - 1],
                                                (size_t)k);
                }
                i += k;
        }
        return NULL;
}

static void *consumer(void *p)
{
        struct parg *a = p;
        struct ishared *s = a->s;
        long total = PRODUCERS * s->per;
        long last[PRODUCERS];
        unsigned rng = 77u + (unsigned)a->id;

        for (int i = 0; i < PRODUCERS; i++)
                last[i] = -1;
        while (atomic_load(&s->consumed) < total) {
                struct task *rest;
                size_t nrest;
                rng = rng * 1103515245u + 12345u;
                struct task *t = task__inject_pop_batch(
                    &s->q, 1 + (rng >> 16) % 16, &rest, &nrest);
                if (!t) {
                        sched_yield();
                        continue;
                }
                for (size_t left = nrest;; left--) {
                        long k = t - items;
                        long prod;
                        if (k < 0 || k >= nitems) {
                                TCHECK(k >= 0 && k < nitems);
                                break;
                        }
                        prod = k / s->per;
                        if (atomic_fetch_add(&s->seen[k], 1) != 0)
                                atomic_fetch_add(&s->dups, 1);
                        if (k <= last[prod])
                                atomic_fetch_add(&s->order_errors, 1);
                        last[prod] = k;
                        atomic_fetch_add(&s->consumed, 1);
                        if (left == 0)
                                break;
                        t = rest;
                        rest = rest->next;
                }
        }
        return NULL;
}

Test(inject, concurrent_producers_and_consumers, .timeout = 60)
{
        struct ishared s;
        pthread_t pt[PRODUCERS], ct[CONSUMERS];
        struct parg pa[PRODUCERS], ca[CONSUMERS];
        long missing = 0;

        s.per = test_scaled(250000, 5000);
        items_alloc(PRODUCERS * s.per);
        task__inject_init(&s.q);
        s.seen = calloc((size_t)nitems, sizeof *s.seen);
        atomic_init(&s.consumed, 0);
        atomic_init(&s.dups, 0);
        atomic_init(&s.order_errors, 0);

        for (int i = 0; i < CONSUMERS; i++) {
                ca[i] = (struct parg){.s = &s, .id = i};
                cr_assert_eq(pthread_create(&ct[i], NULL, consumer, &ca[i]), 0);
        }
        for (int i = 0; i < PRODUCERS; i++) {
                pa[i] = (struct parg){.s = &s, .id = i};
                cr_assert_eq(pthread_create(&pt[i], NULL, producer, &pa[i]), 0);
        }
        for (int i = 0; i < PRODUCERS; i++)
                pthread_join(pt[i], NULL);
        for (int i = 0; i < CONSUMERS; i++)
                pthread_join(ct[i], NULL);
        tcheck_assert_none();
        cr_assert_eq(atomic_load(&s.dups), 0);
        cr_assert_eq(atomic_load(&s.order_errors), 0,
                     "a consumer saw a producer's items out of order");
        for (long i = 0; i < nitems; i++)
                if (atomic_load(&s.seen[i]) != 1)
                        missing++;
        cr_assert_eq(missing, 0);
        cr_assert_eq(task__inject_len(&s.q), 0);
        free(s.seen);
        free(items);
}
