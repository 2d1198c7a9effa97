/*
 * wheel-priv.h - the per-worker timer wheel, as the scheduler sees it.
 * PLACEHOLDER CONTRACT (the time module replaces the body, keeping these
 * four calls): included by runtime-priv.h, the worker embeds its wheel.
 */
#ifndef LIBTASK_TIME_WHEEL_PRIV_H
#define LIBTASK_TIME_WHEEL_PRIV_H

#include <stdint.h>

struct task__wheel {
        uint64_t placeholder;
};

/* Set up an empty wheel (runtime build). */
void task__wheel_init(struct task__wheel *wh);
/* Tear down an empty wheel (runtime free; every timer is gone by then). */
void task__wheel_destroy(struct task__wheel *wh);
/* The deadline (CLOCK_MONOTONIC ns) of the earliest timer, or UINT64_MAX.
 * Owner worker only. */
uint64_t task__wheel_next_deadline(struct task__wheel *wh);
/* Fire every timer due at @now_ns: wake its task.  Owner worker only.
 * Returns how many fired. */
unsigned task__wheel_expire(struct task__wheel *wh, uint64_t now_ns);

#endif /* LIBTASK_TIME_WHEEL_PRIV_H */
