/*
 * headers/watch.c - <libtask/watch.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/watch.h>

int libtask_header_check_watch(void);
int libtask_header_check_watch(void)
{
        return 0;
}
