/*
 * test_broadcast.c - the broadcast channel: every receiver sees every value
 * sent after it subscribed, in order; a receiver that falls behind is told
 * exactly how many values it missed and continues from the oldest held;
 * sends never wait and fail without receivers; closing drains then reports
 * -EPIPE; dropping ends while others wait; receives are cancellation-safe
 * (abort, task_wait_cancel after the wake, a losing TASK_SELECT branch);
 * bad input; both runtime flavors; the blocking variant; stress with
 * stealing, with and without flow control; the last sender's drop waking
 * more than one batch of waiters while receivers are dropped; -ENOMEM.
 *
 * Links the internal library for the -ENOMEM fault-injection hook.
 */
#include "helpers.h"

#include "runtime-priv.h"

#include <dlfcn.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * A window widener, for last_receiver_dropped_while_last_sender_wakes:
 * libtask wakes a thread with syscall(SYS_futex, FUTEX_WAKE...), and this
 * definition of syscall() comes first.  On a thread that set widen_after
 * to n, the n-th futex wake (after it is done) raises in_window and waits,
 * at most 5 s, for window_done.  Everything else passes straight through
 * (six arguments, whatever the caller passed, as glibc's syscall() takes
 * them).
 */
static _Thread_local int widen_after;
static atomic_int in_window, window_done;

long syscall(long nr, ...)
{
        static long (*_Atomic real)(long, ...);
        long (*fn)(long, ...) = atomic_load(&real);
        va_list ap;
        long a[6];

        if (!fn) {
                fn = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
                atomic_store(&real, fn);
        }
        va_start(ap, nr);
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        long r = fn(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (widen_after && nr == SYS_futex &&
            (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE && --widen_after == 0) {
                atomic_store(&in_window, 1);
                WAIT_UNTIL(atomic_load(&window_done), 5000);
        }
        return r;
}

/*
 * True when thread @tid sleeps (state S in /proc): for the waiting threads
 * below, asleep on their wait node's futex, so queued.
 */
static bool thread_sleeps(pid_t tid)
{
        char path[64], buf[512];
        bool s = false;

        snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
        FILE *f = fopen(path, "r");
        if (!f)
                return false;
        if (fgets(buf, sizeof buf, f)) {
                char *p = strrchr(buf, ')'); /* after the command name */
                s = p && p[1] == ' ' && p[2] == 'S';
        }
        fclose(f);
        return s;
}

/* ---- A receiving task ----------------------------------------------------- */

#define RX_KEEP 64

/*
 * Receives until -EPIPE (or @want values, if set), recording the values
 * (the first RX_KEEP), the lags and anything unexpected.  Drops its
 * receiver in its cleanup when @drop_rx is set, aborted or not.
 */
struct rxtask {
        TASK_FRAME;
        task_broadcast_rx *rx;
        struct task_broadcast_recv op;
        int want, drop_rx;
        uint64_t v, missed;
        int rc;
        int n, lags, ended_epipe, bad;
        uint64_t total_missed;
        uint64_t got[RX_KEEP];
};

static int rxtask(struct task_cx *cx, void *arg)
{
        struct rxtask *f = arg;
        TASK_BEGIN(f);
        for (;;) {
                TASK_BROADCAST_RECV(f, f->rx, &f->op, &f->v, &f->missed,
                                    &f->rc);
                if (f->rc == -EPIPE) {
                        f->ended_epipe = 1;
                        break;
                }
                if (f->rc == -EOVERFLOW) {
                        f->lags++;
                        f->total_missed += f->missed;
                        continue;
                }
                if (f->rc != 0) {
                        f->bad++;
                        break;
                }
                if (f->n < RX_KEEP)
                        f->got[f->n] = f->v;
                f->n++;
                if (f->want && f->n >= f->want)
                        break;
        }
        TASK_CLEANUP(f);
        if (f->drop_rx) {
                task_broadcast_rx_drop(f->rx);
                f->rx = NULL;
        }
        TASK_END(f);
}

static struct rxtask *rxf(task_handle *h)
{
        return task_handle_frame(h);
}

static void send_u64(task_broadcast_tx *tx, uint64_t v, int receivers)
{
        int rc = task_broadcast_send(tx, &v);
        cr_assert_eq(rc, receivers, "send %llu: %d, want %d",
                     (unsigned long long)v, rc, receivers);
}

/* ---- Semantics without tasks ---------------------------------------------- */

Test(broadcast, values_arrive_in_order, .timeout = 10)
{
        task_broadcast_tx *tx;
        task_broadcast_rx *rx;
        uint64_t v, missed = 77;

        cr_assert_eq(task_broadcast_new(8, sizeof v, &tx, &rx), 0);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), -EAGAIN);
        for (uint64_t i = 0; i < 5; i++)
                send_u64(tx, i * 10, 1);
        cr_assert_eq(task_broadcast_rx_len(rx), 5);
        for (uint64_t i = 0; i < 5; i++) {
                cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), 0);
                cr_assert_eq(v, i * 10);
        }
        cr_assert_eq(missed, 77, "missed written without a lag");
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), -EAGAIN);
        cr_assert_eq(task_broadcast_rx_len(rx), 0);
        cr_assert_not(task_broadcast_rx_is_closed(rx));
        task_broadcast_tx_drop(tx);
        cr_assert(task_broadcast_rx_is_closed(rx));
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), -EPIPE);
        task_broadcast_rx_drop(rx);
        test_leak_check();
}

/* Capacity 4, 10 sends: -EOVERFLOW with missed = 6, then 6, 7, 8, 9. */
Test(broadcast, lag_reports_exact_missed_count, .timeout = 10)
{
        task_broadcast_tx *tx;
        task_broadcast_rx *rx, *rx2;
        uint64_t v, missed = 0;

        cr_assert_eq(task_broadcast_new(4, sizeof v, &tx, &rx), 0);
        cr_assert_eq(task_broadcast_rx_clone(rx, &rx2), 0);
        for (uint64_t i = 0; i < 10; i++)
                send_u64(tx, i, 2);
        cr_assert_eq(task_broadcast_rx_len(rx), 10);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), -EOVERFLOW);
        cr_assert_eq(missed, 6);
        cr_assert_eq(task_broadcast_rx_len(rx), 4);
        for (uint64_t i = 6; i < 10; i++) {
                cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), 0);
                cr_assert_eq(v, i, "got %llu, want %llu", (unsigned long long)v,
                             (unsigned long long)i);
        }
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), -EAGAIN);

        /* The same with a NULL @missed: still reported, never silent. */
        cr_assert_eq(task_broadcast_try_recv(rx2, &v, NULL), -EOVERFLOW);
        cr_assert_eq(task_broadcast_try_recv(rx2, &v, NULL), 0);
        cr_assert_eq(v, 6);

        /* A lag again after reading some: 2 more read, 7 more sent. */
        for (uint64_t i = 10; i < 17; i++)
                send_u64(tx, i, 2);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), -EOVERFLOW);
        cr_assert_eq(missed, 3); /* 10, 11, 12 are gone; 13..16 held */
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), 0);
        cr_assert_eq(v, 13);

        task_broadcast_rx_drop(rx);
        task_broadcast_rx_drop(rx2);
        task_broadcast_tx_drop(tx);
        test_leak_check();
}

/* A capacity that is not a power of two lags at exactly that capacity. */
Test(broadcast, capacity_is_exact, .timeout = 10)
{
        task_broadcast_tx *tx;
        task_broadcast_rx *rx;
        uint64_t v, missed = 0;

        cr_assert_eq(task_broadcast_new(3, sizeof v, &tx, &rx), 0);
        for (uint64_t i = 0; i < 3; i++)
                send_u64(tx, i, 1);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), 0);
        cr_assert_eq(v, 0, "3 values fit a capacity of 3");
        send_u64(tx, 3, 1);
        send_u64(tx, 4, 1);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), -EOVERFLOW);
        cr_assert_eq(missed, 1);
        for (uint64_t i = 2; i < 5; i++) {
                cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), 0);
                cr_assert_eq(v, i);
        }
        task_broadcast_tx_drop(tx);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, &missed), -EPIPE);
        task_broadcast_rx_drop(rx);
}

Test(broadcast, send_without_receivers_fails_and_stores_nothing, .timeout = 10)
{
        task_broadcast_tx *tx;
        task_broadcast_rx *rx, *rx2;
        uint64_t v = 1;

        cr_assert_eq(task_broadcast_new(4, sizeof v, &tx, NULL), 0);
        cr_assert_eq(task_broadcast_receiver_count(tx), 0);
        cr_assert_eq(task_broadcast_send(tx, &v), -EPIPE);
        cr_assert_eq(task_broadcast_subscribe(tx, &rx), 0);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, NULL), -EAGAIN,
                     "a failed send stored its value");
        send_u64(tx, 2, 1);
        task_broadcast_rx_drop(rx);
        cr_assert_eq(task_broadcast_send(tx, &v), -EPIPE);
        cr_assert_eq(task_broadcast_subscribe(tx, &rx2), 0);
        cr_assert_eq(task_broadcast_try_recv(rx2, &v, NULL), -EAGAIN);
        send_u64(tx, 3, 1);
        cr_assert_eq(task_broadcast_try_recv(rx2, &v, NULL), 0);
        cr_assert_eq(v, 3);
        task_broadcast_rx_drop(rx2);
        task_broadcast_tx_drop(tx);
        test_leak_check();
}

Test(broadcast, send_returns_receiver_count, .timeout = 10)
{
        task_broadcast_tx *tx, *tx2;
        task_broadcast_rx *rx[4];
        uint64_t v;

        cr_assert_eq(task_broadcast_new(4, sizeof v, &tx, &rx[0]), 0);
        cr_assert_eq(task_broadcast_tx_clone(tx, &tx2), 0);
        for (int i = 1; i < 4; i++)
                cr_assert_eq(task_broadcast_subscribe(tx2, &rx[i]), 0);
        cr_assert_eq(task_broadcast_receiver_count(tx), 4);
        send_u64(tx, 1, 4);
        send_u64(tx2, 2, 4);
        task_broadcast_rx_drop(rx[3]);
        send_u64(tx, 3, 3);
        for (int i = 0; i < 3; i++) {
                for (uint64_t want = 1; want <= 3; want++) {
                        cr_assert_eq(task_broadcast_try_recv(rx[i], &v, NULL),
                                     0);
                        cr_assert_eq(v, want);
                }
        }
        /* One sender of two dropped: still open. */
        task_broadcast_tx_drop(tx);
        cr_assert_not(task_broadcast_rx_is_closed(rx[0]));
        cr_assert_eq(task_broadcast_try_recv(rx[0], &v, NULL), -EAGAIN);
        task_broadcast_tx_drop(tx2);
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(task_broadcast_try_recv(rx[i], &v, NULL), -EPIPE);
                task_broadcast_rx_drop(rx[i]);
        }
        test_leak_check();
}

Test(broadcast, subscribe_mid_stream_sees_only_later_values, .timeout = 10)
{
        task_broadcast_tx *tx;
        task_broadcast_rx *rx, *late;
        uint64_t v;

        cr_assert_eq(task_broadcast_new(16, sizeof v, &tx, &rx), 0);
        send_u64(tx, 1, 1);
        send_u64(tx, 2, 1);
        cr_assert_eq(task_broadcast_subscribe(tx, &late), 0);
        cr_assert_eq(task_broadcast_rx_len(late), 0);
        cr_assert_eq(task_broadcast_try_recv(late, &v, NULL), -EAGAIN);
        send_u64(tx, 3, 2);
        cr_assert_eq(task_broadcast_try_recv(late, &v, NULL), 0);
        cr_assert_eq(v, 3);
        for (uint64_t want = 1; want <= 3; want++) {
                cr_assert_eq(task_broadcast_try_recv(rx, &v, NULL), 0);
                cr_assert_eq(v, want);
        }
        task_broadcast_tx_drop(tx);
        task_broadcast_rx_drop(late);
        task_broadcast_rx_drop(rx);
}

Test(broadcast, rx_clone_keeps_position_resubscribe_starts_at_tail,
     .timeout = 10)
{
        task_broadcast_tx *tx;
        task_broadcast_rx *rx, *clone, *resub, *after;
        uint64_t v;

        cr_assert_eq(task_broadcast_new(16, sizeof v, &tx, &rx), 0);
        for (uint64_t i = 1; i <= 4; i++)
                send_u64(tx, i, 1);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, NULL), 0); /* 1 */
        cr_assert_eq(task_broadcast_rx_clone(rx, &clone), 0);
        cr_assert_eq(task_broadcast_resubscribe(rx, &resub), 0);
        cr_assert_eq(task_broadcast_rx_len(clone), 3);
        cr_assert_eq(task_broadcast_rx_len(resub), 0);
        for (uint64_t want = 2; want <= 4; want++) {
                cr_assert_eq(task_broadcast_try_recv(clone, &v, NULL), 0);
                cr_assert_eq(v, want);
        }
        cr_assert_eq(task_broadcast_try_recv(resub, &v, NULL), -EAGAIN);
        task_broadcast_tx_drop(tx);
        /* Clones and resubscribes still work after the close. */
        cr_assert_eq(task_broadcast_resubscribe(rx, &after), 0);
        cr_assert_eq(task_broadcast_try_recv(after, &v, NULL), -EPIPE);
        cr_assert_eq(task_broadcast_try_recv(resub, &v, NULL), -EPIPE);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, NULL), 0); /* 2 */
        task_broadcast_rx_drop(after);
        task_broadcast_rx_drop(resub);
        task_broadcast_rx_drop(clone);
        task_broadcast_rx_drop(rx);
        test_leak_check();
}

/* Each receiver gets its own copy of every byte; sizes not a multiple of 8. */
Test(broadcast, odd_sized_values_are_copied_whole, .timeout = 10)
{
        enum { SZ = 101 };
        task_broadcast_tx *tx;
        task_broadcast_rx *a, *b;
        unsigned char in[SZ], out[SZ + 8];

        cr_assert_eq(task_broadcast_new(2, SZ, &tx, &a), 0);
        cr_assert_eq(task_broadcast_subscribe(tx, &b), 0);
        for (int k = 0; k < 3; k++) {
                for (int i = 0; i < SZ; i++)
                        in[i] = (unsigned char)(i * 7 + k);
                cr_assert_eq(task_broadcast_send(tx, in), 2);
        }
        /* a lagged by one; b reads them all after the lag too. */
        for (int r = 0; r < 2; r++) {
                task_broadcast_rx *rx = r ? b : a;
                uint64_t missed = 0;
                cr_assert_eq(task_broadcast_try_recv(rx, out, &missed),
                             -EOVERFLOW);
                cr_assert_eq(missed, 1);
                for (int k = 1; k < 3; k++) {
                        memset(out, 0xee, sizeof out);
                        cr_assert_eq(task_broadcast_try_recv(rx, out, NULL), 0);
                        for (int i = 0; i < SZ; i++)
                                cr_assert_eq(out[i],
                                             (unsigned char)(i * 7 + k));
                        cr_assert_eq(out[SZ], 0xee, "wrote past elem_size");
                }
        }
        task_broadcast_rx_drop(a);
        task_broadcast_rx_drop(b);
        task_broadcast_tx_drop(tx);
}

/* elem_size 0: a channel of signals; values and @out may be NULL. */
Test(broadcast, zero_size_values_are_signals, .timeout = 10)
{
        task_broadcast_tx *tx;
        task_broadcast_rx *rx;
        uint64_t missed = 0;

        cr_assert_eq(task_broadcast_new(2, 0, &tx, &rx), 0);
        cr_assert_eq(task_broadcast_send(tx, NULL), 1);
        cr_assert_eq(task_broadcast_try_recv(rx, NULL, NULL), 0);
        cr_assert_eq(task_broadcast_try_recv(rx, NULL, NULL), -EAGAIN);
        for (int i = 0; i < 5; i++)
                cr_assert_eq(task_broadcast_send(tx, NULL), 1);
        cr_assert_eq(task_broadcast_try_recv(rx, NULL, &missed), -EOVERFLOW);
        cr_assert_eq(missed, 3);
        task_broadcast_tx_drop(tx);
        cr_assert_eq(task_broadcast_try_recv(rx, NULL, NULL), 0);
        cr_assert_eq(task_broadcast_try_recv(rx, NULL, NULL), 0);
        cr_assert_eq(task_broadcast_try_recv(rx, NULL, NULL), -EPIPE);
        task_broadcast_rx_drop(rx);
}

/* Either end may be dropped last; each order frees the channel (ASan). */
Test(broadcast, last_end_frees_in_any_order, .timeout = 10)
{
        for (int order = 0; order < 2; order++) {
                task_broadcast_tx *tx;
                task_broadcast_rx *rx = NULL;
                uint64_t v = 5;

                cr_assert_eq(task_broadcast_new(4, sizeof v, &tx, &rx), 0);
                cr_assert_eq(task_broadcast_send(tx, &v), 1);
                if (order) {
                        task_broadcast_tx_drop(tx);
                        task_broadcast_rx_drop(rx);
                } else {
                        task_broadcast_rx_drop(rx);
                        cr_assert_eq(task_broadcast_send(tx, &v), -EPIPE);
                        task_broadcast_tx_drop(tx);
                }
        }
        test_leak_check();
}

/* ---- Tasks: waiting, waking, closing -------------------------------------- */

Test(broadcast, recv_waits_and_is_woken_by_send, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_broadcast_tx *tx;
        task_broadcast_rx *rx;
        task_handle *h;

        cr_assert_eq(task_broadcast_new(4, sizeof(uint64_t), &tx, &rx), 0);
        struct rxtask f = {.rx = rx, .want = 2, .drop_rx = 1};
        cr_assert_eq(TASK_SPAWN(rt, rxtask, &f, &h), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&rxf(h)->op.w), 5000));
        cr_assert_not(task_handle_finished(h));
        send_u64(tx, 41, 1);
        send_u64(tx, 42, 1);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rxf(h)->n, 2);
        cr_assert_eq(rxf(h)->got[0], 41);
        cr_assert_eq(rxf(h)->got[1], 42);
        cr_assert_eq(rxf(h)->bad, 0);
        task_handle_release(h);
        cr_assert_eq(task_broadcast_receiver_count(tx), 0);
        task_broadcast_tx_drop(tx);
        test_rt_free(rt);
}

/* More waiters than one wake batch (32): one send wakes them all. */
Test(broadcast, one_send_wakes_every_waiter, .timeout = 20)
{
        enum { N = 100 };
        task_runtime *rt = test_rt_new_mt(2);
        task_broadcast_tx *tx;
        task_handle *h[N];

        cr_assert_eq(task_broadcast_new(4, sizeof(uint64_t), &tx, NULL), 0);
        for (int i = 0; i < N; i++) {
                struct rxtask f = {.want = 1, .drop_rx = 1};
                cr_assert_eq(task_broadcast_subscribe(tx, &f.rx), 0);
                cr_assert_eq(TASK_SPAWN(rt, rxtask, &f, &h[i]), 0);
        }
        for (int i = 0; i < N; i++)
                cr_assert(WAIT_UNTIL(wait_queued(&rxf(h[i])->op.w), 5000));
        send_u64(tx, 9, N);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq(rxf(h[i])->n, 1);
                cr_assert_eq(rxf(h[i])->got[0], 9);
                task_handle_release(h[i]);
        }
        task_broadcast_tx_drop(tx);
        test_rt_free(rt);
}

/* A receiver suspended when the last sender drops gets -EPIPE. */
Test(broadcast, last_sender_drop_wakes_waiter_with_epipe, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_broadcast_tx *tx, *tx2;
        task_broadcast_rx *rx;
        task_handle *h;

        cr_assert_eq(task_broadcast_new(4, sizeof(uint64_t), &tx, &rx), 0);
        cr_assert_eq(task_broadcast_tx_clone(tx, &tx2), 0);
        struct rxtask f = {.rx = rx, .drop_rx = 1};
        cr_assert_eq(TASK_SPAWN(rt, rxtask, &f, &h), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&rxf(h)->op.w), 5000));
        task_broadcast_tx_drop(tx); /* one of two: nothing happens */
        sleep_ms(10);
        cr_assert_not(task_handle_finished(h));
        cr_assert(wait_queued(&rxf(h)->op.w));
        task_broadcast_tx_drop(tx2);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rxf(h)->ended_epipe, 1);
        cr_assert_eq(rxf(h)->n, 0);
        cr_assert_eq(rxf(h)->bad, 0);
        task_handle_release(h); /* its cleanup dropped the last end */
        test_rt_free(rt);
}

/* Values sent before the close are drained first, then -EPIPE. */
Test(broadcast, receiver_drains_before_epipe, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_broadcast_tx *tx;
        task_broadcast_rx *rx;
        task_handle *h;

        cr_assert_eq(task_broadcast_new(8, sizeof(uint64_t), &tx, &rx), 0);
        struct rxtask f = {.rx = rx, .drop_rx = 1};
        cr_assert_eq(TASK_SPAWN(rt, rxtask, &f, &h), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&rxf(h)->op.w), 5000));
        for (uint64_t i = 1; i <= 5; i++)
                send_u64(tx, i, 1);
        task_broadcast_tx_drop(tx);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rxf(h)->ended_epipe, 1);
        cr_assert_eq(rxf(h)->n, 5);
        for (int i = 0; i < 5; i++)
                cr_assert_eq(rxf(h)->got[i], (uint64_t)i + 1);
        task_handle_release(h);
        test_rt_free(rt);
}

/* Receivers dropped (and one aborted) around a waiter do not disturb it. */
Test(broadcast, dropping_other_receivers_while_one_waits, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_broadcast_tx *tx;
        task_broadcast_rx *rx, *other, *other2;
        task_handle *h, *h2;

        cr_assert_eq(task_broadcast_new(4, sizeof(uint64_t), &tx, &rx), 0);
        cr_assert_eq(task_broadcast_subscribe(tx, &other), 0);
        cr_assert_eq(task_broadcast_subscribe(tx, &other2), 0);
        struct rxtask f = {.rx = rx, .want = 1, .drop_rx = 1};
        struct rxtask f2 = {.rx = other2, .drop_rx = 1};
        cr_assert_eq(TASK_SPAWN(rt, rxtask, &f, &h), 0);
        cr_assert_eq(TASK_SPAWN(rt, rxtask, &f2, &h2), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&rxf(h)->op.w), 5000));
        cr_assert(WAIT_UNTIL(wait_queued(&rxf(h2)->op.w), 5000));
        task_broadcast_rx_drop(other);
        task_abort(h2); /* its cleanup drops other2 */
        cr_assert_eq(task_join_blocking(h2), -ECANCELED);
        cr_assert_eq(task_broadcast_receiver_count(tx), 1);
        cr_assert(wait_queued(&rxf(h)->op.w));
        send_u64(tx, 8, 1);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rxf(h)->got[0], 8);
        task_handle_release(h);
        task_handle_release(h2);
        task_broadcast_tx_drop(tx);
        test_rt_free(rt);
}

/* ---- Cancellation --------------------------------------------------------- */

/* An aborted receive leaves the receiver where it was: nothing consumed. */
Test(broadcast, abort_while_suspended_consumes_nothing, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_broadcast_tx *tx;
        task_broadcast_rx *rx;
        task_handle *h;
        uint64_t v;

        cr_assert_eq(task_broadcast_new(4, sizeof v, &tx, &rx), 0);
        struct rxtask f = {.rx = rx};
        cr_assert_eq(TASK_SPAWN(rt, rxtask, &f, &h), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&rxf(h)->op.w), 5000));
        task_abort(h);
        send_u64(tx, 77, 1); /* races the cancelling poll */
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(rxf(h)->n, 0);
        cr_assert_eq(atomic_load(&rxf(h)->op.w.state), TASK_WAIT_IDLE);
        task_handle_release(h);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, NULL), 0,
                     "the aborted receive consumed the value");
        cr_assert_eq(v, 77);
        task_broadcast_rx_drop(rx);
        task_broadcast_tx_drop(tx);
        test_rt_free(rt);
}

/*
 * Woken (the node is DONE) but cancelled before the poll that would have
 * copied the value: the value is still there.
 */
struct wake_then_cancel {
        TASK_FRAME;
        task_broadcast_tx *tx;
        task_broadcast_rx *rx;
        struct task_broadcast_recv op;
        uint64_t v;
        int rc;
        int ok;
};

static int wake_then_cancel(struct task_cx *cx, void *arg)
{
        struct wake_then_cancel *f = arg;
        uint64_t val = 1234;
        TASK_BEGIN(f);
        TCHECK(
            !task_broadcast_recv_poll(cx, f->rx, &f->op, &f->v, NULL, &f->rc));
        TCHECK(atomic_load(&f->op.w.state) == TASK_WAIT_QUEUED);
        TCHECK(task_broadcast_send(f->tx, &val) == 1);
        TCHECK(atomic_load(&f->op.w.state) == TASK_WAIT_DONE);
        task_wait_cancel(&f->op.w);
        TCHECK(atomic_load(&f->op.w.state) == TASK_WAIT_IDLE);
        f->v = 0;
        TCHECK(task_broadcast_try_recv(f->rx, &f->v, NULL) == 0);
        TCHECK(f->v == 1234);
        /* And the node is reusable. */
        TCHECK(task_broadcast_try_recv(f->rx, &f->v, NULL) == -EAGAIN);
        f->ok = 1;
        TASK_END(f);
}

Test(broadcast, cancel_after_wake_consumes_nothing, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct wake_then_cancel f = {0};

        cr_assert_eq(task_broadcast_new(4, sizeof f.v, &f.tx, &f.rx), 0);
        cr_assert_eq(task_block_on(rt, wake_then_cancel, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_eq(f.ok, 1);
        task_broadcast_rx_drop(f.rx);
        task_broadcast_tx_drop(f.tx);
        test_rt_free(rt);
}

/* TASK_SELECT over two receivers: the loser's wait is dropped, unconsumed. */
struct selector {
        TASK_FRAME;
        task_broadcast_rx *a, *b;
        struct task_broadcast_recv ra, rb;
        struct task_select sel;
        uint64_t va, vb;
        int rca, rcb;
};

static int selector(struct task_cx *cx, void *arg)
{
        struct selector *f = arg;
        TASK_BEGIN(f);
        TASK_SELECT(
            f, &f->sel,
            task_broadcast_recv_poll(cx, f->a, &f->ra, &f->va, NULL, &f->rca),
            task_broadcast_recv_poll(cx, f->b, &f->rb, &f->vb, NULL, &f->rcb));
        TASK_END(f);
}

Test(broadcast, select_loser_consumes_nothing, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_broadcast_tx *ta, *tb;
        task_handle *h;
        struct selector f = {0};
        uint64_t v;

        cr_assert_eq(task_broadcast_new(4, sizeof v, &ta, &f.a), 0);
        cr_assert_eq(task_broadcast_new(4, sizeof v, &tb, &f.b), 0);
        cr_assert_eq(TASK_SPAWN(rt, selector, &f, &h), 0);
        struct selector *p = task_handle_frame(h);
        cr_assert(WAIT_UNTIL(wait_queued(&p->rb.w), 5000));
        cr_assert(wait_queued(&p->ra.w));
        send_u64(tb, 2, 1);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(p->sel.which, 1);
        cr_assert_eq(p->rcb, 0);
        cr_assert_eq(p->vb, 2);
        cr_assert_eq(atomic_load(&p->ra.w.state), TASK_WAIT_IDLE);
        send_u64(ta, 1, 1);
        cr_assert_eq(task_broadcast_try_recv(p->a, &v, NULL), 0);
        cr_assert_eq(v, 1);
        task_broadcast_rx_drop(p->a);
        task_broadcast_rx_drop(p->b);
        task_handle_release(h);
        task_broadcast_tx_drop(ta);
        task_broadcast_tx_drop(tb);
        test_rt_free(rt);
}

/* ---- Bad input ------------------------------------------------------------ */

struct badpoll {
        TASK_FRAME;
        task_broadcast_rx *rx;
        struct task_broadcast_recv op;
        uint64_t v;
        int rc[4];
        bool done[4];
        int deadlk;
};

static int badpoll(struct task_cx *cx, void *arg)
{
        struct badpoll *f = arg;
        TASK_BEGIN(f);
        f->done[0] =
            task_broadcast_recv_poll(cx, NULL, &f->op, &f->v, NULL, &f->rc[0]);
        f->done[1] =
            task_broadcast_recv_poll(cx, f->rx, NULL, &f->v, NULL, &f->rc[1]);
        f->done[2] =
            task_broadcast_recv_poll(cx, f->rx, &f->op, NULL, NULL, &f->rc[2]);
        f->done[3] = task_broadcast_recv_poll(cx, NULL, NULL, NULL, NULL, NULL);
        f->deadlk = task_broadcast_recv_blocking(f->rx, &f->v, NULL);
        TASK_END(f);
}

Test(broadcast, bad_input, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        task_broadcast_tx *tx, *o = NULL;
        task_broadcast_rx *rx, *ro = NULL;
        uint64_t v = 0;
        int rc = 1;

        cr_assert_eq(task_broadcast_new(0, 8, &tx, &rx), -EINVAL);
        cr_assert_eq(
            task_broadcast_new(TASK_BROADCAST_MAX_CAPACITY + 1, 8, &tx, &rx),
            -EINVAL);
        cr_assert_eq(task_broadcast_new(4, 8, NULL, &rx), -EINVAL);
        cr_assert_eq(task_broadcast_new(TASK_BROADCAST_MAX_CAPACITY,
                                        SIZE_MAX / 2, &tx, &rx),
                     -EINVAL);
        cr_assert_eq(task_broadcast_new(4, sizeof v, &tx, &rx), 0);

        cr_assert_eq(task_broadcast_tx_clone(NULL, &o), -EINVAL);
        cr_assert_eq(task_broadcast_tx_clone(tx, NULL), -EINVAL);
        cr_assert_eq(task_broadcast_subscribe(NULL, &ro), -EINVAL);
        cr_assert_eq(task_broadcast_subscribe(tx, NULL), -EINVAL);
        cr_assert_eq(task_broadcast_rx_clone(NULL, &ro), -EINVAL);
        cr_assert_eq(task_broadcast_rx_clone(rx, NULL), -EINVAL);
        cr_assert_eq(task_broadcast_resubscribe(NULL, &ro), -EINVAL);
        cr_assert_eq(task_broadcast_resubscribe(rx, NULL), -EINVAL);
        cr_assert_null(o);
        cr_assert_null(ro);
        cr_assert_eq(task_broadcast_send(NULL, &v), -EINVAL);
        cr_assert_eq(task_broadcast_send(tx, NULL), -EINVAL);
        cr_assert_eq(task_broadcast_try_recv(NULL, &v, NULL), -EINVAL);
        cr_assert_eq(task_broadcast_try_recv(rx, NULL, NULL), -EINVAL);
        cr_assert_eq(task_broadcast_recv_blocking(NULL, &v, NULL), -EINVAL);
        cr_assert_eq(task_broadcast_recv_blocking(rx, NULL, NULL), -EINVAL);
        cr_assert(task_broadcast_recv_poll(NULL, rx, NULL, &v, NULL, &rc));
        cr_assert_eq(rc, -EINVAL);
        cr_assert_eq(task_broadcast_receiver_count(NULL), 0);
        cr_assert_eq(task_broadcast_rx_len(NULL), 0);
        cr_assert_not(task_broadcast_rx_is_closed(NULL));
        task_broadcast_tx_drop(NULL);
        task_broadcast_rx_drop(NULL);

        struct badpoll f = {.rx = rx};
        cr_assert_eq(task_block_on(rt, badpoll, &f, sizeof f), 0);
        for (int i = 0; i < 3; i++) {
                cr_assert(f.done[i], "poll %d with bad input waited", i);
                cr_assert_eq(f.rc[i], -EINVAL, "poll %d: %d", i, f.rc[i]);
        }
        cr_assert(f.done[3]);
        cr_assert_eq(f.deadlk, -EDEADLK);

        /* The channel is unharmed. */
        send_u64(tx, 3, 1);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, NULL), 0);
        cr_assert_eq(v, 3);
        task_broadcast_rx_drop(rx);
        task_broadcast_tx_drop(tx);
        test_rt_free(rt);
}

/* ---- Both flavors --------------------------------------------------------- */

/* A block_on task: spawns receivers, sends with yields, closes, joins. */
struct bcmain {
        TASK_FRAME;
        task_broadcast_tx *tx;
        task_handle *h[3];
        int i, rc, nsend, bad;
};

static int bcmain(struct task_cx *cx, void *arg)
{
        struct bcmain *f = arg;
        task_runtime *rt = task_cx_runtime(cx);
        TASK_BEGIN(f);
        for (f->i = 0; f->i < 3; f->i++) {
                struct rxtask r = {.drop_rx = 1};
                f->h[f->i] = NULL; /* a failed spawn leaves it untouched */
                if (task_broadcast_subscribe(f->tx, &r.rx) != 0 ||
                    TASK_SPAWN(rt, rxtask, &r, &f->h[f->i]) != 0)
                        f->bad++;
        }
        TASK_YIELD(f); /* let them reach their wait */
        for (f->i = 0; f->i < f->nsend; f->i++) {
                uint64_t v = (uint64_t)f->i;
                if (task_broadcast_send(f->tx, &v) != 3)
                        f->bad++;
                if (f->i % 3 == 0)
                        TASK_YIELD(f);
        }
        {
                /* Blocking on the runtime's own thread: refused. */
                task_broadcast_rx *rx = NULL;
                uint64_t v;
                if (task_broadcast_subscribe(f->tx, &rx) != 0 ||
                    task_broadcast_recv_blocking(rx, &v, NULL) != -EDEADLK)
                        f->bad++;
                task_broadcast_rx_drop(rx);
        }
        task_broadcast_tx_drop(f->tx);
        for (f->i = 0; f->i < 3; f->i++) {
                if (!f->h[f->i])
                        continue; /* counted in bad */
                TASK_JOIN(f, f->h[f->i], &f->rc);
                if (f->rc)
                        f->bad++;
        }
        TASK_END(f);
}

static void run_flavor(enum task_flavor flavor)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct bcmain f = {.nsend = 20};

        cr_assert_eq(task_broadcast_new(32, sizeof(uint64_t), &f.tx, NULL), 0);
        cr_assert_eq(task_block_on(rt, bcmain, &f, sizeof f), 0);
        cr_assert_eq(f.bad, 0);
        for (int i = 0; i < 3; i++) {
                struct rxtask *r = rxf(f.h[i]);
                cr_assert_eq(r->n, f.nsend);
                cr_assert_eq(r->ended_epipe, 1);
                cr_assert_eq(r->lags, 0);
                for (int k = 0; k < f.nsend; k++)
                        cr_assert_eq(r->got[k], (uint64_t)k);
                task_handle_release(f.h[i]);
        }
        test_rt_free(rt);
}

Test(broadcast, multi_thread_flavor, .timeout = 10)
{
        run_flavor(TASK_MULTI_THREAD);
}

Test(broadcast, current_thread_flavor, .timeout = 10)
{
        run_flavor(TASK_CURRENT_THREAD);
}

/* ---- Blocking ------------------------------------------------------------- */

struct blk {
        task_broadcast_rx *rx;
        uint64_t n, expect_missed;
        int rc_end;
        uint64_t got, missed, bad;
        atomic_int started;
};

/* Receive with recv_blocking until -EPIPE, checking the sequence. */
static void *blocking_receiver(void *p)
{
        struct blk *b = p;
        uint64_t next = 0, v, missed;
        int rc;

        atomic_store(&b->started, 1);
        while ((rc = task_broadcast_recv_blocking(b->rx, &v, &missed)) !=
               -EPIPE) {
                if (rc == -EOVERFLOW) {
                        b->missed += missed;
                        next += missed;
                } else if (rc == 0) {
                        if (v != next)
                                b->bad++;
                        next = v + 1;
                        b->got++;
                } else {
                        b->bad++;
                        break;
                }
        }
        b->rc_end = rc;
        task_broadcast_rx_drop(b->rx);
        return NULL;
}

Test(broadcast, blocking_recv_from_threads, .timeout = 30)
{
        enum { T = 3 };
        task_broadcast_tx *tx;
        struct blk b[T];
        pthread_t th[T];
        uint64_t n = (uint64_t)test_scaled(100000, 2000);

        cr_assert_eq(task_broadcast_new(64, sizeof(uint64_t), &tx, NULL), 0);
        for (int i = 0; i < T; i++) {
                memset(&b[i], 0, sizeof b[i]);
                cr_assert_eq(task_broadcast_subscribe(tx, &b[i].rx), 0);
                cr_assert_eq(
                    pthread_create(&th[i], NULL, blocking_receiver, &b[i]), 0);
        }
        for (uint64_t i = 0; i < n; i++) {
                cr_assert_eq(task_broadcast_send(tx, &i), T);
                if (i % 64 == 0)
                        sched_yield();
        }
        task_broadcast_tx_drop(tx);
        for (int i = 0; i < T; i++) {
                cr_assert_eq(pthread_join(th[i], NULL), 0);
                cr_assert_eq(b[i].rc_end, -EPIPE);
                cr_assert_eq(b[i].bad, 0);
                cr_assert_eq(b[i].got + b[i].missed, n,
                             "receiver %d: %llu received + %llu missed != %llu",
                             i, (unsigned long long)b[i].got,
                             (unsigned long long)b[i].missed,
                             (unsigned long long)n);
        }
        test_leak_check();
}

/* A thread blocked in recv is woken by the last sender's drop. */
Test(broadcast, blocking_recv_woken_by_close, .timeout = 10)
{
        task_broadcast_tx *tx;
        struct blk b;
        pthread_t th;

        memset(&b, 0, sizeof b);
        cr_assert_eq(task_broadcast_new(4, sizeof(uint64_t), &tx, &b.rx), 0);
        cr_assert_eq(pthread_create(&th, NULL, blocking_receiver, &b), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&b.started), 5000));
        sleep_ms(20); /* most likely blocked by now; correct either way */
        uint64_t v = 0;
        cr_assert_eq(task_broadcast_send(tx, &v), 1);
        task_broadcast_tx_drop(tx);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(b.rc_end, -EPIPE);
        cr_assert_eq(b.got, 1);
        cr_assert_eq(b.bad, 0);
        test_leak_check();
}

/* ---- Stress ----------------------------------------------------------------- */

/*
 * Every receiver sees every value, in order, with no loss: S sender tasks
 * and R receiver tasks on 2 workers; each receiver grants CAP credits (a
 * semaphore), and a sender takes one credit from every receiver before each
 * send, so no receiver can fall CAP values behind and none may ever lag.
 * The receivers are spawned from a task (LIFO slot, then stolen).
 */
enum { ST_S = 2, ST_R = 4, ST_CAP = 32 };

struct st_shared {
        task_broadcast_tx *tx;
        struct task_sem credits[ST_R];
        uint64_t per_sender;
};

struct st_sender {
        TASK_FRAME;
        struct st_shared *sh;
        task_broadcast_tx *tx;
        struct task_sem_acquire acq;
        uint64_t id, i;
        int r, rc, bad;
};

static int st_sender(struct task_cx *cx, void *arg)
{
        struct st_sender *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->sh->per_sender; f->i++) {
                for (f->r = 0; f->r < ST_R; f->r++) {
                        TASK_SEM_ACQUIRE(f, &f->sh->credits[f->r], 1, &f->acq,
                                         &f->rc);
                        if (f->rc)
                                f->bad++;
                }
                uint64_t v = (f->id << 32) | f->i;
                if (task_broadcast_send(f->tx, &v) != ST_R)
                        f->bad++;
        }
        TASK_CLEANUP(f);
        task_broadcast_tx_drop(f->tx);
        TASK_END(f);
}

struct st_receiver {
        TASK_FRAME;
        struct st_shared *sh;
        task_broadcast_rx *rx;
        struct task_broadcast_recv op;
        int idx, rc;
        uint64_t v, missed;
        uint64_t next[ST_S];
        uint64_t got, bad, lags;
};

static int st_receiver(struct task_cx *cx, void *arg)
{
        struct st_receiver *f = arg;
        TASK_BEGIN(f);
        for (;;) {
                TASK_BROADCAST_RECV(f, f->rx, &f->op, &f->v, &f->missed,
                                    &f->rc);
                if (f->rc == -EPIPE)
                        break;
                if (f->rc == -EOVERFLOW) {
                        f->lags++;
                        continue;
                }
                uint64_t id = f->v >> 32, seq = f->v & 0xffffffffu;
                if (f->rc != 0 || id >= ST_S || seq != f->next[id])
                        f->bad++;
                else
                        f->next[id]++;
                f->got++;
                task_sem_release(&f->sh->credits[f->idx], 1);
        }
        TASK_CLEANUP(f);
        task_broadcast_rx_drop(f->rx);
        TASK_END(f);
}

struct st_launch {
        TASK_FRAME;
        struct st_shared *sh;
        task_handle **rh, **sh_h;
        int bad;
};

static int st_launch(struct task_cx *cx, void *arg)
{
        struct st_launch *f = arg;
        task_runtime *rt = task_cx_runtime(cx);
        TASK_BEGIN(f);
        for (int i = 0; i < ST_R; i++) {
                struct st_receiver r = {.sh = f->sh, .idx = i};
                if (task_broadcast_subscribe(f->sh->tx, &r.rx) != 0 ||
                    TASK_SPAWN(rt, st_receiver, &r, &f->rh[i]) != 0)
                        f->bad++;
        }
        for (int i = 0; i < ST_S; i++) {
                struct st_sender s = {.sh = f->sh, .id = (uint64_t)i};
                if (task_broadcast_tx_clone(f->sh->tx, &s.tx) != 0 ||
                    TASK_SPAWN(rt, st_sender, &s, &f->sh_h[i]) != 0)
                        f->bad++;
        }
        task_broadcast_tx_drop(f->sh->tx); /* the senders hold the rest */
        TASK_END(f);
}

Test(broadcast, stress_every_receiver_sees_every_value, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct st_shared sh;
        task_handle *rh[ST_R], *sh_h[ST_S];
        struct task_runtime_metrics m;

        sh.per_sender = (uint64_t)test_scaled(250000, 2000);
        for (int i = 0; i < ST_R; i++)
                cr_assert_eq(task_sem_init(&sh.credits[i], ST_CAP), 0);
        cr_assert_eq(task_broadcast_new(ST_CAP, sizeof(uint64_t), &sh.tx, NULL),
                     0);
        struct st_launch l = {.sh = &sh, .rh = rh, .sh_h = sh_h};
        cr_assert_eq(task_block_on(rt, st_launch, &l, sizeof l), 0);
        cr_assert_eq(l.bad, 0);
        for (int i = 0; i < ST_S; i++) {
                cr_assert_eq(task_join_blocking(sh_h[i]), 0);
                cr_assert_eq(
                    ((struct st_sender *)task_handle_frame(sh_h[i]))->bad, 0);
                task_handle_release(sh_h[i]);
        }
        for (int i = 0; i < ST_R; i++) {
                cr_assert_eq(task_join_blocking(rh[i]), 0);
                struct st_receiver *r = task_handle_frame(rh[i]);
                cr_assert_eq(r->bad, 0, "receiver %d: %llu out of order", i,
                             (unsigned long long)r->bad);
                cr_assert_eq(r->lags, 0, "receiver %d lagged with credits", i);
                cr_assert_eq(r->got, ST_S * sh.per_sender,
                             "receiver %d got %llu of %llu", i,
                             (unsigned long long)r->got,
                             (unsigned long long)(ST_S * sh.per_sender));
                for (int s = 0; s < ST_S; s++)
                        cr_assert_eq(r->next[s], sh.per_sender);
                task_handle_release(rh[i]);
                cr_assert_eq(task_sem_destroy(&sh.credits[i]), 0);
        }
        cr_assert_eq(task_runtime_metrics(rt, &m), 0);
        cr_log_info("steals: %llu ops, %llu tasks",
                    (unsigned long long)m.steal_ops,
                    (unsigned long long)m.steal_tasks);
        test_rt_free(rt);
}

/*
 * No flow control: a small ring, a fast sender and receivers that yield;
 * they lag, and each accounts for every value exactly: the values it
 * received are in order and, with the counts it was told it missed, add
 * up to everything sent.
 */
struct lag_receiver {
        TASK_FRAME;
        task_broadcast_rx *rx;
        struct task_broadcast_recv op;
        int rc, yield_every;
        uint64_t v, missed, next, got, total_missed, lags, bad;
};

static int lag_receiver(struct task_cx *cx, void *arg)
{
        struct lag_receiver *f = arg;
        TASK_BEGIN(f);
        for (;;) {
                TASK_BROADCAST_RECV(f, f->rx, &f->op, &f->v, &f->missed,
                                    &f->rc);
                if (f->rc == -EPIPE)
                        break;
                if (f->rc == -EOVERFLOW) {
                        if (f->missed == 0)
                                f->bad++;
                        f->lags++;
                        f->total_missed += f->missed;
                        f->next += f->missed;
                        continue;
                }
                if (f->rc != 0 || f->v != f->next)
                        f->bad++;
                f->next = f->v + 1;
                f->got++;
                if (f->got % (uint64_t)f->yield_every == 0)
                        TASK_YIELD(f);
        }
        TASK_CLEANUP(f);
        task_broadcast_rx_drop(f->rx);
        TASK_END(f);
}

struct lag_sender {
        TASK_FRAME;
        task_broadcast_tx *tx;
        uint64_t n, i;
        int bad;
};

static int lag_sender(struct task_cx *cx, void *arg)
{
        struct lag_sender *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                if (task_broadcast_send(f->tx, &f->i) < 1)
                        f->bad++;
                if (f->i % 256 == 0)
                        TASK_YIELD(f);
        }
        TASK_CLEANUP(f);
        task_broadcast_tx_drop(f->tx);
        TASK_END(f);
}

Test(broadcast, stress_lagging_receivers_account_for_every_value,
     .timeout = 120)
{
        enum { R = 4 };
        task_runtime *rt = test_rt_new_mt(2);
        task_broadcast_tx *tx;
        task_handle *h[R], *hs;
        uint64_t n = (uint64_t)test_scaled(400000, 4000);
        uint64_t lags = 0;

        cr_assert_eq(task_broadcast_new(16, sizeof(uint64_t), &tx, NULL), 0);
        for (int i = 0; i < R; i++) {
                struct lag_receiver f = {.yield_every = 3 + 5 * i};
                cr_assert_eq(task_broadcast_subscribe(tx, &f.rx), 0);
                cr_assert_eq(TASK_SPAWN(rt, lag_receiver, &f, &h[i]), 0);
        }
        struct lag_sender s = {.tx = tx, .n = n};
        cr_assert_eq(TASK_SPAWN(rt, lag_sender, &s, &hs), 0);
        cr_assert_eq(task_join_blocking(hs), 0);
        cr_assert_eq(((struct lag_sender *)task_handle_frame(hs))->bad, 0);
        task_handle_release(hs);
        for (int i = 0; i < R; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                struct lag_receiver *f = task_handle_frame(h[i]);
                cr_assert_eq(f->bad, 0);
                cr_assert_eq(f->got + f->total_missed, n,
                             "receiver %d: %llu + %llu missed != %llu", i,
                             (unsigned long long)f->got,
                             (unsigned long long)f->total_missed,
                             (unsigned long long)n);
                cr_assert_eq(f->next, n);
                lags += f->lags;
                task_handle_release(h[i]);
        }
        cr_log_info("lags reported: %llu", (unsigned long long)lags);
        test_rt_free(rt);
}

/*
 * Receivers aborted while suspended, rounds of them, racing sends and the
 * close: the survivors get every value, the aborted ones drop their
 * receivers in their cleanups, and nothing leaks (test_rt_free, ASan).
 */
Test(broadcast, stress_abort_waiting_receivers, .timeout = 120)
{
        enum { N = 40 };
        int rounds = (int)test_scaled(100, 10);
        task_runtime *rt = test_rt_new_mt(2);

        for (int r = 0; r < rounds; r++) {
                task_broadcast_tx *tx;
                task_handle *h[N];

                cr_assert_eq(task_broadcast_new(8, sizeof(uint64_t), &tx, NULL),
                             0);
                for (int i = 0; i < N; i++) {
                        struct rxtask f = {.drop_rx = 1};
                        cr_assert_eq(task_broadcast_subscribe(tx, &f.rx), 0);
                        cr_assert_eq(TASK_SPAWN(rt, rxtask, &f, &h[i]), 0);
                }
                if (r % 2) /* every other round: abort suspended tasks */
                        for (int i = 0; i < N; i += 2)
                                cr_assert(WAIT_UNTIL(
                                    wait_queued(&rxf(h[i])->op.w), 5000));
                for (int i = 0; i < N; i += 2)
                        task_abort(h[i]);
                for (uint64_t v = 0; v < 3; v++)
                        cr_assert_geq(task_broadcast_send(tx, &v), N / 2);
                task_broadcast_tx_drop(tx);
                for (int i = 0; i < N; i++) {
                        int rc = task_join_blocking(h[i]);
                        struct rxtask *f = rxf(h[i]);
                        cr_assert_eq(f->bad, 0);
                        /*
                         * An abort that finds the task mid-poll (possible
                         * in the rounds that do not wait for the
                         * suspension) takes effect at its next suspension;
                         * a task that never suspends again finishes.
                         */
                        bool finished = i % 2 || (rc == 0 && !(r % 2));
                        if (finished) {
                                cr_assert_eq(rc, 0, "round %d task %d", r, i);
                                cr_assert_eq(f->n, 3);
                                cr_assert_eq(f->ended_epipe, 1);
                                for (int k = 0; k < 3; k++)
                                        cr_assert_eq(f->got[k], (uint64_t)k);
                        } else {
                                cr_assert_eq(rc, -ECANCELED,
                                             "round %d task %d: %d", r, i, rc);
                        }
                        cr_assert_null(f->rx); /* dropped by the cleanup */
                        task_handle_release(h[i]);
                }
        }
        test_rt_free(rt);
}

/* ---- The last sender's drop against receivers going ------------------------ */

/* A thread that receives once (or sees the close), then drops its rx. */
static void *recv_once_then_drop(void *p)
{
        task_broadcast_rx *rx = p;
        uint64_t v;
        int rc = task_broadcast_recv_blocking(rx, &v, NULL);

        task_broadcast_rx_drop(rx);
        return (void *)(intptr_t)rc;
}

struct dropper {
        task_broadcast_tx *tx;
        atomic_int go;
};

static void *drop_tx_when_told(void *p)
{
        struct dropper *d = p;

        while (!atomic_load(&d->go))
                sched_yield();
        task_broadcast_tx_drop(d->tx);
        return NULL;
}

/*
 * The last sender's drop wakes more waiters than one wake batch (32), so
 * it releases the lock between batches; meanwhile aborted tasks drop their
 * receivers in their cleanups and woken threads and tasks drop theirs.
 * The last receiver may go in such a window: it must not free the channel
 * under the dropping sender (which would then free it again).  Not a
 * deterministic reproduction: it runs the path, and the sanitizer builds
 * report the use-after-free if it happens.
 */
Test(broadcast, stress_last_sender_drop_while_receivers_go, .timeout = 120)
{
        enum { NT = 72, NTH = 8 };
        int rounds = (int)test_scaled(40, 6);
        task_runtime *rt = test_rt_new_mt(2);

        for (int r = 0; r < rounds; r++) {
                struct dropper d = {0};
                task_handle *h[NT];
                pthread_t th[NTH], dt;

                cr_assert_eq(
                    task_broadcast_new(4, sizeof(uint64_t), &d.tx, NULL), 0);
                for (int i = 0; i < NTH; i++) {
                        task_broadcast_rx *rx;
                        cr_assert_eq(task_broadcast_subscribe(d.tx, &rx), 0);
                        cr_assert_eq(pthread_create(&th[i], NULL,
                                                    recv_once_then_drop, rx),
                                     0);
                }
                for (int i = 0; i < NT; i++) {
                        struct rxtask f = {.drop_rx = 1};
                        cr_assert_eq(task_broadcast_subscribe(d.tx, &f.rx), 0);
                        cr_assert_eq(TASK_SPAWN(rt, rxtask, &f, &h[i]), 0);
                }
                for (int i = 0; i < NT; i++)
                        cr_assert(
                            WAIT_UNTIL(wait_queued(&rxf(h[i])->op.w), 5000));
                cr_assert_eq(pthread_create(&dt, NULL, drop_tx_when_told, &d),
                             0);
                /* Aborts before, around and after the drop begins. */
                for (int i = 0; i < NT; i += 2) {
                        if (i == (r % 4) * NT / 4)
                                atomic_store(&d.go, 1);
                        task_abort(h[i]);
                }
                atomic_store(&d.go, 1);
                for (int i = 0; i < NTH; i++) {
                        void *rc;
                        cr_assert_eq(pthread_join(th[i], &rc), 0);
                        cr_assert_eq((intptr_t)rc, -EPIPE);
                }
                for (int i = 0; i < NT; i++) {
                        int rc = task_join_blocking(h[i]);
                        struct rxtask *f = rxf(h[i]);
                        cr_assert_eq(f->bad, 0);
                        cr_assert_eq(f->n, 0);
                        if (i % 2 || rc == 0) {
                                /* Not aborted, or woken and done first. */
                                cr_assert_eq(rc, 0, "round %d task %d", r, i);
                                cr_assert_eq(f->ended_epipe, 1);
                        } else {
                                cr_assert_eq(rc, -ECANCELED);
                        }
                        cr_assert_null(f->rx); /* dropped by the cleanup */
                        task_handle_release(h[i]);
                }
                cr_assert_eq(pthread_join(dt, NULL), 0);
        }
        test_rt_free(rt);
}

/*
 * The same, made to happen: 32 threads wait (a full wake batch, queued
 * first), then one task.  The last sender's drop completes the 32, drops
 * the lock and wakes them; the interposed syscall() holds it there, after
 * its 32nd futex wake, while the task is aborted (its cancel takes the
 * free lock, its cleanup drops its receiver) and the threads drop theirs.
 * The channel then has no receiver left: the sender, which takes the lock
 * again, must be the one that frees it (before the fix, the last receiver
 * did, and ASan reported the sender's use after free).
 */
struct counted_receiver {
        task_broadcast_rx *rx;
        _Atomic pid_t tid;
};

static void *counted_recv_then_drop(void *p)
{
        struct counted_receiver *c = p;
        uint64_t v;

        atomic_store(&c->tid, gettid());
        int rc = task_broadcast_recv_blocking(c->rx, &v, NULL);
        task_broadcast_rx_drop(c->rx);
        return (void *)(intptr_t)rc;
}

static void *drop_tx_slowly(void *p)
{
        widen_after = 32; /* TASK__WAKE_BATCH */
        task_broadcast_tx_drop(p);
        widen_after = 0;
        return NULL;
}

Test(broadcast, last_receiver_dropped_while_last_sender_wakes, .timeout = 60)
{
        enum { NTH = 32 };
        task_runtime *rt = test_rt_new_mt(2);
        struct counted_receiver c[NTH];
        pthread_t th[NTH], dt;
        task_broadcast_tx *tx;
        task_handle *h;

        atomic_store(&in_window, 0);
        atomic_store(&window_done, 0);
        cr_assert_eq(task_broadcast_new(4, sizeof(uint64_t), &tx, NULL), 0);
        for (int i = 0; i < NTH; i++) {
                atomic_init(&c[i].tid, 0);
                cr_assert_eq(task_broadcast_subscribe(tx, &c[i].rx), 0);
                cr_assert_eq(
                    pthread_create(&th[i], NULL, counted_recv_then_drop, &c[i]),
                    0);
        }
        /* A thread that sleeps has queued its node (it queues, then
         * sleeps on it): so the threads come first in the queue. */
        for (int i = 0; i < NTH; i++)
                cr_assert(WAIT_UNTIL(atomic_load(&c[i].tid) &&
                                         thread_sleeps(atomic_load(&c[i].tid)),
                                     5000));
        struct rxtask f = {.drop_rx = 1};
        cr_assert_eq(task_broadcast_subscribe(tx, &f.rx), 0);
        cr_assert_eq(TASK_SPAWN(rt, rxtask, &f, &h), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&rxf(h)->op.w), 5000));

        cr_assert_eq(pthread_create(&dt, NULL, drop_tx_slowly, tx), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&in_window), 5000));
        task_abort(h); /* queued 33rd: not woken yet */
        int rc = task_join_blocking(h);
        cr_assert(rc == -ECANCELED || (rc == 0 && rxf(h)->ended_epipe));
        cr_assert_null(rxf(h)->rx);
        for (int i = 0; i < NTH; i++) {
                void *trc;
                cr_assert_eq(pthread_join(th[i], &trc), 0);
                cr_assert_eq((intptr_t)trc, -EPIPE);
        }
        atomic_store(&window_done, 1); /* every receiver is gone */
        cr_assert_eq(pthread_join(dt, NULL), 0);
        task_handle_release(h);
        test_rt_free(rt);
}

/* ---- -ENOMEM ------------------------------------------------------------------ */

Test(broadcast, enomem_creates_nothing, .timeout = 10)
{
        task_broadcast_tx *tx = (task_broadcast_tx *)0x1;
        task_broadcast_rx *rx = (task_broadcast_rx *)0x1, *out;
        uint64_t v;
        long n;
        int rc;

        /* Every allocation of task_broadcast_new, in turn. */
        for (n = 1; n < 10; n++) {
                atomic_store(&task__fault_alloc_countdown, n);
                rc = task_broadcast_new(4, sizeof v, &tx, &rx);
                atomic_store(&task__fault_alloc_countdown, 0);
                if (rc == 0)
                        break;
                cr_assert_eq(rc, -ENOMEM);
                cr_assert_eq(tx, (task_broadcast_tx *)0x1);
                cr_assert_eq(rx, (task_broadcast_rx *)0x1);
                test_leak_check();
        }
        cr_assert_gt(n, 2, "the channel and its receiver: two allocations");

        /* New receivers: nothing made, *out untouched, the channel as it
         * was. */
        send_u64(tx, 1, 1);
        out = (task_broadcast_rx *)0x1;
        atomic_store(&task__fault_alloc_countdown, 1);
        cr_assert_eq(task_broadcast_subscribe(tx, &out), -ENOMEM);
        atomic_store(&task__fault_alloc_countdown, 1);
        cr_assert_eq(task_broadcast_rx_clone(rx, &out), -ENOMEM);
        atomic_store(&task__fault_alloc_countdown, 1);
        cr_assert_eq(task_broadcast_resubscribe(rx, &out), -ENOMEM);
        atomic_store(&task__fault_alloc_countdown, 0);
        cr_assert_eq(out, (task_broadcast_rx *)0x1);
        cr_assert_eq(task_broadcast_receiver_count(tx), 1);
        send_u64(tx, 2, 1);
        cr_assert_eq(task_broadcast_try_recv(rx, &v, NULL), 0);
        cr_assert_eq(v, 1);
        cr_assert_eq(task_broadcast_rx_clone(rx, &out), 0, "works again");
        cr_assert_eq(task_broadcast_try_recv(out, &v, NULL), 0);
        cr_assert_eq(v, 2);
        task_broadcast_rx_drop(out);
        task_broadcast_rx_drop(rx);
        task_broadcast_tx_drop(tx);
        test_leak_check();
}
