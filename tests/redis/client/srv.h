/*
 * srv.h - servers for the client tests: a real one to talk to, and fake
 * ones that misbehave.
 *
 * srv_start() starts the server this test binary runs against, chosen by
 * $RDS_CLIENT_SERVER: "task" (task-redis-server, $RDS_SERVER) or "redis"
 * (Debian's redis-server, $REDIS_SERVER), on an ephemeral TCP port of
 * 127.0.0.1, in a fresh temporary directory, with persistence off.  Both
 * also listen on a Unix socket in that directory (srv.unix_path:
 * redis.sock or task.sock).  The
 * server is killed when the test process dies (PR_SET_PDEATHSIG), so a
 * failed assertion leaves nothing running; srv_stop() stops it cleanly.
 *
 *     struct srv s;
 *     srv_start(&s);                    // asserts on failure
 *     ... connect to s.addr ("127.0.0.1:PORT") ...
 *     srv_stop(&s);
 *
 * Fake servers (struct fake) run on a thread of the test process, on an
 * ephemeral port: each accepted connection gets the behaviour asked for.
 */
#ifndef RDC_TEST_SRV_H
#define RDC_TEST_SRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum srv_kind {
        SRV_TASK,  /* task-redis-server */
        SRV_REDIS, /* redis-server */
};

struct srv {
        enum srv_kind kind;
        pid_t pid;
        int port;
        char addr[64];       /* "127.0.0.1:PORT" */
        char dir[64];        /* its temporary working directory */
        char unix_path[256]; /* the Unix socket, or "" */
        char extra[8][64];   /* extra arguments kept for srv_restart */
        int nextra;
};

/* The kind $RDS_CLIENT_SERVER names (default SRV_TASK). */
enum srv_kind srv_kind_env(void);

/* "task-redis-server" or "redis-server". */
const char *srv_kind_name(enum srv_kind k);

/*
 * srv_start - start the $RDS_CLIENT_SERVER server; asserts (fails the
 * test) if it cannot.  srv_start_args: with extra server arguments
 * ("--requirepass", "pw", ...; at most 8, NULL-terminated), understood by
 * both servers.
 */
void srv_start(struct srv *s);
void srv_start_args(struct srv *s, const char *const *args);

/* srv_stop - SIGTERM, wait (SIGKILL after 5 s), remove the directory. */
void srv_stop(struct srv *s);

/* srv_kill - SIGKILL and wait, keeping the directory (for srv_restart). */
void srv_kill(struct srv *s);

/*
 * srv_restart - after srv_kill or srv_stop_keep: start the same server
 * again on the same port (and Unix socket), with the same arguments.
 * Asserts on failure (it retries while the port is still taken).
 */
void srv_restart(struct srv *s);

/* What a fake server does with each connection. */
enum fake_mode {
        FAKE_SILENT,     /* reads everything, never answers */
        FAKE_CLOSE,      /* reads a request, closes without a reply */
        FAKE_HALF_REPLY, /* reads a request, sends "$10\r\nabc", closes */
        FAKE_GARBAGE,    /* reads a request, answers "@#!garbage\r\n" */
        FAKE_SCRIPT,     /* reads a request, sends fake.script, keeps open */
};

struct fake {
        enum fake_mode mode;
        const char *script; /* FAKE_SCRIPT: the bytes to answer with */
        size_t script_len;
        int lfd;
        int port;
        char addr[64]; /* "127.0.0.1:PORT" */
        pthread_t thr;
        int stop_pipe[2];
        _Atomic int accepted; /* connections accepted so far */
};

/* fake_start - listen on an ephemeral port and serve @mode; asserts. */
void fake_start(struct fake *f, enum fake_mode mode);

/* fake_stop - stop the thread, close every connection and the listener. */
void fake_stop(struct fake *f);

/* Connections the fake has accepted. */
int fake_accepted(struct fake *f);

/* A TCP port nobody listens on (bound, then closed: connect is refused). */
int srv_closed_port(void);

#endif /* RDC_TEST_SRV_H */
