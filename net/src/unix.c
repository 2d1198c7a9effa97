/*
 * unix.c - Unix domain stream sockets (libtask/unix.h): bind, connect
 * (sock.c's connect operation, AF_UNIX) and socketpair.  Reading, writing
 * and accepting are stream.c's.
 */
#include "sock-priv.h"

#include <libtask/unix.h>

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

int task_unix_bind(struct task_listener *l, const struct task_addr *a,
                   const struct task_bind_opts *opts)
{
        int fd;

        if (!l)
                return -EINVAL;
        task__sfd_set(&l->sfd, -1);
        if (!a || a->ss.ss_family != AF_UNIX)
                return -EINVAL;
        fd = task__sock_bind(a, SOCK_STREAM, opts);
        if (fd < 0)
                return fd;
        task__sfd_set(&l->sfd, fd);
        return 0;
}

bool task_unix_connect_poll(struct task_cx *cx, const struct task_addr *a,
                            uint64_t timeout_ns, struct task_net_op *op,
                            struct task_stream *out, int *rc)
{
        return task__sock_connect_poll(cx, a, true, timeout_ns, op,
                                       out ? &out->sfd : NULL, rc);
}

int task_unix_pair(struct task_stream *a, struct task_stream *b)
{
        int sv[2];

        if (!a || !b || a == b)
                return -EINVAL;
        task__sfd_set(&a->sfd, -1);
        task__sfd_set(&b->sfd, -1);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
                return -errno;
        task__sfd_set(&a->sfd, sv[0]);
        task__sfd_set(&b->sfd, sv[1]);
        return 0;
}
