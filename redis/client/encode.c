/* redis/client/encode.c - (being written) */
#include <libtask/redis.h>
