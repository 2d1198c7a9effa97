/*
 * headers/mpsc.c - <libtask/mpsc.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/mpsc.h>

int libtask_header_check_mpsc(void);
int libtask_header_check_mpsc(void)
{
        return 0;
}
