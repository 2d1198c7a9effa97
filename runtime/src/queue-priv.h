/*
 * queue-priv.h - the per-worker local run queue (internal).
 *
 * A bounded ring of task pointers owned by one worker, after Tokio's
 * multi_thread/queue.rs: only the owner pushes and pops; any other worker
 * may steal half of it.  Capacity is a power of two (256 by default).
 *
 * `head` packs two 32-bit indices: `real`, the next slot to pop, and
 * `steal`, which trails `real` while a thief is copying the slots it claimed
 * (steal == real means no steal in progress).  `tail` is the next slot to
 * push and is written only by the owner.  Indices run freely and wrap; a
 * slot is `index & mask`.  Only one thief at a time: a thief that sees
 * steal != real gives up.
 *
 * Who calls what: *_owner functions only on the owning worker's thread;
 * task__queue_steal_into() on the thief's thread (which owns @dst);
 * task__queue_len() anywhere (a racy snapshot).
 */
#ifndef LIBTASK_QUEUE_PRIV_H
#define LIBTASK_QUEUE_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct task;
struct task__inject;

struct task__queue {
        /* Written by the owner (pop) and thieves (CAS); read by both. */
        _Atomic uint64_t head;
        /* Written only by the owner (release); read by thieves (acquire). */
        _Atomic uint32_t tail;
        uint32_t mask;     /* capacity - 1; immutable */
        struct task **buf; /* capacity slots; owned by the queue */
};

/* Outcome counters a queue operation reports to its caller's metrics. */
struct task__queue_stats {
        uint64_t overflows;   /* times half the queue moved to @inject */
        uint64_t steal_ops;   /* successful steals */
        uint64_t steal_tasks; /* tasks they moved */
};

/* Set up an empty queue of @capacity (power of two, 2..65536).  0 or -ENOMEM. */
int task__queue_init(struct task__queue *q, uint32_t capacity);
/* Free the ring.  Tasks still in it are not touched. */
void task__queue_destroy(struct task__queue *q);

/*
 * Push @t at the back.  When the queue is full, half of it plus @t move to
 * @inject as one batch (an overflow, counted in @st).
 */
void task__queue_push_back_owner(struct task__queue *q, struct task *t,
                                 struct task__inject *inject,
                                 struct task__queue_stats *st);

/* Pop from the front, or NULL when empty. */
struct task *task__queue_pop_owner(struct task__queue *q);

/*
 * Steal half of @src's tasks into @dst (owned by the caller): one of them
 * is returned for the caller to run, the rest are pushed to @dst.  NULL
 * when @src is empty, another thief is busy on it, or @dst is more than
 * half full.
 */
struct task *task__queue_steal_into(struct task__queue *src,
                                    struct task__queue *dst,
                                    struct task__queue_stats *st);

/* Tasks in the queue now (a snapshot when called off the owner thread). */
uint32_t task__queue_len(const struct task__queue *q);

/* Free slots (owner only). */
uint32_t task__queue_remaining_owner(const struct task__queue *q);

/* Push up to @n tasks from the linked list @first (via task->next), owner only;
 * returns how many were pushed. The caller guarantees they fit. */
void task__queue_push_list_owner(struct task__queue *q, struct task *first,
                                 uint32_t n);

#endif /* LIBTASK_QUEUE_PRIV_H */
