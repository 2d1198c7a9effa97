/*
 * test_subscriber.c - the subscriber of libtask/redis_sub.h against the
 * server under test (srv.h), over RESP2 and RESP3 (each test runs once per
 * protocol): messages in order from a publisher client, pattern messages,
 * subscribing to more while subscribed (messages read meanwhile queued,
 * not lost), unsubscribing some and all with the counts, binary channels
 * and payloads, 1,000 messages from a publisher task on another worker,
 * PING while subscribed, a timeout on next (TASK_TIMEOUT) that loses
 * nothing, the server going away (a clear error, then -ENOTCONN), and
 * against fake servers: an error reply (-EREMOTEIO), garbage (-EPROTO), a
 * scripted stream; invalid arguments and -EBUSY.
 *
 * Each test is a task (struct t) run by run(): a fresh server, a runtime,
 * the task once per protocol.  Checks inside tasks are TCHECKs.
 */
#include "helpers.h"
#include "srv.h"

#include <libtask/redis.h>

#include <string.h>

/* ---- Harness ------------------------------------------------------------ */

struct t {
        TASK_FRAME;
        const char *addr;
        int proto;
        struct task_redis_opts o;
        task_redis *c;  /* the publisher */
        task_redis *sc; /* the subscriber's client, until sub_new */
        task_redis_sub *s;
        struct task_redis_op op;
        struct task_redis_msg m;
        struct task_redis_value *v;
        struct task_select sel;
        struct task_sleep sl;
        task_handle *h;
        int64_t n;
        int rc, i, count;
        uint64_t t0;
        char buf[64];
};

typedef int (*tfn)(struct task_cx *, void *);

#define NARGS(...)                                                             \
        ((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)))
/* A static argv of C strings, and its count: ARGV("a", "b"). */
#define ARGV(...) NARGS(__VA_ARGS__), ((const char *const[]){__VA_ARGS__})
/* X(MACRO, args...): call MACRO after expanding args (for ARGV). */
#define X(m, ...) m(__VA_ARGS__)

/* Connect the publisher (f->c), then (CONNECT_SUB) the subscriber (f->s),
 * with f->proto. */
#define CONNECT(f)                                                             \
        do {                                                                   \
                task_redis_opts_init(&(f)->o);                                 \
                (f)->o.protocol = (f)->proto;                                  \
                TASK_REDIS_CONNECT(f, (f)->addr, &(f)->o, &(f)->op, &(f)->c,   \
                                   &(f)->rc);                                  \
                TCHECK((f)->rc == 0);                                          \
                if ((f)->rc != 0)                                              \
                        TASK_RETURN(f);                                        \
        } while (0)

#define CONNECT_SUB(f)                                                         \
        do {                                                                   \
                TASK_REDIS_CONNECT(f, (f)->addr, &(f)->o, &(f)->op, &(f)->sc,  \
                                   &(f)->rc);                                  \
                TCHECK((f)->rc == 0);                                          \
                if ((f)->rc != 0)                                              \
                        TASK_RETURN(f);                                        \
                (f)->rc = task_redis_sub_new((f)->sc, &(f)->s);                \
                TCHECK((f)->rc == 0);                                          \
                if ((f)->rc != 0)                                              \
                        TASK_RETURN(f);                                        \
                (f)->sc = NULL;                                                \
        } while (0)

#define SUBSCRIBE(f, ...)                                                      \
        X(TASK_REDIS_SUBSCRIBE, f, (f)->s, &(f)->op, ARGV(__VA_ARGS__), NULL,  \
          &(f)->rc)
#define PSUBSCRIBE(f, ...)                                                     \
        X(TASK_REDIS_PSUBSCRIBE, f, (f)->s, &(f)->op, ARGV(__VA_ARGS__), NULL, \
          &(f)->rc)
#define PUBLISH(f, ch, msg)                                                    \
        TASK_REDIS_PUBLISH(f, (f)->c, &(f)->op, (ch), strlen(ch), (msg),       \
                           strlen(msg), &(f)->n, &(f)->rc)
#define NEXT(f) TASK_REDIS_SUB_NEXT(f, (f)->s, &(f)->op, &(f)->m, &(f)->rc)

#define T_CLEANUP(f)                                                           \
        TASK_CLEANUP(f);                                                       \
        task_redis_msg_free(&(f)->m);                                          \
        task_redis_value_free((f)->v);                                         \
        task_redis_sub_close((f)->s);                                          \
        task_redis_close((f)->sc);                                             \
        task_redis_close((f)->c)

static bool bytes_is(const char *p, size_t len, const void *want, size_t wlen)
{
        return p && len == wlen && memcmp(p, want, len) == 0 && p[len] == '\0';
}

/* f->m is a message on @ch with @payload (C strings). */
static bool msg_is(const struct task_redis_msg *m, const char *ch,
                   const char *payload)
{
        return m->kind == TASK_REDIS_MSG_MESSAGE &&
               bytes_is(m->channel, m->channel_len, ch, strlen(ch)) &&
               bytes_is(m->payload, m->payload_len, payload, strlen(payload)) &&
               m->pattern == NULL && m->pattern_len == 0;
}

static bool pmsg_is(const struct task_redis_msg *m, const char *pat,
                    const char *ch, const char *payload)
{
        return m->kind == TASK_REDIS_MSG_PMESSAGE &&
               bytes_is(m->pattern, m->pattern_len, pat, strlen(pat)) &&
               bytes_is(m->channel, m->channel_len, ch, strlen(ch)) &&
               bytes_is(m->payload, m->payload_len, payload, strlen(payload));
}

static bool counts(task_redis_sub *s, size_t ch, size_t pat)
{
        return task_redis_sub_channels(s) == ch &&
               task_redis_sub_patterns(s) == pat;
}

/* Run @fn against a fresh server once per protocol, on @flavor. */
static void run_on(tfn fn, enum task_flavor flavor)
{
        struct srv s;
        task_runtime *rt;

        srv_start(&s);
        rt = test_rt_new_flavor(flavor);
        for (int proto = 2; proto <= 3; proto++) {
                struct t *f = calloc(1, sizeof *f);

                cr_assert_not_null(f);
                f->addr = s.addr;
                f->proto = proto;
                cr_assert_eq(task_block_on(rt, fn, f, sizeof *f), 0);
                free(f);
                tcheck_assert_none();
        }
        test_rt_free(rt);
        srv_stop(&s);
}

static void run(tfn fn)
{
        run_on(fn, TASK_CURRENT_THREAD);
}

/* ---- Messages ------------------------------------------------------------- */

static int in_order_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CONNECT_SUB(f);
        TCHECK(counts(f->s, 0, 0));
        SUBSCRIBE(f, "ch");
        TCHECK(f->rc == 0 && counts(f->s, 1, 0));
        TCHECK(task_redis_protocol(task_redis_sub_client(f->s)) == f->proto);
        for (f->i = 0; f->i < 10; f->i++) {
                snprintf(f->buf, sizeof f->buf, "m%d", f->i);
                PUBLISH(f, "ch", f->buf);
                TCHECK(f->rc == 0 && f->n == 1);
        }
        PUBLISH(f, "other", "x"); /* not subscribed: not delivered */
        TCHECK(f->rc == 0 && f->n == 0);
        for (f->i = 0; f->i < 10; f->i++) {
                NEXT(f);
                TCHECK(f->rc == 0);
                snprintf(f->buf, sizeof f->buf, "m%d", f->i);
                TCHECK(msg_is(&f->m, "ch", f->buf));
                task_redis_msg_free(&f->m);
        }
        TCHECK(f->m.v == NULL && f->m.channel == NULL); /* zeroed */
        task_redis_msg_free(&f->m);                     /* twice: harmless */
        TCHECK(task_redis_sub_queued(f->s) == 0);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, messages_in_order, .timeout = 30)
{
        run(in_order_task);
}

static int pattern_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CONNECT_SUB(f);
        PSUBSCRIBE(f, "news.*", "h?llo");
        TCHECK(f->rc == 0 && counts(f->s, 0, 2));
        PUBLISH(f, "news.tech", "chips");
        TCHECK(f->rc == 0 && f->n == 1);
        PUBLISH(f, "hello", "world");
        TCHECK(f->rc == 0 && f->n == 1);
        PUBLISH(f, "sport", "no");
        TCHECK(f->rc == 0 && f->n == 0);
        NEXT(f);
        TCHECK(f->rc == 0 && pmsg_is(&f->m, "news.*", "news.tech", "chips"));
        task_redis_msg_free(&f->m);
        NEXT(f);
        TCHECK(f->rc == 0 && pmsg_is(&f->m, "h?llo", "hello", "world"));
        task_redis_msg_free(&f->m);
        /* A channel and a pattern matching it: two messages, the channel's
         * first (Redis delivers to channel subscribers, then patterns). */
        SUBSCRIBE(f, "news.tech");
        TCHECK(f->rc == 0 && counts(f->s, 1, 2));
        PUBLISH(f, "news.tech", "both");
        TCHECK(f->rc == 0 && f->n == 2);
        NEXT(f);
        TCHECK(f->rc == 0 && msg_is(&f->m, "news.tech", "both"));
        task_redis_msg_free(&f->m);
        NEXT(f);
        TCHECK(f->rc == 0 && pmsg_is(&f->m, "news.*", "news.tech", "both"));
        task_redis_msg_free(&f->m);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, pattern_messages, .timeout = 30)
{
        run(pattern_task);
}

static int more_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CONNECT_SUB(f);
        SUBSCRIBE(f, "a");
        TCHECK(f->rc == 0 && counts(f->s, 1, 0));
        PUBLISH(f, "a", "1");
        TCHECK(f->rc == 0 && f->n == 1);
        PUBLISH(f, "a", "2");
        TCHECK(f->rc == 0 && f->n == 1);
        /* The messages arrive before the confirmations: queued. */
        SUBSCRIBE(f, "b", "c", "b");
        TCHECK(f->rc == 0 && counts(f->s, 3, 0));
        TCHECK(task_redis_sub_queued(f->s) == 2);
        PSUBSCRIBE(f, "z*");
        TCHECK(f->rc == 0 && counts(f->s, 3, 1));
        PUBLISH(f, "b", "3");
        TCHECK(f->rc == 0 && f->n == 1);
        PUBLISH(f, "zz", "4");
        TCHECK(f->rc == 0 && f->n == 1);
        NEXT(f);
        TCHECK(f->rc == 0 && msg_is(&f->m, "a", "1"));
        task_redis_msg_free(&f->m);
        TCHECK(task_redis_sub_queued(f->s) == 1);
        NEXT(f);
        TCHECK(f->rc == 0 && msg_is(&f->m, "a", "2"));
        task_redis_msg_free(&f->m);
        NEXT(f);
        TCHECK(f->rc == 0 && msg_is(&f->m, "b", "3"));
        task_redis_msg_free(&f->m);
        NEXT(f);
        TCHECK(f->rc == 0 && pmsg_is(&f->m, "z*", "zz", "4"));
        task_redis_msg_free(&f->m);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, subscribe_more_while_subscribed_queues_messages, .timeout = 30)
{
        run(more_task);
}

static int unsub_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CONNECT_SUB(f);
        SUBSCRIBE(f, "a", "b", "c");
        TCHECK(f->rc == 0 && counts(f->s, 3, 0));
        PSUBSCRIBE(f, "p*", "q*");
        TCHECK(f->rc == 0 && counts(f->s, 3, 2));
        /* Some: one channel, and one never subscribed to. */
        X(TASK_REDIS_UNSUBSCRIBE, f, f->s, &f->op, ARGV("b", "nope"), NULL,
          &f->rc);
        TCHECK(f->rc == 0 && counts(f->s, 2, 2));
        PUBLISH(f, "b", "x");
        TCHECK(f->rc == 0 && f->n == 0);
        X(TASK_REDIS_PUNSUBSCRIBE, f, f->s, &f->op, ARGV("p*"), NULL, &f->rc);
        TCHECK(f->rc == 0 && counts(f->s, 2, 1));
        PUBLISH(f, "pp", "x");
        TCHECK(f->rc == 0 && f->n == 0);
        PUBLISH(f, "qq", "still");
        TCHECK(f->rc == 0 && f->n == 1);
        /* All channels; the pattern stays. */
        TASK_REDIS_UNSUBSCRIBE(f, f->s, &f->op, 0, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0 && counts(f->s, 0, 1));
        PUBLISH(f, "a", "x");
        TCHECK(f->rc == 0 && f->n == 0);
        /* The message published before is still there. */
        NEXT(f);
        TCHECK(f->rc == 0 && pmsg_is(&f->m, "q*", "qq", "still"));
        task_redis_msg_free(&f->m);
        /* All patterns. */
        TASK_REDIS_PUNSUBSCRIBE(f, f->s, &f->op, 0, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0 && counts(f->s, 0, 0));
        /* Everything again, with nothing subscribed: one confirmation
         * with a nil name, still done. */
        TASK_REDIS_UNSUBSCRIBE(f, f->s, &f->op, 0, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0 && counts(f->s, 0, 0));
        TASK_REDIS_PUNSUBSCRIBE(f, f->s, &f->op, 0, NULL, NULL, &f->rc);
        TCHECK(f->rc == 0 && counts(f->s, 0, 0));
        /* And subscribe again afterwards. */
        SUBSCRIBE(f, "again");
        TCHECK(f->rc == 0 && counts(f->s, 1, 0));
        PUBLISH(f, "again", "yes");
        TCHECK(f->rc == 0 && f->n == 1);
        NEXT(f);
        TCHECK(f->rc == 0 && msg_is(&f->m, "again", "yes"));
        task_redis_msg_free(&f->m);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, unsubscribe_some_and_all_with_counts, .timeout = 30)
{
        run(unsub_task);
}

static int binary_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;
        static const char ch[] = "c\0h\r\n";     /* 5 bytes */
        static const char pl[] = "\0\1\r\n\xff"; /* 5 bytes */
        static char big[200000];

        TASK_BEGIN(f);
        CONNECT(f);
        CONNECT_SUB(f);
        {
                static const char *const chans[] = {ch};
                static const size_t lens[] = {5};
                TASK_REDIS_SUBSCRIBE(f, f->s, &f->op, 1, chans, lens, &f->rc);
        }
        TCHECK(f->rc == 0 && counts(f->s, 1, 0));
        TASK_REDIS_PUBLISH(f, f->c, &f->op, ch, 5, pl, 5, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 1);
        TASK_REDIS_PUBLISH(f, f->c, &f->op, ch, 1, "x", 1, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 0); /* "c": another channel */
        TASK_REDIS_PUBLISH(f, f->c, &f->op, ch, 5, NULL, 0, &f->n, &f->rc);
        TCHECK(f->rc == 0 && f->n == 1);
        memset(big, 'b', sizeof big);
        big[100] = '\0';
        TASK_REDIS_PUBLISH(f, f->c, &f->op, ch, 5, big, sizeof big, &f->n,
                           &f->rc);
        TCHECK(f->rc == 0 && f->n == 1);
        NEXT(f);
        TCHECK(f->rc == 0 && f->m.kind == TASK_REDIS_MSG_MESSAGE &&
               bytes_is(f->m.channel, f->m.channel_len, ch, 5) &&
               bytes_is(f->m.payload, f->m.payload_len, pl, 5));
        task_redis_msg_free(&f->m);
        NEXT(f);
        TCHECK(f->rc == 0 && bytes_is(f->m.payload, f->m.payload_len, "", 0));
        task_redis_msg_free(&f->m);
        NEXT(f);
        TCHECK(f->rc == 0 &&
               bytes_is(f->m.payload, f->m.payload_len, big, sizeof big));
        task_redis_msg_free(&f->m);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, binary_channels_and_payloads, .timeout = 30)
{
        run(binary_task);
}

/* ---- 1,000 messages from a publisher task ------------------------------- */

#define MANY 1000

struct pub {
        TASK_FRAME;
        const char *addr;
        int proto;
        task_redis *c;
        struct task_redis_opts o;
        struct task_redis_op op;
        int64_t n;
        int rc, i, bad;
        char buf[32];
};

static int publisher_task(struct task_cx *cx, void *arg)
{
        struct pub *f = arg;

        TASK_BEGIN(f);
        task_redis_opts_init(&f->o);
        f->o.protocol = f->proto;
        TASK_REDIS_CONNECT(f, f->addr, &f->o, &f->op, &f->c, &f->rc);
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        for (f->i = 0; f->i < MANY; f->i++) {
                snprintf(f->buf, sizeof f->buf, "msg-%d", f->i);
                TASK_REDIS_PUBLISH(f, f->c, &f->op, "many", 4, f->buf,
                                   strlen(f->buf), &f->n, &f->rc);
                if (f->rc != 0 || f->n != 1)
                        f->bad++;
        }
        TCHECK(f->bad == 0);
        TASK_CLEANUP(f);
        task_redis_close(f->c);
        TASK_END(f);
}

static int many_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT_SUB(f);
        SUBSCRIBE(f, "many");
        TCHECK(f->rc == 0);
        {
                struct pub p = {.addr = f->addr, .proto = f->proto};
                f->rc = TASK_SPAWN(cx->rt, publisher_task, &p, &f->h);
        }
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        for (f->i = 0; f->i < MANY; f->i++) {
                NEXT(f);
                if (f->rc != 0)
                        break;
                snprintf(f->buf, sizeof f->buf, "msg-%d", f->i);
                if (!msg_is(&f->m, "many", f->buf))
                        f->count++; /* out of order or damaged */
                task_redis_msg_free(&f->m);
        }
        TCHECK(f->i == MANY && f->count == 0);
        TASK_JOIN(f, f->h, &f->rc);
        TCHECK(f->rc == 0);
        TASK_CLEANUP(f);
        task_handle_release(f->h);
        task_redis_msg_free(&f->m);
        task_redis_sub_close(f->s);
        TASK_END(f);
}

Test(subscriber, thousand_messages_from_a_publisher_task, .timeout = 60)
{
        run_on(many_task, TASK_MULTI_THREAD);
}

/* ---- PING, timeouts ------------------------------------------------------ */

static int ping_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CONNECT_SUB(f);
        SUBSCRIBE(f, "a");
        TCHECK(f->rc == 0);
        PUBLISH(f, "a", "before");
        TCHECK(f->rc == 0 && f->n == 1);
        TASK_REDIS_SUB_PING(f, f->s, &f->op, &f->rc);
        TCHECK(f->rc == 0);
        TCHECK(task_redis_sub_queued(f->s) == 1);
        TASK_REDIS_SUB_PING(f, f->s, &f->op, &f->rc);
        TCHECK(f->rc == 0);
        NEXT(f);
        TCHECK(f->rc == 0 && msg_is(&f->m, "a", "before"));
        task_redis_msg_free(&f->m);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, ping_while_subscribed, .timeout = 30)
{
        run(ping_task);
}

static int timeout_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CONNECT_SUB(f);
        SUBSCRIBE(f, "a");
        TCHECK(f->rc == 0);
        f->t0 = now_ns();
        TASK_TIMEOUT(f, &f->sel, &f->sl, TASK_MS(100),
                     task_redis_sub_next_poll(cx, f->s, &f->op, &f->m, &f->rc),
                     &f->rc);
        TCHECK(f->rc == -ETIMEDOUT);
        TCHECK(now_ns() - f->t0 >= TASK_MS(90));
        TCHECK(f->m.v == NULL);
        /* Nothing lost, still connected, still subscribed. */
        PUBLISH(f, "a", "after");
        TCHECK(f->rc == 0 && f->n == 1);
        TASK_TIMEOUT(f, &f->sel, &f->sl, TASK_SEC(10),
                     task_redis_sub_next_poll(cx, f->s, &f->op, &f->m, &f->rc),
                     &f->rc);
        TCHECK(f->rc == 0 && msg_is(&f->m, "a", "after"));
        task_redis_msg_free(&f->m);
        /* A timeout several times in a row. */
        for (f->i = 0; f->i < 3; f->i++) {
                TASK_TIMEOUT(
                    f, &f->sel, &f->sl, TASK_MS(20),
                    task_redis_sub_next_poll(cx, f->s, &f->op, &f->m, &f->rc),
                    &f->rc);
                TCHECK(f->rc == -ETIMEDOUT);
        }
        SUBSCRIBE(f, "b");
        TCHECK(f->rc == 0 && counts(f->s, 2, 0));
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, timeout_on_next_loses_nothing, .timeout = 30)
{
        run(timeout_task);
}

/* ---- The server going away ---------------------------------------------- */

static int close_part1(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT_SUB(f);
        SUBSCRIBE(f, "a");
        TCHECK(f->rc == 0);
        TASK_END(f); /* f->s lives on, in the frame copied back */
}

static int close_part2(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        NEXT(f);
        TCHECK(f->rc == -ECONNRESET || f->rc == -EPIPE);
        TCHECK(f->m.v == NULL);
        NEXT(f);
        TCHECK(f->rc == -ENOTCONN);
        SUBSCRIBE(f, "b");
        TCHECK(f->rc == -ENOTCONN);
        TASK_REDIS_SUB_PING(f, f->s, &f->op, &f->rc);
        TCHECK(f->rc == -ENOTCONN);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, server_closing_is_a_clear_error, .timeout = 30)
{
        struct srv s;
        task_runtime *rt;

        srv_start(&s);
        rt = test_rt_new(TASK_CURRENT_THREAD, 0);
        for (int proto = 2; proto <= 3; proto++) {
                struct t *f = calloc(1, sizeof *f);

                cr_assert_not_null(f);
                if (proto == 3)
                        srv_restart(&s);
                f->addr = s.addr;
                f->proto = proto;
                cr_assert_eq(task_block_on(rt, close_part1, f, sizeof *f), 0);
                tcheck_assert_none();
                cr_assert_not_null(f->s);
                srv_kill(&s);
                f->co.lc = 0;
                cr_assert_eq(task_block_on(rt, close_part2, f, sizeof *f), 0);
                free(f);
                tcheck_assert_none();
        }
        test_rt_free(rt);
        srv_stop(&s);
}

/* ---- Fake servers --------------------------------------------------------- */

struct fk {
        TASK_FRAME;
        const char *addr;
        int mode; /* what to expect */
        task_redis *c;
        task_redis_sub *s;
        struct task_redis_op op;
        struct task_redis_msg m;
        int rc;
};

enum { FK_ERROR, FK_GARBAGE, FK_SCRIPT, FK_CLOSE };

static int fake_task(struct task_cx *cx, void *arg)
{
        struct fk *f = arg;

        TASK_BEGIN(f);
        TASK_REDIS_CONNECT(f, f->addr, NULL, &f->op, &f->c, &f->rc);
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        f->rc = task_redis_sub_new(f->c, &f->s);
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        f->c = NULL;
        X(TASK_REDIS_SUBSCRIBE, f, f->s, &f->op, ARGV("a"), NULL, &f->rc);
        if (f->mode == FK_ERROR) {
                TCHECK(f->rc == -EREMOTEIO);
                TCHECK(
                    strcmp(task_redis_last_error(task_redis_sub_client(f->s)),
                           "ERR nope") == 0);
                TCHECK(task_redis_connected(task_redis_sub_client(f->s)));
        } else if (f->mode == FK_GARBAGE) {
                TCHECK(f->rc == -EPROTO);
                TASK_REDIS_SUB_NEXT(f, f->s, &f->op, &f->m, &f->rc);
                TCHECK(f->rc == -ENOTCONN);
        } else if (f->mode == FK_CLOSE) {
                TCHECK(f->rc == -ECONNRESET || f->rc == -EPIPE);
                TASK_REDIS_SUB_NEXT(f, f->s, &f->op, &f->m, &f->rc);
                TCHECK(f->rc == -ENOTCONN);
        } else {
                /* The script: the confirmation, a message, a pong, an
                 * unknown push-like array, a pmessage. */
                TCHECK(f->rc == 0 && counts(f->s, 1, 0));
                TASK_REDIS_SUB_NEXT(f, f->s, &f->op, &f->m, &f->rc);
                TCHECK(f->rc == 0 && msg_is(&f->m, "a", "hi"));
                task_redis_msg_free(&f->m);
                TASK_REDIS_SUB_NEXT(f, f->s, &f->op, &f->m, &f->rc);
                TCHECK(f->rc == 0 && pmsg_is(&f->m, "a*", "ab", "yo"));
                task_redis_msg_free(&f->m);
        }
        TASK_CLEANUP(f);
        task_redis_msg_free(&f->m);
        task_redis_sub_close(f->s);
        task_redis_close(f->c);
        TASK_END(f);
}

static void fake_run(enum fake_mode mode, const char *script, int expect)
{
        struct fake fs = {0};
        struct fk f = {0};
        task_runtime *rt = test_rt_new(TASK_CURRENT_THREAD, 0);

        fs.script = script;
        fs.script_len = script ? strlen(script) : 0;
        fake_start(&fs, mode);
        f.addr = fs.addr;
        f.mode = expect;
        cr_assert_eq(task_block_on(rt, fake_task, &f, sizeof f), 0);
        fake_stop(&fs);
        tcheck_assert_none();
        test_rt_free(rt);
}

Test(subscriber, fake_error_reply_is_eremoteio, .timeout = 30)
{
        fake_run(FAKE_SCRIPT, "-ERR nope\r\n", FK_ERROR);
}

Test(subscriber, fake_garbage_is_eproto_then_enotconn, .timeout = 30)
{
        fake_run(FAKE_GARBAGE, NULL, FK_GARBAGE);
}

Test(subscriber, fake_close_is_econnreset_then_enotconn, .timeout = 30)
{
        fake_run(FAKE_CLOSE, NULL, FK_CLOSE);
}

Test(subscriber, fake_scripted_stream, .timeout = 30)
{
        fake_run(FAKE_SCRIPT,
                 "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
                 "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"
                 "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
                 "*2\r\n$5\r\nother\r\n$1\r\nx\r\n"
                 ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
                 "*4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$2\r\nab\r\n$2\r\nyo\r\n",
                 FK_SCRIPT);
}

/* ---- Invalid arguments, -EBUSY -------------------------------------------- */

static int invalid_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;
        static const char *const nul[] = {NULL};
        task_redis_sub *s2 = NULL;
        int rc;
        bool done;

        TASK_BEGIN(f);
        task_redis_opts_init(&f->o);
        f->o.protocol = f->proto;
        TASK_REDIS_CONNECT(f, f->addr, &f->o, &f->op, &f->sc, &f->rc);
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        TCHECK(task_redis_sub_new(NULL, &s2) == -EINVAL && s2 == NULL);
        TCHECK(task_redis_sub_new(f->sc, NULL) == -EINVAL);
        /* A client that owes a reply cannot become a subscriber. */
        TCHECK(X(task_redis_append, f->sc, ARGV("PING"), NULL) == 0);
        TCHECK(task_redis_sub_new(f->sc, &s2) == -EBUSY && s2 == NULL);
        TASK_REDIS_REPLY(f, f->sc, &f->op, &f->v, &f->rc);
        TCHECK(f->rc == 0);
        task_redis_value_free(f->v);
        f->v = NULL;
        TCHECK(task_redis_sub_new(f->sc, &f->s) == 0);
        f->sc = NULL;
#define INVALID(call)                                                          \
        do {                                                                   \
                rc = 12345;                                                    \
                done = (call);                                                 \
                TCHECK(done &&rc == -EINVAL);                                  \
        } while (0)
        INVALID(
            task_redis_subscribe_poll(cx, f->s, &f->op, 0, NULL, NULL, &rc));
        INVALID(
            task_redis_subscribe_poll(cx, f->s, &f->op, 1, NULL, NULL, &rc));
        INVALID(task_redis_subscribe_poll(cx, f->s, &f->op, 1, nul, NULL, &rc));
        INVALID(X(task_redis_subscribe_poll, cx, NULL, &f->op, ARGV("a"), NULL,
                  &rc));
        INVALID(
            X(task_redis_subscribe_poll, cx, f->s, NULL, ARGV("a"), NULL, &rc));
        INVALID(
            task_redis_psubscribe_poll(cx, f->s, &f->op, 0, NULL, NULL, &rc));
        INVALID(
            task_redis_unsubscribe_poll(cx, f->s, &f->op, -1, NULL, NULL, &rc));
        INVALID(
            task_redis_punsubscribe_poll(cx, f->s, &f->op, 1, nul, NULL, &rc));
        INVALID(task_redis_sub_next_poll(cx, f->s, &f->op, NULL, &rc));
        INVALID(task_redis_sub_next_poll(NULL, f->s, &f->op, &f->m, &rc));
        INVALID(task_redis_sub_ping_poll(cx, NULL, &f->op, &rc));
#undef INVALID
        TCHECK(task_redis_sub_channels(NULL) == 0);
        TCHECK(task_redis_sub_client(NULL) == NULL);
        task_redis_sub_close(NULL);
        task_redis_msg_free(NULL);
        /* Nothing was sent: the subscriber works. */
        SUBSCRIBE(f, "a");
        TCHECK(f->rc == 0 && counts(f->s, 1, 0));
        TASK_REDIS_SUB_PING(f, f->s, &f->op, &f->rc);
        TCHECK(f->rc == 0);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, invalid_arguments, .timeout = 30)
{
        run(invalid_task);
}

/* Two calls at once on one subscriber: the second is -EBUSY. */
struct busy {
        TASK_FRAME;
        task_redis_sub *s;
        struct task_redis_op op;
        struct task_redis_msg m;
        int rc;
};

static int busy_waiter(struct task_cx *cx, void *arg)
{
        struct busy *f = arg;

        TASK_BEGIN(f);
        TASK_REDIS_SUB_NEXT(f, f->s, &f->op, &f->m, &f->rc);
        TASK_CLEANUP(f);
        task_redis_msg_free(&f->m);
        TASK_END(f);
}

static int busy_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CONNECT_SUB(f);
        SUBSCRIBE(f, "a");
        TCHECK(f->rc == 0);
        {
                struct busy b = {.s = f->s};
                f->rc = TASK_SPAWN(cx->rt, busy_waiter, &b, &f->h);
        }
        TCHECK(f->rc == 0);
        if (f->rc)
                TASK_RETURN(f);
        TASK_YIELD(f); /* the waiter runs: it awaits a message */
        TASK_YIELD(f);
        f->rc = 0;
        TASK_REDIS_SUB_PING(f, f->s, &f->op, &f->rc);
        TCHECK(f->rc == -EBUSY);
        /* Aborted, the waiter lets go; the subscriber works again. */
        task_abort(f->h);
        TASK_JOIN(f, f->h, &f->rc);
        TCHECK(f->rc == -ECANCELED);
        PUBLISH(f, "a", "x");
        TCHECK(f->rc == 0 && f->n == 1);
        NEXT(f);
        TCHECK(f->rc == 0 && msg_is(&f->m, "a", "x"));
        task_redis_msg_free(&f->m);
        TASK_CLEANUP(f);
        task_handle_release(f->h);
        task_redis_msg_free(&f->m);
        task_redis_value_free(f->v);
        task_redis_sub_close(f->s);
        task_redis_close(f->sc);
        task_redis_close(f->c);
        TASK_END(f);
}

Test(subscriber, concurrent_call_is_ebusy_and_abort_lets_go, .timeout = 30)
{
        run(busy_task);
}

/* ---- Names are read at the first poll only -------------------------------- */

static const char *scribbled[2];

/* SUBSCRIBE through a wrapper that, once the command is on its way,
 * scribbles over the names (as over a local array of the poll function,
 * not preserved across a suspension): the call still completes. */
static bool sub_then_scribble(struct task_cx *cx, struct t *f)
{
        bool done = task_redis_subscribe_poll(cx, f->s, &f->op, 2, scribbled,
                                              NULL, &f->rc);

        if (!done)
                scribbled[0] = scribbled[1] = NULL;
        return done;
}

static int names_task(struct task_cx *cx, void *arg)
{
        struct t *f = arg;

        TASK_BEGIN(f);
        CONNECT(f);
        CONNECT_SUB(f);
        scribbled[0] = "n1";
        scribbled[1] = "n2";
        f->rc = 12345;
        TASK_AWAIT(f, sub_then_scribble(cx, f));
        TCHECK(f->rc == 0 && counts(f->s, 2, 0));
        PUBLISH(f, "n2", "hi");
        TCHECK(f->rc == 0 && f->n == 1);
        NEXT(f);
        TCHECK(f->rc == 0 && msg_is(&f->m, "n2", "hi"));
        task_redis_msg_free(&f->m);
        T_CLEANUP(f);
        TASK_END(f);
}

Test(subscriber, names_are_read_at_the_first_poll_only, .timeout = 30)
{
        run(names_task);
}
