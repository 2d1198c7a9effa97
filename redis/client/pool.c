/* redis/client/pool.c - (being written) */
#include <libtask/redis.h>
