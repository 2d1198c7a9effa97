/*
 * pool.c - a small pool of Redis connections (libtask/redis_pool.h).
 *
 * A semaphore of max_size permits bounds the connections in use; an array
 * of max_size slots, under a spinlock, holds them.  A slot is EMPTY (no
 * connection), IDLE (a connection waiting for a borrower) or OUT (borrowed,
 * or being connected for a get: c is NULL until the connect succeeds).
 *
 * Invariants (under the lock):
 *  1. Each OUT slot is paired with one permit held by its borrower; IDLE
 *     and EMPTY slots hold none.  So borrowed <= max_size always, and a
 *     get holding a permit that finds no IDLE slot finds an EMPTY one
 *     (borrowed, its own not yet counted, is below max_size and idle is 0).
 *  2. Connections are made only by a get that found no IDLE slot, so
 *     open = idle + borrowed <= max_size.
 *  3. A put changes its slot (IDLE or EMPTY) before it releases the
 *     permit, so the waiter the permit wakes finds the slot ready.
 *  4. After closed is set no slot becomes IDLE (put closes instead).
 *  5. gets counts the gets in progress (from PG_START to their end): a
 *     get whose permit was granted (or refused by close) has left the
 *     semaphore's queue but still reads the pool at its next poll, so
 *     task_redis_pool_free() refuses (-EBUSY) while gets > 0.
 *
 * The get's state machine (struct task_redis_pool_get, the caller's):
 * PG_START -> PG_ACQUIRE (semaphore, raced against the wait timeout's
 * sleep, by hand: either winning cancels the other) -> done with an IDLE
 * slot, or PG_CONNECT (task_redis_connect_poll into the OUT slot) -> done.
 * Any failure after the permit gives the slot and the permit back.
 *
 * Called by: users' tasks (get), any thread (the rest).
 */
#include "lock-priv.h"

#include <libtask/redis_pool.h>
#include <libtask/runtime.h>

#include <stdlib.h>
#include <string.h>

enum { RP_EMPTY = 0, RP_IDLE = 1, RP_OUT = 2 };

enum { PG_START = 0, PG_ACQUIRE = 1, PG_CONNECT = 2 };

struct rp_slot {
        task_redis *c; /* IDLE: the connection; OUT: it, or NULL connecting */
        uint64_t used; /* IDLE: when it was put back (a tick) */
        int state;     /* RP_* */
};

struct task_redis_pool {
        struct task_sem sem; /* max_size permits: see invariant 1 */
        struct task__spinlock lock;
        /* ---- under lock ---- */
        struct rp_slot *slots;
        unsigned idle, borrowed;
        bool closed;
        uint64_t tick;
        uint64_t connects, reuses, discarded, timeouts;
        /* ---- immutable ---- */
        unsigned max_size;
        char *where;
        struct task_redis_opts opts;
        /* ---- any thread ---- */
        _Atomic unsigned gets; /* invariant 5 */
};

/* Copy @s into the string area at *@p (NULL stays NULL). */
static const char *rp_dup(const char *s, char **p)
{
        size_t n;

        if (!s)
                return NULL;
        n = strlen(s) + 1;
        memcpy(*p, s, n);
        *p += n;
        return *p - n;
}

int task_redis_pool_new(const char *where, const struct task_redis_opts *o,
                        unsigned max_size, task_redis_pool **out)
{
        task_redis_pool *pool;
        size_t n;
        char *p;

        if (!where || !*where || !out || max_size < 1 ||
            max_size > TASK_REDIS_POOL_MAX)
                return -EINVAL;
        pool = calloc(1, sizeof *pool);
        if (!pool)
                return -ENOMEM;
        pool->slots = calloc(max_size, sizeof *pool->slots);
        if (!pool->slots)
                goto out_pool;
        if (o)
                pool->opts = *o;
        else
                task_redis_opts_init(&pool->opts);
        n = strlen(where) + 1;
        n += pool->opts.user ? strlen(pool->opts.user) + 1 : 0;
        n += pool->opts.password ? strlen(pool->opts.password) + 1 : 0;
        n += pool->opts.client_name ? strlen(pool->opts.client_name) + 1 : 0;
        pool->where = malloc(n);
        if (!pool->where)
                goto out_slots;
        p = pool->where;
        rp_dup(where, &p);
        pool->opts.user = rp_dup(pool->opts.user, &p);
        pool->opts.password = rp_dup(pool->opts.password, &p);
        pool->opts.client_name = rp_dup(pool->opts.client_name, &p);
        task_sem_init(&pool->sem, max_size);
        task__spin_init(&pool->lock);
        pool->max_size = max_size;
        *out = pool;
        return 0;

out_slots:
        free(pool->slots);
out_pool:
        free(pool);
        return -ENOMEM;
}

/* ---- Get ------------------------------------------------------------------------ */

/* A get starts: counted until rp_get_end (invariant 5). */
static void rp_get_begin(task_redis_pool *pool, struct task_redis_pool_get *g)
{
        /* Relaxed: the pool is alive (the caller may not free it while it
         * calls into it); only the end needs ordering. */
        atomic_fetch_add_explicit(&pool->gets, 1, memory_order_relaxed);
        g->state = PG_ACQUIRE;
}

/* A get ends: its last access to the pool.  Release: pairs with the
 * acquire load in task_redis_pool_free, so those accesses happen before
 * the free. */
static void rp_get_end(task_redis_pool *pool, struct task_redis_pool_get *g)
{
        g->state = PG_START;
        atomic_fetch_sub_explicit(&pool->gets, 1, memory_order_release);
}

/* Give back the slot and permit of a get that failed after its permit. */
static void rp_unreserve(task_redis_pool *pool, int slot)
{
        task__spin_lock(&pool->lock);
        pool->slots[slot].state = RP_EMPTY;
        pool->slots[slot].c = NULL;
        pool->borrowed--;
        task__spin_unlock(&pool->lock);
        task_sem_release(&pool->sem, 1);
}

/*
 * With a permit: take the most recently returned IDLE connection (*@out,
 * returns 1), or reserve an EMPTY slot for a new one (g->slot, returns
 * 0), or fail (-ESHUTDOWN: closed; the permit is given back).
 */
static int rp_take(task_redis_pool *pool, struct task_redis_pool_get *g,
                   task_redis **out)
{
        int best = -1, empty = -1;

        task__spin_lock(&pool->lock);
        if (pool->closed) {
                task__spin_unlock(&pool->lock);
                task_sem_release(&pool->sem, 1);
                return -ESHUTDOWN;
        }
        for (unsigned i = 0; i < pool->max_size; i++) {
                struct rp_slot *s = &pool->slots[i];

                if (s->state == RP_IDLE &&
                    (best < 0 || s->used > pool->slots[best].used))
                        best = (int)i;
                else if (s->state == RP_EMPTY && empty < 0)
                        empty = (int)i;
        }
        pool->borrowed++;
        if (best >= 0) {
                pool->slots[best].state = RP_OUT;
                pool->idle--;
                pool->reuses++;
                *out = pool->slots[best].c;
                task__spin_unlock(&pool->lock);
                return 1;
        }
        /* Invariant 1: there is one. */
        pool->slots[empty].state = RP_OUT;
        pool->slots[empty].c = NULL;
        g->slot = empty;
        task__spin_unlock(&pool->lock);
        return 0;
}

bool task_redis_pool_get_poll(struct task_cx *cx, task_redis_pool *pool,
                              struct task_redis_pool_get *g, uint64_t wait_ns,
                              task_redis **out, int *rc)
{
        unsigned char cw;
        bool ready;
        int err = 0;

        if (cx->cancelling) {
                if (!g)
                        return false;
                if (g->state == PG_ACQUIRE) {
                        /* Leaves the queue; a permit granted meanwhile
                         * goes to the next waiter (semaphore.h). */
                        task_sem_acquire_poll(cx, &pool->sem, 1, &g->acq, NULL);
                        task_sleep_cancel(&g->sleep);
                        rp_get_end(pool, g);
                } else if (g->state == PG_CONNECT) {
                        cw = cx->cancel_wait;
                        cx->cancel_wait = 0;
                        task_redis_connect_poll(cx, pool->where, &pool->opts,
                                                &g->op, &g->c, &err);
                        if (cx->cancel_wait)
                                return false; /* the kernel still has it */
                        cx->cancel_wait = cw;
                        rp_unreserve(pool, g->slot);
                        rp_get_end(pool, g);
                }
                return false;
        }
        if (!pool || !g || !out || !rc) {
                if (rc)
                        *rc = -EINVAL;
                return true;
        }
        if (g->state == PG_START) {
                memset(&g->acq, 0, sizeof g->acq);
                memset(&g->sleep, 0, sizeof g->sleep);
                rp_get_begin(pool, g);
        }
        if (g->state == PG_ACQUIRE) {
                ready = task_sem_acquire_poll(cx, &pool->sem, 1, &g->acq, &err);
                if (!ready) {
                        if (!wait_ns ||
                            !task_sleep_poll(cx, &g->sleep, wait_ns))
                                return false;
                        /* Timed out: leave the queue (a permit granted
                         * meanwhile is passed on). */
                        task_wait_cancel(&g->acq.w);
                        task__spin_lock(&pool->lock);
                        pool->timeouts++;
                        task__spin_unlock(&pool->lock);
                        rp_get_end(pool, g);
                        *rc = -ETIMEDOUT;
                        return true;
                }
                task_sleep_cancel(&g->sleep);
                if (err < 0) {
                        rp_get_end(pool, g);
                        *rc = err == -EPIPE ? -ESHUTDOWN : err;
                        return true;
                }
                err = rp_take(pool, g, out);
                if (err != 0) {
                        rp_get_end(pool, g);
                        *rc = err < 0 ? err : 0;
                        return true;
                }
                memset(&g->op, 0, sizeof g->op);
                g->c = NULL;
                g->state = PG_CONNECT;
        }
        /* PG_CONNECT */
        if (!task_redis_connect_poll(cx, pool->where, &pool->opts, &g->op,
                                     &g->c, &err))
                return false;
        if (err < 0) {
                rp_unreserve(pool, g->slot);
                rp_get_end(pool, g);
                *rc = err;
                return true;
        }
        task__spin_lock(&pool->lock);
        pool->slots[g->slot].c = g->c;
        pool->connects++;
        task__spin_unlock(&pool->lock);
        rp_get_end(pool, g);
        *out = g->c;
        *rc = 0;
        return true;
}

/* ---- Put, discard, close, free ------------------------------------------------------ */

static int rp_give_back(task_redis_pool *pool, task_redis *c, bool keep)
{
        struct rp_slot *s = NULL;

        if (!pool || !c)
                return -EINVAL;
        task__spin_lock(&pool->lock);
        for (unsigned i = 0; i < pool->max_size; i++) {
                if (pool->slots[i].state == RP_OUT && pool->slots[i].c == c) {
                        s = &pool->slots[i];
                        break;
                }
        }
        if (!s) {
                task__spin_unlock(&pool->lock);
                return -EINVAL;
        }
        /* Ours, and the borrower is done with it: its state is stable. */
        keep = keep && !pool->closed && task_redis_connected(c) &&
               task_redis_pending(c) == 0;
        pool->borrowed--;
        if (keep) {
                s->state = RP_IDLE;
                s->used = ++pool->tick;
                pool->idle++;
                c = NULL;
        } else {
                s->state = RP_EMPTY;
                s->c = NULL;
                pool->discarded++;
        }
        task__spin_unlock(&pool->lock);
        task_redis_close(c); /* NULL when kept */
        /* Invariant 3: the slot is ready before the permit goes. */
        task_sem_release(&pool->sem, 1);
        return 0;
}

int task_redis_pool_put(task_redis_pool *pool, task_redis *c)
{
        return rp_give_back(pool, c, true);
}

int task_redis_pool_discard(task_redis_pool *pool, task_redis *c)
{
        return rp_give_back(pool, c, false);
}

void task_redis_pool_close(task_redis_pool *pool)
{
        task_redis *c;

        if (!pool)
                return;
        task__spin_lock(&pool->lock);
        pool->closed = true;
        task__spin_unlock(&pool->lock);
        task_sem_close(&pool->sem);
        /* One at a time, closing outside the lock. */
        for (;;) {
                c = NULL;
                task__spin_lock(&pool->lock);
                for (unsigned i = 0; i < pool->max_size && !c; i++) {
                        if (pool->slots[i].state == RP_IDLE) {
                                c = pool->slots[i].c;
                                pool->slots[i].state = RP_EMPTY;
                                pool->slots[i].c = NULL;
                                pool->idle--;
                        }
                }
                task__spin_unlock(&pool->lock);
                if (!c)
                        break;
                task_redis_close(c);
        }
}

int task_redis_pool_free(task_redis_pool *pool)
{
        unsigned borrowed;

        if (!pool)
                return -EINVAL;
        task__spin_lock(&pool->lock);
        borrowed = pool->borrowed;
        task__spin_unlock(&pool->lock);
        /* Acquire: pairs with rp_get_end's release (invariant 5). */
        if (borrowed > 0 ||
            atomic_load_explicit(&pool->gets, memory_order_acquire) > 0 ||
            task_sem_destroy(&pool->sem) < 0)
                return -EBUSY;
        task_redis_pool_close(pool);
        free(pool->slots);
        free(pool->where);
        free(pool);
        return 0;
}

int task_redis_pool_stats(task_redis_pool *pool,
                          struct task_redis_pool_stats *st)
{
        if (!pool || !st)
                return -EINVAL;
        task__spin_lock(&pool->lock);
        st->max_size = pool->max_size;
        st->idle = pool->idle;
        st->borrowed = pool->borrowed;
        st->open = pool->idle;
        for (unsigned i = 0; i < pool->max_size; i++)
                if (pool->slots[i].state == RP_OUT && pool->slots[i].c)
                        st->open++;
        st->connects = pool->connects;
        st->reuses = pool->reuses;
        st->discarded = pool->discarded;
        st->timeouts = pool->timeouts;
        task__spin_unlock(&pool->lock);
        return 0;
}
