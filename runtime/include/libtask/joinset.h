/* libtask/joinset.h - placeholder until the joinset primitive lands (issue 3). */
#ifndef LIBTASK_JOINSET_H
#define LIBTASK_JOINSET_H
#include <libtask/wait.h>
#endif
