/*
 * headers/oneshot.c - <libtask/oneshot.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/oneshot.h>

int libtask_header_check_oneshot(void);
int libtask_header_check_oneshot(void)
{
        return 0;
}
