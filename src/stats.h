/*-------------------------------------------------------------------------
 *
 * stats.h
 *		  Statistics of every source across all backends.
 *
 * IDENTIFICATION
 *		  src/stats.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_STATS_H
#define APEX_STATS_H

#include "apex_router.h"

extern bool apex_track_stats;

extern void ApexStatsRecordLegs(List *legs, bool has_cache, bool cache_hit);
extern void ApexStatsRecordCacheHits(List *sources, int hits);

#endif							/* APEX_STATS_H */
