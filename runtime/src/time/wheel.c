/*
 * wheel.c - PLACEHOLDER: the time module replaces this file.
 */
#include "runtime-priv.h"

void task__wheel_init(struct task__wheel *wh)
{
        wh->placeholder = 0;
}

void task__wheel_destroy(struct task__wheel *wh)
{
        (void)wh;
}

uint64_t task__wheel_next_deadline(struct task__wheel *wh)
{
        (void)wh;
        return UINT64_MAX;
}

unsigned task__wheel_expire(struct task__wheel *wh, uint64_t now_ns)
{
        (void)wh;
        (void)now_ns;
        return 0;
}
