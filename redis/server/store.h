/*
 * redis/server/store.h - the keyspace: sharded, lock-striped, 16 databases.
 *
 * Layout.  The store has N shards (a power of two, fixed at creation).  A
 * key's shard is chosen by its hash (keyed SipHash, seeded at random, so
 * a client cannot flood one bucket); each shard has one lock and, for each
 * logical database (SELECT 0..ndbs-1), its own hash table.  So a key lives
 * in the same shard in every database, and MOVE, which changes only the
 * database, takes one lock.  The hash tables are chained and grow (and
 * shrink) by incremental rehashing as Redis's dict does: two tables during
 * a rehash, each operation on the table moves a few buckets, so no single
 * command pays for a whole resize.
 *
 * Locking.  Every rds_store_* function that takes a shard index or works
 * on an entry requires the caller to hold that shard's lock (they say so:
 * "shard locked").  The lock is held only while a command runs against
 * the shard -- never across a suspension of a task.  A command on several
 * keys computes their shards into a struct rds_lockset and locks them in
 * ascending order (rds_store_lock_set), so multi-key commands are atomic
 * and cannot deadlock; whole-keyspace operations (FLUSHDB, FLUSHALL,
 * SWAPDB, KEYS) lock shard by shard or all in order, as each function
 * says.
 *
 * Entries.  One allocation per key: the header, the key bytes, then (for
 * strings) the value bytes.  A command reads an entry's value under the
 * lock and copies it out (into the reply); it never keeps a pointer to an
 * entry after unlocking.  Under the lock, an entry pointer stays valid
 * until that entry is deleted, replaced or resized: rehash steps (which
 * any call on the shard may make) relink entries but never move them, so
 * a multi-key command may find its source, then look up or insert other
 * keys, then use the source.
 *
 * Expiry.  expire_ms is absolute Unix time in milliseconds (0: none).
 * Lookups take `now` (the command's cached clock) and treat a key with
 * expire_ms <= now as absent: they delete it on the spot (lazy expiry) and
 * count it in the shard's expired counter.  rds_store_expire_cycle() is the
 * active half, run by a background task.
 */
#ifndef RDS_STORE_H
#define RDS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RDS_MAX_SHARDS 1024
#define RDS_MAX_DBS 1024

enum rds_type {
        RDS_TYPE_STRING = 0,
        /* lists, hashes, sets and sorted sets arrive in a later issue */
};

struct rds_entry {
        struct rds_entry *next; /* the bucket's chain */
        int64_t expire_ms;      /* absolute Unix ms; 0: no expiry */
        uint32_t klen;          /* key length */
        uint32_t vlen;          /* string value length */
        uint8_t type;           /* enum rds_type */
        uint8_t pad[3];
        unsigned char data[]; /* key bytes, then the value (strings) */
};

static inline const unsigned char *rds_entry_key(const struct rds_entry *e)
{
        return e->data;
}

static inline unsigned char *rds_entry_val(struct rds_entry *e)
{
        return e->data + e->klen;
}

struct rds_store;

/* Shards locked by a multi-key command: a bitmap, locked in index order. */
struct rds_lockset {
        uint64_t bits[RDS_MAX_SHARDS / 64];
};

/*
 * rds_store_new - a store of @nshards shards (a power of two, 1 to
 * RDS_MAX_SHARDS) and @ndbs databases (1 to RDS_MAX_DBS).  *@out is owned
 * by the caller (rds_store_free).  Returns 0, -EINVAL or -ENOMEM.
 */
int rds_store_new(unsigned nshards, unsigned ndbs, struct rds_store **out);
/* Free the store and every entry.  No lock may be held. */
void rds_store_free(struct rds_store *s);
unsigned rds_store_nshards(const struct rds_store *s);
unsigned rds_store_ndbs(const struct rds_store *s);

/* ---- Hashing and locking ---------------------------------------------------- */

/* The key's hash (keyed by the store's random seed). */
uint64_t rds_store_hash(const struct rds_store *s, const void *key, size_t len);
/* The shard of a hash. */
unsigned rds_store_shard_of(const struct rds_store *s, uint64_t hash);
void rds_store_lock(struct rds_store *s, unsigned shard);
void rds_store_unlock(struct rds_store *s, unsigned shard);

void rds_lockset_clear(struct rds_lockset *ls);
void rds_lockset_add(struct rds_lockset *ls, unsigned shard);
/* Lock the shards in @ls in ascending order; unlock them all. */
void rds_store_lock_set(struct rds_store *s, const struct rds_lockset *ls);
void rds_store_unlock_set(struct rds_store *s, const struct rds_lockset *ls);
/* Lock / unlock every shard, in ascending order. */
void rds_store_lock_all(struct rds_store *s);
void rds_store_unlock_all(struct rds_store *s);

/* ---- Entries (shard locked) ----------------------------------------------- */

/*
 * rds_store_find - the live entry for @key in database @db, or NULL.  An
 * expired entry (expire_ms <= @now_ms) is deleted and NULL returned.
 * @hash is rds_store_hash(@key); its shard must be locked.
 */
struct rds_entry *rds_store_find(struct rds_store *s, int db, const void *key,
                                 size_t klen, uint64_t hash, int64_t now_ms);

/*
 * rds_store_set_string - make @key a string holding @val[0..@vlen) with
 * expiry @expire_ms (0: none), replacing any entry of any type (the old
 * one is freed).  *@out (if not NULL) gets the new entry.  Returns 0 or
 * -ENOMEM (nothing changed then).
 */
int rds_store_set_string(struct rds_store *s, int db, const void *key,
                         size_t klen, uint64_t hash, const void *val,
                         size_t vlen, int64_t expire_ms,
                         struct rds_entry **out);

/*
 * rds_store_resize_string - give the string entry *@ep a value of @vlen
 * bytes (for APPEND, SETRANGE, INCR): the first min(old, @vlen) bytes are
 * kept, new bytes are zero.  The entry may move: *@ep is updated (the
 * chain is relinked).  Keeps the expiry.  Returns 0 or -ENOMEM (the entry
 * is unchanged then).  Spare capacity is kept so that repeated APPENDs do
 * not reallocate every time.
 */
int rds_store_resize_string(struct rds_store *s, int db, uint64_t hash,
                            struct rds_entry **ep, size_t vlen);

/*
 * rds_store_insert_copy - insert a copy of @src (any type: value and
 * expiry) under @key in @db.  If @key exists: with @replace it is
 * replaced, otherwise nothing is done and -EEXIST returned.  The shards of
 * @src and @key must both be locked (they may be the same).  Returns 0,
 * -EEXIST or -ENOMEM.  (No clock here: an expired entry still under @key
 * counts as existing; look @key up with rds_store_find first, as Redis's
 * lookupKeyWrite does, to reclaim it.)
 */
int rds_store_insert_copy(struct rds_store *s, int db, const void *key,
                          size_t klen, uint64_t hash,
                          const struct rds_entry *src, bool replace);

/* Delete @key from @db.  True if a live key was deleted. */
bool rds_store_delete(struct rds_store *s, int db, const void *key, size_t klen,
                      uint64_t hash, int64_t now_ms);

/* Set or clear (@expire_ms 0) the expiry of the live entry @e of @db
 * (keeps the per-database count of keys with an expiry right). */
void rds_store_set_expire(struct rds_store *s, int db, uint64_t hash,
                          struct rds_entry *e, int64_t expire_ms);

/* ---- Whole databases ------------------------------------------------------- */

/* Keys in @db, and how many have an expiry (expired ones not yet reclaimed
 * included, as Redis's DBSIZE).  Locks nothing: read with relaxed atomics. */
uint64_t rds_store_dbsize(const struct rds_store *s, int db);
uint64_t rds_store_expires(const struct rds_store *s, int db);

/* Empty @db (all shards locked at once: atomic).  Returns the number of
 * keys removed. */
uint64_t rds_store_flushdb(struct rds_store *s, int db);
/* Empty every database (all shards locked at once: atomic). */
uint64_t rds_store_flushall(struct rds_store *s);
/* Swap databases @a and @b (all shards locked at once: atomic).  Returns
 * 0 or -EINVAL. */
int rds_store_swapdb(struct rds_store *s, int a, int b);

/*
 * rds_store_scan - one SCAN step over @db.  @cursor 0 starts; the return
 * value is the next cursor (0: done).  Calls @fn(ctx, entry) under the
 * shard's lock for each live entry of the buckets it visits (about @count
 * entries in all; an empty shard is passed over).  Redis's guarantees
 * hold across rehashing: an element present for the whole scan is
 * returned at least once.  The cursor encodes the shard and the bucket
 * position (reverse binary increment within the shard's table).
 */
typedef void rds_store_visit_fn(void *ctx, const struct rds_entry *e);
uint64_t rds_store_scan(struct rds_store *s, int db, uint64_t cursor,
                        size_t count, int64_t now_ms, rds_store_visit_fn *fn,
                        void *ctx);

/* Call @fn for every live entry of @db, shard by shard (each locked in
 * turn; KEYS). */
void rds_store_foreach(struct rds_store *s, int db, int64_t now_ms,
                       rds_store_visit_fn *fn, void *ctx);

/*
 * rds_store_random_key - copy a random live key of @db into *@key (malloc'd,
 * caller frees) and *@klen.  Returns 1 (found), 0 (empty) or -ENOMEM.
 */
int rds_store_random_key(struct rds_store *s, int db, int64_t now_ms,
                         unsigned char **key, size_t *klen);

/*
 * rds_store_expire_cycle - active expiry, Redis's way: for each database,
 * sample up to 20 keys with an expiry from a few shards, delete the
 * expired ones, repeat while more than 25% of a sample was expired and
 * the time budget (@budget_us) is not spent.  Locks one shard at a time
 * and keeps a cursor between calls so every shard gets its turn.  It also
 * moves a few buckets of each rehashing table it visits (Redis's active
 * rehashing), so an idle table does not keep two tables.  Returns the
 * number of keys it deleted.
 */
uint64_t rds_store_expire_cycle(struct rds_store *s, int64_t now_ms,
                                uint64_t budget_us);

/* Counters for INFO (summed over shards, relaxed reads). */
struct rds_store_stats {
        uint64_t expired_keys; /* deleted by lazy or active expiry */
        uint64_t rehashing;    /* tables being rehashed now */
        uint64_t bytes;        /* approximate bytes of entries and tables */
};
void rds_store_stats(const struct rds_store *s, struct rds_store_stats *out);

/* ---- Internal: for the tests and the benchmark ------------------------------ */

/* The lock kind this store.c was built with ("fas", "mutex", ...). */
const char *rds__store_lock_name(void);

/*
 * Shared (read) locking, for the lock-choice benchmark: with a lock kind
 * that has a shared mode (rwlock, swlock) several readers hold a shard at
 * once; with the others these are the exclusive lock.  Under a shared lock
 * only rds__store_peek may be used: it is rds_store_find without writes (an
 * expired entry is reported absent but left in place, no rehash step).
 */
void rds__store_lock_shared(struct rds_store *s, unsigned shard);
void rds__store_unlock_shared(struct rds_store *s, unsigned shard);
const struct rds_entry *rds__store_peek(const struct rds_store *s, int db,
                                        const void *key, size_t klen,
                                        uint64_t hash, int64_t now_ms);

/*
 * Allocation failure injection (tests only): with @n >= 0, the store's next
 * @n allocations succeed and every one after fails until the next call;
 * @n < 0 turns failures off (the default).  Costs one relaxed load per
 * allocation when off.
 */
void rds__store_fail_alloc_after(long n);

/* Buckets of @db's tables in @shard (shard locked): *@size0 of the main
 * table, *@size1 of the rehash target (0 when not rehashing). */
void rds__store_buckets(struct rds_store *s, unsigned shard, int db,
                        uint64_t *size0, uint64_t *size1);

#endif /* RDS_STORE_H */
