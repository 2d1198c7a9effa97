/*
 * redis/server/pubsub.c - pub/sub: the registry of channels and patterns, the
 * subscribers' output path, and the commands (SUBSCRIBE, UNSUBSCRIBE,
 * PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH,
 * PUBSUB), with Redis 7.0's replies in RESP2 and RESP3.
 *
 * The registry (struct rds_pubsub, one per server) maps each channel, each
 * pattern and each shard channel that has a subscriber to a *topic*: the
 * name and a dense array of its subscriptions (struct rds_ps_sub, one per
 * client and topic).  Each subscribed client (struct rds_ps_client, c->ps)
 * has its own tables of its subscriptions, keyed by topic, so that
 * SUBSCRIBE of a name already subscribed, UNSUBSCRIBE of one name and
 * UNSUBSCRIBE of everything are O(1) per name; a subscription knows its
 * index in the topic's array, so removing it is a swap with the last one.
 * Pattern subscriptions are topics of the pattern table; shard channels
 * (Redis 7.0's SSUBSCRIBE/SPUBLISH: without a cluster, a second namespace
 * of channels) are topics of a third table.  Names are hashed with a keyed
 * SipHash (random seed) so a client cannot choose colliding names.
 *
 * Locking.  One rwlock guards the whole registry and every client's
 * tables: PUBLISH takes it for reading (publishers never wait for each
 * other), (un)subscribing takes it for writing (writer-preferring, so a
 * stream of publishes cannot starve a subscribe).  Striping by channel was
 * not needed: a publish holds the read lock only while it copies the
 * message into its receivers' queues, and with patterns every publish
 * would need every stripe anyway.  Lock order: registry lock, then a
 * subscriber's queue lock (ps->lock), then nothing; srv->clients_lock is
 * never taken while either is held (the writer takes it alone, to kill its
 * client).  Counters read by other threads (INFO's numbers, CLIENT LIST's
 * sub=/psub=/ssub=) are atomics written under the write lock and read
 * relaxed.
 *
 * The output path.  Once a client has subscribed, its bytes reach the
 * socket through one writer task (ps_writer) that owns the socket's write
 * side: publishers (any thread) append messages to the client's queue
 * (ps->q, under ps->lock) and the connection task moves its replies there
 * too (rds_pubsub_client_flush() at the end of each batch), so replies
 * and messages go out in one order.  The writer swaps the queue out under
 * the lock and writes it with task_buf_write_all_poll; a notify (ps->wake)
 * wakes it when it is idle, and only then (ps->idle), so a stream of
 * publishes to a busy subscriber does not notify at all.  The writer holds
 * a client reference (c->refs: the socket stays open) and one of the two
 * references of struct rds_ps_client (the other is c->ps's).
 *
 * Ordering guarantees:
 *  - a client's replies go out in the order of its commands;
 *  - messages go out in the order their PUBLISH took the registry lock
 *    (each publish appends to every receiver's queue under the read lock);
 *  - a (P|S)SUBSCRIBE's confirmation goes out before any message of that
 *    topic, and an unsubscribe's confirmation after every message of the
 *    topic that was queued before it: both register and queue their
 *    confirmations while holding the write lock, which excludes publishes;
 *  - a subscriber that publishes (RESP3) receives its own message after
 *    the replies of its earlier commands and before PUBLISH's reply (its
 *    pending replies are queued before the message is);
 *  - the replies of a command a subscriber runs while someone publishes
 *    to it may go out after that message even if the command ran first:
 *    replies are queued at the end of the batch (or when the subscriber
 *    runs a pub/sub command).  Redis, single threaded, orders them by
 *    execution; a client could tell only through a third party (another
 *    connection that saw the command's effect, then published).
 *
 * The output limit (client-output-buffer-limit pubsub, Redis's
 * checkClientOutputBufferLimits): bytes queued plus bytes being written
 * (ps->inflight) count.  Appending past the hard limit, or staying above
 * the soft limit for more than soft_s seconds (checked when appending, as
 * Redis does), *dooms* the client: nothing more is queued for it (a doomed
 * subscriber still counts as a receiver, as in Redis), the writer stops
 * (ps->stop interrupts a write in progress), logs Redis's line, counts
 * client_output_limit_disconnections and kills the client
 * (rds_client_kill).  Memory per subscriber is so bounded by about the
 * hard limit (plus the message that did not fit, which is not copied), and
 * nothing is ever dropped while the client lives.  The limit applies to
 * every client that has c->ps, whether or not it is subscribed right now
 * (Redis applies the pubsub class only while subscribed; a client that
 * unsubscribed everything and then pipelines huge replies without reading
 * them is disconnected here instead of buffered without bound).
 *
 * Life of a subscriber (struct rds_ps_client):
 *  1. The first (P|S)SUBSCRIBE allocates it, spawns the writer on
 *     c->srv->rt (references: c->ps and the writer; +1 on c->refs) and
 *     sets c->ps (a field of the connection's task only).
 *  2. rds_pubsub_client_close() (the connection is ending) unsubscribes
 *     everything, queues c->out's last bytes (QUIT's +OK: nothing comes
 *     after them), marks the queue closing and wakes the writer, clears c->ps and drops its reference.
 *  3. The writer finishes writing what is queued and lingers until the
 *     peer has acknowledged it (see ps_writer), for at most
 *     RDS_PS_DRAIN_NS once closing (a peer that reads nothing cannot keep
 *     it), or stops at once when doomed or when a write fails (then it
 *     kills the client, so that the connection task ends too); it marks
 *     the queue dead (later flushes report -EPIPE), drops its reference to
 *     the rds_ps_client and its client reference.  The last reference
 *     frees the rds_ps_client; the client's last reference unlinks the
 *     client from srv->clients (a graceful shutdown waits for that) and
 *     closes the fd.
 *
 * Who calls what: server.c calls rds_pubsub_client_flush() after each
 * batch when c->ps is set (instead of writing c->out itself) and
 * rds_pubsub_client_close() when the connection ends (without holding
 * clients_lock); cmd_conn.c's RESET calls rds_pubsub_client_reset();
 * CLIENT LIST reads the counts published in c->shown_subs, shown_psubs and
 * shown_ssubs (relaxed atomics, written under the registry lock); INFO calls
 * rds_pubsub_channels/patterns/shard_channels; CONFIG SET calls
 * rds_pubsub_set_limits().
 */
#include "server.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

/* How long a closing subscriber's writer may take to write what is still
 * queued (QUIT's +OK, the last messages) before it gives up. */
#define RDS_PS_DRAIN_NS TASK_SEC(2)
/* A writer's buffer above this capacity is given back once written. */
#define RDS_PS_KEEP_CAP (256 * 1024)

enum rds_ps_kind {
        RDS_PS_CHANNEL = 0, /* SUBSCRIBE / PUBLISH */
        RDS_PS_PATTERN = 1, /* PSUBSCRIBE */
        RDS_PS_SHARD = 2,   /* SSUBSCRIBE / SPUBLISH */
        RDS_PS_NKINDS = 3,
};

/* ---- Hash tables ------------------------------------------------------------ */

/*
 * A chained hash table of intrusive nodes, used for the registry's topic
 * tables (keyed by name) and a client's subscription tables (keyed by
 * topic).  The number of buckets is a power of two (or 0), grows when the
 * load passes 1 and shrinks when it falls under 1/8.  Space for a new
 * node is reserved (table_reserve) before anything else changes, so a
 * failed allocation leaves every structure as it was.
 */
struct ps_node {
        struct ps_node *next;
        uint64_t hash;
};

struct ps_table {
        struct ps_node **b;
        size_t nb; /* buckets: 0 or a power of two */
        size_t n;  /* nodes */
};

#define PS_TABLE_MIN 8

static int table_resize(struct ps_table *t, size_t nb)
{
        struct ps_node **b = calloc(nb, sizeof *b);

        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < t->nb; i++) {
                struct ps_node *n = t->b[i], *next;

                for (; n; n = next) {
                        next = n->next;
                        n->next = b[n->hash & (nb - 1)];
                        b[n->hash & (nb - 1)] = n;
                }
        }
        free(t->b);
        t->b = b;
        t->nb = nb;
        return 0;
}

/* Make sure one more node can be inserted without allocating. */
static int table_reserve(struct ps_table *t)
{
        if (t->n < t->nb)
                return 0;
        return table_resize(t, t->nb ? t->nb * 2 : PS_TABLE_MIN);
}

/* The chain @hash belongs to (NULL in an empty table). */
static struct ps_node *table_chain(const struct ps_table *t, uint64_t hash)
{
        return t->nb ? t->b[hash & (t->nb - 1)] : NULL;
}

/* Insert @n (n->hash set); table_reserve() must have succeeded. */
static void table_insert(struct ps_table *t, struct ps_node *n)
{
        struct ps_node **head = &t->b[n->hash & (t->nb - 1)];

        n->next = *head;
        *head = n;
        t->n++;
}

static void table_remove(struct ps_table *t, struct ps_node *n)
{
        struct ps_node **pp = &t->b[n->hash & (t->nb - 1)];

        while (*pp != n)
                pp = &(*pp)->next;
        *pp = n->next;
        t->n--;
        if (t->n == 0) {
                free(t->b);
                t->b = NULL;
                t->nb = 0;
        } else if (t->nb > PS_TABLE_MIN && t->n < t->nb / 8) {
                /* Shrinking is an optimisation: failing it changes nothing. */
                (void)table_resize(t, t->nb / 2);
        }
}

/* Empty @t and return its nodes as one list linked through ->next. */
static struct ps_node *table_take_all(struct ps_table *t)
{
        struct ps_node *all = NULL;

        for (size_t i = 0; i < t->nb; i++) {
                struct ps_node *n = t->b[i], *next;

                for (; n; n = next) {
                        next = n->next;
                        n->next = all;
                        all = n;
                }
        }
        free(t->b);
        t->b = NULL;
        t->nb = 0;
        t->n = 0;
        return all;
}

/* A topic pointer's hash, for a client's subscription tables (the
 * splitmix64 finaliser: pointers differ mostly in their middle bits). */
static uint64_t ptr_hash(const void *p)
{
        uint64_t x = (uint64_t)(uintptr_t)p;

        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ULL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebULL;
        x ^= x >> 31;
        return x;
}

/* ---- The registry ------------------------------------------------------------ */

/* A channel, pattern or shard channel with at least one subscriber. */
struct ps_topic {
        struct ps_node node; /* in the registry's table of its kind */
        struct rds_ps_sub **subs;
        size_t nsubs, cap;
        size_t len;
        unsigned char name[];
};

/* One client's subscription to one topic. */
struct rds_ps_sub {
        struct ps_node node; /* in the client's table; hash: ptr_hash(t) */
        struct ps_topic *t;
        struct rds_ps_client *ps;
        size_t idx; /* in t->subs */
        /* The client's subscriptions of this kind in the order they were
         * made: UNSUBSCRIBE-all replies in that order, as Redis 7.0 does
         * for patterns (its list); for channels any order is Redis's. */
        struct rds_ps_sub *prev, *next;
};

struct rds_pubsub {
        /* Guards topics[] and every client's subs[] (see the head). */
        pthread_rwlock_t lock;
        struct ps_table topics[RDS_PS_NKINDS];
        _Atomic size_t ntopics[RDS_PS_NKINDS]; /* INFO, read unlocked */
        uint64_t seed[2];                      /* SipHash key; immutable */

        /* client-output-buffer-limit pubsub; read relaxed per publish. */
        _Atomic unsigned long long hard, soft;
        _Atomic uint64_t soft_ns;
};

/*
 * A subscriber.  Fields without a note belong to the connection's task
 * and change under the registry write lock.
 */
struct rds_ps_client {
        struct ps_table subs[RDS_PS_NKINDS]; /* counts: c->shown_*subs */
        struct rds_ps_sub *first[RDS_PS_NKINDS], *last[RDS_PS_NKINDS];
        struct rds_client *c;  /* immutable */
        _Atomic int proto;     /* the protocol messages are encoded in */
        _Atomic unsigned refs; /* c->ps's and the writer's */

        /* The output queue and the writer's state, under lock. */
        pthread_mutex_t lock;
        struct task_buf q;      /* bytes for the writer, in order */
        size_t inflight;        /* bytes the writer has taken and not written */
        uint64_t soft_since_ns; /* above the soft limit since; 0: not */
        bool idle;              /* the writer waits on wake: notify it */
        bool closing;           /* the connection has ended: drain, then exit */
        bool doomed; /* over the output limit: the client must close */
        bool dead;   /* the writer has exited: queue nothing more */

        struct task_notify wake; /* the writer is idle and has work */
        struct task_notify stop; /* interrupt a write: doomed or closing */
};

int rds_pubsub_new(struct rds_pubsub **out)
{
        struct rds_pubsub *reg;
        pthread_rwlockattr_t attr;
        int rc;

        if (!out)
                return -EINVAL;
        reg = calloc(1, sizeof *reg);
        if (!reg)
                return -ENOMEM;
        rds_random_seed(reg->seed);
        rc = pthread_rwlockattr_init(&attr);
        if (rc)
                goto out_free;
        /* Writers first: a steady stream of PUBLISH must not keep a
         * SUBSCRIBE waiting forever (glibc prefers readers by default). */
        pthread_rwlockattr_setkind_np(
            &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        rc = pthread_rwlock_init(&reg->lock, &attr);
        pthread_rwlockattr_destroy(&attr);
        if (rc)
                goto out_free;
        if (rds_srv)
                rds_pubsub_set_limits(reg, rds_srv->cfg.pubsub_hard,
                                      rds_srv->cfg.pubsub_soft,
                                      rds_srv->cfg.pubsub_soft_s);
        else
                rds_pubsub_set_limits(reg, 32ULL << 20, 8ULL << 20, 60);
        *out = reg;
        return 0;
out_free:
        free(reg);
        return -rc;
}

static void topic_free(struct ps_topic *t)
{
        free(t->subs);
        free(t);
}

void rds_pubsub_free(struct rds_pubsub *reg)
{
        if (!reg)
                return;
        /* Every client has closed by now (each unsubscribed everything),
         * so the tables are empty; free whatever is left regardless. */
        for (int k = 0; k < RDS_PS_NKINDS; k++) {
                struct ps_node *n = table_take_all(&reg->topics[k]), *next;

                for (; n; n = next) {
                        next = n->next;
                        topic_free((struct ps_topic *)n);
                }
        }
        pthread_rwlock_destroy(&reg->lock);
        free(reg);
}

void rds_pubsub_set_limits(struct rds_pubsub *reg, unsigned long long hard,
                           unsigned long long soft, unsigned soft_s)
{
        if (!reg)
                return;
        /* Relaxed: each limit is read on its own; a publish that sees a
         * mix of old and new values applies one or the other. */
        atomic_store_explicit(&reg->hard, hard, memory_order_relaxed);
        atomic_store_explicit(&reg->soft, soft, memory_order_relaxed);
        atomic_store_explicit(&reg->soft_ns, TASK_SEC((uint64_t)soft_s),
                              memory_order_relaxed);
}

size_t rds_pubsub_channels(struct rds_pubsub *reg)
{
        return reg ? atomic_load_explicit(&reg->ntopics[RDS_PS_CHANNEL],
                                          memory_order_relaxed)
                   : 0;
}

size_t rds_pubsub_patterns(struct rds_pubsub *reg)
{
        return reg ? atomic_load_explicit(&reg->ntopics[RDS_PS_PATTERN],
                                          memory_order_relaxed)
                   : 0;
}

size_t rds_pubsub_shard_channels(struct rds_pubsub *reg)
{
        return reg ? atomic_load_explicit(&reg->ntopics[RDS_PS_SHARD],
                                          memory_order_relaxed)
                   : 0;
}

static uint64_t name_hash(const struct rds_pubsub *reg, const void *p,
                          size_t len)
{
        return rds_siphash(p, len, reg->seed);
}

/* The topic @name of @kind, or NULL.  Registry locked (either way). */
static struct ps_topic *topic_find(struct rds_pubsub *reg, int kind, uint64_t h,
                                   const void *name, size_t len)
{
        struct ps_node *n = table_chain(&reg->topics[kind], h);

        for (; n; n = n->next) {
                struct ps_topic *t = (struct ps_topic *)n;

                if (n->hash == h && t->len == len &&
                    !memcmp(t->name, name, len))
                        return t;
        }
        return NULL;
}

/* @ps's subscription to @t, or NULL.  Registry locked. */
static struct rds_ps_sub *sub_find(struct rds_ps_client *ps, int kind,
                                   const struct ps_topic *t)
{
        uint64_t h = ptr_hash(t);
        struct ps_node *n = table_chain(&ps->subs[kind], h);

        for (; n; n = n->next)
                if (((struct rds_ps_sub *)n)->t == t)
                        return (struct rds_ps_sub *)n;
        return NULL;
}

/* @c's published count of @kind (CLIENT LIST reads it). */
static _Atomic unsigned *ps_counter(struct rds_client *c, int kind)
{
        return kind == RDS_PS_CHANNEL   ? &c->shown_subs
               : kind == RDS_PS_PATTERN ? &c->shown_psubs
                                        : &c->shown_ssubs;
}

/* Change @ps's count of @kind: only under the registry write lock, so a
 * relaxed load + store; readers (CLIENT LIST) want a recent value. */
static void ps_count(struct rds_ps_client *ps, int kind, int delta)
{
        _Atomic unsigned *n = ps_counter(ps->c, kind);

        atomic_store_explicit(
            n, atomic_load_explicit(n, memory_order_relaxed) + (unsigned)delta,
            memory_order_relaxed);
}

static void reg_count(struct rds_pubsub *reg, int kind)
{
        atomic_store_explicit(&reg->ntopics[kind], reg->topics[kind].n,
                              memory_order_relaxed);
}

/*
 * Subscribe @ps to @name of @kind.  Registry write-locked.  Returns 1
 * (subscribed now), 0 (it already was) or -ENOMEM (nothing changed).
 */
static int ps_subscribe_one(struct rds_pubsub *reg, struct rds_ps_client *ps,
                            int kind, const void *name, size_t len)
{
        uint64_t h = name_hash(reg, name, len);
        struct ps_topic *t = topic_find(reg, kind, h, name, len);
        struct rds_ps_sub *s;
        bool fresh = false;

        if (t && sub_find(ps, kind, t))
                return 0;
        if (!t) {
                t = calloc(1, sizeof *t + len);
                if (!t)
                        return -ENOMEM;
                t->node.hash = h;
                t->len = len;
                memcpy(t->name, name, len);
                fresh = true;
        }
        s = malloc(sizeof *s);
        if (!s)
                goto out_topic;
        if (t->nsubs == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 4;
                struct rds_ps_sub **subs = realloc(t->subs, cap * sizeof *subs);

                if (!subs)
                        goto out_sub;
                t->subs = subs;
                t->cap = cap;
        }
        if ((fresh && table_reserve(&reg->topics[kind])) ||
            table_reserve(&ps->subs[kind]))
                goto out_sub;

        /* Nothing can fail from here on. */
        if (fresh) {
                table_insert(&reg->topics[kind], &t->node);
                reg_count(reg, kind);
        }
        s->t = t;
        s->ps = ps;
        s->idx = t->nsubs;
        t->subs[t->nsubs++] = s;
        s->node.hash = ptr_hash(t);
        table_insert(&ps->subs[kind], &s->node);
        s->next = NULL;
        s->prev = ps->last[kind];
        if (s->prev)
                s->prev->next = s;
        else
                ps->first[kind] = s;
        ps->last[kind] = s;
        ps_count(ps, kind, 1);
        return 1;
out_sub:
        free(s);
out_topic:
        if (fresh)
                topic_free(t);
        return -ENOMEM;
}

/*
 * Remove the subscription @s (already out of its client's table) from its
 * client's order and its topic, free the topic if it was the last one, and
 * free @s.  Registry write-locked.
 */
static void ps_sub_drop(struct rds_pubsub *reg, int kind, struct rds_ps_sub *s)
{
        struct ps_topic *t = s->t;
        struct rds_ps_sub *last = t->subs[--t->nsubs];
        struct rds_ps_client *ps = s->ps;

        if (s->prev)
                s->prev->next = s->next;
        else
                ps->first[kind] = s->next;
        if (s->next)
                s->next->prev = s->prev;
        else
                ps->last[kind] = s->prev;

        t->subs[s->idx] = last;
        last->idx = s->idx;
        ps_count(s->ps, kind, -1);
        free(s);
        if (t->nsubs == 0) {
                table_remove(&reg->topics[kind], &t->node);
                reg_count(reg, kind);
                topic_free(t);
        } else if (t->cap > 16 && t->nsubs < t->cap / 4) {
                /* Give back most of a shrunken array (optional). */
                struct rds_ps_sub **subs =
                    realloc(t->subs, t->cap / 2 * sizeof *subs);

                if (subs) {
                        t->subs = subs;
                        t->cap /= 2;
                }
        }
}

/* Unsubscribe @ps from @name of @kind.  Registry write-locked.  True if it
 * was subscribed. */
static bool ps_unsubscribe_one(struct rds_pubsub *reg, struct rds_ps_client *ps,
                               int kind, const void *name, size_t len)
{
        struct ps_topic *t =
            topic_find(reg, kind, name_hash(reg, name, len), name, len);
        struct rds_ps_sub *s = t ? sub_find(ps, kind, t) : NULL;

        if (!s)
                return false;
        table_remove(&ps->subs[kind], &s->node);
        ps_sub_drop(reg, kind, s);
        return true;
}

/* ---- Replies ------------------------------------------------------------------ */

static const char *const ps_sub_word[RDS_PS_NKINDS] = {
    "subscribe", "psubscribe", "ssubscribe"};
static const char *const ps_unsub_word[RDS_PS_NKINDS] = {
    "unsubscribe", "punsubscribe", "sunsubscribe"};

static size_t ps_nsubs(struct rds_ps_client *ps, int kind)
{
        return ps ? atomic_load_explicit(ps_counter(ps->c, kind),
                                         memory_order_relaxed)
                  : 0;
}

/* The count a confirmation carries: channels + patterns (Redis's
 * clientSubscriptionsCount), or the shard channels alone. */
static size_t ps_reply_count(struct rds_ps_client *ps, int kind)
{
        if (kind == RDS_PS_SHARD)
                return ps_nsubs(ps, RDS_PS_SHARD);
        return ps_nsubs(ps, RDS_PS_CHANNEL) + ps_nsubs(ps, RDS_PS_PATTERN);
}

static size_t ps_total(struct rds_ps_client *ps)
{
        return ps_nsubs(ps, RDS_PS_CHANNEL) + ps_nsubs(ps, RDS_PS_PATTERN) +
               ps_nsubs(ps, RDS_PS_SHARD);
}

/* [subscribe|unsubscribe..., name (NULL: a null), count]: a push in RESP3,
 * an array in RESP2 (Redis's addReplyPubsub(Un)Subscribed). */
static void ps_reply_confirm(struct rds_out *o, const char *word,
                             const void *name, size_t len, size_t count)
{
        rds_reply_push_len(o, 3);
        rds_reply_bulk_cstr(o, word);
        if (name)
                rds_reply_bulk(o, name, len);
        else
                rds_reply_null(o);
        rds_reply_int(o, (long long)count);
}

/* ---- The output queue ---------------------------------------------------------- */

struct ps_limits {
        unsigned long long hard, soft;
        uint64_t soft_ns;
        uint64_t now_ns; /* read when first needed */
};

static void ps_limits_load(struct rds_pubsub *reg, struct ps_limits *l)
{
        l->hard = atomic_load_explicit(&reg->hard, memory_order_relaxed);
        l->soft = atomic_load_explicit(&reg->soft, memory_order_relaxed);
        l->soft_ns = atomic_load_explicit(&reg->soft_ns, memory_order_relaxed);
        l->now_ns = 0;
}

/*
 * Up to 8 pieces of bytes that make one message or one batch of replies;
 * appended to a queue with one reserve.
 */
struct ps_piece {
        const void *p;
        size_t len;
};

struct ps_bytes {
        struct ps_piece v[8];
        int n;
        size_t len;
};

static void bytes_add(struct ps_bytes *b, const void *p, size_t len)
{
        b->v[b->n].p = p;
        b->v[b->n].len = len;
        b->n++;
        b->len += len;
}

/*
 * Append @b to @ps's queue, or doom @ps when that would pass the output
 * limit (or memory runs out: the client is disconnected rather than the
 * message dropped).  Returns true when the writer must be notified on
 * ps->wake (it is idle) -- *@stop is set when it must also be interrupted
 * (doomed now).  Called with ps->lock held.
 */
static bool ps_append_locked(struct rds_ps_client *ps, const struct ps_bytes *b,
                             struct ps_limits *l, bool *stop)
{
        size_t pending = task_buf_len(&ps->q) + ps->inflight;
        bool doom = false;

        if (ps->dead || ps->doomed || b->len == 0)
                return false;
        /* Redis's test is "used >= limit" after adding: the bytes that
         * would reach it are not worth copying, the client is closed. */
        if (l->hard && pending + b->len >= l->hard) {
                doom = true;
        } else if (task_buf_reserve(&ps->q, b->len)) {
                doom = true;
        } else {
                unsigned char *dst = task_buf_spare(&ps->q);

                for (int i = 0; i < b->n; i++) {
                        memcpy(dst, b->v[i].p, b->v[i].len);
                        dst += b->v[i].len;
                }
                (void)task_buf_commit(&ps->q, b->len);
                pending += b->len;
                if (l->soft && pending >= l->soft) {
                        if (!l->now_ns)
                                l->now_ns = task_now_ns();
                        if (!ps->soft_since_ns)
                                ps->soft_since_ns = l->now_ns;
                        else if (l->now_ns - ps->soft_since_ns > l->soft_ns)
                                doom = true;
                } else {
                        ps->soft_since_ns = 0;
                }
        }
        if (doom) {
                ps->doomed = true;
                *stop = true;
        }
        if (ps->idle || doom) {
                ps->idle = false;
                return true;
        }
        return false;
}

static void ps_notify(struct rds_ps_client *ps, bool wake, bool stop)
{
        if (stop)
                task_notify_one(&ps->stop);
        if (wake)
                task_notify_one(&ps->wake);
}

/*
 * Move c->out's bytes into @c's queue (in order after everything queued
 * before).  Returns 0, -EPIPE (the writer is gone or the client is over
 * its limit: it is closing; the bytes are dropped), or c->out's sticky
 * error.
 */
static int ps_move_out(struct rds_client *c, struct rds_ps_client *ps)
{
        struct ps_bytes b = {.n = 0};
        struct ps_limits l;
        bool wake, stop = false;
        int rc = 0;

        if (c->out.err)
                return c->out.err;
        /* HELLO may have changed it: publishers encode for this value.
         * (Stored only when it changed: publishers read this line.) */
        if (atomic_load_explicit(&ps->proto, memory_order_relaxed) !=
            c->out.proto)
                atomic_store_explicit(&ps->proto, c->out.proto,
                                      memory_order_relaxed);
        if (!task_buf_len(&c->out.buf))
                return 0;
        bytes_add(&b, task_buf_data(&c->out.buf), task_buf_len(&c->out.buf));
        ps_limits_load(c->srv->pubsub, &l);
        pthread_mutex_lock(&ps->lock);
        wake = ps_append_locked(ps, &b, &l, &stop);
        if (ps->dead || ps->doomed)
                rc = -EPIPE;
        pthread_mutex_unlock(&ps->lock);
        ps_notify(ps, wake, stop);
        (void)task_buf_clear(&c->out.buf);
        return rc;
}

/* ---- The writer task ----------------------------------------------------------- */

struct ps_writer {
        TASK_FRAME;
        struct rds_ps_client *ps;
        struct task_buf buf; /* the bytes being written */
        struct task_io io;
        struct task_select sel;
        struct task_sleep sleep;
        struct task_notified nd_wake, nd_stop;
        uint64_t deadline_ns; /* the drain's end once closing; 0 before */
        size_t sent;          /* the size of the write in progress */
        int rc;
        bool failed;  /* a write failed: the peer is gone */
        bool drained; /* closing and everything written: linger */
        bool ended;   /* left the loop (not aborted) */
};

static void ps_client_unref(struct rds_ps_client *ps)
{
        /* acq_rel: the last owner sees every write of the other one. */
        if (atomic_fetch_sub_explicit(&ps->refs, 1, memory_order_acq_rel) != 1)
                return;
        for (int k = 0; k < RDS_PS_NKINDS; k++)
                free(ps->subs[k].b); /* empty: close unsubscribed all */
        (void)task_buf_free(&ps->q);
        (void)task_notify_destroy(&ps->wake);
        (void)task_notify_destroy(&ps->stop);
        pthread_mutex_destroy(&ps->lock);
        free(ps);
}

/* Log Redis's line for a client closed by the output limit.  Called with
 * clients_lock held (c->name). */
static void ps_log_limit(struct rds_client *c, struct rds_ps_client *ps,
                         size_t omem)
{
        int64_t now = rds_unix_ms();

        rds_log(RDS_LOG_WARNING,
                "Client id=%" PRIu64 " addr=%s laddr=%s fd=%d name=%s "
                "age=%lld idle=%lld flags=P%s db=%d sub=%zu psub=%zu ssub=%zu "
                "omem=%zu resp=%d scheduled to be closed ASAP for "
                "overcoming of output buffer limits.",
                c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
                (long long)((now - c->ctime_ms) / 1000),
                (long long)((now - atomic_load_explicit(&c->last_ms,
                                                        memory_order_relaxed)) /
                            1000),
                c->is_unix ? "U" : "",
                atomic_load_explicit(&c->shown_db, memory_order_relaxed),
                ps_nsubs(ps, RDS_PS_CHANNEL), ps_nsubs(ps, RDS_PS_PATTERN),
                ps_nsubs(ps, RDS_PS_SHARD), omem,
                atomic_load_explicit(&ps->proto, memory_order_relaxed));
}

/* The writer's end (normal or aborted): see step 3 of the head comment. */
static void ps_writer_exit(struct ps_writer *f)
{
        struct rds_ps_client *ps = f->ps;
        struct rds_client *c = ps->c;
        bool doomed, closing;
        size_t omem;

        pthread_mutex_lock(&ps->lock);
        doomed = ps->doomed;
        closing = ps->closing;
        omem = task_buf_len(&ps->q) + task_buf_len(&f->buf);
        ps->dead = true;
        ps->inflight = 0;
        ps->idle = false;
        (void)task_buf_free(&ps->q);
        pthread_mutex_unlock(&ps->lock);
        (void)task_buf_free(&f->buf);

        if (doomed)
                rds_stat_add(
                    &rds_stats_local()->client_output_limit_disconnections, 1);
        /* The connection is still running (not closing): make it end, or
         * it would keep a subscription nobody hears.  Not on an abort (the
         * runtime is shutting down and takes the connections with it). */
        if (f->ended && !closing && (doomed || f->failed)) {
                pthread_mutex_lock(&c->srv->clients_lock);
                if (doomed)
                        ps_log_limit(c, ps, omem);
                rds_client_kill(c);
                pthread_mutex_unlock(&c->srv->clients_lock);
        }
        ps_client_unref(ps);
        rds_client_release(c);
}

static int ps_writer(struct task_cx *cx, void *arg)
{
        struct ps_writer *f = arg;
        struct rds_ps_client *ps = f->ps;
        bool closing;

        TASK_BEGIN(f);
        for (;;) {
                pthread_mutex_lock(&ps->lock);
                if (ps->doomed) {
                        pthread_mutex_unlock(&ps->lock);
                        break;
                }
                if (task_buf_len(&f->buf) == 0) {
                        /* Take the whole queue; leave it our empty buffer
                         * (both are plain heap buffers, neither busy). */
                        struct task_buf tmp = f->buf;

                        f->buf = ps->q;
                        ps->q = tmp;
                }
                ps->inflight = task_buf_len(&f->buf);
                closing = ps->closing;
                if (ps->inflight == 0) {
                        if (!closing)
                                ps->idle = true;
                        pthread_mutex_unlock(&ps->lock);
                        if (closing) {
                                f->drained = true;
                                break;
                        }
                        if (task_buf_capacity(&f->buf) > RDS_PS_KEEP_CAP)
                                (void)task_buf_free(&f->buf);
                        TASK_NOTIFIED(f, &ps->wake, &f->nd_wake);
                        continue;
                }
                pthread_mutex_unlock(&ps->lock);

                f->sent = task_buf_len(&f->buf);
                if (closing && !f->deadline_ns)
                        f->deadline_ns = task_now_ns() + RDS_PS_DRAIN_NS;
                if (!f->deadline_ns) {
                        TASK_SELECT(
                            f, &f->sel,
                            task_buf_write_all_poll(cx, f->ps->c->fd, &f->buf,
                                                    &f->io, &f->rc),
                            task_notify_poll(cx, &f->ps->stop, &f->nd_stop));
                } else {
                        TASK_SELECT(
                            f, &f->sel,
                            task_buf_write_all_poll(cx, f->ps->c->fd, &f->buf,
                                                    &f->io, &f->rc),
                            task_notify_poll(cx, &f->ps->stop, &f->nd_stop),
                            task_sleep_until_poll(cx, &f->sleep,
                                                  f->deadline_ns));
                        if (f->sel.which == 2)
                                break; /* the drain's time is up */
                }
                /* which 1 (stop): the write was cancelled with what it
                 * sent consumed; the loop looks at why. */
                if (f->sel.which == 0 && f->rc < 0) {
                        f->failed = true;
                        break;
                }
                if (f->sel.which == 0)
                        rds_stat_add(&rds_stats_local()->net_output_bytes,
                                     f->sent);
        }
        f->ended = true;
        /*
         * Lingering close, as server.c's conn_task does for the clients
         * without a writer: the peer may have sent more after its last
         * request (the QUIT), and closing a socket with unread input
         * sends a reset that throws away what the kernel has not sent
         * yet -- the last messages and the +OK.  So send FIN after them
         * and wait, within the drain's time, until the peer has
         * acknowledged everything.
         */
        if (f->drained) {
                if (!f->deadline_ns)
                        f->deadline_ns = task_now_ns() + RDS_PS_DRAIN_NS;
                shutdown(ps->c->fd, SHUT_WR);
                while (rds_sock_unacked(ps->c->fd) &&
                       task_now_ns() < f->deadline_ns)
                        TASK_SLEEP(f, &f->sleep, TASK_MS(10));
        }
        TASK_CLEANUP(f);
        ps_writer_exit(f);
        TASK_END(f);
}

/*
 * @c's subscriber state, created at the first subscription: allocate it,
 * spawn its writer, publish c->ps.  NULL (and an error reply) on failure.
 */
static struct rds_ps_client *ps_client_get(struct rds_client *c)
{
        struct rds_ps_client *ps = c->ps;
        struct ps_writer w = {.ps = NULL};
        int rc;

        if (ps)
                return ps;
        ps = calloc(1, sizeof *ps);
        if (!ps)
                goto out_oom;
        if (pthread_mutex_init(&ps->lock, NULL))
                goto out_free;
        task_notify_init(&ps->wake);
        task_notify_init(&ps->stop);
        ps->c = c;
        atomic_init(&ps->proto, c->out.proto);
        atomic_init(&ps->refs, 2);

        w.ps = ps;
        /* The writer's client reference; relaxed: we hold one already. */
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
        rc = task_spawn(c->srv->rt, ps_writer, &w, sizeof w, NULL);
        if (rc) {
                rds_client_release(c);
                pthread_mutex_destroy(&ps->lock);
                free(ps);
                if (rc == -ENOMEM)
                        goto out_oom;
                rds_reply_errorf(&c->out, "ERR cannot start a subscriber: %s",
                                 task_strerror(rc));
                return NULL;
        }
        c->ps = ps;
        return ps;
out_free:
        free(ps);
out_oom:
        rds_reply_error(&c->out, RDS_ERR_OOM);
        return NULL;
}

/* ---- The connection's side ------------------------------------------------------ */

int rds_pubsub_client_flush(struct rds_client *c)
{
        if (!c->ps)
                return c->out.err;
        return ps_move_out(c, c->ps);
}

/* Unsubscribe @ps from everything of @kind without replies.  Registry
 * write-locked. */
static void ps_unsubscribe_all_silent(struct rds_pubsub *reg,
                                      struct rds_ps_client *ps, int kind)
{
        struct rds_ps_sub *s, *next;

        (void)table_take_all(&ps->subs[kind]); /* the list has them all */
        for (s = ps->first[kind]; s; s = next) {
                next = s->next;
                ps_sub_drop(reg, kind, s);
        }
}

void rds_pubsub_client_reset(struct rds_client *c)
{
        struct rds_ps_client *ps = c->ps;
        struct rds_pubsub *reg = c->srv->pubsub;

        c->flags &= ~RDS_CLIENT_PUBSUB;
        if (!ps)
                return;
        pthread_rwlock_wrlock(&reg->lock);
        for (int k = 0; k < RDS_PS_NKINDS; k++)
                ps_unsubscribe_all_silent(reg, ps, k);
        pthread_rwlock_unlock(&reg->lock);
}

void rds_pubsub_client_close(struct rds_client *c)
{
        struct rds_ps_client *ps = c->ps;

        if (!ps)
                return;
        /* Unsubscribed first, so that no message is queued after the
         * last replies (QUIT's +OK, a protocol error): Redis sends nothing
         * more to a client once it has run QUIT. */
        rds_pubsub_client_reset(c);
        (void)ps_move_out(c, ps);

        pthread_mutex_lock(&ps->lock);
        ps->closing = true;
        ps->idle = false;
        pthread_mutex_unlock(&ps->lock);
        /* Both: an idle writer waits on wake, a writing one on stop (to
         * start its drain deadline).  A permit left on either only costs
         * the writer one more look. */
        ps_notify(ps, true, true);

        c->ps = NULL;
        ps_client_unref(ps);
}

/* ---- Commands --------------------------------------------------------------------- */

static struct rds_pubsub *ps_reg(struct rds_client *c)
{
        return c->srv->pubsub;
}

/* SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE name [name ...] */
static void ps_cmd_subscribe(struct rds_client *c, int argc,
                             const struct rds_arg *argv, int kind)
{
        struct rds_pubsub *reg = ps_reg(c);
        struct rds_ps_client *ps = ps_client_get(c);

        if (!ps)
                return;
        /* Earlier replies of this batch first, outside the registry lock
         * (they may be big); then the confirmations under it. */
        (void)ps_move_out(c, ps);
        pthread_rwlock_wrlock(&reg->lock);
        for (int j = 1; j < argc; j++) {
                if (ps_subscribe_one(reg, ps, kind, argv[j].p, argv[j].len) <
                    0) {
                        rds_reply_error(&c->out, RDS_ERR_OOM);
                        continue;
                }
                ps_reply_confirm(&c->out, ps_sub_word[kind], argv[j].p,
                                 argv[j].len, ps_reply_count(ps, kind));
        }
        if (ps_total(ps))
                c->flags |= RDS_CLIENT_PUBSUB;
        /* Queued while publishers are held off: the confirmation precedes
         * every message of the new subscriptions. */
        (void)ps_move_out(c, ps);
        pthread_rwlock_unlock(&reg->lock);
}

/* UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE [name ...] */
static void ps_cmd_unsubscribe(struct rds_client *c, int argc,
                               const struct rds_arg *argv, int kind)
{
        struct rds_pubsub *reg = ps_reg(c);
        struct rds_ps_client *ps = c->ps;

        if (!ps) {
                /* Never subscribed: nothing to order against messages. */
                if (argc == 1)
                        ps_reply_confirm(&c->out, ps_unsub_word[kind], NULL, 0,
                                         0);
                for (int j = 1; j < argc; j++)
                        ps_reply_confirm(&c->out, ps_unsub_word[kind],
                                         argv[j].p, argv[j].len,
                                         ps_reply_count(NULL, kind));
                return;
        }
        (void)ps_move_out(c, ps);
        pthread_rwlock_wrlock(&reg->lock);
        if (argc == 1) {
                struct rds_ps_sub *s, *next;

                if (!ps->first[kind])
                        ps_reply_confirm(&c->out, ps_unsub_word[kind], NULL, 0,
                                         ps_reply_count(ps, kind));
                (void)table_take_all(&ps->subs[kind]); /* the list has all */
                for (s = ps->first[kind]; s; s = next) {
                        struct ps_topic *t = s->t;

                        next = s->next;
                        /* The name while the topic is sure to exist, the
                         * count as it is once this one is gone. */
                        ps_reply_confirm(&c->out, ps_unsub_word[kind], t->name,
                                         t->len, ps_reply_count(ps, kind) - 1);
                        ps_sub_drop(reg, kind, s);
                }
        } else {
                for (int j = 1; j < argc; j++) {
                        ps_unsubscribe_one(reg, ps, kind, argv[j].p,
                                           argv[j].len);
                        ps_reply_confirm(&c->out, ps_unsub_word[kind],
                                         argv[j].p, argv[j].len,
                                         ps_reply_count(ps, kind));
                }
        }
        if (!ps_total(ps))
                c->flags &= ~RDS_CLIENT_PUBSUB;
        /* Queued before publishers may run again: the confirmation follows
         * every message queued while the subscription stood. */
        (void)ps_move_out(c, ps);
        pthread_rwlock_unlock(&reg->lock);
}

static void cmd_subscribe(struct rds_client *c, int argc,
                          const struct rds_arg *argv)
{
        ps_cmd_subscribe(c, argc, argv, RDS_PS_CHANNEL);
}

static void cmd_psubscribe(struct rds_client *c, int argc,
                           const struct rds_arg *argv)
{
        ps_cmd_subscribe(c, argc, argv, RDS_PS_PATTERN);
}

static void cmd_ssubscribe(struct rds_client *c, int argc,
                           const struct rds_arg *argv)
{
        ps_cmd_subscribe(c, argc, argv, RDS_PS_SHARD);
}

static void cmd_unsubscribe(struct rds_client *c, int argc,
                            const struct rds_arg *argv)
{
        ps_cmd_unsubscribe(c, argc, argv, RDS_PS_CHANNEL);
}

static void cmd_punsubscribe(struct rds_client *c, int argc,
                             const struct rds_arg *argv)
{
        ps_cmd_unsubscribe(c, argc, argv, RDS_PS_PATTERN);
}

static void cmd_sunsubscribe(struct rds_client *c, int argc,
                             const struct rds_arg *argv)
{
        ps_cmd_unsubscribe(c, argc, argv, RDS_PS_SHARD);
}

/*
 * A message's header, encoded once per publish (and per matching pattern)
 * for both protocols: "*3\r\n$7\r\nmessage\r\n$<n>\r\n", up to the first
 * name's bytes.  The names, the payload and the CRLFs between them are
 * copied straight from the request into each receiver's queue (struct
 * ps_bytes), so a message is never built twice.  head[1] differs from
 * head[0] only in its first byte: '>' (a RESP3 push) instead of '*'.
 */
struct ps_msg {
        char head[2][48]; /* [RESP2, RESP3] */
        size_t head_len;
};

/* @word: "message", "smessage", "pmessage"; @nargs its element count;
 * @first_len the length of the name that follows the header. */
static void ps_msg_init(struct ps_msg *m, const char *word, size_t nargs,
                        size_t first_len)
{
        int n = snprintf(m->head[0], sizeof m->head[0],
                         "*%zu\r\n$%zu\r\n%s\r\n$%zu\r\n", nargs, strlen(word),
                         word, first_len);

        m->head_len = (size_t)n;
        memcpy(m->head[1], m->head[0], m->head_len);
        m->head[1][0] = '>';
}

static void ps_deliver_all(struct ps_topic *t, const struct ps_bytes *b2,
                           const struct ps_bytes *b3, struct ps_limits *l)
{
        for (size_t i = 0; i < t->nsubs; i++) {
                struct rds_ps_client *ps = t->subs[i]->ps;
                int proto =
                    atomic_load_explicit(&ps->proto, memory_order_relaxed);
                bool wake, stop = false;

                pthread_mutex_lock(&ps->lock);
                wake = ps_append_locked(ps, proto == 3 ? b3 : b2, l, &stop);
                pthread_mutex_unlock(&ps->lock);
                ps_notify(ps, wake, stop);
        }
}

/* PUBLISH / SPUBLISH channel message: the number of receivers. */
static void ps_publish(struct rds_client *c, const struct rds_arg *ch,
                       const struct rds_arg *msg, int kind)
{
        struct rds_pubsub *reg = ps_reg(c);
        struct ps_limits l;
        struct ps_msg m;
        struct ps_bytes b2 = {.n = 0}, b3 = {.n = 0};
        char tail[32];
        size_t receivers = 0, tail_len;
        struct ps_topic *t;

        /* A subscriber publishing (RESP3): its earlier replies go before
         * the message it may receive. */
        if (c->ps)
                (void)ps_move_out(c, c->ps);
        ps_limits_load(reg, &l);
        ps_msg_init(&m, kind == RDS_PS_SHARD ? "smessage" : "message", 3,
                    ch->len);
        tail_len =
            (size_t)snprintf(tail, sizeof tail, "\r\n$%zu\r\n", msg->len);
        bytes_add(&b2, m.head[0], m.head_len);
        bytes_add(&b3, m.head[1], m.head_len);
        bytes_add(&b2, ch->p, ch->len);
        bytes_add(&b3, ch->p, ch->len);
        bytes_add(&b2, tail, tail_len);
        bytes_add(&b3, tail, tail_len);
        bytes_add(&b2, msg->p, msg->len);
        bytes_add(&b3, msg->p, msg->len);
        bytes_add(&b2, "\r\n", 2);
        bytes_add(&b3, "\r\n", 2);

        pthread_rwlock_rdlock(&reg->lock);
        t = topic_find(reg, kind, name_hash(reg, ch->p, ch->len), ch->p,
                       ch->len);
        if (t) {
                ps_deliver_all(t, &b2, &b3, &l);
                receivers += t->nsubs;
        }
        if (kind == RDS_PS_CHANNEL && reg->topics[RDS_PS_PATTERN].n) {
                struct ps_table *pt = &reg->topics[RDS_PS_PATTERN];
                char chhdr[32];
                size_t chhdr_len = (size_t)snprintf(chhdr, sizeof chhdr,
                                                    "\r\n$%zu\r\n", ch->len);

                for (size_t i = 0; i < pt->nb; i++) {
                        for (struct ps_node *n = pt->b[i]; n; n = n->next) {
                                struct ps_topic *p = (struct ps_topic *)n;
                                struct ps_msg pm;
                                struct ps_bytes p2 = {.n = 0}, p3 = {.n = 0};

                                if (!rds_glob_match(p->name, p->len, ch->p,
                                                    ch->len, false))
                                        continue;
                                ps_msg_init(&pm, "pmessage", 4, p->len);
                                bytes_add(&p2, pm.head[0], pm.head_len);
                                bytes_add(&p3, pm.head[1], pm.head_len);
                                bytes_add(&p2, p->name, p->len);
                                bytes_add(&p3, p->name, p->len);
                                bytes_add(&p2, chhdr, chhdr_len);
                                bytes_add(&p3, chhdr, chhdr_len);
                                bytes_add(&p2, ch->p, ch->len);
                                bytes_add(&p3, ch->p, ch->len);
                                bytes_add(&p2, tail, tail_len);
                                bytes_add(&p3, tail, tail_len);
                                bytes_add(&p2, msg->p, msg->len);
                                bytes_add(&p3, msg->p, msg->len);
                                bytes_add(&p2, "\r\n", 2);
                                bytes_add(&p3, "\r\n", 2);
                                ps_deliver_all(p, &p2, &p3, &l);
                                receivers += p->nsubs;
                        }
                }
        }
        pthread_rwlock_unlock(&reg->lock);
        if (receivers)
                rds_stat_add(&rds_stats_local()->pubsub_messages, receivers);
        rds_reply_int(&c->out, (long long)receivers);
}

static void cmd_publish(struct rds_client *c, int argc,
                        const struct rds_arg *argv)
{
        ps_publish(c, &argv[1], &argv[2], RDS_PS_CHANNEL);
}

static void cmd_spublish(struct rds_client *c, int argc,
                         const struct rds_arg *argv)
{
        ps_publish(c, &argv[1], &argv[2], RDS_PS_SHARD);
}

/* PUBSUB CHANNELS / SHARDCHANNELS [pattern] */
static void ps_cmd_channels(struct rds_client *c, const struct rds_arg *pat,
                            int kind)
{
        struct rds_pubsub *reg = ps_reg(c);
        struct ps_table *tab = &reg->topics[kind];
        size_t n = 0;

        pthread_rwlock_rdlock(&reg->lock);
        /* Two passes (count, then reply): the reply needs its length
         * first, and matching twice is cheaper than a copy of the list. */
        for (size_t i = 0; i < tab->nb; i++)
                for (struct ps_node *e = tab->b[i]; e; e = e->next) {
                        struct ps_topic *t = (struct ps_topic *)e;

                        if (!pat || rds_glob_match(pat->p, pat->len, t->name,
                                                   t->len, false))
                                n++;
                }
        rds_reply_array_len(&c->out, n);
        for (size_t i = 0; i < tab->nb; i++)
                for (struct ps_node *e = tab->b[i]; e; e = e->next) {
                        struct ps_topic *t = (struct ps_topic *)e;

                        if (!pat || rds_glob_match(pat->p, pat->len, t->name,
                                                   t->len, false))
                                rds_reply_bulk(&c->out, t->name, t->len);
                }
        pthread_rwlock_unlock(&reg->lock);
}

/* PUBSUB NUMSUB / SHARDNUMSUB [channel ...] */
static void ps_cmd_numsub(struct rds_client *c, int argc,
                          const struct rds_arg *argv, int kind)
{
        struct rds_pubsub *reg = ps_reg(c);

        rds_reply_array_len(&c->out, (size_t)(argc - 2) * 2);
        pthread_rwlock_rdlock(&reg->lock);
        for (int j = 2; j < argc; j++) {
                struct ps_topic *t = topic_find(
                    reg, kind, name_hash(reg, argv[j].p, argv[j].len),
                    argv[j].p, argv[j].len);

                rds_reply_bulk(&c->out, argv[j].p, argv[j].len);
                rds_reply_int(&c->out, t ? (long long)t->nsubs : 0);
        }
        pthread_rwlock_unlock(&reg->lock);
}

static const char *const ps_help[] = {
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: "
    "'*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, "
    "excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a "
    "<pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level "
    "channel(s)",
    "HELP",
    "    Prints this help.",
};

/* An argument as Redis's %.128s prints it: up to 128 bytes, up to a NUL. */
static int arg_print_len(const struct rds_arg *a)
{
        size_t n = a->len < 128 ? a->len : 128;
        const void *nul = memchr(a->p, 0, n);

        return (int)(nul ? (size_t)((const unsigned char *)nul - a->p) : n);
}

static void pubsub_help_cmd(struct rds_client *c, int argc,
                            const struct rds_arg *argv)
{
        size_t n = sizeof ps_help / sizeof ps_help[0];

        rds_reply_array_len(&c->out, n);
        for (size_t i = 0; i < n; i++)
                rds_reply_simple(&c->out, ps_help[i]);
}

static void pubsub_numpat_cmd(struct rds_client *c, int argc,
                              const struct rds_arg *argv)
{
        rds_reply_int(&c->out, (long long)rds_pubsub_patterns(ps_reg(c)));
}

/* CHANNELS and SHARDCHANNELS take one optional argument; more is Redis's
 * addReplySubcommandSyntaxError (the subcommand as the client typed it). */
static bool pubsub_channels_argc(struct rds_client *c, int argc,
                                 const struct rds_arg *argv)
{
        if (argc <= 3)
                return true;
        rds_reply_errorf(&c->out,
                         "ERR unknown subcommand or wrong number of arguments "
                         "for '%.*s'. Try PUBSUB HELP.",
                         arg_print_len(&argv[1]), (const char *)argv[1].p);
        return false;
}

static void pubsub_channels_cmd(struct rds_client *c, int argc,
                                const struct rds_arg *argv)
{
        if (pubsub_channels_argc(c, argc, argv))
                ps_cmd_channels(c, argc == 3 ? &argv[2] : NULL, RDS_PS_CHANNEL);
}

static void pubsub_shardchannels_cmd(struct rds_client *c, int argc,
                                     const struct rds_arg *argv)
{
        if (pubsub_channels_argc(c, argc, argv))
                ps_cmd_channels(c, argc == 3 ? &argv[2] : NULL, RDS_PS_SHARD);
}

static void pubsub_numsub_cmd(struct rds_client *c, int argc,
                              const struct rds_arg *argv)
{
        ps_cmd_numsub(c, argc, argv, RDS_PS_CHANNEL);
}

static void pubsub_shardnumsub_cmd(struct rds_client *c, int argc,
                                   const struct rds_arg *argv)
{
        ps_cmd_numsub(c, argc, argv, RDS_PS_SHARD);
}

/* PUBSUB <subcommand> ...: commands.c dispatches (and gives Redis's
 * unknown-subcommand and subcommand-arity errors). */
static void pubsub_cmd(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        const struct rds_command *p = rds_pubsub_commands;

        while (p->fn != pubsub_cmd) /* this table's entry: a few compares */
                p++;
        rds_command_dispatch_sub(c, p, argc, argv);
}

/* ---- The command table ---------------------------------------------------------- */

#define PS_SUBSCRIBE_FLAGS (RDS_CMD_PUBSUB | RDS_CMD_LOADING | RDS_CMD_STALE)

static const struct rds_command ps_pubsub_subcommands[] = {
    {"channels", pubsub_channels_cmd, -2, RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0,
     0, "pubsub", "2.8.0", "List active channels", NULL},
    {"help", pubsub_help_cmd, 2, RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0, 0,
     "pubsub", "6.2.0", "Show helpful text about the different subcommands",
     NULL},
    {"numpat", pubsub_numpat_cmd, 2, RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0, 0,
     "pubsub", "2.8.0",
     "Get the count of unique patterns pattern subscriptions", NULL},
    {"numsub", pubsub_numsub_cmd, -2, RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0, 0,
     "pubsub", "2.8.0", "Get the count of subscribers for channels", NULL},
    {"shardchannels", pubsub_shardchannels_cmd, -2,
     RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0, 0, "pubsub", "7.0.0",
     "List active shard channels", NULL},
    {"shardnumsub", pubsub_shardnumsub_cmd, -2, RDS_CMD_LOADING | RDS_CMD_STALE,
     0, 0, 0, "pubsub", "7.0.0",
     "Get the count of subscribers for shard channels", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL},
};

const struct rds_command rds_pubsub_commands[] = {
    {"subscribe", cmd_subscribe, -2, PS_SUBSCRIBE_FLAGS, 0, 0, 0, "pubsub",
     "2.0.0", "Listen for messages published to the given channels", NULL},
    {"unsubscribe", cmd_unsubscribe, -1, PS_SUBSCRIBE_FLAGS, 0, 0, 0, "pubsub",
     "2.0.0", "Stop listening for messages posted to the given channels", NULL},
    {"psubscribe", cmd_psubscribe, -2, PS_SUBSCRIBE_FLAGS, 0, 0, 0, "pubsub",
     "2.0.0",
     "Listen for messages published to channels matching the given patterns",
     NULL},
    {"punsubscribe", cmd_punsubscribe, -1, PS_SUBSCRIBE_FLAGS, 0, 0, 0,
     "pubsub", "2.0.0",
     "Stop listening for messages posted to channels matching the given "
     "patterns",
     NULL},
    {"ssubscribe", cmd_ssubscribe, -2, PS_SUBSCRIBE_FLAGS, 1, -1, 1, "pubsub",
     "7.0.0", "Listen for messages published to the given shard channels",
     NULL},
    {"sunsubscribe", cmd_sunsubscribe, -1, PS_SUBSCRIBE_FLAGS, 1, -1, 1,
     "pubsub", "7.0.0",
     "Stop listening for messages posted to the given shard channels", NULL},
    {"publish", cmd_publish, 3, RDS_CMD_LOADING | RDS_CMD_STALE | RDS_CMD_FAST,
     0, 0, 0, "pubsub", "2.0.0", "Post a message to a channel", NULL},
    {"spublish", cmd_spublish, 3,
     RDS_CMD_LOADING | RDS_CMD_STALE | RDS_CMD_FAST, 1, 1, 1, "pubsub", "7.0.0",
     "Post a message to a shard channel", NULL},
    {"pubsub", pubsub_cmd, -2, 0, 0, 0, 0, "pubsub", "2.8.0",
     "A container for Pub/Sub commands", ps_pubsub_subcommands},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL},
};
