/*
 * buf_io.c - asynchronous reads into and writes out of a byte buffer
 * (libtask/buf.h) on the worker's io_uring: task_buf_read_poll and
 * task_buf_write_all_poll.
 *
 * Both are the 3-call pattern of io/io-priv.h.  While an operation is in
 * flight the buffer is marked busy (b->busy), so nothing moves or reuses
 * the storage the kernel reads or writes; the mark goes when the poll
 * consumes the completion, normal or cancelled.
 *
 * Sockets first: a read is a recv, a write a send with MSG_NOSIGNAL.  On
 * -ENOTSOCK (a pipe, a tty, a file) the same call retries with read(2) /
 * write(2) at the file position and remembers that in op->aux for the
 * rest of the call, so a non-socket costs one extra submission per call.
 *
 * Cancellation keeps the buffer exact: the completion of a cancelled
 * operation is consumed in the cancelling poll (io/cancel-priv.h), and a
 * read that had received bytes commits them, a write that had sent bytes
 * consumes them.  So both operations are cancellation-safe: nothing read
 * is lost and nothing written is written twice.
 */
#include "io/cancel-priv.h"
#include "io/io-priv.h"

#include <libtask/buf.h>

#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>

/* op->aux: the fd is not a socket (use read/write). */
#define AUX_PLAIN 1u

/* ---- Read ----------------------------------------------------------------- */

/* The bytes the read has received go into the buffer. */
static void read_done(struct task_buf *b, int32_t res)
{
        b->busy = 0;
        if (res > 0)
                b->wpos += (size_t)res;
}

/* Prepare the read into the whole spare part (up to the limit). */
static void read_prep(struct io_uring_sqe *sqe, int fd, struct task_buf *b,
                      const struct task_io *op)
{
        size_t len = b->cap - b->wpos;
        size_t have = b->wpos - b->rpos;

        if (b->max && len > b->max - have)
                len = b->max - have; /* the reserve checked have < max */
        len = task__io_len(len);
        if (op->aux & AUX_PLAIN)
                io_uring_prep_read(sqe, fd, b->mem + b->wpos, (unsigned)len,
                                   (uint64_t)-1);
        else
                io_uring_prep_recv(sqe, fd, b->mem + b->wpos, len, 0);
}

bool task_buf_read_poll(struct task_cx *cx, int fd, struct task_buf *b,
                        size_t min_spare, struct task_io *op, ssize_t *n)
{
        struct io_uring_sqe *sqe;
        int32_t res;
        int rc;

        if (!cx || !b || !op || !n) {
                if (cx && cx->cancelling)
                        return false;
                if (n)
                        *n = -EINVAL;
                return true;
        }
        if (TASK__UNLIKELY_(cx->cancelling)) {
                if (task__io_cancel_look(cx, op, &res))
                        read_done(b, res); /* bytes received are kept */
                return false;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                read_done(b, res);
                if (res == -ENOTSOCK && !(op->aux & AUX_PLAIN)) {
                        op->aux |= AUX_PLAIN; /* not a socket: read(2) */
                } else if (res != -EINTR) {
                        *n = res;
                        return true;
                }
                goto arm; /* again, differently or after a signal */
        }
        /* START. */
        if (fd < 0) {
                *n = -EBADF;
                return true;
        }
        if (b->busy) {
                *n = -EBUSY;
                return true;
        }
        rc = task_buf_reserve(b, min_spare ? min_spare : TASK_BUF_READ_DEFAULT);
        if (rc < 0) {
                *n = rc;
                return true;
        }
        op->aux = 0;
arm:
        sqe = task__io_sqe(cx, &res);
        if (!sqe) {
                *n = res;
                return true;
        }
        read_prep(sqe, fd, b, op);
        b->busy = 1;
        task__io_arm(cx, op, sqe);
        return false;
}

/* ---- Write all ------------------------------------------------------------ */

/* The bytes a write has sent leave the buffer. */
static void write_done(struct task_buf *b, int32_t res)
{
        b->busy = 0;
        if (res > 0) {
                b->rpos += (size_t)res;
                if (b->rpos == b->wpos)
                        b->rpos = b->wpos = 0;
        }
}

bool task_buf_write_all_poll(struct task_cx *cx, int fd, struct task_buf *b,
                             struct task_io *op, int *rc)
{
        struct io_uring_sqe *sqe;
        size_t len;
        int32_t res;

        if (!cx || !b || !op) {
                if (cx && cx->cancelling)
                        return false;
                if (rc)
                        *rc = -EINVAL;
                return true;
        }
        if (TASK__UNLIKELY_(cx->cancelling)) {
                if (task__io_cancel_look(cx, op, &res))
                        write_done(b, res); /* bytes sent stay consumed */
                return false;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                write_done(b, res);
                if (res == -ENOTSOCK && !(op->aux & AUX_PLAIN)) {
                        op->aux |= AUX_PLAIN; /* not a socket: write(2) */
                } else if (res == -EINTR) {
                        /* Interrupted before anything was written: again. */
                } else if (res <= 0) {
                        /* 0 for a non-empty write would loop forever. */
                        if (rc)
                                *rc = res < 0 ? res : -EIO;
                        return true;
                }
                if (b->wpos == b->rpos) {
                        if (rc)
                                *rc = 0;
                        return true;
                }
                goto arm; /* a partial write: the rest */
        }
        /* START. */
        if (fd < 0 || b->busy) {
                if (rc)
                        *rc = fd < 0 ? -EBADF : -EBUSY;
                return true;
        }
        if (b->wpos == b->rpos) {
                /* Done at once: spend budget, so that a loop of empty
                 * writes cannot hold the worker. */
                if (!task_coop_proceed(cx))
                        return false;
                if (rc)
                        *rc = 0;
                return true;
        }
        op->aux = 0;
arm:
        sqe = task__io_sqe(cx, &res);
        if (!sqe) {
                if (rc)
                        *rc = res;
                return true;
        }
        len = b->wpos - b->rpos;
        len = task__io_len(len);
        if (op->aux & AUX_PLAIN)
                io_uring_prep_write(sqe, fd, b->mem + b->rpos, (unsigned)len,
                                    (uint64_t)-1);
        else
                io_uring_prep_send(sqe, fd, b->mem + b->rpos, len,
                                   MSG_NOSIGNAL);
        b->busy = 1;
        task__io_arm(cx, op, sqe);
        return false;
}
