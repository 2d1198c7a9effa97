/* sync_joinset.c - spawn ten workers into a JoinSet, join them as they end. */
#include <libtask/task.h>

#include <errno.h>
#include <stdio.h>

struct square {
        TASK_FRAME;
        int n;   /* in */
        int out; /* result, read through the join handle */
};

static int square(struct task_cx *cx, void *arg)
{
        struct square *f = arg;
        TASK_BEGIN(f);
        TASK_YIELD(f); /* pretend to work */
        f->out = f->n * f->n;
        TASK_END(f);
}

struct app {
        TASK_FRAME;
        task_joinset *set;
        task_handle *h;
        int i, rc, sum, joined;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;
        TASK_BEGIN(f);
        if (task_joinset_new(&f->set) != 0)
                TASK_RETURN(f);
        for (f->i = 1; f->i <= 10; f->i++) {
                struct square s = {.n = f->i};
                if (TASK_JOINSET_SPAWN(f->set, task_cx_runtime(cx), square,
                                       &s) != 0)
                        TASK_RETURN(f);
        }
        for (;;) {
                TASK_JOINSET_JOIN_NEXT(f, f->set, &f->h, &f->rc);
                if (f->rc == -ECHILD)
                        break; /* empty: everything joined */
                if (f->rc == 0)
                        f->sum +=
                            ((struct square *)task_handle_frame(f->h))->out;
                f->joined++;
                task_handle_release(f->h);
        }
        TASK_CLEANUP(f);
        task_joinset_free(f->set); /* aborts whatever still runs */
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        struct app a = {0};

        if (task_runtime_new(NULL, &rt) != 0)
                return 1;
        task_block_on(rt, app, &a, sizeof a);
        task_runtime_free(rt);
        printf("joined %d tasks, sum of squares %d\n", a.joined, a.sum);
        return a.joined == 10 && a.sum == 385 ? 0 : 1;
}
