/*
 * tcp.c - TCP listeners and connections (libtask/tcp.h): bind, connect
 * (sock.c's connect operation, IP families), and TCP's socket options.
 * Everything else a TCP connection does is stream.c's.
 */
#include "sock-priv.h"

#include <libtask/tcp.h>

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static bool is_ip(const struct task_addr *a)
{
        return a->ss.ss_family == AF_INET || a->ss.ss_family == AF_INET6;
}

int task_tcp_bind(struct task_listener *l, const struct task_addr *a,
                  const struct task_bind_opts *opts)
{
        int fd;

        if (!l)
                return -EINVAL;
        task__sfd_set(&l->sfd, -1);
        if (!a || !is_ip(a))
                return -EINVAL;
        fd = task__sock_bind(a, SOCK_STREAM, opts);
        if (fd < 0)
                return fd;
        task__sfd_set(&l->sfd, fd);
        return 0;
}

bool task_tcp_connect_poll(struct task_cx *cx, const struct task_addr *a,
                           uint64_t timeout_ns, struct task_net_op *op,
                           struct task_stream *out, int *rc)
{
        return task__sock_connect_poll(cx, a, false, timeout_ns, op,
                                       out ? &out->sfd : NULL, rc);
}

/* setsockopt on a stream's socket; -EOPNOTSUPP off TCP, as the kernel. */
static int stream_opt(const struct task_stream *s, int level, int name,
                      const void *v, socklen_t len)
{
        int fd;

        if (!s)
                return -EINVAL;
        fd = task__sfd_get(&s->sfd);
        if (fd < 0)
                return fd;
        return setsockopt(fd, level, name, v, len) ? -errno : 0;
}

int task_tcp_set_nodelay(struct task_stream *s, bool on)
{
        int v = on;
        return stream_opt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v));
}

int task_tcp_nodelay(const struct task_stream *s)
{
        int fd, v = 0;
        socklen_t len = sizeof(v);

        if (!s)
                return -EINVAL;
        fd = task__sfd_get(&s->sfd);
        if (fd < 0)
                return fd;
        if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len))
                return -errno;
        return v != 0;
}

int task_tcp_set_keepalive(struct task_stream *s, bool on, unsigned idle_s,
                           unsigned interval_s, unsigned count)
{
        int v = on, rc;

        if (idle_s > INT_MAX || interval_s > INT_MAX || count > INT_MAX)
                return -EINVAL;
        rc = stream_opt(s, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v));
        if (rc || !on)
                return rc;
        if (idle_s) {
                v = (int)idle_s;
                rc = stream_opt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
        }
        if (!rc && interval_s) {
                v = (int)interval_s;
                rc = stream_opt(s, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
        }
        if (!rc && count) {
                v = (int)count;
                rc = stream_opt(s, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
        }
        return rc;
}

int task_tcp_set_linger(struct task_stream *s, int seconds)
{
        struct linger lg = {.l_onoff = seconds >= 0,
                            .l_linger = seconds >= 0 ? seconds : 0};
        return stream_opt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}
