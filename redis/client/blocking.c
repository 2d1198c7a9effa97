/* redis/client/blocking.c - (being written) */
#include <libtask/redis.h>
