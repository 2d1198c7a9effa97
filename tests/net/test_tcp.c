/*
 * test_tcp.c - TCP listeners and streams: echo round trips over IPv4 and
 * IPv6 loopback on both runtime flavors, thousands of concurrent
 * connections on 2 workers, large write_all/read_exact, writev, EOF on a
 * half-closed stream, read_exact's early EOF, a peer's reset, a refused
 * and a timed-out connect, a read timeout, reads, accepts and connects
 * aborted in flight (and a read losing a TASK_SELECT), closed sockets, socket options, raw fds, bad
 * input.  Every test that opens sockets counts the process's descriptors
 * before and after: nothing leaks.
 */
#include "net_helpers.h"

#include <libtask/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <unistd.h>

/* ---- Echo round trips ----------------------------------------------------- */

static void echo_test(enum task_flavor flavor, int family, long clients)
{
        struct task_listener l = {0};
        struct task_addr a;
        int fds = count_fds();
        int rc = bind_loopback(&l, family, NULL, &a);

        if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
                cr_skip_test("no loopback for this family: %s",
                             task_strerror(rc));
        cr_assert_eq(rc, 0, "bind: %s", task_strerror(rc));
        run_echo(flavor, 0, &l, &a, clients, 100);
        cr_assert_eq(task_listener_close(&l), 0);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, echo_ipv4_multi_thread, .timeout = 30)
{
        echo_test(TASK_MULTI_THREAD, AF_INET, 20);
}

Test(tcp, echo_ipv4_current_thread, .timeout = 30)
{
        echo_test(TASK_CURRENT_THREAD, AF_INET, 20);
}

Test(tcp, echo_ipv6_multi_thread, .timeout = 30)
{
        echo_test(TASK_MULTI_THREAD, AF_INET6, 20);
}

Test(tcp, echo_ipv6_current_thread, .timeout = 30)
{
        echo_test(TASK_CURRENT_THREAD, AF_INET6, 20);
}

Test(tcp, thousands_of_concurrent_connections, .timeout = 120)
{
        long n = test_scaled(2000, 200);
        struct task_listener l = {0};
        struct task_bind_opts o = {.backlog = 4096};
        struct task_addr a;
        int fds;

        /* Each connection is two sockets here (both ends), plus slack. */
        if (!raise_nofile((rlim_t)(2 * n + 256)))
                cr_skip_test("RLIMIT_NOFILE hard limit below %ld", 2 * n + 256);
        fds = count_fds();
        cr_assert_eq(bind_loopback(&l, AF_INET, &o, &a), 0);
        run_echo(TASK_MULTI_THREAD, 2, &l, &a, n, 64);
        cr_assert_eq(task_listener_close(&l), 0);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- A connected pair, for the tests below ----------------------------- */

/* Connect a client to @l (bound to @a) and accept it: *@c and *@s. */
struct pair_task {
        TASK_FRAME;
        struct task_listener *l;
        struct task_addr a;
        struct task_stream *c, *s;
        struct task_net_op op;
        struct task_io io;
        struct task_addr peer, local;
        task_handle *h;
        int rc, crc;
};

struct conn_task {
        TASK_FRAME;
        struct task_addr a;
        struct task_net_op op;
        struct task_stream s;
        int rc;
};

static int conn_fn(struct task_cx *cx, void *arg)
{
        struct conn_task *f = arg;

        TASK_BEGIN(f);
        TASK_TCP_CONNECT(f, &f->a, 0, &f->op, &f->s, &f->rc);
        TASK_END(f);
}

static int pair_fn(struct task_cx *cx, void *arg)
{
        struct pair_task *f = arg;

        TASK_BEGIN(f);
        {
                struct conn_task c = {.a = f->a};
                TCHECK(TASK_SPAWN(task_cx_runtime(cx), conn_fn, &c, &f->h) ==
                       0);
        }
        TASK_LISTENER_ACCEPT(f, f->l, &f->io, f->s, &f->peer, &f->rc);
        TASK_JOIN(f, f->h, &f->crc);
        {
                struct conn_task *c = task_handle_frame(f->h);
                f->crc = c->rc;
                *f->c = c->s;
        }
        task_handle_release(f->h);
        if (f->rc == 0 && f->crc == 0) {
                /* The accepted peer is the client's local address. */
                TCHECK(task_stream_local_addr(f->c, &f->local) == 0);
                TCHECK(task_addr_equal(&f->local, &f->peer));
        }
        TASK_END(f);
}

/* A TCP connection on loopback, made on @rt: client *@c, server *@s. */
static void tcp_pair(task_runtime *rt, struct task_stream *c,
                     struct task_stream *s)
{
        struct task_listener l = {0};
        struct pair_task p = {.l = &l, .c = c, .s = s};

        cr_assert_eq(bind_loopback(&l, AF_INET, NULL, &p.a), 0);
        cr_assert_eq(task_block_on(rt, pair_fn, &p, sizeof p), 0);
        cr_assert_eq(p.rc, 0, "accept: %s", task_strerror(p.rc));
        cr_assert_eq(p.crc, 0, "connect: %s", task_strerror(p.crc));
        cr_assert_eq(task_listener_close(&l), 0);
        tcheck_assert_none();
}

/* ---- Reads and writes ----------------------------------------------------- */

/* Write @len bytes with write_all on one task, read_exact on another. */
struct bulk {
        TASK_FRAME;
        struct task_stream *s;
        struct task_io io;
        char *buf;
        size_t len;
        int rc;
};

static int bulk_write_fn(struct task_cx *cx, void *arg)
{
        struct bulk *f = arg;

        TASK_BEGIN(f);
        TASK_STREAM_WRITE_ALL(f, f->s, &f->io, f->buf, f->len, &f->rc);
        TASK_END(f);
}

static int bulk_read_fn(struct task_cx *cx, void *arg)
{
        struct bulk *f = arg;

        TASK_BEGIN(f);
        TASK_STREAM_READ_EXACT(f, f->s, &f->io, f->buf, f->len, &f->rc);
        TASK_END(f);
}

static void large_transfer(enum task_flavor flavor)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_stream c = {0}, s = {0};
        size_t len = (size_t)test_scaled(16 << 20, 1 << 20);
        char *out = malloc(len), *in = calloc(1, len);
        task_handle *hw, *hr;

        cr_assert(out && in);
        for (size_t i = 0; i < len; i++)
                out[i] = (char)(i * 7 + (i >> 13));
        tcp_pair(rt, &c, &s);
        struct bulk w = {.s = &c, .buf = out, .len = len, .rc = 1};
        struct bulk r = {.s = &s, .buf = in, .len = len, .rc = 1};
        cr_assert_eq(TASK_SPAWN(rt, bulk_write_fn, &w, &hw), 0);
        cr_assert_eq(TASK_SPAWN(rt, bulk_read_fn, &r, &hr), 0);
        if (flavor == TASK_CURRENT_THREAD)
                ct_run_until(rt, h_finished, hr);
        cr_assert_eq(task_join_blocking(hr), 0);
        if (flavor == TASK_CURRENT_THREAD)
                ct_run_until(rt, h_finished, hw);
        cr_assert_eq(task_join_blocking(hw), 0);
        struct bulk *wf = task_handle_frame(hw), *rf = task_handle_frame(hr);
        cr_assert_eq(wf->rc, 0, "write_all: %s", task_strerror(wf->rc));
        cr_assert_eq(rf->rc, 0, "read_exact: %s", task_strerror(rf->rc));
        cr_assert_eq(task_stream_progress(&wf->io), len);
        cr_assert_eq(task_stream_progress(&rf->io), len);
        cr_assert_eq(memcmp(in, out, len), 0, "bytes differ");
        task_handle_release(hw);
        task_handle_release(hr);
        cr_assert_eq(task_stream_close(&c), 0);
        cr_assert_eq(task_stream_close(&s), 0);
        test_rt_free(rt);
        free(out);
        free(in);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, large_write_all_read_exact_multi_thread, .timeout = 60)
{
        large_transfer(TASK_MULTI_THREAD);
}

Test(tcp, large_write_all_read_exact_current_thread, .timeout = 60)
{
        large_transfer(TASK_CURRENT_THREAD);
}

/* Half-close, EOF, writev, read_exact's early EOF, on one connection. */
struct halfclose {
        TASK_FRAME;
        struct task_stream *c, *s;
        struct task_io io;
        struct task_net_op op;
        struct iovec iov[3];
        char buf[64];
        ssize_t n, n2, eof;
        int rc, rc2;
        size_t got;
};

static int halfclose_fn(struct task_cx *cx, void *arg)
{
        struct halfclose *f = arg;

        TASK_BEGIN(f);
        /* writev: three pieces, one message. */
        f->iov[0] = (struct iovec){"abc", 3};
        f->iov[1] = (struct iovec){"", 0};
        f->iov[2] = (struct iovec){"defg", 4};
        TASK_STREAM_WRITEV(f, f->c, &f->op, f->iov, 3, &f->n);
        TASK_STREAM_READ_EXACT(f, f->s, &f->io, f->buf, 7, &f->rc);
        TCHECK(f->rc == 0 && memcmp(f->buf, "abcdefg", 7) == 0);
        /* The client shuts writing down: the server reads EOF, and can
         * still write to the client, which can still read. */
        TCHECK(task_stream_shutdown(f->c, TASK_SHUT_WR) == 0);
        TASK_STREAM_READ(f, f->s, &f->io, f->buf, sizeof f->buf, &f->eof);
        TASK_STREAM_WRITE(f, f->s, &f->io, "xyz", 3, &f->n2);
        TCHECK(f->n2 == 3);
        /* read_exact of 10 gets 3, then EOF: -EPIPE, progress 3. */
        TCHECK(task_stream_shutdown(f->s, TASK_SHUT_WR) == 0);
        TASK_STREAM_READ_EXACT(f, f->c, &f->io, f->buf, 10, &f->rc2);
        f->got = task_stream_progress(&f->io);
        TCHECK(memcmp(f->buf, "xyz", 3) == 0);
        TASK_END(f);
}

static void halfclose_test(enum task_flavor flavor)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_stream c = {0}, s = {0};

        tcp_pair(rt, &c, &s);
        struct halfclose h = {.c = &c, .s = &s};
        cr_assert_eq(task_block_on(rt, halfclose_fn, &h, sizeof h), 0);
        cr_assert_eq(h.n, 7);
        cr_assert_eq(h.eof, 0, "read after the peer's shutdown: %zd", h.eof);
        cr_assert_eq(h.rc2, -EPIPE);
        cr_assert_eq(h.got, 3);
        cr_assert_eq(task_stream_close(&c), 0);
        cr_assert_eq(task_stream_close(&s), 0);
        test_rt_free(rt);
        tcheck_assert_none();
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, half_close_eof_writev_multi_thread, .timeout = 30)
{
        halfclose_test(TASK_MULTI_THREAD);
}

Test(tcp, half_close_eof_writev_current_thread, .timeout = 30)
{
        halfclose_test(TASK_CURRENT_THREAD);
}

/* ---- Errors from the peer ------------------------------------------------- */

struct rw1 {
        TASK_FRAME;
        struct task_stream *s;
        struct task_io io;
        char buf[64];
        size_t len;
        bool write;
        ssize_t n;
};

static int rw1_fn(struct task_cx *cx, void *arg)
{
        struct rw1 *f = arg;

        TASK_BEGIN(f);
        if (f->write)
                TASK_STREAM_WRITE(f, f->s, &f->io, f->buf, f->len, &f->n);
        else
                TASK_STREAM_READ(f, f->s, &f->io, f->buf, f->len, &f->n);
        TASK_END(f);
}

static ssize_t read_once(task_runtime *rt, struct task_stream *s)
{
        struct rw1 r = {.s = s, .len = 64};

        cr_assert_eq(task_block_on(rt, rw1_fn, &r, sizeof r), 0);
        return r.n;
}

static ssize_t write_once(task_runtime *rt, struct task_stream *s)
{
        struct rw1 r = {.s = s, .len = 64, .write = true};

        cr_assert_eq(task_block_on(rt, rw1_fn, &r, sizeof r), 0);
        return r.n;
}

static void reset_test(enum task_flavor flavor)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_stream c = {0}, s = {0};
        ssize_t n;

        tcp_pair(rt, &c, &s);
        /* An abortive close: RST instead of FIN. */
        cr_assert_eq(task_tcp_set_linger(&s, 0), 0);
        cr_assert_eq(task_stream_close(&s), 0);
        n = read_once(rt, &c);
        cr_assert_eq(n, -ECONNRESET, "read after a reset: %zd (%s)", n,
                     task_strerror((int)n));
        /* Writing to a reset connection: an error, and no SIGPIPE (the
         * default action would kill this process). */
        for (int i = 0; i < 3; i++) {
                n = write_once(rt, &c);
                cr_assert(n == -EPIPE || n == -ECONNRESET,
                          "write after a reset: %zd", n);
        }
        cr_assert_eq(task_stream_close(&c), 0);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, peer_reset_is_econnreset_multi_thread, .timeout = 30)
{
        signal(SIGPIPE, SIG_DFL);
        reset_test(TASK_MULTI_THREAD);
}

Test(tcp, peer_reset_is_econnreset_current_thread, .timeout = 30)
{
        signal(SIGPIPE, SIG_DFL);
        reset_test(TASK_CURRENT_THREAD);
}

Test(tcp, write_after_peer_close_is_epipe_not_sigpipe, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_stream c = {0}, s = {0};
        ssize_t n = 0;

        signal(SIGPIPE, SIG_DFL);
        tcp_pair(rt, &c, &s);
        cr_assert_eq(task_stream_close(&s), 0);
        /* The first write may still succeed (it provokes the RST). */
        for (int i = 0; i < 50; i++) {
                n = write_once(rt, &c);
                if (n < 0)
                        break;
                sleep_ms(2);
        }
        cr_assert(n == -EPIPE || n == -ECONNRESET, "write: %zd", n);
        cr_assert_eq(task_stream_close(&c), 0);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- Connect errors ------------------------------------------------------- */

struct connect1 {
        TASK_FRAME;
        struct task_addr a;
        uint64_t timeout_ns;
        struct task_net_op op;
        struct task_stream s;
        int rc;
};

static int connect1_fn(struct task_cx *cx, void *arg)
{
        struct connect1 *f = arg;

        TASK_BEGIN(f);
        TASK_TCP_CONNECT(f, &f->a, f->timeout_ns, &f->op, &f->s, &f->rc);
        TASK_END(f);
}

static int connect_once(task_runtime *rt, const struct task_addr *a,
                        uint64_t timeout_ns, struct task_stream *out)
{
        struct connect1 c = {.a = *a, .timeout_ns = timeout_ns};

        cr_assert_eq(task_block_on(rt, connect1_fn, &c, sizeof c), 0);
        if (out)
                *out = c.s;
        else if (c.rc == 0)
                task_stream_close(&c.s);
        return c.rc;
}

static void refused_test(enum task_flavor flavor)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_listener l = {0};
        struct task_addr a;

        /* A port that was just free: nobody listens there now. */
        cr_assert_eq(bind_loopback(&l, AF_INET, NULL, &a), 0);
        cr_assert_eq(task_listener_close(&l), 0);
        cr_assert_eq(connect_once(rt, &a, 0, NULL), -ECONNREFUSED);
        cr_assert_eq(connect_once(rt, &a, 1000000000, NULL), -ECONNREFUSED);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, connect_refused_multi_thread, .timeout = 30)
{
        refused_test(TASK_MULTI_THREAD);
}

Test(tcp, connect_refused_current_thread, .timeout = 30)
{
        refused_test(TASK_CURRENT_THREAD);
}

/*
 * A listener with a full accept queue drops further SYNs, so a connect
 * to it hangs until our timeout: fill the queue (backlog 1 takes two
 * connections), then connect with a 200 ms timeout.
 */
static void timeout_test(enum task_flavor flavor)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_listener l = {0};
        struct task_bind_opts o = {.backlog = 1};
        struct task_stream held[8] = {{0}};
        struct task_addr a;
        int rc = 0, i;
        uint64_t t0;

        cr_assert_eq(bind_loopback(&l, AF_INET, &o, &a), 0);
        for (i = 0; i < 8; i++) {
                t0 = now_ns();
                rc = connect_once(rt, &a, 200000000, &held[i]);
                if (rc != 0)
                        break;
        }
        if (rc == 0)
                cr_skip_test("the accept queue never filled: cannot time out "
                             "a connect on this machine");
        cr_assert_eq(rc, -ETIMEDOUT, "connect #%d: %s", i, task_strerror(rc));
        cr_assert_geq(now_ns() - t0, 200000000u, "timed out early");
        for (int k = 0; k < i; k++)
                cr_assert_eq(task_stream_close(&held[k]), 0);
        cr_assert_eq(task_listener_close(&l), 0);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, connect_timeout_multi_thread, .timeout = 30)
{
        timeout_test(TASK_MULTI_THREAD);
}

Test(tcp, connect_timeout_current_thread, .timeout = 30)
{
        timeout_test(TASK_CURRENT_THREAD);
}

/* A non-routable address, where the network allows it to hang. */
Test(tcp, connect_timeout_non_routable, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_addr a;
        int rc;

        cr_assert_eq(task_addr_parse(&a, "10.255.255.1:9"), 0);
        rc = connect_once(rt, &a, 100000000, NULL);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
        if (rc != -ETIMEDOUT)
                cr_skip_test("10.255.255.1 answered at once here (%s): no "
                             "timeout to see",
                             task_strerror(rc));
}

/* ---- Cancellation --------------------------------------------------------- */

/*
 * Many tasks read a socket that never gets data (or accept on a listener
 * nobody connects to, or connect to a full listener); each is aborted
 * with its operation in flight.  The aborts must wait for the kernel
 * (ASan would see a frame freed under it) and leave no descriptor open.
 */
enum { CANCEL_READ, CANCEL_ACCEPT, CANCEL_CONNECT };

struct stuck {
        TASK_FRAME;
        int kind;
        struct task_stream *s;
        struct task_listener *l;
        struct task_addr a;
        struct task_io io;
        struct task_net_op op;
        struct task_stream out;
        char buf[128];
        ssize_t n;
        int rc;
        atomic_int *started;
        bool finished;
};

static int stuck_fn(struct task_cx *cx, void *arg)
{
        struct stuck *f = arg;

        TASK_BEGIN(f);
        atomic_fetch_add(f->started, 1);
        if (f->kind == CANCEL_READ)
                TASK_STREAM_READ(f, f->s, &f->io, f->buf, sizeof f->buf, &f->n);
        else if (f->kind == CANCEL_ACCEPT)
                TASK_LISTENER_ACCEPT(f, f->l, &f->io, &f->out, NULL, &f->rc);
        else
                TASK_TCP_CONNECT(f, &f->a, 0, &f->op, &f->out, &f->rc);
        f->finished = true;
        TASK_CLEANUP(f);
        task_stream_close(&f->out);
        TASK_END(f);
}

static void abort_in_flight(enum task_flavor flavor, int kind, long rounds,
                            int batch)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_stream c = {0}, s = {0};
        struct task_listener l = {0};
        struct task_bind_opts o = {.backlog = 1};
        struct task_stream held[8] = {{0}};
        task_handle **h = calloc((size_t)batch, sizeof *h);
        atomic_int started;
        struct task_addr a;
        int nheld = 0;

        cr_assert_not_null(h);
        if (kind == CANCEL_READ)
                tcp_pair(rt, &c, &s);
        if (kind == CANCEL_ACCEPT)
                cr_assert_eq(bind_loopback(&l, AF_INET, NULL, &a), 0);
        if (kind == CANCEL_CONNECT) {
                /* Fill the accept queue: later connects hang. */
                cr_assert_eq(bind_loopback(&l, AF_INET, &o, &a), 0);
                while (nheld < 8 &&
                       connect_once(rt, &a, 100000000, &held[nheld]) == 0)
                        nheld++;
                if (nheld == 8)
                        cr_skip_test("the accept queue never filled");
        }
        for (long r = 0; r < rounds; r++) {
                atomic_init(&started, 0);
                for (int i = 0; i < batch; i++) {
                        struct stuck f = {.kind = kind,
                                          .s = &c,
                                          .l = &l,
                                          .a = a,
                                          .started = &started};
                        cr_assert_eq(TASK_SPAWN(rt, stuck_fn, &f, &h[i]), 0);
                }
                if (flavor == TASK_CURRENT_THREAD)
                        ct_settle(rt);
                else
                        cr_assert(
                            WAIT_UNTIL(atomic_load(&started) == batch, 5000));
                /* Some aborted before their first poll, some with the
                 * operation just submitted, most waiting. */
                for (int i = 0; i < batch; i++)
                        task_abort(h[i]);
                for (int i = 0; i < batch; i++) {
                        if (flavor == TASK_CURRENT_THREAD)
                                ct_run_until(rt, h_finished, h[i]);
                        cr_assert_eq(task_join_blocking(h[i]), -ECANCELED);
                        struct stuck *f = task_handle_frame(h[i]);
                        cr_assert_not(f->finished, "the operation completed");
                        task_handle_release(h[i]);
                }
        }
        /* The stream still works after all that. */
        if (kind == CANCEL_READ) {
                struct rw1 w = {.s = &s, .len = 5, .write = true};
                memcpy(w.buf, "hello", 5);
                cr_assert_eq(task_block_on(rt, rw1_fn, &w, sizeof w), 0);
                cr_assert_eq(w.n, 5);
                cr_assert_eq(read_once(rt, &c), 5);
        }
        for (int k = 0; k < nheld; k++)
                task_stream_close(&held[k]);
        task_stream_close(&c);
        task_stream_close(&s);
        task_listener_close(&l);
        test_rt_free(rt);
        free(h);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, abort_read_in_flight_multi_thread, .timeout = 120)
{
        abort_in_flight(TASK_MULTI_THREAD, CANCEL_READ, test_scaled(50, 10),
                        100);
}

Test(tcp, abort_read_in_flight_current_thread, .timeout = 120)
{
        abort_in_flight(TASK_CURRENT_THREAD, CANCEL_READ, test_scaled(50, 10),
                        100);
}

Test(tcp, abort_accept_in_flight_multi_thread, .timeout = 120)
{
        abort_in_flight(TASK_MULTI_THREAD, CANCEL_ACCEPT, test_scaled(20, 5),
                        100);
}

Test(tcp, abort_accept_in_flight_current_thread, .timeout = 120)
{
        abort_in_flight(TASK_CURRENT_THREAD, CANCEL_ACCEPT, test_scaled(20, 5),
                        100);
}

Test(tcp, abort_connect_in_flight_multi_thread, .timeout = 120)
{
        abort_in_flight(TASK_MULTI_THREAD, CANCEL_CONNECT, test_scaled(10, 3),
                        50);
}

Test(tcp, abort_connect_in_flight_current_thread, .timeout = 120)
{
        abort_in_flight(TASK_CURRENT_THREAD, CANCEL_CONNECT, test_scaled(10, 3),
                        50);
}

/*
 * A read as the losing branch of a TASK_SELECT (the way a read timeout
 * is written): the read is cancelled, confirmed, and the stream keeps
 * working; the data sent afterwards is read whole.
 */
struct sel_read {
        TASK_FRAME;
        struct task_stream *s;
        struct gate *g;
        struct task_select sel;
        struct task_io io;
        char buf[16];
        ssize_t n;
        int which;
        bool idle_after;
};

static int sel_read_fn(struct task_cx *cx, void *arg)
{
        struct sel_read *f = arg;

        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel,
                    task_stream_read_poll(cx, f->s, &f->io, f->buf,
                                          sizeof f->buf, &f->n),
                    gate_poll(cx, f->g));
        f->which = f->sel.which;
        f->idle_after = !task_io_pending(&f->io);
        TASK_END(f);
}

Test(tcp, read_losing_a_select_is_cancelled, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_stream c = {0}, s = {0};
        struct gate g;
        task_handle *h;

        gate_init(&g);
        tcp_pair(rt, &c, &s);
        struct sel_read f = {.s = &c, .g = &g};
        cr_assert_eq(TASK_SPAWN(rt, sel_read_fn, &f, &h), 0);
        cr_assert(WAIT_UNTIL(gate_has_waiter(&g), 5000));
        sleep_ms(5); /* let the read reach the kernel */
        gate_open(&g);
        cr_assert_eq(task_join_blocking(h), 0);
        struct sel_read *r = task_handle_frame(h);
        cr_assert_eq(r->which, 1);
        cr_assert(r->idle_after, "the read was still in flight");
        task_handle_release(h);
        cr_assert_eq(write_once(rt, &s), 64);
        cr_assert_eq(read_once(rt, &c), 64);
        task_stream_close(&c);
        task_stream_close(&s);
        gate_destroy(&g);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* A read timeout (TASK_TIMEOUT, libtask/time.h): -ETIMEDOUT, never early. */
struct read_timeout {
        TASK_FRAME;
        struct task_stream *s;
        struct task_select sel;
        struct task_sleep sleep;
        struct task_io io;
        char buf[16];
        ssize_t n;
        uint64_t t0, elapsed;
        bool idle_after;
};

static int read_timeout_fn(struct task_cx *cx, void *arg)
{
        struct read_timeout *f = arg;

        TASK_BEGIN(f);
        f->t0 = task_now_ns();
        TASK_TIMEOUT(f, &f->sel, &f->sleep, TASK_MS(50),
                     task_stream_read_poll(cx, f->s, &f->io, f->buf,
                                           sizeof f->buf, &f->n),
                     &f->n);
        f->elapsed = task_now_ns() - f->t0;
        f->idle_after = !task_io_pending(&f->io);
        TASK_END(f);
}

static void read_timeout_test(enum task_flavor flavor)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_stream c = {0}, s = {0};

        tcp_pair(rt, &c, &s);
        for (int i = 0; i < 3; i++) {
                struct read_timeout f = {.s = &c};
                cr_assert_eq(task_block_on(rt, read_timeout_fn, &f, sizeof f),
                             0);
                cr_assert_eq(f.n, -ETIMEDOUT, "read: %zd", f.n);
                cr_assert_geq(f.elapsed, TASK_MS(50), "timed out early");
                cr_assert(f.idle_after, "the read was still in flight");
        }
        /* Nothing was lost: the stream reads what is sent next. */
        cr_assert_eq(write_once(rt, &s), 64);
        cr_assert_eq(read_once(rt, &c), 64);
        task_stream_close(&c);
        task_stream_close(&s);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, read_timeout_multi_thread, .timeout = 30)
{
        read_timeout_test(TASK_MULTI_THREAD);
}

Test(tcp, read_timeout_current_thread, .timeout = 30)
{
        read_timeout_test(TASK_CURRENT_THREAD);
}

/* ---- Closed sockets ------------------------------------------------------- */

/* Closing a stream wakes a read another task has in flight on it (EOF). */
Test(tcp, close_wakes_a_read_in_flight, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_stream c = {0}, s = {0};
        task_handle *h;
        atomic_int started;

        tcp_pair(rt, &c, &s);
        atomic_init(&started, 0);
        struct rw1 r = {.s = &c, .len = 64, .n = 99};
        cr_assert_eq(TASK_SPAWN(rt, rw1_fn, &r, &h), 0);
        sleep_ms(20);
        cr_assert_eq(task_stream_close(&c), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        ssize_t n = ((struct rw1 *)task_handle_frame(h))->n;
        cr_assert(n == 0 || n == -EBADF, "read: %zd", n);
        task_handle_release(h);
        /* And on the closed stream: -EBADF, at once. */
        cr_assert_eq(read_once(rt, &c), -EBADF);
        cr_assert_eq(write_once(rt, &c), -EBADF);
        cr_assert_eq(task_stream_close(&c), -EBADF);
        cr_assert_eq(task_stream_shutdown(&c, TASK_SHUT_WR), -EBADF);
        cr_assert_eq(task_stream_fd(&c), -EBADF);
        task_stream_close(&s);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

struct accept1 {
        TASK_FRAME;
        struct task_listener *l;
        struct task_io io;
        struct task_stream out;
        int rc;
};

static int accept1_fn(struct task_cx *cx, void *arg)
{
        struct accept1 *f = arg;

        TASK_BEGIN(f);
        TASK_LISTENER_ACCEPT(f, f->l, &f->io, &f->out, NULL, &f->rc);
        TASK_END(f);
}

Test(tcp, listener_close_fails_an_accept_in_flight, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_listener l = {0};
        struct task_addr a;
        task_handle *h;

        cr_assert_eq(bind_loopback(&l, AF_INET, NULL, &a), 0);
        struct accept1 f = {.l = &l, .rc = 1};
        cr_assert_eq(TASK_SPAWN(rt, accept1_fn, &f, &h), 0);
        sleep_ms(20);
        cr_assert_eq(task_listener_close(&l), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        int rc = ((struct accept1 *)task_handle_frame(h))->rc;
        cr_assert(rc == -EINVAL || rc == -EBADF, "accept: %d", rc);
        task_handle_release(h);
        /* Accept on the closed listener: -EBADF. */
        struct accept1 g = {.l = &l};
        cr_assert_eq(task_block_on(rt, accept1_fn, &g, sizeof g), 0);
        cr_assert_eq(g.rc, -EBADF);
        cr_assert_eq(task_listener_close(&l), -EBADF);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- Options, raw descriptors, addresses ---------------------------------- */

Test(tcp, socket_options, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_stream c = {0}, s = {0}, u1 = {0}, u2 = {0};
        int v = 0;
        socklen_t len = sizeof v;

        tcp_pair(rt, &c, &s);
        cr_assert_eq(task_tcp_nodelay(&c), 0);
        cr_assert_eq(task_tcp_set_nodelay(&c, true), 0);
        cr_assert_eq(task_tcp_nodelay(&c), 1);
        cr_assert_eq(task_tcp_set_keepalive(&c, true, 30, 5, 3), 0);
        getsockopt(task_stream_fd(&c), SOL_SOCKET, SO_KEEPALIVE, &v, &len);
        cr_assert_eq(v, 1);
        getsockopt(task_stream_fd(&c), IPPROTO_TCP, TCP_KEEPIDLE, &v, &len);
        cr_assert_eq(v, 30);
        cr_assert_eq(task_tcp_set_keepalive(&c, false, 0, 0, 0), 0);
        cr_assert_eq(task_tcp_set_linger(&c, 5), 0);
        cr_assert_eq(task_tcp_set_linger(&c, -1), 0);
        /* TCP options on a Unix stream: refused by the kernel. */
        cr_assert_eq(task_unix_pair(&u1, &u2), 0);
        cr_assert_eq(task_tcp_set_nodelay(&u1, true), -EOPNOTSUPP);
        /* Closed or NULL streams. */
        cr_assert_eq(task_tcp_set_nodelay(NULL, true), -EINVAL);
        struct task_stream z = {0};
        cr_assert_eq(task_tcp_set_nodelay(&z, true), -EBADF);
        cr_assert_eq(task_tcp_nodelay(&z), -EBADF);
        cr_assert_eq(task_tcp_set_keepalive(&z, true, 0, 0, 0), -EBADF);
        task_stream_close(&u1);
        task_stream_close(&u2);
        task_stream_close(&c);
        task_stream_close(&s);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, addresses_and_raw_descriptors, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_stream c = {0}, s = {0}, t = {0};
        struct task_addr la, pa;
        int fd;

        tcp_pair(rt, &c, &s);
        cr_assert_eq(task_stream_local_addr(&c, &la), 0);
        cr_assert_eq(task_stream_peer_addr(&s, &pa), 0);
        cr_assert(task_addr_equal(&la, &pa));
        /* Give the socket away and take it back: it still works. */
        fd = task_stream_into_fd(&c);
        cr_assert_geq(fd, 0);
        cr_assert_eq(task_stream_fd(&c), -EBADF);
        cr_assert_eq(task_stream_into_fd(&c), -EBADF);
        cr_assert_eq(task_stream_from_fd(&t, fd), 0);
        cr_assert_eq(task_stream_fd(&t), fd);
        cr_assert_eq(write_once(rt, &t), 64);
        cr_assert_eq(read_once(rt, &s), 64);
        /* Not a stream socket, not a socket, not a descriptor. */
        int dg = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert_eq(task_stream_from_fd(&c, dg), -EINVAL);
        close(dg);
        int p[2];
        cr_assert_eq(pipe(p), 0);
        cr_assert_eq(task_stream_from_fd(&c, p[0]), -ENOTSOCK);
        close(p[0]);
        close(p[1]);
        cr_assert_eq(task_stream_from_fd(&c, -1), -EINVAL);
        cr_assert_eq(task_stream_from_fd(&c, 100000), -EBADF);
        cr_assert_eq(task_stream_fd(&c), -EBADF);
        /* A listener from a raw listening socket, and not from a stream. */
        struct task_listener l = {0}, l2 = {0};
        struct task_addr a;
        cr_assert_eq(bind_loopback(&l, AF_INET, NULL, &a), 0);
        fd = task_listener_into_fd(&l);
        cr_assert_eq(task_listener_from_fd(&l2, fd), 0);
        cr_assert_eq(task_listener_from_fd(&l, task_stream_fd(&s)), -EINVAL);
        cr_assert_eq(task_listener_close(&l2), 0);
        task_stream_close(&t);
        task_stream_close(&s);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, bind_errors, .timeout = 30)
{
        int fds = count_fds();
        struct task_listener l = {0}, l2 = {0};
        struct task_bind_opts o = {.no_reuseaddr = true};
        struct task_bind_opts bad = {.backlog = -1};
        struct task_addr a, u;

        cr_assert_eq(bind_loopback(&l, AF_INET, NULL, &a), 0);
        cr_assert_eq(task_tcp_bind(&l2, &a, NULL), -EADDRINUSE);
        cr_assert_eq(task_listener_fd(&l2), -EBADF);
        cr_assert_eq(task_tcp_bind(&l2, &a, &o), -EADDRINUSE);
        cr_assert_eq(task_listener_close(&l), 0);
        cr_assert_eq(task_addr_loopback(&a, AF_INET, 0), 0);
        cr_assert_eq(task_tcp_bind(&l2, &a, &bad), -EINVAL);
        cr_assert_eq(task_addr_unix(&u, "@x"), 0);
        cr_assert_eq(task_tcp_bind(&l2, &u, NULL), -EINVAL);
        cr_assert_eq(task_tcp_bind(NULL, &a, NULL), -EINVAL);
        cr_assert_eq(task_tcp_bind(&l2, NULL, NULL), -EINVAL);
        struct task_addr empty = {0};
        cr_assert_eq(task_tcp_bind(&l2, &empty, NULL), -EINVAL);
        /* SO_REUSEPORT: two listeners on one port. */
        struct task_bind_opts rp = {.reuseport = true};
        cr_assert_eq(bind_loopback(&l, AF_INET, &rp, &a), 0);
        cr_assert_eq(task_tcp_bind(&l2, &a, &rp), 0);
        cr_assert_eq(task_listener_close(&l), 0);
        cr_assert_eq(task_listener_close(&l2), 0);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* NULLs and nonsense into every poll function: -EINVAL, nothing else. */
struct badpoll {
        TASK_FRAME;
        struct task_stream s;
        struct task_listener l;
        struct task_io io;
        struct task_net_op op;
        struct task_addr a;
        char buf[8];
        ssize_t n[4];
        int rc[8];
};

static int badpoll_fn(struct task_cx *cx, void *arg)
{
        struct badpoll *f = arg;

        TASK_BEGIN(f);
        TASK_STREAM_READ(f, NULL, &f->io, f->buf, 8, &f->n[0]);
        TASK_STREAM_READ(f, &f->s, NULL, f->buf, 8, &f->n[1]);
        TASK_STREAM_WRITE(f, &f->s, &f->io, NULL, 8, &f->n[2]);
        TASK_STREAM_WRITEV(f, &f->s, &f->op, NULL, 1, &f->n[3]);
        TASK_STREAM_READ_EXACT(f, &f->s, &f->io, NULL, 8, &f->rc[0]);
        TASK_STREAM_WRITE_ALL(f, NULL, &f->io, f->buf, 8, &f->rc[1]);
        TASK_LISTENER_ACCEPT(f, NULL, &f->io, &f->s, NULL, &f->rc[2]);
        TASK_LISTENER_ACCEPT(f, &f->l, &f->io, NULL, NULL, &f->rc[3]);
        TASK_TCP_CONNECT(f, NULL, 0, &f->op, &f->s, &f->rc[4]);
        TASK_TCP_CONNECT(f, &f->a, 0, &f->op, &f->s, &f->rc[5]);
        task_addr_unix(&f->a, "@x");
        TASK_TCP_CONNECT(f, &f->a, 0, &f->op, &f->s, &f->rc[6]);
        TASK_TCP_CONNECT(f, &f->a, 0, NULL, &f->s, &f->rc[7]);
        TASK_END(f);
}

Test(tcp, bad_arguments_are_einval, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct badpoll f = {0};

        cr_assert_eq(task_block_on(rt, badpoll_fn, &f, sizeof f), 0);
        for (int i = 0; i < 4; i++)
                cr_assert_eq(f.n[i], -EINVAL, "n[%d] = %zd", i, f.n[i]);
        for (int i = 0; i < 8; i++)
                cr_assert_eq(f.rc[i], -EINVAL, "rc[%d] = %d", i, f.rc[i]);
        cr_assert_eq(task_stream_close(NULL), -EINVAL);
        cr_assert_eq(task_stream_shutdown(NULL, TASK_SHUT_WR), -EINVAL);
        cr_assert_eq(task_stream_shutdown(&f.s, (enum task_shutdown)7),
                     -EINVAL);
        cr_assert_eq(task_stream_local_addr(&f.s, NULL), -EINVAL);
        cr_assert_eq(task_stream_peer_addr(&f.s, &f.a), -EBADF);
        cr_assert_eq(task_listener_local_addr(NULL, &f.a), -EINVAL);
        cr_assert_eq(task_listener_close(NULL), -EINVAL);
        test_rt_free(rt);
}

/* ---- Review regressions --------------------------------------------------- */

/*
 * A connect with a timeout is a link of two SQEs that must reach the
 * kernel together: on the smallest ring (2 entries) with another SQE
 * already queued, the driver makes room instead of spinning.
 */
struct ring2 {
        TASK_FRAME;
        struct task_stream *idle;
        struct task_io rd;
        char buf[8];
        ssize_t n;
        struct task_select sel;
        struct connect1 c;
};

static int ring2_fn(struct task_cx *cx, void *arg)
{
        struct ring2 *f = arg;

        TASK_BEGIN(f);
        /* A read that stays queued (nobody writes), then the connect. */
        TASK_SELECT(f, &f->sel,
                    task_stream_read_poll(cx, f->idle, &f->rd, f->buf,
                                          sizeof f->buf, &f->n),
                    task_tcp_connect_poll(cx, &f->c.a, TASK_SEC(5), &f->c.op,
                                          &f->c.s, &f->c.rc));
        TASK_END(f);
}

Test(tcp, connect_timeout_on_a_two_entry_ring, .timeout = 30)
{
        int fds = count_fds();
        struct task_runtime_opts o;
        task_runtime *rt;
        task_runtime_opts_init(&o);
        o.flavor = TASK_CURRENT_THREAD;
        o.io_ring_entries = 2;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        struct task_stream c = {0}, s = {0};
        tcp_pair(rt, &c, &s);
        struct task_listener l = {0};
        struct task_addr a;
        cr_assert_eq(bind_loopback(&l, AF_INET, NULL, &a), 0);
        struct ring2 f = {.idle = &c, .c = {.a = a}};
        cr_assert_eq(task_block_on(rt, ring2_fn, &f, sizeof f), 0);
        cr_assert_eq(f.sel.which, 1);
        cr_assert_eq(f.c.rc, 0, "connect: %d", f.c.rc);
        task_stream_close(&f.c.s);
        task_listener_close(&l);
        task_stream_close(&c);
        task_stream_close(&s);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/*
 * A write_all cut short by a timeout reports, through
 * task_stream_progress(), exactly the bytes the peer can read.
 */
#define BIG (8u << 20)

struct big_write {
        TASK_FRAME;
        struct task_stream *s;
        struct task_select sel;
        struct task_sleep sleep;
        struct task_io io;
        char *buf;
        int rc;
        size_t progress;
};

static int big_write_fn(struct task_cx *cx, void *arg)
{
        struct big_write *f = arg;

        TASK_BEGIN(f);
        TASK_TIMEOUT(
            f, &f->sel, &f->sleep, TASK_MS(100),
            task_stream_write_all_poll(cx, f->s, &f->io, f->buf, BIG, &f->rc),
            &f->rc);
        f->progress = task_stream_progress(&f->io);
        TASK_END(f);
}

static void progress_test(enum task_flavor flavor)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_stream c = {0}, s = {0};
        tcp_pair(rt, &c, &s);
        struct big_write f = {.s = &c, .buf = calloc(1, BIG)};
        cr_assert_not_null(f.buf);
        cr_assert_eq(task_block_on(rt, big_write_fn, &f, sizeof f), 0);
        cr_assert_eq(f.rc, -ETIMEDOUT, "write_all: %d", f.rc);
        cr_assert_gt(f.progress, 0, "nothing counted");
        cr_assert_lt(f.progress, BIG);
        /* Drain the peer: it holds exactly what progress says. */
        task_stream_shutdown(&c, TASK_SHUT_WR);
        int fd = task_stream_fd(&s);
        size_t got = 0;
        char tmp[65536];
        for (;;) {
                ssize_t r = read(fd, tmp, sizeof tmp);
                cr_assert_geq(r, 0, "read: %s", strerror(errno));
                if (r == 0)
                        break;
                got += (size_t)r;
        }
        cr_assert_eq(got, f.progress, "peer got %zu, progress %zu", got,
                     f.progress);
        free(f.buf);
        task_stream_close(&c);
        task_stream_close(&s);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(tcp, write_all_progress_after_timeout_multi_thread, .timeout = 30)
{
        progress_test(TASK_MULTI_THREAD);
}

Test(tcp, write_all_progress_after_timeout_current_thread, .timeout = 30)
{
        progress_test(TASK_CURRENT_THREAD);
}
