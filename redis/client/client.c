/*
 * redis/client/client.c - the async client (redis_client.h): commands,
 * pipelining, RESP3 pushes, broken connections.  Connecting and
 * reconnecting are in connect.c.
 *
 * The client (struct task_redis, client-priv.h) is one heap allocation
 * (plus the storage of its buffers and of the values it sets aside): the
 * stream; an input task_buf that reads land in and the RESP reader
 * (redis_value.h) parses; an output task_buf that task_redis_append()
 * encodes commands into and a flush writes whole; the count of replies
 * owed; two FIFOs of values (pushes set aside, replies read ahead by
 * push_poll); copies of the options; the last error text; the state
 * machines' frames and operation structs.  Buffers keep their capacity,
 * so a round trip on an established connection allocates only the reply
 * (an output buffer grown past TASK_REDIS__OUT_KEEP by a huge command is
 * shrunk back once written).
 *
 * Calls.  Every *_poll is a state machine in two levels:
 *
 *  1. call_co, a coroutine over the caller's struct task_redis_op (the op
 *     holds only its resume point and the result; everything else lives
 *     in the client, since one call at a time runs on it).  It checks the
 *     arguments, takes the client (c->busy: another call gets -EBUSY,
 *     touching nothing), reconnects when the connection is broken and
 *     reconnection is on (connect.c's machine, TASK_AWAIT_CO), then runs
 *     the exchange, inside TASK_TIMEOUT when a command timeout applies.
 *     Its cleanup -- normal end, error or cancellation -- gives the client
 *     back and hands the result over; the public wrapper then zeroes the
 *     op, so it is reusable at once.
 *  2. xfer_co, the exchange over c->x: write the output buffer whole
 *     (task_buf_write_all_poll), then feed the reader from the input
 *     buffer, reading more (task_buf_read_poll) until a value the call
 *     wants comes out.  Values a call does not want are routed: a push
 *     that arrives while a reply is awaited is set aside for push_poll (at
 *     most opts.max_pushes; the oldest is dropped), a reply that arrives
 *     while push_poll waits is read ahead for reply_poll.
 *
 * Invariants: owed counts commands appended (counted ones) whose replies
 * have not been handed to the caller; `queued` of them are still in the
 * output buffer, `read_ahead.n` of them have been read; the rest are in
 * flight, in order.  A reply that arrives with none in flight is a
 * protocol error.  Nothing is in flight on the socket between calls.
 *
 * Broken connections (task_redis__break: close, clear both buffers,
 * reset the reader, forget the replies owed and read ahead; pushes set
 * aside stay): a transport error or end of stream, bytes that are not
 * RESP, a reply beyond the reader's limits, a command timeout, a
 * cancelled write that had sent part of the buffer, and a cancelled
 * task_redis_cmd_poll whose command had gone out (its reply would later
 * be taken for another's).  A cancelled read loses nothing -- the buffer
 * keeps what the kernel delivered and the reader its partial reply -- so
 * cancelling reply_poll, push_poll or __value_poll (a TASK_SELECT that a
 * message channel won, a TASK_TIMEOUT around push_poll) leaves the
 * connection as it was.  A cancelled cmd_poll whose command had not gone
 * out takes it back, with whatever else was queued (their replies were
 * to be dropped anyway).
 *
 * Callers: user tasks; commands.c and subscriber.c (through
 * client-priv.h); buffered.c, pool.c and blocking.c (the public API).
 */
#include "client-priv.h"

#include <libtask/redis_client.h>
#include <libtask/runtime.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* op->i flags. */
#define OP_OWN 1u /* the call holds the client (c->busy) */
#define OP_FIN 2u /* finished: op->err (and op->p) are the result */

/* What a call does (call_co). */
enum call_kind { K_CMD, K_FLUSH, K_REPLY, K_PUSH, K_VALUE };

/* ---- Value FIFOs ------------------------------------------------------------- */

static int vq_push(struct task_redis__vq *q, struct task_redis_value *v)
{
        if (q->n == q->cap) {
                size_t ncap = q->cap ? q->cap * 2 : 8;
                struct task_redis_value **nv = malloc(ncap * sizeof *nv);

                if (!nv)
                        return -ENOMEM;
                for (size_t i = 0; i < q->n; i++)
                        nv[i] = q->v[(q->head + i) % q->cap];
                free(q->v);
                q->v = nv;
                q->cap = ncap;
                q->head = 0;
        }
        q->v[(q->head + q->n) % q->cap] = v;
        q->n++;
        return 0;
}

static struct task_redis_value *vq_pop(struct task_redis__vq *q)
{
        struct task_redis_value *v = q->v[q->head];

        q->head = (q->head + 1) % q->cap;
        q->n--;
        return v;
}

static void vq_clear(struct task_redis__vq *q)
{
        while (q->n)
                task_redis_value_free(vq_pop(q));
}

static void vq_free(struct task_redis__vq *q)
{
        vq_clear(q);
        free(q->v);
        q->v = NULL;
        q->cap = q->head = 0;
}

/* A push that nobody awaits now: set aside, the oldest dropped beyond
 * the limit (and the push itself if memory runs out). */
static void push_keep(task_redis *c, struct task_redis_value *v)
{
        if (c->pushes.n >= c->o.max_pushes)
                task_redis_value_free(vq_pop(&c->pushes));
        if (vq_push(&c->pushes, v) < 0)
                task_redis_value_free(v);
}

/* ---- Life -------------------------------------------------------------------- */

void task_redis_opts_init(struct task_redis_opts *o)
{
        if (!o)
                return;
        memset(o, 0, sizeof *o);
        o->connect_timeout_ns = TASK_SEC(10);
        o->protocol = 2;
        o->backoff_min_ns = TASK_MS(10);
        o->backoff_max_ns = TASK_SEC(2);
        o->max_pushes = 4096;
}

void task_redis__break(task_redis *c)
{
        if (task_stream_fd(&c->s) >= 0)
                (void)task_stream_close(&c->s);
        c->connected = false;
        (void)task_buf_clear(&c->in);
        (void)task_buf_clear(&c->out);
        task_redis_reader_reset(&c->rd);
        vq_clear(&c->read_ahead);
        c->owed = 0;
        c->queued = 0;
}

void task_redis__free(task_redis *c)
{
        if (task_stream_fd(&c->s) >= 0)
                (void)task_stream_close(&c->s);
        (void)task_buf_free(&c->in);
        (void)task_buf_free(&c->out);
        (void)task_buf_free(&c->hs);
        task_redis_reader_free(&c->rd);
        vq_free(&c->read_ahead);
        vq_free(&c->pushes);
        free(c);
}

void task_redis_close(task_redis *c)
{
        if (!c)
                return;
        task_redis__break(c);
        task_redis__free(c);
}

/* ---- Appending ----------------------------------------------------------------- */

int task_redis__encode_to(struct task_buf *b, int argc, const char *const *argv,
                          const size_t *lens)
{
        long long n;
        int rc;

        n = task_redis_encode(task_buf_spare(b), task_buf_spare_len(b), argc,
                              argv, lens);
        if (n < 0)
                return (int)n;
        if ((size_t)n > task_buf_spare_len(b)) {
                rc = task_buf_reserve(b, (size_t)n);
                if (rc < 0)
                        return rc;
                n = task_redis_encode(task_buf_spare(b), task_buf_spare_len(b),
                                      argc, argv, lens);
                if (n < 0)
                        return (int)n;
        }
        return task_buf_commit(b, (size_t)n);
}

static int check_args(int argc, const char *const *argv, const size_t *lens)
{
        if (argc < 1 || !argv)
                return -EINVAL;
        for (int i = 0; i < argc; i++)
                if (!argv[i] && (!lens || lens[i]))
                        return -EINVAL;
        return 0;
}

/* Queue a command; @counted: a reply of its own is owed. */
static int append(task_redis *c, int argc, const char *const *argv,
                  const size_t *lens, bool counted)
{
        int rc;

        if (!c)
                return -EINVAL;
        rc = check_args(argc, argv, lens);
        if (rc < 0)
                return rc;
        if (c->busy)
                return -EBUSY;
        if (!c->connected && !c->o.reconnect)
                return -ENOTCONN;
        rc = task_redis__encode_to(&c->out, argc, argv, lens);
        if (rc < 0)
                return rc;
        if (counted) {
                c->owed++;
                c->queued++;
        }
        return 0;
}

int task_redis_append(task_redis *c, int argc, const char *const *argv,
                      const size_t *lens)
{
        return append(c, argc, argv, lens, true);
}

int task_redis__append_noreply(task_redis *c, int argc, const char *const *argv,
                               const size_t *lens)
{
        return append(c, argc, argv, lens, false);
}

/* Take back every command not written yet (a call that will not send
 * them failed or was cancelled). */
static void discard_queued(task_redis *c)
{
        if (c->out.busy)
                return;
        (void)task_buf_clear(&c->out);
        c->owed -= c->queued;
        c->queued = 0;
}

/* ---- Reading ----------------------------------------------------------------- */

int task_redis__parse(task_redis *c, struct task_redis_value **v)
{
        size_t len = task_buf_len(&c->in), used = 0;
        int r;

        *v = NULL;
        if (!len)
                return 0;
        r = task_redis_reader_feed(&c->rd, task_buf_data(&c->in), len, &used,
                                   v);
        if (r < 0)
                return r;
        (void)task_buf_advance(&c->in, r == 0 ? len : used);
        return r;
}

/* Where a value read by the exchange goes: 1 (to the caller: f->v), 0
 * (routed elsewhere; read on), -errno. */
static int route(task_redis *c, struct task_redis__xfer *f,
                 struct task_redis_value *v)
{
        if (f->want == TASK_REDIS__WANT_ANY) {
                f->v = v;
                return 1;
        }
        if (v->type == TASK_REDIS_PUSH) {
                if (f->want == TASK_REDIS__WANT_PUSH) {
                        f->v = v;
                        return 1;
                }
                push_keep(c, v);
                return 0;
        }
        if (c->owed <= c->read_ahead.n + c->queued) {
                /* A reply to nothing we sent: the stream is not ours. */
                task_redis_value_free(v);
                return -EPROTO;
        }
        if (f->want == TASK_REDIS__WANT_REPLY) {
                c->owed--;
                if (f->skip) {
                        f->skip--;
                        task_redis_value_free(v);
                        return 0;
                }
                f->v = v;
                return 1;
        }
        if (vq_push(&c->read_ahead, v) < 0) {
                task_redis_value_free(v);
                return -ENOMEM;
        }
        return 0;
}

/* Parse what the input buffer holds: as route(), 0 when it needs more. */
static int drain(task_redis *c, struct task_redis__xfer *f)
{
        struct task_redis_value *v;
        int r;

        while ((r = task_redis__parse(c, &v)) == 1) {
                r = route(c, f, v);
                if (r != 0)
                        return r;
        }
        return r;
}

static int xfer_co(struct task_cx *cx, void *frame)
{
        struct task_redis__xfer *f = frame;
        task_redis *c = TASK_REDIS__OF(f, x);
        int r;

        TASK_BEGIN(f);
        f->rc = 0;
        f->v = NULL;
        if (task_buf_len(&c->out) > 0) {
                f->wlen = task_buf_len(&c->out);
                f->writing = true;
                TASK_AWAIT(f, task_buf_write_all_poll(cx, task_stream_fd(&c->s),
                                                      &c->out, &c->io, &f->rc));
                f->writing = false;
                if (f->rc < 0) {
                        task_redis__break(c);
                        TASK_RETURN(f);
                }
                f->wrote = true;
                c->queued = 0;
                if (task_buf_capacity(&c->out) > TASK_REDIS__OUT_KEEP)
                        (void)task_buf_shrink(&c->out, TASK_REDIS__OUT_KEEP);
        }
        if (f->want == TASK_REDIS__WANT_NONE)
                TASK_RETURN(f);
        for (;;) {
                r = drain(c, f);
                if (r != 0)
                        break;
                TASK_AWAIT(f, task_buf_read_poll(cx, task_stream_fd(&c->s),
                                                 &c->in, TASK_REDIS__READ_SPARE,
                                                 &c->io, &f->n));
                if (f->n <= 0) {
                        r = f->n == 0 ? -ECONNRESET : (int)f->n;
                        break;
                }
        }
        if (r < 0) {
                f->rc = r;
                task_redis__break(c);
        }
        TASK_CLEANUP(f);
        if (f->writing) {
                /* Cancelled while writing: the buffer holds exactly what
                 * did not go out.  Part of it sent means a command cut in
                 * two: nothing can follow it on this connection. */
                size_t left = task_buf_len(&c->out);

                f->writing = false;
                if (left == 0) {
                        f->wrote = true;
                        c->queued = 0;
                } else if (left != f->wlen) {
                        task_redis__break(c);
                }
        }
        TASK_END(f);
}

static bool xfer_poll(struct task_cx *cx, task_redis *c)
{
        return xfer_co(cx, &c->x) == TASK_DONE;
}

/* ---- Calls ------------------------------------------------------------------- */

#define FINISH(op, e)                                                          \
        do {                                                                   \
                (op)->err = (e);                                               \
                (op)->i |= OP_FIN;                                             \
                TASK_RETURN(op);                                               \
        } while (0)

static uint64_t timeout_for(const task_redis *c, enum call_kind kind)
{
        if (kind == K_PUSH || (kind == K_VALUE && c->owed == 0))
                return 0;
        return c->o.command_timeout_ns;
}

static int call_co(struct task_cx *cx, task_redis *c, struct task_redis_op *op,
                   enum call_kind kind, int argc, const char *const *argv,
                   const size_t *lens, struct task_redis_value **out, int *rc)
{
        int r;

        TASK_BEGIN(op);
        if (!c)
                FINISH(op, -EINVAL);
        if (kind == K_CMD && (r = check_args(argc, argv, lens)) < 0)
                FINISH(op, r);
        if (c->busy)
                FINISH(op, -EBUSY);
        c->busy = true;
        op->i |= OP_OWN;
        c->x.wrote = false;
        c->x.writing = false;
        if (kind == K_PUSH && c->pushes.n) {
                op->p = vq_pop(&c->pushes);
                FINISH(op, 0);
        }
        if (!c->connected && !c->o.reconnect)
                FINISH(op, -ENOTCONN);
        if (kind == K_REPLY) {
                if (c->owed == 0)
                        FINISH(op, -ENOENT);
                if (c->read_ahead.n) {
                        c->owed--;
                        op->p = vq_pop(&c->read_ahead);
                        FINISH(op, 0);
                }
        }
        if (kind == K_CMD) {
                /* Replies owed before this command are read and dropped:
                 * those already read ahead go now. */
                while (c->read_ahead.n) {
                        task_redis_value_free(vq_pop(&c->read_ahead));
                        c->owed--;
                }
                r = task_redis__encode_to(&c->out, argc, argv, lens);
                if (r < 0)
                        FINISH(op, r);
                c->owed++;
                c->queued++;
        }
        /* A call that never waits (replies already buffered) still spends
         * budget, so a loop of them cannot hold the worker.  Only now: the
         * command's arguments were copied at the first poll, as the header
         * promises (they may be the caller's temporaries), and a call
         * cancelled here takes its command back unsent (the cleanup). */
        TASK_AWAIT(op, task_coop_proceed(cx));
        if (!c->connected) {
                TASK_AWAIT_CO(op, task_redis__reconn_co, &c->r);
                if (c->r.rc < 0) {
                        if (kind == K_CMD)
                                discard_queued(c);
                        FINISH(op, c->r.rc);
                }
        }
        c->x.want = kind == K_FLUSH   ? TASK_REDIS__WANT_NONE
                    : kind == K_PUSH  ? TASK_REDIS__WANT_PUSH
                    : kind == K_VALUE ? TASK_REDIS__WANT_ANY
                                      : TASK_REDIS__WANT_REPLY;
        c->x.skip = kind == K_CMD ? c->owed - 1 : 0;
        c->x.v = NULL;
        if (timeout_for(c, kind)) {
                c->x.co.lc = 0;
                TASK_TIMEOUT(op, &c->sel, &c->sleep, c->o.command_timeout_ns,
                             xfer_poll(cx, c), &c->x.rc);
                if (c->sel.which == 1) {
                        /* The server did not answer in time: whatever it
                         * sends later can no longer be matched. */
                        c->x.v = NULL;
                        task_redis__break(c);
                }
        } else {
                TASK_AWAIT_CO(op, xfer_co, &c->x);
        }
        op->p = c->x.v;
        FINISH(op, c->x.rc);

        TASK_CLEANUP(op);
        if (op->i & OP_OWN) {
                if (!(op->i & OP_FIN) && kind == K_CMD) {
                        /* Cancelled: a command that went out would have
                         * its reply taken for another's; one that did not
                         * must not go out later. */
                        if (c->x.wrote)
                                task_redis__break(c);
                        else
                                discard_queued(c);
                }
                c->busy = false;
        }
        if (op->i & OP_FIN) {
                if (rc)
                        *rc = op->err;
                if (out)
                        *out = op->err < 0 ? NULL : op->p;
        }
        TASK_END(op);
}

/* The public face of call_co: argument checks, and a fresh op after. */
static bool call_poll(struct task_cx *cx, task_redis *c,
                      struct task_redis_op *op, enum call_kind kind, int argc,
                      const char *const *argv, const size_t *lens,
                      struct task_redis_value **out, int *rc)
{
        if (!cx || !op) {
                if (cx && cx->cancelling)
                        return false;
                if (rc)
                        *rc = -EINVAL;
                if (out)
                        *out = NULL;
                return true;
        }
        if (call_co(cx, c, op, kind, argc, argv, lens, out, rc) == TASK_PENDING)
                return false;
        memset(op, 0, sizeof *op);
        return !cx->cancelling;
}

bool task_redis_cmd_poll(struct task_cx *cx, task_redis *c,
                         struct task_redis_op *op, int argc,
                         const char *const *argv, const size_t *lens,
                         struct task_redis_value **reply, int *rc)
{
        return call_poll(cx, c, op, K_CMD, argc, argv, lens, reply, rc);
}

bool task_redis_flush_poll(struct task_cx *cx, task_redis *c,
                           struct task_redis_op *op, int *rc)
{
        return call_poll(cx, c, op, K_FLUSH, 0, NULL, NULL, NULL, rc);
}

bool task_redis_reply_poll(struct task_cx *cx, task_redis *c,
                           struct task_redis_op *op,
                           struct task_redis_value **reply, int *rc)
{
        return call_poll(cx, c, op, K_REPLY, 0, NULL, NULL, reply, rc);
}

bool task_redis_push_poll(struct task_cx *cx, task_redis *c,
                          struct task_redis_op *op,
                          struct task_redis_value **push, int *rc)
{
        return call_poll(cx, c, op, K_PUSH, 0, NULL, NULL, push, rc);
}

bool task_redis__value_poll(struct task_cx *cx, task_redis *c,
                            struct task_redis_op *op,
                            struct task_redis_value **v, int *rc)
{
        return call_poll(cx, c, op, K_VALUE, 0, NULL, NULL, v, rc);
}

/* ---- State --------------------------------------------------------------------- */

size_t task_redis_pending(const task_redis *c)
{
        return c ? c->owed : 0;
}

int task_redis_protocol(const task_redis *c)
{
        return c ? c->proto : 2;
}

bool task_redis_connected(const task_redis *c)
{
        return c && c->connected;
}

const char *task_redis_last_error(const task_redis *c)
{
        return c ? c->err : "";
}

void task_redis__set_error(task_redis *c, const struct task_redis_value *v)
{
        size_t n;

        if (!c || !v)
                return;
        n = v->str ? v->len : 0;
        if (n > sizeof c->err - 1)
                n = sizeof c->err - 1;
        if (n)
                memcpy(c->err, v->str, n);
        c->err[n] = '\0';
}

int task_redis_fd(const task_redis *c)
{
        if (!c || !c->connected)
                return -ENOTCONN;
        return task_stream_fd(&c->s);
}

uint64_t task_redis_reconnects(const task_redis *c)
{
        return c ? c->reconnects : 0;
}

uint64_t task_redis_connect_attempts(const task_redis *c)
{
        return c ? c->attempts : 0;
}
