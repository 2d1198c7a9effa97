/*
 * libtask/fs.h - asynchronous file operations on the worker's io_uring:
 * open, read and write (at an offset or at the file position), read_exact
 * and write_all, fsync and fdatasync, statx, close.  Tokio's tokio::fs
 * runs these as blocking calls on its thread pool; here each is one
 * io_uring submission (the kernel may still hand a blocking one to its own
 * workers), so an append-only log costs no thread hop per write.
 *
 *     struct aof { TASK_FRAME; struct task_file file; struct task_io io;
 *                  char line[64]; int rc; };
 *     ...
 *     TASK_FILE_OPEN(f, &f->file, "log", O_WRONLY | O_CREAT | O_APPEND,
 *                    0644, &f->io, &f->rc);
 *     TASK_FILE_WRITE_ALL_AT(f, &f->file, f->line, len, -1, &f->io, &f->rc);
 *     TASK_FILE_SYNC_DATA(f, &f->file, &f->io, &f->rc);
 *     TASK_FILE_CLOSE(f, &f->file, &f->io, &f->rc);
 *
 * Every operation follows libtask/io.h: a struct task_io in the frame
 * (zeroed before its first use, one operation at a time), a _poll function
 * that returns true when done with the result in its last argument
 * (0 or a count, or -errno as the system call would give it: -ENOENT,
 * -EACCES, -EISDIR, -EBADF, -ENOSPC, ...), and a macro that awaits it.
 * **Buffers and paths must stay valid until the operation completes** (the
 * await returns, or the cleanup runs after an abort): the kernel reads
 * them when the submission goes out, after the poll function returned.
 * Keep them in the frame, or in memory that outlives the task.
 * **Every argument is read again each time the task is polled** (the
 * loops re-arm from them): pass frame fields or constants, never a local
 * variable of the coroutine, which is not preserved across a suspension.
 *
 * Ownership: struct task_file is the caller's (in the frame, usually); it
 * holds one file descriptor, owned by it from a successful open (or
 * task_file_from_fd) until a close.  A zeroed struct task_file is a closed
 * file, and operations on a closed file give -EBADF.  Close it with
 * TASK_FILE_CLOSE, or with task_file_close_now() in a TASK_CLEANUP
 * section (which cannot await).  Not thread-safe: closing a file while
 * another task uses it is a race, as with file descriptors.
 *
 * Offsets: @off >= 0 reads or writes at that offset (pread/pwrite) and
 * leaves the file position alone; @off == -1 uses and advances the file
 * position (read/write), which is also what a pipe or FIFO needs.  On a
 * file opened with O_APPEND every write goes to the end, whatever @off.
 *
 * Cancellation (abort, a lost TASK_SELECT branch): the task waits for the
 * kernel to let go, then:
 *
 * | operation            | cancellation-safe? | what cancelling does          |
 * |----------------------|--------------------|-------------------------------|
 * | open                 | yes                | a file the kernel opened      |
 * |                      |                    | before the cancel is closed;  |
 * |                      |                    | the struct stays closed       |
 * | read_at, read_exact  | no                 | bytes read are dropped (the   |
 * |                      |                    | file position may have moved) |
 * | write_at, write_all  | no                 | bytes written stay written    |
 * | sync                 | yes                | the sync may or may not have  |
 * |                      |                    | happened: sync again          |
 * | statx                | yes                | nothing                       |
 * | close                | yes                | the file is closed anyway     |
 */
#ifndef LIBTASK_FS_H
#define LIBTASK_FS_H

#include <libtask/common.h>
#include <libtask/coro.h>
#include <libtask/io.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct statx; /* <sys/stat.h> with _GNU_SOURCE, or <linux/stat.h> */

/* An open file (or a closed one: zeroed). */
struct task_file {
        int fd;       /* meaningful only while is_open */
        bool is_open; /* set by open/from_fd, cleared by close */
};

/* The longest single read or write: longer ones are short (the kernel's
 * own cap is just under 2 GiB). */
#define TASK_FILE_IO_MAX (1u << 30)

/*
 * task_file_from_fd - make @file own the open descriptor @fd (a close
 * closes it).  Returns 0, -EINVAL (NULL), -EBADF (@fd < 0), -EBUSY (@file
 * is open).
 */
TASK_API int task_file_from_fd(struct task_file *file, int fd);

/* The descriptor of @file, or -EBADF when closed (-EINVAL for NULL).
 * @file keeps owning it. */
TASK_API int task_file_fd(const struct task_file *file);

/*
 * task_file_open_poll - open @path (IORING_OP_OPENAT, relative to the
 * working directory) with @flags (O_RDONLY, O_WRONLY | O_CREAT |
 * O_APPEND, ...; O_CLOEXEC is always added) and @mode (for O_CREAT).
 * @file must be closed (zeroed, or closed before); it owns the new
 * descriptor on success.  @path must stay valid until the open completes.
 * *@rc: 0, -ENOENT, -EACCES, -EISDIR, -EEXIST, -EMFILE, ..., -EINVAL
 * (NULL), -EBUSY (@file is open).
 */
TASK_API bool task_file_open_poll(struct task_cx *cx, struct task_file *file,
                                  const char *path, int flags, mode_t mode,
                                  struct task_io *op, int *rc);

#define TASK_FILE_OPEN(f, file, path, flags, mode, op, rcp)                    \
        TASK_AWAIT(f, task_file_open_poll((cx), (file), (path), (flags),       \
                                          (mode), (op), (rcp)))

/*
 * task_file_read_at_poll - read up to @len bytes (at most TASK_FILE_IO_MAX)
 * into @buf at offset @off (-1: the file position).  *@n: the bytes read,
 * 0 at end of file, or -errno (-EBADF, -EISDIR, -ESPIPE: an offset on a
 * pipe, -EINVAL: NULL or @off < -1).  Like pread, it may read less than
 * asked for.
 */
TASK_API bool task_file_read_at_poll(struct task_cx *cx, struct task_file *file,
                                     void *buf, size_t len, int64_t off,
                                     struct task_io *op, ssize_t *n);

#define TASK_FILE_READ_AT(f, file, buf, len, off, op, np)                      \
        TASK_AWAIT(f, task_file_read_at_poll((cx), (file), (buf), (len),       \
                                             (off), (op), (np)))

/*
 * task_file_write_at_poll - write up to @len bytes (at most
 * TASK_FILE_IO_MAX) from @buf at offset @off (-1: the file position).
 * *@n: the bytes written, or -errno (-EBADF, -ENOSPC, -EFBIG, -EINVAL).
 * It may write less than asked for.
 */
TASK_API bool task_file_write_at_poll(struct task_cx *cx,
                                      struct task_file *file, const void *buf,
                                      size_t len, int64_t off,
                                      struct task_io *op, ssize_t *n);

#define TASK_FILE_WRITE_AT(f, file, buf, len, off, op, np)                     \
        TASK_AWAIT(f, task_file_write_at_poll((cx), (file), (buf), (len),      \
                                              (off), (op), (np)))

/*
 * task_file_read_exact_at_poll - read exactly @len bytes (at most
 * UINT32_MAX) into @buf, from @off (-1: the file position), looping over
 * short reads.  *@rc: 0, -EPIPE (end of file first, as for streams: the
 * bytes before it are in @buf, task_file_progress(@op) of them), or
 * -errno as task_file_read_at_poll().  @len 0 completes at once.
 */
TASK_API bool task_file_read_exact_at_poll(struct task_cx *cx,
                                           struct task_file *file, void *buf,
                                           size_t len, int64_t off,
                                           struct task_io *op, int *rc);

#define TASK_FILE_READ_EXACT_AT(f, file, buf, len, off, op, rcp)               \
        TASK_AWAIT(f, task_file_read_exact_at_poll((cx), (file), (buf), (len), \
                                                   (off), (op), (rcp)))

/*
 * task_file_write_all_at_poll - write all @len bytes (at most UINT32_MAX)
 * of @buf, from @off (-1: the file position, or the end with O_APPEND),
 * looping over short writes.  *@rc: 0, or -errno as
 * task_file_write_at_poll() (then task_file_progress(@op) bytes of @buf
 * were written).
 */
TASK_API bool task_file_write_all_at_poll(struct task_cx *cx,
                                          struct task_file *file,
                                          const void *buf, size_t len,
                                          int64_t off, struct task_io *op,
                                          int *rc);

#define TASK_FILE_WRITE_ALL_AT(f, file, buf, len, off, op, rcp)                \
        TASK_AWAIT(f, task_file_write_all_at_poll((cx), (file), (buf), (len),  \
                                                  (off), (op), (rcp)))

/* Bytes read_exact / write_all had moved when they finished (also after
 * an error). */
static inline size_t task_file_progress(const struct task_io *op)
{
        return op ? op->aux : 0;
}

/* task_file_sync_poll flags. */
#define TASK_FILE_SYNC_DATA_ONLY 1u /* fdatasync: data, not all metadata */

/*
 * task_file_sync_poll - flush @file's data (and metadata, unless @flags
 * has TASK_FILE_SYNC_DATA_ONLY) to the device: fsync(2) / fdatasync(2)
 * (IORING_OP_FSYNC).  *@rc: 0, -EIO, -ENOSPC, -EBADF, -EINVAL.
 */
TASK_API bool task_file_sync_poll(struct task_cx *cx, struct task_file *file,
                                  unsigned flags, struct task_io *op, int *rc);

/* TASK_FILE_SYNC_ALL: fsync.  TASK_FILE_SYNC_DATA: fdatasync. */
#define TASK_FILE_SYNC_ALL(f, file, op, rcp)                                   \
        TASK_AWAIT(f, task_file_sync_poll((cx), (file), 0, (op), (rcp)))
#define TASK_FILE_SYNC_DATA(f, file, op, rcp)                                  \
        TASK_AWAIT(f,                                                          \
                   task_file_sync_poll((cx), (file), TASK_FILE_SYNC_DATA_ONLY, \
                                       (op), (rcp)))

/*
 * task_file_statx_poll - statx(2) of the open @file into *@stx (which must
 * stay valid until completion), for the fields in @mask (STATX_SIZE,
 * STATX_BASIC_STATS, ...).  *@rc: 0, -EBADF, -EINVAL.
 */
TASK_API bool task_file_statx_poll(struct task_cx *cx, struct task_file *file,
                                   unsigned mask, struct statx *stx,
                                   struct task_io *op, int *rc);

#define TASK_FILE_STATX(f, file, mask, stx, op, rcp)                           \
        TASK_AWAIT(                                                            \
            f, task_file_statx_poll((cx), (file), (mask), (stx), (op), (rcp)))

/*
 * task_file_close_poll - close @file (IORING_OP_CLOSE).  @file is closed
 * from this call on, whatever the result (as close(2): the descriptor is
 * released even when an error is reported).  *@rc: 0, -EIO (a deferred
 * write error), -EBADF (@file was not open: closing twice), -EINVAL.
 */
TASK_API bool task_file_close_poll(struct task_cx *cx, struct task_file *file,
                                   struct task_io *op, int *rc);

#define TASK_FILE_CLOSE(f, file, op, rcp)                                      \
        TASK_AWAIT(f, task_file_close_poll((cx), (file), (op), (rcp)))

/*
 * task_file_close_now - close @file at once with close(2), on the calling
 * thread: for TASK_CLEANUP sections, which cannot await.  Returns 0,
 * -EBADF (not open), -EIO, -EINVAL (NULL).  @file is closed afterwards.
 */
TASK_API int task_file_close_now(struct task_file *file);

#ifdef __cplusplus
}
#endif

#endif /* LIBTASK_FS_H */
