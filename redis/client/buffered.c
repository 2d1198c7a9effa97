/*
 * buffered.c - the buffered client (libtask/redis_buffered.h): many tasks,
 * one connection, commands coalesced into one write per batch.
 *
 * Pieces:
 *
 *  - Two *batch buffers*, pend and fly.  A batch is a run of entries, one
 *    per command: a header (struct bb_ent: the caller's call pointer, the
 *    entry's size, argc, the driver's flags), the argument lengths, then
 *    the argument bytes.  Callers copy their command into pend (under the
 *    lock); the driver swaps pend and fly (under the lock) and works on
 *    fly without the lock: appends its commands to the connection, one
 *    flush, reads the replies in order.  Each buffer keeps its high-water
 *    capacity, so a warm client allocates nothing per command.
 *  - The batch number, seq: pend is batch seq, fly is batch seq - 1.  A
 *    call remembers the batch it joined and its entry's offset, so under
 *    the lock it finds its entry in O(1): in pend if its batch is seq, in
 *    fly if seq - 1 (older batches are finished: see invariant 2).
 *  - The driver task (bb_driver), which owns the task_redis, and its
 *    waker, parked in b->driver_waker while it waits for work and taken
 *    (then woken) by the first caller that queues a command, or by close.
 *
 * Who completes a call: whoever swaps the entry's call pointer to NULL
 * (an atomic exchange) holds the call.  The driver does it when the reply
 * arrives or the connection fails; close (and the driver's end) for
 * entries still queued; the caller itself when it is cancelled.  The
 * completer stores reply and rc, then done (release), then wakes the
 * caller; the caller reads done (acquire), then reply and rc.  A caller
 * that wins the exchange of an entry on the wire has *detached* it: the
 * driver, losing the exchange when the reply comes, frees the reply.  A
 * caller that loses it knows the completer is between its exchange and
 * its store of done: it waits (cx->cancel_wait) for that wake-up.
 *
 * Invariants:
 *  1. pend, seq, closed and driver_waker change only under the lock; the
 *     entries' call pointers of pend too.  fly's buffer and the entries'
 *     flags are the driver's; callers touch fly only to exchange an
 *     entry's call pointer, under the lock (so fly cannot be swapped away
 *     meanwhile).
 *  2. The driver takes a new batch only after every entry of fly has a
 *     NULL call pointer (each completed, detached or cancelled): so a
 *     call whose batch is older than seq - 1 is done.
 *  3. After closed is set, pend holds no live entry and none is added.
 *  4. b's memory lives while refs > 0: one for the user (until close),
 *     one for the driver (until its cleanup), one per call in progress
 *     (from its enqueue until it sees done or gives its entry up).
 *
 * Shutdown, in order: (1) task_redis_buffered_close() sets closed, fails
 * the queued calls with -ESHUTDOWN, wakes an idle driver and drops the
 * user's reference; (2) the driver finishes the batch on the wire, finds
 * nothing to take and leaves its loop; (3) its cleanup fails whatever is
 * left (after an abort), closes the connection, drops its reference;
 * (4) the last reference frees the buffers and b.  A runtime shutdown
 * aborts the driver: its cleanup does (3) with -ESHUTDOWN for the calls
 * on the wire and sets closed, so later calls fail at once.
 *
 * Called by: users' tasks (task_redis_buffered_cmd_poll), any thread
 * (new, wrap, close, stats), the driver task.
 */
#include "lock-priv.h"

#include <libtask/redis_buffered.h>
#include <libtask/redis_client.h>
#include <libtask/runtime.h>

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* task_redis_call.state (the caller's own field). */
enum {
        BB_IDLE = 0,    /* no call in progress */
        BB_WAITING = 1, /* queued, on the wire, or completed and not seen */
};

/* bb_ent.flags (the driver's). */
#define BB_APPENDED 1u /* written (or about to be): a reply is owed */

/* One command in a batch buffer; entries are 8-byte aligned. */
struct bb_ent {
        /* The call to complete; NULL once somebody has taken it (see the
         * head of this file).  Set under the lock at enqueue. */
        _Atomic(struct task_redis_call *) call;
        size_t size; /* the whole entry, header and padding included */
        uint32_t argc;
        uint32_t flags; /* BB_* (driver only) */
        size_t lens[];  /* argc lengths, then the bytes, back to back */
};

#define BB_ALIGN 8u

struct bb_batch {
        unsigned char *buf;
        size_t len, cap;
        size_t n; /* entries whose call is still live (pend: under lock) */
};

struct task_redis_buffered {
        struct task__spinlock lock;
        /* ---- under lock ---- */
        struct bb_batch pend;
        uint64_t seq; /* pend's batch number; fly's is seq - 1 */
        bool closed;
        task_waker *driver_waker; /* the idle driver; taken to wake it */
        /* ---- fly: the driver's (callers: entries' call, under lock) ---- */
        struct bb_batch fly;
        /* ---- the driver's ---- */
        task_redis *c;     /* the connection, NULL until connected */
        const char **argv; /* scratch for task_redis_append */
        size_t argv_cap;
        /* ---- immutable after creation ---- */
        task_runtime *rt;
        char *where; /* NULL for a wrapped client */
        struct task_redis_opts opts;
        /* ---- any thread ---- */
        _Atomic uint64_t refs; /* see invariant 4 */
        /* Counters: each a relaxed RMW or load; nothing is ordered by
         * them (they are read for metrics and tests, after the fact). */
        _Atomic uint64_t st_commands, st_batches, st_max_batch;
        _Atomic uint64_t st_cancelled, st_detached, st_failed, st_connects;
};

static inline struct bb_ent *bb_ent_at(struct bb_batch *bt, size_t off)
{
        return (struct bb_ent *)(void *)(bt->buf + off);
}

static inline void bb_count(_Atomic uint64_t *ctr, uint64_t n)
{
        atomic_fetch_add_explicit(ctr, n, memory_order_relaxed);
}

/* ---- Lifetime ---------------------------------------------------------------- */

static void bb_free(task_redis_buffered *b)
{
        task_redis_close(b->c);
        free(b->pend.buf);
        free(b->fly.buf);
        free(b->argv);
        free(b->where);
        free(b);
}

static void bb_ref(task_redis_buffered *b)
{
        /* Relaxed: taken while another reference keeps b alive (the
         * caller's use of b is covered by the user's reference). */
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

static void bb_unref(task_redis_buffered *b)
{
        /* Acq_rel: our accesses to b happen before the free (release);
         * the freer sees every other holder's (acquire). */
        if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
                bb_free(b);
}

/* ---- Completing calls ------------------------------------------------------- */

/*
 * Complete @call, which the caller of this function took by exchanging
 * its entry's call pointer: results, then done (release: pairs with the
 * caller's acquire load of done in task_redis_buffered_cmd_poll and
 * bb_call_cancel, which then read reply and rc), then the wake.  The
 * waker is read first: once done is stored the caller may return and
 * its frame be gone.
 */
static void bb_complete(task_redis_buffered *b, struct task_redis_call *call,
                        struct task_redis_value *v, int rc)
{
        task_waker *w = call->waker;

        call->waker = NULL;
        call->reply = v;
        call->rc = rc;
        if (rc < 0)
                bb_count(&b->st_failed, 1);
        atomic_store_explicit(&call->done, 1, memory_order_release);
        task_wake(w);
}

/*
 * Take the entry's call (NULL if it was taken already: cancelled,
 * detached or completed).  Relaxed: the exchange only decides who holds
 * the call (one modification order for the pointer); the call's fields
 * were published by the caller's unlock after its enqueue, which every
 * taker's lock (the driver's swap, close, the caller) acquired.
 */
static struct task_redis_call *bb_take(struct bb_ent *e)
{
        return atomic_exchange_explicit(&e->call, NULL, memory_order_relaxed);
}

/* Fail every live entry of @bt (from offset @from) with @err. */
static void bb_fail_from(task_redis_buffered *b, struct bb_batch *bt,
                         size_t from, int err)
{
        for (size_t off = from; off < bt->len;) {
                struct bb_ent *e = bb_ent_at(bt, off);
                struct task_redis_call *call = bb_take(e);

                e->flags = 0;
                if (call)
                        bb_complete(b, call, NULL, err);
                off += e->size;
        }
        bt->n = 0;
}

/* ---- Creating and closing ----------------------------------------------------- */

static int bb_driver(struct task_cx *cx, void *arg);

struct bb_driver {
        TASK_FRAME;
        task_redis_buffered *b;
        struct task_redis_op op;
        struct task_redis_value *v;
        size_t pos;    /* cursor in fly (the reply loop) */
        uint64_t sent; /* commands of this batch appended */
        int rc;
};

/* Copy @s into the string area at *@p (NULL stays NULL). */
static const char *bb_dup(const char *s, char **p)
{
        size_t n;

        if (!s)
                return NULL;
        n = strlen(s) + 1;
        memcpy(*p, s, n);
        *p += n;
        return *p - n;
}

static int bb_create(task_runtime *rt, const char *where,
                     const struct task_redis_opts *o, task_redis *c,
                     task_redis_buffered **out)
{
        struct bb_driver d = {0};
        task_redis_buffered *b;
        size_t n = 0;
        char *p;
        int rc;

        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        task__spin_init(&b->lock);
        b->rt = rt;
        b->seq = 1;
        b->c = c;
        atomic_init(&b->refs, 2); /* the user's and the driver's */
        if (where) {
                /* The address and the option strings in one allocation. */
                n = strlen(where) + 1;
                if (o) {
                        n += o->user ? strlen(o->user) + 1 : 0;
                        n += o->password ? strlen(o->password) + 1 : 0;
                        n += o->client_name ? strlen(o->client_name) + 1 : 0;
                        b->opts = *o;
                } else {
                        task_redis_opts_init(&b->opts);
                }
                b->where = malloc(n);
                if (!b->where) {
                        rc = -ENOMEM;
                        goto out_free;
                }
                p = b->where;
                bb_dup(where, &p);
                b->opts.user = bb_dup(b->opts.user, &p);
                b->opts.password = bb_dup(b->opts.password, &p);
                b->opts.client_name = bb_dup(b->opts.client_name, &p);
        }
        d.b = b;
        rc = TASK_SPAWN(rt, bb_driver, &d, NULL);
        if (rc < 0)
                goto out_free;
        *out = b;
        return 0;

out_free:
        b->c = NULL; /* a wrapped client stays the caller's */
        free(b->where);
        free(b);
        return rc;
}

int task_redis_buffered_new(task_runtime *rt, const char *where,
                            const struct task_redis_opts *o,
                            task_redis_buffered **out)
{
        if (!rt || !where || !*where || !out)
                return -EINVAL;
        return bb_create(rt, where, o, NULL, out);
}

int task_redis_buffered_wrap(task_runtime *rt, task_redis *c,
                             task_redis_buffered **out)
{
        if (!rt || !c || !out)
                return -EINVAL;
        return bb_create(rt, NULL, NULL, c, out);
}

/* Under the lock: close @b to new calls, fail the queued ones.  Returns
 * the idle driver's waker (the caller wakes it after unlocking). */
static task_waker *bb_close_locked(task_redis_buffered *b, int err)
{
        task_waker *w = b->driver_waker;

        b->driver_waker = NULL;
        b->closed = true;
        bb_fail_from(b, &b->pend, 0, err);
        b->pend.len = 0;
        return w;
}

void task_redis_buffered_close(task_redis_buffered *b)
{
        task_waker *w = NULL;

        if (!b)
                return;
        task__spin_lock(&b->lock);
        if (!b->closed)
                w = bb_close_locked(b, -ESHUTDOWN);
        task__spin_unlock(&b->lock);
        if (w)
                task_wake(w);
        bb_unref(b);
}

int task_redis_buffered_stats(const task_redis_buffered *cb,
                              struct task_redis_buffered_stats *st)
{
        task_redis_buffered *b = (task_redis_buffered *)cb;

        if (!b || !st)
                return -EINVAL;
        st->commands =
            atomic_load_explicit(&b->st_commands, memory_order_relaxed);
        st->batches =
            atomic_load_explicit(&b->st_batches, memory_order_relaxed);
        st->max_batch =
            atomic_load_explicit(&b->st_max_batch, memory_order_relaxed);
        st->cancelled =
            atomic_load_explicit(&b->st_cancelled, memory_order_relaxed);
        st->detached =
            atomic_load_explicit(&b->st_detached, memory_order_relaxed);
        st->failed = atomic_load_explicit(&b->st_failed, memory_order_relaxed);
        st->connects =
            atomic_load_explicit(&b->st_connects, memory_order_relaxed);
        return 0;
}

/* ---- The caller's side ------------------------------------------------------- */

/* Room for @need more bytes in @bt (under the lock).  0 or -ENOMEM. */
static int bb_reserve(struct bb_batch *bt, size_t need)
{
        size_t cap = bt->cap ? bt->cap : 4096;
        unsigned char *p;

        if (bt->cap - bt->len >= need)
                return 0;
        while (cap - bt->len < need) {
                if (cap > SIZE_MAX / 2)
                        return -ENOMEM;
                cap *= 2;
        }
        /* Rare (growth to a new high-water mark): allocating under the
         * spinlock keeps the batch in one piece; waiters back off. */
        p = realloc(bt->buf, cap);
        if (!p)
                return -ENOMEM;
        bt->buf = p;
        bt->cap = cap;
        return 0;
}

/* The first poll of a call: copy the command into pend, register. */
static int bb_enqueue(struct task_cx *cx, task_redis_buffered *b,
                      struct task_redis_call *call, int argc,
                      const char *const *argv, const size_t *lens)
{
        size_t need, len;
        struct bb_ent *e;
        task_waker *w, *dw;
        unsigned char *p;
        int rc;

        if (!b || argc < 1 || !argv)
                return -EINVAL;
        if ((size_t)argc > (SIZE_MAX - sizeof *e) / sizeof(size_t) / 2)
                return -EINVAL;
        need = sizeof *e + (size_t)argc * sizeof(size_t);
        for (int i = 0; i < argc; i++) {
                if (!argv[i] && (!lens || lens[i]))
                        return -EINVAL;
                len = lens ? lens[i] : strlen(argv[i]);
                if (len > SIZE_MAX - BB_ALIGN - need)
                        return -ENOMEM;
                need += len;
        }
        need = (need + BB_ALIGN - 1) & ~(size_t)(BB_ALIGN - 1);

        w = task_cx_waker(cx);
        task__spin_lock(&b->lock);
        if (b->closed) {
                rc = -ESHUTDOWN;
                goto out_unlock;
        }
        rc = bb_reserve(&b->pend, need);
        if (rc < 0)
                goto out_unlock;
        e = bb_ent_at(&b->pend, b->pend.len);
        atomic_init(&e->call, call);
        e->size = need;
        e->argc = (uint32_t)argc;
        e->flags = 0;
        p = (unsigned char *)&e->lens[argc];
        for (int i = 0; i < argc; i++) {
                len = lens ? lens[i] : strlen(argv[i]);
                e->lens[i] = len;
                if (len)
                        memcpy(p, argv[i], len);
                p += len;
        }
        call->b = b;
        call->waker = w;
        call->reply = NULL;
        call->rc = 0;
        call->seq = b->seq;
        call->off = b->pend.len;
        call->state = BB_WAITING;
        /* Relaxed: nobody else reads done before the completer has
         * exchanged the entry, which the lock orders after this. */
        atomic_store_explicit(&call->done, 0, memory_order_relaxed);
        b->pend.len += need;
        b->pend.n++;
        bb_ref(b);
        dw = b->driver_waker;
        b->driver_waker = NULL;
        task__spin_unlock(&b->lock);
        if (dw)
                task_wake(dw);
        return 0;

out_unlock:
        task__spin_unlock(&b->lock);
        task_waker_drop(w);
        return rc;
}

/* The call is over for the caller: drop its reference to b. */
static void bb_call_release(struct task_redis_call *call)
{
        task_redis_buffered *b = call->b;

        call->b = NULL;
        call->reply = NULL;
        call->state = BB_IDLE;
        bb_unref(b);
}

/*
 * A cancelling poll of a call: cancel it if queued, detach it if on the
 * wire, free its reply if it was completed and not seen.  Sets
 * cx->cancel_wait in the one case where the completer is mid-way (it
 * wakes us when done is stored).
 */
static void bb_call_cancel(struct task_cx *cx, struct task_redis_call *call)
{
        task_redis_buffered *b = call->b;
        struct task_redis_call *mine;
        task_waker *w;

        if (call->state != BB_WAITING)
                return;
        /* Acquire: pairs with bb_complete's release store. */
        if (atomic_load_explicit(&call->done, memory_order_acquire))
                goto out_done;
        task__spin_lock(&b->lock);
        /* A completion before our lock is visible now (done is stored
         * before the completer's next lock: invariant 2). */
        if (atomic_load_explicit(&call->done, memory_order_acquire)) {
                task__spin_unlock(&b->lock);
                goto out_done;
        }
        if (call->seq == b->seq) {
                /* Queued: nobody else can take it while we hold the lock.
                 * Its bytes stay in pend and are skipped by the driver. */
                mine = bb_take(bb_ent_at(&b->pend, call->off));
                if (--b->pend.n == 0)
                        b->pend.len = 0; /* no live entry refers to it */
                task__spin_unlock(&b->lock);
                bb_count(&b->st_cancelled, 1);
        } else {
                /* On the wire (batch seq - 1, invariant 2). */
                mine = bb_take(bb_ent_at(&b->fly, call->off));
                task__spin_unlock(&b->lock);
                if (!mine) {
                        /* The completer has it: its done and wake follow. */
                        cx->cancel_wait = 1;
                        return;
                }
                bb_count(&b->st_detached, 1);
        }
        w = call->waker;
        call->waker = NULL;
        task_waker_drop(w);
        bb_call_release(call);
        return;

out_done:
        task_redis_value_free(call->reply);
        bb_call_release(call);
}

bool task_redis_buffered_cmd_poll(struct task_cx *cx, task_redis_buffered *b,
                                  struct task_redis_call *call, int argc,
                                  const char *const *argv, const size_t *lens,
                                  struct task_redis_value **reply, int *rc)
{
        int err;

        if (cx->cancelling) {
                if (call)
                        bb_call_cancel(cx, call);
                return false;
        }
        if (!call || !reply || !rc) {
                if (rc)
                        *rc = -EINVAL;
                return true;
        }
        if (call->state == BB_IDLE) {
                err = bb_enqueue(cx, b, call, argc, argv, lens);
                if (err == 0)
                        return false; /* the driver wakes us */
                *reply = NULL;
                *rc = err;
                return true;
        }
        /* Acquire: pairs with bb_complete's release store of done. */
        if (!atomic_load_explicit(&call->done, memory_order_acquire))
                return false; /* a spurious poll: the waker stays queued */
        if (!task_coop_proceed(cx))
                return false;
        *reply = call->reply;
        *rc = call->rc;
        bb_call_release(call);
        return true;
}

/* ---- The driver ----------------------------------------------------------------- */

/*
 * Wait for work: true with a batch swapped into fly (fly.n > 0), or with
 * fly.n == 0 once closed and nothing is queued.  Otherwise the driver's
 * waker is parked for the next enqueue (or close).
 */
static bool bb_take_poll(struct task_cx *cx, task_redis_buffered *b)
{
        task_waker *w = NULL;
        struct bb_batch t;
        bool ready = true;

        task__spin_lock(&b->lock);
        if (cx->cancelling) {
                w = b->driver_waker;
                b->driver_waker = NULL;
                ready = false;
        } else if (b->pend.n > 0) {
                /* Invariant 2: every entry of fly is taken by now. */
                t = b->fly;
                b->fly = b->pend;
                b->pend = t;
                b->pend.len = 0;
                b->pend.n = 0;
                b->seq++;
        } else if (b->closed) {
                b->fly.len = 0;
                b->fly.n = 0;
        } else {
                if (!b->driver_waker)
                        b->driver_waker = task_cx_waker(cx);
                ready = false;
        }
        task__spin_unlock(&b->lock);
        task_waker_drop(w);
        return ready;
}

/*
 * Append every live command of fly to the connection (no I/O).  A command
 * the client refuses (-ENOTCONN without reconnection, -ENOMEM) fails its
 * call at once.  Returns the number appended.
 */
static uint64_t bb_append_all(task_redis_buffered *b)
{
        uint64_t sent = 0;

        for (size_t off = 0; off < b->fly.len;) {
                struct bb_ent *e = bb_ent_at(&b->fly, off);
                const unsigned char *p =
                    (const unsigned char *)&e->lens[e->argc];
                struct task_redis_call *call;
                int rc;

                off += e->size;
                e->flags = 0;
                /* Relaxed: a peek (a cancelled entry is skipped); whoever
                 * really takes the call does it with bb_take. */
                if (!atomic_load_explicit(&e->call, memory_order_relaxed))
                        continue;
                if (e->argc > b->argv_cap) {
                        size_t cap = b->argv_cap ? b->argv_cap : 16;
                        const char **a;

                        while (cap < e->argc)
                                cap *= 2;
                        a = realloc(b->argv, cap * sizeof *a);
                        if (!a) {
                                rc = -ENOMEM;
                                goto fail;
                        }
                        b->argv = a;
                        b->argv_cap = cap;
                }
                for (uint32_t i = 0; i < e->argc; i++) {
                        b->argv[i] = (const char *)p;
                        p += e->lens[i];
                }
                rc = task_redis_append(b->c, (int)e->argc, b->argv, e->lens);
                if (rc == 0) {
                        e->flags = BB_APPENDED;
                        sent++;
                        continue;
                }
        fail:
                call = bb_take(e);
                if (call)
                        bb_complete(b, call, NULL, rc);
        }
        return sent;
}

/* Fail the calls of fly from @from on with @err; owed replies are lost
 * with the broken connection. */
static void bb_fail_fly(task_redis_buffered *b, size_t from, int err)
{
        bb_fail_from(b, &b->fly, from, err);
}

static void bb_note_batch(task_redis_buffered *b, uint64_t sent)
{
        uint64_t max =
            atomic_load_explicit(&b->st_max_batch, memory_order_relaxed);

        bb_count(&b->st_batches, 1);
        bb_count(&b->st_commands, sent);
        /* Only the driver writes max_batch: a load and a store suffice. */
        if (sent > max)
                atomic_store_explicit(&b->st_max_batch, sent,
                                      memory_order_relaxed);
}

static int bb_driver(struct task_cx *cx, void *arg)
{
        struct bb_driver *f = arg;
        task_redis_buffered *b = f->b;
        struct task_redis_call *call;
        struct bb_ent *e;
        task_waker *w;

        TASK_BEGIN(f);
        for (;;) {
                TASK_AWAIT(f, bb_take_poll(cx, b));
                if (b->fly.n == 0)
                        break; /* closed, nothing left */
                if (!b->c) {
                        memset(&f->op, 0, sizeof f->op);
                        TASK_REDIS_CONNECT(f, b->where, &b->opts, &f->op, &b->c,
                                           &f->rc);
                        if (f->rc < 0) {
                                b->c = NULL;
                                bb_fail_fly(b, 0, f->rc);
                                continue;
                        }
                        bb_count(&b->st_connects, 1);
                }
                f->sent = bb_append_all(b);
                if (f->sent == 0)
                        continue;
                memset(&f->op, 0, sizeof f->op);
                TASK_REDIS_FLUSH(f, b->c, &f->op, &f->rc);
                if (f->rc < 0) {
                        bb_fail_fly(b, 0, f->rc);
                        continue;
                }
                bb_note_batch(b, f->sent);
                for (f->pos = 0; f->pos < b->fly.len;
                     f->pos += bb_ent_at(&b->fly, f->pos)->size) {
                        if (!(bb_ent_at(&b->fly, f->pos)->flags & BB_APPENDED))
                                continue;
                        memset(&f->op, 0, sizeof f->op);
                        TASK_REDIS_REPLY(f, b->c, &f->op, &f->v, &f->rc);
                        if (f->rc < 0) {
                                bb_fail_fly(b, f->pos, f->rc);
                                break;
                        }
                        e = bb_ent_at(&b->fly, f->pos);
                        e->flags = 0;
                        call = bb_take(e);
                        if (call)
                                bb_complete(b, call, f->v, 0);
                        else
                                task_redis_value_free(f->v); /* detached */
                        f->v = NULL;
                }
        }
        TASK_CLEANUP(f);
        /* After an abort: the calls on the wire fail, the queue closes.
         * (On a normal end both are empty already.) */
        bb_fail_fly(b, 0, -ESHUTDOWN);
        task__spin_lock(&b->lock);
        w = bb_close_locked(b, -ESHUTDOWN);
        task__spin_unlock(&b->lock);
        task_waker_drop(w); /* our own parked waker, if any */
        task_redis_close(b->c);
        b->c = NULL;
        bb_unref(b);
        TASK_END(f);
}
