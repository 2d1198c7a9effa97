/*
 * stall.c - the stall detector.  With opts.stall_threshold_ns set, a
 * monitor thread reports any task that holds a worker longer than the
 * threshold without suspending: once per stall, with its id, its spawn site
 * and the last place it suspended.  Here a task busy-waits (what a blocking
 * call inside a task looks like) until it has been reported.
 */
#include <libtask/task.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static atomic_int reported;

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs on the monitor thread. */
static void on_stall(const struct task_info *ti, uint64_t held_ns, void *arg)
{
        (void)arg;
        printf("stall: task %llu has held its worker for %.1f ms; spawned at "
               "%s:%d, last suspended at %s:%d\n",
               (unsigned long long)ti->id, held_ns / 1e6,
               ti->spawn ? ti->spawn->file : "?",
               ti->spawn ? ti->spawn->line : 0,
               ti->suspend ? ti->suspend->file : "?",
               ti->suspend ? ti->suspend->line : 0);
        atomic_store(&reported, 1);
}

struct hog {
        TASK_FRAME;
};

static int hog(struct task_cx *cx, void *arg)
{
        struct hog *f = arg;
        double until;

        TASK_BEGIN(f);
        TASK_YIELD(f); /* the last suspension point the report will show */
        /* Wrong in real code: this blocks the worker.  Give up after 5 s. */
        until = now_s() + 5;
        while (!atomic_load(&reported) && now_s() < until)
                ;
        TASK_END(f);
}

int main(void)
{
        struct task_runtime_opts opts;
        task_runtime *rt;
        task_handle *h;
        int rc;

        task_runtime_opts_init(&opts);
        opts.stall_threshold_ns = 20 * 1000000; /* 20 ms */
        opts.on_stall = on_stall;
        rc = task_runtime_new(&opts, &rt);
        if (rc < 0) {
                fprintf(stderr, "task_runtime_new: %s\n", task_strerror(rc));
                return 1;
        }
        rc = TASK_SPAWN(rt, hog, &(struct hog){0}, &h);
        if (rc == 0) {
                rc = task_join_blocking(h);
                task_handle_release(h);
        }
        task_runtime_free(rt);
        return rc == 0 && atomic_load(&reported) ? 0 : 1;
}
