/*
 * libtask/redis.h - the Redis client library, all of it: include this one.
 *
 *   redis_value.h     replies as values; the RESP2/RESP3 reader; requests
 *   redis_client.h    the async client: connect, commands, pipelining
 *   redis_cmd.h       typed helpers: PING, GET, SET, DEL, INCR, EXPIRE,
 *                     PUBLISH
 *   redis_sub.h       the subscriber: (p)subscribe, messages
 *   redis_buffered.h  many tasks sharing one connection, commands coalesced
 *   redis_pool.h      a small pool of connections
 *   redis_blocking.h  the same API for synchronous C, no coroutines
 *
 * Guide with complete examples: docs/redis-client.md.
 */
#ifndef LIBTASK_REDIS_H
#define LIBTASK_REDIS_H

#include <libtask/redis_blocking.h>
#include <libtask/redis_buffered.h>
#include <libtask/redis_client.h>
#include <libtask/redis_cmd.h>
#include <libtask/redis_pool.h>
#include <libtask/redis_sub.h>
#include <libtask/redis_value.h>

#endif /* LIBTASK_REDIS_H */
