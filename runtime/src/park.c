/*
 * park.c - the monotonic clock the scheduler reads (busy time, parking
 * timeouts, timers).
 *
 * How a worker parks is the driver's business (struct task__driver_ops,
 * runtime-priv.h): the io_uring driver (io/driver.c) sleeps on the worker's
 * own ring and implements the parker protocol on struct task__parker:
 *
 *   park:   NOTIFIED -> EMPTY: consume the pending wake-up and return.
 *           EMPTY -> PARKED, then sleep while PARKED; on wake,
 *           back to EMPTY and return (a spurious wake also returns, the
 *           caller loops).
 *   unpark: swap in NOTIFIED; if the old value was PARKED, ring the
 *           doorbell (the ring's eventfd).
 *
 * No lost wake-ups: an unpark before the park leaves NOTIFIED, which the
 * park consumes; an unpark during it rings the doorbell, whose count
 * persists until the parked worker's read of it completes.
 */
#include "runtime-priv.h"

#include <time.h>

uint64_t task__now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
