/*
 * sync_broadcast.c - a broadcast channel: every subscriber sees every
 * message sent after it subscribed, in order; one that falls behind the
 * ring's capacity is told how many it missed and continues from the oldest
 * message still held.  Sends never wait.  Dropping the last sender closes
 * the channel: receivers get what is left for them, then -EPIPE.
 */
#include <libtask/task.h>

#include <errno.h>
#include <stdio.h>

#define NMSG 20

struct msg {
        int seq;
        char text[28];
};

/* Print every message until the channel closes. */
struct listener {
        TASK_FRAME;
        int id;
        task_broadcast_rx *rx;
        struct task_broadcast_recv recv;
        struct msg m;
        uint64_t missed;
        int rc;
        int received, lost; /* read by main after the join */
};

static int listener(struct task_cx *cx, void *arg)
{
        struct listener *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_BROADCAST_RECV(f, f->rx, &f->recv, &f->m, &f->missed,
                                    &f->rc);
                if (f->rc == -EPIPE) /* closed, and all received */
                        break;
                if (f->rc == -EOVERFLOW) { /* fell behind: never silent */
                        printf("listener %d: missed %llu\n", f->id,
                               (unsigned long long)f->missed);
                        f->lost += (int)f->missed;
                        continue;
                }
                f->received++;
                if (f->m.seq % 5 == 0)
                        printf("listener %d: %s\n", f->id, f->m.text);
        }
        TASK_CLEANUP(f);
        task_broadcast_rx_drop(f->rx); /* on abort too */
        TASK_END(f);
}

struct app {
        TASK_FRAME;
        task_broadcast_tx *tx;
        task_broadcast_rx *late;
        task_handle *h[2];
        int i, rc, ok;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;
        struct msg m;
        uint64_t missed = 0;
        int rc;

        TASK_BEGIN(f);
        /* A ring of 8 messages; no receiver yet. */
        if (task_broadcast_new(8, sizeof(struct msg), &f->tx, NULL) < 0)
                TASK_RETURN(f);
        for (f->i = 0; f->i < 2; f->i++) {
                struct listener l = {.id = f->i};
                if (task_broadcast_subscribe(f->tx, &l.rx) < 0)
                        TASK_RETURN(f);
                if (TASK_SPAWN(cx->rt, listener, &l, &f->h[f->i]) < 0) {
                        task_broadcast_rx_drop(l.rx);
                        TASK_RETURN(f);
                }
        }
        /* A receiver that reads nothing until the end: it will lag. */
        if (task_broadcast_subscribe(f->tx, &f->late) < 0)
                TASK_RETURN(f);

        for (f->i = 1; f->i <= NMSG; f->i++) {
                m.seq = f->i;
                snprintf(m.text, sizeof m.text, "message %d", f->i);
                rc = task_broadcast_send(f->tx, &m); /* never waits */
                if (rc != 3)
                        printf("send: %d receivers?\n", rc);
                TASK_YIELD(f); /* give the listeners a chance */
        }
        task_broadcast_tx_drop(f->tx); /* the close */

        /* 20 sent, 8 held: the late receiver lost the first 12. */
        rc = task_broadcast_try_recv(f->late, &m, &missed);
        printf("late receiver: %s, missed %llu\n",
               rc == -EOVERFLOW ? "lagged" : task_strerror(rc),
               (unsigned long long)missed);
        f->ok = rc == -EOVERFLOW && missed == NMSG - 8;
        while ((rc = task_broadcast_try_recv(f->late, &m, NULL)) == 0)
                f->ok &= m.seq > NMSG - 8;
        f->ok &= rc == -EPIPE;
        task_broadcast_rx_drop(f->late);

        for (f->i = 0; f->i < 2; f->i++) {
                TASK_JOIN(f, f->h[f->i], &f->rc);
                struct listener *l = task_handle_frame(f->h[f->i]);
                printf("listener %d: %d received, %d missed\n", l->id,
                       l->received, l->lost);
                f->ok &= f->rc == 0 && l->received + l->lost == NMSG;
                task_handle_release(f->h[f->i]);
        }
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        struct app f = {0};
        int rc;

        rc = task_runtime_new(NULL, &rt);
        if (rc < 0) {
                fprintf(stderr, "task_runtime_new: %s\n", task_strerror(rc));
                return 1;
        }
        rc = task_block_on(rt, app, &f, sizeof f);
        task_runtime_free(rt);
        return rc == 0 && f.ok ? 0 : 1;
}
