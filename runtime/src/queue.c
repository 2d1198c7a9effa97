/*
 * queue.c - the per-worker local run queue.
 *
 * A port of Tokio's multi_thread/queue.rs to C11 atomics (see queue-priv.h
 * for the layout).  Invariants:
 *
 *  1. steal <= real <= tail (modulo wrap) and tail - steal <= capacity: the
 *     slots in [steal, real) are being copied by the one active thief and
 *     must not be overwritten, so the owner counts them as occupied.
 *  2. Only the owner writes `tail`, and only the owner writes slots; a slot
 *     is written before the release store of `tail` that publishes it.
 *  3. A thief claims [real, real + n) by CAS on head (real += n, steal kept),
 *     copies the slots, then releases them with a second CAS (steal = real).
 *     Until then no other thief may start (it sees steal != real), and the
 *     owner does not reuse those slots (invariant 1).
 *  4. The owner pops by CAS on head too, so a pop and a claim never hand out
 *     the same slot.
 *
 * Memory orderings are named at each access.
 */
#include "queue-priv.h"
#include "inject-priv.h"
#include "runtime-priv.h"

#include <errno.h>
#include <stdlib.h>

static inline uint64_t pack(uint32_t steal, uint32_t real)
{
        return ((uint64_t)steal << 32) | real;
}

static inline uint32_t unpack_steal(uint64_t h)
{
        return (uint32_t)(h >> 32);
}

static inline uint32_t unpack_real(uint64_t h)
{
        return (uint32_t)h;
}

int task__queue_init(struct task__queue *q, uint32_t capacity)
{
        if (capacity < 2 || capacity > 65536 || (capacity & (capacity - 1)))
                return -EINVAL;
        q->buf = calloc(capacity, sizeof(*q->buf));
        if (!q->buf || task__fault_alloc()) {
                free(q->buf);
                q->buf = NULL;
                return -ENOMEM;
        }
        atomic_init(&q->head, 0);
        atomic_init(&q->tail, 0);
        q->mask = capacity - 1;
        return 0;
}

void task__queue_destroy(struct task__queue *q)
{
        free(q->buf);
        q->buf = NULL;
}

uint32_t task__queue_len(const struct task__queue *q)
{
        /* Acquire on both: a consistent-enough snapshot for a hint. */
        uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
        return t - unpack_real(h);
}

uint32_t task__queue_remaining_owner(const struct task__queue *q)
{
        uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        return (q->mask + 1) - (t - unpack_steal(h));
}

/*
 * Move half of a full queue plus @t to the global queue.  Fails (false) when
 * a thief or a pop changed head meanwhile; the caller then retries the push,
 * which may now find room.
 */
static bool push_overflow(struct task__queue *q, struct task *t, uint32_t head,
                          uint32_t tail, struct task__inject *inject,
                          struct task__queue_stats *st)
{
        uint32_t half = (q->mask + 1) / 2;
        uint64_t prev = pack(head, head);

        (void)tail;
        /*
         * Claim [head, head + half).  Release/relaxed as in Tokio: the CAS
         * only has to win against thieves, who would see steal != real.
         * Success is acq_rel: we are about to read slots a thief may have
         * just finished reading.
         */
        if (!atomic_compare_exchange_strong_explicit(
                &q->head, &prev, pack(head + half, head + half),
                memory_order_acq_rel, memory_order_relaxed))
                return false;

        struct task *first = q->buf[head & q->mask];
        struct task *last = first;
        for (uint32_t i = 1; i < half; i++) {
                struct task *n = q->buf[(head + i) & q->mask];
                last->next = n;
                last = n;
        }
        last->next = t;
        t->next = NULL;
        task__inject_push_batch(inject, first, t, half + 1);
        st->overflows++;
        return true;
}

void task__queue_push_back_owner(struct task__queue *q, struct task *t,
                                 struct task__inject *inject,
                                 struct task__queue_stats *st)
{
        uint32_t cap = q->mask + 1;

        for (;;) {
                /* Acquire: see the thieves' finished copies before reusing
                 * the slots they release. */
                uint64_t h =
                    atomic_load_explicit(&q->head, memory_order_acquire);
                uint32_t steal = unpack_steal(h), real = unpack_real(h);
                /* Only this thread writes tail. */
                uint32_t tail =
                    atomic_load_explicit(&q->tail, memory_order_relaxed);

                if (tail - steal < cap) {
                        q->buf[tail & q->mask] = t;
                        /* Release: publishes the slot (and the task's frame
                         * writes before it) to pops and thieves. */
                        atomic_store_explicit(&q->tail, tail + 1,
                                              memory_order_release);
                        return;
                }
                if (steal != real) {
                        /* A thief is about to make room; don't wait for it. */
                        t->next = NULL;
                        task__inject_push(inject, t);
                        return;
                }
                if (push_overflow(q, t, real, tail, inject, st))
                        return;
        }
}

void task__queue_push_list_owner(struct task__queue *q, struct task *first,
                                 uint32_t n)
{
        uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

        for (uint32_t i = 0; i < n && first; i++) {
                q->buf[(tail + i) & q->mask] = first;
                first = first->next;
        }
        /* Release: publishes all n slots at once. */
        atomic_store_explicit(&q->tail, tail + n, memory_order_release);
}

struct task *task__queue_pop_owner(struct task__queue *q)
{
        uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t idx;

        for (;;) {
                uint32_t steal = unpack_steal(h), real = unpack_real(h);
                uint32_t tail =
                    atomic_load_explicit(&q->tail, memory_order_relaxed);

                if (real == tail)
                        return NULL;
                uint32_t next_real = real + 1;
                /* With no thief active, steal follows real. */
                uint64_t next = steal == real ? pack(next_real, next_real)
                                              : pack(steal, next_real);
                /* acq_rel on success: orders the slot read after the claim
                 * against a thief's CAS; acquire on failure: reload. */
                if (atomic_compare_exchange_weak_explicit(
                        &q->head, &h, next, memory_order_acq_rel,
                        memory_order_acquire)) {
                        idx = real & q->mask;
                        break;
                }
        }
        return q->buf[idx];
}

/* Claim half of @src and copy it into @dst's slots from @dst_tail; returns
 * how many (not yet published in @dst). */
static uint32_t steal_into2(struct task__queue *src, struct task__queue *dst,
                            uint32_t dst_tail)
{
        uint64_t prev = atomic_load_explicit(&src->head, memory_order_acquire);
        uint64_t next;
        uint32_t n;

        for (;;) {
                uint32_t steal = unpack_steal(prev), real = unpack_real(prev);
                /* Acquire: pairs with the owner's release of tail, so the
                 * slots below it (and their tasks' frames) are visible. */
                uint32_t tail =
                    atomic_load_explicit(&src->tail, memory_order_acquire);

                if (steal != real)
                        return 0; /* another thief is at work */
                n = tail - real;
                n -= n / 2;
                if (n == 0)
                        return 0;
                next = pack(steal, real + n);
                /* acq_rel: claims [real, real + n) against the owner's pop
                 * and other thieves. */
                if (atomic_compare_exchange_weak_explicit(
                        &src->head, &prev, next, memory_order_acq_rel,
                        memory_order_acquire))
                        break;
        }

        uint32_t first = unpack_steal(next);
        for (uint32_t i = 0; i < n; i++)
                dst->buf[(dst_tail + i) & dst->mask] =
                    src->buf[(first + i) & src->mask];

        /* Done copying: steal catches up with real.  acq_rel: the release
         * lets the owner reuse the slots only after our reads. */
        prev = next;
        for (;;) {
                uint32_t real = unpack_real(prev);
                if (atomic_compare_exchange_weak_explicit(
                        &src->head, &prev, pack(real, real),
                        memory_order_acq_rel, memory_order_acquire))
                        return n;
        }
}

struct task *task__queue_steal_into(struct task__queue *src,
                                    struct task__queue *dst,
                                    struct task__queue_stats *st)
{
        uint32_t dst_tail =
            atomic_load_explicit(&dst->tail, memory_order_relaxed);
        uint64_t dh = atomic_load_explicit(&dst->head, memory_order_acquire);

        /* Our own queue may look empty yet have slots being stolen from. */
        if (dst_tail - unpack_steal(dh) > (dst->mask + 1) / 2)
                return NULL;

        uint32_t n = steal_into2(src, dst, dst_tail);
        if (n == 0)
                return NULL;
        st->steal_ops++;
        st->steal_tasks += n;

        n--;
        struct task *ret = dst->buf[(dst_tail + n) & dst->mask];
        if (n > 0)
                /* Release: publish the stolen tasks in our queue. */
                atomic_store_explicit(&dst->tail, dst_tail + n,
                                      memory_order_release);
        return ret;
}
