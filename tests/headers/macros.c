/*
 * headers/macros.c - every coroutine and sync macro of <libtask/task.h>
 * expands to strict C11 that compiles with -Wpedantic and no warnings
 * (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/task.h>

struct sub {
        TASK_FRAME;
        int n;
};

static int sub(struct task_cx *cx, void *arg)
{
        struct sub *f = arg;

        TASK_BEGIN(f);
        TASK_YIELD(f);
        if (f->n)
                TASK_RETURN(f);
        TASK_END(f);
}

struct top {
        TASK_FRAME;
        struct sub s;
        task_handle *h;
        int rc;
        struct task_sem *sem;
        struct task_sem_acquire a, b;
        struct task_select sel;
};

static int top(struct task_cx *cx, void *arg)
{
        struct top *f = arg;

        TASK_BEGIN(f);
        TASK_AWAIT(f, task_coop_proceed(cx));
        TASK_AWAIT_CO(f, sub, &f->s);
        if (TASK_SPAWN(task_cx_runtime(cx), sub, &f->s, &f->h) == 0) {
                TASK_JOIN(f, f->h, &f->rc);
                TASK_SELECT(f, &f->sel,
                            task_sem_acquire_poll(cx, f->sem, 1, &f->a, &f->rc),
                            task_join_poll(cx, f->h, &f->rc));
                TASK_JOIN_ALL(
                    f, &f->sel,
                    task_sem_acquire_poll(cx, f->sem, 1, &f->a, &f->rc),
                    task_sem_acquire_poll(cx, f->sem, 2, &f->b, &f->rc),
                    task_join_poll(cx, f->h, &f->rc));
                TASK_SEM_ACQUIRE(f, f->sem, 1, &f->a, &f->rc);
                task_handle_release(f->h);
        }
        TASK_CLEANUP(f);
        f->rc = 0;
        TASK_END(f);
}

/* One coroutine that expands every sync macro once. */
struct all_sync {
        TASK_FRAME;
        int rc;
        bool leader;
        uint64_t missed, v;
        size_t n;
        struct task_mutex *m;
        struct task_rwlock *rw;
        struct task_notify *nt;
        struct task_barrier *b;
        task_oneshot_tx *otx;
        task_oneshot_rx *orx;
        task_mpsc_tx *mtx;
        task_mpsc_rx *mrx;
        task_broadcast_rx *brx;
        task_watch_rx *wrx;
        task_joinset *set;
        task_handle *h;
        struct task_mutex_lock lk;
        struct task_rwlock_read rd;
        struct task_rwlock_write wr;
        struct task_notified nd;
        struct task_barrier_wait bw;
        struct task_oneshot_recv orv;
        struct task_oneshot_closed ocl;
        struct task_mpsc_send ms;
        struct task_mpsc_recv mr;
        struct task_broadcast_recv br;
        struct task_watch_changed wc;
        uint64_t buf[4];
};

static int all_sync(struct task_cx *cx, void *arg)
{
        struct all_sync *f = arg;

        TASK_BEGIN(f);
        TASK_MUTEX_LOCK(f, f->m, &f->lk, &f->rc);
        TASK_RWLOCK_READ(f, f->rw, &f->rd, &f->rc);
        TASK_RWLOCK_WRITE(f, f->rw, &f->wr, &f->rc);
        TASK_NOTIFIED(f, f->nt, &f->nd);
        TASK_BARRIER_WAIT(f, f->b, &f->bw, &f->leader, &f->rc);
        TASK_ONESHOT_RECV(f, f->orx, &f->orv, &f->v, &f->rc);
        TASK_ONESHOT_CLOSED(f, f->otx, &f->ocl, &f->rc);
        TASK_MPSC_SEND(f, f->mtx, &f->ms, &f->v, &f->rc);
        TASK_MPSC_RECV(f, f->mrx, &f->mr, &f->v, &f->rc);
        TASK_MPSC_RECV_MANY(f, f->mrx, &f->mr, f->buf, 4, &f->n, &f->rc);
        TASK_BROADCAST_RECV(f, f->brx, &f->br, &f->v, &f->missed, &f->rc);
        TASK_WATCH_CHANGED(f, f->wrx, &f->wc, &f->rc);
        f->rc = TASK_JOINSET_SPAWN(f->set, task_cx_runtime(cx), all_sync,
                                   &(struct all_sync){0});
        TASK_JOINSET_JOIN_NEXT(f, f->set, &f->h, &f->rc);
        TASK_END(f);
}

/* Referenced, so that the coroutines are not unused statics. */
task_fn libtask_macro_check(int which);
task_fn libtask_macro_check(int which)
{
        return which == 0 ? top : which == 1 ? all_sync : sub;
}
