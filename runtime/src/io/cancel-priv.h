/*
 * cancel-priv.h - what a cancelling poll learns about an operation whose
 * completion it consumes (buf_io.c, io/fs.c, sock.c, stream.c).
 *
 * In a cancelling poll, task__io_begin() returns WAIT whatever happens:
 * with cx->cancel_wait set while the kernel still owns the operation, and
 * without it once the completion is in (then it has reset the op to IDLE).
 * An operation that completed before the cancel took effect has an effect
 * its caller may need to keep or undo (bytes received, a file opened): its
 * result stays in op->result, which op_reset() does not clear, and this
 * helper hands it out exactly once.
 */
#ifndef LIBTASK_IO_CANCEL_PRIV_H
#define LIBTASK_IO_CANCEL_PRIV_H

#include "io/io-priv.h"

/*
 * The cancelling look at @op (cx->cancelling is set).  Returns true when
 * this look consumed @op's completion, with *@res its result (-ECANCELED,
 * or what the operation did before the cancel took effect); false when
 * nothing was in flight, or the kernel still owns it (cx->cancel_wait is
 * then set and the task stays suspended until the completion wakes it).
 */
static inline bool task__io_cancel_look(struct task_cx *cx, struct task_io *op,
                                        int32_t *res)
{
        /* Acquire: as task__io_begin()'s own load; DONE publishes result. */
        uint32_t before =
            atomic_load_explicit(&op->state, memory_order_acquire);
        int32_t unused;

        (void)task__io_begin(cx, op, &unused);
        /* (Not cx->cancel_wait: another operation of the task, a lost
         * TASK_SELECT branch, may have set it in this same poll.) */
        if (before == TASK_IO_IDLE ||
            atomic_load_explicit(&op->state, memory_order_relaxed) !=
                TASK_IO_IDLE)
                return false;
        /* Begin saw DONE (possibly just after our load saw INFLIGHT) and
         * reset the op: the result is ours. */
        *res = op->result;
        return true;
}

#endif /* LIBTASK_IO_CANCEL_PRIV_H */
