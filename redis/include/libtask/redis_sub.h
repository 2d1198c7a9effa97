/*
 * libtask/redis_sub.h - the subscriber: a connection in pub/sub mode
 * (SUBSCRIBE, PSUBSCRIBE), delivering messages one at a time.  Tokio
 * mini-redis's Subscriber, done properly: more channels may be added or
 * removed at any time, messages that arrive while a (un)subscribe awaits
 * its confirmations are queued, not lost, and both protocols work (RESP2:
 * confirmations and messages are arrays; RESP3: they are push messages).
 *
 *     struct app { TASK_FRAME; task_redis *c; task_redis_sub *s;
 *                  struct task_redis_op op; struct task_redis_msg m;
 *                  int rc; };
 *     ...
 *     TASK_REDIS_CONNECT(f, addr, NULL, &f->op, &f->c, &f->rc);
 *     f->rc = task_redis_sub_new(f->c, &f->s);   // f->s owns f->c now
 *     static const char *const chans[] = {"news", "weather"};
 *     TASK_REDIS_SUBSCRIBE(f, f->s, &f->op, 2, chans, NULL, &f->rc);
 *     for (;;) {
 *             TASK_REDIS_SUB_NEXT(f, f->s, &f->op, &f->m, &f->rc);
 *             if (f->rc < 0) break;           // the connection went away
 *             printf("%.*s: %.*s\n", (int)f->m.channel_len, f->m.channel,
 *                    (int)f->m.payload_len, f->m.payload);
 *             task_redis_msg_free(&f->m);
 *     }
 *     TASK_CLEANUP(f);
 *     task_redis_sub_close(f->s);             // closes the client too
 *
 * Ownership: task_redis_sub_new() takes the client over: from then on
 * only the subscriber uses it, and task_redis_sub_close() closes it.  A
 * message's bytes belong to the message until task_redis_msg_free().
 *
 * The connection: a subscriber never reconnects (its subscriptions would
 * be gone).  Once its connection is broken (the server closed it, a
 * protocol error, a call cancelled in the middle of writing its command)
 * every call fails: the call that met the failure with its error (-ECONNRESET,
 * -EPIPE, -EPROTO, ...), the later ones with -ENOTCONN.  Close it and
 * make another.  The client's command_timeout (redis_client.h) does not
 * apply to a subscriber's calls (waiting for a message is not a command):
 * bound them with TASK_TIMEOUT.
 *
 * Concurrency and cancellation: one call at a time on a subscriber (else
 * -EBUSY), from any one task at a time.  A call may be cancelled (an
 * abort, TASK_TIMEOUT, a lost TASK_SELECT): a cancelled
 * task_redis_sub_next_poll() loses nothing (bytes of a message already
 * read stay in the client's buffer for the next call); a cancelled
 * (un)subscribe still takes effect on the server, and its confirmations,
 * when they come, update the counts.
 *
 * Errors (*@rc), beyond redis_client.h's: -EINVAL (NULL, no channels for
 * SUBSCRIBE), -EBUSY, -ENOTCONN (see above), -ENOMEM, -EREMOTEIO (the
 * server answered a subscriber's command with an error, e.g. NOPERM; its
 * text is task_redis_last_error(task_redis_sub_client(s))).
 */
#ifndef LIBTASK_REDIS_SUB_H
#define LIBTASK_REDIS_SUB_H

#include <libtask/redis_client.h>

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A subscriber (opaque). */
typedef struct task_redis_sub task_redis_sub;

/* What a message is. */
enum task_redis_msg_kind {
        TASK_REDIS_MSG_MESSAGE = 1, /* to a channel subscribed to */
        TASK_REDIS_MSG_PMESSAGE,    /* to a channel matching a pattern */
};

/*
 * A message.  The bytes are binary-safe and NUL-terminated (the NUL not
 * counted); they live in the reply the message was read from, owned by
 * the message until task_redis_msg_free().  Read-only for the receiver.
 */
struct task_redis_msg {
        enum task_redis_msg_kind kind;
        const char *channel; /* the channel it was published on */
        size_t channel_len;
        const char *pattern; /* PMESSAGE: the pattern that matched; else */
        size_t pattern_len;  /* NULL and 0 */
        const char *payload;
        size_t payload_len;
        struct task_redis_value *v; /* private: owns the bytes above */
};

/*
 * task_redis_msg_free - free a message's bytes and zero it.  A zeroed
 * message (or NULL) is accepted, so freeing twice is harmless.
 */
TASK_API void task_redis_msg_free(struct task_redis_msg *m);

/* ---- Life ------------------------------------------------------------------ */

/*
 * task_redis_sub_new - make a subscriber of the connected client @c, which
 * must not be subscribed to anything yet nor owe replies.  Returns 0 with
 * *@out the subscriber (owned by the caller, task_redis_sub_close()), and
 * @c now owned by it; or -EINVAL (NULL), -ENOTCONN (@c is not connected),
 * -EBUSY (@c owes replies: read them first), -ENOMEM, with @c still the
 * caller's.  No I/O: subscribe next.
 */
TASK_API int task_redis_sub_new(task_redis *c, task_redis_sub **out);

/*
 * task_redis_sub_close - close the subscriber's connection (dropping every
 * subscription) and free it, with the messages still queued.  No call may
 * be in progress on it.  NULL is accepted.
 */
TASK_API void task_redis_sub_close(task_redis_sub *s);

/* The subscriber's client (owned by @s): for task_redis_last_error() and
 * the state calls of redis_client.h only. */
TASK_API task_redis *task_redis_sub_client(const task_redis_sub *s);

/* ---- Subscribing ----------------------------------------------------------- */

/*
 * task_redis_subscribe_poll - SUBSCRIBE to the @n channels @chans[0..@n)
 * (@lens[i] bytes each; @lens NULL: C strings), @n >= 1, and await the
 * server's confirmation of each.  True when done, with *@rc 0 (every
 * channel confirmed; the counts below are up to date) or -errno.
 * Messages that arrive meanwhile are queued for task_redis_sub_next_poll.
 * Channels already subscribed to stay subscribed once (the server's
 * rule).  The names are copied at the first poll.
 */
TASK_API bool task_redis_subscribe_poll(struct task_cx *cx, task_redis_sub *s,
                                        struct task_redis_op *op, int n,
                                        const char *const *chans,
                                        const size_t *lens, int *rc);
#define TASK_REDIS_SUBSCRIBE(f, s, op, n, chans, lens, rcp)                    \
        TASK_AWAIT(f, task_redis_subscribe_poll((cx), (s), (op), (n), (chans), \
                                                (lens), (rcp)))

/* task_redis_psubscribe_poll - PSUBSCRIBE to @n glob-style patterns
 * ("news.*"); as task_redis_subscribe_poll. */
TASK_API bool task_redis_psubscribe_poll(struct task_cx *cx, task_redis_sub *s,
                                         struct task_redis_op *op, int n,
                                         const char *const *pats,
                                         const size_t *lens, int *rc);
#define TASK_REDIS_PSUBSCRIBE(f, s, op, n, pats, lens, rcp)                    \
        TASK_AWAIT(f, task_redis_psubscribe_poll((cx), (s), (op), (n), (pats), \
                                                 (lens), (rcp)))

/*
 * task_redis_unsubscribe_poll - UNSUBSCRIBE from the @n channels
 * @chans[0..@n), or from every channel when @n is 0 (@chans may then be
 * NULL), and await the confirmations.  Unsubscribing from a channel not
 * subscribed to is not an error.  Messages that arrive meanwhile are
 * queued, those of the channels just left included (they were published
 * before the unsubscribe took effect).  Otherwise as
 * task_redis_subscribe_poll.
 */
TASK_API bool task_redis_unsubscribe_poll(struct task_cx *cx, task_redis_sub *s,
                                          struct task_redis_op *op, int n,
                                          const char *const *chans,
                                          const size_t *lens, int *rc);
#define TASK_REDIS_UNSUBSCRIBE(f, s, op, n, chans, lens, rcp)                  \
        TASK_AWAIT(f, task_redis_unsubscribe_poll((cx), (s), (op), (n),        \
                                                  (chans), (lens), (rcp)))

/* task_redis_punsubscribe_poll - PUNSUBSCRIBE from @n patterns, or from
 * all when @n is 0; as task_redis_unsubscribe_poll. */
TASK_API bool task_redis_punsubscribe_poll(struct task_cx *cx,
                                           task_redis_sub *s,
                                           struct task_redis_op *op, int n,
                                           const char *const *pats,
                                           const size_t *lens, int *rc);
#define TASK_REDIS_PUNSUBSCRIBE(f, s, op, n, pats, lens, rcp)                  \
        TASK_AWAIT(f, task_redis_punsubscribe_poll((cx), (s), (op), (n),       \
                                                   (pats), (lens), (rcp)))

/* ---- Messages -------------------------------------------------------------- */

/*
 * task_redis_sub_next_poll - the next message: the oldest queued, else the
 * next to arrive.  True when done, with *@rc 0 and *@msg the message (the
 * caller's: task_redis_msg_free()), or *@rc -errno and *@msg zeroed.
 * It waits for as long as it takes (with no subscription at all: for
 * ever): bound it with TASK_TIMEOUT, which loses nothing.
 */
TASK_API bool task_redis_sub_next_poll(struct task_cx *cx, task_redis_sub *s,
                                       struct task_redis_op *op,
                                       struct task_redis_msg *msg, int *rc);
#define TASK_REDIS_SUB_NEXT(f, s, op, msgp, rcp)                               \
        TASK_AWAIT(f, task_redis_sub_next_poll((cx), (s), (op), (msgp), (rcp)))

/*
 * task_redis_sub_ping_poll - PING while subscribed (a liveness check:
 * RESP2 answers it with an array ["pong", ""], RESP3 with +PONG; both are
 * understood).  True when done, with *@rc 0 or -errno.  Messages that
 * arrive meanwhile are queued.
 */
TASK_API bool task_redis_sub_ping_poll(struct task_cx *cx, task_redis_sub *s,
                                       struct task_redis_op *op, int *rc);
#define TASK_REDIS_SUB_PING(f, s, op, rcp)                                     \
        TASK_AWAIT(f, task_redis_sub_ping_poll((cx), (s), (op), (rcp)))

/* ---- State ------------------------------------------------------------------ */

/* Channels subscribed to, as the server's latest confirmation says. */
TASK_API size_t task_redis_sub_channels(const task_redis_sub *s);

/* Patterns subscribed to, as the server's latest confirmation says. */
TASK_API size_t task_redis_sub_patterns(const task_redis_sub *s);

/* Messages queued (read off the wire, not yet taken by next). */
TASK_API size_t task_redis_sub_queued(const task_redis_sub *s);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_REDIS_SUB_H */
