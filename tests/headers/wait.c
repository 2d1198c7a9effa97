/*
 * headers/wait.c - <libtask/wait.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/wait.h>

int libtask_header_check_wait(void);
int libtask_header_check_wait(void)
{
        return 0;
}
