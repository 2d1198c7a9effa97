/*
 * redis/server/config.c - the configuration: defaults, the command line, the
 * redis.conf syntax, and CONFIG GET/SET's table.
 *
 * One table (params[]) describes every directive: its name, how its value
 * is parsed and printed, its range, and whether CONFIG SET may change it
 * at run time.  The same table serves the config file, the command line
 * (`--port 7000`), CONFIG SET and CONFIG GET, so they cannot disagree.
 *
 * The command line is handled as Redis's main() does: `--name value ...`
 * arguments are turned into config lines ("name \"value\"") appended after
 * the config file's text, and the whole text is parsed as one file.  So an
 * error in an option is reported exactly as Redis reports it, with the
 * line it became (main.c prints the first line, the rest is the error
 * text rds_config_parse_args returns):
 *
 *     *** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***
 *     Reading the configuration file, at line 2
 *     >>> 'port "abc"'
 *     argument couldn't be parsed into an integer
 *
 * Lines are split as Redis's sdssplitargs(): words, "double quoted"
 * strings with C escapes (\n \r \t \b \a \\ \" \xHH), 'single quoted'
 * strings (only \' is an escape); a closing quote must be followed by a
 * space or the end of the line.  Memory values take Redis's units
 * (1k = 1000, 1kb = 1024, m/mb, g/gb, any case); booleans are yes/no.
 *
 * Run time.  CONFIG SET (rds_config_set_pairs) applies every pair to a
 * copy of the live configuration under srv->cfg_lock and publishes the
 * copy only if all of them succeeded, so a failed CONFIG SET changes
 * nothing (Redis restores the old values instead; the effect is the
 * same).  Directives the running server cannot honour (the listening
 * address, the number of databases, workers, shards, the log file) are
 * immutable there, with Redis's error.
 *
 * Persistence.  This server keeps no data on disk, so `save` accepts only
 * "" and `appendonly` only "no"; they exist because tools ask for them
 * (redis-benchmark sends CONFIG GET save / appendonly).  `daemonize` is
 * accepted as "no" only.  `dir` changes the working directory at start
 * as Redis does; at run time it is a protected config, as in Redis 7.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server.h"
#include "util.h"

/* ---- Defaults ---------------------------------------------------------------- */

void rds_config_defaults(struct rds_config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        strcpy(cfg->bind, "127.0.0.1");
        cfg->port = 6379;
        cfg->maxclients = 10000;
        cfg->timeout_s = 0;
        cfg->databases = 16;
        cfg->workers = 0;
        cfg->shards = 0;
        cfg->loglevel = RDS_LOG_NOTICE;
        cfg->protected_mode = true;
        cfg->proto_max_bulk_len = RDS_PROTO_MAX_BULK_LEN_DEFAULT;
        cfg->client_query_buffer_limit = 1024LL * 1024 * 1024;
        cfg->pubsub_hard = 32ULL * 1024 * 1024;
        cfg->pubsub_soft = 8ULL * 1024 * 1024;
        cfg->pubsub_soft_s = 60;
        cfg->normal_hard = 0;
        cfg->normal_soft = 0;
        cfg->normal_soft_s = 0;
        cfg->replica_hard = 256ULL * 1024 * 1024;
        cfg->replica_soft = 64ULL * 1024 * 1024;
        cfg->replica_soft_s = 60;
        cfg->hz = 10;
}

/* ---- Value parsers -------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
        if (err && errlen) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err, errlen, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/*
 * Redis's memtoll(): an integer with an optional unit.  Returns false for
 * anything else (including overflow, which Redis does not check).
 */
static bool parse_mem(const char *s, long long *out)
{
        static const struct {
                const char *unit;
                long long mul;
        } units[] = {
            {"", 1},
            {"b", 1},
            {"k", 1000},
            {"kb", 1024},
            {"m", 1000LL * 1000},
            {"mb", 1024LL * 1024},
            {"g", 1000LL * 1000 * 1000},
            {"gb", 1024LL * 1024 * 1024},
        };
        const char *u = s;
        long long v;
        size_t i;

        if (*u == '-')
                u++;
        while (*u >= '0' && *u <= '9')
                u++;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (strcasecmp(u, units[i].unit) == 0)
                        break;
        if (i == sizeof(units) / sizeof(units[0]))
                return false;
        if (!rds_str2ll(s, (size_t)(u - s), &v))
                return false;
        if (__builtin_mul_overflow(v, units[i].mul, out))
                return false;
        return true;
}

static bool parse_bool(const char *s, bool *out)
{
        if (strcasecmp(s, "yes") == 0)
                *out = true;
        else if (strcasecmp(s, "no") == 0)
                *out = false;
        else
                return false;
        return true;
}

static int parse_ranged(const char *s, bool mem, long long min, long long max,
                        long long *out, char *err, size_t errlen)
{
        if (mem) {
                if (!parse_mem(s, out))
                        return fail(err, errlen,
                                    "argument must be a memory value");
        } else if (!rds_str2ll(s, strlen(s), out)) {
                return fail(err, errlen,
                            "argument couldn't be parsed into an integer");
        }
        if (*out < min || *out > max)
                return fail(err, errlen,
                            "argument must be between %lld and %lld inclusive",
                            min, max);
        return 0;
}

/* ---- The table ------------------------------------------------------------------ */

enum param_kind {
        K_INT,  /* int field, decimal */
        K_UINT, /* unsigned field, decimal */
        K_MEM,  /* long long field, memory units */
        K_BOOL, /* bool field, yes/no */
        K_STR,  /* char array field */
        K_FUNC, /* set/get functions */
};

enum param_flags {
        P_IMMUTABLE = 1u << 0, /* start-up only: CONFIG SET refuses it */
        P_PROTECTED = 1u << 1, /* CONFIG SET refuses it (Redis 7's default) */
        P_MULTIARG = 1u << 2,  /* takes several words (CONFIG SET splits) */
};

struct param;
typedef int param_set_fn(struct rds_config *cfg, int argc,
                         const char *const *argv, char *err, size_t errlen);
typedef void param_get_fn(const struct rds_config *cfg, char *buf, size_t size);

struct param {
        const char *name;
        enum param_kind kind;
        unsigned flags;
        size_t off;  /* of the field in struct rds_config */
        size_t size; /* K_STR: the array's size */
        long long min, max;
        param_set_fn *set; /* K_FUNC */
        param_get_fn *get; /* K_FUNC */
        const char *help;  /* for --help */
};

#define FIELD(f) offsetof(struct rds_config, f)

static const char *const loglevels[] = {"debug", "verbose", "notice",
                                        "warning"};

static int set_bind(struct rds_config *cfg, int argc, const char *const *argv,
                    char *err, size_t errlen)
{
        char buf[sizeof(cfg->bind)];
        size_t n = 0;

        if (argc < 1)
                return fail(err, errlen, "wrong number of arguments");
        if (argc > 16)
                return fail(err, errlen, "Too many bind addresses specified.");
        for (int i = 0; i < argc; i++) {
                size_t len = strlen(argv[i]);
                if (len == 0 || strchr(argv[i], ' '))
                        return fail(err, errlen, "Invalid bind address.");
                if (n + len + 2 > sizeof(buf))
                        return fail(err, errlen,
                                    "Too many bind addresses specified.");
                if (n)
                        buf[n++] = ' ';
                memcpy(buf + n, argv[i], len);
                n += len;
        }
        buf[n] = '\0';
        memcpy(cfg->bind, buf, n + 1);
        return 0;
}

static int set_shards(struct rds_config *cfg, int argc, const char *const *argv,
                      char *err, size_t errlen)
{
        long long v;
        int rc;

        (void)argc;
        rc = parse_ranged(argv[0], false, 0, RDS_MAX_SHARDS, &v, err, errlen);
        if (rc)
                return rc;
        if (v & (v - 1))
                return fail(err, errlen,
                            "argument must be 0 or a power of two up to %d",
                            RDS_MAX_SHARDS);
        cfg->shards = (unsigned)v;
        return 0;
}

static void get_shards(const struct rds_config *cfg, char *buf, size_t size)
{
        snprintf(buf, size, "%u", cfg->shards);
}

static int set_loglevel(struct rds_config *cfg, int argc,
                        const char *const *argv, char *err, size_t errlen)
{
        (void)argc;
        for (int i = 0; i < 4; i++) {
                if (strcasecmp(argv[0], loglevels[i]) == 0) {
                        cfg->loglevel = i;
                        return 0;
                }
        }
        return fail(err, errlen,
                    "argument(s) must be one of the following: debug, "
                    "verbose, notice, warning");
}

static void get_loglevel(const struct rds_config *cfg, char *buf, size_t size)
{
        int l = cfg->loglevel;
        snprintf(buf, size, "%s", l >= 0 && l < 4 ? loglevels[l] : "notice");
}

/* hz: Redis takes any int >= 0 and clamps it to 1..500 (CONFIG GET shows
 * the clamped value). */
static int set_hz(struct rds_config *cfg, int argc, const char *const *argv,
                  char *err, size_t errlen)
{
        long long v;
        int rc;

        (void)argc;
        rc = parse_ranged(argv[0], false, 0, INT_MAX, &v, err, errlen);
        if (rc)
                return rc;
        if (v < 1)
                v = 1;
        if (v > 500)
                v = 500;
        cfg->hz = (unsigned)v;
        return 0;
}

static void get_hz(const struct rds_config *cfg, char *buf, size_t size)
{
        snprintf(buf, size, "%u", cfg->hz);
}

/*
 * client-output-buffer-limit <class> <hard> <soft> <soft-seconds> ...:
 * Redis's classes are normal, replica (alias slave) and pubsub.  Only the
 * pubsub class is enforced here (pubsub.c); normal clients get their
 * replies written batch by batch, and there are no replicas, so those two
 * classes are kept only to be reported back.
 */
static int set_cobl(struct rds_config *cfg, int argc, const char *const *argv,
                    char *err, size_t errlen)
{
        struct rds_config tmp = *cfg;

        if (argc % 4)
                return fail(err, errlen,
                            "Wrong number of arguments in buffer limit "
                            "configuration.");
        for (int i = 0; i < argc; i += 4) {
                long long hard, soft, secs;
                unsigned long long *ph, *ps;
                unsigned *pt;

                if (strcasecmp(argv[i], "normal") == 0) {
                        ph = &tmp.normal_hard;
                        ps = &tmp.normal_soft;
                        pt = &tmp.normal_soft_s;
                } else if (strcasecmp(argv[i], "replica") == 0 ||
                           strcasecmp(argv[i], "slave") == 0) {
                        ph = &tmp.replica_hard;
                        ps = &tmp.replica_soft;
                        pt = &tmp.replica_soft_s;
                } else if (strcasecmp(argv[i], "pubsub") == 0) {
                        ph = &tmp.pubsub_hard;
                        ps = &tmp.pubsub_soft;
                        pt = &tmp.pubsub_soft_s;
                } else {
                        return fail(err, errlen,
                                    "Invalid client class specified in "
                                    "buffer limit configuration.");
                }
                if (!parse_mem(argv[i + 1], &hard) ||
                    !parse_mem(argv[i + 2], &soft) ||
                    !rds_str2ll(argv[i + 3], strlen(argv[i + 3]), &secs) ||
                    hard < 0 || soft < 0 || secs < 0 || secs > UINT_MAX)
                        return fail(err, errlen,
                                    "Error in hard, soft or soft_seconds "
                                    "setting in buffer limit configuration.");
                *ph = (unsigned long long)hard;
                *ps = (unsigned long long)soft;
                *pt = (unsigned)secs;
        }
        *cfg = tmp;
        return 0;
}

static void get_cobl(const struct rds_config *cfg, char *buf, size_t size)
{
        snprintf(buf, size,
                 "normal %llu %llu %u slave %llu %llu %u pubsub %llu %llu %u",
                 cfg->normal_hard, cfg->normal_soft, cfg->normal_soft_s,
                 cfg->replica_hard, cfg->replica_soft, cfg->replica_soft_s,
                 cfg->pubsub_hard, cfg->pubsub_soft, cfg->pubsub_soft_s);
}

/* save: only "" (no snapshots), see the head comment. */
static int set_save(struct rds_config *cfg, int argc, const char *const *argv,
                    char *err, size_t errlen)
{
        (void)cfg;
        for (int i = 0; i < argc; i++)
                if (argv[i][0])
                        return fail(err, errlen,
                                    "Invalid save parameters: this server "
                                    "does not persist data, only save \"\" "
                                    "is supported");
        return 0;
}

static void get_empty(const struct rds_config *cfg, char *buf, size_t size)
{
        (void)cfg;
        if (size)
                buf[0] = '\0';
}

static void get_no(const struct rds_config *cfg, char *buf, size_t size)
{
        (void)cfg;
        snprintf(buf, size, "no");
}

static int set_appendonly(struct rds_config *cfg, int argc,
                          const char *const *argv, char *err, size_t errlen)
{
        bool v;

        (void)cfg;
        (void)argc;
        if (!parse_bool(argv[0], &v))
                return fail(err, errlen, "argument must be 'yes' or 'no'");
        if (v)
                return fail(err, errlen,
                            "appendonly yes is not supported: this server "
                            "does not persist data");
        return 0;
}

static int set_daemonize(struct rds_config *cfg, int argc,
                         const char *const *argv, char *err, size_t errlen)
{
        bool v;

        (void)cfg;
        (void)argc;
        if (!parse_bool(argv[0], &v))
                return fail(err, errlen, "argument must be 'yes' or 'no'");
        if (v)
                return fail(err, errlen,
                            "daemonize yes is not supported: run the "
                            "server under a supervisor");
        return 0;
}

static int set_maxmemory(struct rds_config *cfg, int argc,
                         const char *const *argv, char *err, size_t errlen)
{
        long long v;

        (void)cfg;
        (void)argc;
        if (!parse_mem(argv[0], &v))
                return fail(err, errlen, "argument must be a memory value");
        if (v != 0)
                return fail(err, errlen,
                            "maxmemory is not supported (no eviction): only "
                            "0 is accepted");
        return 0;
}

static void get_zero(const struct rds_config *cfg, char *buf, size_t size)
{
        (void)cfg;
        snprintf(buf, size, "0");
}

/* dir: chdir() at once, as Redis does while it reads its config. */
static int set_dir(struct rds_config *cfg, int argc, const char *const *argv,
                   char *err, size_t errlen)
{
        (void)cfg;
        (void)argc;
        if (chdir(argv[0]) != 0)
                return fail(err, errlen, "%s", strerror(errno));
        return 0;
}

static void get_dir(const struct rds_config *cfg, char *buf, size_t size)
{
        (void)cfg;
        if (!getcwd(buf, size) && size)
                buf[0] = '\0';
}

/* unixsocketperm: octal as Redis's OCTAL_CONFIG reads it (strtoll, base
 * 8, the whole string), 0..0777. */
static int set_unixsocketperm(struct rds_config *cfg, int argc,
                              const char *const *argv, char *err, size_t errlen)
{
        char *end;
        long long v;

        (void)argc;
        errno = 0;
        v = strtoll(argv[0], &end, 8);
        if (errno == EINVAL || errno == ERANGE || *end)
                return fail(err, errlen,
                            "argument couldn't be parsed as an octal number");
        if (v < 0 || v > 0777)
                return fail(err, errlen,
                            "argument must be between 0 and 777 inclusive");
        cfg->unixsocketperm = (unsigned)v;
        return 0;
}

static void get_unixsocketperm(const struct rds_config *cfg, char *buf,
                               size_t size)
{
        snprintf(buf, size, "%o", cfg->unixsocketperm);
}

static void get_bind(const struct rds_config *cfg, char *buf, size_t size)
{
        snprintf(buf, size, "%s", cfg->bind);
}

static const struct param params[] = {
    {"bind", K_FUNC, P_IMMUTABLE | P_MULTIARG, 0, 0, 0, 0, set_bind, get_bind,
     "addresses to listen on (default 127.0.0.1)"},
    {"port", K_INT, P_IMMUTABLE, FIELD(port), 0, 0, 65535, NULL, NULL,
     "TCP port (default 6379; 0: an ephemeral port)"},
    {"unixsocket", K_STR, P_IMMUTABLE, FIELD(unixsocket),
     sizeof(((struct rds_config *)0)->unixsocket), 0, 0, NULL, NULL,
     "listen on this Unix socket too (default \"\": none)"},
    {"unixsocketperm", K_FUNC, P_IMMUTABLE, 0, 0, 0, 0, set_unixsocketperm,
     get_unixsocketperm, "the Unix socket's mode, octal (default 0: umask)"},
    {"maxclients", K_UINT, 0, FIELD(maxclients), 0, 1, UINT_MAX, NULL, NULL,
     "maximum connected clients (default 10000)"},
    {"timeout", K_UINT, 0, FIELD(timeout_s), 0, 0, INT_MAX, NULL, NULL,
     "close a client idle this many seconds (default 0: never)"},
    {"requirepass", K_STR, 0, FIELD(requirepass),
     sizeof(((struct rds_config *)0)->requirepass), 0, 0, NULL, NULL,
     "password clients must AUTH with (default none)"},
    {"databases", K_UINT, P_IMMUTABLE, FIELD(databases), 0, 1, RDS_MAX_DBS,
     NULL, NULL, "number of databases (default 16)"},
    {"workers", K_UINT, P_IMMUTABLE, FIELD(workers), 0, 0, 1024, NULL, NULL,
     "worker threads (default 0: one per CPU)"},
    {"shards", K_FUNC, P_IMMUTABLE, 0, 0, 0, 0, set_shards, get_shards,
     "keyspace shards, a power of two (default 0: scaled to workers)"},
    {"loglevel", K_FUNC, 0, 0, 0, 0, 0, set_loglevel, get_loglevel,
     "debug, verbose, notice (default) or warning"},
    {"logfile", K_STR, P_IMMUTABLE, FIELD(logfile),
     sizeof(((struct rds_config *)0)->logfile), 0, 0, NULL, NULL,
     "log file, appended to (default \"\": stderr)"},
    {"protected-mode", K_BOOL, 0, FIELD(protected_mode), 0, 0, 0, NULL, NULL,
     "refuse non-loopback clients without a password (yes)"},
    {"proto-max-bulk-len", K_MEM, 0, FIELD(proto_max_bulk_len), 0, 1024 * 1024,
     LLONG_MAX, NULL, NULL, "largest bulk string in a request (default 512mb)"},
    {"client-query-buffer-limit", K_MEM, 0, FIELD(client_query_buffer_limit), 0,
     1024 * 1024, LLONG_MAX, NULL, NULL,
     "largest pending request (default 1gb)"},
    {"client-output-buffer-limit", K_FUNC, P_MULTIARG, 0, 0, 0, 0, set_cobl,
     get_cobl, "pubsub <hard> <soft> <seconds> (default pubsub 32mb 8mb 60)"},
    {"hz", K_FUNC, 0, 0, 0, 0, 0, set_hz, get_hz,
     "active expiry cycles per second, 1..500 (default 10)"},
    {"save", K_FUNC, P_MULTIARG, 0, 0, 0, 0, set_save, get_empty,
     "only \"\": no snapshots"},
    {"appendonly", K_FUNC, 0, 0, 0, 0, 0, set_appendonly, get_no,
     "only no: no append-only file"},
    {"daemonize", K_FUNC, P_IMMUTABLE, 0, 0, 0, 0, set_daemonize, get_no,
     "only no"},
    {"dir", K_FUNC, P_PROTECTED, 0, 0, 0, 0, set_dir, get_dir,
     "working directory"},
    {"maxmemory", K_FUNC, 0, 0, 0, 0, 0, set_maxmemory, get_zero,
     "only 0: no memory limit"},
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

static const struct param *param_find(const char *name)
{
        for (size_t i = 0; i < NPARAMS; i++)
                if (strcasecmp(params[i].name, name) == 0)
                        return &params[i];
        return NULL;
}

/*
 * Apply @p with @argc words.  Returns 0, -EINVAL (message in @err) or
 * -E2BIG (wrong number of words: the caller words it).
 */
static int param_apply(const struct param *p, struct rds_config *cfg, int argc,
                       const char *const *argv, char *err, size_t errlen)
{
        char *field = (char *)cfg + p->off;
        long long v;
        bool b;
        int rc;

        if (!(p->flags & P_MULTIARG) && argc != 1)
                return -E2BIG;
        switch (p->kind) {
        case K_INT:
        case K_UINT:
        case K_MEM:
                rc = parse_ranged(argv[0], p->kind == K_MEM, p->min, p->max, &v,
                                  err, errlen);
                if (rc)
                        return rc;
                if (p->kind == K_INT)
                        *(int *)(void *)field = (int)v;
                else if (p->kind == K_UINT)
                        *(unsigned *)(void *)field = (unsigned)v;
                else
                        *(long long *)(void *)field = v;
                return 0;
        case K_BOOL:
                if (!parse_bool(argv[0], &b))
                        return fail(err, errlen,
                                    "argument must be 'yes' or 'no'");
                *(bool *)(void *)field = b;
                return 0;
        case K_STR: {
                size_t len = strlen(argv[0]);
                if (len >= p->size)
                        return fail(err, errlen,
                                    "argument is too long (at most %zu bytes)",
                                    p->size - 1);
                memcpy(field, argv[0], len + 1);
                return 0;
        }
        case K_FUNC:
                return p->set(cfg, argc, argv, err, errlen);
        }
        return fail(err, errlen, "internal error");
}

static void param_format(const struct param *p, const struct rds_config *cfg,
                         char *buf, size_t size)
{
        const char *field = (const char *)cfg + p->off;

        switch (p->kind) {
        case K_INT:
                snprintf(buf, size, "%d", *(const int *)(const void *)field);
                return;
        case K_UINT:
                snprintf(buf, size, "%u",
                         *(const unsigned *)(const void *)field);
                return;
        case K_MEM:
                snprintf(buf, size, "%lld",
                         *(const long long *)(const void *)field);
                return;
        case K_BOOL:
                snprintf(buf, size, "%s",
                         *(const bool *)(const void *)field ? "yes" : "no");
                return;
        case K_STR:
                snprintf(buf, size, "%s", field);
                return;
        case K_FUNC:
                p->get(cfg, buf, size);
                return;
        }
}

/* ---- Splitting a line (sdssplitargs) ------------------------------------------- */

/* The words of a line. */
struct words {
        char *buf;   /* the decoded words, NUL-separated */
        char **argv; /* into buf */
        int argc, cap;
};

static void words_free(struct words *w)
{
        free(w->buf);
        free(w->argv);
        memset(w, 0, sizeof(*w));
}

/*
 * Split @line[0..@len) as sdssplitargs() does.  Returns 0, -EINVAL
 * (unbalanced quotes) or -ENOMEM.  The words never take more bytes than
 * the line, so one buffer of len + 1 holds them all.
 */
static int split_words(const char *line, size_t len, struct words *w)
{
        const unsigned char *p = (const unsigned char *)line, *end = p + len;
        unsigned char *o;

        memset(w, 0, sizeof(*w));
        w->buf = malloc(len + 1);
        if (!w->buf)
                return -ENOMEM;
        o = (unsigned char *)w->buf;
        for (;;) {
                size_t wlen;
                int rc = rds_split_word(&p, end, o, &wlen);

                if (rc == 0)
                        return 0;
                if (rc < 0) {
                        words_free(w);
                        return -EINVAL;
                }
                if (w->argc == w->cap) {
                        int ncap = w->cap ? w->cap * 2 : 8;
                        char **n = realloc(w->argv, sizeof(*n) * (size_t)ncap);
                        if (!n) {
                                words_free(w);
                                return -ENOMEM;
                        }
                        w->argv = n;
                        w->cap = ncap;
                }
                w->argv[w->argc++] = (char *)o;
                o += wlen;
                *o++ = '\0'; /* the word's blank or the line's end */
        }
}

/* ---- Directives ---------------------------------------------------------------- */

int rds_config_set(struct rds_config *cfg, const char *name, int argc,
                   const char *const *argv, char *err, size_t errlen)
{
        const struct param *p = param_find(name);
        int rc;

        if (!p)
                return fail(err, errlen,
                            "Bad directive or wrong number of arguments");
        if ((p->flags & P_MULTIARG) && argc == 1 && argv[0][0]) {
                /* One non-empty word for a multi-word directive is split
                 * (Redis 7.0: `--client-output-buffer-limit "pubsub 1mb
                 * 512kb 60"`); an empty one stays (`--save ""`). */
                struct words w;
                rc = split_words(argv[0], strlen(argv[0]), &w);
                if (rc == -ENOMEM)
                        return fail(err, errlen, "out of memory");
                if (rc)
                        return fail(err, errlen,
                                    "Unbalanced quotes in configuration line");
                rc = param_apply(p, cfg, w.argc, (const char *const *)w.argv,
                                 err, errlen);
                words_free(&w);
                return rc;
        }
        rc = param_apply(p, cfg, argc, argv, err, errlen);
        if (rc == -E2BIG)
                return fail(err, errlen, "wrong number of arguments");
        return rc;
}

size_t rds_config_nparams(void)
{
        return NPARAMS;
}

const char *rds_config_param_name(size_t i)
{
        return i < NPARAMS ? params[i].name : NULL;
}

void rds_config_param_get(const struct rds_config *cfg, size_t i, char *buf,
                          size_t size)
{
        if (i < NPARAMS)
                param_format(&params[i], cfg, buf, size);
        else if (size)
                buf[0] = '\0';
}

/* ---- Loading text (config file + options) -------------------------------------- */

/* Redis's sdscatrepr(): "..." with escapes, for the option lines. */
static int cat_repr(char **s, size_t *len, size_t *cap, const char *arg)
{
        size_t need = *len + strlen(arg) * 4 + 4;
        if (need > *cap) {
                size_t ncap = *cap ? *cap : 256;
                while (ncap < need)
                        ncap *= 2;
                char *n = realloc(*s, ncap);
                if (!n)
                        return -ENOMEM;
                *s = n;
                *cap = ncap;
        }
        char *o = *s + *len;
        *o++ = '"';
        for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
                switch (*p) {
                case '\\':
                        *o++ = '\\';
                        *o++ = '\\';
                        break;
                case '"':
                        *o++ = '\\';
                        *o++ = '"';
                        break;
                case '\n':
                        *o++ = '\\';
                        *o++ = 'n';
                        break;
                case '\r':
                        *o++ = '\\';
                        *o++ = 'r';
                        break;
                case '\t':
                        *o++ = '\\';
                        *o++ = 't';
                        break;
                case '\a':
                        *o++ = '\\';
                        *o++ = 'a';
                        break;
                case '\b':
                        *o++ = '\\';
                        *o++ = 'b';
                        break;
                default:
                        if (*p >= 0x20 && *p < 0x7f)
                                *o++ = (char)*p;
                        else
                                o += sprintf(o, "\\x%02x", *p);
                }
        }
        *o++ = '"';
        *o = '\0';
        *len = (size_t)(o - *s);
        return 0;
}

static int cat_str(char **s, size_t *len, size_t *cap, const char *str,
                   size_t n)
{
        if (*len + n + 1 > *cap) {
                size_t ncap = *cap ? *cap : 256;
                while (ncap < *len + n + 1)
                        ncap *= 2;
                char *p = realloc(*s, ncap);
                if (!p)
                        return -ENOMEM;
                *s = p;
                *cap = ncap;
        }
        memcpy(*s + *len, str, n);
        *len += n;
        (*s)[*len] = '\0';
        return 0;
}

static int read_all(FILE *f, char **s, size_t *len, size_t *cap)
{
        char chunk[4096];
        size_t n;

        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                if (cat_str(s, len, cap, chunk, n))
                        return -ENOMEM;
        return ferror(f) ? -EIO : 0;
}

static int fatal_line(char *err, size_t errlen, int lineno, const char *line,
                      size_t linelen, const char *why)
{
        return fail(err, errlen,
                    "Reading the configuration file, at line %d\n>>> "
                    "'%.*s'\n%s",
                    lineno, (int)(linelen > 1024 ? 1024 : linelen), line, why);
}

/*
 * Parse config text as Redis's loadServerConfigFromString(): one
 * directive a line, trimmed, '#' comments and blank lines skipped, the
 * directive's name in any case.  @text is @len bytes: a NUL in a line
 * ends that line (Redis's fgets + sdscat drop the rest of it), not the
 * text, so the lines after it and the command line's options still count.
 */
static int load_text(struct rds_config *cfg, const char *text, size_t len,
                     char *err, size_t errlen)
{
        const char *p = text, *end = text + len;
        int lineno = 0;
        char why[512];

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                const char *nul = memchr(p, '\0', (size_t)(le - p));
                const char *b = p, *e = nul ? nul : le;
                struct words w;
                int rc;

                lineno++;
                p = nl ? nl + 1 : le;
                while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
                        b++;
                while (e > b &&
                       (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                        e--;
                if (b == e || *b == '#')
                        continue;
                rc = split_words(b, (size_t)(e - b), &w);
                if (rc == -ENOMEM)
                        return fail(err, errlen, "out of memory");
                if (rc)
                        return fatal_line(err, errlen, lineno, b,
                                          (size_t)(e - b),
                                          "Unbalanced quotes in "
                                          "configuration line");
                if (w.argc > 0) {
                        rc = rds_config_set(cfg, w.argv[0], w.argc - 1,
                                            (const char *const *)w.argv + 1,
                                            why, sizeof(why));
                        words_free(&w);
                        if (rc)
                                return fatal_line(err, errlen, lineno, b,
                                                  (size_t)(e - b), why);
                } else {
                        words_free(&w);
                }
        }
        return 0;
}

static void print_usage(const char *prog)
{
        printf("Usage: %s [/path/to/redis.conf] [options] [-]\n"
               "       %s - (read config from stdin)\n"
               "       %s -v or --version\n"
               "       %s -h or --help\n\n"
               "Options (--name value on the command line, or `name value`\n"
               "lines in the config file; the command line wins):\n",
               prog, prog, prog, prog);
        for (size_t i = 0; i < NPARAMS; i++)
                printf("  %-28s %s\n", params[i].name, params[i].help);
        printf("\nExamples:\n"
               "       %s --port 7777\n"
               "       %s /etc/redis/6379.conf --loglevel verbose\n",
               prog, prog);
}

int rds_config_parse_args(struct rds_config *cfg, int argc, char **argv,
                          char *err, size_t errlen)
{
        char *text = NULL, *opts = NULL;
        size_t tlen = 0, tcap = 0, olen = 0, ocap = 0;
        const char *conffile = NULL;
        bool from_stdin = false, have_value = true;
        int j = 1, rc = 0;

        if (argc >= 2) {
                if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")) {
                        printf("%s v=%s sha=00000000:0 malloc=libc bits=%d "
                               "build=0\n",
                               RDS_SERVER_NAME, RDS_VERSION,
                               (int)(sizeof(long) * 8));
                        return 1;
                }
                if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
                        print_usage(argv[0] ? argv[0] : RDS_SERVER_NAME);
                        return 1;
                }
                if (argv[1][0] != '-') {
                        conffile = argv[1];
                        j = 2;
                }
        }

        /* The options become config lines, as Redis's main() builds them:
         * a name starts a line unless the previous name still lacks a
         * value (so `--requirepass --x` sets the password "--x"). */
        for (; j < argc; j++) {
                const char *a = argv[j];
                if (a[0] == '-' && a[1] == '\0' && (j == 1 || j == argc - 1)) {
                        from_stdin = true;
                } else if (have_value && a[0] == '-' && a[1] == '-') {
                        struct words w;
                        if (olen && cat_str(&opts, &olen, &ocap, "\n", 1))
                                goto nomem;
                        if (cat_str(&opts, &olen, &ocap, a + 2,
                                    strlen(a + 2)) ||
                            cat_str(&opts, &olen, &ocap, " ", 1))
                                goto nomem;
                        rc = split_words(a, strlen(a), &w);
                        if (rc == -ENOMEM)
                                goto nomem;
                        have_value = rc == 0 && w.argc > 1;
                        if (rc == 0)
                                words_free(&w);
                        rc = 0;
                        /* `--save` followed by another option or nothing
                         * means save "" (Redis 7.0.1's compatibility
                         * rule). */
                        if (!have_value && strcasecmp(a, "--save") == 0 &&
                            (j == argc - 1 || (argv[j + 1][0] == '-' &&
                                               argv[j + 1][1] == '-'))) {
                                if (cat_str(&opts, &olen, &ocap, "\"\"", 2))
                                        goto nomem;
                                have_value = true;
                        }
                } else {
                        if (cat_repr(&opts, &olen, &ocap, a) ||
                            cat_str(&opts, &olen, &ocap, " ", 1))
                                goto nomem;
                        have_value = true;
                }
        }

        if (conffile) {
                FILE *f = fopen(conffile, "r");
                if (!f) {
                        rc = fail(err, errlen,
                                  "Fatal error, can't open config file '%s': "
                                  "%s",
                                  conffile, strerror(errno));
                        goto out;
                }
                rc = read_all(f, &text, &tlen, &tcap);
                fclose(f);
                if (rc) {
                        rc = fail(err, errlen,
                                  "Fatal error, can't read config file "
                                  "'%s': %s",
                                  conffile, strerror(-rc));
                        goto out;
                }
        }
        if (from_stdin) {
                rc = read_all(stdin, &text, &tlen, &tcap);
                if (rc) {
                        rc = fail(err, errlen,
                                  "Fatal error, can't read config from "
                                  "stdin: %s",
                                  strerror(-rc));
                        goto out;
                }
        }
        /* Redis appends "\n" + options even without a file, so the first
         * option is line 2. */
        if (cat_str(&text, &tlen, &tcap, "\n", 1) ||
            (olen && cat_str(&text, &tlen, &tcap, opts, olen)))
                goto nomem;
        rc = load_text(cfg, text, tlen, err, errlen);
        goto out;

nomem:
        rc = fail(err, errlen, "out of memory reading the configuration");
out:
        free(text);
        free(opts);
        return rc;
}

/* ---- CONFIG SET ---------------------------------------------------------------- */

static void copy_name(char *dst, size_t size, const struct rds_arg *a)
{
        size_t n = a->len < size - 1 ? a->len : size - 1;
        memcpy(dst, a->p, n);
        dst[n] = '\0';
        /* A NUL inside the argument ends the name: it cannot match. */
}

int rds_config_set_pairs(struct rds_server *srv, size_t n,
                         const struct rds_arg *args, char *err, size_t errlen)
{
        const struct param *set[NPARAMS];
        struct rds_config tmp;
        char name[128], why[512];
        size_t i;
        int rc = 0;

        /* Names first, as Redis: unknown, immutable, duplicate. */
        for (i = 0; i < n; i++) {
                const struct param *p;
                copy_name(name, sizeof(name), &args[2 * i]);
                p = memchr(args[2 * i].p, 0, args[2 * i].len)
                        ? NULL
                        : param_find(name);
                if (!p)
                        return fail(err, errlen,
                                    "ERR Unknown option or number of "
                                    "arguments for CONFIG SET - '%s'",
                                    name);
                if (p->flags & (P_IMMUTABLE | P_PROTECTED))
                        return fail(err, errlen,
                                    "ERR CONFIG SET failed (possibly related "
                                    "to argument '%s') - can't set %s config",
                                    name,
                                    p->flags & P_IMMUTABLE ? "immutable"
                                                           : "protected");
                for (size_t k = 0; k < i && k < NPARAMS; k++)
                        if (set[k] == p)
                                return fail(err, errlen,
                                            "ERR CONFIG SET failed (possibly "
                                            "related to argument '%s') - "
                                            "duplicate parameter",
                                            name);
                if (i < NPARAMS)
                        set[i] = p;
        }

        /* The lock is held from the copy to the publication, so two
         * CONFIG SETs cannot lose each other's changes. */
        pthread_mutex_lock(&srv->cfg_lock);
        tmp = srv->cfg;

        for (i = 0; i < n && rc == 0; i++) {
                const struct param *p = set[i];
                const struct rds_arg *v = &args[2 * i + 1];
                struct words w = {0};
                char *val;

                copy_name(name, sizeof(name), &args[2 * i]);
                /* Values are C strings here (they are in Redis too: a NUL
                 * ends them). */
                val = malloc(v->len + 1);
                if (!val) {
                        pthread_mutex_unlock(&srv->cfg_lock);
                        return fail(err, errlen, "ERR out of memory");
                }
                memcpy(val, v->p, v->len);
                val[v->len] = '\0';
                if (p->flags & P_MULTIARG) {
                        rc = split_words(val, strlen(val), &w);
                        if (rc == 0)
                                rc = param_apply(p, &tmp, w.argc,
                                                 (const char *const *)w.argv,
                                                 why, sizeof(why));
                        else if (rc == -EINVAL)
                                snprintf(why, sizeof(why),
                                         "Unbalanced quotes in value");
                        else
                                snprintf(why, sizeof(why), "out of memory");
                        words_free(&w);
                } else {
                        const char *one[1] = {val};
                        rc = param_apply(p, &tmp, 1, one, why, sizeof(why));
                }
                free(val);
                if (rc) {
                        pthread_mutex_unlock(&srv->cfg_lock);
                        return fail(err, errlen,
                                    "ERR CONFIG SET failed (possibly related "
                                    "to argument '%s') - %s",
                                    name, why);
                }
        }

        /* Immutable fields are unchanged in @tmp: publishing the whole
         * struct writes them back with the value they have. */
        srv->cfg = tmp;
        /* Side effects under the lock too, so that two CONFIG SETs apply
         * them in the order they published. */
        rds_log_set_level(tmp.loglevel);
        if (srv->pubsub)
                rds_pubsub_set_limits(srv->pubsub, tmp.pubsub_hard,
                                      tmp.pubsub_soft, tmp.pubsub_soft_s);
        pthread_mutex_unlock(&srv->cfg_lock);
        return 0;
}
