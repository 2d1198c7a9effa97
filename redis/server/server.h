/*
 * redis/server/server.h - what the server's modules share: the server, the
 * client, the command table, the configuration, logging and statistics.
 *
 * Modules (redis/server/):
 *   resp.c       RESP parser and reply encoder (resp.h)
 *   util.c       numbers, glob matching, clocks (util.h)
 *   store.c      the sharded keyspace (store.h)
 *   server.c     listener, accept loop, the connection task, dispatch,
 *                maxclients, idle timeout, graceful shutdown
 *   config.c     flags, redis.conf syntax, CONFIG GET/SET's table
 *   log.c        Redis-style log lines, levels, stderr or a file
 *   commands.c   the command registry: lookup, arity, COMMAND
 *   cmd_conn.c   PING ECHO QUIT SELECT HELLO AUTH RESET CLIENT
 *   cmd_string.c strings and counters
 *   cmd_keys.c   DEL EXISTS TYPE KEYS SCAN RENAME COPY MOVE RANDOMKEY ...
 *   cmd_expire.c EXPIRE family, TTL family, PERSIST
 *   pubsub.c     channels, patterns, subscriber output, commands
 *   cmd_server.c INFO CONFIG TIME SHUTDOWN DBSIZE FLUSHDB FLUSHALL SWAPDB
 *   main.c       task-redis-server's main()
 *
 * Threads.  The server runs on a libtask multi-thread runtime.  Each
 * connection is one task (server.c) that reads, parses every complete
 * request in its buffer, executes them in order (a command handler runs to
 * completion without suspending), and writes all the replies with one
 * send.  Handlers touch the keyspace only under shard locks (store.h);
 * fields of struct rds_client belong to the connection's task unless they
 * say otherwise.
 */
#ifndef RDS_SERVER_H
#define RDS_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <libtask/net.h>
#include <libtask/task.h>

#include "resp.h"
#include "store.h"

#define RDS_VERSION "7.0.15" /* the Redis version we behave as */
#define RDS_SERVER_NAME "task-redis-server"

struct rds_client;
struct rds_server;
struct rds_ps_client;

/* ---- Commands -------------------------------------------------------------- */

/*
 * A command handler: @argv[0] is the command name as sent, @argc >= 1 and
 * within the command's arity (checked before the call).  It appends exactly
 * one reply to &c->out (or none, for the commands that Redis answers with
 * pushes only) and must not suspend.  c->now_ms is the command's clock.
 */
typedef void rds_cmd_fn(struct rds_client *c, int argc,
                        const struct rds_arg *argv);

enum rds_cmd_flags {
        RDS_CMD_WRITE = 1u << 0,    /* may modify the keyspace */
        RDS_CMD_READONLY = 1u << 1, /* reads keys */
        RDS_CMD_NOAUTH = 1u
                         << 2, /* allowed before AUTH (AUTH, HELLO, QUIT...) */
        RDS_CMD_PUBSUB = 1u << 3, /* allowed in RESP2 subscribed mode */
        RDS_CMD_ADMIN = 1u << 4,
        RDS_CMD_FAST = 1u << 5,
        RDS_CMD_LOADING = 1u << 6,
        RDS_CMD_STALE = 1u << 7,
};

struct rds_command {
        const char *name; /* lowercase: "get" */
        rds_cmd_fn *fn;
        int arity;      /* Redis's: n exact, -n at least n (name included) */
        unsigned flags; /* enum rds_cmd_flags */
        int first_key, last_key, key_step; /* COMMAND INFO's key spec */
        const char *group;                 /* "string", "keyspace", ... */
        const char *since;                 /* "1.0.0" */
        const char *summary;               /* one line, for COMMAND DOCS */
        /* Subcommands (CLIENT LIST, CONFIG GET...), NULL-name terminated,
         * or NULL.  Dispatch of subcommands is the handler's job; the
         * table is for COMMAND's output. */
        const struct rds_command *subcommands;
        /* ACL categories for COMMAND INFO ("@keyspace @read @fast"), or
         * NULL: derived from the group and the flags (cmd_server.c). */
        const char *acl;
};

/* Each command module exports its table, terminated by a NULL name. */
extern const struct rds_command rds_conn_commands[];
extern const struct rds_command rds_string_commands[];
extern const struct rds_command rds_keys_commands[];
extern const struct rds_command rds_expire_commands[];
extern const struct rds_command rds_pubsub_commands[];
extern const struct rds_command rds_server_commands[];

/* Build the lookup table from the modules' tables.  Returns 0 or -ENOMEM. */
int rds_commands_init(void);
void rds_commands_free(void);
/* The command named @name (any case), or NULL. */
const struct rds_command *rds_command_lookup(const void *name, size_t len);
/* Iterate every command (COMMAND, COMMAND COUNT); @i from 0 until NULL. */
const struct rds_command *rds_command_at(size_t i);
size_t rds_command_count(void);
/* The subcommand of container @cmd named @name (any case), or NULL. */
const struct rds_command *rds_command_lookup_sub(const struct rds_command *cmd,
                                                 const void *name, size_t len);
/*
 * rds_command_dispatch_sub - run a container command's subcommand (CLIENT
 * LIST, CONFIG GET...): look argv[1] up in @parent->subcommands, check its
 * arity and call it, or reply Redis 7's errors ("ERR unknown subcommand
 * 'x'. Try CLIENT HELP.", "ERR wrong number of arguments for
 * 'client|kill' command").
 */
void rds_command_dispatch_sub(struct rds_client *c,
                              const struct rds_command *parent, int argc,
                              const struct rds_arg *argv);
/* Redis's addReplyHelp(): "<PARENT> <subcommand> ...", @lines (NULL
 * terminated), then the HELP entry, as simple strings. */
void rds_reply_help(struct rds_client *c, const char *parent,
                    const char *const *lines);

/* A growable text buffer, for replies built as text (INFO, CLIENT LIST).
 * Zero-initialise it; on allocation failure @oom is set and nothing more
 * is appended.  rds_text_free() releases it. */
struct rds_text {
        char *p;
        size_t len, cap;
        bool oom;
};
void rds_text_printf(struct rds_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rds_text_append(struct rds_text *t, const void *p, size_t len);
void rds_text_free(struct rds_text *t);

/* ---- Configuration ---------------------------------------------------------- */

struct rds_config {
        char bind[256];          /* space-separated addresses; "127.0.0.1" */
        int port;                /* 6379; 0: an ephemeral port (tests) */
        char unixsocket[108];    /* a Unix socket to listen on too; "": none */
        unsigned unixsocketperm; /* its mode (0777 at most); 0: the umask's */
        unsigned maxclients;     /* 10000 */
        unsigned timeout_s;      /* idle timeout; 0: none */
        char requirepass[512];   /* "" : none */
        unsigned databases;      /* 16 */
        unsigned workers;        /* 0: the runtime's default */
        unsigned shards;         /* 0: scaled to the workers */
        int loglevel;            /* enum rds_loglevel */
        char logfile[4096];      /* "": stderr */
        bool protected_mode; /* true: refuse non-loopback without a password */
        long long proto_max_bulk_len;        /* 512 MB */
        long long client_query_buffer_limit; /* 1 GB */
        /* client-output-buffer-limit pubsub <hard> <soft> <soft-seconds> */
        unsigned long long pubsub_hard, pubsub_soft;
        unsigned pubsub_soft_s;
        unsigned hz; /* active expiry cycles per second: 10 */
        /* client-output-buffer-limit normal / replica: accepted and shown
         * by CONFIG GET for compatibility, not enforced (config.c). */
        unsigned long long normal_hard, normal_soft;
        unsigned normal_soft_s;
        unsigned long long replica_hard, replica_soft;
        unsigned replica_soft_s;
};

/* Fill @cfg with the defaults. */
void rds_config_defaults(struct rds_config *cfg);
/*
 * rds_config_parse_args - apply the command line: `task-redis-server
 * [/path/to/redis.conf] [--name value ...]` as Redis takes it.  Returns
 * 0, 1 (--help/--version printed: exit 0), or -EINVAL with a message in
 * @err (@errlen bytes).
 */
int rds_config_parse_args(struct rds_config *cfg, int argc, char **argv,
                          char *err, size_t errlen);
/* Apply one directive ("port", {"6379"}), as a config file line.  Returns
 * 0 or -EINVAL with a message in @err. */
int rds_config_set(struct rds_config *cfg, const char *name, int argc,
                   const char *const *argv, char *err, size_t errlen);
/*
 * rds_config_set_pairs - CONFIG SET: apply @n (name, value) pairs, @args
 * holding 2 * @n arguments, to srv->cfg under srv->cfg_lock, all or none.
 * Returns 0 or -EINVAL with the whole error reply text in @err ("ERR
 * CONFIG SET failed (possibly related to argument 'port') - ...").
 */
int rds_config_set_pairs(struct rds_server *srv, size_t n,
                         const struct rds_arg *args, char *err, size_t errlen);
/* CONFIG GET's table: the number of parameters, the @i-th one's name,
 * and its value in @cfg formatted into @buf (@size bytes). */
size_t rds_config_nparams(void);
const char *rds_config_param_name(size_t i);
void rds_config_param_get(const struct rds_config *cfg, size_t i, char *buf,
                          size_t size);

/* ---- Logging ----------------------------------------------------------------- */

enum rds_loglevel {
        RDS_LOG_DEBUG = 0,
        RDS_LOG_VERBOSE,
        RDS_LOG_NOTICE,
        RDS_LOG_WARNING,
};

/* Open the log: @path "" for stderr.  Returns 0 or -errno. */
int rds_log_open(const char *path, int level);
void rds_log_close(void);
void rds_log_set_level(int level);
/* A line in Redis's format: "pid:M dd Mon yyyy hh:mm:ss.mmm * msg". */
void rds_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Statistics -------------------------------------------------------------- */

/*
 * Per-thread counters: each thread that runs commands has its own block
 * (rds_stats_local()), written only by that thread with relaxed
 * load+store (no locked instruction on the hot path) and read by INFO
 * with relaxed loads, summed over every block (rds_stats_sum).
 */
struct rds_stats {
        _Atomic uint64_t commands;       /* total_commands_processed */
        _Atomic uint64_t conns_received; /* total_connections_received */
        _Atomic uint64_t rejected_conns; /* rejected_connections */
        _Atomic uint64_t keyspace_hits;
        _Atomic uint64_t keyspace_misses;
        _Atomic uint64_t net_input_bytes;
        _Atomic uint64_t net_output_bytes;
        _Atomic uint64_t pubsub_messages; /* messages delivered */
        _Atomic uint64_t client_output_limit_disconnections;
        _Atomic uint64_t client_query_limit_disconnections;
};

static inline void rds_stat_add(_Atomic uint64_t *ctr, uint64_t n)
{
        /* Single writer (the owning thread): relaxed is enough, readers
         * only need some recent value. */
        atomic_store_explicit(
            ctr, atomic_load_explicit(ctr, memory_order_relaxed) + n,
            memory_order_relaxed);
}

/* This thread's counters (registered on first use; never NULL: a static
 * fallback block, updated with atomic adds, is used if registration
 * cannot allocate). */
struct rds_stats *rds_stats_local(void);
/* Sum of every thread's counters. */
void rds_stats_sum(struct rds_stats *out);

/* ---- The server ---------------------------------------------------------------- */

struct rds_server {
        struct rds_config cfg; /* CONFIG SET writes under cfg_lock */
        pthread_mutex_t cfg_lock;
        struct rds_store *store;
        task_runtime *rt;
        int64_t start_ms; /* Unix ms at start */
        uint64_t start_mono_ns;
        char run_id[41];
        char executable[4096];
        char config_file[4096];
        int port; /* the TCP port actually bound */

        /* Clients: the list is guarded by clients_lock. */
        pthread_mutex_t clients_lock;
        struct rds_client *clients; /* doubly linked through c->next/prev */
        _Atomic uint64_t nclients;
        _Atomic uint64_t next_client_id;

        /* Set once by SHUTDOWN or a signal: the accept loop stops and every
         * connection finishes what it is executing, then closes. */
        atomic_bool shutting_down;
        struct task_notify shutdown_notify;

        struct rds_pubsub *pubsub; /* pubsub.c */
};

/* The one server of this process (main.c sets it up). */
extern struct rds_server *rds_srv;

/* Start a graceful shutdown (SHUTDOWN, SIGTERM/SIGINT).  Idempotent. */
void rds_server_shutdown(struct rds_server *srv);

/*
 * Running the server (server.c; main.c calls them in this order).
 *
 * rds_server_check_protected - protected mode: -EACCES (with the offending
 * address in @bad) when @cfg would listen on a non-loopback address with
 * protected-mode on and no requirepass; 0 otherwise.
 * rds_server_listen - bind every address of srv->cfg.bind on cfg.port (0:
 * an ephemeral port, then srv->port is the one bound), and the Unix socket
 * cfg.unixsocket if set (a file already there is replaced, as Redis does;
 * chmod to cfg.unixsocketperm if not 0).  Returns 0 or -errno with a
 * message in @err, and *@unix_failed true when it was the Unix socket
 * that failed (Redis then logs only that message, without "Failed
 * listening on port N (TCP), aborting.").
 * rds_server_start - listen for SIGINT/SIGTERM, spawn the acceptors, the
 * clients cron and the signal task on srv->rt, and log "Ready to accept
 * connections tcp on ADDR:PORT" for each TCP listener and "The server is
 * now ready to accept connections at PATH" (Redis 7.0's line) for the Unix
 * socket, whose file the acceptor removes when it stops.  Returns 0 or
 * -errno.
 * rds_server_wait - block the calling (non-worker) thread until a
 * shutdown has begun and the clients are gone (or 10 s have passed).
 * rds_server_stop_signals - restore SIGINT/SIGTERM (after the runtime is
 * freed).
 */
int rds_server_check_protected(const struct rds_config *cfg, char *bad,
                               size_t badlen);
int rds_server_listen(struct rds_server *srv, char *err, size_t errlen,
                      bool *unix_failed);
int rds_server_start(struct rds_server *srv);
void rds_server_wait(struct rds_server *srv);
void rds_server_stop_signals(void);

/* ---- Clients ------------------------------------------------------------------- */

enum rds_client_flags {
        RDS_CLIENT_CLOSE_AFTER_REPLY = 1u << 0, /* QUIT, protocol error */
        RDS_CLIENT_PUBSUB = 1u << 1,            /* subscribed to something */
};

struct rds_client {
        uint64_t id; /* CLIENT ID; immutable */
        struct rds_server *srv;
        struct rds_out out; /* this batch's replies */
        int db;             /* SELECTed database */
        int proto;          /* 2 or 3 (HELLO) */
        bool authenticated; /* true when no requirepass is set */
        unsigned flags;     /* enum rds_client_flags */
        int64_t now_ms;     /* the clock of the running command */
        int fd;             /* immutable */
        /* "ip:port", or "PATH:0" for a Unix socket client; immutable */
        char addr[TASK_ADDR_STRLEN], laddr[TASK_ADDR_STRLEN];
        int64_t ctime_ms; /* connected at; immutable */
        bool is_unix;     /* came through the Unix socket; immutable */

        /* Read by CLIENT LIST from other threads: */
        _Atomic int64_t last_ms; /* last interaction (Unix ms) */
        _Atomic int shown_db;    /* db, published for CLIENT LIST */
        _Atomic(const struct rds_command *) last_cmd;
        _Atomic int shown_proto; /* proto (HELLO, RESET); 0 reads as 2 */
        /* Subscription counts, published by pubsub.c for CLIENT LIST and
         * CLIENT KILL TYPE pubsub: */
        _Atomic unsigned shown_subs, shown_psubs;
        _Atomic unsigned shown_ssubs; /* SSUBSCRIBE (shard channels) */
        /* Guarded by srv->clients_lock (CLIENT SETNAME/SETINFO/LIST): */
        char *name, *lib_name, *lib_ver;
        struct rds_client *prev, *next;

        /* Set by CLIENT KILL or shutdown (another thread): the connection
         * closes after the batch it is executing. */
        atomic_bool kill;

        /* pub/sub state (pubsub.c); NULL until the first subscription. */
        struct rds_ps_client *ps;

        /* Lifetime: the connection task holds one reference, pubsub.c may
         * hold more (a subscriber's writer); freed at zero. */
        atomic_uint refs;
};

/* Drop a reference to @c.  At zero the client leaves srv->clients, its
 * socket is closed and it is freed: the fd stays open, and the client
 * counted, while anyone (the connection task, a pub/sub writer) may still
 * use it.  Takes srv->clients_lock: never call it with that lock held. */
void rds_client_release(struct rds_client *c);

/*
 * rds_client_kill - make @c close: sets c->kill and shuts the socket's
 * read side (shutdown(SHUT_RD)), which ends a pending read with EOF; the
 * connection task then finishes the batch it may be executing, writes its
 * replies, and closes.  The caller holds srv->clients_lock (which keeps @c
 * and its fd alive).  Used by CLIENT KILL, the idle timeout, the pub/sub
 * output limit and shutdown.
 */
void rds_client_kill(struct rds_client *c);

/*
 * rds_sock_unacked - true while bytes written to @fd may still reach the
 * peer and are not all acknowledged (TCP) or read (Unix socket): what a
 * lingering close waits for.  False once the connection was reset: the
 * kernel drops the send queue then but leaves SIOCOUTQ's count as it
 * was, so nothing would ever bring it to 0.
 */
bool rds_sock_unacked(int fd);

/* ---- Pub/sub (pubsub.c) ------------------------------------------------------- */

int rds_pubsub_new(struct rds_pubsub **out);
void rds_pubsub_free(struct rds_pubsub *ps);
/* The connection calls this at the end of every batch when c->ps is set:
 * it moves c->out's bytes into the subscriber's output queue (in order
 * with the messages published to it) instead of writing them itself.
 * Returns 0 or a -errno (the client must close). */
int rds_pubsub_client_flush(struct rds_client *c);
/* Unsubscribe @c from everything and stop its writer: only when the
 * connection ends (the writer sends what is queued, c->out's last bytes
 * included, then closes its side).  Without clients_lock held. */
void rds_pubsub_client_close(struct rds_client *c);
/* Numbers for INFO. */
size_t rds_pubsub_channels(struct rds_pubsub *ps);
size_t rds_pubsub_patterns(struct rds_pubsub *ps);
/* INFO's pubsubshard_channels (SSUBSCRIBE's shard channels). */
size_t rds_pubsub_shard_channels(struct rds_pubsub *ps);
/*
 * rds_pubsub_set_limits - client-output-buffer-limit pubsub: @hard and
 * @soft bytes (0: none), @soft_s seconds.  rds_pubsub_new() starts from
 * rds_srv->cfg (Redis's 32mb 8mb 60 if rds_srv is not set yet); CONFIG SET
 * calls this after changing the config.  Any thread.
 */
void rds_pubsub_set_limits(struct rds_pubsub *ps, unsigned long long hard,
                           unsigned long long soft, unsigned soft_s);
/* RESET: unsubscribe @c from everything without a reply and leave
 * subscribed mode (c->ps, if any, stays: replies keep going through it,
 * in order).  Not rds_pubsub_client_close(), which is for the end of the
 * connection only: after it the connection would write to the socket
 * itself while the writer may still be sending what was queued. */
void rds_pubsub_client_reset(struct rds_client *c);

/* ---- Helpers for handlers ----------------------------------------------------- */

/* Parse @a as a long long; on failure reply RDS_ERR_NOT_INT and return
 * false. */
bool rds_arg_ll(struct rds_client *c, const struct rds_arg *a, long long *out);

/* A handler that cannot allocate replies this (Redis itself would abort). */
#define RDS_ERR_OOM "ERR out of memory"

/*
 * struct rds_keyset - the keys of a multi-key command (cmd_keys.c):
 * argv[0], argv[step], ... as passed to rds_keyset_init(), their hashes
 * computed once, and the lockset of their shards, so that the command
 * locks them all (rds_store_lock_set(s, &ks.ls)) and runs atomically.
 * The hashes live in the struct for up to RDS_KEYSET_INLINE keys (no
 * allocation on MGET/MSET's usual path), in a malloc'd array beyond.
 */
#define RDS_KEYSET_INLINE 32
struct rds_keyset {
        struct rds_lockset ls;
        uint64_t *hash; /* hash[i]: the i-th key's */
        size_t n;
        uint64_t inline_hash[RDS_KEYSET_INLINE];
};
/* Fill @ks with the @n keys @keys[0], @keys[@step], ...  Returns 0 or
 * -ENOMEM (nothing to free then). */
int rds_keyset_init(struct rds_keyset *ks, const struct rds_store *s,
                    const struct rds_arg *keys, size_t n, size_t step);
/* Release what rds_keyset_init() allocated. */
void rds_keyset_free(struct rds_keyset *ks);

#endif /* RDS_SERVER_H */
