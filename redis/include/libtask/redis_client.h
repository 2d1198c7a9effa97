/*
 * libtask/redis_client.h - the asynchronous Redis client: one connection,
 * driven by one task at a time.  The client half of Tokio's mini-redis,
 * done properly: any command through one generic call, pipelining, RESP2
 * and RESP3, per-command timeouts and reconnection with backoff.
 *
 *     struct app { TASK_FRAME; task_redis *c; struct task_redis_op op;
 *                  struct task_redis_value *v; int rc; };
 *     ...
 *     TASK_REDIS_CONNECT(f, "127.0.0.1:6379", NULL, &f->op, &f->c, &f->rc);
 *     if (f->rc < 0) ...                      // -ECONNREFUSED, -ETIMEDOUT ...
 *     static const char *const set[] = {"SET", "greeting", "hello"};
 *     TASK_REDIS_CMD(f, f->c, &f->op, 3, set, NULL, &f->v, &f->rc);
 *     // f->rc == 0: f->v is the reply (+OK), maybe an error value
 *     task_redis_value_free(f->v);
 *     TASK_CLEANUP(f);
 *     task_redis_close(f->c);
 *
 * Names: the client is part of libtask (linked from libtask.so, found by
 * `pkg-config libtask`), so its names are task_redis_*; the server's
 * private code uses rds_.
 *
 * Addresses (@where): "host:port", "host" (port 6379), "[v6addr]:port",
 * a Unix socket path ("/run/redis.sock", or "unix:/path"), or a URL:
 * redis://[[user]:password@]host[:port][/db] and unix:///path.  A host
 * name is resolved on libtask's blocking pool; every address it resolves
 * to is tried in turn.
 *
 * Pipelining: task_redis_append() queues a command in the client's output
 * buffer (no I/O); task_redis_flush_poll() writes everything queued in one
 * write; task_redis_reply_poll() reads the replies back, in order, one per
 * call.  TASK_REDIS_CMD is append + flush + reply.  task_redis_pending()
 * counts the replies still owed.
 *
 * RESP3 push messages (pub/sub messages to a RESP3 client, client-side
 * caching invalidations) that arrive between replies are not replies:
 * reply_poll sets them aside, in arrival order, for task_redis_push_poll()
 * (at most opts.max_pushes are kept; older ones are dropped beyond that).
 *
 * Concurrency: a task_redis is one connection used by one task at a time
 * (it may move between tasks and workers between calls).  Many tasks
 * sharing one connection: redis_buffered.h; a set of connections:
 * redis_pool.h; no runtime at all: redis_blocking.h.
 *
 * Errors (the *@rc of every call): 0; -EINVAL (NULL, a bad address or
 * argument); -ENOMEM; the connect's -ECONNREFUSED, -ETIMEDOUT,
 * -EHOSTUNREACH, name resolution's errors (resolve.h); -ETIMEDOUT (the
 * command timeout); -EPIPE or -ECONNRESET (the server went away; end of
 * stream while a reply is awaited, in the middle of one or not, is
 * -ECONNRESET too), -EPROTO (the server sent bytes that
 * are not RESP), -E2BIG (a reply beyond the reader's limits),
 * -ENOTCONN (the connection is broken and reconnection is off), -EBUSY
 * (another call on this client is in progress: nothing else happens),
 * -EREMOTEIO (only from the typed helpers and the handshake: the server
 * answered with an error; its text is task_redis_last_error()).  A server
 * error to a command sent with TASK_REDIS_CMD is not a failure: rc is 0
 * and the reply is a TASK_REDIS_ERROR value.
 *
 * Broken connections: after a transport error or end of stream, a
 * protocol error, a command timeout, a cancelled write that had sent part
 * of the queued bytes, or a cancelled task_redis_cmd_poll whose command
 * had gone out, the reply stream can no longer be matched to the
 * commands, so the client closes the connection.  Commands queued and
 * not yet answered are lost (their replies would never come; pending()
 * drops to 0).  With opts.reconnect, the next call reconnects first
 * (re-running AUTH/HELLO/SELECT/CLIENT SETNAME), waiting between failed
 * attempts with exponential backoff; a command is never sent twice.
 * Without it, every later call fails with -ENOTCONN.  Pushes already set
 * aside survive a break.
 *
 * Cancellation (abort, a lost TASK_SELECT or TASK_TIMEOUT): a call in
 * flight waits for the kernel to let go of its buffers and then gives up.
 * A cancelled read loses nothing (the bytes received stay in the client,
 * a partial reply in its reader), so cancelling reply_poll or push_poll
 * leaves the connection usable: push_poll under a TASK_TIMEOUT is fine.
 * A cancelled flush keeps what was not sent, if it sent nothing.  A
 * cancelled cmd_poll whose command had not gone out takes it back, with
 * every command queued before it (whose replies it would have dropped).
 * The rest breaks the connection, as above.
 *
 * Ownership: the client (task_redis) is allocated by the connect call and
 * owned by the caller until task_redis_close().  Replies are owned by the
 * caller (task_redis_value_free()).  Arguments are copied into the output
 * buffer by task_redis_append(): they may be freed as soon as it returns.
 * Ops (struct task_redis_op) are caller storage, zeroed before their first
 * use and reusable once a call has completed.
 */
#ifndef LIBTASK_REDIS_CLIENT_H
#define LIBTASK_REDIS_CLIENT_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/redis_value.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A client connection (opaque). */
typedef struct task_redis task_redis;

/* The default port. */
#define TASK_REDIS_PORT 6379

/* Connection options: task_redis_opts_init() then change what you need. */
struct task_redis_opts {
        /* Connecting: the whole connect (each address tried) plus the
         * handshake.  0: none.  Default 10 s. */
        uint64_t connect_timeout_ns;
        /* A command's limit, from its write until its reply has been
         * read whole (with pipelining: each flush_poll and reply_poll
         * call; push_poll has none).  Expiring breaks the connection.
         * 0 (the default): none. */
        uint64_t command_timeout_ns;
        /* 2 (default; 0 means 2) or 3: RESP3, with HELLO 3 on
         * connecting. */
        int protocol;
        /* AUTH (or HELLO's AUTH) on connecting, when password is not
         * NULL; user NULL means "default".  Copied at connect time. */
        const char *user;
        const char *password;
        /* SELECT on connecting, when not 0. */
        int db;
        /* CLIENT SETNAME on connecting, when not NULL.  Copied. */
        const char *client_name;
        /* Reconnect a broken connection at the next call (default off).
         * The first connect (task_redis_connect_poll) is one attempt. */
        bool reconnect;
        /* Backoff between failed reconnection attempts: the n-th failure
         * in a row waits min * 2^(n-1), capped at max, drawn uniformly
         * in [half, all] of that (defaults, also for 0: 10 ms and 2 s).
         * The streak carries over from call to call until an attempt
         * succeeds, so a call retried at once still waits.  After
         * max_attempts failed attempts in one call (default 0: no limit,
         * the call waits until the server is back: bound it with
         * TASK_TIMEOUT) the call fails with the last attempt's error. */
        uint64_t backoff_min_ns;
        uint64_t backoff_max_ns;
        unsigned max_attempts;
        /* Reader limits (redis_value.h); 0 takes the default. */
        struct task_redis_reader_opts limits;
        /* RESP3 push messages kept for task_redis_push_poll (default,
         * also for 0: 4096). */
        size_t max_pushes;
};

/* task_redis_opts_init - the defaults above into *@o. */
TASK_API void task_redis_opts_init(struct task_redis_opts *o);

/*
 * The state of one call on a client.  Caller storage (in the frame),
 * zeroed before its first use; fields are private.
 */
struct task_redis_op {
        union {
                int lc;            /* 0: a fresh op (no call started) */
                struct task_co co; /* the call's resume point (the same) */
        };
        int err; /* the call's result, until it is handed over */
        uint64_t deadline;
        void *p;  /* the reply, or the client being connected */
        size_t i; /* flags: the call owns the client, has finished */
        int64_t scratch[4];
};

/* ---- Connecting ------------------------------------------------------------ */

/*
 * task_redis_connect_poll - connect to @where (see the head of this file)
 * with @o (NULL: the defaults), and run the handshake the options ask
 * for.  @where and @o are read at the first poll only (copied: they may
 * be temporaries).  True when done, with *@rc 0 and the client in *@out
 * (owned by the caller), or *@rc -errno and *@out untouched: -EINVAL (a
 * bad address or option), -EACCES (AUTH refused: WRONGPASS, or NOAUTH
 * with no password given), -EPROTONOSUPPORT (HELLO 3 refused: a
 * RESP2-only server), -EREMOTEIO (another error reply to the handshake,
 * a SELECT out of range say),
 * the connect's errors.  Cancellation-safe: nothing is left open.
 */
TASK_API bool task_redis_connect_poll(struct task_cx *cx, const char *where,
                                      const struct task_redis_opts *o,
                                      struct task_redis_op *op,
                                      task_redis **out, int *rc);
#define TASK_REDIS_CONNECT(f, where, o, op, outp, rcp)                         \
        TASK_AWAIT(f, task_redis_connect_poll((cx), (where), (o), (op),        \
                                              (outp), (rcp)))

/*
 * task_redis_close - close the connection and free the client, with every
 * reply and push still queued in it.  No call may be in progress on it
 * (cancel it first).  NULL is accepted.
 */
TASK_API void task_redis_close(task_redis *c);

/* ---- Commands ---------------------------------------------------------------- */

/*
 * task_redis_cmd_poll - send the command @argv[0..@argc) (binary-safe:
 * @lens[i] bytes each; @lens NULL: C strings) and read its reply.  True
 * when done, with *@rc 0 and *@reply the reply (owned by the caller; an
 * error reply is a TASK_REDIS_ERROR value), or *@rc -errno and *@reply
 * NULL.  @argv and its strings are copied at the first poll.  Replies to
 * commands queued earlier with task_redis_append() and not yet read are
 * read first and dropped.  If the call fails before its command went out
 * (a reconnection that gave up), the command and those queued before it
 * are dropped unsent.
 */
TASK_API bool task_redis_cmd_poll(struct task_cx *cx, task_redis *c,
                                  struct task_redis_op *op, int argc,
                                  const char *const *argv, const size_t *lens,
                                  struct task_redis_value **reply, int *rc);
#define TASK_REDIS_CMD(f, c, op, argc, argv, lens, replyp, rcp)                \
        TASK_AWAIT(f, task_redis_cmd_poll((cx), (c), (op), (argc), (argv),     \
                                          (lens), (replyp), (rcp)))

/* ---- Pipelining -------------------------------------------------------------- */

/*
 * task_redis_append - queue a command in @c's output buffer (no I/O).
 * Arguments as task_redis_cmd_poll; copied.  Returns 0, -EINVAL, -ENOMEM
 * (nothing queued), -ENOTCONN (broken and not reconnecting), -EBUSY (a
 * call is in progress on @c).
 */
TASK_API int task_redis_append(task_redis *c, int argc, const char *const *argv,
                               const size_t *lens);

/*
 * task_redis_flush_poll - write every queued command (one write while the
 * socket takes it all).  True when done, with *@rc 0 or -errno (the
 * connection is then broken: see the head of this file).  Reconnects
 * first when the connection is broken and reconnect is on, but only if
 * nothing queued was written to the broken connection.
 */
TASK_API bool task_redis_flush_poll(struct task_cx *cx, task_redis *c,
                                    struct task_redis_op *op, int *rc);
#define TASK_REDIS_FLUSH(f, c, op, rcp)                                        \
        TASK_AWAIT(f, task_redis_flush_poll((cx), (c), (op), (rcp)))

/*
 * task_redis_reply_poll - read the reply to the oldest command written
 * and not yet answered (flushing first, if commands are still queued).
 * True when done, with *@rc 0 and *@reply (owned by the caller), or
 * *@rc -errno and *@reply NULL: -ENOENT when no reply is owed.
 */
TASK_API bool task_redis_reply_poll(struct task_cx *cx, task_redis *c,
                                    struct task_redis_op *op,
                                    struct task_redis_value **reply, int *rc);
#define TASK_REDIS_REPLY(f, c, op, replyp, rcp)                                \
        TASK_AWAIT(f, task_redis_reply_poll((cx), (c), (op), (replyp), (rcp)))

/* Replies owed: commands appended (written or not) and not yet read. */
TASK_API size_t task_redis_pending(const task_redis *c);

/* ---- Push messages (RESP3) ------------------------------------------------ */

/*
 * task_redis_push_poll - the next RESP3 push message: one set aside
 * earlier, else the next to arrive (reading the socket; a reply to a
 * command read meanwhile is kept for reply_poll).  True when done, with
 * *@rc 0 and *@push (a TASK_REDIS_PUSH value owned by the caller), or
 * -errno.  On a RESP2 connection it waits for a push that never comes:
 * bound it with TASK_TIMEOUT.
 */
TASK_API bool task_redis_push_poll(struct task_cx *cx, task_redis *c,
                                   struct task_redis_op *op,
                                   struct task_redis_value **push, int *rc);
#define TASK_REDIS_PUSH(f, c, op, pushp, rcp)                                  \
        TASK_AWAIT(f, task_redis_push_poll((cx), (c), (op), (pushp), (rcp)))

/* ---- State ----------------------------------------------------------------- */

/* The protocol in use (2 or 3). */
TASK_API int task_redis_protocol(const task_redis *c);

/* True while @c holds an open connection that no error has broken. */
TASK_API bool task_redis_connected(const task_redis *c);

/*
 * The text of the last error reply the typed helpers or the handshake
 * turned into -EREMOTEIO ("" if none).  Owned by @c, valid until the next
 * call on it.
 */
TASK_API const char *task_redis_last_error(const task_redis *c);

/* The socket (owned by @c), or -ENOTCONN. */
TASK_API int task_redis_fd(const task_redis *c);

/* Reconnections done so far (a counter for tests and metrics). */
TASK_API uint64_t task_redis_reconnects(const task_redis *c);

/*
 * Connection attempts made so far, failed ones too, the first connect's
 * included (an attempt: resolving, trying each address, the handshake),
 * a counter for tests and metrics: with reconnection on, it shows the
 * backoff at work.
 */
TASK_API uint64_t task_redis_connect_attempts(const task_redis *c);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_REDIS_CLIENT_H */
