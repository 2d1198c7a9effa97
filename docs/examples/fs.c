/*
 * fs.c - an append-only log with asynchronous file operations: open with
 * O_APPEND, append records, fdatasync every few of them (the Redis AOF's
 * "everysec" in miniature), close; then open again, ask statx for the
 * size, read it all back with read_exact and print it.  The file lives in
 * a fresh directory under /tmp, removed at the end.
 */
#include <libtask/fs.h>
#include <libtask/task.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORDS 8

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS;
        char dir[64], path[PATH_MAX]; /* paths stay in the frame: the */
        struct task_file file;        /* kernel reads them after the poll */
        struct task_io io;
        struct statx stx;
        char line[64], back[1024];
        size_t len;
        int i, rc;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;

        TASK_BEGIN(f);
        f->exit_code = 1;
        snprintf(f->dir, sizeof f->dir, "/tmp/libtask-fs-XXXXXX");
        if (!mkdtemp(f->dir))
                TASK_RETURN(f);
        snprintf(f->path, sizeof f->path, "%s/appendonly.aof", f->dir);

        TASK_FILE_OPEN(f, &f->file, f->path, O_WRONLY | O_CREAT | O_APPEND,
                       0644, &f->io, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        for (f->i = 0; f->i < RECORDS; f->i++) {
                /* The length is in the frame too: the await reads its
                 * arguments again each time the task is polled. */
                f->len = (size_t)snprintf(f->line, sizeof f->line, "SET k %d\n",
                                          f->i);
                /* -1: at the file position (the end, with O_APPEND). */
                TASK_FILE_WRITE_ALL_AT(f, &f->file, f->line, f->len, -1, &f->io,
                                       &f->rc);
                if (f->rc < 0)
                        TASK_RETURN(f);
                if (f->i % 4 == 3)
                        TASK_FILE_SYNC_DATA(f, &f->file, &f->io, &f->rc);
        }
        TASK_FILE_CLOSE(f, &f->file, &f->io, &f->rc);

        TASK_FILE_OPEN(f, &f->file, f->path, O_RDONLY, 0, &f->io, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        TASK_FILE_STATX(f, &f->file, STATX_SIZE, &f->stx, &f->io, &f->rc);
        if (f->rc < 0 || f->stx.stx_size >= sizeof f->back)
                TASK_RETURN(f);
        TASK_FILE_READ_EXACT_AT(f, &f->file, f->back, f->stx.stx_size, 0,
                                &f->io, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        f->back[f->stx.stx_size] = 0;
        printf("%llu bytes:\n%s", (unsigned long long)f->stx.stx_size, f->back);
        f->exit_code = 0;
        TASK_CLEANUP(f);
        task_file_close_now(&f->file); /* a cleanup cannot await */
        unlink(f->path);               /* (harmless if they were never made) */
        rmdir(f->dir);
        TASK_END(f);
}

TASK_MAIN(app, struct app)
