/*
 * stream.c - byte streams and listeners (libtask/stream.h): the calls TCP
 * and Unix connections share, since both are a SOCK_STREAM socket.
 *
 * read and write are one recv/send each (sock.c).  read_exact and
 * write_all loop in their poll function, keeping the count moved so far
 * in op->aux (reset when the operation starts); each round is one SQE
 * with MSG_WAITALL, so the kernel itself retries a short transfer and the
 * loop turns only on an interruption, an error or end of stream.
 *
 * accept's result is a socket: a cancelling look that consumes the
 * completion (the cancel lost the race) closes it.
 */
#include "sock-priv.h"

#include <libtask/stream.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- Owning the socket ------------------------------------------------------ */

int task_stream_from_fd(struct task_stream *s, int fd)
{
        int rc;

        if (!s)
                return -EINVAL;
        rc = task__sock_adopt(fd, SOCK_STREAM);
        if (rc)
                return rc;
        task__sfd_set(&s->sfd, fd);
        return 0;
}

int task_stream_into_fd(struct task_stream *s)
{
        return s ? task__sock_release(&s->sfd) : -EINVAL;
}

int task_stream_fd(const struct task_stream *s)
{
        return s ? task__sfd_get(&s->sfd) : -EINVAL;
}

int task_stream_close(struct task_stream *s)
{
        /* SHUT_RD, not RDWR: it wakes readers elsewhere without sending a
         * FIN first, so that an abortive close (SO_LINGER 0) still resets
         * the connection and a plain one still sends its FIN on close. */
        return s ? task__sock_close(&s->sfd, SHUT_RD) : -EINVAL;
}

int task_stream_shutdown(struct task_stream *s, enum task_shutdown how)
{
        int fd;

        if (!s || (how != TASK_SHUT_RD && how != TASK_SHUT_WR &&
                   how != TASK_SHUT_RDWR))
                return -EINVAL;
        fd = task__sfd_get(&s->sfd);
        if (fd < 0)
                return fd;
        return shutdown(fd, (int)how) ? -errno : 0;
}

int task_stream_local_addr(const struct task_stream *s, struct task_addr *a)
{
        return s ? task__sock_name(&s->sfd, false, a) : -EINVAL;
}

int task_stream_peer_addr(const struct task_stream *s, struct task_addr *a)
{
        return s ? task__sock_name(&s->sfd, true, a) : -EINVAL;
}

/* ---- Reading and writing ---------------------------------------------------- */

bool task_stream_read_poll(struct task_cx *cx, struct task_stream *s,
                           struct task_io *op, void *buf, size_t len,
                           ssize_t *n)
{
        if (!s) {
                if (cx->cancelling)
                        return false;
                if (n)
                        *n = -EINVAL;
                return true;
        }
        /* A zero-length read never reaches the kernel (nor is in flight). */
        if (len == 0 && op && n && !cx->cancelling && !task_io_pending(op)) {
                *n = 0;
                return true;
        }
        return task__sock_xfer_poll(cx, &s->sfd, op, buf, len, false, n);
}

bool task_stream_write_poll(struct task_cx *cx, struct task_stream *s,
                            struct task_io *op, const void *buf, size_t len,
                            ssize_t *n)
{
        if (!s) {
                if (cx->cancelling)
                        return false;
                if (n)
                        *n = -EINVAL;
                return true;
        }
        return task__sock_xfer_poll(cx, &s->sfd, op, (void *)buf, len, true, n);
}

/* read_exact (@send false) and write_all: the loop of the module head. */
static bool xfer_all(struct task_cx *cx, struct task_stream *s,
                     struct task_io *op, void *buf, size_t len, bool send,
                     int *rc)
{
        struct io_uring_sqe *sqe;
        int32_t res;
        int fd;

        if (!s || !op || !rc || (!buf && len) || len > UINT32_MAX) {
                if (cx->cancelling)
                        return false;
                if (rc)
                        *rc = -EINVAL;
                return true;
        }
        if (cx->cancelling) {
                /* MSG_WAITALL: a cancelled transfer's completion carries
                 * the bytes it moved before the cancel; count them, so
                 * that task_stream_progress() tells the truth. */
                if (task__io_cancel_look(cx, op, &res) && res > 0)
                        op->aux += (uint32_t)res;
                return false;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_START:
                op->aux = 0;
                break;
        case TASK__IO_READY:
                if (res < 0) {
                        *rc = res;
                        return true;
                }
                if (res == 0) {
                        /* End of stream before @len bytes (a send never
                         * returns 0 for a non-empty buffer; if one did,
                         * looping would spin). */
                        *rc = -EPIPE;
                        return true;
                }
                op->aux += (uint32_t)res;
                break;
        }
        if (op->aux == len) {
                *rc = 0;
                return true;
        }
        fd = task__sfd_get(&s->sfd);
        if (fd < 0) {
                *rc = fd;
                return true;
        }
        char *p = (char *)buf + op->aux;
        unsigned chunk = task__io_len(len - op->aux);
        if (send) {
                /* Whatever fits in the socket now goes at once (sock.c);
                 * the ring waits for room for the rest. */
                ssize_t sent;
                while (op->aux < len &&
                       task__sock_send_now(cx, fd, p, len - op->aux, &sent)) {
                        if (sent <= 0) {
                                *rc = sent < 0 ? (int)sent : -EPIPE;
                                return true;
                        }
                        op->aux += (uint32_t)sent;
                        p += sent;
                }
                if (op->aux == len) {
                        *rc = 0;
                        return true;
                }
                chunk = task__io_len(len - op->aux);
        }
        sqe = task__io_sqe(cx, &res);
        if (!sqe) {
                *rc = res;
                return true;
        }
        if (send)
                io_uring_prep_send(sqe, fd, p, chunk,
                                   MSG_NOSIGNAL | MSG_WAITALL);
        else
                io_uring_prep_recv(sqe, fd, p, chunk, MSG_WAITALL);
        task__io_arm(cx, op, sqe);
        return false;
}

bool task_stream_read_exact_poll(struct task_cx *cx, struct task_stream *s,
                                 struct task_io *op, void *buf, size_t len,
                                 int *rc)
{
        return xfer_all(cx, s, op, buf, len, false, rc);
}

bool task_stream_write_all_poll(struct task_cx *cx, struct task_stream *s,
                                struct task_io *op, const void *buf, size_t len,
                                int *rc)
{
        return xfer_all(cx, s, op, (void *)buf, len, true, rc);
}

struct writev_args {
        const struct iovec *iov;
        int iovcnt;
};

static void writev_start(struct task_net_op *op, void *arg)
{
        struct writev_args *w = arg;

        op->msg.msg_iov = (struct iovec *)w->iov;
        op->msg.msg_iovlen = (size_t)w->iovcnt;
}

bool task_stream_writev_poll(struct task_cx *cx, struct task_stream *s,
                             struct task_net_op *op, const struct iovec *iov,
                             int iovcnt, ssize_t *n)
{
        struct writev_args w = {iov, iovcnt};

        if (!s || !op || !n || !iov || iovcnt < 1 || iovcnt > IOV_MAX) {
                if (cx->cancelling)
                        return false;
                if (n)
                        *n = -EINVAL;
                return true;
        }
        return task__sock_msg_poll(cx, &s->sfd, op, true, writev_start, &w, n);
}

/* ---- Listeners -------------------------------------------------------------- */

bool task_listener_accept_poll(struct task_cx *cx, struct task_listener *l,
                               struct task_io *op, struct task_stream *out,
                               struct task_addr *peer, int *rc)
{
        struct io_uring_sqe *sqe;
        int32_t res;
        int fd;

        if (!l || !op || !out || !rc) {
                if (cx->cancelling)
                        return false;
                if (rc)
                        *rc = -EINVAL;
                return true;
        }
        if (cx->cancelling) {
                /* A connection accepted in the race with the cancel. */
                if (task__io_cancel_look(cx, op, &res) && res >= 0)
                        close(res);
                return false;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                if (res < 0) {
                        *rc = res;
                        return true;
                }
                task__sfd_set(&out->sfd, res);
                *rc = 0;
                return true;
        }
        fd = task__sfd_get(&l->sfd);
        if (fd < 0) {
                *rc = fd;
                return true;
        }
        sqe = task__io_sqe(cx, &res);
        if (!sqe) {
                *rc = res;
                return true;
        }
        if (peer) {
                memset(peer, 0, sizeof(*peer));
                peer->len = sizeof(peer->ss);
        }
        io_uring_prep_accept(sqe, fd,
                             peer ? (struct sockaddr *)&peer->ss : NULL,
                             peer ? &peer->len : NULL, SOCK_CLOEXEC);
        task__io_arm(cx, op, sqe);
        return false;
}

int task_listener_local_addr(const struct task_listener *l, struct task_addr *a)
{
        return l ? task__sock_name(&l->sfd, false, a) : -EINVAL;
}

int task_listener_close(struct task_listener *l)
{
        /* shutdown() on a listening socket stops it and wakes accepts in
         * flight (they fail with -EINVAL). */
        return l ? task__sock_close(&l->sfd, SHUT_RDWR) : -EINVAL;
}

int task_listener_from_fd(struct task_listener *l, int fd)
{
        int rc, on = 0;
        socklen_t len = sizeof(on);

        if (!l || fd < 0)
                return -EINVAL;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len))
                return -errno;
        if (!on)
                return -EINVAL;
        rc = task__sock_adopt(fd, SOCK_STREAM);
        if (rc)
                return rc;
        task__sfd_set(&l->sfd, fd);
        return 0;
}

int task_listener_into_fd(struct task_listener *l)
{
        return l ? task__sock_release(&l->sfd) : -EINVAL;
}

int task_listener_fd(const struct task_listener *l)
{
        return l ? task__sfd_get(&l->sfd) : -EINVAL;
}
