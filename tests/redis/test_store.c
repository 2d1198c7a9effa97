/*
 * tests/redis/test_store.c - the keyspace (redis/server/store.h): entries,
 * expiry, incremental rehashing, SCAN, whole-database operations, threads,
 * and the -EINVAL / -ENOMEM paths (through store.c's test-only allocation
 * failure hook, rds__store_fail_alloc_after).
 *
 * Single-threaded tests take the shard lock around each call as handlers
 * do, and read entries back while the store is theirs alone.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

/* The commands' clock in these tests: expiries are relative to it. */
#define NOW 1700000000000LL

static struct rds_store *mk(unsigned shards, unsigned dbs)
{
        struct rds_store *s = NULL;

        cr_assert_eq(rds_store_new(shards, dbs, &s), 0);
        cr_assert_not_null(s);
        return s;
}

static int set_kv(struct rds_store *s, int db, const char *k, const void *v,
                  size_t vlen, int64_t exp)
{
        uint64_t h = rds_store_hash(s, k, strlen(k));
        unsigned sh = rds_store_shard_of(s, h);
        int err;

        rds_store_lock(s, sh);
        err = rds_store_set_string(s, db, k, strlen(k), h, v, vlen, exp, NULL);
        rds_store_unlock(s, sh);
        return err;
}

static int set_str(struct rds_store *s, int db, const char *k, const char *v,
                   int64_t exp)
{
        return set_kv(s, db, k, v, strlen(v), exp);
}

/* The entry (read it before the next store call: nothing else runs). */
static struct rds_entry *get_at(struct rds_store *s, int db, const char *k,
                                int64_t now)
{
        uint64_t h = rds_store_hash(s, k, strlen(k));
        unsigned sh = rds_store_shard_of(s, h);
        struct rds_entry *e;

        rds_store_lock(s, sh);
        e = rds_store_find(s, db, k, strlen(k), h, now);
        rds_store_unlock(s, sh);
        return e;
}

static struct rds_entry *get(struct rds_store *s, int db, const char *k)
{
        return get_at(s, db, k, NOW);
}

static bool val_is(const struct rds_entry *e, const char *v)
{
        return e && e->vlen == strlen(v) &&
               memcmp(e->data + e->klen, v, e->vlen) == 0;
}

static bool del(struct rds_store *s, int db, const char *k)
{
        uint64_t h = rds_store_hash(s, k, strlen(k));
        unsigned sh = rds_store_shard_of(s, h);
        bool r;

        rds_store_lock(s, sh);
        r = rds_store_delete(s, db, k, strlen(k), h, NOW);
        rds_store_unlock(s, sh);
        return r;
}

static uint64_t expired_keys(struct rds_store *s)
{
        struct rds_store_stats st;

        rds_store_stats(s, &st);
        return st.expired_keys;
}

static uint64_t rehashing(struct rds_store *s)
{
        struct rds_store_stats st;

        rds_store_stats(s, &st);
        return st.rehashing;
}

/* Finish every rehash (finds step it). */
static void settle(struct rds_store *s, int db, unsigned nkeys)
{
        char k[32];

        for (unsigned round = 0; rehashing(s) && round < 1000; round++)
                for (unsigned i = 0; i < nkeys; i++) {
                        snprintf(k, sizeof(k), "zz-settle-%u", i);
                        get(s, db, k);
                }
        cr_assert_eq(rehashing(s), 0);
}

/* ---- Entries ----------------------------------------------------------------- */

Test(store, set_find_delete)
{
        struct rds_store *s = mk(4, 16);
        struct rds_entry *e;

        cr_assert_null(get(s, 0, "a"));
        cr_assert_eq(set_str(s, 0, "a", "hello", 0), 0);
        e = get(s, 0, "a");
        cr_assert(val_is(e, "hello"));
        cr_assert_eq(e->type, RDS_TYPE_STRING);
        cr_assert_eq(e->klen, 1);
        cr_assert_eq(memcmp(rds_entry_key(e), "a", 1), 0);
        cr_assert_eq(e->expire_ms, 0);
        cr_assert_null(get(s, 1, "a"), "databases are separate");
        cr_assert_eq(rds_store_dbsize(s, 0), 1);
        cr_assert_eq(rds_store_dbsize(s, 1), 0);
        /* Binary keys and the empty key and value. */
        cr_assert_eq(set_kv(s, 0, "", "", 0, 0), 0);
        cr_assert(val_is(get(s, 0, ""), ""));
        cr_assert(del(s, 0, "a"));
        cr_assert_not(del(s, 0, "a"));
        cr_assert_null(get(s, 0, "a"));
        cr_assert(del(s, 0, ""));
        cr_assert_eq(rds_store_dbsize(s, 0), 0);
        rds_store_free(s);
}

Test(store, set_replaces_value_of_any_size)
{
        struct rds_store *s = mk(1, 1);
        size_t sizes[] = {16, 0, 1, 100, 5000, 3, 70000, 16, 40, 39, 0};
        char *buf = malloc(70000);
        struct rds_entry *out = NULL;

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                struct rds_entry *e;
                uint64_t h = rds_store_hash(s, "key", 3);

                memset(buf, 'a' + (int)i, sizes[i]);
                rds_store_lock(s, 0);
                cr_assert_eq(rds_store_set_string(s, 0, "key", 3, h, buf,
                                                  sizes[i], 0, &out),
                             0);
                rds_store_unlock(s, 0);
                e = get(s, 0, "key");
                cr_assert_eq(e, out, "out is the entry");
                cr_assert_eq(e->vlen, sizes[i]);
                cr_assert_eq(memcmp(rds_entry_val(e), buf, sizes[i]), 0);
                cr_assert_eq(rds_store_dbsize(s, 0), 1);
        }
        /* The expiry is replaced too (set to none and back). */
        cr_assert_eq(set_str(s, 0, "key", "x", NOW + 1000), 0);
        cr_assert_eq(get(s, 0, "key")->expire_ms, NOW + 1000);
        cr_assert_eq(rds_store_expires(s, 0), 1);
        cr_assert_eq(
            set_str(s, 0, "key", "a much longer value, reallocated", 0), 0);
        cr_assert_eq(get(s, 0, "key")->expire_ms, 0);
        cr_assert_eq(rds_store_expires(s, 0), 0);
        free(buf);
        rds_store_free(s);
}

Test(store, set_same_size_reuses_the_entry)
{
        struct rds_store *s = mk(1, 1);
        struct rds_entry *e;

        cr_assert_eq(set_str(s, 0, "k", "0123456789abcdef", 0), 0);
        e = get(s, 0, "k");
        cr_assert_eq(set_str(s, 0, "k", "fedcba9876543210", 0), 0);
        cr_assert_eq(get(s, 0, "k"), e, "no reallocation for the same size");
        cr_assert(val_is(e, "fedcba9876543210"));
        rds_store_free(s);
}

/* Many keys in one shard with few buckets' worth of room: long chains, so
 * relinking a moved entry is exercised in the middle of a chain. */
Test(store, resize_string_keeps_prefix_expiry_and_relinks)
{
        struct rds_store *s = mk(1, 2);
        char k[32];
        struct rds_entry *e;
        uint64_t h;

        for (int i = 0; i < 500; i++) {
                snprintf(k, sizeof(k), "k%d", i);
                cr_assert_eq(set_str(s, 1, k, "v", 0), 0);
        }
        cr_assert_eq(set_str(s, 1, "target", "abc", NOW + 5000), 0);
        h = rds_store_hash(s, "target", 6);
        rds_store_lock(s, 0);
        e = rds_store_find(s, 1, "target", 6, h, NOW);
        cr_assert_not_null(e);
        /* Grow a lot (moves), a little (spare room), then shrink. */
        cr_assert_eq(rds_store_resize_string(s, 1, h, &e, 100000), 0);
        cr_assert_eq(e->vlen, 100000);
        cr_assert_eq(memcmp(rds_entry_val(e), "abc", 3), 0);
        for (size_t i = 3; i < 100000; i++)
                cr_assert_eq(rds_entry_val(e)[i], 0, "byte %zu", i);
        cr_assert_eq(e->expire_ms, NOW + 5000);
        cr_assert_eq(rds_store_find(s, 1, "target", 6, h, NOW), e, "relinked");
        memset(rds_entry_val(e) + 3, 'x', 100000 - 3);
        {
                struct rds_entry *before = e;

                /* Spare capacity: one more byte does not reallocate. */
                cr_assert_eq(rds_store_resize_string(s, 1, h, &e, 100001), 0);
                cr_assert_eq(e, before);
                cr_assert_eq(rds_entry_val(e)[100000], 0);
        }
        cr_assert_eq(rds_store_resize_string(s, 1, h, &e, 2), 0);
        cr_assert_eq(e->vlen, 2);
        cr_assert_eq(memcmp(rds_entry_val(e), "ab", 2), 0);
        cr_assert_eq(rds_store_find(s, 1, "target", 6, h, NOW), e);
        cr_assert_eq(rds_store_resize_string(s, 1, h, &e, 5), 0);
        cr_assert_eq(memcmp(rds_entry_val(e), "ab\0\0\0", 5), 0,
                     "bytes past the old length are zero");
        cr_assert_eq(rds_store_resize_string(s, 1, h, &e, 0), 0);
        cr_assert_eq(e->vlen, 0);
        cr_assert_eq(rds_store_find(s, 1, "target", 6, h, NOW), e);
        rds_store_unlock(s, 0);
        for (int i = 0; i < 500; i++) {
                snprintf(k, sizeof(k), "k%d", i);
                cr_assert(val_is(get(s, 1, k), "v"), "%s", k);
        }
        cr_assert_eq(rds_store_dbsize(s, 1), 501);
        cr_assert_eq(rds_store_expires(s, 1), 1);
        rds_store_free(s);
}

Test(store, insert_copy)
{
        struct rds_store *s = mk(8, 4);
        uint64_t hs = rds_store_hash(s, "src", 3);
        uint64_t hd = rds_store_hash(s, "dst", 3);
        struct rds_lockset ls;
        struct rds_entry *src;

        cr_assert_eq(set_str(s, 0, "src", "value", NOW + 100), 0);
        cr_assert_eq(set_str(s, 0, "other", "x", 0), 0);
        rds_lockset_clear(&ls);
        rds_lockset_add(&ls, rds_store_shard_of(s, hs));
        rds_lockset_add(&ls, rds_store_shard_of(s, hd));
        rds_store_lock_set(s, &ls);
        src = rds_store_find(s, 0, "src", 3, hs, NOW);
        cr_assert_not_null(src);
        /* To a new key, and into another database (MOVE). */
        cr_assert_eq(rds_store_insert_copy(s, 0, "dst", 3, hd, src, false), 0);
        cr_assert_eq(rds_store_insert_copy(s, 2, "src", 3, hs, src, false), 0);
        /* Onto an existing key. */
        cr_assert_eq(rds_store_insert_copy(s, 0, "dst", 3, hd, src, false),
                     -EEXIST);
        rds_store_unlock_set(s, &ls);

        cr_assert(val_is(get(s, 0, "dst"), "value"));
        cr_assert_eq(get(s, 0, "dst")->expire_ms, NOW + 100, "expiry copied");
        cr_assert(val_is(get(s, 2, "src"), "value"));
        cr_assert_eq(rds_store_dbsize(s, 0), 3);
        cr_assert_eq(rds_store_expires(s, 0), 2);
        cr_assert_eq(rds_store_expires(s, 2), 1);

        /* With replace: "other" (no expiry) becomes a copy of "dst". */
        {
                uint64_t ho = rds_store_hash(s, "other", 5);

                rds_lockset_clear(&ls);
                rds_lockset_add(&ls, rds_store_shard_of(s, ho));
                rds_lockset_add(&ls, rds_store_shard_of(s, hd));
                rds_store_lock_set(s, &ls);
                src = rds_store_find(s, 0, "dst", 3, hd, NOW);
                cr_assert_eq(
                    rds_store_insert_copy(s, 0, "other", 5, ho, src, false),
                    -EEXIST);
                cr_assert_eq(
                    rds_store_insert_copy(s, 0, "other", 5, ho, src, true), 0);
                /* A copy onto itself (the source is the replaced entry). */
                cr_assert_eq(
                    rds_store_insert_copy(s, 0, "dst", 3, hd, src, true), 0);
                rds_store_unlock_set(s, &ls);
        }
        cr_assert(val_is(get(s, 0, "other"), "value"));
        cr_assert_eq(get(s, 0, "other")->expire_ms, NOW + 100);
        cr_assert(val_is(get(s, 0, "dst"), "value"));
        cr_assert_eq(rds_store_dbsize(s, 0), 3);
        cr_assert_eq(rds_store_expires(s, 0), 3);
        rds_store_free(s);
}

/* ---- Expiry ------------------------------------------------------------------ */

Test(store, lazy_expiry_never_returns_an_expired_entry)
{
        struct rds_store *s = mk(2, 2);

        cr_assert_eq(set_str(s, 0, "soon", "v", NOW + 10), 0);
        cr_assert_eq(set_str(s, 0, "later", "v", NOW + 1000), 0);
        cr_assert_eq(set_str(s, 0, "never", "v", 0), 0);
        cr_assert_eq(rds_store_expires(s, 0), 2);
        cr_assert_not_null(get_at(s, 0, "soon", NOW + 9));
        cr_assert_eq(expired_keys(s), 0);
        /* expire_ms <= now is expired. */
        cr_assert_null(get_at(s, 0, "soon", NOW + 10));
        cr_assert_eq(expired_keys(s), 1);
        cr_assert_eq(rds_store_dbsize(s, 0), 2, "deleted on the spot");
        cr_assert_eq(rds_store_expires(s, 0), 1);
        cr_assert_null(get_at(s, 0, "soon", NOW), "gone for good");
        cr_assert_eq(expired_keys(s), 1);

        /* DELETE of an expired key: not a live key, but reclaimed. */
        {
                uint64_t h = rds_store_hash(s, "later", 5);
                unsigned sh = rds_store_shard_of(s, h);

                rds_store_lock(s, sh);
                cr_assert_not(
                    rds_store_delete(s, 0, "later", 5, h, NOW + 1000));
                rds_store_unlock(s, sh);
        }
        cr_assert_eq(expired_keys(s), 2);
        cr_assert_eq(rds_store_dbsize(s, 0), 1);
        cr_assert_eq(rds_store_expires(s, 0), 0);
        cr_assert_not_null(get_at(s, 0, "never", INT64_MAX));
        rds_store_free(s);
}

Test(store, set_expire_keeps_the_count)
{
        struct rds_store *s = mk(4, 2);
        uint64_t h = rds_store_hash(s, "k", 1);
        unsigned sh = rds_store_shard_of(s, h);
        struct rds_entry *e;

        cr_assert_eq(set_str(s, 1, "k", "v", 0), 0);
        cr_assert_eq(rds_store_expires(s, 1), 0);
        rds_store_lock(s, sh);
        e = rds_store_find(s, 1, "k", 1, h, NOW);
        rds_store_set_expire(s, 1, h, e, NOW + 50);
        cr_assert_eq(rds_store_expires(s, 1), 1);
        rds_store_set_expire(s, 1, h, e, NOW + 60); /* change: still one */
        cr_assert_eq(rds_store_expires(s, 1), 1);
        cr_assert_eq(e->expire_ms, NOW + 60);
        rds_store_set_expire(s, 1, h, e, 0); /* PERSIST */
        cr_assert_eq(rds_store_expires(s, 1), 0);
        rds_store_set_expire(s, 1, h, e, 0);
        cr_assert_eq(rds_store_expires(s, 1), 0);
        rds_store_set_expire(s, 1, h, e, NOW + 1);
        rds_store_unlock(s, sh);
        cr_assert_eq(rds_store_expires(s, 0), 0);
        cr_assert_eq(rds_store_expires(s, 1), 1);
        cr_assert_null(get_at(s, 1, "k", NOW + 1));
        cr_assert_eq(rds_store_expires(s, 1), 0);
        rds_store_free(s);
}

/* ---- Rehashing ----------------------------------------------------------------- */

Test(store, grows_incrementally_to_200k_keys, .timeout = 120)
{
        struct rds_store *s = mk(1, 1);
        unsigned n = 200000, seen_rehash = 0;
        uint64_t max_size0 = 0, s0, s1;
        char k[32];
        unsigned rng = 12345;

        for (unsigned i = 0; i < n; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_eq(set_str(s, 0, k, k, 0), 0);
                cr_assert(val_is(get(s, 0, k), k), "%s just set", k);
                /* An earlier key, at random: valid in the middle of any
                 * rehash. */
                rng = rng * 1103515245u + 12345u;
                snprintf(k, sizeof(k), "key:%u", (rng >> 8) % (i + 1));
                cr_assert(val_is(get(s, 0, k), k), "%s at step %u", k, i);
                rds_store_lock(s, 0);
                rds__store_buckets(s, 0, 0, &s0, &s1);
                rds_store_unlock(s, 0);
                if (s1) {
                        seen_rehash++;
                        cr_assert_eq(s1, s0 * 2, "grows by doubling");
                }
                /* Load factor 1 (or a little over while rehashing). */
                cr_assert_leq(i + 1, (s1 ? s1 : s0) + s0);
                if (s0 > max_size0)
                        max_size0 = s0;
                if (i % 20000 == 0)
                        for (unsigned j = 0; j <= i; j += 7) {
                                snprintf(k, sizeof(k), "key:%u", j);
                                cr_assert(val_is(get(s, 0, k), k), "%s", k);
                        }
        }
        cr_assert_gt(seen_rehash, 1000,
                     "the table was rehashed over many operations");
        cr_assert_eq(rds_store_dbsize(s, 0), n);
        for (unsigned j = 0; j < n; j++) {
                snprintf(k, sizeof(k), "key:%u", j);
                cr_assert(val_is(get(s, 0, k), k), "%s", k);
        }
        settle(s, 0, 1000);
        rds_store_lock(s, 0);
        rds__store_buckets(s, 0, 0, &s0, &s1);
        rds_store_unlock(s, 0);
        cr_assert_eq(s0, 262144);
        cr_assert_eq(s1, 0);
        rds_store_free(s);
}

Test(store, shrinks_when_under_10_percent_full, .timeout = 60)
{
        struct rds_store *s = mk(1, 1);
        uint64_t s0, s1;
        struct rds_store_stats before, after;
        char k[32];

        for (unsigned i = 0; i < 20000; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_eq(set_str(s, 0, k, "v", 0), 0);
        }
        settle(s, 0, 100);
        rds_store_lock(s, 0);
        rds__store_buckets(s, 0, 0, &s0, &s1);
        rds_store_unlock(s, 0);
        cr_assert_eq(s0, 32768);
        rds_store_stats(s, &before);
        for (unsigned i = 0; i < 19900; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert(del(s, 0, k));
                if (i % 1000 == 0)
                        for (unsigned j = i + 1; j < 20000; j += 97) {
                                snprintf(k, sizeof(k), "key:%u", j);
                                cr_assert_not_null(get(s, 0, k), "%s", k);
                        }
        }
        settle(s, 0, 100);
        rds_store_lock(s, 0);
        rds__store_buckets(s, 0, 0, &s0, &s1);
        rds_store_unlock(s, 0);
        cr_assert_leq(s0, 1024, "shrunk (to %llu buckets)",
                      (unsigned long long)s0);
        cr_assert_geq(100 * 10, s0, "not under 10%% full after shrinking");
        rds_store_stats(s, &after);
        cr_assert_lt(after.bytes, before.bytes / 20);
        for (unsigned i = 19900; i < 20000; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_not_null(get(s, 0, k), "%s", k);
        }
        cr_assert_eq(rds_store_dbsize(s, 0), 100);
        rds_store_free(s);
}

/* ---- SCAN ------------------------------------------------------------------------ */

struct seen {
        unsigned *count; /* per key index */
        unsigned n;
        unsigned total;
        unsigned other; /* keys not of the form key:N below n */
};

static void count_all(void *ctx, const struct rds_entry *e);

static void count_key(void *ctx, const struct rds_entry *e)
{
        struct seen *sn = ctx;
        char buf[32];
        unsigned i;

        cr_assert_lt(e->klen, sizeof(buf));
        memcpy(buf, e->data, e->klen);
        buf[e->klen] = '\0';
        sn->total++;
        if (sscanf(buf, "key:%u", &i) == 1 && i < sn->n)
                sn->count[i]++;
        else
                sn->other++;
}

static void seen_init(struct seen *sn, unsigned n)
{
        memset(sn, 0, sizeof(*sn));
        sn->count = calloc(n, sizeof(*sn->count));
        sn->n = n;
}

Test(store, scan_returns_every_key_once_without_rehash)
{
        struct rds_store *s = mk(8, 2);
        unsigned n = 5000, calls = 0;
        struct seen sn;
        uint64_t cur = 0;
        char k[32];

        seen_init(&sn, n);
        for (unsigned i = 0; i < n; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_eq(set_str(s, 1, k, "v", 0), 0);
        }
        settle(s, 1, 1000);
        do {
                cur = rds_store_scan(s, 1, cur, 10, NOW, count_key, &sn);
                calls++;
                cr_assert_lt(calls, 100000);
        } while (cur != 0);
        cr_assert_gt(calls, 100, "count bounds a step (%u calls)", calls);
        for (unsigned i = 0; i < n; i++)
                cr_assert_eq(sn.count[i], 1, "key:%u seen %u times", i,
                             sn.count[i]);
        cr_assert_eq(sn.other, 0);
        /* Another database is empty: done at once. */
        cr_assert_eq(rds_store_scan(s, 0, 0, 10, NOW, count_key, &sn), 0);
        cr_assert_eq(sn.total, n);
        free(sn.count);
        rds_store_free(s);
}

Test(store, scan_sees_every_key_while_the_table_grows, .timeout = 60)
{
        for (unsigned shards = 1; shards <= 16; shards *= 4) {
                struct rds_store *s = mk(shards, 1);
                unsigned n = 2000, extra = 0, calls = 0, during = 0;
                struct seen sn;
                uint64_t cur = 0;
                char k[32];

                seen_init(&sn, n);
                for (unsigned i = 0; i < n; i++) {
                        snprintf(k, sizeof(k), "key:%u", i);
                        cr_assert_eq(set_str(s, 0, k, "v", 0), 0);
                }
                do {
                        cur =
                            rds_store_scan(s, 0, cur, 10, NOW, count_key, &sn);
                        /* Grow between steps: rehashes start and progress
                         * while the cursor is out (the keyspace doubles
                         * two or three times before the scan ends). */
                        for (int j = 0; j < 20; j++) {
                                snprintf(k, sizeof(k), "new:%u", extra++);
                                cr_assert_eq(set_str(s, 0, k, "v", 0), 0);
                        }
                        if (rehashing(s))
                                during++;
                        calls++;
                        cr_assert_lt(calls, 100000);
                } while (cur != 0);
                cr_assert_gt(extra, 2 * n, "the keyspace grew a lot");
                cr_assert_gt(during, 10, "scan steps ran across rehashes");
                for (unsigned i = 0; i < n; i++)
                        cr_assert_geq(sn.count[i], 1,
                                      "key:%u missed (%u shards)", i, shards);
                free(sn.count);
                rds_store_free(s);
        }
}

Test(store, scan_skips_and_reclaims_expired_keys)
{
        struct rds_store *s = mk(4, 1);
        struct seen sn;
        uint64_t cur = 0;
        char k[32];

        seen_init(&sn, 100);
        for (unsigned i = 0; i < 100; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_eq(set_str(s, 0, k, "v", i % 2 ? NOW - 1 : 0), 0);
        }
        do
                cur = rds_store_scan(s, 0, cur, 1000, NOW, count_key, &sn);
        while (cur);
        for (unsigned i = 0; i < 100; i++)
                cr_assert_eq(sn.count[i], i % 2 ? 0 : 1, "key:%u", i);
        cr_assert_eq(rds_store_dbsize(s, 0), 50);
        cr_assert_eq(expired_keys(s), 50);
        free(sn.count);
        rds_store_free(s);
}

/* A SCAN that reclaims most of a table's keys shrinks it, as a DEL would:
 * with no key with an expiry left, nothing else would visit it again. */
Test(store, scan_that_reclaims_keys_shrinks_the_table)
{
        struct rds_store *s = mk(1, 1);
        uint64_t cur = 0, size0, size1, n = 0;
        char k[32];

        for (unsigned i = 0; i < 4096; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_eq(set_str(s, 0, k, "v", i < 4 ? 0 : NOW - 1), 0);
        }
        settle(s, 0, 64);
        rds__store_buckets(s, 0, 0, &size0, &size1);
        cr_assert_geq(size0, 4096);
        do
                cur = rds_store_scan(s, 0, cur, 100, NOW, count_all, &n);
        while (cur);
        cr_assert_eq(n, 4);
        cr_assert_eq(rds_store_dbsize(s, 0), 4);
        cr_assert_eq(rds_store_expires(s, 0), 0);
        /* The shrink has begun (or is done); idle, the table finishes it. */
        rds__store_buckets(s, 0, 0, &size0, &size1);
        cr_assert(size1 != 0 || size0 < 4096, "buckets %llu / %llu",
                  (unsigned long long)size0, (unsigned long long)size1);
        settle(s, 0, 64);
        rds__store_buckets(s, 0, 0, &size0, &size1);
        cr_assert_eq(size0, 4);
        rds_store_free(s);
}

Test(store, foreach_visits_live_keys)
{
        struct rds_store *s = mk(16, 3);
        struct seen sn;
        char k[32];

        seen_init(&sn, 3000);
        for (unsigned i = 0; i < 3000; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_eq(set_str(s, 2, k, "v", i % 3 == 0 ? NOW : 0), 0);
        }
        cr_assert_eq(set_str(s, 1, "key:1", "other db", 0), 0);
        rds_store_foreach(s, 2, NOW, count_key, &sn);
        for (unsigned i = 0; i < 3000; i++)
                cr_assert_eq(sn.count[i], i % 3 == 0 ? 0 : 1, "key:%u", i);
        cr_assert_eq(sn.other, 0);
        free(sn.count);
        rds_store_free(s);
}

/* ---- RANDOMKEY ------------------------------------------------------------------- */

Test(store, random_key)
{
        struct rds_store *s = mk(8, 2);
        unsigned char *key = NULL;
        size_t klen = 0;
        unsigned hits[4] = {0};
        const char *names[4] = {"a", "bb", "ccc", "dddd"};

        cr_assert_eq(rds_store_random_key(s, 0, NOW, &key, &klen), 0);
        cr_assert_null(key);
        for (int i = 0; i < 4; i++)
                cr_assert_eq(set_str(s, 0, names[i], "v", 0), 0);
        for (int n = 0; n < 400; n++) {
                cr_assert_eq(rds_store_random_key(s, 0, NOW, &key, &klen), 1);
                cr_assert(klen >= 1 && klen <= 4);
                cr_assert_eq(memcmp(key, names[klen - 1], klen), 0);
                hits[klen - 1]++;
                free(key);
        }
        for (int i = 0; i < 4; i++)
                cr_assert_gt(hits[i], 40, "%s drawn %u times of 400", names[i],
                             hits[i]);
        /* Only expired keys: each draw reclaims one, then it is empty. */
        for (int i = 0; i < 50; i++) {
                char k[16];

                snprintf(k, sizeof(k), "x%d", i);
                cr_assert_eq(set_str(s, 1, k, "v", NOW - 5), 0);
        }
        cr_assert_eq(set_str(s, 1, "live", "v", NOW + 5), 0);
        cr_assert_eq(rds_store_random_key(s, 1, NOW, &key, &klen), 1);
        cr_assert_eq(klen, 4);
        cr_assert_eq(memcmp(key, "live", 4), 0);
        free(key);
        cr_assert(del(s, 1, "live"));
        cr_assert_eq(rds_store_random_key(s, 1, NOW, &key, &klen), 0);
        cr_assert_eq(rds_store_dbsize(s, 1), 0);
        rds_store_free(s);
}

/* ---- Active expiry ---------------------------------------------------------------- */

static uint64_t mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

Test(store, expire_cycle_reclaims_within_its_budget, .timeout = 60)
{
        struct rds_store *s = mk(16, 4);
        unsigned calls = 0;
        uint64_t deleted = 0, worst = 0;
        char k[32];

        for (unsigned i = 0; i < 40000; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                /* db 3: half expired, a quarter to expire later, a quarter
                 * without expiry; db 0: nothing expires. */
                cr_assert_eq(set_str(s, 3, k, "v",
                                     i % 2   ? NOW - 1
                                     : i % 4 ? NOW + 100000
                                             : 0),
                             0);
                if (i < 1000)
                        cr_assert_eq(set_str(s, 0, k, "v", 0), 0);
        }
        cr_assert_eq(rds_store_expires(s, 3), 30000);
        while (rds_store_expires(s, 3) > 10000) {
                uint64_t t0 = mono_us(), d;

                deleted += rds_store_expire_cycle(s, NOW, 200);
                d = mono_us() - t0;
                if (d > worst)
                        worst = d;
                cr_assert_lt(++calls, 100000);
        }
        cr_assert_eq(deleted, 20000);
        cr_assert_eq(expired_keys(s), 20000);
        cr_assert_eq(rds_store_dbsize(s, 3), 20000);
        cr_assert_eq(rds_store_dbsize(s, 0), 1000);
        cr_assert_gt(calls, 1, "200 us cannot take 20000 keys at once");
        /* The budget, with room for a loaded machine's preemptions. */
        cr_assert_lt(worst, 200 + 20000, "a cycle took %llu us",
                     (unsigned long long)worst);
        /* Nothing left to reclaim: the live keys stay. */
        cr_assert_eq(rds_store_expire_cycle(s, NOW, 1000), 0);
        for (unsigned i = 0; i < 40000; i += 2) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_not_null(get(s, 3, k), "%s", k);
        }
        /* Later, the rest expires. */
        while (rds_store_expires(s, 3) > 0)
                rds_store_expire_cycle(s, NOW + 100000, 1000);
        cr_assert_eq(rds_store_dbsize(s, 3), 10000);
        rds_store_free(s);
}

/* ---- Whole databases ------------------------------------------------------------- */

Test(store, flushdb_flushall_swapdb_dbsize)
{
        struct rds_store *s = mk(4, 4);
        char k[32];

        for (unsigned i = 0; i < 300; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_eq(set_str(s, 0, k, "zero", i < 10 ? NOW + 9 : 0), 0);
                if (i < 100)
                        cr_assert_eq(set_str(s, 1, k, "one", 0), 0);
        }
        cr_assert_eq(rds_store_dbsize(s, 0), 300);
        cr_assert_eq(rds_store_dbsize(s, 1), 100);
        cr_assert_eq(rds_store_expires(s, 0), 10);

        cr_assert_eq(rds_store_swapdb(s, 0, 1), 0);
        cr_assert_eq(rds_store_dbsize(s, 0), 100);
        cr_assert_eq(rds_store_dbsize(s, 1), 300);
        cr_assert_eq(rds_store_expires(s, 1), 10);
        cr_assert(val_is(get(s, 0, "key:5"), "one"));
        cr_assert(val_is(get(s, 1, "key:5"), "zero"));
        cr_assert_null(get(s, 0, "key:200"));
        cr_assert_eq(set_str(s, 1, "key:300", "zero", 0), 0); /* still works */
        cr_assert_eq(rds_store_swapdb(s, 2, 2), 0);
        cr_assert_eq(rds_store_swapdb(s, 0, 4), -EINVAL);
        cr_assert_eq(rds_store_swapdb(s, -1, 0), -EINVAL);

        cr_assert_eq(rds_store_flushdb(s, 1), 301);
        cr_assert_eq(rds_store_dbsize(s, 1), 0);
        cr_assert_eq(rds_store_expires(s, 1), 0);
        cr_assert_null(get(s, 1, "key:5"));
        cr_assert_eq(rds_store_flushdb(s, 1), 0);
        cr_assert(val_is(get(s, 0, "key:5"), "one"));
        cr_assert_eq(set_str(s, 1, "again", "v", 0), 0);
        cr_assert_eq(set_str(s, 3, "again", "v", 0), 0);
        cr_assert_eq(rds_store_flushall(s), 102);
        for (int db = 0; db < 4; db++)
                cr_assert_eq(rds_store_dbsize(s, db), 0);
        cr_assert_eq(set_str(s, 2, "after", "v", 0), 0);
        cr_assert(val_is(get(s, 2, "after"), "v"));
        rds_store_free(s);
}

Test(store, stats_track_bytes)
{
        struct rds_store *s = mk(2, 1);
        struct rds_store_stats a, b, c;
        char big[4096];

        memset(big, 'x', sizeof(big));
        rds_store_stats(s, &a);
        cr_assert_gt(a.bytes, 0);
        cr_assert_eq(set_kv(s, 0, "k", big, sizeof(big), 0), 0);
        rds_store_stats(s, &b);
        cr_assert_geq(b.bytes, a.bytes + sizeof(big));
        cr_assert(del(s, 0, "k"));
        rds_store_stats(s, &c);
        cr_assert_lt(c.bytes, b.bytes - sizeof(big) + 1);
        rds_store_free(s);
}

/* ---- Threads ---------------------------------------------------------------------- */

#define NSLOTS 64
#define NTOKENS 32
#define STRESS_THREADS 4
#define STRESS_OPS 200000

struct stress {
        struct rds_store *s;
        unsigned id;
        unsigned appends;
};

static void slot_name(char *buf, size_t n, unsigned i)
{
        snprintf(buf, n, "slot:%u", i);
}

static void *stress_main(void *arg)
{
        struct stress *st = arg;
        struct rds_store *s = st->s;
        uint64_t r = 0x9e3779b97f4a7c15ULL * (st->id + 1);
        char a[32], b[32], k[32];

        for (unsigned op = 0; op < STRESS_OPS; op++) {
                unsigned kind;

                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                kind = (unsigned)(r % 10);
                if (kind < 3) {
                        /* RENAMENX-like: move a token between slots, two
                         * shards locked as a set. */
                        uint64_t ha, hb;
                        struct rds_lockset ls;
                        struct rds_entry *e;

                        slot_name(a, sizeof(a), (unsigned)(r >> 16) % NSLOTS);
                        slot_name(b, sizeof(b), (unsigned)(r >> 32) % NSLOTS);
                        if (strcmp(a, b) == 0)
                                continue;
                        ha = rds_store_hash(s, a, strlen(a));
                        hb = rds_store_hash(s, b, strlen(b));
                        rds_lockset_clear(&ls);
                        rds_lockset_add(&ls, rds_store_shard_of(s, ha));
                        rds_lockset_add(&ls, rds_store_shard_of(s, hb));
                        rds_store_lock_set(s, &ls);
                        e = rds_store_find(s, 0, a, strlen(a), ha, NOW);
                        if (e && rds_store_insert_copy(s, 0, b, strlen(b), hb,
                                                       e, false) == 0) {
                                if (!rds_store_delete(s, 0, a, strlen(a), ha,
                                                      NOW))
                                        abort();
                        }
                        rds_store_unlock_set(s, &ls);
                } else if (kind < 4) {
                        /* APPEND to the shared log. */
                        uint64_t h = rds_store_hash(s, "log", 3);
                        unsigned sh = rds_store_shard_of(s, h);
                        struct rds_entry *e;

                        rds_store_lock(s, sh);
                        e = rds_store_find(s, 0, "log", 3, h, NOW);
                        if (e && rds_store_resize_string(s, 0, h, &e,
                                                         e->vlen + 1) == 0) {
                                rds_entry_val(e)[e->vlen - 1] =
                                    (unsigned char)('a' + st->id);
                                st->appends++;
                        }
                        rds_store_unlock(s, sh);
                } else {
                        /* Churn: SET / GET / DEL of many keys, so tables
                         * grow and shrink under the other threads. */
                        uint64_t h;
                        unsigned sh;
                        struct rds_entry *e;

                        snprintf(k, sizeof(k), "churn:%u",
                                 (unsigned)(r >> 20) % 20000);
                        h = rds_store_hash(s, k, strlen(k));
                        sh = rds_store_shard_of(s, h);
                        rds_store_lock(s, sh);
                        if (kind < 7) {
                                if (rds_store_set_string(
                                        s, 0, k, strlen(k), h, k, strlen(k),
                                        kind == 6 ? NOW + 1 : 0, NULL))
                                        abort();
                        } else if (kind < 9) {
                                e = rds_store_find(s, 0, k, strlen(k), h,
                                                   NOW + (kind == 8));
                                if (e &&
                                    (e->vlen != strlen(k) ||
                                     memcmp(rds_entry_val(e), k, e->vlen) != 0))
                                        abort();
                        } else {
                                rds_store_delete(s, 0, k, strlen(k), h, NOW);
                        }
                        rds_store_unlock(s, sh);
                }
        }
        return NULL;
}

static void count_all(void *ctx, const struct rds_entry *e)
{
        (*(uint64_t *)ctx)++;
}

Test(store, threads_keep_the_keyspace_consistent, .timeout = 120)
{
        struct rds_store *s = mk(8, 2);
        struct stress st[STRESS_THREADS];
        pthread_t tid[STRESS_THREADS];
        unsigned tokens[NTOKENS] = {0}, found = 0, appends = 0;
        uint64_t n = 0, expired0;
        char k[32];
        struct rds_entry *log;

        for (unsigned i = 0; i < NTOKENS; i++) {
                char v[16];

                slot_name(k, sizeof(k), i * 2);
                snprintf(v, sizeof(v), "%u", i);
                cr_assert_eq(set_str(s, 0, k, v, 0), 0);
        }
        cr_assert_eq(set_str(s, 0, "log", "", 0), 0);
        for (unsigned i = 0; i < STRESS_THREADS; i++) {
                st[i] = (struct stress){.s = s, .id = i};
                cr_assert_eq(pthread_create(&tid[i], NULL, stress_main, &st[i]),
                             0);
        }
        for (unsigned i = 0; i < STRESS_THREADS; i++) {
                pthread_join(tid[i], NULL);
                appends += st[i].appends;
        }
        /* Every token is in exactly one slot. */
        for (unsigned i = 0; i < NSLOTS; i++) {
                struct rds_entry *e;
                unsigned t;

                slot_name(k, sizeof(k), i);
                e = get(s, 0, k);
                if (!e)
                        continue;
                found++;
                cr_assert_lt(e->vlen, 16);
                {
                        char v[16];

                        memcpy(v, rds_entry_val(e), e->vlen);
                        v[e->vlen] = '\0';
                        t = (unsigned)atoi(v);
                }
                cr_assert_lt(t, NTOKENS);
                tokens[t]++;
        }
        cr_assert_eq(found, NTOKENS);
        for (unsigned i = 0; i < NTOKENS; i++)
                cr_assert_eq(tokens[i], 1, "token %u in %u slots", i,
                             tokens[i]);
        /* Every append landed, from its thread. */
        log = get(s, 0, "log");
        cr_assert_not_null(log);
        cr_assert_eq(log->vlen, appends);
        {
                unsigned per[STRESS_THREADS] = {0};

                for (uint32_t i = 0; i < log->vlen; i++) {
                        unsigned t = (unsigned)(rds_entry_val(log)[i] - 'a');

                        cr_assert_lt(t, STRESS_THREADS);
                        per[t]++;
                }
                for (unsigned i = 0; i < STRESS_THREADS; i++)
                        cr_assert_eq(per[i], st[i].appends);
        }
        /* The counters agree with the tables. */
        rds_store_foreach(s, 0, INT64_MIN, count_all, &n);
        cr_assert_eq(n, rds_store_dbsize(s, 0));
        expired0 = expired_keys(s);
        n = 0;
        rds_store_foreach(s, 0, NOW + 1, count_all, &n);
        cr_assert_eq(n + rds_store_expires(s, 0), rds_store_dbsize(s, 0),
                     "every key with an expiry is past NOW + 1");
        while (rds_store_expires(s, 0))
                rds_store_expire_cycle(s, NOW + 1, 10000);
        cr_assert_eq(rds_store_dbsize(s, 0), n);
        cr_assert_geq(expired_keys(s), expired0);
        rds_store_free(s);
}

/*
 * FLUSHDB is one command: a multi-key write (MSET a b, a and b in the first
 * and the last shard) is either wholly before it or wholly after it, so a
 * reader holding both shards never sees one key without the other.
 */
struct flush_pair {
        struct rds_store *s;
        char a[32], b[32];
        uint64_t ha, hb;
        struct rds_lockset ls;
        atomic_bool stop;
        atomic_uint torn;
};

static void *flush_pair_writer(void *arg)
{
        struct flush_pair *fp = arg;

        while (!atomic_load(&fp->stop)) {
                rds_store_lock_set(fp->s, &fp->ls);
                if (rds_store_set_string(fp->s, 0, fp->a, strlen(fp->a), fp->ha,
                                         "1", 1, 0, NULL) ||
                    rds_store_set_string(fp->s, 0, fp->b, strlen(fp->b), fp->hb,
                                         "1", 1, 0, NULL))
                        abort();
                rds_store_unlock_set(fp->s, &fp->ls);
        }
        return NULL;
}

static void *flush_pair_reader(void *arg)
{
        struct flush_pair *fp = arg;

        while (!atomic_load(&fp->stop)) {
                bool in_a, in_b;

                rds_store_lock_set(fp->s, &fp->ls);
                in_a = rds_store_find(fp->s, 0, fp->a, strlen(fp->a), fp->ha,
                                      NOW) != NULL;
                in_b = rds_store_find(fp->s, 0, fp->b, strlen(fp->b), fp->hb,
                                      NOW) != NULL;
                rds_store_unlock_set(fp->s, &fp->ls);
                if (in_a != in_b)
                        atomic_fetch_add(&fp->torn, 1);
        }
        return NULL;
}

Test(store, flushdb_is_atomic_against_multi_key_writes, .timeout = 60)
{
        struct flush_pair fp = {.s = mk(64, 1)};
        unsigned last = rds_store_nshards(fp.s) - 1;
        pthread_t w, r;
        bool have_a = false, have_b = false;

        for (unsigned i = 0; !(have_a && have_b); i++) {
                char k[32];
                uint64_t h;
                unsigned sh;

                snprintf(k, sizeof(k), "pair:%u", i);
                h = rds_store_hash(fp.s, k, strlen(k));
                sh = rds_store_shard_of(fp.s, h);
                if (sh == 0 && !have_a) {
                        strcpy(fp.a, k);
                        fp.ha = h;
                        have_a = true;
                } else if (sh == last && !have_b) {
                        strcpy(fp.b, k);
                        fp.hb = h;
                        have_b = true;
                }
        }
        rds_lockset_clear(&fp.ls);
        rds_lockset_add(&fp.ls, 0);
        rds_lockset_add(&fp.ls, last);
        cr_assert_eq(pthread_create(&w, NULL, flush_pair_writer, &fp), 0);
        cr_assert_eq(pthread_create(&r, NULL, flush_pair_reader, &fp), 0);
        /* Half a second of flushes (a torn read shows up within a few
         * milliseconds when FLUSHDB takes the shards one at a time). */
        for (uint64_t end = mono_us() + 500000;
             mono_us() < end && atomic_load(&fp.torn) == 0;)
                rds_store_flushdb(fp.s, 0);
        atomic_store(&fp.stop, true);
        pthread_join(w, NULL);
        pthread_join(r, NULL);
        cr_assert_eq(atomic_load(&fp.torn), 0,
                     "a reader saw half of a two-key write");
        rds_store_free(fp.s);
}

/* ---- Errors ------------------------------------------------------------------------ */

Test(store, new_rejects_bad_arguments)
{
        struct rds_store *s = NULL;

        cr_assert_eq(rds_store_new(0, 16, &s), -EINVAL);
        cr_assert_eq(rds_store_new(3, 16, &s), -EINVAL);
        cr_assert_eq(rds_store_new(48, 16, &s), -EINVAL);
        cr_assert_eq(rds_store_new(RDS_MAX_SHARDS * 2, 16, &s), -EINVAL);
        cr_assert_eq(rds_store_new(4, 0, &s), -EINVAL);
        cr_assert_eq(rds_store_new(4, RDS_MAX_DBS + 1, &s), -EINVAL);
        cr_assert_eq(rds_store_new(4, 16, NULL), -EINVAL);
        cr_assert_null(s);
        cr_assert_eq(rds_store_new(RDS_MAX_SHARDS, 1, &s), 0);
        cr_assert_eq(rds_store_nshards(s), RDS_MAX_SHARDS);
        cr_assert_eq(rds_store_ndbs(s), 1);
        rds_store_free(s);
        cr_assert_eq(rds_store_new(1, RDS_MAX_DBS, &s), 0);
        cr_assert_eq(rds_store_ndbs(s), RDS_MAX_DBS);
        cr_assert_eq(set_str(s, RDS_MAX_DBS - 1, "k", "v", 0), 0);
        cr_assert(val_is(get(s, RDS_MAX_DBS - 1, "k"), "v"));
        rds_store_free(s);
}

Test(store, new_fails_cleanly_without_memory)
{
        struct rds_store *s;
        int ok = 0;

        /* Every allocation of rds_store_new in turn: store, shards, then
         * each shard's tables. */
        for (long n = 0; n < 8; n++) {
                s = NULL;
                rds__store_fail_alloc_after(n);
                int err = rds_store_new(4, 16, &s);
                rds__store_fail_alloc_after(-1);
                if (err == 0) {
                        ok++;
                        rds_store_free(s);
                } else {
                        cr_assert_eq(err, -ENOMEM);
                        cr_assert_null(s);
                }
        }
        cr_assert_eq(ok, 2, "4 shards: 6 allocations");
}

Test(store, enomem_changes_nothing)
{
        struct rds_store *s = mk(1, 1);
        uint64_t h = rds_store_hash(s, "k", 1);
        struct rds_entry *e;
        unsigned char *key = NULL;
        size_t klen;
        char k[32];

        /* First key: the entry, then the table, may fail. */
        rds__store_fail_alloc_after(0);
        cr_assert_eq(set_str(s, 0, "k", "v", 0), -ENOMEM);
        rds__store_fail_alloc_after(1);
        cr_assert_eq(set_str(s, 0, "k", "v", 0), -ENOMEM);
        rds__store_fail_alloc_after(-1);
        cr_assert_eq(rds_store_dbsize(s, 0), 0);
        cr_assert_null(get(s, 0, "k"));

        cr_assert_eq(set_str(s, 0, "k", "old", NOW + 5), 0);
        /* A replacement that needs a new entry. */
        rds__store_fail_alloc_after(0);
        cr_assert_eq(set_str(s, 0, "k", "a value long enough to reallocate", 0),
                     -ENOMEM);
        rds__store_fail_alloc_after(-1);
        cr_assert(val_is(get(s, 0, "k"), "old"));
        cr_assert_eq(get(s, 0, "k")->expire_ms, NOW + 5);
        cr_assert_eq(rds_store_expires(s, 0), 1);

        /* resize_string growing past the allocation. */
        rds_store_lock(s, 0);
        e = rds_store_find(s, 0, "k", 1, h, NOW);
        rds__store_fail_alloc_after(0);
        cr_assert_eq(rds_store_resize_string(s, 0, h, &e, 1000), -ENOMEM);
        rds__store_fail_alloc_after(-1);
        cr_assert_eq(rds_store_find(s, 0, "k", 1, h, NOW), e);
        cr_assert(val_is(e, "old"));
        /* insert_copy. */
        rds__store_fail_alloc_after(0);
        cr_assert_eq(rds_store_insert_copy(s, 0, "c", 1,
                                           rds_store_hash(s, "c", 1), e, false),
                     -ENOMEM);
        rds__store_fail_alloc_after(-1);
        rds_store_unlock(s, 0);
        cr_assert_null(get(s, 0, "c"));
        cr_assert_eq(rds_store_dbsize(s, 0), 1);

        /* RANDOMKEY's copy. */
        rds__store_fail_alloc_after(0);
        cr_assert_eq(rds_store_random_key(s, 0, NOW, &key, &klen), -ENOMEM);
        rds__store_fail_alloc_after(-1);
        cr_assert_null(key);

        /* A table that cannot grow still takes keys (longer chains). */
        for (unsigned i = 0; i < 3; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert_eq(set_str(s, 0, k, "v", 0), 0);
        }
        for (unsigned i = 3; i < 100; i++) {
                uint64_t s0, s1;

                snprintf(k, sizeof(k), "key:%u", i);
                rds__store_fail_alloc_after(1); /* the entry, not the table */
                cr_assert_eq(set_str(s, 0, k, "v", 0), 0);
                rds__store_fail_alloc_after(-1);
                rds__store_buckets(s, 0, 0, &s0, &s1);
                cr_assert_eq(s0, 4);
                cr_assert_eq(s1, 0);
        }
        for (unsigned i = 0; i < 100; i++) {
                snprintf(k, sizeof(k), "key:%u", i);
                cr_assert(val_is(get(s, 0, k), "v"), "%s", k);
        }
        /* And grows once it can. */
        cr_assert_eq(set_str(s, 0, "one more", "v", 0), 0);
        settle(s, 0, 100);
        {
                uint64_t s0, s1;

                rds__store_buckets(s, 0, 0, &s0, &s1);
                cr_assert_eq(s0, 128);
        }
        cr_assert_eq(rds_store_dbsize(s, 0), 102);
        rds_store_free(s);
}
