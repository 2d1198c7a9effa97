/*
 * libtask/net.h - the networking umbrella header.
 *
 * addr.h    socket addresses: parse, format, accessors
 * sock.h    what the socket types share: struct task_net_op, bind options
 * stream.h  byte streams (TCP or Unix connections) and listeners: read,
 *           write, read_exact, write_all, writev, shutdown, accept
 * tcp.h     TCP: bind, connect (with timeout), nodelay, keepalive, linger
 * unix.h    Unix stream sockets: bind, connect, socketpair
 * udp.h     UDP sockets: bind, connect, send/recv, send_to/recv_from
 * buf.h     byte buffers, and reading/writing them over a stream fd
 * resolve.h name resolution (getaddrinfo on the blocking pool)
 */
#ifndef LIBTASK_NET_H
#define LIBTASK_NET_H

#include <libtask/addr.h>
#include <libtask/buf.h>
#include <libtask/resolve.h>
#include <libtask/sock.h>
#include <libtask/stream.h>
#include <libtask/tcp.h>
#include <libtask/udp.h>
#include <libtask/unix.h>

#endif /* LIBTASK_NET_H */
