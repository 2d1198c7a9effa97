/*
 * redis_subscriber.c - pub/sub in one program: a subscriber (a channel and
 * a pattern) prints what a publisher task sends, until "bye".
 * Usage: redis_subscriber [host:port]   (default 127.0.0.1:6379)
 */
#include <libtask/redis.h>
#include <libtask/task.h>

#include <stdio.h>
#include <string.h>

struct pub {
        TASK_FRAME;
        const char *addr;
        task_redis *c;
        struct task_redis_op op;
        int i, rc;
};

static int publisher(struct task_cx *cx, void *arg)
{
        static const char *const msg[][2] = {
            {"news", "hello"}, {"weather.paris", "sunny"}, {"news", "bye"}};
        struct pub *f = arg;

        TASK_BEGIN(f);
        TASK_REDIS_CONNECT(f, f->addr, NULL, &f->op, &f->c, &f->rc);
        for (f->i = 0; f->rc == 0 && f->i < 3; f->i++)
                TASK_REDIS_PUBLISH(f, f->c, &f->op, msg[f->i][0],
                                   strlen(msg[f->i][0]), msg[f->i][1],
                                   strlen(msg[f->i][1]), NULL, &f->rc);
        TASK_CLEANUP(f);
        task_redis_close(f->c);
        TASK_END(f);
}

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS;
        task_redis *c;
        task_redis_sub *s;
        struct task_redis_op op;
        struct task_redis_msg m;
        task_handle *pub;
        int rc;
};

static int app(struct task_cx *cx, void *arg)
{
        static const char *const chan[] = {"news"}, *const pat[] = {
                                                        "weather.*"};
        struct app *f = arg;
        const char *addr = f->argc > 1 ? f->argv[1] : "127.0.0.1:6379";

        TASK_BEGIN(f);
        f->exit_code = 1;
        TASK_REDIS_CONNECT(f, addr, NULL, &f->op, &f->c, &f->rc);
        if (f->rc == 0 && (f->rc = task_redis_sub_new(f->c, &f->s)) == 0)
                f->c = NULL; /* the subscriber owns it now */
        if (f->rc == 0)
                TASK_REDIS_SUBSCRIBE(f, f->s, &f->op, 1, chan, NULL, &f->rc);
        if (f->rc == 0)
                TASK_REDIS_PSUBSCRIBE(f, f->s, &f->op, 1, pat, NULL, &f->rc);
        if (f->rc == 0) /* subscribed: now start publishing */
                f->rc = TASK_SPAWN(task_cx_runtime(cx), publisher,
                                   &(struct pub){.addr = addr}, &f->pub);
        while (f->rc == 0 && f->exit_code) {
                TASK_REDIS_SUB_NEXT(f, f->s, &f->op, &f->m, &f->rc);
                if (f->rc < 0)
                        break;
                printf("%.*s: %.*s\n", (int)f->m.channel_len, f->m.channel,
                       (int)f->m.payload_len, f->m.payload);
                f->exit_code = strcmp(f->m.payload, "bye") != 0;
                task_redis_msg_free(&f->m);
        }
        if (f->rc < 0)
                fprintf(stderr, "%s: %s\n", addr, task_strerror(f->rc));
        if (f->pub)
                TASK_JOIN(f, f->pub, NULL);
        TASK_CLEANUP(f);
        task_handle_release(f->pub);
        task_redis_msg_free(&f->m);
        task_redis_sub_close(f->s); /* and its client */
        task_redis_close(f->c);     /* if sub_new failed */
        TASK_END(f);
}

TASK_MAIN(app, struct app)
