/*
 * watch.c - the watch channel (libtask/watch.h): one value behind a
 * seqlock, a version, and a queue of receivers waiting for a change.
 *
 * The value is kept twice:
 *
 *  - `shadow`, plain bytes, under the lock: the senders' copy.  send_modify
 *    hands it to the user's callback, send_replace copies the old value out
 *    of it.
 *  - `words`, the same bytes as relaxed atomic 64-bit words behind the
 *    seqlock `seq` (even: stable; odd: a sender is rewriting them): what
 *    receivers copy, without the lock, retrying when a send overlapped.
 *
 * `state` is (version << 1) | CLOSED.  Invariants:
 *
 *  - Senders hold the lock (`c.lock`), so there is one writer at a time:
 *    the seqlock needs no CAS, and version bumps, CLOSED, the counts and
 *    the waiter queue all change under it.
 *  - A version bump happens inside the seqlock's write section, so a reader
 *    that copies the words and loads the version in one read section
 *    (borrow_and_update) gets a pair that belong together.
 *  - A receiver owns its `seen`.  It waits only when the version equals
 *    `seen` and the channel is open, checked under the lock, and queues its
 *    node with want = seen (the current version).  So the queue is ordered
 *    by want, and a send that makes version V completes the waiters with
 *    want < V: exactly those queued before it (one that queues while the
 *    sender has dropped the lock to wake a full batch already saw V).
 *  - The ends, the queue and the close are chan-priv.h's (the word there is
 *    `state`): the channel is freed by whoever drops the last end, and no
 *    waiter is left then, since waiters are receivers.
 *
 * Orderings (the seqlock of Boehm, "Can seqlocks get along with
 * programming language memory models?", 2012):
 *
 *  - Writer: seq = s+1 (relaxed); release fence; words (relaxed); state +=
 *    2 (release); seq = s+2 (release).
 *  - Reader: seq (acquire: pairs with seq = s+2, so the words and state
 *    stored before it are visible); words and state (relaxed); acquire
 *    fence; seq again (relaxed).  If the reader saw any word or state of a
 *    write in progress, the fences pair and the second load sees s+1 or
 *    later: the copy is retried.
 *  - has_changed/changed load state with acquire, pairing with the bump's
 *    release: having seen version V, a later borrow loads a seq at least
 *    the odd s+1 of V's write, so it cannot return the value before V.
 */
#include "sync/chan-priv.h"

#include <libtask/watch.h>

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_CLOSED TASK__CHAN_CLOSED
#define WATCH_SHIFT TASK__CHAN_SHIFT
#define WATCH_VERSION_MASK (UINT64_MAX >> WATCH_SHIFT)

struct task_watch {
        /* Read-only after creation. */
        size_t elem_size;
        _Atomic uint64_t *words; /* right after us */
        unsigned char *shadow;   /* after the words; under the lock */

        /* Stored by senders under the lock; loaded by readers without. */
        _Alignas(TASK__CACHELINE) _Atomic uint64_t seq;
        _Atomic uint64_t state;

        /* The lock, the ends' counts, the waiting receivers. */
        _Alignas(TASK__CACHELINE) struct task__chan c;
};

struct task_watch_rx {
        struct task_watch *ch;
        uint64_t seen; /* the owner's only */
};

static void watch_cancel(struct task_wait *w);

static const struct task_wait_ops watch_wait_ops = {
    .cancel = watch_cancel,
};

/* ---- The value ------------------------------------------------------------ */

/* Under the lock: publish the shadow to readers, bumping the version. */
static void watch_publish_locked(struct task_watch *ch, bool bump)
{
        /* Relaxed: seq is only stored under the lock we hold; the odd
         * store is ordered before the words by the fence below. */
        uint64_t s = atomic_load_explicit(&ch->seq, memory_order_relaxed);

        atomic_store_explicit(&ch->seq, s + 1, memory_order_relaxed);
        /* Release fence: a reader that loads any word or state stored
         * below sees seq >= s+1 after its acquire fence. */
        atomic_thread_fence(memory_order_release);
        task__words_store(ch->words, ch->shadow, ch->elem_size);
        if (bump)
                /* Release: pairs with the acquire state loads of changed
                 * and has_changed (see the head of this file). */
                atomic_fetch_add_explicit(&ch->state,
                                          UINT64_C(1) << WATCH_SHIFT,
                                          memory_order_release);
        /* Release: pairs with the reader's acquire load of seq. */
        atomic_store_explicit(&ch->seq, s + 2, memory_order_release);
}

/* Copy the value to @out, lock-free; returns the version it belongs to. */
static uint64_t watch_read(struct task_watch *ch, void *out)
{
        for (unsigned spins = 0;; spins++) {
                /* Acquire: pairs with the writer's final seq store. */
                uint64_t s1 =
                    atomic_load_explicit(&ch->seq, memory_order_acquire);
                if (!(s1 & 1)) {
                        uint64_t st = atomic_load_explicit(
                            &ch->state, memory_order_relaxed);
                        task__words_load(out, ch->words, ch->elem_size);
                        /* Acquire fence: pairs with the writer's release
                         * fence (see watch_publish_locked). */
                        atomic_thread_fence(memory_order_acquire);
                        uint64_t s2 = atomic_load_explicit(
                            &ch->seq, memory_order_relaxed);
                        if (s1 == s2)
                                return st >> WATCH_SHIFT;
                }
                /* A writer is in its (short) section; if it keeps being,
                 * it has probably been preempted: let it run. */
                if (spins > 64)
                        sched_yield();
                else
                        ck_pr_stall();
        }
}

/* ---- Sending -------------------------------------------------------------- */

/* Under the lock, after the shadow changed: publish, notify, unlock. */
static void watch_commit_unlock(struct task_watch *ch, bool notify)
{
        struct task__wakelist wl;
        task__wakelist_init(&wl);

        watch_publish_locked(ch, notify);
        if (notify) {
                /* Relaxed: our own bump, under the lock. */
                uint64_t v =
                    atomic_load_explicit(&ch->state, memory_order_relaxed) >>
                    WATCH_SHIFT;
                task__chan_wake_locked(&ch->c, v, &wl);
        }
        task__spin_unlock(&ch->c.lock);
        task__wakelist_wake(&wl);
}

int task_watch_send(task_watch_tx *ch, const void *value)
{
        if (!ch || (!value && ch->elem_size))
                return -EINVAL;
        task__spin_lock(&ch->c.lock);
        if (ch->c.rx_count == 0) {
                task__spin_unlock(&ch->c.lock);
                return -EPIPE; /* Tokio's SendError: nothing stored */
        }
        if (ch->elem_size)
                memcpy(ch->shadow, value, ch->elem_size);
        watch_commit_unlock(ch, true);
        return 0;
}

int task_watch_send_replace(task_watch_tx *ch, const void *value, void *old)
{
        if (!ch || (!value && ch->elem_size))
                return -EINVAL;
        task__spin_lock(&ch->c.lock);
        if (ch->elem_size) {
                if (old)
                        memcpy(old, ch->shadow, ch->elem_size);
                memcpy(ch->shadow, value, ch->elem_size);
        }
        watch_commit_unlock(ch, true);
        return 0;
}

int task_watch_send_modify(task_watch_tx *ch,
                           void (*modify)(void *value, void *arg), void *arg)
{
        if (!ch || !modify)
                return -EINVAL;
        task__spin_lock(&ch->c.lock);
        modify(ch->shadow, arg);
        watch_commit_unlock(ch, true);
        return 0;
}

int task_watch_send_if_modified(task_watch_tx *ch,
                                bool (*modify)(void *value, void *arg),
                                void *arg)
{
        if (!ch || !modify)
                return -EINVAL;
        task__spin_lock(&ch->c.lock);
        bool notify = modify(ch->shadow, arg);
        /* Published either way: the callback may have changed the bytes. */
        watch_commit_unlock(ch, notify);
        return notify ? 1 : 0;
}

int task_watch_tx_borrow(task_watch_tx *ch, void *out)
{
        if (!ch || (!out && ch->elem_size))
                return -EINVAL;
        watch_read(ch, out);
        return 0;
}

/* ---- Ends ----------------------------------------------------------------- */

int task_watch_new(size_t elem_size, const void *initial, task_watch_tx **tx,
                   task_watch_rx **rx)
{
        struct task_watch *ch;
        struct task_watch_rx *r = NULL;

        if (!tx || (!initial && elem_size))
                return -EINVAL;
        size_t head =
            (sizeof *ch + TASK__CACHELINE - 1) & ~(size_t)(TASK__CACHELINE - 1);
        size_t nwords = elem_size / 8 + (elem_size % 8 != 0);
        if (nwords > (SIZE_MAX - head - 2 * TASK__CACHELINE) / 16)
                return -EINVAL;
        size_t size = head + nwords * 8 + elem_size;
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
        memset(ch, 0, size);
        ch->elem_size = elem_size;
        ch->words = (_Atomic uint64_t *)((char *)ch + head);
        ch->shadow = (unsigned char *)(ch->words + nwords);
        if (elem_size)
                memcpy(ch->shadow, initial, elem_size);
        task__words_store(ch->words, ch->shadow, elem_size);
        atomic_init(&ch->seq, 0);
        atomic_init(&ch->state, 0); /* version 0, open */
        task__chan_init(&ch->c, r ? 1 : 0);
        if (r) {
                r->ch = ch;
                r->seen = 0;
                *rx = r;
        }
        *tx = ch;
        return 0;
}

int task_watch_tx_clone(task_watch_tx *tx, task_watch_tx **out)
{
        if (!tx || !out)
                return -EINVAL;
        task__chan_tx_clone(&tx->c);
        *out = tx;
        return 0;
}

void task_watch_tx_drop(task_watch_tx *ch)
{
        /* The last one sets CLOSED in the state (pairing with the
         * receivers' acquire state loads) and wakes every waiter. */
        if (ch && task__chan_tx_drop(&ch->c, &ch->state))
                free(ch);
}

/* A new receiver that has seen @seen (the current version: UINT64_MAX). */
static int watch_new_rx(struct task_watch *ch, uint64_t seen,
                        task_watch_rx **out)
{
        struct task_watch_rx *r = task__chan_malloc(sizeof *r);
        if (!r)
                return -ENOMEM;
        r->ch = ch;
        r->seen = task__chan_rx_add(&ch->c, &ch->state, seen);
        *out = r;
        return 0;
}

int task_watch_subscribe(task_watch_tx *tx, task_watch_rx **out)
{
        if (!tx || !out)
                return -EINVAL;
        return watch_new_rx(tx, UINT64_MAX, out);
}

int task_watch_rx_clone(task_watch_rx *rx, task_watch_rx **out)
{
        if (!rx || !out)
                return -EINVAL;
        return watch_new_rx(rx->ch, rx->seen, out);
}

void task_watch_rx_drop(task_watch_rx *rx)
{
        if (!rx)
                return;
        struct task_watch *ch = rx->ch;
        bool last = task__chan_rx_drop(&ch->c);
        free(rx);
        if (last)
                free(ch);
}

size_t task_watch_receiver_count(task_watch_tx *tx)
{
        return tx ? task__chan_rx_count(&tx->c) : 0;
}

/* ---- Receiving ------------------------------------------------------------ */

int task_watch_borrow(task_watch_rx *rx, void *out)
{
        if (!rx || (!out && rx->ch->elem_size))
                return -EINVAL;
        watch_read(rx->ch, out);
        return 0;
}

int task_watch_borrow_and_update(task_watch_rx *rx, void *out)
{
        if (!rx || (!out && rx->ch->elem_size))
                return -EINVAL;
        rx->seen = watch_read(rx->ch, out);
        return 0;
}

/* Acquire: pairs with the release of a version bump or of CLOSED. */
static inline uint64_t watch_state(struct task_watch *ch)
{
        return atomic_load_explicit(&ch->state, memory_order_acquire);
}

int task_watch_has_changed(task_watch_rx *rx)
{
        if (!rx)
                return -EINVAL;
        uint64_t st = watch_state(rx->ch);
        if (st & WATCH_CLOSED)
                return -EPIPE;
        return (st >> WATCH_SHIFT) != rx->seen;
}

void task_watch_mark_unchanged(task_watch_rx *rx)
{
        if (rx)
                rx->seen = watch_state(rx->ch) >> WATCH_SHIFT;
}

void task_watch_mark_changed(task_watch_rx *rx)
{
        if (rx)
                rx->seen = ((watch_state(rx->ch) >> WATCH_SHIFT) - 1) &
                           WATCH_VERSION_MASK;
}

/*
 * Without the lock: 0 (a newer version, now seen), -EPIPE (closed, all
 * seen) or -EAGAIN (wait), with the state it looked at in *@st.
 */
static int watch_try(task_watch_rx *rx, uint64_t *st)
{
        uint64_t s = watch_state(rx->ch);
        *st = s;
        if ((s >> WATCH_SHIFT) != rx->seen) {
                rx->seen = s >> WATCH_SHIFT;
                return 0;
        }
        return (s & WATCH_CLOSED) ? -EPIPE : -EAGAIN;
}

static void watch_cancel(struct task_wait *w)
{
        struct task_watch_rx *rx = w->obj;

        /* Woken or not, nothing was marked seen. */
        task__chan_cancel(&rx->ch->c, w);
}

bool task_watch_changed_poll(struct task_cx *cx, task_watch_rx *rx,
                             struct task_watch_changed *op, int *rc)
{
        bool spent = false;
        uint64_t s;
        int r;

        if (!cx || !rx || !op) {
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
                /* Woken by a send or the close: the state tells which. */
                task__wait_reset(w);
        } else {
                if (!task_coop_proceed(cx))
                        return false;
                spent = true;
        }
        struct task_watch *ch = rx->ch;
        while ((r = watch_try(rx, &s)) == -EAGAIN) {
                task__spin_lock(&ch->c.lock);
                /* Relaxed: the state only changes under the lock. */
                if (atomic_load_explicit(&ch->state, memory_order_relaxed) ==
                    s) {
                        w->arg = rx->seen;
                        w->result = 0;
                        task__wait_enqueue(cx, &ch->c.waiters, w, rx,
                                           &watch_wait_ops);
                        task__spin_unlock(&ch->c.lock);
                        if (spent)
                                cx->budget++; /* not ready: give it back */
                        return false;
                }
                task__spin_unlock(&ch->c.lock); /* changed meanwhile: look */
        }
        if (rc)
                *rc = r;
        return true;
}

int task_watch_changed_blocking(task_watch_rx *rx)
{
        uint64_t s;
        int r;

        if (!rx)
                return -EINVAL;
        if (task__on_worker())
                return -EDEADLK;
        struct task_watch *ch = rx->ch;
        while ((r = watch_try(rx, &s)) == -EAGAIN) {
                struct task_wait w = {0};
                task__spin_lock(&ch->c.lock);
                /* Relaxed: the state only changes under the lock. */
                if (atomic_load_explicit(&ch->state, memory_order_relaxed) !=
                    s) {
                        task__spin_unlock(&ch->c.lock);
                        continue;
                }
                w.arg = rx->seen;
                task__wait_enqueue(NULL, &ch->c.waiters, &w, rx,
                                   &watch_wait_ops);
                task__spin_unlock(&ch->c.lock);
                task__wait_block(&w);
        }
        return r;
}
