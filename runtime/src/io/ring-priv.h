/*
 * ring-priv.h - a worker's io_uring, as the scheduler sees it (io/driver.c).
 * Included by runtime-priv.h (the worker embeds its ring); the calls that
 * I/O poll functions use are in io-priv.h.
 */
#ifndef LIBTASK_IO_RING_PRIV_H
#define LIBTASK_IO_RING_PRIV_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef TASK__CACHELINE
#define TASK__CACHELINE 64
#endif

struct task__worker;
struct task_io;

/* ---- The driver (io/driver.c), called by the runtime ---------------------- */

/*
 * A worker's ring.  Everything but `mailbox` and `efd` (which wakers
 * write) is touched only by the thread driving the worker: its own
 * thread (SINGLE_ISSUER: the kernel enforces it), or for the
 * current-thread flavor whichever thread is inside task_block_on().
 */
struct task__io_ring {
        struct io_uring ring;
        struct task__worker *w;
        unsigned setup_flags; /* what io_uring_setup accepted */
        bool initialised;     /* ring and eventfd exist */
        bool enabled;         /* R_DISABLED ring enabled by its thread */
        bool defer_taskrun;
        /* DEFER_ or COOP_TASKRUN without TASKRUN_FLAG: pending
         * completions only show by asking the kernel. */
        bool blind;
        int efd;              /* eventfd: other threads wake a parked ring */
        bool efd_armed;       /* a read on efd is in flight */
        uint64_t efd_buf;     /* where that read lands */
        unsigned inflight;    /* ops armed, completion not yet reaped */
        unsigned unsubmitted; /* SQEs prepared since the last submit */
        /* Cross-worker cancel requests: a Treiber stack through
         * task_io.cancel_next.  Pushed by any worker (release CAS), taken
         * whole by the owner (acquire exchange). */
        _Alignas(TASK__CACHELINE) _Atomic(struct task_io *) mailbox;
};

/*
 * Set up @r for worker @w.  @single_issuer: the ring will be used by one
 * thread only, which calls task__io_ring_enable() before anything else
 * (multi-thread flavor).  Returns 0 or the -errno of io_uring_setup.
 */
int task__io_ring_init(struct task__io_ring *r, struct task__worker *w,
                       bool single_issuer, unsigned entries);
/* On the owning thread, before its first use. */
int task__io_ring_enable(struct task__io_ring *r);
/*
 * Cancel everything in flight and reap until nothing is (bounded wait);
 * on the owning thread at shutdown.  Completions wake their tasks.
 */
void task__io_ring_drain(struct task__io_ring *r);
void task__io_ring_destroy(struct task__io_ring *r);
/*
 * Release the claims of cancel requests still in the mailbox (shutdown,
 * after the rings were drained and their workers joined: a cancelling
 * task on another worker may have pushed its request after the drain
 * looked).  Finishes those operations and wakes their tasks.
 */
void task__io_ring_orphan_mailbox(struct task__io_ring *r);

/*
 * Submit what is queued, take the cancel mailbox, reap every completion
 * (waking tasks onto this worker).  Never blocks.  Returns the number of
 * completions reaped.
 */
unsigned task__io_ring_poll(struct task__io_ring *r);

/* Is there anything worth a non-blocking poll (cheap; no syscall)? */
bool task__io_ring_has_work(struct task__io_ring *r);

/*
 * Park on the ring: sleep until a completion, an unpark (eventfd) or
 * @timeout_ns (< 0: no limit); then reap like task__io_ring_poll().
 * Implements the parker protocol of park.c on w->parker.
 */
void task__io_ring_park(struct task__io_ring *r, int64_t timeout_ns);
void task__io_ring_unpark(struct task__io_ring *r);

/* The parking driver over these rings (replaces park.c's futex driver). */
struct task__driver_ops;
extern const struct task__driver_ops task__uring_driver;

#endif /* LIBTASK_IO_RING_PRIV_H */
