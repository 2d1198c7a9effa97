/* barrier.c - placeholder until the barrier primitive lands (issue 3). */
#include <libtask/barrier.h>
