/*
 * nested.c - sub-coroutines embedded in the caller's frame.
 *
 * fib() is a coroutine that computes a Fibonacci number and yields every
 * few steps (a long computation that stays cooperative).  fib_pair() awaits
 * it twice, and the task awaits fib_pair(): three levels, one task, one
 * allocation, because each sub-coroutine's frame is a member of its caller's
 * frame.  A sub-coroutine's suspensions are the task's suspensions.
 */
#include <libtask/task.h>

#include <stdio.h>

struct fib {
        TASK_FRAME;
        int n;       /* in */
        long a, b;   /* state */
        int i;       /* state */
        long result; /* out */
};

static int fib(struct task_cx *cx, void *arg)
{
        struct fib *f = arg;
        long next; /* a local: set and used between two suspensions only */

        TASK_BEGIN(f);
        f->a = 0;
        f->b = 1;
        for (f->i = 0; f->i < f->n; f->i++) {
                next = f->a + f->b;
                f->a = f->b;
                f->b = next;
                if (f->i % 8 == 7)
                        TASK_YIELD(f);
        }
        f->result = f->a;
        TASK_END(f);
}

struct fib_pair {
        TASK_FRAME;
        int n1, n2;     /* in */
        struct fib fib; /* the sub-coroutine's frame, embedded */
        long r1;        /* state */
        long sum;       /* out */
};

static int fib_pair(struct task_cx *cx, void *arg)
{
        struct fib_pair *f = arg;

        TASK_BEGIN(f);
        f->fib.n = f->n1;               /* set the inputs... */
        TASK_AWAIT_CO(f, fib, &f->fib); /* ...run it to completion... */
        f->r1 = f->fib.result;          /* ...read the outputs */

        f->fib.n = f->n2; /* the same frame again: TASK_AWAIT_CO restarts it */
        TASK_AWAIT_CO(f, fib, &f->fib);
        f->sum = f->r1 + f->fib.result;
        TASK_END(f);
}

struct app {
        TASK_FRAME;
        struct fib_pair pair;
        long sum;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;

        TASK_BEGIN(f);
        f->pair.n1 = 30;
        f->pair.n2 = 40;
        TASK_AWAIT_CO(f, fib_pair, &f->pair);
        f->sum = f->pair.sum;
        TASK_END(f);
}

int main(void)
{
        struct app frame = {0};
        task_runtime *rt;
        int rc;

        rc = task_runtime_new(NULL, &rt);
        if (rc < 0) {
                fprintf(stderr, "task_runtime_new: %s\n", task_strerror(rc));
                return 1;
        }
        rc = task_block_on(rt, app, &frame, sizeof frame);
        task_runtime_free(rt);
        if (rc < 0) {
                fprintf(stderr, "task_block_on: %s\n", task_strerror(rc));
                return 1;
        }
        printf("fib(30) + fib(40) = %ld\n", frame.sum);
        return frame.sum == 832040L + 102334155L ? 0 : 1;
}
