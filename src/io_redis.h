/*-------------------------------------------------------------------------
 *
 * io_redis.h
 *		  Redis commands over hiredis' async API, driven by the event loop,
 *		  on connections kept across calls.
 *
 * IDENTIFICATION
 *		  src/io_redis.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_IO_REDIS_H
#define APEX_IO_REDIS_H

#include <hiredis/hiredis.h>

#include "apex_router.h"
#include "event_loop.h"

typedef struct ApexRedis ApexRedis;

/*
 * A reply (NULL when the connection failed or the call ended first; then
 * error says why in our words, a sentence, with its SQLSTATE; remote, when
 * not NULL, is what the server said, an AUTH/SELECT error reply, or, when
 * remote_from is "hiredis", hiredis quoting a bad reply).  Runs inside
 * hiredis: it must not throw, and may only record the reply or send further
 * commands.
 */
typedef void (*ApexRedisDone) (void *arg, redisReply *reply, const char *error,
							   int sqlerrcode, const char *remote,
							   const char *remote_from);

extern const struct ApexTransport ApexRedisTransport;
extern ApexRedis *ApexRedisAttach(ApexSource *source, ApexLoop *loop,
								  void *owner);
extern void ApexRedisCommand(ApexRedis *r, void *owner, void *party,
							 ApexRedisDone done, void *arg, int argc,
							 const char **argv);
extern bool ApexRedisConnected(ApexRedis *r);
extern bool ApexRedisAllSent(void *owner);
extern void ApexRedisDetach(void *owner, bool flush);

#endif							/* APEX_IO_REDIS_H */
