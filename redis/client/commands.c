/* redis/client/commands.c - (being written) */
#include <libtask/redis.h>
