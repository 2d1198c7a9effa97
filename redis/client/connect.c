/* redis/client/connect.c - (being written) */
#include <libtask/redis.h>
