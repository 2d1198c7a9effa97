/* libtask/rwlock.h - placeholder until the rwlock primitive lands (issue 3). */
#ifndef LIBTASK_RWLOCK_H
#define LIBTASK_RWLOCK_H
#include <libtask/wait.h>
#endif
