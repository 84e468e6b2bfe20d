/*-------------------------------------------------------------------------
 *
 * cache.h
 *		  Result and embedding cache in a Redis source.
 *
 * IDENTIFICATION
 *		  src/cache.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_CACHE_H
#define APEX_CACHE_H

#include "apex_router.h"

typedef enum ApexCacheMode
{
	APEX_CACHE_OFF,
	APEX_CACHE_FIRST,			/* look in Redis, fan out only on a miss */
	APEX_CACHE_PARALLEL			/* ask Redis and the sources at once */
} ApexCacheMode;

typedef struct ApexCache ApexCache;

/* a lookup's outcome: the epoch and the value (NULL: miss), or two NULLs */
typedef void (*ApexCacheGot) (void *arg, const char *epoch, const char *value);

/* in cache.c */
extern char *apex_cache_source;
extern int	apex_cache_mode;

extern ApexCache *ApexCacheOpen(ApexCall *call, List *sources, int rrf_k);
extern ApexCacheMode ApexCacheModeOf(ApexCache *cache);
extern void ApexCacheLookup(ApexCache *cache);
extern bool ApexCacheAnswered(ApexCache *cache);
extern const char *ApexCacheHit(ApexCache *cache);
extern void ApexCacheStore(ApexCache *cache, const char *rows);
extern void ApexCacheReport(ApexCache *cache);
extern void ApexCacheGet(ApexCache *cache, const char *space, const char *hash,
						 ApexCacheGot got, void *arg, void *party);
extern void ApexCacheSet(ApexCache *cache, const char *space, const char *epoch,
						 const char *hash, const char *value);
extern char *ApexCacheEmbeddingHash(ApexSource *embedder, const char *text);

#endif							/* APEX_CACHE_H */
