/*
 * headers/common.c - <libtask/common.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/common.h>

int libtask_header_check_common(void);
int libtask_header_check_common(void)
{
        return 0;
}
