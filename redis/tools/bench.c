/*
 * bench.c - task-redis-bench: a Redis load generator on libtask, in the
 * manner of redis-benchmark (same test names, keys, CSV columns and
 * summary), built to spend less CPU per request than it does.
 *
 *   task-redis-bench [-h host] [-p port] [-s socket] [-a password]
 *       [--user name] [--dbnum n] [-3] [-c clients] [-n requests]
 *       [--duration secs] [--warmup secs] [-d size] [-r keyspace]
 *       [-P pipeline] [--threads n] [-t tests | --ratio GET:SET]
 *       [-q] [--csv] [--progress] [--] [command args...]
 *
 * The shape of a run:
 *
 *  1. main() parses the options and encodes every request once
 *     (task_redis_encode): a test is one or two templates (a --ratio mix
 *     has a GET and a SET), each with the offsets of its "__rand_int__"
 *     placeholders, which -r patches in place with 12 random digits, as
 *     redis-benchmark does.
 *  2. --threads worker threads each own a one-worker TASK_MULTI_THREAD
 *     runtime (one thread is one core: no stealing, no atomics on the hot
 *     path; the thread itself sleeps in task_block_on while the runtime's
 *     worker runs the connections) and their share of the -c connections.
 *     Not TASK_CURRENT_THREAD: its ring takes no setup flags (block_on may
 *     move between threads), while a worker's ring is single-issuer with
 *     deferred task work, so completions are reaped in batches when the
 *     worker asks instead of interrupting it; measured with
 *     bench/compare-loadgen.sh on a quiet 2-core machine, that took our
 *     CPU per request from 0.82-1.00x redis-benchmark's to 0.55-0.57x and
 *     throughput from 0.86-1.00x to 1.13-1.45x.  A setup task per connection
 *     connects and sends AUTH / SELECT / HELLO 3; every thread reports back
 *     and waits for the next test (struct ctl: a mutex and two condition
 *     variables, touched once per test).
 *  3. Per test, one load task per connection loops: claim up to -P
 *     requests from its thread's budget (-n) or until the deadline
 *     (--duration), patch the keys in the connection's batch buffer (built
 *     once per test), send the batch in one write, and read into a fixed
 *     buffer until the batch's replies are in, skipping over them with
 *     task_redis_reader_skip (no allocation, no tree).  Error replies are
 *     counted; the first one's text is kept for the report.
 *  4. Latency: each reply's latency is the time from its batch's send to
 *     the read that completed it (CLOCK_MONOTONIC, read once per read,
 *     never per reply; the read that completes a batch also dates the
 *     next batch's send, made in the same poll).  With -P 1 that is
 *     redis-benchmark's measure, request by request; with -P > 1 each
 *     reply counts from the batch's send to its own read (redis-benchmark
 *     stamps a whole batch with its first read).  Unlike redis-benchmark,
 *     the next batch leaves as soon as the replies are in, so the latency
 *     covers nearly all of a connection's time: docs/bench.md explains
 *     why our p50 is the higher one at equal throughput.
 *     It goes into a per-thread log-linear histogram (HDR-like: 64
 *     sub-buckets per power of two, under 1.6% error), merged at the end.
 *  5. main() waits for the threads (printing a progress line every 250 ms
 *     on a tty or with --progress), merges, prints, and starts the next
 *     test on the same connections.
 *
 * Nothing on the hot path allocates: the batch and read buffers, the
 * reader (its skip mode keeps only counters) and the histograms are all
 * allocated before the first test.
 *
 * Exit status: 0; 1 when the server cannot be reached, refuses AUTH or
 * SELECT, or drops a connection (with a message on stderr); 2 on bad
 * arguments (with the usage).  Error replies do not change the status
 * (as with redis-benchmark): they are reported.
 */
#include <libtask/net.h>
#include <libtask/redis_value.h>
#include <libtask/task.h>

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_BUF (16 * 1024)           /* per-connection read buffer */
#define CONNECT_TIMEOUT TASK_SEC(10) /* per connection attempt */
#define MAX_TEMPLATES 2              /* a --ratio mix: GET and SET */
#define RAND_DIGITS 12               /* "__rand_int__" is 12 bytes too */
#define PROGRESS_NS TASK_MS(250)
#define ERRTEXT 160

/* ---- Options ---------------------------------------------------------------- */

static struct opts {
        const char *host, *sock, *auth, *user;
        int port, dbnum;
        bool resp3, quiet, csv, progress;
        unsigned clients, pipeline, threads;
        uint64_t requests, keyspace;
        double duration, warmup; /* seconds; 0: not set */
        size_t datasize;
        const char *tests;
        unsigned ratio_get, ratio_set; /* --ratio; both 0: not set */
        int cmd_argc;                  /* a custom command */
        char **cmd_argv;
} O = {
    .host = "127.0.0.1",
    .port = 6379,
    .clients = 50,
    .pipeline = 1,
    .threads = 1,
    .requests = 100000,
    .datasize = 3,
};

static void usage(FILE *out)
{
        fputs("Usage: task-redis-bench [options] [--] [command args...]\n"
              "\n"
              "  -h HOST          server host name or address (127.0.0.1)\n"
              "  -p PORT          server port (6379)\n"
              "  -s SOCKET        Unix socket path (overrides -h and -p)\n"
              "  -a PASSWORD      AUTH with this password\n"
              "  --user NAME      AUTH as this user (with -a)\n"
              "  --dbnum N        SELECT this database (0)\n"
              "  -3               speak RESP3 (HELLO 3)\n"
              "  -c CLIENTS       parallel connections (50)\n"
              "  -n REQUESTS      total requests per test (100000)\n"
              "  --duration SECS  run each test this long instead of -n\n"
              "  --warmup SECS    load without measuring first (0)\n"
              "  -d SIZE          SET/LPUSH/... value size in bytes (3)\n"
              "  -r KEYSPACE      random keys key:NNNNNNNNNNNN below KEYSPACE\n"
              "                   (replaces __rand_int__ in every argument)\n"
              "  -P PIPELINE      requests per connection per write (1)\n"
              "  --threads N      worker threads, one runtime each (1)\n"
              "  -t TESTS         comma-separated, as redis-benchmark names "
              "them:\n"
              "                   ping_inline,ping_mbulk (or ping),set,get,"
              "incr,\n"
              "                   lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,"
              "zpopmin,\n"
              "                   lrange (or lrange_100/_300/_500/_600),mset\n"
              "  --ratio G:S      one test mixing GET and SET, G GETs per S "
              "SETs\n"
              "  -q               quiet: one line per test\n"
              "  --csv            CSV output (redis-benchmark's columns, then "
              "p90,\n"
              "                   p99.9, requests and errors)\n"
              "  --progress       a progress line on stderr even off a tty\n"
              "  --help           this text\n"
              "\n"
              "A command after the options (or after --) is the only test; "
              "each\n"
              "__rand_int__ in it is a random number below -r (with -r).\n",
              out);
}

static _Noreturn void bad_args(const char *fmt, const char *arg)
{
        fputs("task-redis-bench: ", stderr);
        fprintf(stderr, fmt, arg);
        fputs("\n\n", stderr);
        usage(stderr);
        exit(2);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t lo,
                          uint64_t hi)
{
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-')
                bad_args("bad number for %s", opt);
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v < lo || v > hi)
                bad_args("bad number for %s", opt);
        return v;
}

static double parse_secs(const char *opt, const char *s, bool zero_ok)
{
        char *end;
        double v;

        if (!s || !*s)
                bad_args("bad number of seconds for %s", opt);
        errno = 0;
        v = strtod(s, &end);
        if (errno || *end || !isfinite(v) || v < 0 || (!zero_ok && v == 0) ||
            v > 86400 * 365)
                bad_args("bad number of seconds for %s", opt);
        return v;
}

static void parse_args(int argc, char **argv)
{
        int i;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                bool takes = true;

                if (!strcmp(a, "--")) {
                        i++;
                        break;
                }
                if (a[0] != '-')
                        break; /* the command */
                if (!strcmp(a, "--help")) {
                        usage(stdout);
                        exit(0);
                } else if (!strcmp(a, "-q")) {
                        O.quiet = true, takes = false;
                } else if (!strcmp(a, "--csv")) {
                        O.csv = true, takes = false;
                } else if (!strcmp(a, "--progress")) {
                        O.progress = true, takes = false;
                } else if (!strcmp(a, "-3")) {
                        O.resp3 = true, takes = false;
                } else if (!v) {
                        bad_args("%s needs a value", a);
                } else if (!strcmp(a, "-h")) {
                        O.host = v;
                } else if (!strcmp(a, "-p")) {
                        O.port = (int)parse_u64(a, v, 1, 65535);
                } else if (!strcmp(a, "-s")) {
                        O.sock = v;
                } else if (!strcmp(a, "-a")) {
                        O.auth = v;
                } else if (!strcmp(a, "--user")) {
                        O.user = v;
                } else if (!strcmp(a, "--dbnum")) {
                        O.dbnum = (int)parse_u64(a, v, 0, 1 << 20);
                } else if (!strcmp(a, "-c")) {
                        O.clients = (unsigned)parse_u64(a, v, 1, 100000);
                } else if (!strcmp(a, "-n")) {
                        O.requests = parse_u64(a, v, 1, UINT64_C(1) << 50);
                } else if (!strcmp(a, "--duration")) {
                        O.duration = parse_secs(a, v, false);
                } else if (!strcmp(a, "--warmup")) {
                        O.warmup = parse_secs(a, v, true);
                } else if (!strcmp(a, "-d")) {
                        O.datasize = parse_u64(a, v, 0, 64 << 20);
                } else if (!strcmp(a, "-r")) {
                        O.keyspace = parse_u64(a, v, 1, UINT64_C(999999999999));
                } else if (!strcmp(a, "-P")) {
                        O.pipeline = (unsigned)parse_u64(a, v, 1, 100000);
                } else if (!strcmp(a, "--threads")) {
                        O.threads = (unsigned)parse_u64(a, v, 1, 256);
                } else if (!strcmp(a, "-t")) {
                        O.tests = v;
                } else if (!strcmp(a, "--ratio")) {
                        unsigned g, s;
                        char end;

                        if (sscanf(v, "%u:%u%c", &g, &s, &end) != 2 ||
                            g + s == 0 || g > 1000000 || s > 1000000 ||
                            v[0] == '-' || strchr(v, '-'))
                                bad_args("bad --ratio %s (GET:SET, e.g. 9:1)",
                                         v);
                        O.ratio_get = g, O.ratio_set = s;
                } else {
                        bad_args("unknown option %s", a);
                }
                if (takes)
                        i++;
        }
        if (i < argc) {
                O.cmd_argc = argc - i;
                O.cmd_argv = argv + i;
        }
        if (O.cmd_argc && (O.tests || O.ratio_get + O.ratio_set))
                bad_args("%s", "a command excludes -t and --ratio");
        if (O.tests && O.ratio_get + O.ratio_set)
                bad_args("%s", "-t and --ratio exclude each other");
        if (O.user && !O.auth)
                bad_args("%s", "--user needs -a");
        if (O.threads > O.clients)
                O.threads = O.clients; /* a thread without connections */
}

/* ---- Tests: requests encoded once --------------------------------------------- */

struct tmpl {
        char *buf; /* the encoded request */
        size_t len;
        size_t nrand;  /* "__rand_int__" placeholders (patched with -r) */
        size_t *rands; /* their offsets in buf */
};

struct test {
        char *title; /* as redis-benchmark prints it */
        struct tmpl t[MAX_TEMPLATES];
        unsigned nt;
        unsigned weight0, cycle; /* mix: t[0] for weight0 of every cycle */
        size_t maxlen;
};

static struct test *tests;
static unsigned ntests;
static char *data; /* the -d value */

static void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);

        if (!p) {
                fputs("task-redis-bench: out of memory\n", stderr);
                exit(1);
        }
        return p;
}

static char *xstrdup(const char *s)
{
        size_t n = strlen(s) + 1;

        return memcpy(xmalloc(n), s, n);
}

/* Encode @argc args into @t and find the placeholders. */
static void tmpl_make(struct tmpl *t, int argc, const char *const *argv)
{
        long long n = task_redis_encode(NULL, 0, argc, argv, NULL);
        size_t i;

        if (n < 0) {
                fprintf(stderr, "task-redis-bench: cannot encode: %s\n",
                        task_strerror((int)n));
                exit(1);
        }
        t->buf = xmalloc((size_t)n);
        t->len = (size_t)task_redis_encode(t->buf, (size_t)n, argc, argv, NULL);
        t->nrand = 0;
        t->rands = xmalloc(sizeof *t->rands * (t->len / RAND_DIGITS + 1));
        if (!O.keyspace)
                return; /* without -r the key is literally key:__rand_int__ */
        for (i = 0; i + RAND_DIGITS <= t->len; i++)
                if (!memcmp(t->buf + i, "__rand_int__", RAND_DIGITS)) {
                        t->rands[t->nrand++] = i;
                        i += RAND_DIGITS - 1;
                }
}

static struct test *test_add(const char *title)
{
        struct test *x;

        tests = realloc(tests, sizeof *tests * (ntests + 1));
        if (!tests) {
                fputs("task-redis-bench: out of memory\n", stderr);
                exit(1);
        }
        x = &tests[ntests++];
        memset(x, 0, sizeof *x);
        x->title = xstrdup(title);
        x->nt = 1;
        x->weight0 = x->cycle = 1;
        return x;
}

/* A test of one command given as words (@data stands for the value). */
static void test_words(const char *title, const char *words)
{
        const char *argv[24];
        char buf[256], *save = NULL, *w;
        int argc = 0;
        struct test *x = test_add(title);

        snprintf(buf, sizeof buf, "%s", words);
        for (w = strtok_r(buf, " ", &save); w && argc < 24;
             w = strtok_r(NULL, " ", &save))
                argv[argc++] = !strcmp(w, "$DATA") ? data : w;
        tmpl_make(&x->t[0], argc, argv);
        x->maxlen = x->t[0].len;
}

/* redis-benchmark's list, in its order, with its titles. */
static const struct builtin {
        const char *name, *title, *words;
} builtins[] = {
    {"ping_inline", "PING_INLINE", NULL},
    {"ping_mbulk", "PING_MBULK", "PING"},
    {"set", "SET", "SET key:__rand_int__ $DATA"},
    {"get", "GET", "GET key:__rand_int__"},
    {"incr", "INCR", "INCR counter:__rand_int__"},
    {"lpush", "LPUSH", "LPUSH mylist $DATA"},
    {"rpush", "RPUSH", "RPUSH mylist $DATA"},
    {"lpop", "LPOP", "LPOP mylist"},
    {"rpop", "RPOP", "RPOP mylist"},
    {"sadd", "SADD", "SADD myset element:__rand_int__"},
    {"hset", "HSET", "HSET myhash element:__rand_int__ $DATA"},
    {"spop", "SPOP", "SPOP myset"},
    {"zadd", "ZADD", NULL},
    {"zpopmin", "ZPOPMIN", "ZPOPMIN myzset"},
    {"lrange_fill", "LPUSH (needed to benchmark LRANGE)", "LPUSH mylist $DATA"},
    {"lrange_100", "LRANGE_100 (first 100 elements)", "LRANGE mylist 0 99"},
    {"lrange_300", "LRANGE_300 (first 300 elements)", "LRANGE mylist 0 299"},
    {"lrange_500", "LRANGE_500 (first 500 elements)", "LRANGE mylist 0 499"},
    {"lrange_600", "LRANGE_600 (first 600 elements)", "LRANGE mylist 0 599"},
    {"mset", "MSET (10 keys)", NULL},
};
#define NBUILTINS (sizeof builtins / sizeof builtins[0])

/* Is @name in the -t list (",a,b,")?  Everything is, without -t. */
static bool selected(const char *list, const char *name)
{
        char key[64];

        if (!list)
                return true;
        snprintf(key, sizeof key, ",%s,", name);
        return strstr(list, key) != NULL;
}

static bool builtin_selected(const char *list, const char *name)
{
        if (selected(list, name))
                return true;
        if (!strncmp(name, "ping_", 5))
                return selected(list, "ping");
        if (!strncmp(name, "lrange_", 7)) {
                if (selected(list, "lrange"))
                        return true;
                if (!strcmp(name, "lrange_fill"))
                        return selected(list, "lrange_100") ||
                               selected(list, "lrange_300") ||
                               selected(list, "lrange_500") ||
                               selected(list, "lrange_600");
        }
        return false;
}

static void build_tests(void)
{
        char *list = NULL;
        size_t i;

        data = xmalloc(O.datasize + 1);
        memset(data, 'x', O.datasize);
        data[O.datasize] = '\0';

        if (O.cmd_argc) {
                size_t len = 0;
                char *title;
                struct test *x;

                for (i = 0; i < (size_t)O.cmd_argc; i++)
                        len += strlen(O.cmd_argv[i]) + 1;
                title = xmalloc(len + 1);
                title[0] = '\0';
                for (i = 0; i < (size_t)O.cmd_argc; i++) {
                        if (i)
                                strcat(title, " ");
                        strcat(title, O.cmd_argv[i]);
                }
                x = test_add(title);
                free(title);
                tmpl_make(&x->t[0], O.cmd_argc,
                          (const char *const *)O.cmd_argv);
                x->maxlen = x->t[0].len;
                return;
        }
        if (O.ratio_get + O.ratio_set) {
                char title[64];
                const char *get[] = {"GET", "key:__rand_int__"};
                const char *set[] = {"SET", "key:__rand_int__", data};
                struct test *x;

                snprintf(title, sizeof title, "GET:SET %u:%u", O.ratio_get,
                         O.ratio_set);
                x = test_add(title);
                tmpl_make(&x->t[0], 2, get);
                tmpl_make(&x->t[1], 3, set);
                x->nt = 2;
                x->weight0 = O.ratio_get;
                x->cycle = O.ratio_get + O.ratio_set;
                x->maxlen =
                    x->t[0].len > x->t[1].len ? x->t[0].len : x->t[1].len;
                return;
        }
        if (O.tests) {
                /* ",a,b," lowercased, every name checked. */
                char *save = NULL, *w, *copy = xstrdup(O.tests);

                list = xmalloc(strlen(O.tests) + 3);
                strcpy(list, ",");
                for (w = strtok_r(copy, ",", &save); w;
                     w = strtok_r(NULL, ",", &save)) {
                        bool known;

                        for (char *p = w; *p; p++)
                                if (*p >= 'A' && *p <= 'Z')
                                        *p = (char)(*p - 'A' + 'a');
                        known = !strcmp(w, "ping") || !strcmp(w, "lrange");
                        for (i = 0; i < NBUILTINS && !known; i++)
                                known = !strcmp(w, builtins[i].name) &&
                                        strcmp(w, "lrange_fill");
                        if (!known)
                                bad_args("unknown test %s (see -t)", w);
                        strcat(list, w);
                        strcat(list, ",");
                }
                free(copy);
                if (!strcmp(list, ","))
                        bad_args("%s", "-t names no test");
        }
        for (i = 0; i < NBUILTINS; i++) {
                const struct builtin *b = &builtins[i];

                if (!builtin_selected(list, b->name))
                        continue;
                if (!strcmp(b->name, "ping_inline")) {
                        struct test *x = test_add(b->title);

                        x->t[0].buf = xstrdup("PING\r\n");
                        x->t[0].len = x->maxlen = 6;
                        x->t[0].rands = NULL;
                } else if (!strcmp(b->name, "zadd")) {
                        test_words(b->title,
                                   O.keyspace
                                       ? "ZADD myzset __rand_int__ "
                                         "element:__rand_int__"
                                       : "ZADD myzset 0 element:__rand_int__");
                } else if (!strcmp(b->name, "mset")) {
                        const char *argv[21];
                        struct test *x = test_add(b->title);

                        argv[0] = "MSET";
                        for (int k = 1; k < 21; k += 2)
                                argv[k] = "key:__rand_int__",
                                argv[k + 1] = data;
                        tmpl_make(&x->t[0], 21, argv);
                        x->maxlen = x->t[0].len;
                } else {
                        test_words(b->title, b->words);
                }
        }
        free(list);
}

/* ---- Latency histogram ------------------------------------------------------------ */

/*
 * Log-linear buckets over nanoseconds: values below 128 have a bucket
 * each; above, every power of two [2^m, 2^(m+1)) is cut into 64 equal
 * buckets, so a bucket is at most 1/64 of its values wide.
 */
#define HIST_BUCKETS (57 * 64 + 128)

static inline unsigned hist_index(uint64_t v)
{
        unsigned shift;

        if (v < 128)
                return (unsigned)v;
        shift = (unsigned)(63 - __builtin_clzll(v)) - 6;
        return shift * 64 + (unsigned)(v >> shift);
}

/* The largest value that falls in bucket @i. */
static uint64_t hist_upper(unsigned i)
{
        unsigned shift;

        if (i < 128)
                return i;
        shift = i / 64 - 1;
        return (((uint64_t)(i - shift * 64) + 1) << shift) - 1;
}

struct stats {
        uint64_t count, errors;
        uint64_t sum_ns, min_ns, max_ns;
        uint64_t start_ns, end_ns; /* measured from, last counted reply */
        char first_error[ERRTEXT];
        uint64_t hist[HIST_BUCKETS];
};

static void stats_reset(struct stats *s)
{
        memset(s, 0, sizeof *s);
        s->min_ns = UINT64_MAX;
}

static void stats_merge(struct stats *into, const struct stats *s)
{
        if (!s->count && !s->errors)
                return;
        if (!into->first_error[0])
                memcpy(into->first_error, s->first_error, ERRTEXT);
        into->errors += s->errors;
        if (!s->count)
                return;
        if (!into->count || s->start_ns < into->start_ns)
                into->start_ns = s->start_ns;
        if (s->end_ns > into->end_ns)
                into->end_ns = s->end_ns;
        into->count += s->count;
        into->sum_ns += s->sum_ns;
        if (s->min_ns < into->min_ns)
                into->min_ns = s->min_ns;
        if (s->max_ns > into->max_ns)
                into->max_ns = s->max_ns;
        for (unsigned i = 0; i < HIST_BUCKETS; i++)
                into->hist[i] += s->hist[i];
}

/* The value at percentile @q (0..100): its bucket's top, within min..max. */
static uint64_t stats_pct(const struct stats *s, double q)
{
        uint64_t want, seen = 0;

        if (!s->count)
                return 0;
        want = (uint64_t)ceil(q / 100.0 * (double)s->count);
        if (want < 1)
                want = 1;
        for (unsigned i = 0; i < HIST_BUCKETS; i++) {
                seen += s->hist[i];
                if (seen >= want) {
                        uint64_t v = hist_upper(i);

                        if (v > s->max_ns)
                                v = s->max_ns;
                        if (v < s->min_ns)
                                v = s->min_ns;
                        return v;
                }
        }
        return s->max_ns;
}

/* ---- Workers ---------------------------------------------------------------------- */

struct conn {
        struct worker *w;
        struct task_stream s;
        struct task_io rio, wio;
        struct task_net_op cop;
        struct task_redis_reader rd;
        bool partial; /* the reader holds the start of a reply */
        char *out;    /* the batch: pipeline x the test's longest request */
        size_t outlen;
        char in[IN_BUF];
};

struct worker {
        /* Written by main() before a test starts, read by the thread. */
        unsigned idx;
        pthread_t th;
        task_runtime *rt;
        struct conn *conns;
        unsigned nconns;
        task_handle **h;
        const struct test *test;
        uint64_t share; /* requests of the test for this thread (-n) */

        /* The thread's own, read by main() after the test. */
        uint64_t remaining;     /* -n: requests not yet claimed */
        uint64_t measure_start; /* batches sent from here on are counted */
        uint64_t deadline;      /* --duration: no batch starts after it */
        uint64_t mix;           /* position in a --ratio cycle */
        uint64_t rng;           /* xorshift64* state */
        int fatal;              /* first connection error (-errno) */
        char fatal_msg[400];
        struct stats st;

        /* Counted replies so far: stored by the thread (relaxed, once per
         * batch), loaded by main() for the progress line. */
        _Alignas(64) _Atomic uint64_t progress;
        char pad[64 - sizeof(uint64_t)];
};

static struct worker *workers;
static struct task_addr addr;
static char addr_text[TASK_ADDR_STRLEN];
static char *prefix; /* AUTH, SELECT, HELLO: sent first on every connection */
static size_t prefix_len;
static unsigned prefix_n;

/* main() <-> threads: once per test. */
static struct ctl {
        pthread_mutex_t mu;
        pthread_cond_t go;   /* main -> threads: gen changed or quit */
        pthread_cond_t done; /* threads -> main: ndone changed */
        unsigned gen, ndone;
        bool quit;
} ctl = {PTHREAD_MUTEX_INITIALIZER,
         PTHREAD_COND_INITIALIZER,
         PTHREAD_COND_INITIALIZER,
         0,
         0,
         false};

static inline uint64_t clock_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t rng_next(uint64_t *s)
{
        uint64_t x = *s;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        return x * UINT64_C(2685821657736338717);
}

/* "000".."999": a key's 12 digits are four table lookups. */
static char digits3[1000][3];

static void digits3_init(void)
{
        for (int i = 0; i < 1000; i++) {
                digits3[i][0] = (char)('0' + i / 100);
                digits3[i][1] = (char)('0' + i / 10 % 10);
                digits3[i][2] = (char)('0' + i % 10);
        }
}

/* A random key below -r, as 12 decimal digits at @p.  The range
 * reduction is a multiply (Lemire's), not a division; the four groups of
 * three digits are independent, so they compute in parallel. */
static inline void put_rand_key(char *p, uint64_t *rng)
{
        uint64_t v =
            (uint64_t)(((unsigned __int128)rng_next(rng) * O.keyspace) >> 64);
        uint64_t hi = v / 1000000, lo = v % 1000000;

        memcpy(p, digits3[hi / 1000], 3);
        memcpy(p + 3, digits3[hi % 1000], 3);
        memcpy(p + 6, digits3[lo / 1000], 3);
        memcpy(p + 9, digits3[lo % 1000], 3);
}

static void worker_fail(struct worker *w, int rc, const char *what)
{
        if (w->fatal)
                return;
        w->fatal = rc ? rc : -EPROTO;
        snprintf(w->fatal_msg, sizeof w->fatal_msg, "%s %s: %s", what,
                 addr_text, rc ? task_strerror(rc) : "protocol error");
}

/*
 * Skip the replies in c->in[0..n): returns how many completed, or -errno.
 * Each completed one is recorded with latency @lat when @counted; an error
 * reply bumps the error count (and its text is kept if it is the first).
 */
static inline long consume(struct conn *c, size_t n, bool counted, uint64_t lat,
                           uint64_t now)
{
        struct worker *w = c->w;
        struct stats *st = &w->st;
        size_t off = 0;
        long got = 0;

        while (off < n) {
                enum task_redis_type ty;
                size_t used;
                int r = task_redis_reader_skip(&c->rd, c->in + off, n - off,
                                               &used, &ty);

                if (r < 0)
                        return r;
                if (r == 0) {
                        c->partial = true;
                        break;
                }
                if (ty == TASK_REDIS_ERROR && counted) {
                        if (!st->errors++ && !c->partial && c->in[off] == '-') {
                                size_t k = 0;

                                while (k + 1 < used && k < ERRTEXT - 1 &&
                                       c->in[off + 1 + k] != '\r')
                                        k++;
                                memcpy(st->first_error, c->in + off + 1, k);
                                st->first_error[k] = '\0';
                        }
                }
                c->partial = false;
                off += used;
                got++;
                if (counted) {
                        st->hist[hist_index(lat)]++;
                        st->sum_ns += lat;
                        if (lat < st->min_ns)
                                st->min_ns = lat;
                        if (lat > st->max_ns)
                                st->max_ns = lat;
                }
        }
        if (counted && got) {
                st->count += (uint64_t)got;
                st->end_ns = now;
        }
        return got;
}

/* Claim the next batch: its size, or 0 when the test is over. */
static inline unsigned claim(struct worker *w, uint64_t now, bool *counted)
{
        unsigned p = O.pipeline;

        if (now < w->measure_start) {
                *counted = false; /* warm-up: free, not counted */
                return p;
        }
        *counted = true;
        if (w->deadline)
                return now < w->deadline ? p : 0;
        if (w->remaining < p)
                p = (unsigned)w->remaining;
        w->remaining -= p;
        return p;
}

/* Fill c->out with @k requests of the test, keys patched. */
static inline void batch_build(struct conn *c, unsigned k)
{
        struct worker *w = c->w;
        const struct test *x = w->test;
        char *p = c->out;

        if (x->nt == 1) {
                const struct tmpl *t = &x->t[0];

                /* The copies were laid down at the start of the test. */
                if (t->nrand)
                        for (unsigned i = 0; i < k; i++, p += t->len)
                                for (size_t j = 0; j < t->nrand; j++)
                                        put_rand_key(p + t->rands[j], &w->rng);
                c->outlen = (size_t)k * t->len;
                return;
        }
        for (unsigned i = 0; i < k; i++) {
                const struct tmpl *t =
                    &x->t[w->mix % x->cycle < x->weight0 ? 0 : 1];

                w->mix++;
                memcpy(p, t->buf, t->len);
                for (size_t j = 0; j < t->nrand; j++)
                        put_rand_key(p + t->rands[j], &w->rng);
                p += t->len;
        }
        c->outlen = (size_t)(p - c->out);
}

/* The load of one connection for one test. */
struct load {
        TASK_FRAME;
        struct conn *c;
        uint64_t t_send, now;
        long k, got;
        bool counted;
        ssize_t n;
        int rc;
};

static int load_task(struct task_cx *cx, void *arg)
{
        struct load *f = arg;
        struct conn *c = f->c;
        struct worker *w = c->w;

        TASK_BEGIN(f);
        f->now = clock_ns();
        for (;;) {
                if (w->fatal)
                        break; /* a sibling lost its connection */
                /* The clock read when the last batch's replies came in is
                 * this batch's send time: keys are patched and the send
                 * made within the same poll, so it is early by a fraction
                 * of a microsecond (latencies err long, never short), and
                 * a round trip costs one clock read, not three. */
                f->t_send = f->now;
                f->k = claim(w, f->t_send, &f->counted);
                if (!f->k)
                        break;
                batch_build(c, (unsigned)f->k);
                TASK_STREAM_WRITE_ALL(f, &c->s, &c->wio, c->out, c->outlen,
                                      &f->rc);
                if (f->rc < 0) {
                        worker_fail(w, f->rc, "lost the connection to");
                        break;
                }
                for (f->got = 0; f->got < f->k;) {
                        TASK_STREAM_READ(f, &c->s, &c->rio, c->in, sizeof c->in,
                                         &f->n);
                        if (f->n <= 0) {
                                worker_fail(w, f->n ? (int)f->n : -ECONNRESET,
                                            "lost the connection to");
                                TASK_RETURN(f);
                        }
                        {
                                long r;

                                f->now = clock_ns();
                                r = consume(c, (size_t)f->n, f->counted,
                                            f->now - f->t_send, f->now);

                                if (r < 0) {
                                        worker_fail(w, (int)r,
                                                    "bad reply from");
                                        TASK_RETURN(f);
                                }
                                f->got += r;
                        }
                }
                if (f->counted)
                        atomic_store_explicit(&w->progress, w->st.count,
                                              memory_order_relaxed);
        }
        TASK_END(f);
}

/* Connect one connection and send the prefix (AUTH, SELECT, HELLO). */
struct setup {
        TASK_FRAME;
        struct conn *c;
        long got;
        ssize_t n;
        int rc;
};

static int setup_task(struct task_cx *cx, void *arg)
{
        struct setup *f = arg;
        struct conn *c = f->c;
        struct worker *w = c->w;

        TASK_BEGIN(f);
        if (O.sock)
                TASK_UNIX_CONNECT(f, &addr, CONNECT_TIMEOUT, &c->cop, &c->s,
                                  &f->rc);
        else
                TASK_TCP_CONNECT(f, &addr, CONNECT_TIMEOUT, &c->cop, &c->s,
                                 &f->rc);
        if (f->rc < 0) {
                worker_fail(w, f->rc, "cannot connect to");
                TASK_RETURN(f);
        }
        if (!O.sock)
                (void)task_tcp_set_nodelay(&c->s, true);
        if (!prefix_n)
                TASK_RETURN(f);
        TASK_STREAM_WRITE_ALL(f, &c->s, &c->wio, prefix, prefix_len, &f->rc);
        if (f->rc < 0) {
                worker_fail(w, f->rc, "lost the connection to");
                TASK_RETURN(f);
        }
        for (f->got = 0; f->got < (long)prefix_n;) {
                TASK_STREAM_READ(f, &c->s, &c->rio, c->in, sizeof c->in, &f->n);
                if (f->n <= 0) {
                        worker_fail(w, f->n ? (int)f->n : -ECONNRESET,
                                    "lost the connection to");
                        TASK_RETURN(f);
                }
                {
                        long r = consume(c, (size_t)f->n, true, 0, 0);

                        if (r < 0) {
                                worker_fail(w, (int)r, "bad reply from");
                                TASK_RETURN(f);
                        }
                        f->got += r;
                }
        }
        if (w->st.errors && !w->fatal) {
                w->fatal = -EACCES;
                snprintf(w->fatal_msg, sizeof w->fatal_msg,
                         "%s refused the connection's setup (AUTH/SELECT/"
                         "HELLO): %s",
                         addr_text, w->st.first_error);
        }
        TASK_END(f);
}

/* Join every handle in h[0..n). */
struct joiner {
        TASK_FRAME;
        task_handle **h;
        unsigned n, i;
        int rc;
};

static int joiner_task(struct task_cx *cx, void *arg)
{
        struct joiner *f = arg;

        TASK_BEGIN(f);
        for (f->i = 0; f->i < f->n; f->i++)
                TASK_JOIN(f, f->h[f->i], &f->rc);
        TASK_END(f);
}

/* Spawn one task per connection with frame @make(i), run them all. */
static void run_all(struct worker *w, bool load)
{
        struct joiner j = {.h = w->h, .n = 0};
        int rc = 0;

        for (unsigned i = 0; i < w->nconns && rc == 0; i++) {
                if (load) {
                        struct load f = {.c = &w->conns[i]};

                        rc = TASK_SPAWN(w->rt, load_task, &f, &w->h[i]);
                } else {
                        struct setup f = {.c = &w->conns[i]};

                        rc = TASK_SPAWN(w->rt, setup_task, &f, &w->h[i]);
                }
                if (rc == 0)
                        j.n++;
        }
        if (rc < 0)
                worker_fail(w, rc, "cannot start the tasks for");
        rc = task_block_on(w->rt, joiner_task, &j, sizeof j);
        if (rc < 0)
                worker_fail(w, rc, "runtime failed while loading");
        for (unsigned i = 0; i < j.n; i++) {
                task_handle_release(w->h[i]);
                w->h[i] = NULL;
        }
}

/* Prepare a test on this thread: batches laid down, counters reset. */
static void worker_prepare(struct worker *w)
{
        const struct test *x = w->test;
        uint64_t now;

        stats_reset(&w->st);
        atomic_store_explicit(&w->progress, 0, memory_order_relaxed);
        for (unsigned i = 0; i < w->nconns; i++) {
                struct conn *c = &w->conns[i];

                task_redis_reader_reset(&c->rd);
                c->partial = false;
                if (x->nt == 1)
                        for (unsigned k = 0; k < O.pipeline; k++)
                                memcpy(c->out + (size_t)k * x->t[0].len,
                                       x->t[0].buf, x->t[0].len);
        }
        w->remaining = w->share;
        w->mix = 0;
        now = clock_ns();
        w->measure_start = now + (uint64_t)(O.warmup * 1e9);
        w->deadline =
            O.duration ? w->measure_start + (uint64_t)(O.duration * 1e9) : 0;
        w->st.start_ns = w->measure_start;
}

static void ctl_done(void)
{
        pthread_mutex_lock(&ctl.mu);
        ctl.ndone++;
        pthread_cond_signal(&ctl.done);
        pthread_mutex_unlock(&ctl.mu);
}

static void *worker_main(void *arg)
{
        struct worker *w = arg;
        struct task_runtime_opts ro;
        unsigned gen = 0, ring = 64;
        bool quit;
        int rc;

        task_runtime_opts_init(&ro);
        /* One worker, whose ring gets DEFER_TASKRUN (see the head). */
        ro.flavor = TASK_MULTI_THREAD;
        ro.workers = 1;
        while (ring < 2 * w->nconns + 16 && ring < 32768)
                ring <<= 1;
        ro.io_ring_entries = ring;
        rc = task_runtime_new(&ro, &w->rt);
        if (rc < 0) {
                w->fatal = rc;
                snprintf(w->fatal_msg, sizeof w->fatal_msg,
                         "cannot start a runtime: %s", task_strerror(rc));
                ctl_done();
                return NULL;
        }
        run_all(w, false);
        ctl_done();
        for (;;) {
                pthread_mutex_lock(&ctl.mu);
                while (ctl.gen == gen && !ctl.quit)
                        pthread_cond_wait(&ctl.go, &ctl.mu);
                gen = ctl.gen;
                quit = ctl.quit;
                pthread_mutex_unlock(&ctl.mu);
                if (quit)
                        break;
                if (!w->fatal) {
                        worker_prepare(w);
                        run_all(w, true);
                }
                ctl_done();
        }
        for (unsigned i = 0; i < w->nconns; i++)
                (void)task_stream_close(&w->conns[i].s);
        task_runtime_free(w->rt);
        return NULL;
}

/* ---- main: setup, tests, reports ----------------------------------------------- */

static void resolve(void)
{
        struct addrinfo hints = {0}, *res = NULL;
        char port[16];
        int rc;

        if (O.sock) {
                rc = task_addr_unix(&addr, O.sock);
                if (rc < 0)
                        bad_args("bad socket path %s", O.sock);
                snprintf(addr_text, sizeof addr_text, "%s", O.sock);
                return;
        }
        if (task_addr_from_ip(&addr, O.host, (uint16_t)O.port) == 0) {
                task_addr_format(&addr, addr_text, sizeof addr_text);
                return;
        }
        snprintf(port, sizeof port, "%d", O.port);
        hints.ai_socktype = SOCK_STREAM;
        rc = getaddrinfo(O.host, port, &hints, &res);
        if (rc != 0 || !res ||
            task_addr_from_sockaddr(&addr, res->ai_addr, res->ai_addrlen)) {
                fprintf(stderr, "task-redis-bench: cannot resolve %s: %s\n",
                        O.host, rc ? gai_strerror(rc) : "no address");
                if (res)
                        freeaddrinfo(res);
                exit(1);
        }
        freeaddrinfo(res);
        snprintf(addr_text, sizeof addr_text, "%s:%d", O.host, O.port);
}

static void build_prefix(void)
{
        char db[16];
        size_t cap = 0;
        struct {
                int argc;
                const char *argv[3];
        } cmds[3];
        unsigned n = 0;

        if (O.auth) {
                cmds[n].argc = O.user ? 3 : 2;
                cmds[n].argv[0] = "AUTH";
                cmds[n].argv[1] = O.user ? O.user : O.auth;
                cmds[n].argv[2] = O.auth;
                n++;
        }
        if (O.dbnum) {
                snprintf(db, sizeof db, "%d", O.dbnum);
                cmds[n].argc = 2;
                cmds[n].argv[0] = "SELECT";
                cmds[n].argv[1] = db;
                n++;
        }
        if (O.resp3) {
                cmds[n].argc = 2;
                cmds[n].argv[0] = "HELLO";
                cmds[n].argv[1] = "3";
                n++;
        }
        for (unsigned i = 0; i < n; i++)
                cap += (size_t)task_redis_encode(NULL, 0, cmds[i].argc,
                                                 cmds[i].argv, NULL);
        prefix = xmalloc(cap);
        for (unsigned i = 0; i < n; i++)
                prefix_len += (size_t)task_redis_encode(
                    prefix + prefix_len, cap - prefix_len, cmds[i].argc,
                    cmds[i].argv, NULL);
        prefix_n = n;
}

static void start_workers(void)
{
        size_t maxlen = 0;

        for (unsigned i = 0; i < ntests; i++)
                if (tests[i].maxlen > maxlen)
                        maxlen = tests[i].maxlen;
        workers = aligned_alloc(64, sizeof *workers * O.threads);
        if (!workers) {
                fputs("task-redis-bench: out of memory\n", stderr);
                exit(1);
        }
        memset(workers, 0, sizeof *workers * O.threads);
        for (unsigned t = 0; t < O.threads; t++) {
                struct worker *w = &workers[t];

                w->idx = t;
                w->nconns =
                    O.clients / O.threads + (t < O.clients % O.threads ? 1 : 0);
                w->conns = xmalloc(sizeof *w->conns * w->nconns);
                memset(w->conns, 0, sizeof *w->conns * w->nconns);
                w->h = xmalloc(sizeof *w->h * w->nconns);
                w->rng = (clock_ns() ^ ((uint64_t)getpid() << 32) ^
                          (uint64_t)(t + 1) * UINT64_C(0x9E3779B97F4A7C15)) |
                         1;
                stats_reset(&w->st);
                for (unsigned i = 0; i < w->nconns; i++) {
                        struct conn *c = &w->conns[i];

                        c->w = w;
                        c->out = xmalloc(maxlen * O.pipeline);
                        if (task_redis_reader_init(&c->rd, NULL) < 0) {
                                fputs("task-redis-bench: reader init "
                                      "failed\n",
                                      stderr);
                                exit(1);
                        }
                }
        }
        for (unsigned t = 0; t < O.threads; t++) {
                int rc = pthread_create(&workers[t].th, NULL, worker_main,
                                        &workers[t]);

                if (rc) {
                        fprintf(stderr,
                                "task-redis-bench: pthread_create: "
                                "%s\n",
                                strerror(rc));
                        exit(1);
                }
        }
}

static int first_fatal(void)
{
        for (unsigned t = 0; t < O.threads; t++)
                if (workers[t].fatal) {
                        fprintf(stderr, "task-redis-bench: %s\n",
                                workers[t].fatal_msg);
                        return 1;
                }
        return 0;
}

static void stop_workers(void)
{
        pthread_mutex_lock(&ctl.mu);
        ctl.quit = true;
        pthread_cond_broadcast(&ctl.go);
        pthread_mutex_unlock(&ctl.mu);
        for (unsigned t = 0; t < O.threads; t++)
                pthread_join(workers[t].th, NULL);
}

/* After stop_workers: everything main() allocated (for leak checkers). */
static void free_all(void)
{
        for (unsigned t = 0; t < O.threads; t++) {
                struct worker *w = &workers[t];

                for (unsigned i = 0; i < w->nconns; i++) {
                        task_redis_reader_free(&w->conns[i].rd);
                        free(w->conns[i].out);
                }
                free(w->conns);
                free(w->h);
        }
        free(workers);
        for (unsigned i = 0; i < ntests; i++) {
                free(tests[i].title);
                for (unsigned k = 0; k < tests[i].nt; k++) {
                        free(tests[i].t[k].buf);
                        free(tests[i].t[k].rands);
                }
        }
        free(tests);
        free(data);
        free(prefix);
}

/* Wait until every thread has reported; a progress line meanwhile. */
static void wait_threads(const char *title, bool show)
{
        uint64_t t0 = clock_ns(), last_t = t0, last_n = 0;
        bool tty = isatty(2);
        bool shown = false;

        pthread_mutex_lock(&ctl.mu);
        while (ctl.ndone < O.threads) {
                struct timespec ts;
                uint64_t now, n = 0;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += (long)PROGRESS_NS;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&ctl.done, &ctl.mu, &ts);
                if (!show || ctl.ndone >= O.threads)
                        continue;
                now = clock_ns();
                for (unsigned t = 0; t < O.threads; t++)
                        n += atomic_load_explicit(&workers[t].progress,
                                                  memory_order_relaxed);
                if (now - last_t < PROGRESS_NS / 2)
                        continue;
                fprintf(stderr,
                        "%s%s: rps=%.1f (overall: %.1f) requests=%llu%s",
                        tty ? "\r\033[K" : "", title,
                        (double)(n - last_n) * 1e9 / (double)(now - last_t),
                        (double)n * 1e9 / (double)(now - t0),
                        (unsigned long long)n, tty ? "" : "\n");
                fflush(stderr);
                shown = true;
                last_t = now;
                last_n = n;
        }
        pthread_mutex_unlock(&ctl.mu);
        if (shown && tty)
                fputs("\r\033[K", stderr);
}

static double ms(uint64_t ns)
{
        return (double)ns / 1e6;
}

static void csv_string(const char *s)
{
        putchar('"');
        for (; *s; s++) {
                if (*s == '"')
                        putchar('"');
                putchar(*s);
        }
        putchar('"');
}

/* The text histogram: 1-2-5 steps in ms, from the min's to the max's. */
static void print_histogram(const struct stats *s)
{
        static const double steps[] = {1, 2, 5};
        uint64_t cum = 0;
        unsigned i = 0;
        double edge = 0.001; /* ms */
        int k = 0;

        printf("Latency histogram (msec, count, share, cumulative):\n");
        while (edge * 1e6 < (double)s->min_ns && edge < 1e7) {
                k++;
                edge = steps[k % 3] * pow(10, k / 3 - 3);
        }
        for (;;) {
                uint64_t in = 0;
                double pct, cpct;
                int bar;

                while (i < HIST_BUCKETS &&
                       (double)hist_upper(i) <= edge * 1e6 + 0.5)
                        in += s->hist[i++];
                cum += in;
                pct = 100.0 * (double)in / (double)s->count;
                cpct = 100.0 * (double)cum / (double)s->count;
                bar = (int)(pct / 2 + 0.5);
                printf("  <= %10.3f %10llu %7.2f%% %7.2f%% ", edge,
                       (unsigned long long)in, pct, cpct);
                for (int b = 0; b < bar; b++)
                        putchar('#');
                putchar('\n');
                if (cum >= s->count || i >= HIST_BUCKETS)
                        break;
                k++;
                edge = steps[k % 3] * pow(10, k / 3 - 3);
        }
}

static void report(const struct test *x, const struct stats *s)
{
        double secs = s->count && s->end_ns > s->start_ns
                          ? (double)(s->end_ns - s->start_ns) / 1e9
                          : 0;
        double rps = secs > 0 ? (double)s->count / secs : 0;
        double avg = s->count ? ms(s->sum_ns) / (double)s->count : 0;
        uint64_t mn = s->count ? s->min_ns : 0;

        if (O.csv) {
                csv_string(x->title);
                printf(",\"%.2f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\","
                       "\"%.3f\",\"%.3f\",\"%.3f\",\"%llu\",\"%llu\"\n",
                       rps, avg, ms(mn), ms(stats_pct(s, 50)),
                       ms(stats_pct(s, 95)), ms(stats_pct(s, 99)),
                       ms(s->max_ns), ms(stats_pct(s, 90)),
                       ms(stats_pct(s, 99.9)), (unsigned long long)s->count,
                       (unsigned long long)s->errors);
                fflush(stdout);
                return;
        }
        if (O.quiet) {
                printf("%s: %.2f requests per second, p50=%.3f msec", x->title,
                       rps, ms(stats_pct(s, 50)));
                if (s->errors)
                        printf(", %llu errors", (unsigned long long)s->errors);
                putchar('\n');
                fflush(stdout);
                return;
        }
        printf("====== %s ======\n", x->title);
        printf("  %llu requests completed in %.2f seconds\n",
               (unsigned long long)s->count, secs);
        printf("  %u parallel clients, pipeline %u, %u thread%s\n", O.clients,
               O.pipeline, O.threads, O.threads == 1 ? "" : "s");
        printf("  %zu bytes payload\n", O.datasize);
        if (O.keyspace)
                printf("  keyspace: %llu (random keys)\n",
                       (unsigned long long)O.keyspace);
        if (O.warmup)
                printf("  warm-up: %.2f seconds (not counted)\n", O.warmup);
        printf("  error replies: %llu%s%s%s\n", (unsigned long long)s->errors,
               s->errors ? " (first: " : "", s->first_error,
               s->errors ? ")" : "");
        putchar('\n');
        if (s->count)
                print_histogram(s);
        printf("\nSummary:\n");
        printf("  throughput summary: %.2f requests per second\n", rps);
        printf("  latency summary (msec):\n");
        printf("  %9s %9s %9s %9s %9s %9s %9s %9s\n", "avg", "min", "p50",
               "p90", "p95", "p99", "p99.9", "max");
        printf("  %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n\n", avg,
               ms(mn), ms(stats_pct(s, 50)), ms(stats_pct(s, 90)),
               ms(stats_pct(s, 95)), ms(stats_pct(s, 99)),
               ms(stats_pct(s, 99.9)), ms(s->max_ns));
        fflush(stdout);
}

int main(int argc, char **argv)
{
        struct stats *total;
        int status = 0;

        parse_args(argc, argv);
        digits3_init();
        build_tests();
        resolve();
        build_prefix();
        total = xmalloc(sizeof *total);

        start_workers();
        wait_threads("connecting", false);
        if (first_fatal()) {
                stop_workers();
                free_all();
                free(total);
                return 1;
        }
        if (O.csv)
                printf("\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\","
                       "\"p50_latency_ms\",\"p95_latency_ms\","
                       "\"p99_latency_ms\",\"max_latency_ms\","
                       "\"p90_latency_ms\",\"p99_9_latency_ms\","
                       "\"requests\",\"errors\"\n");
        for (unsigned i = 0; i < ntests && !status; i++) {
                const struct test *x = &tests[i];

                for (unsigned t = 0; t < O.threads; t++) {
                        workers[t].test = x;
                        workers[t].share = O.requests / O.threads +
                                           (t < O.requests % O.threads ? 1 : 0);
                }
                pthread_mutex_lock(&ctl.mu);
                ctl.ndone = 0;
                ctl.gen++;
                pthread_cond_broadcast(&ctl.go);
                pthread_mutex_unlock(&ctl.mu);
                wait_threads(x->title, !O.csv && (O.progress || isatty(2)));
                stats_reset(total);
                for (unsigned t = 0; t < O.threads; t++)
                        stats_merge(total, &workers[t].st);
                status = first_fatal();
                if (!status)
                        report(x, total);
        }
        stop_workers();
        free_all();
        free(total);
        return status;
}
