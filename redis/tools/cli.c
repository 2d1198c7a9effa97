/* redis/tools/cli.c - (being written) */
#include <libtask/redis.h>

int main(void)
{
        return 1;
}
