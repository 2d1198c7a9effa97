/* tests/redis/client/test_subscriber.c - (being written) */
#include <criterion/criterion.h>

Test(placeholder, empty)
{
        cr_skip_test("being written");
}
