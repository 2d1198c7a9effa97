/*
 * libtask/tcp.h - TCP: listeners (bind) and connections (connect), and
 * TCP's own socket options.  Tokio's TcpListener::bind and
 * TcpStream::connect; the reading, writing and accepting are the byte
 * stream calls of libtask/stream.h, shared with Unix sockets.
 *
 *     struct task_listener l = {0};
 *     struct task_addr a;
 *     task_addr_parse(&a, "127.0.0.1:0");
 *     task_tcp_bind(&l, &a, NULL);            // SO_REUSEADDR, backlog 1024
 *     task_listener_local_addr(&l, &a);       // the port the kernel chose
 *     ...
 *     TASK_LISTENER_ACCEPT(f, &l, &f->io, &f->conn, &f->peer, &f->rc);
 *
 *     TASK_TCP_CONNECT(f, &addr, 2000000000, &f->op, &f->s, &f->rc);
 *     if (f->rc == -ETIMEDOUT) ...
 */
#ifndef LIBTASK_TCP_H
#define LIBTASK_TCP_H

#include <libtask/addr.h>
#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/sock.h>
#include <libtask/stream.h>

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * task_tcp_bind - a TCP listener on @a (IPv4 or IPv6; port 0 lets the
 * kernel choose) into *@l, owned by the caller (task_listener_close()).
 * @opts: NULL or a zeroed struct for the defaults (SO_REUSEADDR on,
 * backlog 1024).  Returns 0; -EINVAL (NULL, not an IP address);
 * -EADDRINUSE; -EACCES (a privileged port); -EMFILE; -ENOMEM.  On failure
 * *@l is left empty and nothing is open.
 */
TASK_API int task_tcp_bind(struct task_listener *l, const struct task_addr *a,
                           const struct task_bind_opts *opts);

/*
 * task_tcp_connect_poll - connect to @a.  @timeout_ns: 0 for none, else
 * the limit for the whole handshake (an IORING_OP_LINK_TIMEOUT linked to
 * the connect).  True when done, with *@rc 0 and the connection in *@out
 * (owned by the caller; overwritten, not closed), or -errno:
 * -ECONNREFUSED (nobody listens), -ETIMEDOUT (the timeout, or the
 * kernel's own SYN retries gave up), -ENETUNREACH / -EHOSTUNREACH,
 * -EINVAL (NULL, not an IP address), -EMFILE.  @a is copied into @op at
 * the start: it may be a temporary.  Cancelling abandons the attempt and
 * closes its socket (cancellation-safe: nothing is left behind).
 */
TASK_API bool task_tcp_connect_poll(struct task_cx *cx,
                                    const struct task_addr *a,
                                    uint64_t timeout_ns, struct task_net_op *op,
                                    struct task_stream *out, int *rc);
#define TASK_TCP_CONNECT(f, a, timeout_ns, op, out, rcp)                       \
        TASK_AWAIT(f, task_tcp_connect_poll((cx), (a), (timeout_ns), (op),     \
                                            (out), (rcp)))

/*
 * task_tcp_set_nodelay - TCP_NODELAY on or off (off: Nagle's algorithm
 * may hold small writes back up to 40 ms waiting for an ACK; a
 * request/response server wants it on).  Returns 0, -EBADF, -EINVAL,
 * -EOPNOTSUPP (not a TCP stream).
 */
TASK_API int task_tcp_set_nodelay(struct task_stream *s, bool on);

/* TCP_NODELAY: 1 (on), 0 (off), or -errno as above. */
TASK_API int task_tcp_nodelay(const struct task_stream *s);

/*
 * task_tcp_set_keepalive - SO_KEEPALIVE on or off; when on, probes start
 * after @idle_s seconds idle, every @interval_s seconds, and the
 * connection is dropped (reads fail with -ETIMEDOUT) after @count
 * unanswered ones.  A zero leaves that parameter at the system default.
 * Returns 0, -EBADF, -EINVAL, -EOPNOTSUPP.
 */
TASK_API int task_tcp_set_keepalive(struct task_stream *s, bool on,
                                    unsigned idle_s, unsigned interval_s,
                                    unsigned count);

/*
 * task_tcp_set_linger - SO_LINGER: @seconds < 0 turns it off (the
 * default: close returns at once and the kernel sends what is left);
 * 0 makes close reset the connection (the peer sees -ECONNRESET).
 * Returns 0, -EBADF, -EINVAL.
 */
TASK_API int task_tcp_set_linger(struct task_stream *s, int seconds);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_TCP_H */
