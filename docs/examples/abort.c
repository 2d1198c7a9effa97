/*
 * abort.c - cancelling tasks.  task_abort() makes the task's next poll a
 * cancelling poll: the task resumes where it is suspended, the awaited
 * sub-coroutine's cleanup runs first, then the task's own, and joining the
 * task reports -ECANCELED.  Cleanups are where a task gives back what it
 * holds: here a buffer and a waker (a waker left behind would make
 * task_runtime_free() fail with -EBUSY).  Shutting the runtime down cancels
 * every task still alive in the same way.
 */
#include <libtask/task.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int waiting; /* 1 once a job has reached its wait */
static char cleanups[64];  /* written by cleanups, read after the join */

static void note(const char *what)
{
        strncat(cleanups, what, sizeof cleanups - strlen(cleanups) - 1);
}

/* A sub-coroutine that takes a buffer, then waits for a wake-up that never
 * comes. */
struct wait_forever {
        TASK_FRAME;
        char *buf;
        task_waker *waker;
};

/* Like a real resource: arrange to be woken, report "not ready". */
static bool never_ready(struct task_cx *cx, struct wait_forever *f)
{
        if (f->waker == NULL)
                f->waker = task_cx_waker(cx);
        return false;
}

static int wait_forever(struct task_cx *cx, void *arg)
{
        struct wait_forever *f = arg;

        TASK_BEGIN(f);
        f->buf = malloc(4096);
        atomic_store(&waiting, 1);
        TASK_AWAIT(f, never_ready(cx, f));
        TASK_CLEANUP(f);
        /* Runs first on abort: give back what this coroutine holds. */
        free(f->buf);
        f->buf = NULL;
        task_waker_drop(f->waker); /* NULL is ignored */
        f->waker = NULL;
        note("inner ");
        TASK_END(f);
}

struct job {
        TASK_FRAME;
        struct wait_forever wait;
        int finished; /* never set: the wait never ends */
};

static int job(struct task_cx *cx, void *arg)
{
        struct job *f = arg;

        TASK_BEGIN(f);
        TASK_AWAIT_CO(f, wait_forever, &f->wait);
        f->finished = 1;
        TASK_CLEANUP(f);
        note("outer");
        TASK_END(f);
}

struct quick {
        TASK_FRAME;
        int value;
};

static int quick(struct task_cx *cx, void *arg)
{
        struct quick *f = arg;

        TASK_BEGIN(f);
        f->value = 42;
        TASK_END(f);
}

static void wait_until_waiting(void)
{
        struct timespec ms = {0, 1000000};

        while (!atomic_exchange(&waiting, 0))
                nanosleep(&ms, NULL);
}

/*
 * Spawn a job, wait until it waits, then cancel it: with task_abort(), or by
 * shutting the whole runtime down.  Returns 0 if it went as documented.
 */
static int cancel_job(task_runtime *rt, bool shutdown)
{
        task_handle *h;
        struct job *f;
        int rc, ok;

        cleanups[0] = '\0';
        rc = TASK_SPAWN(rt, job, &(struct job){0}, &h);
        if (rc < 0)
                return rc;
        wait_until_waiting();
        if (shutdown)
                rc = task_runtime_shutdown(rt); /* cleanups run right here */
        else
                task_abort(h);
        if (rc == 0)
                rc = task_join_blocking(h); /* -ECANCELED */
        f = task_handle_frame(h);
        printf("%s: join: %s; cleanups: %s\n", shutdown ? "shutdown" : "abort",
               task_strerror(rc), cleanups);
        ok = rc == -ECANCELED && !f->finished && f->wait.buf == NULL &&
             strcmp(cleanups, "inner outer") == 0;
        task_handle_release(h);
        return ok ? 0 : -1;
}

int main(void)
{
        task_runtime *rt;
        task_handle *h;
        int rc, fails = 0;

        rc = task_runtime_new(NULL, &rt);
        if (rc < 0) {
                fprintf(stderr, "task_runtime_new: %s\n", task_strerror(rc));
                return 1;
        }

        /* 1. Abort a suspended task. */
        fails += cancel_job(rt, false) != 0;

        /* 2. Abort a task that has already finished: nothing happens. */
        rc = TASK_SPAWN(rt, quick, &(struct quick){0}, &h);
        if (rc == 0) {
                rc = task_join_blocking(h);
                task_abort(h);
                if (rc == 0)
                        rc = task_join_blocking(h); /* still 0 */
                printf("abort after the end: join %d, value %d\n", rc,
                       ((struct quick *)task_handle_frame(h))->value);
                task_handle_release(h);
        }
        fails += rc != 0;

        /* 3. Shut the runtime down under a suspended task. */
        fails += cancel_job(rt, true) != 0;

        /* No handle or waker is left, so the runtime can be freed. */
        rc = task_runtime_free(rt);
        if (rc < 0)
                fprintf(stderr, "task_runtime_free: %s\n", task_strerror(rc));
        return fails == 0 && rc == 0 ? 0 : 1;
}
