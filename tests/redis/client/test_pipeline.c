/*
 * test_pipeline.c - pipelining with the async client: 10,000 commands
 * appended, written in one flush and answered in order (values checked);
 * a 10 MB value there and back, alone and inside a pipeline; replies that
 * arrive a byte at a time; reply_poll flushing what is queued and
 * cmd_poll dropping the replies owed before it; pipelines interleaved
 * with reads; many clients at once on one runtime.  Against both servers.
 */
#include "core_helpers.h"

#include <netinet/tcp.h>

/*
 * Counting allocations: malloc and friends interposed (the test binary's
 * definitions win over libc's for libtask.so too), off unless counting.
 * Not under the sanitizers, which interpose malloc themselves.
 */
#if !TEST_ASAN && !TEST_TSAN && defined(__GLIBC__)
#define HAVE_MALLOC_COUNT 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
static atomic_bool counting;
static atomic_long nallocs;

static void count_one(void)
{
        if (atomic_load_explicit(&counting, memory_order_relaxed))
                atomic_fetch_add_explicit(&nallocs, 1, memory_order_relaxed);
}

void *malloc(size_t n)
{
        count_one();
        return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
        count_one();
        return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
        count_one();
        return __libc_realloc(p, n);
}
#else
#define HAVE_MALLOC_COUNT 0
#endif

/* ---- 10,000 commands in one write ------------------------------------------- */

struct pipe_task {
        TASK_FRAME;
        task_redis *c;
        long n, i;
        int pass; /* 0: SET replies, 1: GET replies, 2: INCR replies */
        struct task_redis_op op;
        struct task_redis_value *v;
        int rc;
};

/* The reply @i of pass @pass, as the commands in pipeline_10k ask. */
static bool pipe_check(const struct pipe_task *f)
{
        char want[32];
        const struct task_redis_value *v = f->v;

        if (f->rc != 0 || !v)
                return false;
        if (f->pass == 0)
                return v_is_str(v, TASK_REDIS_STATUS, "OK");
        if (f->pass == 2)
                return v->type == TASK_REDIS_INTEGER && v->integer == f->i + 1;
        snprintf(want, sizeof want, "value:%ld", f->i);
        return v_is_str(v, TASK_REDIS_STRING, want);
}

static int pipe_fn(struct task_cx *cx, void *arg)
{
        struct pipe_task *f = arg;

        TASK_BEGIN(f);
        TASK_REDIS_FLUSH(f, f->c, &f->op, &f->rc);
        TCHECK(f->rc == 0);
        TCHECK(task_redis_pending(f->c) == (size_t)f->n);
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_REDIS_REPLY(f, f->c, &f->op, &f->v, &f->rc);
                if (!pipe_check(f)) {
                        TCHECK(!"a reply out of order or wrong");
                        task_redis_value_free(f->v);
                        break;
                }
                task_redis_value_free(f->v);
        }
        TCHECK(task_redis_pending(f->c) == 0);
        TASK_END(f);
}

BOTH_FLAVORS(pipeline, ten_thousand_in_one_flush, 120)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        const long n = 10000;
        struct task_redis_value *v;
        struct srv s;
        task_redis *c;
        char key[32], val[32];

        srv_start(&s);
        c = r_connect_ok(rt, s.addr, NULL);
        for (int pass = 0; pass < 3; pass++) {
                struct pipe_task t = {.c = c, .n = n, .pass = pass};

                for (long i = 0; i < n; i++) {
                        snprintf(key, sizeof key, "key:%ld", i);
                        snprintf(val, sizeof val, "value:%ld", i);
                        if (pass == 0)
                                cr_assert_eq(r_append(c, "SET", key, val, NULL),
                                             0);
                        else if (pass == 1)
                                cr_assert_eq(r_append(c, "GET", key, NULL), 0);
                        else
                                cr_assert_eq(r_append(c, "INCR", "ctr", NULL),
                                             0);
                }
                cr_assert_eq(task_redis_pending(c), (size_t)n);
                cr_assert_eq(task_block_on(rt, pipe_fn, &t, sizeof t), 0);
                tcheck_assert_none();
        }
        expect_int(r_ok(rt, c, "DBSIZE", NULL), n + 1);
        cr_assert_eq(r_reply(rt, c, &v), -ENOENT);
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}

/* ---- Large values ----------------------------------------------------------- */

BOTH_FLAVORS(pipeline, ten_megabyte_value, 120)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        const size_t len = 10u << 20;
        char *big = malloc(len);
        const char *set[] = {"SET", "big", big};
        size_t setl[] = {3, 3, len};
        struct task_redis_value *v;
        struct srv s;
        task_redis *c;

        cr_assert_not_null(big);
        for (size_t i = 0; i < len; i++)
                big[i] = (char)(i * 2654435761u >> 13);
        srv_start(&s);
        c = r_connect_ok(rt, s.addr, NULL);
        cr_assert_eq(r_cmd(rt, c, 3, set, setl, &v), 0);
        expect_status(v, "OK");
        v = r_ok(rt, c, "GET", "big", NULL);
        cr_assert_eq(v->type, TASK_REDIS_STRING);
        cr_assert_eq(v->len, len);
        cr_assert_eq(memcmp(v->str, big, len), 0);
        task_redis_value_free(v);
        /* Inside a pipeline, between small commands. */
        cr_assert_eq(r_append(c, "PING", NULL), 0);
        cr_assert_eq(task_redis_append(c, 3, set, setl), 0);
        cr_assert_eq(r_append(c, "STRLEN", "big", NULL), 0);
        cr_assert_eq(r_append(c, "GET", "big", NULL), 0);
        cr_assert_eq(r_append(c, "ECHO", "after", NULL), 0);
        cr_assert_eq(r_flush(rt, c), 0);
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_status(v, "PONG");
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_status(v, "OK");
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_int(v, (int64_t)len);
        cr_assert_eq(r_reply(rt, c, &v), 0);
        cr_assert_eq(v->len, len);
        cr_assert_eq(memcmp(v->str, big, len), 0);
        task_redis_value_free(v);
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_str(v, "after");
        /* The connection goes on with small commands. */
        expect_status(r_ok(rt, c, "PING", NULL), "PONG");
        task_redis_close(c);
        free(big);
        srv_stop(&s);
        test_rt_free(rt);
}

/* ---- Replies that arrive in pieces ------------------------------------------ */

/* A server thread that answers each read with @reply, one byte per
 * write, TCP_NODELAY, a short pause between bytes. */
struct dribble {
        int lfd, port;
        char addr[64];
        const char *reply;
        pthread_t thr;
};

static void *dribble_main(void *arg)
{
        struct dribble *d = arg;
        int one = 1;
        int fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
        char buf[4096];

        if (fd < 0)
                return NULL;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        while (read(fd, buf, sizeof buf) > 0) {
                for (const char *p = d->reply; *p; p++) {
                        if (write(fd, p, 1) != 1)
                                break;
                        usleep(300);
                }
        }
        close(fd);
        return NULL;
}

Test(pipeline, replies_arriving_byte_by_byte, .timeout = 60)
{
        task_runtime *rt = test_rt_new_flavor(TASK_MULTI_THREAD);
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t alen = sizeof a;
        struct dribble d = {.reply =
                                "*4\r\n$5\r\nhello\r\n:-42\r\n*2\r\n+a\r\n-ERR "
                                "x\r\n$0\r\n\r\n"};
        struct task_redis_value *v;
        task_redis *c;

        d.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(bind(d.lfd, (struct sockaddr *)&a, sizeof a) == 0);
        cr_assert(listen(d.lfd, 4) == 0);
        cr_assert(getsockname(d.lfd, (struct sockaddr *)&a, &alen) == 0);
        snprintf(d.addr, sizeof d.addr, "127.0.0.1:%d", ntohs(a.sin_port));
        cr_assert(pthread_create(&d.thr, NULL, dribble_main, &d) == 0);
        c = r_connect_ok(rt, d.addr, NULL);
        for (int round = 0; round < 3; round++) {
                if (round < 2) {
                        v = r_ok(rt, c, "ANYTHING", NULL);
                } else {
                        /* A reply_poll cancelled half-way through a reply
                         * (the test's own timeout) loses nothing: the
                         * next one returns the whole reply. */
                        struct r_step st = {
                            .kind = R_REPLY, .c = c, .limit_ns = TASK_MS(3)};

                        cr_assert_eq(r_append(c, "ANYTHING", NULL), 0);
                        r_run(rt, &st);
                        cr_assert_eq(st.rc, -ETIMEDOUT);
                        cr_assert(task_redis_connected(c));
                        cr_assert_eq(task_redis_pending(c), 1);
                        cr_assert_eq(r_reply(rt, c, &v), 0);
                }
                cr_assert_eq(v->type, TASK_REDIS_ARRAY);
                cr_assert_eq(v->n, 4);
                cr_assert(v_is_str(&v->elem[0], TASK_REDIS_STRING, "hello"));
                cr_assert_eq(v->elem[1].integer, -42);
                cr_assert_eq(v->elem[2].n, 2);
                cr_assert(
                    task_redis_value_is_error(&v->elem[2].elem[1], "ERR"));
                cr_assert_eq(v->elem[3].len, 0);
                task_redis_value_free(v);
        }
        task_redis_close(c);
        pthread_join(d.thr, NULL);
        close(d.lfd);
        test_rt_free(rt);
}

/* ---- Queued, flushed, dropped --------------------------------------------------- */

BOTH_FLAVORS(pipeline, reply_flushes_and_cmd_drops_owed, 60)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_redis_value *v;
        struct srv s;
        task_redis *c;

        srv_start(&s);
        c = r_connect_ok(rt, s.addr, NULL);
        /* reply_poll writes what is queued first. */
        cr_assert_eq(r_append(c, "SET", "x", "1", NULL), 0);
        cr_assert_eq(r_append(c, "INCR", "x", NULL), 0);
        cr_assert_eq(task_redis_pending(c), 2);
        cr_assert_eq(r_reply(rt, c, &v), 0);
        expect_status(v, "OK");
        cr_assert_eq(task_redis_pending(c), 1);
        /* Interleave: more appended while one is still owed. */
        cr_assert_eq(r_append(c, "INCR", "x", NULL), 0);
        cr_assert_eq(r_append(c, "INCR", "x", NULL), 0);
        cr_assert_eq(r_flush(rt, c), 0);
        cr_assert_eq(r_flush(rt, c), 0); /* nothing queued: at once */
        for (int i = 2; i <= 4; i++) {
                cr_assert_eq(r_reply(rt, c, &v), 0);
                expect_int(v, i);
        }
        /* cmd_poll reads and drops what was owed before it. */
        for (int i = 0; i < 5; i++)
                cr_assert_eq(r_append(c, "INCR", "x", NULL), 0);
        cr_assert_eq(r_flush(rt, c), 0);
        cr_assert_eq(r_append(c, "INCR", "x", NULL), 0);
        expect_str(r_ok(rt, c, "GET", "x", NULL), "10");
        cr_assert_eq(task_redis_pending(c), 0);
        cr_assert_eq(r_reply(rt, c, &v), -ENOENT);
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}

/* ---- Many clients, one runtime ---------------------------------------------- */

struct worker_task {
        TASK_FRAME;
        const char *where;
        int id, round, i;
        long rounds, depth;
        task_redis *c;
        struct task_redis_op op;
        struct task_redis_value *v;
        int64_t last;
        int rc;
        char key[32], val[32];
};

static int worker_fn(struct task_cx *cx, void *arg)
{
        struct worker_task *f = arg;
        static const char *const incr[] = {"INCR", "shared"};

        TASK_BEGIN(f);
        TASK_REDIS_CONNECT(f, f->where, NULL, &f->op, &f->c, &f->rc);
        TCHECK(f->rc == 0);
        if (f->rc < 0)
                TASK_RETURN(f);
        snprintf(f->key, sizeof f->key, "own:%d", f->id);
        for (f->round = 0; f->round < f->rounds; f->round++) {
                snprintf(f->val, sizeof f->val, "%d:%d", f->id, f->round);
                TCHECK(task_redis_append(
                           f->c, 3, (const char *[]){"SET", f->key, f->val},
                           NULL) == 0);
                for (f->i = 0; f->i < f->depth; f->i++)
                        TCHECK(task_redis_append(f->c, 2, incr, NULL) == 0);
                TCHECK(task_redis_append(f->c, 2,
                                         (const char *[]){"GET", f->key},
                                         NULL) == 0);
                TASK_REDIS_REPLY(f, f->c, &f->op, &f->v, &f->rc);
                TCHECK(f->rc == 0 && v_is_str(f->v, TASK_REDIS_STATUS, "OK"));
                task_redis_value_free(f->v);
                f->last = 0;
                for (f->i = 0; f->i < f->depth; f->i++) {
                        TASK_REDIS_REPLY(f, f->c, &f->op, &f->v, &f->rc);
                        /* Other clients' INCRs interleave: only rising. */
                        TCHECK(f->rc == 0 && f->v->type == TASK_REDIS_INTEGER &&
                               f->v->integer > f->last);
                        if (f->rc == 0)
                                f->last = f->v->integer;
                        task_redis_value_free(f->v);
                }
                TASK_REDIS_REPLY(f, f->c, &f->op, &f->v, &f->rc);
                TCHECK(f->rc == 0 && v_is_str(f->v, TASK_REDIS_STRING, f->val));
                task_redis_value_free(f->v);
        }
        TASK_CLEANUP(f);
        task_redis_close(f->c);
        f->c = NULL;
        TASK_END(f);
}

BOTH_FLAVORS(pipeline, concurrent_clients, 120)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        enum { N = 32 };
        struct worker_task w = {.rounds = 20, .depth = 25};
        task_handle *h[N];
        task_redis *c;
        struct srv s;
        char want[32];

        srv_start(&s);
        w.where = s.addr;
        for (int i = 0; i < N; i++) {
                w.id = i;
                cr_assert_eq(TASK_SPAWN(rt, worker_fn, &w, &h[i]), 0);
        }
        for (int i = 0; i < N; i++) {
                if (flavor == TASK_CURRENT_THREAD)
                        ct_run_until(rt, h_finished, h[i]);
                cr_assert_eq(task_join_blocking(h[i]), 0);
                task_handle_release(h[i]);
        }
        tcheck_assert_none();
        c = r_connect_ok(rt, s.addr, NULL);
        snprintf(want, sizeof want, "%ld", (long)N * w.rounds * w.depth);
        expect_str(r_ok(rt, c, "GET", "shared", NULL), want);
        task_redis_close(c);
        srv_stop(&s);
        test_rt_free(rt);
}

/* ---- No allocation but the reply -------------------------------------------- */

#if HAVE_MALLOC_COUNT
struct rt_task {
        TASK_FRAME;
        task_redis *c;
        int i, n;
        bool pipelined;
        struct task_redis_op op;
        struct task_redis_value *v;
        int rc;
        long allocs;
};

static int round_trips_fn(struct task_cx *cx, void *arg)
{
        struct rt_task *f = arg;
        static const char *const get[] = {"GET", "k"};

        TASK_BEGIN(f);
        atomic_store(&nallocs, 0);
        atomic_store(&counting, true);
        for (f->i = 0; f->i < f->n; f->i++) {
                if (f->pipelined) {
                        TCHECK(task_redis_append(f->c, 2, get, NULL) == 0);
                        TCHECK(task_redis_append(f->c, 2, get, NULL) == 0);
                        TASK_REDIS_FLUSH(f, f->c, &f->op, &f->rc);
                        TASK_REDIS_REPLY(f, f->c, &f->op, &f->v, &f->rc);
                        task_redis_value_free(f->v);
                        TASK_REDIS_REPLY(f, f->c, &f->op, &f->v, &f->rc);
                } else {
                        TASK_REDIS_CMD(f, f->c, &f->op, 2, get, NULL, &f->v,
                                       &f->rc);
                }
                TCHECK(f->rc == 0 && v_is_str(f->v, TASK_REDIS_STRING, "v"));
                task_redis_value_free(f->v);
        }
        atomic_store(&counting, false);
        f->allocs = atomic_load(&nallocs);
        TASK_END(f);
}

/* One run of round_trips_fn on a fresh frame (block_on copies it back
 * finished: it must not be handed in again as it is). */
static void run_trips(task_runtime *rt, struct rt_task *t)
{
        t->co.lc = 0;
        memset(&t->op, 0, sizeof t->op);
        cr_assert_eq(task_block_on(rt, round_trips_fn, t, sizeof *t), 0);
}

/* What the reader alone allocates for @n replies "$1\r\nv\r\n". */
static long reader_allocs(int n)
{
        struct task_redis_reader r;
        struct task_redis_value *v;
        size_t used;
        long got;

        cr_assert_eq(task_redis_reader_init(&r, NULL), 0);
        cr_assert_eq(task_redis_reader_feed(&r, "$1\r\nv\r\n", 7, &used, &v),
                     1);
        task_redis_value_free(v);
        atomic_store(&nallocs, 0);
        atomic_store(&counting, true);
        for (int i = 0; i < n; i++) {
                cr_assert_eq(
                    task_redis_reader_feed(&r, "$1\r\nv\r\n", 7, &used, &v), 1);
                task_redis_value_free(v);
        }
        atomic_store(&counting, false);
        got = atomic_load(&nallocs);
        task_redis_reader_free(&r);
        return got;
}
#endif

Test(pipeline, round_trip_allocates_only_the_reply, .timeout = 60)
{
#if HAVE_MALLOC_COUNT
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct rt_task t = {.n = 200};
        long base = reader_allocs(t.n);
        struct srv s;

        srv_start(&s);
        t.c = r_connect_ok(rt, s.addr, NULL);
        expect_status(r_ok(rt, t.c, "SET", "k", "v", NULL), "OK");
        /* Warm up: buffers reach their size, the runtime its caches. */
        run_trips(rt, &t);
        run_trips(rt, &t);
        tcheck_assert_none();
        cr_assert_eq(t.allocs, base,
                     "%d GET round trips allocated %ld times, the replies "
                     "alone %ld",
                     t.n, t.allocs, base);
        t.pipelined = true;
        run_trips(rt, &t);
        run_trips(rt, &t);
        tcheck_assert_none();
        cr_assert_eq(t.allocs, 2 * base,
                     "%d pipelines of 2 GETs allocated %ld times, the "
                     "replies alone %ld",
                     t.n, t.allocs, 2 * base);
        task_redis_close(t.c);
        /* With a command timeout (a timer per command) too. */
        {
                struct task_redis_opts o = test_opts();

                o.command_timeout_ns = TASK_SEC(10);
                t.c = r_connect_ok(rt, s.addr, &o);
        }
        t.pipelined = false;
        run_trips(rt, &t);
        run_trips(rt, &t);
        tcheck_assert_none();
        cr_assert_eq(t.allocs, base,
                     "with a command timeout, %d GET round trips allocated "
                     "%ld times, the replies alone %ld",
                     t.n, t.allocs, base);
        task_redis_close(t.c);
        srv_stop(&s);
        test_rt_free(rt);
#else
        cr_skip_test("allocations are counted only without sanitizers");
#endif
}
