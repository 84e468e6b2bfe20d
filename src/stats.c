/*-------------------------------------------------------------------------
 *
 * stats.c
 *		  Statistics of every source across all backends (issue 14 item 3):
 *		  apex_router_stats() and apex_router_stats_reset().
 *
 * In the spirit of pg_stat_statements: cumulative counters per source in
 * shared memory (shared_sources.c), kept while apex_router.track_stats is
 * on, and a latency histogram of the legs' times from which the view
 * estimates percentiles.  A call adds its legs' outcomes when it ends:
 * a few atomic additions per leg, no lock (the table's LWLock only the
 * first time a backend meets a source).
 *
 * The percentiles are estimates: the histogram's buckets grow by a
 * quarter from 0.1 ms to 100 s (shared_sources.h), and a percentile is
 * interpolated linearly inside its bucket, so it is within 25 % of the
 * true value.
 *
 * IDENTIFICATION
 *		  src/stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "foreign/foreign.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "shared_sources.h"
#include "stats.h"

bool		apex_track_stats = true;

PG_FUNCTION_INFO_V1(apex_router_stats);
PG_FUNCTION_INFO_V1(apex_router_stats_reset);

static inline void
apex_stat_add(ApexSharedSource *r, ApexStatCounter c, uint64 n)
{
	pg_atomic_fetch_add_u64(&r->counters[c], n);
}

/* The upper bound of bucket b, in ms */
static double
apex_bucket_bound(int b)
{
	return APEX_LATENCY_FIRST_MS * pow(APEX_LATENCY_RATIO, b);
}

static void
apex_stat_time(ApexSharedSource *r, double ms)
{
	int			b = 0;

	if (ms > APEX_LATENCY_FIRST_MS)
		b = (int) ceil(log(ms / APEX_LATENCY_FIRST_MS) / log(APEX_LATENCY_RATIO));
	b = Min(b, APEX_LATENCY_BUCKETS - 1);
	pg_atomic_fetch_add_u64(&r->buckets[b], 1);
	apex_stat_add(r, APEX_STAT_TIMED, 1);
	apex_stat_add(r, APEX_STAT_TIME_US, (uint64) (ms * 1000));
}

/*
 * A call's legs are over: add their outcomes.  cache_hit: the rows came
 * from the result cache (the legs were not needed); a call without a
 * cache counts neither hits nor misses.
 */
void
ApexStatsRecordLegs(List *legs, bool has_cache, bool cache_hit)
{
	ListCell   *lc;

	if (!apex_track_stats || !ApexSharedSourcesReady())
		return;
	foreach(lc, legs)
	{
		ApexLeg    *leg = lfirst(lc);
		const ApexLegTrace *t = &leg->trace;
		ApexSharedSource *r = ApexSharedSourceOf(leg->source->serverid);

		if (r == NULL)
			continue;
		apex_stat_add(r, APEX_STAT_LEGS, 1);
		if (has_cache)
			apex_stat_add(r, cache_hit ? APEX_STAT_CACHE_HITS : APEX_STAT_CACHE_MISSES, 1);
		switch (t->status)
		{
			case APEX_LEG_OK:
				apex_stat_add(r, APEX_STAT_OK, 1);
				apex_stat_add(r, APEX_STAT_ROWS, list_length(leg->items));
				break;
			case APEX_LEG_ERROR:
				apex_stat_add(r, APEX_STAT_ERRORS, 1);
				break;
			case APEX_LEG_TIMEOUT:
				apex_stat_add(r, APEX_STAT_TIMEOUTS, 1);
				break;
			case APEX_LEG_REFUSED:
				apex_stat_add(r, APEX_STAT_REFUSED, 1);
				break;
			case APEX_LEG_SKIPPED:
				apex_stat_add(r, APEX_STAT_SKIPPED, 1);
				break;
			case APEX_LEG_RUNNING:
				/* not needed: the cache answered */
				break;
		}
		if (t->bytes > 0)
			apex_stat_add(r, APEX_STAT_BYTES, (uint64) t->bytes);
		if (t->started != 0 && t->ended != 0)
			apex_stat_time(r, (t->ended - t->started) / 1000.0);
	}
}

/*
 * Questions of a batch the cache answered before any leg was made: a hit
 * for each of the batch's sources (its legs would have asked them).
 */
void
ApexStatsRecordCacheHits(List *sources, int hits)
{
	ListCell   *lc;

	if (hits == 0 || !apex_track_stats || !ApexSharedSourcesReady())
		return;
	foreach(lc, sources)
	{
		ApexSharedSource *r = ApexSharedSourceOf(((ApexSource *) lfirst(lc))->serverid);

		if (r == NULL)
			continue;
		apex_stat_add(r, APEX_STAT_LEGS, hits);
		apex_stat_add(r, APEX_STAT_CACHE_HITS, hits);
	}
}

/* The p-quantile (0 < p < 1) of a histogram of n legs, in ms, or -1 */
static double
apex_quantile(const uint64 *buckets, uint64 n, double p)
{
	double		want = p * n;
	double		below = 0;

	if (n == 0)
		return -1;
	for (int b = 0; b < APEX_LATENCY_BUCKETS; b++)
	{
		double		lo = b == 0 ? 0 : apex_bucket_bound(b - 1);
		double		hi;

		if (buckets[b] == 0 || below + buckets[b] < want)
		{
			below += buckets[b];
			continue;
		}
		/* the open last bucket: its lower bound is all that is known */
		if (b == APEX_LATENCY_BUCKETS - 1)
			return lo;
		hi = apex_bucket_bound(b);
		return lo + (hi - lo) * (want - below) / buckets[b];
	}
	return apex_bucket_bound(APEX_LATENCY_BUCKETS - 2);
}

#define APEX_STATS_COLS 17

/* apex_router_stats(): one row per source of this database it has counted */
Datum
apex_router_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ApexSharedSource **records;
	int			n;
	TimestampTz reset;

	ApexSharedSourcesRequire("apex_router_stats()");
	InitMaterializedSRF(fcinfo, 0);
	reset = ApexSharedStatsReset(false);
	n = ApexSharedSourcesSnapshot(&records);
	for (int i = 0; i < n; i++)
	{
		ForeignServer *server = GetForeignServerExtended(records[i]->serverid, FSV_MISSING_OK);
		uint64		c[APEX_STAT_COUNTERS];
		uint64		buckets[APEX_LATENCY_BUCKETS];
		Datum		values[APEX_STATS_COLS];
		bool		nulls[APEX_STATS_COLS] = {0};
		double		q[3] = {0.5, 0.95, 0.99};
		int			col = 0;

		/* a dropped source's record stays (records are never freed) */
		if (server == NULL)
			continue;
		for (int k = 0; k < APEX_STAT_COUNTERS; k++)
			c[k] = pg_atomic_read_u64(&records[i]->counters[k]);
		for (int b = 0; b < APEX_LATENCY_BUCKETS; b++)
			buckets[b] = pg_atomic_read_u64(&records[i]->buckets[b]);
		values[col++] = CStringGetTextDatum(server->servername);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_LEGS]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_OK]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_ERRORS]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_TIMEOUTS]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_REFUSED]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_SKIPPED]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_CACHE_HITS]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_CACHE_MISSES]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_ROWS]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_BYTES]);
		values[col++] = Int64GetDatum((int64) c[APEX_STAT_TIMED]);
		nulls[col] = c[APEX_STAT_TIMED] == 0;
		values[col] = Float8GetDatum(nulls[col] ? 0 :
									 c[APEX_STAT_TIME_US] / 1000.0 / c[APEX_STAT_TIMED]);
		col++;
		for (int k = 0; k < 3; k++)
		{
			double		ms = apex_quantile(buckets, c[APEX_STAT_TIMED], q[k]);

			nulls[col] = ms < 0;
			values[col++] = Float8GetDatum(ms);
		}
		values[col++] = TimestampTzGetDatum(reset);
		Assert(col == APEX_STATS_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* apex_router_stats_reset(): zero every source's counters; when it was done */
Datum
apex_router_stats_reset(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(ApexSharedStatsReset(true));
}
