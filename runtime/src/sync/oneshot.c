/* oneshot.c - placeholder until the oneshot primitive lands (issue 3). */
#include <libtask/oneshot.h>
