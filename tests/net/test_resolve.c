/*
 * test_resolve.c - name resolution (libtask/resolve.h): "localhost:80" and
 * host + port, IP literals (v4, v6 in brackets), a name under the reserved
 * .invalid TLD (never exists: -ENOENT, or -EAGAIN where no name server
 * answers; no network needed, but a name server is asked: one that drops
 * a packet costs its 5 s retry, hence the generous timeouts), truncation to @max, bad input, abort with
 * the lookup queued on the pool and aborts racing lookups (ASan checks that
 * nothing leaks or is used after free), a runtime shut down with a lookup
 * pending, -ENOMEM by fault injection (this suite links the internal
 * library), both flavors, and the fd count.
 */
#include "helpers.h"

#include "runtime-priv.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <libtask/blocking.h>
#include <libtask/resolve.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>

#define MAXA 8

struct lookup {
        TASK_FRAME;
        const char *host, *port;
        size_t max;
        struct task_resolve op;
        struct task_addr addrs[MAXA];
        int n;
        atomic_int waiting; /* set once a poll returned "not yet" */
};

/* TASK_RESOLVE's poll, noting (for the test thread) that it waits. */
static bool lookup_poll(struct task_cx *cx, struct lookup *f)
{
        bool done = task_resolve_poll(cx, &f->op, f->host, f->port, f->addrs,
                                      f->max, &f->n);
        if (!done && !cx->cancelling)
                atomic_store(&f->waiting, 1);
        return done;
}

static int lookup_fn(struct task_cx *cx, void *arg)
{
        struct lookup *f = arg;

        TASK_BEGIN(f);
        TASK_AWAIT(f, lookup_poll(cx, f));
        TASK_END(f);
}

/* The same through the macro, as a user writes it. */
static int lookup_macro_fn(struct task_cx *cx, void *arg)
{
        struct lookup *f = arg;

        TASK_BEGIN(f);
        TASK_RESOLVE(f, &f->op, f->host, f->port, f->addrs, f->max, &f->n);
        TASK_END(f);
}

static int resolve(task_runtime *rt, const char *host, const char *port,
                   size_t max, struct lookup *out)
{
        struct lookup f = {.host = host, .port = port, .max = max};

        cr_assert_eq(task_block_on(rt, lookup_fn, &f, sizeof f), 0);
        *out = f;
        return f.n;
}

static bool is_loopback(const struct task_addr *a, uint16_t port)
{
        const struct sockaddr_in *in4 = (const void *)&a->ss;
        const struct sockaddr_in6 *in6 = (const void *)&a->ss;

        if (a->ss.ss_family == AF_INET)
                return a->len == sizeof *in4 &&
                       in4->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
                       ntohs(in4->sin_port) == port;
        if (a->ss.ss_family == AF_INET6)
                return a->len == sizeof *in6 &&
                       IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) &&
                       ntohs(in6->sin6_port) == port;
        return false;
}

static int fd_count(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)) != NULL)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1;
}

/* ---- Names ----------------------------------------------------------------- */

static void localhost(enum task_flavor flavor)
{
        task_runtime *rt = test_rt_new_flavor(flavor);
        struct lookup f;

        int n = resolve(rt, "localhost:80", NULL, MAXA, &f);
        cr_assert_geq(n, 1, "localhost:80: %d", n);
        for (int i = 0; i < n; i++)
                cr_assert(is_loopback(&f.addrs[i], 80), "address %d", i);
        n = resolve(rt, "localhost", "6379", MAXA, &f);
        cr_assert_geq(n, 1);
        for (int i = 0; i < n; i++)
                cr_assert(is_loopback(&f.addrs[i], 6379));
        struct lookup m = {.host = "localhost:443", .max = MAXA};
        cr_assert_eq(task_block_on(rt, lookup_macro_fn, &m, sizeof m), 0);
        cr_assert_geq(m.n, 1);
        cr_assert(is_loopback(&m.addrs[0], 443));
        /* Truncated to max. */
        n = resolve(rt, "localhost", "1", 1, &f);
        cr_assert_eq(n, 1);
        cr_assert(is_loopback(&f.addrs[0], 1));
        test_rt_free(rt);
}

Test(resolve, localhost_multi_thread, .timeout = 30)
{
        localhost(TASK_MULTI_THREAD);
}

Test(resolve, localhost_current_thread, .timeout = 30)
{
        localhost(TASK_CURRENT_THREAD);
}

Test(resolve, ip_literals, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct lookup f;
        char buf[INET6_ADDRSTRLEN];

        cr_assert_eq(resolve(rt, "127.0.0.1:8080", NULL, MAXA, &f), 1);
        cr_assert(is_loopback(&f.addrs[0], 8080));
        cr_assert_eq(resolve(rt, "[::1]:6379", NULL, MAXA, &f), 1);
        cr_assert(is_loopback(&f.addrs[0], 6379));
        cr_assert_eq(resolve(rt, "::1", "53", MAXA, &f), 1);
        cr_assert(is_loopback(&f.addrs[0], 53));
        cr_assert_eq(resolve(rt, "[::1]", "0", MAXA, &f), 1);
        cr_assert(is_loopback(&f.addrs[0], 0));
        cr_assert_eq(resolve(rt, "10.1.2.3", "65535", MAXA, &f), 1);
        const struct sockaddr_in *in4 = (const void *)&f.addrs[0].ss;
        cr_assert_eq(in4->sin_family, AF_INET);
        cr_assert_str_eq(inet_ntop(AF_INET, &in4->sin_addr, buf, sizeof buf),
                         "10.1.2.3");
        cr_assert_eq(ntohs(in4->sin_port), 65535);
        cr_assert_eq(resolve(rt, "[2001:db8::7]:1", NULL, MAXA, &f), 1);
        const struct sockaddr_in6 *in6 = (const void *)&f.addrs[0].ss;
        cr_assert_eq(in6->sin6_family, AF_INET6);
        cr_assert_str_eq(inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf),
                         "2001:db8::7");
        /* A scoped literal keeps its zone (resolved on the spot, as the
         * address parser does it). */
        cr_assert_eq(resolve(rt, "[fe80::1%lo]:80", NULL, MAXA, &f), 1);
        in6 = (const void *)&f.addrs[0].ss;
        cr_assert_eq(in6->sin6_family, AF_INET6);
        cr_assert_eq(in6->sin6_scope_id, if_nametoindex("lo"));
        cr_assert_eq(ntohs(in6->sin6_port), 80);
        test_rt_free(rt);
}

Test(resolve, invalid_tld_fails, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct lookup f;
        const char *names[] = {"nonexistent.invalid:80", "a.b.invalid:1"};

        for (size_t i = 0; i < 2; i++) {
                int n = resolve(rt, names[i], NULL, MAXA, &f);
                cr_assert(n == -ENOENT || n == -EAGAIN, "%s: %d (%s)", names[i],
                          n, task_strerror(n));
        }
        test_rt_free(rt);
}

Test(resolve, no_fd_left, .timeout = 60)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct lookup f;

        /* A first lookup may open what glibc keeps for good (none here,
         * but nscd or a cache might): count after it. */
        resolve(rt, "localhost:80", NULL, MAXA, &f);
        int fds = fd_count();
        for (int i = 0; i < 20; i++)
                cr_assert_geq(resolve(rt, "localhost:80", NULL, MAXA, &f), 1);
        resolve(rt, "x.invalid:80", NULL, MAXA, &f);
        cr_assert_eq(fd_count(), fds);
        test_rt_free(rt);
}

/* ---- Bad input -------------------------------------------------------------- */

Test(resolve, bad_input, .timeout = 30)
{
        task_runtime *rt = test_rt_new_mt(2);
        struct lookup f;
        const char *bad_hostport[] = {
            "localhost", ":80",    "localhost:", "::1:80", "[::1]",
            "[::1]x",    "[::1]:", "[]:80",      "[::1",   "",
        };

        for (size_t i = 0; i < sizeof bad_hostport / sizeof bad_hostport[0];
             i++)
                cr_assert_eq(resolve(rt, bad_hostport[i], NULL, MAXA, &f),
                             -EINVAL, "\"%s\" accepted", bad_hostport[i]);
        cr_assert_eq(resolve(rt, NULL, "80", MAXA, &f), -EINVAL);
        cr_assert_eq(resolve(rt, "localhost", "", MAXA, &f), -EINVAL);
        cr_assert_eq(resolve(rt, "", "80", MAXA, &f), -EINVAL);
        cr_assert_eq(resolve(rt, "[::1]:80", "80", MAXA, &f), -EINVAL);
        cr_assert_eq(resolve(rt, "localhost:80", NULL, 0, &f), -EINVAL);
        /* Ports out of range, with a literal or a name. */
        cr_assert_eq(resolve(rt, "127.0.0.1", "65536", MAXA, &f), -EINVAL);
        cr_assert_eq(resolve(rt, "localhost:99999", NULL, MAXA, &f), -EINVAL);
        cr_assert_eq(resolve(rt, "localhost:123456", NULL, MAXA, &f), -EINVAL);
        int n;
        cr_assert_eq(task_resolve_poll(NULL, &f.op, "localhost", "80", f.addrs,
                                       MAXA, &n),
                     true);
        cr_assert_eq(n, -EINVAL);
        /* The error table. */
        cr_assert_eq(task_resolve_error(0, 0), 0);
        cr_assert_eq(task_resolve_error(EAI_NONAME, 0), -ENOENT);
        cr_assert_eq(task_resolve_error(EAI_AGAIN, 0), -EAGAIN);
        cr_assert_eq(task_resolve_error(EAI_FAIL, 0), -EIO);
        cr_assert_eq(task_resolve_error(EAI_MEMORY, 0), -ENOMEM);
        cr_assert_eq(task_resolve_error(EAI_SERVICE, 0), -EINVAL);
        cr_assert_eq(task_resolve_error(EAI_FAMILY, 0), -EAFNOSUPPORT);
        cr_assert_eq(task_resolve_error(EAI_SYSTEM, EMFILE), -EMFILE);
        cr_assert_eq(task_resolve_error(12345, 0), -EIO);
        test_rt_free(rt);
}

/* ---- Cancellation ----------------------------------------------------------- */

static atomic_int hold_release, hold_started;

static void *hold_job(void *arg)
{
        atomic_store(&hold_started, 1);
        for (int i = 0; i < 10000 && !atomic_load(&hold_release); i++)
                sleep_ms(1);
        return arg;
}

static bool lookup_waiting(task_handle *h)
{
        struct lookup *f = task_handle_frame(h);
        return atomic_load(&f->waiting);
}

/* The only pool thread is held: the lookup waits in the pool's queue, and
 * the abort drops it there (its job never runs; its memory is freed). */
Test(resolve, abort_with_lookup_queued, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        task_handle *hold, *h;

        task_runtime_opts_init(&o);
        o.workers = 2;
        o.max_blocking_threads = 1;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        atomic_store(&hold_release, 0);
        atomic_store(&hold_started, 0);
        cr_assert_eq(task_spawn_blocking(rt, hold_job, NULL, &hold), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&hold_started), 5000));
        struct lookup f = {.host = "localhost:80", .max = MAXA};
        cr_assert_eq(TASK_SPAWN(rt, lookup_fn, &f, &h), 0);
        cr_assert(WAIT_UNTIL(lookup_waiting(h), 5000));
        task_abort(h);
        /* The abort does not wait for the pool. */
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        task_handle_release(h);
        atomic_store(&hold_release, 1);
        cr_assert_eq(task_join_blocking(hold), 0);
        task_handle_release(hold);
        test_rt_free(rt);
}

/* Many lookups aborted at every stage: before the first poll, queued, while
 * getaddrinfo runs, after it returned.  ASan checks the job's memory. */
Test(resolve, abort_races, .timeout = 120)
{
        task_runtime *rt = test_rt_new_mt(2);
        long n = test_scaled(2000, 200);

        for (long i = 0; i < n; i++) {
                /* localhost: answered from /etc/hosts, no name server
                 * (whose answers can take seconds) involved. */
                struct lookup f = {.host = "localhost:80", .max = MAXA};
                task_handle *h;
                cr_assert_eq(TASK_SPAWN(rt, lookup_fn, &f, &h), 0);
                for (long k = 0; k < (i % 7) * 50; k++)
                        sched_yield();
                task_abort(h);
                int rc = task_join_blocking(h);
                cr_assert(rc == 0 || rc == -ECANCELED);
                task_handle_release(h);
        }
        /* Lookups still running on the pool finish and free themselves. */
        test_rt_free(rt);
}

static void *release_later(void *arg)
{
        (void)arg;
        sleep_ms(100);
        atomic_store(&hold_release, 1);
        return NULL;
}

/* The runtime shuts down while a lookup waits in the pool's queue. */
Test(resolve, shutdown_with_lookup_pending, .timeout = 30)
{
        struct task_runtime_opts o;
        task_runtime *rt;
        task_handle *hold, *h;

        task_runtime_opts_init(&o);
        o.workers = 2;
        o.max_blocking_threads = 1;
        cr_assert_eq(task_runtime_new(&o, &rt), 0);
        atomic_store(&hold_release, 0);
        atomic_store(&hold_started, 0);
        cr_assert_eq(task_spawn_blocking(rt, hold_job, NULL, &hold), 0);
        cr_assert(WAIT_UNTIL(atomic_load(&hold_started), 5000));
        struct lookup f = {.host = "localhost:80", .max = MAXA};
        cr_assert_eq(TASK_SPAWN(rt, lookup_fn, &f, &h), 0);
        cr_assert(WAIT_UNTIL(lookup_waiting(h), 5000));
        /* The shutdown drops the queued lookup, then waits for the held
         * job, which a thread lets go of a little later. */
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, release_later, NULL), 0);
        cr_assert_eq(task_runtime_shutdown(rt), 0);
        pthread_join(th, NULL);
        /* -ECANCELED unless the release beat the shutdown to the queue
         * (then the lookup ran: 0).  Either way nothing leaks. */
        int rc = task_join_blocking(h);
        cr_assert(rc == -ECANCELED || rc == 0, "rc=%d", rc);
        task_handle_release(h);
        task_handle_release(hold);
        test_rt_free(rt);
}

/* ---- Fault injection --------------------------------------------------------- */

Test(resolve, enomem_leaves_nothing_behind, .timeout = 60)
{
        bool seen = false;

        for (long k = 1; k <= 8; k++) {
                task_runtime *rt = test_rt_new_mt(2);
                struct lookup f = {.host = "localhost:80", .max = MAXA};
                atomic_store(&task__fault_alloc_countdown, k);
                int rc = task_block_on(rt, lookup_fn, &f, sizeof f);
                atomic_store(&task__fault_alloc_countdown, 0);
                if (rc == -ENOMEM) { /* block_on's own spawn */
                        test_rt_free(rt);
                        continue;
                }
                cr_assert_eq(rc, 0);
                cr_assert(f.n >= 1 || f.n == -ENOMEM || f.n == -EAGAIN, "%d",
                          f.n);
                seen |= f.n == -ENOMEM;
                test_rt_free(rt);
        }
        cr_assert(seen, "no -ENOMEM path was hit");
}
