/*
 * sock.c - what TCP, Unix and UDP sockets share: creating, binding,
 * adopting and closing sockets, addresses, and the three shapes of socket
 * operation on the worker's io_uring (connect, one send/recv, one
 * sendmsg/recvmsg).
 *
 * Handles.  struct task_stream, task_listener and task_udp_socket hold
 * the socket plus one (sfd), so that a zeroed handle holds nothing and a
 * stray close of a zeroed frame never closes fd 0.
 *
 * Sockets are created blocking: io_uring tries a socket operation
 * without blocking and, when it would block, arms its own poll and
 * retries on readiness, so O_NONBLOCK buys nothing (and an adopted
 * socket is made blocking, so that no completion is a bare -EAGAIN).
 *
 * Operations follow the pattern of io/io-priv.h: task__io_begin, then on
 * START one SQE (two for a connect with a timeout), task__io_arm.  A
 * connect owns a socket while in flight (op->fd) and an accept's result
 * is a socket: whoever sees the op finish -- the poll that returns the
 * result, or the cancelling look that consumes the completion after the
 * cancel (task__io_cancel_look, io/cancel-priv.h) -- hands it to the
 * caller or closes it.  A connect with a timeout links
 * an IORING_OP_LINK_TIMEOUT to the connect SQE: the two must go to the
 * kernel in one submission (a link never spans two), so both SQEs are
 * taken while the submission queue has room for both.
 */
#include "sock-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(sizeof(struct task_net_timespec) ==
                   sizeof(struct __kernel_timespec),
               "task_net_timespec must match __kernel_timespec");

int task__sock_open(int family, int type)
{
        int fd = socket(family, type | SOCK_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
}

static int set_int(int fd, int level, int name, int v)
{
        return setsockopt(fd, level, name, &v, sizeof(v)) ? -errno : 0;
}

int task__sock_bind(const struct task_addr *a, int type,
                    const struct task_bind_opts *opts)
{
        static const struct task_bind_opts defaults;
        int family = a->ss.ss_family;
        int fd, rc = 0;

        if (!opts)
                opts = &defaults;
        if (opts->backlog < 0)
                return -EINVAL;
        fd = task__sock_open(family, type);
        if (fd < 0)
                return fd;
        if (family != AF_UNIX) {
                if (type == SOCK_STREAM && !opts->no_reuseaddr)
                        rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
                if (!rc && opts->reuseport)
                        rc = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
                if (!rc && family == AF_INET6)
                        rc = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY,
                                     opts->v6only);
                if (!rc && type == SOCK_DGRAM && opts->broadcast)
                        rc = set_int(fd, SOL_SOCKET, SO_BROADCAST, 1);
                if (rc)
                        goto out_close;
        }
        if (bind(fd, task_addr_sockaddr(a), a->len)) {
                rc = -errno;
                goto out_close;
        }
        if (type == SOCK_STREAM &&
            listen(fd, opts->backlog > 0 ? opts->backlog : 1024)) {
                rc = -errno;
                goto out_close;
        }
        return fd;

out_close:
        close(fd);
        return rc;
}

int task__sock_adopt(int fd, int type)
{
        int t = 0, fl;
        socklen_t len = sizeof(t);

        if (fd < 0)
                return -EINVAL;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len))
                return -errno;
        if (t != type)
                return -EINVAL;
        fl = fcntl(fd, F_GETFL);
        if (fl < 0)
                return -errno;
        if ((fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK))
                return -errno;
        return 0;
}

int task__sock_name(const _Atomic int *sfd, bool peer, struct task_addr *a)
{
        int fd = task__sfd_get(sfd);

        if (!a)
                return -EINVAL;
        memset(a, 0, sizeof(*a));
        if (fd < 0)
                return fd;
        a->len = sizeof(a->ss);
        if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&a->ss,
                                               &a->len)) {
                int rc = -errno;
                memset(a, 0, sizeof(*a));
                return rc;
        }
        return 0;
}

int task__sock_close(_Atomic int *sfd, int how)
{
        int fd = task__sfd_take(sfd);

        if (fd < 0)
                return fd;
        /* Wake what other tasks still wait for on this socket: their
         * operations hold a reference to the file, so close alone would
         * leave them (and the socket) hanging. */
        if (how >= 0)
                (void)shutdown(fd, how);
        /* An SQE this worker queued on @fd but has not submitted yet would
         * be issued after the close, against whatever socket or file gets
         * the number next: submit it now, so it takes its reference to
         * this socket and sees the shutdown.  (One queued on another
         * worker's ring is not reached: see stream.h.) */
        task__io_flush_current();
        /* Linux closes the descriptor even when close reports EINTR or
         * EIO: never retry. */
        if (close(fd) && errno != EINTR)
                return -errno;
        return 0;
}

int task__sock_release(_Atomic int *sfd)
{
        return task__sfd_take(sfd);
}

/* ---- Connect ---------------------------------------------------------------- */

bool task__sock_connect_poll(struct task_cx *cx, const struct task_addr *a,
                             bool unix_family, uint64_t timeout_ns,
                             struct task_net_op *op, _Atomic int *sfd_out,
                             int *rc)
{
        struct io_uring_sqe *sqe, *tsqe = NULL;
        int32_t res;
        int fd, family;

        if (!op || !sfd_out || !rc || !a) {
                if (cx->cancelling)
                        return false;
                if (rc)
                        *rc = -EINVAL;
                return true;
        }
        if (cx->cancelling) {
                /* Cancelled (or completed in the race): the socket goes. */
                if (task__io_cancel_look(cx, &op->io, &res)) {
                        close(op->fd);
                        op->fd = -1;
                }
                return false;
        }
        switch (task__io_begin(cx, &op->io, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                fd = op->fd;
                op->fd = -1;
                if (res == 0) {
                        task__sfd_set(sfd_out, fd);
                        *rc = 0;
                        return true;
                }
                close(fd);
                /* The linked timeout fired and cancelled the connect (an
                 * abort never gets here: it takes the WAIT path). */
                *rc = (res == -ECANCELED && timeout_ns) ? -ETIMEDOUT : res;
                return true;
        }
        family = a->ss.ss_family;
        if (unix_family ? family != AF_UNIX
                        : (family != AF_INET && family != AF_INET6)) {
                *rc = -EINVAL;
                return true;
        }
        if (timeout_ns) {
                res = task__io_reserve(cx, 2);
                if (res) {
                        *rc = res;
                        return true;
                }
        }
        fd = task__sock_open(family, SOCK_STREAM);
        if (fd < 0) {
                *rc = fd;
                return true;
        }
        sqe = task__io_sqe(cx, &res);
        if (sqe && timeout_ns)
                tsqe = task__io_sqe(cx, &res);
        if (!sqe || (timeout_ns && !tsqe)) {
                /* Off a worker (shutdown): nothing was prepared. */
                close(fd);
                *rc = res;
                return true;
        }
        op->addr = *a;
        op->fd = fd;
        io_uring_prep_connect(sqe, fd, (struct sockaddr *)&op->addr.ss,
                              op->addr.len);
        if (tsqe) {
                uint64_t t = timeout_ns;
                op->ts.tv_sec = (int64_t)(t / 1000000000u);
                op->ts.tv_nsec = (int64_t)(t % 1000000000u);
                sqe->flags |= IOSQE_IO_LINK;
                io_uring_prep_link_timeout(
                    tsqe, (struct __kernel_timespec *)&op->ts, 0);
                io_uring_sqe_set_data64(tsqe, 0);
        }
        task__io_arm(cx, &op->io, sqe);
        return false;
}

/* ---- One send or recv ------------------------------------------------------- */

/*
 * The send fast path: a socket with room in its send buffer takes the
 * bytes at once, so one non-blocking send(2) replaces an SQE, a completion
 * and a suspension of the task (measured on the echo benchmark: a third
 * less CPU per message).  True when it finished the call (*@n = bytes
 * sent, or the error); false when the socket is full (EAGAIN) or the
 * task's cooperative budget is spent: then go through the ring, which
 * waits for room.  Nothing is in flight either way, so nothing to cancel.
 */
bool task__sock_send_now(struct task_cx *cx, int fd, const void *buf,
                         size_t len, ssize_t *n)
{
        /* Budget spent: the ring path suspends the task, which is what
         * the budget asks for (no yield flag needed). */
        if (cx->budget <= 0)
                return false;
        cx->budget--;
        ssize_t r =
            send(fd, buf, task__io_len(len), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0 &&
            (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return false;
        *n = r < 0 ? -errno : r;
        return true;
}

bool task__sock_xfer_poll(struct task_cx *cx, const _Atomic int *sfd,
                          struct task_io *op, void *buf, size_t len, bool send,
                          ssize_t *n)
{
        struct io_uring_sqe *sqe;
        int32_t res;
        int fd;

        if (!op || !n || (!buf && len)) {
                if (cx->cancelling)
                        return false;
                if (n)
                        *n = -EINVAL;
                return true;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                *n = res;
                return true;
        }
        fd = task__sfd_get(sfd);
        if (fd < 0) {
                *n = fd;
                return true;
        }
        if (send && task__sock_send_now(cx, fd, buf, len, n))
                return true;
        sqe = task__io_sqe(cx, &res);
        if (!sqe) {
                *n = res;
                return true;
        }
        if (send)
                io_uring_prep_send(sqe, fd, buf, task__io_len(len),
                                   MSG_NOSIGNAL);
        else
                io_uring_prep_recv(sqe, fd, buf, task__io_len(len), 0);
        task__io_arm(cx, op, sqe);
        return false;
}

/* ---- One sendmsg or recvmsg ------------------------------------------------- */

bool task__sock_msg_poll(struct task_cx *cx, const _Atomic int *sfd,
                         struct task_net_op *op, bool send,
                         void (*start)(struct task_net_op *, void *), void *arg,
                         ssize_t *n)
{
        struct io_uring_sqe *sqe;
        int32_t res;
        int fd;

        switch (task__io_begin(cx, &op->io, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                *n = res;
                return true;
        }
        fd = task__sfd_get(sfd);
        if (fd < 0) {
                *n = fd;
                return true;
        }
        sqe = task__io_sqe(cx, &res);
        if (!sqe) {
                *n = res;
                return true;
        }
        memset(&op->msg, 0, sizeof(op->msg));
        start(op, arg);
        if (send)
                io_uring_prep_sendmsg(sqe, fd, &op->msg, MSG_NOSIGNAL);
        else
                io_uring_prep_recvmsg(sqe, fd, &op->msg, 0);
        task__io_arm(cx, &op->io, sqe);
        return false;
}
