/*
 * loop.c - loops around suspension points: four tasks count to 1000, each
 * yielding after every step so that they interleave, and a parent joins
 * them one by one in a loop.  The loop counters live in the frames.
 */
#include <libtask/task.h>

#include <stdio.h>

#define NTASKS 4
#define STEPS 1000

struct counter {
        TASK_FRAME;
        int i;     /* survives TASK_YIELD: in the frame */
        long done; /* out: how many steps were taken */
};

static int counter(struct task_cx *cx, void *arg)
{
        struct counter *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < STEPS; f->i++) {
                f->done++;
                TASK_YIELD(f); /* back of the run queue: others run now */
        }
        TASK_END(f);
}

struct parent {
        TASK_FRAME;
        task_handle *h[NTASKS];
        int i, rc;
        long total;
};

static int parent(struct task_cx *cx, void *arg)
{
        struct parent *f = arg;
        struct counter *c;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < NTASKS; f->i++) {
                f->rc = TASK_SPAWN(task_cx_runtime(cx), counter,
                                   &(struct counter){0}, &f->h[f->i]);
                if (f->rc < 0)
                        TASK_RETURN(f);
        }
        /* An await inside a loop: f->i, not a local, carries the index. */
        for (f->i = 0; f->i < NTASKS; f->i++) {
                TASK_JOIN(f, f->h[f->i], &f->rc);
                if (f->rc < 0)
                        TASK_RETURN(f);
                c = task_handle_frame(f->h[f->i]);
                f->total += c->done;
        }
        TASK_CLEANUP(f);
        for (int i = 0; i < NTASKS; i++)
                task_handle_release(f->h[i]);
        TASK_END(f);
}

int main(void)
{
        struct parent frame = {0};
        task_runtime *rt;
        int rc;

        rc = task_runtime_new(NULL, &rt);
        if (rc < 0) {
                fprintf(stderr, "task_runtime_new: %s\n", task_strerror(rc));
                return 1;
        }
        rc = task_block_on(rt, parent, &frame, sizeof frame);
        if (rc == 0)
                rc = frame.rc;
        if (rc < 0)
                fprintf(stderr, "loop: %s\n", task_strerror(rc));
        else
                printf("%d tasks took %ld steps in all\n", NTASKS, frame.total);
        task_runtime_free(rt);
        return rc == 0 && frame.total == (long)NTASKS * STEPS ? 0 : 1;
}
