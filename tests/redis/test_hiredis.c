/*
 * test_hiredis.c - task-redis-server driven by hiredis, the C client most
 * C programs (and many language bindings) use: Debian's hiredis 0.14, its
 * synchronous API, which speaks RESP2 only.
 *
 * Each test starts the real server binary (RDS_SERVER_PATH, from meson)
 * with `--port 0`, reads the port back from the "Ready to accept
 * connections tcp on HOST:PORT" line of its stderr (a pipe), talks to it
 * with hiredis, then stops it with SIGTERM and checks that it exits with
 * status 0 (graceful shutdown, clients still connected or not).  The
 * server dies with the test process (PR_SET_PDEATHSIG), so a Criterion
 * timeout cannot leave it running; every wait is bounded.
 *
 * Covered: replies of every RESP2 type as hiredis decodes them; binary
 * safety of keys and values (%b); error replies as REDIS_REPLY_ERROR with
 * Redis's exact text, and the connection surviving them; a 10,000-command
 * pipeline (redisAppendCommand / redisGetReply); large values; AUTH
 * against --requirepass; SELECT; several connections from threads at
 * once; QUIT and shutdown seen by the client as EOF.
 */
#include <criterion/criterion.h>

#include <hiredis/hiredis.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RDS_SERVER_PATH
#error "RDS_SERVER_PATH must name the task-redis-server executable"
#endif

#define START_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 10000
#define READY_TAG "Ready to accept connections tcp on "

/* ---- The server ------------------------------------------------------------ */

struct server {
        pid_t pid;
        int port;
        char host[64];
        int errfd;         /* read end of the server's stderr */
        pthread_t drainer; /* reads errfd after the ready line */
        bool draining;
        char log[16384]; /* the last bytes of its stderr, for messages */
        size_t loglen;
};

static struct server srv;

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keep the log's last bytes: when full, the older half goes (the ready
 * line is parsed before that can happen; a sanitizer report comes last). */
static void log_add(struct server *s, const char *p, size_t n)
{
        size_t cap = sizeof s->log - 1;

        if (n > cap / 2) {
                p += n - cap / 2;
                n = cap / 2;
        }
        if (s->loglen + n > cap) {
                size_t drop = s->loglen - cap / 2;
                memmove(s->log, s->log + drop, s->loglen - drop);
                s->loglen -= drop;
        }
        memcpy(s->log + s->loglen, p, n);
        s->loglen += n;
        s->log[s->loglen] = '\0';
}

/* After the ready line, keep reading the server's stderr so that a
 * chatty server never blocks on a full pipe; ends at EOF (its exit). */
static void *drain(void *arg)
{
        struct server *s = arg;
        char buf[4096];
        ssize_t n;

        while ((n = read(s->errfd, buf, sizeof buf)) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                log_add(s, buf, (size_t)n);
        }
        return NULL;
}

/* Parse "HOST:PORT" after READY_TAG in the log; true when found. */
static bool find_ready(struct server *s)
{
        const char *p = strstr(s->log, READY_TAG);
        if (!p)
                return false;
        p += strlen(READY_TAG);
        const char *eol = strchr(p, '\n');
        if (!eol)
                return false; /* the line is not complete yet */
        const char *colon = NULL;
        for (const char *q = p; q < eol; q++)
                if (*q == ':')
                        colon = q; /* the last one: IPv6 hosts have more */
        if (!colon || (size_t)(colon - p) >= sizeof s->host)
                return false;
        memcpy(s->host, p, (size_t)(colon - p));
        s->host[colon - p] = '\0';
        s->port = atoi(colon + 1);
        return s->port > 0;
}

/*
 * Start the server with `--port 0` and @extra (NULL-terminated) and wait
 * for its ready line.  Fails the test if it does not come in time.
 */
static void server_start(struct server *s, const char *const *extra)
{
        char *argv[32];
        int n = 0, fds[2];

        memset(s, 0, sizeof *s);
        s->pid = -1;
        argv[n++] = (char *)RDS_SERVER_PATH;
        argv[n++] = (char *)"--port";
        argv[n++] = (char *)"0";
        for (int i = 0; extra && extra[i] && n < 31; i++)
                argv[n++] = (char *)extra[i];
        argv[n] = NULL;

        cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
        pid_t parent = getpid();
        s->pid = fork();
        cr_assert_neq(s->pid, -1, "fork: %s", strerror(errno));
        if (s->pid == 0) {
                /* The server must not outlive the test (a timeout kills
                 * the test process with SIGKILL). */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                int null = open("/dev/null", O_RDWR);
                dup2(null, 0);
                dup2(null, 1);
                dup2(fds[1], 2);
                if (chdir("/tmp") != 0)
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        close(fds[1]);
        s->errfd = fds[0];

        long long deadline = now_ms() + START_TIMEOUT_MS;
        while (!find_ready(s)) {
                long long left = deadline - now_ms();
                struct pollfd pfd = {.fd = s->errfd, .events = POLLIN};
                cr_assert_gt(left, 0, "server did not start in %d ms:\n%s",
                             START_TIMEOUT_MS, s->log);
                int rc = poll(&pfd, 1, (int)left);
                if (rc < 0 && errno == EINTR)
                        continue;
                cr_assert_geq(rc, 0, "poll: %s", strerror(errno));
                if (rc == 0)
                        continue;
                char buf[1024];
                ssize_t got = read(s->errfd, buf, sizeof buf);
                cr_assert_gt(got, 0, "server exited before it was ready:\n%s",
                             s->log);
                log_add(s, buf, (size_t)got);
        }
        cr_assert_eq(pthread_create(&s->drainer, NULL, drain, s), 0);
        s->draining = true;
}

/*
 * Send @sig and wait (bounded) for the exit; SIGKILL after
 * STOP_TIMEOUT_MS.  Returns the wait status, or -1 if nothing ran.
 */
static int server_stop(struct server *s, int sig)
{
        int status = -1;

        if (s->pid <= 0)
                return -1;
        kill(s->pid, sig);
        long long deadline = now_ms() + STOP_TIMEOUT_MS;
        for (;;) {
                pid_t r = waitpid(s->pid, &status, WNOHANG);
                if (r == s->pid)
                        break;
                if (r < 0 && errno != EINTR) {
                        status = -1;
                        break;
                }
                if (now_ms() > deadline) {
                        kill(s->pid, SIGKILL);
                        waitpid(s->pid, &status, 0);
                        status = -2; /* did not stop in time */
                        break;
                }
                usleep(5000);
        }
        s->pid = -1;
        if (s->draining) {
                pthread_join(s->drainer, NULL);
                s->draining = false;
        }
        close(s->errfd);
        return status;
}

/* Stop with SIGTERM and require a clean exit (status 0). */
static void server_stop_clean(struct server *s)
{
        int st = server_stop(s, SIGTERM);
        cr_assert_neq(st, -2, "server ignored SIGTERM for %d ms:\n%s",
                      STOP_TIMEOUT_MS, s->log);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "server exit status 0x%x after SIGTERM:\n%s", st, s->log);
        /* UBSan reports without changing the exit status. */
        cr_assert(!strstr(s->log, "runtime error:") &&
                      !strstr(s->log, "Sanitizer"),
                  "sanitizer report in the server log:\n%s", s->log);
}

static void start_default(void)
{
        server_start(&srv, NULL);
}

static void start_auth(void)
{
        server_start(&srv,
                     (const char *const[]){"--requirepass", "pa ss", NULL});
}

/* The fixture's end: only kills what a failed test left running. */
static void stop_quiet(void)
{
        server_stop(&srv, SIGKILL);
}

/* ---- Helpers ------------------------------------------------------------------ */

static redisContext *connect_srv(void)
{
        struct timeval tv = {.tv_sec = 10};
        redisContext *c = redisConnectWithTimeout(srv.host, srv.port, tv);
        cr_assert_not_null(c);
        cr_assert_eq(c->err, 0, "connect %s:%d: %s", srv.host, srv.port,
                     c->errstr);
        /* Replies too are bounded in time. */
        cr_assert_eq(redisSetTimeout(c, tv), REDIS_OK);
        return c;
}

static const char *type_name(int t)
{
        switch (t) {
        case REDIS_REPLY_STRING:
                return "string";
        case REDIS_REPLY_ARRAY:
                return "array";
        case REDIS_REPLY_INTEGER:
                return "integer";
        case REDIS_REPLY_NIL:
                return "nil";
        case REDIS_REPLY_STATUS:
                return "status";
        case REDIS_REPLY_ERROR:
                return "error";
        default:
                return "?";
        }
}

/* Check that @r (consumed) is of @type with text @text (status, error,
 * string; NULL: not checked). */
static void expect(redisReply *r, int type, const char *text)
{
        cr_assert_not_null(r, "no reply");
        cr_assert_eq(r->type, type, "reply type %s (%s), want %s",
                     type_name(r->type), r->str ? r->str : "", type_name(type));
        if (text) {
                cr_assert_eq(r->len, strlen(text), "reply \"%s\", want \"%s\"",
                             r->str, text);
                cr_assert_eq(memcmp(r->str, text, r->len), 0,
                             "reply \"%s\", want \"%s\"", r->str, text);
        }
        freeReplyObject(r);
}

static void expect_int(redisReply *r, long long v)
{
        cr_assert_not_null(r, "no reply");
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "reply type %s (%s)",
                     type_name(r->type), r->str ? r->str : "");
        cr_assert_eq(r->integer, v, "reply %lld, want %lld", r->integer, v);
        freeReplyObject(r);
}

static void expect_bulk(redisReply *r, const void *p, size_t len)
{
        cr_assert_not_null(r, "no reply");
        cr_assert_eq(r->type, REDIS_REPLY_STRING, "reply type %s (%s)",
                     type_name(r->type), r->str ? r->str : "");
        cr_assert_eq(r->len, len, "bulk of %zu bytes, want %zu", r->len, len);
        cr_assert_eq(memcmp(r->str, p, len), 0, "bulk bytes differ");
        freeReplyObject(r);
}

/* A value for index @i: binary, @len bytes, NUL and CRLF included. */
static void fill_value(unsigned char *v, size_t len, unsigned i)
{
        uint32_t x = i * 2654435761u + 1;
        for (size_t k = 0; k < len; k++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v[k] = (unsigned char)x;
        }
        if (len > 3) {
                v[0] = '\r';
                v[1] = '\n';
                v[2] = '\0';
        }
}

/* ---- Tests ---------------------------------------------------------------------- */

TestSuite(hiredis, .init = start_default, .fini = stop_quiet, .timeout = 60);

Test(hiredis, ping_set_get_binary_safe)
{
        redisContext *c = connect_srv();
        static const char key[] = "k\0ey\r\n";
        static const char val[] = "v\r\n$3\r\nal\0ue";

        expect(redisCommand(c, "PING"), REDIS_REPLY_STATUS, "PONG");
        expect(redisCommand(c, "PING %s", "hello"), REDIS_REPLY_STRING,
               "hello");
        expect(redisCommand(c, "SET %b %b", key, sizeof key - 1, val,
                            sizeof val - 1),
               REDIS_REPLY_STATUS, "OK");
        expect_bulk(redisCommand(c, "GET %b", key, sizeof key - 1), val,
                    sizeof val - 1);
        expect_int(redisCommand(c, "STRLEN %b", key, sizeof key - 1),
                   (long long)sizeof val - 1);
        /* A key that differs only after the NUL is another key. */
        expect(redisCommand(c, "GET %b", "k\0ex\r\n", (size_t)6),
               REDIS_REPLY_NIL, NULL);
        expect(redisCommand(c, "GET missing"), REDIS_REPLY_NIL, NULL);
        /* Empty key and empty value are legal. */
        expect(redisCommand(c, "SET %b %b", "", (size_t)0, "", (size_t)0),
               REDIS_REPLY_STATUS, "OK");
        expect_bulk(redisCommand(c, "GET %b", "", (size_t)0), "", 0);

        /* The argv form. */
        const char *argv[] = {"SET", "argv-key", "argv value"};
        expect(redisCommandArgv(c, 3, argv, NULL), REDIS_REPLY_STATUS, "OK");
        expect(redisCommand(c, "GET argv-key"), REDIS_REPLY_STRING,
               "argv value");
        redisFree(c);
        server_stop_clean(&srv);
}

Test(hiredis, integers_arrays_and_nil)
{
        redisContext *c = connect_srv();

        expect_int(redisCommand(c, "INCR counter"), 1);
        expect_int(redisCommand(c, "INCRBY counter %lld", 41LL), 42);
        expect_int(redisCommand(c, "DECRBY counter %d", 50), -8);
        expect_int(redisCommand(c, "INCRBY big %lld", 9223372036854775806LL),
                   9223372036854775806LL);
        expect(redisCommand(c, "INCRBYFLOAT f %s", "2.5"), REDIS_REPLY_STRING,
               "2.5");
        expect(redisCommand(c, "MSET a 1 b 2 c 3"), REDIS_REPLY_STATUS, "OK");
        expect_int(redisCommand(c, "EXISTS a b nope c"), 3);

        redisReply *r = redisCommand(c, "MGET a nope c");
        cr_assert_not_null(r);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        cr_assert_eq(r->elements, 3);
        cr_assert_eq(r->element[0]->type, REDIS_REPLY_STRING);
        cr_assert_str_eq(r->element[0]->str, "1");
        cr_assert_eq(r->element[1]->type, REDIS_REPLY_NIL);
        cr_assert_eq(r->element[2]->type, REDIS_REPLY_STRING);
        cr_assert_str_eq(r->element[2]->str, "3");
        freeReplyObject(r);

        expect_int(redisCommand(c, "DEL a b nope"), 2);
        expect_int(redisCommand(c, "TTL c"), -1);
        expect_int(redisCommand(c, "TTL nope"), -2);
        expect_int(redisCommand(c, "EXPIRE c 100"), 1);
        r = redisCommand(c, "TTL c");
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
        cr_assert(r->integer > 95 && r->integer <= 100, "TTL %lld", r->integer);
        freeReplyObject(r);
        expect(redisCommand(c, "TYPE c"), REDIS_REPLY_STATUS, "string");
        expect(redisCommand(c, "TYPE nope"), REDIS_REPLY_STATUS, "none");
        redisFree(c);
        server_stop_clean(&srv);
}

Test(hiredis, errors_are_error_replies_and_the_connection_lives)
{
        redisContext *c = connect_srv();

        expect(redisCommand(c, "NOSUCHCMD a b"), REDIS_REPLY_ERROR,
               "ERR unknown command 'NOSUCHCMD', with args beginning with: "
               "'a' 'b' ");
        expect(redisCommand(c, "nosuchcmd"), REDIS_REPLY_ERROR,
               "ERR unknown command 'nosuchcmd', with args beginning with: ");
        expect(redisCommand(c, "GET"), REDIS_REPLY_ERROR,
               "ERR wrong number of arguments for 'get' command");
        expect(redisCommand(c, "SET k v NX XX"), REDIS_REPLY_ERROR,
               "ERR syntax error");
        expect(redisCommand(c, "SET s abc"), REDIS_REPLY_STATUS, "OK");
        expect(redisCommand(c, "INCR s"), REDIS_REPLY_ERROR,
               "ERR value is not an integer or out of range");
        expect(redisCommand(c, "INCRBY big %lld", 9223372036854775807LL),
               REDIS_REPLY_INTEGER, NULL);
        expect(redisCommand(c, "INCR big"), REDIS_REPLY_ERROR,
               "ERR increment or decrement would overflow");
        expect(redisCommand(c, "SELECT 16"), REDIS_REPLY_ERROR,
               "ERR DB index is out of range");
        expect(redisCommand(c, "EXPIRE s notanumber"), REDIS_REPLY_ERROR,
               "ERR value is not an integer or out of range");
        /* After all that, the same connection still works. */
        cr_assert_eq(c->err, 0, "%s", c->errstr);
        expect(redisCommand(c, "PING"), REDIS_REPLY_STATUS, "PONG");
        expect(redisCommand(c, "GET s"), REDIS_REPLY_STRING, "abc");
        redisFree(c);
        server_stop_clean(&srv);
}

Test(hiredis, pipeline_of_10000)
{
        enum { N = 10000, VMAX = 300 };
        redisContext *c = connect_srv();
        unsigned char v[VMAX];
        char key[32];

        /* 10,000 SETs of binary values of sizes 0..299 in one pipeline:
         * hiredis writes them all (the server replies while we write), then
         * reads the 10,000 replies in order. */
        for (unsigned i = 0; i < N; i++) {
                size_t len = i % VMAX;
                fill_value(v, len, i);
                snprintf(key, sizeof key, "key:%u", i);
                cr_assert_eq(redisAppendCommand(c, "SET %s %b", key, v, len),
                             REDIS_OK);
        }
        for (unsigned i = 0; i < N; i++) {
                void *r = NULL;
                cr_assert_eq(redisGetReply(c, &r), REDIS_OK, "reply %u: %s", i,
                             c->errstr);
                expect(r, REDIS_REPLY_STATUS, "OK");
        }

        /* Then mixed: GET (values checked), INCR, GET of a missing key,
         * and an error reply in its place every 1,000. */
        for (unsigned i = 0; i < N; i++) {
                snprintf(key, sizeof key, "key:%u", i);
                switch (i % 4) {
                case 0:
                case 1:
                        redisAppendCommand(c, "GET %s", key);
                        break;
                case 2:
                        redisAppendCommand(c, "INCR counter");
                        break;
                case 3:
                        if (i % 1000 == 3)
                                redisAppendCommand(c, "INCR key:0");
                        else
                                redisAppendCommand(c, "GET missing:%u", i);
                        break;
                }
        }
        long long incrs = 0;
        for (unsigned i = 0; i < N; i++) {
                redisReply *r = NULL;
                cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK,
                             "reply %u: %s", i, c->errstr);
                switch (i % 4) {
                case 0:
                case 1:
                        fill_value(v, i % VMAX, i);
                        expect_bulk(r, v, i % VMAX);
                        break;
                case 2:
                        expect_int(r, ++incrs);
                        break;
                case 3:
                        if (i % 1000 == 3) {
                                /* key:0 holds an empty string */
                                expect(r, REDIS_REPLY_ERROR,
                                       "ERR value is not an integer or out "
                                       "of range");
                        } else {
                                expect(r, REDIS_REPLY_NIL, NULL);
                        }
                        break;
                }
        }
        expect_int(redisCommand(c, "DBSIZE"), N + 1);
        redisFree(c);
        server_stop_clean(&srv);
}

Test(hiredis, large_values)
{
        redisContext *c = connect_srv();
        size_t len = 4u << 20; /* 4 MB: many reads, many writes */
        unsigned char *big = malloc(len);
        cr_assert_not_null(big);
        fill_value(big, len, 7);

        expect(redisCommand(c, "SET big %b", big, len), REDIS_REPLY_STATUS,
               "OK");
        expect_bulk(redisCommand(c, "GET big"), big, len);
        expect_int(redisCommand(c, "APPEND big %b", "tail", (size_t)4),
                   (long long)len + 4);
        expect(redisCommand(c, "GETRANGE big %lld -1", (long long)len),
               REDIS_REPLY_STRING, "tail");
        /* Three in a pipeline: the replies come back whole and in order. */
        redisAppendCommand(c, "GET big");
        redisAppendCommand(c, "STRLEN big");
        redisAppendCommand(c, "GET big");
        for (int i = 0; i < 3; i++) {
                redisReply *r = NULL;
                cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
                if (i == 1) {
                        expect_int(r, (long long)len + 4);
                        continue;
                }
                cr_assert_eq(r->type, REDIS_REPLY_STRING);
                cr_assert_eq(r->len, len + 4);
                cr_assert_eq(memcmp(r->str, big, len), 0);
                freeReplyObject(r);
        }
        free(big);
        redisFree(c);
        server_stop_clean(&srv);
}

Test(hiredis, select_databases)
{
        redisContext *c = connect_srv();

        expect(redisCommand(c, "SELECT 3"), REDIS_REPLY_STATUS, "OK");
        expect(redisCommand(c, "SET k three"), REDIS_REPLY_STATUS, "OK");
        expect(redisCommand(c, "SELECT 0"), REDIS_REPLY_STATUS, "OK");
        expect(redisCommand(c, "GET k"), REDIS_REPLY_NIL, NULL);
        expect(redisCommand(c, "SET k zero"), REDIS_REPLY_STATUS, "OK");
        expect_int(redisCommand(c, "MOVE k 3"), 0); /* exists there */
        expect(redisCommand(c, "SELECT 3"), REDIS_REPLY_STATUS, "OK");
        expect(redisCommand(c, "GET k"), REDIS_REPLY_STRING, "three");
        expect_int(redisCommand(c, "DBSIZE"), 1);
        redisFree(c);
        server_stop_clean(&srv);
}

struct worker {
        int id;
        int fails;
        char why[256];
};

enum { THREADS = 8, PER_THREAD = 2000 };

/* One connection per thread: private keys, and a shared counter. */
static void *incr_worker(void *arg)
{
        struct worker *w = arg;
        struct timeval tv = {.tv_sec = 10};
        redisContext *c = redisConnectWithTimeout(srv.host, srv.port, tv);

        if (!c || c->err) {
                w->fails++;
                snprintf(w->why, sizeof w->why, "connect: %s",
                         c ? c->errstr : "no memory");
                goto out;
        }
        redisSetTimeout(c, tv);
        for (int i = 0; i < PER_THREAD; i++) {
                redisReply *r = redisCommand(c, "INCR shared");
                if (!r || r->type != REDIS_REPLY_INTEGER)
                        w->fails++;
                freeReplyObject(r);
                r = redisCommand(c, "SET own:%d:%d %d", w->id, i, i);
                if (!r || r->type != REDIS_REPLY_STATUS)
                        w->fails++;
                freeReplyObject(r);
                r = redisCommand(c, "GET own:%d:%d", w->id, i);
                if (!r || r->type != REDIS_REPLY_STRING || atoi(r->str) != i)
                        w->fails++;
                freeReplyObject(r);
                if (w->fails && !w->why[0])
                        snprintf(w->why, sizeof w->why, "command %d: %s", i,
                                 c->err ? c->errstr : "bad reply");
        }
out:
        if (c)
                redisFree(c);
        return NULL;
}

Test(hiredis, connections_from_threads)
{
        pthread_t t[THREADS];
        struct worker w[THREADS];

        for (int i = 0; i < THREADS; i++) {
                w[i] = (struct worker){.id = i};
                cr_assert_eq(pthread_create(&t[i], NULL, incr_worker, &w[i]),
                             0);
        }
        for (int i = 0; i < THREADS; i++) {
                pthread_join(t[i], NULL);
                cr_expect_eq(w[i].fails, 0, "thread %d: %d failures (%s)", i,
                             w[i].fails, w[i].why);
        }
        redisContext *c = connect_srv();
        expect(redisCommand(c, "GET shared"), REDIS_REPLY_STRING, NULL);
        expect_int(redisCommand(c, "INCRBY shared 0"), THREADS * PER_THREAD);
        expect_int(redisCommand(c, "DBSIZE"), THREADS * PER_THREAD + 1);
        redisFree(c);
        server_stop_clean(&srv);
}

Test(hiredis, quit_closes_the_connection)
{
        redisContext *c = connect_srv();

        expect(redisCommand(c, "QUIT"), REDIS_REPLY_STATUS, "OK");
        redisReply *r = redisCommand(c, "PING");
        cr_assert_null(r, "a reply after QUIT");
        cr_assert(c->err == REDIS_ERR_EOF || c->err == REDIS_ERR_IO,
                  "err %d: %s", c->err, c->errstr);
        redisFree(c);
        server_stop_clean(&srv);
}

Test(hiredis, shutdown_with_clients_connected)
{
        /* Graceful shutdown closes idle connections: the clients see EOF
         * and the server still exits 0. */
        redisContext *a = connect_srv(), *b = connect_srv();

        expect(redisCommand(a, "SET k v"), REDIS_REPLY_STATUS, "OK");
        expect(redisCommand(b, "GET k"), REDIS_REPLY_STRING, "v");
        redisAppendCommand(b, "INCR n"); /* written later, on the read */
        server_stop_clean(&srv);
        cr_assert_null(redisCommand(a, "PING"));
        cr_assert_neq(a->err, 0);
        void *r = NULL;
        cr_assert_eq(redisGetReply(b, &r), REDIS_ERR);
        redisFree(a);
        redisFree(b);
}

TestSuite(hiredis_auth, .init = start_auth, .fini = stop_quiet, .timeout = 60);

Test(hiredis_auth, requirepass)
{
        redisContext *c = connect_srv();

        expect(redisCommand(c, "GET k"), REDIS_REPLY_ERROR,
               "NOAUTH Authentication required.");
        expect(redisCommand(c, "AUTH %s", "wrong"), REDIS_REPLY_ERROR,
               "WRONGPASS invalid username-password pair or user is "
               "disabled.");
        expect(redisCommand(c, "SET k v"), REDIS_REPLY_ERROR,
               "NOAUTH Authentication required.");
        /* The password has a space: %s makes it one argument. */
        expect(redisCommand(c, "AUTH %s", "pa ss"), REDIS_REPLY_STATUS, "OK");
        expect(redisCommand(c, "SET k v"), REDIS_REPLY_STATUS, "OK");
        expect(redisCommand(c, "GET k"), REDIS_REPLY_STRING, "v");
        /* Another connection starts unauthenticated again. */
        redisContext *d = connect_srv();
        expect(redisCommand(d, "GET k"), REDIS_REPLY_ERROR,
               "NOAUTH Authentication required.");
        expect(redisCommand(d, "AUTH default %s", "pa ss"), REDIS_REPLY_STATUS,
               "OK");
        expect(redisCommand(d, "GET k"), REDIS_REPLY_STRING, "v");
        redisFree(d);
        redisFree(c);
        server_stop_clean(&srv);
}
