/*
 * buf.c - a line protocol over a byte buffer: the server task reads into a
 * struct task_buf, finds each "\r\n" without rescanning what it has seen
 * (task_buf_find's resume offset), answers "+<line>\r\n" into an output
 * buffer, and writes it out with write_all.  The client sends its lines
 * in pieces that cut lines in half, then reads the replies until EOF.
 */
#include <libtask/buf.h>
#include <libtask/task.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct server {
        TASK_FRAME;
        int fd;
        struct task_buf in, out; /* zeroed: empty buffers, no limit */
        struct task_io io;
        size_t scan; /* where the next "\r\n" search starts */
        ssize_t n;
        int rc;
};

static int server(struct task_cx *cx, void *arg)
{
        struct server *f = arg;

        TASK_BEGIN(f);
        task_buf_set_limit(&f->in, 1024); /* refuse longer lines */
        for (;;) {
                TASK_BUF_READ(f, f->fd, &f->in, 256, &f->io, &f->n);
                if (f->n <= 0) /* 0: EOF; < 0: -errno (-ENOBUFS: too long) */
                        break;
                /* Every complete line in the buffer gets its reply. */
                for (;;) {
                        ssize_t at =
                            task_buf_find(&f->in, f->scan, "\r\n", 2, &f->scan);
                        if (at < 0)
                                break; /* f->scan: where to resume */
                        task_buf_printf(&f->out, "+%.*s\r\n", (int)at,
                                        (const char *)task_buf_data(&f->in));
                        task_buf_advance(&f->in, (size_t)at + 2);
                        f->scan = 0;
                }
                TASK_BUF_WRITE_ALL(f, f->fd, &f->out, &f->io, &f->rc);
                if (f->rc < 0)
                        break;
        }
        shutdown(f->fd, SHUT_WR);
        TASK_CLEANUP(f);
        task_buf_free(&f->in);
        task_buf_free(&f->out);
        TASK_END(f);
}

struct client {
        TASK_FRAME;
        int fd;
        struct task_buf b;
        struct task_io io;
        int i, rc;
        ssize_t n;
};

static const char *const pieces[] = {"PING\r\nHEL", "LO wor", "ld\r\n",
                                     "a\r\nb\r\n"};

static int client(struct task_cx *cx, void *arg)
{
        struct client *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < 4; f->i++) {
                task_buf_append(&f->b, pieces[f->i], strlen(pieces[f->i]));
                TASK_BUF_WRITE_ALL(f, f->fd, &f->b, &f->io, &f->rc);
        }
        shutdown(f->fd, SHUT_WR);
        do /* the replies, until the server is done */
                TASK_BUF_READ(f, f->fd, &f->b, 256, &f->io, &f->n);
        while (f->n > 0);
        printf("%.*s", (int)task_buf_len(&f->b),
               (const char *)task_buf_data(&f->b));
        TASK_CLEANUP(f);
        task_buf_free(&f->b);
        TASK_END(f);
}

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS;
        int sv[2];
        task_handle *s, *c;
};

static int app(struct task_cx *cx, void *arg)
{
        struct app *f = arg;

        TASK_BEGIN(f);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv) < 0) {
                f->exit_code = 1;
                TASK_RETURN(f);
        }
        {
                struct server s = {.fd = f->sv[0]};
                struct client c = {.fd = f->sv[1]};
                if (TASK_SPAWN(task_cx_runtime(cx), server, &s, &f->s) ||
                    TASK_SPAWN(task_cx_runtime(cx), client, &c, &f->c)) {
                        f->exit_code = 1; /* (a real program cleans up) */
                        TASK_RETURN(f);
                }
        }
        TASK_JOIN(f, f->s, NULL);
        TASK_JOIN(f, f->c, NULL);
        task_handle_release(f->s);
        task_handle_release(f->c);
        close(f->sv[0]);
        close(f->sv[1]);
        TASK_END(f);
}

TASK_MAIN(app, struct app)
