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

#include "event_loop.h"

typedef struct ApexRedis ApexRedis;

/* Where and how to connect: built by the caller from its source */
typedef struct ApexRedisTarget
{
	Oid			serverid;		/* connections are kept per server and */
	Oid			mapping_oid;	/* user mapping (InvalidOid: none, per user) */
	const char *label;			/* source name, for apex_router_connections */
	const char *host;			/* with port, unless socket is set */
	int			port;
	const char *socket;			/* a Unix socket's path, or NULL */
	const char *user;			/* a Redis 6 ACL user, sent with AUTH, or
								 * NULL (the default user) */
	const char *password;		/* sent with AUTH, or NULL */
	const char *db;				/* sent with SELECT, or NULL */
	long		connect_timeout_ms; /* a new connection */
} ApexRedisTarget;

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

/* in io_redis.c */
extern const struct ApexTransport ApexRedisTransport;
extern ApexRedis *ApexRedisAttach(const ApexRedisTarget *target, ApexLoop *loop,
								  void *owner);
extern void ApexRedisCommand(ApexRedis *r, void *owner, void *party,
							 ApexRedisDone done, void *arg, int argc,
							 const char **argv);

#endif							/* APEX_IO_REDIS_H */
