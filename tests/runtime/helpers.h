/*
 * helpers.h - what the test suites (tests/runtime/, tests/sync/) share.
 *
 * - Failure recording usable from any thread.  Criterion's cr_assert() may
 *   only be called from the test's own thread (it longjmps out of the test),
 *   so a check inside a task or a helper thread records the first failure
 *   with TCHECK() and the test thread reports it with tcheck_assert_none().
 * - The scale factor for heavy tests: $LIBTASK_TEST_SCALE (a positive float,
 *   1.0 = full size) or, when unset, a reduced size under ASan and TSan.
 * - Runtimes of either flavor, freed with a check that nothing leaked, and
 *   a current-thread runtime driven step by step (ct_run_until()).
 * - Small time helpers, a bounded wait, and a "gate": a resource a task can
 *   await and another thread can open, written the way coro.h asks a
 *   resource to be (register the waker when not ready, wake on open).
 * - For the sync suites: whether a wait node is still queued
 *   (wait_queued()), and an elem_drop that frees and counts.
 *
 * Everything is static inline so that each test file uses what it needs
 * without unused-function warnings.
 */
#ifndef LIBTASK_TESTS_HELPERS_H
#define LIBTASK_TESTS_HELPERS_H

#include <libtask/task.h>

#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Sanitizers ---------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#ifndef TEST_TSAN
#define TEST_TSAN 0
#endif

#if TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/*
 * Defaults for the sanitizer runtimes; the *_OPTIONS environment variables
 * still win.  A UBSan report aborts the test, so that Criterion counts it as
 * crashed instead of passed with a report on stderr (defined in every build:
 * only a UBSan runtime calls it, whatever else is enabled).  No LSan
 * suppression: tests/meson.build runs ASan builds with CRITERION_JOBS=1,
 * where Criterion's runner leaks nothing.
 */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
        return "halt_on_error=1:print_stacktrace=1";
}

/*
 * The size factor for heavy tests.  $LIBTASK_TEST_SCALE wins; otherwise
 * 1.0, or less under a sanitizer (TSan slows this kind of code 5-15x and
 * ASan 2-3x, and both multiply memory use).
 */
static inline double test_scale(void)
{
        const char *s = getenv("LIBTASK_TEST_SCALE");
        if (s && *s) {
                double v = strtod(s, NULL);
                if (v > 0)
                        return v;
        }
        if (TEST_TSAN)
                return 1.0 / 8;
        if (TEST_ASAN)
                return 1.0 / 4;
        return 1.0;
}

/* @n scaled, at least @min. */
static inline long test_scaled(long n, long min)
{
        long v = (long)((double)n * test_scale());
        return v < min ? min : v;
}

/* ---- Failures from any thread ------------------------------------------- */

static atomic_int tcheck_failures;
static atomic_flag tcheck_first = ATOMIC_FLAG_INIT;
static char tcheck_msg[512];

static inline void tcheck_fail(const char *file, int line, const char *what)
{
        if (!atomic_flag_test_and_set(&tcheck_first))
                snprintf(tcheck_msg, sizeof tcheck_msg,
                         "%s:%d: check failed: %s", file, line, what);
        /*
         * Release, paired with the acquire in tcheck_assert_none(): a
         * reader that sees the count sees the message, but only if it sees
         * the first failing thread's increment, since only that thread
         * writes the message.  One that sees just a later thread's may
         * read it half-written; the suites read it after joining the tasks
         * and threads that check, which orders it anyway.
         */
        atomic_fetch_add_explicit(&tcheck_failures, 1, memory_order_release);
}

/* Check @cond from any thread; the test thread reports it later. */
#define TCHECK(cond)                                                           \
        do {                                                                   \
                if (!(cond))                                                   \
                        tcheck_fail(__FILE__, __LINE__, #cond);                \
        } while (0)

/* From the test thread: fail the test if any TCHECK failed. */
#define tcheck_assert_none()                                                   \
        do {                                                                   \
                int n_ = atomic_load_explicit(&tcheck_failures,                \
                                              memory_order_acquire);           \
                cr_assert_eq(n_, 0,                                            \
                             "%d failed check(s) off the test thread; "        \
                             "first: %s",                                      \
                             n_, tcheck_msg);                                  \
        } while (0)

/* ---- Time ---------------------------------------------------------------- */

static inline uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
}

/*
 * WAIT_UNTIL(cond, ms) - poll @cond (an expression) every 100 us for up to
 * @ms milliseconds; evaluates to its final truth value.
 */
#define WAIT_UNTIL(cond, ms)                                                   \
        (__extension__({                                                       \
                uint64_t wu_end_ = now_ns() + (uint64_t)(ms)*1000000u;         \
                bool wu_ok_;                                                   \
                while (!(wu_ok_ = (cond)) && now_ns() < wu_end_) {             \
                        struct timespec wu_ts_ = {0, 100000};                  \
                        nanosleep(&wu_ts_, NULL);                              \
                }                                                              \
                wu_ok_;                                                        \
        }))

/* ---- Runtimes ------------------------------------------------------------ */

/* A runtime of @flavor with @workers workers; the test fails if it cannot. */
static inline task_runtime *test_rt_new(enum task_flavor flavor,
                                        unsigned workers)
{
        struct task_runtime_opts o;
        task_runtime *rt = NULL;
        int rc;

        task_runtime_opts_init(&o);
        o.flavor = flavor;
        o.workers = workers;
        rc = task_runtime_new(&o, &rt);
        cr_assert_eq(rc, 0, "task_runtime_new: %s", task_strerror(rc));
        cr_assert_not_null(rt);
        return rt;
}

static inline task_runtime *test_rt_new_mt(unsigned workers)
{
        return test_rt_new(TASK_MULTI_THREAD, workers);
}

/*
 * The two shapes the "both flavors" tests use: a current-thread runtime, or
 * a multi-thread one with 2 workers (so that tasks can be stolen).
 */
static inline task_runtime *test_rt_new_flavor(enum task_flavor flavor)
{
        return test_rt_new(flavor, flavor == TASK_CURRENT_THREAD ? 0 : 2);
}

static inline uint64_t test_tasks_alive(task_runtime *rt)
{
        struct task_runtime_metrics m;
        int rc = task_runtime_metrics(rt, &m);
        cr_assert_eq(rc, 0);
        return m.tasks_alive;
}

/*
 * Under ASan: fail the test if LeakSanitizer finds unreachable memory now.
 * (Criterion ignores the exit status of a test process once it has
 * reported, so the usual leak report at exit would not fail anything.)
 */
static inline void test_leak_check(void)
{
#if TEST_ASAN
        cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
                     "LeakSanitizer found leaks: see its report above");
#endif
}

/* Free @rt, require success, and check that nothing leaked. */
static inline void test_rt_free(task_runtime *rt)
{
        int rc = task_runtime_free(rt);
        cr_assert_eq(rc, 0, "task_runtime_free: %s (%d)", task_strerror(rc),
                     rc);
        test_leak_check();
}

/* ---- Driving a current-thread runtime ------------------------------------ */

/*
 * On a TASK_CURRENT_THREAD runtime nothing runs between two task_block_on()
 * calls, so a test can stop the world at a chosen point (a waiter queued, a
 * waiter granted but not yet polled) and act on it from the test thread.
 */

struct until {
        TASK_FRAME;
        bool (*cond)(void *);
        void *arg;
        long spins;
};

/* Yield until @cond(@arg) holds (bounded): the other tasks run meanwhile. */
static inline int until_fn(struct task_cx *cx, void *arg)
{
        struct until *f = arg;

        TASK_BEGIN(f);
        while (!f->cond(f->arg) && f->spins++ < 1000000)
                TASK_YIELD(f);
        TASK_END(f);
}

/* Run @rt (a current-thread runtime) until @cond(@arg) holds. */
static inline void ct_run_until(task_runtime *rt, bool (*cond)(void *),
                                void *arg)
{
        struct until u = {.cond = cond, .arg = arg};

        cr_assert_eq(task_block_on(rt, until_fn, &u, sizeof u), 0);
        cr_assert(cond(arg), "condition never held");
}

/* A ct_run_until() condition: the task of handle @h has finished. */
static inline bool h_finished(void *h)
{
        return task_handle_finished(h);
}

/* A ct_run_until() condition: true from the 17th call on (@p: an int). */
static inline bool after_rounds(void *p)
{
        return ++*(int *)p > 16;
}

/* Let every ready task of a current-thread runtime run: a few rounds. */
static inline void ct_settle(task_runtime *rt)
{
        int rounds = 0;

        ct_run_until(rt, after_rounds, &rounds);
}

/* ---- Wait nodes ---------------------------------------------------------- */

/*
 * True while @w is in its primitive's queue: neither idle nor completed.
 * Stricter than task_wait_pending() (QUEUED or DONE), so a "still waiting"
 * check fails on a waiter that was wrongly granted and has not run yet.
 */
static inline bool wait_queued(struct task_wait *w)
{
        return atomic_load_explicit(&w->state, memory_order_acquire) ==
               TASK_WAIT_QUEUED;
}

/* ---- Channel elements that own memory ------------------------------------ */

/* Elements dropped: test_free_ptr() counts here (a suite's own may too). */
static atomic_int test_drops;

/* An elem_drop for elements that are a malloc()ed pointer: frees, counts. */
static inline void test_free_ptr(void *elem)
{
        free(*(void **)elem);
        atomic_fetch_add(&test_drops, 1);
}

/* ---- A gate: an awaitable resource opened from anywhere ------------------ */

struct gate {
        pthread_mutex_t mu;
        bool open;          /* under mu */
        task_waker *waiter; /* under mu: the task to wake on open */
        atomic_int polls;   /* gate_poll calls, for tests that count */
};

static inline void gate_init(struct gate *g)
{
        pthread_mutex_init(&g->mu, NULL);
        g->open = false;
        g->waiter = NULL;
        atomic_init(&g->polls, 0);
}

/*
 * The poll: true once open; otherwise the calling task is registered to be
 * woken by gate_open().  Only one waiter at a time (like a join handle).
 * Called on an abort (cx->cancelling, see coro.h), it drops the calling
 * task's registration, as every well-behaved resource does, and is not
 * counted.
 */
static inline bool gate_poll(struct task_cx *cx, struct gate *g)
{
        task_waker *old = NULL;
        bool ready;

        if (cx->cancelling) {
                pthread_mutex_lock(&g->mu);
                if (g->waiter && task_waker_wakes(g->waiter, cx)) {
                        old = g->waiter;
                        g->waiter = NULL;
                }
                pthread_mutex_unlock(&g->mu);
                task_waker_drop(old);
                return false;
        }
        atomic_fetch_add_explicit(&g->polls, 1, memory_order_relaxed);
        pthread_mutex_lock(&g->mu);
        ready = g->open;
        if (!ready && !(g->waiter && task_waker_wakes(g->waiter, cx))) {
                old = g->waiter;
                g->waiter = task_cx_waker(cx);
        }
        pthread_mutex_unlock(&g->mu);
        task_waker_drop(old);
        return ready;
}

static inline void gate_open(struct gate *g)
{
        task_waker *w;

        pthread_mutex_lock(&g->mu);
        g->open = true;
        w = g->waiter;
        g->waiter = NULL;
        pthread_mutex_unlock(&g->mu);
        if (w)
                task_wake(w);
}

/* Drop a registered waiter without waking it (so the runtime can be freed). */
static inline void gate_forget(struct gate *g)
{
        task_waker *w;

        pthread_mutex_lock(&g->mu);
        w = g->waiter;
        g->waiter = NULL;
        pthread_mutex_unlock(&g->mu);
        task_waker_drop(w);
}

static inline bool gate_has_waiter(struct gate *g)
{
        bool r;

        pthread_mutex_lock(&g->mu);
        r = g->waiter != NULL;
        pthread_mutex_unlock(&g->mu);
        return r;
}

static inline void gate_destroy(struct gate *g)
{
        gate_forget(g);
        pthread_mutex_destroy(&g->mu);
}

#endif /* LIBTASK_TESTS_HELPERS_H */
