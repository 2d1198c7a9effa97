/*
 * redis/server/server.c - the network half of the server: listeners, the
 * accept loop, clients and their connection tasks, command dispatch, the
 * clients cron (idle timeout, active expiry), statistics blocks and the
 * graceful shutdown.
 *
 * Tasks.  Everything runs on the libtask runtime rds_srv->rt:
 *
 *  - one acceptor per listening address (the TCP ones of `bind`, and the
 *    Unix socket of `unixsocket`, whose file it removes when it stops;
 *    a Unix client's addr and laddr read "PATH:0" as in Redis 7.0).  It
 *    accepts, applies maxclients
 *    (checked under clients_lock, so the limit is exact however many
 *    acceptors race), links the new client into srv->clients and spawns
 *    its connection task.  Out of descriptors (EMFILE/ENFILE) it logs once
 *    and backs off 100 ms: the listen queue holds the waiting peers.
 *  - one connection task per client (conn_task).  Its loop: one recv into
 *    the client's input buffer, then parse and execute every complete
 *    request in it (a handler never suspends), then one send of all the
 *    replies of the batch.  So a pipelined burst costs two system calls
 *    (io_uring submissions) whatever its length, and nothing on the way
 *    allocates once the buffers have their capacity.  Reads start small
 *    (4 KB) and double while they fill the buffer; a big bulk is
 *    reserved in big steps (conn_read_size); buffers that grew for a big
 *    request or reply shrink back once it is done.  Dispatch applies
 *    Redis 7.0's checks in its order (dispatch()).  Replies pile up to
 *    RDS_OUT_FLUSH at most before they are written.
 *  - the clients cron (cron_task), hz times a second: the idle timeout and
 *    the active expiry cycle, cut into 1 ms slices so that a worker is
 *    never held longer than that (Redis's 25% CPU budget per period).
 *  - the signal task: SIGINT/SIGTERM start the graceful shutdown.
 *
 * Closing.  When the server is the side that closes (QUIT, a protocol
 * error, a kill), it shuts down writing after the last replies and waits
 * (up to RDS_LINGER_MS) until the peer has acknowledged them before
 * closing: a close with unread input sends a reset, which would discard
 * replies still queued.  When the peer closes first, nothing waits; nor
 * once the peer has reset the connection (rds_sock_unacked()).
 *
 * Killing a client (rds_client_kill: CLIENT KILL, timeout, shutdown, the
 * pub/sub output limit) sets c->kill and shuts the socket's read side
 * down: a recv pending in io_uring then completes with 0 (end of stream;
 * test_lifecycle.py checks that it does on this kernel), and the task
 * looks at c->kill after every read and every batch.  A batch already
 * being executed is finished and its replies written.  A client killed
 * more than RDS_KILL_GRACE_MS ago that is still there (stuck in a send to
 * a peer that does not read) gets SHUT_RDWR from the cron, which fails the
 * send.
 *
 * Lifetime of a client: struct rds_conn (below) embeds the public struct
 * rds_client first, plus what only the connection task uses (the input
 * buffer, the parser).  It is one allocation, counted by c->refs: the
 * connection task holds one reference, pub/sub writers may hold more; at
 * zero the client leaves srv->clients, its socket is closed and the memory
 * freed.  So the client is in srv->clients (and counted in nclients) from
 * accept until its last reference is gone: a subscriber's writer still
 * sending the last bytes after its connection task ended keeps it there,
 * and a graceful shutdown (which waits for nclients to reach 0) waits for
 * those bytes too.  Whoever walks the list under clients_lock may use a
 * client on it (and its fd); nobody drops a reference holding that lock.
 *
 * Graceful shutdown (rds_server_shutdown, once): 1. shutting_down is set
 * and shutdown_notify woken: the acceptors stop and close their
 * listeners; 2. every client is killed under clients_lock (a client linked
 * later sees shutting_down and is refused), so each finishes its batch,
 * writes its replies and closes; 3. rds_server_wait() (main's thread)
 * returns when nclients is 0 or after RDS_SHUTDOWN_WAIT_MS.
 *
 * Configuration read by connections (query buffer limit, proto-max-bulk-
 * len) is copied under cfg_lock when the client connects and again
 * whenever a CONFIG command has run since (config_gen), so CONFIG SET
 * reaches every connection at its next read without a lock on every
 * read.  maxclients, timeout and hz are read under cfg_lock where they
 * are used (accept, the cron).
 */
#include "server.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct rds_server *rds_srv;

/* ---- Tunables ------------------------------------------------------------------- */

/* What one read asks for: RDS_READ_MIN at first, doubled (up to Redis's
 * PROTO_IOBUF_LEN, 16 KB, and beyond for a client whose reads keep
 * filling the buffer, up to RDS_READ_MAX) when a read fills all the room
 * it had.  An idle client pins its read buffer (the recv in flight owns
 * it), so a small start keeps 10,000 idle clients at 40 MB, not 160. */
#define RDS_READ_MIN 4096
#define RDS_READ_MAX (64 * 1024)
#define RDS_IOBUF_LEN (16 * 1024)
/* A buffer bigger than this is shrunk back to RDS_IOBUF_LEN once the bytes
 * it holds fit, so an idle client does not keep a big request's memory. */
#define RDS_SHRINK_ABOVE (256 * 1024)
/* The most a read reserves ahead of the bytes a client has sent. */
#define RDS_PREALLOC_MAX (1024 * 1024)
/* Replies are written before the batch ends once this many are pending
 * (a pipeline of GETs of big values does not pile up in memory). */
#define RDS_OUT_FLUSH (1024 * 1024)
/* A parser whose argument array grew past this is reset when idle. */
#define RDS_PARSER_ARGS_KEEP 1024
/* A killed client still there after this long gets SHUT_RDWR. */
#define RDS_KILL_GRACE_MS 2000
/* How long a graceful shutdown waits for the clients to go. */
#define RDS_SHUTDOWN_WAIT_MS 10000
/* Fast commands in a row that may share one clock reading. */
#define RDS_CLOCK_EVERY 16
/* How long a closing connection waits for its last replies to be
 * acknowledged (see conn_task). */
#define RDS_LINGER_MS 2000
/* The active expiry cycle runs in slices of this many microseconds. */
#define RDS_EXPIRE_SLICE_US 1000
#define RDS_MAX_LISTENERS 16

static const char max_clients_err[] = "-ERR max number of clients reached\r\n";

/* ---- Statistics ------------------------------------------------------------------ */

/*
 * Blocks: the first RDS_STATS_STATIC threads take one of the static
 * slots (a fetch_add on the slot count, no allocation); later ones
 * allocate a node on the heap list; if that fails they share the
 * fallback block.  Blocks are never freed (threads come and go, their
 * counts stay in the sums).  Each block has its own cache line so two
 * workers never write the same one.
 */
#define RDS_STATS_STATIC 64

struct rds_stats_slot {
        alignas(64) struct rds_stats s;
        struct rds_stats_slot *next; /* heap list; guarded by stats_lock */
};

static struct rds_stats_slot stats_static[RDS_STATS_STATIC];
static atomic_uint stats_nstatic;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rds_stats_slot *stats_heap;
static struct rds_stats_slot stats_fallback;
static _Thread_local struct rds_stats *stats_tls;

struct rds_stats *rds_stats_local(void)
{
        if (stats_tls)
                return stats_tls;
        unsigned i =
            atomic_fetch_add_explicit(&stats_nstatic, 1, memory_order_relaxed);
        if (i < RDS_STATS_STATIC) {
                stats_tls = &stats_static[i].s;
                return stats_tls;
        }
        struct rds_stats_slot *n = calloc(1, sizeof *n);
        if (!n)
                return &stats_fallback.s; /* try again next time */
        pthread_mutex_lock(&stats_lock);
        n->next = stats_heap;
        stats_heap = n;
        pthread_mutex_unlock(&stats_lock);
        stats_tls = &n->s;
        return stats_tls;
}

static void stats_add_block(struct rds_stats *out, const struct rds_stats *in)
{
#define RDS_STATS_ADD(field)                                                   \
        atomic_store_explicit(                                                 \
            &out->field,                                                       \
            atomic_load_explicit(&out->field, memory_order_relaxed) +          \
                atomic_load_explicit(&in->field, memory_order_relaxed),        \
            memory_order_relaxed)
        RDS_STATS_ADD(commands);
        RDS_STATS_ADD(conns_received);
        RDS_STATS_ADD(rejected_conns);
        RDS_STATS_ADD(keyspace_hits);
        RDS_STATS_ADD(keyspace_misses);
        RDS_STATS_ADD(net_input_bytes);
        RDS_STATS_ADD(net_output_bytes);
        RDS_STATS_ADD(pubsub_messages);
        RDS_STATS_ADD(client_output_limit_disconnections);
        RDS_STATS_ADD(client_query_limit_disconnections);
#undef RDS_STATS_ADD
}

void rds_stats_sum(struct rds_stats *out)
{
        memset(out, 0, sizeof *out);
        unsigned n = atomic_load_explicit(&stats_nstatic, memory_order_relaxed);
        if (n > RDS_STATS_STATIC)
                n = RDS_STATS_STATIC;
        for (unsigned i = 0; i < n; i++)
                stats_add_block(out, &stats_static[i].s);
        pthread_mutex_lock(&stats_lock);
        for (struct rds_stats_slot *s = stats_heap; s; s = s->next)
                stats_add_block(out, &s->s);
        pthread_mutex_unlock(&stats_lock);
        stats_add_block(out, &stats_fallback.s);
}

/* ---- Helpers for handlers -------------------------------------------------------- */

bool rds_arg_ll(struct rds_client *c, const struct rds_arg *a, long long *out)
{
        if (rds_str2ll(a->p, a->len, out))
                return true;
        rds_reply_error(&c->out, RDS_ERR_NOT_INT);
        return false;
}

/* ---- Clients --------------------------------------------------------------------- */

struct rds_conn {
        struct rds_client c; /* first: a struct rds_client * is a conn */

        /* The connection task's own: */
        struct task_buf in;
        struct rds_parser parser;
        long long qbuf_limit; /* client-query-buffer-limit; 0: none */
        size_t read_size;     /* what a read reserves (RDS_READ_MIN..MAX) */
        unsigned cfg_gen;     /* config_gen when they were read */

        /* Written by the connection task after each batch, read by the
         * cron: subscribed clients are exempt from the idle timeout. */
        atomic_bool no_timeout;
        /* When the client was killed (0: not yet); set by
         * rds_client_kill under clients_lock, read by the cron. */
        _Atomic int64_t kill_ms;
        /* In srv->clients: set by conn_link under clients_lock before the
         * connection task starts; read by the last rds_client_release. */
        bool linked;
};

static struct rds_conn *conn_of(struct rds_client *c)
{
        return (struct rds_conn *)c;
}

/*
 * Bumped after every CONFIG command (they are the only runtime changes to
 * srv->cfg): a connection re-reads its limits, under cfg_lock, at its
 * next read when the generation moved.  One shared load per read, on a
 * line that is written almost never.
 */
static atomic_uint config_gen;

/* Copy the limits a connection applies from the configuration. */
static void conn_read_config(struct rds_conn *k)
{
        struct rds_server *srv = k->c.srv;

        k->cfg_gen = atomic_load_explicit(&config_gen, memory_order_acquire);

        pthread_mutex_lock(&srv->cfg_lock);
        k->qbuf_limit = srv->cfg.client_query_buffer_limit;
        k->parser.max_bulk_len = srv->cfg.proto_max_bulk_len;
        pthread_mutex_unlock(&srv->cfg_lock);
}

/* Copy @src into @dst (@size bytes), truncated, always terminated. */
static void copy_cstr(char *dst, size_t size, const char *src)
{
        size_t n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
}

/* @unix_path: the Unix socket the client came through, or NULL (TCP). */
static struct rds_conn *conn_new(struct rds_server *srv, int fd,
                                 const struct task_addr *peer,
                                 const char *unix_path)
{
        struct rds_conn *k = calloc(1, sizeof *k);
        if (!k)
                return NULL;
        struct rds_client *c = &k->c;
        char text[TASK_ADDR_STRLEN];
        struct task_addr local;
        socklen_t sl = sizeof local.ss;

        rds_parser_init(&k->parser);
        rds_out_init(&c->out);
        k->read_size = RDS_READ_MIN;
        c->out.proto = 2;
        c->proto = 2;
        c->srv = srv;
        c->fd = fd;
        c->id = atomic_fetch_add_explicit(&srv->next_client_id, 1,
                                          memory_order_relaxed) +
                1;
        c->now_ms = c->ctime_ms = rds_unix_ms();
        atomic_init(&c->last_ms, c->ctime_ms);
        atomic_init(&c->shown_db, 0);
        atomic_init(&c->last_cmd, NULL);
        atomic_init(&c->kill, false);
        atomic_init(&c->refs, 1);
        atomic_init(&k->no_timeout, false);
        atomic_init(&k->kill_ms, 0);

        if (unix_path) {
                c->is_unix = true;
                /* Redis 7.0 shows a Unix client as "PATH:0", both ends. */
                snprintf(c->addr, sizeof c->addr, "%.*s:0",
                         (int)sizeof c->addr - 3, unix_path);
                memcpy(c->laddr, c->addr, sizeof c->laddr);
        } else if (peer && task_addr_format(peer, text, sizeof text) >= 0) {
                copy_cstr(c->addr, sizeof c->addr, text);
        }
        memset(&local, 0, sizeof local);
        if (!unix_path &&
            getsockname(fd, (struct sockaddr *)&local.ss, &sl) == 0) {
                local.len = sl;
                if (task_addr_format(&local, text, sizeof text) >= 0)
                        copy_cstr(c->laddr, sizeof c->laddr, text);
        }

        pthread_mutex_lock(&srv->cfg_lock);
        c->authenticated = srv->cfg.requirepass[0] == '\0';
        pthread_mutex_unlock(&srv->cfg_lock);
        conn_read_config(k);
        return k;
}

static void conn_unlink(struct rds_server *srv, struct rds_conn *k);

/* The last reference unlinks the client (it takes clients_lock: never
 * called with it held), then closes the socket: nobody can reach the fd
 * once it is off the list. */
void rds_client_release(struct rds_client *c)
{
        if (!c)
                return;
        /* acq_rel: every use of the client by a holder happens before the
         * free by whoever drops the last reference. */
        if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
                return;
        struct rds_conn *k = conn_of(c);
        if (k->linked)
                conn_unlink(c->srv, k);
        if (c->fd >= 0)
                close(c->fd);
        rds_out_free(&c->out);
        task_buf_free(&k->in);
        rds_parser_free(&k->parser);
        free(c->name);
        free(c->lib_name);
        free(c->lib_ver);
        free(k);
}

void rds_client_kill(struct rds_client *c)
{
        struct rds_conn *k = conn_of(c);
        int64_t zero = 0;

        /* Release: pairs with the connection task's acquire load after a
         * read, which then sees the kill (and the EOF it causes). */
        atomic_store_explicit(&c->kill, true, memory_order_release);
        atomic_compare_exchange_strong_explicit(
            &k->kill_ms, &zero, rds_unix_ms(), memory_order_relaxed,
            memory_order_relaxed);
        /* Ends a recv pending in io_uring with 0 (end of stream). */
        shutdown(c->fd, SHUT_RD);
}

/* Link @k into the server's list, unless the server is shutting down or
 * full.  Returns 0, -ESHUTDOWN or -EUSERS (maxclients). */
static int conn_link(struct rds_server *srv, struct rds_conn *k,
                     unsigned maxclients)
{
        struct rds_client *c = &k->c;

        pthread_mutex_lock(&srv->clients_lock);
        if (atomic_load_explicit(&srv->shutting_down, memory_order_acquire)) {
                pthread_mutex_unlock(&srv->clients_lock);
                return -ESHUTDOWN;
        }
        if (atomic_load_explicit(&srv->nclients, memory_order_relaxed) >=
            maxclients) {
                pthread_mutex_unlock(&srv->clients_lock);
                return -EUSERS;
        }
        c->prev = NULL;
        c->next = srv->clients;
        if (srv->clients)
                srv->clients->prev = c;
        srv->clients = c;
        k->linked = true;
        atomic_fetch_add_explicit(&srv->nclients, 1, memory_order_relaxed);
        pthread_mutex_unlock(&srv->clients_lock);
        return 0;
}

static void conn_unlink(struct rds_server *srv, struct rds_conn *k)
{
        struct rds_client *c = &k->c;

        pthread_mutex_lock(&srv->clients_lock);
        if (c->prev)
                c->prev->next = c->next;
        else
                srv->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        k->linked = false;
        /* Release: main's acquire load of 0 in rds_server_wait() sees
         * every client's teardown that came before. */
        atomic_fetch_sub_explicit(&srv->nclients, 1, memory_order_release);
        pthread_mutex_unlock(&srv->clients_lock);
}

/* ---- Dispatch -------------------------------------------------------------------- */

/* Copy at most @max bytes of @a, stopping at a NUL as printf's "%.*s"
 * does on Redis's sds strings.  Returns the bytes copied. */
static size_t copy_as_printf(char *dst, const struct rds_arg *a, size_t max)
{
        size_t n = a->len < max ? a->len : max;
        const void *nul = memchr(a->p, '\0', n);
        if (nul)
                n = (size_t)((const unsigned char *)nul - a->p);
        memcpy(dst, a->p, n);
        return n;
}

/*
 * Redis 7.0's processCommand:
 *     for (i=1; i < c->argc && sdslen(args) < 128; i++)
 *         args = sdscatprintf(args, "'%.*s' ", 128-(int)sdslen(args), arg);
 *     "unknown command '%.128s', with args beginning with: %s"
 */
static void reply_unknown_command(struct rds_client *c, int argc,
                                  const struct rds_arg *argv)
{
        char name[129], args[128 + 4];
        size_t alen = 0;

        name[copy_as_printf(name, &argv[0], 128)] = '\0';
        for (int i = 1; i < argc && alen < 128; i++) {
                args[alen++] = '\'';
                alen += copy_as_printf(args + alen, &argv[i], 128 - (alen - 1));
                args[alen++] = '\'';
                args[alen++] = ' ';
        }
        args[alen] = '\0';
        rds_reply_errorf(&c->out,
                         "ERR unknown command '%s', with args beginning "
                         "with: %s",
                         name, args);
}

/* The subcommand of container @cmd (CLIENT, CONFIG...) named @name, or
 * NULL. */
static const struct rds_command *find_subcommand(const struct rds_command *cmd,
                                                 const struct rds_arg *name)
{
        for (const struct rds_command *s = cmd->subcommands; s->name; s++)
                if (rds_arg_is(name->p, name->len, s->name))
                        return s;
        return NULL;
}

/*
 * Execute one request, in Redis 7.0's order of checks (processCommand):
 * the command must exist (for a container, its subcommand too: "unknown
 * subcommand 'x'. Try CLIENT HELP."), then the arity (a subcommand's,
 * named "client|kill"), then authentication, then the RESP2 subscribed
 * mode rule; the flags checked are the subcommand's when there is one.
 * The container's handler then runs (it dispatches the subcommand).  A
 * rejected command is not counted as processed.  Returns the command
 * run, or NULL.  @clock: read the clock for this command (otherwise
 * c->now_ms, read a moment ago, is still good).
 */
/*
 * Whether @c must AUTH first: it has not, and a password is set *now*
 * (Redis's authRequired).  A client that connected while requirepass was
 * set gets through once CONFIG SET requirepass "" clears it, and is held
 * again if a password is set later.  Only unauthenticated clients take
 * cfg_lock here.
 */
static bool auth_required(struct rds_client *c)
{
        bool set;

        if (c->authenticated)
                return false;
        pthread_mutex_lock(&c->srv->cfg_lock);
        set = c->srv->cfg.requirepass[0] != '\0';
        pthread_mutex_unlock(&c->srv->cfg_lock);
        return set;
}

static const struct rds_command *
dispatch(struct rds_client *c, int argc, const struct rds_arg *argv, bool clock)
{
        const struct rds_command *cmd =
            rds_command_lookup(argv[0].p, argv[0].len);
        const struct rds_command *eff = cmd; /* the subcommand, if any */

        if (!cmd) {
                reply_unknown_command(c, argc, argv);
                return NULL;
        }
        if (cmd->subcommands && argc >= 2) {
                eff = find_subcommand(cmd, &argv[1]);
                if (!eff) {
                        char sub[129], name[64];
                        sub[copy_as_printf(sub, &argv[1], 128)] = '\0';
                        size_t n =
                            copy_as_printf(name, &argv[0], sizeof name - 1);
                        for (size_t i = 0; i < n; i++)
                                if (name[i] >= 'a' && name[i] <= 'z')
                                        name[i] = (char)(name[i] - 32);
                        name[n] = '\0';
                        rds_reply_errorf(&c->out,
                                         "ERR unknown subcommand '%s'. Try "
                                         "%s HELP.",
                                         sub, name);
                        return NULL;
                }
        }
        if ((eff->arity > 0 && eff->arity != argc) || argc < -eff->arity) {
                if (eff == cmd)
                        rds_reply_arity_error(&c->out, &argv[0]);
                else
                        rds_reply_errorf(&c->out,
                                         "ERR wrong number of arguments for "
                                         "'%s|%s' command",
                                         cmd->name, eff->name);
                return NULL;
        }
        if (!(eff->flags & RDS_CMD_NOAUTH) && auth_required(c)) {
                rds_reply_error(&c->out, RDS_ERR_NOAUTH);
                return NULL;
        }
        if ((c->flags & RDS_CLIENT_PUBSUB) && c->proto == 2 &&
            !(eff->flags & RDS_CMD_PUBSUB)) {
                rds_reply_errorf(&c->out,
                                 "ERR Can't execute '%s%s%s': only "
                                 "(P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                                 "QUIT / RESET are allowed in this context",
                                 cmd->name, eff == cmd ? "" : "|",
                                 eff == cmd ? "" : eff->name);
                return NULL;
        }
        if (clock)
                c->now_ms = rds_unix_ms();
        atomic_store_explicit(&c->last_cmd, cmd, memory_order_relaxed);
        cmd->fn(c, argc, argv);
        if (cmd->name[0] == 'c' && !strcmp(cmd->name, "config")) {
                /* CONFIG SET may have changed the limits connections
                 * apply.  Release: pairs with the acquire load in
                 * conn_task; the settings themselves are read under
                 * cfg_lock. */
                atomic_fetch_add_explicit(&config_gen, 1, memory_order_release);
        }
        return eff;
}

/* ---- The connection task ------------------------------------------------------------ */

enum conn_step {
        STEP_READ,  /* the input holds no complete request: read more */
        STEP_FLUSH, /* replies piled up: write them, then go on parsing */
        STEP_CLOSE, /* write what is pending, then close */
};

/*
 * Parse and execute the complete requests in the input buffer until it
 * holds none (STEP_READ), the output is big (STEP_FLUSH) or the client
 * must close (STEP_CLOSE: QUIT, a protocol error, an output error).
 */
static enum conn_step conn_process(struct rds_conn *k)
{
        struct rds_client *c = &k->c;
        struct rds_parser *p = &k->parser;
        enum conn_step step = STEP_READ;
        uint64_t ncmds = 0;
        /* The clock: c->now_ms was read when the batch arrived.  Each
         * command gets a fresh reading unless the commands since the last
         * one were all FAST ones (microseconds each), and at most
         * RDS_CLOCK_EVERY of them: a -P 16 batch of GETs reads the clock
         * once instead of 16 times (vDSO clock_gettime was ~7% of the
         * profile), and no command sees a clock older than a few fast
         * commands' worth. */
        unsigned since_clock = 0;
        bool clock_stale = false;

        for (;;) {
                size_t len = task_buf_len(&k->in);
                if (len == 0)
                        break;
                p->unauthenticated = auth_required(c);
                int rc = rds_parse(p, task_buf_data(&k->in), len);
                if (rc == RDS_PARSE_MORE)
                        break;
                if (rc == RDS_PARSE_ERROR) {
                        rds_log(RDS_LOG_VERBOSE,
                                "Protocol error (%s) from client: id=%" PRIu64
                                " addr=%s",
                                p->error, c->id, c->addr);
                        rds_reply_error(&c->out, p->error);
                        step = STEP_CLOSE;
                        break;
                }
                if (rc < 0) {
                        rds_log(RDS_LOG_WARNING,
                                "Closing client id=%" PRIu64
                                " addr=%s: out of memory parsing a request",
                                c->id, c->addr);
                        step = STEP_CLOSE;
                        break;
                }
                if (p->argc > 0) {
                        bool clock =
                            clock_stale || ++since_clock >= RDS_CLOCK_EVERY;
                        if (clock)
                                since_clock = 0;
                        const struct rds_command *cmd =
                            dispatch(c, (int)p->argc, p->argv, clock);
                        clock_stale = cmd && !(cmd->flags & RDS_CMD_FAST);
                        if (cmd)
                                ncmds++;
                }
                task_buf_advance(&k->in, p->consumed);
                if ((c->flags & RDS_CLIENT_CLOSE_AFTER_REPLY) || c->out.err) {
                        step = STEP_CLOSE;
                        break;
                }
                if (task_buf_len(&c->out.buf) >= RDS_OUT_FLUSH) {
                        step = STEP_FLUSH;
                        break;
                }
        }
        if (ncmds)
                rds_stat_add(&rds_stats_local()->commands, ncmds);
        return step;
}

/*
 * How much the next read reserves: RDS_IOBUF_LEN, or the rest of a big
 * request the parser has seen the size of (p->want), within the query
 * buffer limit.  0: the limit is reached, the client must go.
 *
 * A big bulk is reserved at once up to RDS_PREALLOC_MAX beyond what has
 * arrived, and from there by doubling what has arrived (realloc: mremap
 * for blocks that big, so no copy): one step for the usual big values,
 * a few dozen reads' worth of steps for a 512 MB one, and the memory a
 * client pins is never much more than the bytes it has really sent.
 * (Reserving a whole announced 512 MB at once, as Redis does, would let
 * each client that sends `$536870912` and nothing more commit 512 MB.)
 */
static size_t conn_read_size(struct rds_conn *k)
{
        size_t len = task_buf_len(&k->in);
        size_t want = k->read_size;

        if (k->parser.want > len && k->parser.want - len > want) {
                size_t rest = k->parser.want - len;
                size_t step = len > RDS_PREALLOC_MAX ? len : RDS_PREALLOC_MAX;
                want = rest < step ? rest : step;
        }
        if (k->qbuf_limit > 0) {
                size_t limit = (size_t)k->qbuf_limit;
                if (len >= limit || k->parser.want > limit)
                        return 0;
                if (want > limit - len)
                        want = limit - len;
        }
        return want;
}

/* Give back the memory of a big request or reply once it is done. */
static void conn_shrink(struct rds_conn *k)
{
        struct rds_client *c = &k->c;
        size_t len = task_buf_len(&k->in);

        if (task_buf_capacity(&k->in) > RDS_SHRINK_ABOVE &&
            len <= RDS_IOBUF_LEN && k->parser.want <= RDS_IOBUF_LEN)
                task_buf_shrink(&k->in, RDS_IOBUF_LEN);
        if (task_buf_capacity(&c->out.buf) > RDS_SHRINK_ABOVE &&
            task_buf_len(&c->out.buf) == 0)
                task_buf_shrink(&c->out.buf, RDS_IOBUF_LEN);
        if (len == 0 && k->parser.argcap > RDS_PARSER_ARGS_KEEP) {
                long long max_bulk = k->parser.max_bulk_len;
                rds_parser_free(&k->parser);
                rds_parser_init(&k->parser);
                k->parser.max_bulk_len = max_bulk;
        }
}

static void conn_log_qbuf_limit(struct rds_conn *k)
{
        struct rds_client *c = &k->c;
        char head[65];
        size_t n = task_buf_len(&k->in);

        if (n > 64)
                n = 64;
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = task_buf_data(&k->in)[i];
                head[i] = (ch >= 32 && ch < 127) ? (char)ch : '?';
        }
        head[n] = '\0';
        rds_log(RDS_LOG_WARNING,
                "Closing client that reached max query buffer length: "
                "id=%" PRIu64 " addr=%s qbuf=%zu (qbuf initial bytes: "
                "\"%s\")",
                c->id, c->addr, task_buf_len(&k->in), head);
        rds_stat_add(&rds_stats_local()->client_query_limit_disconnections, 1);
}

struct conn_frame {
        TASK_FRAME;
        struct rds_conn *k;
        struct task_io io;
        ssize_t n;
        int rc;
        size_t spare;
        size_t out_len;
        enum conn_step step;
        bool active_close; /* we close (not the peer): linger */
        unsigned linger;
        struct task_sleep sleep;
};

bool rds_sock_unacked(int fd)
{
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        int unacked = 0;

        if (ioctl(fd, SIOCOUTQ, &unacked) < 0 || unacked <= 0)
                return false;
        /* A reset (the peer closed, or closed with our bytes unread)
         * ends in TCP_CLOSE with the count frozen.  A Unix socket has no
         * TCP_INFO: its count drops to 0 when the peer goes. */
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
            ti.tcpi_state == TCP_CLOSE)
                return false;
        return true;
}

static bool conn_killed(const struct rds_client *c)
{
        /* Acquire: pairs with rds_client_kill's release store. */
        return atomic_load_explicit(&c->kill, memory_order_acquire);
}

static int conn_task(struct task_cx *cx, void *arg)
{
        struct conn_frame *f = arg;
        struct rds_conn *k = f->k;
        struct rds_client *c = &k->c;

        TASK_BEGIN(f);
        for (;;) {
                f->spare = conn_read_size(k);
                if (f->spare == 0) {
                        conn_log_qbuf_limit(k);
                        f->active_close = true;
                        break;
                }
                TASK_BUF_READ(f, c->fd, &k->in, f->spare, &f->io, &f->n);
                if (f->n <= 0 || conn_killed(c)) {
                        f->active_close = conn_killed(c);
                        if (f->n == -ENOBUFS || f->n == -ENOMEM)
                                rds_log(RDS_LOG_WARNING,
                                        "Closing client id=%" PRIu64
                                        " addr=%s: no memory for its input "
                                        "(%zu bytes)",
                                        c->id, c->addr, f->spare);
                        break;
                }
                rds_stat_add(&rds_stats_local()->net_input_bytes,
                             (uint64_t)f->n);
                if (task_buf_spare_len(&k->in) == 0 &&
                    k->read_size < RDS_READ_MAX)
                        k->read_size *= 2; /* there may be more waiting */
                c->now_ms = rds_unix_ms();
                atomic_store_explicit(&c->last_ms, c->now_ms,
                                      memory_order_relaxed);
                if (atomic_load_explicit(&config_gen, memory_order_acquire) !=
                    k->cfg_gen)
                        conn_read_config(k);

                do {
                        f->step = conn_process(k);
                        if (c->ps) {
                                /* Subscribed: the pub/sub writer sends the
                                 * replies, in order with the messages.
                                 * The last ones (QUIT's +OK) are left to
                                 * rds_pubsub_client_close(), which queues
                                 * them once unsubscribed: no message may
                                 * follow them. */
                                f->rc = f->step == STEP_CLOSE
                                            ? c->out.err
                                            : rds_pubsub_client_flush(c);
                        } else {
                                f->out_len = task_buf_len(&c->out.buf);
                                TASK_BUF_WRITE_ALL(f, c->fd, &c->out.buf,
                                                   &f->io, &f->rc);
                                if (f->rc == 0)
                                        rds_stat_add(&rds_stats_local()
                                                          ->net_output_bytes,
                                                     f->out_len);
                        }
                        if (f->rc < 0)
                                f->step = STEP_CLOSE;
                        /* The write may have waited: a fresh clock for
                         * the rest of the batch. */
                        if (f->step == STEP_FLUSH)
                                c->now_ms = rds_unix_ms();
                } while (f->step == STEP_FLUSH && !conn_killed(c));

                if (f->step == STEP_CLOSE || conn_killed(c)) {
                        f->active_close = f->rc == 0;
                        break;
                }
                atomic_store_explicit(&k->no_timeout,
                                      (c->flags & RDS_CLIENT_PUBSUB) != 0,
                                      memory_order_relaxed);
                conn_shrink(k);
        }

        /*
         * Lingering close.  Closing a socket that has unread input makes
         * the kernel send a reset, which throws away the replies still in
         * our send queue: the last replies before a QUIT, a protocol
         * error or a shutdown would be lost whenever the peer had more
         * requests on the way.  So when we are the side that closes, send
         * FIN after the replies and wait (up to RDS_LINGER_MS) until the
         * peer has acknowledged them all; then a reset costs nothing.  A
         * subscriber's socket is shared with its pub/sub writer, which
         * sends the last bytes and lingers itself (pubsub.c).
         */
        if (f->active_close && !c->ps) {
                shutdown(c->fd, SHUT_WR);
                for (f->linger = 0;
                     f->linger < RDS_LINGER_MS / 10 && rds_sock_unacked(c->fd);
                     f->linger++)
                        TASK_SLEEP(f, &f->sleep, TASK_MS(10));
        }
        TASK_CLEANUP(f);
        if (c->ps)
                rds_pubsub_client_close(c);
        rds_client_release(c); /* unlinks it, unless a writer still sends */
        TASK_END(f);
}

/* ---- Accepting ------------------------------------------------------------------------ */

static void accept_client(struct task_cx *cx, struct rds_server *srv, int fd,
                          const struct task_addr *peer, const char *unix_path)
{
        int one = 1;
        unsigned maxclients;

        /* Replies are written once per batch: Nagle would hold each
         * batch back waiting for the previous one's ACK. */
        if (!unix_path)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&srv->cfg_lock);
        maxclients = srv->cfg.maxclients;
        pthread_mutex_unlock(&srv->cfg_lock);

        struct rds_conn *k = conn_new(srv, fd, peer, unix_path);
        if (!k) {
                rds_log(RDS_LOG_WARNING,
                        "Error registering fd event for the new client: "
                        "out of memory (fd=%d)",
                        fd);
                close(fd);
                return;
        }
        int rc = conn_link(srv, k, maxclients);
        if (rc) {
                if (rc == -EUSERS) {
                        /* One try, without waiting: Redis's way.  A peer
                         * whose buffer is full just sees the close. */
                        ssize_t w = send(fd, max_clients_err,
                                         sizeof max_clients_err - 1,
                                         MSG_DONTWAIT | MSG_NOSIGNAL);
                        (void)w;
                        rds_stat_add(&rds_stats_local()->rejected_conns, 1);
                }
                rds_client_release(&k->c);
                return;
        }
        rds_stat_add(&rds_stats_local()->conns_received, 1);
        rds_log(RDS_LOG_VERBOSE, "Accepted %s", k->c.addr);
        struct conn_frame fr = {.k = k};
        rc = task_spawn_at(cx->rt, conn_task, &fr, sizeof fr, NULL,
                           TASK_SITE_HERE("conn_task"));
        if (rc) {
                rds_log(RDS_LOG_WARNING,
                        "Cannot start a task for client id=%" PRIu64 ": %s",
                        k->c.id, task_strerror(rc));
                rds_client_release(&k->c); /* unlinks it */
        }
}

struct listener {
        struct task_listener l;
        char addr[TASK_ADDR_STRLEN]; /* "ip:port", or the Unix socket's path */
        bool is_unix;                /* its file is removed when it stops */
};

static struct listener listeners[RDS_MAX_LISTENERS];
static int nlisteners;

struct acceptor_frame {
        TASK_FRAME;
        struct rds_server *srv;
        struct listener *ln;
        struct task_io io;
        struct task_stream s;
        struct task_addr peer;
        struct task_notified nd;
        struct task_select sel;
        struct task_sleep sleep;
        int rc;
        bool fd_warned;
};

static int acceptor_task(struct task_cx *cx, void *arg)
{
        struct acceptor_frame *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                task_notified_init(&f->nd, &f->srv->shutdown_notify);
                if (atomic_load_explicit(&f->srv->shutting_down,
                                         memory_order_acquire))
                        break;
                TASK_SELECT(
                    f, &f->sel,
                    task_listener_accept_poll(cx, &f->ln->l, &f->io, &f->s,
                                              &f->peer, &f->rc),
                    task_notify_poll(cx, &f->srv->shutdown_notify, &f->nd));
                if (f->sel.which != 0)
                        break;
                if (f->rc == -EMFILE || f->rc == -ENFILE) {
                        if (!f->fd_warned)
                                rds_log(RDS_LOG_WARNING,
                                        "Accepting client connection: %s "
                                        "(backing off)",
                                        task_strerror(f->rc));
                        f->fd_warned = true;
                        TASK_SLEEP(f, &f->sleep, TASK_MS(100));
                        continue;
                }
                if (f->rc == -EINVAL || f->rc == -EBADF || f->rc == -ESHUTDOWN)
                        break; /* the listener is gone */
                if (f->rc < 0) {
                        /* ECONNABORTED and the like: that peer is gone. */
                        rds_log(RDS_LOG_VERBOSE,
                                "Accepting client connection: %s",
                                task_strerror(f->rc));
                        TASK_YIELD(f);
                        continue;
                }
                f->fd_warned = false;
                int fd = task_stream_into_fd(&f->s);
                if (fd >= 0)
                        accept_client(cx, f->srv, fd, &f->peer,
                                      f->ln->is_unix ? f->ln->addr : NULL);
        }
        TASK_CLEANUP(f);
        task_listener_close(&f->ln->l);
        if (f->ln->is_unix) {
                rds_log(RDS_LOG_NOTICE, "Removing the unix socket file.");
                unlink(f->ln->addr);
        }
        TASK_END(f);
}

/* ---- The clients cron --------------------------------------------------------------- */

/* Kill the clients idle for longer than the timeout; escalate kills that
 * did not take (a client stuck in a send). */
static void cron_clients(struct rds_server *srv, unsigned timeout_s,
                         int64_t now)
{
        pthread_mutex_lock(&srv->clients_lock);
        for (struct rds_client *c = srv->clients; c; c = c->next) {
                struct rds_conn *k = conn_of(c);
                int64_t killed =
                    atomic_load_explicit(&k->kill_ms, memory_order_relaxed);
                if (killed) {
                        if (now - killed > RDS_KILL_GRACE_MS)
                                shutdown(c->fd, SHUT_RDWR);
                        continue;
                }
                if (!timeout_s ||
                    atomic_load_explicit(&k->no_timeout, memory_order_relaxed))
                        continue;
                int64_t last =
                    atomic_load_explicit(&c->last_ms, memory_order_relaxed);
                if (now - last > (int64_t)timeout_s * 1000) {
                        rds_log(RDS_LOG_VERBOSE,
                                "Closing idle client id=%" PRIu64 " addr=%s",
                                c->id, c->addr);
                        rds_client_kill(c);
                }
        }
        pthread_mutex_unlock(&srv->clients_lock);
}

struct cron_frame {
        TASK_FRAME;
        struct rds_server *srv;
        struct task_interval iv;
        struct task_sleep sleep;
        unsigned hz;
        uint64_t budget_us, spent_us;
};

static unsigned clamp_hz(unsigned hz)
{
        return hz < 1 ? 1 : hz > 500 ? 500 : hz;
}

static int cron_task(struct task_cx *cx, void *arg)
{
        struct cron_frame *f = arg;
        struct rds_server *srv = f->srv;

        TASK_BEGIN(f);
        f->hz = 0;
        for (;;) {
                /* Locals do not survive the awaits: read the settings
                 * between them. */
                unsigned hz, timeout_s;
                pthread_mutex_lock(&srv->cfg_lock);
                hz = clamp_hz(srv->cfg.hz);
                timeout_s = srv->cfg.timeout_s;
                pthread_mutex_unlock(&srv->cfg_lock);
                if (hz != f->hz) {
                        /* The first tick of a new interval is at once. */
                        f->hz = hz;
                        task_interval_init(&f->iv, TASK_SEC(1) / hz,
                                           TASK_MISSED_TICK_SKIP);
                }
                cron_clients(srv, timeout_s, rds_unix_ms());

                /* Active expiry: Redis's slow cycle, 25% of a period, in
                 * slices so that connections on this worker wait at most
                 * a slice.  A slice that returns early found nothing more
                 * worth doing. */
                f->budget_us = 250000 / f->hz;
                f->spent_us = 0;
                while (f->spent_us < f->budget_us) {
                        int64_t t0 = rds_unix_us();
                        uint64_t slice = f->budget_us - f->spent_us;
                        if (slice > RDS_EXPIRE_SLICE_US)
                                slice = RDS_EXPIRE_SLICE_US;
                        rds_store_expire_cycle(srv->store, rds_unix_ms(),
                                               slice);
                        int64_t dt = rds_unix_us() - t0;
                        if (dt < 0)
                                dt = 0;
                        f->spent_us += (uint64_t)dt;
                        if ((uint64_t)dt < slice * 3 / 4)
                                break;
                        TASK_YIELD(f);
                }
                TASK_INTERVAL_TICK(f, &f->iv, NULL);
        }
        TASK_END(f);
}

/* ---- Signals ------------------------------------------------------------------------- */

static struct task_signal sig_int, sig_term;
static bool sig_int_open, sig_term_open;

struct signal_frame {
        TASK_FRAME;
        struct rds_server *srv;
        struct task_signal_recv r_int, r_term;
        struct task_select sel;
        int rc_int, rc_term;
};

static int signal_task(struct task_cx *cx, void *arg)
{
        struct signal_frame *f = arg;

        TASK_BEGIN(f);
        for (;;) {
                TASK_SELECT(
                    f, &f->sel,
                    task_signal_recv_poll(cx, &sig_int, &f->r_int, &f->rc_int),
                    task_signal_recv_poll(cx, &sig_term, &f->r_term,
                                          &f->rc_term));
                int rc = f->sel.which == 0 ? f->rc_int : f->rc_term;
                if (rc < 0)
                        break; /* closed: the server is going away */
                bool sigint = f->sel.which == 0;
                if (atomic_load_explicit(&f->srv->shutting_down,
                                         memory_order_acquire)) {
                        if (sigint) {
                                /* Redis: a second Ctrl-C means now. */
                                rds_log(RDS_LOG_WARNING,
                                        "You insist... exiting now.");
                                _exit(1);
                        }
                        continue;
                }
                rds_log(RDS_LOG_WARNING, "Received %s scheduling shutdown...",
                        sigint ? "SIGINT" : "SIGTERM");
                /* (SHUTDOWN logs this line itself, as Redis does.) */
                rds_log(RDS_LOG_WARNING, "User requested shutdown...");
                rds_server_shutdown(f->srv);
        }
        TASK_END(f);
}

/* ---- Shutdown ------------------------------------------------------------------------- */

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond = PTHREAD_COND_INITIALIZER;

void rds_server_shutdown(struct rds_server *srv)
{
        if (atomic_exchange_explicit(&srv->shutting_down, true,
                                     memory_order_acq_rel))
                return;
        task_notify_waiters(&srv->shutdown_notify);
        /* Under clients_lock: a client linked after this loop saw
         * shutting_down in conn_link and was refused. */
        pthread_mutex_lock(&srv->clients_lock);
        for (struct rds_client *c = srv->clients; c; c = c->next)
                rds_client_kill(c);
        pthread_mutex_unlock(&srv->clients_lock);
        pthread_mutex_lock(&wait_lock);
        pthread_cond_broadcast(&wait_cond);
        pthread_mutex_unlock(&wait_lock);
}

/* ---- Starting and running ------------------------------------------------------------- */

static bool addr_is_loopback(const char *a)
{
        if (a[0] == '-')
                a++;
        return !strncmp(a, "127.", 4) || !strcmp(a, "::1") ||
               !strcmp(a, "localhost");
}

int rds_server_check_protected(const struct rds_config *cfg, char *bad,
                               size_t badlen)
{
        char copy[sizeof cfg->bind];

        if (!cfg->protected_mode || cfg->requirepass[0])
                return 0;
        snprintf(copy, sizeof copy, "%s", cfg->bind);
        for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t;
             t = strtok_r(NULL, " \t", &save)) {
                if (!addr_is_loopback(t)) {
                        snprintf(bad, badlen, "%s", t[0] == '-' ? t + 1 : t);
                        return -EACCES;
                }
        }
        return 0;
}

/* Bind one address of the bind list (Redis's syntax: "*" is every IPv4
 * address, "::*" every IPv6 one, a leading "-" makes it optional). */
static int bind_one(const char *tok, int port, char *err, size_t errlen)
{
        bool optional = tok[0] == '-';
        const char *ip = optional ? tok + 1 : tok;
        struct task_addr a;
        struct task_bind_opts o = {0};
        int rc;

        if (!strcmp(ip, "*"))
                ip = "0.0.0.0";
        else if (!strcmp(ip, "::*"))
                ip = "::";
        else if (!strcmp(ip, "localhost"))
                ip = "127.0.0.1";
        if (nlisteners == RDS_MAX_LISTENERS) {
                snprintf(err, errlen, "Too many bind addresses (at most %d)",
                         RDS_MAX_LISTENERS);
                return -EINVAL;
        }
        rc = task_addr_from_ip(&a, ip, (uint16_t)port);
        if (rc) {
                snprintf(err, errlen, "Invalid bind address '%s'", tok);
                return rc;
        }
        /* As Redis: IPv6 sockets take IPv6 only, so "* ::*" binds both. */
        o.v6only = task_addr_family(&a) == AF_INET6;
        struct listener *ln = &listeners[nlisteners];
        rc = task_tcp_bind(&ln->l, &a, &o);
        if (rc) {
                if (optional && (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT ||
                                 rc == -EPROTONOSUPPORT)) {
                        rds_log(RDS_LOG_NOTICE,
                                "Skipping the optional bind address %s: %s", ip,
                                task_strerror(rc));
                        return 0;
                }
                snprintf(err, errlen,
                         "Could not create server TCP listening socket "
                         "%s:%d: bind: %s",
                         ip, port, task_strerror(rc));
                return rc;
        }
        struct task_addr bound;
        if (task_listener_local_addr(&ln->l, &bound) == 0) {
                task_addr_format(&bound, ln->addr, sizeof ln->addr);
                if (rds_srv && port == 0)
                        rds_srv->port = task_addr_port(&bound);
        } else {
                snprintf(ln->addr, sizeof ln->addr, "%s:%d", ip, port);
        }
        nlisteners++;
        return 0;
}

/* Listen on the Unix socket @path too (Redis's unixsocket): a file
 * already there is removed first, as Redis does, and @perm (not 0) set on
 * the new one. */
static int bind_unix(const char *path, unsigned perm, char *err, size_t errlen)
{
        struct task_addr a;
        int rc;

        if (nlisteners == RDS_MAX_LISTENERS) {
                snprintf(err, errlen, "Too many listeners (at most %d)",
                         RDS_MAX_LISTENERS);
                return -EINVAL;
        }
        rc = task_addr_unix(&a, path);
        if (rc) {
                snprintf(err, errlen, "Failed opening Unix socket: %s",
                         task_strerror(rc));
                return rc;
        }
        unlink(path); /* a stale socket of an earlier run; nothing else */
        struct listener *ln = &listeners[nlisteners];
        rc = task_unix_bind(&ln->l, &a, NULL);
        if (rc) {
                snprintf(err, errlen, "Failed opening Unix socket: bind: %s",
                         task_strerror(rc));
                return rc;
        }
        if (perm && chmod(path, perm) != 0) {
                rc = -errno;
                task_listener_close(&ln->l);
                unlink(path);
                snprintf(err, errlen, "Failed opening Unix socket: chmod: %s",
                         task_strerror(rc));
                return rc;
        }
        snprintf(ln->addr, sizeof ln->addr, "%s", path);
        ln->is_unix = true;
        nlisteners++;
        return 0;
}

int rds_server_listen(struct rds_server *srv, char *err, size_t errlen,
                      bool *unix_failed)
{
        char copy[sizeof srv->cfg.bind];
        int rc = 0;

        *unix_failed = false;

        srv->port = srv->cfg.port;
        snprintf(copy, sizeof copy, "%s", srv->cfg.bind);
        for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t;
             t = strtok_r(NULL, " \t", &save)) {
                /* With port 0 the first address picks the port and the
                 * others take the same one. */
                rc = bind_one(t, srv->port, err, errlen);
                if (rc)
                        break;
        }
        if (!rc && srv->cfg.unixsocket[0]) {
                rc = bind_unix(srv->cfg.unixsocket, srv->cfg.unixsocketperm,
                               err, errlen);
                *unix_failed = rc != 0;
        }
        if (!rc && nlisteners == 0) {
                snprintf(err, errlen, "No address to listen on (bind '%s')",
                         srv->cfg.bind);
                rc = -EINVAL;
        }
        if (rc) {
                for (int i = 0; i < nlisteners; i++) {
                        task_listener_close(&listeners[i].l);
                        if (listeners[i].is_unix)
                                unlink(listeners[i].addr);
                }
                nlisteners = 0;
        }
        return rc;
}

int rds_server_start(struct rds_server *srv)
{
        int rc;

        if ((rc = task_signal_open(&sig_int, SIGINT)) == 0)
                sig_int_open = true;
        if (rc == 0 && (rc = task_signal_open(&sig_term, SIGTERM)) == 0)
                sig_term_open = true;
        if (rc) {
                rds_log(RDS_LOG_WARNING, "Cannot listen for signals: %s",
                        task_strerror(rc));
                return rc;
        }
        struct signal_frame sf = {.srv = srv};
        rc = task_spawn_at(srv->rt, signal_task, &sf, sizeof sf, NULL,
                           TASK_SITE_HERE("signal_task"));
        if (rc)
                return rc;
        struct cron_frame cf = {.srv = srv};
        rc = task_spawn_at(srv->rt, cron_task, &cf, sizeof cf, NULL,
                           TASK_SITE_HERE("cron_task"));
        if (rc)
                return rc;
        for (int i = 0; i < nlisteners; i++) {
                struct acceptor_frame af = {.srv = srv, .ln = &listeners[i]};
                rc = task_spawn_at(srv->rt, acceptor_task, &af, sizeof af, NULL,
                                   TASK_SITE_HERE("acceptor_task"));
                if (rc)
                        return rc;
        }
        for (int i = 0; i < nlisteners; i++)
                if (!listeners[i].is_unix)
                        rds_log(RDS_LOG_NOTICE,
                                "Ready to accept connections tcp on %s",
                                listeners[i].addr);
        for (int i = 0; i < nlisteners; i++)
                if (listeners[i].is_unix)
                        rds_log(RDS_LOG_NOTICE,
                                "The server is now ready to accept "
                                "connections at %s",
                                listeners[i].addr);
        return 0;
}

void rds_server_wait(struct rds_server *srv)
{
        pthread_mutex_lock(&wait_lock);
        while (!atomic_load_explicit(&srv->shutting_down, memory_order_acquire))
                pthread_cond_wait(&wait_cond, &wait_lock);
        pthread_mutex_unlock(&wait_lock);

        /* The clients were killed: they finish their batch and go. */
        uint64_t t0 = task_now_ns();
        while (atomic_load_explicit(&srv->nclients, memory_order_acquire)) {
                if (task_now_ns() - t0 > TASK_MS(RDS_SHUTDOWN_WAIT_MS)) {
                        rds_log(RDS_LOG_WARNING,
                                "%" PRIu64 " clients still connected after "
                                "%d s: closing them",
                                atomic_load(&srv->nclients),
                                RDS_SHUTDOWN_WAIT_MS / 1000);
                        break;
                }
                struct timespec ts = {0, 2 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

void rds_server_stop_signals(void)
{
        if (sig_int_open)
                task_signal_close(&sig_int);
        if (sig_term_open)
                task_signal_close(&sig_term);
        sig_int_open = sig_term_open = false;
}
