/*
 * signal.c - awaiting Unix signals (libtask/signal.h).
 *
 * Three parties, and what each may do:
 *
 *  - The handler (sig_handler, in signal context, on any thread that does
 *    not block the signal): only async-signal-safe steps: lock-free atomic
 *    RMWs on `sig_count[signo]` and `sig_inflight`, an atomic load of
 *    `sig_efd`, and write() to it.  errno is saved and restored.
 *  - The dispatcher thread (one per process while any listener is open;
 *    every signal blocked in it): blocks in read() on the eventfd; after
 *    each read it compares every signal's counter with what it last saw
 *    and, for each that moved, completes every receive queued for that
 *    signal (they look again, see below).
 *  - Receivers (task polls, blocking threads): a receive is ready when the
 *    signal's counter differs from the listener's `seen`; it then sets
 *    `seen` to the counter (consuming every delivery so far: coalescing).
 *    Otherwise it queues a wait node on `sig_waiters[signo]` under
 *    `sig_lock`, after checking the counter once more under the lock.
 *
 * No lost wake-up: the handler increments the counter before it writes the
 * eventfd; the dispatcher loads the counters after its read() returns, then
 * takes sig_lock to complete the queued nodes.  A receiver that queued
 * before that lock is completed; one that takes the lock after it sees the
 * new count in its check under the lock (the dispatcher's load read it,
 * and the lock orders the receiver's load after that one, so it cannot
 * read an older value).  (The eventfd's write-then-read is kernel
 * synchronisation, outside C11's model: the counter's increment and loads
 * are seq_cst, and a syscall is a full barrier on every Linux
 * architecture.)  A completion is only a hint, with result 0: the receiver
 * re-checks the counter, so a completion for deliveries it has already
 * consumed (or that came before its listener opened) queues it again.
 *
 * Registration (open/close, under `reg_mu`, a pthread mutex: it may sleep
 * while starting or joining the dispatcher): per signal, the number of
 * listeners and the disposition that the first one replaced; the last one
 * restores it.  The first listener of the process creates the eventfd and
 * the dispatcher; the last one stops them, in this order (all handlers
 * are already restored by then):
 *
 *  1. store sig_efd = -1 (seq_cst);
 *  2. wait until sig_inflight is 0 (seq_cst loads).  A handler increments
 *     sig_inflight (seq_cst) before it loads sig_efd (seq_cst): a
 *     store-buffering pair, so either the handler sees -1 or step 2 sees
 *     it in flight and waits for it.  No handler writes to the fd after
 *     this, so its number cannot be reused under a late write();
 *  3. tell the dispatcher to stop, write the eventfd, join it, close it.
 *
 * Closing a listener completes its queued receive with -EPIPE (under
 * sig_lock, after clearing `open`, which receivers check under the same
 * lock before they queue).
 */
#include "runtime-priv.h"
#include "sync/wait-priv.h"

#include <libtask/signal.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/*
 * The handler may only use lock-free atomics: an atomic that is not
 * lock-free is emulated with a lock (libatomic), and a handler that
 * interrupts its own thread while that thread holds the lock deadlocks, so
 * only lock-free atomics are async-signal-safe (C11 7.14.1.1p5).  It uses
 * atomic_int (sig_efd, sig_inflight) and _Atomic uint64_t (sig_count),
 * which is long or long long depending on the ABI.
 */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2 &&
                   ATOMIC_LLONG_LOCK_FREE == 2,
               "the signal handler's atomics must be always lock-free");

/* Delivery counters, incremented by the handler. */
static _Atomic uint64_t sig_count[NSIG];
/* The eventfd the handler writes, or -1. */
static atomic_int sig_efd = -1;
/* Handlers between their first and last step. */
static atomic_int sig_inflight;

/* Queued receives per signal, under sig_lock. */
static struct task__spinlock sig_lock;
static struct task_waitq sig_waiters[NSIG];

/* Registration, under reg_mu. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned reg_listeners[NSIG];
static unsigned reg_total;
static struct sigaction reg_old[NSIG];
static pthread_t disp_thread;
static int disp_fd = -1;
/* Set (under reg_mu) to stop the dispatcher; read by it after a read(). */
static atomic_bool disp_stop;

static void sig_cancel(struct task_wait *w);

static const struct task_wait_ops sig_wait_ops = {
    .cancel = sig_cancel,
};

/* ---- The handler ---------------------------------------------------------- */

static void sig_handler(int signo)
{
        int saved = errno;

        /* Seq_cst: see steps 1-2 at the head of this file. */
        atomic_fetch_add_explicit(&sig_inflight, 1, memory_order_seq_cst);
        /* Seq_cst: before the eventfd write that announces it. */
        atomic_fetch_add_explicit(&sig_count[signo], 1, memory_order_seq_cst);
        int fd = atomic_load_explicit(&sig_efd, memory_order_seq_cst);
        if (fd >= 0) {
                uint64_t one = 1;
                ssize_t r = write(fd, &one, sizeof one);
                (void)r; /* a full counter (2^64 - 2) cannot happen */
        }
        /* Release: the closer's acquire load of 0 orders our write()
         * before its close(). */
        atomic_fetch_sub_explicit(&sig_inflight, 1, memory_order_release);
        errno = saved;
}

static bool signo_allowed(int signo)
{
        if (signo <= 0 || signo >= NSIG)
                return false;
        switch (signo) {
        case SIGKILL:
        case SIGSTOP:
        case SIGSEGV:
        case SIGBUS:
        case SIGFPE:
        case SIGILL:
                return false;
        default:
                return true;
        }
}

/* ---- Waking receivers ----------------------------------------------------- */

/*
 * Complete the receives queued for @signo: all of them (@only NULL,
 * result 0: look again), or those on the listener @only (result -EPIPE).
 */
static void complete_waiters(int signo, struct task_signal *only, int result)
{
        struct task__wakelist wl;
        struct task_wait *w, *next;

        task__wakelist_init(&wl);
        task__spin_lock(&sig_lock);
        for (w = sig_waiters[signo].head; w; w = next) {
                next = w->next;
                if (only && w->obj != only)
                        continue;
                if (task__wakelist_full(&wl)) {
                        task__spin_unlock(&sig_lock);
                        task__wakelist_wake(&wl);
                        task__spin_lock(&sig_lock);
                        /* The queue may have changed: start over (nodes
                         * completed so far are gone from it). */
                        next = sig_waiters[signo].head;
                        continue;
                }
                task__waitq_remove(&sig_waiters[signo], w);
                w->result = result;
                task__wait_complete(&wl, w);
        }
        task__spin_unlock(&sig_lock);
        task__wakelist_wake(&wl);
}

/* ---- The dispatcher ------------------------------------------------------- */

static void *dispatcher(void *arg)
{
        int fd = (int)(intptr_t)arg;
        /*
         * The counts this thread has acted on.  Zero, not a snapshot of
         * the counters: a value recorded here must have been followed by a
         * completion pass under sig_lock (the no-lost-wake-up argument at
         * the head of this file), and a snapshot taken as the thread starts
         * would swallow deliveries made meanwhile to receivers already
         * queued.  The first pass may wake receivers for older deliveries:
         * a hint they check, and requeue.
         */
        uint64_t seen[NSIG] = {0};
        for (;;) {
                uint64_t v;
                ssize_t r = read(fd, &v, sizeof v);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        /* Cannot happen on our own blocking eventfd, but
                         * if it did, retrying at once would spin: fall back
                         * to polling the counters (and disp_stop) every
                         * 10 ms, which loses nothing, only latency. */
                        struct timespec ts = {0, 10 * 1000000};
                        nanosleep(&ts, NULL);
                }
                /* Relaxed: reg_mu's holder wrote it before its write() to
                 * the eventfd and joins us; nothing else is read. */
                if (atomic_load_explicit(&disp_stop, memory_order_relaxed))
                        break;
                for (int s = 1; s < NSIG; s++) {
                        uint64_t c = atomic_load_explicit(&sig_count[s],
                                                          memory_order_seq_cst);
                        if (c == seen[s])
                                continue;
                        seen[s] = c;
                        complete_waiters(s, NULL, 0);
                }
        }
        return NULL;
}

/* Under reg_mu: create the eventfd and start the dispatcher. */
static int dispatcher_start(void)
{
        pthread_attr_t attr;
        sigset_t all;
        int fd, rc;

        fd = eventfd(0, EFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        rc = pthread_attr_init(&attr);
        if (rc)
                goto out_close;
        /* The dispatcher never runs the handler: it blocks every signal,
         * from its first instruction (no mask change in the caller). */
        sigfillset(&all);
        rc = pthread_attr_setsigmask_np(&attr, &all);
        if (rc == 0)
                rc = pthread_create(&disp_thread, &attr, dispatcher,
                                    (void *)(intptr_t)fd);
        pthread_attr_destroy(&attr);
        if (rc)
                goto out_close;
        pthread_setname_np(disp_thread, "task-signal");
        disp_fd = fd;
        /* Seq_cst: published before any handler is installed (the
         * sigaction call orders it anyway). */
        atomic_store_explicit(&sig_efd, fd, memory_order_seq_cst);
        return 0;

out_close:
        close(fd);
        return -rc;
}

/* Under reg_mu, with every handler restored: steps 1-3 (head of file). */
static void dispatcher_stop(void)
{
        uint64_t one = 1;
        ssize_t r;

        atomic_store_explicit(&sig_efd, -1, memory_order_seq_cst);
        /* Seq_cst (so also acquire, pairing with the handler's release
         * decrement): the load of step 2's store-buffering pair. */
        while (atomic_load_explicit(&sig_inflight, memory_order_seq_cst))
                sched_yield();
        atomic_store_explicit(&disp_stop, true, memory_order_relaxed);
        do {
                r = write(disp_fd, &one, sizeof one);
        } while (r < 0 && errno == EINTR);
        pthread_join(disp_thread, NULL);
        atomic_store_explicit(&disp_stop, false, memory_order_relaxed);
        close(disp_fd);
        disp_fd = -1;
}

/* ---- Open and close ------------------------------------------------------- */

int task_signal_open(struct task_signal *sig, int signo)
{
        int rc;

        if (!sig || !signo_allowed(signo))
                return -EINVAL;
        pthread_mutex_lock(&reg_mu);
        if (reg_total == 0) {
                rc = dispatcher_start();
                if (rc)
                        goto out_unlock;
        }
        if (reg_listeners[signo] == 0) {
                struct sigaction sa;
                memset(&sa, 0, sizeof sa);
                sa.sa_handler = sig_handler;
                sigemptyset(&sa.sa_mask);
                sa.sa_flags = SA_RESTART;
                if (sigaction(signo, &sa, &reg_old[signo]) < 0) {
                        rc = -errno;
                        if (reg_total == 0)
                                dispatcher_stop();
                        goto out_unlock;
                }
        }
        reg_listeners[signo]++;
        reg_total++;
        sig->signo = signo;
        /* Deliveries counted so far happened before the open. */
        sig->seen =
            atomic_load_explicit(&sig_count[signo], memory_order_seq_cst);
        /* Relaxed: reg_mu and sig_lock order it for close and receivers
         * of other threads; the owner's own receives follow in order. */
        atomic_store_explicit(&sig->open, 1, memory_order_relaxed);
        rc = 0;
out_unlock:
        pthread_mutex_unlock(&reg_mu);
        return rc;
}

int task_signal_close(struct task_signal *sig)
{
        if (!sig)
                return -EINVAL;
        pthread_mutex_lock(&reg_mu);
        if (!atomic_load_explicit(&sig->open, memory_order_relaxed)) {
                pthread_mutex_unlock(&reg_mu);
                return -EINVAL;
        }
        int signo = sig->signo;
        /* Under sig_lock: a receiver checks `open` under it before it
         * queues, so it either sees the close or is completed below. */
        task__spin_lock(&sig_lock);
        atomic_store_explicit(&sig->open, 0, memory_order_relaxed);
        task__spin_unlock(&sig_lock);
        complete_waiters(signo, sig, -EPIPE);
        if (--reg_listeners[signo] == 0)
                sigaction(signo, &reg_old[signo], NULL);
        if (--reg_total == 0)
                dispatcher_stop();
        pthread_mutex_unlock(&reg_mu);
        return 0;
}

/* ---- Receiving ------------------------------------------------------------ */

/* A delivery not yet consumed by @sig? */
static bool sig_pending(struct task_signal *sig)
{
        return atomic_load_explicit(&sig_count[sig->signo],
                                    memory_order_seq_cst) != sig->seen;
}

static void sig_consume(struct task_signal *sig)
{
        sig->seen =
            atomic_load_explicit(&sig_count[sig->signo], memory_order_seq_cst);
}

/*
 * Under nothing: queue @w for @sig (task @cx, or the calling thread with
 * @cx NULL) unless a delivery is pending (1) or @sig is closed (-EPIPE).
 * Returns 0 when queued.
 */
static int sig_queue(struct task_cx *cx, struct task_signal *sig,
                     struct task_wait *w)
{
        int r = 0;

        task__spin_lock(&sig_lock);
        if (!atomic_load_explicit(&sig->open, memory_order_relaxed)) {
                r = -EPIPE;
        } else if (sig_pending(sig)) {
                r = 1;
        } else {
                w->arg = (uint64_t)sig->signo;
                w->result = 0;
                task__wait_enqueue(cx, &sig_waiters[sig->signo], w, sig,
                                   &sig_wait_ops);
        }
        task__spin_unlock(&sig_lock);
        return r;
}

static void sig_cancel(struct task_wait *w)
{
        task__spin_lock(&sig_lock);
        uint32_t st = task__wait_state(w);
        if (st == TASK_WAIT_QUEUED)
                task__wait_unqueue(&sig_waiters[w->arg], w);
        else if (st == TASK_WAIT_DONE)
                task__wait_reset(w); /* a hint or a close: nothing to give */
        task__spin_unlock(&sig_lock);
}

bool task_signal_recv_poll(struct task_cx *cx, struct task_signal *sig,
                           struct task_signal_recv *op, int *rc)
{
        int r;

        if (!cx || !sig || !op) {
                if (rc)
                        *rc = -EINVAL;
                return !(cx && cx->cancelling);
        }
        struct task_wait *w = &op->w;
        switch (task__wait_poll_begin(cx, w, sig)) {
        case TASK__WAIT_CANCELLED:
        case TASK_WAIT_QUEUED:
                return false;
        case TASK_WAIT_DONE:
                r = w->result;
                task__wait_reset(w);
                if (r < 0)
                        goto out; /* closed */
                break;            /* a hint: look again */
        }
        if (!atomic_load_explicit(&sig->open, memory_order_relaxed)) {
                r = -EPIPE;
                goto out;
        }
        if (!sig_pending(sig)) {
                r = sig_queue(cx, sig, w);
                if (r == 0)
                        return false;
                if (r < 0)
                        goto out;
        }
        if (!task_coop_proceed(cx))
                return false; /* not consumed: the task yields */
        sig_consume(sig);
        r = 0;
out:
        if (rc)
                *rc = r;
        return true;
}

int task_signal_recv_blocking(struct task_signal *sig)
{
        struct task_signal_recv op = {0};
        int r;

        if (!sig)
                return -EINVAL;
        if (task__on_worker())
                return -EDEADLK;
        for (;;) {
                if (!atomic_load_explicit(&sig->open, memory_order_relaxed))
                        return -EPIPE;
                if (sig_pending(sig))
                        break;
                r = sig_queue(NULL, sig, &op.w);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                task__wait_block(&op.w);
                r = op.w.result;
                task__wait_reset(&op.w);
                if (r < 0)
                        return r;
        }
        sig_consume(sig);
        return 0;
}
