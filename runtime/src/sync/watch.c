/* watch.c - placeholder until the watch primitive lands (issue 3). */
#include <libtask/watch.h>
