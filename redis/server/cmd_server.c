/*
 * redis/server/cmd_server.c - server commands: INFO CONFIG COMMAND TIME
 * SHUTDOWN DBSIZE FLUSHDB FLUSHALL SWAPDB.
 *
 * INFO.  Sections come in Redis's order whatever order they are asked in:
 * server, clients, memory, persistence, stats, replication, cpu,
 * modules, cluster, keyspace; "# Name" headers, CRLF line ends, one empty
 * line between sections, a verbatim string in RESP3.  Only fields this
 * server can fill with a true value are shown (no made-up buffer sizes);
 * the field names are Redis's, so parsers and tools find them.  The
 * counters are the per-thread blocks summed (rds_stats_sum) minus a
 * baseline that CONFIG RESETSTAT moves, so a reset never writes to
 * another thread's counters.  instantaneous_ops_per_sec and the kbps
 * rates are measured between INFO calls (at least 100 ms apart; the
 * first call measures from the start), not sampled by a cron as Redis
 * does: there is no cron of ours to sample them.  used_memory is what
 * malloc has handed out (mallinfo2), used_memory_rss the resident set
 * (/proc/self/statm); used_memory_peak is the largest used_memory seen by
 * INFO.
 *
 * COMMAND.  The reply has Redis 7's shape (name, arity, flags, first,
 * last, step, ACL categories, tips, key specs, subcommands), built from
 * the tables the command modules export; ACL categories come from a
 * command's `acl` string or are derived from its group and flags, and
 * the key specs from its first/last/step.  COMMAND DOCS gives summary,
 * since and group (and subcommands), which is what redis-cli's
 * interactive mode reads at start.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "server.h"
#include "util.h"

static bool arg_is(const struct rds_arg *a, const char *lit)
{
        return rds_arg_is(a->p, a->len, lit);
}

/* ---- Statistics: baseline and rates ------------------------------------------------ */

struct counters {
        uint64_t commands, conns, rejected, hits, misses, in, out, expired,
            qbuf_disc, obuf_disc;
};

static pthread_mutex_t stat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct counters baseline; /* CONFIG RESETSTAT's; under stat_lock */
static struct {                  /* the rates' last sample; stat_lock */
        int64_t ms;
        uint64_t commands, in, out;
        double ops, in_kbps, out_kbps;
} sample;
static _Atomic uint64_t mem_peak; /* largest used_memory seen */

static void counters_now(struct rds_server *srv, struct counters *k)
{
        struct rds_stats s;
        struct rds_store_stats ss;

        rds_stats_sum(&s);
        rds_store_stats(srv->store, &ss);
#define LD(f) atomic_load_explicit(&s.f, memory_order_relaxed)
        k->commands = LD(commands);
        k->conns = LD(conns_received);
        k->rejected = LD(rejected_conns);
        k->hits = LD(keyspace_hits);
        k->misses = LD(keyspace_misses);
        k->in = LD(net_input_bytes);
        k->out = LD(net_output_bytes);
        k->qbuf_disc = LD(client_query_limit_disconnections);
        k->obuf_disc = LD(client_output_limit_disconnections);
#undef LD
        k->expired = ss.expired_keys;
}

static uint64_t since(uint64_t now, uint64_t base)
{
        return now >= base ? now - base : 0;
}

/* The counters since the last CONFIG RESETSTAT, and the rates. */
static void stats_read(struct rds_server *srv, struct counters *k, double *ops,
                       double *in_kbps, double *out_kbps)
{
        struct counters raw;
        int64_t now = rds_unix_ms();

        counters_now(srv, &raw);
        pthread_mutex_lock(&stat_lock);
        if (sample.ms == 0) {
                /* First call: measure from the start. */
                sample.ms = srv->start_ms;
        }
        if (now - sample.ms >= 100) {
                double dt = (double)(now - sample.ms) / 1000.0;
                sample.ops = (double)since(raw.commands, sample.commands) / dt;
                sample.in_kbps = (double)since(raw.in, sample.in) / dt / 1024.0;
                sample.out_kbps =
                    (double)since(raw.out, sample.out) / dt / 1024.0;
                sample.ms = now;
                sample.commands = raw.commands;
                sample.in = raw.in;
                sample.out = raw.out;
        }
        *ops = sample.ops;
        *in_kbps = sample.in_kbps;
        *out_kbps = sample.out_kbps;
        k->commands = since(raw.commands, baseline.commands);
        k->conns = since(raw.conns, baseline.conns);
        k->rejected = since(raw.rejected, baseline.rejected);
        k->hits = since(raw.hits, baseline.hits);
        k->misses = since(raw.misses, baseline.misses);
        k->in = since(raw.in, baseline.in);
        k->out = since(raw.out, baseline.out);
        k->expired = since(raw.expired, baseline.expired);
        k->qbuf_disc = since(raw.qbuf_disc, baseline.qbuf_disc);
        k->obuf_disc = since(raw.obuf_disc, baseline.obuf_disc);
        pthread_mutex_unlock(&stat_lock);
}

static void stats_reset(struct rds_server *srv)
{
        struct counters raw;

        counters_now(srv, &raw);
        pthread_mutex_lock(&stat_lock);
        baseline = raw;
        pthread_mutex_unlock(&stat_lock);
        atomic_store_explicit(&mem_peak, 0, memory_order_relaxed);
}

/* ---- INFO ------------------------------------------------------------------------- */

/* Redis's bytesToHuman(). */
static void human_bytes(char *buf, size_t size, uint64_t n)
{
        double d = (double)n;

        if (n < 1024)
                snprintf(buf, size, "%" PRIu64 "B", n);
        else if (d < 1024.0 * 1024)
                snprintf(buf, size, "%.2fK", d / 1024);
        else if (d < 1024.0 * 1024 * 1024)
                snprintf(buf, size, "%.2fM", d / (1024.0 * 1024));
        else if (d < 1024.0 * 1024 * 1024 * 1024)
                snprintf(buf, size, "%.2fG", d / (1024.0 * 1024 * 1024));
        else
                snprintf(buf, size, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
}

static uint64_t mem_used(struct rds_server *srv)
{
        struct mallinfo2 mi = mallinfo2();
        struct rds_store_stats ss;
        uint64_t used = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;

        /* Under a sanitizer's allocator mallinfo2 sees nothing: the
         * store's own count is then the better figure. */
        rds_store_stats(srv->store, &ss);
        if (used < ss.bytes)
                used = ss.bytes;
        return used;
}

static uint64_t mem_rss(void)
{
        unsigned long long size = 0, resident = 0;
        FILE *f = fopen("/proc/self/statm", "r");

        if (!f)
                return 0;
        if (fscanf(f, "%llu %llu", &size, &resident) != 2)
                resident = 0;
        fclose(f);
        return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

enum {
        SEC_SERVER = 1u << 0,
        SEC_CLIENTS = 1u << 1,
        SEC_MEMORY = 1u << 2,
        SEC_PERSISTENCE = 1u << 3,
        SEC_STATS = 1u << 4,
        SEC_REPLICATION = 1u << 5,
        SEC_CPU = 1u << 6,
        SEC_MODULES = 1u << 7,
        SEC_CLUSTER = 1u << 8,
        SEC_KEYSPACE = 1u << 9,
        SEC_ALL = (1u << 10) - 1,
};

static const struct {
        const char *name;
        unsigned bit;
} sections[] = {
    {"server", SEC_SERVER},   {"clients", SEC_CLIENTS},
    {"memory", SEC_MEMORY},   {"persistence", SEC_PERSISTENCE},
    {"stats", SEC_STATS},     {"replication", SEC_REPLICATION},
    {"cpu", SEC_CPU},         {"modules", SEC_MODULES},
    {"cluster", SEC_CLUSTER}, {"keyspace", SEC_KEYSPACE},
};

/* Start a section: a blank line before every one but the first. */
static void section(struct rds_text *t, int *n, const char *title)
{
        if ((*n)++)
                rds_text_append(t, "\r\n", 2);
        rds_text_printf(t, "# %s\r\n", title);
}

static void info_server(struct rds_text *t, struct rds_server *srv)
{
        struct utsname un;
        int64_t now_us = rds_unix_us();
        int64_t up = (now_us / 1000 - srv->start_ms) / 1000;
        unsigned hz, workers;
        char cfgfile[sizeof(srv->config_file)];

        if (uname(&un) != 0)
                memset(&un, 0, sizeof(un));
        pthread_mutex_lock(&srv->cfg_lock);
        hz = srv->cfg.hz;
        pthread_mutex_unlock(&srv->cfg_lock);
        snprintf(cfgfile, sizeof(cfgfile), "%s", srv->config_file);
        workers = srv->rt ? task_runtime_workers(srv->rt) : 1;
        if (up < 0)
                up = 0;
        rds_text_printf(t,
                        "redis_version:%s\r\n"
                        "redis_git_sha1:00000000\r\n"
                        "redis_git_dirty:0\r\n"
                        "redis_mode:standalone\r\n"
                        "os:%s %s %s\r\n"
                        "arch_bits:%d\r\n"
                        "monotonic_clock:POSIX clock_gettime\r\n"
                        "multiplexing_api:io_uring\r\n"
                        "atomicvar_api:c11-builtin\r\n"
                        "gcc_version:%d.%d.%d\r\n"
                        "process_id:%ld\r\n"
                        "process_supervised:no\r\n"
                        "run_id:%s\r\n"
                        "tcp_port:%d\r\n"
                        "server_time_usec:%lld\r\n"
                        "uptime_in_seconds:%lld\r\n"
                        "uptime_in_days:%lld\r\n"
                        "hz:%u\r\n"
                        "configured_hz:%u\r\n"
                        "executable:%s\r\n"
                        "config_file:%s\r\n"
                        "io_threads_active:%d\r\n"
                        "worker_threads:%u\r\n"
                        "keyspace_shards:%u\r\n",
                        RDS_VERSION, un.sysname, un.release, un.machine,
                        (int)(sizeof(long) * 8),
#ifdef __GNUC__
                        __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
                        0, 0, 0,
#endif
                        (long)getpid(), srv->run_id, srv->port,
                        (long long)now_us, (long long)up,
                        (long long)(up / 86400), hz, hz, srv->executable,
                        cfgfile, workers > 1 ? 1 : 0, workers,
                        srv->store ? rds_store_nshards(srv->store) : 0);
}

static void info_clients(struct rds_text *t, struct rds_server *srv)
{
        unsigned maxclients;

        pthread_mutex_lock(&srv->cfg_lock);
        maxclients = srv->cfg.maxclients;
        pthread_mutex_unlock(&srv->cfg_lock);
        rds_text_printf(
            t,
            "connected_clients:%" PRIu64 "\r\n"
            "cluster_connections:0\r\n"
            "maxclients:%u\r\n"
            "blocked_clients:0\r\n"
            "tracking_clients:0\r\n"
            "clients_in_timeout_table:0\r\n",
            atomic_load_explicit(&srv->nclients, memory_order_relaxed),
            maxclients);
}

static void info_memory(struct rds_text *t, struct rds_server *srv)
{
        uint64_t used = mem_used(srv), rss = mem_rss(), peak, total;
        struct rds_store_stats ss;
        char h_used[32], h_rss[32], h_peak[32], h_total[32];

        peak = atomic_load_explicit(&mem_peak, memory_order_relaxed);
        while (used > peak && !atomic_compare_exchange_weak_explicit(
                                  &mem_peak, &peak, used, memory_order_relaxed,
                                  memory_order_relaxed))
                ;
        if (used > peak)
                peak = used;
        total =
            (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
        rds_store_stats(srv->store, &ss);
        human_bytes(h_used, sizeof(h_used), used);
        human_bytes(h_rss, sizeof(h_rss), rss);
        human_bytes(h_peak, sizeof(h_peak), peak);
        human_bytes(h_total, sizeof(h_total), total);
        rds_text_printf(t,
                        "used_memory:%" PRIu64 "\r\n"
                        "used_memory_human:%s\r\n"
                        "used_memory_rss:%" PRIu64 "\r\n"
                        "used_memory_rss_human:%s\r\n"
                        "used_memory_peak:%" PRIu64 "\r\n"
                        "used_memory_peak_human:%s\r\n"
                        "used_memory_peak_perc:%.2f%%\r\n"
                        "used_memory_dataset:%" PRIu64 "\r\n"
                        "total_system_memory:%" PRIu64 "\r\n"
                        "total_system_memory_human:%s\r\n"
                        "maxmemory:0\r\n"
                        "maxmemory_human:0B\r\n"
                        "maxmemory_policy:noeviction\r\n"
                        "mem_fragmentation_ratio:%.2f\r\n"
                        "mem_allocator:libc\r\n",
                        used, h_used, rss, h_rss, peak, h_peak,
                        peak ? (double)used * 100 / (double)peak : 100.0,
                        ss.bytes, total, h_total,
                        used ? (double)rss / (double)used : 0.0);
}

static void info_stats(struct rds_text *t, struct rds_server *srv)
{
        struct counters k;
        double ops, in_kbps, out_kbps;
        size_t channels = 0, patterns = 0, shard = 0;

        stats_read(srv, &k, &ops, &in_kbps, &out_kbps);
        if (srv->pubsub) {
                channels = rds_pubsub_channels(srv->pubsub);
                patterns = rds_pubsub_patterns(srv->pubsub);
                shard = rds_pubsub_shard_channels(srv->pubsub);
        }
        rds_text_printf(
            t,
            "total_connections_received:%" PRIu64 "\r\n"
            "total_commands_processed:%" PRIu64 "\r\n"
            "instantaneous_ops_per_sec:%lld\r\n"
            "total_net_input_bytes:%" PRIu64 "\r\n"
            "total_net_output_bytes:%" PRIu64 "\r\n"
            "instantaneous_input_kbps:%.2f\r\n"
            "instantaneous_output_kbps:%.2f\r\n"
            "rejected_connections:%" PRIu64 "\r\n"
            "sync_full:0\r\n"
            "sync_partial_ok:0\r\n"
            "sync_partial_err:0\r\n"
            "expired_keys:%" PRIu64 "\r\n"
            "evicted_keys:0\r\n"
            "evicted_clients:0\r\n"
            "keyspace_hits:%" PRIu64 "\r\n"
            "keyspace_misses:%" PRIu64 "\r\n"
            "pubsub_channels:%zu\r\n"
            "pubsub_patterns:%zu\r\n"
            "pubsubshard_channels:%zu\r\n"
            "total_forks:0\r\n"
            "client_query_buffer_limit_disconnections:%" PRIu64 "\r\n"
            "client_output_buffer_limit_disconnections:%" PRIu64 "\r\n",
            k.conns, k.commands, (long long)(ops + 0.5), k.in, k.out, in_kbps,
            out_kbps, k.rejected, k.expired, k.hits, k.misses, channels,
            patterns, shard, k.qbuf_disc, k.obuf_disc);
}

static void info_cpu(struct rds_text *t)
{
        struct rusage self, kids;

        memset(&self, 0, sizeof(self));
        memset(&kids, 0, sizeof(kids));
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &kids);
#define SECS(tv) ((double)(tv).tv_sec + (double)(tv).tv_usec / 1000000.0)
        rds_text_printf(t,
                        "used_cpu_sys:%.6f\r\n"
                        "used_cpu_user:%.6f\r\n"
                        "used_cpu_sys_children:%.6f\r\n"
                        "used_cpu_user_children:%.6f\r\n",
                        SECS(self.ru_stime), SECS(self.ru_utime),
                        SECS(kids.ru_stime), SECS(kids.ru_utime));
#undef SECS
}

static void info_keyspace(struct rds_text *t, struct rds_server *srv)
{
        unsigned n = rds_store_ndbs(srv->store);

        for (unsigned db = 0; db < n; db++) {
                uint64_t keys = rds_store_dbsize(srv->store, (int)db);
                if (!keys)
                        continue;
                rds_text_printf(
                    t,
                    "db%u:keys=%" PRIu64 ",expires=%" PRIu64 ",avg_ttl=0\r\n",
                    db, keys, rds_store_expires(srv->store, (int)db));
        }
}

static void info_cmd(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        struct rds_server *srv = c->srv;
        struct rds_text t = {0};
        unsigned want = 0;
        int n = 0;

        if (argc == 1)
                want = SEC_ALL;
        for (int i = 1; i < argc; i++) {
                if (arg_is(&argv[i], "all") || arg_is(&argv[i], "default") ||
                    arg_is(&argv[i], "everything")) {
                        want = SEC_ALL;
                        continue;
                }
                for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]);
                     s++)
                        if (arg_is(&argv[i], sections[s].name))
                                want |= sections[s].bit;
                /* Unknown sections add nothing, as in Redis. */
        }
        if (want & SEC_SERVER) {
                section(&t, &n, "Server");
                info_server(&t, srv);
        }
        if (want & SEC_CLIENTS) {
                section(&t, &n, "Clients");
                info_clients(&t, srv);
        }
        if (want & SEC_MEMORY) {
                section(&t, &n, "Memory");
                info_memory(&t, srv);
        }
        if (want & SEC_PERSISTENCE) {
                /* No persistence: nothing loads, nothing is saved. */
                section(&t, &n, "Persistence");
                rds_text_printf(&t, "loading:0\r\n"
                                    "async_loading:0\r\n"
                                    "rdb_bgsave_in_progress:0\r\n"
                                    "aof_enabled:0\r\n"
                                    "aof_rewrite_in_progress:0\r\n");
        }
        if (want & SEC_STATS) {
                section(&t, &n, "Stats");
                info_stats(&t, srv);
        }
        if (want & SEC_REPLICATION) {
                section(&t, &n, "Replication");
                rds_text_printf(&t, "role:master\r\n"
                                    "connected_slaves:0\r\n"
                                    "master_failover_state:no-failover\r\n"
                                    "master_repl_offset:0\r\n");
        }
        if (want & SEC_CPU) {
                section(&t, &n, "CPU");
                info_cpu(&t);
        }
        if (want & SEC_MODULES)
                section(&t, &n, "Modules");
        if (want & SEC_CLUSTER) {
                section(&t, &n, "Cluster");
                rds_text_printf(&t, "cluster_enabled:0\r\n");
        }
        if (want & SEC_KEYSPACE) {
                section(&t, &n, "Keyspace");
                info_keyspace(&t, srv);
        }
        if (t.oom)
                rds_reply_error(&c->out, "ERR out of memory");
        else
                rds_reply_verbatim(&c->out, "txt", t.p ? t.p : "", t.len);
        rds_text_free(&t);
}

/* ---- CONFIG ------------------------------------------------------------------------- */

static void config_get_cmd(struct rds_client *c, int argc,
                           const struct rds_arg *argv)
{
        struct rds_server *srv = c->srv;
        size_t np = rds_config_nparams(), nmatch = 0;
        struct rds_config cfg;
        char val[4352];
        size_t *match;

        match = malloc(sizeof(*match) * (np ? np : 1));
        if (!match) {
                rds_reply_error(&c->out, "ERR out of memory");
                return;
        }
        for (size_t i = 0; i < np; i++) {
                const char *name = rds_config_param_name(i);
                for (int j = 2; j < argc; j++) {
                        if (rds_glob_match(argv[j].p, argv[j].len, name,
                                           strlen(name), true)) {
                                match[nmatch++] = i;
                                break;
                        }
                }
        }
        pthread_mutex_lock(&srv->cfg_lock);
        cfg = srv->cfg;
        pthread_mutex_unlock(&srv->cfg_lock);
        rds_reply_map_len(&c->out, nmatch);
        for (size_t k = 0; k < nmatch; k++) {
                rds_config_param_get(&cfg, match[k], val, sizeof(val));
                rds_reply_bulk_cstr(&c->out, rds_config_param_name(match[k]));
                rds_reply_bulk_cstr(&c->out, val);
        }
        free(match);
}

static void config_set_cmd(struct rds_client *c, int argc,
                           const struct rds_arg *argv)
{
        char err[512];

        if (argc % 2) {
                rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                return;
        }
        if (rds_config_set_pairs(c->srv, (size_t)(argc - 2) / 2, argv + 2, err,
                                 sizeof(err)) != 0) {
                rds_reply_error(&c->out, err);
                return;
        }
        rds_reply_ok(&c->out);
}

static void config_resetstat_cmd(struct rds_client *c, int argc,
                                 const struct rds_arg *argv)
{
        (void)argc;
        (void)argv;
        stats_reset(c->srv);
        rds_reply_ok(&c->out);
}

static void config_rewrite_cmd(struct rds_client *c, int argc,
                               const struct rds_arg *argv)
{
        (void)argc;
        (void)argv;
        if (!c->srv->config_file[0]) {
                rds_reply_error(&c->out,
                                "ERR The server is running without a config "
                                "file");
                return;
        }
        /* Rewriting keeps the user's file layout and comments in Redis;
         * this server does not do that, and says so rather than write a
         * file that loses them. */
        rds_reply_error(&c->out, "ERR Rewriting config file: CONFIG REWRITE "
                                 "is not supported by " RDS_SERVER_NAME);
}

static void config_help_cmd(struct rds_client *c, int argc,
                            const struct rds_arg *argv)
{
        static const char *const lines[] = {
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and "
            "their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            NULL,
        };
        (void)argc;
        (void)argv;
        rds_reply_help(c, "config", lines);
}

#define ADMIN_FLAGS (RDS_CMD_ADMIN | RDS_CMD_LOADING | RDS_CMD_STALE)

static const struct rds_command config_subs[] = {
    {"get", config_get_cmd, -3, ADMIN_FLAGS, 0, 0, 0, "server", "2.0.0",
     "Returns the effective values of configuration parameters.", NULL, NULL},
    {"set", config_set_cmd, -4, ADMIN_FLAGS, 0, 0, 0, "server", "2.0.0",
     "Sets configuration parameters in-flight.", NULL, NULL},
    {"resetstat", config_resetstat_cmd, 2, ADMIN_FLAGS, 0, 0, 0, "server",
     "2.0.0", "Resets the server's statistics.", NULL, NULL},
    {"rewrite", config_rewrite_cmd, 2, ADMIN_FLAGS, 0, 0, 0, "server", "2.8.0",
     "Persists the effective configuration to file.", NULL, NULL},
    {"help", config_help_cmd, 2, RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0, 0,
     "server", "5.0.0", "Returns helpful text about the different subcommands.",
     NULL, "@slow"},
    {0},
};

static const struct rds_command config_parent = {
    "config",    NULL,
    -2,          0,
    0,           0,
    0,           "server",
    "2.0.0",     "A container for server configuration commands.",
    config_subs, "@slow"};

static void config_cmd(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        rds_command_dispatch_sub(c, &config_parent, argc, argv);
}

/* ---- COMMAND ------------------------------------------------------------------------ */

/* Redis's group names: the keyspace commands are "generic". */
static const char *group_of(const struct rds_command *cmd)
{
        if (!cmd->group)
                return "generic";
        if (!strcmp(cmd->group, "keyspace") || !strcmp(cmd->group, "keys") ||
            !strcmp(cmd->group, "expire"))
                return "generic";
        return cmd->group;
}

/*
 * The ACL categories: the command's own list, or derived in Redis's
 * category order (keyspace read write string pubsub admin fast slow
 * dangerous connection).  A container is just @slow, as in Redis.
 * Writes them into @cats (up to 12).  Returns how many.
 */
static size_t acl_categories(const struct rds_command *cmd, char cats[][24])
{
        const char *g = group_of(cmd);
        size_t n = 0;

        if (cmd->acl) {
                const char *p = cmd->acl;
                while (*p && n < 12) {
                        size_t len = strcspn(p, " ");
                        if (len && len < 24) {
                                memcpy(cats[n], p, len);
                                cats[n++][len] = '\0';
                        }
                        p += len;
                        p += strspn(p, " ");
                }
                return n;
        }
        if (cmd->subcommands) {
                strcpy(cats[n++], "@slow");
                return n;
        }
        if (!strcmp(cmd->name, "help")) {
                /* A container's HELP is in no data category (Redis). */
                strcpy(cats[n++], "@slow");
                if (!strcmp(g, "connection"))
                        strcpy(cats[n++], "@connection");
                return n;
        }
        if (!strcmp(g, "generic"))
                strcpy(cats[n++], "@keyspace");
        if (cmd->flags & RDS_CMD_READONLY)
                strcpy(cats[n++], "@read");
        if (cmd->flags & RDS_CMD_WRITE)
                strcpy(cats[n++], "@write");
        if (!strcmp(g, "string"))
                strcpy(cats[n++], "@string");
        if (!strcmp(g, "pubsub"))
                strcpy(cats[n++], "@pubsub");
        if (cmd->flags & RDS_CMD_ADMIN)
                strcpy(cats[n++], "@admin");
        strcpy(cats[n++], (cmd->flags & RDS_CMD_FAST) ? "@fast" : "@slow");
        if (cmd->flags & RDS_CMD_ADMIN)
                strcpy(cats[n++], "@dangerous");
        if (!strcmp(g, "connection"))
                strcpy(cats[n++], "@connection");
        return n;
}

static void reply_flags(struct rds_client *c, const struct rds_command *cmd)
{
        const char *f[8];
        size_t n = 0;

        if (cmd->flags & RDS_CMD_WRITE)
                f[n++] = "write";
        if (cmd->flags & RDS_CMD_READONLY)
                f[n++] = "readonly";
        if (cmd->flags & RDS_CMD_ADMIN)
                f[n++] = "admin";
        /* RDS_CMD_PUBSUB means "allowed while subscribed" (PING too);
         * Redis's pubsub flag marks the pub/sub commands only (not the
         * PUBSUB container nor its HELP). */
        if (!strcmp(group_of(cmd), "pubsub") && !cmd->subcommands &&
            strcmp(cmd->name, "help") != 0)
                f[n++] = "pubsub";
        if (cmd->flags & RDS_CMD_LOADING)
                f[n++] = "loading";
        if (cmd->flags & RDS_CMD_STALE)
                f[n++] = "stale";
        if (cmd->flags & RDS_CMD_FAST)
                f[n++] = "fast";
        if (cmd->flags & RDS_CMD_NOAUTH)
                f[n++] = "no_auth";
        rds_reply_set_len(&c->out, n);
        for (size_t i = 0; i < n; i++)
                rds_reply_simple(&c->out, f[i]);
}

static void reply_full_name(struct rds_client *c,
                            const struct rds_command *parent,
                            const struct rds_command *cmd)
{
        char name[96];

        if (parent)
                snprintf(name, sizeof(name), "%s|%s", parent->name, cmd->name);
        else
                snprintf(name, sizeof(name), "%s", cmd->name);
        rds_reply_bulk_cstr(&c->out, name);
}

static void reply_key_specs(struct rds_client *c, const struct rds_command *cmd)
{
        int lastkey;

        /* Key specs and subcommands are sets in RESP3, as in Redis. */
        if (cmd->first_key <= 0) {
                rds_reply_set_len(&c->out, 0);
                return;
        }
        /* The legacy range as one key spec: begin at first_key, then a
         * range relative to it (negative: from the end). */
        lastkey =
            cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key;
        rds_reply_set_len(&c->out, 1);
        rds_reply_map_len(&c->out, 3);
        rds_reply_bulk_cstr(&c->out, "flags");
        if (cmd->flags & RDS_CMD_WRITE) {
                rds_reply_set_len(&c->out, 2);
                rds_reply_simple(&c->out, "RW");
                rds_reply_simple(&c->out, "update");
        } else {
                rds_reply_set_len(&c->out, 2);
                rds_reply_simple(&c->out, "RO");
                rds_reply_simple(&c->out, "access");
        }
        rds_reply_bulk_cstr(&c->out, "begin_search");
        rds_reply_map_len(&c->out, 2);
        rds_reply_bulk_cstr(&c->out, "type");
        rds_reply_bulk_cstr(&c->out, "index");
        rds_reply_bulk_cstr(&c->out, "spec");
        rds_reply_map_len(&c->out, 1);
        rds_reply_bulk_cstr(&c->out, "index");
        rds_reply_int(&c->out, cmd->first_key);
        rds_reply_bulk_cstr(&c->out, "find_keys");
        rds_reply_map_len(&c->out, 2);
        rds_reply_bulk_cstr(&c->out, "type");
        rds_reply_bulk_cstr(&c->out, "range");
        rds_reply_bulk_cstr(&c->out, "spec");
        rds_reply_map_len(&c->out, 3);
        rds_reply_bulk_cstr(&c->out, "lastkey");
        rds_reply_int(&c->out, lastkey);
        rds_reply_bulk_cstr(&c->out, "keystep");
        rds_reply_int(&c->out, cmd->key_step);
        rds_reply_bulk_cstr(&c->out, "limit");
        rds_reply_int(&c->out, 0);
}

static size_t nsubs(const struct rds_command *cmd)
{
        size_t n = 0;

        if (cmd->subcommands)
                while (cmd->subcommands[n].name)
                        n++;
        return n;
}

static void reply_command_info(struct rds_client *c,
                               const struct rds_command *parent,
                               const struct rds_command *cmd)
{
        char cats[12][24];
        size_t ncats = acl_categories(cmd, cats);
        size_t ns = nsubs(cmd);

        rds_reply_array_len(&c->out, 10);
        reply_full_name(c, parent, cmd);
        rds_reply_int(&c->out, cmd->arity);
        reply_flags(c, cmd);
        rds_reply_int(&c->out, cmd->first_key);
        rds_reply_int(&c->out, cmd->last_key);
        rds_reply_int(&c->out, cmd->key_step);
        rds_reply_set_len(&c->out, ncats);
        for (size_t i = 0; i < ncats; i++)
                rds_reply_simple(&c->out, cats[i]);
        rds_reply_set_len(&c->out, 0); /* tips */
        reply_key_specs(c, cmd);
        rds_reply_set_len(&c->out, ns);
        for (size_t i = 0; i < ns; i++)
                reply_command_info(c, cmd, &cmd->subcommands[i]);
}

static void reply_command_docs(struct rds_client *c,
                               const struct rds_command *cmd)
{
        size_t ns = nsubs(cmd);

        rds_reply_map_len(&c->out, ns ? 4 : 3);
        rds_reply_bulk_cstr(&c->out, "summary");
        rds_reply_bulk_cstr(&c->out, cmd->summary ? cmd->summary : "");
        rds_reply_bulk_cstr(&c->out, "since");
        rds_reply_bulk_cstr(&c->out, cmd->since ? cmd->since : "1.0.0");
        rds_reply_bulk_cstr(&c->out, "group");
        rds_reply_bulk_cstr(&c->out, group_of(cmd));
        if (ns) {
                rds_reply_bulk_cstr(&c->out, "subcommands");
                rds_reply_map_len(&c->out, ns);
                for (size_t i = 0; i < ns; i++) {
                        reply_full_name(c, cmd, &cmd->subcommands[i]);
                        reply_command_docs(c, &cmd->subcommands[i]);
                }
        }
}

/*
 * A command by its full name: "get", or "client|list" for a subcommand
 * (*@parent is then set).  NULL if there is none.
 */
static const struct rds_command *lookup_full(const struct rds_arg *a,
                                             const struct rds_command **parent)
{
        const unsigned char *bar = memchr(a->p, '|', a->len);
        const struct rds_command *cmd;

        *parent = NULL;
        if (!bar)
                return rds_command_lookup(a->p, a->len);
        cmd = rds_command_lookup(a->p, (size_t)(bar - a->p));
        if (!cmd)
                return NULL;
        *parent = cmd;
        return rds_command_lookup_sub(cmd, bar + 1,
                                      a->len - (size_t)(bar + 1 - a->p));
}

static void command_count_cmd(struct rds_client *c, int argc,
                              const struct rds_arg *argv)
{
        (void)argc;
        (void)argv;
        rds_reply_int(&c->out, (long long)rds_command_count());
}

static void command_info_cmd(struct rds_client *c, int argc,
                             const struct rds_arg *argv)
{
        if (argc == 2) {
                size_t n = rds_command_count();
                rds_reply_array_len(&c->out, n);
                for (size_t i = 0; i < n; i++)
                        reply_command_info(c, NULL, rds_command_at(i));
                return;
        }
        rds_reply_array_len(&c->out, (size_t)argc - 2);
        for (int i = 2; i < argc; i++) {
                const struct rds_command *parent;
                const struct rds_command *cmd = lookup_full(&argv[i], &parent);
                if (cmd)
                        reply_command_info(c, parent, cmd);
                else
                        rds_reply_null(&c->out); /* Redis: a null bulk */
        }
}

static void command_docs_cmd(struct rds_client *c, int argc,
                             const struct rds_arg *argv)
{
        const struct rds_command *parent, *cmd;
        size_t found = 0;

        if (argc == 2) {
                size_t n = rds_command_count();
                rds_reply_map_len(&c->out, n);
                for (size_t i = 0; i < n; i++) {
                        cmd = rds_command_at(i);
                        rds_reply_bulk_cstr(&c->out, cmd->name);
                        reply_command_docs(c, cmd);
                }
                return;
        }
        for (int i = 2; i < argc; i++)
                if (lookup_full(&argv[i], &parent))
                        found++;
        rds_reply_map_len(&c->out, found);
        for (int i = 2; i < argc; i++) {
                cmd = lookup_full(&argv[i], &parent);
                if (!cmd)
                        continue;
                reply_full_name(c, parent, cmd);
                reply_command_docs(c, cmd);
        }
}

/* COMMAND LIST's filter: NULL (all), or the category / pattern. */
struct list_filter {
        enum { F_NONE, F_MODULE, F_ACLCAT, F_PATTERN } kind;
        const struct rds_arg *arg;
};

static bool list_match(const struct list_filter *f,
                       const struct rds_command *parent,
                       const struct rds_command *cmd)
{
        char name[96], cats[12][24];
        size_t n;

        switch (f->kind) {
        case F_NONE:
                return true;
        case F_MODULE:
                return false; /* no modules */
        case F_ACLCAT:
                n = acl_categories(cmd, cats);
                for (size_t i = 0; i < n; i++)
                        if (rds_arg_is(f->arg->p, f->arg->len, cats[i] + 1))
                                return true;
                return false;
        case F_PATTERN:
                if (parent)
                        snprintf(name, sizeof(name), "%s|%s", parent->name,
                                 cmd->name);
                else
                        snprintf(name, sizeof(name), "%s", cmd->name);
                return rds_glob_match(f->arg->p, f->arg->len, name,
                                      strlen(name), true);
        }
        return false;
}

static void command_list_cmd(struct rds_client *c, int argc,
                             const struct rds_arg *argv)
{
        struct list_filter f = {F_NONE, NULL};
        size_t n = rds_command_count(), count = 0;

        if (argc == 5 && arg_is(&argv[2], "filterby")) {
                f.arg = &argv[4];
                if (arg_is(&argv[3], "module"))
                        f.kind = F_MODULE;
                else if (arg_is(&argv[3], "aclcat"))
                        f.kind = F_ACLCAT;
                else if (arg_is(&argv[3], "pattern"))
                        f.kind = F_PATTERN;
                else {
                        rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                        return;
                }
        } else if (argc != 2) {
                rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                return;
        }
        /* Two passes: count, then reply (the array length comes first). */
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 1)
                        rds_reply_array_len(&c->out, count);
                for (size_t i = 0; i < n; i++) {
                        const struct rds_command *cmd = rds_command_at(i);
                        size_t ns = nsubs(cmd);
                        if (list_match(&f, NULL, cmd)) {
                                if (pass == 0)
                                        count++;
                                else
                                        reply_full_name(c, NULL, cmd);
                        }
                        for (size_t s = 0; s < ns; s++) {
                                const struct rds_command *sub =
                                    &cmd->subcommands[s];
                                if (!list_match(&f, cmd, sub))
                                        continue;
                                if (pass == 0)
                                        count++;
                                else
                                        reply_full_name(c, cmd, sub);
                        }
                }
        }
}

static void command_getkeys_cmd(struct rds_client *c, int argc,
                                const struct rds_arg *argv)
{
        const struct rds_command *cmd =
            rds_command_lookup(argv[2].p, argv[2].len);
        const struct rds_arg *args = argv + 2;
        int nargs = argc - 2;

        if (cmd && cmd->subcommands) {
                cmd = nargs >= 2
                          ? rds_command_lookup_sub(cmd, args[1].p, args[1].len)
                          : NULL;
        }
        if (!cmd) {
                rds_reply_error(&c->out, "ERR Invalid command specified");
                return;
        }
        if (cmd->first_key <= 0) {
                rds_reply_error(&c->out,
                                "ERR The command has no key arguments");
                return;
        }
        if ((cmd->arity > 0 && cmd->arity != nargs) ||
            (cmd->arity < 0 && nargs < -cmd->arity)) {
                rds_reply_error(&c->out, "ERR Invalid number of arguments "
                                         "specified for command");
                return;
        }
        int last = cmd->last_key < 0 ? nargs + cmd->last_key : cmd->last_key;
        int step = cmd->key_step > 0 ? cmd->key_step : 1;
        if (last >= nargs)
                last = nargs - 1;
        size_t n = 0;
        for (int i = cmd->first_key; i <= last; i += step)
                n++;
        rds_reply_array_len(&c->out, n);
        for (int i = cmd->first_key; i <= last; i += step)
                rds_reply_bulk(&c->out, args[i].p, args[i].len);
}

static void command_help_cmd(struct rds_client *c, int argc,
                             const struct rds_arg *argv)
{
        static const char *const lines[] = {
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis "
            "server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details "
            "for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis "
            "commands.",
            "    If no command names are given, documentation details "
            "for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            NULL,
        };
        (void)argc;
        (void)argv;
        rds_reply_help(c, "command", lines);
}

#define CMD_FLAGS (RDS_CMD_LOADING | RDS_CMD_STALE)

static const struct rds_command command_subs[] = {
    {"count", command_count_cmd, 2, CMD_FLAGS, 0, 0, 0, "server", "2.8.13",
     "Returns a count of commands.", NULL, "@slow @connection"},
    {"list", command_list_cmd, -2, CMD_FLAGS, 0, 0, 0, "server", "7.0.0",
     "Returns a list of command names.", NULL, "@slow @connection"},
    {"docs", command_docs_cmd, -2, CMD_FLAGS, 0, 0, 0, "server", "7.0.0",
     "Returns documentary information about one, multiple or all "
     "commands.",
     NULL, "@slow @connection"},
    {"info", command_info_cmd, -2, CMD_FLAGS, 0, 0, 0, "server", "2.8.13",
     "Returns information about one, multiple or all commands.", NULL,
     "@slow @connection"},
    {"getkeys", command_getkeys_cmd, -4, CMD_FLAGS, 0, 0, 0, "server", "2.8.13",
     "Extracts the key names from an arbitrary command.", NULL,
     "@slow @connection"},
    {"help", command_help_cmd, 2, CMD_FLAGS, 0, 0, 0, "server", "5.0.0",
     "Returns helpful text about the different subcommands.", NULL,
     "@slow @connection"},
    {0},
};

static const struct rds_command command_parent = {
    "command",
    NULL,
    -1,
    CMD_FLAGS,
    0,
    0,
    0,
    "server",
    "2.8.13",
    "Returns detailed information about all commands.",
    command_subs,
    "@slow @connection"};

static void command_cmd(struct rds_client *c, int argc,
                        const struct rds_arg *argv)
{
        if (argc == 1) {
                size_t n = rds_command_count();
                rds_reply_array_len(&c->out, n);
                for (size_t i = 0; i < n; i++)
                        reply_command_info(c, NULL, rds_command_at(i));
                return;
        }
        rds_command_dispatch_sub(c, &command_parent, argc, argv);
}

/* ---- TIME SHUTDOWN ------------------------------------------------------------------ */

static void time_cmd(struct rds_client *c, int argc, const struct rds_arg *argv)
{
        int64_t us = rds_unix_us();

        (void)argc;
        (void)argv;
        rds_reply_array_len(&c->out, 2);
        rds_reply_bulk_ll(&c->out, us / 1000000);
        rds_reply_bulk_ll(&c->out, us % 1000000);
}

static void shutdown_cmd(struct rds_client *c, int argc,
                         const struct rds_arg *argv)
{
        bool nosave = false, save = false, now = false, force = false,
             abort_ = false;

        (void)now; /* nothing to wait for: a shutdown is always "now" */
        for (int i = 1; i < argc; i++) {
                if (arg_is(&argv[i], "nosave"))
                        nosave = true;
                else if (arg_is(&argv[i], "save"))
                        save = true;
                else if (arg_is(&argv[i], "now"))
                        now = true;
                else if (arg_is(&argv[i], "force"))
                        force = true;
                else if (arg_is(&argv[i], "abort"))
                        abort_ = true;
                else {
                        rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                        return;
                }
        }
        if ((abort_ && (nosave || save || now || force)) || (nosave && save)) {
                rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                return;
        }
        if (abort_) {
                /* A shutdown here does not wait for anything that could
                 * be aborted: once started it is under way. */
                rds_reply_error(&c->out, "ERR No shutdown in progress.");
                return;
        }
        if (save && !force) {
                /* SAVE asks for a snapshot this server cannot write: as
                 * Redis when its save fails, refuse unless FORCE. */
                rds_log(RDS_LOG_WARNING,
                        "Error trying to save the DB: this server does not "
                        "persist data (SHUTDOWN SAVE FORCE exits anyway)");
                rds_reply_error(&c->out,
                                "ERR Errors trying to SHUTDOWN. Check logs.");
                return;
        }
        rds_log(RDS_LOG_WARNING, "User requested shutdown...");
        rds_server_shutdown(c->srv);
        /* No reply: the connection just closes, as with Redis. */
        c->flags |= RDS_CLIENT_CLOSE_AFTER_REPLY;
}

/* ---- DBSIZE FLUSHDB FLUSHALL SWAPDB ---------------------------------------------- */

static void dbsize_cmd(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        (void)argc;
        (void)argv;
        rds_reply_int(&c->out,
                      (long long)rds_store_dbsize(c->srv->store, c->db));
}

/* FLUSHDB/FLUSHALL's [ASYNC|SYNC]: both are done at once here. */
static bool flush_args_ok(struct rds_client *c, int argc,
                          const struct rds_arg *argv)
{
        if (argc > 2 || (argc == 2 && !arg_is(&argv[1], "async") &&
                         !arg_is(&argv[1], "sync"))) {
                rds_reply_error(&c->out, RDS_ERR_SYNTAX);
                return false;
        }
        return true;
}

static void flushdb_cmd(struct rds_client *c, int argc,
                        const struct rds_arg *argv)
{
        if (!flush_args_ok(c, argc, argv))
                return;
        rds_store_flushdb(c->srv->store, c->db);
        rds_reply_ok(&c->out);
}

static void flushall_cmd(struct rds_client *c, int argc,
                         const struct rds_arg *argv)
{
        if (!flush_args_ok(c, argc, argv))
                return;
        rds_store_flushall(c->srv->store);
        rds_reply_ok(&c->out);
}

/* Redis's getIntFromObjectOrReply() with a message. */
static bool arg_int(struct rds_client *c, const struct rds_arg *a, int *out,
                    const char *msg)
{
        long long v;

        if (!rds_str2ll(a->p, a->len, &v) || v < INT_MIN || v > INT_MAX) {
                rds_reply_error(&c->out, msg);
                return false;
        }
        *out = (int)v;
        return true;
}

static void swapdb_cmd(struct rds_client *c, int argc,
                       const struct rds_arg *argv)
{
        int a, b;

        (void)argc;
        if (!arg_int(c, &argv[1], &a, "ERR invalid first DB index") ||
            !arg_int(c, &argv[2], &b, "ERR invalid second DB index"))
                return;
        if (rds_store_swapdb(c->srv->store, a, b) != 0) {
                rds_reply_error(&c->out, RDS_ERR_DB_INDEX);
                return;
        }
        rds_reply_ok(&c->out);
}

/* ---- The table ---------------------------------------------------------------------- */

const struct rds_command rds_server_commands[] = {
    {"info", info_cmd, -1, RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0, 0, "server",
     "1.0.0", "Returns information and statistics about the server.", NULL,
     "@slow @dangerous"},
    {"config", config_cmd, -2, 0, 0, 0, 0, "server", "2.0.0",
     "A container for server configuration commands.", config_subs, "@slow"},
    {"command", command_cmd, -1, CMD_FLAGS, 0, 0, 0, "server", "2.8.13",
     "Returns detailed information about all commands.", command_subs,
     "@slow @connection"},
    {"time", time_cmd, 1, RDS_CMD_FAST | RDS_CMD_LOADING | RDS_CMD_STALE, 0, 0,
     0, "server", "2.6.0", "Returns the server time.", NULL, "@fast"},
    {"shutdown", shutdown_cmd, -1, ADMIN_FLAGS, 0, 0, 0, "server", "1.0.0",
     "Synchronously saves the database(s) to disk and shuts "
     "down the Redis server.",
     NULL, "@admin @slow @dangerous"},
    {"dbsize", dbsize_cmd, 1, RDS_CMD_READONLY | RDS_CMD_FAST, 0, 0, 0,
     "server", "1.0.0", "Returns the number of keys in the database.", NULL,
     "@keyspace @read @fast"},
    {"flushdb", flushdb_cmd, -1, RDS_CMD_WRITE, 0, 0, 0, "server", "1.0.0",
     "Removes all keys from the current database.", NULL,
     "@keyspace @write @slow @dangerous"},
    {"flushall", flushall_cmd, -1, RDS_CMD_WRITE, 0, 0, 0, "server", "1.0.0",
     "Removes all keys from all databases.", NULL,
     "@keyspace @write @slow @dangerous"},
    {"swapdb", swapdb_cmd, 3, RDS_CMD_WRITE | RDS_CMD_FAST, 0, 0, 0, "server",
     "4.0.0", "Swaps two Redis databases.", NULL,
     "@keyspace @write @fast @dangerous"},
    {0},
};
