/* joinset.c - placeholder until the joinset primitive lands (issue 3). */
#include <libtask/joinset.h>
