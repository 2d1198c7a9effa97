/*
 * broadcast.c - the broadcast channel (libtask/broadcast.h): a ring that
 * senders write under a lock and receivers read without one.
 *
 * The ring has a power-of-two number of slots (at least the capacity);
 * position p (the p-th value ever sent, from 0) lives in slot p & mask.  A
 * slot is one word `seq` followed by the value's bytes in 64-bit words, all
 * atomics so that a receiver may read a slot while a sender rewrites it:
 *
 *   seq == 2p + 2   the slot holds position p, complete;
 *   seq == 2p + 1   a sender is writing position p into it;
 *   seq == 0        never written.
 *
 * A slot's seq only grows.  `tail` is (the number of values sent << 1) |
 * CLOSED.  Invariants:
 *
 *  - Senders (and whoever changes the queue, the counts or CLOSED) hold
 *    the lock (`c.lock`); so positions are written one at a time, in
 *    order, and the tail is only stored under the lock.
 *  - A receiver owns its `next` (the position it reads next); it is not
 *    shared, so a receiver is used by one task or thread at a time.
 *  - Position p is held while tail - p <= capacity.  A receiver with
 *    tail - next > capacity has lagged: it jumps to tail - capacity (the
 *    oldest held) and reports the difference.  It also finds out by
 *    reading its slot: a seq other than 2next+2 means a later position
 *    p' = next + k * slots (k >= 1, so p' >= next + capacity) is being or
 *    has been written there, and p' + 1 - capacity is then the oldest held.
 *  - A receiver waits only when next == tail (nothing for it) and the
 *    channel is open: under the lock it checks that, then queues its node
 *    with want = next (== tail).  So the queue is ordered by want, and a
 *    send of position p completes the waiters with want <= p, which are
 *    exactly those queued before it; waiters that queue while the sender
 *    has dropped the lock to wake a full batch are left for the next send.
 *  - The ends, the queue and the close are chan-priv.h's (the word there is
 *    `tail`): the channel is freed by whoever drops the last end, and no
 *    waiter can be left then, since waiters are receivers.
 *
 * Orderings (the seqlock protocol of Boehm, "Can seqlocks get along with
 * programming language memory models?", 2012, per slot):
 *
 *  - Sender: seq = 2p+1 (relaxed); release fence; value words (relaxed);
 *    seq = 2p+2 (release); tail (release).
 *  - Receiver: tail (acquire, pairs with the sender's tail store: the slot
 *    of every position below the tail has seq >= 2p+2); seq (acquire,
 *    pairs with seq = 2p+2: the words are that value's); value words
 *    (relaxed); acquire fence; seq again (relaxed).  If a sender began to
 *    overwrite the slot and the receiver read any of its words, the fences
 *    pair and the second seq load sees 2p'+1 or more: the copy is thrown
 *    away and reported as a lag.
 *
 * Waiting follows wait-priv.h; a completed node carries no data (result
 * 0): the woken receiver reads the ring itself, which is what makes a
 * receive cancellation-safe (nothing is consumed until the poll returns).
 */
#include "sync/chan-priv.h"

#include <libtask/broadcast.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BC_CLOSED TASK__CHAN_CLOSED
#define BC_SHIFT TASK__CHAN_SHIFT

struct task_broadcast {
        /* Read-only after creation. */
        _Atomic uint64_t *ring; /* slots * stride words, right after us */
        uint64_t cap;           /* capacity */
        uint64_t mask;          /* slots - 1 */
        size_t stride;          /* words per slot: 1 (seq) + value words */
        size_t elem_size;

        /* Stored by senders under the lock; loaded by receivers without. */
        _Alignas(TASK__CACHELINE) _Atomic uint64_t tail;

        /* The lock, the ends' counts, the waiting receivers. */
        _Alignas(TASK__CACHELINE) struct task__chan c;
};

struct task_broadcast_rx {
        struct task_broadcast *ch;
        uint64_t next; /* the owner's only */
};

static void bc_cancel(struct task_wait *w);

static const struct task_wait_ops bc_wait_ops = {
    .cancel = bc_cancel,
};

/* ---- Slots ---------------------------------------------------------------- */

static inline _Atomic uint64_t *bc_slot(struct task_broadcast *ch, uint64_t p)
{
        return ch->ring + (size_t)(p & ch->mask) * ch->stride;
}

/* ---- Receiving ------------------------------------------------------------ */

/* @rx lagged: move it to @oldest, the oldest position still held. */
static int bc_lagged(struct task_broadcast_rx *rx, uint64_t oldest,
                     uint64_t *missed)
{
        if (missed)
                *missed = oldest - rx->next;
        rx->next = oldest;
        return -EOVERFLOW;
}

/*
 * One receive attempt, lock-free: 0 (copied), -EOVERFLOW, -EPIPE (closed
 * and drained) or -EAGAIN (nothing new yet).
 */
static int bc_try(struct task_broadcast_rx *rx, void *out, uint64_t *missed)
{
        struct task_broadcast *ch = rx->ch;
        uint64_t next = rx->next;

        /* Acquire: pairs with the sender's release store of the tail. */
        uint64_t t = atomic_load_explicit(&ch->tail, memory_order_acquire);
        uint64_t tail = t >> BC_SHIFT;
        if (next >= tail)
                return (t & BC_CLOSED) ? -EPIPE : -EAGAIN;
        if (tail - next > ch->cap)
                return bc_lagged(rx, tail - ch->cap, missed);

        _Atomic uint64_t *slot = bc_slot(ch, next);
        uint64_t want = 2 * next + 2;
        /* Acquire: pairs with the release store of seq = 2next+2, after
         * which the words hold the value. */
        uint64_t s = atomic_load_explicit(&slot[0], memory_order_acquire);
        if (s == want) {
                task__words_load(out, slot + 1, ch->elem_size);
                /* Acquire fence: if we read a word of a later write, the
                 * seq load below sees that write's odd seq (it pairs with
                 * the sender's release fence). */
                atomic_thread_fence(memory_order_acquire);
                s = atomic_load_explicit(&slot[0], memory_order_relaxed);
                if (s == want) {
                        rx->next = next + 1;
                        return 0;
                }
        }
        /* Overwritten (s == 2p'+2) or being overwritten (s == 2p'+1) by
         * p' >= next + capacity: p' + 1 - capacity is the oldest held. */
        return bc_lagged(rx, (s - 1) / 2 + 1 - ch->cap, missed);
}

/*
 * Under the lock: is a receive on @rx still bound to wait?  (The tail and
 * CLOSED only change under the lock, so the answer holds until unlock.)
 */
static bool bc_must_wait_locked(struct task_broadcast_rx *rx)
{
        uint64_t t = atomic_load_explicit(&rx->ch->tail, memory_order_relaxed);
        return !(t & BC_CLOSED) && rx->next >= (t >> BC_SHIFT);
}

static void bc_cancel(struct task_wait *w)
{
        struct task_broadcast_rx *rx = w->obj;

        /* Woken or not, nothing was consumed. */
        task__chan_cancel(&rx->ch->c, w);
}

bool task_broadcast_recv_poll(struct task_cx *cx, task_broadcast_rx *rx,
                              struct task_broadcast_recv *op, void *out,
                              uint64_t *missed, int *rc)
{
        bool spent = false;
        int r;

        if (!cx || !rx || !op || (!out && rx->ch->elem_size)) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        struct task_wait *w = &op->w;
        if (cx->cancelling) {
                task_wait_cancel(w);
                return false;
        }
        uint32_t st = task__wait_state(w);
        if (st != TASK_WAIT_IDLE && w->obj != rx) {
                task_wait_cancel(w); /* reused for another receiver */
                st = TASK_WAIT_IDLE;
        }
        if (st == TASK_WAIT_QUEUED)
                return false; /* still waiting; our waker is in place */
        if (st == TASK_WAIT_DONE) {
                /* Woken by a send or the close: the ring tells what. */
                task__wait_reset(w);
        } else {
                if (!task_coop_proceed(cx))
                        return false;
                spent = true;
        }
        struct task_broadcast *ch = rx->ch;
        for (;;) {
                r = bc_try(rx, out, missed);
                if (r != -EAGAIN)
                        break;
                task__spin_lock(&ch->c.lock);
                if (bc_must_wait_locked(rx)) {
                        w->arg = rx->next;
                        w->result = 0;
                        task__wait_enqueue(cx, &ch->c.waiters, w, rx,
                                           &bc_wait_ops);
                        task__spin_unlock(&ch->c.lock);
                        if (spent)
                                cx->budget++; /* not ready: give it back */
                        return false;
                }
                task__spin_unlock(&ch->c.lock); /* a value came: read it */
        }
        if (rc)
                *rc = r;
        return true;
}

int task_broadcast_try_recv(task_broadcast_rx *rx, void *out, uint64_t *missed)
{
        if (!rx || (!out && rx->ch->elem_size))
                return -EINVAL;
        return bc_try(rx, out, missed);
}

int task_broadcast_recv_blocking(task_broadcast_rx *rx, void *out,
                                 uint64_t *missed)
{
        if (!rx || (!out && rx->ch->elem_size))
                return -EINVAL;
        if (task__on_worker())
                return -EDEADLK;

        struct task_broadcast *ch = rx->ch;
        for (;;) {
                int r = bc_try(rx, out, missed);
                if (r != -EAGAIN)
                        return r;
                struct task_wait w = {0};
                task__spin_lock(&ch->c.lock);
                if (!bc_must_wait_locked(rx)) {
                        task__spin_unlock(&ch->c.lock);
                        continue;
                }
                w.arg = rx->next;
                task__wait_enqueue(NULL, &ch->c.waiters, &w, rx, &bc_wait_ops);
                task__spin_unlock(&ch->c.lock);
                task__wait_block(&w); /* DONE: look at the ring again */
        }
}

/* ---- Sending -------------------------------------------------------------- */

int task_broadcast_send(task_broadcast_tx *ch, const void *value)
{
        struct task__wakelist wl;
        task__wakelist_init(&wl);

        if (!ch || (!value && ch->elem_size))
                return -EINVAL;
        task__spin_lock(&ch->c.lock);
        if (ch->c.rx_count == 0) {
                task__spin_unlock(&ch->c.lock);
                return -EPIPE; /* Tokio's SendError: nothing stored */
        }
        /* Relaxed: the tail is only stored under the lock we hold. */
        uint64_t t = atomic_load_explicit(&ch->tail, memory_order_relaxed);
        uint64_t pos = t >> BC_SHIFT;
        _Atomic uint64_t *slot = bc_slot(ch, pos);

        atomic_store_explicit(&slot[0], 2 * pos + 1, memory_order_relaxed);
        /* Release fence: a receiver that reads any word stored below sees
         * the odd seq above in its second seq load (it pairs with the
         * receiver's acquire fence). */
        atomic_thread_fence(memory_order_release);
        task__words_store(slot + 1, value, ch->elem_size);
        /* Release: publishes the words to a receiver's acquire seq load. */
        atomic_store_explicit(&slot[0], 2 * pos + 2, memory_order_release);
        /* Release: publishes the slot to a receiver's acquire tail load. */
        atomic_store_explicit(&ch->tail,
                              ((pos + 1) << BC_SHIFT) | (t & BC_CLOSED),
                              memory_order_release);
        size_t n = ch->c.rx_count;
        /* The waiters with want <= pos: those queued before this send. */
        task__chan_wake_locked(&ch->c, pos + 1, &wl);
        task__spin_unlock(&ch->c.lock);
        task__wakelist_wake(&wl);
        return n > INT_MAX ? INT_MAX : (int)n;
}

/* ---- Ends ----------------------------------------------------------------- */

int task_broadcast_new(size_t capacity, size_t elem_size,
                       task_broadcast_tx **tx, task_broadcast_rx **rx)
{
        struct task_broadcast *ch;
        struct task_broadcast_rx *r = NULL;

        if (!tx || capacity == 0 || capacity > TASK_BROADCAST_MAX_CAPACITY)
                return -EINVAL;
        size_t slots = 1;
        while (slots < capacity)
                slots <<= 1;
        size_t stride = 1 + elem_size / 8 + (elem_size % 8 != 0);
        size_t head =
            (sizeof *ch + TASK__CACHELINE - 1) & ~(size_t)(TASK__CACHELINE - 1);
        if (stride > (SIZE_MAX - head - TASK__CACHELINE) / 8 / slots)
                return -EINVAL; /* the ring cannot be addressed */
        size_t size = head + slots * stride * 8;
        size = (size + TASK__CACHELINE - 1) & ~(size_t)(TASK__CACHELINE - 1);

        if (task__fault_alloc())
                return -ENOMEM;
        ch = aligned_alloc(TASK__CACHELINE, size);
        if (!ch)
                return -ENOMEM;
        if (rx) {
                r = task__chan_malloc(sizeof *r);
                if (!r) {
                        free(ch);
                        return -ENOMEM;
                }
        }
        /* Every seq starts at 0 ("never written"). */
        memset(ch, 0, size);
        ch->ring = (_Atomic uint64_t *)((char *)ch + head);
        ch->cap = capacity;
        ch->mask = slots - 1;
        ch->stride = stride;
        ch->elem_size = elem_size;
        atomic_init(&ch->tail, 0);
        task__chan_init(&ch->c, r ? 1 : 0);
        if (r) {
                r->ch = ch;
                r->next = 0;
                *rx = r;
        }
        *tx = ch;
        return 0;
}

int task_broadcast_tx_clone(task_broadcast_tx *tx, task_broadcast_tx **out)
{
        if (!tx || !out)
                return -EINVAL;
        task__chan_tx_clone(&tx->c);
        *out = tx;
        return 0;
}

void task_broadcast_tx_drop(task_broadcast_tx *ch)
{
        /* The last one sets CLOSED in the tail (receivers that see it with
         * their acquire tail load see every value sent before) and wakes
         * every waiter. */
        if (ch && task__chan_tx_drop(&ch->c, &ch->tail))
                free(ch);
}

/* A new receiver at @next (or at the tail for UINT64_MAX). */
static int bc_new_rx(struct task_broadcast *ch, uint64_t next,
                     task_broadcast_rx **out)
{
        struct task_broadcast_rx *r = task__chan_malloc(sizeof *r);
        if (!r)
                return -ENOMEM;
        r->ch = ch;
        r->next = task__chan_rx_add(&ch->c, &ch->tail, next);
        *out = r;
        return 0;
}

int task_broadcast_subscribe(task_broadcast_tx *tx, task_broadcast_rx **out)
{
        if (!tx || !out)
                return -EINVAL;
        return bc_new_rx(tx, UINT64_MAX, out);
}

int task_broadcast_rx_clone(task_broadcast_rx *rx, task_broadcast_rx **out)
{
        if (!rx || !out)
                return -EINVAL;
        return bc_new_rx(rx->ch, rx->next, out);
}

int task_broadcast_resubscribe(task_broadcast_rx *rx, task_broadcast_rx **out)
{
        if (!rx || !out)
                return -EINVAL;
        return bc_new_rx(rx->ch, UINT64_MAX, out);
}

void task_broadcast_rx_drop(task_broadcast_rx *rx)
{
        if (!rx)
                return;
        struct task_broadcast *ch = rx->ch;
        bool last = task__chan_rx_drop(&ch->c);
        free(rx);
        if (last)
                free(ch);
}

/* ---- Queries -------------------------------------------------------------- */

size_t task_broadcast_receiver_count(task_broadcast_tx *tx)
{
        return tx ? task__chan_rx_count(&tx->c) : 0;
}

uint64_t task_broadcast_rx_len(task_broadcast_rx *rx)
{
        if (!rx)
                return 0;
        /* Acquire: as in bc_try (a value counted here can be received). */
        uint64_t tail =
            atomic_load_explicit(&rx->ch->tail, memory_order_acquire) >>
            BC_SHIFT;
        return tail > rx->next ? tail - rx->next : 0;
}

bool task_broadcast_rx_is_closed(task_broadcast_rx *rx)
{
        /* Acquire: pairs with the release of CLOSED in tx_drop, so that
         * every value sent before the close is visible afterwards. */
        return rx &&
               (atomic_load_explicit(&rx->ch->tail, memory_order_acquire) &
                BC_CLOSED);
}
