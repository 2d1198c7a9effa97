/*
 * sync_select.c - TASK_SELECT: take a permit from whichever of two pools
 * has one first; the losing acquire is dropped, so it keeps nothing.
 * Then TASK_JOIN_ALL: wait for two permits at once, one of them handed
 * back by another task a little later.
 */
#include <libtask/task.h>

#include <stdio.h>

static struct task_sem fast, slow;

struct giver {
        TASK_FRAME;
};

static int giver(struct task_cx *cx, void *arg)
{
        struct giver *f = arg;
        TASK_BEGIN(f);
        TASK_YIELD(f);
        task_sem_release(&fast, 1); /* give back what app took */
        TASK_END(f);
}

struct app {
        TASK_FRAME;
        struct task_sem_acquire a, b;
        struct task_select sel;
        int rc_a, rc_b;
        int won;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;
        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel,
                    task_sem_acquire_poll(cx, &slow, 1, &f->a, &f->rc_a),
                    task_sem_acquire_poll(cx, &fast, 1, &f->b, &f->rc_b));
        f->won = f->sel.which; /* 1: only `fast` had a permit */

        task_sem_release(&slow, 1);
        TASK_SPAWN(task_cx_runtime(cx), giver, &(struct giver){0}, NULL);
        /* Both pools, concurrently: done when both acquires are. */
        TASK_JOIN_ALL(f, &f->sel,
                      task_sem_acquire_poll(cx, &slow, 1, &f->a, &f->rc_a),
                      task_sem_acquire_poll(cx, &fast, 1, &f->b, &f->rc_b));
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        struct app a = {0};

        task_sem_init(&slow, 0);
        task_sem_init(&fast, 1);
        if (task_runtime_new(NULL, &rt) != 0)
                return 1;
        task_block_on(rt, app, &a, sizeof a);
        task_runtime_free(rt);
        printf("select: branch %d won; join-all: %d %d\n", a.won, a.rc_a,
               a.rc_b);
        return a.won == 1 && a.rc_a == 0 && a.rc_b == 0 ? 0 : 1;
}
