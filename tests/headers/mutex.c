/*
 * headers/mutex.c - <libtask/mutex.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/mutex.h>

int libtask_header_check_mutex(void);
int libtask_header_check_mutex(void)
{
        return 0;
}
