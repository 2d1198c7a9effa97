/* mutex.c - placeholder until the mutex primitive lands (issue 3). */
#include <libtask/mutex.h>
