/* redis/client/buffered.c - (being written) */
#include <libtask/redis.h>
