/*
 * test_commands.c - the typed helpers of libtask/redis_cmd.h against the
 * server under test (task-redis-server or redis-server, srv.h), each run
 * over RESP2 and RESP3: PING with and without a message, GET of present,
 * missing and binary keys, SET with PX and PXAT (expiry observed with
 * PTTL and by waiting it out), NX/XX refused, KEEPTTL, the GET option
 * (with NX/XX), WRONGTYPE and other error replies as -EREMOTEIO with the
 * server's text, DEL of one, many and more keys than the stack argv holds,
 * INCR/INCRBY with non-integers and overflow, EXPIRE with NX/XX/GT/LT,
 * PUBLISH counts with a subscriber connected, replies of the wrong type
 * (-EPROTO, from a fake server) and invalid arguments (-EINVAL, no I/O).
 *
 * Each test is a task (struct t) run by run(): a fresh server, a
 * current-thread runtime, the task once per protocol on an emptied
 * server.  Checks inside tasks are TCHECKs, reported after the run.
 */
#include "helpers.h"
#include "srv.h"

#include <libtask/redis.h>

#include <limits.h>
#include <string.h>
#include <time.h>

/* ---- Harness ------------------------------------------------------------ */

struct t {
        TASK_FRAME;
        const char *addr;
        int proto;
        struct task_redis_opts o;
        task_redis *c, *c2;
        task_redis_sub *s;
        struct task_redis_op op;
        struct task_redis_value *v, *old;
        struct task_redis_set_opts so;
        struct task_sleep sl;
        int64_t n;
        bool b;
        int rc, i;
        uint64_t t0;
        const char *keys[100];
        char keybuf[100][16];
};

typedef int (*tfn)(struct task_cx *, void *);

/* The number of arguments of a compound-literal argv. */
#define NARGS(...)                                                             \
        ((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)))

/* A generic command (C-string arguments); reply in f->v. */
#define CMD(f, ...)                                                            \
        TASK_REDIS_CMD(f, (f)->c, &(f)->op, NARGS(__VA_ARGS__),                \
                       ((const char *const[]){__VA_ARGS__}), NULL, &(f)->v,    \
                       &(f)->rc)

/* Connect f->c with f->proto; the task ends (a failed check) if it cannot. */
#define CONNECT(f)                                                             \
        do {                                                                   \
                task_redis_opts_init(&(f)->o);                                 \
                (f)->o.protocol = (f)->proto;                                  \
                TASK_REDIS_CONNECT(f, (f)->addr, &(f)->o, &(f)->op, &(f)->c,   \
                                   &(f)->rc);                                  \
                TCHECK((f)->rc == 0);                                          \
                if ((f)->rc != 0)                                              \
                        TASK_RETURN(f);                                        \
        } while (0)

#define FREEV(f)                                                               \
        do {                                                                   \
                task_redis_value_free((f)->v);                                 \
                (f)->v = NULL;                                                 \
                task_redis_value_free((f)->old);                               \
                (f)->old = NULL;                                               \
        } while (0)

/* The common cleanup of a test task. */
#define T_CLEANUP(f)                                                           \
        TASK_CLEANUP(f);                                                       \
        FREEV(f);                                                              \
        task_redis_sub_close((f)->s);                                          \
        task_redis_close((f)->c2);                                             \
        task_redis_close((f)->c)

static bool str_is(const struct task_redis_value *v, const void *s, size_t len)
{
        return v && v->type == TASK_REDIS_STRING && v->len == len &&
               memcmp(v->str, s, len) == 0 && v->str[len] == '\0';
}

static bool int_is(const struct task_redis_value *v, int64_t n)
{
        return v && v->type == TASK_REDIS_INTEGER && v->integer == n;
}

static bool int_in(const struct task_redis_value *v, int64_t lo, int64_t hi)
{
        return v && v->type == TASK_REDIS_INTEGER && v->integer >= lo &&
               v->integer <= hi;
}

static bool err_starts(task_redis *c, const char *prefix)
{
        return strncmp(task_redis_last_error(c), prefix, strlen(prefix)) == 0;
}

static uint64_t unix_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FLUSHALL, so that each protocol's run starts from an empty server. */
static int flush_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CMD(f, "FLUSHALL");
        TCHECK(f->rc == 0 && f->v && f->v->type == TASK_REDIS_STATUS);
        T_CLEANUP(f);
        TASK_END(f);
}

/* Run @fn against a fresh server, once per protocol (2 then 3). */
static void run(tfn fn)
{
        struct srv s;
        task_runtime *rt;

        srv_start(&s);
        rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        for (int proto = 2; proto <= 3; proto++) {
                struct t fl = {.addr = s.addr, .proto = 2};
                struct t *f = calloc(1, sizeof *f);

                cr_assert_not_null(f);
                cr_assert_eq(task_block_on(rt, flush_task, &fl, sizeof fl), 0);
                f->addr = s.addr;
                f->proto = proto;
                cr_assert_eq(task_block_on(rt, fn, f, sizeof *f), 0);
                free(f);
                tcheck_assert_none();
        }
        test_rt_free(rt);
        srv_stop(&s);
}

/* ---- PING --------------------------------------------------------------- */

static int ping_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        TASK_REDIS_PING(f, f->c, &f->op, NULL, 0, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_PING(f, f->c, &f->op, "hello", 5, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_PING(f, f->c, &f->op, "a\0b\r\nc", 6, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_PING(f, f->c, &f->op, "", 0, &f->rc);
        TCHECK(f->rc == 0);
        TCHECK(task_redis_pending(f->c) == 0);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, ping_plain_and_echo, .timeout = 30)
{
        run(ping_task);
}

/* ---- GET and SET -------------------------------------------------------- */

static int get_set_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        /* A missing key: rc 0, NULL value. */
        f->v = (struct task_redis_value *)1; /* must be overwritten */
        TASK_REDIS_GET(f, f->c, &f->op, "nokey", 5, &f->v, &f->rc);
        TCHECK(f->rc == 0 && f->v == NULL);
        f->v = NULL;
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "value", 5, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
        TCHECK(f->rc == 0 && str_is(f->v, "value", 5));
        FREEV(f);
        /* Binary key and value: NULs, CR LF, bytes above 0x7f. */
        TASK_REDIS_SET(f, f->c, &f->op, "b\0k\r\n", 5, "\0\1\2\r\n\xff", 6,
                       NULL, NULL, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_GET(f, f->c, &f->op, "b\0k\r\n", 5, &f->v, &f->rc);
        TCHECK(f->rc == 0 && str_is(f->v, "\0\1\2\r\n\xff", 6));
        FREEV(f);
        TASK_REDIS_GET(f, f->c, &f->op, "b\0k", 3, &f->v, &f->rc);
        TCHECK(f->rc == 0 && f->v == NULL); /* a different key */
        /* The empty key and the empty value (NULL with length 0). */
        TASK_REDIS_SET(f, f->c, &f->op, NULL, 0, NULL, 0, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_GET(f, f->c, &f->op, "", 0, &f->v, &f->rc);
        TCHECK(f->rc == 0 && str_is(f->v, "", 0));
        FREEV(f);
        /* Overwrite. */
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "v2", 2, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
        TCHECK(f->rc == 0 && str_is(f->v, "v2", 2));
        FREEV(f);
        /* A large value (a bulk string read in several pieces). */
        f->old = NULL;
        {
                static char big[300000];
                memset(big, 'x', sizeof big);
                big[12345] = '\0';
                TASK_REDIS_SET(f, f->c, &f->op, "big", 3, big, sizeof big, NULL,
                               NULL, &f->rc);
        }
        TCHECK(f->rc == 0);
        TASK_REDIS_GET(f, f->c, &f->op, "big", 3, &f->v, &f->rc);
        TCHECK(f->rc == 0 && f->v && f->v->len == 300000 &&
               f->v->str[12345] == '\0' && f->v->str[299999] == 'x');
        FREEV(f);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, get_set_missing_binary_empty_large, .timeout = 30)
{
        run(get_set_task);
}

static int set_expiry_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        /* PX: the time to live is about what was asked. */
        f->so = (struct task_redis_set_opts){.px_ms = 100000};
        TASK_REDIS_SET(f, f->c, &f->op, "px", 2, "v", 1, &f->so, NULL, &f->rc);
        TCHECK(f->rc == 0);
        CMD(f, "PTTL", "px");
        TCHECK(f->rc == 0 && int_in(f->v, 90000, 100000));
        FREEV(f);
        /* PXAT: an absolute unix time in ms. */
        f->so = (struct task_redis_set_opts){.pxat_ms = unix_ms() + 200000};
        TASK_REDIS_SET(f, f->c, &f->op, "pxat", 4, "v", 1, &f->so, NULL,
                       &f->rc);
        TCHECK(f->rc == 0);
        CMD(f, "PTTL", "pxat");
        TCHECK(f->rc == 0 && int_in(f->v, 190000, 200000));
        FREEV(f);
        /* KEEPTTL keeps it; a plain SET drops it. */
        f->so = (struct task_redis_set_opts){.flags = TASK_REDIS_SET_KEEPTTL};
        TASK_REDIS_SET(f, f->c, &f->op, "px", 2, "v2", 2, &f->so, NULL, &f->rc);
        TCHECK(f->rc == 0);
        CMD(f, "PTTL", "px");
        TCHECK(f->rc == 0 && int_in(f->v, 90000, 100000));
        FREEV(f);
        TASK_REDIS_SET(f, f->c, &f->op, "px", 2, "v3", 2, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0);
        CMD(f, "PTTL", "px");
        TCHECK(f->rc == 0 && int_is(f->v, -1));
        FREEV(f);
        /* A short PX, observed to expire. */
        f->so = (struct task_redis_set_opts){.px_ms = 50};
        TASK_REDIS_SET(f, f->c, &f->op, "short", 5, "v", 1, &f->so, NULL,
                       &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_GET(f, f->c, &f->op, "short", 5, &f->v, &f->rc);
        TCHECK(f->rc == 0 && str_is(f->v, "v", 1));
        FREEV(f);
        f->t0 = now_ns();
        for (f->i = 0; f->i < 200; f->i++) {
                TASK_REDIS_GET(f, f->c, &f->op, "short", 5, &f->v, &f->rc);
                TCHECK(f->rc == 0);
                if (!f->v)
                        break;
                FREEV(f);
                TASK_SLEEP(f, &f->sl, TASK_MS(10));
        }
        TCHECK(f->v == NULL);
        TCHECK(now_ns() - f->t0 >= TASK_MS(30)); /* not at once */
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, set_px_pxat_keepttl_expiry_observed, .timeout = 30)
{
        run(set_expiry_task);
}

static int set_nx_xx_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        f->so = (struct task_redis_set_opts){.flags = TASK_REDIS_SET_XX};
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "x", 1, &f->so, NULL, &f->rc);
        TCHECK(f->rc == TASK_REDIS_NOT_SET);
        TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
        TCHECK(f->rc == 0 && f->v == NULL); /* XX did not create it */
        f->so = (struct task_redis_set_opts){.flags = TASK_REDIS_SET_NX};
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "first", 5, &f->so, NULL,
                       &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "second", 6, &f->so, NULL,
                       &f->rc);
        TCHECK(f->rc == TASK_REDIS_NOT_SET);
        TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
        TCHECK(f->rc == 0 && str_is(f->v, "first", 5));
        FREEV(f);
        f->so = (struct task_redis_set_opts){.flags = TASK_REDIS_SET_XX,
                                             .px_ms = 100000};
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "third", 5, &f->so, NULL,
                       &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
        TCHECK(f->rc == 0 && str_is(f->v, "third", 5));
        FREEV(f);
        CMD(f, "PTTL", "k");
        TCHECK(f->rc == 0 && int_in(f->v, 90000, 100000));
        FREEV(f);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, set_nx_xx_refused_and_accepted, .timeout = 30)
{
        run(set_nx_xx_task);
}

static int set_get_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        /* SET ... GET on a missing key: set, no old value. */
        f->so = (struct task_redis_set_opts){.flags = TASK_REDIS_SET_GET};
        f->old = (struct task_redis_value *)1;
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "a", 1, &f->so, &f->old,
                       &f->rc);
        TCHECK(f->rc == 0 && f->old == NULL);
        f->old = NULL;
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "b", 1, &f->so, &f->old,
                       &f->rc);
        TCHECK(f->rc == 0 && str_is(f->old, "a", 1));
        FREEV(f);
        /* NX GET on an existing key: refused, the old value returned. */
        f->so.flags = TASK_REDIS_SET_GET | TASK_REDIS_SET_NX;
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "c", 1, &f->so, &f->old,
                       &f->rc);
        TCHECK(f->rc == TASK_REDIS_NOT_SET && str_is(f->old, "b", 1));
        FREEV(f);
        /* NX GET on a missing key: set, no old value. */
        TASK_REDIS_SET(f, f->c, &f->op, "k2", 2, "c", 1, &f->so, &f->old,
                       &f->rc);
        TCHECK(f->rc == 0 && f->old == NULL);
        /* XX GET: missing refused; existing set with the old value. */
        f->so.flags = TASK_REDIS_SET_GET | TASK_REDIS_SET_XX;
        TASK_REDIS_SET(f, f->c, &f->op, "k3", 2, "d", 1, &f->so, &f->old,
                       &f->rc);
        TCHECK(f->rc == TASK_REDIS_NOT_SET && f->old == NULL);
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "d", 1, &f->so, &f->old,
                       &f->rc);
        TCHECK(f->rc == 0 && str_is(f->old, "b", 1));
        FREEV(f);
        TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
        TCHECK(f->rc == 0 && str_is(f->v, "d", 1));
        FREEV(f);
        TASK_REDIS_GET(f, f->c, &f->op, "k3", 2, &f->v, &f->rc);
        TCHECK(f->rc == 0 && f->v == NULL);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, set_get_option_with_nx_xx, .timeout = 30)
{
        run(set_get_task);
}

/* ---- Errors ------------------------------------------------------------- */

/* Set when the server has no lists (task-redis-server: strings only). */
static bool no_lists;

static int wrongtype_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        TCHECK(strcmp(task_redis_last_error(f->c), "") == 0);
        CMD(f, "RPUSH", "list", "x");
        TCHECK(f->rc == 0 && f->v);
        if (f->v && task_redis_value_is_error(f->v, "ERR") &&
            strstr(f->v->str, "unknown command")) {
                no_lists = true;
                TASK_RETURN(f);
        }
        TCHECK(int_is(f->v, 1));
        FREEV(f);
        f->v = (struct task_redis_value *)1;
        TASK_REDIS_GET(f, f->c, &f->op, "list", 4, &f->v, &f->rc);
        TCHECK(f->rc == -EREMOTEIO && f->v == NULL);
        f->v = NULL;
        TCHECK(strcmp(task_redis_last_error(f->c),
                      "WRONGTYPE Operation against a key holding the wrong "
                      "kind of value") == 0);
        f->n = 42;
        TASK_REDIS_INCR(f, f->c, &f->op, "list", 4, &f->n, &f->rc);
        TCHECK(f->rc == -EREMOTEIO && f->n == 42 &&
               err_starts(f->c, "WRONGTYPE"));
        /* SET ... GET on a list: WRONGTYPE, nothing set. */
        f->so = (struct task_redis_set_opts){.flags = TASK_REDIS_SET_GET};
        f->old = (struct task_redis_value *)1;
        TASK_REDIS_SET(f, f->c, &f->op, "list", 4, "v", 1, &f->so, &f->old,
                       &f->rc);
        TCHECK(f->rc == -EREMOTEIO && f->old == NULL);
        f->old = NULL;
        TCHECK(err_starts(f->c, "WRONGTYPE"));
        CMD(f, "TYPE", "list");
        TCHECK(f->rc == 0 && f->v && f->v->type == TASK_REDIS_STATUS &&
               strcmp(f->v->str, "list") == 0);
        FREEV(f);
        /* The connection is still fine. */
        TASK_REDIS_PING(f, f->c, &f->op, NULL, 0, &f->rc);
        TCHECK(f->rc == 0);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, wrongtype_is_eremoteio_with_the_text, .timeout = 30)
{
        run(wrongtype_task);
        if (no_lists)
                cr_skip_test("%s has no lists: WRONGTYPE cannot happen there "
                             "(see wrongtype_from_a_scripted_server)",
                             srv_kind_name(srv_kind_env()));
}

/* ---- DEL ------------------------------------------------------------------ */

static int del_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CMD(f, "MSET", "a", "1", "b", "2", "c", "3");
        TCHECK(f->rc == 0);
        FREEV(f);
        f->keys[0] = "a";
        TASK_REDIS_DEL(f, f->c, &f->op, 1, f->keys, NULL, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 1);
        TASK_REDIS_DEL(f, f->c, &f->op, 1, f->keys, NULL, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 0);
        f->keys[0] = "b";
        f->keys[1] = "missing";
        f->keys[2] = "c";
        f->keys[3] = "b"; /* twice: counted once */
        TASK_REDIS_DEL(f, f->c, &f->op, 4, f->keys, NULL, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 2);
        /* Binary keys, with lengths. */
        TASK_REDIS_SET(f, f->c, &f->op, "x\0y", 3, "v", 1, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0);
        {
                static const char *const bk[] = {"x\0y", "x"};
                static const size_t bl[] = {3, 1};
                TASK_REDIS_DEL(f, f->c, &f->op, 2, bk, bl, &f->n, &f->rc);
        }
        TCHECK(f->rc == 0 && f->n == 1);
        /* More keys than the stack argv holds: 100 set, 100 deleted. */
        for (f->i = 0; f->i < 100; f->i++) {
                snprintf(f->keybuf[f->i], sizeof f->keybuf[0], "k%d", f->i);
                f->keys[f->i] = f->keybuf[f->i];
                TASK_REDIS_SET(f, f->c, &f->op, f->keys[f->i],
                               strlen(f->keys[f->i]), "v", 1, NULL, NULL,
                               &f->rc);
                TCHECK(f->rc == 0);
        }
        CMD(f, "DBSIZE");
        TCHECK(f->rc == 0 && int_is(f->v, 100));
        FREEV(f);
        TASK_REDIS_DEL(f, f->c, &f->op, 100, f->keys, NULL, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 100);
        CMD(f, "DBSIZE");
        TCHECK(f->rc == 0 && int_is(f->v, 0));
        FREEV(f);
        /* deleted may be NULL. */
        TASK_REDIS_DEL(f, f->c, &f->op, 1, f->keys, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, del_one_many_and_more_than_the_stack, .timeout = 30)
{
        run(del_task);
}

/* ---- INCR, INCRBY ---------------------------------------------------------- */

static int incr_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        TASK_REDIS_INCR(f, f->c, &f->op, "n", 1, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 1);
        TASK_REDIS_INCR(f, f->c, &f->op, "n", 1, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 2);
        TASK_REDIS_INCRBY(f, f->c, &f->op, "n", 1, 10, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 12);
        TASK_REDIS_INCRBY(f, f->c, &f->op, "n", 1, -20, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == -8);
        TASK_REDIS_INCR(f, f->c, &f->op, "n", 1, NULL, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_GET(f, f->c, &f->op, "n", 1, &f->v, &f->rc);
        TCHECK(f->rc == 0 && str_is(f->v, "-7", 2));
        FREEV(f);
        /* INT64_MIN and INT64_MAX formatted right, and their overflows. */
        TASK_REDIS_INCRBY(f, f->c, &f->op, "min", 3, INT64_MIN, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == INT64_MIN);
        TASK_REDIS_INCRBY(f, f->c, &f->op, "min", 3, -1, &f->n, &f->rc);
        TCHECK(f->rc == -EREMOTEIO && f->n == INT64_MIN);
        TCHECK(err_starts(f->c, "ERR increment or decrement would overflow"));
        TASK_REDIS_INCRBY(f, f->c, &f->op, "max", 3, INT64_MAX, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == INT64_MAX);
        TASK_REDIS_INCR(f, f->c, &f->op, "max", 3, &f->n, &f->rc);
        TCHECK(f->rc == -EREMOTEIO && f->n == INT64_MAX);
        TCHECK(err_starts(f->c, "ERR increment or decrement would overflow"));
        /* Not an integer. */
        TASK_REDIS_SET(f, f->c, &f->op, "s", 1, "abc", 3, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_INCR(f, f->c, &f->op, "s", 1, &f->n, &f->rc);
        TCHECK(f->rc == -EREMOTEIO);
        TCHECK(err_starts(f->c, "ERR value is not an integer or out of range"));
        TASK_REDIS_INCRBY(f, f->c, &f->op, "s", 1, 5, &f->n, &f->rc);
        TCHECK(f->rc == -EREMOTEIO);
        TCHECK(err_starts(f->c, "ERR value is not an integer or out of range"));
        /* A later success leaves the last error's text in place? It must
         * not matter: check only that a success is a success. */
        TASK_REDIS_INCR(f, f->c, &f->op, "n", 1, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == -6);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, incr_incrby_not_integer_and_overflow, .timeout = 30)
{
        run(incr_task);
}

/* ---- EXPIRE ------------------------------------------------------------- */

/* EXPIRE f->c key @secs @flags, expecting @want (checked by the caller). */
#define EXPIRE(f, secs, flags)                                                 \
        TASK_REDIS_EXPIRE(f, (f)->c, &(f)->op, "k", 1, (secs), (flags),        \
                          &(f)->b, &(f)->rc)

static int expire_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        f->b = true;
        EXPIRE(f, 100, 0);
        TCHECK(f->rc == 0 && !f->b); /* no such key */
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "v", 1, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0);
        EXPIRE(f, 100, TASK_REDIS_EXPIRE_XX);
        TCHECK(f->rc == 0 && !f->b); /* no expiry yet */
        EXPIRE(f, 100, TASK_REDIS_EXPIRE_GT);
        TCHECK(f->rc == 0 && !f->b); /* no expiry counts as infinite */
        EXPIRE(f, 100, TASK_REDIS_EXPIRE_NX);
        TCHECK(f->rc == 0 && f->b);
        CMD(f, "TTL", "k");
        TCHECK(f->rc == 0 && int_in(f->v, 95, 100));
        FREEV(f);
        EXPIRE(f, 200, TASK_REDIS_EXPIRE_NX);
        TCHECK(f->rc == 0 && !f->b); /* has one */
        EXPIRE(f, 50, TASK_REDIS_EXPIRE_GT);
        TCHECK(f->rc == 0 && !f->b);
        EXPIRE(f, 200, TASK_REDIS_EXPIRE_GT);
        TCHECK(f->rc == 0 && f->b);
        EXPIRE(f, 300, TASK_REDIS_EXPIRE_LT);
        TCHECK(f->rc == 0 && !f->b);
        EXPIRE(f, 150, TASK_REDIS_EXPIRE_LT | TASK_REDIS_EXPIRE_XX);
        TCHECK(f->rc == 0 && f->b);
        CMD(f, "TTL", "k");
        TCHECK(f->rc == 0 && int_in(f->v, 145, 150));
        FREEV(f);
        EXPIRE(f, 1000, TASK_REDIS_EXPIRE_XX);
        TCHECK(f->rc == 0 && f->b);
        CMD(f, "TTL", "k");
        TCHECK(f->rc == 0 && int_in(f->v, 995, 1000));
        FREEV(f);
        /* Zero deletes the key. */
        EXPIRE(f, 0, 0);
        TCHECK(f->rc == 0 && f->b);
        TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
        TCHECK(f->rc == 0 && f->v == NULL);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, expire_with_nx_xx_gt_lt, .timeout = 30)
{
        run(expire_task);
}

/* ---- PUBLISH ------------------------------------------------------------ */

static int publish_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;
        static const char *const chans[] = {"news"};
        static const char *const pats[] = {"n*", "x*"};

        TASK_BEGIN(f);
        CONNECT(f);
        f->n = -1;
        TASK_REDIS_PUBLISH(f, f->c, &f->op, "news", 4, "hi", 2, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 0);
        /* A subscriber: one channel and one matching pattern. */
        TASK_REDIS_CONNECT(f, f->addr, &f->o, &f->op, &f->c2, &f->rc);
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        f->rc = task_redis_sub_new(f->c2, &f->s);
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        f->c2 = NULL; /* the subscriber's */
        TASK_REDIS_SUBSCRIBE(f, f->s, &f->op, 1, chans, NULL, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_PSUBSCRIBE(f, f->s, &f->op, 2, pats, NULL, &f->rc);
        TCHECK(f->rc == 0);
        TASK_REDIS_PUBLISH(f, f->c, &f->op, "news", 4, "hi", 2, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 2);
        TASK_REDIS_PUBLISH(f, f->c, &f->op, "nope", 4, "", 0, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 1);
        TASK_REDIS_PUBLISH(f, f->c, &f->op, "other", 5, "x", 1, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 0);
        TASK_REDIS_PUBLISH(f, f->c, &f->op, "news", 4, "x", 1, NULL, &f->rc);
        TCHECK(f->rc == 0);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, publish_counts_receivers, .timeout = 30)
{
        run(publish_task);
}

/* ---- Replies of the wrong type (a fake server) -------------------------- */

#define WRONGTYPE_TEXT                                                         \
        "WRONGTYPE Operation against a key holding the wrong kind of value"

struct fk {
        TASK_FRAME;
        const char *addr;
        task_redis *c;
        struct task_redis_op op;
        struct task_redis_value *v;
        int64_t n;
        bool b;
        int rc;
        int which;
};

static int fake_task(struct task_cx *cx, void *arg)
{
        struct fk *f = arg;

        TASK_BEGIN(f);
        TASK_REDIS_CONNECT(f, f->addr, NULL, &f->op, &f->c, &f->rc);
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        /* The fake answers ":7" to everything. */
        TASK_REDIS_PING(f, f->c, &f->op, NULL, 0, &f->rc);
        TCHECK(f->rc == -EPROTO);
        TASK_REDIS_PING(f, f->c, &f->op, "x", 1, &f->rc);
        TCHECK(f->rc == -EPROTO);
        f->v = (struct task_redis_value *)1;
        TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
        TCHECK(f->rc == -EPROTO && f->v == NULL);
        f->v = NULL;
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "v", 1, NULL, NULL, &f->rc);
        TCHECK(f->rc == -EPROTO);
        /* The integer helpers take it. */
        TASK_REDIS_INCR(f, f->c, &f->op, "k", 1, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 7);
        TASK_REDIS_EXPIRE(f, f->c, &f->op, "k", 1, 5, 0, &f->b, &f->rc);
        TCHECK(f->rc == 0 && f->b);
        /* -EPROTO for a wrong type leaves the connection in step. */
        TCHECK(task_redis_connected(f->c));
        TASK_CLEANUP(f);
        task_redis_value_free(f->v);
        task_redis_close(f->c);
        TASK_END(f);
}

static int fake_task2(struct task_cx *cx, void *arg)
{
        struct fk *f = arg;

        TASK_BEGIN(f);
        TASK_REDIS_CONNECT(f, f->addr, NULL, &f->op, &f->c, &f->rc);
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        /* The fake answers "+OK" to everything. */
        TASK_REDIS_INCR(f, f->c, &f->op, "k", 1, &f->n, &f->rc);
        TCHECK(f->rc == -EPROTO);
        TASK_REDIS_PUBLISH(f, f->c, &f->op, "c", 1, "m", 1, &f->n, &f->rc);
        TCHECK(f->rc == -EPROTO);
        TASK_REDIS_PING(f, f->c, &f->op, "OK", 2, &f->rc);
        TCHECK(f->rc == 0); /* an echo of "OK" as a status: accepted */
        TASK_REDIS_PING(f, f->c, &f->op, NULL, 0, &f->rc);
        TCHECK(f->rc == -EPROTO); /* +OK is not +PONG */
        TASK_CLEANUP(f);
        task_redis_value_free(f->v);
        task_redis_close(f->c);
        TASK_END(f);
}

Test(commands, wrong_reply_types_are_eproto, .timeout = 30)
{
        static const char seven[] = ":7\r\n", ok[] = "+OK\r\n";
        struct fake fs;
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct fk f = {0};

        fs.script = seven;
        fs.script_len = sizeof seven - 1;
        fake_start(&fs, FAKE_SCRIPT);
        f.addr = fs.addr;
        cr_assert_eq(task_block_on(rt, fake_task, &f, sizeof f), 0);
        fake_stop(&fs);
        tcheck_assert_none();

        fs.script = ok;
        fs.script_len = sizeof ok - 1;
        fake_start(&fs, FAKE_SCRIPT);
        memset(&f, 0, sizeof f);
        f.addr = fs.addr;
        cr_assert_eq(task_block_on(rt, fake_task2, &f, sizeof f), 0);
        fake_stop(&fs);
        tcheck_assert_none();
        test_rt_free(rt);
}

static int fake_wrongtype_task(struct task_cx *cx, void *arg)
{
        struct fk *f = arg;

        TASK_BEGIN(f);
        TASK_REDIS_CONNECT(f, f->addr, NULL, &f->op, &f->c, &f->rc);
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        /* The fake answers WRONGTYPE to everything. */
        f->v = (struct task_redis_value *)1;
        TASK_REDIS_GET(f, f->c, &f->op, "k", 1, &f->v, &f->rc);
        TCHECK(f->rc == -EREMOTEIO && f->v == NULL);
        f->v = NULL;
        TCHECK(strcmp(task_redis_last_error(f->c), WRONGTYPE_TEXT) == 0);
        TASK_REDIS_INCRBY(f, f->c, &f->op, "k", 1, 3, &f->n, &f->rc);
        TCHECK(f->rc == -EREMOTEIO);
        TASK_REDIS_DEL(f, f->c, &f->op, 1, (const char *const[]){"k"}, NULL,
                       &f->n, &f->rc);
        TCHECK(f->rc == -EREMOTEIO);
        TASK_REDIS_SET(f, f->c, &f->op, "k", 1, "v", 1, NULL, NULL, &f->rc);
        TCHECK(f->rc == -EREMOTEIO);
        TASK_REDIS_PING(f, f->c, &f->op, NULL, 0, &f->rc);
        TCHECK(f->rc == -EREMOTEIO);
        TCHECK(strcmp(task_redis_last_error(f->c), WRONGTYPE_TEXT) == 0);
        TCHECK(task_redis_connected(f->c) && task_redis_pending(f->c) == 0);
        TASK_CLEANUP(f);
        task_redis_value_free(f->v);
        task_redis_close(f->c);
        TASK_END(f);
}

Test(commands, wrongtype_from_a_scripted_server, .timeout = 30)
{
        static const char wt[] = "-" WRONGTYPE_TEXT "\r\n";
        struct fake fs = {0};
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        struct fk f = {0};

        fs.script = wt;
        fs.script_len = sizeof wt - 1;
        fake_start(&fs, FAKE_SCRIPT);
        f.addr = fs.addr;
        cr_assert_eq(task_block_on(rt, fake_wrongtype_task, &f, sizeof f), 0);
        fake_stop(&fs);
        tcheck_assert_none();
        test_rt_free(rt);
}

/* ---- Invalid arguments -------------------------------------------------- */

static int invalid_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;
        struct task_redis_set_opts so;
        static const char *const two[] = {"a", NULL};
        bool done;
        int rc;

        TASK_BEGIN(f);
        CONNECT(f);
        /* Each call below is done at its first poll, with -EINVAL. */
#define INVALID(call)                                                          \
        do {                                                                   \
                rc = 12345;                                                    \
                done = (call);                                                 \
                TCHECK(done);                                                  \
                TCHECK(rc == -EINVAL);                                         \
        } while (0)
        INVALID(task_redis_ping_poll(cx, NULL, &f->op, NULL, 0, &rc));
        INVALID(task_redis_ping_poll(cx, f->c, NULL, NULL, 0, &rc));
        INVALID(task_redis_ping_poll(cx, f->c, &f->op, NULL, 3, &rc));
        INVALID(task_redis_get_poll(cx, NULL, &f->op, "k", 1, &f->v, &rc));
        TCHECK(f->v == NULL);
        INVALID(task_redis_get_poll(cx, f->c, &f->op, NULL, 1, &f->v, &rc));
        INVALID(task_redis_get_poll(cx, f->c, &f->op, "k", 1, NULL, &rc));
        INVALID(task_redis_set_poll(cx, NULL, &f->op, "k", 1, "v", 1, NULL,
                                    NULL, &rc));
        INVALID(task_redis_set_poll(cx, f->c, &f->op, "k", 1, NULL, 2, NULL,
                                    NULL, &rc));
        so = (struct task_redis_set_opts){.flags = TASK_REDIS_SET_NX |
                                                   TASK_REDIS_SET_XX};
        INVALID(task_redis_set_poll(cx, f->c, &f->op, "k", 1, "v", 1, &so, NULL,
                                    &rc));
        so = (struct task_redis_set_opts){.px_ms = 5, .pxat_ms = 5};
        INVALID(task_redis_set_poll(cx, f->c, &f->op, "k", 1, "v", 1, &so, NULL,
                                    &rc));
        so = (struct task_redis_set_opts){.px_ms = 5,
                                          .flags = TASK_REDIS_SET_KEEPTTL};
        INVALID(task_redis_set_poll(cx, f->c, &f->op, "k", 1, "v", 1, &so, NULL,
                                    &rc));
        so = (struct task_redis_set_opts){.pxat_ms = 5,
                                          .flags = TASK_REDIS_SET_KEEPTTL};
        INVALID(task_redis_set_poll(cx, f->c, &f->op, "k", 1, "v", 1, &so, NULL,
                                    &rc));
        so = (struct task_redis_set_opts){.px_ms = (uint64_t)INT64_MAX + 1};
        INVALID(task_redis_set_poll(cx, f->c, &f->op, "k", 1, "v", 1, &so, NULL,
                                    &rc));
        so = (struct task_redis_set_opts){.flags = 1u << 7};
        INVALID(task_redis_set_poll(cx, f->c, &f->op, "k", 1, "v", 1, &so, NULL,
                                    &rc));
        so = (struct task_redis_set_opts){.flags = TASK_REDIS_SET_GET};
        INVALID(task_redis_set_poll(cx, f->c, &f->op, "k", 1, "v", 1, &so, NULL,
                                    &rc)); /* GET needs old */
        INVALID(
            task_redis_del_poll(cx, f->c, &f->op, 0, two, NULL, &f->n, &rc));
        INVALID(
            task_redis_del_poll(cx, f->c, &f->op, 1, NULL, NULL, &f->n, &rc));
        INVALID(
            task_redis_del_poll(cx, f->c, &f->op, 2, two, NULL, &f->n, &rc));
        INVALID(
            task_redis_del_poll(cx, NULL, &f->op, 1, two, NULL, &f->n, &rc));
        INVALID(task_redis_incr_poll(cx, NULL, &f->op, "k", 1, &f->n, &rc));
        INVALID(task_redis_incr_poll(cx, f->c, &f->op, NULL, 1, &f->n, &rc));
        INVALID(
            task_redis_incrby_poll(cx, NULL, &f->op, "k", 1, 1, &f->n, &rc));
        INVALID(task_redis_expire_poll(
            cx, f->c, &f->op, "k", 1, 1,
            TASK_REDIS_EXPIRE_NX | TASK_REDIS_EXPIRE_XX, &f->b, &rc));
        INVALID(task_redis_expire_poll(
            cx, f->c, &f->op, "k", 1, 1,
            TASK_REDIS_EXPIRE_NX | TASK_REDIS_EXPIRE_GT, &f->b, &rc));
        INVALID(task_redis_expire_poll(
            cx, f->c, &f->op, "k", 1, 1,
            TASK_REDIS_EXPIRE_GT | TASK_REDIS_EXPIRE_LT, &f->b, &rc));
        INVALID(task_redis_expire_poll(cx, f->c, &f->op, "k", 1, 1, 1u << 9,
                                       &f->b, &rc));
        INVALID(
            task_redis_expire_poll(cx, NULL, &f->op, "k", 1, 1, 0, &f->b, &rc));
        INVALID(task_redis_publish_poll(cx, NULL, &f->op, "c", 1, "m", 1, &f->n,
                                        &rc));
        INVALID(task_redis_publish_poll(cx, f->c, &f->op, "c", 1, NULL, 1,
                                        &f->n, &rc));
        /* NULL cx: done, -EINVAL. */
        INVALID(task_redis_get_poll(NULL, f->c, &f->op, "k", 1, &f->v, &rc));
#undef INVALID
        /* No I/O happened: nothing owed, and the client works. */
        TCHECK(task_redis_pending(f->c) == 0);
        TASK_REDIS_PING(f, f->c, &f->op, NULL, 0, &f->rc);
        TCHECK(f->rc == 0);
        CMD(f, "DBSIZE");
        TCHECK(f->rc == 0 && int_is(f->v, 0)); /* nothing was SET */
        FREEV(f);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, invalid_arguments_are_einval_without_io, .timeout = 30)
{
        run(invalid_task);
}

/* ---- Arguments are read at the first poll only -------------------------- */

/*
 * Each helper below is polled through a wrapper that, once the command is
 * on its way (the first poll returned false), scribbles over the caller's
 * arguments, as happens to a local array or struct of the poll function
 * (not preserved across a suspension).  The header says arguments are
 * read at the first poll only, so the call still completes normally.
 */
static bool set_then_scribble(struct task_cx *cx, struct t *f)
{
        bool done = task_redis_set_poll(cx, f->c, &f->op, "tk", 2, "tv", 2,
                                        &f->so, NULL, &f->rc);

        if (!done) {
                f->so.flags = TASK_REDIS_SET_NX | TASK_REDIS_SET_XX | 0x80;
                f->so.px_ms = f->so.pxat_ms = UINT64_MAX;
        }
        return done;
}

static bool del_then_scribble(struct task_cx *cx, struct t *f)
{
        bool done = task_redis_del_poll(cx, f->c, &f->op, 2, f->keys, NULL,
                                        &f->n, &f->rc);

        if (!done)
                f->keys[0] = f->keys[1] = NULL;
        return done;
}

static int temporaries_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        f->so = (struct task_redis_set_opts){.px_ms = 100000};
        f->rc = 12345;
        TASK_AWAIT(f, set_then_scribble(cx, f));
        TCHECK(f->rc == 0);
        f->keys[0] = "tk";
        f->keys[1] = "nokey";
        f->n = -1;
        f->rc = 12345;
        TASK_AWAIT(f, del_then_scribble(cx, f));
        TCHECK(f->rc == 0 && f->n == 1);
        /* The client is in step: nothing owed, the next call works. */
        TCHECK(task_redis_pending(f->c) == 0);
        TASK_REDIS_PING(f, f->c, &f->op, NULL, 0, &f->rc);
        TCHECK(f->rc == 0);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(commands, arguments_are_read_at_the_first_poll_only, .timeout = 30)
{
        run(temporaries_task);
}
