/*
 * net_helpers.h - what the networking suites (tests/net/test_tcp.c,
 * test_udp.c, test_unix.c) share: counting open descriptors, raising the
 * open-files limit, binding loopback listeners on an ephemeral port, and
 * an echo server and client written as tasks on the stream API.
 */
#ifndef LIBTASK_TESTS_NET_HELPERS_H
#define LIBTASK_TESTS_NET_HELPERS_H

#include "helpers.h"

#include <libtask/net.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

/*
 * The TSan build's stand-in for Criterion (tests/tsan-shim) has no
 * cr_skip_test: there a skip says so on stderr and ends the test process
 * as passed.
 */
#ifndef cr_skip_test
#define cr_skip_test(...)                                                      \
        do {                                                                   \
                fprintf(stderr, "[SKIP] ");                                    \
                fprintf(stderr, __VA_ARGS__);                                  \
                fprintf(stderr, "\n");                                         \
                fflush(stderr);                                                \
                _exit(0);                                                      \
        } while (0)
#endif

/* Open descriptors of this process (entries of /proc/self/fd). */
static inline int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        cr_assert_not_null(d, "cannot open /proc/self/fd");
        while ((e = readdir(d)) != NULL)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* the DIR's own */
}

/*
 * Make room for @need descriptors: raise the soft limit up to the hard
 * one.  False when the hard limit is too low (the caller skips).
 */
static inline bool raise_nofile(rlim_t need)
{
        struct rlimit r;

        if (getrlimit(RLIMIT_NOFILE, &r))
                return false;
        if (r.rlim_cur >= need)
                return true;
        if (r.rlim_max != RLIM_INFINITY && r.rlim_max < need)
                return false;
        r.rlim_cur = need;
        return setrlimit(RLIMIT_NOFILE, &r) == 0;
}

/*
 * Bind a TCP listener on the loopback of @family, port 0, and read the
 * port back into *@a.  Returns 0 or the bind error (IPv6 may be missing).
 */
static inline int bind_loopback(struct task_listener *l, int family,
                                const struct task_bind_opts *opts,
                                struct task_addr *a)
{
        int rc;

        cr_assert_eq(task_addr_loopback(a, family, 0), 0);
        rc = task_tcp_bind(l, a, opts);
        if (rc)
                return rc;
        cr_assert_eq(task_listener_local_addr(l, a), 0);
        cr_assert_gt(task_addr_port(a), 0);
        return 0;
}

/* ---- Echo server -------------------------------------------------------- */

/* One connection: echo until EOF or an error, then close. */
struct echo_conn {
        TASK_FRAME;
        struct task_stream s;
        struct task_io io;
        char buf[512];
        ssize_t n;
        int rc;
};

static inline int echo_conn_fn(struct task_cx *cx, void *arg)
{
        struct echo_conn *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_STREAM_READ(f, &f->s, &f->io, f->buf, sizeof f->buf,
                                 &f->n);
                if (f->n <= 0)
                        break;
                TASK_STREAM_WRITE_ALL(f, &f->s, &f->io, f->buf, (size_t)f->n,
                                      &f->rc);
                if (f->rc < 0)
                        break;
        }
        TASK_CLEANUP(f);
        task_stream_close(&f->s);
        TASK_END(f);
}

/* Accept until aborted (or an accept error), a detached echo task each. */
struct echo_server {
        TASK_FRAME;
        struct task_listener *l;
        struct task_io io;
        struct task_stream conn;
        struct task_addr peer;
        int rc;
        long accepted;
};

static inline int echo_server_fn(struct task_cx *cx, void *arg)
{
        struct echo_server *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_LISTENER_ACCEPT(f, f->l, &f->io, &f->conn, &f->peer,
                                     &f->rc);
                if (f->rc < 0)
                        break;
                TCHECK(task_addr_family(&f->peer) != AF_UNSPEC);
                f->accepted++;
                struct echo_conn c = {.s = f->conn};
                if (TASK_SPAWN(task_cx_runtime(cx), echo_conn_fn, &c, NULL)) {
                        TCHECK(!"spawn failed");
                        task_stream_close(&c.s);
                }
        }
        TASK_END(f);
}

/* ---- Echo client -------------------------------------------------------- */

/*
 * Connect (TCP or Unix by the address), send @len bytes of a pattern,
 * read them back, shut writing down, expect EOF, close.  @result: 0 or
 * the first error (-errno, or 1 for wrong bytes).
 */
struct echo_client {
        TASK_FRAME;
        struct task_addr addr;
        size_t len;
        int seed;
        struct task_net_op op;
        struct task_stream s;
        struct task_io io;
        char out[256], in[256];
        ssize_t n;
        int rc;
        int result;
};

static inline int echo_client_fn(struct task_cx *cx, void *arg)
{
        struct echo_client *f = arg;

        TASK_BEGIN(f);
        f->result = 0;
        if (task_addr_family(&f->addr) == AF_UNIX)
                TASK_UNIX_CONNECT(f, &f->addr, 0, &f->op, &f->s, &f->rc);
        else
                TASK_TCP_CONNECT(f, &f->addr, 0, &f->op, &f->s, &f->rc);
        if (f->rc) {
                f->result = f->rc;
                TASK_RETURN(f);
        }
        if (f->len > sizeof f->out)
                f->len = sizeof f->out;
        for (size_t i = 0; i < f->len; i++)
                f->out[i] = (char)(f->seed + (int)i);
        TASK_STREAM_WRITE_ALL(f, &f->s, &f->io, f->out, f->len, &f->rc);
        if (f->rc) {
                f->result = f->rc;
                TASK_RETURN(f);
        }
        TASK_STREAM_READ_EXACT(f, &f->s, &f->io, f->in, f->len, &f->rc);
        if (f->rc) {
                f->result = f->rc;
                TASK_RETURN(f);
        }
        if (memcmp(f->in, f->out, f->len) != 0) {
                f->result = 1;
                TASK_RETURN(f);
        }
        f->rc = task_stream_shutdown(&f->s, TASK_SHUT_WR);
        if (f->rc) {
                f->result = f->rc;
                TASK_RETURN(f);
        }
        TASK_STREAM_READ(f, &f->s, &f->io, f->in, sizeof f->in, &f->n);
        if (f->n != 0)
                f->result = f->n < 0 ? (int)f->n : 2;
        TASK_CLEANUP(f);
        task_stream_close(&f->s);
        TASK_END(f);
}

/*
 * Run @clients echo clients against an echo server on listener @l (bound
 * to @addr): spawned from a main task, joined, then the server aborted.
 */
struct echo_main {
        TASK_FRAME;
        struct task_listener *l;
        struct task_addr addr;
        long clients;
        size_t len;
        task_handle *srv;
        task_handle **cl;
        long i;
        int rc;
        long failed;
        int first_error;
};

static inline int echo_main_fn(struct task_cx *cx, void *arg)
{
        struct echo_main *f = arg;

        TASK_BEGIN(f);
        {
                struct echo_server s = {.l = f->l};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), echo_server_fn, &s,
                                  &f->srv) == 0);
        }
        for (f->i = 0; f->i < f->clients; f->i++) {
                struct echo_client c = {
                    .addr = f->addr, .len = f->len, .seed = (int)f->i};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), echo_client_fn, &c,
                                  &f->cl[f->i]) == 0);
        }
        for (f->i = 0; f->i < f->clients; f->i++) {
                TASK_JOIN(f, f->cl[f->i], &f->rc);
                TCHECK(f->rc == 0);
                struct echo_client *c = task_handle_frame(f->cl[f->i]);
                if (c->result) {
                        if (!f->failed)
                                f->first_error = c->result;
                        f->failed++;
                }
                task_handle_release(f->cl[f->i]);
        }
        task_abort(f->srv);
        TASK_JOIN(f, f->srv, &f->rc);
        TCHECK(f->rc == -ECANCELED);
        task_handle_release(f->srv);
        TASK_END(f);
}

/* Run echo_main_fn on a fresh runtime of @flavor; check fds and results. */
static inline void run_echo(enum task_flavor flavor, unsigned workers,
                            struct task_listener *l,
                            const struct task_addr *addr, long clients,
                            size_t len)
{
        struct echo_main m = {
            .l = l, .addr = *addr, .clients = clients, .len = len};
        task_runtime *rt;

        m.cl = calloc((size_t)clients, sizeof *m.cl);
        cr_assert_not_null(m.cl);
        rt =
            workers ? test_rt_new(flavor, workers) : test_rt_new_flavor(flavor);
        cr_assert_eq(task_block_on(rt, echo_main_fn, &m, sizeof m), 0);
        test_rt_free(rt);
        free(m.cl);
        tcheck_assert_none();
        cr_assert_eq(m.failed, 0, "%ld of %ld clients failed; first: %d (%s)",
                     m.failed, clients, m.first_error,
                     task_strerror(m.first_error));
}

#endif /* LIBTASK_TESTS_NET_HELPERS_H */
