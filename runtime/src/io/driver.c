/*
 * driver.c - the io_uring driver: one ring per worker, submission batching,
 * completion dispatch, cancellation, and parking on the ring.
 *
 * Rings.  Each worker owns one ring.  Multi-thread flavor: the ring is
 * created by task_runtime_new() with SINGLE_ISSUER | DEFER_TASKRUN |
 * TASKRUN_FLAG | R_DISABLED and enabled by the worker thread itself before
 * its first use (which makes that thread the single issuer); where the
 * kernel refuses those flags (EINVAL) we fall back to COOP_TASKRUN |
 * TASKRUN_FLAG, then to none.  Current-thread flavor: the ring is driven by
 * whichever thread is inside task_block_on, and that may change between
 * calls, so it is set up without SINGLE_ISSUER, DEFER_TASKRUN or
 * COOP_TASKRUN (task work interrupts the submitting thread, wherever it is).
 * A refused io_uring_setup (EPERM under seccomp or io_uring_disabled,
 * ENOSYS on old kernels) fails task_runtime_new() with that error;
 * task_io_setup_error() puts it in words.
 *
 * Operations (struct task_io, libtask/io.h).  A poll function prepares an
 * SQE on the ring of the worker polling it and arms the op: user_data is
 * the op's address, the op holds a reference to the task (so the frame,
 * which holds the op and usually the buffers, outlives the operation even
 * if the task ends meanwhile), state INFLIGHT.  Nothing is submitted then:
 * the worker submits everything queued in one io_uring_enter when it runs
 * out of tasks, every `global_queue_interval` ticks, and before it parks --
 * so a batch of tasks that each start a read costs one system call, and
 * the completions of a batch are reaped together.
 *
 * Completion.  Only the ring's worker reaps its CQEs.  It writes result and
 * flags into the op, releases the op's completion claim, and the release
 * that drops the claims to zero stores DONE (release) and wakes the task
 * (which consumes the op's reference).  After that store the driver never
 * touches the op again.
 *
 * Cancellation.  A cancelling poll (abort, a lost TASK_SELECT branch) on
 * an INFLIGHT op asks for IORING_OP_ASYNC_CANCEL and sets cx->cancel_wait:
 * the task stays suspended, still cancelling, until the completion arrives
 * (-ECANCELED, or the real result if it won the race), so no memory the
 * kernel may write is released before it is done.  If the task runs on the
 * ring's own worker, it queues the cancel SQE itself.  Otherwise
 * SINGLE_ISSUER forbids it to touch that ring: it adds a claim to the op
 * (only while claims are non-zero, so never on an op already finished),
 * pushes the op on the ring's mailbox and unparks the ring's worker, which
 * submits the cancel if the completion has not arrived yet and then
 * releases that claim.  The op cannot be finished, so cannot be reused
 * (its user_data cannot name a new operation), before both claims are
 * released: the cancel can never hit the wrong operation.
 *
 * Claims: CQE_CLAIM (1 << 16) for the completion plus 1 per mailbox entry.
 * All releases happen on the ring's worker thread; the only other writer
 * is the mailbox pusher's CAS increment.
 *
 * Parking.  A worker with nothing to run parks on its own ring: the parker
 * protocol of park.c on the same state word (EMPTY/PARKED/NOTIFIED), with
 * io_uring_submit_and_wait[_timeout] as the sleep and an eventfd whose
 * read is kept in flight on the ring as the doorbell.  unpark() swaps in
 * NOTIFIED and writes the eventfd only when the old state was PARKED, so
 * a busy worker costs its wakers no system call.  No lost wake-up: the
 * eventfd counter persists until read, so a write that lands before the
 * read is armed completes the read at once.
 *
 * Shutdown.  A worker leaving its loop drains its ring on its own thread
 * (task__io_ring_drain): cancel everything (IORING_ASYNC_CANCEL_ANY) and
 * reap until nothing is in flight, so no operation outlives the runtime's
 * memory.  The tasks those completions wake are then cancelled by the
 * shutdown's registry walk, finding their ops DONE.
 */
#include "io/io-priv.h"

#include <libtask/io.h>

#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define UD_IGNORE ((uint64_t)0) /* cancel requests: nobody waits */
#define UD_EFD ((uint64_t)1)    /* the doorbell read */
#define CQE_CLAIM (UINT32_C(1) << 16)

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

const char *task_io_setup_error(int err)
{
        switch (err) {
        case -EPERM:
                return "io_uring_setup was refused (EPERM): io_uring is "
                       "disabled for this process, by the sysctl "
                       "kernel.io_uring_disabled (set it to 0) or by a seccomp "
                       "profile (Docker's default blocks io_uring: run with a "
                       "profile that allows the io_uring_* system calls)";
        case -ENOSYS:
                return "io_uring_setup does not exist (ENOSYS): this kernel "
                       "has no io_uring (Linux 6.1 or later is recommended)";
        case -EINVAL:
                return "io_uring_setup rejected every flag set we tried "
                       "(EINVAL): the kernel is too old for libtask (Linux 5.19 "
                       "or later is needed)";
        case -ENOMEM:
                return "io_uring_setup ran out of memory (ENOMEM): on kernels "
                       "before 5.12 rings count against RLIMIT_MEMLOCK; raise "
                       "it (ulimit -l) or use fewer workers";
        case -EMFILE:
        case -ENFILE:
                return "no file descriptor left for the ring (EMFILE/ENFILE): "
                       "raise the open-files limit (ulimit -n)";
        default:
                return NULL;
        }
}

/* ---- Rings ------------------------------------------------------------------ */

int task__io_ring_init(struct task__io_ring *r, struct task__worker *w,
                       bool single_issuer, unsigned entries)
{
        static const unsigned mt_flags[] = {
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED,
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                IORING_SETUP_R_DISABLED,
            IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
            IORING_SETUP_COOP_TASKRUN,
            0,
        };
        static const unsigned ct_flags[] = {0};
        const unsigned *tries = single_issuer ? mt_flags : ct_flags;
        size_t ntries = single_issuer ? sizeof(mt_flags) / sizeof(*mt_flags)
                                      : sizeof(ct_flags) / sizeof(*ct_flags);
        int rc = -EINVAL;

        memset(r, 0, sizeof(*r));
        r->w = w;
        atomic_init(&r->mailbox, NULL);
        if (task__fault_alloc())
                return -ENOMEM;
        r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->efd < 0)
                return -errno;
        for (size_t i = 0; i < ntries; i++) {
                struct io_uring_params p;
                memset(&p, 0, sizeof(p));
                p.flags =
                    tries[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
                p.cq_entries = entries * 16;
                rc = io_uring_queue_init_params(entries, &r->ring, &p);
                if (rc == -EINVAL) {
                        /* Older kernels: without SUBMIT_ALL. */
                        memset(&p, 0, sizeof(p));
                        p.flags = tries[i] | IORING_SETUP_CQSIZE;
                        p.cq_entries = entries * 16;
                        rc = io_uring_queue_init_params(entries, &r->ring, &p);
                }
                if (rc == 0) {
                        r->setup_flags = p.flags;
                        break;
                }
                if (rc != -EINVAL)
                        break; /* EPERM, ENOSYS, ENOMEM: no flag helps */
        }
        if (rc) {
                close(r->efd);
                r->efd = -1;
                return rc;
        }
        r->initialised = true;
        r->defer_taskrun = (r->setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0;
        /* Deferred (or cooperative) task work without TASKRUN_FLAG:
         * nothing tells us completions are pending, so a worker with
         * operations in flight must ask. */
        r->blind = (r->setup_flags &
                    (IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN)) &&
                   !(r->setup_flags & IORING_SETUP_TASKRUN_FLAG);
        r->enabled = !(r->setup_flags & IORING_SETUP_R_DISABLED);
        return 0;
}

int task__io_ring_enable(struct task__io_ring *r)
{
        if (r->enabled)
                return 0;
        /* Debian's liburing 2.3 declares io_uring_enable_rings() but its
         * shared object does not export it: the system call itself. */
        if (syscall(__NR_io_uring_register, r->ring.ring_fd,
                    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
                return -errno;
        r->enabled = true;
        return 0;
}

void task__io_ring_destroy(struct task__io_ring *r)
{
        /* The eventfd is open exactly when the ring is. */
        if (!r->initialised)
                return;
        io_uring_queue_exit(&r->ring);
        close(r->efd);
        r->efd = -1;
        r->initialised = false;
}

/* ---- Completions ------------------------------------------------------------ */

/*
 * Release claims on @op (ring owner's thread only).  The release that drops
 * them to zero finishes the op: DONE, then wake.
 */
static void op_release(struct task_io *op, uint32_t claim)
{
        /* acq_rel: the last release sees the other claim holders' writes
         * (a mailbox pusher's increment) before it finishes the op. */
        uint32_t prev =
            atomic_fetch_sub_explicit(&op->claims, claim, memory_order_acq_rel);
        if (prev != claim)
                return;
        struct task *t = op->task;
        op->task = NULL;
        /* Release: result and flags are visible to the task that loads DONE
         * (task__io_begin, acquire).  After this store the op is the task's:
         * not one more access. */
        atomic_store_explicit(&op->state, TASK_IO_DONE, memory_order_release);
        task_wake(t);
}

static unsigned reap(struct task__io_ring *r)
{
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;

        io_uring_for_each_cqe(&r->ring, head, cqe)
        {
                n++;
                uint64_t ud = cqe->user_data;
                if (ud == UD_IGNORE || ud == LIBURING_UDATA_TIMEOUT)
                        continue;
                if (ud == UD_EFD) {
                        r->efd_armed = false;
                        continue;
                }
                struct task_io *op = (struct task_io *)(uintptr_t)ud;
                op->result = cqe->res;
                op->cqe_flags = cqe->flags;
                r->inflight--;
                op_release(op, CQE_CLAIM);
        }
        if (n)
                io_uring_cq_advance(&r->ring, n);
        return n;
}

/*
 * An SQE, submitting (and if need be reaping) to make room; NULL only if
 * the ring keeps refusing submissions for another reason than a backed-up
 * completion side (a ring that could not be enabled).
 */
static struct io_uring_sqe *get_sqe(struct task__io_ring *r)
{
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

        for (int tries = 0; TASK__UNLIKELY_(!sqe); tries++) {
                int rc = r->defer_taskrun
                             ? io_uring_submit_and_get_events(&r->ring)
                             : io_uring_submit(&r->ring);
                if (rc >= 0)
                        r->unsubmitted -= (unsigned)rc < r->unsubmitted
                                              ? (unsigned)rc
                                              : r->unsubmitted;
                else if (rc != -EBUSY && rc != -EAGAIN && rc != -EINTR &&
                         tries >= 8)
                        return NULL;
                /* -EBUSY/-EAGAIN: the completion side is backed up; make
                 * room there, then try again. */
                reap(r);
                sqe = io_uring_get_sqe(&r->ring);
        }
        r->unsubmitted++;
        return sqe;
}

static void prep_cancel(struct task__io_ring *r, struct task_io *op)
{
        struct io_uring_sqe *sqe = get_sqe(r);
        if (!sqe)
                return; /* the operation completes on its own, later */
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
        io_uring_sqe_set_data64(sqe, UD_IGNORE);
}

/*
 * Take the cross-worker cancel requests and release their claims; with
 * @cancel (the ring owner's thread), first ask the kernel to cancel those
 * whose completion has not been reaped yet.
 */
static void release_mailbox(struct task__io_ring *r, bool cancel)
{
        /* Acquire: pairs with the pushers' release CAS, so each op's
         * cancel_next is visible. */
        struct task_io *op =
            atomic_exchange_explicit(&r->mailbox, NULL, memory_order_acquire);
        while (op) {
                struct task_io *next = op->cancel_next;
                if (cancel &&
                    (atomic_load_explicit(&op->claims, memory_order_relaxed) &
                     ~(CQE_CLAIM - 1)))
                        prep_cancel(r, op);
                op_release(op, 1);
                op = next;
        }
}

static void take_mailbox(struct task__io_ring *r)
{
        /* Relaxed peek first: an empty mailbox is the common case. */
        if (atomic_load_explicit(&r->mailbox, memory_order_relaxed))
                release_mailbox(r, true);
}

void task__io_ring_orphan_mailbox(struct task__io_ring *r)
{
        /* The ring was drained: no completion is outstanding, so each
         * release is the last claim and finishes its op. */
        release_mailbox(r, false);
}

/* Deferred completions waiting for a kernel entry (TASKRUN_FLAG rings). */
static bool taskrun_pending(struct task__io_ring *r)
{
        return (IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_TASKRUN) !=
               0;
}

/* Submit what is queued and collect what completed (no waiting). */
static void enter(struct task__io_ring *r)
{
        bool taskrun = taskrun_pending(r);
        int rc = 0;

        if (r->unsubmitted)
                rc = (r->defer_taskrun || taskrun)
                         ? io_uring_submit_and_get_events(&r->ring)
                         : io_uring_submit(&r->ring);
        else if (taskrun || (r->blind && r->inflight))
                rc = io_uring_get_events(&r->ring);
        if (rc >= 0)
                r->unsubmitted = 0;
}

bool task__io_ring_has_work(struct task__io_ring *r)
{
        return r->unsubmitted || io_uring_cq_ready(&r->ring) ||
               atomic_load_explicit(&r->mailbox, memory_order_relaxed) ||
               (r->blind && r->inflight) || taskrun_pending(r);
}

unsigned task__io_ring_poll(struct task__io_ring *r)
{
        take_mailbox(r);
        enter(r);
        return reap(r);
}

/* ---- Parking ---------------------------------------------------------------- */

enum { P_EMPTY = 0, P_PARKED = 1, P_NOTIFIED = 2 };

void task__io_ring_park(struct task__io_ring *r, int64_t timeout_ns)
{
        struct task__parker *p = &r->w->parker;
        uint32_t exp = P_NOTIFIED;

        /* Acquire: whatever the unparker published before unpark is seen. */
        if (atomic_compare_exchange_strong_explicit(&p->state, &exp, P_EMPTY,
                                                    memory_order_acquire,
                                                    memory_order_relaxed)) {
                task__io_ring_poll(r);
                return;
        }
        exp = P_EMPTY;
        if (!atomic_compare_exchange_strong_explicit(&p->state, &exp, P_PARKED,
                                                     memory_order_acquire,
                                                     memory_order_relaxed)) {
                /* It became NOTIFIED in between. */
                atomic_store_explicit(&p->state, P_EMPTY, memory_order_relaxed);
                atomic_thread_fence(memory_order_acquire);
                task__io_ring_poll(r);
                return;
        }
        if (TASK__UNLIKELY_(!r->enabled)) {
                /* A ring its thread could not enable: sleep on the
                 * doorbell alone (no I/O can be in flight on it). */
                struct pollfd pfd = {.fd = r->efd, .events = POLLIN};
                int ms = timeout_ns < 0 ? -1 : (int)(timeout_ns / 1000000);
                if (poll(&pfd, 1, ms) > 0) {
                        ssize_t n =
                            read(r->efd, &r->efd_buf, sizeof(r->efd_buf));
                        (void)n;
                }
                atomic_exchange_explicit(&p->state, P_EMPTY,
                                         memory_order_acquire);
                return;
        }
        if (!r->efd_armed) {
                struct io_uring_sqe *sqe = get_sqe(r);
                if (sqe) {
                        io_uring_prep_read(sqe, r->efd, &r->efd_buf,
                                           sizeof(r->efd_buf), 0);
                        io_uring_sqe_set_data64(sqe, UD_EFD);
                        r->efd_armed = true;
                }
        }
        take_mailbox(r);
        /* Making room for an SQE (get_sqe) or taking the mailbox may have
         * reaped completions and woken tasks onto this worker: then do not
         * sleep. */
        if (io_uring_cq_ready(&r->ring) || r->w->lifo ||
            task__queue_len(&r->w->q)) {
                enter(r);
        } else {
                struct io_uring_cqe *cqe;
                int rc;
                if (timeout_ns >= 0) {
                        struct __kernel_timespec ts = {
                            .tv_sec = timeout_ns / 1000000000,
                            .tv_nsec = timeout_ns % 1000000000,
                        };
                        rc = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1,
                                                              &ts, NULL);
                } else {
                        rc = io_uring_submit_and_wait(&r->ring, 1);
                }
                /* -ETIME, -EINTR: fine, the caller loops.  Whatever the
                 * outcome, the queued SQEs were handed over. */
                (void)rc;
                r->unsubmitted = 0;
        }
        /* Acquire: pairs with the unparker's release swap. */
        atomic_exchange_explicit(&p->state, P_EMPTY, memory_order_acquire);
        take_mailbox(r);
        reap(r);
}

void task__io_ring_unpark(struct task__io_ring *r)
{
        struct task__parker *p = &r->w->parker;

        /* Release: publishes the unparker's writes to the parked thread. */
        if (atomic_exchange_explicit(&p->state, P_NOTIFIED,
                                     memory_order_release) == P_PARKED) {
                uint64_t one = 1;
                /* EAGAIN (the counter is full) still leaves it readable. */
                ssize_t n = write(r->efd, &one, sizeof(one));
                (void)n;
        }
}

void task__io_ring_drain(struct task__io_ring *r)
{
        if (!r->initialised || !r->enabled)
                return;
        take_mailbox(r);
        while (r->inflight || r->efd_armed) {
                struct io_uring_sqe *sqe = get_sqe(r);
                io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
                io_uring_sqe_set_data64(sqe, UD_IGNORE);
                /* Bounded waits: an operation the kernel cannot cancel at
                 * once (a blocking file read in io-wq) is asked again. */
                struct __kernel_timespec ts = {.tv_sec = 0,
                                               .tv_nsec = 100 * 1000000};
                struct io_uring_cqe *cqe;
                (void)io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts,
                                                       NULL);
                r->unsubmitted = 0;
                take_mailbox(r);
                reap(r);
        }
        if (r->unsubmitted)
                enter(r);
        reap(r);
}

/* ---- The parking driver ------------------------------------------------------ */

static void uring_park(struct task__worker *w, int64_t timeout_ns)
{
        task__io_ring_park(&w->io, timeout_ns);
}

static void uring_unpark(struct task__worker *w)
{
        task__io_ring_unpark(&w->io);
}

const struct task__driver_ops task__uring_driver = {
    .name = "io_uring",
    .park = uring_park,
    .unpark = uring_unpark,
};

/* ---- Operations ------------------------------------------------------------- */

static void op_reset(struct task_io *op)
{
        /* Relaxed: an IDLE op is its task's alone. */
        atomic_store_explicit(&op->state, TASK_IO_IDLE, memory_order_relaxed);
        op->ring = NULL;
        op->tflags = 0;
}

static void request_cancel(struct task_cx *cx, struct task_io *op)
{
        struct task__worker *w = task__current_worker(cx->rt);
        struct task__io_ring *r = op->ring;

        if (w && &w->io == r) {
                prep_cancel(r, op);
                return;
        }
        /* Another worker's ring: add a claim, unless the op is finishing
         * (claims already zero: DONE and a wake are on their way). */
        uint32_t c = atomic_load_explicit(&op->claims, memory_order_relaxed);
        do {
                if (c == 0)
                        return;
        } while (!atomic_compare_exchange_weak_explicit(&op->claims, &c, c + 1,
                                                        memory_order_relaxed,
                                                        memory_order_relaxed));
        struct task_io *head =
            atomic_load_explicit(&r->mailbox, memory_order_relaxed);
        do {
                op->cancel_next = head;
                /* Release: the owner's acquire exchange sees cancel_next. */
        } while (!atomic_compare_exchange_weak_explicit(&r->mailbox, &head, op,
                                                        memory_order_release,
                                                        memory_order_relaxed));
        task__io_ring_unpark(r);
}

int task__io_begin(struct task_cx *cx, struct task_io *op, int32_t *res)
{
        /* Acquire: pairs with op_release's release store of DONE. */
        uint32_t st = atomic_load_explicit(&op->state, memory_order_acquire);

        if (TASK__UNLIKELY_(cx->cancelling)) {
                if (st == TASK_IO_DONE)
                        op_reset(op);
                if (st != TASK_IO_INFLIGHT)
                        return TASK__IO_WAIT;
                if (!(op->tflags & TASK__IO_TF_CANCEL_SENT)) {
                        op->tflags |= TASK__IO_TF_CANCEL_SENT;
                        request_cancel(cx, op);
                }
                cx->cancel_wait = 1;
                return TASK__IO_WAIT;
        }
        if (st == TASK_IO_IDLE)
                return TASK__IO_START;
        if (st == TASK_IO_INFLIGHT)
                return TASK__IO_WAIT;
        *res = op->result;
        op_reset(op);
        return TASK__IO_READY;
}

struct io_uring_sqe *task__io_sqe(struct task_cx *cx, int32_t *err)
{
        struct task__worker *w = task__current_worker(cx->rt);

        if (TASK__UNLIKELY_(!w || !w->io.enabled)) {
                *err = -ESHUTDOWN;
                return NULL;
        }
        struct io_uring_sqe *sqe = get_sqe(&w->io);
        if (TASK__UNLIKELY_(!sqe))
                *err = -EIO;
        return sqe;
}

void task__io_arm(struct task_cx *cx, struct task_io *op,
                  struct io_uring_sqe *sqe)
{
        struct task__worker *w = task__current_worker(cx->rt);
        struct task__io_ring *r = &w->io;

        op->ring = r;
        op->task = task_cx_waker(cx);
        op->tflags = 0;
        /* Relaxed: until the completion, only this thread (the ring's
         * owner) and mailbox pushers (CAS) touch the claims; the state is
         * read by the task, which is this thread until it suspends. */
        atomic_store_explicit(&op->claims, CQE_CLAIM, memory_order_relaxed);
        atomic_store_explicit(&op->state, TASK_IO_INFLIGHT,
                              memory_order_relaxed);
        io_uring_sqe_set_data(sqe, op);
        r->inflight++;
}

int task__io_reserve(struct task_cx *cx, unsigned n)
{
        struct task__worker *w = task__current_worker(cx->rt);

        if (TASK__UNLIKELY_(!w || !w->io.enabled))
                return -ESHUTDOWN;
        if (n > w->io.ring.sq.ring_entries)
                return -EINVAL;
        while (io_uring_sq_space_left(&w->io.ring) < n) {
                /* Hand the queue over (and make room on the completion
                 * side if it is backed up, as get_sqe does). */
                enter(&w->io);
                reap(&w->io);
        }
        return 0;
}

void task__io_flush_current(void)
{
        struct task__worker *w = task__tls_worker;

        if (w && w->io.enabled && w->io.unsubmitted)
                enter(&w->io);
}

struct io_uring *task__io_uring_of(struct task_cx *cx)
{
        struct task__worker *w = task__current_worker(cx->rt);
        return (w && w->io.enabled) ? &w->io.ring : NULL;
}
