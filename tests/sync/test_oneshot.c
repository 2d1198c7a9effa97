/*
 * test_oneshot.c - the oneshot channel: a value sent once and received
 * (from tasks, from threads, on both runtime flavors), the sender dropped
 * without sending (-EPIPE), the receiver dropped or closed (the send fails
 * and the value stays the sender's; TASK_ONESHOT_CLOSED wakes), a spent
 * receiver, elem_drop of a value never received, cancellation (abort and
 * select) taking nothing, bad input, -ENOMEM, and a stress of ping-pongs
 * and of both ends dropped concurrently.
 *
 * Links the internal library for the -ENOMEM fault-injection hook.
 */
#include "helpers.h"

#include "runtime-priv.h"

/* ---- Tasks ---------------------------------------------------------------- */

struct receiver {
        TASK_FRAME;
        task_oneshot_rx *rx;
        struct task_oneshot_recv op;
        int value;
        int rc;
        atomic_int done;
};

static int receiver(struct task_cx *cx, void *arg)
{
        struct receiver *f = arg;
        TASK_BEGIN(f);
        f->rc = 1;
        TASK_ONESHOT_RECV(f, f->rx, &f->op, &f->value, &f->rc);
        atomic_store(&f->done, 1);
        TASK_END(f);
}

/* Receives, then drops the receiver. */
static int receiver_drop(struct task_cx *cx, void *arg)
{
        struct receiver *f = arg;
        TASK_BEGIN(f);
        f->rc = 1;
        TASK_ONESHOT_RECV(f, f->rx, &f->op, &f->value, &f->rc);
        task_oneshot_rx_drop(f->rx);
        atomic_store(&f->done, 1);
        TASK_END(f);
}

static struct receiver *rframe(task_handle *h)
{
        return task_handle_frame(h);
}

/* The receiver's op is queued (its waker registered). */
static bool rwaiting(task_handle *h)
{
        return task_wait_pending(&rframe(h)->op.w);
}

struct closer_wait {
        TASK_FRAME;
        task_oneshot_tx *tx;
        struct task_oneshot_closed op;
        int rc;
};

static int closer_wait(struct task_cx *cx, void *arg)
{
        struct closer_wait *f = arg;
        TASK_BEGIN(f);
        f->rc = 1;
        TASK_ONESHOT_CLOSED(f, f->tx, &f->op, &f->rc);
        TASK_END(f);
}

/* ---- Semantics ------------------------------------------------------------- */

Test(oneshot, send_before_recv, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;
        int v = 42;

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        cr_assert_not(task_oneshot_tx_closed(tx));
        cr_assert_eq(task_oneshot_send(tx, &v), 0);
        v = 0; /* copied at send */
        struct receiver r = {.rx = rx};
        cr_assert_eq(TASK_SPAWN(rt, receiver_drop, &r, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rframe(h)->rc, 0);
        cr_assert_eq(rframe(h)->value, 42);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(oneshot, recv_waits_for_send_from_thread, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;
        int v = 7;

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        struct receiver r = {.rx = rx};
        cr_assert_eq(TASK_SPAWN(rt, receiver, &r, &h), 0);
        cr_assert(WAIT_UNTIL(rwaiting(h), 5000));
        cr_assert_not(task_handle_finished(h));
        cr_assert_eq(task_oneshot_send(tx, &v), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rframe(h)->rc, 0);
        cr_assert_eq(rframe(h)->value, 7);
        cr_assert_not(task_wait_pending(&rframe(h)->op.w));
        /* Spent: every later receive says -EPIPE. */
        cr_assert_eq(task_oneshot_try_recv(rx, &v), -EPIPE);
        cr_assert_eq(task_oneshot_recv_blocking(rx, &v), -EPIPE);
        task_oneshot_rx_drop(rx);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(oneshot, second_recv_in_task_is_epipe, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;
        int v = 5;

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        cr_assert_eq(task_oneshot_send(tx, &v), 0);
        cr_assert_eq(task_oneshot_try_recv(rx, &v), 0);
        struct receiver r = {.rx = rx, .value = -1};
        cr_assert_eq(TASK_SPAWN(rt, receiver_drop, &r, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rframe(h)->rc, -EPIPE);
        cr_assert_eq(rframe(h)->value, -1, "nothing copied");
        task_handle_release(h);
        test_rt_free(rt);
}

Test(oneshot, tx_drop_wakes_receiver_with_epipe, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        struct receiver r = {.rx = rx, .value = -1};
        cr_assert_eq(TASK_SPAWN(rt, receiver_drop, &r, &h), 0);
        cr_assert(WAIT_UNTIL(rwaiting(h), 5000));
        task_oneshot_tx_drop(tx);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rframe(h)->rc, -EPIPE);
        cr_assert_eq(rframe(h)->value, -1);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(oneshot, try_recv_states, .timeout = 10)
{
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        long v = 0, w = 99;

        cr_assert_eq(task_oneshot_new(sizeof(long), &tx, &rx), 0);
        cr_assert_eq(task_oneshot_try_recv(rx, &v), -EAGAIN);
        cr_assert_eq(task_oneshot_send(tx, &w), 0);
        cr_assert_eq(task_oneshot_try_recv(rx, &v), 0);
        cr_assert_eq(v, 99);
        cr_assert_eq(task_oneshot_try_recv(rx, &v), -EPIPE);
        task_oneshot_rx_drop(rx);

        cr_assert_eq(task_oneshot_new(sizeof(long), &tx, &rx), 0);
        task_oneshot_tx_drop(tx);
        cr_assert_eq(task_oneshot_try_recv(rx, &v), -EPIPE);
        task_oneshot_rx_drop(rx);
        test_leak_check();
}

Test(oneshot, zero_sized_values, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;

        cr_assert_eq(task_oneshot_new(0, &tx, &rx), 0);
        struct receiver r = {.rx = rx};
        /* The receiver passes a non-NULL out; NULL is fine too. */
        cr_assert_eq(TASK_SPAWN(rt, receiver_drop, &r, &h), 0);
        cr_assert_eq(task_oneshot_send(tx, NULL), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rframe(h)->rc, 0);
        task_handle_release(h);

        cr_assert_eq(task_oneshot_new(0, &tx, &rx), 0);
        cr_assert_eq(task_oneshot_send(tx, NULL), 0);
        cr_assert_eq(task_oneshot_try_recv(rx, NULL), 0);
        task_oneshot_rx_drop(rx);
        test_rt_free(rt);
}

/* ---- The receiver going away ----------------------------------------------- */

/* An elem_drop for elements that own nothing; counted in test_drops. */
static void count_drop(void *elem)
{
        (void)elem;
        atomic_fetch_add(&test_drops, 1);
}

Test(oneshot, send_after_rx_drop_fails_and_keeps_value, .timeout = 10)
{
        struct task_oneshot_opts o = {.elem_size = sizeof(void *),
                                      .elem_drop = test_free_ptr};
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;

        atomic_store(&test_drops, 0);
        cr_assert_eq(task_oneshot_new_opts(&o, &tx, &rx), 0);
        task_oneshot_rx_drop(rx);
        cr_assert(task_oneshot_tx_closed(tx));
        void *p = malloc(16);
        cr_assert_eq(task_oneshot_send(tx, &p), -EPIPE);
        cr_assert_eq(atomic_load(&test_drops), 0,
                     "a refused value was dropped");
        free(p); /* still ours */
        test_leak_check();
}

Test(oneshot, rx_close_refuses_later_send_keeps_earlier_value, .timeout = 10)
{
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        int v = 3, out = 0;

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        task_oneshot_rx_close(rx);
        cr_assert(task_oneshot_tx_closed(tx));
        cr_assert_eq(task_oneshot_send(tx, &v), -EPIPE);
        cr_assert_eq(task_oneshot_try_recv(rx, &out), -EPIPE);
        task_oneshot_rx_drop(rx);

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        cr_assert_eq(task_oneshot_send(tx, &v), 0);
        task_oneshot_rx_close(rx);
        task_oneshot_rx_close(rx); /* idempotent */
        cr_assert_eq(task_oneshot_try_recv(rx, &out), 0);
        cr_assert_eq(out, 3);
        task_oneshot_rx_drop(rx);
        test_leak_check();
}

Test(oneshot, elem_drop_only_for_a_value_never_received, .timeout = 10)
{
        struct task_oneshot_opts o = {.elem_size = sizeof(int),
                                      .elem_drop = count_drop};
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        int v = 1;

        atomic_store(&test_drops, 0);
        /* Sent, never received: dropped with the receiver. */
        cr_assert_eq(task_oneshot_new_opts(&o, &tx, &rx), 0);
        cr_assert_eq(task_oneshot_send(tx, &v), 0);
        task_oneshot_rx_drop(rx);
        cr_assert_eq(atomic_load(&test_drops), 1);
        /* Received: not dropped. */
        cr_assert_eq(task_oneshot_new_opts(&o, &tx, &rx), 0);
        cr_assert_eq(task_oneshot_send(tx, &v), 0);
        cr_assert_eq(task_oneshot_try_recv(rx, &v), 0);
        task_oneshot_rx_drop(rx);
        cr_assert_eq(atomic_load(&test_drops), 1);
        /* Never sent: nothing to drop. */
        cr_assert_eq(task_oneshot_new_opts(&o, &tx, &rx), 0);
        task_oneshot_tx_drop(tx);
        task_oneshot_rx_drop(rx);
        cr_assert_eq(atomic_load(&test_drops), 1);
        /* Receiver dropped first, sender dropped later. */
        cr_assert_eq(task_oneshot_new_opts(&o, &tx, &rx), 0);
        task_oneshot_rx_drop(rx);
        task_oneshot_tx_drop(tx);
        cr_assert_eq(atomic_load(&test_drops), 1);
        test_leak_check();
}

Test(oneshot, closed_wait_wakes_on_rx_drop, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        struct closer_wait c = {.tx = tx};
        cr_assert_eq(TASK_SPAWN(rt, closer_wait, &c, &h), 0);
        struct closer_wait *cf = task_handle_frame(h);
        cr_assert(WAIT_UNTIL(task_wait_pending(&cf->op.w), 5000));
        sleep_ms(5);
        cr_assert_not(task_handle_finished(h));
        task_oneshot_rx_drop(rx);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(cf->rc, 0);
        cr_assert(task_oneshot_tx_closed(tx));
        task_oneshot_tx_drop(tx);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(oneshot, closed_wait_wakes_on_rx_close_and_is_ready_after, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        struct closer_wait c = {.tx = tx};
        cr_assert_eq(TASK_SPAWN(rt, closer_wait, &c, &h), 0);
        struct closer_wait *cf = task_handle_frame(h);
        cr_assert(WAIT_UNTIL(task_wait_pending(&cf->op.w), 5000));
        task_oneshot_rx_close(rx);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(cf->rc, 0);
        task_handle_release(h);
        /* Already closed: completes at once. */
        cr_assert_eq(TASK_SPAWN(rt, closer_wait, &c, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct closer_wait *)task_handle_frame(h))->rc, 0);
        task_handle_release(h);
        task_oneshot_tx_drop(tx);
        task_oneshot_rx_drop(rx);
        test_rt_free(rt);
}

/* ---- Cancellation ------------------------------------------------------------ */

Test(oneshot, abort_while_waiting_takes_nothing, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_oneshot_opts o = {.elem_size = sizeof(int),
                                      .elem_drop = count_drop};
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;
        int v = 11;

        atomic_store(&test_drops, 0);
        cr_assert_eq(task_oneshot_new_opts(&o, &tx, &rx), 0);
        struct receiver r = {.rx = rx, .value = -1};
        cr_assert_eq(TASK_SPAWN(rt, receiver, &r, &h), 0);
        cr_assert(WAIT_UNTIL(rwaiting(h), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(rframe(h)->value, -1);
        cr_assert_not(task_wait_pending(&rframe(h)->op.w),
                      "the cancelled receive left its node queued");
        task_handle_release(h);
        /* The value sent afterwards is still there for the next receive. */
        cr_assert_eq(task_oneshot_send(tx, &v), 0);
        v = 0;
        cr_assert_eq(task_oneshot_try_recv(rx, &v), 0);
        cr_assert_eq(v, 11);
        task_oneshot_rx_drop(rx);
        cr_assert_eq(atomic_load(&test_drops), 0);
        /* test_rt_free fails if the aborted task's waker was kept. */
        test_rt_free(rt);
}

Test(oneshot, abort_closed_wait_drops_registration, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        struct closer_wait c = {.tx = tx};
        cr_assert_eq(TASK_SPAWN(rt, closer_wait, &c, &h), 0);
        struct closer_wait *cf = task_handle_frame(h);
        cr_assert(WAIT_UNTIL(task_wait_pending(&cf->op.w), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_not(task_wait_pending(&cf->op.w));
        task_handle_release(h);
        /* The channel is freed while the runtime lives: no waker kept. */
        task_oneshot_tx_drop(tx);
        task_oneshot_rx_drop(rx);
        test_rt_free(rt);
}

/* Select between two oneshots: the second fires; the first, cancelled,
 * keeps its value for a later receive. */
struct selector {
        TASK_FRAME;
        task_oneshot_rx *a, *b;
        struct task_oneshot_recv ra, rb;
        struct task_select sel;
        int va, vb, rca, rcb;
};

static int selector(struct task_cx *cx, void *arg)
{
        struct selector *f = arg;
        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel,
                    task_oneshot_recv_poll(cx, f->a, &f->ra, &f->va, &f->rca),
                    task_oneshot_recv_poll(cx, f->b, &f->rb, &f->vb, &f->rcb));
        TASK_END(f);
}

Test(oneshot, select_loser_keeps_its_value, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *ta, *tb;
        task_oneshot_rx *ra, *rb;
        task_handle *h;
        int v;

        cr_assert_eq(task_oneshot_new(sizeof(int), &ta, &ra), 0);
        cr_assert_eq(task_oneshot_new(sizeof(int), &tb, &rb), 0);
        struct selector s = {.a = ra, .b = rb, .va = -1};
        cr_assert_eq(TASK_SPAWN(rt, selector, &s, &h), 0);
        struct selector *sf = task_handle_frame(h);
        cr_assert(WAIT_UNTIL(task_wait_pending(&sf->rb.w), 5000));
        v = 2;
        cr_assert_eq(task_oneshot_send(tb, &v), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(sf->sel.which, 1);
        cr_assert_eq(sf->rcb, 0);
        cr_assert_eq(sf->vb, 2);
        cr_assert_eq(sf->va, -1);
        cr_assert_not(task_wait_pending(&sf->ra.w));
        task_handle_release(h);
        v = 1;
        cr_assert_eq(task_oneshot_send(ta, &v), 0);
        v = 0;
        cr_assert_eq(task_oneshot_try_recv(ra, &v), 0);
        cr_assert_eq(v, 1);
        task_oneshot_rx_drop(ra);
        task_oneshot_rx_drop(rb);
        test_rt_free(rt);
}

/* ---- Threads --------------------------------------------------------------- */

struct thread_recv {
        task_oneshot_rx *rx;
        int value;
        int rc;
};

static void *thread_recv_main(void *p)
{
        struct thread_recv *t = p;
        t->rc = task_oneshot_recv_blocking(t->rx, &t->value);
        return NULL;
}

struct sender_task {
        TASK_FRAME;
        task_oneshot_tx *tx;
        int value;
        int rc;
        bool drop;
};

static int sender_task(struct task_cx *cx, void *arg)
{
        struct sender_task *f = arg;
        TASK_BEGIN(f);
        if (f->drop)
                task_oneshot_tx_drop(f->tx);
        else
                f->rc = task_oneshot_send(f->tx, &f->value);
        TASK_END(f);
}

Test(oneshot, recv_blocking_from_thread, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;
        pthread_t th;

        for (int drop = 0; drop < 2; drop++) {
                cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
                struct thread_recv t = {.rx = rx, .value = -1, .rc = 1};
                cr_assert_eq(pthread_create(&th, NULL, thread_recv_main, &t),
                             0);
                sleep_ms(5); /* usually asleep by now; either way is fine */
                struct sender_task s = {.tx = tx, .value = 77, .drop = drop};
                cr_assert_eq(TASK_SPAWN(rt, sender_task, &s, &h), 0);
                cr_assert_eq(task_join_blocking(h), 0);
                cr_assert_eq(pthread_join(th, NULL), 0);
                if (drop) {
                        cr_assert_eq(t.rc, -EPIPE);
                        cr_assert_eq(t.value, -1);
                } else {
                        cr_assert_eq(
                            ((struct sender_task *)task_handle_frame(h))->rc,
                            0);
                        cr_assert_eq(t.rc, 0);
                        cr_assert_eq(t.value, 77);
                }
                task_handle_release(h);
                task_oneshot_rx_drop(rx);
        }
        test_rt_free(rt);
}

struct blocking_on_worker {
        TASK_FRAME;
        task_oneshot_rx *rx;
        int rc;
};

static int blocking_on_worker(struct task_cx *cx, void *arg)
{
        struct blocking_on_worker *f = arg;
        int v;
        TASK_BEGIN(f);
        f->rc = task_oneshot_recv_blocking(f->rx, &v);
        TASK_END(f);
}

Test(oneshot, recv_blocking_on_worker_is_edeadlk, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        task_handle *h;

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        struct blocking_on_worker b = {.rx = rx};
        cr_assert_eq(TASK_SPAWN(rt, blocking_on_worker, &b, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(((struct blocking_on_worker *)task_handle_frame(h))->rc,
                     -EDEADLK);
        task_handle_release(h);
        task_oneshot_tx_drop(tx);
        task_oneshot_rx_drop(rx);
        test_rt_free(rt);
}

/* ---- Current-thread runtime --------------------------------------------------- */

/* Ping-pong inside one task_block_on: a peer task echoes value + 1. */
struct echo {
        TASK_FRAME;
        task_oneshot_rx *rx;
        task_oneshot_tx *tx;
        struct task_oneshot_recv op;
        int v, rc;
};

static int echo(struct task_cx *cx, void *arg)
{
        struct echo *f = arg;
        TASK_BEGIN(f);
        TASK_ONESHOT_RECV(f, f->rx, &f->op, &f->v, &f->rc);
        task_oneshot_rx_drop(f->rx);
        f->v++;
        if (f->rc == 0 && task_oneshot_send(f->tx, &f->v) == 0)
                f->rc = 0;
        else
                f->rc = -1;
        TASK_END(f);
}

struct pinger {
        TASK_FRAME;
        int i, n, v, rc, failures;
        task_oneshot_rx *back;
        struct task_oneshot_recv op;
};

static int pinger(struct task_cx *cx, void *arg)
{
        struct pinger *f = arg;
        task_oneshot_tx *tx, *tx_back;
        task_oneshot_rx *rx;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                if (task_oneshot_new(sizeof(int), &tx, &rx) ||
                    task_oneshot_new(sizeof(int), &tx_back, &f->back)) {
                        f->failures++;
                        TASK_RETURN(f);
                }
                struct echo e = {.rx = rx, .tx = tx_back};
                if (TASK_SPAWN(task_cx_runtime(cx), echo, &e, NULL)) {
                        f->failures++;
                        TASK_RETURN(f);
                }
                f->v = f->i;
                if (task_oneshot_send(tx, &f->v))
                        f->failures++;
                TASK_ONESHOT_RECV(f, f->back, &f->op, &f->v, &f->rc);
                task_oneshot_rx_drop(f->back);
                if (f->rc || f->v != f->i + 1)
                        f->failures++;
        }
        TASK_END(f);
}

Test(oneshot, ping_pong_on_current_thread_runtime, .timeout = 20)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 1);
        struct pinger p = {.n = 1000};

        cr_assert_eq(task_block_on(rt, pinger, &p, sizeof p), 0);
        cr_assert_eq(p.failures, 0);
        cr_assert_eq(p.i, 1000);
        test_rt_free(rt);
}

Test(oneshot, ping_pong_on_multi_thread_runtime, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct pinger p = {.n = 1000};

        cr_assert_eq(task_block_on(rt, pinger, &p, sizeof p), 0);
        cr_assert_eq(p.failures, 0);
        test_rt_free(rt);
}

/* ---- Bad input ---------------------------------------------------------------- */

struct bad_polls {
        TASK_FRAME;
        task_oneshot_rx *rx;
        task_oneshot_tx *tx;
        struct task_oneshot_recv op;
        struct task_oneshot_closed cop;
        int rc[6];
        bool ready[6];
};

static int bad_polls(struct task_cx *cx, void *arg)
{
        struct bad_polls *f = arg;
        TASK_BEGIN(f);
        f->ready[0] =
            task_oneshot_recv_poll(cx, NULL, &f->op, &f->rc, &f->rc[0]);
        f->ready[1] =
            task_oneshot_recv_poll(cx, f->rx, NULL, &f->rc, &f->rc[1]);
        f->ready[2] =
            task_oneshot_recv_poll(cx, f->rx, &f->op, NULL, &f->rc[2]);
        f->ready[3] = task_oneshot_closed_poll(cx, NULL, &f->cop, &f->rc[3]);
        f->ready[4] = task_oneshot_closed_poll(cx, f->tx, NULL, &f->rc[4]);
        f->ready[5] = task_oneshot_recv_poll(cx, NULL, &f->op, NULL, NULL);
        TASK_END(f);
}

Test(oneshot, bad_input, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_oneshot_opts big = {.elem_size = TASK_ONESHOT_MAX_ELEM + 1};
        task_oneshot_tx *tx = (task_oneshot_tx *)0x1;
        task_oneshot_rx *rx = (task_oneshot_rx *)0x1;
        struct task_oneshot_recv op = {0};
        struct task_oneshot_closed cop = {0};
        task_handle *h;
        int v = 0, rc = 0;

        cr_assert_eq(task_oneshot_new(4, NULL, &rx), -EINVAL);
        cr_assert_eq(task_oneshot_new(4, &tx, NULL), -EINVAL);
        cr_assert_eq(task_oneshot_new(TASK_ONESHOT_MAX_ELEM + 1, &tx, &rx),
                     -EINVAL);
        cr_assert_eq(task_oneshot_new_opts(NULL, &tx, &rx), -EINVAL);
        cr_assert_eq(task_oneshot_new_opts(&big, &tx, &rx), -EINVAL);
        cr_assert_eq(tx, (task_oneshot_tx *)0x1, "failed new wrote *tx");
        cr_assert_eq(rx, (task_oneshot_rx *)0x1, "failed new wrote *rx");

        cr_assert_eq(task_oneshot_send(NULL, &v), -EINVAL);
        task_oneshot_tx_drop(NULL);
        cr_assert_not(task_oneshot_tx_closed(NULL));
        cr_assert_eq(task_oneshot_try_recv(NULL, &v), -EINVAL);
        cr_assert_eq(task_oneshot_recv_blocking(NULL, &v), -EINVAL);
        task_oneshot_rx_close(NULL);
        task_oneshot_rx_drop(NULL);
        cr_assert(task_oneshot_recv_poll(NULL, NULL, &op, &v, &rc));
        cr_assert_eq(rc, -EINVAL);
        rc = 0;
        cr_assert(task_oneshot_closed_poll(NULL, NULL, &cop, &rc));
        cr_assert_eq(rc, -EINVAL);

        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        /* NULL value/out with a non-zero elem_size: nothing happens. */
        cr_assert_eq(task_oneshot_send(tx, NULL), -EINVAL);
        cr_assert_eq(task_oneshot_try_recv(rx, NULL), -EINVAL);
        cr_assert_eq(task_oneshot_recv_blocking(rx, NULL), -EINVAL);
        cr_assert_not(task_oneshot_tx_closed(tx));
        struct bad_polls b = {.rx = rx, .tx = tx};
        cr_assert_eq(TASK_SPAWN(rt, bad_polls, &b, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        struct bad_polls *bf = task_handle_frame(h);
        for (int i = 0; i < 5; i++) {
                cr_assert(bf->ready[i], "poll %d not ready", i);
                cr_assert_eq(bf->rc[i], -EINVAL, "poll %d: %d", i, bf->rc[i]);
        }
        cr_assert(bf->ready[5]);
        task_handle_release(h);
        /* The sender is still usable after the refused send. */
        v = 8;
        cr_assert_eq(task_oneshot_send(tx, &v), 0);
        cr_assert_eq(task_oneshot_try_recv(rx, &v), 0);
        cr_assert_eq(v, 8);
        task_oneshot_rx_drop(rx);
        test_rt_free(rt);
}

Test(oneshot, enomem_creates_nothing, .timeout = 10)
{
        task_oneshot_tx *tx = (task_oneshot_tx *)0x1;
        task_oneshot_rx *rx = (task_oneshot_rx *)0x1;

        atomic_store(&task__fault_alloc_countdown, 1);
        int rc = task_oneshot_new(sizeof(int), &tx, &rx);
        atomic_store(&task__fault_alloc_countdown, 0);
        cr_assert_eq(rc, -ENOMEM);
        cr_assert_eq(tx, (task_oneshot_tx *)0x1);
        cr_assert_eq(rx, (task_oneshot_rx *)0x1);
        cr_assert_eq(task_oneshot_new(sizeof(int), &tx, &rx), 0);
        task_oneshot_tx_drop(tx);
        task_oneshot_rx_drop(rx);
        test_leak_check();
}

/* ---- Stress ----------------------------------------------------------------- */

/*
 * Many pingers at once on 4 workers: each round trip is two oneshots and a
 * spawn, with the receiving side usually registered before the send lands
 * (or not), across stealing workers.  A lost wake-up hangs the test.
 */
Test(oneshot, stress_ping_pong_many_tasks, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(4);
        enum { NPINGERS = 64 };
        task_handle *h[NPINGERS];
        long n = test_scaled(16000, 200);

        for (int i = 0; i < NPINGERS; i++) {
                struct pinger p = {.n = (int)n};
                cr_assert_eq(TASK_SPAWN(rt, pinger, &p, &h[i]), 0);
        }
        for (int i = 0; i < NPINGERS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                struct pinger *pf = task_handle_frame(h[i]);
                cr_assert_eq(pf->failures, 0);
                cr_assert_eq(pf->i, (int)n);
                task_handle_release(h[i]);
        }
        test_rt_free(rt);
}

/*
 * Both ends dropped (or sent/received) concurrently from two threads.  The
 * value, a malloc()ed pointer, is freed exactly once: by the sender when it
 * never sent it or the send was refused, by the receiver when it received
 * it, or by elem_drop (test_free_ptr) when the channel went with it inside.
 */
struct race {
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        pthread_barrier_t *bar;
        int mode; /* bit 0: the sender drops out; bit 1: the receiver waits */
        int rc;   /* the send's */
        int rx_rc;
        int unsent, refused, received; /* who freed the value: 0 or 1 each */
};

static void *race_tx(void *p)
{
        struct race *r = p;
        void *v = malloc(8);
        pthread_barrier_wait(r->bar);
        if (r->mode & 1) {
                task_oneshot_tx_drop(r->tx);
                free(v);
                r->unsent = 1;
        } else {
                r->rc = task_oneshot_send(r->tx, &v);
                if (r->rc) {
                        free(v); /* refused: still ours */
                        r->refused = 1;
                }
        }
        return NULL;
}

static void *race_rx(void *p)
{
        struct race *r = p;
        void *v;
        pthread_barrier_wait(r->bar);
        if (r->mode & 2) {
                r->rx_rc = task_oneshot_recv_blocking(r->rx, &v);
                if (r->rx_rc == 0) {
                        free(v);
                        r->received = 1;
                }
        }
        task_oneshot_rx_drop(r->rx);
        return NULL;
}

Test(oneshot, stress_concurrent_end_drops, .timeout = 120)
{
        struct task_oneshot_opts o = {.elem_size = sizeof(void *),
                                      .elem_drop = test_free_ptr};
        long n = test_scaled(20000, 500);
        long unsent = 0, refused = 0, received = 0;
        pthread_barrier_t bar;

        atomic_store(&test_drops, 0);
        cr_assert_eq(pthread_barrier_init(&bar, NULL, 2), 0);
        for (long i = 0; i < n; i++) {
                struct race r = {.bar = &bar, .mode = (int)(i & 3)};
                pthread_t a, b;
                int drops = atomic_load(&test_drops);
                cr_assert_eq(task_oneshot_new_opts(&o, &r.tx, &r.rx), 0);
                cr_assert_eq(pthread_create(&a, NULL, race_tx, &r), 0);
                cr_assert_eq(pthread_create(&b, NULL, race_rx, &r), 0);
                cr_assert_eq(pthread_join(a, NULL), 0);
                cr_assert_eq(pthread_join(b, NULL), 0);
                /* Both ends are gone: so is the channel, elem_drop done. */
                drops = atomic_load(&test_drops) - drops;
                cr_assert_eq(r.unsent + r.refused + r.received + drops, 1,
                             "round %ld (mode %d): value freed %d times", i,
                             r.mode, r.unsent + r.refused + r.received + drops);
                if (r.mode == 2) {
                        cr_assert_eq(r.rc, 0, "receiver waited, send failed");
                        cr_assert_eq(r.rx_rc, 0, "sent, not received");
                } else if (r.mode == 3) {
                        cr_assert_eq(r.rx_rc, -EPIPE);
                }
                unsent += r.unsent;
                refused += r.refused;
                received += r.received;
        }
        pthread_barrier_destroy(&bar);
        cr_assert_eq(unsent + refused + received + atomic_load(&test_drops), n,
                     "%ld unsent + %ld refused + %ld received + %d dropped "
                     "!= %ld values",
                     unsent, refused, received, atomic_load(&test_drops), n);
        cr_log_info("%ld values: %ld unsent, %ld refused, %ld received, "
                    "%d dropped",
                    n, unsent, refused, received, atomic_load(&test_drops));
        /* And nothing else leaked. */
        test_leak_check();
}
