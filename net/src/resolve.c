/*
 * resolve.c - name resolution on the blocking pool (libtask/resolve.h).
 *
 * A lookup that is not a plain IP literal becomes a job on the runtime's
 * blocking pool (task__spawn_blocking_ex, runtime/src/blocking-priv.h):
 * resolve_run() calls getaddrinfo() on a pool thread, and the task awaits
 * the job's join handle.
 *
 * The job (struct task__resolve_job, one allocation: the struct, then the
 * copies of host and port) is shared by two owners and counted: the task's
 * operation (op->job) and the pool side (the job's argument).  The pool
 * side gives its reference up when resolve_run() returns, or, if the job
 * is discarded without running (aborted before a thread took it, dropped at
 * shutdown), in resolve_drop().  The task gives its reference up when it
 * has copied the addresses out, or when it is cancelled, which does not
 * wait for getaddrinfo(): an abort leaves the job to finish on the pool,
 * and whoever drops the last reference frees the block and the addrinfo
 * list.  The reference drop is acq_rel: the last owner sees every write
 * the other made (the result fields, written by resolve_run() before its
 * drop).
 *
 * The task reads the result only after its join reported 0, that is,
 * after resolve_run() returned: the blocking pool publishes it (the job's
 * DONE store, release; the join, acquire).
 */
#include "blocking-priv.h"
#include "runtime-priv.h"

#include <libtask/resolve.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct task__resolve_job {
        _Atomic int refs;
        /* Written by resolve_run() on the pool thread. */
        int eai;
        int sys_errno;
        struct addrinfo *res;
        const char *host, *port; /* copies, in buf */
        char buf[];
};

/* ---- Errors --------------------------------------------------------------- */

int task_resolve_error(int eai, int sys_errno)
{
        switch (eai) {
        case 0:
                return 0;
        case EAI_NONAME:
#ifdef EAI_NODATA
        case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
        case EAI_ADDRFAMILY:
#endif
                return -ENOENT;
        case EAI_AGAIN:
                return -EAGAIN;
        case EAI_MEMORY:
                return -ENOMEM;
        case EAI_FAMILY:
                return -EAFNOSUPPORT;
        case EAI_SERVICE:
        case EAI_BADFLAGS:
        case EAI_SOCKTYPE:
                return -EINVAL;
        case EAI_OVERFLOW:
                return -ENAMETOOLONG;
        case EAI_SYSTEM:
                return sys_errno > 0 ? -sys_errno : -EIO;
        case EAI_FAIL:
        default:
                return -EIO;
        }
}

/* ---- The job -------------------------------------------------------------- */

static void job_unref(struct task__resolve_job *job)
{
        /* Acq_rel: the last owner sees the other's writes (see head). */
        if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) ==
            1) {
                if (job->res)
                        freeaddrinfo(job->res);
                free(job);
        }
}

/* On a pool thread. */
static void *resolve_run(void *arg)
{
        struct task__resolve_job *job = arg;
        struct addrinfo hints;

        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        errno = 0;
        job->eai = getaddrinfo(job->host, job->port, &hints, &job->res);
        job->sys_errno = errno;
        if (job->eai)
                job->res = NULL;
        job_unref(job);
        return NULL;
}

/* The job was discarded without running: the pool side's reference. */
static void resolve_drop(void *arg)
{
        job_unref(arg);
}

/* ---- Parsing -------------------------------------------------------------- */

/*
 * Split the input into host and port spans.  With @port NULL, @host is
 * "host:port" or "[v6]:port"; otherwise @host may still be "[v6]".
 * Returns 0 or -EINVAL.
 */
static int split(const char *host, const char *port, const char **h,
                 size_t *hlen, const char **p, size_t *plen)
{
        size_t len = strlen(host);

        if (host[0] == '[') {
                const char *close = strchr(host, ']');
                if (!close || close == host + 1)
                        return -EINVAL;
                *h = host + 1;
                *hlen = (size_t)(close - host - 1);
                if (port) {
                        if (close[1] != '\0')
                                return -EINVAL;
                } else {
                        if (close[1] != ':')
                                return -EINVAL;
                        port = close + 2;
                }
        } else if (port) {
                *h = host;
                *hlen = len;
        } else {
                const char *colon = strrchr(host, ':');
                if (!colon || memchr(host, ':', (size_t)(colon - host)))
                        return -EINVAL; /* no port, or a bare IPv6 */
                *h = host;
                *hlen = (size_t)(colon - host);
                port = colon + 1;
        }
        *p = port;
        *plen = strlen(port);
        if (*hlen == 0 || *plen == 0)
                return -EINVAL;
        return 0;
}

/* A decimal port 0..65535 in @p[0..@len), or -1. */
static long numeric_port(const char *p, size_t len)
{
        long v = 0;

        if (len == 0 || len > 5)
                return -1;
        for (size_t i = 0; i < len; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return -1;
                v = v * 10 + (p[i] - '0');
        }
        return v <= 65535 ? v : -1;
}

/*
 * An IPv4 or IPv6 literal (with a zone, "fe80::1%lo", too) and a numeric
 * port: 1 with *@out built by task_addr_from_ip(), else 0 (a name: ask
 * getaddrinfo).
 */
static int literal(const char *h, size_t hlen, const char *p, size_t plen,
                   struct task_addr *out)
{
        char ip[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
        long port = numeric_port(p, plen);

        if (port < 0 || hlen >= sizeof ip)
                return 0;
        memcpy(ip, h, hlen);
        ip[hlen] = '\0';
        return task_addr_from_ip(out, ip, (uint16_t)port) == 0;
}

/* ---- The poll ------------------------------------------------------------- */

/* Copy the job's addresses out: the count, or -ENOENT for none. */
static int copy_out(const struct task__resolve_job *job,
                    struct task_addr *addrs, size_t max)
{
        size_t n = 0;

        for (const struct addrinfo *ai = job->res; ai && n < max;
             ai = ai->ai_next) {
                if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
                    ai->ai_addrlen > sizeof addrs[0].ss)
                        continue;
                bool dup = false;
                for (size_t i = 0; i < n && !dup; i++)
                        dup = addrs[i].len == ai->ai_addrlen &&
                              memcmp(&addrs[i].ss, ai->ai_addr,
                                     ai->ai_addrlen) == 0;
                if (dup)
                        continue;
                memset(&addrs[n], 0, sizeof addrs[n]);
                memcpy(&addrs[n].ss, ai->ai_addr, ai->ai_addrlen);
                addrs[n].len = ai->ai_addrlen;
                n++;
        }
        return n ? (int)n : -ENOENT;
}

/* Give up the lookup (abort, or done): the pool finishes on its own. */
static void op_release(struct task_resolve *op, bool abort)
{
        if (abort)
                task_abort(op->h); /* skips it if no thread has started it */
        task_handle_release(op->h);
        job_unref(op->job);
        op->h = NULL;
        op->job = NULL;
}

/* Start a lookup: 1 (a literal, in addrs[0]), 0 started, or -errno. */
static int op_start(struct task_cx *cx, struct task_resolve *op,
                    const char *host, const char *port, struct task_addr *addrs,
                    size_t max)
{
        const char *h, *p;
        size_t hlen, plen;
        int rc;

        if (!host || !addrs || max == 0)
                return -EINVAL;
        rc = split(host, port, &h, &hlen, &p, &plen);
        if (rc)
                return rc;
        /* All digits, then 0..65535: getaddrinfo would wrap 65536 to 0. */
        if (strspn(p, "0123456789") == plen && numeric_port(p, plen) < 0)
                return -EINVAL;
        if (literal(h, hlen, p, plen, &addrs[0]))
                return 1;
        struct task__resolve_job *job =
            task__fault_alloc() ? NULL : malloc(sizeof *job + hlen + plen + 2);
        if (!job)
                return -ENOMEM;
        atomic_init(&job->refs, 2);
        job->eai = 0;
        job->sys_errno = 0;
        job->res = NULL;
        memcpy(job->buf, h, hlen);
        job->buf[hlen] = '\0';
        memcpy(job->buf + hlen + 1, p, plen);
        job->buf[hlen + 1 + plen] = '\0';
        job->host = job->buf;
        job->port = job->buf + hlen + 1;
        rc = task__spawn_blocking_ex(cx->rt, resolve_run, resolve_drop, job,
                                     &op->h);
        if (rc) {
                free(job); /* on failure the pool holds nothing of it */
                return rc;
        }
        op->job = job;
        return 0;
}

bool task_resolve_poll(struct task_cx *cx, struct task_resolve *op,
                       const char *host, const char *port,
                       struct task_addr *addrs, size_t max, int *n)
{
        int r, jrc;

        if (!cx || !op) {
                if (n)
                        *n = -EINVAL;
                return !(cx && cx->cancelling);
        }
        if (cx->cancelling) {
                if (op->h)
                        op_release(op, true);
                return false;
        }
        if (!op->h) {
                r = op_start(cx, op, host, port, addrs, max);
                if (r == 0)
                        goto wait;
                if (r == 1 && !task_coop_proceed(cx))
                        return false; /* redone next poll: cheap */
                goto out;
        }
wait:
        if (!task_join_poll(cx, op->h, &jrc))
                return false;
        if (jrc == 0) {
                struct task__resolve_job *job = op->job;
                r = job->eai ? task_resolve_error(job->eai, job->sys_errno)
                             : copy_out(job, addrs, max);
        } else {
                r = jrc; /* -ECANCELED: dropped at shutdown */
        }
        op_release(op, false);
out:
        if (n)
                *n = r;
        return true;
}
