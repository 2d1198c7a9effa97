/* signal.c - graceful shutdown on SIGTERM: a task awaits the signal. */
#include <libtask/blocking.h>
#include <libtask/signal.h>
#include <libtask/task.h>

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

/* Stands in for `kill -TERM <pid>` from outside (a blocking job: it
 * sleeps, so it runs on the blocking pool, not on a worker). */
static void *send_term(void *arg)
{
        usleep(50000);
        kill(getpid(), SIGTERM);
        return arg;
}

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS;
        struct task_signal term;
        struct task_signal_recv recv;
        int rc;
        task_handle *sender;
        int opened;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;

        TASK_BEGIN(f);
        f->rc = task_signal_open(&f->term, SIGTERM);
        if (f->rc) {
                fprintf(stderr, "signal_open: %s\n", task_strerror(f->rc));
                f->exit_code = 1;
                TASK_RETURN(f);
        }
        f->opened = 1;
        f->rc = task_spawn_blocking(cx->rt, send_term, NULL, &f->sender);
        if (f->rc) {
                f->exit_code = 1;
                TASK_RETURN(f);
        }
        printf("serving; waiting for SIGTERM\n");
        TASK_SIGNAL_RECV(f, &f->term, &f->recv, &f->rc);
        printf("got SIGTERM (%d): shutting down gracefully\n", f->rc);
        TASK_CLEANUP(f);
        task_handle_release(f->sender); /* NULL is ignored */
        /* The last listener restores SIGTERM's default action. */
        if (f->opened)
                task_signal_close(&f->term);
        TASK_END(f);
}

TASK_MAIN(app, struct app)
