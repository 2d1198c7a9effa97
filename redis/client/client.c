/* redis/client/client.c - (being written) */
#include <libtask/redis.h>
