/*
 * headers/semaphore.c - <libtask/semaphore.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/semaphore.h>

int libtask_header_check_semaphore(void);
int libtask_header_check_semaphore(void)
{
        return 0;
}
