/*
 * redis/server/store.c - the keyspace (store.h): shards, locks, incremental
 * rehashing, expiry.
 *
 * Who calls it: the command handlers (under the shard locks, as store.h
 * says), the expire task (rds_store_expire_cycle), INFO (counters).
 *
 * Hashing.  SipHash-1-2 (Redis's choice) keyed with 128 random bits from
 * getrandom() at rds_store_new, so a client cannot choose keys that
 * collide.  The shard is the hash's top bits, the bucket its low bits:
 * independent while a table has under 2^54 buckets.
 *
 * Tables.  Each (shard, db) pair has a struct rds_dict: Redis's dict with
 * two tables.  Growth starts when keys >= buckets (load factor 1) and
 * doubles; a table under 10% full shrinks to the smallest power of two
 * holding its keys (checked after deletes and when a rehash ends, rather
 * than from a cron as Redis does).  A resize only allocates the new table
 * (calloc: fresh pages for large tables, so no memset of megabytes);
 * entries then move a bucket at a time: each find, set, insert and delete
 * on the table moves one bucket (visiting at most ten empty ones), and
 * the expire cycle moves 100 per visit, so an idle table finishes too.
 * While rehashing, lookups try both tables and inserts go to the new one.
 * Rehash steps relink entries but never move them in memory: an entry
 * pointer stays valid until that entry is deleted, replaced or resized.
 * Measured (rds-store-bench --memory, 1M inserts into one table): the
 * slowest insert took 0.15-0.28 ms, and fewer than a dozen took over
 * 50 us, none at a resize (page faults and preemption on a shared
 * machine); rehashing 1M keys at once would take tens of milliseconds.
 *
 * Invariants (shard locked): d->nkeys counts the entries in both tables,
 * d->nexpires those with expire_ms != 0; t[1] != NULL iff rehashing, and
 * then every bucket of t[0] below rehashidx is empty; shard->rehashing
 * counts the shard's dicts with t[1]; shard->bytes is the usable size of
 * every entry and table of the shard plus its fixed structures.
 *
 * Memory.  One malloc per key: the 28 bytes of struct rds_entry before
 * data[] (sizeof is 32 with tail padding; the key starts at offset 28),
 * the key, the value.  A SET of an existing key rewrites the entry in
 * place when the new value fits its usable size (malloc_usable_size) and
 * uses at least half of it, so the steady-state SET does not allocate;
 * rds_store_resize_string keeps spare room (double below 1 MB, +1 MB
 * above, as sds) only when a value grows.  A bucket is 8 bytes, at a load
 * factor between 0.5 and 1.  The dicts are 56 bytes per (shard, db), the
 * shards 128 bytes each.  For 1M keys of 16 bytes with 16-byte values
 * (64 shards): an entry is 60 bytes, a 80-byte glibc chunk, plus 8.4
 * bytes of buckets: measured 89 bytes per key of RSS (88.7 in use by
 * malloc).  Redis 7.0.15 (jemalloc) holds the same keys in 120.5 bytes of
 * used_memory per key and 130 of RSS (a 24-byte dictEntry, a 20-byte sds
 * key and a 36-byte embstr value object, each rounded up by jemalloc,
 * plus the buckets).
 *
 * Expiry.  Lazy: find, delete, scan and random_key delete an expired
 * entry they meet (counted in shard->expired).  Active: Redis 7.0's
 * activeExpireCycle, simplified.  It walks the (db, shard) pairs from
 * where the last call stopped, skips (without the lock) the dicts with no
 * key with an expiry, and samples each of the others from its own
 * dictScan cursor: 20 keys with an expiry (or 400 buckets), deleting the
 * expired ones, again while more than 25% of a sample had expired, at
 * most 16 samples per lock hold (then it relocks and goes on), and stops
 * when the microsecond budget is spent (the clock is read once per
 * sample).
 *
 * SCAN.  The cursor is (bucket cursor << shard bits) | shard: the shard's
 * table is walked with Redis's reverse-binary cursor (dictScan, both
 * tables while rehashing), then the next shard from bucket 0.  Neither a
 * rehash step nor a resize happens inside a scan step, so deleting expired
 * entries on the way is safe (the shrink they may call for starts after
 * the walk); between calls the tables may grow, shrink and rehash, and
 * dictScan's guarantee holds per shard.
 *
 * The lock.  One per shard, chosen at compile time (RDS_STORE_LOCK, the
 * #if block below): ck_spinlock_fas, ck_spinlock_ticket, ck_spinlock_mcs,
 * ck_rwlock, ck_swlock (with a fas lock to serialise writers: swlock
 * admits one writer, and any worker writes here), pthread_mutex_t, or
 * glibc's adaptive pthread mutex.  Readers write too: a GET through
 * rds_store_find may delete an expired key and steps the rehash, so under
 * rwlock/swlock it must take the lock exclusively; their shared mode is
 * measured with rds__store_peek, a find that writes nothing (expired keys
 * then wait for a writer or the expire cycle, and rehashing advances only
 * on writes).  bench/rds-store-bench, GET/SET of random keys out of 100k
 * (16-byte keys and values) as the handlers do them, millions of ops/s,
 * median of 3 interleaved rounds of 0.3 s on a 2-vCPU VM shared with
 * other builds and benchmarks (load average 1-3 during the run: NOISY):
 *
 *   GET% shards T   fas ticket  mcs   rw rw-sh   sw sw-sh mutex adapt
 *    90    16   1  24.2  23.3  22.0 24.3  24.2 23.3  23.7  22.0  21.9
 *    90    16   2  37.8  14.9  32.0 36.5  38.7 35.3  37.4  27.5  28.9
 *    90    16   4  18.3   0.2   0.3 19.6  14.7  6.6   4.7  16.7  15.4
 *    90    64   1  23.6  23.0  21.6 22.7  24.1 23.5  23.5  21.2  21.3
 *    90    64   2  41.7  17.0  15.2 16.6  18.6 16.1  17.8  15.0  15.8
 *    90    64   4   8.3   0.1   0.1  8.2   6.9  7.0   6.4  12.9  15.4
 *    50    16   1  21.9  21.3  20.4 21.4  21.2 21.1  20.4  20.2  19.3
 *    50    16   2  10.2   9.4   8.1  9.8   9.7  9.2   9.6   6.2   9.0
 *    50    16   4   5.0   0.0   0.0  5.2   4.0  3.6   4.0   9.2  10.1
 *    50    64   1  21.1  15.7  19.5 21.3  21.4 14.8  20.9  13.3  13.8
 *    50    64   2  11.7  10.7  10.0 11.5  12.3 11.0  11.3   8.8  10.3
 *    50    64   4   5.7   0.1   0.2  5.6   4.9  5.4   4.7   9.0  10.7
 *
 * A second run, fas / mutex / adaptive only, 64 shards, median of 5:
 * 90% GET: T=1 23.0/21.0/21.6, T=2 16.8/13.6/15.6, T=4 8.5/13.4/15.7;
 * 50% GET: T=1 21.6/19.7/17.7, T=2 11.9/16.2/10.6, T=4 5.9/8.5/10.8.
 * And an earlier full run while the machine was busier (load 5-6): at
 * T=2 and T=4, fas fell to 1.3-12.0 (median 2.6), the adaptive mutex
 * stayed at 5.8-19.5 (median 13.3).
 *
 * What the numbers say.  (1) The FIFO spinlocks (ticket, MCS) collapse
 * as soon as a waiter or the holder is preempted (T=4 on 2 CPUs: 100x
 * slower): out.  (2) The shared modes of rwlock and swlock buy nothing: a
 * critical section is ~50 ns, a shared acquire is still an atomic RMW on
 * the lock's line, and GET would lose lazy expiry and rehash steps; swlock
 * also needs a second lock for its writers.  (3) fas is the fastest when
 * every thread has a CPU to itself and nothing else runs: 5-10% at T=1,
 * 10-30% at T=2.  But a preempted holder makes the others spin through
 * its time slice: with more threads than CPUs, or on a busy machine, fas
 * mostly falls to between a tenth and a half of the mutexes.  (4) The
 * mutexes lose those few percent uncontended (a locked instruction in
 * unlock, a call into libc) and never collapse; the adaptive one spins
 * briefly before it sleeps, which suits 50-ns critical sections, and was
 * the best or within noise of the best at T=4.  The server shares its
 * CPUs with its clients, the runtime's other threads and whatever else
 * runs (as on this machine), so the lock is PTHREAD_MUTEX_ADAPTIVE_NP.  A
 * deployment with a dedicated core per worker can build with
 * -DRDS_STORE_LOCK=RDS_LOCK_FAS.  (At 50% SET, two threads do fewer
 * operations than one: the entries a SET writes are then missed in the
 * other CPU's cache, whatever the lock.)
 *
 * ThreadSanitizer does not understand ck_pr's inline-assembly atomics, so
 * under TSan (__SANITIZE_THREAD__ or __has_feature(thread_sanitizer)) the
 * ck kinds are replaced by a plain pthread mutex, which TSan intercepts;
 * the chosen adaptive mutex is kept, so the TSan build checks the real
 * locking.  The counters read without the lock are C11 atomics.
 */
#include "store.h"
#include "util.h"

#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- The lock (one compile-time choice) ----------------------------------- */

#define RDS_LOCK_FAS 1      /* ck_spinlock_fas: test-and-test-and-set */
#define RDS_LOCK_TICKET 2   /* ck_spinlock_ticket: FIFO */
#define RDS_LOCK_MCS 3      /* ck_spinlock_mcs: queue, per-thread nodes */
#define RDS_LOCK_RWLOCK 4   /* ck_rwlock */
#define RDS_LOCK_SWLOCK 5   /* ck_swlock + a fas lock serialising writers */
#define RDS_LOCK_MUTEX 6    /* pthread_mutex_t */
#define RDS_LOCK_ADAPTIVE 7 /* pthread_mutex_t, PTHREAD_MUTEX_ADAPTIVE_NP */

/* The choice, by measurement (see the head of this file). */
#ifndef RDS_STORE_LOCK
#define RDS_STORE_LOCK RDS_LOCK_ADAPTIVE
#endif

/* ThreadSanitizer cannot see ck_pr's inline-asm atomics: under it the ck
 * kinds become a plain pthread mutex, which TSan intercepts (as it does
 * the adaptive one: a TSan build checks the production lock itself). */
#if defined(__SANITIZE_THREAD__)
#define RDS_STORE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RDS_STORE_TSAN 1
#endif
#endif
#if defined(RDS_STORE_TSAN) && RDS_STORE_LOCK != RDS_LOCK_ADAPTIVE
#undef RDS_STORE_LOCK
#define RDS_STORE_LOCK RDS_LOCK_MUTEX
#endif

#if RDS_STORE_LOCK == RDS_LOCK_FAS
#include <ck_spinlock.h>
#define RDS_LOCK_NAME "fas"
typedef ck_spinlock_fas_t rds_lock_t;
static void rds_lock_init(rds_lock_t *l)
{
        ck_spinlock_fas_init(l);
}
static void rds_lock_fini(rds_lock_t *l)
{
}
static inline void rds_lock_excl(rds_lock_t *l, unsigned shard)
{
        ck_spinlock_fas_lock(l);
}
static inline void rds_unlock_excl(rds_lock_t *l, unsigned shard)
{
        ck_spinlock_fas_unlock(l);
}
#define RDS_LOCK_SHARED 0
#elif RDS_STORE_LOCK == RDS_LOCK_TICKET
#include <ck_spinlock.h>
#define RDS_LOCK_NAME "ticket"
typedef ck_spinlock_ticket_t rds_lock_t;
static void rds_lock_init(rds_lock_t *l)
{
        ck_spinlock_ticket_init(l);
}
static void rds_lock_fini(rds_lock_t *l)
{
}
static inline void rds_lock_excl(rds_lock_t *l, unsigned shard)
{
        ck_spinlock_ticket_lock(l);
}
static inline void rds_unlock_excl(rds_lock_t *l, unsigned shard)
{
        ck_spinlock_ticket_unlock(l);
}
#define RDS_LOCK_SHARED 0
#elif RDS_STORE_LOCK == RDS_LOCK_MCS
#include <ck_spinlock.h>
#define RDS_LOCK_NAME "mcs"
typedef ck_spinlock_mcs_t rds_lock_t;
/* A thread's queue node for each shard it may hold (a lock set holds
 * several at once).  Benchmark-only kind: one store per thread at a time. */
static _Thread_local struct ck_spinlock_mcs rds_mcs_nodes[RDS_MAX_SHARDS];
static void rds_lock_init(rds_lock_t *l)
{
        ck_spinlock_mcs_init(l);
}
static void rds_lock_fini(rds_lock_t *l)
{
}
static inline void rds_lock_excl(rds_lock_t *l, unsigned shard)
{
        ck_spinlock_mcs_lock(l, &rds_mcs_nodes[shard]);
}
static inline void rds_unlock_excl(rds_lock_t *l, unsigned shard)
{
        ck_spinlock_mcs_unlock(l, &rds_mcs_nodes[shard]);
}
#define RDS_LOCK_SHARED 0
#elif RDS_STORE_LOCK == RDS_LOCK_RWLOCK
#include <ck_rwlock.h>
#define RDS_LOCK_NAME "rwlock"
typedef ck_rwlock_t rds_lock_t;
static void rds_lock_init(rds_lock_t *l)
{
        ck_rwlock_init(l);
}
static void rds_lock_fini(rds_lock_t *l)
{
}
static inline void rds_lock_excl(rds_lock_t *l, unsigned shard)
{
        ck_rwlock_write_lock(l);
}
static inline void rds_unlock_excl(rds_lock_t *l, unsigned shard)
{
        ck_rwlock_write_unlock(l);
}
static inline void rds_lock_shr(rds_lock_t *l, unsigned shard)
{
        ck_rwlock_read_lock(l);
}
static inline void rds_unlock_shr(rds_lock_t *l, unsigned shard)
{
        ck_rwlock_read_unlock(l);
}
#define RDS_LOCK_SHARED 1
#elif RDS_STORE_LOCK == RDS_LOCK_SWLOCK
#include <ck_spinlock.h>
#include <ck_swlock.h>
#define RDS_LOCK_NAME "swlock"
/* ck_swlock admits a single writer: any worker may write here, so writers
 * take the fas lock first. */
typedef struct {
        ck_spinlock_fas_t writer;
        ck_swlock_t rw;
} rds_lock_t;
static void rds_lock_init(rds_lock_t *l)
{
        ck_spinlock_fas_init(&l->writer);
        ck_swlock_init(&l->rw);
}
static void rds_lock_fini(rds_lock_t *l)
{
}
static inline void rds_lock_excl(rds_lock_t *l, unsigned shard)
{
        ck_spinlock_fas_lock(&l->writer);
        ck_swlock_write_lock(&l->rw);
}
static inline void rds_unlock_excl(rds_lock_t *l, unsigned shard)
{
        ck_swlock_write_unlock(&l->rw);
        ck_spinlock_fas_unlock(&l->writer);
}
static inline void rds_lock_shr(rds_lock_t *l, unsigned shard)
{
        ck_swlock_read_lock(&l->rw);
}
static inline void rds_unlock_shr(rds_lock_t *l, unsigned shard)
{
        ck_swlock_read_unlock(&l->rw);
}
#define RDS_LOCK_SHARED 1
#elif RDS_STORE_LOCK == RDS_LOCK_MUTEX
#ifdef RDS_STORE_TSAN
#define RDS_LOCK_NAME "mutex(tsan)"
#else
#define RDS_LOCK_NAME "mutex"
#endif
typedef pthread_mutex_t rds_lock_t;
static void rds_lock_init(rds_lock_t *l)
{
        pthread_mutex_init(l, NULL);
}
static void rds_lock_fini(rds_lock_t *l)
{
        pthread_mutex_destroy(l);
}
static inline void rds_lock_excl(rds_lock_t *l, unsigned shard)
{
        pthread_mutex_lock(l);
}
static inline void rds_unlock_excl(rds_lock_t *l, unsigned shard)
{
        pthread_mutex_unlock(l);
}
#define RDS_LOCK_SHARED 0
#elif RDS_STORE_LOCK == RDS_LOCK_ADAPTIVE
#define RDS_LOCK_NAME "adaptive"
typedef pthread_mutex_t rds_lock_t;
/* glibc's adaptive mutex spins a while (bounded) before it sleeps. */
static void rds_lock_init(rds_lock_t *l)
{
        pthread_mutexattr_t a;

        pthread_mutexattr_init(&a);
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
        pthread_mutex_init(l, &a);
        pthread_mutexattr_destroy(&a);
}
static void rds_lock_fini(rds_lock_t *l)
{
        pthread_mutex_destroy(l);
}
static inline void rds_lock_excl(rds_lock_t *l, unsigned shard)
{
        pthread_mutex_lock(l);
}
static inline void rds_unlock_excl(rds_lock_t *l, unsigned shard)
{
        pthread_mutex_unlock(l);
}
#define RDS_LOCK_SHARED 0
#else
#error "RDS_STORE_LOCK: unknown lock kind"
#endif

#if !RDS_LOCK_SHARED
static inline void rds_lock_shr(rds_lock_t *l, unsigned shard)
{
        rds_lock_excl(l, shard);
}
static inline void rds_unlock_shr(rds_lock_t *l, unsigned shard)
{
        rds_unlock_excl(l, shard);
}
#endif

/* ---- Structures ------------------------------------------------------------ */

/* The bytes of an entry before the key (the header without its tail
 * padding: the key starts right after pad[]). */
#define RDS_ENTRY_HDR offsetof(struct rds_entry, data)

#define RDS_DICT_MIN_BITS 2 /* 4 buckets, as Redis's DICT_HT_INITIAL_SIZE */

/*
 * One database's table in one shard.  Everything is written under the
 * shard's lock; nkeys and nexpires are also read without it (DBSIZE, SCAN
 * and the expire cycle skipping empty tables), so they are atomics updated
 * by relaxed load + store (the lock orders the writers).
 */
struct rds_dict {
        struct rds_entry **t[2]; /* t[0] NULL: no table yet; t[1] non-NULL:
                                    rehashing from t[0] into t[1] */
        uint64_t rehashidx;      /* buckets of t[0] below it are moved */
        uint64_t expire_cursor;  /* where the expire cycle resumes */
        _Atomic uint64_t nkeys;
        _Atomic uint64_t nexpires; /* keys with expire_ms != 0 */
        uint8_t bits[2];           /* log2 of t[i]'s size */
};

/*
 * A shard: its lock and its tables, on a cache line of their own so that
 * two workers on two shards do not share a line.  The counters are written
 * under the lock and read relaxed by INFO.
 */
struct rds_shard {
        rds_lock_t lock;
        struct rds_dict *dicts; /* [ndbs]; fixed after rds_store_new */
        _Atomic uint64_t expired;
        _Atomic uint64_t bytes;
        _Atomic uint32_t rehashing; /* dicts of this shard rehashing */
} __attribute__((aligned(64)));

struct rds_store {
        struct rds_shard *shards; /* [nshards] */
        unsigned nshards, ndbs;
        unsigned shard_shift; /* shard = (hash >> 1) >> shard_shift */
        unsigned shard_bits;
        uint64_t key[2];             /* SipHash key (rds_siphash) */
        _Atomic uint64_t expire_pos; /* expire cycle's db * nshards + shard */
};

/* ---- Allocation (with the tests' failure hook) ----------------------------- */

static _Atomic long rds_fail_after = -1;

void rds__store_fail_alloc_after(long n)
{
        atomic_store_explicit(&rds_fail_after, n < 0 ? -1 : n,
                              memory_order_relaxed);
}

static bool rds_alloc_fails(void)
{
        long n = atomic_load_explicit(&rds_fail_after, memory_order_relaxed);

        while (n > 0) {
                if (atomic_compare_exchange_weak_explicit(
                        &rds_fail_after, &n, n - 1, memory_order_relaxed,
                        memory_order_relaxed))
                        return false;
        }
        return n == 0;
}

static void *rds_malloc(size_t n)
{
        if (__builtin_expect(atomic_load_explicit(&rds_fail_after,
                                                  memory_order_relaxed) >= 0,
                             0) &&
            rds_alloc_fails())
                return NULL;
        return malloc(n);
}

static void *rds_calloc(size_t n, size_t size)
{
        if (__builtin_expect(atomic_load_explicit(&rds_fail_after,
                                                  memory_order_relaxed) >= 0,
                             0) &&
            rds_alloc_fails())
                return NULL;
        return calloc(n, size);
}

static void *rds_realloc(void *p, size_t n)
{
        if (__builtin_expect(atomic_load_explicit(&rds_fail_after,
                                                  memory_order_relaxed) >= 0,
                             0) &&
            rds_alloc_fails())
                return NULL;
        return realloc(p, n);
}

/* ---- Counters --------------------------------------------------------------- */

/* A counter written only under the shard's lock: no locked instruction. */
static inline void ctr_add(_Atomic uint64_t *c, int64_t delta)
{
        atomic_store_explicit(
            c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)delta,
            memory_order_relaxed);
}

static inline uint64_t ctr_get(const _Atomic uint64_t *c)
{
        return atomic_load_explicit(c, memory_order_relaxed);
}

static inline void rehashing_add(struct rds_shard *sh, int delta)
{
        atomic_store_explicit(
            &sh->rehashing,
            atomic_load_explicit(&sh->rehashing, memory_order_relaxed) +
                (uint32_t)delta,
            memory_order_relaxed);
}

static void account_add(struct rds_shard *sh, struct rds_dict *d,
                        const struct rds_entry *e)
{
        ctr_add(&d->nkeys, 1);
        if (e->expire_ms)
                ctr_add(&d->nexpires, 1);
        ctr_add(&sh->bytes, (int64_t)malloc_usable_size((void *)e));
}

static void account_remove(struct rds_shard *sh, struct rds_dict *d,
                           const struct rds_entry *e)
{
        ctr_add(&d->nkeys, -1);
        if (e->expire_ms)
                ctr_add(&d->nexpires, -1);
        ctr_add(&sh->bytes, -(int64_t)malloc_usable_size((void *)e));
}

/* ---- Hashing ----------------------------------------------------------------- */

uint64_t rds_store_hash(const struct rds_store *s, const void *key, size_t len)
{
        return rds_siphash(key, len, s->key);
}

unsigned rds_store_shard_of(const struct rds_store *s, uint64_t hash)
{
        /* High bits for the shard, low bits for the bucket: independent
         * while a table has fewer than 2^54 buckets.  (hash >> 1) >> 63
         * is 0, so one shard needs no branch. */
        return (unsigned)((hash >> 1) >> s->shard_shift);
}

static inline struct rds_shard *shard_of(const struct rds_store *s,
                                         uint64_t hash)
{
        return &s->shards[rds_store_shard_of(s, hash)];
}

/* ---- Tables: growth, shrinking, incremental rehashing ----------------------- */

static inline uint64_t dict_size(const struct rds_dict *d, int i)
{
        return (uint64_t)1 << d->bits[i];
}

static inline uint64_t dict_mask(const struct rds_dict *d, int i)
{
        return dict_size(d, i) - 1;
}

static inline bool dict_rehashing(const struct rds_dict *d)
{
        return d->t[1] != NULL;
}

/*
 * Start a resize to the smallest power of two >= @minsize (at least 4
 * buckets): the first table of an unused dict, or the target of a rehash.
 * Not while rehashing.  False if the table could not be allocated (the
 * dict is unchanged and still works: chains just get longer).
 */
static bool dict_resize(struct rds_shard *sh, struct rds_dict *d,
                        uint64_t minsize)
{
        unsigned bits = RDS_DICT_MIN_BITS;
        struct rds_entry **t;

        while (bits < 62 && ((uint64_t)1 << bits) < minsize)
                bits++;
        if (d->t[0] && bits == d->bits[0])
                return true;
        t = rds_calloc((size_t)1 << bits, sizeof(*t));
        if (!t)
                return false;
        ctr_add(&sh->bytes, (int64_t)(sizeof(*t) << bits));
        if (!d->t[0]) {
                d->t[0] = t;
                d->bits[0] = (uint8_t)bits;
                return true;
        }
        d->t[1] = t;
        d->bits[1] = (uint8_t)bits;
        d->rehashidx = 0;
        rehashing_add(sh, 1);
        return true;
}

static void dict_maybe_shrink(struct rds_shard *sh, struct rds_dict *d);

/*
 * Move up to @n buckets of t[0] into t[1] (visiting at most 10 * @n empty
 * ones, as Redis's dictRehash, so that a sparse table does not make one
 * call long); when t[0] is empty it is freed and t[1] becomes t[0].
 * Entries do not move in memory: pointers to them stay valid.
 */
static void dict_rehash(const struct rds_store *s, struct rds_shard *sh,
                        struct rds_dict *d, unsigned n)
{
        uint64_t size0 = dict_size(d, 0), mask1 = dict_mask(d, 1);
        unsigned empty = n * 10;

        while (n > 0 && d->rehashidx < size0) {
                struct rds_entry *e = d->t[0][d->rehashidx], *next;

                if (!e) {
                        d->rehashidx++;
                        if (--empty == 0)
                                break;
                        continue;
                }
                d->t[0][d->rehashidx++] = NULL;
                for (; e; e = next) {
                        uint64_t i =
                            rds_store_hash(s, e->data, e->klen) & mask1;

                        next = e->next;
                        e->next = d->t[1][i];
                        d->t[1][i] = e;
                }
                n--;
        }
        if (d->rehashidx < size0)
                return;
        free(d->t[0]);
        ctr_add(&sh->bytes, -(int64_t)(sizeof(*d->t[0]) * size0));
        d->t[0] = d->t[1];
        d->bits[0] = d->bits[1];
        d->t[1] = NULL;
        d->bits[1] = 0;
        d->rehashidx = 0;
        rehashing_add(sh, -1);
        /* Deletes during a shrink may call for another one: the check
         * they skipped while the rehash ran. */
        dict_maybe_shrink(sh, d);
}

/* Grow at load factor 1 (Redis's _dictExpandIfNeeded without the
 * fork-time exception: we never fork). */
static void dict_maybe_grow(struct rds_shard *sh, struct rds_dict *d)
{
        uint64_t n = ctr_get(&d->nkeys);

        if (!dict_rehashing(d) && n >= dict_size(d, 0))
                dict_resize(sh, d, n + 1);
}

/* Shrink a table under 10% full to the smallest power of two that holds
 * its keys (Redis's htNeedsResize + dictResize, done at once here rather
 * than from a cron). */
static void dict_maybe_shrink(struct rds_shard *sh, struct rds_dict *d)
{
        uint64_t n = ctr_get(&d->nkeys);

        if (d->t[0] && !dict_rehashing(d) && d->bits[0] > RDS_DICT_MIN_BITS &&
            n * 10 < dict_size(d, 0))
                dict_resize(sh, d, n);
}

/* The link (bucket head or a next field) pointing at @key's entry. */
static struct rds_entry **dict_find_link(struct rds_dict *d, const void *key,
                                         size_t klen, uint64_t h)
{
        if (!d->t[0])
                return NULL;
        for (int i = 0; i < 2; i++) {
                struct rds_entry **link = &d->t[i][h & dict_mask(d, i)];

                for (; *link; link = &(*link)->next) {
                        const struct rds_entry *e = *link;

                        if (e->klen == klen && memcmp(e->data, key, klen) == 0)
                                return link;
                }
                if (!dict_rehashing(d))
                        break;
        }
        return NULL;
}

/* The link pointing at entry @e itself (it is in @d; @h is its hash). */
static struct rds_entry **dict_link_of(struct rds_dict *d, uint64_t h,
                                       const struct rds_entry *e)
{
        for (int i = 0; i < 2 && d->t[i]; i++) {
                struct rds_entry **link = &d->t[i][h & dict_mask(d, i)];

                for (; *link; link = &(*link)->next)
                        if (*link == e)
                                return link;
        }
        return NULL;
}

/* Link a new entry (its key absent) into @d, which has a table. */
static void dict_insert(struct rds_shard *sh, struct rds_dict *d,
                        struct rds_entry *e, uint64_t h)
{
        struct rds_entry **b;
        int i;

        dict_maybe_grow(sh, d);
        i = dict_rehashing(d) ? 1 : 0;
        b = &d->t[i][h & dict_mask(d, i)];
        e->next = *b;
        *b = e;
        account_add(sh, d, e);
}

static void entry_free(struct rds_entry *e)
{
        /* Strings only so far: one allocation. */
        free(e);
}

static void dict_unlink_free(struct rds_shard *sh, struct rds_dict *d,
                             struct rds_entry **link)
{
        struct rds_entry *e = *link;

        *link = e->next;
        account_remove(sh, d, e);
        entry_free(e);
}

static inline bool entry_expired(const struct rds_entry *e, int64_t now_ms)
{
        return e->expire_ms != 0 && e->expire_ms <= now_ms;
}

/* Free every entry and table of @d; returns the number of keys. */
static uint64_t dict_clear(struct rds_shard *sh, struct rds_dict *d)
{
        uint64_t n = ctr_get(&d->nkeys);

        for (int i = 0; i < 2 && d->t[i]; i++) {
                uint64_t size = dict_size(d, i);

                for (uint64_t b = 0; b < size; b++) {
                        struct rds_entry *e = d->t[i][b], *next;

                        for (; e; e = next) {
                                next = e->next;
                                ctr_add(&sh->bytes,
                                        -(int64_t)malloc_usable_size(e));
                                entry_free(e);
                        }
                }
                free(d->t[i]);
                ctr_add(&sh->bytes, -(int64_t)(sizeof(*d->t[i]) * size));
        }
        if (dict_rehashing(d))
                rehashing_add(sh, -1);
        d->t[0] = d->t[1] = NULL;
        d->bits[0] = d->bits[1] = 0;
        d->rehashidx = 0;
        d->expire_cursor = 0;
        atomic_store_explicit(&d->nkeys, 0, memory_order_relaxed);
        atomic_store_explicit(&d->nexpires, 0, memory_order_relaxed);
        return n;
}

/* ---- Scanning (Redis's dictScan) -------------------------------------------- */

static inline uint64_t rev64(uint64_t v)
{
        v = ((v >> 1) & 0x5555555555555555ULL) |
            ((v & 0x5555555555555555ULL) << 1);
        v = ((v >> 2) & 0x3333333333333333ULL) |
            ((v & 0x3333333333333333ULL) << 2);
        v = ((v >> 4) & 0x0f0f0f0f0f0f0f0fULL) |
            ((v & 0x0f0f0f0f0f0f0f0fULL) << 4);
        return __builtin_bswap64(v);
}

/* The next cursor: increment the bits of @mask, most significant first. */
static inline uint64_t cursor_next(uint64_t v, uint64_t mask)
{
        v |= ~mask;
        v = rev64(v);
        v++;
        return rev64(v);
}

/*
 * What a scan step does with each bucket it visits.  Expired entries are
 * deleted on the way (lazy expiry, counted); the tables themselves are
 * neither rehashed nor resized during a step, so the walk stays valid.
 */
struct visit {
        int64_t now_ms;
        rds_store_visit_fn *fn; /* NULL: the expire cycle's sampling */
        void *ctx;
        uint64_t seen;    /* live entries passed to fn */
        uint64_t sampled; /* expire cycle: entries with an expiry seen */
        uint64_t expired; /* expired entries deleted */
};

static void visit_bucket(struct rds_shard *sh, struct rds_dict *d,
                         struct rds_entry **link, struct visit *v)
{
        while (*link) {
                struct rds_entry *e = *link;

                if (entry_expired(e, v->now_ms)) {
                        if (!v->fn)
                                v->sampled++;
                        v->expired++;
                        ctr_add(&sh->expired, 1);
                        dict_unlink_free(sh, d, link);
                        continue;
                }
                if (v->fn) {
                        v->fn(v->ctx, e);
                        v->seen++;
                } else if (e->expire_ms) {
                        v->sampled++;
                }
                link = &e->next;
        }
}

/*
 * One dictScan step from cursor @c: the bucket @c of the table, or while
 * rehashing the bucket of the small table and every bucket of the large
 * one that it expands to.  Returns the next cursor (0: done).
 */
static uint64_t dict_scan_step(struct rds_shard *sh, struct rds_dict *d,
                               uint64_t c, struct visit *v)
{
        uint64_t m0, m1;
        int small, large;

        if (!d->t[0])
                return 0;
        if (!dict_rehashing(d)) {
                m0 = dict_mask(d, 0);
                visit_bucket(sh, d, &d->t[0][c & m0], v);
                return cursor_next(c, m0);
        }
        small = d->bits[0] <= d->bits[1] ? 0 : 1;
        large = 1 - small;
        m0 = dict_mask(d, small);
        m1 = dict_mask(d, large);
        visit_bucket(sh, d, &d->t[small][c & m0], v);
        do {
                visit_bucket(sh, d, &d->t[large][c & m1], v);
                c = cursor_next(c, m1);
        } while (c & (m0 ^ m1));
        return c;
}

/* ---- The store ---------------------------------------------------------------- */

int rds_store_new(unsigned nshards, unsigned ndbs, struct rds_store **out)
{
        struct rds_store *s;
        unsigned i, bits = 0;

        if (!out || nshards == 0 || nshards > RDS_MAX_SHARDS ||
            (nshards & (nshards - 1)) != 0 || ndbs == 0 || ndbs > RDS_MAX_DBS)
                return -EINVAL;
        while ((1u << bits) < nshards)
                bits++;
        s = rds_calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->nshards = nshards;
        s->ndbs = ndbs;
        s->shard_bits = bits;
        s->shard_shift = 63 - bits;
        rds_random_seed(s->key);
        if (__builtin_expect(atomic_load_explicit(&rds_fail_after,
                                                  memory_order_relaxed) >= 0,
                             0) &&
            rds_alloc_fails())
                goto out_free_store;
        s->shards = aligned_alloc(64, sizeof(*s->shards) * nshards);
        if (!s->shards)
                goto out_free_store;
        memset(s->shards, 0, sizeof(*s->shards) * nshards);
        for (i = 0; i < nshards; i++) {
                struct rds_shard *sh = &s->shards[i];

                sh->dicts = rds_calloc(ndbs, sizeof(*sh->dicts));
                if (!sh->dicts)
                        goto out_free_shards;
                rds_lock_init(&sh->lock);
                ctr_add(&sh->bytes,
                        (int64_t)(sizeof(*sh->dicts) * ndbs + sizeof(*sh)));
        }
        *out = s;
        return 0;

out_free_shards:
        while (i-- > 0) {
                rds_lock_fini(&s->shards[i].lock);
                free(s->shards[i].dicts);
        }
        free(s->shards);
out_free_store:
        free(s);
        return -ENOMEM;
}

void rds_store_free(struct rds_store *s)
{
        if (!s)
                return;
        for (unsigned i = 0; i < s->nshards; i++) {
                struct rds_shard *sh = &s->shards[i];

                for (unsigned db = 0; db < s->ndbs; db++)
                        dict_clear(sh, &sh->dicts[db]);
                free(sh->dicts);
                rds_lock_fini(&sh->lock);
        }
        free(s->shards);
        free(s);
}

unsigned rds_store_nshards(const struct rds_store *s)
{
        return s->nshards;
}

unsigned rds_store_ndbs(const struct rds_store *s)
{
        return s->ndbs;
}

const char *rds__store_lock_name(void)
{
        return RDS_LOCK_NAME;
}

/* ---- Locking ------------------------------------------------------------------ */

void rds_store_lock(struct rds_store *s, unsigned shard)
{
        rds_lock_excl(&s->shards[shard].lock, shard);
}

void rds_store_unlock(struct rds_store *s, unsigned shard)
{
        rds_unlock_excl(&s->shards[shard].lock, shard);
}

void rds__store_lock_shared(struct rds_store *s, unsigned shard)
{
        rds_lock_shr(&s->shards[shard].lock, shard);
}

void rds__store_unlock_shared(struct rds_store *s, unsigned shard)
{
        rds_unlock_shr(&s->shards[shard].lock, shard);
}

void rds_lockset_clear(struct rds_lockset *ls)
{
        memset(ls, 0, sizeof(*ls));
}

void rds_lockset_add(struct rds_lockset *ls, unsigned shard)
{
        ls->bits[shard / 64] |= (uint64_t)1 << (shard % 64);
}

void rds_store_lock_set(struct rds_store *s, const struct rds_lockset *ls)
{
        unsigned words = (s->nshards + 63) / 64;

        for (unsigned w = 0; w < words; w++) {
                for (uint64_t m = ls->bits[w]; m; m &= m - 1)
                        rds_store_lock(s,
                                       w * 64 + (unsigned)__builtin_ctzll(m));
        }
}

void rds_store_unlock_set(struct rds_store *s, const struct rds_lockset *ls)
{
        unsigned words = (s->nshards + 63) / 64;

        for (unsigned w = 0; w < words; w++) {
                for (uint64_t m = ls->bits[w]; m; m &= m - 1)
                        rds_store_unlock(s,
                                         w * 64 + (unsigned)__builtin_ctzll(m));
        }
}

void rds_store_lock_all(struct rds_store *s)
{
        for (unsigned i = 0; i < s->nshards; i++)
                rds_store_lock(s, i);
}

void rds_store_unlock_all(struct rds_store *s)
{
        for (unsigned i = 0; i < s->nshards; i++)
                rds_store_unlock(s, i);
}

/* ---- Entries ------------------------------------------------------------------- */

struct rds_entry *rds_store_find(struct rds_store *s, int db, const void *key,
                                 size_t klen, uint64_t hash, int64_t now_ms)
{
        struct rds_shard *sh = shard_of(s, hash);
        struct rds_dict *d = &sh->dicts[db];
        struct rds_entry **link;

        if (!d->t[0])
                return NULL;
        if (dict_rehashing(d))
                dict_rehash(s, sh, d, 1);
        link = dict_find_link(d, key, klen, hash);
        if (!link)
                return NULL;
        if (entry_expired(*link, now_ms)) {
                ctr_add(&sh->expired, 1);
                dict_unlink_free(sh, d, link);
                dict_maybe_shrink(sh, d);
                return NULL;
        }
        return *link;
}

const struct rds_entry *rds__store_peek(const struct rds_store *s, int db,
                                        const void *key, size_t klen,
                                        uint64_t hash, int64_t now_ms)
{
        struct rds_dict *d = &shard_of(s, hash)->dicts[db];
        struct rds_entry **link = dict_find_link(d, key, klen, hash);

        if (!link || entry_expired(*link, now_ms))
                return NULL;
        return *link;
}

/* A new entry of @need bytes, its header and key filled in. */
static struct rds_entry *entry_new(size_t need, const void *key, size_t klen,
                                   uint8_t type, int64_t expire_ms)
{
        struct rds_entry *e = rds_malloc(need);

        if (!e)
                return NULL;
        e->next = NULL;
        e->expire_ms = expire_ms;
        e->klen = (uint32_t)klen;
        e->vlen = (uint32_t)(need - RDS_ENTRY_HDR - klen);
        e->type = type;
        memset(e->pad, 0, sizeof(e->pad));
        memcpy(e->data, key, klen);
        return e;
}

/* Whether an allocation of @usable bytes should be kept for @need bytes:
 * it fits, and at least half of it is used (so a big value replaced by a
 * small one gives its memory back). */
static inline bool entry_reusable(size_t usable, size_t need)
{
        return need <= usable && usable / 2 <= need;
}

int rds_store_set_string(struct rds_store *s, int db, const void *key,
                         size_t klen, uint64_t hash, const void *val,
                         size_t vlen, int64_t expire_ms, struct rds_entry **out)
{
        struct rds_shard *sh = shard_of(s, hash);
        struct rds_dict *d = &sh->dicts[db];
        struct rds_entry **link, *e;
        size_t need;

        if (klen > UINT32_MAX || vlen > UINT32_MAX)
                return -ENOMEM;
        need = RDS_ENTRY_HDR + klen + vlen;
        if (dict_rehashing(d))
                dict_rehash(s, sh, d, 1);
        link = dict_find_link(d, key, klen, hash);
        if (link) {
                struct rds_entry *old = *link;

                if (old->type == RDS_TYPE_STRING &&
                    entry_reusable(malloc_usable_size(old), need)) {
                        /* The common SET of an existing key: no malloc. */
                        if (!old->expire_ms != !expire_ms)
                                ctr_add(&d->nexpires, expire_ms ? 1 : -1);
                        memmove(old->data + klen, val, vlen);
                        old->vlen = (uint32_t)vlen;
                        old->expire_ms = expire_ms;
                        if (out)
                                *out = old;
                        return 0;
                }
                e = entry_new(need, key, klen, RDS_TYPE_STRING, expire_ms);
                if (!e)
                        return -ENOMEM;
                memcpy(e->data + klen, val, vlen);
                e->next = old->next;
                *link = e;
                account_remove(sh, d, old);
                account_add(sh, d, e);
                entry_free(old);
        } else {
                e = entry_new(need, key, klen, RDS_TYPE_STRING, expire_ms);
                if (!e)
                        return -ENOMEM;
                memcpy(e->data + klen, val, vlen);
                if (!d->t[0] && !dict_resize(sh, d, 1)) {
                        entry_free(e);
                        return -ENOMEM;
                }
                dict_insert(sh, d, e, hash);
        }
        if (out)
                *out = e;
        return 0;
}

/* sds's greedy growth: double below 1 MB, then 1 MB more at a time. */
#define RDS_GREEDY_MAX ((size_t)1 << 20)

int rds_store_resize_string(struct rds_store *s, int db, uint64_t hash,
                            struct rds_entry **ep, size_t vlen)
{
        struct rds_shard *sh = shard_of(s, hash);
        struct rds_dict *d = &sh->dicts[db];
        struct rds_entry *e = *ep, *ne, **link;
        size_t need, usable, old = e->vlen, cap;

        if (vlen > UINT32_MAX)
                return -ENOMEM;
        need = RDS_ENTRY_HDR + e->klen + vlen;
        usable = malloc_usable_size(e);
        if (need <= usable && (vlen >= old || usable / 2 <= need)) {
                /* Fits, and shrinking does not strand more than half. */
                if (vlen > old)
                        memset(e->data + e->klen + old, 0, vlen - old);
                e->vlen = (uint32_t)vlen;
                return 0;
        }
        cap = need;
        if (vlen > old)
                cap = need < RDS_GREEDY_MAX ? need * 2 : need + RDS_GREEDY_MAX;
        link = dict_link_of(d, hash, e);
        assert(link);
        ne = rds_realloc(e, cap);
        if (!ne && cap > need)
                ne = rds_realloc(e, need);
        if (!ne) {
                if (vlen > old)
                        return -ENOMEM;
                /* Could not give memory back: shrink in place. */
                e->vlen = (uint32_t)vlen;
                return 0;
        }
        ctr_add(&sh->bytes, (int64_t)malloc_usable_size(ne) - (int64_t)usable);
        *link = ne;
        if (vlen > old)
                memset(ne->data + ne->klen + old, 0, vlen - old);
        ne->vlen = (uint32_t)vlen;
        *ep = ne;
        return 0;
}

int rds_store_insert_copy(struct rds_store *s, int db, const void *key,
                          size_t klen, uint64_t hash,
                          const struct rds_entry *src, bool replace)
{
        struct rds_shard *sh = shard_of(s, hash);
        struct rds_dict *d = &sh->dicts[db];
        struct rds_entry **link, *e;

        if (klen > UINT32_MAX)
                return -ENOMEM;
        /* A rehash step moves no entry in memory: @src stays valid. */
        if (dict_rehashing(d))
                dict_rehash(s, sh, d, 1);
        link = dict_find_link(d, key, klen, hash);
        if (link && !replace)
                return -EEXIST;
        e = entry_new(RDS_ENTRY_HDR + klen + src->vlen, key, klen, src->type,
                      src->expire_ms);
        if (!e)
                return -ENOMEM;
        /* Strings: the value bytes.  (Other types will copy their value.) */
        memcpy(e->data + klen, src->data + src->klen, src->vlen);
        if (link) {
                struct rds_entry *old = *link; /* may be @src itself */

                e->next = old->next;
                *link = e;
                account_remove(sh, d, old);
                account_add(sh, d, e);
                entry_free(old);
                return 0;
        }
        if (!d->t[0] && !dict_resize(sh, d, 1)) {
                entry_free(e);
                return -ENOMEM;
        }
        dict_insert(sh, d, e, hash);
        return 0;
}

bool rds_store_delete(struct rds_store *s, int db, const void *key, size_t klen,
                      uint64_t hash, int64_t now_ms)
{
        struct rds_shard *sh = shard_of(s, hash);
        struct rds_dict *d = &sh->dicts[db];
        struct rds_entry **link;
        bool live;

        if (!d->t[0])
                return false;
        if (dict_rehashing(d))
                dict_rehash(s, sh, d, 1);
        link = dict_find_link(d, key, klen, hash);
        if (!link)
                return false;
        live = !entry_expired(*link, now_ms);
        if (!live)
                ctr_add(&sh->expired, 1);
        dict_unlink_free(sh, d, link);
        dict_maybe_shrink(sh, d);
        return live;
}

void rds_store_set_expire(struct rds_store *s, int db, uint64_t hash,
                          struct rds_entry *e, int64_t expire_ms)
{
        struct rds_dict *d = &shard_of(s, hash)->dicts[db];

        if (!e->expire_ms != !expire_ms)
                ctr_add(&d->nexpires, expire_ms ? 1 : -1);
        e->expire_ms = expire_ms;
}

/* ---- Whole databases ----------------------------------------------------------- */

uint64_t rds_store_dbsize(const struct rds_store *s, int db)
{
        uint64_t n = 0;

        for (unsigned i = 0; i < s->nshards; i++)
                n += ctr_get(&s->shards[i].dicts[db].nkeys);
        return n;
}

uint64_t rds_store_expires(const struct rds_store *s, int db)
{
        uint64_t n = 0;

        for (unsigned i = 0; i < s->nshards; i++)
                n += ctr_get(&s->shards[i].dicts[db].nexpires);
        return n;
}

/* Every shard locked at once, as FLUSHALL: a multi-key write (MSET of a
 * key in the first shard and one in the last) must land wholly before or
 * wholly after the flush, never half in each. */
uint64_t rds_store_flushdb(struct rds_store *s, int db)
{
        uint64_t n = 0;

        rds_store_lock_all(s);
        for (unsigned i = 0; i < s->nshards; i++)
                n += dict_clear(&s->shards[i], &s->shards[i].dicts[db]);
        rds_store_unlock_all(s);
        return n;
}

uint64_t rds_store_flushall(struct rds_store *s)
{
        uint64_t n = 0;

        rds_store_lock_all(s);
        for (unsigned i = 0; i < s->nshards; i++)
                for (unsigned db = 0; db < s->ndbs; db++)
                        n += dict_clear(&s->shards[i], &s->shards[i].dicts[db]);
        rds_store_unlock_all(s);
        return n;
}

static void dict_swap(struct rds_dict *a, struct rds_dict *b)
{
        struct rds_dict t;

        /* Field by field: the counters are read concurrently (atomics). */
        t.t[0] = a->t[0];
        t.t[1] = a->t[1];
        t.rehashidx = a->rehashidx;
        t.expire_cursor = a->expire_cursor;
        t.bits[0] = a->bits[0];
        t.bits[1] = a->bits[1];
        a->t[0] = b->t[0];
        a->t[1] = b->t[1];
        a->rehashidx = b->rehashidx;
        a->expire_cursor = b->expire_cursor;
        a->bits[0] = b->bits[0];
        a->bits[1] = b->bits[1];
        b->t[0] = t.t[0];
        b->t[1] = t.t[1];
        b->rehashidx = t.rehashidx;
        b->expire_cursor = t.expire_cursor;
        b->bits[0] = t.bits[0];
        b->bits[1] = t.bits[1];
        uint64_t n = ctr_get(&a->nkeys), x = ctr_get(&a->nexpires);
        atomic_store_explicit(&a->nkeys, ctr_get(&b->nkeys),
                              memory_order_relaxed);
        atomic_store_explicit(&a->nexpires, ctr_get(&b->nexpires),
                              memory_order_relaxed);
        atomic_store_explicit(&b->nkeys, n, memory_order_relaxed);
        atomic_store_explicit(&b->nexpires, x, memory_order_relaxed);
}

int rds_store_swapdb(struct rds_store *s, int a, int b)
{
        if (a < 0 || b < 0 || (unsigned)a >= s->ndbs || (unsigned)b >= s->ndbs)
                return -EINVAL;
        if (a == b)
                return 0;
        rds_store_lock_all(s);
        for (unsigned i = 0; i < s->nshards; i++)
                dict_swap(&s->shards[i].dicts[a], &s->shards[i].dicts[b]);
        rds_store_unlock_all(s);
        return 0;
}

uint64_t rds_store_scan(struct rds_store *s, int db, uint64_t cursor,
                        size_t count, int64_t now_ms, rds_store_visit_fn *fn,
                        void *ctx)
{
        unsigned shard = (unsigned)(cursor & (s->nshards - 1));
        uint64_t c = s->shard_bits ? cursor >> s->shard_bits : cursor;
        struct visit v = {.now_ms = now_ms, .fn = fn, .ctx = ctx};
        /* As Redis's SCAN: at most 10 * count bucket steps per call. */
        uint64_t steps = count == 0                ? 10
                         : count > UINT64_MAX / 10 ? UINT64_MAX
                                                   : (uint64_t)count * 10;

        if (count == 0)
                count = 1;
        while (shard < s->nshards) {
                struct rds_shard *sh = &s->shards[shard];
                struct rds_dict *d = &sh->dicts[db];

                /* A key present for the whole scan keeps nkeys above 0,
                 * so an empty table can be passed over without its lock. */
                if (ctr_get(&d->nkeys) != 0) {
                        rds_store_lock(s, shard);
                        do {
                                c = dict_scan_step(sh, d, c, &v);
                        } while (c != 0 && v.seen < count && --steps > 0);
                        /* After the walk: the expired entries it deleted
                         * may leave the table sparse, and nothing else
                         * would visit it (no key with an expiry left). */
                        if (v.expired)
                                dict_maybe_shrink(sh, d);
                        rds_store_unlock(s, shard);
                } else {
                        c = 0;
                }
                if (c == 0)
                        shard++;
                if (v.seen >= count || steps == 0)
                        break;
        }
        if (shard >= s->nshards)
                return 0;
        return (c << s->shard_bits) | shard;
}

void rds_store_foreach(struct rds_store *s, int db, int64_t now_ms,
                       rds_store_visit_fn *fn, void *ctx)
{
        for (unsigned i = 0; i < s->nshards; i++) {
                struct rds_dict *d = &s->shards[i].dicts[db];

                if (ctr_get(&d->nkeys) == 0)
                        continue;
                rds_store_lock(s, i);
                for (int t = 0; t < 2 && d->t[t]; t++) {
                        uint64_t size = dict_size(d, t);

                        for (uint64_t b = 0; b < size; b++) {
                                const struct rds_entry *e = d->t[t][b];

                                for (; e; e = e->next)
                                        if (!entry_expired(e, now_ms))
                                                fn(ctx, e);
                        }
                }
                rds_store_unlock(s, i);
        }
}

/* xorshift64*, one state per thread, seeded from getrandom on first use. */
static _Thread_local uint64_t rds_rng_state;

static uint64_t rng_next(void)
{
        uint64_t x = rds_rng_state;

        if (x == 0) {
                if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
                        x = (uint64_t)(uintptr_t)&rds_rng_state ^
                            (uint64_t)time(NULL);
                x |= 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rds_rng_state = x;
        return x * 0x2545f4914f6cdd1dULL;
}

/* A random entry of non-empty @d: a random non-empty bucket (of both
 * tables while rehashing), then a random element of its chain -- Redis's
 * dictGetRandomKey. */
static struct rds_entry **dict_random_link(struct rds_dict *d)
{
        struct rds_entry **b, **link;
        uint64_t len = 0, k;

        if (dict_rehashing(d)) {
                uint64_t s0 = dict_size(d, 0), s1 = dict_size(d, 1);

                do {
                        uint64_t i = d->rehashidx +
                                     rng_next() % (s0 + s1 - d->rehashidx);

                        b = i >= s0 ? &d->t[1][i - s0] : &d->t[0][i];
                } while (!*b);
        } else {
                do {
                        b = &d->t[0][rng_next() & dict_mask(d, 0)];
                } while (!*b);
        }
        for (const struct rds_entry *e = *b; e; e = e->next)
                len++;
        k = rng_next() % len;
        for (link = b; k > 0; k--)
                link = &(*link)->next;
        return link;
}

int rds_store_random_key(struct rds_store *s, int db, int64_t now_ms,
                         unsigned char **key, size_t *klen)
{
        for (;;) {
                uint64_t total = rds_store_dbsize(s, db), r;
                unsigned first = 0;
                bool deleted = false;

                if (total == 0)
                        return 0;
                /* A shard weighted by its keys, so that every key is about
                 * as likely as any other. */
                r = rng_next() % total;
                for (; first < s->nshards - 1; first++) {
                        uint64_t n = ctr_get(&s->shards[first].dicts[db].nkeys);

                        if (r < n)
                                break;
                        r -= n;
                }
                /* If it emptied meanwhile, the next non-empty shard. */
                for (unsigned j = 0; j < s->nshards && !deleted; j++) {
                        unsigned i = (first + j) & (s->nshards - 1);
                        struct rds_shard *sh = &s->shards[i];
                        struct rds_dict *d = &sh->dicts[db];
                        struct rds_entry **link;
                        unsigned char *copy;

                        if (ctr_get(&d->nkeys) == 0)
                                continue;
                        rds_store_lock(s, i);
                        if (ctr_get(&d->nkeys) == 0) {
                                rds_store_unlock(s, i);
                                continue;
                        }
                        link = dict_random_link(d);
                        if (entry_expired(*link, now_ms)) {
                                /* As Redis: delete it and draw again. */
                                ctr_add(&sh->expired, 1);
                                dict_unlink_free(sh, d, link);
                                dict_maybe_shrink(sh, d);
                                rds_store_unlock(s, i);
                                deleted = true;
                                break;
                        }
                        copy = rds_malloc((*link)->klen ? (*link)->klen : 1);
                        if (!copy) {
                                rds_store_unlock(s, i);
                                return -ENOMEM;
                        }
                        memcpy(copy, (*link)->data, (*link)->klen);
                        *klen = (*link)->klen;
                        rds_store_unlock(s, i);
                        *key = copy;
                        return 1;
                }
                if (!deleted)
                        return 0;
        }
}

/* ---- Active expiry ---------------------------------------------------------------- */

#define RDS_EXPIRE_SAMPLE 20   /* keys with an expiry per sample */
#define RDS_EXPIRE_BUCKETS 400 /* most bucket steps per sample */
#define RDS_EXPIRE_ROUNDS 16   /* samples per lock hold */
#define RDS_ACTIVE_REHASH 100  /* buckets moved per visit of a rehashing dict */

static uint64_t mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One sample of @d from its expire cursor (stops early after a full pass). */
static void dict_expire_sample(struct rds_shard *sh, struct rds_dict *d,
                               struct visit *v)
{
        unsigned steps = 0;

        v->sampled = v->expired = 0;
        do {
                d->expire_cursor = dict_scan_step(sh, d, d->expire_cursor, v);
        } while (v->sampled < RDS_EXPIRE_SAMPLE &&
                 ++steps < RDS_EXPIRE_BUCKETS && d->expire_cursor != 0);
}

uint64_t rds_store_expire_cycle(struct rds_store *s, int64_t now_ms,
                                uint64_t budget_us)
{
        uint64_t start = mono_us();
        uint64_t deadline =
            budget_us > UINT64_MAX - start ? UINT64_MAX : start + budget_us;
        uint64_t total = (uint64_t)s->ndbs * s->nshards, visited = 0;
        uint64_t pos, deleted = 0;
        bool out_of_time = false;

        pos =
            atomic_load_explicit(&s->expire_pos, memory_order_relaxed) % total;
        while (visited < total && !out_of_time) {
                unsigned db = (unsigned)(pos / s->nshards);
                unsigned i = (unsigned)(pos % s->nshards);
                struct rds_shard *sh = &s->shards[i];
                struct rds_dict *d = &sh->dicts[db];
                bool hot = false;

                if (ctr_get(&d->nexpires) != 0 ||
                    atomic_load_explicit(&sh->rehashing,
                                         memory_order_relaxed) != 0) {
                        struct visit v = {.now_ms = now_ms};
                        unsigned rounds = 0;

                        rds_store_lock(s, i);
                        /* Redis's active rehashing (serverCron), so that
                         * an idle table does not keep two tables. */
                        if (dict_rehashing(d))
                                dict_rehash(s, sh, d, RDS_ACTIVE_REHASH);
                        while (ctr_get(&d->nexpires) != 0) {
                                dict_expire_sample(sh, d, &v);
                                deleted += v.expired;
                                /* Go on while over 25% of it was expired. */
                                if (v.expired * 4 <= v.sampled)
                                        break;
                                if (mono_us() >= deadline) {
                                        out_of_time = true;
                                        break;
                                }
                                if (++rounds == RDS_EXPIRE_ROUNDS) {
                                        hot = true; /* relock, stay here */
                                        break;
                                }
                        }
                        dict_maybe_shrink(sh, d);
                        rds_store_unlock(s, i);
                        if (mono_us() >= deadline)
                                out_of_time = true;
                }
                if (!hot) {
                        pos = (pos + 1) % total;
                        visited++;
                }
        }
        atomic_store_explicit(&s->expire_pos, pos, memory_order_relaxed);
        return deleted;
}

void rds_store_stats(const struct rds_store *s, struct rds_store_stats *out)
{
        memset(out, 0, sizeof(*out));
        for (unsigned i = 0; i < s->nshards; i++) {
                const struct rds_shard *sh = &s->shards[i];

                out->expired_keys += ctr_get(&sh->expired);
                out->bytes += ctr_get(&sh->bytes);
                out->rehashing +=
                    atomic_load_explicit(&sh->rehashing, memory_order_relaxed);
        }
        out->bytes += sizeof(*s);
}

void rds__store_buckets(struct rds_store *s, unsigned shard, int db,
                        uint64_t *size0, uint64_t *size1)
{
        const struct rds_dict *d = &s->shards[shard].dicts[db];

        *size0 = d->t[0] ? dict_size(d, 0) : 0;
        *size1 = d->t[1] ? dict_size(d, 1) : 0;
}
