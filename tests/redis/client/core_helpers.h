/*
 * core_helpers.h - what the async client's suites (test_client.c,
 * test_pipeline.c, test_resilience.c) share.
 *
 * - One client call as a whole task (r_connect, r_cmd, r_flush, r_reply,
 *   r_push, r_value): each runs task_block_on with a small frame, so a
 *   test reads like a script, and the client moves between tasks (and,
 *   on a multi-thread runtime, workers) from one call to the next, as
 *   redis_client.h allows.  r_ok(rt, c, "SET", "k", "v", NULL) is a
 *   command that must succeed; the expect_* checks free the value.
 * - BOTH_FLAVORS(suite, name, timeout): a test body run once on a
 *   current-thread runtime and once on a multi-thread one.
 * - A "mute-first" server: its first connection reads and never answers
 *   (and counts what it read, so a test knows a command went out); every
 *   later one answers each read with a script.  The fakes of srv.h cannot
 *   do both on one port, and reconnection tests need it.
 */
#ifndef RDC_CORE_HELPERS_H
#define RDC_CORE_HELPERS_H

#include "helpers.h"
#include "srv.h"

#include <libtask/redis.h>
#include <libtask/task.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

/* From client-priv.h (a libtask-internal call; exported as task_*). */
bool task_redis__value_poll(struct task_cx *cx, task_redis *c,
                            struct task_redis_op *op,
                            struct task_redis_value **v, int *rc);
int task_redis__append_noreply(task_redis *c, int argc, const char *const *argv,
                               const size_t *lens);

/* ---- One call as a task ---------------------------------------------------- */

enum r_kind { R_CONNECT, R_CMD, R_FLUSH, R_REPLY, R_PUSH, R_VALUE };

struct r_step {
        TASK_FRAME;
        enum r_kind kind;
        const char *where;
        const struct task_redis_opts *o;
        task_redis *c;
        int argc;
        const char *const *argv;
        const size_t *lens;
        uint64_t limit_ns; /* the test's own TASK_TIMEOUT around it; 0: none */
        struct task_select sel;
        struct task_sleep sl;
        struct task_redis_op op;
        struct task_redis_value *v;
        int rc;
};

static inline bool r_step_poll(struct task_cx *cx, struct r_step *f)
{
        switch (f->kind) {
        case R_CONNECT:
                return task_redis_connect_poll(cx, f->where, f->o, &f->op,
                                               &f->c, &f->rc);
        case R_CMD:
                return task_redis_cmd_poll(cx, f->c, &f->op, f->argc, f->argv,
                                           f->lens, &f->v, &f->rc);
        case R_FLUSH:
                return task_redis_flush_poll(cx, f->c, &f->op, &f->rc);
        case R_REPLY:
                return task_redis_reply_poll(cx, f->c, &f->op, &f->v, &f->rc);
        case R_PUSH:
                return task_redis_push_poll(cx, f->c, &f->op, &f->v, &f->rc);
        case R_VALUE:
                return task_redis__value_poll(cx, f->c, &f->op, &f->v, &f->rc);
        }
        return true;
}

static inline int r_step_fn(struct task_cx *cx, void *arg)
{
        struct r_step *f = arg;

        TASK_BEGIN(f);
        if (f->limit_ns)
                TASK_TIMEOUT(f, &f->sel, &f->sl, f->limit_ns,
                             r_step_poll(cx, f), &f->rc);
        else
                TASK_AWAIT(f, r_step_poll(cx, f));
        TASK_END(f);
}

static inline void r_run(task_runtime *rt, struct r_step *s)
{
        s->rc = 12345;
        cr_assert_eq(task_block_on(rt, r_step_fn, s, sizeof *s), 0);
        cr_assert_neq(s->rc, 12345, "the call never set its result");
}

static inline int r_connect(task_runtime *rt, const char *where,
                            const struct task_redis_opts *o, task_redis **c)
{
        struct r_step s = {.kind = R_CONNECT, .where = where, .o = o};

        r_run(rt, &s);
        if (s.rc == 0)
                *c = s.c;
        else
                cr_assert_null(s.c, "a failed connect handed a client out");
        return s.rc;
}

/* Connect or fail the test. */
static inline task_redis *r_connect_ok(task_runtime *rt, const char *where,
                                       const struct task_redis_opts *o)
{
        task_redis *c = NULL;
        int rc = r_connect(rt, where, o, &c);

        cr_assert_eq(rc, 0, "connect %s: %s", where, task_strerror(rc));
        cr_assert_not_null(c);
        return c;
}

static inline int r_cmd(task_runtime *rt, task_redis *c, int argc,
                        const char *const *argv, const size_t *lens,
                        struct task_redis_value **v)
{
        struct r_step s = {
            .kind = R_CMD, .c = c, .argc = argc, .argv = argv, .lens = lens};

        r_run(rt, &s);
        if (s.rc < 0)
                cr_assert_null(s.v, "a failed call handed a reply out");
        *v = s.v;
        return s.rc;
}

#define R_MAXARGS 16

/* A command of C strings (NULL-terminated list) that must succeed. */
static inline struct task_redis_value *r_ok(task_runtime *rt, task_redis *c,
                                            ...)
{
        const char *argv[R_MAXARGS];
        struct task_redis_value *v = NULL;
        int argc = 0, rc;
        va_list ap;

        va_start(ap, c);
        while (argc < R_MAXARGS && (argv[argc] = va_arg(ap, const char *)))
                argc++;
        va_end(ap);
        rc = r_cmd(rt, c, argc, argv, NULL, &v);
        cr_assert_eq(rc, 0, "%s: %s", argv[0], task_strerror(rc));
        cr_assert_not_null(v);
        return v;
}

/* The same, returning the call's rc (the value, if any, freed). */
static inline int r_rc(task_runtime *rt, task_redis *c, ...)
{
        const char *argv[R_MAXARGS];
        struct task_redis_value *v = NULL;
        int argc = 0, rc;
        va_list ap;

        va_start(ap, c);
        while (argc < R_MAXARGS && (argv[argc] = va_arg(ap, const char *)))
                argc++;
        va_end(ap);
        rc = r_cmd(rt, c, argc, argv, NULL, &v);
        task_redis_value_free(v);
        return rc;
}

static inline int r_flush(task_runtime *rt, task_redis *c)
{
        struct r_step s = {.kind = R_FLUSH, .c = c};

        r_run(rt, &s);
        return s.rc;
}

static inline int r_reply(task_runtime *rt, task_redis *c,
                          struct task_redis_value **v)
{
        struct r_step s = {.kind = R_REPLY, .c = c};

        r_run(rt, &s);
        *v = s.v;
        return s.rc;
}

/* push_poll, bounded by @limit_ns (0: none) with a TASK_TIMEOUT. */
static inline int r_push(task_runtime *rt, task_redis *c, uint64_t limit_ns,
                         struct task_redis_value **v)
{
        struct r_step s = {.kind = R_PUSH, .c = c, .limit_ns = limit_ns};

        r_run(rt, &s);
        *v = s.rc == 0 ? s.v : NULL;
        if (s.rc < 0)
                task_redis_value_free(s.v);
        return s.rc;
}

static inline int r_value(task_runtime *rt, task_redis *c, uint64_t limit_ns,
                          struct task_redis_value **v)
{
        struct r_step s = {.kind = R_VALUE, .c = c, .limit_ns = limit_ns};

        r_run(rt, &s);
        *v = s.rc == 0 ? s.v : NULL;
        if (s.rc < 0)
                task_redis_value_free(s.v);
        return s.rc;
}

/* Append C strings (NULL-terminated list); returns task_redis_append's rc. */
static inline int r_append(task_redis *c, ...)
{
        const char *argv[R_MAXARGS];
        int argc = 0;
        va_list ap;

        va_start(ap, c);
        while (argc < R_MAXARGS && (argv[argc] = va_arg(ap, const char *)))
                argc++;
        va_end(ap);
        return task_redis_append(c, argc, argv, NULL);
}

/* ---- Checking values (each frees the value) -------------------------------- */

static inline bool v_is_str(const struct task_redis_value *v,
                            enum task_redis_type t, const char *s)
{
        return v && v->type == t && v->len == strlen(s) &&
               memcmp(v->str, s, v->len) == 0;
}

static inline void expect_type_str(struct task_redis_value *v,
                                   enum task_redis_type t, const char *s)
{
        cr_assert_not_null(v);
        cr_assert(v_is_str(v, t, s), "expected %s \"%s\", got %s \"%.*s\"",
                  task_redis_type_name(t), s, task_redis_type_name(v->type),
                  v->str ? (int)v->len : 0, v->str ? v->str : "");
        task_redis_value_free(v);
}

static inline void expect_status(struct task_redis_value *v, const char *s)
{
        expect_type_str(v, TASK_REDIS_STATUS, s);
}

static inline void expect_str(struct task_redis_value *v, const char *s)
{
        expect_type_str(v, TASK_REDIS_STRING, s);
}

static inline void expect_int(struct task_redis_value *v, int64_t n)
{
        cr_assert_not_null(v);
        cr_assert(v->type == TASK_REDIS_INTEGER && v->integer == n,
                  "expected integer %lld, got %s %lld", (long long)n,
                  task_redis_type_name(v->type), (long long)v->integer);
        task_redis_value_free(v);
}

static inline void expect_nil(struct task_redis_value *v)
{
        cr_assert_not_null(v);
        cr_assert_eq(v->type, TASK_REDIS_NIL, "expected nil, got %s",
                     task_redis_type_name(v->type));
        task_redis_value_free(v);
}

static inline void expect_err(struct task_redis_value *v, const char *prefix)
{
        cr_assert_not_null(v);
        cr_assert(task_redis_value_is_error(v, prefix),
                  "expected an error %s, got %s \"%.*s\"", prefix,
                  task_redis_type_name(v->type), v->str ? (int)v->len : 0,
                  v->str ? v->str : "");
        task_redis_value_free(v);
}

/* A push (or RESP2 array) [kind, channel, payload] whose payload is a
 * string @payload, or an integer when @payload is NULL. */
static inline void expect_msg(struct task_redis_value *v,
                              enum task_redis_type t, const char *kind,
                              const char *chan, const char *payload)
{
        cr_assert_not_null(v);
        cr_assert_eq(v->type, t, "expected %s, got %s", task_redis_type_name(t),
                     task_redis_type_name(v->type));
        cr_assert_eq(v->n, 3);
        cr_assert(v_is_str(&v->elem[0], TASK_REDIS_STRING, kind));
        cr_assert(v_is_str(&v->elem[1], TASK_REDIS_STRING, chan));
        if (payload)
                cr_assert(v_is_str(&v->elem[2], TASK_REDIS_STRING, payload),
                          "payload %.*s", (int)v->elem[2].len, v->elem[2].str);
        else
                cr_assert_eq(v->elem[2].type, TASK_REDIS_INTEGER);
        task_redis_value_free(v);
}

/* ---- Both runtime flavors ------------------------------------------------- */

#define BOTH_FLAVORS(suite, name, secs)                                        \
        static void name(enum task_flavor flavor);                             \
        Test(suite, name##_current_thread, .timeout = (secs))                  \
        {                                                                      \
                name(TASK_CURRENT_THREAD);                                     \
        }                                                                      \
        Test(suite, name##_multi_thread, .timeout = (secs))                    \
        {                                                                      \
                name(TASK_MULTI_THREAD);                                       \
        }                                                                      \
        static void name(enum task_flavor flavor)

/* Options with the connect timeout bounded for tests. */
static inline struct task_redis_opts test_opts(void)
{
        struct task_redis_opts o;

        task_redis_opts_init(&o);
        o.connect_timeout_ns = TASK_SEC(5);
        return o;
}

/* ---- The mute-first server --------------------------------------------------- */

struct mute {
        int lfd, port;
        char addr[64];
        const char *script; /* what later connections answer each read */
        pthread_t thr;
        int stop_pipe[2];
        atomic_int accepted;
        atomic_long first_read; /* bytes the first connection read */
};

static inline void *mute_main(void *arg)
{
        struct mute *m = arg;
        struct pollfd p[34];
        int conns[32], n = 0, first = -1;

        for (;;) {
                int np = 0;

                p[np++] =
                    (struct pollfd){.fd = m->stop_pipe[0], .events = POLLIN};
                p[np++] = (struct pollfd){.fd = m->lfd, .events = POLLIN};
                for (int i = 0; i < n; i++)
                        p[np++] =
                            (struct pollfd){.fd = conns[i], .events = POLLIN};
                if (poll(p, (nfds_t)np, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents)
                        break;
                if ((p[1].revents & POLLIN) && n < 32) {
                        int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);

                        if (fd >= 0) {
                                if (atomic_fetch_add(&m->accepted, 1) == 0)
                                        first = fd;
                                conns[n++] = fd;
                        }
                }
                for (int i = 0; i < n; i++) {
                        char buf[4096];
                        ssize_t r;

                        if (!(p[2 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        r = read(conns[i], buf, sizeof buf);
                        if (r <= 0) {
                                if (conns[i] == first)
                                        first = -1;
                                close(conns[i]);
                                conns[i] = conns[--n];
                                break; /* p[] is stale: poll again */
                        }
                        if (conns[i] == first)
                                atomic_fetch_add(&m->first_read, r);
                        else if (m->script)
                                (void)!write(conns[i], m->script,
                                             strlen(m->script));
                }
        }
        for (int i = 0; i < n; i++)
                close(conns[i]);
        return NULL;
}

static inline void mute_start(struct mute *m, const char *script)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t alen = sizeof a;
        int one = 1;

        memset(m, 0, sizeof *m);
        m->script = script;
        atomic_init(&m->accepted, 0);
        atomic_init(&m->first_read, 0);
        m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert(m->lfd >= 0);
        setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(bind(m->lfd, (struct sockaddr *)&a, sizeof a) == 0);
        cr_assert(listen(m->lfd, 64) == 0);
        cr_assert(getsockname(m->lfd, (struct sockaddr *)&a, &alen) == 0);
        m->port = ntohs(a.sin_port);
        snprintf(m->addr, sizeof m->addr, "127.0.0.1:%d", m->port);
        cr_assert(pipe2(m->stop_pipe, O_CLOEXEC) == 0);
        cr_assert(pthread_create(&m->thr, NULL, mute_main, m) == 0);
}

static inline void mute_stop(struct mute *m)
{
        (void)!write(m->stop_pipe[1], "x", 1);
        pthread_join(m->thr, NULL);
        close(m->stop_pipe[0]);
        close(m->stop_pipe[1]);
        close(m->lfd);
}

#endif /* RDC_CORE_HELPERS_H */
