/* libtask/oneshot.h - placeholder until the oneshot primitive lands (issue 3). */
#ifndef LIBTASK_ONESHOT_H
#define LIBTASK_ONESHOT_H
#include <libtask/wait.h>
#endif
