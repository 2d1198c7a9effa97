/*
 * hello.c - spawn a task from a task, join it, and read its result from its
 * frame.  A task returns results through its frame: the join handle keeps
 * the frame readable (task_handle_frame()) until it is released.
 */
#include <libtask/task.h>

#include <stdio.h>

/* The child's frame: its input and its output both live here. */
struct sum {
        TASK_FRAME;
        int n;       /* in */
        long result; /* out */
};

static int sum(struct task_cx *cx, void *arg)
{
        struct sum *f = arg;
        long acc = 0; /* a local: fine, there is no suspension point below */

        TASK_BEGIN(f);
        for (int i = 1; i <= f->n; i++)
                acc += i;
        f->result = acc;
        TASK_END(f);
}

struct hello {
        TASK_FRAME;
        task_handle *child; /* survives the TASK_JOIN, so it is in the frame */
        int rc;
        long result;
};

static int hello(struct task_cx *cx, void *arg)
{
        struct hello *f = arg;
        struct sum *child;

        TASK_BEGIN(f);
        printf("hello from task %llu\n", (unsigned long long)task_cx_id(cx));

        /* The initial frame is copied into the new task: a temporary is fine. */
        f->rc = TASK_SPAWN(task_cx_runtime(cx), sum, &(struct sum){.n = 100},
                           &f->child);
        if (f->rc < 0)
                TASK_RETURN(f);

        TASK_JOIN(f, f->child, &f->rc); /* f->rc: 0, or -ECANCELED */
        if (f->rc == 0) {
                child = task_handle_frame(f->child);
                f->result = child->result;
        }

        TASK_CLEANUP(f);
        task_handle_release(f->child); /* NULL (spawn failed) is ignored */
        TASK_END(f);
}

int main(void)
{
        struct hello frame = {0};
        task_runtime *rt;
        int rc;

        rc = task_runtime_new(NULL, &rt);
        if (rc < 0) {
                fprintf(stderr, "task_runtime_new: %s\n", task_strerror(rc));
                return 1;
        }

        /* Copies frame in, runs hello to completion, copies frame back. */
        rc = task_block_on(rt, hello, &frame, sizeof frame);
        if (rc == 0)
                rc = frame.rc;
        if (rc < 0)
                fprintf(stderr, "hello: %s\n", task_strerror(rc));
        else
                printf("1 + 2 + ... + 100 = %ld\n", frame.result);

        task_runtime_free(rt);
        return rc == 0 && frame.result == 5050 ? 0 : 1;
}
