/*
 * libtask/udp.h - UDP sockets.  Tokio's UdpSocket: bind, connect (fix the
 * peer), send/recv on a connected socket, send_to/recv_from on any.
 *
 *     struct task_udp_socket u = {0};
 *     task_udp_bind(&u, &addr, NULL);
 *     ...
 *     TASK_UDP_RECV_FROM(f, &u, &f->op, f->buf, sizeof f->buf, &f->from,
 *                        &f->n);
 *     TASK_UDP_SEND_TO(f, &u, &f->op, f->buf, f->n, &f->from, &f->n);
 *
 * Ownership as for streams (libtask/stream.h): the caller allocates the
 * struct (zeroed: no socket) and owns the socket in it until
 * task_udp_close() or task_udp_into_fd().  Several tasks may send and
 * receive on one socket at once, each with its own operation struct.
 *
 * A datagram longer than the receive buffer is truncated to it (the rest
 * is dropped, as with recv(2)).  Errors: -errno from the kernel
 * (-ECONNREFUSED on a connected socket after an ICMP port unreachable,
 * -EMSGSIZE, -EDESTADDRREQ: send on an unconnected socket), -EBADF
 * (closed), -EINVAL (NULL).  Sends never raise SIGPIPE.
 *
 * Cancellation: a datagram received in the race with the cancel is lost;
 * one sent stays sent.  Neither is cancellation-safe in Tokio's sense.
 */
#ifndef LIBTASK_UDP_H
#define LIBTASK_UDP_H

#include <libtask/addr.h>
#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/io.h>
#include <libtask/sock.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A UDP socket.  @sfd: the socket plus one (a zeroed struct holds none). */
struct task_udp_socket {
        _Atomic int sfd;
};

/*
 * task_udp_bind - a UDP socket bound to @a (port 0: any) into *@u.
 * @opts: NULL or zeroed for defaults (no SO_REUSEADDR for UDP unless
 * asked: reuseport, broadcast, v6only apply).  Returns 0; -EINVAL;
 * -EADDRINUSE; -EACCES; -EMFILE.  On failure *@u is left empty.
 */
TASK_API int task_udp_bind(struct task_udp_socket *u, const struct task_addr *a,
                           const struct task_bind_opts *opts);

/*
 * task_udp_connect - fix the peer: send/recv then talk to @a only (and
 * datagrams from elsewhere are dropped).  Does not suspend.  Returns 0,
 * -EINVAL, -EBADF, -EAFNOSUPPORT (family differs from the socket's).
 */
TASK_API int task_udp_connect(struct task_udp_socket *u,
                              const struct task_addr *a);

/* send on a connected socket: *@n bytes sent (the whole datagram) or -errno. */
TASK_API bool task_udp_send_poll(struct task_cx *cx, struct task_udp_socket *u,
                                 struct task_io *op, const void *buf,
                                 size_t len, ssize_t *n);
#define TASK_UDP_SEND(f, u, op, buf, len, np)                                  \
        TASK_AWAIT(f, task_udp_send_poll((cx), (u), (op), (buf), (len), (np)))

/* recv one datagram: *@n its length (truncated to @len) or -errno. */
TASK_API bool task_udp_recv_poll(struct task_cx *cx, struct task_udp_socket *u,
                                 struct task_io *op, void *buf, size_t len,
                                 ssize_t *n);
#define TASK_UDP_RECV(f, u, op, buf, len, np)                                  \
        TASK_AWAIT(f, task_udp_recv_poll((cx), (u), (op), (buf), (len), (np)))

/*
 * send_to: one datagram to @to (copied into @op at the start: it may be a
 * temporary).  *@n: bytes sent, or -errno.
 */
TASK_API bool task_udp_send_to_poll(struct task_cx *cx,
                                    struct task_udp_socket *u,
                                    struct task_net_op *op, const void *buf,
                                    size_t len, const struct task_addr *to,
                                    ssize_t *n);
#define TASK_UDP_SEND_TO(f, u, op, buf, len, to, np)                           \
        TASK_AWAIT(f, task_udp_send_to_poll((cx), (u), (op), (buf), (len),     \
                                            (to), (np)))

/*
 * recv_from: one datagram and its source, written to *@from (may be
 * NULL) when the call returns true.  *@n: its length or -errno.
 */
TASK_API bool task_udp_recv_from_poll(struct task_cx *cx,
                                      struct task_udp_socket *u,
                                      struct task_net_op *op, void *buf,
                                      size_t len, struct task_addr *from,
                                      ssize_t *n);
#define TASK_UDP_RECV_FROM(f, u, op, buf, len, from, np)                       \
        TASK_AWAIT(f, task_udp_recv_from_poll((cx), (u), (op), (buf), (len),   \
                                              (from), (np)))

/* Local / connected peer address.  Returns 0, -EBADF, -ENOTCONN, -EINVAL. */
TASK_API int task_udp_local_addr(const struct task_udp_socket *u,
                                 struct task_addr *a);
TASK_API int task_udp_peer_addr(const struct task_udp_socket *u,
                                struct task_addr *a);

/*
 * task_udp_close - close the socket; receives other tasks have in flight
 * on it finish with 0.  Returns 0, -EBADF, -EINVAL.
 */
TASK_API int task_udp_close(struct task_udp_socket *u);

/* Take ownership of a SOCK_DGRAM socket / give it back (as for streams). */
TASK_API int task_udp_from_fd(struct task_udp_socket *u, int fd);
TASK_API int task_udp_into_fd(struct task_udp_socket *u);
TASK_API int task_udp_fd(const struct task_udp_socket *u);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_UDP_H */
