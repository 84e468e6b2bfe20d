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

#include "utils/guc.h"

#include "apex_router.h"
#include "plan.h"

typedef enum ApexCacheMode
{
	APEX_CACHE_OFF,
	APEX_CACHE_FIRST,			/* look in Redis, fan out only on a miss */
	APEX_CACHE_PARALLEL			/* ask Redis and the sources at once */
} ApexCacheMode;

typedef struct ApexCache ApexCache;

/* in cache.c */
extern char *apex_cache_source;
extern int	apex_cache_mode;
extern const struct config_enum_entry apex_cache_modes[];

extern ApexCache *ApexCacheOpen(ApexCall *call, ApexPlan *plan);
extern ApexCache *ApexCacheOpenMany(ApexCall *call, ApexBatchPlan *plan);
extern void ApexCacheLookup(ApexCache *cache, TimestampTz deadline);
extern bool ApexCacheEndsWait(ApexCache *cache);
extern bool ApexCacheHolds(ApexCache *cache);
extern bool ApexCacheHitRows(ApexCache *cache, int i, List **rows);
extern void ApexCacheStore(ApexCache *cache, int i, List *rows, bool complete);
extern void ApexCacheReport(ApexCache *cache);
extern const char *ApexCacheOutcome(ApexCache *cache, int i, const char **source);

#endif							/* APEX_CACHE_H */
