/*-------------------------------------------------------------------------
 *
 * shared_sources.h
 *		  One shared-memory record per source, for every backend: its
 *		  statistics (stats.c) and its circuit breaker (breaker.c).
 *
 * IDENTIFICATION
 *		  src/shared_sources.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_SHARED_SOURCES_H
#define APEX_SHARED_SOURCES_H

#include "port/atomics.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

/* The counters of stats.c, each an atomic of its own */
typedef enum ApexStatCounter
{
	APEX_STAT_LEGS,				/* times the source was asked (or its rows
								 * came from the cache) */
	APEX_STAT_OK,
	APEX_STAT_ERRORS,
	APEX_STAT_TIMEOUTS,
	APEX_STAT_REFUSED,
	APEX_STAT_SKIPPED,			/* by its circuit breaker */
	APEX_STAT_CACHE_HITS,
	APEX_STAT_CACHE_MISSES,
	APEX_STAT_ROWS,
	APEX_STAT_BYTES,
	APEX_STAT_TIMED,			/* legs in the latency histogram */
	APEX_STAT_TIME_US,			/* their total time */
	APEX_STAT_COUNTERS
} ApexStatCounter;

/*
 * The latency histogram: bucket b holds times up to APEX_LATENCY_FIRST_MS
 * * APEX_LATENCY_RATIO^b ms (0.1 ms, 0.125, ... 100 s: each 25 % wider
 * than the one before); the last holds everything longer
 */
#define APEX_LATENCY_BUCKETS 64
#define APEX_LATENCY_FIRST_MS 0.1
#define APEX_LATENCY_RATIO 1.25

typedef enum ApexBreakerState
{
	APEX_BREAKER_CLOSED = 0,
	APEX_BREAKER_OPEN,
	APEX_BREAKER_HALF_OPEN		/* one call probes it */
} ApexBreakerState;

#define APEX_LAST_ERROR_BYTES 256

/* A source's circuit breaker, under its record's mutex */
typedef struct ApexBreaker
{
	ApexBreakerState state;
	int			failures;		/* consecutive */
	TimestampTz opened_at;
	TimestampTz probe_started;	/* half-open: when its probe began */
	TimestampTz last_success;
	TimestampTz last_failure;
	char		last_error[APEX_LAST_ERROR_BYTES];	/* our words, never a peer's */
} ApexBreaker;

typedef struct ApexSharedSource
{
	Oid			dbid;			/* the key, set once */
	Oid			serverid;
	pg_atomic_uint64 counters[APEX_STAT_COUNTERS];
	pg_atomic_uint64 buckets[APEX_LATENCY_BUCKETS];
	slock_t		mutex;			/* for breaker */
	ApexBreaker breaker;
} ApexSharedSource;

extern int	apex_max_tracked_sources;

extern void ApexSharedSourcesInit(void);
extern bool ApexSharedSourcesReady(void);
extern void ApexSharedSourcesRequire(const char *what);
extern ApexSharedSource *ApexSharedSourceOf(Oid serverid);
extern int	ApexSharedSourcesSnapshot(ApexSharedSource ***records);
extern TimestampTz ApexSharedStatsReset(bool reset);

#endif							/* APEX_SHARED_SOURCES_H */
