/* libtask/redis_sub.h - (being written) */
#ifndef LIBTASK_REDIS_SUB_H
#define LIBTASK_REDIS_SUB_H

#include <libtask/redis_client.h>

#endif /* LIBTASK_REDIS_SUB_H */
