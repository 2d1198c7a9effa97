/*
 * redis/client/client-priv.h - the async client's insides, shared by
 * client.c (commands, pipelining, pushes), connect.c (addresses,
 * connecting, the handshake, reconnection) and the modules built on the
 * client (commands.c, subscriber.c).  Never installed.
 *
 * The design is in client.c's head comment.  Everything here is used by
 * the one task that holds the client at a time (redis_client.h,
 * "Concurrency"): no field is shared between threads while a call runs,
 * and the runtime orders one poll of a task after the previous one even
 * when the task moves between workers.
 */
#ifndef LIBTASK_REDIS_CLIENT_PRIV_H
#define LIBTASK_REDIS_CLIENT_PRIV_H

#include <libtask/buf.h>
#include <libtask/redis_client.h>
#include <libtask/resolve.h>
#include <libtask/sock.h>
#include <libtask/stream.h>
#include <libtask/time.h>
#include <libtask/wait.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- For the modules built on the client (commands.c, subscriber.c) ------ */

/*
 * Not exported (hidden, as every task_redis__ name): the suites that use
 * them (tests/redis/client/test_client.c, for pushes and subscriptions)
 * link libtask_internal.
 */

/*
 * Queue a command that has no reply of its own to count (SUBSCRIBE & co:
 * their confirmations are read with task_redis__value_poll).  As
 * task_redis_append otherwise.
 */
int task_redis__append_noreply(task_redis *c, int argc, const char *const *argv,
                               const size_t *lens);

/*
 * Read the next value off the connection, whatever it is (reply or push),
 * flushing queued commands first; does not touch the owed-replies count
 * and does not divert pushes; pushes already set aside are not returned.
 * Same errors/broken-connection rules; honours command_timeout_ns only if
 * the client has replies owed.
 */
bool task_redis__value_poll(struct task_cx *cx, task_redis *c,
                            struct task_redis_op *op,
                            struct task_redis_value **v, int *rc);

/* Record @v (an ERROR value) as the last error text for
 * task_redis_last_error(). */
void task_redis__set_error(task_redis *c, const struct task_redis_value *v);

/* ---- Inside the client ------------------------------------------------------ */

/* Addresses a host name may resolve to, tried in turn. */
#define TASK_REDIS__MAX_ADDRS 8
/* The most the input buffer asks a read to bring at once. */
#define TASK_REDIS__READ_SPARE 16384
/* An output buffer that grew past this (a huge value) is shrunk back to
 * it once written, so one large command does not pin its memory. */
#define TASK_REDIS__OUT_KEEP (1u << 20)
/* Room for the last error text (longer ones are cut). */
#define TASK_REDIS__ERR_MAX 256

/* Where to connect (connect.c parses it once, at connect time). */
enum task_redis__target_kind {
        TASK_REDIS__TCP_IP,   /* an IP literal: addr */
        TASK_REDIS__TCP_NAME, /* a host name: host and port, resolved */
        TASK_REDIS__UNIX,     /* a Unix socket: addr */
};

struct task_redis__target {
        enum task_redis__target_kind kind;
        const char *host; /* TCP_NAME: in the client's string space */
        char port[8];     /* TCP_NAME: decimal */
        struct task_addr addr;
};

/* A FIFO of values (replies read ahead, pushes set aside): a ring that
 * grows by doubling; allocated only when a value is set aside. */
struct task_redis__vq {
        struct task_redis_value **v;
        size_t cap, head, n;
};

/* What the exchange machine reads (xfer.want). */
enum {
        TASK_REDIS__WANT_NONE,  /* flush only */
        TASK_REDIS__WANT_REPLY, /* a reply (pushes set aside) */
        TASK_REDIS__WANT_PUSH,  /* a push (replies read ahead, kept) */
        TASK_REDIS__WANT_ANY,   /* the next value, whatever it is */
};

/*
 * The exchange machine (client.c): flush the output buffer, then read
 * values until one the caller wants arrives.  Inputs: want, skip; output:
 * rc, v.
 */
struct task_redis__xfer {
        TASK_FRAME;
        int want;
        size_t skip;  /* WANT_REPLY: replies to read and drop first */
        bool writing; /* a write of the output buffer is in flight */
        bool wrote;   /* the output buffer went out whole */
        size_t wlen;  /* the output buffer's length when the write began */
        ssize_t n;
        int rc;
        struct task_redis_value *v;
};

/* One connection attempt (connect.c): resolve, connect, handshake. */
struct task_redis__attempt {
        TASK_FRAME;
        int rc;
        int naddrs;
        int i;
        bool ok;
        int nreq;     /* handshake requests sent */
        int kinds[4]; /* what each one was (HELLO, AUTH, ...) */
        ssize_t n;
        struct task_redis_value *v;
};

/* Reconnection with backoff (connect.c). */
struct task_redis__reconn {
        TASK_FRAME;
        int rc;
        unsigned tries; /* attempts made by this call */
};

struct task_redis {
        /* ---- The connection ---- */
        struct task_stream s;
        struct task_buf in;  /* bytes read and not yet parsed */
        struct task_buf out; /* commands appended and not yet written */
        struct task_redis_reader rd;
        struct task_io io; /* the one read or write in flight */
        bool connected;    /* s is open and no error has broken it */
        bool busy;         /* a call is in progress (-EBUSY for others) */
        int proto;         /* 2 or 3 */

        /* Replies owed: commands appended (written or not, counted) and
         * not yet handed to the caller; read_ahead holds some of them. */
        size_t owed;
        /* Of those, the ones still in @out (not written yet). */
        size_t queued;
        struct task_redis__vq read_ahead; /* replies push_poll read */
        struct task_redis__vq pushes;     /* pushes set aside */

        /* ---- Options (strings point into names[]) ---- */
        struct task_redis_opts o;
        struct task_redis__target t;

        /* ---- State machines (one call at a time uses them) ---- */
        struct task_redis__xfer x;
        struct task_redis__attempt k;
        struct task_redis__reconn r;
        struct task_select sel; /* the command timeout */
        struct task_sleep sleep;
        struct task_select ksel; /* the connect timeout */
        struct task_sleep ksleep;
        struct task_sleep bsleep; /* the backoff */
        struct task_net_op nop;   /* a connect in flight */
        struct task_resolve res;
        struct task_addr addrs[TASK_REDIS__MAX_ADDRS];
        struct task_buf hs; /* the handshake's requests */

        /* ---- Reconnection ---- */
        unsigned streak;      /* failed attempts in a row */
        uint64_t next_try_ns; /* no attempt before this (the backoff) */
        uint64_t rng;         /* jitter: xorshift64 state */
        uint64_t reconnects;
        uint64_t attempts;

        char err[TASK_REDIS__ERR_MAX]; /* last error text */
        char names[];                  /* the address and option strings */
};

/* connect.c */

/* Parse @where and copy it and @o's strings into a new client (not yet
 * connected).  Returns 0 and *@out, or -EINVAL / -ENOMEM. */
int task_redis__client_new(const char *where, const struct task_redis_opts *o,
                           task_redis **out);
/* The attempt machine over c->k (TASK_DONE: c->k.rc). */
int task_redis__attempt_co(struct task_cx *cx, void *frame);
/* The reconnection machine over c->r (TASK_DONE: c->r.rc). */
int task_redis__reconn_co(struct task_cx *cx, void *frame);

/* client.c */

/* Close the socket and forget everything tied to the connection. */
void task_redis__break(task_redis *c);
/* Free the client's memory (the socket must be closed). */
void task_redis__free(task_redis *c);
/* Append the request for @argv to @b (task_redis_encode's sizes and
 * errors; -ENOMEM, -ENOBUFS from the buffer).  Nothing on failure. */
int task_redis__encode_to(struct task_buf *b, int argc, const char *const *argv,
                          const size_t *lens);
/* One value out of the input buffer: 1 and *@v, 0 (need more), -errno. */
int task_redis__parse(task_redis *c, struct task_redis_value **v);

/* The client owning a machine's frame. */
#define TASK_REDIS__OF(ptr, member)                                            \
        ((task_redis *)(void *)((char *)(ptr)-offsetof(task_redis, member)))

#endif /* LIBTASK_REDIS_CLIENT_PRIV_H */
