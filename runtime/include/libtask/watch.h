/* libtask/watch.h - placeholder until the watch primitive lands (issue 3). */
#ifndef LIBTASK_WATCH_H
#define LIBTASK_WATCH_H
#include <libtask/wait.h>
#endif
