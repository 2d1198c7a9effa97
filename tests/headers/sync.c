/*
 * headers/sync.c - <libtask/sync.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/sync.h>

int libtask_header_check_sync(void);
int libtask_header_check_sync(void)
{
        return 0;
}
