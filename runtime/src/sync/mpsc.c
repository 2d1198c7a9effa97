/*
 * mpsc.c - multi-producer, single-consumer channels (libtask/mpsc.h).
 *
 * Bounded: a ring of slots (a power of two >= capacity), each with a
 * sequence number, and three counters on three cache lines:
 *
 *   word      the producers' line: the next position to claim (`tail`),
 *             `acct` (the producers' latest view of `released`) and
 *             CLOSED; everything a claim decides is decided by one CAS.
 *   released  the consumer's line: how many positions it has consumed
 *             and given back (its head, published).
 *   wflag     a read-mostly line: set while senders are queued for room
 *             (the wait queue itself is under `lock`).
 *
 * There is room while tail - acct < capacity.  When a producer finds
 * none, it reads `released`; if the consumer has moved on, the same CAS
 * that claims also advances acct.  So a producer touches the consumer's
 * line only when the channel looks full, and the consumer never touches
 * the producers' line on the way: a value costs the producer one CAS and
 * a store, the consumer one RMW on its own line.
 *
 *   send:  CAS tail + 1 (the position is ours), copy the value into its
 *          slot, publish it by storing the slot's sequence number
 *          (position + 1), wake the receiver if it is registered.
 *   recv:  read the slot at head; once published for this position, copy
 *          the value out, advance head, give the slot back (`released`;
 *          recv_many gives back a batch at once), and look at wflag.
 *
 * A claimed position is less than `capacity` ahead of a released one, so
 * its slot, a lap earlier, has been read: the consumer's read happens
 * before its release RMW on `released`, which the claimer's acquire load
 * (directly, or through another producer's CAS of acct) pairs with.
 *
 * Fairness (the discipline of semaphore.c): a sender that finds no room
 * takes the lock, sets wflag and queues a wait node.  While wflag is set
 * the lock-free claim is off, so nobody who arrives later overtakes the
 * queue; slots are granted under the lock, head first, a position
 * claimed for each waiter (its node's arg).  Whoever gives slots back
 * grants them: the consumer sees wflag after its release RMW (and the
 * queueing sender, after setting wflag with an RMW, reads `released`: of
 * the two seq_cst pairs at least one sees the other, so a freed slot and
 * a queued sender always meet).  A granted sender copies its value in
 * when it is next polled; cancelled instead, it publishes its slot VOID
 * (no value), which the consumer skips and gives back.
 *
 * Closing sets CLOSED in the word under the lock and fails the queued
 * senders with -EPIPE.  A claim checks CLOSED in its own CAS, so every
 * position claimed before the close is delivered and none comes after it:
 * the receiver is done when CLOSED is set and head has reached tail.
 *
 * The receiver's registration (`rx_waker`): one word holding its task's
 * waker (a reference) or, for recv_blocking, the address of the thread's
 * wait node (wait-priv.h, completed as any other) tagged with bit 0, or 0.
 * Whoever exchanges a non-zero value out owns it.  The receiver installs
 * it (seq_cst exchange) and then looks again: at the slot at head, then at
 * the word.  A sender whose claim came after that look sees the
 * registration (its claim CAS and its load of rx_waker are seq_cst, after
 * the exchange).  A claim made before it may have looked too early, so
 * when tail is ahead of head and the slot is not published yet (a sender
 * between its claim and its store: a few instructions), the receiver does
 * not sleep but yields and looks again.  Granted positions are the
 * exception, since their sender may not run for a while: the granter marks
 * the slot PENDING, and the granted sender publishes with a seq_cst
 * exchange before loading rx_waker, so a receiver that saw PENDING after
 * registering can sleep (one of the two sees the other).
 *
 * Unbounded: a spinlock over a list of blocks of 32 values, the emptied
 * blocks recycled (a few are kept), the consumer taking a batch per lock;
 * the word serves for its CLOSED bit only.  A sender publishes under
 * ub_lock and then loads rx_waker; the receiver registers (its exchange,
 * no lock) and then re-checks under ub_lock.  The lock orders the two:
 * if the re-check takes it after the send, it finds the value; if before,
 * the registration happens before the send's critical section (through
 * the re-check's unlock and the send's lock) and so before its load of
 * rx_waker, which then sees it.
 *
 * Who writes what: `head` and the unbounded reading state are the
 * consumer's (one receive at a time), `released` too (others read it);
 * the word is the producers' (and the granter's, and the closer's); the
 * wait queue and wflag are under `lock`; `rx_waker` as above.
 */
#include "sync/wait-priv.h"

#include <libtask/mpsc.h>

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* The word: CLOSED, acct in bits 1..31, tail in bits 32..62. */
#define W_CLOSED UINT64_C(1)
#define POS_BITS 31
#define POS_MASK ((UINT64_C(1) << POS_BITS) - 1)
#define W_ACCT(w) (((w) >> 1) & POS_MASK)
#define W_TAIL(w) (((w) >> 32) & POS_MASK)
#define W_MAKE(tail, acct, closed)                                             \
        ((((tail)&POS_MASK) << 32) | (((acct)&POS_MASK) << 1) | (closed))

/* A slot's seq: (position + 1) & POS_MASK, with these flags. */
#define SLOT_VOID (UINT64_C(1) << 63)    /* published, no value */
#define SLOT_PENDING (UINT64_C(1) << 62) /* granted, not yet published */

/* mpsc_take: empty, but a claim at head is being published. */
#define TAKE_IN_FLIGHT (-EINPROGRESS)

#define UB_BLOCK 32 /* values per unbounded block */
#define UB_KEEP 4   /* emptied blocks kept for reuse */

/* A send wait node's result, set with DONE: granted, or 0 (closed). */
#define SEND_GRANTED 1 /* w->arg is our position */

_Static_assert(TASK_MPSC_MAX_CAPACITY < (UINT64_C(1) << (POS_BITS - 1)),
               "positions must tell a full ring from an empty one");

struct mpsc_slot {
        /* (position + 1) & POS_MASK once published (| SLOT_VOID), or
         * | SLOT_PENDING once granted: written by the sender that claimed
         * it (or its granter), read by the consumer. */
        _Atomic uint64_t seq;
        unsigned char data[];
};

struct mpsc_block {
        struct mpsc_block *next;
        _Alignas(max_align_t) unsigned char data[];
};

struct task_mpsc {
        /* ---- immutable after creation ---- */
        size_t elem_size;
        size_t stride; /* bytes per slot (bounded) */
        size_t cap;    /* capacity; 0: unbounded */
        uint64_t mask; /* ring size - 1 (bounded) */
        unsigned char *ring;
        void (*elem_drop)(void *elem);
        /* References: senders + 1 for the receiver. */
        _Atomic uint64_t refs;
        _Atomic uint64_t senders;

        /* ---- the producers' line: see the head comment ---- */
        _Alignas(TASK__CACHELINE) _Atomic uint64_t word;

        /* ---- the consumer's: head, and `released` for everybody ---- */
        _Alignas(TASK__CACHELINE) _Atomic uint64_t released;
        uint64_t head;

        /* ---- read-mostly: the receiver's registration ---- */
        _Alignas(TASK__CACHELINE) _Atomic uintptr_t rx_waker;

        /* ---- read-mostly: senders are queued ---- */
        _Alignas(TASK__CACHELINE) _Atomic uint32_t wflag;

        /* ---- senders waiting for room, FIFO (bounded) ---- */
        _Alignas(TASK__CACHELINE) struct task__spinlock lock;
        struct task_waitq waiters;

        /* ---- unbounded: all under ub_lock ---- */
        _Alignas(TASK__CACHELINE) struct task__spinlock ub_lock;
        struct mpsc_block *ub_head, *ub_tail, *ub_free;
        unsigned ub_hidx, ub_tidx, ub_nfree;
        size_t ub_len;
};

static void mpsc_send_cancel(struct task_wait *w);
static void mpsc_recv_cancel(struct task_wait *w);

static const struct task_wait_ops mpsc_send_ops = {
    .cancel = mpsc_send_cancel,
};

static const struct task_wait_ops mpsc_recv_ops = {
    .cancel = mpsc_recv_cancel,
};

static inline struct task_mpsc *ch_of_tx(task_mpsc_tx *tx)
{
        return (struct task_mpsc *)(void *)tx;
}

static inline struct task_mpsc *ch_of_rx(task_mpsc_rx *rx)
{
        return (struct task_mpsc *)(void *)rx;
}

static inline struct mpsc_slot *slot_at(struct task_mpsc *ch, uint64_t pos)
{
        return (struct mpsc_slot *)(void *)(ch->ring +
                                            (pos & ch->mask) * ch->stride);
}

static inline unsigned char *ub_elem(struct task_mpsc *ch, struct mpsc_block *b,
                                     unsigned i)
{
        return b->data + (size_t)i * ch->elem_size;
}

/* ---- Creation and freeing -------------------------------------------------- */

static struct mpsc_block *ub_block_alloc(struct task_mpsc *ch)
{
        if (task__fault_alloc())
                return NULL;
        struct mpsc_block *b =
            malloc(sizeof *b + (size_t)UB_BLOCK * ch->elem_size);
        if (b)
                b->next = NULL;
        return b;
}

int task_mpsc_new_opts(const struct task_mpsc_opts *o, task_mpsc_tx **tx,
                       task_mpsc_rx **rx)
{
        if (!o || !tx || !rx || o->elem_size > TASK_MPSC_MAX_ELEM ||
            o->capacity > TASK_MPSC_MAX_CAPACITY)
                return -EINVAL;

        size_t head_size = (sizeof(struct task_mpsc) + TASK__CACHELINE - 1) &
                           ~(size_t)(TASK__CACHELINE - 1);
        size_t stride = sizeof(struct mpsc_slot) + ((o->elem_size + 7) & ~7u);
        size_t ring = 1;
        while (ring < o->capacity)
                ring <<= 1;
        size_t size = head_size + (o->capacity ? ring * stride : 0);
        size = (size + TASK__CACHELINE - 1) & ~(size_t)(TASK__CACHELINE - 1);

        if (task__fault_alloc())
                return -ENOMEM;
        struct task_mpsc *ch = aligned_alloc(TASK__CACHELINE, size);
        if (!ch)
                return -ENOMEM;
        memset(ch, 0, head_size);
        ch->elem_size = o->elem_size;
        ch->elem_drop = o->elem_drop;
        ch->cap = o->capacity;
        atomic_init(&ch->refs, 2);
        atomic_init(&ch->senders, 1);
        atomic_init(&ch->word, 0);
        atomic_init(&ch->released, 0);
        atomic_init(&ch->wflag, 0);
        task__spin_init(&ch->lock);
        task__waitq_init(&ch->waiters);
        atomic_init(&ch->rx_waker, 0);
        ch->head = 0;
        task__spin_init(&ch->ub_lock);
        if (o->capacity) {
                ch->stride = stride;
                ch->mask = ring - 1;
                ch->ring = (unsigned char *)ch + head_size;
                for (size_t i = 0; i < ring; i++)
                        atomic_init(&slot_at(ch, i)->seq, 0);
        } else {
                ch->ub_head = ch->ub_tail = ub_block_alloc(ch);
                if (!ch->ub_head) {
                        free(ch);
                        return -ENOMEM;
                }
        }
        *tx = (task_mpsc_tx *)(void *)ch;
        *rx = (task_mpsc_rx *)(void *)ch;
        return 0;
}

int task_mpsc_new(size_t capacity, size_t elem_size, task_mpsc_tx **tx,
                  task_mpsc_rx **rx)
{
        if (capacity == 0)
                return -EINVAL;
        struct task_mpsc_opts o = {.capacity = capacity,
                                   .elem_size = elem_size};
        return task_mpsc_new_opts(&o, tx, rx);
}

int task_mpsc_unbounded_new(size_t elem_size, task_mpsc_tx **tx,
                            task_mpsc_rx **rx)
{
        struct task_mpsc_opts o = {.elem_size = elem_size};
        return task_mpsc_new_opts(&o, tx, rx);
}

/*
 * Pass every value still inside to elem_drop (the consumer's side: the
 * receiver being dropped, or the last reference).  Bounded: published
 * slots only; an unpublished one ends the walk (its sender publishes
 * later, and the free walks again).  Nothing is given back: the channel
 * is closed.
 */
static void mpsc_drain(struct task_mpsc *ch)
{
        if (ch->cap) {
                for (;;) {
                        struct mpsc_slot *s = slot_at(ch, ch->head);
                        /* Acquire: pairs with mpsc_publish's release store
                         * (or seq_cst exchange) of seq; the value is
                         * readable. */
                        uint64_t seq =
                            atomic_load_explicit(&s->seq, memory_order_acquire);
                        if ((seq & ~SLOT_VOID) != ((ch->head + 1) & POS_MASK))
                                break;
                        if (!(seq & SLOT_VOID) && ch->elem_drop)
                                ch->elem_drop(s->data);
                        ch->head++;
                }
                return;
        }
        task__spin_lock(&ch->ub_lock);
        while (ch->ub_len > 0) {
                if (ch->ub_hidx == UB_BLOCK) {
                        struct mpsc_block *b = ch->ub_head;
                        ch->ub_head = b->next;
                        ch->ub_hidx = 0;
                        b->next = ch->ub_free;
                        ch->ub_free = b;
                }
                if (ch->elem_drop)
                        ch->elem_drop(ub_elem(ch, ch->ub_head, ch->ub_hidx));
                ch->ub_hidx++;
                ch->ub_len--;
        }
        task__spin_unlock(&ch->ub_lock);
}

static void mpsc_free(struct task_mpsc *ch)
{
        mpsc_drain(ch);
        uintptr_t w = atomic_load_explicit(&ch->rx_waker, memory_order_relaxed);
        if (w && !(w & 1))
                task_waker_drop((task_waker *)w);
        if (!ch->cap) {
                struct mpsc_block *lists[2] = {ch->ub_head, ch->ub_free};
                for (int i = 0; i < 2; i++) {
                        for (struct mpsc_block *b = lists[i], *n; b; b = n) {
                                n = b->next;
                                free(b);
                        }
                }
        }
        free(ch);
}

static void mpsc_unref(struct task_mpsc *ch)
{
        /* Acq_rel: our accesses happen before the free; the freer sees
         * everybody's. */
        if (atomic_fetch_sub_explicit(&ch->refs, 1, memory_order_acq_rel) == 1)
                mpsc_free(ch);
}

/* ---- Waking the receiver --------------------------------------------------- */

/* Wake whatever @w (exchanged out of rx_waker, non-zero) stands for. */
static void mpsc_wake_taken(uintptr_t w)
{
        if (!(w & 1)) {
                task_wake((task_waker *)w);
                return;
        }
        /* A thread's node in recv_blocking: complete it (wait-priv.h step
         * 2; it carries no outcome) and wake its futex word.  The thread
         * may return as soon as it sees DONE: we no longer touch the node,
         * and a late futex wake on its stack is harmless. */
        struct task__wakelist wl;
        task__wakelist_init(&wl);
        task__wait_complete(&wl, (struct task_wait *)(w & ~(uintptr_t)1));
        task__wakelist_wake(&wl);
}

/*
 * After a publish or a close (a seq_cst RMW, or an unlock): wake the
 * receiver if it is registered.
 */
static inline void mpsc_wake_rx(struct task_mpsc *ch)
{
        /* Seq_cst: the other half of the receiver's exchange-then-recheck
         * (see the head comment). */
        if (!atomic_load_explicit(&ch->rx_waker, memory_order_seq_cst))
                return;
        /* Acq_rel: acquire the waker reference the receiver published. */
        uintptr_t w =
            atomic_exchange_explicit(&ch->rx_waker, 0, memory_order_acq_rel);
        if (w)
                mpsc_wake_taken(w);
}

/* ---- Claiming slots (bounded) ---------------------------------------------- */

/* Copy one value: common sizes inline, the rest through memcpy. */
static inline void elem_copy(void *dst, const void *src, size_t n)
{
        switch (n) {
        case 0:
                return;
        case 4:
                memcpy(dst, src, 4);
                return;
        case 8:
                memcpy(dst, src, 8);
                return;
        case 16:
                memcpy(dst, src, 16);
                return;
        default:
                memcpy(dst, src, n);
        }
}

/*
 * Claim the next position if there is room, in one CAS: returns it (>= 0),
 * -EAGAIN (full), or -EPIPE (closed).  @rel_order: the order of the load
 * of `released` (the granter needs seq_cst: see the head comment).
 */
static inline int64_t mpsc_claim(struct task_mpsc *ch, memory_order rel_order)
{
        uint64_t cur = atomic_load_explicit(&ch->word, memory_order_relaxed);
        for (;;) {
                if (cur & W_CLOSED)
                        return -EPIPE;
                uint64_t tail = W_TAIL(cur), acct = W_ACCT(cur);
                if (((tail - acct) & POS_MASK) >= ch->cap) {
                        /* Acquire (at least): pairs with the consumer's
                         * release of the slots it read. */
                        acct = atomic_load_explicit(&ch->released, rel_order) &
                               POS_MASK;
                        if (((tail - acct) & POS_MASK) >= ch->cap)
                                return -EAGAIN;
                }
                /* Seq_cst: the claim precedes our load of rx_waker in the
                 * single order (see the head comment); it also carries the
                 * acct another producer acquired to us. */
                if (atomic_compare_exchange_weak_explicit(
                        &ch->word, &cur, W_MAKE(tail + 1, acct, 0),
                        memory_order_seq_cst, memory_order_relaxed))
                        return (int64_t)tail;
        }
}

/* The lock-free claim: as mpsc_claim, but -EAGAIN while senders queue. */
static inline int64_t mpsc_claim_fast(struct task_mpsc *ch)
{
        /* Relaxed: a sender that queues meanwhile is overtaken only by a
         * claim that looked at wflag before it was set (arrived first). */
        if (atomic_load_explicit(&ch->wflag, memory_order_relaxed))
                return atomic_load_explicit(&ch->word, memory_order_relaxed) &
                               W_CLOSED
                           ? -EPIPE
                           : -EAGAIN;
        return mpsc_claim(ch, memory_order_acquire);
}

/*
 * Under the lock: grant room to the queue, head first, each waiter with a
 * freshly claimed position (its slot marked PENDING); clear wflag once the
 * queue is empty.  @self (may be NULL) is the caller's own node: if
 * granted, it is unlinked without a wake-up and its position returned;
 * otherwise -1.
 */
static int64_t mpsc_grant_locked(struct task_mpsc *ch, struct task_wait *self,
                                 struct task__wakelist *wl)
{
        int64_t mine = -1;
        struct task_wait *w;

        while ((w = ch->waiters.head) != NULL) {
                if (w != self && task__wakelist_full(wl)) {
                        task__spin_unlock(&ch->lock);
                        task__wakelist_wake(wl);
                        task__spin_lock(&ch->lock);
                        continue; /* the queue may have changed */
                }
                /* Seq_cst load of released: the queueing side of the
                 * wflag / released pair (see the head comment). */
                int64_t pos = mpsc_claim(ch, memory_order_seq_cst);
                if (pos < 0)
                        return mine; /* no room (closed: the queue is empty) */
                if (w == self) {
                        task__wait_unqueue(&ch->waiters, w);
                        mine = pos;
                        continue;
                }
                /* Relaxed: ordered before the waiter's publish by its DONE
                 * (release) and before the consumer's look by nothing: a
                 * consumer that misses it yields and looks again. */
                atomic_store_explicit(&slot_at(ch, (uint64_t)pos)->seq,
                                      (((uint64_t)pos + 1) & POS_MASK) |
                                          SLOT_PENDING,
                                      memory_order_relaxed);
                task__waitq_remove(&ch->waiters, w);
                w->arg = (uint64_t)pos;
                w->result = SEND_GRANTED;
                task__wait_complete(wl, w);
        }
        /* Empty: the lock-free path is open again. */
        atomic_store_explicit(&ch->wflag, 0, memory_order_relaxed);
        return mine;
}

/*
 * The slow claim, under the lock: a position (>= 0), -EPIPE, or -EAGAIN
 * when @w was queued (for the task polled with @cx, or the calling thread
 * when @cx is NULL).
 */
static int64_t mpsc_claim_locked(struct task_mpsc *ch, struct task_cx *cx,
                                 struct task_wait *w, struct task__wakelist *wl)
{
        /* Relaxed: CLOSED is set under the lock. */
        if (atomic_load_explicit(&ch->word, memory_order_relaxed) & W_CLOSED)
                return -EPIPE;
        /* Seq_cst RMW: then the grant below reads `released` (the queueing
         * half of the pair in the head comment). */
        atomic_exchange_explicit(&ch->wflag, 1, memory_order_seq_cst);
        w->arg = 0;
        w->result = 0;
        task__wait_enqueue(cx, &ch->waiters, w, ch, &mpsc_send_ops);
        /* Room may have been given back before wflag was seen: serve the
         * queue, us included. */
        int64_t pos = mpsc_grant_locked(ch, w, wl);
        return pos >= 0 ? pos : -EAGAIN;
}

/* The consumer gave @n slots back: grant them if senders are queued. */
static void mpsc_give_back(struct task_mpsc *ch, uint64_t n)
{
        /* Release: our reads of those slots happen before their reuse.
         * Seq_cst: then we load wflag (the consumer's half of the pair). */
        atomic_fetch_add_explicit(&ch->released, n, memory_order_seq_cst);
        if (!atomic_load_explicit(&ch->wflag, memory_order_seq_cst))
                return;
        struct task__wakelist wl;
        task__wakelist_init(&wl);
        task__spin_lock(&ch->lock);
        mpsc_grant_locked(ch, NULL, &wl);
        task__spin_unlock(&ch->lock);
        task__wakelist_wake(&wl);
}

/*
 * Publish @value at the claimed position @pos (or, @is_void, no value) and
 * wake the receiver.  @granted: the slot was marked PENDING, so publish
 * with a seq_cst exchange (see the head comment).
 */
static void mpsc_publish(struct task_mpsc *ch, uint64_t pos, const void *value,
                         bool is_void, bool granted)
{
        struct mpsc_slot *s = slot_at(ch, pos);
        uint64_t seq = ((pos + 1) & POS_MASK) | (is_void ? SLOT_VOID : 0);

        if (!is_void)
                elem_copy(s->data, value, ch->elem_size);
        if (granted) {
                /* Seq_cst: precedes our load of rx_waker in the single
                 * order; release publishes the value. */
                atomic_exchange_explicit(&s->seq, seq, memory_order_seq_cst);
        } else {
                /* Release: publishes the value to the consumer's load. */
                atomic_store_explicit(&s->seq, seq, memory_order_release);
        }
        mpsc_wake_rx(ch);
}

static void mpsc_send_cancel(struct task_wait *w)
{
        struct task_mpsc *ch = w->obj;
        struct task__wakelist wl;
        task__wakelist_init(&wl);
        int64_t pos = -1;

        task__spin_lock(&ch->lock);
        uint32_t st = task__wait_state(w);
        if (st == TASK_WAIT_QUEUED) {
                task__wait_unqueue(&ch->waiters, w);
                /* Whoever is next may be servable now. */
                mpsc_grant_locked(ch, NULL, &wl);
        } else if (st == TASK_WAIT_DONE) {
                if (w->result & SEND_GRANTED)
                        pos = (int64_t)w->arg;
                task__wait_reset(w);
        }
        task__spin_unlock(&ch->lock);
        task__wakelist_wake(&wl);
        /* A granted position cannot be given back: publish it empty. */
        if (pos >= 0)
                mpsc_publish(ch, (uint64_t)pos, NULL, true, true);
}

/* Close: no new claims, queued senders fail, the receiver drains. */
static void mpsc_close(struct task_mpsc *ch)
{
        struct task__wakelist wl;
        task__wakelist_init(&wl);
        struct task_wait *w;

        task__spin_lock(&ch->lock);
        /* Seq_cst: pairs with the receiver's registration (a close is a
         * wake-up too); under the lock, so that no grant follows it. */
        atomic_fetch_or_explicit(&ch->word, W_CLOSED, memory_order_seq_cst);
        while ((w = ch->waiters.head) != NULL) {
                if (task__wakelist_full(&wl)) {
                        task__spin_unlock(&ch->lock);
                        task__wakelist_wake(&wl);
                        task__spin_lock(&ch->lock);
                        continue;
                }
                task__waitq_remove(&ch->waiters, w);
                w->result = 0; /* not granted: -EPIPE */
                task__wait_complete(&wl, w);
        }
        atomic_store_explicit(&ch->wflag, 0, memory_order_relaxed);
        task__spin_unlock(&ch->lock);
        task__wakelist_wake(&wl);
        mpsc_wake_rx(ch);
}

/* ---- Senders --------------------------------------------------------------- */

task_mpsc_tx *task_mpsc_tx_clone(task_mpsc_tx *tx)
{
        struct task_mpsc *ch = ch_of_tx(tx);

        if (!ch)
                return NULL;
        /* Relaxed: a new reference from a held one orders nothing. */
        atomic_fetch_add_explicit(&ch->senders, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&ch->refs, 1, memory_order_relaxed);
        return tx;
}

void task_mpsc_tx_drop(task_mpsc_tx *tx)
{
        struct task_mpsc *ch = ch_of_tx(tx);

        if (!ch)
                return;
        /* Acq_rel: the last sender's close comes after every send. */
        if (atomic_fetch_sub_explicit(&ch->senders, 1, memory_order_acq_rel) ==
            1)
                mpsc_close(ch);
        mpsc_unref(ch);
}

bool task_mpsc_tx_closed(task_mpsc_tx *tx)
{
        struct task_mpsc *ch = ch_of_tx(tx);

        /* While a sender exists, only the receiver sets CLOSED.  Acquire:
         * pairs with mpsc_close's seq_cst RMW, so that what the receiver
         * did before closing happens before what the caller does on
         * seeing it closed. */
        return ch && (atomic_load_explicit(&ch->word, memory_order_acquire) &
                      W_CLOSED);
}

/* Unbounded send: under the lock; a new block is allocated outside it. */
static int ub_send(struct task_mpsc *ch, const void *value)
{
        task__spin_lock(&ch->ub_lock);
        for (;;) {
                /* Relaxed: under the lock (see mpsc_take for why this
                 * suffices). */
                if (atomic_load_explicit(&ch->word, memory_order_relaxed) &
                    W_CLOSED) {
                        task__spin_unlock(&ch->ub_lock);
                        return -EPIPE;
                }
                if (ch->ub_tidx < UB_BLOCK)
                        break;
                struct mpsc_block *b = ch->ub_free;
                if (b) {
                        ch->ub_free = b->next;
                        ch->ub_nfree--;
                        b->next = NULL;
                        ch->ub_tail->next = b;
                        ch->ub_tail = b;
                        ch->ub_tidx = 0;
                        break;
                }
                task__spin_unlock(&ch->ub_lock);
                b = ub_block_alloc(ch);
                if (!b)
                        return -ENOMEM;
                task__spin_lock(&ch->ub_lock);
                b->next = ch->ub_free;
                ch->ub_free = b;
                ch->ub_nfree++;
        }
        if (ch->elem_size)
                memcpy(ub_elem(ch, ch->ub_tail, ch->ub_tidx), value,
                       ch->elem_size);
        ch->ub_tidx++;
        ch->ub_len++;
        task__spin_unlock(&ch->ub_lock);
        mpsc_wake_rx(ch);
        return 0;
}

bool task_mpsc_send_poll(struct task_cx *cx, task_mpsc_tx *tx,
                         struct task_mpsc_send *op, const void *value, int *rc)
{
        struct task_mpsc *ch = ch_of_tx(tx);
        int64_t pos;
        int r;

        if (!cx || !ch || !op || (!value && ch->elem_size)) {
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
        if (st != TASK_WAIT_IDLE && w->obj != ch) {
                task_wait_cancel(w); /* reused for another channel */
                st = TASK_WAIT_IDLE;
        }
        if (!ch->cap) {
                /* Unbounded: never waits, so @w is never ours. */
                if (!task_coop_proceed(cx))
                        return false;
                r = ub_send(ch, value);
                goto out;
        }
        if (st == TASK_WAIT_QUEUED)
                return false; /* still waiting; our waker is in place */
        bool granted = false;
        if (st == TASK_WAIT_DONE) {
                granted = w->result & SEND_GRANTED;
                pos = (int64_t)w->arg;
                task__wait_reset(w);
                if (!granted) {
                        r = -EPIPE;
                        goto out;
                }
        } else {
                if (!task_coop_proceed(cx))
                        return false;
                pos = mpsc_claim_fast(ch);
                if (pos == -EAGAIN) {
                        struct task__wakelist wl;
                        task__wakelist_init(&wl);
                        task__spin_lock(&ch->lock);
                        pos = mpsc_claim_locked(ch, cx, w, &wl);
                        task__spin_unlock(&ch->lock);
                        task__wakelist_wake(&wl);
                        if (pos == -EAGAIN) {
                                cx->budget++; /* not ready: give it back */
                                return false;
                        }
                }
                if (pos < 0) {
                        r = (int)pos;
                        goto out;
                }
        }
        mpsc_publish(ch, (uint64_t)pos, value, false, granted);
        r = 0;
out:
        if (rc)
                *rc = r;
        return true;
}

int task_mpsc_try_send(task_mpsc_tx *tx, const void *value)
{
        struct task_mpsc *ch = ch_of_tx(tx);

        if (!ch || (!value && ch->elem_size))
                return -EINVAL;
        if (!ch->cap)
                return ub_send(ch, value);
        int64_t pos = mpsc_claim_fast(ch);
        if (pos < 0)
                return (int)pos;
        mpsc_publish(ch, (uint64_t)pos, value, false, false);
        return 0;
}

int task_mpsc_send_blocking(task_mpsc_tx *tx, const void *value)
{
        struct task_mpsc *ch = ch_of_tx(tx);

        if (!ch || (!value && ch->elem_size))
                return -EINVAL;
        if (task__on_worker())
                return -EDEADLK;
        if (!ch->cap)
                return ub_send(ch, value);
        int64_t pos = mpsc_claim_fast(ch);
        bool granted = false;
        if (pos == -EAGAIN) {
                struct task_wait w = {0};
                struct task__wakelist wl;
                task__wakelist_init(&wl);
                task__spin_lock(&ch->lock);
                pos = mpsc_claim_locked(ch, NULL, &w, &wl);
                task__spin_unlock(&ch->lock);
                task__wakelist_wake(&wl);
                if (pos == -EAGAIN) {
                        task__wait_block(&w);
                        granted = w.result & SEND_GRANTED;
                        pos = granted ? (int64_t)w.arg : -EPIPE;
                }
        }
        if (pos < 0)
                return (int)pos;
        mpsc_publish(ch, (uint64_t)pos, value, false, granted);
        return 0;
}

/* ---- Receiver -------------------------------------------------------------- */

/*
 * Take up to @max values into @out.  Returns how many (> 0), 0 when empty,
 * -EPIPE when closed and nothing is left, or TAKE_IN_FLIGHT (bounded) when
 * empty but a sender is between its claim and its publish.  The loads are
 * seq_cst: after a registration they are the re-check (see the head
 * comment).
 */
static long mpsc_take(struct task_mpsc *ch, unsigned char *out, size_t max)
{
        size_t n = 0;

        if (ch->cap) {
                uint64_t head = ch->head, start = head, seq = 0;
                while (n < max) {
                        struct mpsc_slot *s = slot_at(ch, head);
                        /* Seq_cst (acquire at least): pairs with the
                         * publishing store; the value is readable. */
                        seq =
                            atomic_load_explicit(&s->seq, memory_order_seq_cst);
                        if ((seq & ~SLOT_VOID) != ((head + 1) & POS_MASK))
                                break; /* not published (or PENDING) */
                        head++;
                        if (seq & SLOT_VOID)
                                continue;
                        elem_copy(out + n * ch->elem_size, s->data,
                                  ch->elem_size);
                        n++;
                }
                ch->head = head;
                if (head != start)
                        mpsc_give_back(ch, head - start);
                if (n)
                        return (long)n;
                uint64_t cur =
                    atomic_load_explicit(&ch->word, memory_order_seq_cst);
                if (W_TAIL(cur) == (head & POS_MASK))
                        return (cur & W_CLOSED) ? -EPIPE : 0;
                /* Claimed, not published: granted (PENDING; its sender
                 * will see us) or being published right now. */
                return ((seq & SLOT_PENDING) &&
                        (seq & POS_MASK) == ((head + 1) & POS_MASK))
                           ? 0
                           : TAKE_IN_FLIGHT;
        }

        /*
         * Unbounded, under the lock.  CLOSED read here is final for the
         * senders too: a send after our unlock takes the lock after us and
         * so reads CLOSED as well (read-read coherence).
         */
        struct mpsc_block *spare = NULL; /* freed after the unlock */
        bool closed;
        task__spin_lock(&ch->ub_lock);
        while (n < max && ch->ub_len > 0) {
                if (ch->ub_hidx == UB_BLOCK) {
                        struct mpsc_block *b = ch->ub_head;
                        ch->ub_head = b->next;
                        ch->ub_hidx = 0;
                        if (ch->ub_nfree < UB_KEEP) {
                                b->next = ch->ub_free;
                                ch->ub_free = b;
                                ch->ub_nfree++;
                        } else {
                                b->next = spare;
                                spare = b;
                        }
                }
                if (ch->elem_size)
                        memcpy(out + n * ch->elem_size,
                               ub_elem(ch, ch->ub_head, ch->ub_hidx),
                               ch->elem_size);
                ch->ub_hidx++;
                ch->ub_len--;
                n++;
        }
        if (ch->ub_len == 0 && ch->ub_head == ch->ub_tail)
                ch->ub_hidx = ch->ub_tidx =
                    0; /* reuse the block from the top */
        closed =
            atomic_load_explicit(&ch->word, memory_order_seq_cst) & W_CLOSED;
        task__spin_unlock(&ch->ub_lock);
        for (struct mpsc_block *next; spare; spare = next) {
                next = spare->next;
                free(spare);
        }
        if (n)
                return (long)n;
        return closed ? -EPIPE : 0;
}

/* Take back our registration, if a sender has not taken it already. */
static void mpsc_unregister(struct task_mpsc *ch)
{
        /* Relaxed first look: usually a sender took it (and woke us). */
        if (!atomic_load_explicit(&ch->rx_waker, memory_order_relaxed))
                return;
        /* Acquire: pairs with mpsc_register's exchange, which may have
         * run on another worker (the task moved): the waker we drop is
         * the one it published.  Nothing needs a release: a sender whose
         * exchange finds our 0 touches nothing. */
        uintptr_t w =
            atomic_exchange_explicit(&ch->rx_waker, 0, memory_order_acquire);
        if (w && !(w & 1))
                task_waker_drop((task_waker *)w);
}

static void mpsc_recv_cancel(struct task_wait *w)
{
        mpsc_unregister(w->obj);
        task__wait_reset(w);
}

/* Install @w as the registration; a stale one left behind is dropped. */
static void mpsc_register(struct task_mpsc *ch, uintptr_t w)
{
        /* Seq_cst: then the caller re-checks (see the head comment). */
        uintptr_t old =
            atomic_exchange_explicit(&ch->rx_waker, w, memory_order_seq_cst);
        if (old && !(old & 1))
                task_waker_drop((task_waker *)old);
}

/* Mark @w as registered on @ch (the receiver's wait node, for cancels). */
static void mpsc_recv_mark(struct task_wait *w, struct task_mpsc *ch)
{
        w->ops = &mpsc_recv_ops;
        w->obj = ch;
        atomic_store_explicit(&w->state, TASK_WAIT_QUEUED,
                              memory_order_relaxed);
}

static bool mpsc_recv_common(struct task_cx *cx, struct task_mpsc *ch,
                             struct task_mpsc_recv *op, void *buf, size_t max,
                             size_t *np, int *rc)
{
        struct task_wait *w = &op->w;

        if (cx->cancelling) {
                task_wait_cancel(w);
                return false;
        }
        uint32_t st = task__wait_state(w);
        if (st != TASK_WAIT_IDLE && w->obj != ch) {
                task_wait_cancel(w); /* reused for another channel */
                st = TASK_WAIT_IDLE;
        }
        if (st == TASK_WAIT_IDLE && !task_coop_proceed(cx))
                return false;
        long r = max ? mpsc_take(ch, buf, max) : 0;
        if (r == TAKE_IN_FLIGHT) {
                /* A value is a few instructions away: look again soon. */
                cx->yielded = 1;
                return false;
        }
        if (r == 0 && max) {
                uintptr_t cur =
                    atomic_load_explicit(&ch->rx_waker, memory_order_relaxed);
                if (!task_waker_wakes((task_waker *)cur, cx)) {
                        mpsc_register(ch, (uintptr_t)task_cx_waker(cx));
                        r = mpsc_take(ch, buf, max);
                }
                /* else: still registered since a look that came after. */
                if (r == 0 || r == TAKE_IN_FLIGHT) {
                        if (st == TASK_WAIT_IDLE) {
                                mpsc_recv_mark(w, ch);
                                cx->budget++; /* not ready: give it back */
                        }
                        if (r == TAKE_IN_FLIGHT)
                                cx->yielded = 1; /* see the head comment */
                        return false;
                }
                mpsc_unregister(ch);
        } else if (st == TASK_WAIT_QUEUED) {
                mpsc_unregister(ch);
        }
        if (st == TASK_WAIT_QUEUED)
                task__wait_reset(w);
        if (np)
                *np = r > 0 ? (size_t)r : 0;
        if (rc)
                *rc = r < 0 ? (int)r : 0;
        return true;
}

bool task_mpsc_recv_poll(struct task_cx *cx, task_mpsc_rx *rx,
                         struct task_mpsc_recv *op, void *out, int *rc)
{
        struct task_mpsc *ch = ch_of_rx(rx);

        if (!cx || !ch || !op || (!out && ch->elem_size)) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        return mpsc_recv_common(cx, ch, op, out, 1, NULL, rc);
}

bool task_mpsc_recv_many_poll(struct task_cx *cx, task_mpsc_rx *rx,
                              struct task_mpsc_recv *op, void *buf, size_t max,
                              size_t *n, int *rc)
{
        struct task_mpsc *ch = ch_of_rx(rx);

        if (!cx || !ch || !op || !n || (!buf && ch->elem_size && max)) {
                if (rc)
                        *rc = -EINVAL;
                if (n)
                        *n = 0;
                return !(cx && cx->cancelling);
        }
        return mpsc_recv_common(cx, ch, op, buf, max, n, rc);
}

int task_mpsc_try_recv(task_mpsc_rx *rx, void *out)
{
        struct task_mpsc *ch = ch_of_rx(rx);

        if (!ch || (!out && ch->elem_size))
                return -EINVAL;
        long r = mpsc_take(ch, out, 1);
        if (r == TAKE_IN_FLIGHT)
                r = 0;
        return r > 0 ? 0 : r == 0 ? -EAGAIN : (int)r;
}

int task_mpsc_recv_blocking(task_mpsc_rx *rx, void *out)
{
        struct task_mpsc *ch = ch_of_rx(rx);

        if (!ch || (!out && ch->elem_size))
                return -EINVAL;
        if (task__on_worker())
                return -EDEADLK;
        for (;;) {
                long r = mpsc_take(ch, out, 1);
                if (r == TAKE_IN_FLIGHT) {
                        sched_yield(); /* a value is on its way */
                        continue;
                }
                if (r != 0)
                        return r > 0 ? 0 : (int)r;
                /* A thread node (no waker), QUEUED: the registration's
                 * exchange publishes it to the sender that takes it. */
                struct task_wait w = {0};
                atomic_store_explicit(&w.state, TASK_WAIT_QUEUED,
                                      memory_order_relaxed);
                mpsc_register(ch, (uintptr_t)&w | 1);
                r = mpsc_take(ch, out, 1);
                if (r != 0) {
                        /* Take the registration back.  Relaxed: the RMW
                         * only decides who owns @w; if a sender got it
                         * first (we read 0), we wait until it is done with
                         * @w (on our stack), and task__wait_block's
                         * acquire load of DONE orders us after it. */
                        if (!atomic_exchange_explicit(&ch->rx_waker, 0,
                                                      memory_order_relaxed))
                                task__wait_block(&w);
                        if (r == TAKE_IN_FLIGHT)
                                continue;
                        return r > 0 ? 0 : (int)r;
                }
                task__wait_block(&w);
        }
}

void task_mpsc_rx_close(task_mpsc_rx *rx)
{
        struct task_mpsc *ch = ch_of_rx(rx);

        if (ch)
                mpsc_close(ch);
}

void task_mpsc_rx_drop(task_mpsc_rx *rx)
{
        struct task_mpsc *ch = ch_of_rx(rx);

        if (!ch)
                return;
        mpsc_close(ch);
        mpsc_drain(ch);
        mpsc_unregister(ch);
        mpsc_unref(ch);
}
