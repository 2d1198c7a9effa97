/*
 * redis/server/cmd_keys.c - the keyspace commands that work on keys of any
 * type: DEL UNLINK EXISTS TOUCH TYPE KEYS SCAN RENAME RENAMENX RANDOMKEY
 * COPY MOVE, with Redis 7.0's replies and errors (db.c); and struct
 * rds_keyset, the helper every multi-key command uses (server.h).
 *
 * Atomicity.  A command on several keys hashes them once into a struct
 * rds_keyset and locks all their shards in ascending order
 * (rds_store_lock_set), so it is one atomic step for every other client
 * and cannot deadlock with another multi-key command.  RENAME and COPY
 * lock the shards of both names; MOVE and COPY ... DB n need nothing more,
 * since a key lives in the same shard in every database (store.h).
 *
 * Whole-keyspace reads (KEYS, SCAN) go through the store's iterators,
 * which lock one shard at a time and call back under that lock; the
 * callbacks only match and copy the key into a private reply buffer, whose
 * bulk strings then go out after an array header once the count is known
 * (RESP2 and RESP3 encode bulk strings alike).  The iterators skip expired
 * keys, so KEYS, SCAN and RANDOMKEY never return one, even before active
 * expiry reclaims it.  KEYS is not atomic over the database, as in Redis
 * it blocks the server instead: here other clients keep running.
 *
 * Statistics: EXISTS, TOUCH, TYPE, COPY's source and SCAN's TYPE filter
 * count keyspace hits/misses, as Redis's lookupKeyRead does for them.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resp.h"
#include "server.h"
#include "store.h"
#include "util.h"

/* ---- struct rds_keyset ------------------------------------------------------- */

int rds_keyset_init(struct rds_keyset *ks, const struct rds_store *s,
                    const struct rds_arg *keys, size_t n, size_t step)
{
        ks->n = n;
        ks->hash = ks->inline_hash;
        if (n > RDS_KEYSET_INLINE) {
                ks->hash = malloc(n * sizeof(*ks->hash));
                if (!ks->hash)
                        return -ENOMEM;
        }
        rds_lockset_clear(&ks->ls);
        for (size_t i = 0; i < n; i++) {
                const struct rds_arg *k = &keys[i * step];
                uint64_t h = rds_store_hash(s, k->p, k->len);

                ks->hash[i] = h;
                rds_lockset_add(&ks->ls, rds_store_shard_of(s, h));
        }
        return 0;
}

void rds_keyset_free(struct rds_keyset *ks)
{
        if (ks->hash != ks->inline_hash)
                free(ks->hash);
        ks->hash = NULL;
}

/* ---- Helpers ----------------------------------------------------------------- */

static void count_lookups(uint64_t hits, uint64_t misses)
{
        struct rds_stats *st = rds_stats_local();

        if (hits)
                rds_stat_add(&st->keyspace_hits, hits);
        if (misses)
                rds_stat_add(&st->keyspace_misses, misses);
}

/* An argument as Redis's C-string view of it: up to its first NUL. */
static size_t cstr_len(const struct rds_arg *a)
{
        return strnlen((const char *)a->p, a->len);
}

static bool opt_is(const struct rds_arg *a, const char *lit)
{
        return rds_arg_is(a->p, cstr_len(a), lit);
}

static bool same_key(const struct rds_arg *a, const struct rds_arg *b)
{
        return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Redis's getObjectTypeName. */
static const char *type_name(unsigned type)
{
        switch (type) {
        case RDS_TYPE_STRING:
                return "string";
        default:
                return "unknown";
        }
}

/* getIntFromObjectOrReply, with both of Redis's error texts. */
static bool arg_int(struct rds_client *c, const struct rds_arg *a, int *out)
{
        long long v;

        if (!rds_str2ll(a->p, a->len, &v)) {
                rds_reply_error(&c->out, RDS_ERR_NOT_INT);
                return false;
        }
        if (v < INT_MIN || v > INT_MAX) {
                rds_reply_error(&c->out,
                                "ERR value is out of range, value must between "
                                "-2147483648 and 2147483647");
                return false;
        }
        *out = (int)v;
        return true;
}

/* A database number for COPY ... DB and MOVE: an int, then in range. */
static bool arg_db(struct rds_client *c, const struct rds_arg *a, int *db)
{
        if (!arg_int(c, a, db))
                return false;
        if (*db < 0 || (unsigned)*db >= rds_store_ndbs(rds_srv->store)) {
                rds_reply_error(&c->out, RDS_ERR_DB_INDEX);
                return false;
        }
        return true;
}

/* Lock the shards of @n keys argv[0..n); false (OOM replied) on failure. */
static bool lock_keys(struct rds_client *c, struct rds_keyset *ks,
                      const struct rds_arg *keys, size_t n)
{
        if (rds_keyset_init(ks, rds_srv->store, keys, n, 1) < 0) {
                rds_reply_error(&c->out, RDS_ERR_OOM);
                return false;
        }
        rds_store_lock_set(rds_srv->store, &ks->ls);
        return true;
}

static void unlock_keys(struct rds_keyset *ks)
{
        rds_store_unlock_set(rds_srv->store, &ks->ls);
        rds_keyset_free(ks);
}

/* ---- DEL UNLINK EXISTS TOUCH TYPE ------------------------------------------------ */

/* DEL and UNLINK (freeing is cheap enough to do inline: no lazy free). */
static void cmd_del(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        struct rds_store *s = rds_srv->store;
        size_t n = (size_t)argc - 1;
        struct rds_keyset ks;
        long long deleted = 0;

        if (!lock_keys(c, &ks, &argv[1], n))
                return;
        for (size_t i = 0; i < n; i++)
                deleted +=
                    rds_store_delete(s, c->db, argv[1 + i].p, argv[1 + i].len,
                                     ks.hash[i], c->now_ms);
        unlock_keys(&ks);
        rds_reply_int(&c->out, deleted);
}

/* EXISTS and TOUCH: how many of the keys exist, a repeated key counted
 * each time (there is no LRU clock for TOUCH to update). */
static void cmd_exists(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        struct rds_store *s = rds_srv->store;
        size_t n = (size_t)argc - 1;
        struct rds_keyset ks;
        long long found = 0;

        if (!lock_keys(c, &ks, &argv[1], n))
                return;
        for (size_t i = 0; i < n; i++)
                found +=
                    rds_store_find(s, c->db, argv[1 + i].p, argv[1 + i].len,
                                   ks.hash[i], c->now_ms) != NULL;
        unlock_keys(&ks);
        count_lookups((uint64_t)found, n - (uint64_t)found);
        rds_reply_int(&c->out, found);
}

static void cmd_type(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        struct rds_store *s = rds_srv->store;
        const struct rds_arg *k = &argv[1];
        uint64_t h = rds_store_hash(s, k->p, k->len);
        unsigned sh = rds_store_shard_of(s, h);
        const char *name = "none";
        struct rds_entry *e;

        (void)argc;
        rds_store_lock(s, sh);
        e = rds_store_find(s, c->db, k->p, k->len, h, c->now_ms);
        if (e)
                name = type_name(e->type);
        rds_store_unlock(s, sh);
        count_lookups(e != NULL, e == NULL);
        rds_reply_simple(&c->out, name);
}

/* ---- KEYS and SCAN ------------------------------------------------------------- */

/* What a KEYS or SCAN callback collects: matching keys as bulk strings. */
struct collect {
        struct rds_out out; /* the encoded keys */
        size_t n;           /* how many */
        const unsigned char *pat;
        size_t plen;
        bool all; /* the pattern is "*" (or absent): no matching */
        const unsigned char *type;
        size_t tlen;
        uint64_t typed; /* entries the TYPE filter looked at */
};

static void collect_init(struct collect *k)
{
        memset(k, 0, sizeof(*k));
        rds_out_init(&k->out);
        k->all = true;
}

static void collect_set_pattern(struct collect *k, const struct rds_arg *pat)
{
        k->pat = pat->p;
        k->plen = pat->len;
        k->all = pat->len == 1 && pat->p[0] == '*';
}

/* Under the entry's shard lock (rds_store_foreach / rds_store_scan). */
static void collect_visit(void *ctx, const struct rds_entry *e)
{
        struct collect *k = ctx;

        if (!k->all &&
            !rds_glob_match(k->pat, k->plen, rds_entry_key(e), e->klen, false))
                return;
        if (k->type) {
                const char *name = type_name(e->type);

                k->typed++;
                if (k->tlen != strlen(name) ||
                    strncasecmp((const char *)k->type, name, k->tlen) != 0)
                        return;
        }
        rds_reply_bulk(&k->out, rds_entry_key(e), e->klen);
        k->n++;
}

/* Reply the collected keys as an array (or OOM if the buffer failed). */
static bool collect_reply(struct rds_client *c, struct collect *k)
{
        if (k->out.err) {
                rds_reply_error(&c->out, RDS_ERR_OOM);
                return false;
        }
        rds_reply_array_len(&c->out, k->n);
        if (k->n)
                rds_reply_raw(&c->out, task_buf_data(&k->out.buf),
                              task_buf_len(&k->out.buf));
        return true;
}

static void cmd_keys(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        struct collect k;

        (void)argc;
        collect_init(&k);
        collect_set_pattern(&k, &argv[1]);
        rds_store_foreach(rds_srv->store, c->db, c->now_ms, collect_visit, &k);
        collect_reply(c, &k);
        rds_out_free(&k.out);
}

/*
 * parse_cursor - Redis's parseScanCursorOrReply, which uses strtoul on the
 * argument as a C string: leading whitespace refused, a sign allowed ("-1"
 * wraps around, as strtoul does), trailing garbage refused, overflow
 * refused, and the empty string is cursor 0.
 */
static bool parse_cursor(const struct rds_arg *a, uint64_t *out)
{
        size_t len = cstr_len(a), i = 0;
        const unsigned char *p = a->p;
        bool neg = false;
        uint64_t v = 0;

        if (len == 0) {
                *out = 0;
                return true;
        }
        if (isspace(p[0]))
                return false;
        if (p[0] == '+' || p[0] == '-') {
                neg = p[0] == '-';
                i++;
        }
        if (i == len || !isdigit(p[i]))
                return false;
        for (; i < len && isdigit(p[i]); i++) {
                unsigned d = p[i] - '0';

                if (v > (UINT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        if (i != len)
                return false;
        *out = neg ? -v : v;
        return true;
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
static void cmd_scan(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        char buf[RDS_LONG_STR_SIZE];
        long long count = 10;
        uint64_t cursor;
        struct collect k;
        int len;

        if (!parse_cursor(&argv[1], &cursor)) {
                rds_reply_error(&c->out, "ERR invalid cursor");
                return;
        }
        collect_init(&k);
        for (int i = 2; i < argc; i += 2) {
                bool has_value = argc - i >= 2;

                if (has_value && opt_is(&argv[i], "count")) {
                        if (!rds_str2ll(argv[i + 1].p, argv[i + 1].len,
                                        &count)) {
                                rds_reply_error(&c->out, RDS_ERR_NOT_INT);
                                goto out;
                        }
                        if (count < 1)
                                goto syntax;
                } else if (has_value && opt_is(&argv[i], "match")) {
                        collect_set_pattern(&k, &argv[i + 1]);
                } else if (has_value && opt_is(&argv[i], "type")) {
                        k.type = argv[i + 1].p;
                        k.tlen = cstr_len(&argv[i + 1]);
                } else {
                        goto syntax;
                }
        }

        cursor = rds_store_scan(rds_srv->store, c->db, cursor, (size_t)count,
                                c->now_ms, collect_visit, &k);
        /* A TYPE filter looks each key up in Redis: counted as hits. */
        count_lookups(k.typed, 0);
        if (k.out.err) {
                rds_reply_error(&c->out, RDS_ERR_OOM);
                goto out;
        }
        rds_reply_array_len(&c->out, 2);
        len = snprintf(buf, sizeof(buf), "%" PRIu64, cursor);
        rds_reply_bulk(&c->out, buf, (size_t)len);
        collect_reply(c, &k);
        goto out;
syntax:
        rds_reply_error(&c->out, RDS_ERR_SYNTAX);
out:
        rds_out_free(&k.out);
}

static void cmd_randomkey(struct rds_client *c, int argc,
                          const struct rds_arg *argv)
{
        unsigned char *key;
        size_t klen;
        int rc;

        (void)argc;
        (void)argv;
        rc =
            rds_store_random_key(rds_srv->store, c->db, c->now_ms, &key, &klen);
        if (rc < 0) {
                rds_reply_error(&c->out, RDS_ERR_OOM);
        } else if (rc == 0) {
                rds_reply_null(&c->out);
        } else {
                rds_reply_bulk(&c->out, key, klen);
                free(key);
        }
}

/* ---- RENAME COPY MOVE ------------------------------------------------------------ */

/*
 * RENAME and RENAMENX (Redis's renameGenericCommand): a missing source is
 * an error even when both names are the same; the key keeps its value and
 * expiry under the new name, replacing whatever the new name held (RENAME)
 * or giving up if it exists (RENAMENX).
 */
static void rename_generic(struct rds_client *c, const struct rds_arg *argv,
                           bool nx)
{
        const struct rds_arg *src = &argv[1], *dst = &argv[2];
        struct rds_store *s = rds_srv->store;
        struct rds_keyset ks;
        struct rds_entry *e;
        int rc = 0;

        if (!lock_keys(c, &ks, src, 2))
                return;
        e = rds_store_find(s, c->db, src->p, src->len, ks.hash[0], c->now_ms);
        if (!e) {
                unlock_keys(&ks);
                rds_reply_error(&c->out, RDS_ERR_NO_KEY);
                return;
        }
        if (same_key(src, dst)) {
                rc = -EEXIST; /* nothing to do: RENAMENX says 0 */
        } else if (nx && rds_store_find(s, c->db, dst->p, dst->len, ks.hash[1],
                                        c->now_ms)) {
                rc = -EEXIST;
        } else {
                rc = rds_store_insert_copy(s, c->db, dst->p, dst->len,
                                           ks.hash[1], e, true);
                if (rc == 0)
                        rds_store_delete(s, c->db, src->p, src->len, ks.hash[0],
                                         c->now_ms);
        }
        unlock_keys(&ks);
        if (rc == -ENOMEM)
                rds_reply_error(&c->out, RDS_ERR_OOM);
        else if (nx)
                rds_reply_int(&c->out, rc == 0);
        else
                rds_reply_ok(&c->out);
}

static void cmd_rename(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        (void)argc;
        rename_generic(c, argv, false);
}

static void cmd_renamenx(struct rds_client *c, int argc,
                         const struct rds_arg *argv)
{
        (void)argc;
        rename_generic(c, argv, true);
}

/* COPY source destination [DB destination-db] [REPLACE] */
static void cmd_copy(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        const struct rds_arg *src = &argv[1], *dst = &argv[2];
        struct rds_store *s = rds_srv->store;
        struct rds_keyset ks;
        bool replace = false;
        struct rds_entry *e;
        int db = c->db, rc;

        for (int j = 3; j < argc; j++) {
                if (opt_is(&argv[j], "replace")) {
                        replace = true;
                } else if (opt_is(&argv[j], "db") && argc - j - 1 >= 1) {
                        if (!arg_db(c, &argv[j + 1], &db))
                                return;
                        j++;
                } else {
                        rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                        return;
                }
        }
        if (db == c->db && same_key(src, dst)) {
                rds_reply_error(&c->out,
                                "ERR source and destination objects are the "
                                "same");
                return;
        }

        if (!lock_keys(c, &ks, src, 2))
                return;
        e = rds_store_find(s, c->db, src->p, src->len, ks.hash[0], c->now_ms);
        count_lookups(e != NULL, e == NULL);
        if (!e)
                rc = -ENOENT;
        else if (!replace &&
                 rds_store_find(s, db, dst->p, dst->len, ks.hash[1], c->now_ms))
                rc = -EEXIST;
        else
                rc = rds_store_insert_copy(s, db, dst->p, dst->len, ks.hash[1],
                                           e, replace);
        unlock_keys(&ks);
        if (rc == -ENOMEM)
                rds_reply_error(&c->out, RDS_ERR_OOM);
        else
                rds_reply_int(&c->out, rc == 0);
}

/* MOVE key db: the key keeps its shard (store.h), so one lock is enough. */
static void cmd_move(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        struct rds_store *s = rds_srv->store;
        const struct rds_arg *k = &argv[1];
        struct rds_entry *e;
        uint64_t h;
        unsigned sh;
        int db, rc;

        (void)argc;
        if (!arg_db(c, &argv[2], &db))
                return;
        if (db == c->db) {
                rds_reply_error(&c->out,
                                "ERR source and destination objects are the "
                                "same");
                return;
        }
        h = rds_store_hash(s, k->p, k->len);
        sh = rds_store_shard_of(s, h);
        rds_store_lock(s, sh);
        e = rds_store_find(s, c->db, k->p, k->len, h, c->now_ms);
        if (!e)
                rc = -ENOENT;
        else if (rds_store_find(s, db, k->p, k->len, h, c->now_ms))
                rc = -EEXIST;
        else
                rc = rds_store_insert_copy(s, db, k->p, k->len, h, e, false);
        if (rc == 0)
                rds_store_delete(s, c->db, k->p, k->len, h, c->now_ms);
        rds_store_unlock(s, sh);
        if (rc == -ENOMEM)
                rds_reply_error(&c->out, RDS_ERR_OOM);
        else
                rds_reply_int(&c->out, rc == 0);
}

/* ---- The table ------------------------------------------------------------------- */

#define W RDS_CMD_WRITE
#define R RDS_CMD_READONLY
#define F RDS_CMD_FAST

const struct rds_command rds_keys_commands[] = {
    {"del", cmd_del, -2, W, 1, -1, 1, "generic", "1.0.0", "Delete a key", NULL},
    {"unlink", cmd_del, -2, W | F, 1, -1, 1, "generic", "4.0.0",
     "Delete a key asynchronously in another thread. Otherwise it is just "
     "as DEL, but non blocking.",
     NULL},
    {"exists", cmd_exists, -2, R | F, 1, -1, 1, "generic", "1.0.0",
     "Determine if a key exists", NULL},
    {"touch", cmd_exists, -2, R | F, 1, -1, 1, "generic", "3.2.1",
     "Alters the last access time of a key(s). Returns the number of "
     "existing keys specified.",
     NULL},
    {"type", cmd_type, 2, R | F, 1, 1, 1, "generic", "1.0.0",
     "Determine the type stored at key", NULL},
    {"keys", cmd_keys, 2, R, 0, 0, 0, "generic", "1.0.0",
     "Find all keys matching the given pattern", NULL},
    {"scan", cmd_scan, -2, R, 0, 0, 0, "generic", "2.8.0",
     "Incrementally iterate the keys space", NULL},
    {"randomkey", cmd_randomkey, 1, R, 0, 0, 0, "generic", "1.0.0",
     "Return a random key from the keyspace", NULL},
    {"rename", cmd_rename, 3, W, 1, 2, 1, "generic", "1.0.0", "Rename a key",
     NULL},
    {"renamenx", cmd_renamenx, 3, W | F, 1, 2, 1, "generic", "1.0.0",
     "Rename a key, only if the new key does not exist", NULL},
    {"copy", cmd_copy, -3, W, 1, 2, 1, "generic", "6.2.0", "Copy a key", NULL},
    {"move", cmd_move, 3, W | F, 1, 1, 1, "generic", "1.0.0",
     "Move a key to another database", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL},
};
