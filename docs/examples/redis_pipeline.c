/*
 * redis_pipeline.c - pipelining: queue 1,000 SETs and a GET with
 * task_redis_append (no I/O), send them all in one write with
 * TASK_REDIS_FLUSH, then read the replies back in order with
 * TASK_REDIS_REPLY.  One round trip instead of 1,001.
 * Usage: redis_pipeline [host:port]
 */
#include <libtask/redis.h>
#include <libtask/task.h>

#include <stdio.h>
#include <string.h>

#define N 1000

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS;
        task_redis *c;
        struct task_redis_op op;
        struct task_redis_value *v;
        int i, ok, rc;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;
        const char *addr = f->argc > 1 ? f->argv[1] : "127.0.0.1:6379";
        char key[32], val[32];

        TASK_BEGIN(f);
        f->exit_code = 1;
        TASK_REDIS_CONNECT(f, addr, NULL, &f->op, &f->c, &f->rc);
        if (f->rc < 0) {
                fprintf(stderr, "%s: %s\n", addr, task_strerror(f->rc));
                TASK_RETURN(f);
        }
        for (int i = 0; i < N; i++) { /* copied: locals are fine */
                snprintf(key, sizeof key, "pipe:%d", i);
                snprintf(val, sizeof val, "%d", i * i);
                task_redis_append(f->c, 3, (const char *[]){"SET", key, val},
                                  NULL);
        }
        task_redis_append(f->c, 2, (const char *[]){"GET", "pipe:7"}, NULL);
        TASK_REDIS_FLUSH(f, f->c, &f->op, &f->rc); /* one write */
        while (f->rc == 0 && task_redis_pending(f->c) > 0) {
                TASK_REDIS_REPLY(f, f->c, &f->op, &f->v, &f->rc);
                if (f->rc < 0)
                        break;
                if (f->v->type == TASK_REDIS_STATUS)
                        f->ok++;
                else if (f->v->type == TASK_REDIS_STRING)
                        printf("GET pipe:7 -> %s\n", f->v->str);
                task_redis_value_free(f->v);
        }
        if (f->rc < 0)
                fprintf(stderr, "%s: %s\n", addr, task_strerror(f->rc));
        printf("%d of %d SETs answered OK\n", f->ok, N);
        f->exit_code = f->rc < 0 || f->ok != N;
        TASK_CLEANUP(f);
        task_redis_close(f->c);
        TASK_END(f);
}

TASK_MAIN(app, struct app)
