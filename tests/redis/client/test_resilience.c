/*
 * test_resilience.c - the async client when things go wrong: a server
 * that never answers (the command timeout, bounded), one that closes
 * mid-reply or without replying, one that sends garbage, a handshake that
 * never ends (the connect timeout); reconnection after the server
 * restarts (handshake re-run, commands queued while broken sent after
 * it) and -ENOTCONN without it; the backoff between attempts, observable
 * in time and in the attempt counter; a task aborted mid-command (the
 * connection breaks, nothing leaks, the client reconnects) and one
 * aborted before its command went out (the command is taken back).
 * Every test counts the process's descriptors: nothing is left open.
 */
#include "core_helpers.h"

#include <dirent.h>

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        cr_assert_not_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static uint64_t ms_since(uint64_t t0)
{
        return (now_ns() - t0) / 1000000u;
}

/* ---- Misbehaving servers ------------------------------------------------------ */

BOTH_FLAVORS(bad_server, silent_server_times_out, 60)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_opts o = test_opts();
        struct task_redis_value *v;
        struct fake f;
        task_redis *c;
        uint64_t t0, ms;

        fake_start(&f, FAKE_SILENT);
        o.command_timeout_ns = TASK_MS(200);
        c = r_connect_ok(rt, f.addr, &o);
        t0 = now_ns();
        cr_assert_eq(r_rc(rt, c, "GET", "k", NULL), -ETIMEDOUT);
        ms = ms_since(t0);
        cr_assert(ms >= 200 && ms < 2000, "timed out after %llu ms",
                  (unsigned long long)ms);
        cr_assert_not(task_redis_connected(c));
        cr_assert_eq(task_redis_pending(c), 0);
        cr_assert_eq(r_rc(rt, c, "GET", "k", NULL), -ENOTCONN);
        task_redis_close(c);

        /* Pipelined: each reply_poll has the limit; the first one to
         * expire breaks the connection and the other replies are gone. */
        c = r_connect_ok(rt, f.addr, &o);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(r_append(c, "GET", "k", NULL), 0);
        t0 = now_ns();
        cr_assert_eq(r_reply(rt, c, &v), -ETIMEDOUT);
        cr_assert_null(v);
        ms = ms_since(t0);
        cr_assert(ms >= 200 && ms < 2000, "%llu ms", (unsigned long long)ms);
        cr_assert_eq(task_redis_pending(c), 0);
        cr_assert_eq(r_reply(rt, c, &v), -ENOTCONN);
        task_redis_close(c);

        /* With reconnection on, the next call connects again. */
        o.reconnect = true;
        c = r_connect_ok(rt, f.addr, &o);
        cr_assert_eq(r_rc(rt, c, "GET", "k", NULL), -ETIMEDOUT);
        cr_assert_eq(r_rc(rt, c, "GET", "k", NULL), -ETIMEDOUT);
        cr_assert_eq(task_redis_reconnects(c), 1);
        cr_assert(WAIT_UNTIL(fake_accepted(&f) == 4, 2000));
        task_redis_close(c);
        fake_stop(&f);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

BOTH_FLAVORS(bad_server, closes_mid_reply_or_without_one, 60)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct fake half, closer;
        task_redis *c;

        fake_start(&half, FAKE_HALF_REPLY);
        fake_start(&closer, FAKE_CLOSE);
        c = r_connect_ok(rt, half.addr, NULL);
        cr_assert_eq(r_rc(rt, c, "GET", "k", NULL), -ECONNRESET);
        cr_assert_not(task_redis_connected(c));
        task_redis_close(c);
        c = r_connect_ok(rt, closer.addr, NULL);
        cr_assert_eq(r_rc(rt, c, "GET", "k", NULL), -ECONNRESET);
        cr_assert_not(task_redis_connected(c));
        task_redis_close(c);
        fake_stop(&half);
        fake_stop(&closer);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

BOTH_FLAVORS(bad_server, garbage_is_eproto, 60)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct fake f;
        task_redis *c;

        fake_start(&f, FAKE_GARBAGE);
        c = r_connect_ok(rt, f.addr, NULL);
        cr_assert_eq(r_rc(rt, c, "GET", "k", NULL), -EPROTO);
        cr_assert_not(task_redis_connected(c));
        cr_assert_eq(r_rc(rt, c, "GET", "k", NULL), -ENOTCONN);
        task_redis_close(c);
        fake_stop(&f);
        /* A reply to nothing (two replies for one command) as well. */
        f.script = "+OK\r\n+OK\r\n";
        f.script_len = strlen(f.script);
        fake_start(&f, FAKE_SCRIPT);
        c = r_connect_ok(rt, f.addr, NULL);
        {
                struct task_redis_value *v;

                expect_status(r_ok(rt, c, "PING", NULL), "OK");
                /* The second +OK answers nothing: found by the next read. */
                cr_assert_eq(r_push(rt, c, TASK_SEC(5), &v), -EPROTO);
                cr_assert_not(task_redis_connected(c));
        }
        task_redis_close(c);
        fake_stop(&f);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

BOTH_FLAVORS(bad_server, connect_timeout_covers_the_handshake, 60)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_opts o = test_opts();
        struct fake f;
        task_redis *c = NULL;
        uint64_t t0, ms;

        fake_start(&f, FAKE_SILENT);
        o.protocol = 3; /* HELLO 3: never answered */
        o.connect_timeout_ns = TASK_MS(150);
        t0 = now_ns();
        cr_assert_eq(r_connect(rt, f.addr, &o, &c), -ETIMEDOUT);
        ms = ms_since(t0);
        cr_assert(ms >= 150 && ms < 2000, "%llu ms", (unsigned long long)ms);
        cr_assert_null(c);
        cr_assert_eq(fake_accepted(&f), 1);
        fake_stop(&f);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- Reconnection ------------------------------------------------------------- */

BOTH_FLAVORS(reconnect, after_server_restart, 90)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_opts o = test_opts();
        struct task_redis_value *v;
        struct srv s;
        task_redis *c;
        int rc;

        srv_start(&s);
        o.reconnect = true;
        o.db = 2;
        o.client_name = "comeback";
        o.backoff_min_ns = TASK_MS(5);
        o.backoff_max_ns = TASK_MS(50);
        c = r_connect_ok(rt, s.addr, &o);
        expect_status(r_ok(rt, c, "SET", "a", "1", NULL), "OK");
        srv_kill(&s);
        rc = r_rc(rt, c, "GET", "a", NULL);
        cr_assert(rc == -ECONNRESET || rc == -EPIPE, "GET: %s",
                  task_strerror(rc));
        cr_assert_not(task_redis_connected(c));
        srv_restart(&s);
        /* The handshake runs again: the name and the database. */
        expect_nil(r_ok(rt, c, "GET", "a", NULL)); /* a fresh server */
        cr_assert(task_redis_connected(c));
        cr_assert_eq(task_redis_reconnects(c), 1);
        expect_str(r_ok(rt, c, "CLIENT", "GETNAME", NULL), "comeback");
        expect_status(r_ok(rt, c, "SET", "in2", "yes", NULL), "OK");
        {
                task_redis *c0 = r_connect_ok(rt, s.addr, NULL);

                expect_nil(r_ok(rt, c0, "GET", "in2", NULL));
                expect_status(r_ok(rt, c0, "SELECT", "2", NULL), "OK");
                expect_str(r_ok(rt, c0, "GET", "in2", NULL), "yes");
                task_redis_close(c0);
        }
        /* Commands appended while broken go out after the reconnection,
         * once; none appended before the break is ever sent again. */
        cr_assert_eq(r_append(c, "INCR", "once", NULL), 0);
        srv_kill(&s);
        rc = r_flush(rt, c);
        if (rc == 0) /* the write went into the socket buffer */
                rc = r_reply(rt, c, &v);
        cr_assert(rc == -ECONNRESET || rc == -EPIPE, "%s", task_strerror(rc));
        cr_assert_eq(task_redis_pending(c), 0);
        srv_restart(&s);
        cr_assert_eq(r_append(c, "INCR", "once", NULL), 0);
        cr_assert_eq(r_flush(rt, c), 0);
        cr_assert_eq(task_redis_reconnects(c), 2);
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_int(v, 1);
        expect_str(r_ok(rt, c, "GET", "once", NULL), "1");
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

BOTH_FLAVORS(reconnect, off_gives_enotconn, 60)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_value *v;
        struct srv s;
        task_redis *c;
        int rc;

        srv_start(&s);
        c = r_connect_ok(rt, s.addr, NULL);
        srv_kill(&s);
        rc = r_rc(rt, c, "PING", NULL);
        cr_assert(rc == -ECONNRESET || rc == -EPIPE, "%s", task_strerror(rc));
        srv_restart(&s);
        cr_assert_eq(r_rc(rt, c, "PING", NULL), -ENOTCONN);
        cr_assert_eq(r_append(c, "PING", NULL), -ENOTCONN);
        cr_assert_eq(r_flush(rt, c), -ENOTCONN);
        cr_assert_eq(r_reply(rt, c, &v), -ENOTCONN);
        cr_assert_eq(r_push(rt, c, 0, &v), -ENOTCONN);
        cr_assert_eq(r_value(rt, c, 0, &v), -ENOTCONN);
        cr_assert_eq(task_redis_reconnects(c), 0);
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(reconnect, backoff_between_attempts, .timeout = 60)
{
        task_runtime *rt = test_rt_new_flavor(TASK_MULTI_THREAD);
        struct task_redis_opts o = test_opts();
        struct fake f;
        task_redis *c;
        uint64_t t0, first, second;
        int rc;

        fake_start(&f, FAKE_SILENT);
        o.reconnect = true;
        o.max_attempts = 4;
        o.backoff_min_ns = TASK_MS(20);
        o.backoff_max_ns = TASK_MS(100);
        c = r_connect_ok(rt, f.addr, &o);
        fake_stop(&f); /* its port now refuses */
        rc = r_rc(rt, c, "PING", NULL);
        cr_assert(rc == -ECONNRESET || rc == -EPIPE, "%s", task_strerror(rc));
        cr_assert_eq(task_redis_connect_attempts(c), 1);

        /* 4 attempts, waiting [10,20] + [20,40] + [40,80] ms between. */
        t0 = now_ns();
        cr_assert_eq(r_rc(rt, c, "PING", NULL), -ECONNREFUSED);
        first = ms_since(t0);
        cr_assert_eq(task_redis_connect_attempts(c), 5);
        cr_assert(first >= 70 && first < 1500, "first call: %llu ms",
                  (unsigned long long)first);
        /* The streak goes on: [50,100] ms (capped) before each of the
         * next 4 attempts, the first one included. */
        t0 = now_ns();
        cr_assert_eq(r_rc(rt, c, "PING", NULL), -ECONNREFUSED);
        second = ms_since(t0);
        cr_assert_eq(task_redis_connect_attempts(c), 9);
        cr_assert(second >= 200 && second < 1500, "second call: %llu ms",
                  (unsigned long long)second);
        cr_assert_eq(task_redis_reconnects(c), 0);
        task_redis_close(c);
        test_rt_free(rt);
}

/* ---- Aborting a call ---------------------------------------------------------- */

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
        static const char *const set[] = {"SET", "x", "1"};

        TASK_BEGIN(f);
        TASK_REDIS_CMD(f, f->c, &f->op, 3, set, NULL, &f->v, &f->rc);
        TASK_END(f);
}

static bool first_read_some(void *m)
{
        return atomic_load(&((struct mute *)m)->first_read) > 0;
}

BOTH_FLAVORS(abort, mid_command_then_reconnect, 60)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_opts o = test_opts();
        struct stuck st = {0};
        task_handle *h;
        struct mute m;

        mute_start(&m, "+PONG\r\n");
        o.reconnect = true;
        st.c = r_connect_ok(rt, m.addr, &o);
        cr_assert_eq(TASK_SPAWN(rt, stuck_fn, &st, &h), 0);
        if (flavor == TASK_CURRENT_THREAD)
                ct_run_until(rt, first_read_some, &m);
        else
                cr_assert(WAIT_UNTIL(first_read_some(&m), 5000));
        task_abort(h);
        if (flavor == TASK_CURRENT_THREAD)
                ct_run_until(rt, h_finished, h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        task_handle_release(h);
        /* The SET went out: its reply could be taken for another's. */
        cr_assert_not(task_redis_connected(st.c));
        cr_assert_eq(task_redis_pending(st.c), 0);
        expect_status(r_ok(rt, st.c, "PING", NULL), "PONG");
        cr_assert_eq(task_redis_reconnects(st.c), 1);
        cr_assert_eq(atomic_load(&m.accepted), 2);
        task_redis_close(st.c);
        mute_stop(&m);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

static bool owes_one(void *c)
{
        return task_redis_pending(c) == 1;
}

/* Aborted while waiting out the backoff, before its command was written:
 * the command is taken back and never sent. */
Test(abort, before_the_write_takes_the_command_back, .timeout = 60)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct task_redis_opts o = test_opts();
        struct stuck st = {0};
        task_handle *h;
        struct srv s;
        int rc;

        srv_start(&s);
        o.reconnect = true;
        o.max_attempts = 1;
        o.backoff_min_ns = TASK_MS(600);
        o.backoff_max_ns = TASK_MS(600);
        st.c = r_connect_ok(rt, s.addr, &o);
        srv_kill(&s);
        rc = r_rc(rt, st.c, "PING", NULL);
        cr_assert(rc == -ECONNRESET || rc == -EPIPE, "%s", task_strerror(rc));
        cr_assert_eq(r_rc(rt, st.c, "PING", NULL), -ECONNREFUSED);
        /* The next attempt waits [300,600] ms: the SET is queued. */
        cr_assert_eq(TASK_SPAWN(rt, stuck_fn, &st, &h), 0);
        ct_run_until(rt, owes_one, st.c);
        task_abort(h);
        ct_run_until(rt, h_finished, h);
        task_handle_release(h);
        cr_assert_eq(task_redis_pending(st.c), 0);
        srv_restart(&s);
        expect_nil(r_ok(rt, st.c, "GET", "x", NULL));
        cr_assert_eq(task_redis_reconnects(st.c), 1);
        task_redis_close(st.c);
        srv_stop(&s);
        test_rt_free(rt);
}
