/*
 * chan-priv.h - what the watch and broadcast channels share (internal).
 *
 * Both are one heap allocation shared by counted ends, with a queue of
 * receivers waiting for something new, and a 64-bit word that receivers
 * read without the lock: (position << TASK__CHAN_SHIFT) | TASK__CHAN_CLOSED,
 * where the position is watch.c's version or broadcast.c's tail.  The word
 * stays in the channel's own struct (on the readers' cache line); the rest
 * is struct task__chan, embedded on a line of its own:
 *
 *  - `lock` orders everything below, and every store to the word: senders
 *    hold it, so the word has one writer at a time.
 *  - `tx_count`, `rx_count`: the live ends.  Whoever drops the last end
 *    (both zero, checked under the lock) frees the channel.  **The last
 *    sender keeps its count until it is done with the channel**: closing
 *    wakes every waiter, dropping the lock for each full batch, and a
 *    receiver dropped in that window must not see both counts at zero.
 *  - `waiters`: receivers' wait nodes (wait-priv.h), each with arg = the
 *    word's position when it queued (watch: the version it has seen;
 *    broadcast: the next position it reads, the tail).  A receiver queues
 *    only while that is so, checked under the lock, so the queue is
 *    ordered by arg, and a send completes the nodes whose arg is below the
 *    new position.  A completed node carries no data (result 0): the woken
 *    receiver looks at the channel itself, so a wait cancelled after its
 *    wake-up has consumed nothing.
 *
 * Who calls: watch.c and broadcast.c only.  The per-channel parts (the
 * value or ring, the poll, try and blocking bodies) stay in those files.
 */
#ifndef LIBTASK_SYNC_CHAN_PRIV_H
#define LIBTASK_SYNC_CHAN_PRIV_H

#include "sync/wait-priv.h"

#include <stdlib.h>
#include <string.h>

#define TASK__CHAN_CLOSED UINT64_C(1)
#define TASK__CHAN_SHIFT 1

struct task__chan {
        struct task__spinlock lock;
        size_t tx_count, rx_count; /* under the lock */
        struct task_waitq waiters; /* under the lock */
};

/* One sender, @rx_count receivers (0 or 1), nobody waiting. */
static inline void task__chan_init(struct task__chan *c, size_t rx_count)
{
        task__spin_init(&c->lock);
        task__waitq_init(&c->waiters);
        c->tx_count = 1;
        c->rx_count = rx_count;
}

/* ---- Values as relaxed words (read while a sender may rewrite them) ----- */

/* Store @n bytes from @src as relaxed 64-bit words. */
static inline void task__words_store(_Atomic uint64_t *dst, const void *src,
                                     size_t n)
{
        const unsigned char *s = src;
        uint64_t v;

        for (; n >= 8; n -= 8, s += 8) {
                memcpy(&v, s, 8);
                atomic_store_explicit(dst++, v, memory_order_relaxed);
        }
        if (n) {
                v = 0;
                memcpy(&v, s, n);
                atomic_store_explicit(dst, v, memory_order_relaxed);
        }
}

/* Load @n bytes into @out from relaxed 64-bit words. */
static inline void task__words_load(void *out, _Atomic uint64_t *src, size_t n)
{
        unsigned char *d = out;
        uint64_t v;

        for (; n >= 8; n -= 8, d += 8) {
                v = atomic_load_explicit(src++, memory_order_relaxed);
                memcpy(d, &v, 8);
        }
        if (n) {
                v = atomic_load_explicit(src, memory_order_relaxed);
                memcpy(d, &v, n);
        }
}

/* ---- Waiters -------------------------------------------------------------- */

/*
 * Under the lock: complete the queued receivers with arg < @limit (all of
 * them for UINT64_MAX), dropping the lock to wake each full batch (see
 * task__wakelist_wake: the queue is read again after each).  Waiters that
 * queue in such a window have seen what we are announcing: they wait for
 * the next one, and their arg is not below @limit (after the close, none
 * queues at all).
 */
static inline void task__chan_wake_locked(struct task__chan *c, uint64_t limit,
                                          struct task__wakelist *wl)
{
        struct task_wait *w;

        while ((w = c->waiters.head) != NULL && w->arg < limit) {
                if (task__wakelist_full(wl)) {
                        task__spin_unlock(&c->lock);
                        task__wakelist_wake(wl);
                        task__spin_lock(&c->lock);
                        continue; /* the queue may have changed */
                }
                task__waitq_remove(&c->waiters, w);
                w->result = 0;
                task__wait_complete(wl, w);
        }
}

/*
 * The ops->cancel of a receiver's wait (step 4 of wait-priv.h): a queued
 * node leaves the queue; a completed one is simply taken back, since a
 * completion hands over nothing.
 */
static inline void task__chan_cancel(struct task__chan *c, struct task_wait *w)
{
        task__spin_lock(&c->lock);
        uint32_t st = task__wait_state(w);
        if (st == TASK_WAIT_QUEUED)
                task__wait_unqueue(&c->waiters, w);
        else if (st == TASK_WAIT_DONE)
                task__wait_reset(w);
        task__spin_unlock(&c->lock);
}

/* ---- Ends ------------------------------------------------------------------- */

static inline void task__chan_tx_clone(struct task__chan *c)
{
        task__spin_lock(&c->lock);
        c->tx_count++;
        task__spin_unlock(&c->lock);
}

/*
 * Drop a sender.  The last one sets CLOSED in @word (release: a receiver
 * that sees CLOSED with its acquire load of the word also sees everything
 * sent before) and wakes every waiter.  It is still counted meanwhile, so
 * that a receiver dropped while the lock is released for a batch of wakes
 * cannot free the channel under us; only then does the count go.  Returns
 * true when the caller must free the channel (no end is left).
 */
static inline bool task__chan_tx_drop(struct task__chan *c,
                                      _Atomic uint64_t *word)
{
        struct task__wakelist wl;
        task__wakelist_init(&wl);

        task__spin_lock(&c->lock);
        if (c->tx_count == 1) {
                atomic_fetch_or_explicit(word, TASK__CHAN_CLOSED,
                                         memory_order_release);
                task__chan_wake_locked(c, UINT64_MAX, &wl);
        }
        bool last = --c->tx_count == 0 && c->rx_count == 0;
        task__spin_unlock(&c->lock);
        /* The wake list holds tasks' wakers and threads' futex words,
         * nothing of the channel: it may be freed first. */
        task__wakelist_wake(&wl);
        return last;
}

/*
 * Count a new receiver; returns the position it starts at: @pos, or for
 * UINT64_MAX the word's current one (read under the lock, where the word
 * changes, so relaxed).
 */
static inline uint64_t task__chan_rx_add(struct task__chan *c,
                                         _Atomic uint64_t *word, uint64_t pos)
{
        task__spin_lock(&c->lock);
        if (pos == UINT64_MAX)
                pos = atomic_load_explicit(word, memory_order_relaxed) >>
                      TASK__CHAN_SHIFT;
        c->rx_count++;
        task__spin_unlock(&c->lock);
        return pos;
}

/* Drop a receiver's count; true when the caller must free the channel. */
static inline bool task__chan_rx_drop(struct task__chan *c)
{
        task__spin_lock(&c->lock);
        c->rx_count--;
        bool last = c->tx_count == 0 && c->rx_count == 0;
        task__spin_unlock(&c->lock);
        return last;
}

static inline size_t task__chan_rx_count(struct task__chan *c)
{
        task__spin_lock(&c->lock);
        size_t n = c->rx_count;
        task__spin_unlock(&c->lock);
        return n;
}

/* An allocation that the fault-injection hook (runtime-priv.h) may fail. */
static inline void *task__chan_malloc(size_t size)
{
        return task__fault_alloc() ? NULL : malloc(size);
}

#endif /* LIBTASK_SYNC_CHAN_PRIV_H */
