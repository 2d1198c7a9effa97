/*
 * runtime-priv.h - the runtime's internal structures (never installed).
 *
 * Map of runtime/src/:
 *   task.c     the task state machine: spawn, wake, poll outcome, join, abort,
 *              reference counts
 *   worker.c   the worker loop: next task, LIFO slot, stealing, parking
 *   queue.c    the per-worker local run queue (queue-priv.h)
 *   inject.c   the global injection queue (inject-priv.h)
 *   idle.c     who searches, who sleeps, whom to wake
 *   park.c     the clock; the parker protocol the driver implements
 *   io/        the io_uring driver: rings, submission, completion, parking
 *   time/      the per-worker timer wheel and the time API
 *   blocking.c the blocking pool
 *   slab.c     the task allocator and the registry of all tasks
 *   runtime.c  building, block_on, shutdown, freeing
 *   dump.c     task dump, metrics, stall detector
 *
 * The task state word (struct task.state), 64 bits:
 *
 *   bit 0  SCHEDULED      owned by the scheduler: in a run queue or being
 *                         polled.  Set only by the transition idle ->
 *                         scheduled, and whoever makes it pushes the task.
 *   bit 1  NOTIFIED       woken while SCHEDULED: poll again afterwards.
 *   bit 2  COMPLETE       ended (finished or cancelled); never polled again.
 *   bit 3  CANCELLED      abort requested; after COMPLETE: "was cancelled".
 *   bit 4  JOIN_INTEREST  a join handle exists.
 *   bit 5  JOIN_WAKER     task.join_waiter holds a waiter; the completer
 *                         takes it.  While clear, only the handle's owner
 *                         touches join_waiter.
 *   bit 6  LARGE          allocated as a large block (immutable).
 *   bits 16..63           reference count.
 *
 * References: one for the runtime (from spawn until the task ends), one
 * per join handle, one per waker.  The memory is returned to the allocator
 * when the count reaches zero.  Being in a run queue needs no reference:
 * a queued task is SCHEDULED, so it is not COMPLETE, so the runtime's
 * reference is still held.
 */
#ifndef LIBTASK_RUNTIME_PRIV_H
#define LIBTASK_RUNTIME_PRIV_H

#include <libtask/task.h>

#include "inject-priv.h"
#include "io/ring-priv.h"
#include "lock-priv.h"
#include "queue-priv.h"
#include "time/wheel-priv.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TASK__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TASK__ASAN 1
#endif
#endif

#define TASK__CACHELINE 64
#define TASK__UNLIKELY_(x) __builtin_expect(!!(x), 0)

/* ---- Task header ----------------------------------------------------------- */

#define TASK_ST_SCHEDULED (UINT64_C(1) << 0)
#define TASK_ST_NOTIFIED (UINT64_C(1) << 1)
#define TASK_ST_COMPLETE (UINT64_C(1) << 2)
#define TASK_ST_CANCELLED (UINT64_C(1) << 3)
#define TASK_ST_JOIN_INTEREST (UINT64_C(1) << 4)
#define TASK_ST_JOIN_WAKER (UINT64_C(1) << 5)
#define TASK_ST_LARGE (UINT64_C(1) << 6)
#define TASK_ST_REF_SHIFT 16
#define TASK_ST_REF_ONE (UINT64_C(1) << TASK_ST_REF_SHIFT)
#define TASK_ST_REFS(s) ((s) >> TASK_ST_REF_SHIFT)

/*
 * The task: this header, then the frame.  Fields read by the task dump and
 * the stall detector from other threads (state, id, fn, site, spawn) are
 * atomics accessed relaxed: the dump is a snapshot, and slab memory is never
 * unmapped while the runtime lives, so a racing read is stale, never unsafe.
 */
struct task {
        _Atomic uint64_t state;
        /* Written at spawn (relaxed), read by the dump. */
        _Atomic uint64_t id;
        _Atomic(task_fn) fn;
        /* Last suspension point; written by the polling worker. */
        _Atomic(const struct task_site *) site;
        _Atomic(const struct task_site *) spawn;
        /* Global-queue link while queued there; a JoinSet's ready-list link
         * once COMPLETE (sync/joinset.c); free-list link when free. */
        struct task *next;
        /* Join waiter: a task (low bits 00), a blocked thread (01) or a
         * JoinSet (10, sync/joinset.c). */
        _Atomic uintptr_t join_waiter;
        /* The frame follows, 8-byte aligned. */
};

_Static_assert(sizeof(struct task) <= 64, "task header must fit 64 bytes");
_Static_assert(sizeof(struct task) % 8 == 0, "frames are 8-byte aligned");

static inline void *task__frame(struct task *t)
{
        return (void *)(t + 1);
}

/* ---- Futexes ----------------------------------------------------------------- */

/*
 * Sleep while *@addr == @val, for at most @timeout_ns (< 0: no limit); may
 * return early or spuriously: callers loop on their own condition.
 */
static inline void task__futex_wait(_Atomic uint32_t *addr, uint32_t val,
                                    int64_t timeout_ns)
{
        struct timespec ts, *tsp = NULL;

        if (timeout_ns >= 0) {
                ts.tv_sec = timeout_ns / 1000000000;
                ts.tv_nsec = timeout_ns % 1000000000;
                tsp = &ts;
        }
        syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL,
                0);
}

/*
 * Wake up to @n threads sleeping on @addr.  Harmless on an address whose
 * owner has gone (its memory reused): at worst a spurious wake-up, which
 * every futex waiter tolerates.
 */
static inline void task__futex_wake(_Atomic uint32_t *addr, int n)
{
        syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL,
                0);
}

/* ---- Parking driver -------------------------------------------------------- */

/*
 * A worker's parker.  state: 0 EMPTY, 1 PARKED, 2 NOTIFIED (the protocol
 * is at the head of park.c; the io_uring driver implements it).
 */
struct task__parker {
        _Atomic uint32_t state;
};

struct task__worker;

/*
 * The driver interface the scheduler parks through (the backend boundary:
 * io_uring now, epoll later).  park() returns when unpark() was called
 * (before or during), on a timeout (@timeout_ns >= 0) or spuriously, having
 * submitted the worker's queued I/O and reaped its completions; unpark()
 * may be called from any thread at any time.
 */
struct task__driver_ops {
        const char *name;
        void (*park)(struct task__worker *w, int64_t timeout_ns);
        void (*unpark)(struct task__worker *w);
};

/* ---- Task allocator -------------------------------------------------------- */

/*
 * Slot sizes: whole cache lines, 64 to 2048 bytes.  Finer classes (8-byte
 * steps) saved memory but put neighbouring tasks on one cache line, and
 * tasks polled on different workers then fought over it: yield_many went
 * from 7 to 35 ns per yield with a 16-byte frame.  Tokio aligns its task
 * cells to 128 bytes for the same reason.
 */
#define TASK__SLAB_PAGE (64 * 1024)
#define TASK__SLAB_MIN 64
#define TASK__SLAB_MAX 2048
#define TASK__SLAB_NCLASS (TASK__SLAB_MAX / TASK__CACHELINE)
/* Large blocks: powers of two from 4 KiB; frames up to 1 GiB. */
#define TASK__LARGE_MIN_SHIFT 12
#define TASK__LARGE_MAX_SHIFT 30
#define TASK__LARGE_NCLASS (TASK__LARGE_MAX_SHIFT - TASK__LARGE_MIN_SHIFT + 1)

struct task__heap;

/* A chunk of slab pages, as allocated (freed whole at runtime free). */
struct task__chunk {
        struct task__chunk *next;
        void *mem;
};
#define TASK__SLAB_CHUNK (2 * 1024 * 1024)

/* The head of every 64 KiB slab page (the page is aligned to its size). */
struct task__slab_page {
        struct task__heap *heap; /* owner; immutable */
        struct task__slab_page
            *next_all;      /* registry link; immutable once published */
        uint32_t slot_size; /* immutable */
        uint32_t nslots;    /* immutable */
        uint32_t first;     /* offset of slot 0; immutable */
        /* Slots handed out so far: written by the owner (release), read by
         * walkers (acquire). */
        _Atomic uint32_t bump;
};

struct task__slab_class {
        struct task *free;            /* owner's free list */
        struct task__slab_page *page; /* page being bump-allocated */
};

/*
 * Frees from other threads: multi-producer push, the owner takes all.  One
 * cache line each: shared with the owner's free list, every remote free
 * cost the owner a cache miss on its next allocation.
 */
struct task__slab_remote {
        _Alignas(TASK__CACHELINE) _Atomic(struct task *) head;
};

/*
 * A heap: per worker (used without a lock by its worker) or the shared
 * external heap (used by non-worker threads under `lock`).
 */
struct task__heap {
        struct task__slab_class cls[TASK__SLAB_NCLASS];
        struct task__slab_remote remote[TASK__SLAB_NCLASS];
        struct task_runtime *rt;
        struct task__spinlock lock; /* external heap only */
        uint64_t id_next, id_end;   /* this heap's block of task ids */
};

/* Prefix of a large block. */
struct task__large {
        struct task_runtime *rt;
        struct task__large *next_all; /* registry; immutable once published */
        struct task__large *next_free;
        uint32_t shift;
        uint32_t pad;
};

void task__heap_init(struct task__heap *h, struct task_runtime *rt);
/* Allocate a task of @size bytes (header + frame); NULL on failure.  The
 * header is zeroed except `state`, which the caller sets. */
struct task *task__task_alloc(struct task__heap *h, size_t size);
/* Return a task whose last reference is gone.  Any thread. */
void task__task_free(struct task *t);
/* The runtime a task belongs to. */
struct task_runtime *task__rt_of(const struct task *t);
/* Visit every slot that holds a task (state != 0).  Any thread. */
int task__registry_walk(struct task_runtime *rt,
                        int (*cb)(struct task *t, void *arg), void *arg);
/* Free every page and large block of @rt. */
void task__registry_destroy(struct task_runtime *rt);

/* Fault injection for tests: see tests/runtime/test_badinput.c. */
extern _Atomic long task__fault_alloc_countdown;
bool task__fault_alloc(void);

/* ---- Idle coordination (idle.c) -------------------------------------------- */

struct task__idle {
        /* num_searching in bits 0..15, num_unparked in bits 16..31. */
        _Atomic uint32_t state;
        unsigned num_workers;
        struct task__spinlock lock;
        unsigned *sleepers; /* under lock */
        unsigned nsleepers; /* under lock */
        bool *is_sleeping;  /* under lock */
};

int task__idle_init(struct task__idle *idle, unsigned n);
void task__idle_destroy(struct task__idle *idle);
/* Would task__idle_worker_to_notify() wake someone now?  (No lock.) */
bool task__idle_notify_wanted(struct task__idle *idle);
/* A parked worker to wake, or -1 if none should be. */
int task__idle_worker_to_notify(struct task__idle *idle);
/* The worker parks; true if it was the last searcher. */
bool task__idle_transition_to_parked(struct task__idle *idle, unsigned w,
                                     bool searching);
/* May the worker start searching?  (At most half of them search.) */
bool task__idle_transition_to_searching(struct task__idle *idle);
/* The worker found work; true if it was the last searcher. */
bool task__idle_transition_from_searching(struct task__idle *idle);
/* Is the worker still in the sleepers list? */
bool task__idle_is_parked(struct task__idle *idle, unsigned w);
/* Take the worker out of the sleepers list (it woke with work at hand). */
void task__idle_unpark_worker_by_id(struct task__idle *idle, unsigned w);

/* ---- Workers ----------------------------------------------------------------- */

/* Per-worker counters: written only by their worker (relaxed load + store,
 * no RMW), read by anyone (relaxed). */
struct task__worker_metrics {
        _Atomic uint64_t polls, steal_ops, steal_tasks, overflows, parks,
            unparks, busy_ns, spawned, ended;
};

struct task__worker {
        /* ---- owner-hot: touched by this worker on every poll ---- */
        struct task__queue q;
        struct task *lifo; /* owner only */
        struct task_runtime *rt;
        unsigned idx;
        uint32_t tick;
        uint32_t rng;
        bool searching;
        /* Owner only: set while the driver dispatches a completion batch. */
        bool reaping;
        /* Published for the dump and the stall detector: odd while polling. */
        _Atomic uint64_t poll_seq;
        _Atomic(struct task *) current;
        struct task__worker_metrics m;
        uint64_t busy_since; /* owner: when it last unparked */
        struct task__heap heap;
        /* The timer wheel (time/wheel.c): timers registered from tasks
         * polled on this worker; other workers only cancel (its lock). */
        struct task__wheel wheel;
        /* ---- touched by other threads ---- */
        _Alignas(TASK__CACHELINE) struct task__parker parker;
        /* The worker's io_uring (io/driver.c); its mailbox and parker are
         * the only parts other threads touch. */
        struct task__io_ring io;
        pthread_t thread;
        bool thread_started;
        /* stall detector state (monitor thread only) */
        uint64_t stall_seq;
        uint64_t stall_since;
        uint64_t stall_reported;
};

struct task_runtime {
        struct task_runtime_opts opts;
        char thread_name[16];
        enum task_flavor flavor;
        unsigned nworkers;
        struct task__worker *workers;
        const struct task__driver_ops *driver;
        struct task__inject inject;
        struct task__idle idle;
        /* Set once at shutdown (release); read by workers (acquire). */
        _Atomic bool shutdown;
        bool shut_down;              /* shutdown finished (caller thread) */
        pthread_mutex_t shutdown_mu; /* serialises shutdown/free */
        /* current-thread flavor: someone is inside task_block_on */
        atomic_bool block_on_active;
        /* The external heap for spawns from non-worker threads. */
        struct task__heap ext_heap;
        _Atomic uint64_t ext_spawned, ext_ended;
        /* Registry of all slab pages and large blocks (push-only lists). */
        _Atomic(struct task__slab_page *) pages;
        _Atomic(struct task__large *) large_all;
        struct task__spinlock large_lock;
        /* Slab pages are carved from 2 MiB chunks (under chunk_lock). */
        struct task__spinlock chunk_lock;
        char *chunk_next;
        unsigned chunk_left;
        struct task__chunk *chunks;
        struct task__large
            *large_free[TASK__LARGE_NCLASS]; /* under large_lock */
        /* The blocking pool (blocking.c), or NULL until first used. */
        struct task__blocking_pool *_Atomic blocking;
        /* Stall detector. */
        pthread_t monitor;
        bool monitor_started;
        pthread_mutex_t monitor_mu;
        pthread_cond_t monitor_cv;
        bool monitor_stop; /* under monitor_mu */
        _Atomic uint64_t stalls;
        /*
         * Operations in flight on threads that are not this runtime's
         * workers and that may touch its memory after giving up their last
         * claim on it (a wake that made a task runnable, a last reference
         * drop): task_runtime_free waits for this to drain.  See
         * task__foreign_enter().
         */
        _Alignas(TASK__CACHELINE) _Atomic uint64_t foreign_ops;
};

/* The worker this thread is, or NULL (initial-exec TLS: no __tls_get_addr). */
extern _Thread_local struct task__worker *task__tls_worker
    __attribute__((tls_model("initial-exec")));

static inline struct task__worker *task__current_worker(struct task_runtime *rt)
{
        struct task__worker *w = task__tls_worker;
        return (w && w->rt == rt) ? w : NULL;
}

/*
 * Bracket an operation on @rt's memory from a thread that is not one of
 * its workers (the workers are joined before the runtime is freed, so they
 * need no bracket).  The seq_cst increment comes before the operation's
 * reference drop or wake, so a task_runtime_free that sees the effect of
 * that drop (no live tasks) also sees the increment, and waits.
 */
static inline bool task__foreign_enter(struct task_runtime *rt)
{
        if (task__current_worker(rt))
                return false;
        atomic_fetch_add_explicit(&rt->foreign_ops, 1, memory_order_seq_cst);
        return true;
}

static inline void task__foreign_exit(struct task_runtime *rt, bool entered)
{
        /* Release: our accesses to @rt happen before its free. */
        if (entered)
                atomic_fetch_sub_explicit(&rt->foreign_ops, 1,
                                          memory_order_release);
}

/* A per-worker counter: single writer, so a load and a store, not an RMW. */
static inline void task__metric_inc(_Atomic uint64_t *m, uint64_t by)
{
        /* Relaxed: a counter orders nothing (but see the next one). */
        atomic_store_explicit(
            m, atomic_load_explicit(m, memory_order_relaxed) + by,
            memory_order_relaxed);
}

/*
 * The `ended` counter.  Release: a reader that acquires a task's `ended`
 * count also sees the `spawned` count of the spawn that preceded it (the
 * spawner counted before pushing the task, and the task travelled through
 * a queue's release/acquire to the worker that ended it), so
 * task_runtime_metrics, reading all `ended` first, never counts fewer live
 * tasks than there are.
 */
static inline void task__metric_inc_ended(_Atomic uint64_t *m)
{
        atomic_store_explicit(m,
                              atomic_load_explicit(m, memory_order_relaxed) + 1,
                              memory_order_release);
}

uint64_t task__now_ns(void);

/* task.c */
void task__poll(struct task__worker *w, struct task *t);
void task__schedule(struct task_runtime *rt, struct task *t, bool is_yield);
void task__cancel_at_shutdown(struct task *t);
uint64_t task__id_next(struct task__heap *h);

/* worker.c */
void task__worker_schedule_local(struct task__worker *w, struct task *t,
                                 bool is_yield);
void task__notify_parked(struct task_runtime *rt);
void *task__worker_main(void *arg);
/* Run the scheduler on this thread until *done (current-thread flavor). */
void task__worker_run_until(struct task__worker *w, struct task *root);
int task__worker_init(struct task__worker *w, struct task_runtime *rt,
                      unsigned idx);
void task__worker_destroy(struct task__worker *w);

/* blocking.c: stop the pool (runtime shutdown, before tasks are
 * cancelled: waits for running jobs) and free it (runtime free). */
struct task__blocking_pool;
void task__blocking_shutdown(struct task_runtime *rt);
void task__blocking_destroy(struct task_runtime *rt);

/* dump.c */
int task__monitor_start(struct task_runtime *rt);
void task__monitor_stop(struct task_runtime *rt);
void task__fill_info(struct task *t, struct task_info *ti, uint64_t st);

/* ---- Join waiters (task.c) and JoinSets (sync/joinset.c) ------------------- */

/* task.join_waiter's low bits: what kind of waiter the rest points to. */
#define TASK__JW_THREAD ((uintptr_t)1)  /* a thread in task_join_blocking */
#define TASK__JW_JOINSET ((uintptr_t)2) /* a JoinSet (sync/joinset.c) */
#define TASK__JW_TAGS ((uintptr_t)3)    /* none: a task's waker */

struct task_joinset;

/*
 * Install @waiter as @t's join waiter (the handle owner only).  Returns
 * false when installed, true when @t had completed (then *@stp is its
 * final state and nothing was installed).
 */
bool task__join_install(struct task *t, uintptr_t waiter, uint64_t *stp);

/* What joining a task whose final state is @st reports: 0 or -ECANCELED. */
static inline int task__join_result(uint64_t st)
{
        return (st & TASK_ST_CANCELLED) ? -ECANCELED : 0;
}

/* The completer of a task whose join waiter is the JoinSet @set. */
void task__joinset_notify(struct task_joinset *set, struct task *t);

/* A JoinSet join waiter was taken back before completion (handle release). */
void task__joinset_forget(struct task_joinset *set);

#endif /* LIBTASK_RUNTIME_PRIV_H */
