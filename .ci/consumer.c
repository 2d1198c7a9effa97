/*
 * consumer.c - a program that uses an *installed* libtask the way a user
 * would: `#include <libtask/task.h>` and `pkg-config --cflags --libs
 * libtask`.  .ci/run builds it against a freshly installed prefix, linked
 * both dynamically and statically, and runs it.  It prints "ok" and exits 0
 * when everything worked.
 *
 * It exercises the public API end to end on both runtime flavours:
 * spawning from outside the runtime and joining with task_join_blocking(),
 * and task_block_on() of a task that spawns children itself and awaits
 * them with TASK_JOIN.  Every child is a coroutine that yields a few times.
 */
#include <libtask/task.h>

#include <stdio.h>
#include <stdlib.h>

#define NCHILD 4

/* A child: sums 0..n-1, yielding after every step. */
struct counter {
        TASK_FRAME;
        int n;   /* input */
        int i;   /* loop state, kept in the frame across yields */
        int sum; /* output */
};

static int counter(struct task_cx *cx, void *arg)
{
        struct counter *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                f->sum += f->i;
                TASK_YIELD(f);
        }
        TASK_END(f);
}

static int expected_sum(int n)
{
        return n * (n - 1) / 2;
}

/* The parent: spawns NCHILD counters from inside the runtime, joins them. */
struct parent {
        TASK_FRAME;
        task_handle *h[NCHILD];
        int rc[NCHILD];
        int spawned; /* how many h[] are valid */
        int k;
        int err;   /* output: first spawn error, or 0 */
        int wrong; /* output: children that returned a wrong sum */
};

static int parent(struct task_cx *cx, void *arg)
{
        struct parent *f = arg;

        TASK_BEGIN(f);
        for (f->k = 0; f->k < NCHILD; f->k++) {
                struct counter c = {.n = 10 + f->k};
                int rc =
                    TASK_SPAWN(task_cx_runtime(cx), counter, &c, &f->h[f->k]);

                if (rc < 0) {
                        f->err = rc;
                        break;
                }
                f->spawned++;
        }
        for (f->k = 0; f->k < f->spawned; f->k++)
                TASK_JOIN(f, f->h[f->k], &f->rc[f->k]);
        for (f->k = 0; f->k < f->spawned; f->k++) {
                struct counter *c = task_handle_frame(f->h[f->k]);

                if (f->rc[f->k] != 0 || c->sum != expected_sum(10 + f->k))
                        f->wrong++;
                task_handle_release(f->h[f->k]);
        }
        TASK_END(f);
}

static int check(const char *what, int rc)
{
        if (rc < 0)
                fprintf(stderr, "consumer: %s: %s\n", what, task_strerror(rc));
        return rc;
}

/* Spawn from this (non-worker) thread and wait with task_join_blocking(). */
static int spawn_from_outside(task_runtime *rt)
{
        task_handle *h[NCHILD];
        int i, n, rc = 0, wrong = 0;

        for (n = 0; n < NCHILD; n++) {
                struct counter c = {.n = 20 + n};

                rc = check("task_spawn", TASK_SPAWN(rt, counter, &c, &h[n]));
                if (rc < 0)
                        goto out_release;
        }
        for (i = 0; i < n; i++) {
                struct counter *c;

                rc = check("task_join_blocking", task_join_blocking(h[i]));
                if (rc < 0)
                        goto out_release;
                c = task_handle_frame(h[i]);
                if (c->sum != expected_sum(20 + i))
                        wrong++;
        }
        if (wrong) {
                fprintf(stderr, "consumer: %d wrong sums\n", wrong);
                rc = -1;
        }
out_release:
        while (n-- > 0)
                task_handle_release(h[n]);
        return rc;
}

static int run(enum task_flavor flavor)
{
        struct task_runtime_opts opts;
        struct parent p = {0};
        task_runtime *rt;
        int rc;

        task_runtime_opts_init(&opts);
        opts.flavor = flavor;
        opts.workers = 2;
        rc = check("task_runtime_new", task_runtime_new(&opts, &rt));
        if (rc < 0)
                return rc;

        /* A current-thread runtime only runs tasks inside task_block_on(). */
        if (flavor == TASK_MULTI_THREAD) {
                rc = spawn_from_outside(rt);
                if (rc < 0)
                        goto out_free;
        }

        rc = check("task_block_on", task_block_on(rt, parent, &p, sizeof p));
        if (rc < 0)
                goto out_free;
        if (p.err < 0 || p.wrong) {
                fprintf(stderr, "consumer: spawn error %d, %d wrong sums\n",
                        p.err, p.wrong);
                rc = -1;
        }

out_free:
        if (check("task_runtime_free", task_runtime_free(rt)) < 0)
                rc = -1;
        return rc;
}

int main(void)
{
        if (run(TASK_MULTI_THREAD) < 0 || run(TASK_CURRENT_THREAD) < 0)
                return EXIT_FAILURE;
        printf("ok\n");
        return EXIT_SUCCESS;
}
