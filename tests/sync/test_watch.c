/*
 * test_watch.c - the watch channel: borrow vs borrow_and_update, versions
 * and has_changed, waiting for a change, intermediate values skipped but
 * the last always seen, send failing without receivers while send_replace
 * and send_modify store anyway, the sender's drop waking every waiter with
 * -EPIPE (after a last unseen value), cancellation safety (abort, cancel
 * after the wake), bad input, both flavors, the blocking variant, and
 * stress: receivers on other workers and threads see only increasing,
 * untorn values and end on the last one; the last sender's drop waking
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

static uint64_t borrow_u64(task_watch_rx *rx)
{
        uint64_t v = 0;
        cr_assert_eq(task_watch_borrow(rx, &v), 0);
        return v;
}

/* ---- A waiting task -------------------------------------------------------- */

/*
 * Waits for @want changes (or until -EPIPE when 0), borrowing the value
 * after each; drops its receiver in its cleanup when @drop_rx is set.
 */
struct waiter {
        TASK_FRAME;
        task_watch_rx *rx;
        struct task_watch_changed op;
        int want, drop_rx;
        int rc, n, ended_epipe, bad;
        uint64_t last;
};

static int waiter(struct task_cx *cx, void *arg)
{
        struct waiter *f = arg;
        TASK_BEGIN(f);
        for (;;) {
                TASK_WATCH_CHANGED(f, f->rx, &f->op, &f->rc);
                if (f->rc == -EPIPE) {
                        f->ended_epipe = 1;
                        break;
                }
                if (f->rc != 0) {
                        f->bad++;
                        break;
                }
                if (task_watch_borrow(f->rx, &f->last) != 0)
                        f->bad++;
                f->n++;
                if (f->want && f->n >= f->want)
                        break;
        }
        TASK_CLEANUP(f);
        if (f->drop_rx) {
                task_watch_rx_drop(f->rx);
                f->rx = NULL;
        }
        TASK_END(f);
}

static struct waiter *wf(task_handle *h)
{
        return task_handle_frame(h);
}

/* ---- Semantics without tasks ----------------------------------------------- */

Test(watch, borrow_does_not_mark_seen_borrow_and_update_does, .timeout = 10)
{
        task_watch_tx *tx;
        task_watch_rx *rx;
        uint64_t v = 5;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, &rx), 0);
        v = 0;
        cr_assert_eq(borrow_u64(rx), 5);
        cr_assert_eq(task_watch_has_changed(rx), 0,
                     "the initial value counts as seen");
        v = 6;
        cr_assert_eq(task_watch_send(tx, &v), 0);
        cr_assert_eq(task_watch_has_changed(rx), 1);
        cr_assert_eq(borrow_u64(rx), 6);
        cr_assert_eq(task_watch_has_changed(rx), 1, "borrow marked it seen");
        v = 0;
        cr_assert_eq(task_watch_borrow_and_update(rx, &v), 0);
        cr_assert_eq(v, 6);
        cr_assert_eq(task_watch_has_changed(rx), 0);
        v = 0;
        cr_assert_eq(task_watch_tx_borrow(tx, &v), 0);
        cr_assert_eq(v, 6);
        task_watch_rx_drop(rx);
        task_watch_tx_drop(tx);
        test_leak_check();
}

Test(watch, intermediate_values_skipped_last_seen, .timeout = 10)
{
        task_watch_tx *tx;
        task_watch_rx *rx;
        uint64_t v = 0;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, &rx), 0);
        for (v = 1; v <= 3; v++)
                cr_assert_eq(task_watch_send(tx, &v), 0);
        cr_assert_eq(task_watch_has_changed(rx), 1);
        cr_assert_eq(task_watch_borrow_and_update(rx, &v), 0);
        cr_assert_eq(v, 3, "not the latest value");
        cr_assert_eq(task_watch_has_changed(rx), 0, "3 changes, one seen");
        task_watch_tx_drop(tx);
        task_watch_rx_drop(rx);
}

/* Tokio: send fails (and stores nothing) without receivers; send_replace,
 * send_modify and send_if_modified always store. */
static void add_one(void *value, void *arg)
{
        (void)arg;
        (*(uint64_t *)value)++;
}

static bool set_if_different(void *value, void *arg)
{
        uint64_t *v = value, want = *(uint64_t *)arg;
        if (*v == want)
                return false;
        *v = want;
        return true;
}

static bool change_quietly(void *value, void *arg)
{
        *(uint64_t *)value = *(uint64_t *)arg;
        return false;
}

Test(watch, send_without_receivers_fails_replace_and_modify_store,
     .timeout = 10)
{
        task_watch_tx *tx;
        task_watch_rx *rx;
        uint64_t v = 1, old = 0, arg;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, NULL), 0);
        cr_assert_eq(task_watch_receiver_count(tx), 0);
        v = 2;
        cr_assert_eq(task_watch_send(tx, &v), -EPIPE);
        cr_assert_eq(task_watch_tx_borrow(tx, &v), 0);
        cr_assert_eq(v, 1, "a failed send stored its value");

        v = 3;
        cr_assert_eq(task_watch_send_replace(tx, &v, &old), 0);
        cr_assert_eq(old, 1);
        cr_assert_eq(task_watch_subscribe(tx, &rx), 0);
        cr_assert_eq(task_watch_receiver_count(tx), 1);
        cr_assert_eq(borrow_u64(rx), 3);
        cr_assert_eq(task_watch_has_changed(rx), 0, "subscribe saw it");

        cr_assert_eq(task_watch_send_modify(tx, add_one, NULL), 0);
        cr_assert_eq(task_watch_has_changed(rx), 1);
        cr_assert_eq(task_watch_borrow_and_update(rx, &v), 0);
        cr_assert_eq(v, 4);

        arg = 4;
        cr_assert_eq(task_watch_send_if_modified(tx, set_if_different, &arg),
                     0);
        cr_assert_eq(task_watch_has_changed(rx), 0);
        arg = 9;
        cr_assert_eq(task_watch_send_if_modified(tx, set_if_different, &arg),
                     1);
        cr_assert_eq(task_watch_has_changed(rx), 1);
        cr_assert_eq(task_watch_borrow_and_update(rx, &v), 0);
        cr_assert_eq(v, 9);

        /* Changed but not announced: borrow sees it, has_changed does not. */
        arg = 11;
        cr_assert_eq(task_watch_send_if_modified(tx, change_quietly, &arg), 0);
        cr_assert_eq(task_watch_has_changed(rx), 0);
        cr_assert_eq(borrow_u64(rx), 11);

        /* send_replace with NULL @old; no receivers again afterwards. */
        v = 12;
        cr_assert_eq(task_watch_send_replace(tx, &v, NULL), 0);
        task_watch_rx_drop(rx);
        cr_assert_eq(task_watch_send(tx, &v), -EPIPE);
        cr_assert_eq(task_watch_send_modify(tx, add_one, NULL), 0);
        cr_assert_eq(task_watch_tx_borrow(tx, &v), 0);
        cr_assert_eq(v, 13);
        task_watch_tx_drop(tx);
        test_leak_check();
}

Test(watch, subscribe_and_clone_seen_versions, .timeout = 10)
{
        task_watch_tx *tx, *tx2;
        task_watch_rx *rx, *clone, *sub;
        uint64_t v = 0;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, &rx), 0);
        cr_assert_eq(task_watch_tx_clone(tx, &tx2), 0);
        v = 1;
        cr_assert_eq(task_watch_send(tx2, &v), 0);
        cr_assert_eq(task_watch_rx_clone(rx, &clone), 0);
        cr_assert_eq(task_watch_subscribe(tx, &sub), 0);
        cr_assert_eq(task_watch_has_changed(clone), 1, "clone lost unseen");
        cr_assert_eq(task_watch_has_changed(sub), 0);
        cr_assert_eq(task_watch_receiver_count(tx), 3);

        task_watch_mark_unchanged(clone);
        cr_assert_eq(task_watch_has_changed(clone), 0);
        task_watch_mark_changed(sub);
        cr_assert_eq(task_watch_has_changed(sub), 1);
        cr_assert_eq(task_watch_changed_blocking(sub), 0); /* at once */
        cr_assert_eq(task_watch_has_changed(sub), 0);

        /* One sender of two dropped: still open. */
        task_watch_tx_drop(tx);
        cr_assert_eq(task_watch_has_changed(rx), 1);
        task_watch_tx_drop(tx2);
        cr_assert_eq(task_watch_has_changed(rx), -EPIPE);
        task_watch_rx_drop(clone);
        task_watch_rx_drop(sub);
        task_watch_rx_drop(rx);
        test_leak_check();
}

/* After the close: has_changed says -EPIPE (Tokio), changed still reports
 * the unseen last value once, then -EPIPE. */
Test(watch, last_value_before_epipe, .timeout = 10)
{
        task_watch_tx *tx;
        task_watch_rx *rx;
        uint64_t v = 0;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, &rx), 0);
        v = 9;
        cr_assert_eq(task_watch_send(tx, &v), 0);
        task_watch_tx_drop(tx);
        cr_assert_eq(task_watch_has_changed(rx), -EPIPE);
        cr_assert_eq(task_watch_changed_blocking(rx), 0);
        cr_assert_eq(borrow_u64(rx), 9);
        cr_assert_eq(task_watch_changed_blocking(rx), -EPIPE);
        cr_assert_eq(task_watch_borrow_and_update(rx, &v), 0);
        cr_assert_eq(v, 9);
        task_watch_rx_drop(rx);
        test_leak_check();
}

/* Sizes that are not a multiple of 8, and 0 (pure notifications). */
Test(watch, odd_and_zero_sizes, .timeout = 10)
{
        enum { SZ = 13 };
        task_watch_tx *tx;
        task_watch_rx *rx;
        unsigned char in[SZ], out[SZ + 4];

        for (int i = 0; i < SZ; i++)
                in[i] = (unsigned char)(i + 1);
        cr_assert_eq(task_watch_new(SZ, in, &tx, &rx), 0);
        memset(out, 0xee, sizeof out);
        cr_assert_eq(task_watch_borrow(rx, out), 0);
        cr_assert_eq(memcmp(in, out, SZ), 0);
        cr_assert_eq(out[SZ], 0xee);
        in[SZ - 1] = 0x55;
        cr_assert_eq(task_watch_send(tx, in), 0);
        cr_assert_eq(task_watch_borrow_and_update(rx, out), 0);
        cr_assert_eq(memcmp(in, out, SZ), 0);
        cr_assert_eq(out[SZ], 0xee);
        task_watch_tx_drop(tx);
        task_watch_rx_drop(rx);

        cr_assert_eq(task_watch_new(0, NULL, &tx, &rx), 0);
        cr_assert_eq(task_watch_send(tx, NULL), 0);
        cr_assert_eq(task_watch_has_changed(rx), 1);
        cr_assert_eq(task_watch_borrow_and_update(rx, NULL), 0);
        cr_assert_eq(task_watch_has_changed(rx), 0);
        task_watch_rx_drop(rx);
        task_watch_tx_drop(tx);
}

/* ---- Tasks ------------------------------------------------------------------ */

Test(watch, changed_waits_and_is_woken_by_send, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_watch_tx *tx;
        task_watch_rx *rx;
        task_handle *h;
        uint64_t v = 0;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, &rx), 0);
        struct waiter f = {.rx = rx, .want = 1};
        cr_assert_eq(TASK_SPAWN(rt, waiter, &f, &h), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&wf(h)->op.w), 5000));
        v = 42;
        cr_assert_eq(task_watch_send(tx, &v), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(wf(h)->n, 1);
        cr_assert_eq(wf(h)->last, 42);
        cr_assert_eq(task_watch_has_changed(rx), 0, "changed marks seen");
        task_handle_release(h);
        task_watch_rx_drop(rx);
        task_watch_tx_drop(tx);
        test_rt_free(rt);
}

/* More waiters than a wake batch; send_if_modified(false) wakes nobody. */
Test(watch, one_send_wakes_every_waiter, .timeout = 20)
{
        enum { N = 100 };
        task_runtime *rt = test_rt_new_mt(2);
        task_watch_tx *tx;
        task_handle *h[N];
        uint64_t v = 0, arg = 5;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, NULL), 0);
        for (int i = 0; i < N; i++) {
                struct waiter f = {.want = 1, .drop_rx = 1};
                cr_assert_eq(task_watch_subscribe(tx, &f.rx), 0);
                cr_assert_eq(TASK_SPAWN(rt, waiter, &f, &h[i]), 0);
        }
        for (int i = 0; i < N; i++)
                cr_assert(WAIT_UNTIL(wait_queued(&wf(h[i])->op.w), 5000));
        cr_assert_eq(task_watch_send_if_modified(tx, change_quietly, &arg), 0);
        sleep_ms(5);
        for (int i = 0; i < N; i++)
                cr_assert(wait_queued(&wf(h[i])->op.w),
                          "woken without a change");
        v = 7;
        cr_assert_eq(task_watch_send(tx, &v), 0);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq(wf(h[i])->n, 1);
                cr_assert_eq(wf(h[i])->last, 7);
                task_handle_release(h[i]);
        }
        task_watch_tx_drop(tx);
        test_rt_free(rt);
}

/* The last sender's drop wakes every waiter with -EPIPE. */
Test(watch, sender_drop_wakes_waiters_with_epipe, .timeout = 20)
{
        enum { N = 50 };
        task_runtime *rt = test_rt_new_mt(2);
        task_watch_tx *tx, *tx2;
        task_handle *h[N];
        uint64_t v = 0;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, NULL), 0);
        cr_assert_eq(task_watch_tx_clone(tx, &tx2), 0);
        for (int i = 0; i < N; i++) {
                struct waiter f = {.drop_rx = 1};
                cr_assert_eq(task_watch_subscribe(tx, &f.rx), 0);
                cr_assert_eq(TASK_SPAWN(rt, waiter, &f, &h[i]), 0);
        }
        for (int i = 0; i < N; i++)
                cr_assert(WAIT_UNTIL(wait_queued(&wf(h[i])->op.w), 5000));
        task_watch_tx_drop(tx);
        sleep_ms(5);
        for (int i = 0; i < N; i++)
                cr_assert(wait_queued(&wf(h[i])->op.w),
                          "woken by a non-last drop");
        task_watch_tx_drop(tx2);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq(wf(h[i])->ended_epipe, 1);
                cr_assert_eq(wf(h[i])->n, 0);
                cr_assert_eq(wf(h[i])->bad, 0);
                task_handle_release(h[i]);
        }
        test_rt_free(rt);
}

/* A waiter whose receiver's siblings are dropped or aborted keeps waiting. */
Test(watch, dropping_other_receivers_while_one_waits, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_watch_tx *tx;
        task_watch_rx *rx, *other, *other2;
        task_handle *h, *h2;
        uint64_t v = 0;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, &rx), 0);
        cr_assert_eq(task_watch_subscribe(tx, &other), 0);
        cr_assert_eq(task_watch_rx_clone(rx, &other2), 0);
        struct waiter f = {.rx = rx, .want = 1, .drop_rx = 1};
        struct waiter f2 = {.rx = other2, .drop_rx = 1};
        cr_assert_eq(TASK_SPAWN(rt, waiter, &f, &h), 0);
        cr_assert_eq(TASK_SPAWN(rt, waiter, &f2, &h2), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&wf(h)->op.w), 5000));
        cr_assert(WAIT_UNTIL(wait_queued(&wf(h2)->op.w), 5000));
        task_watch_rx_drop(other);
        task_abort(h2);
        cr_assert_eq(task_join_blocking(h2), -ECANCELED);
        cr_assert_eq(task_watch_receiver_count(tx), 1);
        cr_assert(wait_queued(&wf(h)->op.w));
        v = 3;
        cr_assert_eq(task_watch_send(tx, &v), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(wf(h)->last, 3);
        task_handle_release(h);
        task_handle_release(h2);
        cr_assert_eq(task_watch_receiver_count(tx), 0);
        task_watch_tx_drop(tx);
        test_rt_free(rt);
}

/* ---- Cancellation ----------------------------------------------------------- */

/* An aborted wait marks nothing seen: the change goes to the next wait. */
Test(watch, abort_while_suspended_marks_nothing_seen, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_watch_tx *tx;
        task_watch_rx *rx;
        task_handle *h;
        uint64_t v = 0;

        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, &rx), 0);
        struct waiter f = {.rx = rx};
        cr_assert_eq(TASK_SPAWN(rt, waiter, &f, &h), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&wf(h)->op.w), 5000));
        task_abort(h);
        v = 8;
        cr_assert_eq(task_watch_send(tx, &v), 0); /* races the cancel */
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(wf(h)->n, 0);
        cr_assert_eq(atomic_load(&wf(h)->op.w.state), TASK_WAIT_IDLE);
        task_handle_release(h);
        cr_assert_eq(task_watch_has_changed(rx), 1,
                     "the aborted wait marked the change seen");
        cr_assert_eq(task_watch_changed_blocking(rx), 0);
        cr_assert_eq(borrow_u64(rx), 8);
        task_watch_rx_drop(rx);
        task_watch_tx_drop(tx);
        test_rt_free(rt);
}

/* Woken (DONE), then cancelled before the poll that would have seen it. */
struct wake_then_cancel {
        TASK_FRAME;
        task_watch_tx *tx;
        task_watch_rx *rx;
        struct task_watch_changed op;
        int rc, ok;
};

static int wake_then_cancel(struct task_cx *cx, void *arg)
{
        struct wake_then_cancel *f = arg;
        uint64_t val = 99;
        TASK_BEGIN(f);
        TCHECK(!task_watch_changed_poll(cx, f->rx, &f->op, &f->rc));
        TCHECK(atomic_load(&f->op.w.state) == TASK_WAIT_QUEUED);
        TCHECK(task_watch_send(f->tx, &val) == 0);
        TCHECK(atomic_load(&f->op.w.state) == TASK_WAIT_DONE);
        task_wait_cancel(&f->op.w);
        TCHECK(atomic_load(&f->op.w.state) == TASK_WAIT_IDLE);
        TCHECK(task_watch_has_changed(f->rx) == 1);
        /* The node is reusable, and the change is still there for it. */
        TCHECK(task_watch_changed_poll(cx, f->rx, &f->op, &f->rc));
        TCHECK(f->rc == 0);
        TCHECK(task_watch_has_changed(f->rx) == 0);
        f->ok = 1;
        TASK_END(f);
}

Test(watch, cancel_after_wake_marks_nothing_seen, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct wake_then_cancel f = {0};
        uint64_t v = 0;

        cr_assert_eq(task_watch_new(sizeof v, &v, &f.tx, &f.rx), 0);
        cr_assert_eq(task_block_on(rt, wake_then_cancel, &f, sizeof f), 0);
        tcheck_assert_none();
        cr_assert_eq(f.ok, 1);
        task_watch_rx_drop(f.rx);
        task_watch_tx_drop(f.tx);
        test_rt_free(rt);
}

/* ---- Bad input -------------------------------------------------------------- */

struct badpoll {
        TASK_FRAME;
        task_watch_rx *rx;
        struct task_watch_changed op;
        int rc[3];
        bool done[3];
        int deadlk;
};

static int badpoll(struct task_cx *cx, void *arg)
{
        struct badpoll *f = arg;
        TASK_BEGIN(f);
        f->done[0] = task_watch_changed_poll(cx, NULL, &f->op, &f->rc[0]);
        f->done[1] = task_watch_changed_poll(cx, f->rx, NULL, &f->rc[1]);
        f->done[2] = task_watch_changed_poll(cx, NULL, NULL, NULL);
        f->deadlk = task_watch_changed_blocking(f->rx);
        TASK_END(f);
}

Test(watch, bad_input, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        task_watch_tx *tx, *o = NULL;
        task_watch_rx *rx, *ro = NULL;
        uint64_t v = 0;
        int rc = 1;

        cr_assert_eq(task_watch_new(8, NULL, &tx, &rx), -EINVAL);
        cr_assert_eq(task_watch_new(8, &v, NULL, &rx), -EINVAL);
        cr_assert_eq(task_watch_new(SIZE_MAX, &v, &tx, &rx), -EINVAL);
        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, &rx), 0);

        cr_assert_eq(task_watch_tx_clone(NULL, &o), -EINVAL);
        cr_assert_eq(task_watch_tx_clone(tx, NULL), -EINVAL);
        cr_assert_eq(task_watch_subscribe(NULL, &ro), -EINVAL);
        cr_assert_eq(task_watch_subscribe(tx, NULL), -EINVAL);
        cr_assert_eq(task_watch_rx_clone(NULL, &ro), -EINVAL);
        cr_assert_eq(task_watch_rx_clone(rx, NULL), -EINVAL);
        cr_assert_null(o);
        cr_assert_null(ro);
        cr_assert_eq(task_watch_send(NULL, &v), -EINVAL);
        cr_assert_eq(task_watch_send(tx, NULL), -EINVAL);
        cr_assert_eq(task_watch_send_replace(NULL, &v, NULL), -EINVAL);
        cr_assert_eq(task_watch_send_replace(tx, NULL, &v), -EINVAL);
        cr_assert_eq(task_watch_send_modify(NULL, add_one, NULL), -EINVAL);
        cr_assert_eq(task_watch_send_modify(tx, NULL, NULL), -EINVAL);
        cr_assert_eq(task_watch_send_if_modified(NULL, set_if_different, &v),
                     -EINVAL);
        cr_assert_eq(task_watch_send_if_modified(tx, NULL, NULL), -EINVAL);
        cr_assert_eq(task_watch_tx_borrow(NULL, &v), -EINVAL);
        cr_assert_eq(task_watch_tx_borrow(tx, NULL), -EINVAL);
        cr_assert_eq(task_watch_borrow(NULL, &v), -EINVAL);
        cr_assert_eq(task_watch_borrow(rx, NULL), -EINVAL);
        cr_assert_eq(task_watch_borrow_and_update(NULL, &v), -EINVAL);
        cr_assert_eq(task_watch_borrow_and_update(rx, NULL), -EINVAL);
        cr_assert_eq(task_watch_has_changed(NULL), -EINVAL);
        cr_assert_eq(task_watch_changed_blocking(NULL), -EINVAL);
        cr_assert(task_watch_changed_poll(NULL, rx, NULL, &rc));
        cr_assert_eq(rc, -EINVAL);
        cr_assert_eq(task_watch_receiver_count(NULL), 0);
        task_watch_mark_changed(NULL);
        task_watch_mark_unchanged(NULL);
        task_watch_tx_drop(NULL);
        task_watch_rx_drop(NULL);

        struct badpoll f = {.rx = rx};
        cr_assert_eq(task_block_on(rt, badpoll, &f, sizeof f), 0);
        for (int i = 0; i < 3; i++)
                cr_assert(f.done[i], "poll %d with bad input waited", i);
        cr_assert_eq(f.rc[0], -EINVAL);
        cr_assert_eq(f.rc[1], -EINVAL);
        cr_assert_eq(f.deadlk, -EDEADLK);

        /* The channel is unharmed. */
        v = 4;
        cr_assert_eq(task_watch_send(tx, &v), 0);
        cr_assert_eq(task_watch_changed_blocking(rx), 0);
        cr_assert_eq(borrow_u64(rx), 4);
        task_watch_rx_drop(rx);
        task_watch_tx_drop(tx);
        test_rt_free(rt);
}

/* ---- Both flavors ----------------------------------------------------------- */

struct wmain {
        TASK_FRAME;
        task_watch_tx *tx;
        task_handle *h[3];
        int i, rc, bad;
        uint64_t nsend;
};

static int wmain(struct task_cx *cx, void *arg)
{
        struct wmain *f = arg;
        task_runtime *rt = task_cx_runtime(cx);
        TASK_BEGIN(f);
        for (f->i = 0; f->i < 3; f->i++) {
                struct waiter w = {.drop_rx = 1};
                f->h[f->i] = NULL; /* a failed spawn leaves it untouched */
                if (task_watch_subscribe(f->tx, &w.rx) != 0 ||
                    TASK_SPAWN(rt, waiter, &w, &f->h[f->i]) != 0)
                        f->bad++;
        }
        TASK_YIELD(f);
        for (f->i = 1; f->i <= (int)f->nsend; f->i++) {
                uint64_t v = (uint64_t)f->i;
                if (task_watch_send(f->tx, &v) != 0)
                        f->bad++;
                TASK_YIELD(f);
        }
        {
                /* Blocking on the runtime's own thread: refused. */
                task_watch_rx *rx = NULL;
                if (task_watch_subscribe(f->tx, &rx) != 0 ||
                    task_watch_changed_blocking(rx) != -EDEADLK)
                        f->bad++;
                task_watch_rx_drop(rx);
        }
        task_watch_tx_drop(f->tx);
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
        struct wmain f = {.nsend = 10};
        uint64_t v = 0;

        cr_assert_eq(task_watch_new(sizeof v, &v, &f.tx, NULL), 0);
        cr_assert_eq(task_block_on(rt, wmain, &f, sizeof f), 0);
        cr_assert_eq(f.bad, 0);
        for (int i = 0; i < 3; i++) {
                struct waiter *w = wf(f.h[i]);
                cr_assert_eq(w->ended_epipe, 1);
                cr_assert_eq(w->bad, 0);
                cr_assert_geq(w->n, 1);
                cr_assert_leq(w->n, (int)f.nsend);
                cr_assert_eq(w->last, f.nsend, "waiter %d ended on %llu", i,
                             (unsigned long long)w->last);
                task_handle_release(f.h[i]);
        }
        test_rt_free(rt);
}

Test(watch, multi_thread_flavor, .timeout = 10)
{
        run_flavor(TASK_MULTI_THREAD);
}

Test(watch, current_thread_flavor, .timeout = 10)
{
        run_flavor(TASK_CURRENT_THREAD);
}

/* ---- Blocking ----------------------------------------------------------------- */

/*
 * A value whose words must all be equal: a torn copy (half of one send,
 * half of another) shows as unequal words.
 */
enum { WORDS = 9 };
struct big {
        uint64_t w[WORDS];
};

static void big_set(struct big *b, uint64_t v)
{
        for (int i = 0; i < WORDS; i++)
                b->w[i] = v;
}

static bool big_ok(const struct big *b)
{
        for (int i = 1; i < WORDS; i++)
                if (b->w[i] != b->w[0])
                        return false;
        return true;
}

struct tw {
        task_watch_rx *rx;
        uint64_t last, changes, torn, backwards, borrows;
        int rc_end;
        bool borrower; /* borrow in a loop instead of waiting */
        atomic_int *stop;
};

static void *thread_watcher(void *p)
{
        struct tw *t = p;
        struct big b;
        int rc;

        if (t->borrower) {
                while (!atomic_load(t->stop)) {
                        task_watch_borrow(t->rx, &b);
                        if (!big_ok(&b))
                                t->torn++;
                        if (b.w[0] < t->last)
                                t->backwards++;
                        t->last = b.w[0];
                        t->borrows++;
                }
                t->rc_end = task_watch_has_changed(t->rx);
        } else {
                while ((rc = task_watch_changed_blocking(t->rx)) == 0) {
                        task_watch_borrow_and_update(t->rx, &b);
                        if (!big_ok(&b))
                                t->torn++;
                        if (b.w[0] <= t->last)
                                t->backwards++;
                        t->last = b.w[0];
                        t->changes++;
                }
                t->rc_end = rc;
        }
        task_watch_rx_drop(t->rx);
        return NULL;
}

Test(watch, blocking_changed_woken_by_send_and_close, .timeout = 10)
{
        task_watch_tx *tx;
        struct tw t = {0};
        pthread_t th;
        struct big b;

        big_set(&b, 0);
        cr_assert_eq(task_watch_new(sizeof b, &b, &tx, &t.rx), 0);
        cr_assert_eq(pthread_create(&th, NULL, thread_watcher, &t), 0);
        sleep_ms(10);
        big_set(&b, 1);
        cr_assert_eq(task_watch_send(tx, &b), 0);
        sleep_ms(10);
        big_set(&b, 2);
        cr_assert_eq(task_watch_send(tx, &b), 0);
        task_watch_tx_drop(tx);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert_eq(t.rc_end, -EPIPE);
        cr_assert_eq(t.last, 2);
        cr_assert_eq(t.torn, 0);
        cr_assert_eq(t.backwards, 0);
        cr_assert_geq(t.changes, 1);
        test_leak_check();
}

/* ---- Stress ----------------------------------------------------------------- */

/*
 * One sender task sends 1..N (a struct of equal words); receiver tasks on
 * the other worker, blocking threads and a borrowing thread watch.  Each
 * must see only increasing, untorn values, and every waiter must end on N
 * (the last value is never missed) before -EPIPE.
 */
struct stw_sender {
        TASK_FRAME;
        task_watch_tx *tx;
        uint64_t n, i;
        int bad;
};

static int stw_sender(struct task_cx *cx, void *arg)
{
        struct stw_sender *f = arg;
        TASK_BEGIN(f);
        for (f->i = 1; f->i <= f->n; f->i++) {
                struct big b;
                big_set(&b, f->i);
                if (task_watch_send(f->tx, &b) != 0)
                        f->bad++;
                if (f->i % 64 == 0)
                        TASK_YIELD(f);
        }
        TASK_CLEANUP(f);
        task_watch_tx_drop(f->tx);
        TASK_END(f);
}

struct stw_receiver {
        TASK_FRAME;
        task_watch_rx *rx;
        struct task_watch_changed op;
        struct big b;
        int rc;
        uint64_t last, changes, torn, backwards;
};

static int stw_receiver(struct task_cx *cx, void *arg)
{
        struct stw_receiver *f = arg;
        TASK_BEGIN(f);
        for (;;) {
                TASK_WATCH_CHANGED(f, f->rx, &f->op, &f->rc);
                if (f->rc != 0)
                        break;
                task_watch_borrow_and_update(f->rx, &f->b);
                if (!big_ok(&f->b))
                        f->torn++;
                if (f->b.w[0] <= f->last)
                        f->backwards++;
                f->last = f->b.w[0];
                f->changes++;
        }
        TASK_CLEANUP(f);
        task_watch_rx_drop(f->rx);
        TASK_END(f);
}

Test(watch, stress_last_value_always_seen, .timeout = 120)
{
        enum { R = 6, T = 2 };
        task_runtime *rt = test_rt_new_mt(2);
        task_watch_tx *tx;
        task_handle *h[R], *hs;
        struct tw t[T + 1];
        pthread_t th[T + 1];
        atomic_int stop = 0;
        struct big b;
        uint64_t n = (uint64_t)test_scaled(300000, 3000);

        big_set(&b, 0);
        cr_assert_eq(task_watch_new(sizeof b, &b, &tx, NULL), 0);
        for (int i = 0; i < R; i++) {
                struct stw_receiver f = {0};
                cr_assert_eq(task_watch_subscribe(tx, &f.rx), 0);
                cr_assert_eq(TASK_SPAWN(rt, stw_receiver, &f, &h[i]), 0);
        }
        for (int i = 0; i <= T; i++) {
                memset(&t[i], 0, sizeof t[i]);
                t[i].borrower = i == T;
                t[i].stop = &stop;
                cr_assert_eq(task_watch_subscribe(tx, &t[i].rx), 0);
                cr_assert_eq(
                    pthread_create(&th[i], NULL, thread_watcher, &t[i]), 0);
        }
        struct stw_sender s = {.tx = tx, .n = n};
        cr_assert_eq(TASK_SPAWN(rt, stw_sender, &s, &hs), 0);
        cr_assert_eq(task_join_blocking(hs), 0);
        cr_assert_eq(((struct stw_sender *)task_handle_frame(hs))->bad, 0);
        task_handle_release(hs);
        for (int i = 0; i < R; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                struct stw_receiver *f = task_handle_frame(h[i]);
                cr_assert_eq(f->rc, -EPIPE);
                cr_assert_eq(f->torn, 0, "receiver %d: torn reads", i);
                cr_assert_eq(f->backwards, 0, "receiver %d: went back", i);
                cr_assert_eq(f->last, n, "receiver %d ended on %llu of %llu", i,
                             (unsigned long long)f->last,
                             (unsigned long long)n);
                task_handle_release(h[i]);
        }
        atomic_store(&stop, 1);
        for (int i = 0; i <= T; i++) {
                cr_assert_eq(pthread_join(th[i], NULL), 0);
                cr_assert_eq(t[i].torn, 0, "thread %d: torn reads", i);
                cr_assert_eq(t[i].backwards, 0, "thread %d: went back", i);
                if (!t[i].borrower) {
                        cr_assert_eq(t[i].rc_end, -EPIPE);
                        cr_assert_eq(t[i].last, n);
                }
        }
        cr_log_info("borrows by the borrowing thread: %llu",
                    (unsigned long long)t[T].borrows);
        test_rt_free(rt);
}

/*
 * Senders on several threads (tx clones) increment the value with
 * send_modify: the writers exclude each other (no increment lost) while a
 * waiting task watches it only grow.
 */
struct incr {
        task_watch_tx *tx;
        uint64_t n;
};

static void big_add_one(void *value, void *arg)
{
        struct big *b = value;
        (void)arg;
        big_set(b, b->w[0] + 1);
}

static void *incrementer(void *p)
{
        struct incr *in = p;
        for (uint64_t i = 0; i < in->n; i++)
                task_watch_send_modify(in->tx, big_add_one, NULL);
        task_watch_tx_drop(in->tx);
        return NULL;
}

Test(watch, stress_concurrent_senders_modify, .timeout = 120)
{
        enum { T = 3 };
        task_runtime *rt = test_rt_new_mt(2);
        task_watch_tx *tx;
        task_handle *h;
        struct incr in[T];
        pthread_t th[T];
        struct big b;
        uint64_t n = (uint64_t)test_scaled(100000, 1000);

        big_set(&b, 0);
        cr_assert_eq(task_watch_new(sizeof b, &b, &tx, NULL), 0);
        struct stw_receiver f = {0};
        cr_assert_eq(task_watch_subscribe(tx, &f.rx), 0);
        cr_assert_eq(TASK_SPAWN(rt, stw_receiver, &f, &h), 0);
        for (int i = 0; i < T; i++) {
                in[i].n = n;
                cr_assert_eq(task_watch_tx_clone(tx, &in[i].tx), 0);
                cr_assert_eq(pthread_create(&th[i], NULL, incrementer, &in[i]),
                             0);
        }
        task_watch_tx_drop(tx);
        for (int i = 0; i < T; i++)
                cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        struct stw_receiver *r = task_handle_frame(h);
        cr_assert_eq(r->rc, -EPIPE);
        cr_assert_eq(r->torn, 0);
        cr_assert_eq(r->backwards, 0);
        cr_assert_eq(r->last, T * n, "ended on %llu, want %llu",
                     (unsigned long long)r->last, (unsigned long long)(T * n));
        task_handle_release(h);
        test_rt_free(rt);
}

/*
 * Waiters aborted in rounds while sends and the close race their
 * cancelling polls; the survivors end on the last value, the aborted ones
 * drop their receivers in their cleanups, nothing leaks.
 */
Test(watch, stress_abort_waiting_receivers, .timeout = 120)
{
        enum { N = 40 };
        int rounds = (int)test_scaled(100, 10);
        task_runtime *rt = test_rt_new_mt(2);

        for (int r = 0; r < rounds; r++) {
                task_watch_tx *tx;
                task_handle *h[N];
                uint64_t v = 0;

                cr_assert_eq(task_watch_new(sizeof v, &v, &tx, NULL), 0);
                for (int i = 0; i < N; i++) {
                        struct waiter f = {.drop_rx = 1};
                        cr_assert_eq(task_watch_subscribe(tx, &f.rx), 0);
                        cr_assert_eq(TASK_SPAWN(rt, waiter, &f, &h[i]), 0);
                }
                if (r % 2) /* every other round: abort suspended tasks */
                        for (int i = 0; i < N; i += 2)
                                cr_assert(WAIT_UNTIL(
                                    wait_queued(&wf(h[i])->op.w), 5000));
                for (int i = 0; i < N; i += 2)
                        task_abort(h[i]);
                for (v = 1; v <= 3; v++)
                        cr_assert_eq(task_watch_send(tx, &v), 0);
                task_watch_tx_drop(tx);
                for (int i = 0; i < N; i++) {
                        int rc = task_join_blocking(h[i]);
                        struct waiter *f = wf(h[i]);
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
                                cr_assert_eq(f->ended_epipe, 1);
                                cr_assert_eq(f->last, 3);
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

/* A thread that waits for one change (or the close), then drops its rx. */
static void *wait_once_then_drop(void *p)
{
        task_watch_rx *rx = p;
        int rc = task_watch_changed_blocking(rx);

        task_watch_rx_drop(rx);
        return (void *)(intptr_t)rc;
}

struct dropper {
        task_watch_tx *tx;
        atomic_int go;
};

static void *drop_tx_when_told(void *p)
{
        struct dropper *d = p;

        while (!atomic_load(&d->go))
                sched_yield();
        task_watch_tx_drop(d->tx);
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
Test(watch, stress_last_sender_drop_while_receivers_go, .timeout = 120)
{
        enum { NT = 72, NTH = 8 };
        int rounds = (int)test_scaled(40, 6);
        task_runtime *rt = test_rt_new_mt(2);

        for (int r = 0; r < rounds; r++) {
                struct dropper d = {0};
                task_handle *h[NT];
                pthread_t th[NTH], dt;
                uint64_t v = 0;

                cr_assert_eq(task_watch_new(sizeof v, &v, &d.tx, NULL), 0);
                for (int i = 0; i < NTH; i++) {
                        task_watch_rx *rx;
                        cr_assert_eq(task_watch_subscribe(d.tx, &rx), 0);
                        cr_assert_eq(pthread_create(&th[i], NULL,
                                                    wait_once_then_drop, rx),
                                     0);
                }
                for (int i = 0; i < NT; i++) {
                        struct waiter f = {.drop_rx = 1};
                        cr_assert_eq(task_watch_subscribe(d.tx, &f.rx), 0);
                        cr_assert_eq(TASK_SPAWN(rt, waiter, &f, &h[i]), 0);
                }
                for (int i = 0; i < NT; i++)
                        cr_assert(
                            WAIT_UNTIL(wait_queued(&wf(h[i])->op.w), 5000));
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
                        struct waiter *f = wf(h[i]);
                        cr_assert_eq(f->bad, 0);
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
struct counted_waiter {
        task_watch_rx *rx;
        _Atomic pid_t tid;
};

static void *counted_wait_then_drop(void *p)
{
        struct counted_waiter *c = p;

        atomic_store(&c->tid, gettid());
        int rc = task_watch_changed_blocking(c->rx);
        task_watch_rx_drop(c->rx);
        return (void *)(intptr_t)rc;
}

static void *drop_tx_slowly(void *p)
{
        widen_after = 32; /* TASK__WAKE_BATCH */
        task_watch_tx_drop(p);
        widen_after = 0;
        return NULL;
}

Test(watch, last_receiver_dropped_while_last_sender_wakes, .timeout = 60)
{
        enum { NTH = 32 };
        task_runtime *rt = test_rt_new_mt(2);
        struct counted_waiter c[NTH];
        pthread_t th[NTH], dt;
        task_watch_tx *tx;
        task_handle *h;
        uint64_t v = 0;

        atomic_store(&in_window, 0);
        atomic_store(&window_done, 0);
        cr_assert_eq(task_watch_new(sizeof v, &v, &tx, NULL), 0);
        for (int i = 0; i < NTH; i++) {
                atomic_init(&c[i].tid, 0);
                cr_assert_eq(task_watch_subscribe(tx, &c[i].rx), 0);
                cr_assert_eq(
                    pthread_create(&th[i], NULL, counted_wait_then_drop, &c[i]),
                    0);
        }
        /* A thread that sleeps has queued its node (it queues, then
         * sleeps on it): so the threads come first in the queue. */
        for (int i = 0; i < NTH; i++)
                cr_assert(WAIT_UNTIL(atomic_load(&c[i].tid) &&
                                         thread_sleeps(atomic_load(&c[i].tid)),
                                     5000));
        struct waiter f = {.drop_rx = 1};
        cr_assert_eq(task_watch_subscribe(tx, &f.rx), 0);
        cr_assert_eq(TASK_SPAWN(rt, waiter, &f, &h), 0);
        cr_assert(WAIT_UNTIL(wait_queued(&wf(h)->op.w), 5000));

        cr_assert_eq(pthread_create(&dt, NULL, drop_tx_slowly, tx), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&in_window), 5000));
        task_abort(h); /* queued 33rd: not woken yet */
        int rc = task_join_blocking(h);
        cr_assert(rc == -ECANCELED || (rc == 0 && wf(h)->ended_epipe));
        cr_assert_null(wf(h)->rx);
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

Test(watch, enomem_creates_nothing, .timeout = 10)
{
        task_watch_tx *tx = (task_watch_tx *)0x1;
        task_watch_rx *rx = (task_watch_rx *)0x1, *out;
        uint64_t v = 7;
        long n;
        int rc;

        /* Every allocation of task_watch_new, in turn. */
        for (n = 1; n < 10; n++) {
                atomic_store(&task__fault_alloc_countdown, n);
                rc = task_watch_new(sizeof v, &v, &tx, &rx);
                atomic_store(&task__fault_alloc_countdown, 0);
                if (rc == 0)
                        break;
                cr_assert_eq(rc, -ENOMEM);
                cr_assert_eq(tx, (task_watch_tx *)0x1);
                cr_assert_eq(rx, (task_watch_rx *)0x1);
                test_leak_check();
        }
        cr_assert_gt(n, 2, "the channel and its receiver: two allocations");

        /* New receivers: nothing made, *out untouched, the channel as it
         * was. */
        out = (task_watch_rx *)0x1;
        atomic_store(&task__fault_alloc_countdown, 1);
        cr_assert_eq(task_watch_subscribe(tx, &out), -ENOMEM);
        atomic_store(&task__fault_alloc_countdown, 1);
        cr_assert_eq(task_watch_rx_clone(rx, &out), -ENOMEM);
        atomic_store(&task__fault_alloc_countdown, 0);
        cr_assert_eq(out, (task_watch_rx *)0x1);
        cr_assert_eq(task_watch_receiver_count(tx), 1);
        v = 8;
        cr_assert_eq(task_watch_send(tx, &v), 0);
        cr_assert_eq(task_watch_borrow_and_update(rx, &v), 0);
        cr_assert_eq(v, 8);
        cr_assert_eq(task_watch_subscribe(tx, &out), 0, "works again");
        task_watch_rx_drop(out);
        task_watch_rx_drop(rx);
        task_watch_tx_drop(tx);
        test_leak_check();
}
