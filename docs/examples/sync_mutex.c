/*
 * sync_mutex.c - shared state behind an asynchronous Mutex.
 *
 * Eight tasks update a shared "account" and keep the lock across a
 * suspension (which a pthread mutex must never do on a worker thread: it
 * would block every other task of that worker).  Waiters get the lock in
 * FIFO order.
 *
 * A ninth task takes the lock and is aborted while it holds it.  The lock
 * is not released by the abort itself: the task releases it in its
 * TASK_CLEANUP section, which is where a Rust MutexGuard living in the
 * future would be dropped.
 */
#include <libtask/task.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define TASKS 8
#define ROUNDS 1000

static struct task_mutex lock;
static long balance;    /* guarded by lock */
static long audit_seen; /* guarded by lock */
static atomic_bool stuck_holds;

struct depositor {
        TASK_FRAME;
        struct task_mutex_lock lk;
        int i;
        long before; /* lives across a suspension: in the frame */
};

static int depositor(struct task_cx *cx, void *arg)
{
        struct depositor *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < ROUNDS; f->i++) {
                TASK_MUTEX_LOCK(f, &lock, &f->lk, NULL);
                f->before = balance;
                if (f->i % 100 == 0)
                        TASK_YIELD(f); /* still holding the lock */
                balance = f->before + 1;
                task_mutex_unlock(&lock);
        }
        TASK_END(f);
}

/* Takes the lock, then waits for something that never happens. */
struct stuck {
        TASK_FRAME;
        struct task_mutex_lock lk;
        task_waker *w;
        bool locked;
};

static bool never(struct task_cx *cx, struct stuck *f)
{
        if (!f->w)
                f->w = task_cx_waker(cx);
        return false;
}

static int stuck(struct task_cx *cx, void *arg)
{
        struct stuck *f = arg;

        TASK_BEGIN(f);
        TASK_MUTEX_LOCK(f, &lock, &f->lk, NULL);
        f->locked = true;
        audit_seen = balance;
        atomic_store(&stuck_holds, true);
        TASK_AWAIT(f, never(cx, f)); /* aborted here, holding the lock */
        task_mutex_unlock(&lock);
        f->locked = false;
        TASK_CLEANUP(f);
        if (f->locked) /* the guard's drop */
                task_mutex_unlock(&lock);
        task_waker_drop(f->w);
        f->w = NULL;
        TASK_END(f);
}

int main(void)
{
        task_runtime *rt;
        task_handle *h[TASKS], *s;
        struct timespec ms = {0, 1000000};
        int ok = 1;

        if (task_runtime_new(NULL, &rt) < 0 || task_mutex_init(&lock) < 0)
                return 1;
        for (int i = 0; i < TASKS; i++)
                if (TASK_SPAWN(rt, depositor, &(struct depositor){0}, &h[i]))
                        return 1;
        if (TASK_SPAWN(rt, stuck, &(struct stuck){0}, &s) < 0)
                return 1;
        while (!atomic_load(&stuck_holds))
                nanosleep(&ms, NULL);
        task_abort(s); /* the depositors wait until its cleanup unlocks */
        ok &= task_join_blocking(s) == -ECANCELED;
        for (int i = 0; i < TASKS; i++) {
                ok &= task_join_blocking(h[i]) == 0;
                task_handle_release(h[i]);
        }
        task_handle_release(s);

        /* No task runs now: the main thread may take the lock itself. */
        ok &= task_mutex_lock_blocking(&lock) == 0;
        printf("balance %ld (expected %d); the aborted task saw %ld\n", balance,
               TASKS * ROUNDS, audit_seen);
        ok &= balance == TASKS * ROUNDS;
        ok &= task_mutex_unlock(&lock) == 0;
        ok &= task_mutex_unlock(&lock) == -EPERM; /* not locked: refused */

        ok &= task_mutex_destroy(&lock) == 0 && task_runtime_free(rt) == 0;
        return ok ? 0 : 1;
}
