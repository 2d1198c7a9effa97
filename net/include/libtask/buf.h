/*
 * libtask/buf.h - byte buffers: a growable contiguous buffer with a read
 * cursor and a write cursor, and asynchronous reads into it and writes out
 * of it over a stream (socket, pipe).  The analog of the `bytes` crate's
 * BytesMut with tokio-util's read_buf/write_all_buf, for frame parsers
 * (the Redis RESP parser builds on it) that never copy or rescan what they
 * have already seen.
 *
 *     storage:  [ consumed | readable bytes | spare capacity ]
 *               0          rpos             wpos             cap
 *
 * - task_buf_data()/task_buf_len(): the readable bytes [rpos, wpos).
 * - task_buf_advance(n): consume n bytes from the front: O(1), no copy.
 * - task_buf_reserve(n): make room for n more bytes in the spare part:
 *   O(1) when there is room; otherwise it compacts (moves the readable
 *   bytes to the front) when the consumed prefix is at least as large as
 *   what it would move, and grows geometrically (x2) otherwise, so both
 *   cost O(1) amortised per byte.
 * - task_buf_spare()/task_buf_commit(n): write into the spare part, then
 *   make those n bytes readable.  task_buf_append() does all three.
 * - task_buf_find(from): search the readable bytes from an offset, telling
 *   the caller where to resume when the needle is not there yet.
 *
 * Ownership: the caller allocates the struct task_buf (in the frame, or
 * anywhere); the library allocates only the byte storage, with malloc, and
 * frees it in task_buf_free() (and in task_buf_shrink()).  A zeroed struct
 * (a frame initialised with `= { ... }`) is an empty buffer with no limit
 * and no storage: task_buf_init() is optional.  task_buf_init_storage()
 * lends the buffer caller-owned storage, used until more is needed (then
 * the bytes move to the heap; the caller's memory is never freed, and it
 * must stay valid until task_buf_free()).  In steady state nothing
 * allocates: capacity is kept and reused.
 *
 * Limits: task_buf_set_limit(max) caps the bytes a buffer will hold (its
 * readable bytes plus the room asked for by a reserve): a reserve beyond
 * it fails with -ENOBUFS and changes nothing, so a server refuses a huge
 * request instead of buffering it.
 *
 * Errors: -EINVAL (NULL, a count beyond what is there), -ENOMEM (growth
 * failed: the buffer is unchanged, its bytes and capacity intact),
 * -ENOBUFS (the limit), -EBUSY (an asynchronous read or write into the
 * buffer is in flight: see below).
 *
 * Not thread-safe: one task (or thread) uses a buffer at a time.
 *
 * Asynchronous I/O (task_buf_read_poll, task_buf_write_all_poll) works
 * against the buffer's storage: **while an operation is in flight, the
 * buffer must not be changed**; every call that could move or reuse the
 * storage returns -EBUSY then (and task_buf_free() frees nothing), so a
 * mistake is an error, not a corrupted heap.  A struct task_buf used for
 * I/O must live where the kernel can write until the operation completes:
 * in the task's frame (the runtime keeps an aborted task's frame alive
 * until the cancel has completed) or in memory that outlives the task.
 * The macros' arguments are read again each time the task is polled:
 * pass frame fields or constants, never locals of the coroutine.
 *
 * Cancellation (abort, a lost TASK_SELECT branch): the task waits until
 * the kernel has let go of the buffer, then:
 *
 * | operation          | cancellation-safe? | what cancelling does           |
 * |--------------------|--------------------|--------------------------------|
 * | read               | yes                | bytes the read received before |
 * |                    |                    | the cancel took effect are     |
 * |                    |                    | committed (readable), not lost |
 * | write_all          | yes                | the bytes known sent have been |
 * |                    |                    | consumed; the rest stay        |
 * |                    |                    | readable, to be sent again     |
 */
#ifndef LIBTASK_BUF_H
#define LIBTASK_BUF_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/io.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A byte buffer.  Fields are public only so that the struct can be
 * embedded by value; use the functions.  Invariant: rpos <= wpos <= cap;
 * when the buffer becomes empty both cursors go back to 0.
 */
struct task_buf {
        unsigned char *mem; /* storage: the heap's (owned) or the caller's */
        size_t cap;         /* bytes at mem */
        size_t rpos;        /* first readable byte */
        size_t wpos;        /* end of the readable bytes */
        size_t max;         /* limit (task_buf_set_limit); 0: none */
        unsigned char *own; /* caller storage lent by init_storage, or NULL */
        size_t own_cap;
        unsigned busy; /* an I/O operation uses the storage */
};

/* A view of bytes inside a buffer: valid until the buffer is next written
 * to or moved (reserve, append, commit, a read, clear, shrink, free). */
struct task_buf_view {
        const unsigned char *p;
        size_t len;
};

/* The smallest capacity a growing buffer gets. */
#define TASK_BUF_MIN_CAP 64
/* What task_buf_read_poll() reserves when asked for min_spare 0. */
#define TASK_BUF_READ_DEFAULT 4096

/* ---- Life ----------------------------------------------------------------- */

/* Initialise @b: empty, no storage, no limit (a zeroed struct is the same).
 * Returns 0 or -EINVAL. */
TASK_API int task_buf_init(struct task_buf *b);

/*
 * task_buf_init_storage - initialise @b on @mem (@len bytes), storage the
 * caller owns: no allocation until more than @len bytes are needed.  @mem
 * must stay valid, and must not be used by anyone else, until
 * task_buf_free(@b); the buffer never frees it, and task_buf_shrink() moves
 * the bytes back into it when they fit.  Returns 0 or -EINVAL (NULL @b, or
 * NULL @mem with @len > 0).
 */
TASK_API int task_buf_init_storage(struct task_buf *b, void *mem, size_t len);

/*
 * task_buf_set_limit - from now on, a reserve (and so an append, a printf,
 * a read) that would make the buffer hold more than @max bytes (readable
 * + requested) fails with -ENOBUFS, and the buffer never grows past @max.
 * @max 0: no limit.  Bytes already held are kept (while they exceed @max,
 * every reserve is refused).  Returns 0 or -EINVAL.
 */
TASK_API int task_buf_set_limit(struct task_buf *b, size_t max);

/*
 * task_buf_free - free the heap storage and empty @b; it stays usable (as
 * after init, with the same lent storage and limit).  Returns 0, -EINVAL,
 * or -EBUSY while an I/O operation is in flight (nothing is freed then).
 */
TASK_API int task_buf_free(struct task_buf *b);

/* ---- Reading the readable bytes ------------------------------------------- */

/* The readable bytes (NULL when there is no storage yet). */
static inline unsigned char *task_buf_data(const struct task_buf *b)
{
        return b && b->mem ? b->mem + b->rpos : NULL;
}

/* How many bytes are readable.  0 for NULL. */
static inline size_t task_buf_len(const struct task_buf *b)
{
        return b ? b->wpos - b->rpos : 0;
}

/* The spare capacity after the readable bytes, for task_buf_commit(). */
static inline unsigned char *task_buf_spare(const struct task_buf *b)
{
        return b && b->mem ? b->mem + b->wpos : NULL;
}

/* How many bytes the spare part holds.  0 for NULL. */
static inline size_t task_buf_spare_len(const struct task_buf *b)
{
        return b ? b->cap - b->wpos : 0;
}

/* The size of the storage.  0 for NULL. */
static inline size_t task_buf_capacity(const struct task_buf *b)
{
        return b ? b->cap : 0;
}

/*
 * task_buf_advance - consume @n readable bytes from the front.  O(1): no
 * copy (the cursors go back to 0 when the buffer empties).  Returns 0,
 * -EINVAL (@n > task_buf_len()) or -EBUSY.
 */
TASK_API int task_buf_advance(struct task_buf *b, size_t n);

/*
 * task_buf_find - the offset (from the start of the readable bytes) of
 * the first @needle (@nlen > 0 bytes) that starts at or after offset
 * @from, or -ENOENT.  Then, if @resume is not NULL, *@resume is where the
 * next search should start once more bytes have arrived (the first
 * offset at which a match could still begin), so that a parser never
 * scans a byte twice: keep it across reads, and subtract what you
 * advance.  -EINVAL: NULL @b or @needle, @nlen 0, @from > task_buf_len().
 * Does not change @b (allowed while I/O is in flight).
 */
TASK_API ssize_t task_buf_find(const struct task_buf *b, size_t from,
                               const void *needle, size_t nlen, size_t *resume);

/*
 * task_buf_split_to - move the first @n readable bytes of @b to the end of
 * @out (another buffer): they are appended to @out, then consumed from
 * @b.  No allocation when @out has room.  Returns 0, -EINVAL (@n >
 * task_buf_len(@b), @out == @b), or @out's reserve error (-ENOMEM,
 * -ENOBUFS, -EBUSY); on an error neither buffer changed.
 */
TASK_API int task_buf_split_to(struct task_buf *b, size_t n,
                               struct task_buf *out);

/*
 * task_buf_split_view - consume the first @n readable bytes of @b and
 * return them in *@v, without a copy.  The view points into @b's storage:
 * valid until @b is next written to or moved.  Returns 0, -EINVAL, -EBUSY.
 */
TASK_API int task_buf_split_view(struct task_buf *b, size_t n,
                                 struct task_buf_view *v);

/* ---- Writing ---------------------------------------------------------------- */

/*
 * task_buf_reserve - make sure at least @n bytes of spare capacity follow
 * the readable bytes (task_buf_spare_len() >= @n).  O(1) without growth;
 * otherwise compacts or grows (see the head of this file).  Returns 0,
 * -ENOBUFS (task_buf_len() + @n exceeds the limit), -ENOMEM (out of
 * memory, or a size no allocator gives; nothing changed), -EBUSY,
 * -EINVAL.  The storage may move: pointers into it
 * (task_buf_data(), views) are stale after a reserve.
 */
TASK_API int task_buf_reserve(struct task_buf *b, size_t n);

/*
 * task_buf_commit - make the first @n bytes of the spare part, which the
 * caller has written, readable.  Returns 0, -EINVAL (@n >
 * task_buf_spare_len()), -EBUSY.
 */
TASK_API int task_buf_commit(struct task_buf *b, size_t n);

/*
 * task_buf_append - copy @n bytes at @p to the end of the readable bytes
 * (reserve + copy + commit).  @p must not point into @b's storage (a
 * reserve may move it).  Returns 0 or task_buf_reserve()'s errors (then
 * nothing was appended).  @p may be NULL when @n is 0.
 */
TASK_API int task_buf_append(struct task_buf *b, const void *p, size_t n);

/*
 * task_buf_printf - append printf-formatted text (without the NUL).
 * Returns the number of bytes appended, or task_buf_reserve()'s errors, or
 * -EINVAL (NULL, a format error): then nothing was appended.
 */
TASK_API int task_buf_printf(struct task_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * task_buf_clear - drop every readable byte; the capacity stays.  Returns
 * 0, -EINVAL, -EBUSY.
 */
TASK_API int task_buf_clear(struct task_buf *b);

/*
 * task_buf_shrink - give back capacity beyond max(task_buf_len(), @keep):
 * the readable bytes move to the lent storage when they fit there (and the
 * heap storage is freed), or the heap storage shrinks.  Never fails for
 * lack of memory (the buffer keeps what it has).  Returns 0, -EINVAL,
 * -EBUSY.
 */
TASK_API int task_buf_shrink(struct task_buf *b, size_t keep);

/* ---- Asynchronous reads and writes over a stream ------------------------- */

/*
 * task_buf_read_poll - read from @fd (a socket, pipe or other stream) into
 * @b's spare capacity: reserve @min_spare bytes (0: TASK_BUF_READ_DEFAULT),
 * then one recv (read(2) when @fd is not a socket) into the whole spare
 * part, up to the limit; the bytes received are committed.
 * @op: the operation, in the frame, zeroed before its first use (io.h).
 * @n: set to the bytes read (> 0), 0 at end of stream, or -errno: the
 *     reserve's -ENOMEM/-ENOBUFS/-EBUSY (nothing was read), -EINVAL (NULL,
 *     a negative @fd), the recv's -ECONNRESET, -EBADF, ...
 * True when done; false while the read is in flight (the task is woken on
 * completion).  While it is in flight @b is busy (see the head of this
 * file).  Cancellation-safe: see the table above.
 */
TASK_API bool task_buf_read_poll(struct task_cx *cx, int fd, struct task_buf *b,
                                 size_t min_spare, struct task_io *op,
                                 ssize_t *n);

/* TASK_BUF_READ(f, fd, b, min_spare, op, np) - await task_buf_read_poll. */
#define TASK_BUF_READ(f, fd, b, min_spare, op, np)                             \
        TASK_AWAIT(                                                            \
            f, task_buf_read_poll((cx), (fd), (b), (min_spare), (op), (np)))

/*
 * task_buf_write_all_poll - write every readable byte of @b to @fd,
 * consuming them as they go out: send(2) with MSG_NOSIGNAL on a socket (a
 * peer that has gone gives -EPIPE, never SIGPIPE), write(2) on anything
 * else (a pipe whose reader has gone raises SIGPIPE, as write(2) does,
 * unless the program ignores it).  Partial writes are continued until the
 * buffer is empty.
 * @rc: set to 0 (everything written; @b is empty), or -errno (-EPIPE,
 *      -ECONNRESET, -EBADF, -EINVAL ...): then @b holds exactly the bytes
 *      not known to be written.
 * An empty buffer completes at once with 0.  Cancellation-safe: see the
 * table above.
 */
TASK_API bool task_buf_write_all_poll(struct task_cx *cx, int fd,
                                      struct task_buf *b, struct task_io *op,
                                      int *rc);

/* TASK_BUF_WRITE_ALL(f, fd, b, op, rcp) - await task_buf_write_all_poll. */
#define TASK_BUF_WRITE_ALL(f, fd, b, op, rcp)                                  \
        TASK_AWAIT(f, task_buf_write_all_poll((cx), (fd), (b), (op), (rcp)))

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_BUF_H */
