/*
 * headers/broadcast.c - <libtask/broadcast.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/broadcast.h>

int libtask_header_check_broadcast(void);
int libtask_header_check_broadcast(void)
{
        return 0;
}
