/* libtask/notify.h - placeholder until the notify primitive lands (issue 3). */
#ifndef LIBTASK_NOTIFY_H
#define LIBTASK_NOTIFY_H
#include <libtask/wait.h>
#endif
