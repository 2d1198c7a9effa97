/*
 * blocking.c - PLACEHOLDER: the blocking-pool module replaces this file,
 * keeping the two runtime hooks (runtime-priv.h).
 */
#include "runtime-priv.h"

#include <libtask/blocking.h>

int task_spawn_blocking(task_runtime *rt, task_blocking_fn fn, void *arg,
                        task_handle **out)
{
        (void)rt;
        (void)fn;
        (void)arg;
        (void)out;
        return -ENOSYS;
}

void *task_blocking_result(task_handle *h)
{
        (void)h;
        return NULL;
}

void task__blocking_shutdown(struct task_runtime *rt)
{
        (void)rt;
}

void task__blocking_destroy(struct task_runtime *rt)
{
        (void)rt;
}
