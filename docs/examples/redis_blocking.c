/*
 * redis_blocking.c - the Redis client from plain synchronous C: no tasks,
 * no runtime to set up.  Every call blocks until its reply is in.
 *
 *     redis_blocking [host:port]        (default 127.0.0.1:6379)
 */
#include <libtask/redis.h>

#include <stdio.h>

int main(int argc, char **argv)
{
        const char *where = argc > 1 ? argv[1] : "127.0.0.1:6379";
        static const char *const set[] = {"SET", "greeting", "hello"};
        static const char *const incr[] = {"INCR", "hits"};
        struct task_redis_value *v;
        task_redis_blocking *r;
        int64_t hits = 0;
        int rc;

        rc = task_redis_blocking_connect(where, NULL, &r);
        if (rc < 0) {
                fprintf(stderr, "connect %s: %s\n", where, task_strerror(rc));
                return 1;
        }

        /* Any command, binary-safe; the reply is a value tree, and a
         * server error is a value too, not a failure. */
        rc = task_redis_blocking_cmd(r, 3, set, NULL, &v);
        if (rc < 0)
                goto out;
        if (v->type == TASK_REDIS_ERROR)
                fprintf(stderr, "SET: %s\n", v->str);
        task_redis_value_free(v);

        /* Typed helpers: GET hands over the reply (NULL: no such key). */
        rc = task_redis_blocking_get(r, "greeting", 8, &v);
        if (rc < 0)
                goto out;
        if (v)
                printf("greeting = %.*s\n", (int)v->len, v->str);
        task_redis_value_free(v);

        /* Pipelining: queue 100 commands, one write, 100 replies in order. */
        for (int i = 0; i < 100 && rc == 0; i++)
                rc = task_redis_blocking_append(r, 2, incr, NULL);
        if (rc == 0)
                rc = task_redis_blocking_flush(r);
        while (rc == 0 && task_redis_blocking_pending(r) > 0) {
                rc = task_redis_blocking_reply(r, &v);
                if (rc == 0 && v->type == TASK_REDIS_INTEGER)
                        hits = v->integer;
                task_redis_value_free(v);
        }
        if (rc == 0)
                printf("hits = %lld\n", (long long)hits);
out:
        if (rc < 0)
                fprintf(stderr, "redis: %s\n", task_strerror(rc));
        task_redis_blocking_close(r);
        return rc < 0;
}
