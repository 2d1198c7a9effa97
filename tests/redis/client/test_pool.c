/*
 * test_pool.c - the connection pool (libtask/redis_pool.h): at most
 * max_size connections under contention (counted by the server: CLIENT
 * LIST), reuse of idle connections, broken ones replaced after a server
 * restart, the wait timeout, cancellation of a get (waiting or
 * connecting) giving its permit back, close and free.
 *
 * Against srv.h's server ($RDS_CLIENT_SERVER: task-redis-server or
 * redis-server, same expectations) or its fake servers.
 */
#include "srv.h"

#include <libtask/redis.h>
#include <libtask/task.h>

#include <criterion/criterion.h>

#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ------------------------------------------------------------------- */

static task_redis_pool *pool_new(const char *addr, unsigned max,
                                 const char *name, bool reconnect, int protocol)
{
        struct task_redis_opts o;
        task_redis_pool *p = NULL;
        int rc;

        task_redis_opts_init(&o);
        o.client_name = name;
        o.reconnect = reconnect;
        o.backoff_min_ns = TASK_MS(5);
        o.backoff_max_ns = TASK_MS(50);
        if (protocol)
                o.protocol = protocol;
        rc = task_redis_pool_new(addr, &o, max, &p);
        cr_assert_eq(rc, 0, "task_redis_pool_new: %s", task_strerror(rc));
        return p;
}

static struct task_redis_pool_stats pool_stats(task_redis_pool *p)
{
        struct task_redis_pool_stats st;

        cr_assert_eq(task_redis_pool_stats(p, &st), 0);
        return st;
}

/*
 * One borrower: get (waiting at most wait_ns), optionally one command,
 * optionally wait at a gate, then put back (or discard, or keep: the
 * test puts it back).  The frame keeps what happened.
 */
struct pj {
        TASK_FRAME;
        task_redis_pool *pool;
        struct task_redis_pool_get g;
        struct task_redis_op op;
        task_redis *c;
        struct task_redis_value *v;
        uint64_t wait_ns;
        const char *argv[3];
        int argc;
        struct gate *gate; /* if not NULL: hold the connection until open */
        enum { PJ_PUT, PJ_DISCARD, PJ_KEEP } after;
        int get_rc, rc;
        atomic_bool got; /* read by the test thread while it runs */
        bool done_cmd;
        enum task_redis_type type;
        int64_t integer;
};

static int pj_fn(struct task_cx *cx, void *arg)
{
        struct pj *f = arg;

        TASK_BEGIN(f);
        f->get_rc = 1;
        TASK_REDIS_POOL_GET(f, f->pool, &f->g, f->wait_ns, &f->c, &f->get_rc);
        if (f->get_rc < 0)
                TASK_RETURN(f);
        atomic_store(&f->got, true);
        if (f->argc) {
                TASK_REDIS_CMD(f, f->c, &f->op, f->argc, f->argv, NULL, &f->v,
                               &f->rc);
                f->done_cmd = true;
                if (f->v) {
                        f->type = f->v->type;
                        f->integer = f->v->integer;
                }
                task_redis_value_free(f->v);
                f->v = NULL;
        }
        if (f->gate)
                TASK_AWAIT(f, gate_poll(cx, f->gate));
        TASK_CLEANUP(f);
        task_redis_value_free(f->v);
        f->v = NULL;
        if (f->c && f->after != PJ_KEEP) {
                if (f->after == PJ_DISCARD || cx->cancelling)
                        task_redis_pool_discard(f->pool, f->c);
                else
                        task_redis_pool_put(f->pool, f->c);
        }
        TASK_END(f);
}

static task_handle *pj_spawn(task_runtime *rt, struct pj *init)
{
        task_handle *h = NULL;

        cr_assert_eq(TASK_SPAWN(rt, pj_fn, init, &h), 0);
        return h;
}

static struct pj *pj_of(task_handle *h)
{
        return task_handle_frame(h);
}

/* Run a borrower to its end from the test thread; its frame is copied. */
static struct pj pj_run(task_runtime *rt, struct pj init)
{
        task_handle *h = pj_spawn(rt, &init);
        struct pj r;

        cr_assert_eq(task_join_blocking(h), 0);
        r = *pj_of(h);
        task_handle_release(h);
        return r;
}

/* ---- Size limit, reuse --------------------------------------------------------- */

/*
 * 64 tasks hammer a pool of 4: each round borrows a connection, counts
 * the server's clients named "rdpool" (CLIENT LIST), sleeps a little and
 * puts it back.  The server never sees more than 4, and all 4 are used.
 */
struct hammer {
        TASK_FRAME;
        task_redis_pool *pool;
        struct task_redis_pool_get g;
        struct task_redis_op op;
        struct task_sleep sleep;
        task_redis *c;
        struct task_redis_value *v;
        const char *argv[2];
        int i, rounds, rc, bad;
        int max_seen;     /* most clients named rdpool seen by the server */
        unsigned max_out; /* most connections borrowed at once (stats) */
};

static int count_named(const struct task_redis_value *v, const char *needle)
{
        const char *p;
        int n = 0;

        if (!v ||
            (v->type != TASK_REDIS_STRING && v->type != TASK_REDIS_VERBATIM))
                return -1;
        for (p = v->str; (p = strstr(p, needle)) != NULL; p++)
                n++;
        return n;
}

static int hammer_fn(struct task_cx *cx, void *arg)
{
        struct hammer *f = arg;
        struct task_redis_pool_stats st;
        int n;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->rounds; f->i++) {
                TASK_REDIS_POOL_GET(f, f->pool, &f->g, 0, &f->c, &f->rc);
                if (f->rc < 0) {
                        f->bad++;
                        continue;
                }
                task_redis_pool_stats(f->pool, &st);
                if (st.borrowed > f->max_out)
                        f->max_out = st.borrowed;
                f->argv[0] = "CLIENT";
                f->argv[1] = "LIST";
                TASK_REDIS_CMD(f, f->c, &f->op, 2, f->argv, NULL, &f->v,
                               &f->rc);
                n = f->rc == 0 ? count_named(f->v, "name=rdpool ") : -1;
                task_redis_value_free(f->v);
                f->v = NULL;
                if (n < 1)
                        f->bad++;
                if (n > f->max_seen)
                        f->max_seen = n;
                TASK_SLEEP(f, &f->sleep, TASK_US(500));
                task_redis_pool_put(f->pool, f->c);
                f->c = NULL;
        }
        TASK_CLEANUP(f);
        task_redis_value_free(f->v);
        if (f->c)
                task_redis_pool_discard(f->pool, f->c);
        TASK_END(f);
}

Test(pool, max_size_under_contention, .timeout = 120)
{
        enum { N = 64, MAX = 4 };
        int rounds = (int)test_scaled(20, 4);
        struct srv s;
        task_runtime *rt;
        task_redis_pool *p;
        task_handle *h[N];
        struct task_redis_pool_stats st;
        int max_seen = 0;
        unsigned max_out = 0;

        srv_start(&s);
        rt = test_rt_new_mt(4);
        p = pool_new(s.addr, MAX, "rdpool", false, 0);
        for (int i = 0; i < N; i++) {
                struct hammer f = {.pool = p, .rounds = rounds};

                h[i] = NULL;
                cr_assert_eq(TASK_SPAWN(rt, hammer_fn, &f, &h[i]), 0);
        }
        for (int i = 0; i < N; i++) {
                struct hammer *f;

                cr_assert_eq(task_join_blocking(h[i]), 0);
                f = task_handle_frame(h[i]);
                cr_assert_eq(f->bad, 0, "task %d: %d failures", i, f->bad);
                if (f->max_seen > max_seen)
                        max_seen = f->max_seen;
                if (f->max_out > max_out)
                        max_out = f->max_out;
                task_handle_release(h[i]);
        }
        st = pool_stats(p);
        cr_log_info("server saw at most %d, %u borrowed at once, %llu "
                    "connects, %llu reuses",
                    max_seen, max_out, (unsigned long long)st.connects,
                    (unsigned long long)st.reuses);
        cr_assert_leq(max_seen, MAX, "the server saw %d connections", max_seen);
        cr_assert_leq(max_out, (unsigned)MAX);
        cr_assert_eq(max_out, (unsigned)MAX, "no contention: test is weak");
        cr_assert_leq(st.connects, (uint64_t)MAX);
        cr_assert_eq(st.connects + st.reuses, (uint64_t)N * rounds);
        cr_assert_eq(st.borrowed, 0u);
        cr_assert_eq(st.open, st.idle);
        cr_assert_leq(st.open, (unsigned)MAX);
        cr_assert_eq(task_redis_pool_free(p), 0);
        test_rt_free(rt);
        srv_stop(&s);
}

/* An idle connection is reused (same client, same server-side id); a new
 * pool connects nothing until asked. */
Test(pool, reuses_idle_connection, .timeout = 30)
{
        struct srv s;
        task_runtime *rt;
        task_redis_pool *p;
        struct pj a, b;

        srv_start(&s);
        rt = test_rt_new_mt(2);
        p = pool_new(s.addr, 3, NULL, false, 0);
        cr_assert_eq(pool_stats(p).open, 0u);
        a = pj_run(rt,
                   (struct pj){.pool = p, .argc = 2, .argv = {"CLIENT", "ID"}});
        cr_assert_eq(a.get_rc, 0);
        cr_assert_eq(a.rc, 0);
        cr_assert_eq(a.type, TASK_REDIS_INTEGER);
        b = pj_run(rt,
                   (struct pj){.pool = p, .argc = 2, .argv = {"CLIENT", "ID"}});
        cr_assert_eq(b.get_rc, 0);
        cr_assert_eq(b.c, a.c, "not the same connection");
        cr_assert_eq(b.integer, a.integer, "not the same server client");
        cr_assert_eq(pool_stats(p).connects, 1u);
        cr_assert_eq(pool_stats(p).reuses, 1u);
        cr_assert_eq(pool_stats(p).idle, 1u);
        /* A discarded connection is not reused. */
        b = pj_run(rt, (struct pj){.pool = p, .after = PJ_DISCARD});
        cr_assert_eq(b.get_rc, 0);
        cr_assert_eq(pool_stats(p).open, 0u);
        cr_assert_eq(pool_stats(p).discarded, 1u);
        b = pj_run(rt,
                   (struct pj){.pool = p, .argc = 2, .argv = {"CLIENT", "ID"}});
        cr_assert_eq(b.get_rc, 0);
        cr_assert_neq(b.integer, a.integer);
        cr_assert_eq(pool_stats(p).connects, 2u);
        cr_assert_eq(task_redis_pool_free(p), 0);
        test_rt_free(rt);
        srv_stop(&s);
}

/* ---- Broken connections ------------------------------------------------------- */

/*
 * The server dies and comes back: the idle connection is dead, its next
 * command fails, put closes it instead of keeping it, and the next get
 * connects afresh to the new server.
 */
Test(pool, broken_connection_replaced, .timeout = 60)
{
        struct srv s;
        task_runtime *rt;
        task_redis_pool *p;
        struct pj a;

        srv_start(&s);
        rt = test_rt_new_mt(2);
        p = pool_new(s.addr, 2, NULL, false, 0);
        a = pj_run(rt, (struct pj){.pool = p, .argc = 1, .argv = {"PING"}});
        cr_assert_eq(a.rc, 0);
        srv_kill(&s);
        srv_restart(&s);
        a = pj_run(rt, (struct pj){.pool = p, .argc = 1, .argv = {"PING"}});
        cr_assert_eq(a.get_rc, 0);
        cr_assert(a.rc == -ECONNRESET || a.rc == -EPIPE, "rc %d", a.rc);
        cr_assert_eq(pool_stats(p).reuses, 1u);
        cr_assert_eq(pool_stats(p).discarded, 1u, "a broken one was kept");
        cr_assert_eq(pool_stats(p).open, 0u);
        a = pj_run(rt, (struct pj){.pool = p, .argc = 1, .argv = {"PING"}});
        cr_assert_eq(a.rc, 0, "rc %d", a.rc);
        cr_assert_eq(a.type, TASK_REDIS_STATUS);
        cr_assert_eq(pool_stats(p).connects, 2u);
        cr_assert_eq(task_redis_pool_free(p), 0);
        test_rt_free(rt);
        srv_stop(&s);
}

/* With reconnect on, a pooled connection heals itself: after a restart
 * the command that finds it dead fails, and the same connection then
 * reconnects on its next use (the pool keeps it: it is connected). */
Test(pool, reconnecting_connection_kept, .timeout = 60)
{
        struct srv s;
        task_runtime *rt;
        task_redis_pool *p;
        struct pj a;
        int i;

        srv_start(&s);
        rt = test_rt_new_mt(2);
        p = pool_new(s.addr, 1, NULL, true, 0);
        a = pj_run(rt, (struct pj){.pool = p, .argc = 1, .argv = {"PING"}});
        cr_assert_eq(a.rc, 0);
        srv_kill(&s);
        srv_restart(&s);
        for (i = 0; i < 50; i++) {
                a = pj_run(rt,
                           (struct pj){.pool = p, .argc = 1, .argv = {"PING"}});
                cr_assert_eq(a.get_rc, 0);
                if (a.rc == 0)
                        break;
        }
        cr_assert_eq(a.rc, 0, "never healed: %d", a.rc);
        cr_assert_leq(i, 1, "%d failures before healing", i);
        cr_assert_eq(task_redis_pool_free(p), 0);
        test_rt_free(rt);
        srv_stop(&s);
}

/* A refused connect gives its permit back (else the second get would
 * wait for a permit and time out). */
Test(pool, connect_error_returns_permit, .timeout = 30)
{
        char addr[64];
        task_runtime *rt;
        task_redis_pool *p;
        struct pj a;

        snprintf(addr, sizeof addr, "127.0.0.1:%d", srv_closed_port());
        rt = test_rt_new_mt(2);
        p = pool_new(addr, 1, NULL, false, 0);
        for (int i = 0; i < 3; i++) {
                a = pj_run(rt, (struct pj){.pool = p, .wait_ns = TASK_SEC(2)});
                cr_assert_eq(a.get_rc, -ECONNREFUSED, "get %d: %d", i,
                             a.get_rc);
        }
        cr_assert_eq(pool_stats(p).borrowed, 0u);
        cr_assert_eq(pool_stats(p).open, 0u);
        cr_assert_eq(task_redis_pool_free(p), 0);
        test_rt_free(rt);
}

/* ---- Waiting ---------------------------------------------------------------------- */

/* All connections out: a get with a wait timeout gives up with
 * -ETIMEDOUT; one without waits and gets the connection put back. */
Test(pool, wait_timeout_and_handover, .timeout = 30)
{
        struct srv s;
        task_runtime *rt;
        task_redis_pool *p;
        struct gate g;
        task_handle *holder, *waiter;
        struct pj t;
        uint64_t t0;

        srv_start(&s);
        gate_init(&g);
        rt = test_rt_new_mt(2);
        p = pool_new(s.addr, 1, NULL, false, 0);
        holder = pj_spawn(rt, &(struct pj){.pool = p, .gate = &g});
        cr_assert(WAIT_UNTIL(atomic_load(&pj_of(holder)->got), 5000));
        t0 = now_ns();
        t = pj_run(rt, (struct pj){.pool = p, .wait_ns = TASK_MS(100)});
        cr_assert_eq(t.get_rc, -ETIMEDOUT, "rc %d", t.get_rc);
        cr_assert_geq(now_ns() - t0, TASK_MS(100), "gave up early");
        cr_assert_eq(pool_stats(p).timeouts, 1u);
        waiter = pj_spawn(
            rt, &(struct pj){
                    .pool = p, .argc = 1, .argv = {"PING"}, .after = PJ_KEEP});
        sleep_ms(20);
        cr_assert(!atomic_load(&pj_of(waiter)->got),
                  "got a connection that is out");
        gate_open(&g);
        cr_assert_eq(task_join_blocking(holder), 0);
        cr_assert_eq(task_join_blocking(waiter), 0);
        cr_assert_eq(pj_of(waiter)->get_rc, 0);
        cr_assert_eq(pj_of(waiter)->c, pj_of(holder)->c, "not handed over");
        cr_assert_eq(pj_of(waiter)->rc, 0);
        /* Freeing with a connection out is refused, nothing freed. */
        cr_assert_eq(task_redis_pool_free(p), -EBUSY);
        cr_assert_eq(task_redis_pool_put(p, pj_of(waiter)->c), 0);
        cr_assert_eq(task_redis_pool_put(p, pj_of(waiter)->c), -EINVAL,
                     "put twice");
        task_handle_release(holder);
        task_handle_release(waiter);
        cr_assert_eq(task_redis_pool_free(p), 0);
        test_rt_free(rt);
        srv_stop(&s);
}

/* Aborting a waiting get leaves the queue; aborting a get that is
 * connecting (a server that never answers HELLO) drops the connection.
 * Either way the permit comes back. */
Test(pool, abort_get_returns_permit, .timeout = 30)
{
        struct srv s;
        struct fake fk;
        task_runtime *rt;
        task_redis_pool *p, *q;
        struct gate g;
        task_handle *holder, *waiter, *conn;
        struct pj t;

        srv_start(&s);
        gate_init(&g);
        rt = test_rt_new_mt(2);
        p = pool_new(s.addr, 1, NULL, false, 0);
        holder = pj_spawn(rt, &(struct pj){.pool = p, .gate = &g});
        cr_assert(WAIT_UNTIL(atomic_load(&pj_of(holder)->got), 5000));
        waiter = pj_spawn(rt, &(struct pj){.pool = p});
        sleep_ms(20);
        task_abort(waiter);
        cr_assert_eq(task_join_blocking(waiter), -ECANCELED);
        cr_assert(!atomic_load(&pj_of(waiter)->got));
        gate_open(&g);
        cr_assert_eq(task_join_blocking(holder), 0);
        t = pj_run(rt, (struct pj){.pool = p,
                                   .wait_ns = TASK_SEC(2),
                                   .argc = 1,
                                   .argv = {"PING"}});
        cr_assert_eq(t.get_rc, 0, "the permit was lost: %d", t.get_rc);
        task_handle_release(holder);
        task_handle_release(waiter);
        cr_assert_eq(task_redis_pool_free(p), 0);

        /* Connecting: HELLO 3 to a silent server never completes. */
        fake_start(&fk, FAKE_SILENT);
        q = pool_new(fk.addr, 1, NULL, false, 3);
        conn = pj_spawn(rt, &(struct pj){.pool = q});
        cr_assert(WAIT_UNTIL(fake_accepted(&fk) == 1, 5000));
        cr_assert(WAIT_UNTIL(pool_stats(q).borrowed == 1, 5000));
        task_abort(conn);
        cr_assert_eq(task_join_blocking(conn), -ECANCELED);
        cr_assert_eq(pool_stats(q).borrowed, 0u, "the permit was lost");
        cr_assert_eq(pool_stats(q).open, 0u);
        task_handle_release(conn);
        cr_assert_eq(task_redis_pool_free(q), 0);
        fake_stop(&fk);
        test_rt_free(rt);
        srv_stop(&s);
}

/* ---- Close, free, bad arguments ---------------------------------------------------- */

/* Close fails the waiters and later gets with -ESHUTDOWN; a connection
 * put back after close is closed; then free succeeds. */
Test(pool, close_fails_waiters, .timeout = 30)
{
        struct srv s;
        task_runtime *rt;
        task_redis_pool *p;
        struct gate g;
        task_handle *holder, *waiter;
        struct pj t;

        srv_start(&s);
        gate_init(&g);
        rt = test_rt_new_mt(2);
        p = pool_new(s.addr, 1, NULL, false, 0);
        holder = pj_spawn(rt, &(struct pj){.pool = p, .gate = &g});
        cr_assert(WAIT_UNTIL(atomic_load(&pj_of(holder)->got), 5000));
        waiter = pj_spawn(rt, &(struct pj){.pool = p});
        sleep_ms(20);
        cr_assert_eq(task_redis_pool_free(p), -EBUSY);
        task_redis_pool_close(p);
        cr_assert_eq(task_join_blocking(waiter), 0);
        cr_assert_eq(pj_of(waiter)->get_rc, -ESHUTDOWN);
        t = pj_run(rt, (struct pj){.pool = p});
        cr_assert_eq(t.get_rc, -ESHUTDOWN);
        gate_open(&g);
        cr_assert_eq(task_join_blocking(holder), 0);
        cr_assert_eq(pool_stats(p).open, 0u, "kept after close");
        task_handle_release(holder);
        task_handle_release(waiter);
        cr_assert_eq(task_redis_pool_free(p), 0);
        test_rt_free(rt);
        srv_stop(&s);
}

Test(pool, invalid_arguments, .timeout = 30)
{
        task_redis_pool *p = NULL;
        int x;

        cr_assert_eq(task_redis_pool_new(NULL, NULL, 1, &p), -EINVAL);
        cr_assert_eq(task_redis_pool_new("", NULL, 1, &p), -EINVAL);
        cr_assert_eq(task_redis_pool_new("127.0.0.1:1", NULL, 0, &p), -EINVAL);
        cr_assert_eq(task_redis_pool_new("127.0.0.1:1", NULL,
                                         TASK_REDIS_POOL_MAX + 1, &p),
                     -EINVAL);
        cr_assert_eq(task_redis_pool_new("127.0.0.1:1", NULL, 1, NULL),
                     -EINVAL);
        cr_assert_null(p);
        cr_assert_eq(task_redis_pool_new("127.0.0.1:1", NULL, 2, &p), 0);
        cr_assert_eq(task_redis_pool_put(p, NULL), -EINVAL);
        cr_assert_eq(task_redis_pool_put(p, (task_redis *)&x), -EINVAL,
                     "a connection not from this pool");
        cr_assert_eq(task_redis_pool_put(NULL, (task_redis *)&x), -EINVAL);
        cr_assert_eq(task_redis_pool_stats(p, NULL), -EINVAL);
        cr_assert_eq(task_redis_pool_free(NULL), -EINVAL);
        task_redis_pool_close(NULL);
        cr_assert_eq(task_redis_pool_free(p), 0);
}

/* Yield a few times: drives a current-thread runtime's other tasks.
 * With @pool set, first spawn a borrower of it (*@h), from inside the
 * runtime, so that it runs during these yields. */
struct spin {
        TASK_FRAME;
        task_redis_pool *pool;
        task_handle **h;
        int i;
};

static int spin_fn(struct task_cx *cx, void *arg)
{
        struct spin *f = arg;

        TASK_BEGIN(f);
        if (f->pool &&
            TASK_SPAWN(cx->rt, pj_fn, &(struct pj){.pool = f->pool}, f->h) < 0)
                *f->h = NULL;
        for (f->i = 0; f->i < 8; f->i++)
                TASK_YIELD(f);
        TASK_END(f);
}

/*
 * A get whose permit was granted (by a put) but whose task has not run
 * since is still in progress: it has left the semaphore's queue, yet
 * reads the pool at its next poll.  Free must refuse (-EBUSY), not free
 * the pool under it (on a current-thread runtime the waiter runs only
 * inside task_block_on, so the window is held open).
 */
Test(pool, free_refused_while_a_granted_get_has_not_run, .timeout = 30)
{
        struct srv s;
        task_runtime *rt;
        task_redis_pool *p;
        task_handle *waiter;
        struct pj holder = {0};
        struct spin sp = {0};
        struct pj *w;

        srv_start(&s);
        rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        p = pool_new(s.addr, 1, NULL, false, 0);
        holder.pool = p;
        holder.after = PJ_KEEP;
        cr_assert_eq(task_block_on(rt, pj_fn, &holder, sizeof holder), 0);
        cr_assert_eq(holder.get_rc, 0);
        sp.pool = p;
        sp.h = &waiter;
        cr_assert_eq(task_block_on(rt, spin_fn, &sp, sizeof sp), 0);
        cr_assert_not_null(waiter);
        sp.pool = NULL;
        w = task_handle_frame(waiter);
        cr_assert(!atomic_load(&w->got), "the waiter should be queued");
        cr_assert_eq(pool_stats(p).borrowed, 1u);
        /* The permit goes to the waiter, which has not run yet. */
        cr_assert_eq(task_redis_pool_put(p, holder.c), 0);
        cr_assert_eq(task_redis_pool_free(p), -EBUSY,
                     "freed under a get in progress");
        /* The waiter runs, gets the connection, and (PJ_PUT) puts it back. */
        while (!task_handle_finished(waiter))
                cr_assert_eq(task_block_on(rt, spin_fn, &sp, sizeof sp), 0);
        cr_assert_eq(w->get_rc, 0);
        cr_assert(atomic_load(&w->got));
        task_handle_release(waiter);
        cr_assert_eq(task_redis_pool_free(p), 0);
        test_rt_free(rt);
        srv_stop(&s);
}
