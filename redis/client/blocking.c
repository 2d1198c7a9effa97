/*
 * redis/client/blocking.c - the blocking client (redis_blocking.h): the
 * async client's calls for plain synchronous C.
 *
 * How: a handle owns a current-thread runtime and the async client that
 * runs on it.  A call fills a small frame (struct call) on the caller's
 * stack -- which async poll to await, its arguments, an optional timeout
 * -- and task_block_on() runs the one generic task, call_task, over it:
 * the calling thread becomes the runtime's worker until the async call is
 * done, then the frame, with its results, is copied back out.  Between
 * calls nothing runs and nothing is in flight (every async call here
 * either completes or is cancelled to the end inside its block_on), so a
 * handle can be closed, or handed to another thread, at any point between
 * two calls.
 *
 * Invariants:
 *  - One call at a time per handle: task_block_on() refuses a second
 *    thread on the same current-thread runtime with -EBUSY, which is what
 *    a racing caller sees at best (the contract is "don't").
 *  - Never on a libtask worker: the check is task__tls_worker, the
 *    runtime's own "this thread is a worker of some runtime" (the same one
 *    the sync primitives' *_blocking calls make), so a blocking call from
 *    inside any task is refused with -EDEADLK before anything happens.
 *  - Per call: one task slot from the runtime's slab (recycled: no malloc
 *    in steady state) and a copy of the frame in and out.  Nothing else
 *    beyond what the async call allocates.
 *
 * Called from: user programs, task-redis-cli (redis/tools/cli.c).
 */
#include "runtime-priv.h" /* task__tls_worker */

#include <libtask/redis_blocking.h>
#include <libtask/runtime.h>
#include <libtask/time.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct task_redis_blocking {
        task_runtime *rt; /* current-thread: runs only inside our calls */
        task_redis *c;    /* the connection, used only from call_task */
};

struct call;

/* An async poll, adapted to take its arguments from the frame. */
typedef bool (*call_poll_fn)(struct task_cx *cx, struct call *f);

/* The frame of one blocking call: copied into the task and back out. */
struct call {
        TASK_FRAME;
        call_poll_fn poll;
        task_redis *c;
        int timeout_ms; /* < 0: await without a limit */
        int rc;
        /* The async call's state, and the timeout's. */
        struct task_redis_op op;
        struct task_select sel;
        struct task_sleep sleep;
        task_redis_sub *s;
        /* Arguments. */
        const char *where;
        const struct task_redis_opts *opts;
        int argc; /* also DEL's and (un)subscribe's n */
        const char *const *argv;
        const size_t *lens;
        const char *key, *val; /* also PING's message, PUBLISH's channel */
        size_t klen, vlen;
        const struct task_redis_set_opts *set_opts;
        int64_t num; /* INCRBY's by, EXPIRE's seconds */
        unsigned flags;
        /* Results. */
        struct task_redis_value *v, *old;
        task_redis *conn;
        int64_t out_num;
        bool out_flag;
        struct task_redis_msg msg;
};

/*
 * A timeout of 0 means "only what has arrived already", bytes waiting in
 * the socket included.  But a read is only tried when the runtime submits
 * it, after the poll has returned pending: a zero deadline would win
 * before that and a message already there would be missed (the call
 * after would get it).  So 0 waits this long: the submission, and the
 * read that completes inline in it when the bytes are there, take
 * microseconds.
 */
#define CALL_NOWAIT_NS TASK_MS(1)

/*
 * The one task every call runs: await f->poll, with a timeout when asked.
 * A timeout cancels the async call the way TASK_TIMEOUT always does (its
 * cancelling poll), and the cancellation finishes inside this block_on.
 */
static int call_task(struct task_cx *cx, void *arg)
{
        struct call *f = arg;

        TASK_BEGIN(f);
        if (f->timeout_ms < 0) {
                TASK_AWAIT(f, f->poll(cx, f));
        } else {
                TASK_TIMEOUT(f, &f->sel, &f->sleep,
                             f->timeout_ms ? TASK_MS((uint64_t)f->timeout_ms)
                                           : CALL_NOWAIT_NS,
                             f->poll(cx, f), &f->rc);
        }
        TASK_END(f);
}

/*
 * Run @f on @b's runtime from this thread.  Returns the async call's rc,
 * or block_on's own error (-EBUSY: another thread is inside a call on
 * @b), or -EDEADLK on a worker thread.
 */
static int run(task_redis_blocking *b, struct call *f)
{
        int rc;

        if (task__tls_worker)
                return -EDEADLK;
        f->c = b->c;
        rc = task_block_on(b->rt, call_task, f, sizeof *f);
        return rc < 0 ? rc : f->rc;
}

/* ---- The async calls, adapted ------------------------------------------------ */

static bool connect_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_connect_poll(cx, f->where, f->opts, &f->op, &f->conn,
                                       &f->rc);
}

static bool cmd_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_cmd_poll(cx, f->c, &f->op, f->argc, f->argv, f->lens,
                                   &f->v, &f->rc);
}

static bool flush_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_flush_poll(cx, f->c, &f->op, &f->rc);
}

static bool reply_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_reply_poll(cx, f->c, &f->op, &f->v, &f->rc);
}

static bool push_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_push_poll(cx, f->c, &f->op, &f->v, &f->rc);
}

static bool ping_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_ping_poll(cx, f->c, &f->op, f->key, f->klen, &f->rc);
}

static bool get_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_get_poll(cx, f->c, &f->op, f->key, f->klen, &f->v,
                                   &f->rc);
}

static bool set_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_set_poll(cx, f->c, &f->op, f->key, f->klen, f->val,
                                   f->vlen, f->set_opts, &f->old, &f->rc);
}

static bool del_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_del_poll(cx, f->c, &f->op, f->argc, f->argv, f->lens,
                                   &f->out_num, &f->rc);
}

static bool incrby_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_incrby_poll(cx, f->c, &f->op, f->key, f->klen, f->num,
                                      &f->out_num, &f->rc);
}

static bool incr_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_incr_poll(cx, f->c, &f->op, f->key, f->klen,
                                    &f->out_num, &f->rc);
}

static bool expire_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_expire_poll(cx, f->c, &f->op, f->key, f->klen, f->num,
                                      f->flags, &f->out_flag, &f->rc);
}

static bool publish_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_publish_poll(cx, f->c, &f->op, f->key, f->klen,
                                       f->val, f->vlen, &f->out_num, &f->rc);
}

static bool subscribe_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_subscribe_poll(cx, f->s, &f->op, f->argc, f->argv,
                                         f->lens, &f->rc);
}

static bool psubscribe_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_psubscribe_poll(cx, f->s, &f->op, f->argc, f->argv,
                                          f->lens, &f->rc);
}

static bool unsubscribe_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_unsubscribe_poll(cx, f->s, &f->op, f->argc, f->argv,
                                           f->lens, &f->rc);
}

static bool punsubscribe_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_punsubscribe_poll(cx, f->s, &f->op, f->argc, f->argv,
                                            f->lens, &f->rc);
}

static bool sub_next_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_sub_next_poll(cx, f->s, &f->op, &f->msg, &f->rc);
}

static bool sub_ping_poll(struct task_cx *cx, struct call *f)
{
        return task_redis_sub_ping_poll(cx, f->s, &f->op, &f->rc);
}

/* task_redis_close, inside the runtime (whatever the close touches of
 * the runtime, it touches from the runtime's worker). */
static bool close_poll(struct task_cx *cx, struct call *f)
{
        (void)cx;
        task_redis_close(f->c);
        return true;
}

/* ---- Connecting ------------------------------------------------------------ */

int task_redis_blocking_connect(const char *where,
                                const struct task_redis_opts *o,
                                task_redis_blocking **out)
{
        struct task_runtime_opts ro;
        task_redis_blocking *b;
        int rc;

        if (!where || !out)
                return -EINVAL;
        if (task__tls_worker)
                return -EDEADLK;
        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        task_runtime_opts_init(&ro);
        ro.flavor = TASK_CURRENT_THREAD;
        ro.thread_name = "redis-blk";
        /* One connection: a small ring is plenty (the default 256 entries
         * come with a 4096-entry completion queue). */
        ro.io_ring_entries = 64;
        /* The pool only resolves host names, one at a time. */
        ro.max_blocking_threads = 2;
        rc = task_runtime_new(&ro, &b->rt);
        if (rc < 0)
                goto out_free;

        struct call f = {
            .poll = connect_poll, .timeout_ms = -1, .where = where, .opts = o};
        rc = run(b, &f);
        if (rc < 0)
                goto out_rt;
        b->c = f.conn;
        *out = b;
        return 0;

out_rt:
        task_runtime_free(b->rt);
out_free:
        free(b);
        return rc;
}

void task_redis_blocking_close(task_redis_blocking *b)
{
        if (!b)
                return;
        if (b->c) {
                struct call f = {.poll = close_poll, .timeout_ms = -1};
                /* Not on a worker (-EDEADLK), or a racing caller (-EBUSY,
                 * a bug the header forbids): close from here. */
                if (run(b, &f) < 0)
                        task_redis_close(b->c);
        }
        task_runtime_free(b->rt);
        free(b);
}

/* ---- Commands ---------------------------------------------------------------- */

int task_redis_blocking_cmd(task_redis_blocking *b, int argc,
                            const char *const *argv, const size_t *lens,
                            struct task_redis_value **reply)
{
        int rc;

        if (!reply)
                return -EINVAL;
        *reply = NULL;
        if (!b)
                return -EINVAL;
        struct call f = {.poll = cmd_poll,
                         .timeout_ms = -1,
                         .argc = argc,
                         .argv = argv,
                         .lens = lens};
        rc = run(b, &f);
        if (rc == 0)
                *reply = f.v;
        return rc;
}

/* ---- Pipelining -------------------------------------------------------------- */

int task_redis_blocking_append(task_redis_blocking *b, int argc,
                               const char *const *argv, const size_t *lens)
{
        if (!b)
                return -EINVAL;
        /* No I/O, nothing to drive: the async call as it is. */
        return task_redis_append(b->c, argc, argv, lens);
}

int task_redis_blocking_flush(task_redis_blocking *b)
{
        if (!b)
                return -EINVAL;
        struct call f = {.poll = flush_poll, .timeout_ms = -1};
        return run(b, &f);
}

int task_redis_blocking_reply(task_redis_blocking *b,
                              struct task_redis_value **reply)
{
        int rc;

        if (!reply)
                return -EINVAL;
        *reply = NULL;
        if (!b)
                return -EINVAL;
        struct call f = {.poll = reply_poll, .timeout_ms = -1};
        rc = run(b, &f);
        if (rc == 0)
                *reply = f.v;
        return rc;
}

size_t task_redis_blocking_pending(const task_redis_blocking *b)
{
        return b ? task_redis_pending(b->c) : 0;
}

/* ---- Typed helpers ------------------------------------------------------------ */

int task_redis_blocking_ping(task_redis_blocking *b, const char *msg,
                             size_t len)
{
        if (!b)
                return -EINVAL;
        struct call f = {
            .poll = ping_poll, .timeout_ms = -1, .key = msg, .klen = len};
        return run(b, &f);
}

int task_redis_blocking_get(task_redis_blocking *b, const char *key,
                            size_t klen, struct task_redis_value **val)
{
        int rc;

        if (!val)
                return -EINVAL;
        *val = NULL;
        if (!b)
                return -EINVAL;
        struct call f = {
            .poll = get_poll, .timeout_ms = -1, .key = key, .klen = klen};
        rc = run(b, &f);
        if (rc == 0)
                *val = f.v;
        return rc;
}

int task_redis_blocking_set(task_redis_blocking *b, const char *key,
                            size_t klen, const char *val, size_t vlen,
                            const struct task_redis_set_opts *o,
                            struct task_redis_value **old)
{
        int rc;

        if (old)
                *old = NULL;
        if (!b || (o && (o->flags & TASK_REDIS_SET_GET) && !old))
                return -EINVAL;
        struct call f = {.poll = set_poll,
                         .timeout_ms = -1,
                         .key = key,
                         .klen = klen,
                         .val = val,
                         .vlen = vlen,
                         .set_opts = o};
        rc = run(b, &f);
        if (rc >= 0 && old)
                *old = f.old;
        else
                task_redis_value_free(f.old);
        return rc;
}

int task_redis_blocking_del(task_redis_blocking *b, int n,
                            const char *const *keys, const size_t *lens,
                            int64_t *deleted)
{
        int rc;

        if (!b)
                return -EINVAL;
        struct call f = {.poll = del_poll,
                         .timeout_ms = -1,
                         .argc = n,
                         .argv = keys,
                         .lens = lens};
        rc = run(b, &f);
        if (rc == 0 && deleted)
                *deleted = f.out_num;
        return rc;
}

int task_redis_blocking_incr(task_redis_blocking *b, const char *key,
                             size_t klen, int64_t *value)
{
        int rc;

        if (!b)
                return -EINVAL;
        struct call f = {
            .poll = incr_poll, .timeout_ms = -1, .key = key, .klen = klen};
        rc = run(b, &f);
        if (rc == 0 && value)
                *value = f.out_num;
        return rc;
}

int task_redis_blocking_incrby(task_redis_blocking *b, const char *key,
                               size_t klen, int64_t by, int64_t *value)
{
        int rc;

        if (!b)
                return -EINVAL;
        struct call f = {.poll = incrby_poll,
                         .timeout_ms = -1,
                         .key = key,
                         .klen = klen,
                         .num = by};
        rc = run(b, &f);
        if (rc == 0 && value)
                *value = f.out_num;
        return rc;
}

int task_redis_blocking_expire(task_redis_blocking *b, const char *key,
                               size_t klen, int64_t seconds, unsigned flags,
                               bool *set)
{
        int rc;

        if (!b)
                return -EINVAL;
        struct call f = {.poll = expire_poll,
                         .timeout_ms = -1,
                         .key = key,
                         .klen = klen,
                         .num = seconds,
                         .flags = flags};
        rc = run(b, &f);
        if (rc == 0 && set)
                *set = f.out_flag;
        return rc;
}

int task_redis_blocking_publish(task_redis_blocking *b, const char *chan,
                                size_t clen, const char *msg, size_t mlen,
                                int64_t *receivers)
{
        int rc;

        if (!b)
                return -EINVAL;
        struct call f = {.poll = publish_poll,
                         .timeout_ms = -1,
                         .key = chan,
                         .klen = clen,
                         .val = msg,
                         .vlen = mlen};
        rc = run(b, &f);
        if (rc == 0 && receivers)
                *receivers = f.out_num;
        return rc;
}

/* ---- The subscriber ------------------------------------------------------------ */

struct task_redis_blocking_sub {
        task_redis_blocking *b; /* its runtime; b->c is owned by s now */
        task_redis_sub *s;
};

int task_redis_blocking_sub_new(task_redis_blocking *b,
                                task_redis_blocking_sub **out)
{
        task_redis_blocking_sub *bs;
        int rc;

        if (!b || !out)
                return -EINVAL;
        bs = calloc(1, sizeof *bs);
        if (!bs)
                return -ENOMEM;
        rc = task_redis_sub_new(b->c, &bs->s);
        if (rc < 0) {
                free(bs);
                return rc;
        }
        bs->b = b;
        *out = bs;
        return 0;
}

/* task_redis_sub_close, inside the runtime (as close_poll). */
static bool sub_close_poll(struct task_cx *cx, struct call *f)
{
        (void)cx;
        task_redis_sub_close(f->s);
        return true;
}

void task_redis_blocking_sub_close(task_redis_blocking_sub *bs)
{
        if (!bs)
                return;
        struct call f = {.poll = sub_close_poll, .timeout_ms = -1, .s = bs->s};
        if (run(bs->b, &f) < 0)
                task_redis_sub_close(bs->s);
        /* The subscriber closed the client: the handle keeps the runtime
         * only. */
        bs->b->c = NULL;
        task_redis_blocking_close(bs->b);
        free(bs);
}

/* The (un)subscribe calls: one shape, four polls. */
static int sub_call(task_redis_blocking_sub *bs, call_poll_fn poll, int n,
                    const char *const *names, const size_t *lens)
{
        if (!bs)
                return -EINVAL;
        struct call f = {.poll = poll,
                         .timeout_ms = -1,
                         .s = bs->s,
                         .argc = n,
                         .argv = names,
                         .lens = lens};
        return run(bs->b, &f);
}

int task_redis_blocking_subscribe(task_redis_blocking_sub *s, int n,
                                  const char *const *chans, const size_t *lens)
{
        return sub_call(s, subscribe_poll, n, chans, lens);
}

int task_redis_blocking_psubscribe(task_redis_blocking_sub *s, int n,
                                   const char *const *pats, const size_t *lens)
{
        return sub_call(s, psubscribe_poll, n, pats, lens);
}

int task_redis_blocking_unsubscribe(task_redis_blocking_sub *s, int n,
                                    const char *const *chans,
                                    const size_t *lens)
{
        return sub_call(s, unsubscribe_poll, n, chans, lens);
}

int task_redis_blocking_punsubscribe(task_redis_blocking_sub *s, int n,
                                     const char *const *pats,
                                     const size_t *lens)
{
        return sub_call(s, punsubscribe_poll, n, pats, lens);
}

int task_redis_blocking_sub_next(task_redis_blocking_sub *bs, int timeout_ms,
                                 struct task_redis_msg *msg)
{
        int rc;

        if (!msg)
                return -EINVAL;
        memset(msg, 0, sizeof *msg);
        if (!bs)
                return -EINVAL;
        struct call f = {
            .poll = sub_next_poll, .timeout_ms = timeout_ms, .s = bs->s};
        rc = run(bs->b, &f);
        if (rc == 0)
                *msg = f.msg;
        else
                task_redis_msg_free(&f.msg); /* zeroed: harmless */
        return rc;
}

int task_redis_blocking_sub_ping(task_redis_blocking_sub *bs)
{
        if (!bs)
                return -EINVAL;
        struct call f = {.poll = sub_ping_poll, .timeout_ms = -1, .s = bs->s};
        return run(bs->b, &f);
}

const task_redis_sub *
task_redis_blocking_sub_async(const task_redis_blocking_sub *bs)
{
        return bs ? bs->s : NULL;
}

/* ---- RESP3 push messages ---------------------------------------------------- */

int task_redis_blocking_push(task_redis_blocking *b, int timeout_ms,
                             struct task_redis_value **push)
{
        int rc;

        if (!push)
                return -EINVAL;
        *push = NULL;
        if (!b)
                return -EINVAL;
        struct call f = {.poll = push_poll, .timeout_ms = timeout_ms};
        rc = run(b, &f);
        if (rc == 0)
                *push = f.v;
        else
                task_redis_value_free(f.v); /* a push read as time ran out */
        return rc;
}

/* ---- State ----------------------------------------------------------------- */

const task_redis *task_redis_blocking_client(const task_redis_blocking *b)
{
        return b ? b->c : NULL;
}
