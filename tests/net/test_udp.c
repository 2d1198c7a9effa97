/*
 * test_udp.c - UDP sockets: send_to/recv_from round trips over IPv4 and
 * IPv6 loopback on both runtime flavors (the source address comes back
 * right), connected send/recv, truncation, zero-length datagrams, a
 * refused connected send, many concurrent senders on 2 workers, a
 * receive aborted in flight, close waking a receive, raw descriptors,
 * bad input; descriptors counted before and after.
 */
#include "net_helpers.h"

#include <unistd.h>

static int udp_bind_loopback(struct task_udp_socket *u, int family,
                             struct task_addr *a)
{
        int rc;

        cr_assert_eq(task_addr_loopback(a, family, 0), 0);
        rc = task_udp_bind(u, a, NULL);
        if (rc)
                return rc;
        cr_assert_eq(task_udp_local_addr(u, a), 0);
        return 0;
}

/* ---- Echo: a server task answers N datagrams, a client sends them --------- */

struct udp_server {
        TASK_FRAME;
        struct task_udp_socket *u;
        long count;
        struct task_net_op op;
        struct task_addr from;
        char buf[256];
        ssize_t n, sent;
        long i;
};

static int udp_server_fn(struct task_cx *cx, void *arg)
{
        struct udp_server *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->count; f->i++) {
                TASK_UDP_RECV_FROM(f, f->u, &f->op, f->buf, sizeof f->buf,
                                   &f->from, &f->n);
                TCHECK(f->n >= 0);
                if (f->n < 0)
                        break;
                TASK_UDP_SEND_TO(f, f->u, &f->op, f->buf, (size_t)f->n,
                                 &f->from, &f->sent);
                TCHECK(f->sent == f->n);
        }
        TASK_END(f);
}

struct udp_client {
        TASK_FRAME;
        struct task_udp_socket *u;
        struct task_addr server;
        long count;
        struct task_net_op op;
        struct task_addr from;
        char out[64], in[64];
        ssize_t n;
        long i;
        long ok;
};

static int udp_client_fn(struct task_cx *cx, void *arg)
{
        struct udp_client *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->count; f->i++) {
                snprintf(f->out, sizeof f->out, "datagram %ld", f->i);
                TASK_UDP_SEND_TO(f, f->u, &f->op, f->out, strlen(f->out) + 1,
                                 &f->server, &f->n);
                TCHECK(f->n == (ssize_t)strlen(f->out) + 1);
                TASK_UDP_RECV_FROM(f, f->u, &f->op, f->in, sizeof f->in,
                                   &f->from, &f->n);
                /* Loopback drops nothing at this rate; a reply is ours. */
                TCHECK(task_addr_equal(&f->from, &f->server));
                if (f->n > 0 && strcmp(f->in, f->out) == 0)
                        f->ok++;
        }
        TASK_END(f);
}

static void udp_echo(enum task_flavor flavor, int family)
{
        int fds = count_fds();
        struct task_udp_socket s = {0}, c = {0};
        struct task_addr sa, ca;
        task_runtime *rt;
        task_handle *hs, *hc;
        long n = 200;
        int rc = udp_bind_loopback(&s, family, &sa);

        if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
                cr_skip_test("no loopback for this family: %s",
                             task_strerror(rc));
        cr_assert_eq(rc, 0);
        cr_assert_eq(udp_bind_loopback(&c, family, &ca), 0);
        rt = test_rt_new_flavor(flavor);
        struct udp_server fs = {.u = &s, .count = n};
        struct udp_client fc = {.u = &c, .server = sa, .count = n};
        cr_assert_eq(TASK_SPAWN(rt, udp_server_fn, &fs, &hs), 0);
        cr_assert_eq(TASK_SPAWN(rt, udp_client_fn, &fc, &hc), 0);
        if (flavor == TASK_CURRENT_THREAD)
                ct_run_until(rt, h_finished, hc);
        cr_assert_eq(task_join_blocking(hc), 0);
        if (flavor == TASK_CURRENT_THREAD)
                ct_run_until(rt, h_finished, hs);
        cr_assert_eq(task_join_blocking(hs), 0);
        cr_assert_eq(((struct udp_client *)task_handle_frame(hc))->ok, n);
        task_handle_release(hs);
        task_handle_release(hc);
        test_rt_free(rt);
        cr_assert_eq(task_udp_close(&s), 0);
        cr_assert_eq(task_udp_close(&c), 0);
        tcheck_assert_none();
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(udp, echo_ipv4_multi_thread, .timeout = 30)
{
        udp_echo(TASK_MULTI_THREAD, AF_INET);
}

Test(udp, echo_ipv4_current_thread, .timeout = 30)
{
        udp_echo(TASK_CURRENT_THREAD, AF_INET);
}

Test(udp, echo_ipv6_multi_thread, .timeout = 30)
{
        udp_echo(TASK_MULTI_THREAD, AF_INET6);
}

Test(udp, echo_ipv6_current_thread, .timeout = 30)
{
        udp_echo(TASK_CURRENT_THREAD, AF_INET6);
}

/* Many clients, one server, 2 workers: every datagram answered. */
Test(udp, many_clients_two_workers, .timeout = 60)
{
        enum { CLIENTS = 50 };
        long per = test_scaled(40, 10);
        int fds = count_fds();
        struct task_udp_socket s = {0}, c[CLIENTS];
        struct task_addr sa, ca;
        task_runtime *rt = test_rt_new_mt(2);
        task_handle *hs, *hc[CLIENTS];

        memset(c, 0, sizeof c);
        cr_assert_eq(udp_bind_loopback(&s, AF_INET, &sa), 0);
        struct udp_server fs = {.u = &s, .count = CLIENTS * per};
        cr_assert_eq(TASK_SPAWN(rt, udp_server_fn, &fs, &hs), 0);
        for (int i = 0; i < CLIENTS; i++) {
                cr_assert_eq(udp_bind_loopback(&c[i], AF_INET, &ca), 0);
                struct udp_client fc = {.u = &c[i], .server = sa, .count = per};
                cr_assert_eq(TASK_SPAWN(rt, udp_client_fn, &fc, &hc[i]), 0);
        }
        for (int i = 0; i < CLIENTS; i++) {
                cr_assert_eq(task_join_blocking(hc[i]), 0);
                cr_assert_eq(
                    ((struct udp_client *)task_handle_frame(hc[i]))->ok, per);
                task_handle_release(hc[i]);
                task_udp_close(&c[i]);
        }
        cr_assert_eq(task_join_blocking(hs), 0);
        task_handle_release(hs);
        task_udp_close(&s);
        test_rt_free(rt);
        tcheck_assert_none();
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- Connected sockets, truncation, errors ---------------------------------- */

struct connected {
        TASK_FRAME;
        struct task_udp_socket *a, *b;
        struct task_io io;
        struct task_net_op op;
        struct task_addr from;
        char big[100], small[10];
        ssize_t n1, n2, n3, n4, n5;
};

static int connected_fn(struct task_cx *cx, void *arg)
{
        struct connected *f = arg;

        TASK_BEGIN(f);
        memset(f->big, 'q', sizeof f->big);
        TASK_UDP_SEND(f, f->a, &f->io, f->big, sizeof f->big, &f->n1);
        /* Truncated to the buffer; the rest of the datagram is gone. */
        TASK_UDP_RECV(f, f->b, &f->io, f->small, sizeof f->small, &f->n2);
        /* A zero-length datagram is a datagram. */
        TASK_UDP_SEND(f, f->a, &f->io, NULL, 0, &f->n3);
        TASK_UDP_RECV_FROM(f, f->b, &f->op, f->small, sizeof f->small, &f->from,
                           &f->n4);
        TASK_UDP_SEND(f, f->a, &f->io, "z", 1, &f->n5);
        TASK_END(f);
}

Test(udp, connected_send_recv_truncation_and_empty, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct task_udp_socket a = {0}, b = {0};
        struct task_addr aa, ba, pa;

        cr_assert_eq(udp_bind_loopback(&a, AF_INET, &aa), 0);
        cr_assert_eq(udp_bind_loopback(&b, AF_INET, &ba), 0);
        cr_assert_eq(task_udp_peer_addr(&a, &pa), -ENOTCONN);
        cr_assert_eq(task_udp_connect(&a, &ba), 0);
        cr_assert_eq(task_udp_connect(&b, &aa), 0);
        cr_assert_eq(task_udp_peer_addr(&a, &pa), 0);
        cr_assert(task_addr_equal(&pa, &ba));
        struct connected f = {.a = &a, .b = &b};
        cr_assert_eq(task_block_on(rt, connected_fn, &f, sizeof f), 0);
        cr_assert_eq(f.n1, 100);
        cr_assert_eq(f.n2, 10);
        cr_assert_eq(f.n3, 0);
        cr_assert_eq(f.n4, 0);
        cr_assert(task_addr_equal(&f.from, &aa));
        cr_assert_eq(f.n5, 1);
        task_udp_close(&a);
        task_udp_close(&b);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

struct sendrecv1 {
        TASK_FRAME;
        struct task_udp_socket *u;
        struct task_io io;
        char buf[8];
        ssize_t n1, n2;
};

static int refused_fn(struct task_cx *cx, void *arg)
{
        struct sendrecv1 *f = arg;

        TASK_BEGIN(f);
        TASK_UDP_SEND(f, f->u, &f->io, "x", 1, &f->n1);
        /* The ICMP port unreachable comes back as an error on the next
         * operation of a connected socket. */
        TASK_UDP_RECV(f, f->u, &f->io, f->buf, sizeof f->buf, &f->n2);
        TASK_END(f);
}

Test(udp, connected_to_nobody_is_econnrefused, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_udp_socket a = {0}, gone = {0};
        struct task_addr aa, ga;

        cr_assert_eq(udp_bind_loopback(&gone, AF_INET, &ga), 0);
        cr_assert_eq(task_udp_close(&gone), 0);
        cr_assert_eq(udp_bind_loopback(&a, AF_INET, &aa), 0);
        cr_assert_eq(task_udp_connect(&a, &ga), 0);
        struct sendrecv1 f = {.u = &a};
        cr_assert_eq(task_block_on(rt, refused_fn, &f, sizeof f), 0);
        cr_assert_eq(f.n1, 1);
        cr_assert_eq(f.n2, -ECONNREFUSED, "recv: %zd", f.n2);
        task_udp_close(&a);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- Cancellation and closing --------------------------------------------- */

struct stuck_recv {
        TASK_FRAME;
        struct task_udp_socket *u;
        struct task_net_op op;
        struct task_addr from;
        char buf[64];
        ssize_t n;
        atomic_int *started;
        bool finished;
};

static int stuck_recv_fn(struct task_cx *cx, void *arg)
{
        struct stuck_recv *f = arg;

        TASK_BEGIN(f);
        atomic_fetch_add(f->started, 1);
        TASK_UDP_RECV_FROM(f, f->u, &f->op, f->buf, sizeof f->buf, &f->from,
                           &f->n);
        f->finished = true;
        TASK_END(f);
}

static void udp_abort(enum task_flavor flavor)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct task_udp_socket u = {0};
        struct task_addr a;
        long rounds = test_scaled(40, 10);
        enum { BATCH = 50 };
        task_handle *h[BATCH];
        atomic_int started;

        cr_assert_eq(udp_bind_loopback(&u, AF_INET, &a), 0);
        for (long r = 0; r < rounds; r++) {
                atomic_init(&started, 0);
                for (int i = 0; i < BATCH; i++) {
                        struct stuck_recv f = {.u = &u, .started = &started};
                        cr_assert_eq(TASK_SPAWN(rt, stuck_recv_fn, &f, &h[i]),
                                     0);
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
                        cr_assert_not(
                            ((struct stuck_recv *)task_handle_frame(h[i]))
                                ->finished);
                        task_handle_release(h[i]);
                }
        }
        task_udp_close(&u);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

Test(udp, abort_recv_in_flight_multi_thread, .timeout = 60)
{
        udp_abort(TASK_MULTI_THREAD);
}

Test(udp, abort_recv_in_flight_current_thread, .timeout = 60)
{
        udp_abort(TASK_CURRENT_THREAD);
}

Test(udp, close_wakes_a_recv_in_flight, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct task_udp_socket u = {0};
        struct task_addr a;
        atomic_int started;
        task_handle *h;

        atomic_init(&started, 0);
        cr_assert_eq(udp_bind_loopback(&u, AF_INET, &a), 0);
        struct stuck_recv f = {.u = &u, .started = &started, .n = 99};
        cr_assert_eq(TASK_SPAWN(rt, stuck_recv_fn, &f, &h), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&started) == 1, 5000));
        sleep_ms(20);
        cr_assert_eq(task_udp_close(&u), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        ssize_t n = ((struct stuck_recv *)task_handle_frame(h))->n;
        cr_assert(n == 0 || n == -EBADF, "recv: %zd", n);
        task_handle_release(h);
        cr_assert_eq(task_udp_close(&u), -EBADF);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}

/* ---- Raw descriptors and bad input ---------------------------------------- */

struct udp_bad {
        TASK_FRAME;
        struct task_udp_socket u;
        struct task_io io;
        struct task_net_op op;
        struct task_addr a;
        char buf[8];
        ssize_t n[7];
};

static int udp_bad_fn(struct task_cx *cx, void *arg)
{
        struct udp_bad *f = arg;

        TASK_BEGIN(f);
        TASK_UDP_SEND(f, NULL, &f->io, f->buf, 1, &f->n[0]);
        TASK_UDP_RECV(f, &f->u, NULL, f->buf, 1, &f->n[1]);
        TASK_UDP_SEND_TO(f, &f->u, &f->op, f->buf, 1, NULL, &f->n[2]);
        TASK_UDP_RECV_FROM(f, &f->u, NULL, f->buf, 1, NULL, &f->n[3]);
        TASK_UDP_RECV_FROM(f, &f->u, &f->op, NULL, 1, NULL, &f->n[4]);
        /* A closed (zeroed) socket. */
        TASK_UDP_SEND(f, &f->u, &f->io, f->buf, 1, &f->n[5]);
        task_addr_parse(&f->a, "127.0.0.1:9");
        TASK_UDP_SEND_TO(f, &f->u, &f->op, f->buf, 1, &f->a, &f->n[6]);
        TASK_END(f);
}

Test(udp, bad_input_and_raw_descriptors, .timeout = 30)
{
        int fds = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        struct udp_bad f = {0};
        struct task_udp_socket u = {0};
        struct task_addr a;
        int fd;

        cr_assert_eq(task_block_on(rt, udp_bad_fn, &f, sizeof f), 0);
        for (int i = 0; i < 5; i++)
                cr_assert_eq(f.n[i], -EINVAL, "n[%d] = %zd", i, f.n[i]);
        cr_assert_eq(f.n[5], -EBADF);
        cr_assert_eq(f.n[6], -EBADF);
        cr_assert_eq(task_udp_bind(NULL, &a, NULL), -EINVAL);
        cr_assert_eq(task_addr_unix(&a, "@u"), 0);
        cr_assert_eq(task_udp_bind(&u, &a, NULL), -EINVAL);
        cr_assert_eq(task_udp_connect(&u, &a), -EBADF);
        cr_assert_eq(task_udp_connect(&u, NULL), -EINVAL);
        cr_assert_eq(task_udp_close(NULL), -EINVAL);
        cr_assert_eq(udp_bind_loopback(&u, AF_INET, &a), 0);
        fd = task_udp_into_fd(&u);
        cr_assert_geq(fd, 0);
        cr_assert_eq(task_udp_fd(&u), -EBADF);
        cr_assert_eq(task_udp_from_fd(&u, fd), 0);
        cr_assert_eq(task_udp_fd(&u), fd);
        int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct task_udp_socket v = {0};
        cr_assert_eq(task_udp_from_fd(&v, tcp), -EINVAL);
        close(tcp);
        struct task_bind_opts o = {.broadcast = true, .reuseport = true};
        struct task_udp_socket w = {0};
        cr_assert_eq(task_addr_any(&a, AF_INET, 0), 0);
        cr_assert_eq(task_udp_bind(&w, &a, &o), 0);
        task_udp_close(&w);
        task_udp_close(&u);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds, "descriptors leaked");
}
