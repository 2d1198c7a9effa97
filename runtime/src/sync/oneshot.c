/*
 * oneshot.c - the oneshot channel (libtask/oneshot.h): one value, once.
 *
 * One allocation holds a state word, the two ends' wakers and the value
 * cell.  After Tokio's oneshot, everything is decided by the state word
 * (32 bits, every transition one atomic RMW):
 *
 *   RX_TASK    rx_task holds the receiving task's waker, owned by the
 *              channel.  Set by the receiver after writing rx_task;
 *              cleared by whoever takes the waker: the sender when it
 *              completes (it then wakes it), or the receiver taking its
 *              registration back.  Whoever clears it owns the reference.
 *   TX_TASK    the same for the sender's waker (tx_task), for
 *              TASK_ONESHOT_CLOSED; taken by the receiver when it closes.
 *   COMPLETE   the sender is done: it sent (VALUE too) or was dropped.
 *   VALUE      the value cell holds a sent value.
 *   CLOSED     the receiver closed or was dropped: a send now fails.
 *   RX_THREAD  a thread sleeps in task_oneshot_recv_blocking() on the
 *              state word (a futex); the sender wakes it after COMPLETE.
 *   TX_ALIVE, RX_ALIVE  the two ends' claims on the memory: the end that
 *              clears the last one frees the channel.
 *
 * Invariants:
 *  - rx_task is written only by the receiver and only while RX_TASK is
 *    clear and COMPLETE is not yet seen; tx_task likewise by the sender
 *    while TX_TASK is clear and CLOSED not yet seen.  So a side that
 *    clears the bit reads a stable field, with no ABA: the writer cannot
 *    register again once COMPLETE (CLOSED) is set.
 *  - COMPLETE with VALUE is set in the same RMW that checks CLOSED: after
 *    CLOSED no value can arrive, so "CLOSED and no VALUE" is final.
 *  - An end that must touch the channel after a transition (to wake the
 *    other side's waker or thread) keeps its ALIVE bit until it is done.
 *  - The value cell is written by the sender before its COMPLETE|VALUE
 *    RMW (release) and read by the receiver after seeing VALUE (acquire);
 *    `taken` is the receiver's alone (and the freer's, after both ALIVE
 *    bits are gone, ordered by the acq_rel RMWs that cleared them).
 *
 * The receive operation's wait node only records that the receiver's task
 * registered (QUEUED) so that a cancel (abort, select) can take the
 * registration back; the sender never touches it.
 */
#include "sync/wait-priv.h"

#include <libtask/oneshot.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define OS_RX_TASK (1u << 0)
#define OS_COMPLETE (1u << 1)
#define OS_CLOSED (1u << 2)
#define OS_TX_TASK (1u << 3)
#define OS_VALUE (1u << 4)
#define OS_RX_THREAD (1u << 5)
#define OS_TX_ALIVE (1u << 6)
#define OS_RX_ALIVE (1u << 7)

/* The receiver stops waiting once one of these is set. */
#define OS_RX_READY (OS_COMPLETE | OS_CLOSED)

struct task_oneshot {
        _Atomic uint32_t state;
        bool taken;       /* receiver only: the value was received/dropped */
        size_t elem_size; /* immutable */
        void (*elem_drop)(void *elem); /* immutable */
        task_waker *rx_task;           /* see OS_RX_TASK */
        task_waker *tx_task;           /* see OS_TX_TASK */
        _Alignas(max_align_t) unsigned char value[];
};

static void os_recv_cancel(struct task_wait *w);
static void os_closed_cancel(struct task_wait *w);

static const struct task_wait_ops os_recv_ops = {
    .cancel = os_recv_cancel,
};

static const struct task_wait_ops os_closed_ops = {
    .cancel = os_closed_cancel,
};

static inline struct task_oneshot *os_of_tx(task_oneshot_tx *tx)
{
        return (struct task_oneshot *)(void *)tx;
}

static inline struct task_oneshot *os_of_rx(task_oneshot_rx *rx)
{
        return (struct task_oneshot *)(void *)rx;
}

static inline uint32_t os_load(struct task_oneshot *o)
{
        /* Acquire: pairs with the release half of every transition. */
        return atomic_load_explicit(&o->state, memory_order_acquire);
}

static inline bool os_cas(struct task_oneshot *o, uint32_t *cur, uint32_t next)
{
        /* Acq_rel: publishes what we wrote before (value, waker fields)
         * and sees what the other side wrote before its transition. */
        return atomic_compare_exchange_weak_explicit(
            &o->state, cur, next, memory_order_acq_rel, memory_order_acquire);
}

/* Both ends are gone; @st is the final state. */
static void os_free(struct task_oneshot *o, uint32_t st)
{
        if (st & OS_RX_TASK)
                task_waker_drop(o->rx_task);
        if (st & OS_TX_TASK)
                task_waker_drop(o->tx_task);
        free(o);
}

/* Give up the end whose ALIVE bit is @mine, freeing the channel if last. */
static void os_release(struct task_oneshot *o, uint32_t mine)
{
        /* Acq_rel: our accesses happen before the free; the freer sees
         * every access of the other end. */
        uint32_t prev =
            atomic_fetch_and_explicit(&o->state, ~mine, memory_order_acq_rel);
        uint32_t other = mine == OS_TX_ALIVE ? OS_RX_ALIVE : OS_TX_ALIVE;
        if (!(prev & other))
                os_free(o, prev & ~mine);
}

int task_oneshot_new_opts(const struct task_oneshot_opts *opts,
                          task_oneshot_tx **tx, task_oneshot_rx **rx)
{
        if (!opts || !tx || !rx || opts->elem_size > TASK_ONESHOT_MAX_ELEM)
                return -EINVAL;
        if (task__fault_alloc())
                return -ENOMEM;
        struct task_oneshot *o = malloc(sizeof *o + opts->elem_size);
        if (!o)
                return -ENOMEM;
        atomic_init(&o->state, OS_TX_ALIVE | OS_RX_ALIVE);
        o->taken = false;
        o->elem_size = opts->elem_size;
        o->elem_drop = opts->elem_drop;
        o->rx_task = NULL;
        o->tx_task = NULL;
        *tx = (task_oneshot_tx *)(void *)o;
        *rx = (task_oneshot_rx *)(void *)o;
        return 0;
}

int task_oneshot_new(size_t elem_size, task_oneshot_tx **tx,
                     task_oneshot_rx **rx)
{
        struct task_oneshot_opts o = {.elem_size = elem_size};
        return task_oneshot_new_opts(&o, tx, rx);
}

/* ---- Sender ---------------------------------------------------------------- */

/*
 * The sender's last act: complete (with VALUE when @value), take both
 * registered wakers, wake the receiver, give up TX_ALIVE.  When @value and
 * the receiver has closed, nothing is completed and -EPIPE is returned.
 */
static int os_finish_tx(struct task_oneshot *o, bool value)
{
        /* Only the sender writes tx_task: a stable read (see the head). */
        task_waker *txw = o->tx_task;
        uint32_t cur = atomic_load_explicit(&o->state, memory_order_relaxed);
        uint32_t next;
        bool fail, after;

        for (;;) {
                fail = value && (cur & OS_CLOSED);
                if (fail)
                        next = cur & ~OS_TX_TASK;
                else
                        next = (cur | OS_COMPLETE | (value ? OS_VALUE : 0)) &
                               ~(OS_RX_TASK | OS_TX_TASK);
                /* Waking the receiver needs the memory: keep TX_ALIVE. */
                after = !fail && (cur & (OS_RX_TASK | OS_RX_THREAD));
                if (!after)
                        next &= ~OS_TX_ALIVE;
                if (os_cas(o, &cur, next))
                        break;
        }
        if (cur & OS_TX_TASK)
                task_waker_drop(txw); /* our own closed-wait registration */
        if (!after) {
                if (!(cur & OS_RX_ALIVE))
                        os_free(o, next);
                return fail ? -EPIPE : 0;
        }
        if (cur & OS_RX_TASK)
                task_wake(o->rx_task); /* taken above: the reference is ours */
        /* One receiver, so one thread at most sleeps on the state. */
        if (cur & OS_RX_THREAD)
                task__futex_wake(&o->state, 1);
        os_release(o, OS_TX_ALIVE);
        return 0;
}

int task_oneshot_send(task_oneshot_tx *tx, const void *value)
{
        struct task_oneshot *o = os_of_tx(tx);

        if (!o || (!value && o->elem_size))
                return -EINVAL;
        /* Relaxed: only a hint to skip the copy; the CAS decides. */
        if (!(atomic_load_explicit(&o->state, memory_order_relaxed) &
              OS_CLOSED) &&
            o->elem_size)
                memcpy(o->value, value, o->elem_size);
        return os_finish_tx(o, true);
}

void task_oneshot_tx_drop(task_oneshot_tx *tx)
{
        if (tx)
                (void)os_finish_tx(os_of_tx(tx), false);
}

bool task_oneshot_tx_closed(task_oneshot_tx *tx)
{
        return tx && (os_load(os_of_tx(tx)) & OS_CLOSED);
}

/*
 * Take the registration at @bit (RX_TASK or TX_TASK, whose waker lives in
 * *@slot) back, if it is still there and belongs to @who.
 */
static void os_unregister(struct task_oneshot *o, uint32_t bit,
                          task_waker **slot, const task_waker *who)
{
        uint32_t cur = atomic_load_explicit(&o->state, memory_order_relaxed);

        while (cur & bit) {
                if (*slot != who)
                        return; /* another task's: leave it */
                if (os_cas(o, &cur, cur & ~bit)) {
                        task_waker_drop(*slot);
                        *slot = NULL;
                        return;
                }
        }
        /* Cleared by the other side, which took (and wakes) the waker. */
}

/*
 * Register the task polled with @cx in *@slot under @bit, unless @done is
 * set.  Returns the state seen last: if it has a bit of @done, the task is
 * not registered (and a waker it left behind was taken back).
 */
static uint32_t os_register(struct task_cx *cx, struct task_oneshot *o,
                            uint32_t bit, task_waker **slot, uint32_t done,
                            uint32_t cur)
{
        if (cur & bit) {
                if (task_waker_wakes(*slot, cx))
                        return cur; /* registered already */
                /* Another task's waker (the end changed hands): drop it. */
                for (;;) {
                        if (cur & done)
                                return cur;
                        if (os_cas(o, &cur, cur & ~bit))
                                break;
                }
                task_waker_drop(*slot);
        }
        *slot = task_cx_waker(cx);
        /* Acq_rel: release publishes *slot to whoever takes the bit;
         * acquire sees what the other side completed before. */
        cur = atomic_fetch_or_explicit(&o->state, bit, memory_order_acq_rel) |
              bit;
        if (cur & done) {
                /* Too late to be seen: take it back unless the other side
                 * already took it (then it wakes us, harmlessly). */
                os_unregister(o, bit, slot, cx->task);
                cur = os_load(o);
        }
        return cur;
}

static void os_closed_cancel(struct task_wait *w)
{
        struct task_oneshot *o = w->obj;
        os_unregister(o, OS_TX_TASK, &o->tx_task,
                      (const task_waker *)(uintptr_t)w->arg);
        task__wait_reset(w);
}

bool task_oneshot_closed_poll(struct task_cx *cx, task_oneshot_tx *tx,
                              struct task_oneshot_closed *op, int *rc)
{
        struct task_oneshot *o = os_of_tx(tx);

        if (!cx || !o || !op) {
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
        if (st != TASK_WAIT_IDLE && w->obj != o) {
                task_wait_cancel(w); /* reused for another channel */
                st = TASK_WAIT_IDLE;
        }
        if (st == TASK_WAIT_IDLE && !task_coop_proceed(cx))
                return false;
        uint32_t cur = os_load(o);
        if (!(cur & OS_CLOSED)) {
                cur =
                    os_register(cx, o, OS_TX_TASK, &o->tx_task, OS_CLOSED, cur);
                if (!(cur & OS_CLOSED)) {
                        if (st == TASK_WAIT_IDLE) {
                                w->ops = &os_closed_ops;
                                w->obj = o;
                                w->arg = (uintptr_t)cx->task;
                                atomic_store_explicit(&w->state,
                                                      TASK_WAIT_QUEUED,
                                                      memory_order_relaxed);
                                cx->budget++; /* not ready: give it back */
                        }
                        return false;
                }
        }
        /* Nothing to take back: whoever set CLOSED cleared TX_TASK in the
         * same RMW, and os_register takes back a late registration. */
        if (st == TASK_WAIT_QUEUED)
                task__wait_reset(w);
        if (rc)
                *rc = 0;
        return true;
}

/* ---- Receiver -------------------------------------------------------------- */

/* The outcome of a receive once @cur has COMPLETE or CLOSED. */
static int os_take(struct task_oneshot *o, uint32_t cur, void *out)
{
        if (o->taken || !(cur & OS_VALUE))
                return -EPIPE;
        if (o->elem_size)
                memcpy(out, o->value, o->elem_size);
        o->taken = true;
        return 0;
}

static void os_recv_cancel(struct task_wait *w)
{
        struct task_oneshot *o = w->obj;
        os_unregister(o, OS_RX_TASK, &o->rx_task,
                      (const task_waker *)(uintptr_t)w->arg);
        task__wait_reset(w);
}

bool task_oneshot_recv_poll(struct task_cx *cx, task_oneshot_rx *rx,
                            struct task_oneshot_recv *op, void *out, int *rc)
{
        struct task_oneshot *o = os_of_rx(rx);

        if (!cx || !o || !op || (!out && o->elem_size)) {
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
        if (st != TASK_WAIT_IDLE && w->obj != o) {
                task_wait_cancel(w); /* reused for another channel */
                st = TASK_WAIT_IDLE;
        }
        if (st == TASK_WAIT_IDLE && !task_coop_proceed(cx))
                return false;
        uint32_t cur = os_load(o);
        if (!(cur & OS_RX_READY)) {
                cur = os_register(cx, o, OS_RX_TASK, &o->rx_task, OS_RX_READY,
                                  cur);
                if (!(cur & OS_RX_READY)) {
                        if (st == TASK_WAIT_IDLE) {
                                w->ops = &os_recv_ops;
                                w->obj = o;
                                w->arg = (uintptr_t)cx->task;
                                atomic_store_explicit(&w->state,
                                                      TASK_WAIT_QUEUED,
                                                      memory_order_relaxed);
                                cx->budget++; /* not ready: give it back */
                        }
                        return false;
                }
        }
        if (st == TASK_WAIT_QUEUED) {
                /* Usually the sender took our waker; after a close it may
                 * still be registered. */
                if (cur & OS_RX_TASK)
                        os_unregister(o, OS_RX_TASK, &o->rx_task, cx->task);
                task__wait_reset(w);
        }
        int r = os_take(o, cur, out);
        if (rc)
                *rc = r;
        return true;
}

int task_oneshot_try_recv(task_oneshot_rx *rx, void *out)
{
        struct task_oneshot *o = os_of_rx(rx);

        if (!o || (!out && o->elem_size))
                return -EINVAL;
        uint32_t cur = os_load(o);
        if (!(cur & OS_RX_READY))
                return -EAGAIN;
        return os_take(o, cur, out);
}

int task_oneshot_recv_blocking(task_oneshot_rx *rx, void *out)
{
        struct task_oneshot *o = os_of_rx(rx);

        if (!o || (!out && o->elem_size))
                return -EINVAL;
        if (task__on_worker())
                return -EDEADLK;
        uint32_t cur = os_load(o);
        while (!(cur & OS_RX_READY)) {
                if (!(cur & OS_RX_THREAD)) {
                        /* Acquire: as os_load(); the sender wakes the futex
                         * after any RMW that follows this one. */
                        cur = atomic_fetch_or_explicit(&o->state, OS_RX_THREAD,
                                                       memory_order_acquire) |
                              OS_RX_THREAD;
                        continue;
                }
                task__futex_wait(&o->state, cur, -1);
                cur = os_load(o);
        }
        return os_take(o, cur, out);
}

void task_oneshot_rx_close(task_oneshot_rx *rx)
{
        struct task_oneshot *o = os_of_rx(rx);

        if (!o)
                return;
        uint32_t cur = atomic_load_explicit(&o->state, memory_order_relaxed);
        while (!os_cas(o, &cur, (cur | OS_CLOSED) & ~OS_TX_TASK))
                ;
        /* We took the sender's closed-wait waker (stable: see the head). */
        if (cur & OS_TX_TASK)
                task_wake(o->tx_task);
}

void task_oneshot_rx_drop(task_oneshot_rx *rx)
{
        struct task_oneshot *o = os_of_rx(rx);
        uint32_t next;

        if (!o)
                return;
        uint32_t cur = os_load(o);
        for (;;) {
                /* A value sent and never received goes to elem_drop, before
                 * RX_ALIVE goes (the sender may free the channel then). */
                if ((cur & OS_VALUE) && !o->taken) {
                        if (o->elem_drop)
                                o->elem_drop(o->value);
                        o->taken = true;
                }
                next = (cur | OS_CLOSED) & ~OS_TX_TASK;
                if (!(cur & OS_TX_TASK))
                        next &= ~OS_RX_ALIVE;
                if (os_cas(o, &cur, next))
                        break;
        }
        if (cur & OS_TX_TASK) {
                task_wake(o->tx_task);
                os_release(o, OS_RX_ALIVE);
        } else if (!(cur & OS_TX_ALIVE)) {
                os_free(o, next);
        }
}
