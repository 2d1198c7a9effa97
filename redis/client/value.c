/* redis/client/value.c - (being written) */
#include <libtask/redis.h>
