/*
 * redis/client/connect.c - the async client's way to a server: parsing
 * the address, making the client, one connection attempt (resolve,
 * connect, handshake), reconnection with backoff, and
 * task_redis_connect_poll().
 *
 * Addresses are parsed once, when the client is made, into a target
 * (client-priv.h): an IP literal or a Unix path becomes a struct
 * task_addr at once; a host name is kept and resolved (task_resolve) at
 * every attempt, so a reconnection follows a name whose addresses
 * changed.  The client is one allocation: the struct, then the address
 * text (parsed in place: NULs cut it into host, port, user, password) and
 * copies of the option strings (user, password, client name), so nothing
 * the caller passed is referred to after the first poll.  Credentials and
 * a database in a redis:// URL win over the options'.
 *
 * An attempt (task_redis__attempt_co, over c->k) tries each address in
 * turn, sets TCP_NODELAY (a request/response protocol must not wait for
 * Nagle), then writes the whole handshake in one write -- HELLO 3 [AUTH]
 * when RESP3 is asked for, else AUTH; SELECT; CLIENT SETNAME -- and reads
 * one reply per request.  The first error reply ends the attempt: WRONGPASS,
 * NOAUTH and the other refusals of a password are -EACCES, HELLO refused
 * (NOPROTO, or an old server that does not know HELLO) is
 * -EPROTONOSUPPORT, anything else -EREMOTEIO, with the text kept for
 * task_redis_last_error().  The handshake has its own output buffer
 * (c->hs): commands the caller queued while the connection was broken wait
 * in c->out until it succeeds, so they never run before AUTH or SELECT.
 * Whatever way an attempt ends short of success (an error, the connect
 * timeout, an abort), its cleanup closes the socket it opened.
 *
 * The connect timeout is a TASK_TIMEOUT around a whole attempt, handshake
 * included.  Reconnection (task_redis__reconn_co, over c->r, run by the
 * client's calls in client.c when they find the connection broken) makes
 * attempts until one succeeds or opts.max_attempts have failed in this
 * call; between attempts it waits with exponential backoff: the n-th
 * failure in a row waits min * 2^(n-1), capped at max, with "equal
 * jitter" (a uniform draw in [d/2, d]) so that many clients that lost
 * one server do not come back in step.  The streak and the earliest time
 * of the next attempt live in the client, so a caller that retries a
 * failing call at once still waits out the backoff.
 */
#include "client-priv.h"

#include <libtask/redis_client.h>
#include <libtask/resolve.h>
#include <libtask/runtime.h>
#include <libtask/tcp.h>
#include <libtask/unix.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* op->i flags, as in client.c. */
#define OP_FIN 2u

/* ---- Parsing addresses ------------------------------------------------------ */

/* The pieces of an address, pointing into a writable copy of it. */
struct where {
        enum task_redis__target_kind kind;
        char *host;
        char *port; /* NULL: the default */
        char *path;
        char *user; /* from a URL, or NULL */
        char *pass;
        long db; /* from a URL, or -1 */
        struct task_addr addr;
};

static bool starts(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int hexval(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

/* %XX escapes of a URL's user and password, decoded in place. */
static int pct_decode(char *s)
{
        char *w = s;

        for (char *p = s; *p; p++) {
                if (*p == '%') {
                        int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

                        if (lo < 0)
                                return -EINVAL;
                        *w++ = (char)(hi * 16 + lo);
                        p += 2;
                } else {
                        *w++ = *p;
                }
        }
        *w = '\0';
        return 0;
}

/* A decimal number of 1 to @maxdigits digits, at most @max. */
static long parse_num(const char *s, int maxdigits, long max)
{
        long v = 0;
        int n = 0;

        for (; *s; s++, n++) {
                if (*s < '0' || *s > '9' || n >= maxdigits)
                        return -1;
                v = v * 10 + (*s - '0');
        }
        return n == 0 || v > max ? -1 : v;
}

/* "host", "host:port", "[v6]", "[v6]:port", or a bare IPv6 literal. */
static int parse_hostport(char *s, struct where *w)
{
        bool bracket = false;
        char *colon;
        long port = TASK_REDIS_PORT;

        if (*s == '[') {
                char *close = strchr(s, ']');

                if (!close)
                        return -EINVAL;
                *close = '\0';
                w->host = s + 1;
                bracket = true;
                if (close[1] == ':')
                        w->port = close + 2;
                else if (close[1] != '\0')
                        return -EINVAL;
        } else if ((colon = strchr(s, ':')) && strchr(colon + 1, ':')) {
                w->host = s; /* "::1": an IPv6 literal, no port */
                bracket = true;
        } else {
                w->host = s;
                if (colon) {
                        *colon = '\0';
                        w->port = colon + 1;
                }
        }
        if (!*w->host)
                return -EINVAL;
        for (const char *p = w->host; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == '/' || *p == '@' ||
                    *p == 0x7f)
                        return -EINVAL;
        if (w->port && (port = parse_num(w->port, 5, 65535)) <= 0)
                return -EINVAL;
        if (task_addr_from_ip(&w->addr, w->host, (uint16_t)port) == 0) {
                w->kind = TASK_REDIS__TCP_IP;
                return 0;
        }
        if (bracket)
                return -EINVAL; /* brackets hold an IPv6 literal only */
        w->kind = TASK_REDIS__TCP_NAME;
        return 0;
}

/* redis://[[user]:pass@]host[:port][/db] (after the scheme). */
static int parse_url(char *s, struct where *w)
{
        char *slash = strchr(s, '/');
        char *at;
        int rc;

        if (slash) {
                *slash = '\0';
                if (slash[1] && (w->db = parse_num(slash + 1, 9, INT_MAX)) < 0)
                        return -EINVAL;
        }
        at = strrchr(s, '@');
        if (at) {
                char *colon;

                *at = '\0';
                colon = strchr(s, ':');
                if (!colon)
                        return -EINVAL;
                *colon = '\0';
                w->user = *s ? s : NULL;
                w->pass = colon + 1;
                if ((w->user && pct_decode(w->user) < 0) ||
                    pct_decode(w->pass) < 0)
                        return -EINVAL;
                s = at + 1;
        }
        rc = parse_hostport(s, w);
        return rc;
}

static int parse_where(char *s, struct where *w)
{
        int rc;

        w->db = -1;
        if (starts(s, "redis://"))
                return parse_url(s + 8, w);
        if (starts(s, "unix://"))
                w->path = s + 7; /* unix:///path: an empty host */
        else if (starts(s, "unix:"))
                w->path = s + 5;
        else if (*s == '/')
                w->path = s;
        else
                return parse_hostport(s, w);
        if (*w->path != '/' && *w->path != '@')
                return -EINVAL;
        w->kind = TASK_REDIS__UNIX;
        rc = task_addr_unix(&w->addr, w->path);
        return rc < 0 ? -EINVAL : 0;
}

/* ---- Making the client ------------------------------------------------------ */

static char *copy_str(char **tail, const char *s)
{
        char *d = *tail;
        size_t n = strlen(s) + 1;

        memcpy(d, s, n);
        *tail += n;
        return d;
}

int task_redis__client_new(const char *where, const struct task_redis_opts *o,
                           task_redis **out)
{
        struct task_redis_opts defaults;
        struct where w = {0};
        size_t need;
        task_redis *c;
        char *tail;
        int rc;

        if (!where || !out)
                return -EINVAL;
        if (!o) {
                task_redis_opts_init(&defaults);
                o = &defaults;
        }
        if ((o->protocol != 0 && o->protocol != 2 && o->protocol != 3) ||
            o->db < 0)
                return -EINVAL;
        need = strlen(where) + 1;
        need += o->user ? strlen(o->user) + 1 : 0;
        need += o->password ? strlen(o->password) + 1 : 0;
        need += o->client_name ? strlen(o->client_name) + 1 : 0;
        c = calloc(1, sizeof *c + need);
        if (!c)
                return -ENOMEM;
        tail = c->names;
        rc = parse_where(copy_str(&tail, where), &w);
        if (rc < 0)
                goto out_free;

        c->o = *o;
        c->o.user = o->user ? copy_str(&tail, o->user) : NULL;
        c->o.password = o->password ? copy_str(&tail, o->password) : NULL;
        c->o.client_name =
            o->client_name ? copy_str(&tail, o->client_name) : NULL;
        if (w.pass) { /* a URL's credentials win */
                c->o.user = w.user;
                c->o.password = w.pass;
        }
        if (w.db >= 0)
                c->o.db = (int)w.db;
        if (c->o.protocol == 0)
                c->o.protocol = 2;
        if (c->o.max_pushes == 0)
                c->o.max_pushes = 4096;
        if (c->o.backoff_min_ns == 0)
                c->o.backoff_min_ns = TASK_MS(10);
        if (c->o.backoff_max_ns == 0)
                c->o.backoff_max_ns = TASK_SEC(2);
        if (c->o.backoff_max_ns < c->o.backoff_min_ns)
                c->o.backoff_max_ns = c->o.backoff_min_ns;

        c->t.kind = w.kind;
        c->t.addr = w.addr;
        if (w.kind == TASK_REDIS__TCP_NAME) {
                c->t.host = w.host;
                snprintf(c->t.port, sizeof c->t.port, "%s",
                         w.port ? w.port : "6379");
        }
        rc = task_redis_reader_init(&c->rd, &c->o.limits);
        if (rc < 0)
                goto out_free;
        c->proto = 2;
        c->rng = task_now_ns() ^ (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15u;
        if (!c->rng)
                c->rng = 1;
        *out = c;
        return 0;

out_free:
        free(c);
        return rc;
}

/* ---- The handshake --------------------------------------------------------- */

enum { HS_HELLO, HS_AUTH, HS_SELECT, HS_SETNAME };

/* Queue the handshake's requests in c->hs; f->nreq and f->kinds say what. */
static int hs_build(task_redis *c, struct task_redis__attempt *f)
{
        char db[16];
        int rc = 0;

        f->nreq = 0;
        if (c->o.protocol == 3) {
                const char *argv[] = {"HELLO", "3", "AUTH",
                                      c->o.user ? c->o.user : "default",
                                      c->o.password};

                rc = task_redis__encode_to(&c->hs, c->o.password ? 5 : 2, argv,
                                           NULL);
                f->kinds[f->nreq++] = HS_HELLO;
        } else if (c->o.password) {
                const char *argv[] = {"AUTH", c->o.user, c->o.password};

                if (c->o.user)
                        rc = task_redis__encode_to(&c->hs, 3, argv, NULL);
                else
                        rc = task_redis__encode_to(
                            &c->hs, 2,
                            (const char *const[]){"AUTH", c->o.password}, NULL);
                f->kinds[f->nreq++] = HS_AUTH;
        }
        if (rc >= 0 && c->o.db) {
                snprintf(db, sizeof db, "%d", c->o.db);
                rc = task_redis__encode_to(
                    &c->hs, 2, (const char *const[]){"SELECT", db}, NULL);
                f->kinds[f->nreq++] = HS_SELECT;
        }
        if (rc >= 0 && c->o.client_name) {
                rc = task_redis__encode_to(
                    &c->hs, 3,
                    (const char *const[]){"CLIENT", "SETNAME",
                                          c->o.client_name},
                    NULL);
                f->kinds[f->nreq++] = HS_SETNAME;
        }
        return rc < 0 ? rc : 0;
}

static bool err_has(const struct task_redis_value *v, const char *s)
{
        return strstr(v->str ? v->str : "", s) != NULL;
}

/* The handshake's reply to a request of @kind: 0 or the error it maps to. */
static int hs_check(task_redis *c, int kind, const struct task_redis_value *v)
{
        if (v->type != TASK_REDIS_ERROR) {
                if (kind == HS_HELLO)
                        c->proto = 3;
                return 0;
        }
        task_redis__set_error(c, v);
        if (task_redis_value_is_error(v, "WRONGPASS") ||
            task_redis_value_is_error(v, "NOAUTH"))
                return -EACCES;
        if (kind == HS_AUTH &&
            (err_has(v, "invalid password") || err_has(v, "invalid username") ||
             err_has(v, "without any password")))
                return -EACCES;
        if (kind == HS_HELLO && (task_redis_value_is_error(v, "NOPROTO") ||
                                 err_has(v, "unknown command")))
                return -EPROTONOSUPPORT;
        return -EREMOTEIO;
}

/* ---- One attempt ------------------------------------------------------------ */

int task_redis__attempt_co(struct task_cx *cx, void *frame)
{
        struct task_redis__attempt *f = frame;
        task_redis *c = TASK_REDIS__OF(f, k);
        int r = 0;

        TASK_BEGIN(f);
        f->ok = false;
        f->rc = 0;
        f->v = NULL;
        f->nreq = 0;
        c->attempts++;
        c->proto = 2;
        if (c->t.kind == TASK_REDIS__TCP_NAME) {
                memset(&c->res, 0, sizeof c->res);
                TASK_AWAIT(f, task_resolve_poll(
                                  cx, &c->res, c->t.host, c->t.port, c->addrs,
                                  TASK_REDIS__MAX_ADDRS, &f->naddrs));
                if (f->naddrs < 0) {
                        f->rc = f->naddrs;
                        TASK_RETURN(f);
                }
        } else {
                c->addrs[0] = c->t.addr;
                f->naddrs = 1;
        }
        for (f->i = 0; f->i < f->naddrs; f->i++) {
                memset(&c->nop, 0, sizeof c->nop);
                if (c->t.kind == TASK_REDIS__UNIX)
                        TASK_AWAIT(
                            f, task_unix_connect_poll(cx, &c->addrs[f->i], 0,
                                                      &c->nop, &c->s, &f->rc));
                else
                        TASK_AWAIT(f, task_tcp_connect_poll(cx, &c->addrs[f->i],
                                                            0, &c->nop, &c->s,
                                                            &f->rc));
                if (f->rc == 0)
                        break;
        }
        if (f->rc < 0)
                TASK_RETURN(f);
        if (c->t.kind != TASK_REDIS__UNIX)
                (void)task_tcp_set_nodelay(&c->s, true);
        task_redis_reader_reset(&c->rd);
        (void)task_buf_clear(&c->in);
        (void)task_buf_clear(&c->hs);
        r = hs_build(c, f);
        if (r < 0) {
                f->rc = r;
                TASK_RETURN(f);
        }
        if (f->nreq == 0) {
                f->ok = true;
                TASK_RETURN(f);
        }
        TASK_AWAIT(f, task_buf_write_all_poll(cx, task_stream_fd(&c->s), &c->hs,
                                              &c->io, &f->rc));
        if (f->rc < 0)
                TASK_RETURN(f);
        for (f->i = 0; f->i < f->nreq; f->i++) {
                for (;;) {
                        r = task_redis__parse(c, &f->v);
                        if (r != 0)
                                break;
                        TASK_AWAIT(f,
                                   task_buf_read_poll(
                                       cx, task_stream_fd(&c->s), &c->in,
                                       TASK_REDIS__READ_SPARE, &c->io, &f->n));
                        if (f->n <= 0) {
                                r = f->n == 0 ? -ECONNRESET : (int)f->n;
                                break;
                        }
                }
                if (r < 0) {
                        f->rc = r;
                        TASK_RETURN(f);
                }
                r = hs_check(c, f->kinds[f->i], f->v);
                task_redis_value_free(f->v);
                f->v = NULL;
                if (r < 0) {
                        f->rc = r;
                        TASK_RETURN(f);
                }
        }
        f->ok = true;
        TASK_CLEANUP(f);
        if (!f->ok) {
                if (f->rc == 0)
                        f->rc = -ECANCELED; /* aborted: never read */
                task_redis_value_free(f->v);
                f->v = NULL;
                if (task_stream_fd(&c->s) >= 0)
                        (void)task_stream_close(&c->s);
                (void)task_buf_clear(&c->hs);
                (void)task_buf_clear(&c->in);
                task_redis_reader_reset(&c->rd);
        }
        TASK_END(f);
}

static bool attempt_poll(struct task_cx *cx, task_redis *c)
{
        return task_redis__attempt_co(cx, &c->k) == TASK_DONE;
}

/* ---- Reconnection ------------------------------------------------------------ */

/* The wait after c->streak failures in a row: exponential, equal jitter. */
static uint64_t backoff_ns(task_redis *c)
{
        uint64_t d = c->o.backoff_min_ns;
        uint64_t x = c->rng;

        for (unsigned i = 1; i < c->streak && d < c->o.backoff_max_ns; i++)
                d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
        if (d > c->o.backoff_max_ns)
                d = c->o.backoff_max_ns;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c->rng = x;
        return d - d / 2 + x % (d / 2 + 1);
}

int task_redis__reconn_co(struct task_cx *cx, void *frame)
{
        struct task_redis__reconn *f = frame;
        task_redis *c = TASK_REDIS__OF(f, r);

        TASK_BEGIN(f);
        f->tries = 0;
        f->rc = 0;
        for (;;) {
                if (c->next_try_ns > task_cx_now_ns(cx))
                        TASK_SLEEP_UNTIL(f, &c->bsleep, c->next_try_ns);
                f->tries++;
                if (c->o.connect_timeout_ns) {
                        c->k.co.lc = 0;
                        TASK_TIMEOUT(f, &c->ksel, &c->ksleep,
                                     c->o.connect_timeout_ns,
                                     attempt_poll(cx, c), &c->k.rc);
                } else {
                        TASK_AWAIT_CO(f, task_redis__attempt_co, &c->k);
                }
                if (c->k.rc == 0) {
                        c->connected = true;
                        c->reconnects++;
                        c->streak = 0;
                        c->next_try_ns = 0;
                        TASK_RETURN(f);
                }
                c->streak++;
                c->next_try_ns = task_cx_now_ns(cx) + backoff_ns(c);
                if (c->o.max_attempts && f->tries >= c->o.max_attempts) {
                        f->rc = c->k.rc;
                        TASK_RETURN(f);
                }
        }
        TASK_END(f);
}

/* ---- task_redis_connect_poll --------------------------------------------------- */

static int connect_co(struct task_cx *cx, const char *where,
                      const struct task_redis_opts *o, struct task_redis_op *op,
                      task_redis **out, int *rc)
{
        task_redis *c = op->p;
        int r;

        TASK_BEGIN(op);
        r = task_redis__client_new(where, o, &c);
        if (r < 0) {
                op->err = r;
                op->i = OP_FIN;
                TASK_RETURN(op);
        }
        op->p = c;
        if (c->o.connect_timeout_ns) {
                c->k.co.lc = 0;
                TASK_TIMEOUT(op, &c->ksel, &c->ksleep, c->o.connect_timeout_ns,
                             attempt_poll(cx, c), &c->k.rc);
        } else {
                TASK_AWAIT_CO(op, task_redis__attempt_co, &c->k);
        }
        op->err = c->k.rc;
        op->i = OP_FIN;
        if (op->err == 0)
                c->connected = true;
        TASK_CLEANUP(op);
        c = op->p;
        if (c && (!(op->i & OP_FIN) || op->err < 0)) {
                task_redis__free(c); /* the attempt closed its socket */
                op->p = NULL;
        }
        if (op->i & OP_FIN) {
                if (rc)
                        *rc = op->err;
                if (op->err == 0 && out)
                        *out = c;
        }
        TASK_END(op);
}

bool task_redis_connect_poll(struct task_cx *cx, const char *where,
                             const struct task_redis_opts *o,
                             struct task_redis_op *op, task_redis **out,
                             int *rc)
{
        if (!cx || !op || !out) {
                if (cx && cx->cancelling)
                        return false;
                if (rc)
                        *rc = -EINVAL;
                return true;
        }
        if (connect_co(cx, where, o, op, out, rc) == TASK_PENDING)
                return false;
        memset(op, 0, sizeof *op);
        return !cx->cancelling;
}
