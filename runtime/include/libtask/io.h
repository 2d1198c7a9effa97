/*
 * libtask/io.h - I/O operations on the worker's io_uring: the operation
 * struct every asynchronous I/O call (sockets, files) takes.
 *
 * Each worker owns one io_uring.  A task that reads a socket prepares a
 * submission on the ring of the worker polling it, records itself in a
 * struct task_io, and suspends; the worker submits its queued submissions
 * in batches and, when the completion arrives, wakes the task, which reads
 * the result out of the struct.  docs/io.md describes the driver.
 *
 *     struct conn { TASK_FRAME; struct task_tcp_stream s; struct task_io io;
 *                   char buf[4096]; ssize_t n; };
 *     ...
 *     TASK_AWAIT(f, task_tcp_read_poll(cx, &f->s, &f->io, f->buf,
 *                                      sizeof(f->buf), &f->n));
 *
 * HAZARDS (as for wait nodes, libtask/wait.h):
 *  - **A struct task_io must live in the task's frame** (or in memory that
 *    outlives the operation), never in a local variable: the driver writes
 *    to it after the poll returns.  Zero it before its first use.
 *  - **The buffers an operation reads or writes must stay valid until the
 *    operation has finished or been cancelled**, i.e. until the await on it
 *    returns or the task's cleanup runs.  Buffers in the frame are always
 *    safe: the frame is never freed while the kernel may still write it.
 *  - One struct task_io serves one operation at a time.
 *
 * Cancellation: when a task with an operation in flight is aborted (or the
 * operation loses a TASK_SELECT), the poll function asks the kernel to
 * cancel it (IORING_OP_ASYNC_CANCEL, posted to the owning worker if the
 * task now runs elsewhere) and the task *waits for the completion* before
 * its cleanup runs: the kernel never writes into a buffer the cleanup has
 * freed.  An operation that completed before the cancel took effect keeps
 * its effect (bytes sent stay sent; bytes received are dropped): reads
 * and writes are not cancellation-safe, as in every completion-based
 * runtime.  Each call documents what cancelling it does.
 *
 * The fields are public only so that the struct can be embedded by value;
 * treat them as opaque.
 */
#ifndef LIBTASK_IO_H
#define LIBTASK_IO_H

#include <libtask/common.h>
#include <libtask/coro.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct task;
struct task__io_ring;

/* Operation states (task_io.state). */
enum {
        TASK_IO_IDLE = 0,     /* not in flight; owned by its task */
        TASK_IO_INFLIGHT = 1, /* submitted; the ring's worker owns it */
        TASK_IO_DONE = 2,     /* completed; result and flags are valid */
};

/*
 * An I/O operation (48 bytes).  While INFLIGHT the ring's worker owns
 * every field but `tflags`; it writes the result, then stores DONE with
 * release, then wakes the task.  The task loads DONE with acquire.
 */
struct task_io {
        struct task *task;           /* a reference while in flight */
        struct task__io_ring *ring;  /* the ring it was submitted on */
        struct task_io *cancel_next; /* the ring owner's cancel mailbox */
        _Atomic uint32_t state;      /* TASK_IO_* */
        /* Claims that must all be released before the operation is DONE:
         * the completion, plus one per cancel request queued to the ring's
         * owner from another worker. */
        _Atomic uint32_t claims;
        int32_t result;     /* the completion's result: >= 0 or -errno */
        uint32_t cqe_flags; /* the completion's flags */
        uint32_t tflags;    /* the owning task's private flags */
        uint32_t aux;       /* operation-specific (e.g. bytes done so far) */
};

/*
 * task_io_pending - true while @op is in flight or completed but not yet
 * consumed by its poll function.  NULL gives false.
 */
static inline bool task_io_pending(const struct task_io *op)
{
        return op && atomic_load_explicit((_Atomic uint32_t *)&op->state,
                                          memory_order_acquire) != TASK_IO_IDLE;
}

/*
 * task_io_setup_error - why this machine refused io_uring, in words, and
 * what to do about it, for an error that task_runtime_new() returned
 * (-EPERM, -ENOSYS, -ENOMEM, ...); NULL when @err is not a ring setup
 * error.  The string is static.
 */
TASK_API const char *task_io_setup_error(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_IO_H */
