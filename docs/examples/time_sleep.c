/*
 * time_sleep.c - sleep, a timeout over a channel receive, and an interval.
 *
 * A producer sends three values 15 ms apart; the consumer receives with a
 * 10 ms timeout, so some receives time out and none loses a value.  Then
 * an interval ticks four times every 5 ms.  Runs in about 70 ms.
 */
#include <libtask/task.h>
#include <libtask/time.h>

#include <stdio.h>

struct producer {
        TASK_FRAME;
        task_mpsc_tx *tx;
        struct task_sleep sleep;
        struct task_mpsc_send send;
        int i, rc;
};

static int producer(struct task_cx *cx, void *arg)
{
        struct producer *f = arg;

        TASK_BEGIN(f);
        for (f->i = 1; f->i <= 3; f->i++) {
                TASK_SLEEP(f, &f->sleep, TASK_MS(15));
                TASK_MPSC_SEND(f, f->tx, &f->send, &f->i, &f->rc);
        }
        TASK_CLEANUP(f);
        task_mpsc_tx_drop(f->tx); /* the consumer then sees -EPIPE */
        TASK_END(f);
}

struct consumer {
        TASK_FRAME;
        task_mpsc_rx *rx;
        struct task_select sel;
        struct task_sleep sleep;
        struct task_mpsc_recv recv;
        struct task_interval iv;
        uint64_t start, tick, first;
        int v, rc, got, timeouts, ticks;
};

static int consumer(struct task_cx *cx, void *arg)
{
        struct consumer *f = arg;

        TASK_BEGIN(f);
        f->start = task_now_ns();
        for (;;) {
                /* Receive, giving up after 10 ms: -ETIMEDOUT. */
                TASK_TIMEOUT(
                    f, &f->sel, &f->sleep, TASK_MS(10),
                    task_mpsc_recv_poll(cx, f->rx, &f->recv, &f->v, &f->rc),
                    &f->rc);
                if (f->rc == -ETIMEDOUT) {
                        f->timeouts++;
                        continue;
                }
                if (f->rc != 0) /* -EPIPE: the producer is done */
                        break;
                printf("got %d after %llu ms\n", f->v,
                       (unsigned long long)((task_now_ns() - f->start) /
                                            TASK_MS(1)));
                f->got++;
        }
        printf("%d values, %d timeouts\n", f->got, f->timeouts);

        /* Four ticks, 5 ms apart; the first one at once. */
        task_interval_init(&f->iv, TASK_MS(5), TASK_MISSED_TICK_BURST);
        for (f->ticks = 0; f->ticks < 4; f->ticks++) {
                TASK_INTERVAL_TICK(f, &f->iv, &f->tick);
                if (f->ticks == 0)
                        f->first = f->tick;
                printf("tick %d scheduled at +%llu ms\n", f->ticks,
                       (unsigned long long)((f->tick - f->first) / TASK_MS(1)));
        }
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        task_mpsc_tx *tx;
        task_mpsc_rx *rx;

        if (task_runtime_new(NULL, &rt) != 0 ||
            task_mpsc_new(4, sizeof(int), &tx, &rx) != 0)
                return 1;
        struct producer p = {.tx = tx};
        struct consumer c = {.rx = rx};
        if (TASK_SPAWN(rt, producer, &p, NULL) != 0 ||
            task_block_on(rt, consumer, &c, sizeof c) != 0)
                return 1;
        task_mpsc_rx_drop(rx);
        task_runtime_free(rt);
        return c.got == 3 && c.timeouts > 0 ? 0 : 1;
}
