/* blocking.c - run blocking code on the blocking pool and await it. */
#include <libtask/blocking.h>
#include <libtask/task.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Blocking work: it sleeps and crunches, and must not run on a worker. */
static void *slow_sum(void *arg)
{
        uint64_t n = (uintptr_t)arg, *sum = malloc(sizeof *sum);

        if (!sum)
                return NULL;
        usleep(10000); /* pretend: a slow disk, a C library that blocks */
        *sum = 0;
        for (uint64_t i = 1; i <= n; i++)
                *sum += i;
        return sum; /* the result: the awaiting task frees it */
}

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS;
        task_handle *h[4];
        int i, rc;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;

        TASK_BEGIN(f);
        /* Four jobs at once: each gets a pool thread. */
        for (f->i = 0; f->i < 4; f->i++) {
                f->rc = task_spawn_blocking(
                    cx->rt, slow_sum, (void *)(uintptr_t)(1000 * (f->i + 1)),
                    &f->h[f->i]);
                if (f->rc) {
                        fprintf(stderr, "spawn_blocking: %s\n",
                                task_strerror(f->rc));
                        f->exit_code = 1;
                        TASK_RETURN(f);
                }
        }
        for (f->i = 0; f->i < 4; f->i++) {
                TASK_JOIN(f, f->h[f->i], &f->rc);
                uint64_t *sum = task_blocking_result(f->h[f->i]);
                if (f->rc == 0 && sum)
                        printf("sum 1..%d = %llu\n", 1000 * (f->i + 1),
                               (unsigned long long)*sum);
                else
                        f->exit_code = 1;
                free(sum);
                task_handle_release(f->h[f->i]);
                f->h[f->i] = NULL;
        }
        TASK_CLEANUP(f);
        for (f->i = 0; f->i < 4; f->i++)
                task_handle_release(f->h[f->i]);
        TASK_END(f);
}

TASK_MAIN(app, struct app)
