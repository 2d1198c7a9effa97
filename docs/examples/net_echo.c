/*
 * net_echo.c - a TCP echo server and its clients in one program: the
 * server listens on 127.0.0.1 (port 0: the kernel picks one), accepts
 * connections and echoes each in a task of its own; a few client tasks
 * connect, send a line, read it back, and hang up; then the server is
 * stopped and everything is closed.
 */
#include <libtask/net.h>
#include <libtask/task.h>

#include <stdio.h>
#include <string.h>

enum { CLIENTS = 4 };

/* One connection on the server side: echo until the client hangs up. */
struct conn {
        TASK_FRAME;
        struct task_stream s;
        struct task_io io;
        char buf[1024];
        ssize_t n;
        int rc;
};

static int conn_fn(struct task_cx *cx, void *arg)
{
        struct conn *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_STREAM_READ(f, &f->s, &f->io, f->buf, sizeof f->buf,
                                 &f->n);
                if (f->n <= 0) /* 0: the client hung up; < 0: an error */
                        break;
                TASK_STREAM_WRITE_ALL(f, &f->s, &f->io, f->buf, (size_t)f->n,
                                      &f->rc);
                if (f->rc < 0)
                        break;
        }
        TASK_CLEANUP(f); /* runs on abort too */
        task_stream_close(&f->s);
        TASK_END(f);
}

/* The accept loop: a detached task per connection. */
struct server {
        TASK_FRAME;
        struct task_listener *l;
        struct task_io io;
        struct task_stream conn;
        struct task_addr peer;
        int rc;
};

static int server_fn(struct task_cx *cx, void *arg)
{
        struct server *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_LISTENER_ACCEPT(f, f->l, &f->io, &f->conn, &f->peer,
                                     &f->rc);
                if (f->rc < 0) {
                        fprintf(stderr, "accept: %s\n", task_strerror(f->rc));
                        break;
                }
                task_tcp_set_nodelay(&f->conn, true);
                struct conn c = {.s = f->conn};
                if (TASK_SPAWN(task_cx_runtime(cx), conn_fn, &c, NULL) < 0)
                        task_stream_close(&c.s);
        }
        TASK_END(f);
}

/* A client: connect, send a line, read the echo, hang up. */
struct client {
        TASK_FRAME;
        struct task_addr addr;
        int id;
        struct task_net_op op;
        struct task_stream s;
        struct task_io io;
        char msg[64], reply[64];
        size_t len;
        ssize_t n;
        int rc;
};

static int client_fn(struct task_cx *cx, void *arg)
{
        struct client *f = arg;

        TASK_BEGIN(f);
        /* At most one second for the handshake. */
        TASK_TCP_CONNECT(f, &f->addr, 1000000000, &f->op, &f->s, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        f->len = (size_t)snprintf(f->msg, sizeof f->msg,
                                  "hello from client %d\n", f->id);
        TASK_STREAM_WRITE_ALL(f, &f->s, &f->io, f->msg, f->len, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        TASK_STREAM_READ_EXACT(f, &f->s, &f->io, f->reply, f->len, &f->rc);
        if (f->rc < 0)
                TASK_RETURN(f);
        if (memcmp(f->reply, f->msg, f->len) != 0) {
                f->rc = -EIO;
                TASK_RETURN(f);
        }
        printf("client %d got back: %.*s", f->id, (int)f->len, f->reply);
        /* Hang up politely: the server reads EOF and closes its end. */
        task_stream_shutdown(&f->s, TASK_SHUT_WR);
        TASK_STREAM_READ(f, &f->s, &f->io, f->reply, sizeof f->reply, &f->n);
        if (f->n != 0)
                f->rc = -EPROTO;
        TASK_CLEANUP(f);
        task_stream_close(&f->s);
        TASK_END(f);
}

struct app {
        TASK_FRAME;
        TASK_MAIN_ARGS;
        struct task_listener l;
        struct task_addr addr;
        char text[TASK_ADDR_STRLEN];
        task_handle *server;
        task_handle *clients[CLIENTS];
        int i, rc;
};

static int app_fn(struct task_cx *cx, void *arg)
{
        struct app *f = arg;

        TASK_BEGIN(f);
        f->exit_code = 1;
        task_addr_parse(&f->addr, "127.0.0.1:0");
        f->rc = task_tcp_bind(&f->l, &f->addr, NULL);
        if (f->rc < 0) {
                fprintf(stderr, "bind: %s\n", task_strerror(f->rc));
                TASK_RETURN(f);
        }
        task_listener_local_addr(&f->l, &f->addr); /* the port chosen */
        task_addr_format(&f->addr, f->text, sizeof f->text);
        printf("listening on %s\n", f->text);

        struct server s = {.l = &f->l};
        if (TASK_SPAWN(task_cx_runtime(cx), server_fn, &s, &f->server) < 0)
                TASK_RETURN(f);
        for (f->i = 0; f->i < CLIENTS; f->i++) {
                struct client c = {.addr = f->addr, .id = f->i};
                if (TASK_SPAWN(task_cx_runtime(cx), client_fn, &c,
                               &f->clients[f->i]) < 0)
                        f->clients[f->i] = NULL;
        }
        f->exit_code = 0;
        for (f->i = 0; f->i < CLIENTS; f->i++) {
                if (!f->clients[f->i]) {
                        f->exit_code = 1;
                        continue;
                }
                TASK_JOIN(f, f->clients[f->i], NULL);
                struct client *c = task_handle_frame(f->clients[f->i]);
                if (c->rc < 0) {
                        fprintf(stderr, "client %d: %s\n", c->id,
                                task_strerror(c->rc));
                        f->exit_code = 1;
                }
                task_handle_release(f->clients[f->i]);
        }
        /* Stop the server: the abort cancels its pending accept. */
        task_abort(f->server);
        TASK_JOIN(f, f->server, NULL);
        task_handle_release(f->server);
        f->server = NULL;
        TASK_CLEANUP(f);
        if (f->server) { /* only if we stopped early */
                task_abort(f->server);
                task_handle_release(f->server);
        }
        task_listener_close(&f->l);
        TASK_END(f);
}

TASK_MAIN(app_fn, struct app)
