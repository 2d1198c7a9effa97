/*
 * sync_mpsc.c - a work queue: three producer tasks and a plain thread send
 * numbers through a bounded channel of 4 (a full channel makes them wait)
 * to one consumer task, which takes them in batches.  Each producer drops
 * its sender when done; when the last one is gone the consumer gets what
 * is left and then -EPIPE.
 */
#include <libtask/task.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define PRODUCERS 3
#define PER 1000

struct producer {
        TASK_FRAME;
        task_mpsc_tx *tx;         /* in: ours; dropped at the end */
        uint64_t i, v;            /* v: the value in flight */
        struct task_mpsc_send op; /* the wait lives in the frame */
        int rc;
};

static int producer(struct task_cx *cx, void *arg)
{
        struct producer *f = arg;

        TASK_BEGIN(f);
        for (f->i = 1; f->i <= PER; f->i++) {
                f->v = f->i;
                TASK_MPSC_SEND(f, f->tx, &f->op, &f->v, &f->rc);
                if (f->rc < 0) /* -EPIPE: the receiver is gone */
                        break;
        }
        TASK_CLEANUP(f);
        task_mpsc_tx_drop(f->tx); /* also when aborted */
        TASK_END(f);
}

struct consumer {
        TASK_FRAME;
        task_mpsc_rx *rx;
        struct task_mpsc_recv op;
        uint64_t batch[16];
        size_t n;
        uint64_t sum, count, batches; /* out */
        int rc;
};

static int consumer(struct task_cx *cx, void *arg)
{
        struct consumer *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                /* At least one value, at most 16, in order. */
                TASK_MPSC_RECV_MANY(f, f->rx, &f->op, f->batch, 16, &f->n,
                                    &f->rc);
                if (f->rc < 0) /* -EPIPE: every sender gone, nothing left */
                        break;
                for (size_t i = 0; i < f->n; i++)
                        f->sum += f->batch[i];
                f->count += f->n;
                f->batches++;
        }
        TASK_CLEANUP(f);
        task_mpsc_rx_drop(f->rx);
        TASK_END(f);
}

/* Synchronous code feeding the same channel: blocks while it is full. */
static void *thread_producer(void *arg)
{
        task_mpsc_tx *tx = arg;

        for (uint64_t v = 1; v <= PER; v++)
                if (task_mpsc_send_blocking(tx, &v) < 0)
                        break;
        task_mpsc_tx_drop(tx);
        return NULL;
}

int main(void)
{
        task_runtime *rt;
        task_mpsc_tx *tx;
        struct consumer c = {0};
        task_handle *h;
        pthread_t thread;
        int ok = 1;

        if (task_runtime_new(NULL, &rt) < 0 ||
            task_mpsc_new(4, sizeof(uint64_t), &tx, &c.rx) < 0)
                return 1;
        if (TASK_SPAWN(rt, consumer, &c, &h) < 0)
                return 1;
        for (int i = 0; i < PRODUCERS; i++) {
                struct producer p = {.tx = task_mpsc_tx_clone(tx)};
                if (TASK_SPAWN(rt, producer, &p, NULL) < 0)
                        return 1;
        }
        /* The thread takes our original sender. */
        if (pthread_create(&thread, NULL, thread_producer, tx) != 0)
                return 1;
        ok &= task_join_blocking(h) == 0;
        pthread_join(thread, NULL);

        struct consumer *r = task_handle_frame(h);
        printf("received %llu values in %llu batches, sum %llu, then %s\n",
               (unsigned long long)r->count, (unsigned long long)r->batches,
               (unsigned long long)r->sum, task_strerror(r->rc));
        ok &= r->count == (PRODUCERS + 1) * PER &&
              r->sum == (PRODUCERS + 1) * (uint64_t)PER * (PER + 1) / 2 &&
              r->rc == -EPIPE;
        task_handle_release(h);
        ok &= task_runtime_free(rt) == 0;
        return ok ? 0 : 1;
}
