/* redis/client/subscriber.c - (being written) */
#include <libtask/redis.h>
