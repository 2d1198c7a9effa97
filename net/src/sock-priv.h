/*
 * sock-priv.h - what the socket modules share (sock.c): the "fd + 1"
 * handle convention, socket creation and binding, the connect operation,
 * and the single-SQE send/recv operation.  Never installed.
 */
#ifndef LIBTASK_NET_SOCK_PRIV_H
#define LIBTASK_NET_SOCK_PRIV_H

#include "io/cancel-priv.h"
#include "io/io-priv.h"

#include <libtask/addr.h>
#include <libtask/sock.h>
#include <libtask/stream.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Handles store the socket plus one, so that zero means "none".  The
 * field is atomic because one task may close a handle while another
 * starts an operation on it (the close then wakes that operation, or the
 * operation finds -EBADF).  Relaxed: the number is all that passes
 * between them; everything about the socket itself is ordered by the
 * kernel.
 */
static inline int task__sfd_get(const _Atomic int *sfd)
{
        int v = atomic_load_explicit((_Atomic int *)sfd, memory_order_relaxed);
        return v > 0 ? v - 1 : -EBADF;
}

/* Store @fd (-1: none) in a handle. */
static inline void task__sfd_set(_Atomic int *sfd, int fd)
{
        atomic_store_explicit(sfd, fd + 1, memory_order_relaxed);
}

/* Take the socket out of a handle (once, even if two threads race). */
static inline int task__sfd_take(_Atomic int *sfd)
{
        int v = atomic_exchange_explicit(sfd, 0, memory_order_relaxed);
        return v > 0 ? v - 1 : -EBADF;
}

_Static_assert(TASK_STREAM_MAX_IO == TASK__IO_MAX, "one transfer cap");

/* A socket of @family/@type, close-on-exec.  The fd or -errno. */
int task__sock_open(int family, int type);

/*
 * Open a socket of @type for @a, apply @opts, bind it and, for a
 * SOCK_STREAM, listen.  The fd or -errno (nothing left open).
 */
int task__sock_bind(const struct task_addr *a, int type,
                    const struct task_bind_opts *opts);

/* Take @fd as a socket of @type (-EINVAL if not), made blocking. */
int task__sock_adopt(int fd, int type);

/* getsockname / getpeername of the handle @sfd into @a. */
int task__sock_name(const _Atomic int *sfd, bool peer, struct task_addr *a);

/*
 * Shut down (@how: SHUT_*, or -1 for no shutdown) and close the handle
 * *@sfd; leave it empty.
 */
int task__sock_close(_Atomic int *sfd, int how);

/* Give the socket away: its fd, the handle left empty. */
int task__sock_release(_Atomic int *sfd);

/*
 * The connect operation for TCP and Unix streams: @unix_family tells which
 * address families the caller takes (AF_UNIX, or AF_INET and AF_INET6).  On success *@sfd_out is the new
 * handle.
 */
bool task__sock_connect_poll(struct task_cx *cx, const struct task_addr *a,
                             bool unix_family, uint64_t timeout_ns,
                             struct task_net_op *op, _Atomic int *sfd_out,
                             int *rc);

/*
 * One send (@send: with MSG_NOSIGNAL) or recv on handle @sfd: the
 * read/write of streams and the send/recv of connected UDP sockets.
 */
/* A non-blocking send(2) first (sock.c): true when it finished the call. */
bool task__sock_send_now(struct task_cx *cx, int fd, const void *buf,
                         size_t len, ssize_t *n);

bool task__sock_xfer_poll(struct task_cx *cx, const _Atomic int *sfd,
                          struct task_io *op, void *buf, size_t len, bool send,
                          ssize_t *n);

/*
 * One sendmsg (@send) or recvmsg on handle @sfd with the header in @op:
 * when the operation starts, @op->msg is zeroed and @start(@op, @arg)
 * fills in its name and iovec.  @op and @n must not be NULL.
 */
bool task__sock_msg_poll(struct task_cx *cx, const _Atomic int *sfd,
                         struct task_net_op *op, bool send,
                         void (*start)(struct task_net_op *, void *), void *arg,
                         ssize_t *n);

#endif /* LIBTASK_NET_SOCK_PRIV_H */
