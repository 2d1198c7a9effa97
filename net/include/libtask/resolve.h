/*
 * libtask/resolve.h - name resolution: "host:port" (or a host and a port or
 * service name) to socket addresses, without blocking a worker.  Tokio's
 * tokio::net::lookup_host.
 *
 *     struct conn { TASK_FRAME; struct task_resolve res;
 *                   struct task_addr addrs[8]; int n; ... };
 *     ...
 *     TASK_RESOLVE(f, &f->res, "example.com:6379", NULL, f->addrs, 8, &f->n);
 *     if (f->n < 0)
 *             ... f->n is -errno ...
 *     else
 *             ... f->addrs[0 .. f->n - 1] ...
 *
 * IP literals with a numeric port ("127.0.0.1:80", "[::1]:6379", with a zone
 * "[fe80::1%lo]:80"), parsed as task_addr_from_ip() parses them, are
 * converted in the poll itself, at once.  Anything else runs getaddrinfo()
 * (AF_UNSPEC, SOCK_STREAM: one address per host address, IPv4 and IPv6, in
 * getaddrinfo's RFC 6724 order, duplicates removed) on the runtime's
 * blocking pool (libtask/blocking.h), which the task awaits.
 *
 * Errors (*n < 0), getaddrinfo's codes mapped to errnos:
 *
 *   -EINVAL        NULL @op/@addrs/@host, @max 0, an empty host or port, a
 *                  "host:port" without a port, a bare IPv6 literal without
 *                  brackets in "host:port" form; EAI_SERVICE (a port out of
 *                  range, an unknown service name), EAI_BADFLAGS,
 *                  EAI_SOCKTYPE
 *   -ENOENT        the name does not exist, or has no address: EAI_NONAME,
 *                  EAI_NODATA, EAI_ADDRFAMILY, and a reply with no IPv4 or
 *                  IPv6 address in it
 *   -EAGAIN        EAI_AGAIN: no name server answered (try again later)
 *   -EIO           EAI_FAIL (a name server failed for good), and any code
 *                  not listed here
 *   -ENOMEM        EAI_MEMORY, or our own allocation failed
 *   -EAFNOSUPPORT  EAI_FAMILY
 *   -ENAMETOOLONG  EAI_OVERFLOW
 *   -errno         EAI_SYSTEM: the errno getaddrinfo left
 *   -ESHUTDOWN, -EAGAIN   the blocking pool refused the job (the runtime is
 *                  shut down; no pool thread could be started)
 *   -ECANCELED     the runtime was shut down while the lookup waited
 *
 * Memory: the caller owns @op (in the frame, zeroed before first use, not
 * moved while a lookup runs), the strings @host and @port (read only by
 * the first poll: the lookup works on its own copies) and @addrs (written
 * only by the poll that returns true).  Nothing is allocated for literals;
 * a lookup allocates one block for its copies, freed by whichever of the
 * task and the pool thread finishes with it last.
 *
 * Cancellation: aborting the task (or losing a TASK_SELECT) while a lookup
 * runs does not wait for getaddrinfo(): the job is dropped if no pool
 * thread has started it, otherwise it runs to its end on the pool and its
 * result is thrown away.  Nothing leaks and @addrs is not written.
 * Cancellation-safe in the sense that nothing is lost but time (and a
 * getaddrinfo call).
 */
#ifndef LIBTASK_RESOLVE_H
#define LIBTASK_RESOLVE_H

#include <libtask/addr.h>
#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/runtime.h>

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct task__resolve_job;

/* A lookup in progress: keep it in the frame, zeroed before first use. */
struct task_resolve {
        struct task__resolve_job *job; /* shared with the pool thread */
        task_handle *h;                /* the blocking job's handle */
};

/*
 * task_resolve_poll - the poll of a lookup (TASK_RESOLVE).
 * @host: a host name or IP literal; with @port NULL, "host:port" (IPv6 in
 *        brackets: "[::1]:80").
 * @port: a port number or service name ("80", "http"), or NULL (above).
 * @addrs, @max: where to write up to @max addresses.
 * @n: receives the number of addresses written (>= 1) or a negative errno
 *     (see the table above).
 * True when done, false while the task waits for the pool.  Uses one unit
 * of cooperative budget when done.
 */
TASK_API bool task_resolve_poll(struct task_cx *cx, struct task_resolve *op,
                                const char *host, const char *port,
                                struct task_addr *addrs, size_t max, int *n);

/* TASK_RESOLVE(f, op, host, port, addrs, max, np) - await a lookup. */
#define TASK_RESOLVE(f, op, host, port, addrs, max, np)                        \
        TASK_AWAIT(f, task_resolve_poll((cx), (op), (host), (port), (addrs),   \
                                        (max), (np)))

/*
 * task_resolve_error - the negative errno for a getaddrinfo() error code
 * @eai (EAI_*), by the table above; @sys_errno is used for EAI_SYSTEM.
 * 0 for 0.
 */
TASK_API int task_resolve_error(int eai, int sys_errno);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_RESOLVE_H */
