/* libtask/mutex.h - placeholder until the mutex primitive lands (issue 3). */
#ifndef LIBTASK_MUTEX_H
#define LIBTASK_MUTEX_H
#include <libtask/wait.h>
#endif
