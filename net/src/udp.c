/*
 * udp.c - UDP sockets (libtask/udp.h).  send and recv on a connected
 * socket are one send/recv (sock.c); send_to and recv_from are one
 * sendmsg/recvmsg whose header and address live in the caller's
 * struct task_net_op, where the kernel reads and writes them while the
 * operation is in flight (recvmsg writes the source address and its
 * length at completion).
 */
#include "sock-priv.h"

#include <libtask/udp.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int task_udp_bind(struct task_udp_socket *u, const struct task_addr *a,
                  const struct task_bind_opts *opts)
{
        int fd;

        if (!u)
                return -EINVAL;
        task__sfd_set(&u->sfd, -1);
        if (!a || (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6))
                return -EINVAL;
        fd = task__sock_bind(a, SOCK_DGRAM, opts);
        if (fd < 0)
                return fd;
        task__sfd_set(&u->sfd, fd);
        return 0;
}

int task_udp_connect(struct task_udp_socket *u, const struct task_addr *a)
{
        int fd;

        if (!u || !a || a->len == 0)
                return -EINVAL;
        fd = task__sfd_get(&u->sfd);
        if (fd < 0)
                return fd;
        return connect(fd, task_addr_sockaddr(a), a->len) ? -errno : 0;
}

bool task_udp_send_poll(struct task_cx *cx, struct task_udp_socket *u,
                        struct task_io *op, const void *buf, size_t len,
                        ssize_t *n)
{
        if (!u) {
                if (cx->cancelling)
                        return false;
                if (n)
                        *n = -EINVAL;
                return true;
        }
        return task__sock_xfer_poll(cx, &u->sfd, op, (void *)buf, len, true, n);
}

bool task_udp_recv_poll(struct task_cx *cx, struct task_udp_socket *u,
                        struct task_io *op, void *buf, size_t len, ssize_t *n)
{
        if (!u) {
                if (cx->cancelling)
                        return false;
                if (n)
                        *n = -EINVAL;
                return true;
        }
        return task__sock_xfer_poll(cx, &u->sfd, op, buf, len, false, n);
}

struct msg_args {
        void *buf;
        size_t len;
        const struct task_addr *to; /* send_to; NULL for recv_from */
};

static void msg_start(struct task_net_op *op, void *arg)
{
        struct msg_args *m = arg;

        op->iov.iov_base = m->buf;
        op->iov.iov_len = task__io_len(m->len);
        op->msg.msg_iov = &op->iov;
        op->msg.msg_iovlen = 1;
        if (m->to) {
                op->addr = *m->to;
                op->msg.msg_namelen = op->addr.len;
        } else {
                memset(&op->addr, 0, sizeof(op->addr));
                op->msg.msg_namelen = sizeof(op->addr.ss);
        }
        op->msg.msg_name = &op->addr.ss;
}

bool task_udp_send_to_poll(struct task_cx *cx, struct task_udp_socket *u,
                           struct task_net_op *op, const void *buf, size_t len,
                           const struct task_addr *to, ssize_t *n)
{
        struct msg_args m = {(void *)buf, len, to};

        if (!u || !op || !n || !to || to->len == 0 || (!buf && len)) {
                if (cx->cancelling)
                        return false;
                if (n)
                        *n = -EINVAL;
                return true;
        }
        return task__sock_msg_poll(cx, &u->sfd, op, true, msg_start, &m, n);
}

bool task_udp_recv_from_poll(struct task_cx *cx, struct task_udp_socket *u,
                             struct task_net_op *op, void *buf, size_t len,
                             struct task_addr *from, ssize_t *n)
{
        struct msg_args m = {buf, len, NULL};

        if (!u || !op || !n || (!buf && len)) {
                if (cx->cancelling)
                        return false;
                if (n)
                        *n = -EINVAL;
                return true;
        }
        if (!task__sock_msg_poll(cx, &u->sfd, op, false, msg_start, &m, n))
                return false;
        if (from) {
                /* The kernel wrote the source and its length into op. */
                if (*n >= 0 && op->msg.msg_namelen <= sizeof(op->addr.ss)) {
                        *from = op->addr;
                        from->len = op->msg.msg_namelen;
                } else {
                        memset(from, 0, sizeof(*from));
                }
        }
        return true;
}

int task_udp_local_addr(const struct task_udp_socket *u, struct task_addr *a)
{
        return u ? task__sock_name(&u->sfd, false, a) : -EINVAL;
}

int task_udp_peer_addr(const struct task_udp_socket *u, struct task_addr *a)
{
        return u ? task__sock_name(&u->sfd, true, a) : -EINVAL;
}

int task_udp_close(struct task_udp_socket *u)
{
        /* shutdown(SHUT_RD) wakes receives in flight (they return 0). */
        return u ? task__sock_close(&u->sfd, SHUT_RD) : -EINVAL;
}

int task_udp_from_fd(struct task_udp_socket *u, int fd)
{
        int rc;

        if (!u)
                return -EINVAL;
        rc = task__sock_adopt(fd, SOCK_DGRAM);
        if (rc)
                return rc;
        task__sfd_set(&u->sfd, fd);
        return 0;
}

int task_udp_into_fd(struct task_udp_socket *u)
{
        return u ? task__sock_release(&u->sfd) : -EINVAL;
}

int task_udp_fd(const struct task_udp_socket *u)
{
        return u ? task__sfd_get(&u->sfd) : -EINVAL;
}
