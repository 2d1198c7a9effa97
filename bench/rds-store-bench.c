/*
 * bench/rds-store-bench.c - the keyspace's lock choice and memory (store.h).
 *
 * Throughput mode (the default): prefill --keys keys (16-byte keys, 16-byte
 * values) in database 0, then for each combination of --threads, --shards
 * and --mix run T threads for --seconds doing GETs and SETs of random keys
 * exactly as the command handlers do (hash, shard, lock, find + copy the
 * value out or set_string, unlock), and print one line per run:
 *
 *   lock=fas read=excl threads=2 shards=64 get_pct=90 keys=100000 \
 *   ops_per_sec=...
 *
 * With a lock kind that has a shared mode (rwlock, swlock) each run is made
 * twice: read=excl (GET takes the lock exclusively and uses rds_store_find,
 * which may delete an expired key and steps a rehash) and read=shared (GET
 * takes it shared and uses rds__store_peek, which writes nothing).
 *
 * The lock kind is fixed when store.c is compiled: bench/meson.build builds
 * this file once per kind (rds-store-bench-<kind>, store.c compiled in with
 * -DRDS_STORE_LOCK=...) and once against librds (rds-store-bench: the kind
 * the server uses).
 *
 * Memory mode (--memory): insert --mem-keys keys (16-byte keys and values)
 * into a fresh store and print VmRSS and malloc's in-use bytes per key,
 * the store's own estimate (rds_store_stats), the slowest single insert
 * and how many took over 50 us (a table resize must not show up there:
 * rehashing is incremental, where a one-go rehash of 1M keys takes tens of
 * milliseconds; what remains is page faults and preemption).
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define KEY_LEN 16
#define VAL_LEN 16
#define MAX_LIST 8

struct list {
        unsigned v[MAX_LIST];
        unsigned n;
};

struct opts {
        struct list threads, shards, mix;
        unsigned keys;
        double seconds;
        bool memory;
        unsigned mem_keys;
        unsigned mem_shards;
};

struct worker {
        pthread_t tid;
        struct rds_store *store;
        const unsigned char *keys;
        unsigned nkeys;
        unsigned get_pct;
        bool shared;
        uint64_t seed;
        _Atomic bool *stop;
        _Atomic unsigned *ready;
        uint64_t ops;
        uint64_t found;
} __attribute__((aligned(64)));

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t unix_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rng(uint64_t *s)
{
        uint64_t x = *s;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        return x * 0x2545f4914f6cdd1dULL;
}

static void make_key(unsigned char *out, unsigned i)
{
        char buf[KEY_LEN + 1];

        snprintf(buf, sizeof(buf), "key:%012u", i);
        memcpy(out, buf, KEY_LEN);
}

static void *worker_main(void *arg)
{
        struct worker *w = arg;
        unsigned char val[VAL_LEN], out[64];
        int64_t now = unix_ms();
        uint64_t ops = 0, found = 0, s = w->seed | 1;

        memset(val, 'v', sizeof(val));
        atomic_fetch_add_explicit(w->ready, 1, memory_order_relaxed);
        /* Relaxed: the flag carries no data; the counters are read after
         * pthread_join. */
        while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
                for (int i = 0; i < 64; i++) {
                        uint64_t r = rng(&s);
                        const unsigned char *key =
                            w->keys + (size_t)(r % w->nkeys) * KEY_LEN;
                        uint64_t h = rds_store_hash(w->store, key, KEY_LEN);
                        unsigned sh = rds_store_shard_of(w->store, h);

                        if ((r >> 40) % 100 < w->get_pct) {
                                if (w->shared) {
                                        const struct rds_entry *e;

                                        rds__store_lock_shared(w->store, sh);
                                        e = rds__store_peek(w->store, 0, key,
                                                            KEY_LEN, h, now);
                                        if (e) {
                                                memcpy(out, e->data + e->klen,
                                                       e->vlen);
                                                found++;
                                        }
                                        rds__store_unlock_shared(w->store, sh);
                                } else {
                                        struct rds_entry *e;

                                        rds_store_lock(w->store, sh);
                                        e = rds_store_find(w->store, 0, key,
                                                           KEY_LEN, h, now);
                                        if (e) {
                                                memcpy(out, rds_entry_val(e),
                                                       e->vlen);
                                                found++;
                                        }
                                        rds_store_unlock(w->store, sh);
                                }
                        } else {
                                val[0] = (unsigned char)r;
                                rds_store_lock(w->store, sh);
                                if (rds_store_set_string(w->store, 0, key,
                                                         KEY_LEN, h, val,
                                                         VAL_LEN, 0, NULL))
                                        abort();
                                rds_store_unlock(w->store, sh);
                        }
                }
                ops += 64;
        }
        w->ops = ops;
        w->found = found;
        return NULL;
}

static int fill(struct rds_store *st, const unsigned char *keys, unsigned n)
{
        unsigned char val[VAL_LEN];

        memset(val, 'v', sizeof(val));
        for (unsigned i = 0; i < n; i++) {
                const unsigned char *k = keys + (size_t)i * KEY_LEN;
                uint64_t h = rds_store_hash(st, k, KEY_LEN);
                unsigned sh = rds_store_shard_of(st, h);
                int err;

                rds_store_lock(st, sh);
                err = rds_store_set_string(st, 0, k, KEY_LEN, h, val, VAL_LEN,
                                           0, NULL);
                rds_store_unlock(st, sh);
                if (err)
                        return err;
        }
        return 0;
}

static int run_one(const struct opts *o, const unsigned char *keys,
                   unsigned threads, unsigned shards, unsigned get_pct,
                   bool shared)
{
        struct rds_store *st;
        struct worker *w;
        _Atomic bool stop = false;
        _Atomic unsigned ready = 0;
        uint64_t t0, t1, ops = 0;
        int err;

        err = rds_store_new(shards, 16, &st);
        if (err)
                return err;
        err = fill(st, keys, o->keys);
        if (err)
                goto out_store;
        w = aligned_alloc(64, sizeof(*w) * threads);
        if (!w) {
                err = -ENOMEM;
                goto out_store;
        }
        for (unsigned i = 0; i < threads; i++) {
                w[i] = (struct worker){
                    .store = st,
                    .keys = keys,
                    .nkeys = o->keys,
                    .get_pct = get_pct,
                    .shared = shared,
                    .seed = 0x9e3779b97f4a7c15ULL * (i + 1) ^ now_ns(),
                    .stop = &stop,
                    .ready = &ready,
                };
                if (pthread_create(&w[i].tid, NULL, worker_main, &w[i])) {
                        atomic_store(&stop, true);
                        while (i-- > 0)
                                pthread_join(w[i].tid, NULL);
                        err = -EAGAIN;
                        goto out_w;
                }
        }
        while (atomic_load(&ready) < threads)
                sched_yield();
        t0 = now_ns();
        {
                struct timespec d = {
                    .tv_sec = (time_t)o->seconds,
                    .tv_nsec =
                        (long)((o->seconds - (double)(time_t)o->seconds) *
                               1e9)};

                nanosleep(&d, NULL);
        }
        atomic_store(&stop, true);
        for (unsigned i = 0; i < threads; i++) {
                pthread_join(w[i].tid, NULL);
                ops += w[i].ops;
        }
        t1 = now_ns();
        printf("lock=%s read=%s threads=%u shards=%u get_pct=%u keys=%u "
               "ops_per_sec=%.0f\n",
               rds__store_lock_name(), shared ? "shared" : "excl", threads,
               shards, get_pct, o->keys, (double)ops * 1e9 / (double)(t1 - t0));
        fflush(stdout);
out_w:
        free(w);
out_store:
        rds_store_free(st);
        return err;
}

static long rss_bytes(void)
{
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        long kb = -1;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb < 0 ? -1 : kb * 1024;
}

static int run_memory(const struct opts *o)
{
        unsigned n = o->mem_keys;
        unsigned char key[KEY_LEN], val[VAL_LEN];
        struct rds_store *st;
        struct rds_store_stats stats;
        struct mallinfo2 m0, m1;
        long rss0, rss1;
        uint64_t t0, worst = 0, slow = 0;
        int err;

        memset(val, 'v', sizeof(val));
        malloc_trim(0);
        rss0 = rss_bytes();
        m0 = mallinfo2();
        err = rds_store_new(o->mem_shards, 16, &st);
        if (err)
                return err;
        t0 = now_ns();
        for (unsigned i = 0; i < n; i++) {
                uint64_t a, b, h;
                unsigned sh;

                make_key(key, i);
                a = now_ns();
                h = rds_store_hash(st, key, KEY_LEN);
                sh = rds_store_shard_of(st, h);
                rds_store_lock(st, sh);
                err = rds_store_set_string(st, 0, key, KEY_LEN, h, val, VAL_LEN,
                                           0, NULL);
                rds_store_unlock(st, sh);
                b = now_ns();
                if (err) {
                        rds_store_free(st);
                        return err;
                }
                if (b - a > worst)
                        worst = b - a;
                if (b - a > 50000)
                        slow++;
        }
        t0 = now_ns() - t0;
        rss1 = rss_bytes();
        m1 = mallinfo2();
        rds_store_stats(st, &stats);
        printf("memory lock=%s keys=%u shards=%u key_len=%d val_len=%d "
               "rss_bytes_per_key=%.1f heap_bytes_per_key=%.1f "
               "store_bytes_per_key=%.1f rehashing=%llu insert_ns_avg=%.0f "
               "insert_ns_max=%llu inserts_over_50us=%llu\n",
               rds__store_lock_name(), n, o->mem_shards, KEY_LEN, VAL_LEN,
               (double)(rss1 - rss0) / n,
               (double)(m1.uordblks + m1.hblkhd - m0.uordblks - m0.hblkhd) / n,
               (double)stats.bytes / n, (unsigned long long)stats.rehashing,
               (double)t0 / n, (unsigned long long)worst,
               (unsigned long long)slow);
        rds_store_free(st);
        return 0;
}

static int parse_list(const char *arg, struct list *l)
{
        char *end;

        l->n = 0;
        for (;;) {
                unsigned long v = strtoul(arg, &end, 10);

                if (end == arg || v == 0 || v > 1u << 20 || l->n == MAX_LIST)
                        return -1;
                l->v[l->n++] = (unsigned)v;
                if (*end == '\0')
                        return 0;
                if (*end != ',')
                        return -1;
                arg = end + 1;
        }
}

static void usage(void)
{
        fprintf(stderr,
                "usage: rds-store-bench [--threads 1,2,4] [--shards 16,64]\n"
                "         [--mix 90,50] [--keys 100000] [--seconds 0.5]\n"
                "       rds-store-bench --memory [--mem-keys 1000000]\n"
                "         [--mem-shards 64]\n"
                "--mix is the percentage of GETs (the rest are SETs).\n");
        exit(2);
}

int main(int argc, char **argv)
{
        static const struct option lo[] = {
            {"threads", required_argument, NULL, 't'},
            {"shards", required_argument, NULL, 's'},
            {"mix", required_argument, NULL, 'm'},
            {"keys", required_argument, NULL, 'k'},
            {"seconds", required_argument, NULL, 'd'},
            {"memory", no_argument, NULL, 'M'},
            {"mem-keys", required_argument, NULL, 'K'},
            {"mem-shards", required_argument, NULL, 'S'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        struct opts o = {
            .threads = {{1, 2, 4}, 3},
            .shards = {{16, 64}, 2},
            .mix = {{90, 50}, 2},
            .keys = 100000,
            .seconds = 0.5,
            .mem_keys = 1000000,
            .mem_shards = 64,
        };
        unsigned char *keys;
        bool has_shared;
        int c, err = 0;

        while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
                char *end;

                switch (c) {
                case 't':
                        if (parse_list(optarg, &o.threads))
                                usage();
                        break;
                case 's':
                        if (parse_list(optarg, &o.shards))
                                usage();
                        break;
                case 'm':
                        if (parse_list(optarg, &o.mix))
                                usage();
                        for (unsigned i = 0; i < o.mix.n; i++)
                                if (o.mix.v[i] > 100)
                                        usage();
                        break;
                case 'k':
                        o.keys = (unsigned)strtoul(optarg, &end, 10);
                        if (*end || o.keys == 0)
                                usage();
                        break;
                case 'd':
                        o.seconds = strtod(optarg, &end);
                        if (*end || !(o.seconds > 0 && o.seconds < 3600))
                                usage();
                        break;
                case 'M':
                        o.memory = true;
                        break;
                case 'K':
                        o.mem_keys = (unsigned)strtoul(optarg, &end, 10);
                        if (*end || o.mem_keys == 0)
                                usage();
                        break;
                case 'S':
                        o.mem_shards = (unsigned)strtoul(optarg, &end, 10);
                        if (*end)
                                usage();
                        break;
                default:
                        usage();
                }
        }
        if (optind != argc)
                usage();
        if (o.memory) {
                err = run_memory(&o);
                if (err)
                        fprintf(stderr, "memory run failed: %s\n",
                                strerror(-err));
                return err ? 1 : 0;
        }
        keys = malloc((size_t)o.keys * KEY_LEN);
        if (!keys)
                return 1;
        for (unsigned i = 0; i < o.keys; i++)
                make_key(keys + (size_t)i * KEY_LEN, i);
        has_shared = strcmp(rds__store_lock_name(), "rwlock") == 0 ||
                     strcmp(rds__store_lock_name(), "swlock") == 0;
        for (unsigned m = 0; m < o.mix.n && !err; m++)
                for (unsigned sh = 0; sh < o.shards.n && !err; sh++)
                        for (unsigned t = 0; t < o.threads.n && !err; t++)
                                for (int shared = 0;
                                     shared <= (int)has_shared && !err;
                                     shared++)
                                        err = run_one(&o, keys, o.threads.v[t],
                                                      o.shards.v[sh],
                                                      o.mix.v[m], shared);
        if (err)
                fprintf(stderr, "run failed: %s\n", strerror(-err));
        free(keys);
        return err ? 1 : 0;
}
