/*
 * task-echo-server.c - the TCP echo server the echo benchmark measures
 * (../shared/peers/run-echo-bench.sh drives it with echo-load), written the
 * way a libtask user would: one task accepts, one task per connection
 * reads into a 4 KiB buffer in its frame and writes back what it read,
 * with TCP_NODELAY.  The same shape as the Tokio peer's echo server
 * (tokio-bench --mode echo-server).
 *
 *   task-echo-server --port P [--workers N (2)] [--time-limit SECS (300)]
 *
 * Listens on 127.0.0.1:P (0: an ephemeral port, printed), prints
 * "# echo-server listening on 127.0.0.1:P workers=N pid=PID libtask", and
 * runs until SIGINT, SIGTERM or the time limit; then prints why, how long
 * it ran and how many connections it accepted, and exits 0.
 */
#include <libtask/net.h>
#include <libtask/task.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ECHO_BUF 4096

static atomic_ulong accepted;

struct conn {
        TASK_FRAME;
        struct task_stream s;
        struct task_io io;
        ssize_t n;
        int rc;
        char buf[ECHO_BUF];
};

static int conn(struct task_cx *cx, void *arg)
{
        struct conn *f = arg;

        TASK_BEGIN(f);
        (void)task_tcp_set_nodelay(&f->s, true);
        for (;;) {
                TASK_STREAM_READ(f, &f->s, &f->io, f->buf, sizeof f->buf,
                                 &f->n);
                if (f->n <= 0)
                        break; /* EOF or an error: the connection is done */
                TASK_STREAM_WRITE_ALL(f, &f->s, &f->io, f->buf, (size_t)f->n,
                                      &f->rc);
                if (f->rc < 0)
                        break;
        }
        TASK_CLEANUP(f);
        task_stream_close(&f->s);
        TASK_END(f);
}

struct acceptor {
        TASK_FRAME;
        struct task_listener *l;
        struct task_io io;
        struct task_stream s; /* the connection being accepted */
        int rc;
};

static int acceptor(struct task_cx *cx, void *arg)
{
        struct acceptor *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_LISTENER_ACCEPT(f, f->l, &f->io, &f->s, NULL, &f->rc);
                if (f->rc < 0) {
                        fprintf(stderr, "# echo-server: accept: %s\n",
                                task_strerror(f->rc));
                        if (f->rc == -EMFILE || f->rc == -ENFILE)
                                TASK_YIELD(f);
                        continue;
                }
                atomic_fetch_add_explicit(&accepted, 1, memory_order_relaxed);
                struct conn c = {.s = f->s};
                int rc = task_spawn_at(cx->rt, conn, &c, sizeof c, NULL, NULL);
                if (rc) {
                        fprintf(stderr, "# echo-server: spawn: %s\n",
                                task_strerror(rc));
                        task_stream_close(&f->s);
                }
        }
        TASK_END(f);
}

static void usage(void)
{
        fprintf(stderr, "usage: task-echo-server --port P [--workers N(2)] "
                        "[--time-limit SECS(300)]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        long port = -1, workers = 2, limit = 300;

        for (int i = 1; i < argc; i++) {
                if (i + 1 >= argc)
                        usage();
                char *end;
                long v = strtol(argv[i + 1], &end, 10);
                if (*end || v < 0)
                        usage();
                if (!strcmp(argv[i], "--port"))
                        port = v;
                else if (!strcmp(argv[i], "--workers"))
                        workers = v;
                else if (!strcmp(argv[i], "--time-limit"))
                        limit = v;
                else
                        usage();
                i++;
        }
        if (port < 0 || port > 65535 || workers < 1 || workers > 1024)
                usage();

        /* SIGINT/SIGTERM are taken by this thread with sigtimedwait: block
         * them before the workers start, so that they inherit the mask. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);

        struct task_runtime_opts o;
        task_runtime *rt;
        task_runtime_opts_init(&o);
        o.workers = (unsigned)workers;
        int rc = task_runtime_new(&o, &rt);
        if (rc) {
                const char *why = task_io_setup_error(rc);
                fprintf(stderr, "task-echo-server: runtime: %s\n",
                        why ? why : task_strerror(rc));
                return 1;
        }

        struct task_addr a;
        struct task_listener l;
        struct task_addr bound;
        char text[64];
        if ((rc = task_addr_from_ip(&a, "127.0.0.1", (uint16_t)port)) ||
            (rc = task_tcp_bind(&l, &a, NULL)) ||
            (rc = task_listener_local_addr(&l, &bound))) {
                fprintf(stderr, "task-echo-server: bind 127.0.0.1:%ld: %s\n",
                        port, task_strerror(rc));
                return 1;
        }
        task_addr_format(&bound, text, sizeof text);

        struct acceptor acc = {.l = &l};
        rc = task_spawn_at(rt, acceptor, &acc, sizeof acc, NULL, NULL);
        if (rc) {
                fprintf(stderr, "task-echo-server: spawn: %s\n",
                        task_strerror(rc));
                return 1;
        }
        printf("# echo-server listening on %s workers=%ld pid=%d libtask\n",
               text, workers, (int)getpid());
        fflush(stdout);

        struct timespec t0, t1, lim = {.tv_sec = limit};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int sig = sigtimedwait(&set, NULL, &lim);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        const char *why = sig == SIGINT    ? "SIGINT"
                          : sig == SIGTERM ? "SIGTERM"
                                           : "time limit";
        fprintf(stderr,
                "# echo-server: %s after %.1f s; %lu connections "
                "accepted\n",
                why,
                (double)(t1.tv_sec - t0.tv_sec) +
                    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                atomic_load(&accepted));
        for (unsigned i = 0; i < (unsigned)workers; i++) {
                struct task_worker_metrics m;
                if (task_worker_metrics(rt, i, &m) == 0)
                        fprintf(stderr,
                                "# echo-server: worker %u polls=%llu "
                                "parks=%llu steals=%llu busy_ms=%llu\n",
                                i, (unsigned long long)m.polls,
                                (unsigned long long)m.parks,
                                (unsigned long long)m.steal_tasks,
                                (unsigned long long)(m.busy_ns / 1000000));
        }
        /* Like the peer, exit without tearing down the connections. */
        _exit(0);
}
