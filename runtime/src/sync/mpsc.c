/* mpsc.c - placeholder until the mpsc primitive lands (issue 3). */
#include <libtask/mpsc.h>
