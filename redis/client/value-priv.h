/*
 * redis/client/value-priv.h - how a reply's memory is laid out (private to
 * reader.c, which builds replies, and value.c, which frees them).
 *
 * A reply lives in a list of blocks.  The first block (the head) starts
 * with the root node, so task_redis_value_free(root) finds the list from
 * the root alone; the other blocks hold the nodes' strings and element
 * arrays, and big ones (a large bulk, a growing element array) get a block
 * of their own.  No node is ever freed on its own: the whole list goes at
 * once.
 */
#ifndef REDIS_CLIENT_VALUE_PRIV_H
#define REDIS_CLIENT_VALUE_PRIV_H

#include <libtask/redis_value.h>

#include <stddef.h>
#include <stdlib.h>

struct task_redis__block {
        struct task_redis__block *next; /* NULL: the last */
        struct task_redis__block *prev; /* NULL: the head */
        size_t cap;                     /* bytes in data */
        size_t used;                    /* bytes of data handed out */
        max_align_t data[];             /* the head's starts with the root */
};

/* The block that starts with @root. */
static inline struct task_redis__block *
task_redis__block_of(const struct task_redis_value *root)
{
        return (
            struct task_redis__block *)(void *)((char *)(void *)root -
                                                offsetof(
                                                    struct task_redis__block,
                                                    data));
}

/* Frees every block of the list that starts at @head (NULL: nothing). */
static inline void task_redis__blocks_free(struct task_redis__block *head)
{
        while (head) {
                struct task_redis__block *next = head->next;

                free(head);
                head = next;
        }
}

#endif /* REDIS_CLIENT_VALUE_PRIV_H */
