/*
 * redis/client/subscriber.c - the subscriber of libtask/redis_sub.h: a
 * client connection in pub/sub mode, its subscription counts and a queue
 * of messages read while a call awaited something else.
 *
 * Wire.  A subscribed connection carries, in one stream: confirmations of
 * (P)(UN)SUBSCRIBE ([kind, name-or-nil, total count]), messages
 * (["message", channel, payload], ["pmessage", pattern, channel,
 * payload]), PING's answer and error replies.  In RESP2 the first three
 * are arrays (PING's is ["pong", arg]); in RESP3 they are push messages
 * and PING's answer is a plain +PONG.  classify() names each value; every
 * call reads values off the wire with task_redis__value_poll (which hands
 * over replies and pushes alike, without counting replies owed: the
 * commands are queued with task_redis__append_noreply, so the client's
 * reply accounting stays at zero the whole time) and handles them the
 * same way:
 *  - a message: the answer of next; queued during any other call;
 *  - a confirmation: updates the counts; it ends a (un)subscribe once as
 *    many of its kind have come as the call asked for (for "everything":
 *    once the count of that kind is 0); dropped otherwise (confirmations
 *    of a cancelled call come later and are absorbed here);
 *  - PING's answer: ends a ping call; dropped otherwise;
 *  - an error reply: ends the call with -EREMOTEIO (its text kept for
 *    task_redis_last_error);
 *  - other pushes (client tracking's "invalidate", ...) are dropped.
 *
 * Counts.  A confirmation carries the total of channel and pattern
 * subscriptions; each kind changes only its own side, so channels =
 * total - patterns after (un)subscribe, patterns = total - channels after
 * p(un)subscribe.  The counts hence follow the server even through
 * confirmations nobody awaited.
 *
 * State: a call is op->lc 0 (idle) or CALL_WAIT (command sent, awaiting);
 * op->i counts the confirmations still awaited (ALL: until the count of
 * that kind is 0); op->scratch[0] is the call (enum call).  The inner
 * read's op is the subscriber's own (s->iop): one call at a time
 * (s->busy).  Once the connection is broken, s->err makes every later
 * call fail with -ENOTCONN before any I/O, so the client never reconnects
 * under a subscriber (its subscriptions would be silently gone).
 *
 * Called by: applications and task-redis-cli's subscribe, from one task
 * at a time.
 */
#include "client-priv.h"

#include <libtask/redis_sub.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Commands built on the stack for up to this many names. */
#define ARGV_STACK 32

/* op->lc of a call that has sent its command. */
#define CALL_WAIT 1

/* op->i: await until the count of the kind is 0 (unsubscribe from all). */
#define ALL ((size_t)-1)

/* What a call is (op->scratch[0]). */
enum call {
        CALL_NEXT = 1,
        CALL_PING,
        CALL_SUBSCRIBE,
        CALL_PSUBSCRIBE,
        CALL_UNSUBSCRIBE,
        CALL_PUNSUBSCRIBE,
};

struct task_redis_sub {
        task_redis *c;
        struct task_redis_op iop;  /* the read in progress (value_poll) */
        size_t channels, patterns; /* the server's latest word */
        /* Messages read, not yet taken: a ring of q[qcap], from qhead. */
        struct task_redis_value **q;
        size_t qcap, qhead, qlen;
        uint64_t reconnects; /* the client's count when we got it */
        int err;             /* 0, or -ENOTCONN once broken (sticky) */
        bool busy;           /* a call is in progress */
};

/* ---- Classifying what arrives ---------------------------------------------- */

/* What a value read off a subscribed connection is. */
enum vkind {
        V_MESSAGE,
        V_PMESSAGE,
        V_SUBSCRIBE, /* V_SUBSCRIBE + call - CALL_SUBSCRIBE: the 4 kinds */
        V_PSUBSCRIBE,
        V_UNSUBSCRIBE,
        V_PUNSUBSCRIBE,
        V_PONG,  /* PING's answer (RESP2 array, RESP3 +PONG) */
        V_ERROR, /* an error reply */
        V_OTHER, /* anything else: dropped */
        V_BAD,   /* a known kind, malformed */
};

static bool is_text(const struct task_redis_value *v)
{
        return v->type == TASK_REDIS_STRING || v->type == TASK_REDIS_STATUS;
}

static bool word_is(const struct task_redis_value *v, const char *w)
{
        size_t n = strlen(w);

        return is_text(v) && v->len == n && strncasecmp(v->str, w, n) == 0;
}

static enum vkind classify(const struct task_redis_value *v)
{
        static const char *const conf[] = {"subscribe", "psubscribe",
                                           "unsubscribe", "punsubscribe"};
        const struct task_redis_value *e = v->elem;

        if (v->type == TASK_REDIS_ERROR)
                return V_ERROR;
        if (v->type == TASK_REDIS_STATUS && word_is(v, "PONG"))
                return V_PONG; /* RESP3 */
        if ((v->type != TASK_REDIS_ARRAY && v->type != TASK_REDIS_PUSH) ||
            v->n < 1 || !is_text(&e[0]))
                return V_OTHER;
        if (word_is(&e[0], "message"))
                return v->n == 3 && is_text(&e[1]) && is_text(&e[2]) ? V_MESSAGE
                                                                     : V_BAD;
        if (word_is(&e[0], "pmessage"))
                return v->n == 4 && is_text(&e[1]) && is_text(&e[2]) &&
                               is_text(&e[3])
                           ? V_PMESSAGE
                           : V_BAD;
        for (int i = 0; i < 4; i++) {
                if (!word_is(&e[0], conf[i]))
                        continue;
                if (v->n != 3 || e[2].type != TASK_REDIS_INTEGER ||
                    e[2].integer < 0 ||
                    (!is_text(&e[1]) && e[1].type != TASK_REDIS_NIL))
                        return V_BAD;
                return (enum vkind)(V_SUBSCRIBE + i);
        }
        if (v->type == TASK_REDIS_ARRAY && word_is(&e[0], "pong"))
                return V_PONG; /* RESP2 */
        return V_OTHER;
}

/* A confirmation's total into the counts (see the head of this file). */
static void count(task_redis_sub *s, enum vkind k, size_t total)
{
        if (k == V_SUBSCRIBE || k == V_UNSUBSCRIBE)
                s->channels = total > s->patterns ? total - s->patterns : 0;
        else
                s->patterns = total > s->channels ? total - s->channels : 0;
}

/* ---- Messages -------------------------------------------------------------- */

/* The message in @v (V_MESSAGE or V_PMESSAGE) into *m, which takes @v. */
static void msg_from(struct task_redis_msg *m, struct task_redis_value *v,
                     enum vkind k)
{
        const struct task_redis_value *e = v->elem;

        memset(m, 0, sizeof *m);
        m->v = v;
        if (k == V_MESSAGE) {
                m->kind = TASK_REDIS_MSG_MESSAGE;
                m->channel = e[1].str;
                m->channel_len = e[1].len;
                m->payload = e[2].str;
                m->payload_len = e[2].len;
        } else {
                m->kind = TASK_REDIS_MSG_PMESSAGE;
                m->pattern = e[1].str;
                m->pattern_len = e[1].len;
                m->channel = e[2].str;
                m->channel_len = e[2].len;
                m->payload = e[3].str;
                m->payload_len = e[3].len;
        }
}

void task_redis_msg_free(struct task_redis_msg *m)
{
        if (!m)
                return;
        task_redis_value_free(m->v);
        memset(m, 0, sizeof *m);
}

/* Queue @v (a message); -ENOMEM leaves the queue as it was. */
static int q_push(task_redis_sub *s, struct task_redis_value *v)
{
        if (s->qlen == s->qcap) {
                size_t ncap = s->qcap ? 2 * s->qcap : 16;
                struct task_redis_value **nq = malloc(sizeof *nq * ncap);

                if (!nq)
                        return -ENOMEM;
                for (size_t i = 0; i < s->qlen; i++)
                        nq[i] = s->q[(s->qhead + i) % s->qcap];
                free(s->q);
                s->q = nq;
                s->qcap = ncap;
                s->qhead = 0;
        }
        s->q[(s->qhead + s->qlen) % s->qcap] = v;
        s->qlen++;
        return 0;
}

static struct task_redis_value *q_pop(task_redis_sub *s)
{
        struct task_redis_value *v;

        if (!s->qlen)
                return NULL;
        v = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        return v;
}

/* ---- Life ------------------------------------------------------------------ */

int task_redis_sub_new(task_redis *c, task_redis_sub **out)
{
        task_redis_sub *s;

        if (!c || !out)
                return -EINVAL;
        if (!task_redis_connected(c))
                return -ENOTCONN;
        if (task_redis_pending(c))
                return -EBUSY;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->c = c;
        s->reconnects = task_redis_reconnects(c);
        *out = s;
        return 0;
}

void task_redis_sub_close(task_redis_sub *s)
{
        struct task_redis_value *v;

        if (!s)
                return;
        while ((v = q_pop(s)))
                task_redis_value_free(v);
        free(s->q);
        task_redis_close(s->c);
        free(s);
}

task_redis *task_redis_sub_client(const task_redis_sub *s)
{
        return s ? s->c : NULL;
}

size_t task_redis_sub_channels(const task_redis_sub *s)
{
        return s ? s->channels : 0;
}

size_t task_redis_sub_patterns(const task_redis_sub *s)
{
        return s ? s->patterns : 0;
}

size_t task_redis_sub_queued(const task_redis_sub *s)
{
        return s ? s->qlen : 0;
}

/* ---- Calls ------------------------------------------------------------------ */

/* The connection is usable: not broken, not reconnected behind our back. */
static int usable(task_redis_sub *s)
{
        if (!s->err && (!task_redis_connected(s->c) ||
                        task_redis_reconnects(s->c) != s->reconnects))
                s->err = -ENOTCONN;
        return s->err;
}

/* The call ends with @rc (a failure of the read may have broken the
 * connection: usable() remembers that for the next calls). */
static bool finish(task_redis_sub *s, struct task_redis_op *op, int *rc, int r)
{
        op->lc = 0;
        s->busy = false;
        if (r < 0)
                (void)usable(s);
        *rc = r;
        return true;
}

/* Send the call's command: @word and @names[0..@n). */
static int send_cmd(task_redis_sub *s, const char *word, int n,
                    const char *const *names, const size_t *lens)
{
        const char *sargv[ARGV_STACK + 1];
        size_t slens[ARGV_STACK + 1];
        const char **argv = sargv;
        size_t *alens = slens;
        int rc;

        if (n > ARGV_STACK) {
                argv = malloc(sizeof *argv * ((size_t)n + 1));
                alens = malloc(sizeof *alens * ((size_t)n + 1));
                if (!argv || !alens) {
                        free(argv);
                        free(alens);
                        return -ENOMEM;
                }
        }
        argv[0] = word;
        alens[0] = strlen(word);
        for (int i = 0; i < n; i++) {
                argv[i + 1] = names[i];
                alens[i + 1] = lens ? lens[i] : strlen(names[i]);
        }
        rc = task_redis__append_noreply(s->c, n + 1, argv, alens);
        if (argv != sargv) {
                free(argv);
                free(alens);
        }
        return rc;
}

/* The names of a call are valid: @n >= @min, none NULL with a length. */
static bool names_ok(int n, int min, const char *const *names,
                     const size_t *lens)
{
        if (n < min || n >= INT32_MAX || (n > 0 && !names))
                return false;
        for (int i = 0; i < n; i++)
                if (lens ? !names[i] && lens[i] : !names[i])
                        return false;
        return true;
}

/*
 * One call: start it (op->lc 0), then read values until it is answered.
 * @word, @n, @names, @lens: the command of a (un)subscribe or ping (NULL
 * @word for next).  @msg: next's output.
 */
static bool call_poll(struct task_cx *cx, task_redis_sub *s,
                      struct task_redis_op *op, enum call call,
                      const char *word, int n, int min,
                      const char *const *names, const size_t *lens,
                      struct task_redis_msg *msg, int *rc)
{
        struct task_redis_value *v;
        enum vkind k;
        int r;

        if (cx && cx->cancelling) {
                /* The last look of an abort or a lost select. */
                if (!s || !op || op->lc != CALL_WAIT)
                        return false;
                v = NULL;
                (void)task_redis__value_poll(cx, s->c, &s->iop, &v, &r);
                task_redis_value_free(v); /* none expected; never leak */
                if (!cx->cancel_wait) {
                        /* The read let go: the call is over.  A cancelled
                         * read loses nothing; if the cancel cut a write
                         * short, the client broke the connection, and
                         * usable() will see it at the next call. */
                        memset(&s->iop, 0, sizeof s->iop);
                        op->lc = 0;
                        s->busy = false;
                }
                return false;
        }
        /* The names are read at the first poll only (the header lets them
         * be temporaries): a call in progress does not look at them. */
        if (!cx || !s || !op || !rc || (call == CALL_NEXT && !msg) ||
            (op->lc == 0 && !names_ok(n, min, names, lens))) {
                if (msg)
                        memset(msg, 0, sizeof *msg);
                if (rc)
                        *rc = -EINVAL;
                return true;
        }
        if (op->lc == 0) {
                if (msg)
                        memset(msg, 0, sizeof *msg);
                if (s->busy) {
                        *rc = -EBUSY;
                        return true;
                }
                r = usable(s);
                if (r < 0) {
                        *rc = r;
                        return true;
                }
                if (call == CALL_NEXT && s->qlen) {
                        v = q_pop(s);
                        msg_from(msg, v, classify(v));
                        *rc = 0;
                        return true;
                }
                if (word) {
                        r = send_cmd(s, word, n, names, lens);
                        if (r < 0) {
                                *rc = r;
                                return true;
                        }
                }
                op->i = n == 0 ? ALL : (size_t)n;
                op->scratch[0] = call;
                op->lc = CALL_WAIT;
                memset(&s->iop, 0, sizeof s->iop);
                s->busy = true;
        }
        for (;;) {
                v = NULL;
                if (!task_redis__value_poll(cx, s->c, &s->iop, &v, &r))
                        return false;
                memset(&s->iop, 0, sizeof s->iop);
                if (r < 0) {
                        task_redis_value_free(v);
                        return finish(s, op, rc, r);
                }
                if (!v)
                        return finish(s, op, rc, -EPROTO);
                k = classify(v);
                if (k == V_MESSAGE || k == V_PMESSAGE) {
                        if (call == CALL_NEXT) {
                                msg_from(msg, v, k);
                                return finish(s, op, rc, 0);
                        }
                        r = q_push(s, v);
                        if (r < 0) {
                                task_redis_value_free(v);
                                return finish(s, op, rc, r);
                        }
                        continue;
                }
                if (k == V_ERROR) {
                        task_redis__set_error(s->c, v);
                        task_redis_value_free(v);
                        return finish(s, op, rc, -EREMOTEIO);
                }
                if (k == V_BAD) {
                        task_redis_value_free(v);
                        return finish(s, op, rc, -EPROTO);
                }
                if (k == V_PONG) {
                        task_redis_value_free(v);
                        if (call == CALL_PING)
                                return finish(s, op, rc, 0);
                        continue;
                }
                if (k == V_OTHER) {
                        task_redis_value_free(v);
                        continue;
                }
                /* A confirmation. */
                count(s, k, (size_t)v->elem[2].integer);
                task_redis_value_free(v);
                if ((int64_t)k - V_SUBSCRIBE != op->scratch[0] - CALL_SUBSCRIBE)
                        continue; /* another call's (a cancelled one) */
                if (op->i == ALL) {
                        size_t left =
                            k == V_UNSUBSCRIBE ? s->channels : s->patterns;
                        if (left == 0)
                                return finish(s, op, rc, 0);
                } else if (--op->i == 0) {
                        return finish(s, op, rc, 0);
                }
        }
}

bool task_redis_subscribe_poll(struct task_cx *cx, task_redis_sub *s,
                               struct task_redis_op *op, int n,
                               const char *const *chans, const size_t *lens,
                               int *rc)
{
        return call_poll(cx, s, op, CALL_SUBSCRIBE, "SUBSCRIBE", n, 1, chans,
                         lens, NULL, rc);
}

bool task_redis_psubscribe_poll(struct task_cx *cx, task_redis_sub *s,
                                struct task_redis_op *op, int n,
                                const char *const *pats, const size_t *lens,
                                int *rc)
{
        return call_poll(cx, s, op, CALL_PSUBSCRIBE, "PSUBSCRIBE", n, 1, pats,
                         lens, NULL, rc);
}

bool task_redis_unsubscribe_poll(struct task_cx *cx, task_redis_sub *s,
                                 struct task_redis_op *op, int n,
                                 const char *const *chans, const size_t *lens,
                                 int *rc)
{
        return call_poll(cx, s, op, CALL_UNSUBSCRIBE, "UNSUBSCRIBE", n, 0,
                         chans, lens, NULL, rc);
}

bool task_redis_punsubscribe_poll(struct task_cx *cx, task_redis_sub *s,
                                  struct task_redis_op *op, int n,
                                  const char *const *pats, const size_t *lens,
                                  int *rc)
{
        return call_poll(cx, s, op, CALL_PUNSUBSCRIBE, "PUNSUBSCRIBE", n, 0,
                         pats, lens, NULL, rc);
}

bool task_redis_sub_next_poll(struct task_cx *cx, task_redis_sub *s,
                              struct task_redis_op *op,
                              struct task_redis_msg *msg, int *rc)
{
        return call_poll(cx, s, op, CALL_NEXT, NULL, 0, 0, NULL, NULL, msg, rc);
}

bool task_redis_sub_ping_poll(struct task_cx *cx, task_redis_sub *s,
                              struct task_redis_op *op, int *rc)
{
        return call_poll(cx, s, op, CALL_PING, "PING", 0, 0, NULL, NULL, NULL,
                         rc);
}
