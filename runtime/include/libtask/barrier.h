/* libtask/barrier.h - placeholder until the barrier primitive lands (issue 3). */
#ifndef LIBTASK_BARRIER_H
#define LIBTASK_BARRIER_H
#include <libtask/wait.h>
#endif
