/*
 * headers/notify.c - <libtask/notify.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/notify.h>

int libtask_header_check_notify(void);
int libtask_header_check_notify(void)
{
        return 0;
}
