/*
 * sync_oneshot.c - one reply, once: a requester spawns a worker with the
 * sending end of a oneshot and awaits the answer on the receiving end.  A
 * worker that gives up drops its sender, and the requester sees -EPIPE;
 * a send to a receiver that is gone fails with -EPIPE and the value stays
 * the sender's.
 */
#include <libtask/task.h>

#include <stdio.h>

struct worker {
        TASK_FRAME;
        int n;                  /* in: sum 1..n (n < 0: give up) */
        task_oneshot_tx *reply; /* in: ours, to send on or to drop */
};

static int worker(struct task_cx *cx, void *arg)
{
        struct worker *f = arg;
        long sum = 0;

        TASK_BEGIN(f);
        if (f->n < 0) {
                task_oneshot_tx_drop(f->reply); /* no answer: -EPIPE */
                TASK_RETURN(f);
        }
        for (int i = 1; i <= f->n; i++)
                sum += i;
        task_oneshot_send(f->reply, &sum); /* copies sum; consumes reply */
        TASK_END(f);
}

struct requester {
        TASK_FRAME;
        int n;                         /* in */
        task_oneshot_rx *rx;           /* our end */
        struct task_oneshot_recv recv; /* the wait lives in the frame */
        long answer;                   /* out */
        int rc;                        /* out */
};

static int requester(struct task_cx *cx, void *arg)
{
        struct requester *f = arg;
        task_oneshot_tx *tx;
        struct worker w;

        TASK_BEGIN(f);
        f->rc = task_oneshot_new(sizeof(long), &tx, &f->rx);
        if (f->rc < 0)
                TASK_RETURN(f);
        w = (struct worker){.n = f->n, .reply = tx};
        f->rc = TASK_SPAWN(task_cx_runtime(cx), worker, &w, NULL);
        if (f->rc < 0) {
                task_oneshot_tx_drop(tx); /* the worker never got it */
                TASK_RETURN(f);
        }
        TASK_ONESHOT_RECV(f, f->rx, &f->recv, &f->answer, &f->rc);
        TASK_CLEANUP(f);
        task_oneshot_rx_drop(f->rx); /* also when aborted; NULL is ignored */
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        struct requester a = {.n = 100}, b = {.n = -1};
        task_oneshot_tx *tx;
        task_oneshot_rx *rx;
        long v = 42;
        int rc, ok = 1;

        if (task_runtime_new(NULL, &rt) < 0)
                return 1;
        ok &= task_block_on(rt, requester, &a, sizeof a) == 0;
        printf("sum 1..100: rc %d, answer %ld\n", a.rc, a.answer);
        ok &= a.rc == 0 && a.answer == 5050;

        ok &= task_block_on(rt, requester, &b, sizeof b) == 0;
        printf("worker gave up: %s\n", task_strerror(b.rc));
        ok &= b.rc == -EPIPE;

        /* The receiver is gone: the send fails, v is still ours. */
        if (task_oneshot_new(sizeof v, &tx, &rx) < 0)
                return 1;
        task_oneshot_rx_drop(rx);
        rc = task_oneshot_send(tx, &v); /* consumes tx even when it fails */
        printf("send to a dropped receiver: %s\n", task_strerror(rc));
        ok &= rc == -EPIPE;

        ok &= task_runtime_free(rt) == 0;
        return ok ? 0 : 1;
}
