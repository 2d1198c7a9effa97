/*
 * redis/client/value.c - replies as values: freeing one, naming types,
 * telling errors apart.
 *
 * A reply is built by the reader (reader.c) in a few blocks whose list
 * starts right before the root node (value-priv.h), so freeing a reply is
 * a walk of that list, whatever the tree's shape: no recursion, and the
 * nodes are never looked at.  Callers: every client flavor, and users of
 * the reader directly.
 */
#include <libtask/redis_value.h>

#include <stdlib.h>
#include <string.h>

#include "value-priv.h"

void task_redis_value_free(struct task_redis_value *v)
{
        if (v)
                task_redis__blocks_free(task_redis__block_of(v));
}

const char *task_redis_type_name(enum task_redis_type t)
{
        switch (t) {
        case TASK_REDIS_NIL:
                return "nil";
        case TASK_REDIS_STRING:
                return "string";
        case TASK_REDIS_STATUS:
                return "status";
        case TASK_REDIS_ERROR:
                return "error";
        case TASK_REDIS_INTEGER:
                return "integer";
        case TASK_REDIS_DOUBLE:
                return "double";
        case TASK_REDIS_BOOL:
                return "bool";
        case TASK_REDIS_BIGNUM:
                return "bignum";
        case TASK_REDIS_VERBATIM:
                return "verbatim";
        case TASK_REDIS_ARRAY:
                return "array";
        case TASK_REDIS_MAP:
                return "map";
        case TASK_REDIS_SET:
                return "set";
        case TASK_REDIS_PUSH:
                return "push";
        }
        return "unknown";
}

bool task_redis_value_is_error(const struct task_redis_value *v,
                               const char *prefix)
{
        size_t n;

        if (!v || v->type != TASK_REDIS_ERROR)
                return false;
        if (!prefix)
                return true;
        /* The first word: up to a space or the end. */
        n = strlen(prefix);
        return v->len >= n && memcmp(v->str, prefix, n) == 0 &&
               (v->len == n || v->str[n] == ' ');
}
