/* redis/tools/bench.c - (being written) */
#include <libtask/redis.h>

int main(void)
{
        return 1;
}
