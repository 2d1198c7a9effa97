/*
 * main.c - TASK_MAIN, the analog of #[tokio::main]: main() builds a default
 * multi-thread runtime ($LIBTASK_WORKERS sets the worker count), runs the
 * coroutine to completion, frees the runtime and returns the frame's
 * exit_code.  Try: ./main alice bob
 */
#include <libtask/task.h>

#include <stdio.h>

#define MAX_GREETERS 8

struct greeter {
        TASK_FRAME;
        const char *name;
};

static int greeter(struct task_cx *cx, void *arg)
{
        struct greeter *f = arg;

        TASK_BEGIN(f);
        printf("hello, %s (task %llu)\n", f->name,
               (unsigned long long)task_cx_id(cx));
        TASK_END(f);
}

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS; /* argc, argv, exit_code */
        task_handle *h[MAX_GREETERS];
        int n, i, rc;
};

static int app(struct task_cx *cx, void *arg)
{
        static char *const nobody[] = {"world"};
        struct app *f = arg;
        char *const *names = f->argc > 1 ? f->argv + 1 : nobody;
        int count = f->argc > 1 ? f->argc - 1 : 1;

        TASK_BEGIN(f);
        f->exit_code = 1; /* until everything worked */
        for (f->n = 0; f->n < count && f->n < MAX_GREETERS; f->n++) {
                f->rc = TASK_SPAWN(task_cx_runtime(cx), greeter,
                                   &(struct greeter){.name = names[f->n]},
                                   &f->h[f->n]);
                if (f->rc < 0)
                        TASK_RETURN(f);
        }
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_JOIN(f, f->h[f->i], &f->rc);
                if (f->rc < 0)
                        TASK_RETURN(f);
        }
        f->exit_code = 0;
        TASK_CLEANUP(f);
        for (int i = 0; i < f->n; i++)
                task_handle_release(f->h[i]);
        TASK_END(f);
}

TASK_MAIN(app, struct app)
