/*-------------------------------------------------------------------------
 *
 * router.c
 *		  apex_route(): plan, run the legs concurrently, fuse, emit rows.
 *
 * The plan (plan.c) checks the arguments and clears the sources; with a
 * result cache (cache.c) the rows may come from Redis instead, before or
 * while the legs run.  Order of a call: every remote leg starts its clock and issues its
 * requests; the event loop runs until they are all on the wire (at most
 * APEX_SEND_WAIT_MS: a host whose connect hangs does not hold up the rest);
 * local (SPI) legs run while the remote sources work; the loop then reads
 * what arrived meanwhile and runs until every leg has an outcome (each
 * remote leg's clock ends it) or the call's deadline, if it has one,
 * passes.  Latency is the slowest leg, not the sum.
 *
 * apex_router.sequential runs the same legs one after another instead, in
 * the plan's order, each on its own clock: what a router asking its
 * sources in turn would cost, the baseline benchmarks compare against.
 *
 * The router names no transport: it asks them through transport.h, and the
 * call's life (memory, loop, release on any error) is call.c's.
 *
 * IDENTIFICATION
 *		  src/router.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "apex_router.h"
#include "breaker.h"
#include "cache.h"
#include "call.h"
#include "compat.h"
#include "embed_batch.h"
#include "event_loop.h"
#include "fusion.h"
#include "plan.h"
#include "rerank.h"
#include "route_out.h"
#include "stats.h"
#include "trace.h"
#include "transport.h"

PG_FUNCTION_INFO_V1(apex_route);
PG_FUNCTION_INFO_V1(apex_explain);

static bool
apex_all_sent(void *arg)
{
	ApexCall   *call = arg;

	if (ApexCacheEndsWait(call->cache))
		return true;
	return ApexTransportsAllSent(call);
}

static bool
apex_all_done(void *arg)
{
	ApexCall   *call = arg;
	ListCell   *lc;

	if (ApexCacheEndsWait(call->cache))
		return true;
	foreach(lc, call->legs)
	{
		if (!((ApexLeg *) lfirst(lc))->done)
			return false;
	}
	return !ApexCacheHolds(call->cache);
}

static bool
apex_leg_over(void *arg)
{
	ApexLeg    *leg = arg;

	return leg->done || ApexCacheEndsWait(leg->call->cache);
}

/*
 * apex_router.sequential: each leg starts once the one before has its
 * outcome.  False when the call's deadline passed first.
 */
static bool
apex_run_sequential(ApexCall *call, TimestampTz deadline)
{
	ListCell   *lc;

	foreach(lc, call->legs)
	{
		ApexLeg    *leg = lfirst(lc);
		const ApexKind *kind = leg->source->kind;

		if (leg->done || ApexCacheEndsWait(call->cache))
			continue;
		if (kind->start)
			ApexLegStart(leg);
		if (kind->run_local && !leg->done)
			kind->run_local(leg);
		if (!ApexLoopRun(call->loop, apex_leg_over, leg, deadline))
			return false;
	}
	return ApexLoopRun(call->loop, apex_all_done, call, deadline);
}

/*
 * How long local legs wait for the remote requests to be written.  A
 * healthy network writes them within a millisecond or two; a host whose
 * connect hangs must not hold the local legs for its whole connect timeout
 * (its request is written after them, once connected).
 */
#define APEX_SEND_WAIT_MS 100

/*
 * Whether two of the plan's sources search with vectors from the same
 * embedder: then one request serves both (embed_batch.c), as in
 * apex_route_many, instead of one per leg through the vector cache
 */
static bool
apex_embedder_shared(ApexPlan *plan)
{
	List	   *embedders = NIL;
	ListCell   *lc;

	foreach(lc, plan->legs)
	{
		ApexPlannedLeg *leg = lfirst(lc);

		if (leg->error || leg->source->embedder == NULL)
			continue;
		if (list_member_oid(embedders, leg->source->embedder->serverid))
			return true;
		embedders = lappend_oid(embedders, leg->source->embedder->serverid);
	}
	return false;
}

/*
 * Run every leg to an outcome (see the file header for the order), unless
 * the cache has the rows first: then true, with the cached rows in
 * *cached; else false, every leg done.
 */
static bool
apex_run(ApexCall *call, ApexPlan *plan, List **cached)
{
	TimestampTz deadline;
	ListCell   *lc;

	/* without a timeout_ms of its own, each remote leg's clock ends the call */
	deadline = plan->timeout_ms > 0
		? TimestampTzPlusMilliseconds(GetCurrentTimestamp(), plan->timeout_ms)
		: DT_NOEND;
	call->deadline = deadline;

	foreach(lc, plan->legs)
		(void) ApexLegOfPlan(call, lfirst(lc), &call->query);
	if (apex_embedder_shared(plan))
		call->embeds = ApexEmbedBatchBegin(call, plan->timeout_ms);

	ApexCacheLookup(call->cache, deadline);
	if (ApexCacheHitRows(call->cache, 0, cached))
		return true;

	if (apex_sequential)
	{
		if (!apex_run_sequential(call, deadline))
		{
			foreach(lc, call->legs)
				ApexLegTimedOut(lfirst(lc));
		}
		return ApexCacheHitRows(call->cache, 0, cached);
	}

	foreach(lc, call->legs)
	{
		ApexLeg    *leg = lfirst(lc);

		if (leg->source->kind->start && !leg->done)
			ApexLegStart(leg);
	}
	(void) ApexLoopRun(call->loop, apex_all_sent, call,
					   Min(deadline, TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																 APEX_SEND_WAIT_MS)));
	foreach(lc, call->legs)
	{
		ApexLeg    *leg = lfirst(lc);

		if (leg->source->kind->run_local && !leg->done &&
			!ApexCacheEndsWait(call->cache))
			leg->source->kind->run_local(leg);
	}
	/*
	 * False only with a deadline (the call's timeout_ms), which caps every
	 * leg's budget: a leg still running has run out of it, even if the loop
	 * moved its clock on.
	 */
	if (!ApexLoopRun(call->loop, apex_all_done, call, deadline))
	{
		foreach(lc, call->legs)
			ApexLegTimedOut(lfirst(lc));
	}
	return ApexCacheHitRows(call->cache, 0, cached);
}

/* The warnings are out; now too few answers is an error */
static void
apex_check_min_sources(ApexCall *call, int min_sources)
{
	int			answered = ApexLegsAnswered(call->legs);

	if (answered < min_sources)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("too few sources answered"),
				 errdetail_plural("Only %d of %d source answered; min_sources is %d.",
								  "Only %d of %d sources answered; min_sources is %d.",
								  list_length(call->legs),
								  answered, list_length(call->legs), min_sources)));
}

/*
 * The reranking step (rerank.c): the fused rows in the reranker's order
 * (the cut to k comes after, with min_score and MMR); a failure keeps the
 * fused order, and is reported as a source's, in the partial column too.
 */
static List *
apex_route_rerank(ApexCall *call, ApexPlan *plan, List *rows, Jsonb **partial,
				  ApexCallSteps *steps)
{
	steps->rerank = ApexRerankStart(call, plan->reranker, &call->query, rows,
									plan->timeout_ms);
	ApexRerankWait(call, &steps->rerank, 1);
	rows = ApexRerankRows(steps->rerank, rows, list_length(rows), 0,
						  plan->strict);
	if (ApexRerankFailed(steps->rerank))
		*partial = ApexPartialOf(lappend(list_copy(call->legs),
										 ApexRerankLeg(steps->rerank)));
	return rows;
}

/*
 * Run the call apex_route's arguments ask for: its rows, with the partial
 * column's value in *partial and what the steps besides the legs did in
 * *steps.
 */
static List *
apex_route_run(FunctionCallInfo fcinfo, ApexCall *call, Jsonb **partial,
			   ApexCallSteps *steps)
{
	ApexPlan   *plan;
	List	   *rows;

	plan = ApexPlanRoute(fcinfo);
	call->query = plan->query;
	call->cache = ApexCacheOpen(call, plan);
	/* with a reranker, the sources are asked for its candidates (rerank.c) */
	call->query.limit = ApexRerankFuseLimit(plan->reranker, plan->query.limit);
	*partial = NULL;
	memset(steps, 0, sizeof(ApexCallSteps));
	steps->routing = plan->routing;
	steps->cache_hit = apex_run(call, plan, &rows);
	steps->cache_outcome = ApexCacheOutcome(call->cache, 0, &steps->cache_source);
	/* the legs are over: what they tell of their sources, for every backend */
	ApexBreakerRecord(call->legs);
	ApexStatsRecordLegs(call->legs,
						steps->cache_outcome && strcmp(steps->cache_outcome, "not asked") != 0,
						steps->cache_hit);
	if (!steps->cache_hit)
	{
		ApexRanking ranking;
		ListCell   *lc;

		ApexReportFailures(call->legs, 0, plan->strict);
		ApexReportSkipped(call->legs, 0);
		apex_check_min_sources(call, plan->min_sources);
		*partial = ApexPartialOf(call->legs);
		foreach(lc, call->legs)
			steps->items += list_length(((ApexLeg *) lfirst(lc))->items);
		steps->fusion = ApexFusionName(plan->fusion);
		steps->fusion_started = GetCurrentTimestamp();
		ApexRankingOf(&ranking, plan, call->started);
		/* a reranker is sent its candidates: as many are fused, if more */
		rows = ApexFusedRows(ApexFuse(call->legs, &ranking,
									  ApexRerankCandidates(&ranking, plan->reranker,
														   plan->query.limit)));
		steps->fusion_ended = GetCurrentTimestamp();
		if (plan->reranker)
			rows = apex_route_rerank(call, plan, rows, partial, steps);
		/* min_score, MMR and the cut to k act on the reranked order */
		rows = ApexFuseFinish(rows, &ranking, plan->query.limit);
	}
	ApexCacheStore(call->cache, 0, rows,
				   ApexLegsAnswered(call->legs) == list_length(call->legs) &&
				   !ApexRerankFailed(steps->rerank));
	ApexCacheReport(call->cache);
	steps->rows = list_length(rows);
	ApexTraceLog(call, "apex_route", &call->legs, 1, steps->rows);
	return rows;
}

/*
 * apex_route(query text, k int, sources text[], query_vector real[],
 *			  rrf_k int, timeout_ms int, min_sources int)
 */
Datum
apex_route(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	ApexCall   *call;
	List	   *rows;
	Jsonb	   *partial;
	ApexCallSteps steps;

	/* through 0.1.0's definition, before ALTER EXTENSION UPDATE (compat.c) */
	fcinfo = ApexOldEntryCall(fcinfo, "apex_route");
	InitMaterializedSRF(fcinfo, 0);
	call = ApexCallBegin("apex_route call");
	old = MemoryContextSwitchTo(call->mcxt);

	rows = apex_route_run(fcinfo, call, &partial, &steps);
	ApexEmitRows(rsinfo, rows, 0, partial, steps.routing);

	MemoryContextSwitchTo(old);
	ApexCallEnd(call);
	return (Datum) 0;
}

/*
 * apex_explain(the arguments of apex_route): the same call, answered with
 * a row per step instead of its rows (trace.c)
 */
Datum
apex_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	ApexCall   *call;
	Jsonb	   *partial;
	ApexCallSteps steps;

	InitMaterializedSRF(fcinfo, 0);
	call = ApexCallBegin("apex_explain call");
	old = MemoryContextSwitchTo(call->mcxt);

	(void) apex_route_run(fcinfo, call, &partial, &steps);
	ApexExplainRows(rsinfo, call, &steps);

	MemoryContextSwitchTo(old);
	ApexCallEnd(call);
	return (Datum) 0;
}
