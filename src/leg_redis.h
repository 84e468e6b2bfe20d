/*-------------------------------------------------------------------------
 *
 * leg_redis.h
 *		  The configuration of a redis source, read by its leg and by the
 *		  result cache (cache.c), which lives in a redis source; and the
 *		  leg's reply decoder, exported for the fuzz harness (test/fuzz).
 *
 * IDENTIFICATION
 *		  src/leg_redis.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LEG_REDIS_H
#define APEX_LEG_REDIS_H

#include <hiredis/hiredis.h>

#include "apex_router.h"

typedef struct ApexRedisConf
{
	char	   *host;			/* NULL: 127.0.0.1 (unless socket) */
	int			port;			/* 0: 6379 */
	char	   *socket;			/* a Unix socket's path, or NULL */
	int			db;
	char	   *term_key;		/* pattern, one %s: a term's sorted set */
	char	   *item_key;		/* pattern, one %s: an item's hash */
	char	   *title_field;
	char	   *content_field;
	char	   *key_prefix;		/* of the cache's keys */
	int			ttl_s;			/* of the cache's entries */
} ApexRedisConf;

/* An item some query terms' sets name */
typedef struct ApexRedisHit
{
	char	   *id;
	int			matches;		/* query terms whose set holds the item */
	double		recency;		/* best score in those sets */
} ApexRedisHit;

/*
 * What the decoder knows of one search, between replies: the hits the
 * terms' sets named (ZREVRANGE), then the items made from the hashes of the
 * best of them (HGETALL).  Zeroed but for conf before the first reply.
 */
typedef struct ApexRedisDecodeState
{
	const ApexRedisConf *conf;	/* title_field, content_field */
	List	   *hits;			/* ApexRedisHit *, in the order first named */
	ApexRedisHit **best;		/* the hits whose hashes are asked for */
	int			nbest;
	List	   *items;			/* ApexItem *, from those hashes, best first */
} ApexRedisDecodeState;

/* in leg_redis.c: a redis source's connection, for its legs and the cache */
struct ApexRedisTarget;
extern void ApexRedisTargetOf(ApexSource *source, struct ApexRedisTarget *target);

/* in leg_redis.c: the decoder (pure: no I/O, no ereport) */
extern char *ApexRedisDecodeTerm(ApexRedisDecodeState *state,
								 const redisReply *reply, ApexRemote *remote);
extern List *ApexRedisRank(ApexRedisDecodeState *state, int limit);
extern char *ApexRedisDecodeItem(ApexRedisDecodeState *state, int i,
								 const redisReply *reply, ApexRemote *remote);

#endif							/* APEX_LEG_REDIS_H */
