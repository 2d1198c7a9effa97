/* notify.c - placeholder until the notify primitive lands (issue 3). */
#include <libtask/notify.h>
