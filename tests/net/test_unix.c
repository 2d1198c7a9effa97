/*
 * test_unix.c - Unix stream sockets: echo round trips through a path (in
 * a mkdtemp directory) and an abstract name on both runtime flavors, a
 * socketpair, the peer address of an accepted connection, connect
 * errors (no such path, nobody listening), bind errors, a read aborted
 * in flight, bad input; descriptors counted before and after.
 */
#include "net_helpers.h"

#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory for socket files; removed by rm_dir(). */
static void tmp_dir(char *dir, size_t size)
{
        snprintf(dir, size, "/tmp/libtask-unix-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
}

static void unix_echo(enum task_flavor flavor, bool abstract)
{
        char dir[64], path[128];
        struct task_listener l = {0};
        struct task_addr a, b;
        int fds = count_fds();

        if (abstract) {
                snprintf(path, sizeof path, "@libtask-test-%d-%d",
                         (int)getpid(), (int)flavor);
                dir[0] = '\0';
        } else {
                tmp_dir(dir, sizeof dir);
                snprintf(path, sizeof path, "%s/echo.sock", dir);
        }
        cr_assert_eq(task_addr_unix(&a, path), 0);
        cr_assert_eq(task_unix_bind(&l, &a, NULL), 0);
        cr_assert_eq(task_listener_local_addr(&l, &b), 0);
        cr_assert(task_addr_equal(&a, &b), "local address differs");
        run_echo(flavor, 0, &l, &a, 20, 200);
        cr_assert_eq(task_listener_close(&l), 0);
        if (!abstract) {
                struct stat st;
                /* The file stays (as with Tokio): the owner removes it. */
                cr_assert_eq(stat(path, &st), 0);
                cr_assert(S_ISSOCK(st.st_mode));
                /* Binding again over it: -EADDRINUSE. */
                cr_assert_eq(task_unix_bind(&l, &a, NULL), -EADDRINUSE);
                cr_assert_eq(unlink(path), 0);
                cr_assert_eq(rmdir(dir), 0);
        }
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(unix_stream, echo_path_multi_thread, .timeout = 30)
{
        unix_echo(TASK_MULTI_THREAD, false);
}

Test(unix_stream, echo_path_current_thread, .timeout = 30)
{
        unix_echo(TASK_CURRENT_THREAD, false);
}

Test(unix_stream, echo_abstract_multi_thread, .timeout = 30)
{
        unix_echo(TASK_MULTI_THREAD, true);
}

Test(unix_stream, echo_abstract_current_thread, .timeout = 30)
{
        unix_echo(TASK_CURRENT_THREAD, true);
}

Test(unix_stream, many_connections, .timeout = 60)
{
        long n = test_scaled(1000, 100);
        struct task_listener l = {0};
        struct task_bind_opts o = {.backlog = 4096};
        struct task_addr a;
        char name[64];
        int fds;

        if (!raise_nofile((rlim_t)(2 * n + 256)))
                cr_skip_test("RLIMIT_NOFILE hard limit below %ld", 2 * n + 256);
        fds = count_fds();
        snprintf(name, sizeof name, "@libtask-many-%d", (int)getpid());
        cr_assert_eq(task_addr_unix(&a, name), 0);
        cr_assert_eq(task_unix_bind(&l, &a, &o), 0);
        run_echo(TASK_MULTI_THREAD, 2, &l, &a, n, 100);
        cr_assert_eq(task_listener_close(&l), 0);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- Pairs and single operations ------------------------------------------ */

struct pingpong {
        TASK_FRAME;
        struct task_stream *a, *b;
        struct task_io io;
        char buf[16];
        int rc, rc2;
        ssize_t eof;
};

static int pingpong_fn(struct task_cx *cx, void *arg)
{
        struct pingpong *f = arg;

        TASK_BEGIN(f);
        TASK_STREAM_WRITE_ALL(f, f->a, &f->io, "ping", 4, &f->rc);
        TASK_STREAM_READ_EXACT(f, f->b, &f->io, f->buf, 4, &f->rc2);
        TCHECK(memcmp(f->buf, "ping", 4) == 0);
        TCHECK(task_stream_shutdown(f->a, TASK_SHUT_WR) == 0);
        TASK_STREAM_READ(f, f->b, &f->io, f->buf, sizeof f->buf, &f->eof);
        TASK_END(f);
}

Test(unix_stream, socketpair_round_trip_and_eof, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct task_stream a = {0}, b = {0};
        struct task_addr pa;

        cr_assert_eq(task_unix_pair(&a, &b), 0);
        struct pingpong f = {.a = &a, .b = &b, .eof = 99};
        cr_assert_eq(task_block_on(rt, pingpong_fn, &f, sizeof f), 0);
        cr_assert_eq(f.rc, 0);
        cr_assert_eq(f.rc2, 0);
        cr_assert_eq(f.eof, 0);
        /* An unnamed peer. */
        cr_assert_eq(task_stream_peer_addr(&a, &pa), 0);
        cr_assert_eq(task_addr_family(&pa), AF_UNIX);
        char buf[TASK_ADDR_STRLEN];
        task_addr_format(&pa, buf, sizeof buf);
        cr_assert_str_eq(buf, "(unnamed)");
        cr_assert_eq(task_unix_pair(&a, &a), -EINVAL);
        cr_assert_eq(task_unix_pair(NULL, &b), -EINVAL);
        task_stream_close(&a);
        task_stream_close(&b);
        test_rt_free(rt);
        tcheck_assert_none();
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

struct uconnect {
        TASK_FRAME;
        struct task_addr a;
        struct task_net_op op;
        struct task_stream s;
        int rc;
};

static int uconnect_fn(struct task_cx *cx, void *arg)
{
        struct uconnect *f = arg;

        TASK_BEGIN(f);
        TASK_UNIX_CONNECT(f, &f->a, 1000000000, &f->op, &f->s, &f->rc);
        TASK_CLEANUP(f);
        task_stream_close(&f->s);
        TASK_END(f);
}

static int uconnect_once(task_runtime *rt, const struct task_addr *a)
{
        struct uconnect c = {.a = *a};

        cr_assert_eq(task_block_on(rt, uconnect_fn, &c, sizeof c), 0);
        return c.rc;
}

Test(unix_stream, connect_errors, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_listener l = {0};
        struct task_addr a;
        char dir[64], path[128];

        tmp_dir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/none.sock", dir);
        cr_assert_eq(task_addr_unix(&a, path), 0);
        cr_assert_eq(uconnect_once(rt, &a), -ENOENT);
        /* A socket file nobody listens on any more. */
        cr_assert_eq(task_unix_bind(&l, &a, NULL), 0);
        cr_assert_eq(task_listener_close(&l), 0);
        cr_assert_eq(uconnect_once(rt, &a), -ECONNREFUSED);
        cr_assert_eq(unlink(path), 0);
        /* An abstract name nobody holds. */
        cr_assert_eq(task_addr_unix(&a, "@libtask-nobody-here"), 0);
        cr_assert_eq(uconnect_once(rt, &a), -ECONNREFUSED);
        /* A TCP address to the Unix connect. */
        cr_assert_eq(task_addr_parse(&a, "127.0.0.1:1"), 0);
        cr_assert_eq(uconnect_once(rt, &a), -EINVAL);
        /* Bind errors. */
        snprintf(path, sizeof path, "%s/no/such/dir.sock", dir);
        cr_assert_eq(task_addr_unix(&a, path), 0);
        cr_assert_eq(task_unix_bind(&l, &a, NULL), -ENOENT);
        cr_assert_eq(task_addr_parse(&a, "127.0.0.1:0"), 0);
        cr_assert_eq(task_unix_bind(&l, &a, NULL), -EINVAL);
        cr_assert_eq(task_unix_bind(NULL, &a, NULL), -EINVAL);
        cr_assert_eq(rmdir(dir), 0);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- Abort with a read in flight ------------------------------------------ */

struct ureader {
        TASK_FRAME;
        struct task_stream *s;
        struct task_io io;
        char buf[64];
        ssize_t n;
        atomic_int *started;
};

static int ureader_fn(struct task_cx *cx, void *arg)
{
        struct ureader *f = arg;

        TASK_BEGIN(f);
        atomic_fetch_add(f->started, 1);
        TASK_STREAM_READ(f, f->s, &f->io, f->buf, sizeof f->buf, &f->n);
        TCHECK(!"the read completed");
        TASK_END(f);
}

static void unix_abort(enum task_flavor flavor)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_stream a = {0}, b = {0};
        long rounds = test_scaled(40, 10);
        enum { BATCH = 50 };
        task_handle *h[BATCH];
        atomic_int started;

        cr_assert_eq(task_unix_pair(&a, &b), 0);
        for (long r = 0; r < rounds; r++) {
                atomic_init(&started, 0);
                for (int i = 0; i < BATCH; i++) {
                        struct ureader f = {.s = &a, .started = &started};
                        cr_assert_eq(TASK_SPAWN(rt, ureader_fn, &f, &h[i]), 0);
                }
                if (flavor == TASK_CURRENT_THREAD)
                        ct_settle(rt);
                else
                        cr_assert(
                            WAIT_UNTIL(atomic_load(&started) == BATCH, 5000));
                for (int i = 0; i < BATCH; i++)
                        task_abort(h[i]);
                for (int i = 0; i < BATCH; i++) {
                        if (flavor == TASK_CURRENT_THREAD)
                                ct_run_until(rt, h_finished, h[i]);
                        cr_assert_eq(task_join_blocking(h[i]), -ECANCELED);
                        task_handle_release(h[i]);
                }
        }
        task_stream_close(&a);
        task_stream_close(&b);
        test_rt_free(rt);
        tcheck_assert_none();
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(unix_stream, abort_read_in_flight_multi_thread, .timeout = 60)
{
        unix_abort(TASK_MULTI_THREAD);
}

Test(unix_stream, abort_read_in_flight_current_thread, .timeout = 60)
{
        unix_abort(TASK_CURRENT_THREAD);
}
