/*
 * redis/server/cmd_string.c - the string commands: GET and SET with its
 * variants (SETNX SETEX PSETEX), the multi-key MGET/MSET/MSETNX, the
 * read-modify-write family (GETSET GETDEL GETEX APPEND SETRANGE GETRANGE
 * SUBSTR STRLEN) and the counters (INCR DECR INCRBY DECRBY INCRBYFLOAT),
 * with Redis 7.0's replies, errors and argument rules (t_string.c).
 *
 * Every handler has the same shape: validate what can be validated
 * without the key, hash the key once, lock its shard, find the entry, do
 * the work and append the reply while the lock is held (the reply copies
 * the value out: no pointer to an entry survives the unlock), unlock.
 * Checks that Redis makes after the lookup (WRONGTYPE, GETEX's expire
 * time) happen in the same order here, so the same request gets the same
 * error.  Multi-key commands lock all their shards at once through a
 * struct rds_keyset (ascending order, so no deadlock), which makes them
 * atomic: a reader never sees half an MSET.
 *
 * The hot path does not allocate in steady state: GET copies the value
 * into the connection's output buffer, SET lets the store reuse the entry
 * (rds_store_set_string), INCR rewrites the digits in place and resizes
 * only when their count changes (rds_store_resize_string keeps spare
 * room).
 *
 * Statistics: keyspace_hits/misses count the lookups Redis counts (its
 * lookupKeyRead: GET, MGET, GETRANGE, STRLEN, GETEX, GETDEL, GETSET and
 * SET ... GET); the write lookups (INCR, APPEND, SETNX...) count nothing.
 *
 * Out of memory: a command that cannot allocate changes nothing and
 * replies RDS_ERR_OOM -- except after it has already sent part of its
 * answer (SET ... GET, GETSET reply the old value before they write), where
 * a second reply would break the one-reply rule: it marks the output
 * failed (-ENOMEM) and the connection closes after the batch, as it does
 * when the encoder itself cannot allocate.  MSET cannot roll back the keys
 * it has already written when a later one fails.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "resp.h"
#include "server.h"
#include "store.h"
#include "util.h"

/* Redis's MAX_LONG_DOUBLE_CHARS: "%.17Lf" of the largest long double fits. */
#define LD_STR_SIZE (5 * 1024)

/* ---- Helpers ----------------------------------------------------------------- */

/* One key's place in the store, computed once per command. */
struct slot {
        struct rds_store *s;
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        unsigned shard;
};

static inline void slot_lock(struct slot *sl, const struct rds_arg *k)
{
        sl->s = rds_srv->store;
        sl->key = k->p;
        sl->klen = k->len;
        sl->hash = rds_store_hash(sl->s, k->p, k->len);
        sl->shard = rds_store_shard_of(sl->s, sl->hash);
        rds_store_lock(sl->s, sl->shard);
}

static inline void slot_unlock(struct slot *sl)
{
        rds_store_unlock(sl->s, sl->shard);
}

static inline struct rds_entry *slot_find(struct slot *sl,
                                          const struct rds_client *c)
{
        return rds_store_find(sl->s, c->db, sl->key, sl->klen, sl->hash,
                              c->now_ms);
}

static inline int slot_set(struct slot *sl, const struct rds_client *c,
                           const void *val, size_t vlen, int64_t expire_ms,
                           struct rds_entry **out)
{
        return rds_store_set_string(sl->s, c->db, sl->key, sl->klen, sl->hash,
                                    val, vlen, expire_ms, out);
}

/*
 * Store a counter's new digits (INCR family, INCRBYFLOAT): a new key, or
 * the live entry @e rewritten in place, resized only when the number of
 * digits changed; the expiry is kept.  Returns 0 or -ENOMEM (nothing
 * changed).
 */
static int slot_store_number(struct slot *sl, const struct rds_client *c,
                             struct rds_entry *e, const char *digits,
                             size_t len)
{
        int rc = 0;

        if (!e)
                return slot_set(sl, c, digits, len, 0, NULL);
        if (len != e->vlen)
                rc = rds_store_resize_string(sl->s, c->db, sl->hash, &e, len);
        if (rc == 0)
                memcpy(rds_entry_val(e), digits, len);
        return rc;
}

static inline void count_lookups(uint64_t hits, uint64_t misses)
{
        struct rds_stats *st = rds_stats_local();

        if (hits)
                rds_stat_add(&st->keyspace_hits, hits);
        if (misses)
                rds_stat_add(&st->keyspace_misses, misses);
}

static inline void count_lookup(bool hit)
{
        count_lookups(hit, !hit);
}

/* Redis compares option names as C strings (strcasecmp on the sds), so
 * an argument is compared up to its first NUL. */
static bool opt_is(const struct rds_arg *a, const char *lit)
{
        return rds_arg_is(a->p, strnlen((const char *)a->p, a->len), lit);
}

/* getLongLongFromObjectOrReply on an argument. */
static bool arg_ll(struct rds_client *c, const struct rds_arg *a,
                   long long *out)
{
        if (rds_str2ll(a->p, a->len, out))
                return true;
        rds_reply_error(&c->out, RDS_ERR_NOT_INT);
        return false;
}

/* See the head comment: @replied says whether part of the answer is out. */
static void reply_oom(struct rds_client *c, bool replied)
{
        if (replied)
                c->out.err = -ENOMEM;
        else
                rds_reply_error(&c->out, RDS_ERR_OOM);
}

/*
 * The longest string a command may build: proto-max-bulk-len, which
 * CONFIG SET may change (read under cfg_lock, before any shard lock is
 * taken, so the two locks never nest), capped by the entry's 32-bit
 * length field.
 */
static long long max_string_len(void)
{
        long long max;

        pthread_mutex_lock(&rds_srv->cfg_lock);
        max = rds_srv->cfg.proto_max_bulk_len;
        pthread_mutex_unlock(&rds_srv->cfg_lock);
        return max < (long long)UINT32_MAX ? max : (long long)UINT32_MAX;
}

/* Redis's checkStringLength: @size + @append within @max, no overflow. */
static bool check_string_length(struct rds_client *c, long long max,
                                long long size, long long append)
{
        long long total = (long long)((uint64_t)size + (uint64_t)append);

        if (total > max || total < size || total < append) {
                rds_reply_error(&c->out, RDS_ERR_STRING_TOO_LONG);
                return false;
        }
        return true;
}

/* ---- SET and its options -------------------------------------------------- */

enum {
        SET_NX = 1u << 0,
        SET_XX = 1u << 1,
        SET_GET = 1u << 2,
        SET_KEEPTTL = 1u << 3,
        SET_PERSIST = 1u << 4, /* GETEX only */
        SET_EX = 1u << 5,
        SET_PX = 1u << 6,
        SET_EXAT = 1u << 7,
        SET_PXAT = 1u << 8,
};

#define SET_EXPIRES (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/*
 * parse_set_options - Redis's parseExtendedStringArgumentsOrReply for SET
 * (@is_set) and GETEX, from argv[@first].  The conflict rules are Redis's,
 * literally: an option is refused (syntax error) when a conflicting one
 * came before it, but repeating an option is allowed (`EX 10 EX 20`: the
 * last wins), and an expiry option needs its value.  *@expire gets the
 * value of the expiry option, or NULL.
 */
static bool parse_set_options(struct rds_client *c, int argc,
                              const struct rds_arg *argv, int first,
                              bool is_set, unsigned *flags,
                              const struct rds_arg **expire)
{
        unsigned f = 0;

        *expire = NULL;
        for (int j = first; j < argc; j++) {
                const struct rds_arg *a = &argv[j];
                const struct rds_arg *next =
                    j == argc - 1 ? NULL : &argv[j + 1];
                unsigned opt = 0;

                if (is_set && opt_is(a, "nx") && !(f & SET_XX))
                        f |= SET_NX;
                else if (is_set && opt_is(a, "xx") && !(f & SET_NX))
                        f |= SET_XX;
                else if (is_set && opt_is(a, "get"))
                        f |= SET_GET;
                else if (is_set && opt_is(a, "keepttl") &&
                         !(f & (SET_PERSIST | SET_EXPIRES)))
                        f |= SET_KEEPTTL;
                else if (!is_set && opt_is(a, "persist") &&
                         !(f & (SET_KEEPTTL | SET_EXPIRES)))
                        f |= SET_PERSIST;
                else if (opt_is(a, "ex"))
                        opt = SET_EX;
                else if (opt_is(a, "px"))
                        opt = SET_PX;
                else if (opt_is(a, "exat"))
                        opt = SET_EXAT;
                else if (opt_is(a, "pxat"))
                        opt = SET_PXAT;
                else
                        goto syntax;
                if (!opt)
                        continue;
                if (!next ||
                    (f & (SET_KEEPTTL | SET_PERSIST | (SET_EXPIRES & ~opt))))
                        goto syntax;
                f |= opt;
                *expire = next;
                j++;
        }
        *flags = f;
        return true;
syntax:
        rds_reply_error(&c->out, RDS_ERR_SYNTAX);
        return false;
}

/*
 * expire_arg - Redis's getExpireMillisecondsOrReply: the absolute Unix
 * time in ms that @arg means under @flags (EX/EXAT in seconds; EX/PX
 * relative to the command's clock).  Zero, negative and overflowing
 * times are "invalid expire time in '@cmd' command".
 */
static bool expire_arg(struct rds_client *c, const struct rds_arg *arg,
                       unsigned flags, const char *cmd, int64_t *out)
{
        bool seconds = flags & (SET_EX | SET_EXAT);
        long long ms;

        if (!arg_ll(c, arg, &ms))
                return false;
        if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000))
                goto invalid;
        if (seconds)
                ms *= 1000;
        if (flags & (SET_EX | SET_PX)) {
                if (ms > LLONG_MAX - c->now_ms)
                        goto invalid;
                ms += c->now_ms;
        }
        *out = ms;
        return true;
invalid:
        rds_reply_errorf(&c->out, "ERR invalid expire time in '%s' command",
                         cmd);
        return false;
}

/*
 * set_generic - Redis's setGenericCommand: SET, SETNX, SETEX, PSETEX.
 * @expire is the expiry argument (flags say its unit) or NULL; @setnx
 * makes the replies :1/:0 instead of +OK/null.
 */
static void set_generic(struct rds_client *c, unsigned flags,
                        const struct rds_arg *key, const struct rds_arg *val,
                        const struct rds_arg *expire, const char *cmd,
                        bool setnx)
{
        struct rds_entry *e = NULL;
        int64_t when = 0;
        struct slot sl;
        int rc;

        if (expire && !expire_arg(c, expire, flags, cmd, &when))
                return;

        slot_lock(&sl, key);
        if (flags & (SET_NX | SET_XX | SET_GET | SET_KEEPTTL)) {
                e = slot_find(&sl, c);
                if (flags & SET_GET) {
                        count_lookup(e != NULL);
                        if (!e) {
                                rds_reply_null(&c->out);
                        } else if (e->type != RDS_TYPE_STRING) {
                                slot_unlock(&sl);
                                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
                                return;
                        } else {
                                rds_reply_bulk(&c->out, rds_entry_val(e),
                                               e->vlen);
                        }
                }
        }
        if (((flags & SET_NX) && e) || ((flags & SET_XX) && !e)) {
                slot_unlock(&sl);
                if (flags & SET_GET)
                        return; /* the old value was the reply */
                if (setnx)
                        rds_reply_int(&c->out, 0);
                else
                        rds_reply_null(&c->out);
                return;
        }
        if (!expire && (flags & SET_KEEPTTL) && e)
                when = e->expire_ms;
        rc = slot_set(&sl, c, val->p, val->len, when, NULL);
        slot_unlock(&sl);

        if (rc < 0)
                reply_oom(c, flags & SET_GET);
        else if (flags & SET_GET)
                return;
        else if (setnx)
                rds_reply_int(&c->out, 1);
        else
                rds_reply_ok(&c->out);
}

static void cmd_set(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        const struct rds_arg *expire;
        unsigned flags;

        if (!parse_set_options(c, argc, argv, 3, true, &flags, &expire))
                return;
        set_generic(c, flags, &argv[1], &argv[2], expire, "set", false);
}

static void cmd_setnx(struct rds_client *c, int argc,
                      const struct rds_arg *argv)
{
        (void)argc;
        set_generic(c, SET_NX, &argv[1], &argv[2], NULL, "setnx", true);
}

static void cmd_setex(struct rds_client *c, int argc,
                      const struct rds_arg *argv)
{
        (void)argc;
        set_generic(c, SET_EX, &argv[1], &argv[3], &argv[2], "setex", false);
}

static void cmd_psetex(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        (void)argc;
        set_generic(c, SET_PX, &argv[1], &argv[3], &argv[2], "psetex", false);
}

/* ---- Reads ------------------------------------------------------------------- */

static void cmd_get(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        struct rds_entry *e;
        struct slot sl;

        (void)argc;
        slot_lock(&sl, &argv[1]);
        e = slot_find(&sl, c);
        if (!e)
                rds_reply_null(&c->out);
        else if (e->type != RDS_TYPE_STRING)
                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
        else
                rds_reply_bulk(&c->out, rds_entry_val(e), e->vlen);
        slot_unlock(&sl);
        count_lookup(e != NULL);
}

static void cmd_mget(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        struct rds_store *s = rds_srv->store;
        size_t n = (size_t)argc - 1;
        struct rds_keyset ks;
        uint64_t hits = 0;

        if (rds_keyset_init(&ks, s, &argv[1], n, 1) < 0) {
                reply_oom(c, false);
                return;
        }
        rds_store_lock_set(s, &ks.ls);
        rds_reply_array_len(&c->out, n);
        for (size_t i = 0; i < n; i++) {
                const struct rds_arg *k = &argv[1 + i];
                struct rds_entry *e = rds_store_find(s, c->db, k->p, k->len,
                                                     ks.hash[i], c->now_ms);

                /* MGET answers null for a key of another type, no error. */
                if (e)
                        hits++;
                if (e && e->type == RDS_TYPE_STRING)
                        rds_reply_bulk(&c->out, rds_entry_val(e), e->vlen);
                else
                        rds_reply_null(&c->out);
        }
        rds_store_unlock_set(s, &ks.ls);
        rds_keyset_free(&ks);
        count_lookups(hits, n - hits);
}

static void cmd_strlen(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        struct rds_entry *e;
        struct slot sl;

        (void)argc;
        slot_lock(&sl, &argv[1]);
        e = slot_find(&sl, c);
        if (!e)
                rds_reply_int(&c->out, 0);
        else if (e->type != RDS_TYPE_STRING)
                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
        else
                rds_reply_int(&c->out, e->vlen);
        slot_unlock(&sl);
        count_lookup(e != NULL);
}

/* GETRANGE and its old name SUBSTR: Redis's index arithmetic, exactly
 * (a range of two negative indexes that is backwards is empty before the
 * clamping, which would otherwise turn it into the first byte). */
static void cmd_getrange(struct rds_client *c, int argc,
                         const struct rds_arg *argv)
{
        long long start, end, len;
        struct rds_entry *e;
        struct slot sl;

        (void)argc;
        if (!arg_ll(c, &argv[2], &start) || !arg_ll(c, &argv[3], &end))
                return;

        slot_lock(&sl, &argv[1]);
        e = slot_find(&sl, c);
        count_lookup(e != NULL);
        if (!e) {
                rds_reply_bulk(&c->out, "", 0);
                goto out;
        }
        if (e->type != RDS_TYPE_STRING) {
                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
                goto out;
        }
        len = e->vlen;
        if (start < 0 && end < 0 && start > end) {
                rds_reply_bulk(&c->out, "", 0);
                goto out;
        }
        if (start < 0)
                start += len;
        if (end < 0)
                end += len;
        if (start < 0)
                start = 0;
        if (end < 0)
                end = 0;
        if (end >= len)
                end = len - 1;
        if (start > end || len == 0)
                rds_reply_bulk(&c->out, "", 0);
        else
                rds_reply_bulk(&c->out, rds_entry_val(e) + start,
                               (size_t)(end - start + 1));
out:
        slot_unlock(&sl);
}

/* ---- Read and write ----------------------------------------------------------- */

/* MSET and MSETNX: every key's shard locked, so the whole command is one
 * atomic step for every other client. */
static void mset_generic(struct rds_client *c, int argc,
                         const struct rds_arg *argv, bool nx)
{
        struct rds_store *s = rds_srv->store;
        struct rds_keyset ks;
        bool busy = false;
        size_t n;
        int rc = 0;

        if (argc % 2 == 0) {
                rds_reply_arity_error(&c->out, &argv[0]);
                return;
        }
        n = ((size_t)argc - 1) / 2;
        if (rds_keyset_init(&ks, s, &argv[1], n, 2) < 0) {
                reply_oom(c, false);
                return;
        }
        rds_store_lock_set(s, &ks.ls);
        for (size_t i = 0; nx && i < n && !busy; i++) {
                const struct rds_arg *k = &argv[1 + 2 * i];

                busy = rds_store_find(s, c->db, k->p, k->len, ks.hash[i],
                                      c->now_ms) != NULL;
        }
        for (size_t i = 0; !busy && i < n && rc == 0; i++) {
                const struct rds_arg *k = &argv[1 + 2 * i];
                const struct rds_arg *v = &argv[2 + 2 * i];

                rc = rds_store_set_string(s, c->db, k->p, k->len, ks.hash[i],
                                          v->p, v->len, 0, NULL);
        }
        rds_store_unlock_set(s, &ks.ls);
        rds_keyset_free(&ks);

        if (rc < 0)
                reply_oom(c, false);
        else if (nx)
                rds_reply_int(&c->out, !busy);
        else
                rds_reply_ok(&c->out);
}

static void cmd_mset(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        mset_generic(c, argc, argv, false);
}

static void cmd_msetnx(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        mset_generic(c, argc, argv, true);
}

/*
 * Redis's getGenericCommand under the caller's lock: reply the string
 * @e (null when absent).  False (and the WRONGTYPE error replied) when
 * @e is not a string.
 */
static bool reply_old_value(struct rds_client *c, const struct rds_entry *e)
{
        count_lookup(e != NULL);
        if (!e) {
                rds_reply_null(&c->out);
                return true;
        }
        if (e->type != RDS_TYPE_STRING) {
                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
                return false;
        }
        rds_reply_bulk(&c->out, rds_entry_val((struct rds_entry *)e), e->vlen);
        return true;
}

/* GETSET: the new value loses any expiry, as SET without KEEPTTL. */
static void cmd_getset(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        struct rds_entry *e;
        struct slot sl;
        int rc;

        (void)argc;
        slot_lock(&sl, &argv[1]);
        e = slot_find(&sl, c);
        if (!reply_old_value(c, e)) {
                slot_unlock(&sl);
                return;
        }
        rc = slot_set(&sl, c, argv[2].p, argv[2].len, 0, NULL);
        slot_unlock(&sl);
        if (rc < 0)
                reply_oom(c, true);
}

static void cmd_getdel(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        struct rds_entry *e;
        struct slot sl;

        (void)argc;
        slot_lock(&sl, &argv[1]);
        e = slot_find(&sl, c);
        if (reply_old_value(c, e) && e)
                rds_store_delete(sl.s, c->db, sl.key, sl.klen, sl.hash,
                                 c->now_ms);
        slot_unlock(&sl);
}

/*
 * GETEX: Redis checks the options, then the key (null, WRONGTYPE), then
 * the expire time; an EXAT/PXAT time already past deletes the key after
 * its value is replied.
 */
static void cmd_getex(struct rds_client *c, int argc,
                      const struct rds_arg *argv)
{
        const struct rds_arg *expire;
        struct rds_entry *e;
        int64_t when = 0;
        unsigned flags;
        struct slot sl;

        if (!parse_set_options(c, argc, argv, 2, false, &flags, &expire))
                return;

        slot_lock(&sl, &argv[1]);
        e = slot_find(&sl, c);
        count_lookup(e != NULL);
        if (!e) {
                rds_reply_null(&c->out);
                goto out;
        }
        if (e->type != RDS_TYPE_STRING) {
                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
                goto out;
        }
        if (expire && !expire_arg(c, expire, flags, "getex", &when))
                goto out;
        rds_reply_bulk(&c->out, rds_entry_val(e), e->vlen);
        if ((flags & (SET_EXAT | SET_PXAT)) && when <= c->now_ms)
                rds_store_delete(sl.s, c->db, sl.key, sl.klen, sl.hash,
                                 c->now_ms);
        else if (expire)
                rds_store_set_expire(sl.s, c->db, sl.hash, e, when);
        else if ((flags & SET_PERSIST) && e->expire_ms)
                rds_store_set_expire(sl.s, c->db, sl.hash, e, 0);
out:
        slot_unlock(&sl);
}

/* APPEND keeps the key's expiry; the entry grows with spare room so that
 * a run of APPENDs does not reallocate each time (the store's job). */
static void cmd_append(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        const struct rds_arg *add = &argv[2];
        long long max = max_string_len();
        struct rds_entry *e;
        struct slot sl;
        size_t total;
        int rc;

        (void)argc;
        slot_lock(&sl, &argv[1]);
        e = slot_find(&sl, c);
        if (!e) {
                total = add->len;
                rc = slot_set(&sl, c, add->p, add->len, 0, NULL);
        } else if (e->type != RDS_TYPE_STRING) {
                slot_unlock(&sl);
                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
                return;
        } else if (!check_string_length(c, max, e->vlen, (long long)add->len)) {
                slot_unlock(&sl);
                return;
        } else {
                size_t old = e->vlen;

                total = old + add->len;
                rc = rds_store_resize_string(sl.s, c->db, sl.hash, &e, total);
                if (rc == 0 && add->len)
                        memcpy(rds_entry_val(e) + old, add->p, add->len);
        }
        slot_unlock(&sl);
        if (rc < 0)
                reply_oom(c, false);
        else
                rds_reply_int(&c->out, (long long)total);
}

/* SETRANGE: zero-pads up to @offset; an empty value changes nothing (and
 * creates nothing) but still answers the length. */
static void cmd_setrange(struct rds_client *c, int argc,
                         const struct rds_arg *argv)
{
        const struct rds_arg *v = &argv[3];
        struct rds_entry *e;
        long long offset, max;
        struct slot sl;
        size_t need;
        int rc = 0;

        (void)argc;
        if (!arg_ll(c, &argv[2], &offset))
                return;
        if (offset < 0) {
                rds_reply_error(&c->out, "ERR offset is out of range");
                return;
        }
        max = max_string_len();

        slot_lock(&sl, &argv[1]);
        e = slot_find(&sl, c);
        if (e && e->type != RDS_TYPE_STRING) {
                slot_unlock(&sl);
                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
                return;
        }
        if (v->len == 0) {
                slot_unlock(&sl);
                rds_reply_int(&c->out, e ? (long long)e->vlen : 0);
                return;
        }
        if (!check_string_length(c, max, offset, (long long)v->len)) {
                slot_unlock(&sl);
                return;
        }
        need = (size_t)offset + v->len;
        if (!e) {
                rc = slot_set(&sl, c, "", 0, 0, &e);
                if (rc == 0) {
                        rc = rds_store_resize_string(sl.s, c->db, sl.hash, &e,
                                                     need);
                        /* Leave nothing behind: the key did not exist. */
                        if (rc < 0)
                                rds_store_delete(sl.s, c->db, sl.key, sl.klen,
                                                 sl.hash, c->now_ms);
                }
        } else if (need > e->vlen) {
                rc = rds_store_resize_string(sl.s, c->db, sl.hash, &e, need);
        }
        if (rc == 0) {
                memcpy(rds_entry_val(e) + offset, v->p, v->len);
                need = e->vlen;
        }
        slot_unlock(&sl);
        if (rc < 0)
                reply_oom(c, false);
        else
                rds_reply_int(&c->out, (long long)need);
}

/* ---- Counters ------------------------------------------------------------------- */

/*
 * incr_generic - Redis's incrDecrCommand: the value must be a string
 * that string2ll accepts (a missing key counts as 0).  The new digits are
 * written in place; the key keeps its expiry.
 */
static void incr_generic(struct rds_client *c, const struct rds_arg *key,
                         long long incr)
{
        char buf[RDS_LONG_STR_SIZE];
        struct rds_entry *e;
        long long value = 0;
        struct slot sl;
        size_t len;
        int rc = 0;

        slot_lock(&sl, key);
        e = slot_find(&sl, c);
        if (e && e->type != RDS_TYPE_STRING) {
                slot_unlock(&sl);
                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
                return;
        }
        if (e && !rds_str2ll(rds_entry_val(e), e->vlen, &value)) {
                slot_unlock(&sl);
                rds_reply_error(&c->out, RDS_ERR_NOT_INT);
                return;
        }
        if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
            (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
                slot_unlock(&sl);
                rds_reply_error(&c->out, RDS_ERR_OVERFLOW);
                return;
        }
        value += incr;
        len = rds_ll2str(buf, value);
        rc = slot_store_number(&sl, c, e, buf, len);
        slot_unlock(&sl);
        if (rc < 0)
                reply_oom(c, false);
        else
                rds_reply_int(&c->out, value);
}

static void cmd_incr(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        (void)argc;
        incr_generic(c, &argv[1], 1);
}

static void cmd_decr(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        (void)argc;
        incr_generic(c, &argv[1], -1);
}

static void cmd_incrby(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        long long incr;

        (void)argc;
        if (arg_ll(c, &argv[2], &incr))
                incr_generic(c, &argv[1], incr);
}

static void cmd_decrby(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        long long decr;

        (void)argc;
        if (!arg_ll(c, &argv[2], &decr))
                return;
        /* -LLONG_MIN does not exist: Redis's own wording for it. */
        if (decr == LLONG_MIN) {
                rds_reply_error(&c->out, "ERR decrement would overflow");
                return;
        }
        incr_generic(c, &argv[1], -decr);
}

/*
 * INCRBYFLOAT: long double arithmetic and Redis's output (ld2string
 * LD_STR_HUMAN: "%.17Lf" without trailing zeros).  Both operands go
 * through string2ld's rules, the stored value first, as Redis does; the
 * key keeps its expiry.
 */
static void cmd_incrbyfloat(struct rds_client *c, int argc,
                            const struct rds_arg *argv)
{
        long double value = 0, incr;
        char buf[LD_STR_SIZE];
        struct rds_entry *e;
        struct slot sl;
        size_t len;
        int rc = 0;

        (void)argc;
        slot_lock(&sl, &argv[1]);
        e = slot_find(&sl, c);
        if (e && e->type != RDS_TYPE_STRING) {
                slot_unlock(&sl);
                rds_reply_error(&c->out, RDS_ERR_WRONGTYPE);
                return;
        }
        if ((e && !rds_str2ld(rds_entry_val(e), e->vlen, &value)) ||
            !rds_str2ld(argv[2].p, argv[2].len, &incr)) {
                slot_unlock(&sl);
                rds_reply_error(&c->out, RDS_ERR_NOT_FLOAT);
                return;
        }
        value += incr;
        len = isnan(value) || isinf(value)
                  ? 0
                  : rds_ld2str(buf, sizeof(buf), value);
        if (len == 0) {
                slot_unlock(&sl);
                rds_reply_error(&c->out,
                                "ERR increment would produce NaN or Infinity");
                return;
        }
        rc = slot_store_number(&sl, c, e, buf, len);
        slot_unlock(&sl);
        if (rc < 0)
                reply_oom(c, false);
        else
                rds_reply_bulk(&c->out, buf, len);
}

/* ---- The table ------------------------------------------------------------------- */

#define W RDS_CMD_WRITE
#define R RDS_CMD_READONLY
#define F RDS_CMD_FAST

const struct rds_command rds_string_commands[] = {
    {"get", cmd_get, 2, R | F, 1, 1, 1, "string", "1.0.0",
     "Get the value of a key", NULL},
    {"set", cmd_set, -3, W, 1, 1, 1, "string", "1.0.0",
     "Set the string value of a key", NULL},
    {"setnx", cmd_setnx, 3, W | F, 1, 1, 1, "string", "1.0.0",
     "Set the value of a key, only if the key does not exist", NULL},
    {"setex", cmd_setex, 4, W, 1, 1, 1, "string", "2.0.0",
     "Set the value and expiration of a key", NULL},
    {"psetex", cmd_psetex, 4, W, 1, 1, 1, "string", "2.6.0",
     "Set the value and expiration in milliseconds of a key", NULL},
    {"mget", cmd_mget, -2, R | F, 1, -1, 1, "string", "1.0.0",
     "Get the values of all the given keys", NULL},
    {"mset", cmd_mset, -3, W, 1, -1, 2, "string", "1.0.1",
     "Set multiple keys to multiple values", NULL},
    {"msetnx", cmd_msetnx, -3, W, 1, -1, 2, "string", "1.0.1",
     "Set multiple keys to multiple values, only if none of the keys "
     "exist",
     NULL},
    {"getset", cmd_getset, 3, W | F, 1, 1, 1, "string", "1.0.0",
     "Set the string value of a key and return its old value", NULL},
    {"getdel", cmd_getdel, 2, W | F, 1, 1, 1, "string", "6.2.0",
     "Get the value of a key and delete the key", NULL},
    {"getex", cmd_getex, -2, W | F, 1, 1, 1, "string", "6.2.0",
     "Get the value of a key and optionally set its expiration", NULL},
    {"append", cmd_append, 3, W | F, 1, 1, 1, "string", "2.0.0",
     "Append a value to a key", NULL},
    {"strlen", cmd_strlen, 2, R | F, 1, 1, 1, "string", "2.2.0",
     "Get the length of the value stored in a key", NULL},
    {"getrange", cmd_getrange, 4, R, 1, 1, 1, "string", "2.4.0",
     "Get a substring of the string stored at a key", NULL},
    {"substr", cmd_getrange, 4, R, 1, 1, 1, "string", "1.0.0",
     "Get a substring of the string stored at a key", NULL},
    {"setrange", cmd_setrange, 4, W, 1, 1, 1, "string", "2.2.0",
     "Overwrite part of a string at key starting at the specified offset",
     NULL},
    {"incr", cmd_incr, 2, W | F, 1, 1, 1, "string", "1.0.0",
     "Increment the integer value of a key by one", NULL},
    {"decr", cmd_decr, 2, W | F, 1, 1, 1, "string", "1.0.0",
     "Decrement the integer value of a key by one", NULL},
    {"incrby", cmd_incrby, 3, W | F, 1, 1, 1, "string", "1.0.0",
     "Increment the integer value of a key by the given amount", NULL},
    {"decrby", cmd_decrby, 3, W | F, 1, 1, 1, "string", "1.0.0",
     "Decrement the integer value of a key by the given number", NULL},
    {"incrbyfloat", cmd_incrbyfloat, 3, W | F, 1, 1, 1, "string", "2.6.0",
     "Increment the float value of a key by the given amount", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL},
};
