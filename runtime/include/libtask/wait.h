/*
 * libtask/wait.h - wait nodes: how a task (or a plain thread) waits on a
 * sync primitive, and how an abandoned wait is undone.
 *
 * Every operation that can suspend (locking a Mutex, receiving from a
 * channel, ...) takes an *operation struct* that the caller keeps in its
 * frame, the way a Rust future keeps its state in itself:
 *
 *     struct worker { TASK_FRAME; struct task_mutex_lock lk; ... };
 *     ...
 *     TASK_AWAIT(f, task_mutex_lock_poll(cx, m, &f->lk, &f->rc));
 *
 * The struct embeds a struct task_wait, the node that the primitive links
 * into its queue of waiters while the task is suspended.  Zero it (a frame
 * initialised with `= { ... }` is zeroed) before its first use; after an
 * operation finishes the node is idle again and may be reused.
 *
 * Cancellation, the C analog of dropping a Rust future: when a task is
 * aborted, its cancelling poll resumes at the suspension point, and
 * TASK_AWAIT evaluates the awaited condition once more with cx->cancelling
 * set before it jumps to the cleanup.  Every libtask poll function, called
 * that way, cancels its operation and returns false: the node leaves the
 * primitive's queue, and anything the primitive had already handed to it (a
 * permit, the Mutex, ...) is given back.  TASK_SELECT does the same to the
 * branches that lost, and task_wait_cancel() does it by hand.  Each
 * primitive's header says what cancelling its operations does to a value
 * in flight (docs/sync.md has the table).
 *
 * HAZARDS:
 *  - **An operation struct must live in the task's frame** (or in memory
 *    that outlives the wait), never in a local variable of the poll
 *    function: the primitive writes to it after the poll returns.
 *  - **Do not copy or move an operation struct while it waits.**
 *  - One operation struct serves one operation at a time.
 *  - **A wait that was started must be finished or cancelled.**  When a
 *    poll function returned false, poll it again until it returns true, or
 *    call task_wait_cancel(); TASK_AWAIT, TASK_SELECT and TASK_JOIN_ALL do
 *    this for you.  A task that just walks away leaves its node queued.
 *
 * The fields are public only so that operation structs can be embedded by
 * value; treat them as opaque.
 */
#ifndef LIBTASK_WAIT_H
#define LIBTASK_WAIT_H

#include <libtask/common.h>
#include <libtask/coro.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct task;
struct task_wait;

/*
 * The spinlock the primitives guard their waiter queues with (the runtime's
 * own lock, runtime/src/lock-priv.h).  Public only to be embedded.
 */
struct task__spinlock {
        atomic_bool held;
};

/* A FIFO queue of wait nodes, guarded by its primitive's lock. */
struct task_waitq {
        struct task_wait *head, *tail;
};

/* What a primitive does when a wait node is cancelled (see wait.c). */
struct task_wait_ops {
        /*
         * Take @w out of its primitive: unlink it if queued, give back
         * anything already granted to it.  Called by the task that owns
         * @w, from its own poll.  Leaves @w idle.
         */
        void (*cancel)(struct task_wait *w);
};

/* Node states (task_wait.state). */
enum {
        TASK_WAIT_IDLE = 0,   /* not in any queue; owned by its task */
        TASK_WAIT_QUEUED = 1, /* in a primitive's queue (its lock guards it) */
        TASK_WAIT_DONE = 2,   /* removed and completed by the primitive */
};

/*
 * A wait node.  While QUEUED, links and the waker belong to the primitive
 * (under its lock); the primitive sets the result, then stores DONE with
 * release, then wakes.  The owner reads DONE with acquire, then the result.
 */
/* 56 bytes: a task waiting on a Notify fits a 128-byte slot, header too. */
struct task_wait {
        struct task_wait *next, *prev; /* the primitive's queue */
        struct task *waker; /* a task waker (a reference), or NULL (thread) */
        const struct task_wait_ops *ops;
        void *obj;    /* the primitive waited on */
        uint64_t arg; /* primitive-specific: permits missing, a position */
        _Atomic uint32_t state; /* TASK_WAIT_* */
        int32_t result;         /* primitive-specific: the outcome, or flags */
};

/*
 * task_wait_cancel - abandon the wait @w belongs to, as if the operation
 * had never been started, except that whatever the primitive documents as
 * not cancellation-safe may have happened.  Idle nodes are left alone.
 * Called from the task that started the wait.  NULL is ignored.
 */
TASK_API void task_wait_cancel(struct task_wait *w);

/* True while @w is queued on a primitive or completed but not consumed. */
static inline bool task_wait_pending(struct task_wait *w)
{
        return w && atomic_load_explicit(&w->state, memory_order_acquire) !=
                        TASK_WAIT_IDLE;
}

/* ---- select and join-all ------------------------------------------------- */

/*
 * The state a TASK_SELECT or TASK_JOIN_ALL keeps in the frame.  After
 * TASK_SELECT, @which is the index of the branch that won; TASK_JOIN_ALL
 * uses @done (one bit per branch completed).
 */
struct task_select {
        int which;
        uint32_t done;
};

#define TASK__SEL_N(_1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
#define TASK__SEL_COUNT(...) TASK__SEL_N(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define TASK__SEL_CAT_(a, b) a##b
#define TASK__SEL_CAT(a, b) TASK__SEL_CAT_(a, b)

/* Branch @i of a select: true (and which = i) when ready. */
#define TASK__SB(s, i, c) ((c) ? ((s)->which = (i), 1) : 0)
/* Branch @i after the select was decided: cancel it unless it won. */
#define TASK__SD(s, i, c) ((s)->which != (i) ? (void)(c) : (void)0)

// clang-format off
#define TASK__SEL1(s, c0) TASK__SB(s, 0, c0)
#define TASK__SEL2(s, c0, c1) TASK__SEL1(s, c0) || TASK__SB(s, 1, c1)
#define TASK__SEL3(s, c0, c1, c2) TASK__SEL2(s, c0, c1) || TASK__SB(s, 2, c2)
#define TASK__SEL4(s, c0, c1, c2, c3) TASK__SEL3(s, c0, c1, c2) || TASK__SB(s, 3, c3)
#define TASK__SEL5(s, c0, c1, c2, c3, c4) TASK__SEL4(s, c0, c1, c2, c3) || TASK__SB(s, 4, c4)
#define TASK__SEL6(s, c0, c1, c2, c3, c4, c5) TASK__SEL5(s, c0, c1, c2, c3, c4) || TASK__SB(s, 5, c5)
#define TASK__SEL7(s, c0, c1, c2, c3, c4, c5, c6) TASK__SEL6(s, c0, c1, c2, c3, c4, c5) || TASK__SB(s, 6, c6)
#define TASK__SEL8(s, c0, c1, c2, c3, c4, c5, c6, c7) TASK__SEL7(s, c0, c1, c2, c3, c4, c5, c6) || TASK__SB(s, 7, c7)

#define TASK__SDR1(s, c0) TASK__SD(s, 0, c0)
#define TASK__SDR2(s, c0, c1) TASK__SDR1(s, c0), TASK__SD(s, 1, c1)
#define TASK__SDR3(s, c0, c1, c2) TASK__SDR2(s, c0, c1), TASK__SD(s, 2, c2)
#define TASK__SDR4(s, c0, c1, c2, c3) TASK__SDR3(s, c0, c1, c2), TASK__SD(s, 3, c3)
#define TASK__SDR5(s, c0, c1, c2, c3, c4) TASK__SDR4(s, c0, c1, c2, c3), TASK__SD(s, 4, c4)
#define TASK__SDR6(s, c0, c1, c2, c3, c4, c5) TASK__SDR5(s, c0, c1, c2, c3, c4), TASK__SD(s, 5, c5)
#define TASK__SDR7(s, c0, c1, c2, c3, c4, c5, c6) TASK__SDR6(s, c0, c1, c2, c3, c4, c5), TASK__SD(s, 6, c6)
#define TASK__SDR8(s, c0, c1, c2, c3, c4, c5, c6, c7) TASK__SDR7(s, c0, c1, c2, c3, c4, c5, c6), TASK__SD(s, 7, c7)

/* Branch @i of a join-all: polled until it completes, never after.  The
 * branches are joined with the comma operator, which sequences them. */
#define TASK__JA(s, i, c)                                                      \
        (((s)->done & (1u << (i))) ? 0u : (c) ? ((s)->done |= 1u << (i)) : 0u)
#define TASK__JALL(s, n) ((s)->done == (1u << (n)) - 1u)
#define TASK__JOIN1(s, c0) (TASK__JA(s, 0, c0), TASK__JALL(s, 1))
#define TASK__JOIN2(s, c0, c1) (TASK__JA(s, 0, c0), TASK__JA(s, 1, c1), TASK__JALL(s, 2))
#define TASK__JOIN3(s, c0, c1, c2) (TASK__JA(s, 0, c0), TASK__JA(s, 1, c1), TASK__JA(s, 2, c2), TASK__JALL(s, 3))
#define TASK__JOIN4(s, c0, c1, c2, c3) (TASK__JA(s, 0, c0), TASK__JA(s, 1, c1), TASK__JA(s, 2, c2), TASK__JA(s, 3, c3), TASK__JALL(s, 4))
#define TASK__JOIN5(s, c0, c1, c2, c3, c4) (TASK__JA(s, 0, c0), TASK__JA(s, 1, c1), TASK__JA(s, 2, c2), TASK__JA(s, 3, c3), TASK__JA(s, 4, c4), TASK__JALL(s, 5))
#define TASK__JOIN6(s, c0, c1, c2, c3, c4, c5) (TASK__JA(s, 0, c0), TASK__JA(s, 1, c1), TASK__JA(s, 2, c2), TASK__JA(s, 3, c3), TASK__JA(s, 4, c4), TASK__JA(s, 5, c5), TASK__JALL(s, 6))
#define TASK__JOIN7(s, c0, c1, c2, c3, c4, c5, c6) (TASK__JA(s, 0, c0), TASK__JA(s, 1, c1), TASK__JA(s, 2, c2), TASK__JA(s, 3, c3), TASK__JA(s, 4, c4), TASK__JA(s, 5, c5), TASK__JA(s, 6, c6), TASK__JALL(s, 7))
#define TASK__JOIN8(s, c0, c1, c2, c3, c4, c5, c6, c7) (TASK__JA(s, 0, c0), TASK__JA(s, 1, c1), TASK__JA(s, 2, c2), TASK__JA(s, 3, c3), TASK__JA(s, 4, c4), TASK__JA(s, 5, c5), TASK__JA(s, 6, c6), TASK__JA(s, 7, c7), TASK__JALL(s, 8))
// clang-format on

#define TASK__SEL_DISPATCH(pfx, ...)                                           \
        TASK__SEL_CAT(pfx, TASK__SEL_COUNT(__VA_ARGS__))

/*
 * TASK_SELECT(f, s, cond0, cond1, ...) - await the first of 1 to 8
 * awaitables.  Each cond is a poll call, as in TASK_AWAIT (a primitive's
 * *_poll(), task_join_poll(), ...).  Each time the task is polled the
 * branches are polled in order (the select is *biased*: put first the one
 * that must win a tie) until one is ready; then s->which is its index, and
 * every other branch is polled once in cancelling mode, which drops the
 * wait it left queued, exactly as an abort would.  On an abort before the
 * decision every branch is polled that way; an abort that arrives while
 * the losers of a decided select are still letting go (I/O in flight)
 * takes effect at the next suspension point after the select, so the
 * winner's result is never lost.  @s: a struct task_select in the frame.  The
 * conditions are expanded twice (the polling pass and the dropping pass).
 *
 *     TASK_SELECT(f, &f->sel,
 *                 task_mpsc_recv_poll(cx, f->rx, &f->recv, &f->v, &f->rc),
 *                 task_notify_poll(cx, &shared->stop, &f->stop));
 *     if (f->sel.which == 1)
 *             TASK_RETURN(f);
 *
 * (Its own resume point rather than a TASK_AWAIT: the dropping pass must
 * run after a win as well as on an abort.  A losing branch that cannot let
 * go at once -- an I/O operation whose cancel the kernel has not confirmed
 * -- keeps the select suspended in its dropping pass until it has; only
 * then does the code after the select run.)
 */
#define TASK_SELECT(f, s, ...)                                                   \
        do {                                                                     \
                (s)->which = -1;                                                 \
                TASK__MARK(f);                                                   \
                TASK__FALLTHROUGH;                                               \
        case __LINE__: {                                                         \
                unsigned char task__c_ = (cx)->cancelling;                       \
                /* An abort drops the branches only while undecided:           \
                 * after the decision the winner's result must reach the       \
                 * code after the select (see the end). */ \
                int task__drop_ = task__c_ && (f)->co.lc != TASK__LC_CANCEL &&   \
                                  (s)->which < 0;                                \
                (cx)->cancelling = 0;                                            \
                if (!task__drop_ && (s)->which < 0 &&                            \
                    !(TASK__SEL_DISPATCH(TASK__SEL,                              \
                                         __VA_ARGS__)((s), __VA_ARGS__))) {      \
                        (cx)->cancelling = task__c_;                             \
                        TASK__PEND();                                            \
                }                                                                \
                /* Decided (which >= 0) or aborted (which == -1). */             \
                (cx)->cancelling = 1;                                            \
                (cx)->cancel_wait = 0;                                           \
                TASK__SEL_DISPATCH(TASK__SDR, __VA_ARGS__)((s), __VA_ARGS__);    \
                (cx)->cancelling = task__c_;                                     \
                if ((cx)->cancel_wait) {                                         \
                        /* A loser is still letting go (I/O in flight):        \
                         * come back here when it wakes us.  While the task    \
                         * is being cancelled, cancel_wait keeps it alive. */ \
                        if (!task__c_)                                           \
                                (cx)->cancel_wait = 0;                           \
                        TASK__PEND();                                            \
                }                                                                \
                if (task__drop_) {                                               \
                        (f)->co.lc = TASK__LC_CANCEL;                            \
                        goto task__top;                                          \
                }                                                                \
                if (task__c_ && (f)->co.lc != TASK__LC_CANCEL) {                 \
                        /* Aborted after the decision, while losers were       \
                         * letting go: run on to the next suspension point,    \
                         * where the abort takes effect (yielded: that poll    \
                         * is re-queued and the next one is cancelling). */ \
                        (cx)->cancelling = 0;                                    \
                        (cx)->yielded = 1;                                       \
                }                                                                \
        }                                                                        \
        } while (0)

/*
 * TASK_JOIN_ALL(f, s, cond0, cond1, ...) - await all of 1 to 8 awaitables
 * concurrently: each branch is polled until it completes and never again
 * after that.  An abort cancels the branches still waiting.  @s: a struct
 * task_select in the frame.
 */
#define TASK_JOIN_ALL(f, s, ...)                                               \
        do {                                                                   \
                (s)->done = 0;                                                 \
                TASK_AWAIT(f, (TASK__SEL_DISPATCH(TASK__JOIN, __VA_ARGS__)(    \
                                  (s), __VA_ARGS__)));                         \
        } while (0)

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_WAIT_H */
