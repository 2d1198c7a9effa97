/* redis/client/reader.c - (being written) */
#include <libtask/redis.h>
