/*
 * headers/joinset.c - <libtask/joinset.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/joinset.h>

int libtask_header_check_joinset(void);
int libtask_header_check_joinset(void)
{
        return 0;
}
