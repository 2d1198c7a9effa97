/*
 * test_driver.c - the io_uring driver (runtime/src/io/driver.c) below the
 * socket layer: operations built straight on task__io_begin/sqe/arm (a
 * read on a pipe), completion and wake-up on both flavors, batching of many
 * operations, abort with an operation in flight (the task's cleanup runs
 * only after the kernel has let go of the buffer, thousands of times, also
 * from another worker than the ring's), a TASK_SELECT whose losing branch
 * is an I/O, shutdown with operations in flight, ring options and the setup
 * error words.
 */
#include "helpers.h"

#include "io/io-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libtask/sync.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- A minimal operation: read(2) on an fd through the ring ------------- */

static bool pipe_read_poll(struct task_cx *cx, int fd, struct task_io *op,
                           void *buf, size_t len, int *rc)
{
        int32_t res;

        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                *rc = res;
                return true;
        }
        struct io_uring_sqe *sqe = task__io_sqe(cx, &res);
        if (!sqe) {
                *rc = res;
                return true;
        }
        io_uring_prep_read(sqe, fd, buf, (unsigned)len, (uint64_t)-1);
        task__io_arm(cx, op, sqe);
        return false;
}

static int count_fds(void)
{
        int n = 0;
        char path[64];
        for (int fd = 0; fd < 4096; fd++) {
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                if (access(path, F_OK) == 0)
                        n++;
        }
        return n;
}

/* ---- One read, completed by a write from the test thread ---------------- */

struct reader {
        TASK_FRAME;
        int fd;
        struct task_io io;
        char buf[64];
        int rc;
        bool *heap_buf_freed; /* cleanup sees the op idle */
        atomic_int *cleanups;
        atomic_int *started;
        char *heap;
};

static int reader(struct task_cx *cx, void *arg)
{
        struct reader *f = arg;
        TASK_BEGIN(f);
        if (f->started)
                atomic_fetch_add(f->started, 1);
        TASK_AWAIT(f,
                   pipe_read_poll(cx, f->fd, &f->io, f->heap ? f->heap : f->buf,
                                  f->heap ? 64 : sizeof f->buf, &f->rc));
        TASK_CLEANUP(f);
        /* The kernel is done with the buffer before the cleanup runs. */
        TCHECK(!task_io_pending(&f->io));
        free(f->heap);
        f->heap = NULL;
        if (f->cleanups)
                atomic_fetch_add(f->cleanups, 1);
        TASK_END(f);
}

static void one_read(enum task_flavor flavor)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        struct reader r = {.fd = p[0]};
        cr_assert_eq(write(p[1], "hello", 5), 5);
        cr_assert_eq(task_block_on(rt, reader, &r, sizeof r), 0);
        cr_assert_eq(r.rc, 5);
        cr_assert_eq(memcmp(r.buf, "hello", 5), 0);
        cr_assert(!task_io_pending(&r.io));
        close(p[0]);
        close(p[1]);
        tcheck_assert_none();
        test_rt_free(rt);
}

Test(driver, read_mt, .timeout = 30)
{
        one_read(TASK_MULTI_THREAD);
}

Test(driver, read_ct, .timeout = 30)
{
        one_read(TASK_CURRENT_THREAD);
}

/* The write comes later, from another thread, while the worker is parked. */
static void *late_writer(void *arg)
{
        int fd = *(int *)arg;
        sleep_ms(20);
        ssize_t n = write(fd, "late", 4);
        (void)n;
        return NULL;
}

static void read_parked(enum task_flavor flavor)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        int p[2];
        pthread_t th;
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        cr_assert_eq(pthread_create(&th, NULL, late_writer, &p[1]), 0);
        struct reader r = {.fd = p[0]};
        cr_assert_eq(task_block_on(rt, reader, &r, sizeof r), 0);
        pthread_join(th, NULL);
        cr_assert_eq(r.rc, 4);
        cr_assert_eq(memcmp(r.buf, "late", 4), 0);
        close(p[0]);
        close(p[1]);
        test_rt_free(rt);
}

Test(driver, read_while_parked_mt, .timeout = 30)
{
        read_parked(TASK_MULTI_THREAD);
}

Test(driver, read_while_parked_ct, .timeout = 30)
{
        read_parked(TASK_CURRENT_THREAD);
}

/* EOF and errors come back as the result. */
Test(driver, eof_and_ebadf, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        close(p[1]);
        struct reader r = {.fd = p[0]};
        cr_assert_eq(task_block_on(rt, reader, &r, sizeof r), 0);
        cr_assert_eq(r.rc, 0);
        close(p[0]);
        struct reader bad = {.fd = p[0]};
        cr_assert_eq(task_block_on(rt, reader, &bad, sizeof bad), 0);
        cr_assert_eq(bad.rc, -EBADF);
        test_rt_free(rt);
}

/* ---- Many operations in flight at once ----------------------------------- */

struct many {
        TASK_FRAME;
        int n;
        int (*pipes)[2];
        task_handle **hs;
        int i, rc;
};

static int many(struct task_cx *cx, void *arg)
{
        struct many *f = arg;
        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++) {
                struct reader r = {.fd = f->pipes[f->i][0]};
                TCHECK(task_spawn(cx->rt, reader, &r, sizeof r, &f->hs[f->i]) ==
                       0);
        }
        /* Let them all submit, then feed every pipe. */
        TASK_YIELD(f);
        for (f->i = 0; f->i < f->n; f->i++)
                TCHECK(write(f->pipes[f->i][1], "x", 1) == 1);
        for (f->i = 0; f->i < f->n; f->i++) {
                TASK_JOIN(f, f->hs[f->i], &f->rc);
                TCHECK(f->rc == 0);
                struct reader *r = task_handle_frame(f->hs[f->i]);
                TCHECK(r->rc == 1 && r->buf[0] == 'x');
                task_handle_release(f->hs[f->i]);
        }
        TASK_END(f);
}

static void many_reads(enum task_flavor flavor)
{
        int fds0 = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        int n = (int)test_scaled(1000, 100);
        struct many m = {.n = n};
        m.pipes = calloc((size_t)n, sizeof *m.pipes);
        m.hs = calloc((size_t)n, sizeof *m.hs);
        for (int i = 0; i < n; i++)
                cr_assert_eq(pipe2(m.pipes[i], O_CLOEXEC), 0);
        cr_assert_eq(task_block_on(rt, many, &m, sizeof m), 0);
        tcheck_assert_none();
        for (int i = 0; i < n; i++) {
                close(m.pipes[i][0]);
                close(m.pipes[i][1]);
        }
        free(m.pipes);
        free(m.hs);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds0, "fds leaked");
}

Test(driver, many_in_flight_mt, .timeout = 60)
{
        many_reads(TASK_MULTI_THREAD);
}

Test(driver, many_in_flight_ct, .timeout = 60)
{
        many_reads(TASK_CURRENT_THREAD);
}

/* ---- Abort with a read in flight ------------------------------------------ */

/*
 * Each reader reads into a heap buffer that its cleanup frees: if the
 * cleanup ran while the kernel still owned the buffer, TCHECK in the
 * cleanup fails (ASan cannot see the kernel's writes; the state check is
 * what pins the order).
 * Aborts come from the test thread, so the cancelling poll runs on
 * whichever worker picks the task up: the ring's own, or the other one
 * (the mailbox path).
 */
static void abort_in_flight(enum task_flavor flavor, int rounds)
{
        int fds0 = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        int p[2];
        atomic_int cleanups = 0, started = 0;
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        for (int i = 0; i < rounds; i++) {
                struct reader r = {.fd = p[0],
                                   .cleanups = &cleanups,
                                   .started = &started,
                                   .heap = malloc(64)};
                task_handle *h;
                int s0 = atomic_load(&started);
                cr_assert_eq(task_spawn_at(rt, reader, &r, sizeof r, &h, NULL),
                             0);
                /* Odd rounds: abort once the read is in flight; even ones
                 * whenever (often before the first poll). */
                if (flavor == TASK_CURRENT_THREAD) {
                        if (i % 2)
                                ct_settle(rt); /* it submits and suspends */
                } else if (i % 2) {
                        WAIT_UNTIL(atomic_load(&started) == s0 + 1, 5000);
                }
                task_abort(h);
                if (flavor == TASK_CURRENT_THREAD)
                        ct_run_until(rt, h_finished, h);
                cr_assert_eq(task_join_blocking(h), -ECANCELED);
                task_handle_release(h);
        }
        cr_assert_eq(atomic_load(&cleanups), rounds);
        tcheck_assert_none();
        close(p[0]);
        close(p[1]);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds0, "fds leaked");
}

Test(driver, abort_in_flight_mt, .timeout = 120)
{
        abort_in_flight(TASK_MULTI_THREAD, (int)test_scaled(5000, 500));
}

Test(driver, abort_in_flight_ct, .timeout = 120)
{
        abort_in_flight(TASK_CURRENT_THREAD, (int)test_scaled(2000, 200));
}

/* Many readers in flight at once, all aborted together. */
Test(driver, abort_many_at_once, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        int p[2];
        int n = (int)test_scaled(2000, 200);
        atomic_int cleanups = 0, started = 0;
        task_handle **hs = calloc((size_t)n, sizeof *hs);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        for (int i = 0; i < n; i++) {
                struct reader r = {.fd = p[0],
                                   .cleanups = &cleanups,
                                   .started = &started,
                                   .heap = malloc(64)};
                cr_assert_eq(
                    task_spawn_at(rt, reader, &r, sizeof r, &hs[i], NULL), 0);
        }
        WAIT_UNTIL(atomic_load(&started) == n, 10000);
        for (int i = 0; i < n; i++)
                task_abort(hs[i]);
        for (int i = 0; i < n; i++) {
                cr_assert_eq(task_join_blocking(hs[i]), -ECANCELED);
                task_handle_release(hs[i]);
        }
        cr_assert_eq(atomic_load(&cleanups), n);
        tcheck_assert_none();
        free(hs);
        close(p[0]);
        close(p[1]);
        test_rt_free(rt);
}

/* ---- A select whose losing branch is an I/O ------------------------------- */

struct sel_read {
        TASK_FRAME;
        int fd;
        struct task_sem *sem;
        struct task_sem_acquire acq;
        struct task_io io;
        struct task_select sel;
        char buf[16];
        int rc_read, rc_sem, which;
};

static int sel_read(struct task_cx *cx, void *arg)
{
        struct sel_read *f = arg;
        TASK_BEGIN(f);
        TASK_SELECT(f, &f->sel,
                    pipe_read_poll(cx, f->fd, &f->io, f->buf, sizeof f->buf,
                                   &f->rc_read),
                    task_sem_acquire_poll(cx, f->sem, 1, &f->acq, &f->rc_sem));
        f->which = f->sel.which;
        /* The losing read was cancelled and the kernel let go. */
        TCHECK(!task_io_pending(&f->io));
        TASK_END(f);
}

/* The semaphore is released by another task, possibly on the other worker,
 * so the loser is cancelled from either ring's worker. */
struct releaser {
        TASK_FRAME;
        struct task_sem *sem;
};

static int releaser(struct task_cx *cx, void *arg)
{
        struct releaser *f = arg;
        TASK_BEGIN(f);
        TASK_YIELD(f);
        task_sem_release(f->sem, 1);
        TASK_END(f);
}

Test(driver, select_io_loser, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        int p[2];
        int rounds = (int)test_scaled(2000, 200);
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        for (int i = 0; i < rounds; i++) {
                struct task_sem sem;
                cr_assert_eq(task_sem_init(&sem, 0), 0);
                struct sel_read s = {.fd = p[0], .sem = &sem};
                struct releaser rl = {.sem = &sem};
                task_handle *hs, *hr;
                cr_assert_eq(
                    task_spawn_at(rt, sel_read, &s, sizeof s, &hs, NULL), 0);
                cr_assert_eq(
                    task_spawn_at(rt, releaser, &rl, sizeof rl, &hr, NULL), 0);
                cr_assert_eq(task_join_blocking(hs), 0);
                cr_assert_eq(task_join_blocking(hr), 0);
                struct sel_read *out = task_handle_frame(hs);
                cr_assert_eq(out->which, 1);
                cr_assert_eq(out->rc_sem, 0);
                task_handle_release(hs);
                task_handle_release(hr);
                cr_assert_eq(task_sem_destroy(&sem), 0);
        }
        tcheck_assert_none();
        close(p[0]);
        close(p[1]);
        test_rt_free(rt);
}

/* ---- Shutdown with reads in flight ---------------------------------------- */

static void shutdown_in_flight(enum task_flavor flavor)
{
        int fds0 = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        int p[2];
        int n = 100;
        atomic_int cleanups = 0, started = 0;
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        for (int i = 0; i < n; i++) {
                struct reader r = {.fd = p[0],
                                   .cleanups = &cleanups,
                                   .started = &started,
                                   .heap = malloc(64)};
                cr_assert_eq(
                    task_spawn_at(rt, reader, &r, sizeof r, NULL, NULL), 0);
        }
        if (flavor == TASK_CURRENT_THREAD)
                ct_settle(rt);
        else
                WAIT_UNTIL(atomic_load(&started) == n, 10000);
        test_rt_free(rt);
        cr_assert_eq(atomic_load(&cleanups), n);
        tcheck_assert_none();
        close(p[0]);
        close(p[1]);
        cr_assert_eq(count_fds(), fds0, "fds leaked");
}

Test(driver, shutdown_in_flight_mt, .timeout = 60)
{
        shutdown_in_flight(TASK_MULTI_THREAD);
}

Test(driver, shutdown_in_flight_ct, .timeout = 60)
{
        shutdown_in_flight(TASK_CURRENT_THREAD);
}

/* ---- Options, errors --------------------------------------------------------- */

Test(driver, ring_entries_option, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        unsigned bad[] = {1, 3, 65536, 100};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                task_runtime_opts_init(&o);
                o.io_ring_entries = bad[i];
                cr_assert_eq(task_runtime_new(&o, &rt), -EINVAL, "%u", bad[i]);
        }
        task_runtime_opts_init(&o);
        o.io_ring_entries = 8; /* tiny: the SQ fills and is flushed */
        o.workers = 2;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        struct many m = {.n = 64};
        int pipes[64][2];
        task_handle *hs[64];
        m.pipes = pipes;
        m.hs = hs;
        for (int i = 0; i < 64; i++)
                cr_assert_eq(pipe2(pipes[i], O_CLOEXEC), 0);
        cr_assert_eq(task_block_on(rt, many, &m, sizeof m), 0);
        for (int i = 0; i < 64; i++) {
                close(pipes[i][0]);
                close(pipes[i][1]);
        }
        close(p[0]);
        close(p[1]);
        tcheck_assert_none();
        test_rt_free(rt);
}

Test(driver, setup_error_words, .timeout = 10)
{
        cr_assert_not_null(task_io_setup_error(-EPERM));
        cr_assert_not_null(
            strstr(task_io_setup_error(-EPERM), "io_uring_disabled"));
        cr_assert_not_null(task_io_setup_error(-ENOSYS));
        cr_assert_null(task_io_setup_error(0));
        cr_assert_null(task_io_setup_error(-EDOM));
}

/* A failing ring setup leaves nothing behind (fault injection). */
Test(driver, setup_failure_cleans_up, .timeout = 30)
{
        int fds0 = count_fds();
        for (long k = 1; k < 40; k++) {
                task_runtime *rt = NULL;
                atomic_store(&task__fault_alloc_countdown, k);
                int rc = task_runtime_new(NULL, &rt);
                atomic_store(&task__fault_alloc_countdown, 0);
                if (rc == 0) {
                        test_rt_free(rt);
                        break;
                }
                /* -EAGAIN: a worker thread that could not start. */
                cr_assert(rc == -ENOMEM || rc == -EAGAIN, "k=%ld rc=%d", k, rc);
        }
        cr_assert_eq(count_fds(), fds0, "fds leaked");
        test_leak_check();
}

/* An I/O poll off a worker (the shutdown's cancelling pass) reports
 * -ESHUTDOWN rather than touching a ring. */
Test(driver, off_worker_is_eshutdown, .timeout = 10)
{
        task_runtime *rt = test_rt_new_mt(1);
        struct task_cx cx = {.rt = rt};
        int32_t err = 0;
        cr_assert_null(task__io_sqe(&cx, &err));
        cr_assert_eq(err, -ESHUTDOWN);
        test_rt_free(rt);
}

/* ---- Review regressions --------------------------------------------------- */

/*
 * An abort that lands while a decided TASK_SELECT waits for its losing
 * I/O to let go must not lose the winner's result: the code after the
 * select runs (here it gives the won permit back), and the abort takes
 * effect at the next suspension point (there is none: the task finishes).
 */
struct sel_abort {
        TASK_FRAME;
        int fd;
        struct task_sem *sem;
        struct task_sem_acquire acq;
        struct task_io io;
        struct task_select s;
        char buf[8];
        int rc_r, rc_s, after;
};

static int sel_abort(struct task_cx *cx, void *arg)
{
        struct sel_abort *f = arg;
        TASK_BEGIN(f);
        TASK_SELECT(
            f, &f->s,
            pipe_read_poll(cx, f->fd, &f->io, f->buf, sizeof f->buf, &f->rc_r),
            task_sem_acquire_poll(cx, f->sem, 1, &f->acq, &f->rc_s));
        f->after = 1;
        TCHECK(!task_io_pending(&f->io));
        if (f->s.which == 1)
                task_sem_release(f->sem, 1); /* give the permit back */
        TASK_END(f);
}

struct sel_abort_root {
        TASK_FRAME;
        int fd;
        struct task_sem sem;
        task_handle *h;
        int rc;
};

static int sel_abort_root(struct task_cx *cx, void *arg)
{
        struct sel_abort_root *f = arg;
        TASK_BEGIN(f);
        {
                struct sel_abort s = {.fd = f->fd, .sem = &f->sem};
                TCHECK(task_spawn(cx->rt, sel_abort, &s, sizeof s, &f->h) == 0);
        }
        TASK_YIELD(f); /* it arms its read and waits on the semaphore */
        task_sem_release(&f->sem, 1);
        TASK_YIELD(f); /* it wins, and waits for the read's cancel */
        task_abort(f->h);
        TASK_JOIN(f, f->h, &f->rc);
        TASK_END(f);
}

Test(driver, abort_while_select_losers_let_go, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        task_runtime_opts_init(&o);
        o.workers = 1;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        int p[2];
        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        struct sel_abort_root r = {.fd = p[0]};
        cr_assert_eq(task_sem_init(&r.sem, 0), 0);
        cr_assert_eq(task_block_on(rt, sel_abort_root, &r, sizeof r), 0);
        struct sel_abort *sf = task_handle_frame(r.h);
        cr_assert_eq(sf->s.which, 1);
        cr_assert_eq(sf->after, 1, "the code after the select never ran");
        cr_assert_eq(task_sem_available(&r.sem), 1, "the won permit leaked");
        task_handle_release(r.h);
        cr_assert_eq(task_sem_destroy(&r.sem), 0);
        tcheck_assert_none();
        close(p[0]);
        close(p[1]);
        test_rt_free(rt);
}

/*
 * Aborts racing real completions: a writer feeds the pipe while readers
 * are aborted, so some cancels lose to the data (the completion, not the
 * cancel, finishes the op; from the other worker, through the mailbox).
 */
struct feeder {
        int fd;
        atomic_bool stop;
};

static void *feed(void *arg)
{
        struct feeder *fd = arg;
        while (!atomic_load(&fd->stop)) {
                ssize_t n = write(fd->fd, "x", 1);
                (void)n;
                sched_yield();
        }
        return NULL;
}

Test(driver, abort_racing_completions, .timeout = 120)
{
        int fds0 = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        int p[2];
        atomic_int cleanups = 0, started = 0;
        int rounds = (int)test_scaled(5000, 500);
        cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        struct feeder fd = {.fd = p[1]};
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, feed, &fd), 0);
        for (int i = 0; i < rounds; i++) {
                struct reader r = {.fd = p[0],
                                   .cleanups = &cleanups,
                                   .started = &started,
                                   .heap = malloc(64)};
                task_handle *h;
                cr_assert_eq(task_spawn_at(rt, reader, &r, sizeof r, &h, NULL),
                             0);
                for (int k = 0; k < i % 5; k++)
                        sched_yield();
                task_abort(h);
                int rc = task_join_blocking(h);
                cr_assert(rc == 0 || rc == -ECANCELED, "rc=%d", rc);
                task_handle_release(h);
        }
        atomic_store(&fd.stop, true);
        pthread_join(th, NULL);
        cr_assert_eq(atomic_load(&cleanups), rounds);
        tcheck_assert_none();
        close(p[0]);
        close(p[1]);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds0, "fds leaked");
}

/*
 * A kernel that refuses io_uring (here a seccomp filter returning EPERM
 * for io_uring_setup, as Docker's default profile does): building the
 * runtime fails with -EPERM, the words say what to do, and nothing is
 * left open.  In a child process, since the filter cannot be removed.
 */
Test(driver, io_uring_refused_by_seccomp, .timeout = 30)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct sock_filter flt[] = {
                    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                             offsetof(struct seccomp_data, nr)),
                    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0,
                             1),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                };
                struct sock_fprog prog = {4, flt};
                int fds0 = count_fds();
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
                    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
                        _exit(3);
                task_runtime *rt = NULL;
                struct task_runtime_opts o;
                task_runtime_opts_init(&o);
                o.workers = 2;
                int rc = task_runtime_new(&o, &rt);
                const char *why = task_io_setup_error(rc);
                _exit(rc == -EPERM && rt == NULL && why &&
                              strstr(why, "seccomp") && count_fds() == fds0
                          ? 0
                          : 1);
        }
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st), "child died");
        cr_assert_neq(WEXITSTATUS(st), 3, "cannot install a seccomp filter");
        cr_assert_eq(WEXITSTATUS(st), 0,
                     "runtime build under a refusing kernel went wrong");
}
