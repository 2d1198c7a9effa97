/*
 * libtask/unix.h - Unix domain stream sockets: listeners (bind), connect,
 * and connected pairs.  Tokio's UnixListener/UnixStream; reading, writing
 * and accepting are the byte stream calls of libtask/stream.h, shared
 * with TCP.
 *
 * Addresses come from task_addr_unix(): a path ("/run/app.sock") or an
 * abstract name ("@app", Linux only: no file, gone with the socket).
 */
#ifndef LIBTASK_UNIX_H
#define LIBTASK_UNIX_H

#include <libtask/addr.h>
#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/sock.h>
#include <libtask/stream.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * task_unix_bind - a Unix stream listener on @a into *@l, owned by the
 * caller.  @opts: NULL or zeroed for the defaults (only backlog applies).
 * A path must not exist yet (-EADDRINUSE; remove a stale one first) and
 * is not removed by task_listener_close().  Returns 0; -EINVAL (NULL,
 * not a Unix address); -EADDRINUSE; -EACCES; -ENOENT (no such
 * directory); -EMFILE.  On failure *@l is left empty.
 */
TASK_API int task_unix_bind(struct task_listener *l, const struct task_addr *a,
                            const struct task_bind_opts *opts);

/*
 * task_unix_connect_poll - connect to @a, as task_tcp_connect_poll()
 * (@timeout_ns 0: none).  *@rc: 0, -ENOENT (no such path),
 * -ECONNREFUSED (nobody listens there), -ETIMEDOUT, -EACCES, -EINVAL.
 */
TASK_API bool task_unix_connect_poll(struct task_cx *cx,
                                     const struct task_addr *a,
                                     uint64_t timeout_ns,
                                     struct task_net_op *op,
                                     struct task_stream *out, int *rc);
#define TASK_UNIX_CONNECT(f, a, timeout_ns, op, out, rcp)                      \
        TASK_AWAIT(f, task_unix_connect_poll((cx), (a), (timeout_ns), (op),    \
                                             (out), (rcp)))

/*
 * task_unix_pair - two connected streams (socketpair(2)), both owned by
 * the caller.  Returns 0, -EINVAL, -EMFILE; on failure both stay empty.
 */
TASK_API int task_unix_pair(struct task_stream *a, struct task_stream *b);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_UNIX_H */
