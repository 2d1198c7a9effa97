/* libtask/broadcast.h - placeholder until the broadcast primitive lands (issue 3). */
#ifndef LIBTASK_BROADCAST_H
#define LIBTASK_BROADCAST_H
#include <libtask/wait.h>
#endif
