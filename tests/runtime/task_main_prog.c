/*
 * task_main_prog.c - a program whose main() is TASK_MAIN, driven by
 * test_task_main.c.  The first argument picks what it checks; the exit
 * status is the frame's exit_code, so the driver can tell every case apart:
 *
 *   ok ARG     argv reaches the frame, the frame starts zeroed, the task
 *              runs on a worker (not the main thread), can spawn and join:
 *              exit 0, or 10 + the number of the first failed check
 *   exit N     exit N
 *   argc ...   exit argc
 *   workers N  exit 0 if the runtime has N workers, else 100 + its count
 */
#include <libtask/task.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_t main_thread;

__attribute__((constructor)) static void remember_main(void)
{
        main_thread = pthread_self();
}

struct child {
        TASK_FRAME;
        int in, out;
};

static int child(struct task_cx *cx, void *arg)
{
        struct child *f = arg;
        TASK_BEGIN(f);
        TASK_YIELD(f);
        f->out = f->in + 1;
        TASK_END(f);
}

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS;
        int zero_check;
        task_handle *h;
        int rc;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;
        TASK_BEGIN(f);
        if (f->argc < 2) {
                f->exit_code = 2;
                TASK_RETURN(f);
        }
        if (strcmp(f->argv[1], "exit") == 0 && f->argc == 3) {
                f->exit_code = atoi(f->argv[2]);
                TASK_RETURN(f);
        }
        if (strcmp(f->argv[1], "argc") == 0) {
                f->exit_code = f->argc;
                TASK_RETURN(f);
        }
        if (strcmp(f->argv[1], "workers") == 0 && f->argc == 3) {
                unsigned n = task_runtime_workers(task_cx_runtime(cx));
                f->exit_code =
                    n == (unsigned)atoi(f->argv[2]) ? 0 : 100 + (int)n;
                TASK_RETURN(f);
        }
        if (strcmp(f->argv[1], "ok") != 0) {
                f->exit_code = 3;
                TASK_RETURN(f);
        }
        if (f->argc != 3 || strcmp(f->argv[2], "beta") != 0) {
                f->exit_code = 11;
                TASK_RETURN(f);
        }
        if (f->zero_check != 0 || f->h != NULL || f->exit_code != 0) {
                f->exit_code = 12;
                TASK_RETURN(f);
        }
        if (pthread_equal(pthread_self(), main_thread)) {
                f->exit_code = 13;
                TASK_RETURN(f);
        }
        {
                struct child c = {.in = 41};
                if (TASK_SPAWN(task_cx_runtime(cx), child, &c, &f->h) != 0) {
                        f->exit_code = 14;
                        TASK_RETURN(f);
                }
        }
        TASK_JOIN(f, f->h, &f->rc);
        if (f->rc != 0 || ((struct child *)task_handle_frame(f->h))->out != 42)
                f->exit_code = 15;
        task_handle_release(f->h);
        f->h = NULL;
        TASK_END(f);
}

TASK_MAIN(app, struct app)
