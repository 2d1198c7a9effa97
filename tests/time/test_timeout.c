/*
 * test_timeout.c - TASK_TIMEOUT over any awaitable (libtask/time.h), here
 * an mpsc receive and a Notify wait: the deadline passing gives -ETIMEDOUT
 * (never early) and cancels the receive, which loses nothing; a value in
 * time wins and cancels the timer; a ready operation beats an expired
 * deadline (the select is biased); a loop of timeouts racing a producer
 * receives every value exactly once, in order; an abort cancels both; both
 * flavors.  Internal only to count the timers left in the wheels.
 */
#include "helpers.h"

#include "runtime-priv.h"

#include <libtask/time.h>

static uint64_t wheel_timers(task_runtime *rt)
{
        uint64_t n = 0;

        for (unsigned i = 0; i < rt->nworkers; i++) {
                struct task__wheel *wh = &rt->workers[i].wheel;
                task__spin_lock(&wh->lock);
                n += wh->count;
                task__spin_unlock(&wh->lock);
        }
        return n;
}

/* ---- A receive with a timeout -------------------------------------------- */

struct recv_to {
        TASK_FRAME;
        task_mpsc_rx *rx;
        uint64_t ns;
        struct task_select sel;
        struct task_sleep sleep;
        struct task_mpsc_recv recv;
        int v, rc;
        uint64_t woke;
        bool cleaned;
};

static int recv_to_fn(struct task_cx *cx, void *arg)
{
        struct recv_to *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        TASK_TIMEOUT(f, &f->sel, &f->sleep, f->ns,
                     task_mpsc_recv_poll(cx, f->rx, &f->recv, &f->v, &f->rc),
                     &f->rc);
        f->woke = task_now_ns();
        TASK_CLEANUP(f);
        f->cleaned = true;
        TASK_END(f);
}

static void chan(task_mpsc_tx **tx, task_mpsc_rx **rx)
{
        cr_assert_eq(task_mpsc_new(16, sizeof(int), tx, rx), 0);
}

static void timeout_fires(enum task_flavor fl)
{
        task_runtime *rt = test_rt_new_flavor(fl);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        int v = 0;

        chan(&tx, &rx);
        struct recv_to f = {.rx = rx, .ns = TASK_MS(3)};
        cr_assert_eq(task_block_on(rt, recv_to_fn, &f, sizeof f), 0);
        cr_assert_eq(f.rc, -ETIMEDOUT);
        cr_assert_eq(f.sel.which, 1);
        cr_assert_geq(f.woke, task_sleep_deadline(&f.sleep));
        /* The receive was cancelled: a later value stays in the channel. */
        cr_assert_not(wait_queued(&f.recv.w));
        cr_assert_eq(task_mpsc_try_send(tx, &(int){42}), 0);
        cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, 42);
        cr_assert_eq(wheel_timers(rt), 0);
        task_mpsc_tx_drop(tx);
        task_mpsc_rx_drop(rx);
        test_rt_free(rt);
}

Test(timeout, fires_on_an_empty_channel_multi_thread, .timeout = 30)
{
        timeout_fires(TASK_MULTI_THREAD);
}

Test(timeout, fires_on_an_empty_channel_current_thread, .timeout = 30)
{
        timeout_fires(TASK_CURRENT_THREAD);
}

/* A sender that sleeps first. */
struct late_send {
        TASK_FRAME;
        task_mpsc_tx *tx;
        uint64_t ns;
        struct task_sleep s;
        struct task_mpsc_send op;
        int v, rc;
};

static int late_send_fn(struct task_cx *cx, void *arg)
{
        struct late_send *f = arg;

        TASK_BEGIN(f);
        TASK_SLEEP(f, &f->s, f->ns);
        TASK_MPSC_SEND(f, f->tx, &f->op, &f->v, &f->rc);
        TCHECK(f->rc == 0);
        TASK_END(f);
}

static void value_in_time(enum task_flavor fl)
{
        task_runtime *rt = test_rt_new_flavor(fl);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;

        chan(&tx, &rx);
        struct late_send s = {.tx = tx, .ns = TASK_MS(1), .v = 7};
        cr_assert_eq(TASK_SPAWN(rt, late_send_fn, &s, NULL), 0);
        struct recv_to f = {.rx = rx, .ns = TASK_SEC(3600)};
        cr_assert_eq(task_block_on(rt, recv_to_fn, &f, sizeof f), 0);
        cr_assert_eq(f.rc, 0);
        cr_assert_eq(f.sel.which, 0);
        cr_assert_eq(f.v, 7);
        /* The hour-long timer was cancelled when the value won. */
        cr_assert_eq(atomic_load(&f.sleep.timer.state), TASK__TIMER_IDLE);
        cr_assert(WAIT_UNTIL(wheel_timers(rt) == 0, 5000));
        tcheck_assert_none();
        task_mpsc_tx_drop(tx);
        task_mpsc_rx_drop(rx);
        test_rt_free(rt);
}

Test(timeout, a_value_in_time_wins_multi_thread, .timeout = 30)
{
        value_in_time(TASK_MULTI_THREAD);
}

Test(timeout, a_value_in_time_wins_current_thread, .timeout = 30)
{
        value_in_time(TASK_CURRENT_THREAD);
}

Test(timeout, ready_operation_beats_an_expired_deadline, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;

        chan(&tx, &rx);
        cr_assert_eq(task_mpsc_try_send(tx, &(int){5}), 0);
        /* Timeout 0: both branches are ready at the first poll. */
        struct recv_to f = {.rx = rx, .ns = 0};
        cr_assert_eq(task_block_on(rt, recv_to_fn, &f, sizeof f), 0);
        cr_assert_eq(f.rc, 0);
        cr_assert_eq(f.v, 5);
        /* And with nothing to receive, 0 times out at once. */
        struct recv_to g = {.rx = rx, .ns = 0};
        cr_assert_eq(task_block_on(rt, recv_to_fn, &g, sizeof g), 0);
        cr_assert_eq(g.rc, -ETIMEDOUT);
        task_mpsc_tx_drop(tx);
        task_mpsc_rx_drop(rx);
        test_rt_free(rt);
}

/* ---- Over a Notify (no rc of its own) ----------------------------------------- */

struct notify_to {
        TASK_FRAME;
        struct task_notify *n;
        uint64_t ns;
        struct task_select sel;
        struct task_sleep sleep;
        struct task_notified op;
        int rc;
};

static int notify_to_fn(struct task_cx *cx, void *arg)
{
        struct notify_to *f = arg;

        TASK_BEGIN(f);
        f->rc = 0; /* the Notify writes none: 0 unless it times out */
        TASK_TIMEOUT(f, &f->sel, &f->sleep, f->ns,
                     task_notify_poll(cx, f->n, &f->op), &f->rc);
        TASK_END(f);
}

Test(timeout, over_a_notify, .timeout = 30)
{
        for (enum task_flavor fl = TASK_MULTI_THREAD; fl <= TASK_CURRENT_THREAD;
             fl++) {
                task_runtime *rt = test_rt_new_flavor(fl);
                struct task_notify n;

                cr_assert_eq(task_notify_init(&n), 0);
                struct notify_to a = {.n = &n, .ns = TASK_MS(2)};
                cr_assert_eq(task_block_on(rt, notify_to_fn, &a, sizeof a), 0);
                cr_assert_eq(a.rc, -ETIMEDOUT);
                task_notify_one(&n); /* a stored permit */
                struct notify_to b = {.n = &n, .ns = TASK_SEC(3600)};
                cr_assert_eq(task_block_on(rt, notify_to_fn, &b, sizeof b), 0);
                cr_assert_eq(b.rc, 0);
                cr_assert_eq(b.sel.which, 0);
                cr_assert_eq(wheel_timers(rt), 0);
                cr_assert_eq(task_notify_destroy(&n), 0);
                test_rt_free(rt);
        }
}

/* ---- A loop of timeouts racing a producer ---------------------------------- */

struct producer {
        TASK_FRAME;
        task_mpsc_tx *tx;
        struct task_sleep s;
        struct task_mpsc_send op;
        int i, n, rc;
        uint32_t rng;
};

static int producer_fn(struct task_cx *cx, void *arg)
{
        struct producer *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                f->rng = f->rng * 1103515245u + 12345u;
                if ((f->rng >> 16) % 3 == 0)
                        TASK_SLEEP(f, &f->s, (f->rng >> 8) % TASK_US(400));
                TASK_MPSC_SEND(f, f->tx, &f->op, &f->i, &f->rc);
                TCHECK(f->rc == 0);
        }
        task_mpsc_tx_drop(f->tx);
        TASK_END(f);
}

struct consumer {
        TASK_FRAME;
        task_mpsc_rx *rx;
        struct task_select sel;
        struct task_sleep sleep;
        struct task_mpsc_recv recv;
        int v, rc, next;
        long timeouts;
};

static int consumer_fn(struct task_cx *cx, void *arg)
{
        struct consumer *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_TIMEOUT(
                    f, &f->sel, &f->sleep, TASK_US(100),
                    task_mpsc_recv_poll(cx, f->rx, &f->recv, &f->v, &f->rc),
                    &f->rc);
                if (f->rc == -ETIMEDOUT) {
                        f->timeouts++;
                        continue;
                }
                if (f->rc == -EPIPE)
                        break;
                TCHECK(f->rc == 0);
                TCHECK(f->v == f->next); /* every value once, in order */
                f->next++;
        }
        TASK_END(f);
}

Test(timeout, loop_racing_a_producer_loses_nothing, .timeout = 60)
{
        for (enum task_flavor fl = TASK_MULTI_THREAD; fl <= TASK_CURRENT_THREAD;
             fl++) {
                task_runtime *rt = test_rt_new_flavor(fl);
                task_mpsc_tx *tx;
                task_mpsc_rx *rx;
                int n = (int)test_scaled(3000, 300);

                chan(&tx, &rx);
                struct producer p = {.tx = tx, .n = n, .rng = 7};
                cr_assert_eq(TASK_SPAWN(rt, producer_fn, &p, NULL), 0);
                struct consumer c = {.rx = rx};
                cr_assert_eq(task_block_on(rt, consumer_fn, &c, sizeof c), 0);
                cr_assert_eq(c.next, n);
                cr_assert_eq(wheel_timers(rt), 0);
                tcheck_assert_none();
                task_mpsc_rx_drop(rx);
                test_rt_free(rt);
        }
}

/* ---- Abort ---------------------------------------------------------------- */

Test(timeout, abort_cancels_both, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;

        chan(&tx, &rx);
        struct recv_to f = {.rx = rx, .ns = TASK_SEC(3600)};
        cr_assert_eq(TASK_SPAWN(rt, recv_to_fn, &f, &h), 0);
        cr_assert(WAIT_UNTIL(wheel_timers(rt) == 1, 5000));
        struct recv_to *r = task_handle_frame(h);
        cr_assert(WAIT_UNTIL(wait_queued(&r->recv.w), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert(r->cleaned);
        cr_assert_eq(r->rc, 1); /* neither branch completed */
        cr_assert_not(wait_queued(&r->recv.w));
        cr_assert_eq(atomic_load(&r->sleep.timer.state), TASK__TIMER_IDLE);
        cr_assert_eq(wheel_timers(rt), 0);
        task_handle_release(h);
        task_mpsc_tx_drop(tx);
        task_mpsc_rx_drop(rx);
        test_rt_free(rt);
}
