/* libtask/redis_cmd.h - (being written) */
#ifndef LIBTASK_REDIS_CMD_H
#define LIBTASK_REDIS_CMD_H

#include <libtask/redis_client.h>

#endif /* LIBTASK_REDIS_CMD_H */
