/*
 * redis_pool.c - a pool of at most 4 connections shared by 20 tasks: each
 * borrows one (waiting at most a second when all are busy), INCRs a
 * counter and gives it back.  The pool connects lazily and reuses idle
 * connections; a broken one is closed when put back, not reused.
 * Usage: redis_pool [HOST:PORT]   (default 127.0.0.1:6379)
 */
#include <libtask/redis.h>
#include <libtask/task.h>

#include <stdio.h>

#define TASKS 20

static task_redis_pool *pool;

struct job {
        TASK_FRAME;
        struct task_redis_pool_get get; /* the wait lives in the frame */
        struct task_redis_op op;
        task_redis *c;
        struct task_redis_value *v;
        int rc;
};

static int job(struct task_cx *cx, void *arg)
{
        struct job *f = arg;
        static const char *const incr[] = {"INCR", "example:pool"};

        TASK_BEGIN(f);
        TASK_REDIS_POOL_GET(f, pool, &f->get, TASK_SEC(1), &f->c, &f->rc);
        if (f->rc < 0) /* -ETIMEDOUT, -ECONNREFUSED, ... */
                TASK_RETURN(f);
        TASK_REDIS_CMD(f, f->c, &f->op, 2, incr, NULL, &f->v, &f->rc);
        TASK_CLEANUP(f);
        task_redis_value_free(f->v);
        if (f->c)
                task_redis_pool_put(pool, f->c); /* aborted or not */
        TASK_END(f);
}

int main(int argc, char **argv)
{
        const char *where = argc > 1 ? argv[1] : "127.0.0.1:6379";
        struct task_redis_pool_stats st;
        task_runtime *rt;
        task_handle *h[TASKS];
        int failed = 0, err = 0;

        if (task_runtime_new(NULL, &rt) < 0 ||
            task_redis_pool_new(where, NULL, 4, &pool) < 0)
                return 1;
        for (int i = 0; i < TASKS; i++)
                if (TASK_SPAWN(rt, job, &(struct job){0}, &h[i]) < 0)
                        return 1;
        for (int i = 0; i < TASKS; i++) {
                struct job *f = task_handle_frame(h[i]);

                task_join_blocking(h[i]);
                if (f->rc < 0) {
                        err = f->rc;
                        failed++;
                }
                task_handle_release(h[i]);
        }
        if (err < 0)
                fprintf(stderr, "%s: %s\n", where, task_strerror(err));
        task_redis_pool_stats(pool, &st);
        printf("%d jobs over %llu connections (%llu reuses)\n", TASKS - failed,
               (unsigned long long)st.connects, (unsigned long long)st.reuses);
        task_redis_pool_free(pool); /* every connection is back */
        task_runtime_free(rt);
        return failed ? 1 : 0;
}
