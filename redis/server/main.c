/*
 * redis/server/main.c - task-redis-server's main(): the start-up and
 * tear-down sequence around server.c.
 *
 *   1. configuration: defaults, then the command line (a redis.conf path
 *      and/or --name value pairs; --help/--version exit 0); the log.
 *   2. the process: SIGPIPE ignored (a peer that goes away is an -EPIPE
 *      from send, not a signal), RLIMIT_NOFILE raised to maxclients + 32
 *      (or maxclients lowered to what the limit allows, as Redis does),
 *      protected mode (refuse to listen beyond loopback without a
 *      password).
 *   3. the runtime (cfg.workers workers), the keyspace (cfg.shards shards,
 *      by default 16 per worker rounded to a power of two, so that two
 *      workers rarely want the same shard lock), the command table, the
 *      pub/sub registry; the listeners.
 *   4. serve until a shutdown (SHUTDOWN, SIGINT, SIGTERM) has drained the
 *      clients; then free everything in the reverse order and exit 0.
 *
 * Any failure before serving logs why and exits 1.
 */
#include "server.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

/* Descriptors kept for the server's own use (Redis's
 * CONFIG_MIN_RESERVED_FDS): listeners, io_uring rings, the log, ... */
#define RDS_RESERVED_FDS 32

static struct rds_server server;

/*
 * Redis's adjustOpenFilesLimit: make room for maxclients + 32
 * descriptors.  If the hard limit forbids it, take the most we can get
 * (stepping down by 16 as Redis does) and lower maxclients to fit.
 * Returns 0, or -EMFILE when not even the reserved descriptors fit.
 */
static int adjust_open_files(struct rds_config *cfg)
{
        rlim_t want = (rlim_t)cfg->maxclients + RDS_RESERVED_FDS;
        struct rlimit lim;

        if (getrlimit(RLIMIT_NOFILE, &lim) == -1) {
                rds_log(RDS_LOG_WARNING,
                        "Unable to obtain the current NOFILE limit (%s), "
                        "assuming 1024 and setting the max clients "
                        "configuration accordingly.",
                        strerror(errno));
                cfg->maxclients = 1024 - RDS_RESERVED_FDS;
                return 0;
        }
        if (lim.rlim_cur >= want)
                return 0;

        rlim_t old = lim.rlim_cur, best = want;
        int err = 0;
        while (best > old) {
                struct rlimit n = {best,
                                   lim.rlim_max > best ? lim.rlim_max : best};
                if (setrlimit(RLIMIT_NOFILE, &n) == 0)
                        break;
                err = errno;
                /* Step down: the hard limit is the usual obstacle. */
                if (lim.rlim_max != RLIM_INFINITY && best > lim.rlim_max) {
                        best = lim.rlim_max;
                        continue;
                }
                if (best < 16)
                        break;
                best -= 16;
        }
        if (best < old)
                best = old;
        if (best >= want) {
                rds_log(RDS_LOG_NOTICE,
                        "Increased maximum number of open files to %llu "
                        "(it was originally set to %llu).",
                        (unsigned long long)best, (unsigned long long)old);
                return 0;
        }
        if (best <= RDS_RESERVED_FDS) {
                rds_log(RDS_LOG_WARNING,
                        "Your current 'ulimit -n' of %llu is not enough for "
                        "the server to start. Please increase your open file "
                        "limit to at least %llu. Exiting.",
                        (unsigned long long)old, (unsigned long long)want);
                return -EMFILE;
        }
        unsigned old_max = cfg->maxclients;
        cfg->maxclients = (unsigned)(best - RDS_RESERVED_FDS);
        rds_log(RDS_LOG_WARNING,
                "You requested maxclients of %u requiring at least %llu max "
                "file descriptors.",
                old_max, (unsigned long long)want);
        rds_log(RDS_LOG_WARNING,
                "Server can't set maximum open files to %llu because of OS "
                "error: %s.",
                (unsigned long long)want, strerror(err ? err : EPERM));
        rds_log(RDS_LOG_WARNING,
                "Current maximum open files is %llu. maxclients has been "
                "reduced to %u to compensate for low ulimit. If you need "
                "higher maxclients increase 'ulimit -n'.",
                (unsigned long long)best, cfg->maxclients);
        return 0;
}

static unsigned default_shards(unsigned workers)
{
        unsigned want = 16 * (workers ? workers : 1), n = 1;

        while (n < want && n < RDS_MAX_SHARDS)
                n <<= 1;
        return n;
}

static void make_run_id(char out[41])
{
        unsigned char r[20];
        size_t got = 0;

        while (got < sizeof r) {
                ssize_t n = getrandom(r + got, sizeof r - got, 0);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        for (; got < sizeof r; got++) /* no getrandom: a weaker id */
                r[got] = (unsigned char)(rand() ^ getpid() ^ got);
        for (size_t i = 0; i < sizeof r; i++)
                snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static void record_paths(struct rds_server *srv, int argc, char **argv)
{
        char path[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);

        if (n > 0) {
                path[n] = '\0';
                snprintf(srv->executable, sizeof srv->executable, "%s", path);
        } else if (argc > 0) {
                snprintf(srv->executable, sizeof srv->executable, "%s",
                         argv[0]);
        }
        /* Redis: the first argument is a config file unless it starts
         * with "--" (or is "-", the file read from stdin). */
        if (argc > 1 && argv[1][0] != '-') {
                if (realpath(argv[1], path))
                        snprintf(srv->config_file, sizeof srv->config_file,
                                 "%s", path);
                else
                        snprintf(srv->config_file, sizeof srv->config_file,
                                 "%s", argv[1]);
        }
}

int main(int argc, char **argv)
{
        struct rds_server *srv = &server;
        char err[1024], bad[256];
        int rc, status = 1;
        unsigned workers, shards;
        bool unix_failed;

        signal(SIGPIPE, SIG_IGN);

        /* 1. Configuration and the log. */
        rds_config_defaults(&srv->cfg);
        err[0] = '\0';
        rc = rds_config_parse_args(&srv->cfg, argc, argv, err, sizeof err);
        if (rc == 1)
                return 0;
        if (rc < 0) {
                fprintf(stderr,
                        "\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n%s\n",
                        RDS_VERSION, err[0] ? err : "invalid configuration");
                return 1;
        }
        rc = rds_log_open(srv->cfg.logfile, srv->cfg.loglevel);
        if (rc) {
                fprintf(stderr, "Can't open the log file '%s': %s\n",
                        srv->cfg.logfile, strerror(-rc));
                return 1;
        }
        rds_srv = srv;
        pthread_mutex_init(&srv->cfg_lock, NULL);
        pthread_mutex_init(&srv->clients_lock, NULL);
        task_notify_init(&srv->shutdown_notify);
        atomic_init(&srv->nclients, 0);
        atomic_init(&srv->next_client_id, 0);
        atomic_init(&srv->shutting_down, false);
        srv->start_ms = rds_unix_ms();
        srv->start_mono_ns = task_now_ns();
        make_run_id(srv->run_id);
        record_paths(srv, argc, argv);

        rds_log(RDS_LOG_NOTICE,
                "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
        rds_log(RDS_LOG_NOTICE,
                "Redis version=%s, bits=%d, commit=00000000, modified=0, "
                "pid=%d, just started",
                RDS_VERSION, (int)(sizeof(void *) * 8), (int)getpid());
        if (srv->config_file[0])
                rds_log(RDS_LOG_NOTICE, "Configuration loaded");
        else
                rds_log(RDS_LOG_WARNING,
                        "Warning: no config file specified, using the "
                        "default config. In order to specify a config file "
                        "use %s /path/to/redis.conf",
                        argc > 0 ? argv[0] : RDS_SERVER_NAME);

        /* 2. The process. */
        if (adjust_open_files(&srv->cfg))
                goto out_log;
        if (rds_server_check_protected(&srv->cfg, bad, sizeof bad)) {
                rds_log(RDS_LOG_WARNING,
                        "Refusing to start: protected mode is on, no "
                        "password is set (requirepass), and the server "
                        "would listen on the non-loopback address '%s'. "
                        "Set a password with --requirepass, bind to a "
                        "loopback address (--bind 127.0.0.1), or disable "
                        "protected mode with --protected-mode no.",
                        bad);
                if (srv->cfg.logfile[0])
                        fprintf(stderr,
                                "Refusing to start: protected mode is on, no "
                                "requirepass, and bind '%s' is not "
                                "loopback (use --protected-mode no or "
                                "--requirepass)\n",
                                bad);
                goto out_log;
        }

        /* 3. Runtime, keyspace, commands, pub/sub, listeners. */
        struct task_runtime_opts o;
        task_runtime_opts_init(&o);
        o.workers = srv->cfg.workers;
        o.thread_name = "rds-wrk";
        rc = task_runtime_new(&o, &srv->rt);
        if (rc) {
                const char *why = task_io_setup_error(rc);
                rds_log(RDS_LOG_WARNING, "Cannot start the runtime: %s",
                        why ? why : task_strerror(rc));
                goto out_log;
        }
        workers = task_runtime_workers(srv->rt);
        shards = srv->cfg.shards ? srv->cfg.shards : default_shards(workers);
        rc = rds_store_new(shards, srv->cfg.databases, &srv->store);
        if (rc) {
                rds_log(RDS_LOG_WARNING,
                        "Cannot create the keyspace (%u shards, %u "
                        "databases): %s",
                        shards, srv->cfg.databases, task_strerror(rc));
                goto out_rt;
        }
        rc = rds_commands_init();
        if (rc) {
                rds_log(RDS_LOG_WARNING, "Cannot build the command table: %s",
                        task_strerror(rc));
                goto out_store;
        }
        rc = rds_pubsub_new(&srv->pubsub);
        if (rc) {
                rds_log(RDS_LOG_WARNING, "Cannot set up pub/sub: %s",
                        task_strerror(rc));
                goto out_commands;
        }
        rc = rds_server_listen(srv, err, sizeof err, &unix_failed);
        if (rc) {
                rds_log(RDS_LOG_WARNING, "%s", err);
                /* As Redis: the Unix socket's failure is its own message
                 * only; the TCP line is for the TCP listeners'. */
                if (!unix_failed)
                        rds_log(RDS_LOG_WARNING,
                                "Failed listening on port %d (TCP), aborting.",
                                srv->cfg.port);
                goto out_pubsub;
        }

        /* 4. Serve. */
        rds_log(RDS_LOG_NOTICE,
                "%s %s (Redis %s compatible), pid=%d, tcp %s port %d, "
                "workers=%u, shards=%u, databases=%u, maxclients=%u, I/O "
                "backend io_uring",
                RDS_SERVER_NAME, RDS_VERSION, RDS_VERSION, (int)getpid(),
                srv->cfg.bind, srv->port, workers, shards, srv->cfg.databases,
                srv->cfg.maxclients);
        rds_log(RDS_LOG_NOTICE, "Server initialized");
        rc = rds_server_start(srv);
        if (rc) {
                rds_log(RDS_LOG_WARNING, "Cannot start serving: %s",
                        task_strerror(rc));
                rds_server_shutdown(srv);
        }
        rds_server_wait(srv);
        status = rc ? 1 : 0;
        if (!rc)
                rds_log(RDS_LOG_WARNING, "Redis is now ready to exit, bye "
                                         "bye...");

        for (unsigned i = 0; i < workers; i++) {
                struct task_worker_metrics m;
                if (task_worker_metrics(srv->rt, i, &m) == 0)
                        rds_log(RDS_LOG_VERBOSE,
                                "worker %u: polls=%llu parks=%llu "
                                "steals=%llu busy_ms=%llu",
                                i, (unsigned long long)m.polls,
                                (unsigned long long)m.parks,
                                (unsigned long long)m.steal_tasks,
                                (unsigned long long)(m.busy_ns / 1000000));
        }

        /* Tear down: the runtime first (tasks still alive are cancelled
         * and their cleanups release their clients), then what they
         * used. */
        task_runtime_free(srv->rt);
        srv->rt = NULL;
        rds_server_stop_signals();
out_pubsub:
        rds_pubsub_free(srv->pubsub);
        srv->pubsub = NULL;
out_commands:
        rds_commands_free();
out_store:
        rds_store_free(srv->store);
        srv->store = NULL;
out_rt:
        if (srv->rt)
                task_runtime_free(srv->rt);
out_log:
        rds_log_close();
        return status;
}
