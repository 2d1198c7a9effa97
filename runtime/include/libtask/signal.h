/*
 * libtask/signal.h - await Unix signals (SIGINT, SIGTERM, SIGHUP, ...) from
 * a task.  Tokio's tokio::signal::unix::signal() and Signal::recv().
 *
 *     struct srv { TASK_FRAME; struct task_signal term;
 *                  struct task_signal_recv op; int rc; ... };
 *     ...
 *     task_signal_open(&f->term, SIGTERM);
 *     TASK_SIGNAL_RECV(f, &f->term, &f->op, &f->rc);   // rc == 0: got one
 *     ... shut down gracefully ...
 *     task_signal_close(&f->term);
 *
 * A struct task_signal is a *listener*: a registration for one signal
 * number.  Every delivery of that signal after task_signal_open() returned
 * is seen at least once by every listener open for it, by its next receive.
 * Deliveries coalesce, as in Tokio and as the kernel itself does for
 * standard signals: several deliveries between two receives may be seen as
 * one.  Listeners are process-wide and belong to no runtime: tasks of any
 * runtime, and plain threads (task_signal_recv_blocking()), may receive.
 *
 * How: while a signal has listeners, libtask's handler is installed for it
 * (sigaction, SA_RESTART).  The handler is async-signal-safe: an atomic
 * increment of the signal's delivery counter and a write() to an eventfd.
 * One internal thread (started with the first listener of any signal,
 * stopped with the last; it blocks every signal itself) reads the eventfd
 * and wakes the receivers of each signal whose counter moved.  No signal is
 * blocked in the caller's threads.
 *
 * Dispositions: the first listener of a signal replaces its disposition
 * (whatever it was: SIG_DFL, SIG_IGN or a handler of yours, which is not
 * called while libtask's is installed); the last listener's
 * task_signal_close() restores it.  So a SIGINT that would have killed the
 * process only wakes the listeners while one is open, and kills it again
 * after they are all closed.
 *
 * Not allowed (-EINVAL): SIGKILL and SIGSTOP (the kernel refuses), and the
 * synchronous fault signals SIGSEGV, SIGBUS, SIGFPE and SIGILL (a fault
 * cannot be returned from and handled later; Tokio forbids the same set).
 * glibc's internal real-time signals are refused by sigaction (-EINVAL).
 *
 * The caller allocates the listener and the receive op (in a frame or
 * elsewhere) and keeps them valid from open to close and for as long as a
 * receive on them runs.  Not fork-safe: a child inherits the dispositions
 * but not the internal thread; open listeners only in the process that
 * receives.
 *
 * Cancellation: a receive is cancellation-safe: an aborted receive (or a
 * TASK_SELECT branch that lost) leaves the listener as it was: a delivery
 * it had not consumed is seen by the next receive.
 */
#ifndef LIBTASK_SIGNAL_H
#define LIBTASK_SIGNAL_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/wait.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A listener.  `seen` is the delivery count its receives have consumed
 * (its owner's); `open` is set by open and cleared by close.
 */
struct task_signal {
        int signo;
        _Atomic int open;
        uint64_t seen;
};

/* A receive in progress: keep it in the frame, zeroed before first use. */
struct task_signal_recv {
        struct task_wait w;
};

/*
 * task_signal_open - start listening for @signo with @sig.  Deliveries
 * from now on are seen by @sig's receives.  Returns 0; -EINVAL (NULL @sig,
 * @signo out of range or not allowed, see above); or, for the first
 * listener of the process, the -errno of a failed eventfd() (-EMFILE,
 * -ENFILE, -ENOMEM) or pthread_create() (-EAGAIN).  On failure nothing was
 * installed.  @sig must not be open already.
 */
TASK_API int task_signal_open(struct task_signal *sig, int signo);

/*
 * task_signal_close - stop listening: a receive waiting on @sig completes
 * with -EPIPE, and so does every later receive.  The last listener of its
 * signal restores the signal's previous disposition; the last listener of
 * the process stops the internal thread and closes its eventfd.  @sig's
 * memory is the caller's again once no receive runs on it.  Returns 0, or
 * -EINVAL (NULL, or not open).
 */
TASK_API int task_signal_close(struct task_signal *sig);

/*
 * task_signal_recv_poll - the poll of a receive (TASK_SIGNAL_RECV): true
 * when done, with *@rc (if not NULL) 0 (a delivery since the last receive,
 * or since the open), -EPIPE (@sig is closed) or -EINVAL (NULL argument).
 * False while the task waits.  Uses one unit of cooperative budget when a
 * delivery is ready.  Only one receive at a time per listener.
 */
TASK_API bool task_signal_recv_poll(struct task_cx *cx, struct task_signal *sig,
                                    struct task_signal_recv *op, int *rc);

/* TASK_SIGNAL_RECV(f, sig, op, rcp) - await the next delivery to @sig. */
#define TASK_SIGNAL_RECV(f, sig, op, rcp)                                      \
        TASK_AWAIT(f, task_signal_recv_poll((cx), (sig), (op), (rcp)))

/*
 * task_signal_recv_blocking - block the calling thread until a delivery to
 * @sig (0) or its close (-EPIPE).  -EINVAL; -EDEADLK on a runtime worker
 * thread (it would block the worker).
 */
TASK_API int task_signal_recv_blocking(struct task_signal *sig);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_SIGNAL_H */
