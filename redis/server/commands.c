/*
 * redis/server/commands.c - the command registry.
 *
 * Each command module exports a table (server.h); rds_commands_init()
 * merges them into one list (the order COMMAND shows) and one hash table
 * for rds_command_lookup(), which runs for every request, so it is built
 * to be cheap: open addressing over a power-of-two array at most a
 * quarter full, keyed by FNV-1a of the name folded to lower case with
 * `| 0x20` (exact for letters; other bytes fold consistently, which is all
 * a hash needs), the final check a length compare and strncasecmp.  A
 * name longer than any command's is refused before hashing.  No
 * allocation, no lock: the table is built before the server starts and is
 * read-only afterwards.
 *
 * Container commands (CLIENT, CONFIG, COMMAND) dispatch their
 * subcommands with rds_command_dispatch_sub(), which gives Redis 7's
 * errors for an unknown subcommand and for a subcommand's arity.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

static const struct rds_command *const modules[] = {
    rds_conn_commands,   rds_string_commands, rds_keys_commands,
    rds_expire_commands, rds_pubsub_commands, rds_server_commands,
};

struct slot {
        const struct rds_command *cmd; /* NULL: empty */
        size_t len;
};

static const struct rds_command **cmd_list; /* every command, in order */
static size_t cmd_count;
static struct slot *slots;
static size_t slot_mask;
static size_t longest; /* the longest name: longer ones cannot match */

static inline uint64_t name_hash(const unsigned char *p, size_t len)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < len; i++) {
                h ^= (uint64_t)(p[i] | 0x20);
                h *= 0x100000001b3ULL;
        }
        return h;
}

void rds_commands_free(void)
{
        free(cmd_list);
        free(slots);
        cmd_list = NULL;
        slots = NULL;
        cmd_count = 0;
        slot_mask = 0;
        longest = 0;
}

int rds_commands_init(void)
{
        size_t n = 0, nslots = 16;

        rds_commands_free();
        for (size_t m = 0; m < sizeof(modules) / sizeof(modules[0]); m++) {
                const struct rds_command *t = modules[m];
                for (; t->name; t++)
                        n++;
        }
        while (nslots < 4 * n)
                nslots *= 2;
        cmd_list = calloc(n ? n : 1, sizeof(*cmd_list));
        slots = calloc(nslots, sizeof(*slots));
        if (!cmd_list || !slots) {
                rds_commands_free();
                return -ENOMEM;
        }
        slot_mask = nslots - 1;

        for (size_t m = 0; m < sizeof(modules) / sizeof(modules[0]); m++) {
                const struct rds_command *t = modules[m];
                for (; t->name; t++) {
                        size_t len = strlen(t->name);
                        size_t i =
                            name_hash((const unsigned char *)t->name, len) &
                            slot_mask;

                        if (rds_command_lookup(t->name, len)) {
                                rds_log(RDS_LOG_WARNING,
                                        "Command '%s' is defined twice",
                                        t->name);
                                rds_commands_free();
                                return -EEXIST;
                        }
                        while (slots[i].cmd)
                                i = (i + 1) & slot_mask;
                        slots[i].cmd = t;
                        slots[i].len = len;
                        cmd_list[cmd_count++] = t;
                        if (len > longest)
                                longest = len;
                }
        }
        return 0;
}

const struct rds_command *rds_command_lookup(const void *name, size_t len)
{
        const unsigned char *p = name;
        size_t i;

        if (len > longest || !slots)
                return NULL;
        i = name_hash(p, len) & slot_mask;
        for (; slots[i].cmd; i = (i + 1) & slot_mask)
                if (slots[i].len == len &&
                    strncasecmp(slots[i].cmd->name, (const char *)p, len) == 0)
                        return slots[i].cmd;
        return NULL;
}

const struct rds_command *rds_command_at(size_t i)
{
        return i < cmd_count ? cmd_list[i] : NULL;
}

size_t rds_command_count(void)
{
        return cmd_count;
}

const struct rds_command *rds_command_lookup_sub(const struct rds_command *cmd,
                                                 const void *name, size_t len)
{
        if (!cmd || !cmd->subcommands)
                return NULL;
        for (const struct rds_command *s = cmd->subcommands; s->name; s++)
                if (strlen(s->name) == len &&
                    strncasecmp(s->name, name, len) == 0)
                        return s;
        return NULL;
}

/* An argument as Redis prints it with %.128s: at most 128 bytes, up to a
 * NUL. */
static void arg_cstr(char *buf, size_t size, const struct rds_arg *a)
{
        size_t n = 0;

        while (n < a->len && n < size - 1 && n < 128 && a->p[n])
                n++;
        memcpy(buf, a->p, n);
        buf[n] = '\0';
}

void rds_command_dispatch_sub(struct rds_client *c,
                              const struct rds_command *parent, int argc,
                              const struct rds_arg *argv)
{
        const struct rds_command *sub = NULL;
        char name[130];

        if (argc >= 2)
                sub = rds_command_lookup_sub(parent, argv[1].p, argv[1].len);
        if (!sub) {
                char up[32];
                size_t i;

                for (i = 0; parent->name[i] && i < sizeof(up) - 1; i++)
                        up[i] = (char)(parent->name[i] >= 'a' &&
                                               parent->name[i] <= 'z'
                                           ? parent->name[i] - 32
                                           : parent->name[i]);
                up[i] = '\0';
                if (argc >= 2)
                        arg_cstr(name, sizeof(name), &argv[1]);
                else
                        name[0] = '\0';
                rds_reply_errorf(&c->out,
                                 "ERR unknown subcommand '%s'. Try %s HELP.",
                                 name, up);
                return;
        }
        if ((sub->arity > 0 && argc != sub->arity) ||
            (sub->arity < 0 && argc < -sub->arity)) {
                rds_reply_errorf(&c->out,
                                 "ERR wrong number of arguments for '%s|%s' "
                                 "command",
                                 parent->name, sub->name);
                return;
        }
        sub->fn(c, argc, argv);
}

void rds_reply_help(struct rds_client *c, const char *parent,
                    const char *const *lines)
{
        char head[96];
        size_t n = 0, i;

        while (lines[n])
                n++;
        for (i = 0; parent[i] && i < 32; i++)
                head[i] =
                    (char)(parent[i] >= 'a' && parent[i] <= 'z' ? parent[i] - 32
                                                                : parent[i]);
        snprintf(head + i, sizeof(head) - i,
                 " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        rds_reply_array_len(&c->out, n + 3);
        rds_reply_simple(&c->out, head);
        for (i = 0; i < n; i++)
                rds_reply_simple(&c->out, lines[i]);
        rds_reply_simple(&c->out, "HELP");
        rds_reply_simple(&c->out, "    Prints this help.");
}

/* ---- Text replies --------------------------------------------------------------- */

static bool text_reserve(struct rds_text *t, size_t more)
{
        size_t need, ncap;
        char *n;

        if (t->oom)
                return false;
        need = t->len + more + 1;
        if (need <= t->cap)
                return true;
        ncap = t->cap ? t->cap : 256;
        while (ncap < need)
                ncap *= 2;
        n = realloc(t->p, ncap);
        if (!n) {
                t->oom = true;
                return false;
        }
        t->p = n;
        t->cap = ncap;
        return true;
}

void rds_text_append(struct rds_text *t, const void *p, size_t len)
{
        if (!text_reserve(t, len))
                return;
        memcpy(t->p + t->len, p, len);
        t->len += len;
        t->p[t->len] = '\0';
}

void rds_text_printf(struct rds_text *t, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (!text_reserve(t, 128))
                return;
        va_start(ap, fmt);
        n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n >= t->cap - t->len) {
                if (!text_reserve(t, (size_t)n))
                        return;
                va_start(ap, fmt);
                vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
                va_end(ap);
        }
        t->len += (size_t)n;
}

void rds_text_free(struct rds_text *t)
{
        free(t->p);
        memset(t, 0, sizeof(*t));
}
