/*
 * event.c - writing your own awaitable resource with wakers.
 *
 * A one-slot event: a plain pthread (not a task) sets it, a task awaits it.
 * The poll function follows the contract of TASK_AWAIT: return true when
 * ready; otherwise register a waker and return false.  The hard part is not
 * to lose a wake-up that races with the registration:
 *
 *   task                                  setter thread
 *   sees set == false (no lock)
 *                                         set = true; takes the lock, finds
 *                                         no waker, wakes nobody
 *   takes the lock, registers its waker,
 *   returns false: it sleeps forever      <- the lost wake-up
 *
 * The cure is to register, then check again: the task re-reads `set` under
 * the lock, after its waker is in place.  Either the setter took the lock
 * first (then its store to `set` is visible to the re-check), or the task
 * did (then the setter finds the waker).  Both cannot miss.
 */
#include <libtask/task.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

struct event {
        atomic_bool set;    /* written by event_set(), read lock-free */
        pthread_mutex_t mu; /* guards waiter */
        task_waker *waiter; /* the task to wake, or NULL; owned here */
};

static void event_init(struct event *ev)
{
        atomic_init(&ev->set, false);
        pthread_mutex_init(&ev->mu, NULL);
        ev->waiter = NULL;
}

/* Drop a waker still registered (the runtime cannot be freed until then). */
static void event_destroy(struct event *ev)
{
        task_waker_drop(ev->waiter);
        pthread_mutex_destroy(&ev->mu);
}

/* From any thread. */
static void event_set(struct event *ev)
{
        task_waker *w;

        /* Release: pairs with the acquire loads in event_poll(). */
        atomic_store_explicit(&ev->set, true, memory_order_release);
        pthread_mutex_lock(&ev->mu);
        w = ev->waiter;
        ev->waiter = NULL;
        pthread_mutex_unlock(&ev->mu);
        /* Wake outside the lock; task_wake() also drops the reference. */
        if (w != NULL)
                task_wake(w);
}

/* From a task: TASK_AWAIT(f, event_poll(cx, ev)). */
static bool event_poll(struct task_cx *cx, struct event *ev)
{
        bool ready;

        /*
         * The fast path: no lock when it is already set.  Being ready costs
         * one unit of the cooperative budget: with the budget spent,
         * task_coop_proceed() says "not ready" and the task yields.
         */
        if (atomic_load_explicit(&ev->set, memory_order_acquire))
                return task_coop_proceed(cx);

        pthread_mutex_lock(&ev->mu);
        /* 1. Register (once: a second poll by the same task keeps its waker). */
        if (ev->waiter != NULL && !task_waker_wakes(ev->waiter, cx)) {
                task_waker_drop(ev->waiter); /* one slot: the last task wins */
                ev->waiter = NULL;
        }
        if (ev->waiter == NULL)
                ev->waiter = task_cx_waker(cx);
        /* 2. Re-check, now that a setter cannot miss the waker. */
        ready = atomic_load_explicit(&ev->set, memory_order_acquire);
        pthread_mutex_unlock(&ev->mu);
        /* If ready, the waker stays registered: a spurious wake-up is harmless. */
        return ready;
}

struct waiter {
        TASK_FRAME;
        struct event *ev; /* in */
        int woken;        /* out */
};

static int waiter(struct task_cx *cx, void *arg)
{
        struct waiter *f = arg;

        TASK_BEGIN(f);
        TASK_AWAIT(f, event_poll(cx, f->ev));
        f->woken = 1;
        TASK_END(f);
}

static void *setter(void *arg)
{
        struct timespec ms = {0, 10 * 1000000};

        nanosleep(&ms, NULL); /* let the task go to sleep first */
        event_set(arg);
        return NULL;
}

int main(void)
{
        struct event ev;
        task_runtime *rt;
        task_handle *h;
        pthread_t thread;
        int rc, woken = 0;

        event_init(&ev);
        rc = task_runtime_new(NULL, &rt);
        if (rc < 0) {
                fprintf(stderr, "task_runtime_new: %s\n", task_strerror(rc));
                return 1;
        }
        rc = TASK_SPAWN(rt, waiter, &(struct waiter){.ev = &ev}, &h);
        if (rc == 0 && pthread_create(&thread, NULL, setter, &ev) != 0) {
                event_set(&ev); /* no thread: set it from here */
                thread = pthread_self();
        }
        if (rc == 0) {
                rc = task_join_blocking(h);
                if (!pthread_equal(thread, pthread_self()))
                        pthread_join(thread, NULL);
                woken = ((struct waiter *)task_handle_frame(h))->woken;
                task_handle_release(h);
        }
        printf("join: %d, woken: %d\n", rc, woken);
        event_destroy(&ev); /* before the runtime: it may hold a waker */
        task_runtime_free(rt);
        return rc == 0 && woken ? 0 : 1;
}
