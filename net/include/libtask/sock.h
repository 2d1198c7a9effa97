/*
 * libtask/sock.h - what every socket type shares: the message operation
 * (struct task_net_op) and the bind options.
 *
 * Most socket calls take a plain struct task_io (libtask/io.h) as their
 * operation.  The calls that hand the kernel more than a buffer -- a
 * connect (an address, a timeout), a vectored write or a datagram with an
 * address (a message header) -- take a struct task_net_op instead, which
 * embeds the task_io and the memory the kernel reads or writes while the
 * operation is in flight.  So the address you pass is copied at the start:
 * it may be a temporary; only buffers (and a writev's iovec array) must
 * outlive the operation.
 *
 * Like every operation struct: keep it in the task's frame, zero it
 * before its first use, one operation at a time, never copied while in
 * flight.
 */
#ifndef LIBTASK_SOCK_H
#define LIBTASK_SOCK_H

#include <libtask/addr.h>
#include <libtask/common.h>
#include <libtask/io.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel's struct __kernel_timespec, without the kernel header. */
struct task_net_timespec {
        int64_t tv_sec;
        int64_t tv_nsec;
};

/*
 * An operation that carries a message header or an address (about 280
 * bytes).  The fields are public only so that it can be embedded by
 * value; treat them as opaque.
 */
struct task_net_op {
        struct task_io io;
        struct msghdr msg;           /* sendmsg/recvmsg */
        struct iovec iov;            /* a single-buffer message */
        struct task_net_timespec ts; /* a connect's timeout */
        struct task_addr addr;       /* target, destination or source */
        int fd;                      /* a connect's socket, until done */
};

/*
 * How to bind a socket.  A zeroed struct (or NULL) means the defaults;
 * only the fields that apply to the socket type are read.
 */
struct task_bind_opts {
        /* Listeners: the accept queue's length; 0: 1024 (the kernel caps
         * it at net.core.somaxconn). */
        int backlog;
        /* TCP and UDP: SO_REUSEPORT (several sockets share the port and
         * the kernel spreads connections or datagrams over them). */
        bool reuseport;
        /* TCP and UDP: do not set SO_REUSEADDR (a TCP listener sets it by
         * default, so that a restarted server can bind at once). */
        bool no_reuseaddr;
        /* IPv6: accept IPv6 only (IPV6_V6ONLY); by default an IPv6
         * wildcard socket also takes IPv4 (as ::ffff:a.b.c.d). */
        bool v6only;
        /* UDP: allow sending to broadcast addresses (SO_BROADCAST). */
        bool broadcast;
};

/* How to shut a connection down (shutdown(2)'s SHUT_*). */
enum task_shutdown {
        TASK_SHUT_RD = SHUT_RD,
        TASK_SHUT_WR = SHUT_WR,
        TASK_SHUT_RDWR = SHUT_RDWR,
};

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_SOCK_H */
