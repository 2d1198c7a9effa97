/*
 * sync_watch.c - a watch channel carrying a configuration: workers process
 * the current value, then wait for changes; the sender publishes updates.
 * A worker may skip intermediate versions but always ends on the latest.
 * Dropping the sender wakes every waiting worker with -EPIPE.
 */
#include <libtask/task.h>

#include <errno.h>
#include <stdio.h>

struct config {
        int version;
        int max_conn;
};

struct worker {
        TASK_FRAME;
        int id;
        task_watch_rx *rx;
        struct task_watch_changed changed;
        struct config cfg;
        int rc;
};

static int worker(struct task_cx *cx, void *arg)
{
        struct worker *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                /* Copy the value and mark it seen, in one step. */
                task_watch_borrow_and_update(f->rx, &f->cfg);
                printf("worker %d: config v%d, max_conn %d\n", f->id,
                       f->cfg.version, f->cfg.max_conn);
                TASK_WATCH_CHANGED(f, f->rx, &f->changed, &f->rc);
                if (f->rc == -EPIPE) /* the sender is gone */
                        break;
        }
        TASK_CLEANUP(f);
        task_watch_rx_drop(f->rx);
        TASK_END(f);
}

/* A send_modify callback: runs under the channel's lock, keep it short. */
static void raise_limit(void *value, void *arg)
{
        struct config *c = value;

        c->version++;
        c->max_conn += *(int *)arg;
}

struct app {
        TASK_FRAME;
        task_watch_tx *tx;
        task_handle *h[2];
        int i, rc, ok;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;
        struct config c = {.version = 1, .max_conn = 100};
        int step = 50;

        TASK_BEGIN(f);
        if (task_watch_new(sizeof c, &c, &f->tx, NULL) < 0)
                TASK_RETURN(f);
        for (f->i = 0; f->i < 2; f->i++) {
                struct worker w = {.id = f->i};
                if (task_watch_subscribe(f->tx, &w.rx) < 0)
                        TASK_RETURN(f);
                if (TASK_SPAWN(cx->rt, worker, &w, &f->h[f->i]) < 0) {
                        task_watch_rx_drop(w.rx);
                        TASK_RETURN(f);
                }
        }
        for (f->i = 2; f->i <= 4; f->i++) {
                c.version = f->i;
                c.max_conn = 100 * f->i;
                task_watch_send(f->tx, &c); /* -EPIPE if nobody listens */
                TASK_YIELD(f);
        }
        task_watch_send_modify(f->tx, raise_limit, &step); /* v5, 450 */
        task_watch_tx_drop(f->tx);

        f->ok = 1;
        for (f->i = 0; f->i < 2; f->i++) {
                TASK_JOIN(f, f->h[f->i], &f->rc);
                struct worker *w = task_handle_frame(f->h[f->i]);
                f->ok &=
                    f->rc == 0 && w->cfg.version == 5 && w->cfg.max_conn == 450;
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
