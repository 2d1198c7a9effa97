/*
 * redis_buffered.c - many tasks, one connection: 100 tasks each SET and
 * GET their own key through one buffered client.  Their commands are
 * coalesced into a few writes; every task gets its own replies.
 * Usage: redis_buffered [HOST:PORT]   (default 127.0.0.1:6379)
 */
#include <libtask/redis.h>
#include <libtask/task.h>

#include <stdio.h>
#include <string.h>

#define TASKS 100

struct user {
        TASK_FRAME;
        task_redis_buffered *b;
        struct task_redis_call call; /* the call's state: no allocation */
        struct task_redis_value *v;
        char key[32];
        int id, rc, ok;
};

static int user(struct task_cx *cx, void *arg)
{
        struct user *f = arg;
        /* Rebuilt on every poll; the call copies them at its first. */
        const char *set[] = {"SET", f->key, f->key};
        const char *get[] = {"GET", f->key};

        TASK_BEGIN(f);
        snprintf(f->key, sizeof f->key, "example:%d", f->id);
        TASK_REDIS_BUFFERED_CMD(f, f->b, &f->call, 3, set, NULL, &f->v, &f->rc);
        task_redis_value_free(f->v); /* +OK (or an error value) */
        if (f->rc < 0)
                TASK_RETURN(f);
        TASK_REDIS_BUFFERED_CMD(f, f->b, &f->call, 2, get, NULL, &f->v, &f->rc);
        f->ok = f->rc == 0 && f->v->type == TASK_REDIS_STRING &&
                strcmp(f->v->str, f->key) == 0; /* our own value back */
        task_redis_value_free(f->v);
        TASK_END(f);
}

int main(int argc, char **argv)
{
        const char *where = argc > 1 ? argv[1] : "127.0.0.1:6379";
        struct task_redis_buffered_stats st;
        task_redis_buffered *b;
        task_runtime *rt;
        task_handle *h[TASKS];
        int ok = 0, rc = 0;

        if (task_runtime_new(NULL, &rt) < 0 ||
            task_redis_buffered_new(rt, where, NULL, &b) < 0)
                return 1;
        for (int i = 0; i < TASKS; i++) {
                struct user u = {.b = b, .id = i};

                if (TASK_SPAWN(rt, user, &u, &h[i]) < 0)
                        return 1;
        }
        for (int i = 0; i < TASKS; i++) {
                struct user *f = task_handle_frame(h[i]);

                task_join_blocking(h[i]);
                ok += f->ok;
                if (f->rc < 0)
                        rc = f->rc;
                task_handle_release(h[i]);
        }
        task_redis_buffered_stats(b, &st);
        printf("%d/%d own values back; %llu commands in %llu writes\n", ok,
               TASKS, (unsigned long long)st.commands,
               (unsigned long long)st.batches);
        if (rc < 0)
                fprintf(stderr, "%s: %s\n", where, task_strerror(rc));
        task_redis_buffered_close(b);
        task_runtime_free(rt);
        return ok == TASKS ? 0 : 1;
}
