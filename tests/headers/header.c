/*
 * headers/header.c - one public header compiles on its own, first, in
 * strict C11 with -Wpedantic.  tests/meson.build builds this file once per
 * header in runtime_public_header_names, naming it with
 * -DTASK_TEST_HEADER=<libtask/NAME.h>; there is nothing to run.
 */
#include TASK_TEST_HEADER

int libtask_header_check(void);
int libtask_header_check(void)
{
        return 0;
}
