/*
 * libtask/stream.h - byte streams (TCP or Unix connections) and the
 * listeners that accept them.  Tokio's TcpStream/UnixStream and
 * TcpListener/UnixListener, with one type each: a connection is a byte
 * stream over a socket whatever its family, so the reads and writes are
 * the same calls (libuv's uv_stream_t makes the same choice).  tcp.h and
 * unix.h make them (bind, connect) and hold the family's own options.
 *
 *     struct conn { TASK_FRAME; struct task_stream s; struct task_io io;
 *                   char buf[4096]; ssize_t n; int rc; };
 *     ...
 *     for (;;) {
 *             TASK_STREAM_READ(f, &f->s, &f->io, f->buf, sizeof f->buf, &f->n);
 *             if (f->n <= 0)
 *                     break;                  // 0: EOF; < 0: -errno
 *             TASK_STREAM_WRITE_ALL(f, &f->s, &f->io, f->buf, f->n, &f->rc);
 *             if (f->rc < 0)
 *                     break;
 *     }
 *     TASK_CLEANUP(f);
 *     task_stream_close(&f->s);
 *
 * Ownership: the caller allocates a struct task_stream / task_listener
 * (usually in a frame; a zeroed one holds no socket) and owns the socket
 * in it from the moment a call stores one there until task_*_close() or
 * task_*_into_fd().  Nothing here allocates.  The socket is blocking at
 * the file level; io_uring never blocks on it.
 *
 * Concurrency: one task may read while another writes the same stream
 * (each with its own struct task_io), as with Tokio's split halves; two
 * concurrent reads (or writes) interleave their bytes unpredictably.
 *
 * Errors: a negative errno from the kernel (-ECONNRESET: the peer reset
 * the connection; -EPIPE: writing after the peer or we shut writing down;
 * -ETIMEDOUT: keepalive gave up), or -EBADF (the stream is closed),
 * -EINVAL (NULL), -ESHUTDOWN (the runtime is shutting down).  A read
 * returns 0 at end of stream (the peer shut down writing, or closed).
 * Writes never raise SIGPIPE (MSG_NOSIGNAL).
 *
 * Cancellation (abort, a lost TASK_SELECT): a read or write in flight is
 * cancelled and the task waits for the kernel to confirm before it moves
 * on (libtask/io.h), so buffers in the frame are always safe.  Bytes
 * already received by a cancelled read are lost and bytes already sent by
 * a cancelled write stay sent: reads and writes are not cancellation-safe.
 * An accept is not either: a connection the kernel accepted in the race
 * with the cancel is closed.
 */
#ifndef LIBTASK_STREAM_H
#define LIBTASK_STREAM_H

#include <libtask/addr.h>
#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/io.h>
#include <libtask/sock.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A connected byte stream.  @sfd is the socket plus one, so that a zeroed
 * struct holds no socket (0); use task_stream_fd().
 */
struct task_stream {
        _Atomic int sfd;
};

/* A listening socket (TCP or Unix).  @sfd as in struct task_stream. */
struct task_listener {
        _Atomic int sfd;
};

/* The most one read or write moves (larger requests are cut to it). */
#define TASK_STREAM_MAX_IO (1u << 30)

/* ---- Streams: owning the socket ------------------------------------------ */

/*
 * task_stream_from_fd - take ownership of @fd, a connected SOCK_STREAM
 * socket (made by another library, inherited, ...); it is made blocking
 * (io_uring polls it itself).  Returns 0; -EINVAL (NULL, @fd < 0, not a
 * stream socket); -ENOTSOCK; -EBADF.  On failure @fd stays the caller's.
 */
TASK_API int task_stream_from_fd(struct task_stream *s, int fd);

/*
 * task_stream_into_fd - give the socket back: returns it (the caller now
 * owns it) and leaves @s empty; -EBADF when @s holds none, -EINVAL.
 */
TASK_API int task_stream_into_fd(struct task_stream *s);

/* The socket (still owned by @s), or -EBADF / -EINVAL. */
TASK_API int task_stream_fd(const struct task_stream *s);

/*
 * task_stream_close - close the socket (a FIN to the peer, or a reset
 * under SO_LINGER 0); @s is empty afterwards.  A read another task has in
 * flight on it finishes with 0 rather than hang (reading is shut down
 * first); a write in flight keeps the socket open until it completes, so
 * cancel it first.  Calls started on @s afterwards get -EBADF.  **A read
 * started on another worker whose submission that worker has not handed
 * to the kernel yet (it batches them) reaches the kernel after the close,
 * against whatever socket reuses the number**: to stop a reader that runs
 * on another task, wake it some other way (a Notify, a TASK_SELECT branch)
 * and let it close, or shut the stream down first (task_stream_shutdown)
 * and close once the reader has returned.  Submissions this worker queued
 * are flushed before the close.
 * Returns 0, -EBADF (already closed), -EINVAL.
 */
TASK_API int task_stream_close(struct task_stream *s);

/*
 * task_stream_shutdown - shut down reading, writing or both (the socket
 * stays open; close it later).  After TASK_SHUT_WR the peer reads EOF.
 * Returns 0, -ENOTCONN, -EBADF, -EINVAL.
 */
TASK_API int task_stream_shutdown(struct task_stream *s,
                                  enum task_shutdown how);

/* Local / remote address into *@a.  Returns 0, -EBADF, -ENOTCONN, -EINVAL. */
TASK_API int task_stream_local_addr(const struct task_stream *s,
                                    struct task_addr *a);
TASK_API int task_stream_peer_addr(const struct task_stream *s,
                                   struct task_addr *a);

/* ---- Streams: reading and writing ---------------------------------------- */

/*
 * task_stream_read_poll - receive up to @len bytes into @buf (one recv).
 * True when done, with *@n the count (> 0), 0 at end of stream (or @len
 * == 0), or -errno.  @buf must stay valid until the read is done or
 * cancelled.  Not cancellation-safe (bytes received in the race are lost).
 */
TASK_API bool task_stream_read_poll(struct task_cx *cx, struct task_stream *s,
                                    struct task_io *op, void *buf, size_t len,
                                    ssize_t *n);
#define TASK_STREAM_READ(f, s, op, buf, len, np)                               \
        TASK_AWAIT(f,                                                          \
                   task_stream_read_poll((cx), (s), (op), (buf), (len), (np)))

/*
 * task_stream_write_poll - send up to @len bytes of @buf (one send; it may
 * send fewer).  True when done, with *@n the count sent or -errno.  Not
 * cancellation-safe (bytes sent in the race stay sent).
 */
TASK_API bool task_stream_write_poll(struct task_cx *cx, struct task_stream *s,
                                     struct task_io *op, const void *buf,
                                     size_t len, ssize_t *n);
#define TASK_STREAM_WRITE(f, s, op, buf, len, np)                              \
        TASK_AWAIT(                                                            \
            f, task_stream_write_poll((cx), (s), (op), (buf), (len), (np)))

/*
 * task_stream_read_exact_poll - receive exactly @len bytes (at most
 * UINT32_MAX).  True when done, with *@rc 0, -EPIPE when the stream ended
 * first, or -errno; task_stream_progress(@op) then tells how many bytes
 * arrived.  Usually one submission (MSG_WAITALL).  Not cancellation-safe.
 */
TASK_API bool task_stream_read_exact_poll(struct task_cx *cx,
                                          struct task_stream *s,
                                          struct task_io *op, void *buf,
                                          size_t len, int *rc);
#define TASK_STREAM_READ_EXACT(f, s, op, buf, len, rcp)                        \
        TASK_AWAIT(f, task_stream_read_exact_poll((cx), (s), (op), (buf),      \
                                                  (len), (rcp)))

/*
 * task_stream_write_all_poll - send all @len bytes (at most UINT32_MAX).
 * True when done, with *@rc 0 or -errno (task_stream_progress() tells how
 * many were sent before the error).  Not cancellation-safe.
 */
TASK_API bool task_stream_write_all_poll(struct task_cx *cx,
                                         struct task_stream *s,
                                         struct task_io *op, const void *buf,
                                         size_t len, int *rc);
#define TASK_STREAM_WRITE_ALL(f, s, op, buf, len, rcp)                         \
        TASK_AWAIT(f, task_stream_write_all_poll((cx), (s), (op), (buf),       \
                                                 (len), (rcp)))

/*
 * task_stream_writev_poll - send from @iovcnt buffers (1..IOV_MAX) in one
 * sendmsg; it may send fewer bytes than they hold.  True when done, with
 * *@n the count or -errno.  The @iov array and its buffers must stay
 * valid until done.  Not cancellation-safe.
 */
TASK_API bool task_stream_writev_poll(struct task_cx *cx, struct task_stream *s,
                                      struct task_net_op *op,
                                      const struct iovec *iov, int iovcnt,
                                      ssize_t *n);
#define TASK_STREAM_WRITEV(f, s, op, iov, iovcnt, np)                          \
        TASK_AWAIT(f, task_stream_writev_poll((cx), (s), (op), (iov),          \
                                              (iovcnt), (np)))

/* Bytes read_exact / write_all had moved when they finished. */
static inline size_t task_stream_progress(const struct task_io *op)
{
        return op->aux;
}

/* ---- Listeners ----------------------------------------------------------- */

/*
 * task_listener_accept_poll - accept a connection.  True when done, with
 * *@rc 0 and the connection in *@out (owned by the caller; whatever *@out
 * held is overwritten, not closed), and its address in *@peer unless
 * @peer is NULL; or *@rc -errno: -EMFILE/-ENFILE (out of descriptors:
 * back off and retry), -EBADF (not open), -EINVAL (closed while waiting).
 * The kernel writes *@peer when the connection arrives: like a buffer, it
 * must stay valid until the accept is done or cancelled.  Cancelling
 * closes a connection accepted in the race.
 */
TASK_API bool task_listener_accept_poll(struct task_cx *cx,
                                        struct task_listener *l,
                                        struct task_io *op,
                                        struct task_stream *out,
                                        struct task_addr *peer, int *rc);
#define TASK_LISTENER_ACCEPT(f, l, op, out, peer, rcp)                         \
        TASK_AWAIT(f, task_listener_accept_poll((cx), (l), (op), (out),        \
                                                (peer), (rcp)))

/* The bound address (e.g. to read back an ephemeral port). */
TASK_API int task_listener_local_addr(const struct task_listener *l,
                                      struct task_addr *a);

/*
 * task_listener_close - stop listening and close the socket; @l is empty
 * afterwards.  Accepts other tasks have in flight on it finish with
 * -EINVAL.  A Unix listener's file is not removed (unlink it).  Returns
 * 0, -EBADF, -EINVAL.
 */
TASK_API int task_listener_close(struct task_listener *l);

/*
 * task_listener_from_fd - take ownership of @fd, a listening SOCK_STREAM
 * socket (socket activation, say).  As task_stream_from_fd().
 */
TASK_API int task_listener_from_fd(struct task_listener *l, int fd);
TASK_API int task_listener_into_fd(struct task_listener *l);
TASK_API int task_listener_fd(const struct task_listener *l);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_STREAM_H */
