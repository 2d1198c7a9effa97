/*
 * sync_semaphore.c - cap concurrency with a semaphore: 12 jobs, at most 3
 * running at a time, the way a server caps its connections.  Each job
 * acquires a permit, works across a few suspensions and gives the permit
 * back (in its cleanup, so that an aborted job gives it back too).  Closing
 * the semaphore turns away everyone still waiting, and every later acquire,
 * with -EPIPE.
 */
#include <libtask/task.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#define JOBS 12
#define LIMIT 3

static struct task_sem slots;
static atomic_int running, peak;

/* Count one more job running, and keep the peak. */
static void enter(void)
{
        int now = atomic_fetch_add(&running, 1) + 1;
        int p = atomic_load(&peak);

        while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
                ;
}

struct job {
        TASK_FRAME;
        struct task_sem_acquire acq; /* the wait lives in the frame */
        int rc;
        bool holding;
        int step;
};

static int job(struct task_cx *cx, void *arg)
{
        struct job *f = arg;

        TASK_BEGIN(f);
        TASK_SEM_ACQUIRE(f, &slots, 1, &f->acq, &f->rc);
        if (f->rc < 0) /* -EPIPE: closed while we waited */
                TASK_RETURN(f);
        f->holding = true;
        enter();
        for (f->step = 0; f->step < 3; f->step++)
                TASK_YIELD(f); /* "work", holding the permit */
        atomic_fetch_sub(&running, 1);
        TASK_CLEANUP(f);
        if (f->holding)
                task_sem_release(&slots, 1); /* the guard's drop */
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        task_handle *h[JOBS];
        int rc, ok = 1;

        if (task_runtime_new(NULL, &rt) < 0 || task_sem_init(&slots, LIMIT) < 0)
                return 1;
        for (int i = 0; i < JOBS; i++)
                if (TASK_SPAWN(rt, job, &(struct job){0}, &h[i]) < 0)
                        return 1;
        for (int i = 0; i < JOBS; i++) {
                struct job *f = task_handle_frame(h[i]);

                rc = task_join_blocking(h[i]);
                ok &= rc == 0 && f->rc == 0;
                task_handle_release(h[i]);
        }
        printf("%d jobs, at most %d at once (limit %d), %llu permits back\n",
               JOBS, atomic_load(&peak), LIMIT,
               (unsigned long long)task_sem_available(&slots));
        ok &=
            atomic_load(&peak) <= LIMIT && task_sem_available(&slots) == LIMIT;

        /* Closed: acquires fail (the permits stay, releases still work). */
        task_sem_close(&slots);
        rc = task_sem_try_acquire(&slots, 1);
        printf("after close: try_acquire: %s\n", task_strerror(rc));
        ok &= rc == -EPIPE;

        ok &= task_sem_destroy(&slots) == 0 && task_runtime_free(rt) == 0;
        return ok ? 0 : 1;
}
