/*
 * redis/tools/cli.c - task-redis-cli: run one Redis command and print its
 * reply the way redis-cli does, on the blocking client (redis_blocking.h).
 *
 *     task-redis-cli get foo                  (nil)
 *     task-redis-cli set foo bar 5000         OK   (expires in 5000 ms)
 *     task-redis-cli -p 7000 lrange l 0 -1    1) "a" ...
 *     task-redis-cli subscribe news           messages until ^C
 *
 * What it is: mini-redis-cli's commands (get, set key value [expires-ms],
 * ping [msg], publish, subscribe) plus any other command passed through
 * as it is, with redis-cli's connection options.  The output is
 * redis-cli's, byte for byte, as it prints on a terminal (its --no-raw
 * format, which is ours whatever stdout is: "(integer) 1", `1) "a"` with
 * nested indentation, "(error) ...", quoted strings with escapes, RESP3
 * maps, sets, doubles and booleans as redis-cli 7 prints them under -3),
 * or, with --raw, as redis-cli's raw mode.  tests/redis/client/test_cli.py
 * compares the two on both servers.
 *
 * Deliberate differences from redis-cli 7.0: a RESP3 big number prints as
 * "(big number) N" (redis-cli 7.0 stops with "Unknown reply type"; 7.2
 * prints this); RESP3 attributes are skipped (redis-cli 7.0 stops with a
 * protocol error); a refused AUTH or SELECT at connect time is fatal
 * (exit 1) where redis-cli warns and goes on; `set key value N` with a
 * number N sets an expiry of N ms (mini-redis), where Redis answers a
 * syntax error; no interactive mode: a command is required.
 *
 * Exit status: 0 when the command was sent and its reply printed, an
 * error reply included (as redis-cli; with -e, an error reply goes to
 * stderr and exits 1); 1 when the connection failed or broke; 2 on bad
 * arguments (usage on stderr).  subscribe runs until SIGINT or SIGTERM,
 * then exits 0.
 */
#include <libtask/redis.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLI_VERSION "0.1.0"
#define EXIT_USAGE 2

struct config {
        char *host; /* malloc'ed only when it came from a URL */
        int port;
        const char *socket;
        const char *user;
        char *password; /* malloc'ed only when it came from a URL */
        int db;
        int protocol;
        bool raw;
        bool errcode; /* -e */
};

static const char usage_text[] =
    "Usage: task-redis-cli [OPTIONS] cmd [arg [arg ...]]\n"
    "  -h, --host <hostname>  Server hostname (default: 127.0.0.1).\n"
    "  -p, --port <port>      Server port (default: 6379).\n"
    "  -s <socket>            Server socket (overrides hostname and port).\n"
    "  -a, --pass <password>  Password to use when connecting to the server.\n"
    "  --user <username>      ACL user for AUTH (with -a).\n"
    "  -u <uri>               Server URI: "
    "redis://[[user]:password@]host[:port][/db].\n"
    "  -n <db>                Database number.\n"
    "  -2                     RESP2 (the default).\n"
    "  -3                     RESP3 (HELLO 3 on connecting).\n"
    "  -e                     Exit 1, the error on stderr, on an error "
    "reply.\n"
    "  --raw                  Raw formatting for replies (redis-cli's "
    "--raw).\n"
    "  --no-raw               Formatted output (the default, whatever "
    "stdout is).\n"
    "  --help                 Output this help and exit.\n"
    "  --version              Output version and exit.\n"
    "\n"
    "Commands (anything else is sent as it is):\n"
    "  get <key>                     prints the value, or (nil)\n"
    "  set <key> <value> [expires-ms]\n"
    "  ping [msg]\n"
    "  publish <channel> <message>\n"
    "  subscribe <channel>...        prints messages until interrupted\n"
    "  psubscribe <pattern>...\n";

static void usage_error(const char *fmt, ...)
{
        va_list ap;

        if (fmt) {
                fputs("task-redis-cli: ", stderr);
                va_start(ap, fmt);
                vfprintf(stderr, fmt, ap);
                va_end(ap);
                fputc('\n', stderr);
        }
        fputs(usage_text, stderr);
        exit(EXIT_USAGE);
}

static void oom(void)
{
        fputs("task-redis-cli: out of memory\n", stderr);
        exit(1);
}

/* ---- Output: a growable buffer --------------------------------------------- */

/*
 * The formatters build a reply's text in one buffer, as redis-cli builds
 * an sds, because the map format edits what it has written (the newline
 * after a key becomes " => ").
 */
struct out {
        char *p;
        size_t len, cap;
};

static void out_put(struct out *o, const void *s, size_t n)
{
        if (o->len + n + 1 > o->cap) {
                size_t cap = o->cap ? o->cap : 256;
                while (cap < o->len + n + 1)
                        cap *= 2;
                char *p = realloc(o->p, cap);
                if (!p)
                        oom();
                o->p = p;
                o->cap = cap;
        }
        memcpy(o->p + o->len, s, n);
        o->len += n;
        o->p[o->len] = '\0';
}

static void out_str(struct out *o, const char *s)
{
        out_put(o, s, strlen(s));
}

static void out_fmt(struct out *o, const char *fmt, ...)
{
        char tmp[64];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        if (n > 0)
                out_put(o, tmp,
                        (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A value's text as a C string: redis-cli prints errors, statuses and
 * doubles with %s, so a NUL inside ends them. */
static const char *cstr(const struct task_redis_value *v)
{
        return v->str ? v->str : "";
}

/* sdscatrepr: a quoted string, with \\ \" \n \r \t \a \b and \xHH for
 * other bytes outside printable ASCII. */
static void out_repr(struct out *o, const char *s, size_t n)
{
        out_put(o, "\"", 1);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '\\' || c == '"') {
                        char e[2] = {'\\', (char)c};
                        out_put(o, e, 2);
                } else if (c == '\n') {
                        out_str(o, "\\n");
                } else if (c == '\r') {
                        out_str(o, "\\r");
                } else if (c == '\t') {
                        out_str(o, "\\t");
                } else if (c == '\a') {
                        out_str(o, "\\a");
                } else if (c == '\b') {
                        out_str(o, "\\b");
                } else if (c >= 0x20 && c < 0x7f) {
                        out_put(o, &c, 1);
                } else {
                        out_fmt(o, "\\x%02x", c);
                }
        }
        out_put(o, "\"", 1);
}

static bool is_aggregate(enum task_redis_type t)
{
        return t == TASK_REDIS_ARRAY || t == TASK_REDIS_MAP ||
               t == TASK_REDIS_SET || t == TASK_REDIS_PUSH;
}

/* True when format_tty() prints @v on more than one line (redis-cli's
 * cliIsMultilineValueTTY). */
static bool multiline(const struct task_redis_value *v)
{
        if (!is_aggregate(v->type) || v->n == 0)
                return false;
        if (v->type == TASK_REDIS_MAP)
                return v->n > 2 || multiline(&v->elem[1]);
        return v->n > 1 || multiline(&v->elem[0]);
}

/*
 * redis-cli's terminal format (cliFormatReplyTTY).  An aggregate numbers
 * its elements "N) " (a set "N~ ", a map "N# " per pair), the numbers
 * right-aligned to the width of the largest; nested elements are
 * indented by the width of their parent's numbering; a map prints
 * "key => value" on one line, unless the value takes several lines:
 * then it starts on the next.  The first element goes on the line its parent's
 * number started.
 */
static void format_tty(struct out *o, const struct task_redis_value *v,
                       const char *prefix)
{
        switch (v->type) {
        case TASK_REDIS_ERROR:
                out_str(o, "(error) ");
                out_str(o, cstr(v));
                out_str(o, "\n");
                return;
        case TASK_REDIS_STATUS:
                out_str(o, cstr(v));
                out_str(o, "\n");
                return;
        case TASK_REDIS_INTEGER:
                out_fmt(o, "(integer) %" PRId64 "\n", v->integer);
                return;
        case TASK_REDIS_DOUBLE:
                out_str(o, "(double) ");
                out_str(o, cstr(v));
                out_str(o, "\n");
                return;
        case TASK_REDIS_BIGNUM:
                out_str(o, "(big number) ");
                out_str(o, cstr(v));
                out_str(o, "\n");
                return;
        case TASK_REDIS_STRING:
                out_repr(o, v->str, v->len);
                out_str(o, "\n");
                return;
        case TASK_REDIS_VERBATIM:
                out_put(o, v->str, v->len);
                out_str(o, "\n");
                return;
        case TASK_REDIS_NIL:
                out_str(o, "(nil)\n");
                return;
        case TASK_REDIS_BOOL:
                out_str(o, v->integer ? "(true)\n" : "(false)\n");
                return;
        case TASK_REDIS_ARRAY:
        case TASK_REDIS_MAP:
        case TASK_REDIS_SET:
        case TASK_REDIS_PUSH:
                break;
        }
        if (!is_aggregate(v->type))
                return;

        if (v->n == 0) {
                out_str(o, v->type == TASK_REDIS_MAP    ? "(empty hash)\n"
                           : v->type == TASK_REDIS_SET  ? "(empty set)\n"
                           : v->type == TASK_REDIS_PUSH ? "(empty push)\n"
                                                        : "(empty array)\n");
                return;
        }

        size_t count = v->type == TASK_REDIS_MAP ? v->n / 2 : v->n;
        int width = 0;
        size_t k = count;
        do {
                width++;
                k /= 10;
        } while (k);
        char sep = v->type == TASK_REDIS_SET   ? '~'
                   : v->type == TASK_REDIS_MAP ? '#'
                                               : ')';
        size_t plen = strlen(prefix);
        char *inner = malloc(plen + (size_t)width + 3);
        if (!inner)
                oom();
        memcpy(inner, prefix, plen);
        memset(inner + plen, ' ', (size_t)width + 2);
        inner[plen + (size_t)width + 2] = '\0';

        for (size_t i = 0; i < v->n; i++) {
                size_t human = (v->type == TASK_REDIS_MAP ? i / 2 : i) + 1;
                if (i > 0)
                        out_str(o, prefix);
                out_fmt(o, "%*zu%c ", width, human, sep);
                format_tty(o, &v->elem[i], inner);
                if (v->type == TASK_REDIS_MAP && i + 1 < v->n) {
                        i++;
                        o->len--; /* the key's newline */
                        out_str(o, " => ");
                        /* A value that takes several lines starts on
                         * a line of its own, aligned. */
                        if (multiline(&v->elem[i])) {
                                out_str(o, "\n");
                                out_str(o, inner);
                        }
                        format_tty(o, &v->elem[i], inner);
                }
        }
        free(inner);
}

/* redis-cli's raw format (cliFormatReplyRaw): bytes as they are,
 * aggregates one element per line, a map's pairs "key value". */
static void format_raw(struct out *o, const struct task_redis_value *v)
{
        switch (v->type) {
        case TASK_REDIS_NIL:
                return;
        case TASK_REDIS_ERROR:
                out_put(o, v->str, v->len);
                out_str(o, "\n");
                return;
        case TASK_REDIS_STATUS:
        case TASK_REDIS_STRING:
        case TASK_REDIS_VERBATIM:
        case TASK_REDIS_BIGNUM:
                out_put(o, v->str, v->len);
                return;
        case TASK_REDIS_BOOL:
                out_str(o, v->integer ? "(true)" : "(false)");
                return;
        case TASK_REDIS_INTEGER:
                out_fmt(o, "%" PRId64, v->integer);
                return;
        case TASK_REDIS_DOUBLE:
                out_str(o, cstr(v));
                return;
        case TASK_REDIS_MAP:
                for (size_t i = 0; i + 1 < v->n; i += 2) {
                        if (i > 0)
                                out_str(o, "\n");
                        format_raw(o, &v->elem[i]);
                        out_str(o, " ");
                        format_raw(o, &v->elem[i + 1]);
                }
                return;
        case TASK_REDIS_ARRAY:
        case TASK_REDIS_SET:
        case TASK_REDIS_PUSH:
                for (size_t i = 0; i < v->n; i++) {
                        if (i > 0)
                                out_str(o, "\n");
                        format_raw(o, &v->elem[i]);
                }
                return;
        }
}

/*
 * The commands whose replies redis-cli prints raw even on a terminal
 * (text meant to be read as it is: INFO, CLIENT LIST, ...); redis-cli
 * adds no newline of its own to them.
 */
static bool prints_verbatim(int argc, char **argv)
{
        const char *c = argv[0];
        const char *a1 = argc >= 2 ? argv[1] : "";

        return !strcasecmp(c, "info") || !strcasecmp(c, "lolwut") ||
               (argc >= 2 && !strcasecmp(c, "debug") &&
                (!strcasecmp(a1, "htstats") ||
                 !strcasecmp(a1, "htstats-key"))) ||
               (argc >= 2 && !strcasecmp(c, "memory") &&
                (!strcasecmp(a1, "malloc-stats") ||
                 !strcasecmp(a1, "doctor"))) ||
               (argc == 2 && !strcasecmp(c, "cluster") &&
                (!strcasecmp(a1, "nodes") || !strcasecmp(a1, "info"))) ||
               (argc >= 2 && !strcasecmp(c, "client") &&
                (!strcasecmp(a1, "list") || !strcasecmp(a1, "info"))) ||
               (argc == 3 && !strcasecmp(c, "latency") &&
                !strcasecmp(a1, "graph")) ||
               (argc == 2 && !strcasecmp(c, "latency") &&
                !strcasecmp(a1, "doctor")) ||
               (argc >= 2 && !strcasecmp(c, "proxy") &&
                !strcasecmp(a1, "info"));
}

/* Print one reply to stdout in the configured format. */
static void print_reply(const struct config *cfg,
                        const struct task_redis_value *v, bool verbatim)
{
        struct out o = {0};

        if (verbatim) {
                format_raw(&o, v);
        } else if (cfg->raw) {
                format_raw(&o, v);
                out_str(&o, "\n");
        } else {
                format_tty(&o, v, "");
        }
        if (o.len)
                fwrite(o.p, 1, o.len, stdout);
        free(o.p);
}

/* ---- Arguments --------------------------------------------------------------- */

static int parse_int(const char *s, long lo, long hi, const char *what)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi)
                usage_error("bad %s: '%s'", what, s);
        return (int)v;
}

/* %XX decoding of a URL's password (redis-cli's percentDecode). */
static char *percent_decode(const char *s, size_t n)
{
        char *out = malloc(n + 1), *w = out;

        if (!out)
                oom();
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%') {
                        if (n - i < 3)
                                usage_error("incomplete URI encoding");
                        if (!isxdigit((unsigned char)s[i + 1]) ||
                            !isxdigit((unsigned char)s[i + 2]))
                                usage_error("illegal character in URI "
                                            "encoding");
                        char hex[3] = {s[i + 1], s[i + 2], 0};
                        *w++ = (char)strtol(hex, NULL, 16);
                        i += 2;
                } else {
                        *w++ = s[i];
                }
        }
        *w = '\0';
        return out;
}

/*
 * -u redis://[[user]:password@]host[:port][/db], as redis-cli reads it
 * (a user before the password is ignored, as redis-cli 7.0 does).
 */
static void parse_url(struct config *cfg, const char *url)
{
        static const char scheme[] = "redis://";
        const char *p, *end, *at, *slash, *colon;

        if (strncasecmp(url, scheme, sizeof scheme - 1))
                usage_error("invalid URI scheme: '%s'", url);
        p = url + sizeof scheme - 1;
        end = p + strlen(p);
        at = strchr(p, '@');
        if (at) {
                colon = memchr(p, ':', (size_t)(at - p));
                if (colon)
                        p = colon + 1;
                free(cfg->password);
                cfg->password = percent_decode(p, (size_t)(at - p));
                p = at + 1;
        }
        slash = strchr(p, '/');
        const char *hend = slash ? slash : end;
        if (hend > p) {
                colon = memchr(p, ':', (size_t)(hend - p));
                if (colon) {
                        char port[16];
                        size_t n = (size_t)(hend - colon - 1);
                        if (n == 0 || n >= sizeof port)
                                usage_error("bad port in URI: '%s'", url);
                        memcpy(port, colon + 1, n);
                        port[n] = '\0';
                        cfg->port = parse_int(port, 1, 65535, "port");
                        hend = colon;
                }
                free(cfg->host);
                cfg->host = strndup(p, (size_t)(hend - p));
                if (!cfg->host)
                        oom();
        }
        if (slash && slash[1])
                cfg->db = parse_int(slash + 1, 0, 1 << 30, "database");
}

/* Parse the options; returns the index of the command's first word. */
static int parse_args(struct config *cfg, int argc, char **argv)
{
        int i;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                bool has_next = i + 1 < argc;

                if (a[0] != '-')
                        break;
                if (!strcmp(a, "--")) {
                        i++;
                        break;
                }
                if (!strcmp(a, "--help")) {
                        fputs(usage_text, stdout);
                        exit(0);
                } else if (!strcmp(a, "--version")) {
                        printf("task-redis-cli %s\n", CLI_VERSION);
                        exit(0);
                } else if (!strcmp(a, "--raw")) {
                        cfg->raw = true;
                } else if (!strcmp(a, "--no-raw")) {
                        cfg->raw = false;
                } else if (!strcmp(a, "-2")) {
                        cfg->protocol = 2;
                } else if (!strcmp(a, "-3")) {
                        cfg->protocol = 3;
                } else if (!strcmp(a, "-e")) {
                        cfg->errcode = true;
                } else if (!has_next) {
                        usage_error("unknown option or missing argument: "
                                    "'%s'",
                                    a);
                } else if (!strcmp(a, "-h") || !strcmp(a, "--host")) {
                        free(cfg->host);
                        cfg->host = strdup(argv[++i]);
                        if (!cfg->host)
                                oom();
                } else if (!strcmp(a, "-p") || !strcmp(a, "--port")) {
                        cfg->port = parse_int(argv[++i], 1, 65535, "port");
                } else if (!strcmp(a, "-s")) {
                        cfg->socket = argv[++i];
                } else if (!strcmp(a, "-a") || !strcmp(a, "--pass")) {
                        free(cfg->password);
                        cfg->password = strdup(argv[++i]);
                        if (!cfg->password)
                                oom();
                } else if (!strcmp(a, "--user")) {
                        cfg->user = argv[++i];
                } else if (!strcmp(a, "-n")) {
                        cfg->db = parse_int(argv[++i], 0, 1 << 30, "database");
                } else if (!strcmp(a, "-u")) {
                        parse_url(cfg, argv[++i]);
                } else {
                        usage_error("unknown option: '%s'", a);
                }
        }
        return i;
}

/* ---- Connecting -------------------------------------------------------------- */

/* What went wrong, in the words redis-cli (hiredis) uses where it can. */
static const char *connect_error(int rc)
{
        switch (-rc) {
        case ENOENT:
                return "Name or service not known";
        case EAGAIN:
                return "Temporary failure in name resolution";
        case EACCES:
                return "AUTH failed: the server refused the password";
        case EPROTONOSUPPORT:
                return "HELLO 3 refused: the server does not speak RESP3";
        case EREMOTEIO:
                return "the server refused the connection's handshake "
                       "(SELECT, AUTH or HELLO)";
        default:
                return task_strerror(rc);
        }
}

static task_redis_blocking *connect_or_exit(const struct config *cfg)
{
        struct task_redis_opts o;
        task_redis_blocking *b;
        char where[1100];
        int rc;

        if (cfg->socket)
                snprintf(where, sizeof where, "unix:%s", cfg->socket);
        else if (strchr(cfg->host, ':'))
                snprintf(where, sizeof where, "[%s]:%d", cfg->host, cfg->port);
        else
                snprintf(where, sizeof where, "%s:%d", cfg->host, cfg->port);

        task_redis_opts_init(&o);
        o.protocol = cfg->protocol;
        o.user = cfg->user;
        o.password = cfg->password;
        o.db = cfg->db;
        rc = task_redis_blocking_connect(where, &o, &b);
        if (rc == 0)
                return b;
        if (cfg->socket)
                fprintf(stderr, "Could not connect to Redis at %s: %s\n",
                        cfg->socket,
                        rc == -ENOENT ? task_strerror(rc) : connect_error(rc));
        else
                fprintf(stderr, "Could not connect to Redis at %s:%d: %s\n",
                        cfg->host, cfg->port, connect_error(rc));
        exit(1);
}

/* ---- Subscribing ----------------------------------------------------------- */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

/* Print [w0, w1, ...] (strings) then [.., count] as redis-cli prints a
 * pub/sub array. */
static void print_words(const struct config *cfg, const char *const *w,
                        const size_t *lens, int n, const int64_t *count)
{
        struct task_redis_value elem[5] = {{0}};
        struct task_redis_value arr = {0};
        int k = 0;

        for (; k < n; k++) {
                elem[k].type = TASK_REDIS_STRING;
                elem[k].str = (char *)w[k];
                elem[k].len = lens[k];
        }
        if (count) {
                elem[k].type = TASK_REDIS_INTEGER;
                elem[k].integer = *count;
                k++;
        }
        arr.type = TASK_REDIS_ARRAY;
        arr.elem = elem;
        arr.n = (size_t)k;
        print_reply(cfg, &arr, false);
}

/*
 * subscribe/psubscribe: redis-cli's pub/sub mode.  The confirmations are
 * printed as the server sent them: the subscriber API awaited each, and
 * the count in the n-th is the number of distinct names among the first
 * n (a fresh connection subscribes to nothing else).  Then messages until
 * SIGINT/SIGTERM: next() with a short timeout, so that the signal flag is
 * looked at (a timed-out next loses nothing).
 */
static int subscribe_mode(const struct config *cfg, task_redis_blocking *b,
                          int argc, char **argv)
{
        bool pattern = !strcasecmp(argv[0], "psubscribe");
        task_redis_blocking_sub *s;
        struct sigaction sa;
        int rc;

        if (!cfg->raw)
                printf("Reading messages... (press Ctrl-C to quit)\n");
        rc = task_redis_blocking_sub_new(b, &s);
        if (rc < 0) {
                fprintf(stderr, "Error: %s\n", task_strerror(rc));
                task_redis_blocking_close(b);
                return 1;
        }
        const char *const *names = (const char *const *)argv + 1;
        rc = pattern ? task_redis_blocking_psubscribe(s, argc - 1, names, NULL)
                     : task_redis_blocking_subscribe(s, argc - 1, names, NULL);
        if (rc == -EREMOTEIO) {
                const task_redis *c =
                    task_redis_sub_client(task_redis_blocking_sub_async(s));
                struct task_redis_value e = {.type = TASK_REDIS_ERROR};
                e.str = (char *)task_redis_last_error(c);
                e.len = strlen(e.str);
                print_reply(cfg, &e, false);
                task_redis_blocking_sub_close(s);
                return 0;
        }
        if (rc < 0)
                goto out_err;
        /* Only now: the subscribe itself waits without a timeout, so a
         * flag set by ^C while a stalled server has not confirmed would
         * never be looked at.  Until here the signals kill, as they do
         * redis-cli. */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        for (int i = 1; i < argc; i++) {
                int64_t distinct = 0;
                for (int j = 1; j <= i; j++) {
                        int k = 1;
                        while (k < j && strcmp(argv[k], argv[j]))
                                k++;
                        distinct += k == j;
                }
                const char *w[2] = {pattern ? "psubscribe" : "subscribe",
                                    argv[i]};
                size_t l[2] = {strlen(w[0]), strlen(w[1])};
                print_words(cfg, w, l, 2, &distinct);
        }
        if (fflush(stdout) != 0)
                goto out_stdout;

        while (!stop) {
                struct task_redis_msg m;
                rc = task_redis_blocking_sub_next(s, 100, &m);
                if (rc == -ETIMEDOUT)
                        continue;
                if (rc < 0)
                        goto out_err;
                if (m.kind == TASK_REDIS_MSG_PMESSAGE) {
                        const char *w[4] = {"pmessage", m.pattern, m.channel,
                                            m.payload};
                        size_t l[4] = {8, m.pattern_len, m.channel_len,
                                       m.payload_len};
                        print_words(cfg, w, l, 4, NULL);
                } else {
                        const char *w[3] = {"message", m.channel, m.payload};
                        size_t l[3] = {7, m.channel_len, m.payload_len};
                        print_words(cfg, w, l, 3, NULL);
                }
                task_redis_msg_free(&m);
                /* Nobody reads any more (`| head -1`): stop, as
                 * redis-cli does (SIGPIPE kills it). */
                if (fflush(stdout) != 0)
                        goto out_stdout;
        }
        task_redis_blocking_sub_close(s);
        return 0;

out_stdout:
        task_redis_blocking_sub_close(s);
        return 1;

out_err:
        fflush(stdout);
        fprintf(stderr, "Error: %s\n", task_strerror(rc));
        task_redis_blocking_sub_close(s);
        return 1;
}

/* ---- main ------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char)*s))
                        return false;
        return true;
}

int main(int argc, char **argv)
{
        struct config cfg = {.port = TASK_REDIS_PORT, .protocol = 2};
        struct task_redis_value *reply;
        task_redis_blocking *b;
        int first, rc, status = 0;

        signal(SIGPIPE, SIG_IGN);
        first = parse_args(&cfg, argc, argv);
        if (first >= argc)
                usage_error("no command given");
        argc -= first;
        argv += first;
        if (!cfg.host) {
                cfg.host = strdup("127.0.0.1");
                if (!cfg.host)
                        oom();
        }

        b = connect_or_exit(&cfg);

        /* subscribe with no channel is the server's error to print, as
         * redis-cli does. */
        if ((!strcasecmp(argv[0], "subscribe") ||
             !strcasecmp(argv[0], "psubscribe")) &&
            argc > 1) {
                status = subscribe_mode(&cfg, b, argc, argv);
                goto out;
        }
        if (!strcasecmp(argv[0], "subscribe") ||
            !strcasecmp(argv[0], "psubscribe"))
                if (!cfg.raw)
                        printf("Reading messages... (press Ctrl-C to quit)\n");

        /* mini-redis-cli: set key value expires-ms. */
        const char *set_px[5];
        const char *const *cmd = (const char *const *)argv;
        int n = argc;
        if (argc == 4 && !strcasecmp(argv[0], "set") && all_digits(argv[3])) {
                set_px[0] = argv[0];
                set_px[1] = argv[1];
                set_px[2] = argv[2];
                set_px[3] = "PX";
                set_px[4] = argv[3];
                cmd = set_px;
                n = 5;
        }

        rc = task_redis_blocking_cmd(b, n, cmd, NULL, &reply);
        if (rc < 0) {
                fprintf(stderr, "Error: %s\n",
                        rc == -ECONNRESET ? "Server closed the connection"
                                          : task_strerror(rc));
                status = 1;
                goto out_close;
        }
        if (cfg.errcode && reply->type == TASK_REDIS_ERROR) {
                fprintf(stderr, "%s\n", cstr(reply));
                status = 1;
        } else {
                print_reply(&cfg, reply, prints_verbatim(argc, argv));
        }
        task_redis_value_free(reply);
out_close:
        task_redis_blocking_close(b);
out:
        if (fflush(stdout) != 0)
                status = 1;
        free(cfg.host);
        free(cfg.password);
        return status;
}
