/*
 * redis_async.c - the async client: connect, SET with an expiry, GET it
 * back, INCR, and a command the server refuses (an error reply is a
 * value, not a failure).  Every call is one TASK_REDIS_CMD: an argv of
 * binary-safe strings in, a reply value out.
 * Usage: redis_async [host:port | redis://... | /path.sock]
 */
#include <libtask/redis.h>
#include <libtask/task.h>

#include <stdio.h>

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS;
        task_redis *c;
        struct task_redis_op op;
        struct task_redis_value *v;
        int i, rc;
};

/* The commands to run, one per row (NULL-terminated). */
static const char *const cmds[][6] = {
    {"SET", "greeting", "hello", "EX", "60", NULL},
    {"GET", "greeting", NULL},
    {"INCR", "visits", NULL},
    {"INCR", "greeting", NULL}, /* not a number: an error reply */
};

static int argc_of(const char *const *argv)
{
        int n = 0;

        while (argv[n])
                n++;
        return n;
}

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;
        const char *addr = f->argc > 1 ? f->argv[1] : "127.0.0.1:6379";
        struct task_redis_opts o;

        TASK_BEGIN(f);
        f->exit_code = 1;
        task_redis_opts_init(&o);
        o.command_timeout_ns = TASK_SEC(5); /* a stalled server: -ETIMEDOUT */
        TASK_REDIS_CONNECT(f, addr, &o, &f->op, &f->c, &f->rc);
        if (f->rc < 0) {
                fprintf(stderr, "%s: %s\n", addr, task_strerror(f->rc));
                TASK_RETURN(f);
        }
        for (f->i = 0; f->i < 4; f->i++) {
                TASK_REDIS_CMD(f, f->c, &f->op, argc_of(cmds[f->i]), cmds[f->i],
                               NULL, &f->v, &f->rc);
                if (f->rc < 0) { /* the connection failed, not the command */
                        fprintf(stderr, "%s: %s\n", cmds[f->i][0],
                                task_strerror(f->rc));
                        TASK_RETURN(f);
                }
                if (f->v->type == TASK_REDIS_INTEGER)
                        printf("%s -> %lld\n", cmds[f->i][0],
                               (long long)f->v->integer);
                else
                        printf("%s -> %s \"%s\"\n", cmds[f->i][0],
                               task_redis_type_name(f->v->type),
                               f->v->str ? f->v->str : "");
                task_redis_value_free(f->v);
        }
        f->exit_code = 0;
        TASK_CLEANUP(f);
        task_redis_close(f->c); /* NULL is fine */
        TASK_END(f);
}

TASK_MAIN(app, struct app)
