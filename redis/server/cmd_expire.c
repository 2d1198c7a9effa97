/*
 * redis/server/cmd_expire.c - key expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT
 * (with Redis 7's NX/XX/GT/LT), TTL PTTL EXPIRETIME PEXPIRETIME, PERSIST;
 * Redis 7.0's replies and errors (expire.c).
 *
 * Every expiry is an absolute Unix time in milliseconds in the entry
 * (store.h; 0 means none).  The relative commands add the command's clock
 * (c->now_ms), so a pipeline of commands sees one consistent "now" per
 * command.  A time that is already past deletes the key on the spot and
 * answers 1, as Redis does; since every time that gets stored is later
 * than now, it is never 0 (which would read as "no expiry").
 *
 * The store treats an entry whose time has come as absent on every lookup
 * (lazy expiry) and a background task reclaims the others (active
 * expiry, rds_store_expire_cycle), so TTL never reports a key that GET
 * would not return.
 *
 * Statistics: TTL, PTTL, EXPIRETIME and PEXPIRETIME count keyspace
 * hits/misses (Redis looks the key up with lookupKeyRead); the writers do
 * not.
 */
#include <limits.h>
#include <string.h>

#include "resp.h"
#include "server.h"
#include "store.h"
#include "util.h"

enum {
        EXP_NX = 1u << 0,
        EXP_XX = 1u << 1,
        EXP_GT = 1u << 2,
        EXP_LT = 1u << 3,
};

/*
 * parse_expire_flags - Redis's parseExtendedExpireArgumentsOrReply: every
 * argument from argv[3] is NX, XX, GT or LT (compared as a C string, as
 * Redis does), then the incompatible pairs are refused.  These checks come
 * before the time is parsed, as in Redis.
 */
static bool parse_expire_flags(struct rds_client *c, int argc,
                               const struct rds_arg *argv, unsigned *flags)
{
        unsigned f = 0;

        for (int j = 3; j < argc; j++) {
                const struct rds_arg *a = &argv[j];
                size_t n = strnlen((const char *)a->p, a->len);

                if (rds_arg_is(a->p, n, "nx")) {
                        f |= EXP_NX;
                } else if (rds_arg_is(a->p, n, "xx")) {
                        f |= EXP_XX;
                } else if (rds_arg_is(a->p, n, "gt")) {
                        f |= EXP_GT;
                } else if (rds_arg_is(a->p, n, "lt")) {
                        f |= EXP_LT;
                } else {
                        rds_reply_errorf(&c->out, "ERR Unsupported option %.*s",
                                         (int)n, (const char *)a->p);
                        return false;
                }
        }
        if ((f & EXP_NX) && (f & (EXP_XX | EXP_GT | EXP_LT))) {
                rds_reply_error(&c->out, "ERR NX and XX, GT or LT options at "
                                         "the same time are not compatible");
                return false;
        }
        if ((f & EXP_GT) && (f & EXP_LT)) {
                rds_reply_error(&c->out, "ERR GT and LT options at the same "
                                         "time are not compatible");
                return false;
        }
        *flags = f;
        return true;
}

/*
 * expire_generic - Redis's expireGenericCommand: @basetime is the
 * command's clock for the relative forms and 0 for the *AT ones; @seconds
 * says the argument's unit; @cmd names the command in the error.
 *
 * GT and LT read "no expiry" as an infinite TTL: GT never succeeds on a
 * key without one, LT always does.
 */
static void expire_generic(struct rds_client *c, int argc,
                           const struct rds_arg *argv, int64_t basetime,
                           bool seconds, const char *cmd)
{
        struct rds_store *s = rds_srv->store;
        const struct rds_arg *k = &argv[1];
        struct rds_entry *e;
        long long when;
        unsigned flags;
        bool ok = true;
        uint64_t h;
        unsigned sh;

        if (!parse_expire_flags(c, argc, argv, &flags))
                return;
        if (!rds_str2ll(argv[2].p, argv[2].len, &when)) {
                rds_reply_error(&c->out, RDS_ERR_NOT_INT);
                return;
        }
        /* Negative times are allowed (they delete the key), overflows are
         * not. */
        if (seconds) {
                if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
                        goto invalid;
                when *= 1000;
        }
        if (when > LLONG_MAX - basetime)
                goto invalid;
        when += basetime;

        h = rds_store_hash(s, k->p, k->len);
        sh = rds_store_shard_of(s, h);
        rds_store_lock(s, sh);
        e = rds_store_find(s, c->db, k->p, k->len, h, c->now_ms);
        if (e && flags) {
                /* -1 for "none", as Redis's getExpire. */
                long long cur = e->expire_ms ? e->expire_ms : -1;

                if ((flags & EXP_NX) && cur != -1)
                        ok = false;
                if ((flags & EXP_XX) && cur == -1)
                        ok = false;
                if ((flags & EXP_GT) && (when <= cur || cur == -1))
                        ok = false;
                if ((flags & EXP_LT) && cur != -1 && when >= cur)
                        ok = false;
        }
        if (e && ok) {
                if (when <= c->now_ms)
                        rds_store_delete(s, c->db, k->p, k->len, h, c->now_ms);
                else
                        rds_store_set_expire(s, c->db, h, e, when);
        }
        rds_store_unlock(s, sh);
        rds_reply_int(&c->out, e && ok);
        return;
invalid:
        rds_reply_errorf(&c->out, "ERR invalid expire time in '%s' command",
                         cmd);
}

static void cmd_expire(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        expire_generic(c, argc, argv, c->now_ms, true, "expire");
}

static void cmd_pexpire(struct rds_client *c, int argc,
                        const struct rds_arg *argv)
{
        expire_generic(c, argc, argv, c->now_ms, false, "pexpire");
}

static void cmd_expireat(struct rds_client *c, int argc,
                         const struct rds_arg *argv)
{
        expire_generic(c, argc, argv, 0, true, "expireat");
}

static void cmd_pexpireat(struct rds_client *c, int argc,
                          const struct rds_arg *argv)
{
        expire_generic(c, argc, argv, 0, false, "pexpireat");
}

/*
 * ttl_generic - Redis's ttlGenericCommand: -2 for a missing key, -1 for
 * no expiry, else the time left (@abs: the expiry itself), in ms or in
 * seconds rounded to the nearest (@ms false).
 */
static void ttl_generic(struct rds_client *c, const struct rds_arg *k, bool ms,
                        bool abs)
{
        struct rds_store *s = rds_srv->store;
        uint64_t h = rds_store_hash(s, k->p, k->len);
        unsigned sh = rds_store_shard_of(s, h);
        struct rds_entry *e;
        long long ttl = -2;

        rds_store_lock(s, sh);
        e = rds_store_find(s, c->db, k->p, k->len, h, c->now_ms);
        if (e && !e->expire_ms) {
                ttl = -1;
        } else if (e) {
                ttl = abs ? e->expire_ms : e->expire_ms - c->now_ms;
                if (ttl < 0)
                        ttl = 0;
                /* Unsigned: EXPIRETIME of a time near LLONG_MAX must not
                 * overflow (Redis answers the rounded-up value). */
                if (!ms)
                        ttl =
                            (long long)(((unsigned long long)ttl + 500) / 1000);
        }
        rds_store_unlock(s, sh);

        struct rds_stats *st = rds_stats_local();
        rds_stat_add(e ? &st->keyspace_hits : &st->keyspace_misses, 1);
        rds_reply_int(&c->out, ttl);
}

static void cmd_ttl(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        (void)argc;
        ttl_generic(c, &argv[1], false, false);
}

static void cmd_pttl(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        (void)argc;
        ttl_generic(c, &argv[1], true, false);
}

static void cmd_expiretime(struct rds_client *c, int argc,
                           const struct rds_arg *argv)
{
        (void)argc;
        ttl_generic(c, &argv[1], false, true);
}

static void cmd_pexpiretime(struct rds_client *c, int argc,
                            const struct rds_arg *argv)
{
        (void)argc;
        ttl_generic(c, &argv[1], true, true);
}

/* PERSIST: 1 if an expiry was removed, 0 if the key is missing or has
 * none. */
static void cmd_persist(struct rds_client *c, int argc,
                        const struct rds_arg *argv)
{
        struct rds_store *s = rds_srv->store;
        const struct rds_arg *k = &argv[1];
        uint64_t h = rds_store_hash(s, k->p, k->len);
        unsigned sh = rds_store_shard_of(s, h);
        struct rds_entry *e;
        bool removed = false;

        (void)argc;
        rds_store_lock(s, sh);
        e = rds_store_find(s, c->db, k->p, k->len, h, c->now_ms);
        if (e && e->expire_ms) {
                rds_store_set_expire(s, c->db, h, e, 0);
                removed = true;
        }
        rds_store_unlock(s, sh);
        rds_reply_int(&c->out, removed);
}

#define W RDS_CMD_WRITE
#define R RDS_CMD_READONLY
#define F RDS_CMD_FAST

const struct rds_command rds_expire_commands[] = {
    {"expire", cmd_expire, -3, W | F, 1, 1, 1, "generic", "1.0.0",
     "Set a key's time to live in seconds", NULL},
    {"pexpire", cmd_pexpire, -3, W | F, 1, 1, 1, "generic", "2.6.0",
     "Set a key's time to live in milliseconds", NULL},
    {"expireat", cmd_expireat, -3, W | F, 1, 1, 1, "generic", "1.2.0",
     "Set the expiration for a key as a UNIX timestamp", NULL},
    {"pexpireat", cmd_pexpireat, -3, W | F, 1, 1, 1, "generic", "2.6.0",
     "Set the expiration for a key as a UNIX timestamp specified in "
     "milliseconds",
     NULL},
    {"ttl", cmd_ttl, 2, R | F, 1, 1, 1, "generic", "1.0.0",
     "Get the time to live for a key in seconds", NULL},
    {"pttl", cmd_pttl, 2, R | F, 1, 1, 1, "generic", "2.6.0",
     "Get the time to live for a key in milliseconds", NULL},
    {"expiretime", cmd_expiretime, 2, R | F, 1, 1, 1, "generic", "7.0.0",
     "Get the expiration Unix timestamp for a key", NULL},
    {"pexpiretime", cmd_pexpiretime, 2, R | F, 1, 1, 1, "generic", "7.0.0",
     "Get the expiration Unix timestamp for a key in milliseconds", NULL},
    {"persist", cmd_persist, 2, W | F, 1, 1, 1, "generic", "2.2.0",
     "Remove the expiration from a key", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL},
};
