/*
 * redis/server/cmd_conn.c - connection commands: PING ECHO QUIT SELECT HELLO
 * AUTH RESET CLIENT.
 *
 * Replies and errors are Redis 7.0's, word for word (helloCommand,
 * authCommand, clientCommand in Redis's networking.c and server.c).  There
 * are no ACL users: "default" is the only user, with the password
 * `requirepass` (none when it is empty, and then any password is accepted
 * for it, as Redis's nopass user does).
 *
 * Threads.  A handler runs on its connection's task and may change its
 * own client freely.  What other threads read is published: the database
 * (shown_db) and protocol (shown_proto) with relaxed stores, the name and
 * the library info under srv->clients_lock (this task is their only
 * writer, so it reads them without the lock).  CLIENT LIST and CLIENT KILL
 * walk srv->clients under clients_lock, which keeps every client on it
 * alive, and read only what server.h marks as readable from other threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "util.h"

static bool arg_is(const struct rds_arg *a, const char *lit)
{
        return rds_arg_is(a->p, a->len, lit);
}

/* ---- PING ECHO QUIT SELECT -------------------------------------------------------- */

static void ping_cmd(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        if (argc > 2) {
                rds_reply_arity_error(&c->out, &argv[0]);
                return;
        }
        /* RESP2 subscribed clients get a message-shaped reply. */
        if ((c->flags & RDS_CLIENT_PUBSUB) && c->proto == 2) {
                rds_reply_array_len(&c->out, 2);
                rds_reply_bulk(&c->out, "pong", 4);
                if (argc == 1)
                        rds_reply_bulk(&c->out, "", 0);
                else
                        rds_reply_bulk(&c->out, argv[1].p, argv[1].len);
                return;
        }
        if (argc == 1)
                rds_reply_raw(&c->out, "+PONG\r\n", 7);
        else
                rds_reply_bulk(&c->out, argv[1].p, argv[1].len);
}

static void echo_cmd(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        (void)argc;
        rds_reply_bulk(&c->out, argv[1].p, argv[1].len);
}

static void quit_cmd(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        (void)argc;
        (void)argv;
        rds_reply_ok(&c->out);
        c->flags |= RDS_CLIENT_CLOSE_AFTER_REPLY;
}

static void set_db(struct rds_client *c, int db)
{
        c->db = db;
        atomic_store_explicit(&c->shown_db, db, memory_order_relaxed);
}

static void select_cmd(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        long long id;

        (void)argc;
        /* Redis's getIntFromObjectOrReply(): an integer, then an int. */
        if (!rds_str2ll(argv[1].p, argv[1].len, &id)) {
                rds_reply_error(&c->out, RDS_ERR_NOT_INT);
                return;
        }
        if (id < INT_MIN || id > INT_MAX) {
                rds_reply_error(&c->out,
                                "ERR value is out of range, value must "
                                "between -2147483648 and 2147483647");
                return;
        }
        if (id < 0 || id >= (long long)rds_store_ndbs(c->srv->store)) {
                rds_reply_error(&c->out, RDS_ERR_DB_INDEX);
                return;
        }
        set_db(c, (int)id);
        rds_reply_ok(&c->out);
}

/* ---- AUTH HELLO RESET --------------------------------------------------------------- */

enum auth_result {
        AUTH_OK,
        AUTH_WRONGPASS,
};

static bool requirepass_set(struct rds_server *srv)
{
        bool set;

        pthread_mutex_lock(&srv->cfg_lock);
        set = srv->cfg.requirepass[0] != '\0';
        pthread_mutex_unlock(&srv->cfg_lock);
        return set;
}

/*
 * Check @user / @pass against the default user.  The comparison takes the
 * same time whatever the bytes are (Redis compares in time independent
 * of the contents too), so a password cannot be guessed byte by byte.
 */
static enum auth_result check_auth(struct rds_server *srv,
                                   const struct rds_arg *user,
                                   const struct rds_arg *pass)
{
        char req[sizeof(srv->cfg.requirepass)];
        size_t rlen;
        unsigned diff;

        if (user->len != 7 || memcmp(user->p, "default", 7) != 0)
                return AUTH_WRONGPASS;
        pthread_mutex_lock(&srv->cfg_lock);
        memcpy(req, srv->cfg.requirepass, sizeof(req));
        pthread_mutex_unlock(&srv->cfg_lock);
        rlen = strlen(req);
        if (rlen == 0)
                return AUTH_OK; /* nopass: any password */
        diff = pass->len != rlen;
        for (size_t i = 0; i < pass->len; i++)
                diff |= (unsigned)(pass->p[i] ^
                                   (unsigned char)req[i < rlen ? i : 0]);
        return diff ? AUTH_WRONGPASS : AUTH_OK;
}

static const char wrongpass[] =
    "WRONGPASS invalid username-password pair or user is disabled.";

static void auth_cmd(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        static const struct rds_arg default_user = {
            (const unsigned char *)"default", 7};
        const struct rds_arg *user, *pass;

        if (argc > 3) {
                rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                return;
        }
        if (argc == 2) {
                if (!requirepass_set(c->srv)) {
                        rds_reply_error(&c->out,
                                        "ERR AUTH <password> called without "
                                        "any password configured for the "
                                        "default user. Are you sure your "
                                        "configuration is correct?");
                        return;
                }
                user = &default_user;
                pass = &argv[1];
        } else {
                user = &argv[1];
                pass = &argv[2];
        }
        if (check_auth(c->srv, user, pass) == AUTH_OK) {
                c->authenticated = true;
                rds_reply_ok(&c->out);
        } else {
                rds_reply_error(&c->out, wrongpass);
        }
}

/* Redis 7.0's validateClientName(): printable ASCII, no spaces. */
static bool name_valid(const struct rds_arg *a)
{
        for (size_t i = 0; i < a->len; i++)
                if (a->p[i] < '!' || a->p[i] > '~')
                        return false;
        return true;
}

/*
 * Replace *@slot (one of c->name, lib_name, lib_ver) by a copy of @a, or
 * NULL when @a is empty.  The swap is under clients_lock because CLIENT
 * LIST reads these from other threads.  Returns 0 or -ENOMEM.
 */
static int set_client_str(struct rds_client *c, char **slot,
                          const struct rds_arg *a)
{
        char *copy = NULL, *old;

        if (a && a->len) {
                copy = malloc(a->len + 1);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, a->p, a->len);
                copy[a->len] = '\0';
        }
        pthread_mutex_lock(&c->srv->clients_lock);
        old = *slot;
        *slot = copy;
        pthread_mutex_unlock(&c->srv->clients_lock);
        free(old);
        return 0;
}

static void set_proto(struct rds_client *c, int proto)
{
        c->proto = proto;
        c->out.proto = proto;
        atomic_store_explicit(&c->shown_proto, proto, memory_order_relaxed);
}

static void hello_cmd(struct rds_client *c, int argc,
                      const struct rds_arg *argv)
{
        const struct rds_arg *user = NULL, *pass = NULL, *name = NULL;
        long long ver = 0;
        int j = 1;

        if (argc >= 2) {
                j = 2;
                if (!rds_str2ll(argv[1].p, argv[1].len, &ver)) {
                        rds_reply_error(&c->out,
                                        "ERR Protocol version is not an "
                                        "integer or out of range");
                        return;
                }
                if (ver < 2 || ver > 3) {
                        rds_reply_error(&c->out,
                                        "NOPROTO unsupported protocol version");
                        return;
                }
        }
        for (; j < argc; j++) {
                int more = argc - 1 - j;
                if (arg_is(&argv[j], "auth") && more >= 2) {
                        user = &argv[j + 1];
                        pass = &argv[j + 2];
                        j += 2;
                } else if (arg_is(&argv[j], "setname") && more >= 1) {
                        name = &argv[j + 1];
                        if (!name_valid(name)) {
                                rds_reply_error(&c->out,
                                                "ERR Client names cannot "
                                                "contain spaces, newlines or "
                                                "special characters.");
                                return;
                        }
                        j++;
                } else {
                        char opt[129];
                        size_t n = 0;
                        while (n < argv[j].len && n < 128 && argv[j].p[n])
                                n++;
                        memcpy(opt, argv[j].p, n);
                        opt[n] = '\0';
                        rds_reply_errorf(&c->out,
                                         "ERR Syntax error in HELLO option "
                                         "'%s'",
                                         opt);
                        return;
                }
        }
        if (user && pass) {
                if (check_auth(c->srv, user, pass) != AUTH_OK) {
                        rds_reply_error(&c->out, wrongpass);
                        return;
                }
                c->authenticated = true;
        }
        if (!c->authenticated) {
                rds_reply_error(&c->out,
                                "NOAUTH HELLO must be called with the client "
                                "already authenticated, otherwise the HELLO "
                                "AUTH <user> <pass> option can be used to "
                                "authenticate the client and select the RESP "
                                "protocol version at the same time");
                return;
        }
        if (name && set_client_str(c, &c->name, name) != 0) {
                rds_reply_error(&c->out, "ERR out of memory");
                return;
        }
        /* The reply is already in the new protocol. */
        if (ver)
                set_proto(c, (int)ver);
        rds_reply_map_len(&c->out, 7);
        rds_reply_bulk_cstr(&c->out, "server");
        rds_reply_bulk_cstr(&c->out, "redis");
        rds_reply_bulk_cstr(&c->out, "version");
        rds_reply_bulk_cstr(&c->out, RDS_VERSION);
        rds_reply_bulk_cstr(&c->out, "proto");
        rds_reply_int(&c->out, c->proto);
        rds_reply_bulk_cstr(&c->out, "id");
        rds_reply_int(&c->out, (long long)c->id);
        rds_reply_bulk_cstr(&c->out, "mode");
        rds_reply_bulk_cstr(&c->out, "standalone");
        rds_reply_bulk_cstr(&c->out, "role");
        rds_reply_bulk_cstr(&c->out, "master");
        rds_reply_bulk_cstr(&c->out, "modules");
        rds_reply_array_len(&c->out, 0);
}

/* Redis's clearClientConnectionState(). */
static void reset_cmd(struct rds_client *c, int argc,
                      const struct rds_arg *argv)
{
        (void)argc;
        (void)argv;
        /* Unsubscribes silently; c->ps stays, so this reply still goes
         * out through the subscriber's queue, after what is queued. */
        rds_pubsub_client_reset(c);
        c->flags &= ~RDS_CLIENT_PUBSUB;
        set_db(c, 0);
        set_proto(c, 2);
        c->authenticated = !requirepass_set(c->srv);
        set_client_str(c, &c->name, NULL);
        rds_reply_simple(&c->out, "RESET");
}

/* ---- CLIENT ------------------------------------------------------------------------ */

static int client_proto(struct rds_client *o)
{
        int p = atomic_load_explicit(&o->shown_proto, memory_order_relaxed);
        return p ? p : 2;
}

static bool client_is_pubsub(struct rds_client *o)
{
        return atomic_load_explicit(&o->shown_subs, memory_order_relaxed) ||
               atomic_load_explicit(&o->shown_psubs, memory_order_relaxed) ||
               atomic_load_explicit(&o->shown_ssubs, memory_order_relaxed);
}

/*
 * One CLIENT LIST line for @o, as Redis's catClientInfoString().  @self
 * is the client running the command (its own current command is shown
 * as the subcommand, @cur).  Caller holds clients_lock.  Fields Redis
 * shows about buffers and memory that this server does not track per
 * client (qbuf, argv-mem, obl, omem, tot-mem...) are left out rather
 * than shown with made-up numbers; parsers of CLIENT LIST take the
 * key=value pairs that are there.
 */
static void client_line(struct rds_text *t, struct rds_client *self,
                        struct rds_client *o, const char *cur, int64_t now)
{
        const struct rds_command *cmd;
        int64_t last;
        char flags[8], cmdname[64];
        int nf = 0;

        if (client_is_pubsub(o))
                flags[nf++] = 'P';
        if (o == self && (self->flags & RDS_CLIENT_CLOSE_AFTER_REPLY))
                flags[nf++] = 'c';
        /* Killed, closing as soon as its task sees it: Redis's CLOSE_ASAP. */
        if (atomic_load_explicit(&o->kill, memory_order_relaxed))
                flags[nf++] = 'A';
        if (o->is_unix) /* Redis's CLIENT_UNIX_SOCKET */
                flags[nf++] = 'U';
        if (!nf)
                flags[nf++] = 'N';
        flags[nf] = '\0';
        last = atomic_load_explicit(&o->last_ms, memory_order_relaxed);
        cmd = atomic_load_explicit(&o->last_cmd, memory_order_relaxed);
        if (o == self)
                snprintf(cmdname, sizeof(cmdname), "client|%s", cur);
        else
                snprintf(cmdname, sizeof(cmdname), "%s",
                         cmd ? cmd->name : "NULL");
        rds_text_printf(
            t,
            "id=%" PRIu64 " addr=%s laddr=%s fd=%d name=%s age=%lld "
            "idle=%lld flags=%s db=%d sub=%u psub=%u ssub=%u multi=-1 "
            "cmd=%s user=default redir=-1 resp=%d lib-name=%s "
            "lib-ver=%s\n",
            o->id, o->addr, o->laddr, o->fd, o->name ? o->name : "",
            (long long)((now - o->ctime_ms) / 1000),
            (long long)(now > last ? (now - last) / 1000 : 0), flags,
            atomic_load_explicit(&o->shown_db, memory_order_relaxed),
            atomic_load_explicit(&o->shown_subs, memory_order_relaxed),
            atomic_load_explicit(&o->shown_psubs, memory_order_relaxed),
            atomic_load_explicit(&o->shown_ssubs, memory_order_relaxed),
            cmdname, client_proto(o), o->lib_name ? o->lib_name : "",
            o->lib_ver ? o->lib_ver : "");
}

static void reply_text(struct rds_client *c, struct rds_text *t)
{
        if (t->oom)
                rds_reply_error(&c->out, "ERR out of memory");
        else
                rds_reply_verbatim(&c->out, "txt", t->p ? t->p : "", t->len);
        rds_text_free(t);
}

static void client_id_cmd(struct rds_client *c, int argc,
                          const struct rds_arg *argv)
{
        (void)argc;
        (void)argv;
        rds_reply_int(&c->out, (long long)c->id);
}

static void client_info_cmd(struct rds_client *c, int argc,
                            const struct rds_arg *argv)
{
        struct rds_text t = {0};

        (void)argc;
        (void)argv;
        pthread_mutex_lock(&c->srv->clients_lock);
        client_line(&t, c, c, "info", rds_unix_ms());
        pthread_mutex_unlock(&c->srv->clients_lock);
        reply_text(c, &t);
}

/* Client types, as Redis's getClientTypeByName(). */
enum client_type {
        TYPE_ANY = -2,
        TYPE_BAD = -1,
        TYPE_NORMAL = 0,
        TYPE_REPLICA, /* replica, slave: there are none here */
        TYPE_PUBSUB,
        TYPE_MASTER, /* none either */
};

static enum client_type type_by_name(const struct rds_arg *a)
{
        if (arg_is(a, "normal"))
                return TYPE_NORMAL;
        if (arg_is(a, "slave") || arg_is(a, "replica"))
                return TYPE_REPLICA;
        if (arg_is(a, "pubsub"))
                return TYPE_PUBSUB;
        if (arg_is(a, "master"))
                return TYPE_MASTER;
        return TYPE_BAD;
}

static enum client_type type_of(struct rds_client *o)
{
        return client_is_pubsub(o) ? TYPE_PUBSUB : TYPE_NORMAL;
}

static void reply_unknown_type(struct rds_client *c, const struct rds_arg *a)
{
        rds_reply_errorf(&c->out, "ERR Unknown client type '%.*s'",
                         (int)(a->len > 128 ? 128 : a->len),
                         (const char *)a->p);
}

static void client_list_cmd(struct rds_client *c, int argc,
                            const struct rds_arg *argv)
{
        struct rds_server *srv = c->srv;
        enum client_type type = TYPE_ANY;
        struct rds_text t = {0};
        int64_t now = rds_unix_ms();

        if (argc == 4 && arg_is(&argv[2], "type")) {
                type = type_by_name(&argv[3]);
                if (type == TYPE_BAD) {
                        reply_unknown_type(c, &argv[3]);
                        return;
                }
        } else if (argc > 3 && arg_is(&argv[2], "id")) {
                long long id;
                for (int j = 3; j < argc; j++) {
                        if (!rds_str2ll(argv[j].p, argv[j].len, &id)) {
                                rds_reply_error(&c->out,
                                                "ERR Invalid client ID");
                                return;
                        }
                }
                pthread_mutex_lock(&srv->clients_lock);
                for (int j = 3; j < argc; j++) {
                        rds_str2ll(argv[j].p, argv[j].len, &id);
                        for (struct rds_client *o = srv->clients; o;
                             o = o->next) {
                                if ((long long)o->id == id) {
                                        client_line(&t, c, o, "list", now);
                                        break;
                                }
                        }
                }
                pthread_mutex_unlock(&srv->clients_lock);
                reply_text(c, &t);
                return;
        } else if (argc != 2) {
                rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                return;
        }

        /* Oldest first, as Redis lists them: the list is newest first. */
        pthread_mutex_lock(&srv->clients_lock);
        struct rds_client *o = srv->clients;
        while (o && o->next)
                o = o->next;
        for (; o; o = o->prev)
                if (type == TYPE_ANY || type_of(o) == type)
                        client_line(&t, c, o, "list", now);
        pthread_mutex_unlock(&srv->clients_lock);
        reply_text(c, &t);
}

static bool arg_eq_str(const struct rds_arg *a, const char *s)
{
        size_t n = strlen(s);
        return a->len == n && memcmp(a->p, s, n) == 0;
}

static void client_kill_cmd(struct rds_client *c, int argc,
                            const struct rds_arg *argv)
{
        struct rds_server *srv = c->srv;
        const struct rds_arg *addr = NULL, *laddr = NULL;
        enum client_type type = TYPE_ANY;
        long long id = 0, killed = 0;
        bool skipme = true, close_self = false;

        if (argc == 3) {
                /* Old form: CLIENT KILL ip:port. */
                addr = &argv[2];
                skipme = false;
        } else {
                for (int i = 2; i < argc; i += 2) {
                        bool more = argc > i + 1;
                        const struct rds_arg *v = &argv[i + 1];

                        if (!more) {
                                rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                                return;
                        }
                        if (arg_is(&argv[i], "id")) {
                                if (!rds_str2ll(v->p, v->len, &id) || id < 1) {
                                        rds_reply_error(&c->out,
                                                        "ERR client-id should "
                                                        "be greater than 0");
                                        return;
                                }
                        } else if (arg_is(&argv[i], "type")) {
                                type = type_by_name(v);
                                if (type == TYPE_BAD) {
                                        reply_unknown_type(c, v);
                                        return;
                                }
                        } else if (arg_is(&argv[i], "addr")) {
                                addr = v;
                        } else if (arg_is(&argv[i], "laddr")) {
                                laddr = v;
                        } else if (arg_is(&argv[i], "user")) {
                                /* The only user is "default" (exact, as
                                 * ACL user names are). */
                                if (!arg_eq_str(v, "default")) {
                                        rds_reply_errorf(
                                            &c->out, "ERR No such user '%.*s'",
                                            (int)(v->len > 128 ? 128 : v->len),
                                            (const char *)v->p);
                                        return;
                                }
                        } else if (arg_is(&argv[i], "skipme")) {
                                if (arg_is(v, "yes")) {
                                        skipme = true;
                                } else if (arg_is(v, "no")) {
                                        skipme = false;
                                } else {
                                        rds_reply_error(&c->out,
                                                        RDS_ERR_SYNTAX);
                                        return;
                                }
                        } else {
                                rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                                return;
                        }
                }
        }

        pthread_mutex_lock(&srv->clients_lock);
        for (struct rds_client *o = srv->clients; o; o = o->next) {
                if (addr && !arg_eq_str(addr, o->addr))
                        continue;
                if (laddr && !arg_eq_str(laddr, o->laddr))
                        continue;
                if (type != TYPE_ANY && type_of(o) != type)
                        continue;
                if (id && (long long)o->id != id)
                        continue;
                if (o == c && skipme)
                        continue;
                /* Already killed (closing): not killed twice, as a client
                 * Redis has freed is not found again. */
                if (atomic_load_explicit(&o->kill, memory_order_relaxed))
                        continue;
                if (o == c)
                        close_self = true; /* after the reply */
                else
                        rds_client_kill(o);
                killed++;
        }
        pthread_mutex_unlock(&srv->clients_lock);

        if (argc == 3) {
                if (killed == 0)
                        rds_reply_error(&c->out, "ERR No such client");
                else
                        rds_reply_ok(&c->out);
        } else {
                rds_reply_int(&c->out, killed);
        }
        if (close_self)
                c->flags |= RDS_CLIENT_CLOSE_AFTER_REPLY;
}

static void client_setname_cmd(struct rds_client *c, int argc,
                               const struct rds_arg *argv)
{
        (void)argc;
        if (!name_valid(&argv[2])) {
                rds_reply_error(&c->out,
                                "ERR Client names cannot contain spaces, "
                                "newlines or special characters.");
                return;
        }
        if (set_client_str(c, &c->name, &argv[2]) != 0) {
                rds_reply_error(&c->out, "ERR out of memory");
                return;
        }
        rds_reply_ok(&c->out);
}

static void client_getname_cmd(struct rds_client *c, int argc,
                               const struct rds_arg *argv)
{
        (void)argc;
        (void)argv;
        /* This task is the only writer of c->name: no lock to read it. */
        if (c->name)
                rds_reply_bulk_cstr(&c->out, c->name);
        else
                rds_reply_null(&c->out);
}

/* CLIENT SETINFO (Redis 7.2; redis-py 5 sends it on connect). */
static void client_setinfo_cmd(struct rds_client *c, int argc,
                               const struct rds_arg *argv)
{
        char **slot;

        (void)argc;
        if (arg_is(&argv[2], "lib-name")) {
                slot = &c->lib_name;
        } else if (arg_is(&argv[2], "lib-ver")) {
                slot = &c->lib_ver;
        } else {
                rds_reply_errorf(&c->out, "ERR Unrecognized option '%.*s'",
                                 (int)(argv[2].len > 128 ? 128 : argv[2].len),
                                 (const char *)argv[2].p);
                return;
        }
        if (!name_valid(&argv[3])) {
                rds_reply_errorf(&c->out,
                                 "ERR %.*s cannot contain spaces, newlines or "
                                 "special characters.",
                                 (int)argv[2].len, (const char *)argv[2].p);
                return;
        }
        if (set_client_str(c, slot, &argv[3]) != 0) {
                rds_reply_error(&c->out, "ERR out of memory");
                return;
        }
        rds_reply_ok(&c->out);
}

static void client_help_cmd(struct rds_client *c, int argc,
                            const struct rds_arg *argv)
{
        static const char *const lines[] = {
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            NULL,
        };
        (void)argc;
        (void)argv;
        rds_reply_help(c, "client", lines);
}

#define CONN_FLAGS (RDS_CMD_FAST | RDS_CMD_LOADING | RDS_CMD_STALE)
/* Redis's CLIENT subcommands are not "fast" (they are @slow). */
#define SUB_FLAGS (RDS_CMD_LOADING | RDS_CMD_STALE)

static const struct rds_command client_subs[] = {
    {"id", client_id_cmd, 2, SUB_FLAGS, 0, 0, 0, "connection", "5.0.0",
     "Returns the unique client ID of the connection.", NULL},
    {"info", client_info_cmd, 2, SUB_FLAGS, 0, 0, 0, "connection", "6.2.0",
     "Returns information about the connection.", NULL},
    {"list", client_list_cmd, -2,
     RDS_CMD_ADMIN | RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0, 0, "connection",
     "2.4.0", "Lists open connections.", NULL},
    {"kill", client_kill_cmd, -3,
     RDS_CMD_ADMIN | RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0, 0, "connection",
     "2.4.0", "Terminates open connections.", NULL},
    {"setname", client_setname_cmd, 3, SUB_FLAGS, 0, 0, 0, "connection",
     "2.6.9", "Sets the connection name.", NULL},
    {"getname", client_getname_cmd, 2, SUB_FLAGS, 0, 0, 0, "connection",
     "2.6.9", "Returns the name of the connection.", NULL},
    {"setinfo", client_setinfo_cmd, 4, SUB_FLAGS, 0, 0, 0, "connection",
     "7.2.0", "Sets information specific to the client or connection.", NULL},
    {"help", client_help_cmd, 2, RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0, 0,
     "connection", "5.0.0",
     "Returns helpful text about the different "
     "subcommands.",
     NULL},
    {0},
};

static const struct rds_command client_parent = {
    "client",   NULL,
    -2,         0,
    0,          0,
    0,          "connection",
    "2.4.0",    "A container for client connection commands.",
    client_subs};

static void client_cmd(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        rds_command_dispatch_sub(c, &client_parent, argc, argv);
}

/* ---- The table ---------------------------------------------------------------------- */

const struct rds_command rds_conn_commands[] = {
    {"ping", ping_cmd, -1, RDS_CMD_FAST | RDS_CMD_PUBSUB, 0, 0, 0, "connection",
     "1.0.0", "Returns the server's liveliness response.", NULL},
    {"echo", echo_cmd, 2, CONN_FLAGS, 0, 0, 0, "connection", "1.0.0",
     "Returns the given string.", NULL},
    {"quit", quit_cmd, -1, CONN_FLAGS | RDS_CMD_NOAUTH | RDS_CMD_PUBSUB, 0, 0,
     0, "connection", "1.0.0", "Closes the connection.", NULL},
    {"select", select_cmd, 2, CONN_FLAGS, 0, 0, 0, "connection", "1.0.0",
     "Changes the selected database.", NULL},
    {"hello", hello_cmd, -1, CONN_FLAGS | RDS_CMD_NOAUTH, 0, 0, 0, "connection",
     "6.0.0", "Handshakes with the Redis server.", NULL},
    {"auth", auth_cmd, -2, CONN_FLAGS | RDS_CMD_NOAUTH, 0, 0, 0, "connection",
     "1.0.0", "Authenticates the connection.", NULL},
    {"reset", reset_cmd, 1, CONN_FLAGS | RDS_CMD_NOAUTH | RDS_CMD_PUBSUB, 0, 0,
     0, "connection", "6.2.0", "Resets the connection.", NULL},
    {"client", client_cmd, -2, 0, 0, 0, 0, "connection", "2.4.0",
     "A container for client connection commands.", client_subs},
    {0},
};
