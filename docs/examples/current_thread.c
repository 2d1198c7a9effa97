/*
 * current_thread.c - the current-thread flavor: no worker threads.  Tasks
 * run on the thread that calls task_block_on(), and only while it does;
 * tasks spawned from outside wait in the global queue until then.
 */
#include <libtask/task.h>

#include <pthread.h>
#include <stdio.h>

#define NTASKS 3

static pthread_t main_thread;

struct job {
        TASK_FRAME;
        int i;
        int on_main_thread; /* out */
};

static int job(struct task_cx *cx, void *arg)
{
        struct job *f = arg;

        TASK_BEGIN(f);
        f->on_main_thread = pthread_equal(pthread_self(), main_thread);
        for (f->i = 0; f->i < 3; f->i++)
                TASK_YIELD(f); /* lets the other jobs run on this thread */
        TASK_END(f);
}

/* The task main() blocks on: it joins the jobs spawned from outside. */
struct joiner {
        TASK_FRAME;
        task_handle **h; /* in: NTASKS handles, still owned by main() */
        int i, rc, failed;
};

static int joiner(struct task_cx *cx, void *arg)
{
        struct joiner *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < NTASKS; f->i++) {
                TASK_JOIN(f, f->h[f->i], &f->rc);
                f->failed += f->rc != 0;
        }
        TASK_END(f);
}

int main(void)
{
        struct task_runtime_opts opts;
        task_handle *h[NTASKS] = {0};
        struct joiner j = {.h = h};
        int rc, i, ok, ran_early = 0, on_main = 0;
        task_runtime *rt;

        main_thread = pthread_self();
        task_runtime_opts_init(&opts);
        opts.flavor = TASK_CURRENT_THREAD;
        rc = task_runtime_new(&opts, &rt);
        if (rc < 0) {
                fprintf(stderr, "task_runtime_new: %s\n", task_strerror(rc));
                return 1;
        }

        for (i = 0; i < NTASKS && rc == 0; i++)
                rc = TASK_SPAWN(rt, job, &(struct job){0}, &h[i]);
        if (rc < 0)
                goto out;
        /* Nothing runs them yet: there is no worker thread. */
        for (i = 0; i < NTASKS; i++)
                ran_early += task_handle_finished(h[i]);

        /* Now this thread runs the scheduler until joiner() finishes. */
        rc = task_block_on(rt, joiner, &j, sizeof j);
        for (i = 0; i < NTASKS && rc == 0; i++) {
                struct job *done = task_handle_frame(h[i]);

                on_main += done->on_main_thread;
        }
        printf("%d/%d jobs ran before block_on; %d/%d ran on the main thread\n",
               ran_early, NTASKS, on_main, NTASKS);
out:
        for (i = 0; i < NTASKS; i++)
                task_handle_release(h[i]);
        if (rc < 0)
                fprintf(stderr, "current_thread: %s\n", task_strerror(rc));
        task_runtime_free(rt);
        ok = rc == 0 && ran_early == 0 && on_main == NTASKS && !j.failed;
        return ok ? 0 : 1;
}
