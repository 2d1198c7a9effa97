/*
 * headers/barrier.c - <libtask/barrier.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/barrier.h>

int libtask_header_check_barrier(void);
int libtask_header_check_barrier(void)
{
        return 0;
}
