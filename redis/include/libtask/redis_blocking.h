/* libtask/redis_blocking.h - (being written) */
#ifndef LIBTASK_REDIS_BLOCKING_H
#define LIBTASK_REDIS_BLOCKING_H

#include <libtask/redis_client.h>

#endif /* LIBTASK_REDIS_BLOCKING_H */
