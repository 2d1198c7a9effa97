/*
 * buf.c - byte buffers (libtask/buf.h): the cursors, growth, compaction,
 * search and splitting.  The asynchronous reads and writes are in
 * buf_io.c.
 *
 * Invariants:
 *  - rpos <= wpos <= cap; mem is NULL exactly when cap is 0.
 *  - When the readable part empties (advance, split, clear), both cursors
 *    go back to 0, so a drained buffer has its whole capacity spare and a
 *    request/response loop never moves a byte.
 *  - mem is the caller's lent storage (own) or a malloc'ed block owned by
 *    the buffer; only the latter is ever freed or realloc'ed.
 *  - With a limit (max > 0), a reserve never lets len + n exceed it.
 *  - While busy (an I/O operation in flight, buf_io.c), nothing that could
 *    move the storage or the cursors runs: those calls return -EBUSY.
 *
 * Costs: advance, commit, and a reserve that fits are O(1) and do not
 * allocate.  A reserve that does not fit either compacts -- only when the
 * consumed prefix is at least as long as the bytes to move, so every byte
 * moved was paid for by a byte consumed -- or grows to twice the capacity
 * (or exactly what is needed, if more), so the copying is O(1) amortised
 * per byte either way.  Without the prefix rule, a buffer holding a large
 * unparsed frame that consumes a few bytes and reserves a few would move
 * the whole frame every time.
 */
#include "runtime-priv.h"

#include <libtask/buf.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t buf_limit(const struct task_buf *b)
{
        return b->max ? b->max : SIZE_MAX;
}

static bool buf_owns(const struct task_buf *b)
{
        return b->mem && b->mem != b->own;
}

/* Back to the lent storage (or none), empty.  Frees nothing. */
static void buf_reset_storage(struct task_buf *b)
{
        b->mem = b->own_cap ? b->own : NULL;
        b->cap = b->own_cap;
        b->rpos = b->wpos = 0;
}

int task_buf_init(struct task_buf *b)
{
        if (!b)
                return -EINVAL;
        memset(b, 0, sizeof(*b));
        return 0;
}

int task_buf_init_storage(struct task_buf *b, void *mem, size_t len)
{
        if (!b || (!mem && len > 0))
                return -EINVAL;
        memset(b, 0, sizeof(*b));
        b->own = len ? mem : NULL;
        b->own_cap = len;
        buf_reset_storage(b);
        return 0;
}

int task_buf_set_limit(struct task_buf *b, size_t max)
{
        if (!b)
                return -EINVAL;
        b->max = max;
        return 0;
}

int task_buf_free(struct task_buf *b)
{
        if (!b)
                return -EINVAL;
        if (b->busy)
                return -EBUSY;
        if (buf_owns(b))
                free(b->mem);
        buf_reset_storage(b);
        return 0;
}

int task_buf_advance(struct task_buf *b, size_t n)
{
        if (!b || n > b->wpos - b->rpos)
                return -EINVAL;
        if (b->busy)
                return -EBUSY;
        b->rpos += n;
        if (b->rpos == b->wpos)
                b->rpos = b->wpos = 0;
        return 0;
}

ssize_t task_buf_find(const struct task_buf *b, size_t from, const void *needle,
                      size_t nlen, size_t *resume)
{
        size_t len;
        const unsigned char *base, *hit;

        if (!b || !needle || nlen == 0)
                return -EINVAL;
        len = b->wpos - b->rpos;
        if (from > len)
                return -EINVAL;
        if (len - from >= nlen) {
                base = b->mem + b->rpos;
                if (nlen == 1)
                        hit =
                            memchr(base + from, *(const unsigned char *)needle,
                                   len - from);
                else
                        hit = memmem(base + from, len - from, needle, nlen);
                if (hit)
                        return (ssize_t)(hit - base);
        }
        /*
         * No match starts in [from, len - nlen]: the next one, if any,
         * starts at len - nlen + 1 or later (it may have begun to arrive).
         */
        if (resume)
                *resume = len - from >= nlen ? len - nlen + 1 : from;
        return -ENOENT;
}

int task_buf_split_to(struct task_buf *b, size_t n, struct task_buf *out)
{
        int rc;

        if (!b || !out || out == b || n > b->wpos - b->rpos)
                return -EINVAL;
        if (b->busy)
                return -EBUSY;
        /* @b's bytes cannot move during @out's reserve: different storage
         * (unless two buffers were lent the same memory, a caller error). */
        rc = task_buf_append(out, n ? b->mem + b->rpos : NULL, n);
        if (rc < 0)
                return rc;
        return task_buf_advance(b, n);
}

int task_buf_split_view(struct task_buf *b, size_t n, struct task_buf_view *v)
{
        if (!b || !v || n > b->wpos - b->rpos)
                return -EINVAL;
        if (b->busy)
                return -EBUSY;
        v->p = b->mem ? b->mem + b->rpos : NULL;
        v->len = n;
        /* The cursors may go back to 0, but the bytes stay where they are
         * until the next write. */
        return task_buf_advance(b, n);
}

/* Move the readable bytes to the front of the storage. */
static void buf_compact(struct task_buf *b)
{
        size_t len = b->wpos - b->rpos;

        if (b->rpos == 0)
                return;
        memmove(b->mem, b->mem + b->rpos, len);
        b->rpos = 0;
        b->wpos = len;
}

/*
 * Grow to @newcap (> len) on the heap: realloc in place when the buffer
 * owns its storage and nothing was consumed, otherwise a fresh block with
 * the readable bytes copied to its front.  -ENOMEM leaves @b unchanged.
 */
static int buf_grow(struct task_buf *b, size_t newcap)
{
        size_t len = b->wpos - b->rpos;
        unsigned char *p;

        if (task__fault_alloc())
                return -ENOMEM;
        if (buf_owns(b) && b->rpos == 0) {
                p = realloc(b->mem, newcap);
                if (!p)
                        return -ENOMEM;
        } else {
                p = malloc(newcap);
                if (!p)
                        return -ENOMEM;
                if (len)
                        memcpy(p, b->mem + b->rpos, len);
                if (buf_owns(b))
                        free(b->mem);
        }
        b->mem = p;
        b->cap = newcap;
        b->rpos = 0;
        b->wpos = len;
        return 0;
}

int task_buf_reserve(struct task_buf *b, size_t n)
{
        size_t len, limit, need, newcap;
        int rc;

        if (!b)
                return -EINVAL;
        if (b->busy)
                return -EBUSY;
        len = b->wpos - b->rpos;
        limit = buf_limit(b);
        if (len > limit || n > limit - len)
                return b->max ? -ENOBUFS : -ENOMEM; /* or size_t overflow */
        if (b->cap - b->wpos >= n)
                return 0; /* the common case: O(1) */
        need = len + n;   /* no overflow: need <= limit */
        if (need > PTRDIFF_MAX)
                return -ENOMEM; /* no allocator gives that much */
        /* Compact when the consumed prefix pays for the move. */
        if (b->cap - len >= n && b->rpos >= len) {
                buf_compact(b);
                return 0;
        }
        newcap = b->cap <= SIZE_MAX / 2 ? b->cap * 2 : SIZE_MAX;
        if (newcap < TASK_BUF_MIN_CAP)
                newcap = TASK_BUF_MIN_CAP;
        if (newcap < need)
                newcap = need;
        if (newcap > limit)
                newcap = limit; /* >= need */
        if (newcap > PTRDIFF_MAX)
                newcap = need;
        rc = buf_grow(b, newcap);
        if (rc < 0 && b->cap - len >= n) {
                /* Out of memory, but a compaction is enough after all. */
                buf_compact(b);
                rc = 0;
        }
        return rc;
}

int task_buf_commit(struct task_buf *b, size_t n)
{
        if (!b || n > b->cap - b->wpos)
                return -EINVAL;
        if (b->busy)
                return -EBUSY;
        b->wpos += n;
        return 0;
}

int task_buf_append(struct task_buf *b, const void *p, size_t n)
{
        int rc;

        if (!b || (!p && n > 0))
                return -EINVAL;
        if (n == 0)
                return b->busy ? -EBUSY : 0;
        rc = task_buf_reserve(b, n);
        if (rc < 0)
                return rc;
        memcpy(b->mem + b->wpos, p, n);
        b->wpos += n;
        return 0;
}

int task_buf_printf(struct task_buf *b, const char *fmt, ...)
{
        va_list ap;
        int n, rc;

        if (!b || !fmt)
                return -EINVAL;
        if (b->busy)
                return -EBUSY;
        /* First try the spare part as it is (no allocation if it fits). */
        va_start(ap, fmt);
        n = vsnprintf(b->mem ? (char *)b->mem + b->wpos : NULL,
                      b->cap - b->wpos, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if ((size_t)n >= b->cap - b->wpos) {
                /* Too small: room for the text and vsnprintf's NUL. */
                rc = task_buf_reserve(b, (size_t)n + 1);
                if (rc < 0)
                        return rc;
                va_start(ap, fmt);
                n = vsnprintf((char *)b->mem + b->wpos, b->cap - b->wpos, fmt,
                              ap);
                va_end(ap);
                if (n < 0 || (size_t)n >= b->cap - b->wpos)
                        return -EINVAL;
        }
        b->wpos += (size_t)n;
        return n;
}

int task_buf_clear(struct task_buf *b)
{
        if (!b)
                return -EINVAL;
        if (b->busy)
                return -EBUSY;
        b->rpos = b->wpos = 0;
        return 0;
}

int task_buf_shrink(struct task_buf *b, size_t keep)
{
        size_t len, target;
        unsigned char *p;

        if (!b)
                return -EINVAL;
        if (b->busy)
                return -EBUSY;
        if (!buf_owns(b)) {
                buf_compact(b); /* lent storage (or none): nothing to give */
                return 0;
        }
        len = b->wpos - b->rpos;
        target = len > keep ? len : keep;
        if (target <= b->own_cap) {
                /* Back into the lent storage; the heap block goes. */
                if (len)
                        memcpy(b->own, b->mem + b->rpos, len);
                free(b->mem);
                b->mem = b->own;
                b->cap = b->own_cap;
                b->rpos = 0;
                b->wpos = len;
                return 0;
        }
        if (target >= b->cap)
                return 0;
        buf_compact(b);
        p = task__fault_alloc() ? NULL : realloc(b->mem, target);
        if (p) {
                b->mem = p;
                b->cap = target;
        }
        return 0;
}
