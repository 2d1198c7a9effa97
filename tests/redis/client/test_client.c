/*
 * test_client.c - the async client (redis_client.h) against a real
 * server: connecting by every address form (TCP literal, host name, URL,
 * Unix socket), refused ports and bad addresses, AUTH (right, wrong and
 * missing passwords, with RESP2 and RESP3), SELECT, CLIENT SETNAME, RESP3
 * values, error replies as values, binary-safe arguments, -EBUSY, RESP3
 * pushes (set aside during a command, bounded by max_pushes, a timed-out
 * push_poll that leaves the connection usable), and closing a client with
 * replies and pushes still in it.  Runs against task-redis-server and
 * redis-server with the same expectations (srv.h).
 */
#include "core_helpers.h"

#include <netinet/tcp.h>

/* ---- Connecting ------------------------------------------------------------- */

static void ping_pong(task_runtime *rt, task_redis *c)
{
        expect_status(r_ok(rt, c, "PING", NULL), "PONG");
}

BOTH_FLAVORS(connect, every_address_form, 60)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_opts o = test_opts();
        struct srv s;
        char where[512];
        const char *forms[] = {"127.0.0.1:%d", "localhost:%d",
                               "redis://127.0.0.1:%d", "redis://localhost:%d/",
                               "redis://127.0.0.1:%d/0"};
        task_redis *c;

        srv_start(&s);
        for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
                snprintf(where, sizeof where, forms[i], s.port);
                c = r_connect_ok(rt, where, &o);
                cr_assert(task_redis_connected(c), "%s", where);
                cr_assert_geq(task_redis_fd(c), 0);
                cr_assert_eq(task_redis_protocol(c), 2);
                cr_assert_eq(task_redis_pending(c), 0);
                cr_assert_eq(task_redis_connect_attempts(c), 1);
                {
                        int on = 0;
                        socklen_t len = sizeof on;

                        cr_assert_eq(getsockopt(task_redis_fd(c), IPPROTO_TCP,
                                                TCP_NODELAY, &on, &len),
                                     0);
                        cr_assert(on, "TCP_NODELAY is off");
                }
                ping_pong(rt, c);
                task_redis_close(c);
        }
        /* IPv6 literals parse; the server listens on IPv4 only. */
        snprintf(where, sizeof where, "[::1]:%d", s.port);
        cr_assert_eq(r_connect(rt, where, &o, &c), -ECONNREFUSED);
        if (!s.unix_path[0]) {
                srv_stop(&s);
                test_rt_free(rt);
                cr_skip_test("%s has no Unix socket: the TCP forms passed, "
                             "the Unix ones were not run",
                             srv_kind_name(s.kind));
        }
        {
                const char *uforms[] = {"%s", "unix:%s", "unix://%s"};

                for (size_t i = 0; i < 3; i++) {
                        snprintf(where, sizeof where, uforms[i], s.unix_path);
                        c = r_connect_ok(rt, where, &o);
                        ping_pong(rt, c);
                        task_redis_close(c);
                }
        }
        srv_stop(&s);
        test_rt_free(rt);
}

Test(connect, refused_port, .timeout = 30)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        char where[64];
        task_redis *c = NULL;

        snprintf(where, sizeof where, "127.0.0.1:%d", srv_closed_port());
        cr_assert_eq(r_connect(rt, where, NULL, &c), -ECONNREFUSED);
        cr_assert_null(c);
        snprintf(where, sizeof where, "redis://localhost:%d",
                 srv_closed_port());
        cr_assert_eq(r_connect(rt, where, NULL, &c), -ECONNREFUSED);
        cr_assert_eq(r_connect(rt, "/nonexistent/redis.sock", NULL, &c),
                     -ENOENT);
        test_rt_free(rt);
}

Test(connect, bad_addresses_are_einval, .timeout = 30)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        const char *bad[] = {
            "",
            "host:",
            "host:0",
            "host:65536",
            "host:12x",
            "host:123456",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[nothost]:1",
            "a b:1",
            "redis://",
            "redis://:pw@",
            "redis://h/x",
            "redis://h/-1",
            "redis://user@h",
            "redis://h:0",
            "unix:",
            "unix:relative",
            "unix://",
            "rediss://h:1",
            "h\n:1",
            "redis://:%zz@h",
            ":6379",
        };
        struct task_redis_opts o = test_opts();
        task_redis *c = NULL;

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                cr_assert_eq(r_connect(rt, bad[i], NULL, &c), -EINVAL,
                             "\"%s\" was not refused", bad[i]);
        cr_assert_eq(r_connect(rt, NULL, NULL, &c), -EINVAL);
        o.protocol = 4;
        cr_assert_eq(r_connect(rt, "127.0.0.1:1", &o, &c), -EINVAL);
        o = test_opts();
        o.db = -1;
        cr_assert_eq(r_connect(rt, "127.0.0.1:1", &o, &c), -EINVAL);
        cr_assert_null(c);
        test_rt_free(rt);
}

Test(connect, null_arguments, .timeout = 30)
{
        const char *ping[] = {"PING"};
        const char *withnull[] = {"SET", NULL};

        cr_assert_eq(task_redis_append(NULL, 1, ping, NULL), -EINVAL);
        cr_assert_eq(task_redis_pending(NULL), 0);
        cr_assert_not(task_redis_connected(NULL));
        cr_assert_eq(task_redis_fd(NULL), -ENOTCONN);
        cr_assert_str_eq(task_redis_last_error(NULL), "");
        task_redis_close(NULL);
        {
                /* A connected client for the argument checks. */
                task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
                struct srv s;
                task_redis *c;
                struct task_redis_value *v = NULL;

                srv_start(&s);
                c = r_connect_ok(rt, s.addr, NULL);
                cr_assert_eq(task_redis_append(c, 0, ping, NULL), -EINVAL);
                cr_assert_eq(task_redis_append(c, 1, NULL, NULL), -EINVAL);
                cr_assert_eq(task_redis_append(c, 2, withnull, NULL), -EINVAL);
                cr_assert_eq(r_cmd(rt, c, 0, ping, NULL, &v), -EINVAL);
                cr_assert_eq(r_cmd(rt, c, 2, withnull, NULL, &v), -EINVAL);
                cr_assert_eq(task_redis_pending(c), 0);
                cr_assert_eq(r_reply(rt, c, &v), -ENOENT);
                cr_assert_null(v);
                ping_pong(rt, c);
                task_redis_close(c);
                srv_stop(&s);
                test_rt_free(rt);
        }
}

/* ---- The handshake ---------------------------------------------------------- */

/*
 * A server that wants the password "s3cret".  Set with CONFIG SET rather
 * than --requirepass: srv.c's readiness probe (a bare PING) takes the
 * NOAUTH answer of a server started with a password for a failed start.
 */
static void srv_start_pw(task_runtime *rt, struct srv *s)
{
        task_redis *c;

        srv_start(s);
        c = r_connect_ok(rt, s->addr, NULL);
        expect_status(
            r_ok(rt, c, "CONFIG", "SET", "requirepass", "s3cret", NULL), "OK");
        task_redis_close(c);
}

BOTH_FLAVORS(handshake, auth, 60)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_opts o = test_opts();
        struct srv s;
        char where[256];
        task_redis *c = NULL;

        srv_start_pw(rt, &s);
        /* No password: connecting needs no command, the first one fails
         * with an error value. */
        c = r_connect_ok(rt, s.addr, &o);
        expect_err(r_ok(rt, c, "GET", "k", NULL), "NOAUTH");
        task_redis_close(c);
        /* ... unless the handshake has a command: then -EACCES. */
        o.client_name = "me";
        cr_assert_eq(r_connect(rt, s.addr, &o, &c), -EACCES);
        o = test_opts();
        o.protocol = 3;
        cr_assert_eq(r_connect(rt, s.addr, &o, &c), -EACCES);

        for (int proto = 2; proto <= 3; proto++) {
                o = test_opts();
                o.protocol = proto;
                o.password = "wrong";
                cr_assert_eq(r_connect(rt, s.addr, &o, &c), -EACCES, "RESP%d",
                             proto);
                o.user = "default";
                cr_assert_eq(r_connect(rt, s.addr, &o, &c), -EACCES, "RESP%d",
                             proto);
                o.password = "s3cret";
                c = r_connect_ok(rt, s.addr, &o);
                cr_assert_eq(task_redis_protocol(c), proto);
                ping_pong(rt, c);
                task_redis_close(c);
                o.user = NULL;
                c = r_connect_ok(rt, s.addr, &o);
                ping_pong(rt, c);
                task_redis_close(c);
        }
        /* In a URL, with and without a user; it wins over the options. */
        o = test_opts();
        o.password = "wrong";
        snprintf(where, sizeof where, "redis://:s3cret@127.0.0.1:%d", s.port);
        c = r_connect_ok(rt, where, &o);
        ping_pong(rt, c);
        task_redis_close(c);
        snprintf(where, sizeof where, "redis://default:s3cr%%65t@127.0.0.1:%d",
                 s.port);
        c = r_connect_ok(rt, where, NULL);
        ping_pong(rt, c);
        task_redis_close(c);
        snprintf(where, sizeof where, "redis://:nope@127.0.0.1:%d", s.port);
        cr_assert_eq(r_connect(rt, where, NULL, &c), -EACCES);
        srv_stop(&s);
        test_rt_free(rt);
}

Test(handshake, select_db_and_client_name, .timeout = 60)
{
        task_runtime *rt = test_rt_new_flavor(TASK_MULTI_THREAD);
        struct task_redis_opts o = test_opts();
        struct srv s;
        char where[256];
        task_redis *c0, *c3, *cu;

        srv_start(&s);
        o.db = 3;
        o.client_name = "tester-3";
        c3 = r_connect_ok(rt, s.addr, &o);
        expect_status(r_ok(rt, c3, "SET", "k", "in-3", NULL), "OK");
        expect_str(r_ok(rt, c3, "CLIENT", "GETNAME", NULL), "tester-3");
        c0 = r_connect_ok(rt, s.addr, NULL);
        expect_nil(r_ok(rt, c0, "GET", "k", NULL));
        snprintf(where, sizeof where, "redis://127.0.0.1:%d/3", s.port);
        cu = r_connect_ok(rt, where, NULL);
        expect_str(r_ok(rt, cu, "GET", "k", NULL), "in-3");
        task_redis_close(cu);
        /* A URL's database wins over the options'. */
        snprintf(where, sizeof where, "redis://127.0.0.1:%d/0", s.port);
        cu = r_connect_ok(rt, where, &o);
        expect_nil(r_ok(rt, cu, "GET", "k", NULL));
        task_redis_close(cu);
        /* A database out of range: an error reply to the handshake. */
        o = test_opts();
        o.db = 100000;
        cr_assert_eq(r_connect(rt, s.addr, &o, &cu), -EREMOTEIO);
        /* A name the server refuses, too. */
        o = test_opts();
        o.client_name = "has space";
        cr_assert_eq(r_connect(rt, s.addr, &o, &cu), -EREMOTEIO);
        task_redis_close(c0);
        task_redis_close(c3);
        srv_stop(&s);
        test_rt_free(rt);
}

Test(handshake, hello_refused_is_eprotonosupport, .timeout = 30)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct task_redis_opts o = test_opts();
        struct fake f;
        task_redis *c = NULL;

        /* What a RESP2-only server answers to HELLO. */
        f.script = "-ERR unknown command 'HELLO', with args beginning with: "
                   "'3' \r\n";
        f.script_len = strlen(f.script);
        fake_start(&f, FAKE_SCRIPT);
        o.protocol = 3;
        cr_assert_eq(r_connect(rt, f.addr, &o, &c), -EPROTONOSUPPORT);
        fake_stop(&f);
        f.script = "-NOPROTO unsupported protocol version\r\n";
        f.script_len = strlen(f.script);
        fake_start(&f, FAKE_SCRIPT);
        cr_assert_eq(r_connect(rt, f.addr, &o, &c), -EPROTONOSUPPORT);
        fake_stop(&f);
        test_rt_free(rt);
}

/* ---- Values ---------------------------------------------------------------- */

BOTH_FLAVORS(values, resp3, 60)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_opts o = test_opts();
        struct task_redis_value *v;
        struct srv s;
        task_redis *c;
        bool saw_proto = false;

        srv_start(&s);
        o.protocol = 3;
        c = r_connect_ok(rt, s.addr, &o);
        cr_assert_eq(task_redis_protocol(c), 3);
        /* HELLO's answer is a map; RESP3 nil; integers; statuses. */
        v = r_ok(rt, c, "HELLO", "3", NULL);
        cr_assert_eq(v->type, TASK_REDIS_MAP);
        cr_assert_eq(v->n % 2, 0);
        for (size_t i = 0; i + 1 < v->n; i += 2)
                if (v_is_str(&v->elem[i], TASK_REDIS_STRING, "proto")) {
                        cr_assert_eq(v->elem[i + 1].type, TASK_REDIS_INTEGER);
                        cr_assert_eq(v->elem[i + 1].integer, 3);
                        saw_proto = true;
                }
        cr_assert(saw_proto, "HELLO's map has no \"proto\"");
        task_redis_value_free(v);
        expect_nil(r_ok(rt, c, "GET", "missing", NULL));
        expect_status(r_ok(rt, c, "SET", "n", "41", NULL), "OK");
        expect_int(r_ok(rt, c, "INCR", "n", NULL), 42);
        v = r_ok(rt, c, "CONFIG", "GET", "maxmemory", NULL);
        cr_assert_eq(v->type, TASK_REDIS_MAP, "CONFIG GET in RESP3: %s",
                     task_redis_type_name(v->type));
        cr_assert_eq(v->n, 2);
        task_redis_value_free(v);
        task_redis_close(c);
        /* The same in RESP2: an array, and $-1 for nil. */
        c = r_connect_ok(rt, s.addr, NULL);
        v = r_ok(rt, c, "CONFIG", "GET", "maxmemory", NULL);
        cr_assert_eq(v->type, TASK_REDIS_ARRAY);
        task_redis_value_free(v);
        expect_nil(r_ok(rt, c, "GET", "missing", NULL));
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}

/* Types neither server sends for string commands, from a scripted fake:
 * three commands pipelined get three RESP3 replies in one segment. */
Test(values, resp3_types_from_the_wire, .timeout = 30)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct task_redis_value *v;
        struct fake f;
        task_redis *c;

        f.script = ",3.25\r\n%2\r\n+a\r\n:1\r\n$1\r\nb\r\n#t\r\n_\r\n";
        f.script_len = strlen(f.script);
        fake_start(&f, FAKE_SCRIPT);
        c = r_connect_ok(rt, f.addr, NULL);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(r_append(c, "X", NULL), 0);
        cr_assert_eq(r_reply(rt, c, &v), 0);
        cr_assert_eq(v->type, TASK_REDIS_DOUBLE);
        cr_assert(v->dval == 3.25);
        task_redis_value_free(v);
        cr_assert_eq(r_reply(rt, c, &v), 0);
        cr_assert_eq(v->type, TASK_REDIS_MAP);
        cr_assert_eq(v->n, 4);
        cr_assert(v_is_str(&v->elem[0], TASK_REDIS_STATUS, "a"));
        cr_assert_eq(v->elem[1].integer, 1);
        cr_assert_eq(v->elem[3].type, TASK_REDIS_BOOL);
        task_redis_value_free(v);
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_nil(v);
        cr_assert_eq(task_redis_pending(c), 0);
        task_redis_close(c);
        fake_stop(&f);
        test_rt_free(rt);
}

BOTH_FLAVORS(values, errors_are_values, 60)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct srv s;
        task_redis *c;

        srv_start(&s);
        c = r_connect_ok(rt, s.addr, NULL);
        expect_err(r_ok(rt, c, "NOSUCHCOMMAND", "x", NULL), "ERR");
        expect_err(r_ok(rt, c, "GET", NULL), "ERR"); /* arity */
        expect_status(r_ok(rt, c, "SET", "s", "text", NULL), "OK");
        expect_err(r_ok(rt, c, "INCR", "s", NULL), "ERR");
        /* The connection is none the worse. */
        cr_assert(task_redis_connected(c));
        ping_pong(rt, c);
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}

BOTH_FLAVORS(values, binary_safe_arguments, 60)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        static const char key[] = "k\0e\r\ny";
        static const char val[] = "\0\x01\xff\r\n$3\r\n*1\0";
        const char *set[] = {"SET", key, val};
        size_t setl[] = {3, sizeof key - 1, sizeof val - 1};
        const char *get[] = {"GET", key};
        size_t getl[] = {3, sizeof key - 1};
        const char *empty[] = {"SET", "", NULL};
        size_t emptyl[] = {3, 0, 0};
        struct task_redis_value *v;
        struct srv s;
        task_redis *c;

        srv_start(&s);
        c = r_connect_ok(rt, s.addr, NULL);
        cr_assert_eq(r_cmd(rt, c, 3, set, setl, &v), 0);
        expect_status(v, "OK");
        cr_assert_eq(r_cmd(rt, c, 2, get, getl, &v), 0);
        cr_assert_eq(v->type, TASK_REDIS_STRING);
        cr_assert_eq(v->len, sizeof val - 1);
        cr_assert_eq(memcmp(v->str, val, v->len), 0);
        cr_assert_eq(v->str[v->len], '\0');
        task_redis_value_free(v);
        /* Empty key and value (a NULL pointer with length 0 is allowed). */
        cr_assert_eq(r_cmd(rt, c, 3, empty, emptyl, &v), 0);
        expect_status(v, "OK");
        cr_assert_eq(r_cmd(rt, c, 2, (const char *[]){"GET", NULL},
                           (size_t[]){3, 0}, &v),
                     0);
        expect_str(v, "");
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}

/* ---- One call at a time ------------------------------------------------------- */

struct stuck {
        TASK_FRAME;
        task_redis *c;
        struct task_redis_op op;
        struct task_redis_value *v;
        int rc;
};

static int stuck_fn(struct task_cx *cx, void *arg)
{
        struct stuck *f = arg;
        static const char *const get[] = {"GET", "k"};

        TASK_BEGIN(f);
        TASK_REDIS_CMD(f, f->c, &f->op, 2, get, NULL, &f->v, &f->rc);
        TASK_END(f);
}

static bool first_read_some(void *m)
{
        return atomic_load(&((struct mute *)m)->first_read) > 0;
}

Test(busy, a_second_call_gets_ebusy, .timeout = 30)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct stuck st = {0};
        struct task_redis_value *v = NULL;
        task_handle *h;
        struct mute m;
        int fds = -1;

        mute_start(&m, "+PONG\r\n");
        st.c = r_connect_ok(rt, m.addr, NULL);
        cr_assert_eq(TASK_SPAWN(rt, stuck_fn, &st, &h), 0);
        /* The GET went out and waits for a reply that never comes. */
        ct_run_until(rt, first_read_some, &m);
        cr_assert_eq(r_append(st.c, "PING", NULL), -EBUSY);
        cr_assert_eq(r_rc(rt, st.c, "PING", NULL), -EBUSY);
        cr_assert_eq(r_flush(rt, st.c), -EBUSY);
        cr_assert_eq(r_reply(rt, st.c, &v), -EBUSY);
        cr_assert_eq(r_push(rt, st.c, 0, &v), -EBUSY);
        cr_assert_eq(task_redis_pending(st.c), 1,
                     "the -EBUSY calls changed "
                     "the client");
        /* Abort the GET: it had gone out, so the connection is broken. */
        task_abort(h);
        ct_run_until(rt, h_finished, h);
        task_handle_release(h);
        cr_assert_not(task_redis_connected(st.c));
        cr_assert_eq(task_redis_pending(st.c), 0);
        cr_assert_eq(task_redis_fd(st.c), -ENOTCONN);
        cr_assert_eq(r_append(st.c, "PING", NULL), -ENOTCONN);
        cr_assert_eq(r_rc(rt, st.c, "PING", NULL), -ENOTCONN);
        cr_assert_eq(r_flush(rt, st.c), -ENOTCONN);
        (void)fds;
        task_redis_close(st.c);
        mute_stop(&m);
        test_rt_free(rt);
}

/* ---- Pushes (RESP3) -------------------------------------------------------- */

BOTH_FLAVORS(push, pubsub_pushes, 60)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_opts o = test_opts();
        const char *sub[] = {"SUBSCRIBE", "ch"};
        struct task_redis_value *v;
        task_redis *c, *pub;
        struct srv s;

        srv_start(&s);
        o.protocol = 3;
        c = r_connect_ok(rt, s.addr, &o);
        pub = r_connect_ok(rt, s.addr, NULL);
        cr_assert_eq(task_redis__append_noreply(c, 2, sub, NULL), 0);
        cr_assert_eq(task_redis_pending(c), 0);
        cr_assert_eq(r_push(rt, c, TASK_SEC(5), &v), 0);
        expect_msg(v, TASK_REDIS_PUSH, "subscribe", "ch", NULL);
        expect_int(r_ok(rt, pub, "PUBLISH", "ch", "one", NULL), 1);
        cr_assert_eq(r_push(rt, c, TASK_SEC(5), &v), 0);
        expect_msg(v, TASK_REDIS_PUSH, "message", "ch", "one");
        /* A push that arrives ahead of a reply is set aside. */
        expect_int(r_ok(rt, pub, "PUBLISH", "ch", "two", NULL), 1);
        ping_pong(rt, c);
        cr_assert_eq(r_push(rt, c, 0, &v), 0);
        expect_msg(v, TASK_REDIS_PUSH, "message", "ch", "two");
        /* A push_poll that times out leaves the connection as it was. */
        cr_assert_eq(r_push(rt, c, TASK_MS(50), &v), -ETIMEDOUT);
        cr_assert(task_redis_connected(c));
        ping_pong(rt, c);
        expect_int(r_ok(rt, pub, "PUBLISH", "ch", "three", NULL), 1);
        cr_assert_eq(r_push(rt, c, TASK_SEC(5), &v), 0);
        expect_msg(v, TASK_REDIS_PUSH, "message", "ch", "three");
        task_redis_close(pub);
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}

Test(push, at_most_max_pushes_are_kept, .timeout = 60)
{
        task_runtime *rt = test_rt_new_flavor(TASK_MULTI_THREAD);
        struct task_redis_opts o = test_opts();
        const char *sub[] = {"SUBSCRIBE", "ch"};
        struct task_redis_value *v;
        task_redis *c, *pub;
        struct srv s;
        char msg[16];

        srv_start(&s);
        o.protocol = 3;
        o.max_pushes = 2;
        c = r_connect_ok(rt, s.addr, &o);
        pub = r_connect_ok(rt, s.addr, NULL);
        cr_assert_eq(task_redis__append_noreply(c, 2, sub, NULL), 0);
        cr_assert_eq(r_push(rt, c, TASK_SEC(5), &v), 0);
        task_redis_value_free(v);
        for (int i = 1; i <= 5; i++) {
                snprintf(msg, sizeof msg, "m%d", i);
                expect_int(r_ok(rt, pub, "PUBLISH", "ch", msg, NULL), 1);
        }
        /* The five messages precede PONG; the three oldest are dropped. */
        ping_pong(rt, c);
        cr_assert_eq(r_push(rt, c, 0, &v), 0);
        expect_msg(v, TASK_REDIS_PUSH, "message", "ch", "m4");
        cr_assert_eq(r_push(rt, c, 0, &v), 0);
        expect_msg(v, TASK_REDIS_PUSH, "message", "ch", "m5");
        cr_assert_eq(r_push(rt, c, TASK_MS(30), &v), -ETIMEDOUT);
        task_redis_close(pub);
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}

/* RESP2: no pushes; the subscriber reads its confirmation as a value. */
Test(push, resp2_subscribe_reads_values, .timeout = 60)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        const char *sub[] = {"SUBSCRIBE", "ch"};
        struct task_redis_value *v;
        task_redis *c, *pub;
        struct srv s;

        srv_start(&s);
        c = r_connect_ok(rt, s.addr, NULL);
        pub = r_connect_ok(rt, s.addr, NULL);
        cr_assert_eq(task_redis__append_noreply(c, 2, sub, NULL), 0);
        cr_assert_eq(r_value(rt, c, 0, &v), 0);
        expect_msg(v, TASK_REDIS_ARRAY, "subscribe", "ch", NULL);
        expect_int(r_ok(rt, pub, "PUBLISH", "ch", "hi", NULL), 1);
        cr_assert_eq(r_value(rt, c, 0, &v), 0);
        expect_msg(v, TASK_REDIS_ARRAY, "message", "ch", "hi");
        cr_assert_eq(r_value(rt, c, TASK_MS(30), &v), -ETIMEDOUT);
        cr_assert(task_redis_connected(c), "a value_poll with no reply "
                                           "owed broke on its timeout");
        task_redis_close(pub);
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}

/* ---- Closing -------------------------------------------------------------- */

BOTH_FLAVORS(close, with_replies_and_pushes_pending, 60)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_opts o = test_opts();
        const char *sub[] = {"SUBSCRIBE", "ch"};
        struct task_redis_value *v;
        task_redis *c, *pub;
        struct srv s;

        srv_start(&s);
        /* Written, unread. */
        c = r_connect_ok(rt, s.addr, NULL);
        for (int i = 0; i < 100; i++)
                cr_assert_eq(r_append(c, "SET", "k", "v", NULL), 0);
        cr_assert_eq(r_flush(rt, c), 0);
        cr_assert_eq(task_redis_pending(c), 100);
        /* Plus some queued, unwritten. */
        cr_assert_eq(r_append(c, "GET", "k", NULL), 0);
        cr_assert_eq(task_redis_pending(c), 101);
        task_redis_close(c);
        /* Pushes set aside and replies read ahead. */
        o.protocol = 3;
        c = r_connect_ok(rt, s.addr, &o);
        pub = r_connect_ok(rt, s.addr, NULL);
        cr_assert_eq(task_redis__append_noreply(c, 2, sub, NULL), 0);
        cr_assert_eq(r_push(rt, c, TASK_SEC(5), &v), 0);
        task_redis_value_free(v);
        expect_int(r_ok(rt, pub, "PUBLISH", "ch", "x", NULL), 1);
        expect_int(r_ok(rt, pub, "PUBLISH", "ch", "y", NULL), 1);
        cr_assert_eq(r_append(c, "PING", NULL), 0);
        cr_assert_eq(r_append(c, "PING", NULL), 0);
        /* push_poll reads "x" and keeps nothing else. */
        cr_assert_eq(r_push(rt, c, TASK_SEC(5), &v), 0);
        expect_msg(v, TASK_REDIS_PUSH, "message", "ch", "x");
        /* One reply, which reads the second push and sets it aside. */
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_status(v, "PONG");
        cr_assert_eq(task_redis_pending(c), 1);
        task_redis_close(c);
        task_redis_close(pub);
        srv_stop(&s);
        test_rt_free(rt);
}

/* push_poll reads replies ahead; reply_poll hands them out in order. */
Test(push, replies_read_ahead_by_push_poll, .timeout = 60)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct task_redis_opts o = test_opts();
        const char *sub[] = {"SUBSCRIBE", "ch"};
        struct task_redis_value *v;
        task_redis *c, *pub;
        struct srv s;

        srv_start(&s);
        o.protocol = 3;
        c = r_connect_ok(rt, s.addr, &o);
        pub = r_connect_ok(rt, s.addr, NULL);
        cr_assert_eq(r_append(c, "ECHO", "a", NULL), 0);
        cr_assert_eq(r_append(c, "ECHO", "b", NULL), 0);
        cr_assert_eq(task_redis__append_noreply(c, 2, sub, NULL), 0);
        /* The two replies come first: push_poll keeps them. */
        cr_assert_eq(r_push(rt, c, TASK_SEC(5), &v), 0);
        expect_msg(v, TASK_REDIS_PUSH, "subscribe", "ch", NULL);
        cr_assert_eq(task_redis_pending(c), 2);
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_str(v, "a");
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_str(v, "b");
        cr_assert_eq(r_reply(rt, c, &v), -ENOENT);
        task_redis_close(pub);
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}
