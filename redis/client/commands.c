/*
 * redis/client/commands.c - the typed helpers of libtask/redis_cmd.h: PING,
 * GET, SET, DEL, INCR, INCRBY, EXPIRE, PUBLISH over task_redis_cmd_poll.
 *
 * Each helper is a thin poll function with no state of its own: the call's
 * state is the command's, in the caller's op, driven by
 * task_redis_cmd_poll.  On every poll the helper validates its arguments
 * and builds the command's argv on the stack (a few pointers and at most
 * two integers formatted into stack buffers), then polls the command;
 * task_redis_cmd_poll reads and copies the argv at its first poll only.
 * When the command is done the helper turns the reply into the typed
 * output:
 *  - an error reply: task_redis__set_error() keeps its text for
 *    task_redis_last_error(), *rc = -EREMOTEIO;
 *  - a reply of a type the command never answers with: -EPROTO (the reply
 *    was read whole, so the connection stays in step);
 *  - otherwise the output, and the reply is freed -- except GET's (and
 *    SET ... GET's) string, which is handed to the caller as is.
 *
 * Invariants: invalid arguments are refused before any I/O, at the first
 * poll (so a cancelling poll with bad arguments simply reports "not
 * ready").  The arguments are read at the first poll only (the header lets
 * them be temporaries: a local array or struct of the caller's poll
 * function is garbage at its later polls): once the command has started
 * (op->lc != 0) a helper neither checks nor reads them, and hands
 * task_redis_cmd_poll a stub argv, which it ignores after its first poll.
 * What a helper needs of its arguments to judge the reply (SET's flags,
 * PING's echo) it keeps in op->scratch[], which the client does not use
 * for a command; it reads it back before the poll that may zero the op.
 * Nothing is allocated but the reply (DEL with more than DEL_STACK keys
 * aside: a temporary argv at its first poll, freed before it returns).
 *
 * Called by: applications, task-redis-cli (redis/tools/cli.c) and the
 * blocking client (blocking.c), from inside a task.
 */
#include "client-priv.h"

#include <libtask/redis_cmd.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* DEL builds its argv on the stack for up to this many keys. */
#define DEL_STACK 64

/* Room for an int64_t in decimal: sign, 19 digits, NUL. */
#define I64_CHARS 21

/* ---- Helpers ---------------------------------------------------------------- */

/* @v in decimal into @buf (I64_CHARS bytes); returns the length. */
static size_t fmt_i64(char *buf, int64_t v)
{
        char tmp[I64_CHARS];
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        size_t n = 0, len = 0;

        do {
                tmp[n++] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                buf[len++] = '-';
        while (n)
                buf[len++] = tmp[--n];
        buf[len] = '\0';
        return len;
}

/* The helper's command has started: its arguments were read and must not
 * be read again (the head of this file). */
static bool started(const struct task_redis_op *op)
{
        return op && op->lc != 0;
}

/* The argv handed to task_redis_cmd_poll once the command has started
 * (read by nobody: the command was copied at its first poll). */
static const char *const stub_argv[1] = {"?"};
static const size_t stub_lens[1] = {1};

/* FNV-1a of @len bytes at @p (PING's echo, remembered across polls). */
static uint64_t fnv1a(const char *p, size_t len)
{
        uint64_t h = 14695981039346656037ull;

        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char)p[i];
                h *= 1099511628211ull;
        }
        return h;
}

/* A string argument is valid unless it is NULL with a non-zero length. */
static bool str_ok(const char *p, size_t len)
{
        return p || len == 0;
}

/*
 * Invalid arguments: *rc = -EINVAL and "done", no I/O.  A cancelling look
 * reports "not ready" instead, as every libtask poll does (a call with
 * invalid arguments never started, so there is nothing to cancel).
 */
static bool reject(struct task_cx *cx, int *rc)
{
        if (cx && cx->cancelling)
                return false;
        if (rc)
                *rc = -EINVAL;
        return true;
}

/*
 * Poll the command; true when it is done, with *reply the reply (not an
 * error value: that becomes -EREMOTEIO here) or *rc < 0 and *reply NULL.
 */
static bool run(struct task_cx *cx, task_redis *c, struct task_redis_op *op,
                int argc, const char *const *argv, const size_t *lens,
                struct task_redis_value **reply, int *rc)
{
        *reply = NULL;
        if (!task_redis_cmd_poll(cx, c, op, argc, argv, lens, reply, rc))
                return false;
        if (*rc < 0) {
                *reply = NULL;
                return true;
        }
        if (*reply && (*reply)->type == TASK_REDIS_ERROR) {
                task_redis__set_error(c, *reply);
                task_redis_value_free(*reply);
                *reply = NULL;
                *rc = -EREMOTEIO;
                return true;
        }
        if (!*reply) /* cannot happen with rc 0; never trust it blindly */
                *rc = -EPROTO;
        return true;
}

/* The reply must be an integer: *out = it, or -EPROTO.  Frees the reply. */
static void take_int(struct task_redis_value *v, int64_t *out, int *rc)
{
        if (v->type != TASK_REDIS_INTEGER)
                *rc = -EPROTO;
        else if (out)
                *out = v->integer;
        task_redis_value_free(v);
}

/* A one-key command with an integer reply (INCR, ...). */
static bool int_cmd(struct task_cx *cx, task_redis *c, struct task_redis_op *op,
                    int argc, const char *const *argv, const size_t *lens,
                    int64_t *out, int *rc)
{
        struct task_redis_value *v;

        if (!run(cx, c, op, argc, argv, lens, &v, rc))
                return false;
        if (*rc == 0)
                take_int(v, out, rc);
        return true;
}

/* ---- PING ------------------------------------------------------------------ */

bool task_redis_ping_poll(struct task_cx *cx, task_redis *c,
                          struct task_redis_op *op, const char *msg, size_t len,
                          int *rc)
{
        const char *argv[2] = {"PING", msg};
        size_t lens[2] = {4, len};
        struct task_redis_value *v;
        bool echo;
        uint64_t hash;

        if (!(cx && c && op && rc && (started(op) || msg || len == 0)))
                return reject(cx, rc);
        if (!started(op)) {
                /* The echo to expect, kept for the later polls. */
                op->scratch[1] = msg != NULL;
                op->scratch[2] = (int64_t)len;
                op->scratch[3] = (int64_t)(msg ? fnv1a(msg, len) : 0);
        }
        echo = op->scratch[1] != 0;
        len = (size_t)op->scratch[2];
        hash = (uint64_t)op->scratch[3];
        if (!run(cx, c, op, echo ? 2 : 1, argv, lens, &v, rc))
                return false;
        if (*rc < 0)
                return true;
        if (!echo) {
                /* +PONG (RESP2 and RESP3 alike). */
                if (v->type != TASK_REDIS_STATUS || v->len != 4 ||
                    memcmp(v->str, "PONG", 4) != 0)
                        *rc = -EPROTO;
        } else if ((v->type != TASK_REDIS_STRING &&
                    v->type != TASK_REDIS_STATUS) ||
                   v->len != len || fnv1a(v->str, v->len) != hash) {
                *rc = -EPROTO; /* not our echo */
        }
        task_redis_value_free(v);
        return true;
}

/* ---- GET ------------------------------------------------------------------- */

bool task_redis_get_poll(struct task_cx *cx, task_redis *c,
                         struct task_redis_op *op, const char *key, size_t klen,
                         struct task_redis_value **val, int *rc)
{
        const char *argv[2] = {"GET", key};
        size_t lens[2] = {3, klen};
        struct task_redis_value *v;

        if (!(cx && c && op && val && rc &&
              (started(op) || str_ok(key, klen)))) {
                if (val && !(cx && cx->cancelling))
                        *val = NULL;
                return reject(cx, rc);
        }
        if (!run(cx, c, op, 2, argv, lens, &v, rc))
                return false;
        *val = NULL;
        if (*rc < 0)
                return true;
        if (v->type == TASK_REDIS_STRING) {
                *val = v; /* the caller's now */
                return true;
        }
        if (v->type != TASK_REDIS_NIL)
                *rc = -EPROTO;
        task_redis_value_free(v);
        return true;
}

/* ---- SET ------------------------------------------------------------------- */

static bool set_opts_ok(const struct task_redis_set_opts *o,
                        struct task_redis_value **old)
{
        unsigned known = TASK_REDIS_SET_NX | TASK_REDIS_SET_XX |
                         TASK_REDIS_SET_KEEPTTL | TASK_REDIS_SET_GET;
        int expiries;

        if (!o)
                return true;
        if (o->flags & ~known)
                return false;
        if ((o->flags & TASK_REDIS_SET_NX) && (o->flags & TASK_REDIS_SET_XX))
                return false;
        expiries = (o->px_ms != 0) + (o->pxat_ms != 0) +
                   !!(o->flags & TASK_REDIS_SET_KEEPTTL);
        if (expiries > 1)
                return false;
        /* Redis takes PX/PXAT as a signed 64-bit integer. */
        if (o->px_ms > INT64_MAX || o->pxat_ms > INT64_MAX)
                return false;
        if ((o->flags & TASK_REDIS_SET_GET) && !old)
                return false;
        return true;
}

bool task_redis_set_poll(struct task_cx *cx, task_redis *c,
                         struct task_redis_op *op, const char *key, size_t klen,
                         const char *val, size_t vlen,
                         const struct task_redis_set_opts *o,
                         struct task_redis_value **old, int *rc)
{
        const char *argv[8];
        size_t lens[8];
        char num[I64_CHARS];
        struct task_redis_value *v;
        unsigned flags;
        bool get;
        int argc = 0;

        if (!(cx && c && op && rc &&
              (started(op) || (str_ok(key, klen) && str_ok(val, vlen) &&
                               set_opts_ok(o, old))))) {
                if (old && !(cx && cx->cancelling))
                        *old = NULL;
                return reject(cx, rc);
        }
        if (started(op)) {
                /* The flags were kept at the first poll; @o may be gone. */
                flags = (unsigned)op->scratch[3];
                get = flags & TASK_REDIS_SET_GET;
                if (!run(cx, c, op, 1, stub_argv, stub_lens, &v, rc))
                        return false;
                goto out_reply;
        }
        flags = o ? o->flags : 0;
        get = flags & TASK_REDIS_SET_GET;
        op->scratch[3] = flags;
#define ARG(s, n)                                                              \
        do {                                                                   \
                argv[argc] = (s);                                              \
                lens[argc++] = (n);                                            \
        } while (0)
        ARG("SET", 3);
        ARG(key, klen);
        ARG(val, vlen);
        if (o && o->px_ms) {
                ARG("PX", 2);
                ARG(num, fmt_i64(num, (int64_t)o->px_ms));
        } else if (o && o->pxat_ms) {
                ARG("PXAT", 4);
                ARG(num, fmt_i64(num, (int64_t)o->pxat_ms));
        }
        if (flags & TASK_REDIS_SET_NX)
                ARG("NX", 2);
        if (flags & TASK_REDIS_SET_XX)
                ARG("XX", 2);
        if (flags & TASK_REDIS_SET_KEEPTTL)
                ARG("KEEPTTL", 7);
        if (get)
                ARG("GET", 3);
#undef ARG
        if (!run(cx, c, op, argc, argv, lens, &v, rc))
                return false;
out_reply:
        if (old)
                *old = NULL;
        if (*rc < 0)
                return true;
        if (!get) {
                /* +OK, or a nil when NX/XX refused. */
                if (v->type == TASK_REDIS_NIL)
                        *rc = TASK_REDIS_NOT_SET;
                else if (v->type != TASK_REDIS_STATUS || v->len != 2 ||
                         memcmp(v->str, "OK", 2) != 0)
                        *rc = -EPROTO;
                task_redis_value_free(v);
                return true;
        }
        /*
         * GET: the old value or nil, set or not.  NX sets exactly when
         * there was no old value, XX exactly when there was one.
         */
        if (v->type != TASK_REDIS_STRING && v->type != TASK_REDIS_NIL) {
                *rc = -EPROTO;
                task_redis_value_free(v);
                return true;
        }
        if ((flags & TASK_REDIS_SET_NX) && v->type == TASK_REDIS_STRING)
                *rc = TASK_REDIS_NOT_SET;
        if ((flags & TASK_REDIS_SET_XX) && v->type == TASK_REDIS_NIL)
                *rc = TASK_REDIS_NOT_SET;
        if (v->type == TASK_REDIS_STRING && old)
                *old = v; /* the caller's now */
        else
                task_redis_value_free(v);
        return true;
}

/* ---- DEL ------------------------------------------------------------------- */

bool task_redis_del_poll(struct task_cx *cx, task_redis *c,
                         struct task_redis_op *op, int n,
                         const char *const *keys, const size_t *lens,
                         int64_t *deleted, int *rc)
{
        const char *sargv[DEL_STACK + 1];
        size_t slens[DEL_STACK + 1];
        const char **argv = sargv;
        size_t *alens = slens;
        bool ok = cx && c && op && rc && n >= 1 && n < INT32_MAX && keys;
        bool done;
        int i;

        if (cx && c && op && rc && started(op))
                return int_cmd(cx, c, op, 1, stub_argv, stub_lens, deleted,
                               rc); /* @keys may be gone */
        for (i = 0; ok && i < n; i++)
                ok = lens ? str_ok(keys[i], lens[i]) : keys[i] != NULL;
        if (!ok)
                return reject(cx, rc);
        if (n > DEL_STACK) {
                /* Only at the first poll: task_redis_cmd_poll copies it. */
                argv = malloc(sizeof *argv * ((size_t)n + 1));
                alens = malloc(sizeof *alens * ((size_t)n + 1));
                if (!argv || !alens) {
                        free(argv);
                        free(alens);
                        if (!cx->cancelling) {
                                *rc = -ENOMEM; /* nothing sent */
                                return true;
                        }
                        /* A cancelling look at a call never started:
                         * there is nothing to send. */
                        argv = sargv;
                        alens = slens;
                        n = 0;
                }
        }
        argv[0] = "DEL";
        alens[0] = 3;
        for (i = 0; i < n; i++) {
                argv[i + 1] = keys[i];
                alens[i + 1] = lens ? lens[i] : strlen(keys[i]);
        }
        done = int_cmd(cx, c, op, n + 1, argv, alens, deleted, rc);
        if (argv != sargv) {
                free(argv);
                free(alens);
        }
        return done;
}

/* ---- INCR, INCRBY ---------------------------------------------------------- */

bool task_redis_incr_poll(struct task_cx *cx, task_redis *c,
                          struct task_redis_op *op, const char *key,
                          size_t klen, int64_t *value, int *rc)
{
        const char *argv[2] = {"INCR", key};
        size_t lens[2] = {4, klen};

        if (!(cx && c && op && rc && (started(op) || str_ok(key, klen))))
                return reject(cx, rc);
        return int_cmd(cx, c, op, 2, argv, lens, value, rc);
}

bool task_redis_incrby_poll(struct task_cx *cx, task_redis *c,
                            struct task_redis_op *op, const char *key,
                            size_t klen, int64_t by, int64_t *value, int *rc)
{
        char num[I64_CHARS];
        const char *argv[3] = {"INCRBY", key, num};
        size_t lens[3] = {6, klen, 0};

        if (!(cx && c && op && rc && (started(op) || str_ok(key, klen))))
                return reject(cx, rc);
        lens[2] = fmt_i64(num, by);
        return int_cmd(cx, c, op, 3, argv, lens, value, rc);
}

/* ---- EXPIRE ---------------------------------------------------------------- */

static bool expire_flags_ok(unsigned flags)
{
        unsigned known = TASK_REDIS_EXPIRE_NX | TASK_REDIS_EXPIRE_XX |
                         TASK_REDIS_EXPIRE_GT | TASK_REDIS_EXPIRE_LT;

        if (flags & ~known)
                return false;
        if ((flags & TASK_REDIS_EXPIRE_NX) && (flags & ~TASK_REDIS_EXPIRE_NX))
                return false;
        return !((flags & TASK_REDIS_EXPIRE_GT) &&
                 (flags & TASK_REDIS_EXPIRE_LT));
}

bool task_redis_expire_poll(struct task_cx *cx, task_redis *c,
                            struct task_redis_op *op, const char *key,
                            size_t klen, int64_t seconds, unsigned flags,
                            bool *set, int *rc)
{
        static const struct {
                unsigned flag;
                const char *word;
        } words[] = {
            {TASK_REDIS_EXPIRE_NX, "NX"},
            {TASK_REDIS_EXPIRE_XX, "XX"},
            {TASK_REDIS_EXPIRE_GT, "GT"},
            {TASK_REDIS_EXPIRE_LT, "LT"},
        };
        char num[I64_CHARS];
        const char *argv[5] = {"EXPIRE", key, num};
        size_t lens[5] = {6, klen, 0};
        int argc = 3;
        int64_t n = 0;
        bool done;

        if (!(cx && c && op && rc &&
              (started(op) || (str_ok(key, klen) && expire_flags_ok(flags)))))
                return reject(cx, rc);
        if (started(op))
                flags = 0; /* may be garbage now, and unused */
        lens[2] = fmt_i64(num, seconds);
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
                if (flags & words[i].flag) {
                        argv[argc] = words[i].word;
                        lens[argc++] = 2;
                }
        }
        done = int_cmd(cx, c, op, argc, argv, lens, &n, rc);
        if (done && *rc == 0 && set)
                *set = n != 0;
        return done;
}

/* ---- PUBLISH --------------------------------------------------------------- */

bool task_redis_publish_poll(struct task_cx *cx, task_redis *c,
                             struct task_redis_op *op, const char *chan,
                             size_t clen, const char *msg, size_t mlen,
                             int64_t *receivers, int *rc)
{
        const char *argv[3] = {"PUBLISH", chan, msg};
        size_t lens[3] = {7, clen, mlen};

        if (!(cx && c && op && rc &&
              (started(op) || (str_ok(chan, clen) && str_ok(msg, mlen)))))
                return reject(cx, rc);
        return int_cmd(cx, c, op, 3, argv, lens, receivers, rc);
}
