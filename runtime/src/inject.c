/*
 * inject.c - the global injection queue.
 *
 * An intrusive FIFO behind a spinlock (see inject-priv.h).  Tokio uses a
 * mutex here; the critical sections are a handful of pointer moves, and a
 * worker pops a whole batch per lock, so a spinlock is the cheaper choice
 * on few cores.  `len` is written under the lock and read without it as a
 * hint: a worker that sees 0 skips the lock; a stale non-zero costs one
 * empty locked check.  Producers that must not lose a task (spawn, wake)
 * always take the lock, and the idle protocol (idle.c) rechecks the queue
 * after parking decisions, so a stale 0 is never the last word.
 */
#include "inject-priv.h"
#include "runtime-priv.h"

void task__inject_init(struct task__inject *q)
{
        task__spin_init(&q->lock);
        q->head = q->tail = NULL;
        q->closed = false;
        atomic_init(&q->len, 0);
}

void task__inject_push_batch(struct task__inject *q, struct task *first,
                             struct task *last, size_t n)
{
        task__spin_lock(&q->lock);
        if (q->closed) {
                /* Shut down: the registry walk cancels these tasks, and may
                 * have ended and freed them already: touch nothing of
                 * theirs (not even ->next). */
                task__spin_unlock(&q->lock);
                return;
        }
        last->next = NULL;
        if (q->tail)
                q->tail->next = first;
        else
                q->head = first;
        q->tail = last;
        /* Relaxed: the lock orders the list; len is only a hint. */
        atomic_store_explicit(
            &q->len, atomic_load_explicit(&q->len, memory_order_relaxed) + n,
            memory_order_relaxed);
        task__spin_unlock(&q->lock);
}

void task__inject_push(struct task__inject *q, struct task *t)
{
        task__inject_push_batch(q, t, t, 1);
}

struct task *task__inject_pop_batch(struct task__inject *q, size_t max,
                                    struct task **rest, size_t *nrest)
{
        *rest = NULL;
        *nrest = 0;
        if (max == 0 ||
            atomic_load_explicit(&q->len, memory_order_relaxed) == 0)
                return NULL;

        task__spin_lock(&q->lock);
        struct task *first = q->head;
        if (!first) {
                task__spin_unlock(&q->lock);
                return NULL;
        }
        size_t n = 1;
        struct task *last = first;
        while (n < max && last->next) {
                last = last->next;
                n++;
        }
        q->head = last->next;
        if (!q->head)
                q->tail = NULL;
        atomic_store_explicit(
            &q->len, atomic_load_explicit(&q->len, memory_order_relaxed) - n,
            memory_order_relaxed);
        task__spin_unlock(&q->lock);

        last->next = NULL;
        if (n > 1) {
                *rest = first->next;
                *nrest = n - 1;
        }
        first->next = NULL;
        return first;
}
