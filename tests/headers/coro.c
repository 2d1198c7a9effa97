/*
 * headers/coro.c - <libtask/coro.h> compiles on its own, first, in strict C11
 * with -Wpedantic (tests/meson.build builds it; there is nothing to run).
 */
#include <libtask/coro.h>

int libtask_header_check_coro(void);
int libtask_header_check_coro(void)
{
        return 0;
}
