/*
 * redis/client/reader.c - the incremental RESP2/RESP3 reply reader.
 *
 * One state machine serves both task_redis_reader_feed, which builds the
 * reply as a value tree, and task_redis_reader_skip, which only counts
 * replies (task-redis-bench's inner loop): rdr_run is written once and
 * inlined twice with a constant `build`, so skip carries none of feed's
 * work.  Callers: the clients (feeding from their sockets), the load
 * generator (skipping), and anyone speaking RESP over their own transport.
 *
 * Incremental: every call consumes all the bytes it is given up to the end
 * of a reply, and the reader keeps where it stands (struct
 * task_redis_reader's private fields): the item's type byte, the number
 * read so far, the bytes left of a bulk, and a stack of open aggregates
 * with the elements each still waits for.  No byte is looked at twice.
 * Text lines (+ -) are found with memchr('\r'); bulk payloads are jumped
 * over by their length (skip) or copied once into their final place
 * (feed); only number lines, doubles and big numbers, which are short, go
 * byte by byte, and those are checked as they go (a double must look like
 * one: digits, '.', exponent, or inf / nan).
 *
 * Strictness: every line ends in CRLF (a CR followed by anything else is
 * -EPROTO), lengths are canonical numbers (a sign only in "-1", the RESP2
 * null, for $ * % ~ >), integers fit int64_t.  The RESP3 streamed types
 * ($? *? ; .) are not supported (no server sends them unasked): -EPROTO.
 * Attributes (|) are read and dropped, in feed and in skip; they count
 * towards the depth limit.  Simple lines (+ - , () are held to max_bulk.
 *
 * Memory (feed): the reply under construction is a list of blocks whose
 * head starts with the root node (value-priv.h), allocated when the root's
 * size is known: a GET's reply (node and string) is one allocation.  An
 * element array is allocated when its header arrives, in full up to
 * RDR_EAGER elements and beyond that in a block of its own that doubles
 * as elements arrive, so a bare "*16000000\r\n" costs little.  Likewise a
 * bulk over RDR_BULK_EAGER (1 MiB) starts in a block of that size which
 * doubles as its bytes arrive (realloc: for such sizes glibc mostly moves
 * pages, not bytes), so "$500000000\r\n" alone costs 1 MiB.  On an
 * error, the partial reply is freed and the reader left reset.  The
 * reader's own state (the frame stack, a buffer for a line split across
 * calls) is allocated on first need and kept until task_redis_reader_free:
 * in steady state feed allocates only the replies, and skip nothing at
 * all (its frame stack is allocated once, when the first aggregate
 * arrives).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l */
#endif
#include <libtask/redis_value.h>

#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "value-priv.h"

#define RDR_DEF_MAX_BULK ((size_t)512 << 20)
#define RDR_DEF_MAX_ELEMS ((size_t)1 << 24)
#define RDR_DEF_MAX_DEPTH 64u

/* Elements allocated when an aggregate's header arrives; beyond, the
 * array grows as they come. */
#define RDR_EAGER 1024u
/* Block sizes: the first after the head, the largest a block grows to,
 * and the size from which a string gets a block of its own. */
#define RDR_BLOCK_MIN ((size_t)1024)
#define RDR_BLOCK_MAX ((size_t)256 << 10)
#define RDR_BIG ((size_t)16 << 10)
/* A bulk bigger than this is not allocated whole at its header, but grows
 * (doubling) as its bytes arrive. */
#define RDR_BULK_EAGER ((size_t)1 << 20)
/* A line buffer bigger than this is given back after its reply. */
#define RDR_LINE_KEEP ((size_t)64 << 10)

/* What the next byte is (r->state). */
enum {
        ST_TYPE,    /* the type byte of an item */
        ST_NUM,     /* the digits of : $ * % ~ > | ! = up to the CR */
        ST_NUM_LF,  /* the LF after them */
        ST_LINE,    /* the text of + - , ( up to the CR */
        ST_LINE_LF, /* the LF after it */
        ST_BOOL,    /* t or f */
        ST_BULK,    /* the bytes of $ ! = (r->rem left of r->num) */
        ST_END_CR,  /* the CRLF after a bulk, a bool or a null */
        ST_END_LF,
};

/* r->flags while a number is read. */
enum { F_SIGN = 1, F_NEG = 2, F_DIG = 4 };

/* An open aggregate. */
struct rdr_frame {
        uint64_t n;                    /* elements (2 per pair in % and |) */
        uint64_t rem;                  /* of which still to come */
        struct task_redis_value *node; /* feed: the aggregate's node */
        struct task_redis__block *big; /* feed: its element array's own
                                          block, when it grows */
        uint64_t cap;                  /* feed: slots in node->elem */
        bool attr;                     /* an attribute: not a value */
};

/* What a reader allocates (r->priv). */
struct rdr_priv {
        struct rdr_frame *frames; /* r->depth of them open */
        uint32_t nframes;         /* allocated */
        /* The reply being built (feed). */
        struct task_redis__block *head;     /* NULL: no root yet */
        struct task_redis__block *cur;      /* small allocations come from */
        size_t next_block;                  /* size of the next block */
        struct task_redis_value *bulk;      /* the bulk being filled */
        char *dst;                          /* where its next bytes go */
        struct task_redis__block *bulk_blk; /* its own block if it grows */
        /* A line split across calls (r->rem bytes of it). */
        char *line;
        size_t line_cap;
};

/* Type byte -> 1 + its enum task_redis_type; 0: not a RESP type. */
static const uint8_t rdr_types[256] = {
    ['$'] = 1 + TASK_REDIS_STRING,   ['+'] = 1 + TASK_REDIS_STATUS,
    ['-'] = 1 + TASK_REDIS_ERROR,    ['!'] = 1 + TASK_REDIS_ERROR,
    [':'] = 1 + TASK_REDIS_INTEGER,  [','] = 1 + TASK_REDIS_DOUBLE,
    ['#'] = 1 + TASK_REDIS_BOOL,     ['('] = 1 + TASK_REDIS_BIGNUM,
    ['='] = 1 + TASK_REDIS_VERBATIM, ['*'] = 1 + TASK_REDIS_ARRAY,
    ['%'] = 1 + TASK_REDIS_MAP,      ['~'] = 1 + TASK_REDIS_SET,
    ['>'] = 1 + TASK_REDIS_PUSH,     ['_'] = 1 + TASK_REDIS_NIL,
    ['|'] = 1 + TASK_REDIS_NIL, /* an attribute: the value follows */
};

/* ---- Reader state ---------------------------------------------------------- */

static struct rdr_priv *rdr_priv(struct task_redis_reader *r)
{
        if (!r->priv)
                r->priv = calloc(1, sizeof(struct rdr_priv));
        return r->priv;
}

/* Drops the partial reply: the reader is at the start of a reply. */
static void rdr_clear(struct task_redis_reader *r)
{
        struct rdr_priv *pv = r->priv;

        if (pv) {
                task_redis__blocks_free(pv->head);
                pv->head = pv->cur = NULL;
                pv->bulk = NULL;
                pv->dst = NULL;
                pv->bulk_blk = NULL;
                if (pv->line_cap > RDR_LINE_KEEP) {
                        free(pv->line);
                        pv->line = NULL;
                        pv->line_cap = 0;
                }
        }
        r->rem = 0;
        r->num = 0;
        r->state = ST_TYPE;
        r->depth = 0;
        r->nattr = 0;
        r->item = 0;
        r->flags = 0;
        r->top = TASK_REDIS_NIL;
}

int task_redis_reader_init(struct task_redis_reader *r,
                           const struct task_redis_reader_opts *o)
{
        if (!r)
                return -EINVAL;
        memset(r, 0, sizeof(*r));
        r->lim.max_bulk = o && o->max_bulk ? o->max_bulk : RDR_DEF_MAX_BULK;
        r->lim.max_elems = o && o->max_elems ? o->max_elems : RDR_DEF_MAX_ELEMS;
        r->lim.max_depth = o && o->max_depth ? o->max_depth : RDR_DEF_MAX_DEPTH;
        /* A line or bulk of max_bulk bytes plus its NUL must be sizeable. */
        if (r->lim.max_bulk > SIZE_MAX / 2)
                r->lim.max_bulk = SIZE_MAX / 2;
        if (r->lim.max_elems > SIZE_MAX / 2 / sizeof(struct task_redis_value))
                r->lim.max_elems =
                    SIZE_MAX / 2 / sizeof(struct task_redis_value);
        rdr_clear(r);
        return 0;
}

void task_redis_reader_reset(struct task_redis_reader *r)
{
        if (r)
                rdr_clear(r);
}

void task_redis_reader_free(struct task_redis_reader *r)
{
        struct rdr_priv *pv;

        if (!r)
                return;
        rdr_clear(r);
        pv = r->priv;
        if (pv) {
                free(pv->frames);
                free(pv->line);
                free(pv);
                r->priv = NULL;
        }
}

/* Opens an aggregate of @n elements (n > 0). */
static int rdr_push(struct task_redis_reader *r, uint64_t n, bool attr,
                    struct task_redis_value *node,
                    struct task_redis__block *big, uint64_t cap)
{
        struct rdr_priv *pv = rdr_priv(r);
        struct rdr_frame *f;

        if (!pv)
                return -ENOMEM;
        if (r->depth == pv->nframes) {
                uint32_t want = pv->nframes ? pv->nframes * 2 : 16;

                if (want > r->lim.max_depth)
                        want = r->lim.max_depth;
                f = realloc(pv->frames, want * sizeof(*f));
                if (!f)
                        return -ENOMEM;
                pv->frames = f;
                pv->nframes = want;
        }
        f = &pv->frames[r->depth++];
        f->n = n;
        f->rem = n;
        f->node = node;
        f->big = big;
        f->cap = cap;
        f->attr = attr;
        if (attr)
                r->nattr++;
        return 0;
}

/* A value ended: counts it in its aggregate and closes the aggregates it
 * completes.  True when it completed the reply. */
static inline bool rdr_pop(struct task_redis_reader *r)
{
        struct rdr_priv *pv = r->priv;

        while (r->depth > 0) {
                struct rdr_frame *f = &pv->frames[r->depth - 1];

                if (--f->rem > 0)
                        return false;
                r->depth--;
                /* A closed attribute is no value: the one it is about
                 * comes next. */
                if (f->attr) {
                        r->nattr--;
                        return false;
                }
        }
        return true;
}

/* ---- The reply's memory (feed) ------------------------------------------- */

static struct task_redis__block *rdr_block_new(size_t cap)
{
        struct task_redis__block *b;

        if (cap > SIZE_MAX - sizeof(*b))
                return NULL;
        b = malloc(sizeof(*b) + cap);
        if (b) {
                b->next = b->prev = NULL;
                b->cap = cap;
                b->used = 0;
        }
        return b;
}

/* Links @b into the reply after its head. */
static void rdr_block_link(struct rdr_priv *pv, struct task_redis__block *b)
{
        b->prev = pv->head;
        b->next = pv->head->next;
        if (b->next)
                b->next->prev = b;
        pv->head->next = b;
}

/* @n bytes of the reply's memory, 8-aligned if @align. */
static void *rdr_alloc(struct rdr_priv *pv, size_t n, bool align)
{
        struct task_redis__block *b = pv->cur;
        size_t off = align ? (b->used + 7) & ~(size_t)7 : b->used;

        if (off <= b->cap && n <= b->cap - off) {
                b->used = off + n;
                return (char *)b->data + off;
        }
        if (n >= RDR_BIG) {
                b = rdr_block_new(n);
                if (!b)
                        return NULL;
                rdr_block_link(pv, b);
                b->used = n;
                return b->data;
        }
        size_t cap = pv->next_block < n ? n : pv->next_block;

        b = rdr_block_new(cap);
        if (!b)
                return NULL;
        rdr_block_link(pv, b);
        pv->cur = b;
        if (pv->next_block < RDR_BLOCK_MAX)
                pv->next_block *= 2;
        b->used = n;
        return b->data;
}

/*
 * The node of the item that starts now, with @extra bytes for its content
 * at *@payload (8-aligned if @align).  The root gets the head block, with
 * @slack bytes more for what comes inside it; any other node is the next
 * slot of the innermost aggregate.  NULL: out of memory.
 */
static struct task_redis_value *rdr_node(struct task_redis_reader *r,
                                         size_t extra, bool align, size_t slack,
                                         void **payload)
{
        struct rdr_priv *pv = r->priv;
        struct task_redis_value *v;

        if (r->depth == 0) {
                struct task_redis__block *b;
                size_t sz = sizeof(*v) + ((extra + 7) & ~(size_t)7);

                if (slack > SIZE_MAX - sz)
                        return NULL;
                b = rdr_block_new(sz + slack);
                if (!b)
                        return NULL;
                b->used = sz;
                pv->head = pv->cur = b;
                pv->next_block = RDR_BLOCK_MIN;
                v = (struct task_redis_value *)(void *)b->data;
                *payload = v + 1;
        } else {
                struct rdr_frame *f = &pv->frames[r->depth - 1];
                uint64_t i = f->n - f->rem;

                if (i >= f->cap) {
                        /* A long array grows in its own block. */
                        struct task_redis__block *b = f->big;
                        uint64_t cap = f->cap * 2 < f->n ? f->cap * 2 : f->n;

                        b = realloc(b, sizeof(*b) + cap * sizeof(*v));
                        if (!b)
                                return NULL;
                        b->prev->next = b;
                        if (b->next)
                                b->next->prev = b;
                        b->cap = b->used = cap * sizeof(*v);
                        f->big = b;
                        f->cap = cap;
                        f->node->elem =
                            (struct task_redis_value *)(void *)b->data;
                }
                v = &f->node->elem[i];
                *payload = NULL;
                if (extra) {
                        *payload = rdr_alloc(pv, extra, align);
                        if (!*payload)
                                return NULL;
                }
        }
        memset(v, 0, sizeof(*v));
        return v;
}

/*
 * Makes room for @n more bytes (and the NUL) in a big bulk that grows in
 * its own block (pv->bulk_blk): doubling, up to its announced size.
 */
static int rdr_bulk_room(struct task_redis_reader *r, size_t n)
{
        struct rdr_priv *pv = r->priv;
        struct task_redis__block *b = pv->bulk_blk;
        size_t done = (size_t)(r->num - r->rem), cap = b->cap;

        if (done + n + 1 <= cap)
                return 0;
        while (cap < done + n + 1)
                cap *= 2;
        if (cap > (size_t)r->num + 1)
                cap = (size_t)r->num + 1;
        b = realloc(b, sizeof(*b) + cap);
        if (!b)
                return -ENOMEM;
        b->prev->next = b;
        if (b->next)
                b->next->prev = b;
        b->cap = b->used = cap;
        pv->bulk_blk = b;
        pv->bulk->str = (char *)b->data;
        pv->dst = pv->bulk->str + done;
        return 0;
}

/* Appends @n bytes to the split line (r->rem bytes so far). */
static int rdr_line_add(struct task_redis_reader *r, const char *s, size_t n)
{
        struct rdr_priv *pv = r->priv;

        if (r->rem + n > pv->line_cap) {
                size_t cap = pv->line_cap ? pv->line_cap : 64;
                char *l;

                while (cap < r->rem + n)
                        cap *= 2;
                l = realloc(pv->line, cap);
                if (!l)
                        return -ENOMEM;
                pv->line = l;
                pv->line_cap = cap;
        }
        memcpy(pv->line + r->rem, s, n);
        return 0;
}

static locale_t rdr_c_locale;
static pthread_once_t rdr_c_locale_once = PTHREAD_ONCE_INIT;

static void rdr_c_locale_init(void)
{
        rdr_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* A double's text (checked already) as a double, whatever the program's
 * locale says about decimal points. */
static double rdr_strtod(const char *s)
{
        pthread_once(&rdr_c_locale_once, rdr_c_locale_init);
        if (rdr_c_locale)
                return strtod_l(s, NULL, rdr_c_locale);
        return strtod(s, NULL);
}

/* The value of a whole text line (+ - , (). */
static int rdr_line_value(struct task_redis_reader *r, const char *s, size_t n)
{
        void *payload;
        struct task_redis_value *v = rdr_node(r, n + 1, false, 0, &payload);

        if (!v)
                return -ENOMEM;
        if (n)
                memcpy(payload, s, n);
        ((char *)payload)[n] = '\0';
        v->type = (enum task_redis_type)(rdr_types[r->item] - 1);
        v->str = payload;
        v->len = n;
        if (r->item == ',')
                v->dval = rdr_strtod(payload);
        return 0;
}

/* ---- Numbers ----------------------------------------------------------------- */

/*
 * The largest magnitude the number line being read may have, given its
 * type and sign, and the error beyond it: -EPROTO for what no length or
 * integer can be, -E2BIG for a length over a limit.
 */
static uint64_t rdr_num_max(const struct task_redis_reader *r, unsigned flags,
                            int *err)
{
        *err = -EPROTO;
        if (r->item == ':')
                return flags & F_NEG ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
        if (flags & F_NEG)
                return 1; /* "-1", the null */
        *err = -E2BIG;
        switch (r->item) {
        case '$':
        case '!':
        case '=':
                return r->lim.max_bulk;
        case '%':
        case '|':
                return r->lim.max_elems / 2;
        default:
                return r->lim.max_elems;
        }
}

/*
 * Reads the digits of a number line from *@sp.  Returns 1 when its CR was
 * read (*@sp just past it), 0 when the bytes ran out first (all read),
 * -EPROTO or -E2BIG.
 */
static inline int rdr_num_scan(struct task_redis_reader *r, const char **sp,
                               const char *end)
{
        const char *s = *sp;
        uint64_t num = r->num;
        unsigned flags = r->flags;
        int err;
        uint64_t max = rdr_num_max(r, flags, &err);

        for (; s < end; s++) {
                unsigned d = (unsigned)(unsigned char)*s - '0';

                if (d < 10) {
                        if (d > max || num > (max - d) / 10)
                                return err;
                        num = num * 10 + d;
                        flags |= F_DIG;
                        continue;
                }
                if (*s == '\r' && (flags & F_DIG)) {
                        r->num = num;
                        r->flags = (uint8_t)flags;
                        *sp = s + 1;
                        return 1;
                }
                if (flags & (F_SIGN | F_DIG))
                        return -EPROTO;
                if (*s == '-')
                        flags |= F_SIGN | F_NEG;
                else if (*s == '+' && r->item == ':')
                        flags |= F_SIGN;
                else
                        return -EPROTO;
                max = rdr_num_max(r, flags, &err);
        }
        r->num = num;
        r->flags = (uint8_t)flags;
        *sp = s;
        return 0;
}

/*
 * Checks the text of a double (,) or a big number (() as it arrives, one
 * state per byte in r->num.  Doubles: [+-] then digits [. digits]
 * [e [+-] digits], or inf or nan (any case).  Big numbers: [+-] digits.
 */
enum {
        D_START,
        D_SIGN,
        D_INT,
        D_DOT,
        D_FRAC,
        D_E,
        D_ESIGN,
        D_EXP,
        D_LDOT, /* '.' with no digit before */
        D_I,
        D_IN,
        D_INF,
        D_N,
        D_NA,
        D_NAN,
};

static int rdr_text_scan(struct task_redis_reader *r, const char *s, size_t n)
{
        uint64_t st = r->num;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                bool digit = (unsigned)c - '0' < 10u;

                if (c >= 'A' && c <= 'Z')
                        c = (unsigned char)(c - 'A' + 'a');
                if (r->item == '(') {
                        if (digit)
                                st = D_INT;
                        else if (st == D_START && (c == '-' || c == '+'))
                                st = D_SIGN;
                        else
                                return -EPROTO;
                        continue;
                }
                switch (st) {
                case D_START:
                case D_SIGN:
                        if (digit)
                                st = D_INT;
                        else if (c == '.')
                                st = D_LDOT;
                        else if (c == 'i')
                                st = D_I;
                        else if (c == 'n')
                                st = D_N;
                        else if (st == D_START && (c == '-' || c == '+'))
                                st = D_SIGN;
                        else
                                return -EPROTO;
                        break;
                case D_INT:
                        if (digit)
                                break;
                        if (c == '.')
                                st = D_DOT;
                        else if (c == 'e')
                                st = D_E;
                        else
                                return -EPROTO;
                        break;
                case D_DOT:
                case D_FRAC:
                case D_LDOT:
                        if (digit)
                                st = D_FRAC;
                        else if (c == 'e' && st != D_LDOT)
                                st = D_E;
                        else
                                return -EPROTO;
                        break;
                case D_E:
                case D_ESIGN:
                        if (digit)
                                st = D_EXP;
                        else if (st == D_E && (c == '-' || c == '+'))
                                st = D_ESIGN;
                        else
                                return -EPROTO;
                        break;
                case D_EXP:
                        if (!digit)
                                return -EPROTO;
                        break;
                case D_I:
                case D_IN:
                        if (c != (st == D_I ? 'n' : 'f'))
                                return -EPROTO;
                        st++;
                        break;
                case D_N:
                case D_NA:
                        if (c != (st == D_N ? 'a' : 'n'))
                                return -EPROTO;
                        st++;
                        break;
                default: /* D_INF, D_NAN: complete */
                        return -EPROTO;
                }
        }
        r->num = st;
        return 0;
}

/* Whether the text line read (all of it) is acceptable for its type. */
static bool rdr_text_ok(const struct task_redis_reader *r)
{
        switch (r->item) {
        case '(':
                return r->num == D_INT;
        case ',':
                return r->num == D_INT || r->num == D_DOT || r->num == D_FRAC ||
                       r->num == D_EXP || r->num == D_INF || r->num == D_NAN;
        default:
                return true;
        }
}

/* ---- The machine ----------------------------------------------------------- */

/*
 * A number line has ended (r->num, r->flags): an integer, or the header of
 * a bulk or an aggregate.  Returns 1 when that made a whole value, 0 when
 * the item goes on (r->state set), or -errno.
 */
static inline int rdr_header(struct task_redis_reader *r, const bool build)
{
        const bool mk = build && r->nattr == 0;
        const bool nil = r->flags & F_NEG;
        uint64_t n = r->num;
        struct rdr_priv *pv = r->priv;
        struct task_redis_value *v;
        void *payload;

        /* A negative length is "-1" (rdr_num_max allowed no more). */
        if (nil && r->item != ':' && n != 1)
                return -EPROTO;
        switch (r->item) {
        case ':':
                if (mk) {
                        v = rdr_node(r, 0, false, 0, &payload);
                        if (!v)
                                return -ENOMEM;
                        v->type = TASK_REDIS_INTEGER;
                        if (!nil)
                                v->integer = (int64_t)n;
                        else if (n > (uint64_t)INT64_MAX)
                                v->integer = INT64_MIN;
                        else
                                v->integer = -(int64_t)n;
                }
                return 1;
        case '$':
        case '!':
        case '=':
                if (nil) {
                        if (r->item != '$')
                                return -EPROTO;
                        goto null;
                }
                if (r->item == '=' && n < 4)
                        return -EPROTO; /* room for "txt:" */
                if (mk && n + 1 > RDR_BULK_EAGER) {
                        /* Not all at once what the server announces: the
                         * bulk's own block grows as the bytes come. */
                        struct task_redis__block *b;

                        v = rdr_node(r, 0, false, 0, &payload);
                        if (!v)
                                return -ENOMEM;
                        b = rdr_block_new(RDR_BULK_EAGER);
                        if (!b)
                                return -ENOMEM;
                        rdr_block_link(pv, b);
                        b->used = b->cap;
                        pv->bulk_blk = b;
                        payload = b->data;
                } else if (mk) {
                        v = rdr_node(r, (size_t)n + 1, false, 0, &payload);
                        if (!v)
                                return -ENOMEM;
                }
                if (mk) {
                        v->type =
                            (enum task_redis_type)(rdr_types[r->item] - 1);
                        v->str = payload;
                        v->len = (size_t)n;
                        pv->bulk = v;
                        pv->dst = payload;
                }
                r->rem = n;
                r->state = n ? ST_BULK : ST_END_CR;
                return 0;
        default:
                break;
        }

        /* An aggregate. */
        bool attr = r->item == '|';

        if (nil) {
                if (attr)
                        return -EPROTO;
                goto null;
        }
        if (r->depth >= r->lim.max_depth)
                return -E2BIG;
        if (r->item == '%' || attr)
                n *= 2;
        r->state = ST_TYPE;
        if (attr)
                return n ? rdr_push(r, n, true, NULL, NULL, 0) : 0;
        if (!mk)
                return n ? rdr_push(r, n, false, NULL, NULL, 0) : 1;

        struct task_redis__block *big = NULL;
        uint64_t cap = n;

        if (n <= RDR_EAGER) {
                /* Room in the head for short strings inside, too. */
                size_t slack = n < 256 ? (size_t)n * 32 : 8192;

                v = rdr_node(r, (size_t)n * sizeof(*v), true, slack, &payload);
                if (!v)
                        return -ENOMEM;
        } else {
                v = rdr_node(r, 0, false, 0, &payload);
                if (!v)
                        return -ENOMEM;
                cap = RDR_EAGER;
                big = rdr_block_new(cap * sizeof(*v));
                if (!big)
                        return -ENOMEM;
                rdr_block_link(pv, big);
                big->used = big->cap;
                payload = big->data;
        }
        v->type = (enum task_redis_type)(rdr_types[r->item] - 1);
        v->elem = n ? payload : NULL;
        v->n = (size_t)n;
        if (!n)
                return 1;
        return rdr_push(r, n, false, v, big, cap);

null:
        if (mk) {
                v = rdr_node(r, 0, false, 0, &payload);
                if (!v)
                        return -ENOMEM;
                v->type = TASK_REDIS_NIL;
        }
        if (r->depth == 0)
                r->top = TASK_REDIS_NIL;
        return 1;
}

/* The CRLF after a bulk, a bool or a null has been read. */
static inline int rdr_end(struct task_redis_reader *r, const bool build)
{
        struct rdr_priv *pv = r->priv;
        struct task_redis_value *v;
        void *payload;

        if (!build || r->nattr)
                return 0;
        switch (r->item) {
        case '#':
        case '_':
                v = rdr_node(r, 0, false, 0, &payload);
                if (!v)
                        return -ENOMEM;
                if (r->item == '#') {
                        v->type = TASK_REDIS_BOOL;
                        v->integer = (int64_t)r->num;
                }
                return 0;
        default:
                v = pv->bulk;
                v->str[v->len] = '\0';
                if (v->type == TASK_REDIS_VERBATIM) {
                        memcpy(v->vfmt, v->str, 3);
                        v->vfmt[3] = '\0';
                        v->str += 4;
                        v->len -= 4;
                }
                pv->bulk = NULL;
                pv->bulk_blk = NULL;
                return 0;
        }
}

/*
 * Runs the machine over @p[0..@len) up to the end of a reply: feed when
 * @build (the reply's root in *@out), skip otherwise (its type in *@type).
 * Inlined into each with @build constant.
 */
static inline __attribute__((always_inline)) int
rdr_run(struct task_redis_reader *r, const char *p, size_t len, size_t *used,
        struct task_redis_value **out, enum task_redis_type *type,
        const bool build)
{
        const char *s = p, *end = p + len;
        struct rdr_priv *pv = r->priv;
        int rc;

        while (s < end) {
                switch (r->state) {
                case ST_TYPE: {
                        unsigned char c = (unsigned char)*s++;
                        uint8_t t = rdr_types[c];

                        if (!t) {
                                rc = -EPROTO;
                                goto fail;
                        }
                        r->item = c;
                        if (r->depth == 0)
                                r->top = (uint8_t)(t - 1);
                        switch (c) {
                        case '+':
                        case '-':
                        case ',':
                        case '(':
                                r->state = ST_LINE;
                                r->rem = 0;
                                r->num = D_START;
                                break;
                        case '#':
                                r->state = ST_BOOL;
                                break;
                        case '_':
                                r->state = ST_END_CR;
                                break;
                        default:
                                r->state = ST_NUM;
                                r->num = 0;
                                r->flags = 0;
                                break;
                        }
                        continue;
                }
                case ST_NUM:
                        rc = rdr_num_scan(r, &s, end);
                        if (rc <= 0) {
                                if (rc < 0)
                                        goto fail;
                                continue; /* s == end */
                        }
                        if (s == end) {
                                r->state = ST_NUM_LF;
                                continue;
                        }
                        /* fall through */
                case ST_NUM_LF:
                        if (*s++ != '\n') {
                                rc = -EPROTO;
                                goto fail;
                        }
                        rc = rdr_header(r, build);
                        if (rc < 0)
                                goto fail;
                        if (rc > 0)
                                goto value_done;
                        continue;
                case ST_LINE: {
                        const char *cr = memchr(s, '\r', (size_t)(end - s));
                        const char *stop = cr ? cr : end;
                        size_t n = (size_t)(stop - s);
                        const bool mk = build && r->nattr == 0;

                        /* Past the limit: -E2BIG, unless a byte before
                         * it was bad (the same error however the bytes
                         * are split). */
                        size_t ok = n;

                        if (n > r->lim.max_bulk - r->rem)
                                ok = (size_t)(r->lim.max_bulk - r->rem);
                        if (r->item == ',' || r->item == '(') {
                                rc = rdr_text_scan(r, s, ok);
                                if (rc < 0)
                                        goto fail;
                        }
                        if (ok < n) {
                                rc = -E2BIG;
                                goto fail;
                        }
                        if (cr && cr + 1 < end) {
                                /* The whole line is here. */
                                if (cr[1] != '\n' || !rdr_text_ok(r)) {
                                        rc = -EPROTO;
                                        goto fail;
                                }
                                if (mk) {
                                        const char *txt = s;

                                        if (r->rem) {
                                                rc = rdr_line_add(r, s, n);
                                                if (rc < 0)
                                                        goto fail;
                                                txt = pv->line;
                                                n += r->rem;
                                        }
                                        rc = rdr_line_value(r, txt, n);
                                        if (rc < 0)
                                                goto fail;
                                }
                                s = cr + 2;
                                goto value_done;
                        }
                        /* Keep what came of it. */
                        if (mk && n) {
                                rc = rdr_line_add(r, s, n);
                                if (rc < 0)
                                        goto fail;
                        }
                        r->rem += n;
                        s = stop;
                        if (cr) {
                                s++;
                                r->state = ST_LINE_LF;
                        }
                        continue;
                }
                case ST_LINE_LF:
                        if (*s++ != '\n' || !rdr_text_ok(r)) {
                                rc = -EPROTO;
                                goto fail;
                        }
                        if (build && r->nattr == 0) {
                                rc = rdr_line_value(r, pv->line, r->rem);
                                if (rc < 0)
                                        goto fail;
                        }
                        goto value_done;
                case ST_BOOL:
                        if (*s != 't' && *s != 'f') {
                                rc = -EPROTO;
                                goto fail;
                        }
                        r->num = *s++ == 't';
                        r->state = ST_END_CR;
                        continue;
                case ST_BULK: {
                        size_t take = (size_t)(end - s);

                        if (take > r->rem)
                                take = (size_t)r->rem;
                        if (r->item == '=') {
                                /* "fmt:" starts a verbatim string. */
                                uint64_t off = r->num - r->rem;

                                if (off <= 3 && 3 < off + take &&
                                    s[3 - off] != ':') {
                                        rc = -EPROTO;
                                        goto fail;
                                }
                        }
                        if (build && r->nattr == 0) {
                                if (pv->bulk_blk &&
                                    (rc = rdr_bulk_room(r, take)) < 0)
                                        goto fail;
                                memcpy(pv->dst, s, take);
                                pv->dst += take;
                        }
                        s += take;
                        r->rem -= take;
                        if (r->rem == 0)
                                r->state = ST_END_CR;
                        continue;
                }
                case ST_END_CR:
                        if (end - s >= 2 && s[0] == '\r' && s[1] == '\n') {
                                s += 2;
                                goto end_done;
                        }
                        if (*s++ != '\r') {
                                rc = -EPROTO;
                                goto fail;
                        }
                        r->state = ST_END_LF;
                        continue;
                case ST_END_LF:
                        if (*s++ != '\n') {
                                rc = -EPROTO;
                                goto fail;
                        }
                end_done:
                        rc = rdr_end(r, build);
                        if (rc < 0)
                                goto fail;
                        goto value_done;
                default:
                        rc = -EPROTO;
                        goto fail;
                }
        value_done:
                r->state = ST_TYPE;
                if (!rdr_pop(r))
                        continue;
                /* A whole reply. */
                *used = (size_t)(s - p);
                if (build) {
                        *out =
                            (struct task_redis_value *)(void *)pv->head->data;
                        pv->head = pv->cur = NULL;
                        if (pv->line_cap > RDR_LINE_KEEP) {
                                free(pv->line);
                                pv->line = NULL;
                                pv->line_cap = 0;
                        }
                }
                if (type)
                        *type = (enum task_redis_type)r->top;
                return 1;
        }
        *used = len;
        return 0;

fail:
        rdr_clear(r);
        *used = (size_t)(s - p);
        return rc;
}

int task_redis_reader_feed(struct task_redis_reader *r, const void *p,
                           size_t len, size_t *used,
                           struct task_redis_value **out)
{
        size_t u;

        if (!r || !out || (!p && len))
                return -EINVAL;
        if (!used)
                used = &u;
        *out = NULL;
        if (!r->priv && !rdr_priv(r))
                return -ENOMEM;
        return rdr_run(r, p, len, used, out, NULL, true);
}

int task_redis_reader_skip(struct task_redis_reader *r, const void *p,
                           size_t len, size_t *used, enum task_redis_type *type)
{
        size_t u;

        if (!r || (!p && len))
                return -EINVAL;
        if (!used)
                used = &u;
        return rdr_run(r, p, len, used, NULL, type, false);
}
