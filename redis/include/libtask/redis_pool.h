/* libtask/redis_pool.h - (being written) */
#ifndef LIBTASK_REDIS_POOL_H
#define LIBTASK_REDIS_POOL_H

#include <libtask/redis_client.h>

#endif /* LIBTASK_REDIS_POOL_H */
