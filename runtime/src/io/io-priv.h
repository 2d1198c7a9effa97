/*
 * io-priv.h - the io_uring driver's internals, and the three calls every
 * asynchronous I/O poll function is built from (net/, io/fs.c).
 *
 * A poll function for an operation that maps to one SQE and one CQE:
 *
 *     bool task_x_read_poll(struct task_cx *cx, struct x *s, struct task_io *op,
 *                           void *buf, size_t len, ssize_t *n)
 *     {
 *             int32_t res;
 *             struct io_uring_sqe *sqe;
 *
 *             if (bad arguments) { if (cx->cancelling) return false;
 *                                  *n = -EINVAL; return true; }
 *             switch (task__io_begin(cx, op, &res)) {
 *             case TASK__IO_WAIT:
 *                     return false;            // in flight, or cancelling
 *             case TASK__IO_READY:
 *                     *n = res;                // >= 0 or -errno
 *                     return true;
 *             }
 *             // TASK__IO_START: nothing in flight, not cancelling.
 *             sqe = task__io_sqe(cx, &res);
 *             if (!sqe) { *n = res; return true; }   // -ESHUTDOWN etc.
 *             io_uring_prep_recv(sqe, s->fd, buf, len, 0);
 *             task__io_arm(cx, op, sqe);
 *             return false;
 *     }
 *
 * task__io_begin() does the cancellation: in a cancelling poll (abort, a
 * lost TASK_SELECT branch) it requests the cancel, sets cx->cancel_wait so
 * that the task stays alive until the completion arrives, and returns WAIT;
 * once the completion is in, it resets the op and returns WAIT without
 * cancel_wait, and the task proceeds to its cleanup.
 *
 * A multi-step operation (write_all: several sends) keeps its progress in
 * op->aux and loops: on READY with more to do, it calls task__io_sqe()
 * and task__io_arm() again before returning false.
 */
#ifndef LIBTASK_IO_PRIV_H
#define LIBTASK_IO_PRIV_H

#include "runtime-priv.h"

#include <libtask/io.h>

#include <liburing.h>

enum {
        TASK__IO_START = 0, /* idle: prepare and arm a submission */
        TASK__IO_WAIT = 1,  /* return false */
        TASK__IO_READY = 2, /* *res holds the result; op is idle again */
};

/*
 * The most one submission asks to move: io_uring's length is 32 bits and
 * its result an int32 (the kernel's own cap is a bit under 2 GiB).  The
 * public TASK_STREAM_MAX_IO and TASK_FILE_IO_MAX are this value.
 */
#define TASK__IO_MAX (1u << 30)

static inline unsigned task__io_len(size_t len)
{
        return len > TASK__IO_MAX ? TASK__IO_MAX : (unsigned)len;
}

/* Private task flags (task_io.tflags). */
#define TASK__IO_TF_CANCEL_SENT 1u /* a cancel was requested */

/*
 * The first step of an I/O poll function (see the head of this file).
 * On READY, *@res is the completion's result and @op is idle again (its
 * cqe_flags still readable until the next arm).
 */
int task__io_begin(struct task_cx *cx, struct task_io *op, int32_t *res);

/*
 * An SQE on the ring of the worker running @cx, or NULL with *@err set:
 * -ESHUTDOWN when called off a worker (the shutdown's cancelling pass).
 * Submits what is queued if the SQ is full.  The caller must prepare it
 * and pass it to task__io_arm() before it polls anything else.
 */
struct io_uring_sqe *task__io_sqe(struct task_cx *cx, int32_t *err);

/*
 * Arm @op with the prepared @sqe: user_data, a reference to the task,
 * state INFLIGHT.  The submission goes out with the worker's next batch.
 */
void task__io_arm(struct task_cx *cx, struct task_io *op,
                  struct io_uring_sqe *sqe);

/*
 * Make sure the next @n task__io_sqe() calls come out of one submission (a
 * link: IOSQE_IO_LINK chains must reach the kernel together): submits
 * what is queued while fewer than @n entries are free.  0, -ESHUTDOWN
 * (off a worker) or -EINVAL (@n larger than the ring).
 */
int task__io_reserve(struct task_cx *cx, unsigned n);

/*
 * Submit what this thread's worker has queued, now.  Called before
 * closing a descriptor: an SQE still queued would otherwise be issued
 * after the close, against whatever file reuses the number.
 */
void task__io_flush_current(void);

/* The ring of the worker running @cx, or NULL (not on a worker). */
struct io_uring *task__io_uring_of(struct task_cx *cx);

#endif /* LIBTASK_IO_PRIV_H */
