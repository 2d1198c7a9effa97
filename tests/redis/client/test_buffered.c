/*
 * test_buffered.c - the buffered client (libtask/redis_buffered.h): many
 * tasks over one connection, their commands coalesced into batches, each
 * caller with its own reply; cancellation (queued: cancelled, on the wire:
 * detached) without leaks; close; a server killed and restarted.
 *
 * Against srv.h's server ($RDS_CLIENT_SERVER: task-redis-server or
 * redis-server, same expectations) or its fake servers.  Tasks record
 * what they saw in their frames; the test thread joins them and asserts.
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

static task_redis_buffered *bb_new(task_runtime *rt, const char *addr,
                                   bool reconnect, uint64_t cmd_timeout_ns)
{
        struct task_redis_opts o;
        task_redis_buffered *b = NULL;
        int rc;

        task_redis_opts_init(&o);
        o.reconnect = reconnect;
        o.command_timeout_ns = cmd_timeout_ns;
        o.backoff_min_ns = TASK_MS(5);
        o.backoff_max_ns = TASK_MS(50);
        rc = task_redis_buffered_new(rt, addr, &o, &b);
        cr_assert_eq(rc, 0, "task_redis_buffered_new: %s", task_strerror(rc));
        cr_assert_not_null(b);
        return b;
}

static struct task_redis_buffered_stats bb_stats(task_redis_buffered *b)
{
        struct task_redis_buffered_stats st;

        cr_assert_eq(task_redis_buffered_stats(b, &st), 0);
        return st;
}

/* Wait (bounded) until the driver's stats satisfy @cond over `st`. */
#define WAIT_STATS(b, cond, ms)                                                \
        WAIT_UNTIL((__extension__({                                            \
                           struct task_redis_buffered_stats st = bb_stats(b);  \
                           (void)st;                                           \
                           (cond);                                             \
                   })),                                                        \
                   ms)

static bool is_status(const struct task_redis_value *v, const char *s)
{
        return v && v->type == TASK_REDIS_STATUS && v->len == strlen(s) &&
               memcmp(v->str, s, v->len) == 0;
}

static bool is_bulk(const struct task_redis_value *v, const char *s, size_t len)
{
        return v && v->type == TASK_REDIS_STRING && v->len == len &&
               memcmp(v->str, s, len) == 0;
}

/*
 * One command through the buffered client, as a task: its frame keeps
 * the outcome (rc, and the reply unless @keep is false, then freed and
 * only its type kept).
 */
struct one {
        TASK_FRAME;
        task_redis_buffered *b;
        struct task_redis_call call;
        struct task_redis_value *v;
        const char *argv[4];
        size_t lens[4];
        int argc, rc;
        bool use_lens;
        atomic_bool started; /* read by the test thread */
        bool finished;
        enum task_redis_type type;
        int64_t integer;
        char str[64]; /* a string reply's first bytes */
        size_t len;
};

static int one_fn(struct task_cx *cx, void *arg)
{
        struct one *f = arg;

        TASK_BEGIN(f);
        f->rc = 1;
        atomic_store(&f->started, true);
        TASK_REDIS_BUFFERED_CMD(f, f->b, &f->call, f->argc, f->argv,
                                f->use_lens ? f->lens : NULL, &f->v, &f->rc);
        if (f->v) {
                f->type = f->v->type;
                f->integer = f->v->integer;
                f->len = f->v->len;
                if (f->v->str)
                        memcpy(f->str, f->v->str,
                               f->len < sizeof f->str ? f->len : sizeof f->str);
        }
        f->finished = true;
        TASK_CLEANUP(f);
        task_redis_value_free(f->v);
        f->v = NULL;
        TASK_END(f);
}

/* Spawn a one_fn task sending argv (C strings) through @b. */
static task_handle *one_spawn(task_runtime *rt, task_redis_buffered *b,
                              int argc, const char *a0, const char *a1,
                              const char *a2)
{
        struct one f = {.b = b, .argc = argc, .argv = {a0, a1, a2}};
        task_handle *h = NULL;

        cr_assert_eq(TASK_SPAWN(rt, one_fn, &f, &h), 0);
        return h;
}

static struct one *one_of(task_handle *h)
{
        return task_handle_frame(h);
}

/* Run one command to completion from the test thread. */
static struct one one_run(task_runtime *rt, task_redis_buffered *b, int argc,
                          const char *a0, const char *a1, const char *a2)
{
        task_handle *h = one_spawn(rt, b, argc, a0, a1, a2);
        struct one r;

        cr_assert_eq(task_join_blocking(h), 0);
        r = *one_of(h);
        task_handle_release(h);
        return r;
}

/*
 * A client task: @iters rounds of SET bk:ID vID.I then GET bk:ID, each
 * reply checked against its own key's value.
 */
struct kv {
        TASK_FRAME;
        task_redis_buffered *b;
        struct task_redis_call call;
        struct task_redis_value *v;
        const char *argv[3];
        char key[32], val[32];
        int id, iters, i, rc;
        int ok, bad, errs;
        int first_rc;      /* the first failure's rc, for the report */
        bool retry;        /* server restarts: errors are counted, not bad */
        atomic_bool *stop; /* if not NULL: run until set (iters ignored) */
};

static int kv_fn(struct task_cx *cx, void *arg)
{
        struct kv *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->stop ? !atomic_load(f->stop) : f->i < f->iters;
             f->i++) {
                snprintf(f->key, sizeof f->key, "bk:%d", f->id);
                snprintf(f->val, sizeof f->val, "v%d.%d", f->id, f->i);
                f->argv[0] = "SET";
                f->argv[1] = f->key;
                f->argv[2] = f->val;
                TASK_REDIS_BUFFERED_CMD(f, f->b, &f->call, 3, f->argv, NULL,
                                        &f->v, &f->rc);
                if (f->rc < 0 || !is_status(f->v, "OK")) {
                        if (f->rc < 0 && f->retry)
                                f->errs++;
                        else
                                f->bad++;
                        if (!f->first_rc)
                                f->first_rc = f->rc ? f->rc : 1000;
                        task_redis_value_free(f->v);
                        f->v = NULL;
                        continue;
                }
                task_redis_value_free(f->v);
                f->v = NULL;
                f->argv[0] = "GET";
                TASK_REDIS_BUFFERED_CMD(f, f->b, &f->call, 2, f->argv, NULL,
                                        &f->v, &f->rc);
                if (f->rc == 0 && is_bulk(f->v, f->val, strlen(f->val))) {
                        f->ok++;
                } else if (f->rc < 0 && f->retry) {
                        f->errs++;
                } else if (f->retry && f->v && f->v->type == TASK_REDIS_NIL) {
                        f->errs++; /* SET before the restart, GET after */
                } else {
                        f->bad++;
                        if (!f->first_rc)
                                f->first_rc = f->rc ? f->rc : 1001;
                }
                task_redis_value_free(f->v);
                f->v = NULL;
        }
        TASK_CLEANUP(f);
        task_redis_value_free(f->v);
        f->v = NULL;
        TASK_END(f);
}

static task_handle *kv_spawn(task_runtime *rt, task_redis_buffered *b, int id,
                             int iters, bool retry)
{
        struct kv f = {.b = b, .id = id, .iters = iters, .retry = retry};
        task_handle *h = NULL;

        cr_assert_eq(TASK_SPAWN(rt, kv_fn, &f, &h), 0);
        return h;
}

/* ---- Many tasks, one connection ------------------------------------------------ */

/*
 * The test: 1,000 concurrent tasks on a 4-worker runtime over one
 * buffered client, each writing and reading its own key and checking its
 * own replies; the commands went out in far fewer batches (writes) than
 * there were commands.
 */
Test(buffered, thousand_tasks_own_replies, .timeout = 120)
{
        enum { N = 1000, ITERS = 3 };
        struct srv s;
        task_runtime *rt;
        task_redis_buffered *b;
        task_handle **h = calloc(N, sizeof *h);
        struct task_redis_buffered_stats st;
        long ok = 0;

        srv_start(&s);
        rt = test_rt_new_mt(4);
        b = bb_new(rt, s.addr, false, 0);
        for (int i = 0; i < N; i++)
                h[i] = kv_spawn(rt, b, i, ITERS, false);
        for (int i = 0; i < N; i++) {
                struct kv *f;

                cr_assert_eq(task_join_blocking(h[i]), 0);
                f = task_handle_frame(h[i]);
                cr_assert_eq(f->bad, 0, "task %d: %d bad replies (rc %d)", i,
                             f->bad, f->first_rc);
                ok += f->ok;
                task_handle_release(h[i]);
        }
        cr_assert_eq(ok, (long)N * ITERS);
        st = bb_stats(b);
        cr_assert_eq(st.commands, 2u * N * ITERS);
        cr_assert_eq(st.connects, 1u);
        cr_assert_eq(st.failed, 0u);
        /* Coalesced: while one batch is on the wire the next fills up. */
        cr_log_info("%llu commands in %llu batches (max %llu)",
                    (unsigned long long)st.commands,
                    (unsigned long long)st.batches,
                    (unsigned long long)st.max_batch);
        cr_assert_lt(st.batches * 10, st.commands,
                     "%llu batches for %llu commands: not coalesced",
                     (unsigned long long)st.batches,
                     (unsigned long long)st.commands);
        cr_assert_geq(st.max_batch, 50u);
        task_redis_buffered_close(b);
        test_rt_free(rt);
        free(h);
        srv_stop(&s);
}

/*
 * Coalescing, deterministically: on a current-thread runtime without the
 * LIFO slot, a parent task spawns 200 callers onto the local run queue
 * (FIFO).  The first one's command wakes the driver, which queues behind
 * the other 199: by the time it runs, all 200 commands are waiting, and
 * they go out in one batch, one write.  The server counts them all.
 */
struct spawner {
        TASK_FRAME;
        task_redis_buffered *b;
        task_handle **h;
        int n, i, rc;
};

static bool after_200_rounds(void *p)
{
        return ++*(int *)p > 200;
}

/* Spawns the callers, then joins them: all in one task_block_on. */
static int spawner_fn(struct task_cx *cx, void *arg)
{
        struct spawner *f = arg;

        TASK_BEGIN(f);
        for (int i = 0; i < f->n; i++) {
                struct one o = {
                    .b = f->b, .argc = 2, .argv = {"INCR", "bcount"}};

                TCHECK(TASK_SPAWN(task_cx_runtime(cx), one_fn, &o, &f->h[i]) ==
                       0);
        }
        for (f->i = 0; f->i < f->n; f->i++)
                TASK_JOIN(f, f->h[f->i], &f->rc);
        TASK_END(f);
}

Test(buffered, one_write_for_queued_commands, .timeout = 60)
{
        enum { N = 200 };
        struct srv s;
        struct task_runtime_opts ro;
        task_runtime *rt = NULL;
        task_redis_buffered *b;
        task_handle *h[N] = {0}, *hb;
        struct task_redis_buffered_stats st;
        struct spawner sp = {.h = h, .n = N};
        int rounds = 0;

        srv_start(&s);
        task_runtime_opts_init(&ro);
        ro.flavor = TASK_CURRENT_THREAD;
        ro.disable_lifo_slot = true;
        cr_assert_eq(task_runtime_new(&ro, &rt), 0);
        b = bb_new(rt, s.addr, false, 0);
        /* Let the driver (spawned into the global queue, looked at every
         * 61 ticks) run and park, waiting for work. */
        ct_run_until(rt, after_200_rounds, &rounds);
        sp.b = b;
        cr_assert_eq(task_block_on(rt, spawner_fn, &sp, sizeof sp), 0);
        tcheck_assert_none();
        for (int i = 0; i < N; i++) {
                cr_assert_eq(one_of(h[i])->rc, 0);
                cr_assert_eq(one_of(h[i])->type, TASK_REDIS_INTEGER);
                task_handle_release(h[i]);
        }
        st = bb_stats(b);
        cr_assert_eq(st.commands, (uint64_t)N);
        cr_assert_eq(st.batches, 1u, "%llu batches (max %llu)",
                     (unsigned long long)st.batches,
                     (unsigned long long)st.max_batch);
        cr_assert_eq(st.max_batch, (uint64_t)N);
        hb = one_spawn(rt, b, 2, "GET", "bcount", NULL);
        ct_run_until(rt, h_finished, hb);
        cr_assert_eq(one_of(hb)->rc, 0);
        cr_assert_eq(one_of(hb)->type, TASK_REDIS_STRING);
        cr_assert_eq(one_of(hb)->len, 3u);
        cr_assert_eq(memcmp(one_of(hb)->str, "200", 3), 0);
        task_handle_release(hb);
        task_redis_buffered_close(b);
        test_rt_free(rt);
        srv_stop(&s);
}

/* Every caller gets its own reply: errors stay with the command that
 * caused them; binary-safe arguments go through. */
Test(buffered, errors_and_binary_per_call, .timeout = 60)
{
        enum { N = 300 };
        struct srv s;
        task_runtime *rt;
        task_redis_buffered *b;
        task_handle *h[N];
        struct one bin = {0};
        task_handle *hb = NULL;

        srv_start(&s);
        rt = test_rt_new_mt(2);
        b = bb_new(rt, s.addr, false, 0);
        cr_assert_eq(one_run(rt, b, 3, "SET", "bstr", "x").rc, 0);
        for (int i = 0; i < N; i++) {
                if (i % 3 == 0)
                        h[i] = one_spawn(rt, b, 2, "INCR", "bstr", NULL);
                else if (i % 3 == 1)
                        h[i] = one_spawn(rt, b, 1, "NOSUCHCOMMAND", NULL, NULL);
                else
                        h[i] = one_spawn(rt, b, 2, "INCR", "bnum", NULL);
        }
        for (int i = 0; i < N; i++) {
                struct one *f;

                cr_assert_eq(task_join_blocking(h[i]), 0);
                f = one_of(h[i]);
                cr_assert_eq(f->rc, 0, "call %d: rc %d", i, f->rc);
                if (i % 3 == 2)
                        cr_assert_eq(f->type, TASK_REDIS_INTEGER, "call %d", i);
                else
                        cr_assert_eq(f->type, TASK_REDIS_ERROR, "call %d", i);
                task_handle_release(h[i]);
        }
        cr_assert_eq(one_run(rt, b, 2, "GET", "bnum", NULL).rc, 0);

        /* Binary-safe: NULs inside key and value, lengths given. */
        bin.b = b;
        bin.argc = 3;
        bin.use_lens = true;
        bin.argv[0] = "SET";
        bin.argv[1] = "b\0in";
        bin.argv[2] = "v\0\r\nal";
        bin.lens[0] = 3;
        bin.lens[1] = 4;
        bin.lens[2] = 6;
        cr_assert_eq(TASK_SPAWN(rt, one_fn, &bin, &hb), 0);
        cr_assert_eq(task_join_blocking(hb), 0);
        cr_assert_eq(one_of(hb)->rc, 0);
        cr_assert_eq(one_of(hb)->type, TASK_REDIS_STATUS);
        task_handle_release(hb);
        hb = NULL;
        bin.argc = 2;
        bin.argv[0] = "GET";
        cr_assert_eq(TASK_SPAWN(rt, one_fn, &bin, &hb), 0);
        cr_assert_eq(task_join_blocking(hb), 0);
        cr_assert_eq(one_of(hb)->rc, 0);
        cr_assert_eq(one_of(hb)->type, TASK_REDIS_STRING);
        cr_assert_eq(one_of(hb)->len, 6u);
        cr_assert_eq(memcmp(one_of(hb)->str, "v\0\r\nal", 6), 0);
        task_handle_release(hb);
        task_redis_buffered_close(b);
        test_rt_free(rt);
        srv_stop(&s);
}

/* Arguments are checked before anything is queued. */
Test(buffered, invalid_arguments, .timeout = 30)
{
        struct fake fk;
        task_runtime *rt;
        task_redis_buffered *b;
        struct one r;
        struct task_redis_opts o;

        task_redis_opts_init(&o);
        fake_start(&fk, FAKE_SILENT);
        rt = test_rt_new_mt(2);
        cr_assert_eq(task_redis_buffered_new(NULL, fk.addr, NULL, &b), -EINVAL);
        cr_assert_eq(task_redis_buffered_new(rt, NULL, NULL, &b), -EINVAL);
        cr_assert_eq(task_redis_buffered_new(rt, "", NULL, &b), -EINVAL);
        cr_assert_eq(task_redis_buffered_new(rt, fk.addr, &o, NULL), -EINVAL);
        cr_assert_eq(task_redis_buffered_wrap(rt, NULL, &b), -EINVAL);
        cr_assert_eq(task_redis_buffered_stats(NULL, NULL), -EINVAL);
        b = bb_new(rt, fk.addr, false, 0);
        r = one_run(rt, b, 0, "PING", NULL, NULL);
        cr_assert_eq(r.rc, -EINVAL);
        r = one_run(rt, b, 2, "GET", NULL, NULL); /* NULL argv[1] */
        cr_assert_eq(r.rc, -EINVAL);
        cr_assert_eq(bb_stats(b).commands, 0u);
        cr_assert_eq(fake_accepted(&fk), 0, "nothing to send: no connect");
        task_redis_buffered_close(b);
        test_rt_free(rt);
        fake_stop(&fk);
}

/* A refused connect fails the commands waiting for it; the next batch
 * tries again. */
Test(buffered, connect_refused_per_batch, .timeout = 30)
{
        char addr[64];
        task_runtime *rt;
        task_redis_buffered *b;
        struct one r;

        snprintf(addr, sizeof addr, "127.0.0.1:%d", srv_closed_port());
        rt = test_rt_new_mt(2);
        b = bb_new(rt, addr, false, 0);
        r = one_run(rt, b, 1, "PING", NULL, NULL);
        cr_assert_eq(r.rc, -ECONNREFUSED, "rc %d", r.rc);
        r = one_run(rt, b, 1, "PING", NULL, NULL);
        cr_assert_eq(r.rc, -ECONNREFUSED, "rc %d", r.rc);
        cr_assert_eq(bb_stats(b).failed, 2u);
        task_redis_buffered_close(b);
        test_rt_free(rt);
}

/* ---- Cancellation -------------------------------------------------------------- */

/*
 * Against a server that never answers: the first command is on the wire
 * for good, the next ones queue behind it.  Aborting the queued callers
 * cancels them (their commands are never sent), aborting the one on the
 * wire detaches it; every caller ends at once, nothing leaks.
 */
Test(buffered, abort_queued_and_on_the_wire, .timeout = 30)
{
        enum { N = 20 };
        struct fake fk;
        task_runtime *rt;
        task_redis_buffered *b;
        task_handle *h[N];
        struct task_redis_buffered_stats sum;

        fake_start(&fk, FAKE_SILENT);
        rt = test_rt_new_mt(2);
        b = bb_new(rt, fk.addr, false, 0);
        h[0] = one_spawn(rt, b, 1, "PING", NULL, NULL);
        cr_assert(WAIT_STATS(b, st.commands == 1, 5000), "never written");
        for (int i = 1; i < N; i++)
                h[i] = one_spawn(rt, b, 1, "PING", NULL, NULL);
        for (int i = 1; i < N; i++)
                cr_assert(
                    WAIT_UNTIL(atomic_load(&one_of(h[i])->started), 5000));
        sleep_ms(20); /* nothing may complete meanwhile */
        for (int i = 0; i < N; i++)
                cr_assert(!task_handle_finished(h[i]), "call %d ended", i);
        for (int i = N - 1; i >= 0; i--)
                task_abort(h[i]);
        for (int i = 0; i < N; i++) {
                cr_assert_eq(task_join_blocking(h[i]), -ECANCELED);
                cr_assert(!one_of(h[i])->finished, "call %d completed", i);
                task_handle_release(h[i]);
        }
        sum = bb_stats(b);
        cr_assert_eq(sum.commands, 1u, "a cancelled command was sent");
        cr_assert_eq(sum.cancelled, (uint64_t)N - 1);
        cr_assert_eq(sum.detached, 1u);
        task_redis_buffered_close(b);
        test_rt_free(rt); /* aborts the driver, still awaiting a reply */
        fake_stop(&fk);
}

/*
 * Random aborts against a real server: 400 tasks doing SET/GET rounds,
 * a third of them aborted at random moments.  The others see only their
 * own correct replies; ASan finds nothing leaked (replies of detached
 * calls are freed by the driver).
 */
Test(buffered, random_aborts_others_unaffected, .timeout = 120)
{
        int n = (int)test_scaled(400, 60);
        struct srv s;
        task_runtime *rt;
        task_redis_buffered *b;
        task_handle **h = calloc((size_t)n, sizeof *h);
        struct task_redis_buffered_stats st;
        unsigned seed = 12345;
        int aborted = 0;

        srv_start(&s);
        rt = test_rt_new_mt(4);
        b = bb_new(rt, s.addr, false, 0);
        for (int i = 0; i < n; i++)
                h[i] = kv_spawn(rt, b, i, 20, false);
        for (int i = 0; i < n; i++) {
                if (rand_r(&seed) % 3 == 0) {
                        if (rand_r(&seed) % 2)
                                sched_yield();
                        task_abort(h[i]);
                        aborted++;
                }
        }
        for (int i = 0; i < n; i++) {
                struct kv *f;
                int rc = task_join_blocking(h[i]);

                cr_assert(rc == 0 || rc == -ECANCELED, "join: %d", rc);
                f = task_handle_frame(h[i]);
                cr_assert_eq(f->bad, 0, "task %d: %d bad replies (rc %d)", i,
                             f->bad, f->first_rc);
                task_handle_release(h[i]);
        }
        st = bb_stats(b);
        cr_log_info("%d aborted: %llu cancelled, %llu detached", aborted,
                    (unsigned long long)st.cancelled,
                    (unsigned long long)st.detached);
        cr_assert_eq(st.failed, 0u);
        /* The connection is still in step: one more round trip works. */
        {
                struct one r = one_run(rt, b, 2, "ECHO", "still", NULL);

                cr_assert_eq(r.rc, 0);
                cr_assert_eq(r.type, TASK_REDIS_STRING);
        }
        task_redis_buffered_close(b);
        test_rt_free(rt);
        free(h);
        srv_stop(&s);
}

/* A caller's TASK_TIMEOUT bounds its wait even when the server is
 * silent: the call is detached, the caller gets -ETIMEDOUT. */
struct tmo {
        TASK_FRAME;
        task_redis_buffered *b;
        struct task_redis_call call;
        struct task_redis_value *v;
        struct task_select sel;
        struct task_sleep sleep;
        const char *argv[1];
        int rc;
};

static int tmo_fn(struct task_cx *cx, void *arg)
{
        struct tmo *f = arg;

        TASK_BEGIN(f);
        f->argv[0] = "PING";
        TASK_TIMEOUT(f, &f->sel, &f->sleep, TASK_MS(50),
                     task_redis_buffered_cmd_poll(cx, f->b, &f->call, 1,
                                                  f->argv, NULL, &f->v, &f->rc),
                     &f->rc);
        TASK_END(f);
}

Test(buffered, caller_timeout_detaches, .timeout = 30)
{
        struct fake fk;
        task_runtime *rt;
        task_redis_buffered *b;
        struct tmo t = {0};

        fake_start(&fk, FAKE_SILENT);
        rt = test_rt_new_mt(2);
        b = bb_new(rt, fk.addr, false, 0);
        t.b = b;
        cr_assert_eq(task_block_on(rt, tmo_fn, &t, sizeof t), 0);
        cr_assert_eq(t.rc, -ETIMEDOUT);
        cr_assert_null(t.v);
        cr_assert_eq(bb_stats(b).detached, 1u);
        /* The call struct is reusable: the next one times out the same
         * way (queued behind the silent reply, so cancelled). */
        t.co.lc = 0;
        t.rc = 0;
        memset(&t.sel, 0, sizeof t.sel);
        memset(&t.sleep, 0, sizeof t.sleep);
        cr_assert_eq(task_block_on(rt, tmo_fn, &t, sizeof t), 0);
        cr_assert_eq(t.rc, -ETIMEDOUT);
        cr_assert_eq(bb_stats(b).cancelled, 1u,
                     "cancelled %llu detached %llu commands %llu failed %llu",
                     (unsigned long long)bb_stats(b).cancelled,
                     (unsigned long long)bb_stats(b).detached,
                     (unsigned long long)bb_stats(b).commands,
                     (unsigned long long)bb_stats(b).failed);
        task_redis_buffered_close(b);
        test_rt_free(rt);
        fake_stop(&fk);
}

/* ---- Close and failures ---------------------------------------------------------- */

/*
 * Close with calls queued behind a silent server: the queued ones fail
 * at once with -ESHUTDOWN; the one on the wire gets its outcome (the
 * command timeout), then the driver closes the connection and everything
 * is freed.
 */
Test(buffered, close_fails_queued_calls, .timeout = 30)
{
        enum { N = 10 };
        struct fake fk;
        task_runtime *rt;
        task_redis_buffered *b;
        task_handle *h[N];

        fake_start(&fk, FAKE_SILENT);
        rt = test_rt_new_mt(2);
        b = bb_new(rt, fk.addr, false, TASK_MS(300));
        h[0] = one_spawn(rt, b, 1, "PING", NULL, NULL);
        cr_assert(WAIT_STATS(b, st.commands == 1, 5000));
        for (int i = 1; i < N; i++)
                h[i] = one_spawn(rt, b, 1, "PING", NULL, NULL);
        for (int i = 1; i < N; i++)
                cr_assert(
                    WAIT_UNTIL(atomic_load(&one_of(h[i])->started), 5000));
        sleep_ms(10);
        task_redis_buffered_close(b);
        for (int i = 1; i < N; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq(one_of(h[i])->rc, -ESHUTDOWN, "call %d: %d", i,
                             one_of(h[i])->rc);
                task_handle_release(h[i]);
        }
        cr_assert_eq(task_join_blocking(h[0]), 0);
        cr_assert_eq(one_of(h[0])->rc, -ETIMEDOUT, "rc %d", one_of(h[0])->rc);
        task_handle_release(h[0]);
        /* The driver ends by itself: only it was left. */
        cr_assert(WAIT_UNTIL(test_tasks_alive(rt) == 0, 5000),
                  "the driver did not end after close");
        test_rt_free(rt);
        fake_stop(&fk);
}

/* The connection's errors go to every call of the batch on the wire. */
Test(buffered, connection_error_to_batch, .timeout = 30)
{
        struct fake fk;
        task_runtime *rt;
        task_redis_buffered *b;
        struct one r;

        fake_start(&fk, FAKE_GARBAGE);
        rt = test_rt_new_mt(2);
        b = bb_new(rt, fk.addr, false, 0);
        r = one_run(rt, b, 1, "PING", NULL, NULL);
        cr_assert_eq(r.rc, -EPROTO, "rc %d", r.rc);
        /* No reconnection: the connection stays down. */
        r = one_run(rt, b, 1, "PING", NULL, NULL);
        cr_assert_eq(r.rc, -ENOTCONN, "rc %d", r.rc);
        task_redis_buffered_close(b);
        test_rt_free(rt);
        fake_stop(&fk);
}

/*
 * The server is killed under load and restarted: calls on the broken
 * connection fail with a connection error (never a wrong reply, never a
 * hang); with reconnect on, later calls go to the new server.
 */
Test(buffered, server_restart_reconnects, .timeout = 120)
{
        enum { N = 50 };
        struct srv s;
        task_runtime *rt;
        task_redis_buffered *b;
        task_handle *h[N];
        struct one r;
        atomic_bool stop = false;
        uint64_t mark;
        int errs = 0;

        srv_start(&s);
        rt = test_rt_new_mt(4);
        b = bb_new(rt, s.addr, true, TASK_SEC(5));
        r = one_run(rt, b, 3, "SET", "before", "1");
        cr_assert_eq(r.rc, 0);
        for (int i = 0; i < N; i++) {
                struct kv f = {.b = b, .id = i, .retry = true, .stop = &stop};

                h[i] = NULL;
                cr_assert_eq(TASK_SPAWN(rt, kv_fn, &f, &h[i]), 0);
        }
        cr_assert(WAIT_STATS(b, st.commands > 2000, 20000), "no traffic");
        srv_kill(&s);
        cr_assert(WAIT_STATS(b, st.failed > 0, 20000),
                  "no call failed with the server dead");
        srv_restart(&s);
        mark = bb_stats(b).commands;
        cr_assert(WAIT_STATS(b, st.commands > mark + 2000, 20000),
                  "no traffic after the restart");
        atomic_store(&stop, true);
        for (int i = 0; i < N; i++) {
                struct kv *f;

                cr_assert_eq(task_join_blocking(h[i]), 0);
                f = task_handle_frame(h[i]);
                cr_assert_eq(f->bad, 0, "task %d: %d bad replies (%d)", i,
                             f->bad, f->first_rc);
                errs += f->errs;
                task_handle_release(h[i]);
        }
        cr_log_info("%d calls failed across the restart", errs);
        cr_assert_gt(errs, 0);
        r = one_run(rt, b, 3, "SET", "after", "2");
        cr_assert_eq(r.rc, 0, "rc %d", r.rc);
        r = one_run(rt, b, 2, "EXISTS", "before", NULL);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.integer, 0, "a new server (persistence off)");
        task_redis_buffered_close(b);
        test_rt_free(rt);
        srv_stop(&s);
}

/* Without reconnection, a killed server leaves the client failing with
 * -ENOTCONN, even once the server is back. */
Test(buffered, server_restart_without_reconnect, .timeout = 60)
{
        struct srv s;
        task_runtime *rt;
        task_redis_buffered *b;
        struct one r;

        srv_start(&s);
        rt = test_rt_new_mt(2);
        b = bb_new(rt, s.addr, false, 0);
        cr_assert_eq(one_run(rt, b, 1, "PING", NULL, NULL).rc, 0);
        srv_kill(&s);
        r = one_run(rt, b, 1, "PING", NULL, NULL);
        cr_assert(r.rc == -ECONNRESET || r.rc == -EPIPE, "rc %d", r.rc);
        srv_restart(&s);
        r = one_run(rt, b, 1, "PING", NULL, NULL);
        cr_assert_eq(r.rc, -ENOTCONN, "rc %d", r.rc);
        task_redis_buffered_close(b);
        test_rt_free(rt);
        srv_stop(&s);
}

/* A client connected by hand can be wrapped; the buffered client owns it. */
struct conn {
        TASK_FRAME;
        const char *addr;
        struct task_redis_op op;
        task_redis *c;
        int rc;
};

static int conn_fn(struct task_cx *cx, void *arg)
{
        struct conn *f = arg;

        TASK_BEGIN(f);
        TASK_REDIS_CONNECT(f, f->addr, NULL, &f->op, &f->c, &f->rc);
        TASK_END(f);
}

Test(buffered, wrap_connected_client, .timeout = 30)
{
        struct srv s;
        task_runtime *rt;
        task_redis_buffered *b = NULL;
        struct conn c = {0};
        struct one r;

        srv_start(&s);
        rt = test_rt_new_mt(2);
        c.addr = s.addr;
        cr_assert_eq(task_block_on(rt, conn_fn, &c, sizeof c), 0);
        cr_assert_eq(c.rc, 0, "connect: %d", c.rc);
        cr_assert_eq(task_redis_buffered_wrap(rt, c.c, &b), 0);
        r = one_run(rt, b, 2, "ECHO", "wrapped", NULL);
        cr_assert_eq(r.rc, 0);
        cr_assert_eq(r.type, TASK_REDIS_STRING);
        cr_assert_eq(bb_stats(b).connects, 0u);
        task_redis_buffered_close(b);
        test_rt_free(rt);
        srv_stop(&s);
}

/* Freeing the runtime with callers waiting (silent server): the driver's
 * cleanup fails what it holds, the callers' cleanups let go, and nothing
 * leaks, whichever runs first. */
Test(buffered, runtime_shutdown_with_calls_waiting, .timeout = 30)
{
        enum { N = 30 };
        struct fake fk;
        task_runtime *rt;
        task_redis_buffered *b;
        task_handle *h[N];

        fake_start(&fk, FAKE_SILENT);
        rt = test_rt_new_mt(2);
        b = bb_new(rt, fk.addr, false, 0);
        for (int i = 0; i < N; i++)
                h[i] = one_spawn(rt, b, 1, "PING", NULL, NULL);
        cr_assert(WAIT_STATS(b, st.commands >= 1, 5000));
        for (int i = 0; i < N; i++)
                task_handle_release(h[i]);
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        task_redis_buffered_close(b); /* the last reference: frees */
        test_rt_free(rt);
        fake_stop(&fk);
}
