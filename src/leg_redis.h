/*-------------------------------------------------------------------------
 *
 * leg_redis.h
 *		  The configuration of a redis source: read by its leg and by the
 *		  result cache (cache.c), which lives in a redis source.
 *
 * IDENTIFICATION
 *		  src/leg_redis.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LEG_REDIS_H
#define APEX_LEG_REDIS_H

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

#endif							/* APEX_LEG_REDIS_H */
