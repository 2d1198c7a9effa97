/*
 * inject-priv.h - the global injection queue (internal).
 *
 * Where tasks go when they are spawned or woken from outside a worker, and
 * where a full local queue overflows: an intrusive FIFO list (linked through
 * task->next) behind a spinlock, with an atomic length so that a worker can
 * see "empty" without taking the lock.  Any thread may call any function.
 */
#ifndef LIBTASK_INJECT_PRIV_H
#define LIBTASK_INJECT_PRIV_H

#include "lock-priv.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct task;

struct task__inject {
        struct task__spinlock lock;
        struct task *head, *tail; /* under lock */
        bool closed; /* under lock: set at shutdown, pushes dropped */
        /* Written under lock; read without it as a hint (relaxed). */
        _Atomic size_t len;
};

void task__inject_init(struct task__inject *q);
/* Push one task at the back. */
void task__inject_push(struct task__inject *q, struct task *t);
/* Push the list first..last (linked by ->next, @n tasks) at the back. */
void task__inject_push_batch(struct task__inject *q, struct task *first,
                             struct task *last, size_t n);

/*
 * Pop up to @max tasks: returns the first (NULL when empty); *@rest gets the
 * others as a NULL-terminated list and *@nrest their count.
 */
struct task *task__inject_pop_batch(struct task__inject *q, size_t max,
                                    struct task **rest, size_t *nrest);
/* A racy length hint. */
static inline size_t task__inject_len(struct task__inject *q)
{
        return atomic_load_explicit(&q->len, memory_order_relaxed);
}

#endif /* LIBTASK_INJECT_PRIV_H */
