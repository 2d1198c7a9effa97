/* tests/redis/client/test_reader.c - (being written) */
#include <criterion/criterion.h>

Test(placeholder, empty)
{
        cr_skip_test("being written");
}
