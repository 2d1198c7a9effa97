/*
 * test_mpsc.c - multi-producer single-consumer channels, bounded and
 * unbounded: FIFO order, backpressure and the FIFO order of waiting
 * senders, try_send/try_recv, recv_many, closing by the last sender and by
 * the receiver, the receiver dropped (values to elem_drop, senders told),
 * cancellation of sends (the value stays the caller's, even after a slot
 * was granted) and of receives (nothing lost), blocking calls from
 * threads, both runtime flavors, bad input, -ENOMEM, and stresses with
 * stealing and with ends dropped at random moments (among them the
 * receiver's drop failing more than one wake batch of queued senders while
 * they drop their ends).
 *
 * Links the internal library for the -ENOMEM fault-injection hook.
 */
#include "helpers.h"

#include "runtime-priv.h"

/* ---- Tasks ---------------------------------------------------------------- */

/* Sends `n` values base, base+1, ... then drops its sender (if asked). */
struct sender {
        TASK_FRAME;
        task_mpsc_tx *tx;
        uint64_t base, n, i, v;
        struct task_mpsc_send op;
        int rc;
        bool drop;
        atomic_int sent;
};

static int sender(struct task_cx *cx, void *arg)
{
        struct sender *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                f->v = f->base + f->i;
                f->rc = 1;
                TASK_MPSC_SEND(f, f->tx, &f->op, &f->v, &f->rc);
                if (f->rc)
                        break;
                atomic_fetch_add(&f->sent, 1);
        }
        if (f->drop)
                task_mpsc_tx_drop(f->tx);
        TASK_END(f);
}

static struct sender *sframe(task_handle *h)
{
        return task_handle_frame(h);
}

static bool swaiting(task_handle *h)
{
        return task_wait_pending(&sframe(h)->op.w);
}

/* Receives until -EPIPE (or `max` values), recording them; drops rx. */
struct receiver {
        TASK_FRAME;
        task_mpsc_rx *rx;
        struct task_mpsc_recv op;
        uint64_t v, n, sum, max;
        uint64_t *log; /* optional: every value, in order */
        int rc;
        bool keep; /* do not drop rx at the end */
};

static int receiver(struct task_cx *cx, void *arg)
{
        struct receiver *f = arg;
        TASK_BEGIN(f);
        while (!f->max || f->n < f->max) {
                f->rc = 1;
                TASK_MPSC_RECV(f, f->rx, &f->op, &f->v, &f->rc);
                if (f->rc)
                        break;
                if (f->log)
                        f->log[f->n] = f->v;
                f->n++;
                f->sum += f->v;
        }
        if (!f->keep)
                task_mpsc_rx_drop(f->rx);
        TASK_END(f);
}

static struct receiver *rframe(task_handle *h)
{
        return task_handle_frame(h);
}

static bool rwaiting(task_handle *h)
{
        return task_wait_pending(&rframe(h)->op.w);
}

/* ---- Basics ------------------------------------------------------------------ */

Test(mpsc, bounded_fifo_try_send_try_recv, .timeout = 10)
{
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        uint32_t v;

        cr_assert_eq(task_mpsc_new(5, sizeof v, &tx, &rx), 0);
        for (uint32_t i = 0; i < 5; i++)
                cr_assert_eq(task_mpsc_try_send(tx, &i), 0);
        v = 99;
        cr_assert_eq(task_mpsc_try_send(tx, &v), -EAGAIN, "full");
        for (uint32_t i = 0; i < 5; i++) {
                cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
                cr_assert_eq(v, i);
        }
        cr_assert_eq(task_mpsc_try_recv(rx, &v), -EAGAIN);
        /* Room again, many times around the ring (size 8 for 5). */
        for (uint32_t i = 0; i < 100; i++) {
                cr_assert_eq(task_mpsc_try_send(tx, &i), 0);
                if (i % 3 == 2) {
                        for (uint32_t j = i - 2; j <= i; j++) {
                                cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
                                cr_assert_eq(v, j);
                        }
                }
        }
        cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, 99);
        task_mpsc_tx_drop(tx);
        cr_assert_eq(task_mpsc_try_recv(rx, &v), -EPIPE);
        task_mpsc_rx_drop(rx);
        test_leak_check();
}

Test(mpsc, unbounded_fifo_across_blocks, .timeout = 10)
{
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        uint64_t v;

        cr_assert_eq(task_mpsc_unbounded_new(sizeof v, &tx, &rx), 0);
        uint64_t next_in = 0, next_out = 0;
        for (int round = 0; round < 20; round++) {
                /* Grow past several blocks, then drain part of it. */
                for (int i = 0; i < 150; i++, next_in++)
                        cr_assert_eq(task_mpsc_try_send(tx, &next_in), 0);
                for (int i = 0; i < 100 + round * 3; i++) {
                        int rc = task_mpsc_try_recv(rx, &v);
                        if (next_out == next_in) {
                                cr_assert_eq(rc, -EAGAIN);
                                break;
                        }
                        cr_assert_eq(rc, 0);
                        cr_assert_eq(v, next_out);
                        next_out++;
                }
        }
        task_mpsc_tx_drop(tx);
        while (next_out < next_in) {
                cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
                cr_assert_eq(v, next_out++);
        }
        cr_assert_eq(task_mpsc_try_recv(rx, &v), -EPIPE);
        task_mpsc_rx_drop(rx);
        test_leak_check();
}

Test(mpsc, zero_sized_values, .timeout = 10)
{
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;

        for (int kind = 0; kind < 2; kind++) {
                cr_assert_eq(kind ? task_mpsc_unbounded_new(0, &tx, &rx)
                                  : task_mpsc_new(3, 0, &tx, &rx),
                             0);
                for (int i = 0; i < 3; i++)
                        cr_assert_eq(task_mpsc_try_send(tx, NULL), 0);
                if (!kind)
                        cr_assert_eq(task_mpsc_try_send(tx, NULL), -EAGAIN);
                for (int i = 0; i < 3; i++)
                        cr_assert_eq(task_mpsc_try_recv(rx, NULL), 0);
                cr_assert_eq(task_mpsc_try_recv(rx, NULL), -EAGAIN);
                task_mpsc_tx_drop(tx);
                cr_assert_eq(task_mpsc_try_recv(rx, NULL), -EPIPE);
                task_mpsc_rx_drop(rx);
        }
        test_leak_check();
}

Test(mpsc, task_to_task_with_backpressure, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *hs, *hr;
        enum { N = 10000 };

        for (int kind = 0; kind < 2; kind++) {
                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(4, 8, &tx, &rx),
                             0);
                uint64_t *log = calloc(N, sizeof *log);
                struct sender s = {.tx = tx, .n = N, .drop = true};
                struct receiver r = {.rx = rx, .log = log};
                cr_assert_eq(TASK_SPAWN(rt, receiver, &r, &hr), 0);
                cr_assert_eq(TASK_SPAWN(rt, sender, &s, &hs), 0);
                cr_assert_eq(task_join_blocking(hs), 0);
                cr_assert_eq(task_join_blocking(hr), 0);
                cr_assert_eq(sframe(hs)->rc, 0);
                cr_assert_eq(rframe(hr)->rc, -EPIPE);
                cr_assert_eq(rframe(hr)->n, N);
                for (uint64_t i = 0; i < N; i++)
                        cr_assert_eq(log[i], i, "out of order at %llu",
                                     (unsigned long long)i);
                free(log);
                task_handle_release(hs);
                task_handle_release(hr);
        }
        test_rt_free(rt);
}

Test(mpsc, send_waits_while_full, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;
        uint64_t v = 0;

        cr_assert_eq(task_mpsc_new(2, sizeof v, &tx, &rx), 0);
        struct sender s = {.tx = tx, .base = 10, .n = 3};
        cr_assert_eq(TASK_SPAWN(rt, sender, &s, &h), 0);
        cr_assert(WAIT_UNTIL(swaiting(h), 5000), "third send did not wait");
        cr_assert_eq(atomic_load(&sframe(h)->sent), 2);
        sleep_ms(5);
        cr_assert_not(task_handle_finished(h));
        cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, 10);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(sframe(h)->rc, 0);
        for (uint64_t i = 11; i <= 12; i++) {
                cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
                cr_assert_eq(v, i);
        }
        task_handle_release(h);
        task_mpsc_tx_drop(tx);
        task_mpsc_rx_drop(rx);
        test_rt_free(rt);
}

/* Senders that queued for room get it in the order they queued. */
Test(mpsc, waiting_senders_served_in_fifo_order, .timeout = 20)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        enum { NS = 6 };
        task_handle *h[NS];
        uint64_t v = 1000;

        cr_assert_eq(task_mpsc_new(1, sizeof v, &tx, &rx), 0);
        cr_assert_eq(task_mpsc_try_send(tx, &v), 0);
        for (int i = 0; i < NS; i++) {
                struct sender s = {.tx = tx, .base = (uint64_t)i, .n = 1};
                cr_assert_eq(TASK_SPAWN(rt, sender, &s, &h[i]), 0);
                cr_assert(WAIT_UNTIL(swaiting(h[i]), 5000));
        }
        /* A newcomer does not overtake them, even with room. */
        cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, 1000);
        v = 77;
        cr_assert_eq(task_mpsc_try_send(tx, &v), -EAGAIN);
        for (int i = 0; i < NS; i++) {
                uint64_t got;
                cr_assert_eq(task_mpsc_recv_blocking(rx, &got), 0);
                cr_assert_eq(got, (uint64_t)i, "sender %llu went before %d",
                             (unsigned long long)got, i);
        }
        for (int i = 0; i < NS; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq(sframe(h[i])->rc, 0);
                task_handle_release(h[i]);
        }
        task_mpsc_tx_drop(tx);
        task_mpsc_rx_drop(rx);
        test_rt_free(rt);
}

/* ---- recv_many ------------------------------------------------------------------ */

struct many {
        TASK_FRAME;
        task_mpsc_rx *rx;
        struct task_mpsc_recv op;
        uint64_t buf[4];
        size_t n[8];
        uint64_t got[64];
        size_t total;
        int rc[8];
        int k;
};

static int many(struct task_cx *cx, void *arg)
{
        struct many *f = arg;
        TASK_BEGIN(f);
        /* max 0: at once, nothing taken. */
        f->n[0] = 9;
        TASK_MPSC_RECV_MANY(f, f->rx, &f->op, f->buf, 0, &f->n[0], &f->rc[0]);
        for (f->k = 1; f->k < 8; f->k++) {
                TASK_MPSC_RECV_MANY(f, f->rx, &f->op, f->buf, 4, &f->n[f->k],
                                    &f->rc[f->k]);
                for (size_t i = 0; i < f->n[f->k]; i++)
                        f->got[f->total++] = f->buf[i];
                if (f->rc[f->k])
                        break;
        }
        TASK_END(f);
}

Test(mpsc, recv_many_takes_up_to_max_and_waits_for_one, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;

        for (int kind = 0; kind < 2; kind++) {
                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(16, 8, &tx, &rx),
                             0);
                for (uint64_t i = 0; i < 10; i++)
                        cr_assert_eq(task_mpsc_try_send(tx, &i), 0);
                struct many m = {.rx = rx};
                cr_assert_eq(TASK_SPAWN(rt, many, &m, &h), 0);
                struct many *mf = task_handle_frame(h);
                /* 4 + 4 + 2 taken; the fourth call waits for one. */
                cr_assert(WAIT_UNTIL(task_wait_pending(&mf->op.w), 5000));
                uint64_t v = 10;
                cr_assert_eq(task_mpsc_try_send(tx, &v), 0);
                task_mpsc_tx_drop(tx);
                cr_assert_eq(task_join_blocking(h), 0);
                cr_assert_eq(mf->rc[0], 0);
                cr_assert_eq(mf->n[0], 0);
                cr_assert_eq(mf->n[1], 4);
                cr_assert_eq(mf->n[2], 4);
                cr_assert_eq(mf->n[3], 2);
                cr_assert_eq(mf->n[4], 1);
                cr_assert_eq(mf->rc[5], -EPIPE);
                cr_assert_eq(mf->n[5], 0);
                cr_assert_eq(mf->total, 11);
                for (uint64_t i = 0; i < 11; i++)
                        cr_assert_eq(mf->got[i], i);
                task_handle_release(h);
                task_mpsc_rx_drop(rx);
        }
        test_rt_free(rt);
}

/* ---- Closing ----------------------------------------------------------------- */

Test(mpsc, last_sender_drop_closes_after_drain, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx, *tx2;
        task_mpsc_rx *rx;
        task_handle *h;

        for (int kind = 0; kind < 2; kind++) {
                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(8, 8, &tx, &rx),
                             0);
                tx2 = task_mpsc_tx_clone(tx);
                cr_assert_not_null(tx2);
                uint64_t v = 5;
                cr_assert_eq(task_mpsc_try_send(tx2, &v), 0);
                struct receiver r = {.rx = rx};
                cr_assert_eq(TASK_SPAWN(rt, receiver, &r, &h), 0);
                cr_assert(WAIT_UNTIL(rwaiting(h), 5000));
                task_mpsc_tx_drop(tx);
                sleep_ms(5);
                cr_assert_not(task_handle_finished(h), "closed with a sender");
                cr_assert_not(task_mpsc_tx_closed(tx2));
                v = 6;
                cr_assert_eq(task_mpsc_try_send(tx2, &v), 0);
                task_mpsc_tx_drop(tx2); /* the last: the receiver is woken */
                cr_assert_eq(task_join_blocking(h), 0);
                cr_assert_eq(rframe(h)->rc, -EPIPE);
                cr_assert_eq(rframe(h)->n, 2);
                cr_assert_eq(rframe(h)->sum, 11);
                task_handle_release(h);
        }
        test_rt_free(rt);
}

Test(mpsc, rx_close_fails_senders_and_drains, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;
        uint64_t v;

        cr_assert_eq(task_mpsc_new(2, sizeof v, &tx, &rx), 0);
        /* Two in, a third sender waits for room. */
        struct sender s = {.tx = tx, .base = 1, .n = 3};
        cr_assert_eq(TASK_SPAWN(rt, sender, &s, &h), 0);
        cr_assert(WAIT_UNTIL(swaiting(h), 5000));
        task_mpsc_rx_close(rx);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(sframe(h)->rc, -EPIPE, "the waiting sender");
        cr_assert_eq(sframe(h)->v, 3, "its value is untouched (still its)");
        cr_assert_eq(atomic_load(&sframe(h)->sent), 2);
        task_handle_release(h);
        cr_assert(task_mpsc_tx_closed(tx));
        v = 9;
        cr_assert_eq(task_mpsc_try_send(tx, &v), -EPIPE);
        cr_assert_eq(task_mpsc_send_blocking(tx, &v), -EPIPE);
        /* The two sent before are still received, then -EPIPE. */
        cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, 1);
        cr_assert_eq(task_mpsc_recv_blocking(rx, &v), 0);
        cr_assert_eq(v, 2);
        cr_assert_eq(task_mpsc_try_recv(rx, &v), -EPIPE);
        cr_assert_eq(task_mpsc_recv_blocking(rx, &v), -EPIPE);
        task_mpsc_rx_close(rx); /* idempotent */
        task_mpsc_tx_drop(tx);
        task_mpsc_rx_drop(rx);
        test_rt_free(rt);
}

Test(mpsc, rx_drop_drops_values_and_fails_senders, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;

        for (int kind = 0; kind < 2; kind++) {
                struct task_mpsc_opts o = {.capacity = kind ? 0 : 8,
                                           .elem_size = sizeof(void *),
                                           .elem_drop = test_free_ptr};
                atomic_store(&test_drops, 0);
                cr_assert_eq(task_mpsc_new_opts(&o, &tx, &rx), 0);
                for (int i = 0; i < 5; i++) {
                        void *p = malloc(32);
                        cr_assert_eq(task_mpsc_try_send(tx, &p), 0);
                }
                void *p = NULL;
                cr_assert_eq(task_mpsc_try_recv(rx, &p), 0);
                free(p);
                task_mpsc_rx_drop(rx);
                cr_assert_eq(atomic_load(&test_drops), 4);
                cr_assert(task_mpsc_tx_closed(tx));
                p = malloc(32);
                cr_assert_eq(task_mpsc_try_send(tx, &p), -EPIPE);
                free(p); /* refused: still ours */
                task_mpsc_tx_drop(tx);
                cr_assert_eq(atomic_load(&test_drops), 4);
        }
        test_rt_free(rt);
}

Test(mpsc, rx_drop_wakes_waiting_sender, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;

        cr_assert_eq(task_mpsc_new(1, 8, &tx, &rx), 0);
        struct sender s = {.tx = tx, .n = 5, .drop = true};
        cr_assert_eq(TASK_SPAWN(rt, sender, &s, &h), 0);
        cr_assert(WAIT_UNTIL(swaiting(h), 5000));
        task_mpsc_rx_drop(rx);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(sframe(h)->rc, -EPIPE);
        cr_assert_eq(atomic_load(&sframe(h)->sent), 1);
        task_handle_release(h);
        test_rt_free(rt);
}

Test(mpsc, last_sender_drop_wakes_waiting_receiver, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;

        for (int kind = 0; kind < 2; kind++) {
                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(1, 8, &tx, &rx),
                             0);
                struct receiver r = {.rx = rx};
                cr_assert_eq(TASK_SPAWN(rt, receiver, &r, &h), 0);
                cr_assert(WAIT_UNTIL(rwaiting(h), 5000));
                task_mpsc_tx_drop(tx);
                cr_assert_eq(task_join_blocking(h), 0);
                cr_assert_eq(rframe(h)->rc, -EPIPE);
                cr_assert_eq(rframe(h)->n, 0);
                task_handle_release(h);
        }
        test_rt_free(rt);
}

/* ---- Cancellation ------------------------------------------------------------ */

Test(mpsc, abort_waiting_sender_value_not_sent, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;
        uint64_t v;

        cr_assert_eq(task_mpsc_new(1, sizeof v, &tx, &rx), 0);
        struct sender s = {.tx = tx, .base = 100, .n = 2};
        cr_assert_eq(TASK_SPAWN(rt, sender, &s, &h), 0);
        cr_assert(WAIT_UNTIL(swaiting(h), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        cr_assert_eq(atomic_load(&sframe(h)->sent), 1);
        cr_assert_eq(sframe(h)->v, 101, "the unsent value is still the task's");
        cr_assert_not(task_wait_pending(&sframe(h)->op.w));
        task_handle_release(h);
        /* Only the first value is in the channel; capacity is intact. */
        cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, 100);
        cr_assert_eq(task_mpsc_try_recv(rx, &v), -EAGAIN);
        v = 5;
        cr_assert_eq(task_mpsc_try_send(tx, &v), 0);
        cr_assert_eq(task_mpsc_try_send(tx, &v), -EAGAIN);
        cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
        task_mpsc_tx_drop(tx);
        cr_assert_eq(task_mpsc_try_recv(rx, &v), -EPIPE);
        task_mpsc_rx_drop(rx);
        test_rt_free(rt);
}

/*
 * A sender granted a slot but aborted before it could fill it: on a
 * current-thread runtime the grant (the root's receive) and the abort
 * happen before the sender runs again.  Its value is not sent, the slot it
 * held is skipped, and the capacity is intact.
 */
struct granted_abort {
        TASK_FRAME;
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;
        uint64_t v;
        int step, rc_recv1, rc_recv2, rc_send, rc_send2, rc_join;
        uint64_t got1, got2;
        bool was_pending;
};

static int granted_abort(struct task_cx *cx, void *arg)
{
        struct granted_abort *f = arg;
        TASK_BEGIN(f);
        f->v = 1;
        task_mpsc_try_send(f->tx, &f->v); /* full now */
        {
                struct sender s = {.tx = f->tx, .base = 50, .n = 1};
                int rc = TASK_SPAWN(task_cx_runtime(cx), sender, &s, &f->h);
                TCHECK(rc == 0);
                if (rc)
                        TASK_RETURN(f);
        }
        TASK_YIELD(f); /* the sender runs and queues */
        f->was_pending = swaiting(f->h);
        f->rc_recv1 = task_mpsc_try_recv(f->rx, &f->got1); /* grants it */
        task_abort(f->h); /* before it runs again */
        TASK_JOIN(f, f->h, &f->rc_join);
        f->rc_recv2 = task_mpsc_try_recv(f->rx, &f->got2);
        f->v = 2;
        f->rc_send = task_mpsc_try_send(f->tx, &f->v);
        f->rc_send2 = task_mpsc_try_send(f->tx, &f->v);
        task_handle_release(f->h);
        TASK_END(f);
}

Test(mpsc, abort_after_grant_value_not_sent_slot_skipped, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 1);
        struct granted_abort g = {0};
        uint64_t v;

        cr_assert_eq(task_mpsc_new(1, sizeof v, &g.tx, &g.rx), 0);
        cr_assert_eq(task_block_on(rt, granted_abort, &g, sizeof g), 0);
        tcheck_assert_none();
        cr_assert(g.was_pending);
        cr_assert_eq(g.rc_recv1, 0);
        cr_assert_eq(g.got1, 1);
        cr_assert_eq(g.rc_join, -ECANCELED);
        cr_assert_eq(g.rc_recv2, -EAGAIN, "the aborted sender's value arrived");
        cr_assert_eq(g.rc_send, 0);
        cr_assert_eq(g.rc_send2, -EAGAIN, "capacity changed");
        cr_assert_eq(task_mpsc_try_recv(g.rx, &v), 0);
        cr_assert_eq(v, 2);
        task_mpsc_tx_drop(g.tx);
        cr_assert_eq(task_mpsc_try_recv(g.rx, &v), -EPIPE);
        task_mpsc_rx_drop(g.rx);
        test_rt_free(rt);
}

/*
 * A receiver that reaches a slot granted to a sender that has not run yet
 * waits for it (and is woken by its publish); current-thread runtime, so
 * the order is fixed: the root grants, then awaits, then the sender runs.
 */
struct granted_wait {
        TASK_FRAME;
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;
        struct task_mpsc_recv op;
        uint64_t v, got1, got2;
        int rc_recv1, rc_recv2, rc_join;
};

static int granted_wait(struct task_cx *cx, void *arg)
{
        struct granted_wait *f = arg;
        TASK_BEGIN(f);
        f->v = 1;
        task_mpsc_try_send(f->tx, &f->v);
        {
                struct sender s = {.tx = f->tx, .base = 60, .n = 1};
                int rc = TASK_SPAWN(task_cx_runtime(cx), sender, &s, &f->h);
                TCHECK(rc == 0);
                if (rc)
                        TASK_RETURN(f);
        }
        TASK_YIELD(f); /* the sender queues */
        f->rc_recv1 = task_mpsc_try_recv(f->rx, &f->got1); /* grants it */
        TASK_MPSC_RECV(f, f->rx, &f->op, &f->got2, &f->rc_recv2);
        TASK_JOIN(f, f->h, &f->rc_join);
        task_handle_release(f->h);
        TASK_END(f);
}

/*
 * A send op left queued on a full bounded channel and then used for an
 * unbounded send (a poll function that does not suspend in between): the
 * stale wait is cancelled, as on every other path, so nothing stays queued
 * on the first channel with the task's waker and its value.
 */
struct reuse_op {
        TASK_FRAME;
        task_mpsc_tx *full, *ub;
        struct task_mpsc_send op;
        uint64_t v;
        int rc1, rc2;
        bool ready1, queued1;
};

static int reuse_op(struct task_cx *cx, void *arg)
{
        struct reuse_op *f = arg;
        TASK_BEGIN(f);
        f->v = 1;
        f->ready1 = task_mpsc_send_poll(cx, f->full, &f->op, &f->v, &f->rc1);
        f->queued1 = task_wait_pending(&f->op.w);
        f->v = 2;
        TASK_MPSC_SEND(f, f->ub, &f->op, &f->v, &f->rc2);
        TASK_END(f);
}

Test(mpsc, send_op_pending_elsewhere_cancelled_by_unbounded_send, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx, *utx;
        task_mpsc_rx *rx, *urx;
        task_handle *h;
        uint64_t v = 100;

        cr_assert_eq(task_mpsc_new(1, sizeof v, &tx, &rx), 0);
        cr_assert_eq(task_mpsc_unbounded_new(sizeof v, &utx, &urx), 0);
        cr_assert_eq(task_mpsc_try_send(tx, &v), 0); /* full */
        struct reuse_op f = {.full = tx, .ub = utx, .rc2 = 1};
        cr_assert_eq(TASK_SPAWN(rt, reuse_op, &f, &h), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        struct reuse_op *rf = task_handle_frame(h);
        cr_assert_not(rf->ready1);
        cr_assert(rf->queued1, "the first send did not queue");
        cr_assert_eq(rf->rc2, 0);
        cr_assert_not(task_wait_pending(&rf->op.w));
        cr_assert_eq(task_mpsc_try_recv(urx, &v), 0);
        cr_assert_eq(v, 2);
        /* The bounded channel: its value, then nothing (1 was never sent),
         * and its room is free for anyone (no stale waiter was granted). */
        cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, 100);
        cr_assert_eq(task_mpsc_try_recv(rx, &v), -EAGAIN);
        v = 3;
        cr_assert_eq(task_mpsc_try_send(tx, &v), 0);
        cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, 3);
        task_handle_release(h);
        task_mpsc_tx_drop(tx);
        task_mpsc_rx_drop(rx);
        task_mpsc_tx_drop(utx);
        task_mpsc_rx_drop(urx);
        test_rt_free(rt);
}

Test(mpsc, recv_waits_for_granted_sender, .timeout = 10)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 1);
        struct granted_wait g = {0};

        cr_assert_eq(task_mpsc_new(1, 8, &g.tx, &g.rx), 0);
        cr_assert_eq(task_block_on(rt, granted_wait, &g, sizeof g), 0);
        tcheck_assert_none();
        cr_assert_eq(g.rc_recv1, 0);
        cr_assert_eq(g.got1, 1);
        cr_assert_eq(g.rc_recv2, 0);
        cr_assert_eq(g.got2, 60);
        cr_assert_eq(g.rc_join, 0);
        task_mpsc_tx_drop(g.tx);
        task_mpsc_rx_drop(g.rx);
        test_rt_free(rt);
}

Test(mpsc, abort_waiting_receiver_loses_nothing, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;
        uint64_t v;

        for (int kind = 0; kind < 2; kind++) {
                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(4, 8, &tx, &rx),
                             0);
                struct receiver r = {.rx = rx, .keep = true, .v = 12345};
                cr_assert_eq(TASK_SPAWN(rt, receiver, &r, &h), 0);
                cr_assert(WAIT_UNTIL(rwaiting(h), 5000));
                task_abort(h);
                cr_assert_eq(task_join_blocking(h), -ECANCELED);
                cr_assert_eq(rframe(h)->v, 12345);
                cr_assert_not(rwaiting(h));
                task_handle_release(h);
                v = 3;
                cr_assert_eq(task_mpsc_try_send(tx, &v), 0);
                v = 0;
                cr_assert_eq(task_mpsc_try_recv(rx, &v), 0);
                cr_assert_eq(v, 3);
                task_mpsc_tx_drop(tx);
                task_mpsc_rx_drop(rx);
        }
        test_rt_free(rt);
}

/* select: receive from one of two channels; the loser keeps its values. */
struct selector {
        TASK_FRAME;
        task_mpsc_rx *a, *b;
        struct task_mpsc_recv ra, rb;
        struct task_select sel;
        uint64_t va, vb;
        int rca, rcb;
};

static int selector(struct task_cx *cx, void *arg)
{
        struct selector *f = arg;
        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel,
                    task_mpsc_recv_poll(cx, f->a, &f->ra, &f->va, &f->rca),
                    task_mpsc_recv_poll(cx, f->b, &f->rb, &f->vb, &f->rcb));
        TASK_END(f);
}

Test(mpsc, select_between_channels, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *ta, *tb;
        task_mpsc_rx *ra, *rb;
        task_handle *h;
        uint64_t v;

        cr_assert_eq(task_mpsc_new(4, 8, &ta, &ra), 0);
        cr_assert_eq(task_mpsc_unbounded_new(8, &tb, &rb), 0);
        struct selector s = {.a = ra, .b = rb};
        cr_assert_eq(TASK_SPAWN(rt, selector, &s, &h), 0);
        struct selector *sf = task_handle_frame(h);
        cr_assert(WAIT_UNTIL(task_wait_pending(&sf->rb.w), 5000));
        v = 2;
        cr_assert_eq(task_mpsc_try_send(tb, &v), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(sf->sel.which, 1);
        cr_assert_eq(sf->vb, 2);
        cr_assert_not(task_wait_pending(&sf->ra.w));
        task_handle_release(h);
        v = 1;
        cr_assert_eq(task_mpsc_try_send(ta, &v), 0);
        cr_assert_eq(task_mpsc_try_recv(ra, &v), 0);
        cr_assert_eq(v, 1);
        task_mpsc_tx_drop(ta);
        task_mpsc_tx_drop(tb);
        task_mpsc_rx_drop(ra);
        task_mpsc_rx_drop(rb);
        test_rt_free(rt);
}

/* ---- Threads ----------------------------------------------------------------- */

struct thread_io {
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        uint64_t base, n, sum, count;
        int rc;
};

static void *thread_sender(void *p)
{
        struct thread_io *t = p;
        for (uint64_t i = 0; i < t->n; i++) {
                uint64_t v = t->base + i;
                t->rc = task_mpsc_send_blocking(t->tx, &v);
                if (t->rc)
                        break;
        }
        task_mpsc_tx_drop(t->tx);
        return NULL;
}

static void *thread_receiver(void *p)
{
        struct thread_io *t = p;
        uint64_t v, expect = 0;
        for (;;) {
                t->rc = task_mpsc_recv_blocking(t->rx, &v);
                if (t->rc)
                        break;
                if (v != expect)
                        t->rc = -1000;
                expect++;
                t->count++;
                t->sum += v;
        }
        return NULL;
}

Test(mpsc, blocking_threads_and_tasks, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        long n = test_scaled(50000, 1000);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *h;
        pthread_t th;

        for (int kind = 0; kind < 2; kind++) {
                /* Threads send, a task receives. */
                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(8, 8, &tx, &rx),
                             0);
                struct thread_io t = {.tx = tx, .n = (uint64_t)n};
                struct receiver r = {.rx = rx};
                cr_assert_eq(TASK_SPAWN(rt, receiver, &r, &h), 0);
                cr_assert_eq(pthread_create(&th, NULL, thread_sender, &t), 0);
                cr_assert_eq(pthread_join(th, NULL), 0);
                cr_assert_eq(t.rc, 0);
                cr_assert_eq(task_join_blocking(h), 0);
                cr_assert_eq(rframe(h)->rc, -EPIPE);
                cr_assert_eq(rframe(h)->n, (uint64_t)n);
                task_handle_release(h);

                /* A task sends, a thread receives (in order). */
                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(8, 8, &tx, &rx),
                             0);
                struct thread_io u = {.rx = rx};
                struct sender s = {.tx = tx, .n = (uint64_t)n, .drop = true};
                cr_assert_eq(pthread_create(&th, NULL, thread_receiver, &u), 0);
                cr_assert_eq(TASK_SPAWN(rt, sender, &s, &h), 0);
                cr_assert_eq(pthread_join(th, NULL), 0);
                cr_assert_eq(u.rc, -EPIPE);
                cr_assert_eq(u.count, (uint64_t)n);
                cr_assert_eq(task_join_blocking(h), 0);
                task_handle_release(h);
                task_mpsc_rx_drop(rx);
        }
        test_rt_free(rt);
}

struct blocking_on_worker {
        TASK_FRAME;
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        int rc_send, rc_recv;
};

static int blocking_on_worker(struct task_cx *cx, void *arg)
{
        struct blocking_on_worker *f = arg;
        uint64_t v = 1;
        TASK_BEGIN(f);
        f->rc_send = task_mpsc_send_blocking(f->tx, &v);
        f->rc_recv = task_mpsc_recv_blocking(f->rx, &v);
        TASK_END(f);
}

Test(mpsc, blocking_on_worker_is_edeadlk, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_handle *h;

        for (int kind = 0; kind < 2; kind++) {
                struct blocking_on_worker b = {0};
                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &b.tx, &b.rx)
                                  : task_mpsc_new(1, 8, &b.tx, &b.rx),
                             0);
                cr_assert_eq(TASK_SPAWN(rt, blocking_on_worker, &b, &h), 0);
                cr_assert_eq(task_join_blocking(h), 0);
                struct blocking_on_worker *bf = task_handle_frame(h);
                cr_assert_eq(bf->rc_send, -EDEADLK);
                cr_assert_eq(bf->rc_recv, -EDEADLK);
                task_handle_release(h);
                uint64_t v;
                cr_assert_eq(task_mpsc_try_recv(b.rx, &v), -EAGAIN);
                task_mpsc_tx_drop(b.tx);
                task_mpsc_rx_drop(b.rx);
        }
        test_rt_free(rt);
}

/* ---- Current-thread runtime --------------------------------------------------- */

/* Inside one task_block_on: 3 senders through a channel of 2, 1 receiver. */
struct ct_root {
        TASK_FRAME;
        task_handle *hs[3], *hr;
        int rc;
        uint64_t n, sum;
};

static int ct_root(struct task_cx *cx, void *arg)
{
        struct ct_root *f = arg;
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        TASK_BEGIN(f);
        if (task_mpsc_new(2, 8, &tx, &rx))
                TASK_RETURN(f);
        /* A failed spawn leaves its handle untouched (NULL here) and the
         * end it was given is dropped, so that the others still finish. */
        for (int i = 0; i < 3; i++) {
                struct sender s = {.tx = i ? task_mpsc_tx_clone(tx) : tx,
                                   .base = (uint64_t)i * 1000,
                                   .n = 1000,
                                   .drop = true};
                f->hs[i] = NULL;
                int rc = TASK_SPAWN(task_cx_runtime(cx), sender, &s, &f->hs[i]);
                TCHECK(rc == 0);
                if (rc)
                        task_mpsc_tx_drop(s.tx);
        }
        {
                struct receiver r = {.rx = rx};
                f->hr = NULL;
                int rc = TASK_SPAWN(task_cx_runtime(cx), receiver, &r, &f->hr);
                TCHECK(rc == 0);
                if (rc)
                        task_mpsc_rx_drop(rx); /* the senders get -EPIPE */
        }
        if (f->hr) {
                TASK_JOIN(f, f->hr, &f->rc);
                f->n = rframe(f->hr)->n;
                f->sum = rframe(f->hr)->sum;
                task_handle_release(f->hr);
        }
        for (int i = 0; i < 3; i++)
                task_handle_release(f->hs[i]); /* NULL is ignored */
        TASK_END(f);
}

Test(mpsc, current_thread_runtime, .timeout = 20)
{
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 1);
        struct ct_root c = {0};

        cr_assert_eq(task_block_on(rt, ct_root, &c, sizeof c), 0);
        tcheck_assert_none();
        cr_assert_eq(c.rc, 0);
        cr_assert_eq(c.n, 3000);
        cr_assert_eq(c.sum, (uint64_t)(2999 * 3000 / 2));
        test_rt_free(rt);
}

/* ---- Bad input ---------------------------------------------------------------- */

struct bad_polls {
        TASK_FRAME;
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        struct task_mpsc_send sop;
        struct task_mpsc_recv rop;
        uint64_t buf[2];
        size_t n;
        int rc[7];
        bool ready[7];
};

static int bad_polls(struct task_cx *cx, void *arg)
{
        struct bad_polls *f = arg;
        TASK_BEGIN(f);
        f->ready[0] = task_mpsc_send_poll(cx, NULL, &f->sop, f->buf, &f->rc[0]);
        f->ready[1] = task_mpsc_send_poll(cx, f->tx, NULL, f->buf, &f->rc[1]);
        f->ready[2] = task_mpsc_send_poll(cx, f->tx, &f->sop, NULL, &f->rc[2]);
        f->ready[3] = task_mpsc_recv_poll(cx, NULL, &f->rop, f->buf, &f->rc[3]);
        f->ready[4] = task_mpsc_recv_poll(cx, f->rx, &f->rop, NULL, &f->rc[4]);
        f->ready[5] = task_mpsc_recv_many_poll(cx, f->rx, &f->rop, NULL, 2,
                                               &f->n, &f->rc[5]);
        f->ready[6] = task_mpsc_recv_many_poll(cx, f->rx, NULL, f->buf, 2,
                                               &f->n, &f->rc[6]);
        TASK_END(f);
}

Test(mpsc, bad_input, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(2);
        task_mpsc_tx *tx = (task_mpsc_tx *)0x1;
        task_mpsc_rx *rx = (task_mpsc_rx *)0x1;
        struct task_mpsc_opts big = {.capacity = 1,
                                     .elem_size = TASK_MPSC_MAX_ELEM + 1};
        struct task_mpsc_send sop = {0};
        struct task_mpsc_recv rop = {0};
        task_handle *h;
        uint64_t v = 0;
        size_t n = 9;
        int rc = 0;

        cr_assert_eq(task_mpsc_new(0, 8, &tx, &rx), -EINVAL);
        cr_assert_eq(task_mpsc_new(TASK_MPSC_MAX_CAPACITY + 1, 8, &tx, &rx),
                     -EINVAL);
        cr_assert_eq(task_mpsc_new(4, TASK_MPSC_MAX_ELEM + 1, &tx, &rx),
                     -EINVAL);
        cr_assert_eq(task_mpsc_new(4, 8, NULL, &rx), -EINVAL);
        cr_assert_eq(task_mpsc_new(4, 8, &tx, NULL), -EINVAL);
        cr_assert_eq(task_mpsc_unbounded_new(8, NULL, &rx), -EINVAL);
        cr_assert_eq(task_mpsc_unbounded_new(TASK_MPSC_MAX_ELEM + 1, &tx, &rx),
                     -EINVAL);
        cr_assert_eq(task_mpsc_new_opts(NULL, &tx, &rx), -EINVAL);
        cr_assert_eq(task_mpsc_new_opts(&big, &tx, &rx), -EINVAL);
        cr_assert_eq(tx, (task_mpsc_tx *)0x1);
        cr_assert_eq(rx, (task_mpsc_rx *)0x1);

        cr_assert_null(task_mpsc_tx_clone(NULL));
        task_mpsc_tx_drop(NULL);
        cr_assert_not(task_mpsc_tx_closed(NULL));
        cr_assert_eq(task_mpsc_try_send(NULL, &v), -EINVAL);
        cr_assert_eq(task_mpsc_send_blocking(NULL, &v), -EINVAL);
        cr_assert_eq(task_mpsc_try_recv(NULL, &v), -EINVAL);
        cr_assert_eq(task_mpsc_recv_blocking(NULL, &v), -EINVAL);
        task_mpsc_rx_close(NULL);
        task_mpsc_rx_drop(NULL);
        cr_assert(task_mpsc_send_poll(NULL, NULL, &sop, &v, &rc));
        cr_assert_eq(rc, -EINVAL);
        rc = 0;
        cr_assert(task_mpsc_recv_poll(NULL, NULL, &rop, &v, &rc));
        cr_assert_eq(rc, -EINVAL);
        rc = 0;
        cr_assert(task_mpsc_recv_many_poll(NULL, NULL, &rop, &v, 1, &n, &rc));
        cr_assert_eq(rc, -EINVAL);
        cr_assert_eq(n, 0);

        for (int kind = 0; kind < 2; kind++) {
                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(4, 8, &tx, &rx),
                             0);
                cr_assert_eq(task_mpsc_try_send(tx, NULL), -EINVAL);
                cr_assert_eq(task_mpsc_send_blocking(tx, NULL), -EINVAL);
                cr_assert_eq(task_mpsc_try_recv(rx, NULL), -EINVAL);
                cr_assert_eq(task_mpsc_recv_blocking(rx, NULL), -EINVAL);
                struct bad_polls b = {.tx = tx, .rx = rx};
                cr_assert_eq(TASK_SPAWN(rt, bad_polls, &b, &h), 0);
                cr_assert_eq(task_join_blocking(h), 0);
                struct bad_polls *bf = task_handle_frame(h);
                for (int i = 0; i < 7; i++) {
                        cr_assert(bf->ready[i], "poll %d not ready", i);
                        cr_assert_eq(bf->rc[i], -EINVAL, "poll %d: %d", i,
                                     bf->rc[i]);
                }
                task_handle_release(h);
                /* Nothing happened to the channel. */
                cr_assert_eq(task_mpsc_try_recv(rx, &v), -EAGAIN);
                cr_assert_not(task_mpsc_tx_closed(tx));
                task_mpsc_tx_drop(tx);
                task_mpsc_rx_drop(rx);
        }
        test_rt_free(rt);
}

Test(mpsc, enomem_creates_nothing_and_send_keeps_value, .timeout = 10)
{
        task_mpsc_tx *tx = (task_mpsc_tx *)0x1;
        task_mpsc_rx *rx = (task_mpsc_rx *)0x1;
        int rc;

        /* Every allocation of each constructor, in turn. */
        for (int kind = 0; kind < 2; kind++) {
                long n;
                for (n = 1; n < 10; n++) {
                        atomic_store(&task__fault_alloc_countdown, n);
                        rc = kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(4, 8, &tx, &rx);
                        atomic_store(&task__fault_alloc_countdown, 0);
                        if (rc == 0)
                                break;
                        cr_assert_eq(rc, -ENOMEM);
                        cr_assert_eq(tx, (task_mpsc_tx *)0x1);
                        cr_assert_eq(rx, (task_mpsc_rx *)0x1);
                        test_leak_check();
                }
                cr_assert_gt(n, 1, "no allocation went through the hook");
                task_mpsc_tx_drop(tx);
                task_mpsc_rx_drop(rx);
                tx = (task_mpsc_tx *)0x1;
                rx = (task_mpsc_rx *)0x1;
        }
        /* An unbounded send that needs a new block. */
        struct task_mpsc_opts o = {.elem_size = sizeof(void *),
                                   .elem_drop = test_free_ptr};
        cr_assert_eq(task_mpsc_new_opts(&o, &tx, &rx), 0);
        atomic_store(&test_drops, 0);
        int sent = 0;
        for (;;) {
                void *p = malloc(8);
                atomic_store(&task__fault_alloc_countdown, 1);
                rc = task_mpsc_try_send(tx, &p);
                atomic_store(&task__fault_alloc_countdown, 0);
                if (rc) {
                        cr_assert_eq(rc, -ENOMEM);
                        free(p); /* not taken */
                        break;
                }
                sent++;
                cr_assert_lt(sent, 1000, "sends never allocate?");
        }
        cr_assert_gt(sent, 0);
        void *p = malloc(8);
        cr_assert_eq(task_mpsc_try_send(tx, &p), 0, "works again");
        task_mpsc_tx_drop(tx);
        task_mpsc_rx_drop(rx);
        cr_assert_eq(atomic_load(&test_drops), sent + 1);
        test_leak_check();
}

/* ---- Stress ----------------------------------------------------------------- */

/*
 * Producers on 4 workers (stealing) through a small channel to one
 * receiver, which checks per-producer order and the sum.  A lost wake-up
 * (of the receiver, or of a sender waiting for room) hangs the test.
 */
struct checker {
        TASK_FRAME;
        task_mpsc_rx *rx;
        struct task_mpsc_recv op;
        uint64_t buf[16];
        uint64_t next[16]; /* per producer: the next value expected */
        size_t k, n;
        uint64_t count;
        int rc, errors;
        bool batch;
};

static int checker(struct task_cx *cx, void *arg)
{
        struct checker *f = arg;
        TASK_BEGIN(f);
        for (;;) {
                if (f->batch) {
                        TASK_MPSC_RECV_MANY(f, f->rx, &f->op, f->buf, 16, &f->n,
                                            &f->rc);
                } else {
                        TASK_MPSC_RECV(f, f->rx, &f->op, f->buf, &f->rc);
                        f->n = 1;
                }
                if (f->rc)
                        break;
                for (f->k = 0; f->k < f->n; f->k++) {
                        uint64_t v = f->buf[f->k];
                        uint64_t p = v >> 32;
                        if (p >= 16 || (v & 0xffffffffu) != f->next[p])
                                f->errors++;
                        else
                                f->next[p]++;
                        f->count++;
                }
        }
        task_mpsc_rx_drop(f->rx);
        TASK_END(f);
}

static void stress_run(size_t capacity, bool batch, int nprod, long per)
{
        task_runtime *rt = test_rt_new_mt(4);
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;
        task_handle *hc, *hp[16];

        cr_assert_eq(capacity ? task_mpsc_new(capacity, 8, &tx, &rx)
                              : task_mpsc_unbounded_new(8, &tx, &rx),
                     0);
        struct checker c = {.rx = rx, .batch = batch};
        cr_assert_eq(TASK_SPAWN(rt, checker, &c, &hc), 0);
        for (int p = 0; p < nprod; p++) {
                struct sender s = {.tx = task_mpsc_tx_clone(tx),
                                   .base = (uint64_t)p << 32,
                                   .n = (uint64_t)per,
                                   .drop = true};
                cr_assert_eq(TASK_SPAWN(rt, sender, &s, &hp[p]), 0);
        }
        task_mpsc_tx_drop(tx);
        for (int p = 0; p < nprod; p++) {
                cr_assert_eq(task_join_blocking(hp[p]), 0);
                cr_assert_eq(sframe(hp[p])->rc, 0);
                task_handle_release(hp[p]);
        }
        cr_assert_eq(task_join_blocking(hc), 0);
        struct checker *cf = task_handle_frame(hc);
        cr_assert_eq(cf->rc, -EPIPE);
        cr_assert_eq(cf->errors, 0, "values out of order");
        cr_assert_eq(cf->count, (uint64_t)(nprod * per));
        task_handle_release(hc);
        test_rt_free(rt);
}

Test(mpsc, stress_bounded_small_capacity, .timeout = 300)
{
        stress_run(3, false, 8, test_scaled(125000, 2000));
}

Test(mpsc, stress_bounded_recv_many, .timeout = 300)
{
        stress_run(64, true, 8, test_scaled(125000, 2000));
}

Test(mpsc, stress_unbounded, .timeout = 300)
{
        stress_run(0, false, 8, test_scaled(125000, 2000));
}

/*
 * Ends dropped at any moment: threads send owning pointers while the
 * receiver takes some and is dropped mid-stream.  Every pointer is freed
 * exactly once (received, dropped by elem_drop, or refused and freed by
 * its sender): ASan's leak check and the counts say so.
 */
struct owner_sender {
        task_mpsc_tx *tx;
        atomic_long *sent, *refused;
        long n;
};

static void *owner_sender_main(void *p)
{
        struct owner_sender *s = p;
        for (long i = 0; i < s->n; i++) {
                void *v = malloc(16);
                int rc = task_mpsc_send_blocking(s->tx, &v);
                if (rc) {
                        free(v);
                        atomic_fetch_add(s->refused, 1);
                } else {
                        atomic_fetch_add(s->sent, 1);
                }
        }
        task_mpsc_tx_drop(s->tx);
        return NULL;
}

Test(mpsc, stress_rx_drop_midstream, .timeout = 300)
{
        long rounds = test_scaled(300, 20);

        for (long r = 0; r < rounds; r++) {
                struct task_mpsc_opts o = {.capacity = (r & 1) ? 0 : 4,
                                           .elem_size = sizeof(void *),
                                           .elem_drop = test_free_ptr};
                task_mpsc_tx *tx;
                task_mpsc_rx *rx;
                atomic_long sent = 0, refused = 0;
                long received = 0;
                pthread_t th[3];
                struct owner_sender s[3];

                atomic_store(&test_drops, 0);
                cr_assert_eq(task_mpsc_new_opts(&o, &tx, &rx), 0);
                for (int i = 0; i < 3; i++) {
                        s[i] = (struct owner_sender){
                            .tx = i ? task_mpsc_tx_clone(tx) : tx,
                            .sent = &sent,
                            .refused = &refused,
                            .n = 200};
                        cr_assert_eq(pthread_create(&th[i], NULL,
                                                    owner_sender_main, &s[i]),
                                     0);
                }
                long take = (r * 37) % 300;
                for (long i = 0; i < take; i++) {
                        void *v;
                        if (task_mpsc_recv_blocking(rx, &v))
                                break;
                        free(v);
                        received++;
                }
                task_mpsc_rx_drop(rx);
                for (int i = 0; i < 3; i++)
                        cr_assert_eq(pthread_join(th[i], NULL), 0);
                cr_assert_eq(atomic_load(&sent) + atomic_load(&refused), 600);
                cr_assert_eq(
                    received + atomic_load(&test_drops), atomic_load(&sent),
                    "round %ld: received %ld + dropped %d != sent %ld", r,
                    received, atomic_load(&test_drops), atomic_load(&sent));
        }
        test_leak_check();
}

/*
 * Senders aborted at random moments (mostly while waiting for room, some
 * just granted a slot): a value is received if and only if its send
 * completed.  Per sender, the receiver counts exactly what the sender
 * counted as sent, in order; the channel stays consistent afterwards.
 */
struct counter_rx {
        TASK_FRAME;
        task_mpsc_rx *rx;
        struct task_mpsc_recv op;
        uint64_t v;
        uint64_t got[16];
        int rc, errors;
};

static int counter_rx(struct task_cx *cx, void *arg)
{
        struct counter_rx *f = arg;
        TASK_BEGIN(f);
        for (;;) {
                TASK_MPSC_RECV(f, f->rx, &f->op, &f->v, &f->rc);
                if (f->rc)
                        break;
                uint64_t p = f->v >> 32;
                if (p >= 16 || (f->v & 0xffffffffu) != f->got[p])
                        f->errors++;
                else
                        f->got[p]++;
        }
        task_mpsc_rx_drop(f->rx);
        TASK_END(f);
}

Test(mpsc, stress_abort_senders, .timeout = 300)
{
        task_runtime *rt = test_rt_new_mt(4);
        long rounds = test_scaled(40, 5);

        for (long r = 0; r < rounds; r++) {
                enum { NP = 8 };
                task_mpsc_tx *tx;
                task_mpsc_rx *rx;
                task_handle *hp[NP], *hc;

                cr_assert_eq(task_mpsc_new(2, 8, &tx, &rx), 0);
                struct counter_rx c = {.rx = rx};
                cr_assert_eq(TASK_SPAWN(rt, counter_rx, &c, &hc), 0);
                for (int p = 0; p < NP; p++) {
                        struct sender s = {.tx = task_mpsc_tx_clone(tx),
                                           .base = (uint64_t)p << 32,
                                           .n = 1u << 30,
                                           .drop = true};
                        cr_assert_eq(TASK_SPAWN(rt, sender, &s, &hp[p]), 0);
                }
                task_mpsc_tx_drop(tx);
                /* Let them run, then abort them one by one. */
                for (int p = 0; p < NP; p++) {
                        cr_assert(WAIT_UNTIL(
                            atomic_load(&sframe(hp[p])->sent) > 100, 10000));
                        task_abort(hp[p]);
                }
                uint64_t sent[NP], sent_total = 0;
                for (int p = 0; p < NP; p++) {
                        task_join_blocking(hp[p]);
                        sent[p] = (uint64_t)atomic_load(&sframe(hp[p])->sent);
                        sent_total += sent[p];
                }
                /* Aborted, the senders did not drop their clones: drop
                 * them now, which ends the receiver. */
                for (int p = 0; p < NP; p++) {
                        task_mpsc_tx_drop(sframe(hp[p])->tx);
                        task_handle_release(hp[p]);
                }
                cr_assert_eq(task_join_blocking(hc), 0);
                struct counter_rx *cf = task_handle_frame(hc);
                cr_assert_eq(cf->rc, -EPIPE);
                cr_assert_eq(cf->errors, 0);
                uint64_t got_total = 0;
                for (int p = 0; p < NP; p++) {
                        cr_assert_eq(cf->got[p], sent[p],
                                     "sender %d: sent %llu, received %llu", p,
                                     (unsigned long long)sent[p],
                                     (unsigned long long)cf->got[p]);
                        got_total += cf->got[p];
                }
                cr_assert_eq(got_total, sent_total);
                task_handle_release(hc);
        }
        test_rt_free(rt);
}

/*
 * Receivers aborted while waiting, one after another on the same channel:
 * recv is cancellation-safe, so the values all arrive, in order, at the
 * receivers that follow.
 */
struct partial_rx {
        TASK_FRAME;
        task_mpsc_rx *rx;
        struct task_mpsc_recv op;
        uint64_t v;
        uint64_t *next; /* shared: the next value expected */
        atomic_int *errors;
        int rc;
};

static int partial_rx(struct task_cx *cx, void *arg)
{
        struct partial_rx *f = arg;
        TASK_BEGIN(f);
        for (;;) {
                TASK_MPSC_RECV(f, f->rx, &f->op, &f->v, &f->rc);
                if (f->rc)
                        break;
                if (f->v != *f->next)
                        atomic_fetch_add(f->errors, 1);
                *f->next = f->v + 1;
        }
        TASK_END(f);
}

Test(mpsc, stress_abort_receivers, .timeout = 300)
{
        task_runtime *rt = test_rt_new_mt(4);
        long n = test_scaled(200000, 5000);

        for (int kind = 0; kind < 2; kind++) {
                task_mpsc_tx *tx;
                task_mpsc_rx *rx;
                task_handle *hs, *hr;
                uint64_t next = 0;
                atomic_int errors = 0;
                long receivers = 0;

                cr_assert_eq(kind ? task_mpsc_unbounded_new(8, &tx, &rx)
                                  : task_mpsc_new(8, 8, &tx, &rx),
                             0);
                struct sender s = {.tx = tx, .n = (uint64_t)n, .drop = true};
                cr_assert_eq(TASK_SPAWN(rt, sender, &s, &hs), 0);
                for (;;) {
                        struct partial_rx p = {
                            .rx = rx, .next = &next, .errors = &errors};
                        cr_assert_eq(TASK_SPAWN(rt, partial_rx, &p, &hr), 0);
                        sched_yield();
                        task_abort(hr);
                        int rc = task_join_blocking(hr);
                        int prc =
                            ((struct partial_rx *)task_handle_frame(hr))->rc;
                        task_handle_release(hr);
                        receivers++;
                        if (rc == 0 && prc == -EPIPE)
                                break; /* finished: all received */
                }
                cr_log_info("kind %d: %ld receivers", kind, receivers);
                cr_assert_eq(atomic_load(&errors), 0, "lost or reordered");
                cr_assert_eq(next, (uint64_t)n);
                cr_assert_eq(task_join_blocking(hs), 0);
                task_handle_release(hs);
                task_mpsc_rx_drop(rx);
        }
        test_rt_free(rt);
}

/*
 * The receiver's drop fails more queued senders than one wake batch (32),
 * releasing the lock between batches, while aborted sender tasks drop
 * their ends in their cleanups and failed threads and tasks drop theirs:
 * whichever end goes last frees the channel, never one still using it
 * (the closer holds its reference until it is done; ASan/TSan check).
 */
struct send_once {
        TASK_FRAME;
        task_mpsc_tx *tx;
        struct task_mpsc_send op;
        uint64_t v;
        int rc;
};

static int send_once(struct task_cx *cx, void *arg)
{
        struct send_once *f = arg;
        TASK_BEGIN(f);
        f->rc = 1;
        TASK_MPSC_SEND(f, f->tx, &f->op, &f->v, &f->rc);
        TASK_CLEANUP(f);
        task_mpsc_tx_drop(f->tx);
        f->tx = NULL;
        TASK_END(f);
}

static void *send_once_blocking(void *p)
{
        task_mpsc_tx *tx = p;
        uint64_t v = 7;
        int rc = task_mpsc_send_blocking(tx, &v);

        task_mpsc_tx_drop(tx);
        return (void *)(intptr_t)rc;
}

struct rx_dropper {
        task_mpsc_rx *rx;
        atomic_int go;
};

static void *drop_rx_when_told(void *p)
{
        struct rx_dropper *d = p;

        while (!atomic_load(&d->go))
                sched_yield();
        task_mpsc_rx_drop(d->rx);
        return NULL;
}

Test(mpsc, rx_drop_fails_batches_while_senders_drop, .timeout = 120)
{
        enum { NT = 72, NTH = 8 };
        int rounds = (int)test_scaled(40, 6);
        task_runtime *rt = test_rt_new_mt(2);

        for (int r = 0; r < rounds; r++) {
                struct rx_dropper d = {0};
                task_mpsc_tx *tx;
                task_handle *h[NT];
                pthread_t th[NTH], dt;
                uint64_t v = 0;

                cr_assert_eq(task_mpsc_new(1, sizeof v, &tx, &d.rx), 0);
                cr_assert_eq(task_mpsc_try_send(tx, &v), 0); /* full */
                for (int i = 0; i < NTH; i++)
                        cr_assert_eq(pthread_create(&th[i], NULL,
                                                    send_once_blocking,
                                                    task_mpsc_tx_clone(tx)),
                                     0);
                for (int i = 0; i < NT; i++) {
                        struct send_once f = {.tx = task_mpsc_tx_clone(tx),
                                              .v = (uint64_t)i};
                        cr_assert_eq(TASK_SPAWN(rt, send_once, &f, &h[i]), 0);
                }
                for (int i = 0; i < NT; i++)
                        cr_assert(WAIT_UNTIL(
                            task_wait_pending(
                                &((struct send_once *)task_handle_frame(h[i]))
                                     ->op.w),
                            5000));
                task_mpsc_tx_drop(tx);
                cr_assert_eq(pthread_create(&dt, NULL, drop_rx_when_told, &d),
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
                        struct send_once *f = task_handle_frame(h[i]);
                        if (i % 2 || rc == 0) {
                                /* Not aborted, or failed and done first. */
                                cr_assert_eq(rc, 0, "round %d task %d", r, i);
                                cr_assert_eq(f->rc, -EPIPE);
                        } else {
                                cr_assert_eq(rc, -ECANCELED);
                        }
                        cr_assert_null(f->tx); /* dropped by the cleanup */
                        task_handle_release(h[i]);
                }
                cr_assert_eq(pthread_join(dt, NULL), 0);
        }
        test_rt_free(rt);
}
