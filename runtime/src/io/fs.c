/*
 * fs.c - asynchronous file operations (libtask/fs.h): each one io_uring
 * submission on the polling worker's ring (IORING_OP_OPENAT, READ, WRITE,
 * FSYNC, STATX, CLOSE), built on the 3-call pattern of io/io-priv.h.
 *
 * Invariants:
 *  - struct task_file owns its descriptor exactly while is_open.  An open
 *    sets it when its completion is consumed; a close clears it when the
 *    close is submitted (the descriptor is then the kernel's to release).
 *  - Nothing leaks on cancellation: a cancelled open whose completion
 *    carries a descriptor (the open won the race) closes it with close(2),
 *    and a cancelled close that never ran (-ECANCELED) closes the
 *    descriptor it kept in op->aux.  Both happen in the cancelling poll,
 *    which consumes the completion (io/cancel-priv.h).
 *  - The loops (read_exact, write_all) keep their progress in op->aux, so
 *    their length is limited to UINT32_MAX; each step re-arms from the
 *    completion (no return to the task in between).
 *
 * Called by tasks only (a cx is needed); nothing here allocates.
 */
#include "io/cancel-priv.h"
#include "io/io-priv.h"

#include <libtask/fs.h>

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(TASK_FILE_IO_MAX == TASK__IO_MAX, "one transfer cap");

/*
 * Bad arguments (NULL, out of range): in a cancelling poll nothing can be
 * in flight, so just let go; otherwise report -EINVAL.
 */
#define FS_BAD_ARGS(cx, rcp)                                                   \
        do {                                                                   \
                if ((cx) && (cx)->cancelling)                                  \
                        return false;                                          \
                if (rcp)                                                       \
                        *(rcp) = -EINVAL;                                      \
                return true;                                                   \
        } while (0)

/* Done at once with @err (past the cancelling check: not cancelling). */
#define FS_FAIL(rcp, err)                                                      \
        do {                                                                   \
                if (rcp)                                                       \
                        *(rcp) = (err);                                        \
                return true;                                                   \
        } while (0)

/* The file's descriptor, or -EBADF. */
static int file_fd(const struct task_file *file)
{
        return file->is_open ? file->fd : -EBADF;
}

int task_file_from_fd(struct task_file *file, int fd)
{
        if (!file)
                return -EINVAL;
        if (fd < 0)
                return -EBADF;
        if (file->is_open)
                return -EBUSY;
        file->fd = fd;
        file->is_open = true;
        return 0;
}

int task_file_fd(const struct task_file *file)
{
        return file ? file_fd(file) : -EINVAL;
}

int task_file_close_now(struct task_file *file)
{
        if (!file)
                return -EINVAL;
        if (!file->is_open)
                return -EBADF;
        file->is_open = false;
        /* Linux releases the descriptor even when close reports an error
         * (EINTR included): never retry. */
        if (close(file->fd) < 0 && errno != EINTR)
                return -errno;
        return 0;
}

/* ---- Open ------------------------------------------------------------------ */

bool task_file_open_poll(struct task_cx *cx, struct task_file *file,
                         const char *path, int flags, mode_t mode,
                         struct task_io *op, int *rc)
{
        struct io_uring_sqe *sqe;
        int32_t res;

        if (!cx || !file || !path || !op)
                FS_BAD_ARGS(cx, rc);
        if (TASK__UNLIKELY_(cx->cancelling)) {
                /* The open won the race: nobody will own that fd. */
                if (task__io_cancel_look(cx, op, &res) && res >= 0)
                        close(res);
                return false;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                if (res >= 0) {
                        file->fd = res;
                        file->is_open = true;
                        res = 0;
                }
                if (rc)
                        *rc = res;
                return true;
        }
        if (file->is_open)
                FS_FAIL(rc, -EBUSY);
        sqe = task__io_sqe(cx, &res);
        if (!sqe)
                FS_FAIL(rc, res);
        io_uring_prep_openat(sqe, AT_FDCWD, path, flags | O_CLOEXEC, mode);
        task__io_arm(cx, op, sqe);
        return false;
}

/* ---- Read and write --------------------------------------------------------- */

/* One read or write of @len bytes at @off (-1: the file position). */
static bool rw_poll(struct task_cx *cx, struct task_file *file, bool write,
                    void *buf, size_t len, int64_t off, struct task_io *op,
                    ssize_t *n)
{
        struct io_uring_sqe *sqe;
        int32_t res;
        int fd;

        if (!cx || !file || !op || !n || (!buf && len > 0) || off < -1)
                FS_BAD_ARGS(cx, n);
        if (TASK__UNLIKELY_(cx->cancelling)) {
                (void)task__io_cancel_look(cx, op, &res); /* not kept */
                return false;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                *n = res;
                return true;
        }
        fd = file_fd(file);
        if (fd < 0)
                FS_FAIL(n, fd);
        sqe = task__io_sqe(cx, &res);
        if (!sqe)
                FS_FAIL(n, res);
        if (len > TASK_FILE_IO_MAX)
                len = TASK_FILE_IO_MAX;
        if (write)
                io_uring_prep_write(sqe, fd, buf, (unsigned)len, (uint64_t)off);
        else
                io_uring_prep_read(sqe, fd, buf, (unsigned)len, (uint64_t)off);
        task__io_arm(cx, op, sqe);
        return false;
}

bool task_file_read_at_poll(struct task_cx *cx, struct task_file *file,
                            void *buf, size_t len, int64_t off,
                            struct task_io *op, ssize_t *n)
{
        return rw_poll(cx, file, false, buf, len, off, op, n);
}

bool task_file_write_at_poll(struct task_cx *cx, struct task_file *file,
                             const void *buf, size_t len, int64_t off,
                             struct task_io *op, ssize_t *n)
{
        /* The kernel only reads @buf for a write. */
        return rw_poll(cx, file, true, (void *)buf, len, off, op, n);
}

/*
 * read_exact / write_all: op->aux bytes done so far.  On a completion the
 * loop continues in the same poll, so the task is woken once per step
 * but returns to its own code only at the end.
 */
static bool rw_all_poll(struct task_cx *cx, struct task_file *file, bool write,
                        void *buf, size_t len, int64_t off, struct task_io *op,
                        int *rc)
{
        struct io_uring_sqe *sqe;
        uint64_t at;
        size_t step;
        int32_t res;
        int fd;

        if (!cx || !file || !op || (!buf && len > 0) || off < -1 ||
            len > UINT32_MAX)
                FS_BAD_ARGS(cx, rc);
        if (TASK__UNLIKELY_(cx->cancelling)) {
                (void)task__io_cancel_look(cx, op, &res);
                return false;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                if (res == -EINTR || res == -EAGAIN) {
                        /* Nothing moved: the same step again (-EAGAIN
                         * from a non-blocking pipe or FIFO). */
                } else if (res < 0) {
                        if (rc)
                                *rc = res;
                        return true;
                } else if (res == 0) {
                        /* End of file, or a write that cannot progress. */
                        if (rc)
                                *rc = write ? -EIO : -EPIPE;
                        return true;
                } else {
                        op->aux += (uint32_t)res;
                }
                if (op->aux == len) {
                        if (rc)
                                *rc = 0;
                        return true;
                }
                fd = file_fd(file);
                if (fd < 0)
                        FS_FAIL(rc, fd); /* closed under us */
                goto arm;
        }
        op->aux = 0;
        fd = file_fd(file);
        if (fd < 0)
                FS_FAIL(rc, fd);
        if (len == 0) {
                if (!task_coop_proceed(cx))
                        return false; /* yield; back here next poll */
                if (rc)
                        *rc = 0;
                return true;
        }
arm:
        sqe = task__io_sqe(cx, &res);
        if (!sqe)
                FS_FAIL(rc, res);
        step = len - op->aux;
        if (step > TASK_FILE_IO_MAX)
                step = TASK_FILE_IO_MAX;
        at = off < 0 ? (uint64_t)-1 : (uint64_t)off + op->aux;
        if (write)
                io_uring_prep_write(sqe, fd, (char *)buf + op->aux,
                                    (unsigned)step, at);
        else
                io_uring_prep_read(sqe, fd, (char *)buf + op->aux,
                                   (unsigned)step, at);
        task__io_arm(cx, op, sqe);
        return false;
}

bool task_file_read_exact_at_poll(struct task_cx *cx, struct task_file *file,
                                  void *buf, size_t len, int64_t off,
                                  struct task_io *op, int *rc)
{
        return rw_all_poll(cx, file, false, buf, len, off, op, rc);
}

bool task_file_write_all_at_poll(struct task_cx *cx, struct task_file *file,
                                 const void *buf, size_t len, int64_t off,
                                 struct task_io *op, int *rc)
{
        return rw_all_poll(cx, file, true, (void *)buf, len, off, op, rc);
}

/* ---- Sync, statx ------------------------------------------------------------ */

/* The common shape of a one-shot operation on an open file. */
static bool simple_poll(struct task_cx *cx, struct task_file *file,
                        struct task_io *op, int *rc,
                        void (*prep)(struct io_uring_sqe *sqe, int fd,
                                     const void *arg, unsigned u),
                        const void *arg, unsigned u)
{
        struct io_uring_sqe *sqe;
        int32_t res;
        int fd;

        if (TASK__UNLIKELY_(cx->cancelling)) {
                (void)task__io_cancel_look(cx, op, &res);
                return false;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                if (rc)
                        *rc = res < 0 ? res : 0;
                return true;
        }
        fd = file_fd(file);
        if (fd < 0)
                FS_FAIL(rc, fd);
        sqe = task__io_sqe(cx, &res);
        if (!sqe)
                FS_FAIL(rc, res);
        prep(sqe, fd, arg, u);
        task__io_arm(cx, op, sqe);
        return false;
}

static void prep_fsync(struct io_uring_sqe *sqe, int fd, const void *arg,
                       unsigned flags)
{
        (void)arg;
        io_uring_prep_fsync(
            sqe, fd,
            (flags & TASK_FILE_SYNC_DATA_ONLY) ? IORING_FSYNC_DATASYNC : 0);
}

bool task_file_sync_poll(struct task_cx *cx, struct task_file *file,
                         unsigned flags, struct task_io *op, int *rc)
{
        if (!cx || !file || !op || (flags & ~TASK_FILE_SYNC_DATA_ONLY))
                FS_BAD_ARGS(cx, rc);
        return simple_poll(cx, file, op, rc, prep_fsync, NULL, flags);
}

static void prep_statx(struct io_uring_sqe *sqe, int fd, const void *stx,
                       unsigned mask)
{
        io_uring_prep_statx(sqe, fd, "", AT_EMPTY_PATH, mask,
                            (struct statx *)stx);
}

bool task_file_statx_poll(struct task_cx *cx, struct task_file *file,
                          unsigned mask, struct statx *stx, struct task_io *op,
                          int *rc)
{
        if (!cx || !file || !stx || !op)
                FS_BAD_ARGS(cx, rc);
        return simple_poll(cx, file, op, rc, prep_statx, stx, mask);
}

/* ---- Close ------------------------------------------------------------------ */

bool task_file_close_poll(struct task_cx *cx, struct task_file *file,
                          struct task_io *op, int *rc)
{
        struct io_uring_sqe *sqe;
        int32_t res;

        if (!cx || !file || !op)
                FS_BAD_ARGS(cx, rc);
        if (TASK__UNLIKELY_(cx->cancelling)) {
                /* Cancelled before it ran: the descriptor is still open
                 * and @file no longer owns it, so close it here. */
                if (task__io_cancel_look(cx, op, &res) && res == -ECANCELED)
                        close((int)op->aux);
                return false;
        }
        switch (task__io_begin(cx, op, &res)) {
        case TASK__IO_WAIT:
                return false;
        case TASK__IO_READY:
                if (rc)
                        *rc = res < 0 && res != -EINTR ? res : 0;
                return true;
        }
        if (!file->is_open)
                FS_FAIL(rc, -EBADF);
        sqe = task__io_sqe(cx, &res);
        if (!sqe)
                FS_FAIL(rc, res); /* still open: nothing happened */
        io_uring_prep_close(sqe, file->fd);
        op->aux = (uint32_t)file->fd;
        file->is_open = false;
        task__io_arm(cx, op, sqe);
        return false;
}
