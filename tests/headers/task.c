/*
 * headers/task.c - <libtask/task.h> compiles on its own, first, in strict
 * C11 with -Wpedantic, and so does every coroutine macro it offers when
 * expanded (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/task.h>

struct sub {
        TASK_FRAME;
        int n;
};

static int sub(struct task_cx *cx, void *arg)
{
        struct sub *f = arg;

        TASK_BEGIN(f);
        TASK_YIELD(f);
        if (f->n)
                TASK_RETURN(f);
        TASK_END(f);
}

struct top {
        TASK_FRAME;
        struct sub s;
        task_handle *h;
        int rc;
        struct task_sem *sem;
        struct task_sem_acquire a, b;
        struct task_select sel;
};

static int top(struct task_cx *cx, void *arg)
{
        struct top *f = arg;

        TASK_BEGIN(f);
        TASK_AWAIT(f, task_coop_proceed(cx));
        TASK_AWAIT_CO(f, sub, &f->s);
        if (TASK_SPAWN(task_cx_runtime(cx), sub, &f->s, &f->h) == 0) {
                TASK_JOIN(f, f->h, &f->rc);
                TASK_SELECT(f, &f->sel,
                            task_sem_acquire_poll(cx, f->sem, 1, &f->a, &f->rc),
                            task_join_poll(cx, f->h, &f->rc));
                TASK_JOIN_ALL(
                    f, &f->sel,
                    task_sem_acquire_poll(cx, f->sem, 1, &f->a, &f->rc),
                    task_sem_acquire_poll(cx, f->sem, 2, &f->b, &f->rc),
                    task_join_poll(cx, f->h, &f->rc));
                TASK_SEM_ACQUIRE(f, f->sem, 1, &f->a, &f->rc);
                task_handle_release(f->h);
        }
        TASK_CLEANUP(f);
        f->rc = 0;
        TASK_END(f);
}

task_fn libtask_header_check_task(void);
task_fn libtask_header_check_task(void)
{
        return LIBTASK_VERSION_MAJOR >= 0 ? top : sub;
}
