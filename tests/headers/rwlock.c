/*
 * headers/rwlock.c - <libtask/rwlock.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/rwlock.h>

int libtask_header_check_rwlock(void);
int libtask_header_check_rwlock(void)
{
        return 0;
}
