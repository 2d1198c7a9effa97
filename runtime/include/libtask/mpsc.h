/* libtask/mpsc.h - placeholder until the mpsc primitive lands (issue 3). */
#ifndef LIBTASK_MPSC_H
#define LIBTASK_MPSC_H
#include <libtask/wait.h>
#endif
