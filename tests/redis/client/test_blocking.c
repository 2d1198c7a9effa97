/*
 * test_blocking.c - the blocking client (redis_blocking.h) against a real
 * server (srv.h: task-redis-server or redis-server, the same
 * expectations): every call -- connect, the generic command, the typed
 * helpers, pipelining (10,000 commands), RESP3 pushes, the subscriber
 * with its timeout, close -- and the failure modes: a refused port, a
 * server that never answers (command and connect timeouts), servers that
 * close, half-answer or send garbage, -EINVAL for every NULL, -EDEADLK
 * from inside a task, and handles used from several threads (each its
 * own, and one handed from thread to thread).
 */
#include "helpers.h"
#include "srv.h"

#include <libtask/redis.h>
#include <libtask/task.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Helpers --------------------------------------------------------------- */

static task_redis_blocking *bconnect(const char *where,
                                     const struct task_redis_opts *o)
{
        task_redis_blocking *b = NULL;
        int rc = task_redis_blocking_connect(where, o, &b);

        cr_assert_eq(rc, 0, "connect %s: %s", where, task_strerror(rc));
        cr_assert_not_null(b);
        return b;
}

/* The command given as C strings (NULL-terminated); asserts rc 0. */
static struct task_redis_value *bcmd(task_redis_blocking *b, ...)
{
        const char *argv[16];
        struct task_redis_value *v = NULL;
        int argc = 0, rc;
        va_list ap;

        va_start(ap, b);
        while (argc < 16 && (argv[argc] = va_arg(ap, const char *)))
                argc++;
        va_end(ap);
        rc = task_redis_blocking_cmd(b, argc, argv, NULL, &v);
        cr_assert_eq(rc, 0, "%s: %s", argv[0], task_strerror(rc));
        cr_assert_not_null(v);
        return v;
}

static void expect_status(struct task_redis_value *v, const char *s)
{
        cr_assert_eq(v->type, TASK_REDIS_STATUS, "type %s",
                     task_redis_type_name(v->type));
        cr_assert_str_eq(v->str, s);
        task_redis_value_free(v);
}

static void expect_int(struct task_redis_value *v, int64_t n)
{
        cr_assert_eq(v->type, TASK_REDIS_INTEGER, "type %s",
                     task_redis_type_name(v->type));
        cr_assert_eq(v->integer, n, "%lld != %lld", (long long)v->integer,
                     (long long)n);
        task_redis_value_free(v);
}

static void expect_string(struct task_redis_value *v, const char *s, size_t len)
{
        cr_assert_eq(v->type, TASK_REDIS_STRING, "type %s",
                     task_redis_type_name(v->type));
        cr_assert_eq(v->len, len);
        cr_assert_eq(memcmp(v->str, s, len), 0);
        task_redis_value_free(v);
}

static struct task_redis_opts opts_proto(int protocol)
{
        struct task_redis_opts o;

        task_redis_opts_init(&o);
        o.protocol = protocol;
        return o;
}

/* ---- Connect, commands, close ------------------------------------------------ */

Test(blocking, cmd_round_trips_every_reply_kind, .timeout = 60)
{
        static const char bin[] = {'a', 0, 'b', '\r', '\n', (char)0xff};
        const char *set[] = {"SET", "bin", bin};
        const size_t set_lens[] = {3, 3, sizeof bin};
        struct task_redis_value *v;
        struct srv s;

        srv_start(&s);
        task_redis_blocking *b = bconnect(s.addr, NULL);
        cr_assert_eq(task_redis_protocol(task_redis_blocking_client(b)), 2);
        cr_assert(task_redis_connected(task_redis_blocking_client(b)));

        expect_status(bcmd(b, "PING", NULL), "PONG");
        expect_status(bcmd(b, "SET", "k", "v", NULL), "OK");
        expect_string(bcmd(b, "GET", "k", NULL), "v", 1);
        expect_int(bcmd(b, "INCR", "n", NULL), 1);
        expect_int(bcmd(b, "INCRBY", "n", "-11", NULL), -10);

        /* Binary-safe arguments and replies. */
        cr_assert_eq(task_redis_blocking_cmd(b, 3, set, set_lens, &v), 0);
        expect_status(v, "OK");
        expect_string(bcmd(b, "GET", "bin", NULL), bin, sizeof bin);

        v = bcmd(b, "GET", "missing", NULL);
        cr_assert_eq(v->type, TASK_REDIS_NIL);
        task_redis_value_free(v);

        v = bcmd(b, "MGET", "k", "missing", NULL);
        cr_assert_eq(v->type, TASK_REDIS_ARRAY);
        cr_assert_eq(v->n, 2);
        cr_assert_eq(v->elem[0].type, TASK_REDIS_STRING);
        cr_assert_eq(v->elem[1].type, TASK_REDIS_NIL);
        task_redis_value_free(v);

        /* A server error is a value, not a failure; the connection stays. */
        v = bcmd(b, "NOSUCHCOMMAND", "x", NULL);
        cr_assert(task_redis_value_is_error(v, "ERR"));
        task_redis_value_free(v);
        v = bcmd(b, "INCR", "k", NULL);
        cr_assert(task_redis_value_is_error(v, NULL));
        task_redis_value_free(v);
        expect_status(bcmd(b, "PING", NULL), "PONG");

        task_redis_blocking_close(b);
        srv_stop(&s);
        test_leak_check();
}

Test(blocking, resp3_values, .timeout = 60)
{
        struct task_redis_opts o = opts_proto(3);
        struct task_redis_value *v;
        struct srv s;

        srv_start(&s);
        task_redis_blocking *b = bconnect(s.addr, &o);
        cr_assert_eq(task_redis_protocol(task_redis_blocking_client(b)), 3);
        v = bcmd(b, "GET", "missing", NULL);
        cr_assert_eq(v->type, TASK_REDIS_NIL);
        task_redis_value_free(v);
        v = bcmd(b, "HELLO", "3", NULL);
        cr_assert_eq(v->type, TASK_REDIS_MAP);
        cr_assert_eq(v->n % 2, 0);
        cr_assert_geq(v->n, 2);
        task_redis_value_free(v);
        expect_status(bcmd(b, "PING", NULL), "PONG");
        task_redis_blocking_close(b);
        srv_stop(&s);
        test_leak_check();
}

Test(blocking, select_and_auth_at_connect, .timeout = 60)
{
        struct task_redis_opts o;
        task_redis_blocking *b = NULL;
        char url[128];
        struct srv s;

        /* The password is set at run time (srv.c waits for a PONG, which
         * a server started with --requirepass does not give). */
        srv_start(&s);
        b = bconnect(s.addr, NULL);
        expect_status(bcmd(b, "CONFIG", "SET", "requirepass", "sekret", NULL),
                      "OK");
        task_redis_blocking_close(b);
        task_redis_opts_init(&o);
        o.password = "sekret";
        o.db = 3;
        b = bconnect(s.addr, &o);
        expect_status(bcmd(b, "SET", "k", "in3", NULL), "OK");
        task_redis_blocking_close(b);

        snprintf(url, sizeof url, "redis://:sekret@127.0.0.1:%d/3", s.port);
        b = bconnect(url, NULL);
        expect_string(bcmd(b, "GET", "k", NULL), "in3", 3);
        task_redis_blocking_close(b);

        o.password = "wrong";
        b = NULL;
        cr_assert_eq(task_redis_blocking_connect(s.addr, &o, &b), -EACCES);
        cr_assert_null(b);
        srv_stop(&s);
        test_leak_check();
}

/* ---- Typed helpers -------------------------------------------------------------- */

Test(blocking, typed_helpers, .timeout = 60)
{
        struct task_redis_set_opts so = {0};
        struct task_redis_value *v = NULL, *old = NULL;
        const char *keys[] = {"a", "b", "missing"};
        int64_t n = -1;
        bool set = false;
        struct srv s;

        srv_start(&s);
        task_redis_blocking *b = bconnect(s.addr, NULL);

        cr_assert_eq(task_redis_blocking_ping(b, NULL, 0), 0);
        cr_assert_eq(task_redis_blocking_ping(b, "hi", 2), 0);

        cr_assert_eq(task_redis_blocking_get(b, "a", 1, &v), 0);
        cr_assert_null(v, "a missing key is NULL");
        cr_assert_eq(task_redis_blocking_set(b, "a", 1, "va", 2, NULL, NULL),
                     0);
        cr_assert_eq(task_redis_blocking_get(b, "a", 1, &v), 0);
        expect_string(v, "va", 2);

        so.flags = TASK_REDIS_SET_NX;
        cr_assert_eq(task_redis_blocking_set(b, "a", 1, "vb", 2, &so, NULL),
                     TASK_REDIS_NOT_SET);
        so.flags = TASK_REDIS_SET_GET;
        so.px_ms = 100000;
        cr_assert_eq(task_redis_blocking_set(b, "a", 1, "vc", 2, &so, &old), 0);
        expect_string(old, "va", 2);
        expect_int(bcmd(b, "EXISTS", "a", NULL), 1);
        v = bcmd(b, "PTTL", "a", NULL);
        cr_assert_eq(v->type, TASK_REDIS_INTEGER);
        cr_assert(v->integer > 0 && v->integer <= 100000);
        task_redis_value_free(v);
        /* GET without somewhere to put the old value. */
        cr_assert_eq(task_redis_blocking_set(b, "a", 1, "vd", 2, &so, NULL),
                     -EINVAL);

        cr_assert_eq(task_redis_blocking_set(b, "b", 1, "", 0, NULL, NULL), 0);
        cr_assert_eq(task_redis_blocking_del(b, 3, keys, NULL, &n), 0);
        cr_assert_eq(n, 2);

        cr_assert_eq(task_redis_blocking_incr(b, "c", 1, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(task_redis_blocking_incrby(b, "c", 1, 41, &n), 0);
        cr_assert_eq(n, 42);
        cr_assert_eq(task_redis_blocking_incr(b, "c", 1, NULL), 0);
        cr_assert_eq(task_redis_blocking_expire(b, "c", 1, 100, 0, &set), 0);
        cr_assert(set);
        cr_assert_eq(task_redis_blocking_expire(b, "nope", 4, 100, 0, &set), 0);
        cr_assert(!set);

        cr_assert_eq(task_redis_blocking_publish(b, "ch", 2, "m", 1, &n), 0);
        cr_assert_eq(n, 0);

        /* An error reply to a typed helper: -EREMOTEIO and its text. */
        cr_assert_eq(task_redis_blocking_set(b, "s", 1, "text", 4, NULL, NULL),
                     0);
        cr_assert_eq(task_redis_blocking_incr(b, "s", 1, &n), -EREMOTEIO);
        cr_assert(strstr(task_redis_last_error(task_redis_blocking_client(b)),
                         "not an integer"),
                  "last error: %s",
                  task_redis_last_error(task_redis_blocking_client(b)));
        cr_assert_eq(task_redis_blocking_ping(b, NULL, 0), 0);

        task_redis_blocking_close(b);
        srv_stop(&s);
        test_leak_check();
}

/* ---- Pipelining ------------------------------------------------------------------ */

Test(blocking, pipeline_of_10000, .timeout = 120)
{
        const char *incr[] = {"INCR", "ctr"};
        struct task_redis_value *v;
        const int n = 10000;
        struct srv s;

        srv_start(&s);
        task_redis_blocking *b = bconnect(s.addr, NULL);
        for (int i = 0; i < n; i++)
                cr_assert_eq(task_redis_blocking_append(b, 2, incr, NULL), 0);
        cr_assert_eq(task_redis_blocking_pending(b), (size_t)n);
        cr_assert_eq(task_redis_blocking_flush(b), 0);
        cr_assert_eq(task_redis_blocking_pending(b), (size_t)n);
        for (int i = 1; i <= n; i++) {
                cr_assert_eq(task_redis_blocking_reply(b, &v), 0, "reply %d",
                             i);
                cr_assert_eq(v->type, TASK_REDIS_INTEGER);
                cr_assert_eq(v->integer, i, "replies out of order at %d", i);
                task_redis_value_free(v);
        }
        cr_assert_eq(task_redis_blocking_pending(b), 0);
        v = (void *)1;
        cr_assert_eq(task_redis_blocking_reply(b, &v), -ENOENT);
        cr_assert_null(v);

        /* reply flushes by itself; cmd drops replies still owed. */
        cr_assert_eq(task_redis_blocking_append(b, 2, incr, NULL), 0);
        cr_assert_eq(task_redis_blocking_reply(b, &v), 0);
        expect_int(v, n + 1);
        cr_assert_eq(task_redis_blocking_append(b, 2, incr, NULL), 0);
        cr_assert_eq(task_redis_blocking_append(b, 2, incr, NULL), 0);
        expect_string(bcmd(b, "GET", "ctr", NULL), "10003", 5);
        cr_assert_eq(task_redis_blocking_pending(b), 0);

        /* Closing with commands queued and replies owed leaks nothing. */
        cr_assert_eq(task_redis_blocking_append(b, 2, incr, NULL), 0);
        cr_assert_eq(task_redis_blocking_flush(b), 0);
        cr_assert_eq(task_redis_blocking_append(b, 2, incr, NULL), 0);
        task_redis_blocking_close(b);
        srv_stop(&s);
        test_leak_check();
}

/* ---- Pushes ------------------------------------------------------------------ */

Test(blocking, push_times_out_and_leaves_the_connection_usable, .timeout = 60)
{
        struct task_redis_value *v = (void *)1;
        struct task_redis_opts o3 = opts_proto(3);
        struct srv s;
        uint64_t t0;

        srv_start(&s);
        task_redis_blocking *b2 = bconnect(s.addr, NULL);
        task_redis_blocking *b3 = bconnect(s.addr, &o3);

        cr_assert_eq(task_redis_blocking_push(b3, 0, &v), -ETIMEDOUT);
        cr_assert_null(v);
        t0 = now_ns();
        cr_assert_eq(task_redis_blocking_push(b3, 50, &v), -ETIMEDOUT);
        cr_assert_geq(now_ns() - t0, 50 * 1000000ull);
        cr_assert_eq(task_redis_blocking_push(b2, 20, &v), -ETIMEDOUT);
        expect_status(bcmd(b3, "PING", NULL), "PONG");
        expect_status(bcmd(b2, "PING", NULL), "PONG");

        /* A RESP3 client subscribed through the generic call gets its
         * confirmation as a push, set aside for push(). */
        v = NULL;
        const char *sub[] = {"SUBSCRIBE", "pch"};
        cr_assert_eq(task_redis_blocking_append(b3, 2, sub, NULL), 0);
        cr_assert_eq(task_redis_blocking_flush(b3), 0);
        cr_assert_eq(task_redis_blocking_push(b3, 5000, &v), 0);
        cr_assert_eq(v->type, TASK_REDIS_PUSH);
        cr_assert_geq(v->n, 3);
        cr_assert_eq(v->elem[0].len, 9);
        cr_assert_eq(memcmp(v->elem[0].str, "subscribe", 9), 0);
        task_redis_value_free(v);

        task_redis_blocking_close(b2);
        task_redis_blocking_close(b3);
        srv_stop(&s);
        test_leak_check();
}

/* ---- The subscriber ------------------------------------------------------------- */

static void subscriber_round(int protocol)
{
        struct task_redis_opts o = opts_proto(protocol);
        const char *chans[] = {"news", "weather"};
        const char *pats[] = {"news.*"};
        task_redis_blocking_sub *s = NULL;
        struct task_redis_msg m;
        int64_t n = -1;
        uint64_t t0;
        struct srv srv;

        srv_start(&srv);
        task_redis_blocking *pub = bconnect(srv.addr, NULL);
        task_redis_blocking *b = bconnect(srv.addr, &o);

        cr_assert_eq(task_redis_blocking_sub_new(b, &s), 0);
        cr_assert_eq(task_redis_blocking_subscribe(s, 2, chans, NULL), 0);
        cr_assert_eq(task_redis_blocking_psubscribe(s, 1, pats, NULL), 0);
        cr_assert_eq(task_redis_sub_channels(task_redis_blocking_sub_async(s)),
                     2);
        cr_assert_eq(task_redis_sub_patterns(task_redis_blocking_sub_async(s)),
                     1);

        /* Nothing published: the timeout, and nothing broken by it. */
        t0 = now_ns();
        cr_assert_eq(task_redis_blocking_sub_next(s, 50, &m), -ETIMEDOUT);
        cr_assert_geq(now_ns() - t0, 50 * 1000000ull);
        cr_assert_null(m.channel);
        cr_assert_eq(task_redis_blocking_sub_next(s, 0, &m), -ETIMEDOUT);
        cr_assert_eq(task_redis_blocking_sub_ping(s), 0);

        cr_assert_eq(task_redis_blocking_publish(pub, "news", 4, "n1", 2, &n),
                     0);
        cr_assert_eq(n, 1);
        cr_assert_eq(
            task_redis_blocking_publish(pub, "news.uk", 7, "p1", 2, &n), 0);
        cr_assert_eq(n, 1);

        cr_assert_eq(task_redis_blocking_sub_next(s, 5000, &m), 0);
        cr_assert_eq(m.kind, TASK_REDIS_MSG_MESSAGE);
        cr_assert_eq(m.channel_len, 4);
        cr_assert_eq(memcmp(m.channel, "news", 4), 0);
        cr_assert_eq(m.payload_len, 2);
        cr_assert_eq(memcmp(m.payload, "n1", 2), 0);
        task_redis_msg_free(&m);

        cr_assert_eq(task_redis_blocking_sub_next(s, -1, &m), 0);
        cr_assert_eq(m.kind, TASK_REDIS_MSG_PMESSAGE);
        cr_assert_eq(m.pattern_len, 6);
        cr_assert_eq(memcmp(m.pattern, "news.*", 6), 0);
        cr_assert_eq(memcmp(m.channel, "news.uk", 7), 0);
        cr_assert_eq(memcmp(m.payload, "p1", 2), 0);
        task_redis_msg_free(&m);

        cr_assert_eq(task_redis_blocking_unsubscribe(s, 1, chans, NULL), 0);
        cr_assert_eq(task_redis_sub_channels(task_redis_blocking_sub_async(s)),
                     1);
        cr_assert_eq(task_redis_blocking_punsubscribe(s, 0, NULL, NULL), 0);
        cr_assert_eq(task_redis_sub_patterns(task_redis_blocking_sub_async(s)),
                     0);
        cr_assert_eq(task_redis_blocking_publish(pub, "news", 4, "n2", 2, &n),
                     0);
        cr_assert_eq(n, 0);
        cr_assert_eq(
            task_redis_blocking_publish(pub, "weather", 7, "w1", 2, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(task_redis_blocking_sub_next(s, 5000, &m), 0);
        cr_assert_eq(memcmp(m.channel, "weather", 7), 0);
        task_redis_msg_free(&m);

        /* Close with a message queued. */
        cr_assert_eq(
            task_redis_blocking_publish(pub, "weather", 7, "w2", 2, &n), 0);
        cr_assert_eq(task_redis_blocking_sub_ping(s), 0);
        task_redis_blocking_sub_close(s);
        task_redis_blocking_close(pub);
        srv_stop(&srv);
        test_leak_check();
}

Test(blocking, subscriber_resp2, .timeout = 60)
{
        subscriber_round(2);
}

Test(blocking, subscriber_resp3, .timeout = 60)
{
        subscriber_round(3);
}

/* A timeout of 0 is "what has arrived": a message (or push) already in
 * the socket is read, not missed by a deadline that passed before the
 * read was even submitted (the call after used to get it). */
Test(blocking, zero_timeout_takes_what_has_arrived, .timeout = 60)
{
        struct task_redis_opts o3 = opts_proto(3);
        const char *chans[] = {"zt"};
        const char *sub[] = {"SUBSCRIBE", "zp"};
        task_redis_blocking_sub *s = NULL;
        struct task_redis_value *v = NULL;
        struct task_redis_msg m;
        struct timespec pause = {0, 300 * 1000000L};
        int64_t n = -1;
        struct srv srv;

        srv_start(&srv);
        task_redis_blocking *pub = bconnect(srv.addr, NULL);
        task_redis_blocking *b = bconnect(srv.addr, NULL);
        task_redis_blocking *b3 = bconnect(srv.addr, &o3);

        cr_assert_eq(task_redis_blocking_sub_new(b, &s), 0);
        cr_assert_eq(task_redis_blocking_subscribe(s, 1, chans, NULL), 0);
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(
                    task_redis_blocking_publish(pub, "zt", 2, "m", 1, &n), 0);
                cr_assert_eq(n, 1);
                nanosleep(&pause, NULL); /* it is in the socket by now */
                cr_assert_eq(task_redis_blocking_sub_next(s, 0, &m), 0,
                             "round %d", i);
                cr_assert_eq(m.payload_len, 1);
                task_redis_msg_free(&m);
        }
        cr_assert_eq(task_redis_blocking_sub_next(s, 0, &m), -ETIMEDOUT);

        cr_assert_eq(task_redis_blocking_append(b3, 2, sub, NULL), 0);
        cr_assert_eq(task_redis_blocking_flush(b3), 0);
        nanosleep(&pause, NULL);
        cr_assert_eq(task_redis_blocking_push(b3, 0, &v), 0);
        cr_assert_eq(v->type, TASK_REDIS_PUSH);
        task_redis_value_free(v);

        task_redis_blocking_sub_close(s);
        task_redis_blocking_close(b3);
        task_redis_blocking_close(pub);
        srv_stop(&srv);
        test_leak_check();
}

Test(blocking, sub_new_refuses_a_handle_that_owes_replies, .timeout = 60)
{
        const char *ping[] = {"PING"};
        task_redis_blocking_sub *s = NULL;
        struct task_redis_value *v;
        struct srv srv;

        srv_start(&srv);
        task_redis_blocking *b = bconnect(srv.addr, NULL);
        cr_assert_eq(task_redis_blocking_append(b, 1, ping, NULL), 0);
        cr_assert_eq(task_redis_blocking_sub_new(b, &s), -EBUSY);
        cr_assert_null(s);
        /* Still the caller's, and usable. */
        cr_assert_eq(task_redis_blocking_reply(b, &v), 0);
        expect_status(v, "PONG");
        cr_assert_eq(task_redis_blocking_sub_new(b, &s), 0);
        task_redis_blocking_sub_close(s);
        srv_stop(&srv);
        test_leak_check();
}

/* ---- Failures ------------------------------------------------------------------- */

Test(blocking, refused_and_bad_addresses, .timeout = 30)
{
        task_redis_blocking *b = NULL;
        char where[64];

        snprintf(where, sizeof where, "127.0.0.1:%d", srv_closed_port());
        cr_assert_eq(task_redis_blocking_connect(where, NULL, &b),
                     -ECONNREFUSED);
        cr_assert_null(b);
        cr_assert_eq(task_redis_blocking_connect("127.0.0.1:99999", NULL, &b),
                     -EINVAL);
        cr_assert_eq(
            task_redis_blocking_connect("/nonexistent/redis.sock", NULL, &b),
            -ENOENT);
        cr_assert_null(b);
        test_leak_check();
}

Test(blocking, einval_for_every_null, .timeout = 30)
{
        const char *ping[] = {"PING"};
        struct task_redis_value *v = (void *)1;
        task_redis_blocking_sub *s = NULL;
        struct task_redis_msg m;
        task_redis_blocking *b = NULL;

        cr_assert_eq(task_redis_blocking_connect(NULL, NULL, &b), -EINVAL);
        cr_assert_eq(task_redis_blocking_connect("127.0.0.1:1", NULL, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_blocking_cmd(NULL, 1, ping, NULL, &v), -EINVAL);
        cr_assert_null(v);
        cr_assert_eq(task_redis_blocking_append(NULL, 1, ping, NULL), -EINVAL);
        cr_assert_eq(task_redis_blocking_flush(NULL), -EINVAL);
        cr_assert_eq(task_redis_blocking_reply(NULL, &v), -EINVAL);
        cr_assert_eq(task_redis_blocking_reply(NULL, NULL), -EINVAL);
        cr_assert_eq(task_redis_blocking_pending(NULL), 0);
        cr_assert_eq(task_redis_blocking_push(NULL, 0, &v), -EINVAL);
        cr_assert_null(task_redis_blocking_client(NULL));
        cr_assert_eq(task_redis_blocking_ping(NULL, NULL, 0), -EINVAL);
        cr_assert_eq(task_redis_blocking_get(NULL, "k", 1, &v), -EINVAL);
        cr_assert_eq(task_redis_blocking_set(NULL, "k", 1, "v", 1, NULL, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_blocking_del(NULL, 1, ping, NULL, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_blocking_incr(NULL, "k", 1, NULL), -EINVAL);
        cr_assert_eq(task_redis_blocking_incrby(NULL, "k", 1, 1, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_blocking_expire(NULL, "k", 1, 1, 0, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_blocking_publish(NULL, "c", 1, "m", 1, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_blocking_sub_new(NULL, &s), -EINVAL);
        cr_assert_eq(task_redis_blocking_subscribe(NULL, 1, ping, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_blocking_unsubscribe(NULL, 0, NULL, NULL),
                     -EINVAL);
        cr_assert_eq(task_redis_blocking_sub_next(NULL, 0, &m), -EINVAL);
        cr_assert_eq(task_redis_blocking_sub_ping(NULL), -EINVAL);
        cr_assert_null(task_redis_blocking_sub_async(NULL));
        task_redis_blocking_close(NULL);
        task_redis_blocking_sub_close(NULL);

        /* Bad arguments on a live handle: the async twin's -EINVAL. */
        struct srv srv;
        srv_start(&srv);
        b = bconnect(srv.addr, NULL);
        cr_assert_eq(task_redis_blocking_cmd(b, 0, ping, NULL, &v), -EINVAL);
        cr_assert_eq(task_redis_blocking_cmd(b, 1, NULL, NULL, &v), -EINVAL);
        cr_assert_eq(task_redis_blocking_cmd(b, 1, ping, NULL, NULL), -EINVAL);
        cr_assert_eq(task_redis_blocking_append(b, 0, ping, NULL), -EINVAL);
        cr_assert_eq(task_redis_blocking_get(b, NULL, 3, &v), -EINVAL);
        cr_assert_eq(task_redis_blocking_sub_new(b, NULL), -EINVAL);
        expect_status(bcmd(b, "PING", NULL), "PONG");
        task_redis_blocking_close(b);
        srv_stop(&srv);
        test_leak_check();
}

Test(blocking, command_timeout_against_a_silent_server, .timeout = 30)
{
        struct task_redis_opts o;
        struct task_redis_value *v = (void *)1;
        const char *ping[] = {"PING"};
        struct fake f;
        uint64_t t0, dt;

        fake_start(&f, FAKE_SILENT);
        task_redis_opts_init(&o);
        o.command_timeout_ns = 200 * 1000000ull;
        task_redis_blocking *b = bconnect(f.addr, &o);
        t0 = now_ns();
        cr_assert_eq(task_redis_blocking_cmd(b, 1, ping, NULL, &v), -ETIMEDOUT);
        dt = now_ns() - t0;
        cr_assert_null(v);
        cr_assert_geq(dt, 200 * 1000000ull);
        cr_assert_lt(dt, 5000 * 1000000ull, "took %llu ms",
                     (unsigned long long)(dt / 1000000));
        /* A timed-out command broke the connection (no reconnect). */
        cr_assert_eq(task_redis_blocking_cmd(b, 1, ping, NULL, &v), -ENOTCONN);
        task_redis_blocking_close(b);
        fake_stop(&f);
        test_leak_check();
}

Test(blocking, connect_timeout_against_a_silent_server, .timeout = 30)
{
        struct task_redis_opts o = opts_proto(3); /* HELLO 3: never answered */
        task_redis_blocking *b = NULL;
        struct fake f;
        uint64_t t0;

        fake_start(&f, FAKE_SILENT);
        o.connect_timeout_ns = 200 * 1000000ull;
        t0 = now_ns();
        cr_assert_eq(task_redis_blocking_connect(f.addr, &o, &b), -ETIMEDOUT);
        cr_assert_geq(now_ns() - t0, 200 * 1000000ull);
        cr_assert_null(b);
        fake_stop(&f);
        test_leak_check();
}

Test(blocking, misbehaving_servers, .timeout = 30)
{
        const char *ping[] = {"PING"};
        const enum fake_mode modes[] = {FAKE_CLOSE, FAKE_HALF_REPLY,
                                        FAKE_GARBAGE};

        for (size_t i = 0; i < 3; i++) {
                struct task_redis_value *v = (void *)1;
                struct fake f;
                int rc;

                fake_start(&f, modes[i]);
                task_redis_blocking *b = bconnect(f.addr, NULL);
                rc = task_redis_blocking_cmd(b, 1, ping, NULL, &v);
                cr_assert_null(v);
                if (modes[i] == FAKE_GARBAGE)
                        cr_assert_eq(rc, -EPROTO, "%s", task_strerror(rc));
                else
                        cr_assert(rc == -ECONNRESET || rc == -EPIPE,
                                  "mode %zu: %s", i, task_strerror(rc));
                cr_assert(!task_redis_connected(task_redis_blocking_client(b)));
                task_redis_blocking_close(b);
                fake_stop(&f);
        }
        test_leak_check();
}

/* ---- No allocation beyond the reply ------------------------------------------ */

/*
 * A plain build counts the calling thread's mallocs by interposing malloc,
 * calloc and realloc (the executable's definitions win over libc's for
 * libtask.so too).  The sanitizers have their own allocators: there the
 * test is skipped.
 */
#if !TEST_ASAN && !TEST_TSAN
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

static _Thread_local bool counting;
static _Thread_local long allocs;

void *malloc(size_t n)
{
        allocs += counting;
        return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
        allocs += counting;
        return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
        allocs += counting;
        return __libc_realloc(p, n);
}

/* Mallocs of reading @reply with a reader: what a reply value costs. */
static long reply_allocs(const char *reply)
{
        struct task_redis_reader rd;
        struct task_redis_value *v = NULL;
        size_t used;
        long n;

        cr_assert_eq(task_redis_reader_init(&rd, NULL), 0);
        /* Warm the reader up as the client's is. */
        cr_assert_eq(
            task_redis_reader_feed(&rd, reply, strlen(reply), &used, &v), 1);
        task_redis_value_free(v);
        allocs = 0;
        counting = true;
        cr_assert_eq(
            task_redis_reader_feed(&rd, reply, strlen(reply), &used, &v), 1);
        counting = false;
        n = allocs;
        task_redis_value_free(v);
        task_redis_reader_free(&rd);
        return n;
}
#endif

Test(blocking, a_round_trip_mallocs_only_its_reply, .timeout = 60)
{
#if TEST_ASAN || TEST_TSAN
        cr_skip_test("malloc is the sanitizer's: counting it means nothing");
#else
        const char *get[] = {"GET", "k"};
        struct task_redis_value *v;
        const long n = 200;
        long per_reply, per_call;
        struct srv s;

        srv_start(&s);
        task_redis_blocking *b = bconnect(s.addr, NULL);
        expect_status(bcmd(b, "SET", "k", "some value", NULL), "OK");
        for (int i = 0; i < 50; i++) /* warm up: buffers, task slab */
                task_redis_value_free(bcmd(b, "GET", "k", NULL));

        allocs = 0;
        counting = true;
        for (long i = 0; i < n; i++) {
                int rc = task_redis_blocking_cmd(b, 2, get, NULL, &v);
                counting = false;
                cr_assert_eq(rc, 0);
                task_redis_value_free(v);
                counting = true;
        }
        counting = false;
        per_call = allocs;
        per_reply = reply_allocs("$10\r\nsome value\r\n");
        /* The interposition works: a reply is at least one malloc. */
        cr_assert_geq(per_reply, 1);
        cr_assert_eq(per_call, n * per_reply,
                     "%ld GETs made %ld mallocs; a reply alone costs %ld", n,
                     per_call, per_reply);

        allocs = 0;
        counting = true;
        for (long i = 0; i < n; i++) {
                int rc = task_redis_blocking_get(b, "k", 1, &v);
                counting = false;
                cr_assert_eq(rc, 0);
                task_redis_value_free(v);
                counting = true;
        }
        counting = false;
        cr_assert_eq(allocs, n * per_reply, "typed GET: %ld mallocs", allocs);

        task_redis_blocking_close(b);
        srv_stop(&s);
#endif
}

/* ---- Not from a task -------------------------------------------------------- */

struct inside {
        TASK_FRAME;
        task_redis_blocking *b;
        const char *addr;
        int rc_cmd, rc_connect, rc_append, rc_flush;
        task_redis_blocking *b2;
};

static int inside_task(struct task_cx *cx, void *arg)
{
        struct inside *f = arg;
        const char *ping[] = {"PING"};
        struct task_redis_value *v = NULL;

        TASK_BEGIN(f);
        f->rc_cmd = task_redis_blocking_cmd(f->b, 1, ping, NULL, &v);
        f->rc_connect = task_redis_blocking_connect(f->addr, NULL, &f->b2);
        f->rc_flush = task_redis_blocking_flush(f->b);
        TASK_END(f);
}

Test(blocking, edeadlk_from_inside_a_task, .timeout = 30)
{
        const enum task_flavor flavors[] = {TASK_CURRENT_THREAD,
                                            TASK_MULTI_THREAD};
        struct srv s;

        srv_start(&s);
        task_redis_blocking *b = bconnect(s.addr, NULL);
        for (int i = 0; i < 2; i++) {
                task_runtime *rt = test_rt_new_flavor(flavors[i]);
                struct inside f = {.b = b, .addr = s.addr};

                cr_assert_eq(task_block_on(rt, inside_task, &f, sizeof f), 0);
                cr_assert_eq(f.rc_cmd, -EDEADLK);
                cr_assert_eq(f.rc_connect, -EDEADLK);
                cr_assert_eq(f.rc_flush, -EDEADLK);
                cr_assert_null(f.b2);
                test_rt_free(rt);
        }
        /* The handle was not touched. */
        expect_status(bcmd(b, "PING", NULL), "PONG");
        task_redis_blocking_close(b);
        srv_stop(&s);
        test_leak_check();
}

/* ---- Threads ---------------------------------------------------------------- */

struct worker {
        pthread_t thr;
        const char *addr;
        char key[32];
        long n;
        task_redis_blocking *b; /* given, or NULL: connect its own */
};

/* n INCRs one by one, then n more pipelined, on its own key. */
static void *worker_main(void *arg)
{
        struct worker *w = arg;
        const char *incr[] = {"INCR", w->key};
        struct task_redis_value *v;
        bool own = w->b == NULL;

        if (own)
                TCHECK(task_redis_blocking_connect(w->addr, NULL, &w->b) == 0);
        if (!w->b)
                return NULL;
        for (long i = 1; i <= w->n; i++) {
                int rc = task_redis_blocking_cmd(w->b, 2, incr, NULL, &v);
                TCHECK(rc == 0);
                if (rc)
                        break;
                TCHECK(v->type == TASK_REDIS_INTEGER && v->integer == i);
                task_redis_value_free(v);
        }
        for (long i = 0; i < w->n; i++)
                TCHECK(task_redis_blocking_append(w->b, 2, incr, NULL) == 0);
        for (long i = 1; i <= w->n; i++) {
                int rc = task_redis_blocking_reply(w->b, &v);
                TCHECK(rc == 0);
                if (rc)
                        break;
                TCHECK(v->integer == w->n + i);
                task_redis_value_free(v);
        }
        if (own) {
                task_redis_blocking_close(w->b);
                w->b = NULL;
        }
        return NULL;
}

Test(blocking, handles_on_many_threads_are_independent, .timeout = 120)
{
        enum { T = 4 };
        struct worker w[T];
        struct task_redis_value *v;
        struct srv s;
        char expect[32];

        srv_start(&s);
        for (int i = 0; i < T; i++) {
                w[i] =
                    (struct worker){.addr = s.addr, .n = test_scaled(1000, 50)};
                snprintf(w[i].key, sizeof w[i].key, "ctr%d", i);
                cr_assert_eq(
                    pthread_create(&w[i].thr, NULL, worker_main, &w[i]), 0);
        }
        for (int i = 0; i < T; i++)
                pthread_join(w[i].thr, NULL);
        tcheck_assert_none();

        task_redis_blocking *b = bconnect(s.addr, NULL);
        for (int i = 0; i < T; i++) {
                const char *get[] = {"GET", w[i].key};
                cr_assert_eq(task_redis_blocking_cmd(b, 2, get, NULL, &v), 0);
                snprintf(expect, sizeof expect, "%ld", 2 * w[i].n);
                expect_string(v, expect, strlen(expect));
        }
        task_redis_blocking_close(b);
        srv_stop(&s);
        test_leak_check();
}

Test(blocking, one_handle_handed_between_threads, .timeout = 120)
{
        struct worker w = {.n = test_scaled(500, 20)};
        struct srv s;

        srv_start(&s);
        w.b = bconnect(s.addr, NULL);
        snprintf(w.key, sizeof w.key, "moved");
        expect_status(bcmd(w.b, "PING", NULL), "PONG");
        /* Thread 1 uses it, the join hands it back, thread 2 goes on. */
        cr_assert_eq(pthread_create(&w.thr, NULL, worker_main, &w), 0);
        pthread_join(w.thr, NULL);
        tcheck_assert_none();
        expect_int(bcmd(w.b, "DEL", "moved", NULL), 1);
        cr_assert_eq(pthread_create(&w.thr, NULL, worker_main, &w), 0);
        pthread_join(w.thr, NULL);
        tcheck_assert_none();
        task_redis_blocking_close(w.b);
        srv_stop(&s);
        test_leak_check();
}
