/*
 * srv.c - the servers the client tests talk to (srv.h).
 *
 * task-redis-server is started with --port 0 and tells its port in its log
 * ("Ready to accept connections tcp on 127.0.0.1:PORT"), read back from a
 * pipe on its stderr.  redis-server cannot bind port 0 for us to read
 * back, so the harness binds an ephemeral port itself, closes it and
 * hands the number over (retrying with another if the server then fails
 * to bind it), and waits until a PING is answered.  Both servers die with
 * the test process (PR_SET_PDEATHSIG) and get a fresh temporary directory.
 *
 * Failures end the test process with a message (srv_fail) rather than a
 * cr_assert: this file is linked into every suite, and under TSan
 * <criterion/criterion.h> is the shim that defines main() itself.
 */
#include "srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SRV_START_MS 15000

__attribute__((format(printf, 1, 2), noreturn)) static void
srv_fail(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "srv: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
        fflush(stderr);
        abort();
}

/* cr_assert's shape, for this file. */
#define SRV_CHECK(cond, ...)                                                   \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "srv: %s:%d: %s\n", __FILE__,          \
                                __LINE__, #cond);                              \
                        srv_fail(" " __VA_ARGS__);                             \
                }                                                              \
        } while (0)

static long long mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum srv_kind srv_kind_env(void)
{
        const char *k = getenv("RDS_CLIENT_SERVER");

        return k && strcmp(k, "redis") == 0 ? SRV_REDIS : SRV_TASK;
}

const char *srv_kind_name(enum srv_kind k)
{
        return k == SRV_REDIS ? "redis-server" : "task-redis-server";
}

/* A port that was free a moment ago. */
static int free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t alen = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        SRV_CHECK(fd >= 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        SRV_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
        SRV_CHECK(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
        close(fd);
        return ntohs(a.sin_port);
}

int srv_closed_port(void)
{
        return free_port();
}

/* Connect to 127.0.0.1:@port; -1 on failure. */
static int tcp_connect(int port)
{
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* True when a PING on @port is answered (+PONG, or -NOAUTH) within @ms. */
static bool ping_ok(int port, int ms)
{
        char buf[16];
        struct pollfd p;
        int fd = tcp_connect(port), n;

        if (fd < 0)
                return false;
        if (write(fd, "PING\r\n", 6) != 6) {
                close(fd);
                return false;
        }
        p = (struct pollfd){.fd = fd, .events = POLLIN};
        n = poll(&p, 1, ms) == 1 ? (int)read(fd, buf, sizeof buf) : -1;
        close(fd);
        /* A server started with --requirepass answers -NOAUTH: up too. */
        return (n >= 7 && memcmp(buf, "+PONG\r\n", 7) == 0) ||
               (n >= 7 && memcmp(buf, "-NOAUTH", 7) == 0);
}

static bool alive(pid_t pid)
{
        int st;

        return waitpid(pid, &st, WNOHANG) == 0;
}

/*
 * Fork and exec the server with @argv; its stderr (and stdout) go to
 * @errfd when >= 0, else to the log file in s->dir.
 */
static pid_t spawn(struct srv *s, char *const *argv, int errfd)
{
        pid_t parent = getpid();
        pid_t pid = fork();

        SRV_CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
                char log[300];
                int fd;

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                if (chdir(s->dir) < 0)
                        _exit(127);
                if (errfd >= 0) {
                        fd = errfd;
                } else {
                        snprintf(log, sizeof log, "%s/server.log", s->dir);
                        fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
                }
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

/* Start task-redis-server on s->port (0: ephemeral); false if it died. */
static bool start_task(struct srv *s)
{
        const char *bin = getenv("RDS_SERVER");
        char port[16], line[4096];
        char *argv[32];
        int n = 0, pfd[2];
        size_t have = 0;
        long long end;

        SRV_CHECK(bin && *bin, "RDS_SERVER is not set");
        snprintf(port, sizeof port, "%d", s->port);
        snprintf(s->unix_path, sizeof s->unix_path, "%.200s/task.sock", s->dir);
        argv[n++] = (char *)bin;
        argv[n++] = "--port";
        argv[n++] = port;
        argv[n++] = "--bind";
        argv[n++] = "127.0.0.1";
        argv[n++] = "--unixsocket";
        argv[n++] = s->unix_path;
        for (int i = 0; i < s->nextra; i++)
                argv[n++] = s->extra[i];
        argv[n] = NULL;
        SRV_CHECK(pipe2(pfd, O_CLOEXEC) == 0);
        s->pid = spawn(s, argv, pfd[1]);
        close(pfd[1]);
        end = mono_ms() + SRV_START_MS;
        /* Read its log until the ready line tells the port. */
        for (;;) {
                struct pollfd p = {.fd = pfd[0], .events = POLLIN};
                long long left = end - mono_ms();
                const char *m;
                ssize_t r;

                if (left <= 0 || poll(&p, 1, (int)left) != 1)
                        break;
                r = read(pfd[0], line + have, sizeof line - 1 - have);
                if (r <= 0)
                        break;
                have += (size_t)r;
                line[have] = 0;
                m = strstr(line, "Ready to accept connections tcp on ");
                if (m && strchr(m, '\n')) {
                        const char *eol = strchr(m, '\n');
                        const char *colon = eol;

                        while (colon > m && *colon != ':')
                                colon--;
                        s->port = atoi(colon + 1);
                        break;
                }
                if (have > sizeof line / 2) { /* keep the tail */
                        memmove(line, line + have / 2, have - have / 2);
                        have -= have / 2;
                }
        }
        /* The rest of its log is not read: let it go to a file.  Closing
         * the pipe would give the server EPIPE on its next log line, so
         * keep draining in a detached child instead. */
        if (fork() == 0) {
                char sink[4096];

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                while (read(pfd[0], sink, sizeof sink) > 0)
                        ;
                _exit(0);
        }
        close(pfd[0]);
        return s->port > 0 && alive(s->pid) && ping_ok(s->port, 2000);
}

/* Start redis-server on s->port (0: pick one); false if it did not come
 * up (the port was taken, say). */
static bool start_redis(struct srv *s)
{
        const char *bin = getenv("REDIS_SERVER");
        char port[16];
        char *argv[40];
        int n = 0;
        long long end;

        if (!bin || !*bin)
                bin = "/usr/bin/redis-server";
        if (s->port == 0)
                s->port = free_port();
        snprintf(port, sizeof port, "%d", s->port);
        snprintf(s->unix_path, sizeof s->unix_path, "%s/redis.sock", s->dir);
        argv[n++] = (char *)bin;
        argv[n++] = "--port";
        argv[n++] = port;
        argv[n++] = "--bind";
        argv[n++] = "127.0.0.1";
        argv[n++] = "--unixsocket";
        argv[n++] = s->unix_path;
        argv[n++] = "--save";
        argv[n++] = "";
        argv[n++] = "--appendonly";
        argv[n++] = "no";
        argv[n++] = "--daemonize";
        argv[n++] = "no";
        argv[n++] = "--dir";
        argv[n++] = s->dir;
        for (int i = 0; i < s->nextra; i++)
                argv[n++] = s->extra[i];
        argv[n] = NULL;
        s->pid = spawn(s, argv, -1);
        end = mono_ms() + SRV_START_MS;
        while (mono_ms() < end) {
                if (!alive(s->pid))
                        return false;
                if (ping_ok(s->port, 500))
                        return true;
                usleep(5000);
        }
        return false;
}

static void start(struct srv *s)
{
        for (int attempt = 0; attempt < 20; attempt++) {
                bool ok = s->kind == SRV_REDIS ? start_redis(s) : start_task(s);

                if (ok)
                        break;
                kill(s->pid, SIGKILL);
                waitpid(s->pid, NULL, 0);
                s->pid = 0;
                usleep(50000);
        }
        SRV_CHECK(s->pid > 0, "%s did not start (see %s/server.log)",
                  srv_kind_name(s->kind), s->dir);
        snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", s->port);
}

void srv_start_args(struct srv *s, const char *const *args)
{
        memset(s, 0, sizeof *s);
        s->kind = srv_kind_env();
        for (; args && *args && s->nextra < 8; args++)
                snprintf(s->extra[s->nextra++], sizeof s->extra[0], "%s",
                         *args);
        snprintf(s->dir, sizeof s->dir, "/tmp/rdc-test-XXXXXX");
        SRV_CHECK(mkdtemp(s->dir), "mkdtemp: %s", strerror(errno));
        start(s);
}

void srv_start(struct srv *s)
{
        srv_start_args(s, NULL);
}

void srv_kill(struct srv *s)
{
        if (s->pid > 0) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, NULL, 0);
                s->pid = 0;
        }
}

void srv_restart(struct srv *s)
{
        srv_kill(s);
        /* Same port: retry while the old socket still holds it. */
        for (int attempt = 0; attempt < 100; attempt++) {
                bool ok = s->kind == SRV_REDIS ? start_redis(s) : start_task(s);

                if (ok)
                        return;
                srv_kill(s);
                usleep(50000);
        }
        srv_fail("%s did not restart on port %d", srv_kind_name(s->kind),
                 s->port);
}

void srv_stop(struct srv *s)
{
        char cmd[300];

        if (s->pid > 0) {
                long long end = mono_ms() + 5000;

                kill(s->pid, SIGTERM);
                while (alive(s->pid) && mono_ms() < end)
                        usleep(2000);
                srv_kill(s);
        }
        if (s->dir[0]) {
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "srv: could not remove %s\n", s->dir);
                s->dir[0] = 0;
        }
}

/* ---- Fake servers ---------------------------------------------------------- */

#define FAKE_MAX_CONNS 64

/* Read one request's worth (whatever arrives first); false at EOF. */
static bool fake_read(int fd)
{
        char buf[4096];
        ssize_t r = read(fd, buf, sizeof buf);

        return r > 0;
}

static void *fake_main(void *arg)
{
        struct fake *f = arg;
        struct pollfd p[FAKE_MAX_CONNS + 2];
        int conns[FAKE_MAX_CONNS];
        int nconns = 0;

        for (;;) {
                int np = 0;

                p[np++] =
                    (struct pollfd){.fd = f->stop_pipe[0], .events = POLLIN};
                p[np++] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
                for (int i = 0; i < nconns; i++)
                        p[np++] =
                            (struct pollfd){.fd = conns[i], .events = POLLIN};
                if (poll(p, (nfds_t)np, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents)
                        break;
                if ((p[1].revents & POLLIN) && nconns < FAKE_MAX_CONNS) {
                        int c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);

                        if (c >= 0) {
                                conns[nconns++] = c;
                                atomic_fetch_add(&f->accepted, 1);
                        }
                }
                for (int i = 0; i < nconns; i++) {
                        int c = conns[i];
                        bool drop = false;

                        if (!(p[2 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        if (!fake_read(c)) {
                                drop = true;
                        } else if (f->mode == FAKE_CLOSE) {
                                drop = true;
                        } else if (f->mode == FAKE_HALF_REPLY) {
                                (void)!write(c, "$10\r\nabc", 8);
                                drop = true;
                        } else if (f->mode == FAKE_GARBAGE) {
                                (void)!write(c, "@#!garbage\r\n", 12);
                        } else if (f->mode == FAKE_SCRIPT) {
                                (void)!write(c, f->script, f->script_len);
                        }
                        if (drop) {
                                close(c);
                                conns[i] = conns[--nconns];
                                /* p[] no longer matches conns[]: poll
                                 * again before looking at the others. */
                                break;
                        }
                }
        }
        for (int i = 0; i < nconns; i++)
                close(conns[i]);
        return NULL;
}

void fake_start(struct fake *f, enum fake_mode mode)
{
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t alen = sizeof a;
        int one = 1;

        f->mode = mode;
        atomic_init(&f->accepted, 0);
        f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        SRV_CHECK(f->lfd >= 0);
        setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        SRV_CHECK(bind(f->lfd, (struct sockaddr *)&a, sizeof a) == 0);
        SRV_CHECK(listen(f->lfd, 64) == 0);
        SRV_CHECK(getsockname(f->lfd, (struct sockaddr *)&a, &alen) == 0);
        f->port = ntohs(a.sin_port);
        snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", f->port);
        SRV_CHECK(pipe2(f->stop_pipe, O_CLOEXEC) == 0);
        SRV_CHECK(pthread_create(&f->thr, NULL, fake_main, f) == 0);
}

void fake_stop(struct fake *f)
{
        (void)!write(f->stop_pipe[1], "x", 1);
        pthread_join(f->thr, NULL);
        close(f->stop_pipe[0]);
        close(f->stop_pipe[1]);
        close(f->lfd);
}

int fake_accepted(struct fake *f)
{
        return atomic_load(&f->accepted);
}
