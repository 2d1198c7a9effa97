/*
 * test_fs.c - asynchronous file operations (libtask/fs.h) in mkdtemp
 * directories, on both runtime flavors: write then read back (0 bytes to
 * megabytes), the append-only log pattern (many appends with fdatasync,
 * then read and verify), the file position (offset -1) against explicit
 * offsets, statx, read_exact at EOF, open errors (ENOENT, EACCES, EISDIR,
 * ENOTDIR, EEXIST), close twice and operations on a closed file (EBADF),
 * bad arguments, abort with an open or a read in flight (a FIFO nobody
 * writes), abort of an open that won the race and of a close (no fd
 * leaks either way), shutdown with a read in flight, and a stress of
 * concurrent writers on 2 workers.  Every test counts the process's fds
 * before and after.
 */
#include "helpers.h"

#include <libtask/fs.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Open descriptors of this process (the directory's own not counted). */
static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        cr_assert_not_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n - 3; /* ".", ".." and the directory's own descriptor */
}

static const enum task_flavor flavors[] = {TASK_MULTI_THREAD,
                                           TASK_CURRENT_THREAD};

static bool after_300_rounds(void *p)
{
        return ++*(int *)p > 300;
}

/*
 * Run a current-thread runtime for 300 scheduler rounds: the worker
 * submits what its tasks queued at least every global_queue_interval (61)
 * ticks, so an operation armed before is in the kernel afterwards.
 */
static void ct_submit(task_runtime *rt)
{
        int rounds = 0;

        ct_run_until(rt, after_300_rounds, &rounds);
}

/* A fresh directory under $TMPDIR (or /tmp); removed by tmpdir_rm. */
static void tmpdir_new(char *dir, size_t size)
{
        const char *t = getenv("TMPDIR");

        snprintf(dir, size, "%s/libtask-fs-XXXXXX", t && *t ? t : "/tmp");
        cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void tmpdir_rm(const char *dir)
{
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

static unsigned char pat(size_t i)
{
        return (unsigned char)(i * 13 + (i >> 11));
}

/* ---- Write a file, read it back -------------------------------------------- */

struct roundtrip {
        TASK_FRAME;
        char path[PATH_MAX];
        size_t size;
        unsigned char *data, *back;
        struct task_file file;
        struct task_io op;
        struct statx stx;
        int rc, step; /* step: where it failed */
        ssize_t n;
};

static int roundtrip_fn(struct task_cx *cx, void *arg)
{
        struct roundtrip *f = arg;

        TASK_BEGIN(f);
        f->step = 1;
        TASK_FILE_OPEN(f, &f->file, f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600,
                       &f->op, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        f->step = 2;
        TASK_FILE_WRITE_ALL_AT(f, &f->file, f->data, f->size, 0, &f->op,
                               &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        TCHECK(task_file_progress(&f->op) == f->size);
        f->step = 3;
        TASK_FILE_SYNC_ALL(f, &f->file, &f->op, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        f->step = 4;
        TASK_FILE_CLOSE(f, &f->file, &f->op, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        f->step = 5;
        TASK_FILE_OPEN(f, &f->file, f->path, O_RDONLY, 0, &f->op, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        f->step = 6;
        TASK_FILE_STATX(f, &f->file, STATX_SIZE, &f->stx, &f->op, &f->rc);
        if (f->rc < 0 || f->stx.stx_size != f->size)
                TASK_RETURN(f);
        f->step = 7;
        TASK_FILE_READ_EXACT_AT(f, &f->file, f->back, f->size, 0, &f->op,
                                &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        f->step = 8; /* at the end: 0 */
        TASK_FILE_READ_AT(f, &f->file, f->back, 1, (int64_t)f->size, &f->op,
                          &f->n);
        if (f->n != 0)
                TASK_RETURN(f);
        f->step = 9; /* one byte more than there is: -EPIPE */
        TASK_FILE_READ_EXACT_AT(f, &f->file, f->back, f->size + 1, 0, &f->op,
                                &f->rc);
        if (f->rc != -EPIPE || task_file_progress(&f->op) != f->size)
                TASK_RETURN(f);
        f->step = 10;
        TASK_FILE_CLOSE(f, &f->file, &f->op, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        f->step = 0;
        TASK_CLEANUP(f);
        task_file_close_now(&f->file); /* after a failure */
        TASK_END(f);
}

static void roundtrip(enum task_flavor flavor, size_t size)
{
        int fds_before = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        char dir[256];
        struct roundtrip *f = calloc(1, sizeof *f);

        cr_assert_not_null(f);
        tmpdir_new(dir, sizeof dir);
        snprintf(f->path, sizeof f->path, "%s/file", dir);
        f->size = size;
        f->data = malloc(size + 1);
        f->back = malloc(size + 1);
        cr_assert(f->data && f->back);
        for (size_t i = 0; i < size; i++)
                f->data[i] = pat(i);
        memset(f->back, 0, size + 1);
        cr_assert_eq(task_block_on(rt, roundtrip_fn, f, sizeof *f), 0);
        cr_assert_eq(f->step, 0, "size %zu: step %d: rc %s, n %zd", size,
                     f->step, task_strerror(f->rc), f->n);
        cr_assert_eq(memcmp(f->data, f->back, size), 0, "size %zu", size);
        cr_assert_not(f->file.is_open);
        free(f->data);
        free(f->back);
        free(f);
        tmpdir_rm(dir);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds_before, "fds leaked");
}

Test(fs, write_then_read_back_sizes_both_flavors, .timeout = 120)
{
        static const size_t sizes[] = {0, 1, 4095, 4096, 65537, 3u << 20};

        for (int i = 0; i < 2; i++)
                for (size_t j = 0; j < sizeof sizes / sizeof *sizes; j++)
                        roundtrip(flavors[i], sizes[j]);
}

/* ---- The append-only log ------------------------------------------------------ */

struct aof {
        TASK_FRAME;
        char path[PATH_MAX];
        int records, i;
        char line[64];
        size_t len;
        size_t total;
        char *back;
        struct task_file file;
        struct task_io op;
        struct statx stx;
        int rc, failed_at;
};

static int aof_fn(struct task_cx *cx, void *arg)
{
        struct aof *f = arg;

        TASK_BEGIN(f);
        TASK_FILE_OPEN(f, &f->file, f->path,
                       O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600, &f->op,
                       &f->rc);
        if (f->rc < 0) {
                f->failed_at = 1;
                TASK_RETURN(f);
        }
        for (f->i = 0; f->i < f->records; f->i++) {
                /* Records of varying length; the offset is ignored under
                 * O_APPEND (0 here, -1 elsewhere: both append). */
                f->len = (size_t)snprintf(f->line, sizeof f->line, "%d:%.*s\n",
                                          f->i, f->i % 40,
                                          "abcdefghijklmnopqrstuvwxyz0123456789"
                                          "ABCDEFGH");
                TASK_FILE_WRITE_ALL_AT(f, &f->file, f->line, f->len,
                                       f->i % 2 ? -1 : 0, &f->op, &f->rc);
                if (f->rc < 0) {
                        f->failed_at = 2;
                        TASK_RETURN(f);
                }
                f->total += f->len;
                if (f->i % 16 == 15) {
                        TASK_FILE_SYNC_DATA(f, &f->file, &f->op, &f->rc);
                        if (f->rc < 0) {
                                f->failed_at = 3;
                                TASK_RETURN(f);
                        }
                }
        }
        TASK_FILE_SYNC_ALL(f, &f->file, &f->op, &f->rc);
        TASK_FILE_CLOSE(f, &f->file, &f->op, &f->rc);
        if (f->rc < 0) {
                f->failed_at = 4;
                TASK_RETURN(f);
        }
        /* Read it all back through the file position. */
        TASK_FILE_OPEN(f, &f->file, f->path, O_RDONLY, 0, &f->op, &f->rc);
        TASK_FILE_STATX(f, &f->file, STATX_SIZE, &f->stx, &f->op, &f->rc);
        if (f->rc < 0 || f->stx.stx_size != f->total) {
                f->failed_at = 5;
                TASK_RETURN(f);
        }
        f->back = malloc(f->total + 1);
        TCHECK(f->back != NULL);
        TASK_FILE_READ_EXACT_AT(f, &f->file, f->back, f->total, -1, &f->op,
                                &f->rc);
        if (f->rc < 0) {
                f->failed_at = 6;
                TASK_RETURN(f);
        }
        f->back[f->total] = 0;
        TASK_FILE_CLOSE(f, &f->file, &f->op, &f->rc);
        TASK_CLEANUP(f);
        task_file_close_now(&f->file);
        TASK_END(f);
}

static void aof(enum task_flavor flavor, int records)
{
        int fds_before = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        char dir[256], expect[64];
        struct aof *f = calloc(1, sizeof *f);
        const char *p;

        cr_assert_not_null(f);
        tmpdir_new(dir, sizeof dir);
        snprintf(f->path, sizeof f->path, "%s/appendonly.aof", dir);
        f->records = records;
        cr_assert_eq(task_block_on(rt, aof_fn, f, sizeof *f), 0);
        cr_assert_eq(f->failed_at, 0, "failed at %d: %s", f->failed_at,
                     task_strerror(f->rc));
        cr_assert_not_null(f->back);
        p = f->back;
        for (int i = 0; i < records; i++) {
                int n = snprintf(expect, sizeof expect, "%d:%.*s\n", i, i % 40,
                                 "abcdefghijklmnopqrstuvwxyz0123456789"
                                 "ABCDEFGH");
                cr_assert_eq(strncmp(p, expect, (size_t)n), 0,
                             "record %d is wrong", i);
                p += n;
        }
        cr_assert_eq((size_t)(p - f->back), f->total);
        free(f->back);
        free(f);
        tmpdir_rm(dir);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds_before, "fds leaked");
}

Test(fs, append_only_log_both_flavors, .timeout = 120)
{
        for (int i = 0; i < 2; i++)
                aof(flavors[i], (int)test_scaled(2000, 300));
}

/* ---- The file position against offsets ---------------------------------------- */

struct position {
        TASK_FRAME;
        char path[PATH_MAX];
        struct task_file file;
        struct task_io op;
        ssize_t n1, n2, n3, n4, n5;
        char back[32];
        int rc;
};

static int position_fn(struct task_cx *cx, void *arg)
{
        struct position *f = arg;

        TASK_BEGIN(f);
        TASK_FILE_OPEN(f, &f->file, f->path, O_RDWR | O_CREAT | O_TRUNC, 0600,
                       &f->op, &f->rc);
        TASK_FILE_WRITE_AT(f, &f->file, "abc", 3, -1, &f->op, &f->n1);
        /* An explicit offset leaves the position (3) alone. */
        TASK_FILE_WRITE_AT(f, &f->file, "XY", 2, 10, &f->op, &f->n2);
        TASK_FILE_WRITE_AT(f, &f->file, "def", 3, -1, &f->op, &f->n3);
        /* Position is 6: reading there gives the hole, then "XY". */
        TASK_FILE_READ_AT(f, &f->file, f->back, sizeof f->back, -1, &f->op,
                          &f->n4);
        TASK_FILE_READ_AT(f, &f->file, f->back + 8, 4, 2, &f->op, &f->n5);
        TASK_FILE_CLOSE(f, &f->file, &f->op, &f->rc);
        TASK_END(f);
}

Test(fs, offset_minus_one_uses_the_file_position, .timeout = 30)
{
        int fds_before = count_fds();
        char dir[256];

        tmpdir_new(dir, sizeof dir);
        for (int i = 0; i < 2; i++) {
                task_runtime *rt = test_rt_new_flavor(flavors[i]);
                struct position f = {0};

                snprintf(f.path, sizeof f.path, "%s/pos", dir);
                cr_assert_eq(task_block_on(rt, position_fn, &f, sizeof f), 0);
                cr_assert_eq(f.n1, 3);
                cr_assert_eq(f.n2, 2);
                cr_assert_eq(f.n3, 3);
                cr_assert_eq(f.n4, 6, "read from the position: %zd", f.n4);
                cr_assert_eq(memcmp(f.back, "\0\0\0\0XY", 6), 0);
                cr_assert_eq(f.n5, 4);
                cr_assert_eq(memcmp(f.back + 8, "cdef", 4), 0);
                cr_assert_eq(f.rc, 0);
                test_rt_free(rt);
        }
        tmpdir_rm(dir);
        cr_assert_eq(count_fds(), fds_before, "fds leaked");
}

/* ---- Errors ----------------------------------------------------------------------- */

struct opener {
        TASK_FRAME;
        const char *path;
        int flags;
        struct task_file file;
        struct task_io op;
        int rc, close_rc;
};

static int opener_fn(struct task_cx *cx, void *arg)
{
        struct opener *f = arg;

        TASK_BEGIN(f);
        TASK_FILE_OPEN(f, &f->file, f->path, f->flags, 0600, &f->op, &f->rc);
        if (f->file.is_open)
                TASK_FILE_CLOSE(f, &f->file, &f->op, &f->close_rc);
        TASK_END(f);
}

static int try_open(task_runtime *rt, const char *path, int flags)
{
        struct opener o = {.path = path, .flags = flags};

        cr_assert_eq(task_block_on(rt, opener_fn, &o, sizeof o), 0);
        cr_assert_not(o.file.is_open);
        cr_assert_eq(o.close_rc, 0);
        return o.rc;
}

/* EACCES needs an unprivileged user: as root, a child drops to nobody. */
static int open_eacces(const char *path)
{
        if (geteuid() != 0) {
                task_runtime *rt = test_rt_new_flavor(TASK_CURRENT_THREAD);
                int rc = try_open(rt, path, O_RDONLY);
                test_rt_free(rt);
                return rc;
        }
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                task_runtime *rt = NULL;
                struct opener o = {.path = path, .flags = O_RDONLY};
                if (setgid(65534) || setuid(65534))
                        _exit(100);
                if (task_runtime_new(NULL, &rt) ||
                    task_block_on(rt, opener_fn, &o, sizeof o))
                        _exit(101);
                task_runtime_free(rt);
                _exit(-o.rc);
        }
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st));
        cr_assert_neq(WEXITSTATUS(st), 100, "could not drop to nobody");
        cr_assert_neq(WEXITSTATUS(st), 101, "the child's runtime failed");
        return -WEXITSTATUS(st);
}

Test(fs, open_errors, .timeout = 60)
{
        int fds_before = count_fds();
        char dir[256], file[PATH_MAX + 8], sub[PATH_MAX + 16],
            secret[PATH_MAX + 16], priv[PATH_MAX + 8];

        tmpdir_new(dir, sizeof dir);
        snprintf(file, sizeof file, "%s/f", dir);
        snprintf(sub, sizeof sub, "%s/f/x", dir);
        snprintf(priv, sizeof priv, "%s/p", dir);
        snprintf(secret, sizeof secret, "%s/p/s", dir);
        cr_assert_eq(mkdir(priv, 0700), 0);
        int fd = open(secret, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        cr_assert_geq(fd, 0);
        close(fd);
        /* The tmpdir itself is 0700: let nobody reach p/ to be refused. */
        cr_assert_eq(chmod(dir, 0711), 0);
        cr_assert_eq(chmod(priv, 0700), 0);
        for (int i = 0; i < 2; i++) {
                task_runtime *rt = test_rt_new_flavor(flavors[i]);

                cr_assert_eq(try_open(rt, file, O_RDONLY), -ENOENT);
                cr_assert_eq(try_open(rt, file, O_WRONLY | O_CREAT), 0);
                cr_assert_eq(try_open(rt, file, O_WRONLY | O_CREAT | O_EXCL),
                             -EEXIST);
                cr_assert_eq(try_open(rt, dir, O_WRONLY), -EISDIR);
                cr_assert_eq(try_open(rt, sub, O_RDONLY), -ENOTDIR);
                cr_assert_eq(try_open(rt, "", O_RDONLY), -ENOENT);
                cr_assert_eq(unlink(file), 0);
                test_rt_free(rt);
        }
        cr_assert_eq(open_eacces(secret), -EACCES);
        tmpdir_rm(dir);
        cr_assert_eq(count_fds(), fds_before, "fds leaked");
}

/* Operations on a closed file, close twice, and bad arguments. */
struct closed_ops {
        TASK_FRAME;
        char path[PATH_MAX];
        struct task_file file, zero;
        struct task_io op;
        struct statx stx;
        char buf[8];
        int rc_open, rc_close1, rc_close2, rc_sync, rc_statx, rc_exact, rc_all,
            rc_zero_close, rc_reopen;
        ssize_t n_read, n_write;
        int rc_null_path, rc_bad_flags, rc_too_long, rc_bad_off;
        ssize_t n_bad_off, n_null_buf;
};

static int closed_ops_fn(struct task_cx *cx, void *arg)
{
        struct closed_ops *f = arg;

        TASK_BEGIN(f);
        TASK_FILE_OPEN(f, &f->file, f->path, O_RDWR | O_CREAT, 0600, &f->op,
                       &f->rc_open);
        /* Opening into an open struct is refused. */
        TASK_FILE_OPEN(f, &f->file, f->path, O_RDONLY, 0, &f->op,
                       &f->rc_reopen);
        TASK_FILE_CLOSE(f, &f->file, &f->op, &f->rc_close1);
        TASK_FILE_CLOSE(f, &f->file, &f->op, &f->rc_close2);
        TASK_FILE_READ_AT(f, &f->file, f->buf, 1, 0, &f->op, &f->n_read);
        TASK_FILE_WRITE_AT(f, &f->file, "x", 1, 0, &f->op, &f->n_write);
        TASK_FILE_SYNC_DATA(f, &f->file, &f->op, &f->rc_sync);
        TASK_FILE_STATX(f, &f->file, STATX_SIZE, &f->stx, &f->op, &f->rc_statx);
        TASK_FILE_READ_EXACT_AT(f, &f->file, f->buf, 1, 0, &f->op,
                                &f->rc_exact);
        TASK_FILE_WRITE_ALL_AT(f, &f->file, "x", 1, 0, &f->op, &f->rc_all);
        /* A zeroed struct is closed: fd 0 is never touched. */
        TASK_FILE_CLOSE(f, &f->zero, &f->op, &f->rc_zero_close);
        /* Bad arguments. */
        TASK_FILE_OPEN(f, &f->file, NULL, O_RDONLY, 0, &f->op,
                       &f->rc_null_path);
        TASK_FILE_SYNC_ALL(f, &f->file, &f->op, &f->rc_bad_flags);
        TASK_AWAIT(f, task_file_sync_poll(cx, &f->file, 0x80, &f->op,
                                          &f->rc_bad_flags));
        TASK_FILE_READ_EXACT_AT(f, &f->file, f->buf, (size_t)UINT32_MAX + 1, 0,
                                &f->op, &f->rc_too_long);
        TASK_FILE_WRITE_ALL_AT(f, &f->file, "x", 1, -2, &f->op, &f->rc_bad_off);
        TASK_FILE_READ_AT(f, &f->file, f->buf, 1, -7, &f->op, &f->n_bad_off);
        TASK_FILE_READ_AT(f, &f->file, NULL, 1, 0, &f->op, &f->n_null_buf);
        TASK_END(f);
}

Test(fs, closed_files_and_bad_arguments, .timeout = 30)
{
        int fds_before = count_fds();
        char dir[256];

        tmpdir_new(dir, sizeof dir);
        for (int i = 0; i < 2; i++) {
                task_runtime *rt = test_rt_new_flavor(flavors[i]);
                struct closed_ops f = {0};

                snprintf(f.path, sizeof f.path, "%s/c", dir);
                cr_assert_eq(task_block_on(rt, closed_ops_fn, &f, sizeof f), 0);
                cr_assert_eq(f.rc_open, 0);
                cr_assert_eq(f.rc_reopen, -EBUSY);
                cr_assert_eq(f.rc_close1, 0);
                cr_assert_eq(f.rc_close2, -EBADF, "close twice");
                cr_assert_eq(f.n_read, -EBADF);
                cr_assert_eq(f.n_write, -EBADF);
                cr_assert_eq(f.rc_sync, -EBADF);
                cr_assert_eq(f.rc_statx, -EBADF);
                cr_assert_eq(f.rc_exact, -EBADF);
                cr_assert_eq(f.rc_all, -EBADF);
                cr_assert_eq(f.rc_zero_close, -EBADF);
                cr_assert_eq(f.rc_null_path, -EINVAL);
                cr_assert_eq(f.rc_bad_flags, -EINVAL);
                cr_assert_eq(f.rc_too_long, -EINVAL);
                cr_assert_eq(f.rc_bad_off, -EINVAL);
                cr_assert_eq(f.n_bad_off, -EINVAL);
                cr_assert_eq(f.n_null_buf, -EINVAL);
                test_rt_free(rt);
        }
        tmpdir_rm(dir);
        /* Calls without a task. */
        struct task_file file = {0};
        cr_assert_eq(task_file_fd(&file), -EBADF);
        cr_assert_eq(task_file_fd(NULL), -EINVAL);
        cr_assert_eq(task_file_close_now(&file), -EBADF);
        cr_assert_eq(task_file_close_now(NULL), -EINVAL);
        cr_assert_eq(task_file_from_fd(&file, -1), -EBADF);
        cr_assert_eq(task_file_from_fd(NULL, 0), -EINVAL);
        int fd = dup(2);
        cr_assert_geq(fd, 0);
        cr_assert_eq(task_file_from_fd(&file, fd), 0);
        cr_assert_eq(task_file_fd(&file), fd);
        cr_assert_eq(task_file_from_fd(&file, fd), -EBUSY);
        cr_assert_eq(task_file_close_now(&file), 0);
        cr_assert_eq(task_file_close_now(&file), -EBADF);
        cr_assert_eq(task_file_progress(NULL), 0);
        cr_assert_eq(count_fds(), fds_before, "fds leaked");
}

/* ---- Abort with an operation in flight -------------------------------------------- */

/* Opens @path, then (if it opened) reads once at the file position: on a
 * FIFO nobody writes, the open or the read waits until aborted. */
struct fifo_user {
        TASK_FRAME;
        const char *path;
        int flags;
        struct task_file file;
        struct task_io op;
        int rc;
        ssize_t n;
        char buf[16];
        bool cleaned, op_pending_at_cleanup;
        atomic_int *stage; /* 1: opening, 2: reading */
};

static int fifo_user_fn(struct task_cx *cx, void *arg)
{
        struct fifo_user *f = arg;

        TASK_BEGIN(f);
        atomic_store(f->stage, 1);
        TASK_FILE_OPEN(f, &f->file, f->path, f->flags, 0, &f->op, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        atomic_store(f->stage, 2);
        TASK_FILE_READ_AT(f, &f->file, f->buf, sizeof f->buf, -1, &f->op,
                          &f->n);
        TASK_CLEANUP(f);
        f->cleaned = true;
        f->op_pending_at_cleanup = task_io_pending(&f->op);
        task_file_close_now(&f->file);
        TASK_END(f);
}

struct stage_cond {
        atomic_int *stage;
        int want;
        task_handle *h;
};

static bool at_stage(void *arg)
{
        struct stage_cond *c = arg;
        struct fifo_user *f = task_handle_frame(c->h);

        return atomic_load(c->stage) == c->want && task_io_pending(&f->op);
}

/* @flags O_RDONLY: the open blocks (no writer); O_RDWR: it opens and the
 * read blocks (no data). */
static void abort_fifo(enum task_flavor flavor, int flags, int want_stage)
{
        int fds_before = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        char dir[256], path[PATH_MAX + 8];
        atomic_int stage = 0;
        task_handle *h;

        tmpdir_new(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/fifo", dir);
        cr_assert_eq(mkfifo(path, 0600), 0);
        struct fifo_user u = {.path = path, .flags = flags, .stage = &stage};
        cr_assert_eq(TASK_SPAWN(rt, fifo_user_fn, &u, &h), 0);
        struct stage_cond c = {.stage = &stage, .want = want_stage, .h = h};
        if (flavor == TASK_CURRENT_THREAD) {
                ct_run_until(rt, at_stage, &c);
                ct_submit(rt); /* submitted, and waiting in the kernel */
                cr_assert(at_stage(&c));
        } else {
                if (!WAIT_UNTIL(at_stage(&c), 5000)) {
                        struct fifo_user *ff = task_handle_frame(h);
                        fprintf(
                            stderr,
                            "DEBUG stage %d pending %d fin %d rc %d n %zd\n",
                            atomic_load(&stage), task_io_pending(&ff->op),
                            task_handle_finished(h), ff->rc, ff->n);
                }
                sleep_ms(20); /* let it reach the kernel's wait */
        }
        task_abort(h);
        if (flavor == TASK_CURRENT_THREAD)
                ct_run_until(rt, h_finished, h);
        cr_assert_eq(task_join_blocking(h), -ECANCELED);
        struct fifo_user *f = task_handle_frame(h);
        cr_assert(f->cleaned);
        cr_assert_not(f->op_pending_at_cleanup,
                      "the cleanup ran with the operation in flight");
        cr_assert_not(f->file.is_open);
        task_handle_release(h);
        test_rt_free(rt);
        tmpdir_rm(dir);
        cr_assert_eq(count_fds(), fds_before, "fds leaked");
}

Test(fs, abort_open_in_flight_both_flavors, .timeout = 60)
{
        for (int i = 0; i < 2; i++)
                abort_fifo(flavors[i], O_RDONLY | O_CREAT, 1);
}

Test(fs, abort_read_in_flight_both_flavors, .timeout = 60)
{
        for (int i = 0; i < 2; i++)
                abort_fifo(flavors[i], O_RDWR, 2);
}

/*
 * Open a regular file and abort at once, many times: whether the open
 * completed before the cancel or not, no descriptor is left behind.  The
 * same for a close aborted at once: the file is closed either way.
 */
struct open_close {
        TASK_FRAME;
        const char *path;
        struct task_file file;
        struct task_io op;
        int rc;
        bool close; /* close an already open file instead */
};

static int open_close_fn(struct task_cx *cx, void *arg)
{
        struct open_close *f = arg;

        TASK_BEGIN(f);
        if (f->close)
                TASK_FILE_CLOSE(f, &f->file, &f->op, &f->rc);
        else
                TASK_FILE_OPEN(f, &f->file, f->path, O_RDONLY, 0, &f->op,
                               &f->rc);
        /* Finishing normally, an open file is closed here. */
        TASK_CLEANUP(f);
        task_file_close_now(&f->file);
        TASK_END(f);
}

static bool oc_pending(void *h)
{
        return task_io_pending(
            &((struct open_close *)task_handle_frame(h))->op);
}

static void abort_open_close_race(enum task_flavor flavor, bool do_close,
                                  int rounds)
{
        int fds_before = count_fds();
        task_runtime *rt = test_rt_new_flavor(flavor);
        char dir[256], path[PATH_MAX + 8];
        int cancelled = 0;

        tmpdir_new(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/r", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        cr_assert_geq(fd, 0);
        close(fd);
        int fds_with_rt = count_fds();
        for (int i = 0; i < rounds; i++) {
                struct open_close o = {.path = path, .close = do_close};
                task_handle *h;

                if (do_close) {
                        fd = open(path, O_RDONLY | O_CLOEXEC);
                        cr_assert_geq(fd, 0);
                        cr_assert_eq(task_file_from_fd(&o.file, fd), 0);
                }
                cr_assert_eq(TASK_SPAWN(rt, open_close_fn, &o, &h), 0);
                if (flavor == TASK_CURRENT_THREAD)
                        ct_run_until(rt, oc_pending, h);
                else if (i % 2)
                        (void)WAIT_UNTIL(
                            oc_pending(h) || task_handle_finished(h), 5000);
                task_abort(h);
                if (flavor == TASK_CURRENT_THREAD)
                        ct_run_until(rt, h_finished, h);
                if (task_join_blocking(h) == -ECANCELED)
                        cancelled++;
                struct open_close *f = task_handle_frame(h);
                cr_assert_not(f->file.is_open);
                cr_assert_not(task_io_pending(&f->op));
                task_handle_release(h);
                cr_assert_eq(count_fds(), fds_with_rt, "round %d: an fd leaked",
                             i);
        }
        /* Current-thread: every task is aborted before it runs again, so
         * each is cancelled (whether or not its operation had completed). */
        if (flavor == TASK_CURRENT_THREAD)
                cr_assert_eq(cancelled, rounds);
        test_rt_free(rt);
        tmpdir_rm(dir);
        cr_assert_eq(count_fds(), fds_before, "fds leaked");
}

Test(fs, abort_open_at_once_never_leaks_an_fd, .timeout = 120)
{
        for (int i = 0; i < 2; i++)
                abort_open_close_race(flavors[i], false,
                                      (int)test_scaled(1000, 100));
}

Test(fs, abort_close_at_once_still_closes, .timeout = 120)
{
        for (int i = 0; i < 2; i++)
                abort_open_close_race(flavors[i], true,
                                      (int)test_scaled(1000, 100));
}

/* The runtime shuts down with a read in flight on a FIFO: the driver
 * cancels it, the task is cancelled, its cleanup closes the file. */
Test(fs, shutdown_with_a_read_in_flight, .timeout = 60)
{
        for (int i = 0; i < 2; i++) {
                int fds_before = count_fds();
                task_runtime *rt = test_rt_new_flavor(flavors[i]);
                char dir[256], path[PATH_MAX + 8];
                atomic_int stage = 0;
                task_handle *h;

                tmpdir_new(dir, sizeof dir);
                snprintf(path, sizeof path, "%s/fifo", dir);
                cr_assert_eq(mkfifo(path, 0600), 0);
                struct fifo_user u = {
                    .path = path, .flags = O_RDWR, .stage = &stage};
                cr_assert_eq(TASK_SPAWN(rt, fifo_user_fn, &u, &h), 0);
                struct stage_cond c = {.stage = &stage, .want = 2, .h = h};
                if (flavors[i] == TASK_CURRENT_THREAD) {
                        ct_run_until(rt, at_stage, &c);
                        ct_submit(rt);
                } else {
                        cr_assert(WAIT_UNTIL(at_stage(&c), 5000));
                }
                cr_assert_eq(task_runtime_shutdown(rt), 0);
                cr_assert_eq(task_join_blocking(h), -ECANCELED);
                struct fifo_user *f = task_handle_frame(h);
                cr_assert(f->cleaned);
                cr_assert_not(f->op_pending_at_cleanup);
                cr_assert_not(f->file.is_open);
                task_handle_release(h);
                test_rt_free(rt);
                tmpdir_rm(dir);
                cr_assert_eq(count_fds(), fds_before, "fds leaked");
        }
}

/* ---- Many writers at once on 2 workers --------------------------------------------- */

struct writer {
        TASK_FRAME;
        char path[PATH_MAX];
        unsigned seed;
        size_t size, chunk, done, at, n;
        unsigned char *data, *back;
        struct task_file file;
        struct task_io op;
        int rc;
        bool ok;
};

static int writer_fn(struct task_cx *cx, void *arg)
{
        struct writer *f = arg;

        TASK_BEGIN(f);
        TASK_FILE_OPEN(f, &f->file, f->path, O_RDWR | O_CREAT | O_TRUNC, 0600,
                       &f->op, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        /* In chunks at explicit offsets, last chunk first. */
        for (f->done = 0; f->done < f->size; f->done += f->n) {
                /* (In the frame: the await re-reads its arguments.) */
                f->at = f->size - f->done > f->chunk
                            ? f->size - f->done - f->chunk
                            : 0;
                f->n = f->size - f->done - f->at;
                TASK_FILE_WRITE_ALL_AT(f, &f->file, f->data + f->at, f->n,
                                       (int64_t)f->at, &f->op, &f->rc);
                if (f->rc < 0)
                        TASK_RETURN(f);
        }
        TASK_FILE_SYNC_DATA(f, &f->file, &f->op, &f->rc);
        TASK_FILE_READ_EXACT_AT(f, &f->file, f->back, f->size, 0, &f->op,
                                &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        f->ok = memcmp(f->data, f->back, f->size) == 0;
        TASK_FILE_CLOSE(f, &f->file, &f->op, &f->rc);
        TASK_CLEANUP(f);
        task_file_close_now(&f->file);
        TASK_END(f);
}

Test(fs, stress_concurrent_writers_two_workers, .timeout = 120)
{
        int fds_before = count_fds();
        task_runtime *rt = test_rt_new_mt(2);
        int n = (int)test_scaled(32, 8);
        size_t size = (size_t)test_scaled(512 << 10, 64 << 10);
        char dir[256];
        task_handle **h = calloc((size_t)n, sizeof *h);
        unsigned char *data = malloc(size);

        cr_assert(h && data);
        tmpdir_new(dir, sizeof dir);
        for (size_t i = 0; i < size; i++)
                data[i] = pat(i);
        for (int i = 0; i < n; i++) {
                struct writer w = {.size = size,
                                   .chunk = 4096 + (size_t)i * 1000,
                                   .data = data};
                w.back = malloc(size);
                cr_assert_not_null(w.back);
                snprintf(w.path, sizeof w.path, "%s/w%d", dir, i);
                cr_assert_eq(TASK_SPAWN(rt, writer_fn, &w, &h[i]), 0);
        }
        for (int i = 0; i < n; i++) {
                cr_assert_eq(task_join_blocking(h[i]), 0);
                struct writer *w = task_handle_frame(h[i]);
                cr_assert_eq(w->rc, 0, "writer %d: %s", i,
                             task_strerror(w->rc));
                cr_assert(w->ok, "writer %d read back other bytes", i);
                free(w->back);
                task_handle_release(h[i]);
        }
        free(h);
        free(data);
        tmpdir_rm(dir);
        test_rt_free(rt);
        cr_assert_eq(count_fds(), fds_before, "fds leaked");
}
