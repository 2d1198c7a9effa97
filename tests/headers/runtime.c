/*
 * headers/runtime.c - <libtask/runtime.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/runtime.h>

int libtask_header_check_runtime(void);
int libtask_header_check_runtime(void)
{
        return 0;
}
