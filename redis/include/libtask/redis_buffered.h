/* libtask/redis_buffered.h - (being written) */
#ifndef LIBTASK_REDIS_BUFFERED_H
#define LIBTASK_REDIS_BUFFERED_H

#include <libtask/redis_client.h>

#endif /* LIBTASK_REDIS_BUFFERED_H */
