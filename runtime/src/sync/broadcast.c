/* broadcast.c - placeholder until the broadcast primitive lands (issue 3). */
#include <libtask/broadcast.h>
