/*
 * test_signal.c - awaiting signals (libtask/signal.h): raise() and
 * kill(getpid()) received by a task, both flavors, several listeners,
 * deliveries before the receive kept and coalesced, deliveries before the
 * open not seen, abort while waiting (nothing lost), close while waiting
 * (-EPIPE), the previous disposition restored, the eventfd and the thread
 * gone after the last close (fd and thread counts), blocking receives from
 * threads, a receive-per-delivery stress, and bad input.
 *
 * Every test raises only signals it has a listener open for (the default
 * action would kill the test process).  Criterion runs each test in its own
 * process, so dispositions do not leak from one test to the next.
 */
#include "helpers.h"

#include <dirent.h>
#include <libtask/signal.h>
#include <signal.h>
#include <unistd.h>

/* ---- Tools ---------------------------------------------------------------- */

static int dir_count(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)) != NULL)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* not the DIR's own fd (or nothing, for tasks) */
}

static int fd_count(void)
{
        return dir_count("/proc/self/fd");
}

static int thread_count(void)
{
        return dir_count("/proc/self/task") + 1;
}

static void *noop_thread(void *arg)
{
        return arg;
}

/*
 * The thread count to compare with later: taken after one thread has come
 * and gone, so that threads a sanitizer starts with the first
 * pthread_create() (TSan's background thread) are already counted.
 */
static int thread_baseline(void)
{
        pthread_t th;

        cr_assert_eq(pthread_create(&th, NULL, noop_thread, NULL), 0);
        pthread_join(th, NULL);
        return thread_count();
}

/* A task that receives @n times from @sig. */
struct rx {
        TASK_FRAME;
        struct task_signal *sig;
        struct task_signal_recv op;
        int n;
        atomic_int got;
        int rc;
};

static int rx_fn(struct task_cx *cx, void *arg)
{
        struct rx *f = arg;

        TASK_BEGIN(f);
        while (atomic_load(&f->got) < f->n) {
                f->rc = 1;
                TASK_SIGNAL_RECV(f, f->sig, &f->op, &f->rc);
                if (f->rc)
                        TASK_RETURN(f);
                atomic_fetch_add(&f->got, 1);
        }
        TASK_END(f);
}

static task_handle *spawn_rx(task_runtime *rt, struct task_signal *sig, int n)
{
        struct rx f = {.sig = sig, .n = n};
        task_handle *h;

        cr_assert_eq(TASK_SPAWN(rt, rx_fn, &f, &h), 0);
        return h;
}

static struct rx *rx_of(task_handle *h)
{
        return task_handle_frame(h);
}

static bool rx_queued(task_handle *h)
{
        return wait_queued(&rx_of(h)->op.w);
}

/*
 * Run @rt (current thread) until @cond(@arg) holds, for up to 10 s.  Unlike
 * ct_run_until(), it sleeps between rounds: the wake it waits for comes
 * from the signal thread, which needs a core (busy machines).
 */
static void ct_wait(task_runtime *rt, bool (*cond)(void *), void *arg)
{
        for (int i = 0; i < 10000; i++) {
                struct until u = {.cond = cond, .arg = arg, .spins = 999000};
                cr_assert_eq(task_block_on(rt, until_fn, &u, sizeof u), 0);
                if (cond(arg))
                        return;
                sleep_ms(1);
        }
        cr_assert_fail("condition never held");
}

/* A ct_run_until() condition. */
static bool rx_queued_cond(void *h)
{
        return rx_queued(h);
}

/* A ct_run_until() condition (@p: a struct rx_count). */
struct rx_count {
        task_handle *h;
        int n;
};

static bool rx_got(void *p)
{
        struct rx_count *c = p;
        return atomic_load(&rx_of(c->h)->got) == c->n;
}

/* ---- Received by a task --------------------------------------------------- */

Test(signal, raise_received_by_task, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_signal s;

        cr_assert_eq(task_signal_open(&s, SIGUSR1), 0);
        task_handle *h = spawn_rx(rt, &s, 1);
        cr_assert(WAIT_UNTIL(rx_queued(h), 5000), "receive never queued");
        cr_assert_eq(raise(SIGUSR1), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rx_of(h)->rc, 0);
        cr_assert_eq(atomic_load(&rx_of(h)->got), 1);
        task_handle_release(h);
        cr_assert_eq(task_signal_close(&s), 0);
        test_rt_free(rt);
}

Test(signal, kill_sighup_to_process_received, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_signal s;

        cr_assert_eq(task_signal_open(&s, SIGHUP), 0);
        task_handle *h = spawn_rx(rt, &s, 1);
        cr_assert(WAIT_UNTIL(rx_queued(h), 5000));
        cr_assert_eq(kill(getpid(), SIGHUP), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rx_of(h)->rc, 0);
        task_handle_release(h);
        cr_assert_eq(task_signal_close(&s), 0);
        test_rt_free(rt);
}

/* Current thread: the task waits inside task_block_on; a helper thread
 * sends the signal until the task has it (any delivery after the open
 * counts, so whether the first one comes before the receive queues or
 * after does not matter; usually after: the sender sleeps first). */
struct sender {
        pthread_t th;
        atomic_int done;
        int signo;
};

static void *sender_main(void *arg)
{
        struct sender *sd = arg;

        for (int i = 0; i < 5000 && !atomic_load(&sd->done); i++) {
                sleep_ms(2);
                kill(getpid(), sd->signo);
        }
        return NULL;
}

Test(signal, received_on_current_thread_runtime, .timeout = 30)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct task_signal s;
        struct rx f = {.n = 1};
        struct sender sd = {.signo = SIGTERM};

        cr_assert_eq(task_signal_open(&s, SIGTERM), 0);
        f.sig = &s;
        cr_assert_eq(pthread_create(&sd.th, NULL, sender_main, &sd), 0);
        cr_assert_eq(task_block_on(rt, rx_fn, &f, sizeof f), 0);
        atomic_store(&sd.done, 1);
        pthread_join(sd.th, NULL);
        cr_assert_eq(f.rc, 0);
        cr_assert_eq(atomic_load(&f.got), 1);
        cr_assert_eq(task_signal_close(&s), 0);
        test_rt_free(rt);
}

/* ---- Several listeners ---------------------------------------------------- */

Test(signal, every_listener_sees_the_delivery, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_signal s[3];
        task_handle *h[3];

        for (int i = 0; i < 3; i++)
                cr_assert_eq(task_signal_open(&s[i], SIGUSR2), 0);
        for (int i = 0; i < 3; i++)
                h[i] = spawn_rx(rt, &s[i], 1);
        for (int i = 0; i < 3; i++)
                cr_assert(WAIT_UNTIL(rx_queued(h[i]), 5000));
        cr_assert_eq(raise(SIGUSR2), 0);
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                cr_assert_eq(rx_of(h[i])->rc, 0);
                task_handle_release(h[i]);
        }
        for (int i = 0; i < 3; i++)
                cr_assert_eq(task_signal_close(&s[i]), 0);
        test_rt_free(rt);
}

/* ---- Deliveries before the receive, before the open ----------------------- */

Test(signal, deliveries_before_receive_kept_and_coalesced, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_signal s;

        cr_assert_eq(task_signal_open(&s, SIGUSR1), 0);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(raise(SIGUSR1), 0);
        /* Ready at once, and the three count as one. */
        cr_assert_eq(task_signal_recv_blocking(&s), 0);
        task_handle *h = spawn_rx(rt, &s, 1);
        cr_assert(WAIT_UNTIL(rx_queued(h), 5000), "coalesced deliveries "
                                                  "seen twice");
        cr_assert_eq(raise(SIGUSR1), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rx_of(h)->rc, 0);
        task_handle_release(h);
        cr_assert_eq(task_signal_close(&s), 0);
        test_rt_free(rt);
}

Test(signal, delivery_before_open_not_seen, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_signal a, b;

        cr_assert_eq(task_signal_open(&a, SIGUSR1), 0);
        cr_assert_eq(raise(SIGUSR1), 0);
        cr_assert_eq(task_signal_open(&b, SIGUSR1), 0);
        task_handle *h = spawn_rx(rt, &b, 1);
        /* It queues: the earlier delivery is not b's. */
        cr_assert(WAIT_UNTIL(rx_queued(h), 5000));
        /* Close while waiting: -EPIPE. */
        cr_assert_eq(task_signal_close(&b), 0);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rx_of(h)->rc, -EPIPE);
        cr_assert_eq(atomic_load(&rx_of(h)->got), 0);
        task_handle_release(h);
        /* a still has it. */
        cr_assert_eq(task_signal_recv_blocking(&a), 0);
        cr_assert_eq(task_signal_close(&a), 0);
        test_rt_free(rt);
}

/* ---- Abort and close ------------------------------------------------------ */

Test(signal, abort_while_waiting_loses_nothing, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct task_signal s;

        cr_assert_eq(task_signal_open(&s, SIGUSR1), 0);
        task_handle *h = spawn_rx(rt, &s, 1);
        cr_assert(WAIT_UNTIL(rx_queued(h), 5000));
        task_abort(h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        task_handle_release(h);
        /* A delivery now is seen by the next receive on the listener. */
        cr_assert_eq(raise(SIGUSR1), 0);
        h = spawn_rx(rt, &s, 1);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rx_of(h)->rc, 0);
        task_handle_release(h);
        cr_assert_eq(task_signal_close(&s), 0);
        test_rt_free(rt);
}

Test(signal, close_while_waiting_and_after, .timeout = 30)
{
        task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
        struct task_signal s;

        cr_assert_eq(task_signal_open(&s, SIGINT), 0);
        task_handle *h = spawn_rx(rt, &s, 1);
        ct_wait(rt, rx_queued_cond, h);
        cr_assert_eq(task_signal_close(&s), 0);
        ct_wait(rt, h_finished, h);
        cr_assert_eq(rx_of(h)->rc, -EPIPE);
        task_handle_release(h);
        /* After the close: -EPIPE at once; closing again: -EINVAL. */
        h = spawn_rx(rt, &s, 1);
        ct_wait(rt, h_finished, h);
        cr_assert_eq(rx_of(h)->rc, -EPIPE);
        task_handle_release(h);
        cr_assert_eq(task_signal_recv_blocking(&s), -EPIPE);
        cr_assert_eq(task_signal_close(&s), -EINVAL);
        test_rt_free(rt);
}

/* ---- Dispositions and resources ------------------------------------------- */

static atomic_int mine_calls;

static void mine(int signo)
{
        (void)signo;
        atomic_fetch_add(&mine_calls, 1);
}

Test(signal, previous_disposition_restored_on_last_close, .timeout = 30)
{
        struct sigaction sa, cur;
        struct task_signal a, b;

        memset(&sa, 0, sizeof sa);
        sa.sa_handler = mine;
        sigemptyset(&sa.sa_mask);
        cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
        atomic_store(&mine_calls, 0);

        cr_assert_eq(task_signal_open(&a, SIGUSR1), 0);
        cr_assert_eq(task_signal_open(&b, SIGUSR1), 0);
        cr_assert_eq(raise(SIGUSR1), 0);
        cr_assert_eq(atomic_load(&mine_calls), 0, "replaced handler called");
        cr_assert_eq(task_signal_recv_blocking(&a), 0);
        cr_assert_eq(task_signal_close(&a), 0);
        /* b still listens: still ours. */
        cr_assert_eq(raise(SIGUSR1), 0);
        cr_assert_eq(atomic_load(&mine_calls), 0);
        cr_assert_eq(task_signal_recv_blocking(&b), 0);
        cr_assert_eq(task_signal_close(&b), 0);
        cr_assert_eq(sigaction(SIGUSR1, NULL, &cur), 0);
        cr_assert_eq(cur.sa_handler, mine);
        cr_assert_eq(raise(SIGUSR1), 0);
        cr_assert_eq(atomic_load(&mine_calls), 1);
}

Test(signal, no_fd_or_thread_left_after_close, .timeout = 30)
{
        int threads = thread_baseline(), fds = fd_count();
        struct task_signal s[2];

        for (int round = 0; round < 3; round++) {
                cr_assert_eq(task_signal_open(&s[0], SIGUSR1), 0);
                cr_assert_eq(task_signal_open(&s[1], SIGHUP), 0);
                cr_assert_eq(fd_count(), fds + 1, "one eventfd");
                cr_assert_eq(raise(SIGHUP), 0);
                cr_assert_eq(task_signal_recv_blocking(&s[1]), 0);
                cr_assert_eq(task_signal_close(&s[0]), 0);
                cr_assert_eq(task_signal_close(&s[1]), 0);
                cr_assert_eq(fd_count(), fds, "fd leaked");
                cr_assert(WAIT_UNTIL(thread_count() == threads, 5000),
                          "%d threads, %d before", thread_count(), threads);
        }
}

/* ---- Blocking receives ---------------------------------------------------- */

struct brx {
        struct task_signal *sig;
        atomic_int done;
        int rc;
};

static void *brx_main(void *arg)
{
        struct brx *b = arg;

        b->rc = task_signal_recv_blocking(b->sig);
        atomic_store(&b->done, 1);
        return NULL;
}

Test(signal, blocking_receive_from_thread, .timeout = 30)
{
        struct task_signal s;
        struct brx b = {.sig = &s};
        pthread_t th;

        cr_assert_eq(task_signal_open(&s, SIGUSR2), 0);
        cr_assert_eq(pthread_create(&th, NULL, brx_main, &b), 0);
        /* Whether it has queued or not, a delivery now is its. */
        sleep_ms(10);
        cr_assert_eq(kill(getpid(), SIGUSR2), 0);
        pthread_join(th, NULL);
        cr_assert_eq(b.rc, 0);
        /* Close wakes a blocked receiver too. */
        atomic_store(&b.done, 0);
        cr_assert_eq(pthread_create(&th, NULL, brx_main, &b), 0);
        sleep_ms(10);
        cr_assert_eq(task_signal_close(&s), 0);
        pthread_join(th, NULL);
        cr_assert_eq(b.rc, -EPIPE);
}

/* ---- Stress: one receive per delivery ------------------------------------- */

static void stress(enum task_flavor flavor)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        int n = (int)test_scaled(2000, 200);
        struct task_signal s;

        cr_assert_eq(task_signal_open(&s, SIGUSR1), 0);
        task_handle *h = spawn_rx(rt, &s, n);
        for (int i = 0; i < n; i++) {
                if (flavor == TASK_CURRENT_THREAD)
                        ct_wait(rt, rx_queued_cond, h);
                else
                        cr_assert(WAIT_UNTIL(rx_queued(h), 5000));
                cr_assert(rx_queued(h), "round %d: not waiting", i);
                cr_assert_eq(atomic_load(&rx_of(h)->got), i);
                cr_assert_eq(raise(SIGUSR1), 0);
                struct rx_count c = {h, i + 1};
                if (flavor == TASK_CURRENT_THREAD)
                        ct_wait(rt, rx_got, &c);
                else
                        cr_assert(
                            WAIT_UNTIL(atomic_load(&rx_of(h)->got) == i + 1,
                                       5000),
                            "delivery %d lost", i);
        }
        if (flavor == TASK_CURRENT_THREAD)
                ct_wait(rt, h_finished, h);
        cr_assert_eq(task_join_blocking(h), 0);
        cr_assert_eq(rx_of(h)->rc, 0);
        cr_assert_eq(atomic_load(&rx_of(h)->got), n);
        task_handle_release(h);
        cr_assert_eq(task_signal_close(&s), 0);
        test_rt_free(rt);
}

Test(signal, every_delivery_after_a_receive_is_seen_multi_thread,
     .timeout = 120)
{
        stress(TASK_MULTI_THREAD);
}

Test(signal, every_delivery_after_a_receive_is_seen_current_thread,
     .timeout = 120)
{
        stress(TASK_CURRENT_THREAD);
}

/* ---- Bad input ------------------------------------------------------------ */

struct bad {
        TASK_FRAME;
        struct task_signal *sig;
        struct task_signal_recv op;
        int rc1, rc2, rc3;
};

static int bad_fn(struct task_cx *cx, void *arg)
{
        struct bad *f = arg;

        TASK_BEGIN(f);
        TASK_SIGNAL_RECV(f, NULL, &f->op, &f->rc1);
        TASK_SIGNAL_RECV(f, f->sig, NULL, &f->rc2);
        f->rc3 = task_signal_recv_blocking(f->sig);
        TASK_END(f);
}

Test(signal, bad_input, .timeout = 30)
{
        struct task_signal s = {0};
        const int bad[] = {0,       -1,      NSIG,   1000,   SIGKILL,
                           SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL};

        cr_assert_eq(task_signal_open(NULL, SIGINT), -EINVAL);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                cr_assert_eq(task_signal_open(&s, bad[i]), -EINVAL,
                             "signal %d accepted", bad[i]);
        cr_assert_eq(task_signal_close(NULL), -EINVAL);
        cr_assert_eq(task_signal_close(&s), -EINVAL, "never opened");
        cr_assert_eq(task_signal_recv_blocking(NULL), -EINVAL);
        cr_assert_eq(task_signal_recv_blocking(&s), -EPIPE, "never opened");
        cr_assert_eq(task_signal_recv_poll(NULL, &s, NULL, NULL), true);

        task_runtime *rt = test_rt_new_mt(2);
        cr_assert_eq(task_signal_open(&s, SIGUSR1), 0);
        struct bad f = {.sig = &s};
        cr_assert_eq(task_block_on(rt, bad_fn, &f, sizeof f), 0);
        cr_assert_eq(f.rc1, -EINVAL);
        cr_assert_eq(f.rc2, -EINVAL);
        cr_assert_eq(f.rc3, -EDEADLK);
        cr_assert_eq(task_signal_close(&s), 0);
        test_rt_free(rt);
}
