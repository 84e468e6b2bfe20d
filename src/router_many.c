/*-------------------------------------------------------------------------
 *
 * router_many.c
 *		  apex_route_many(): many questions in one call, every leg of every
 *		  question in one event loop, at most max_concurrency at once.
 *
 * The plan (plan.c) checks the arguments and clears the sources once; each
 * question that can be asked gets one leg per source, reading its question
 * through leg->query.  The legs wait in one FIFO queue, question by
 * question and within a question in the order of sources; a leg leaves it
 * when fewer than max_concurrency legs are in flight, and its clock (its
 * source's timeout_ms) starts then, so waiting for a turn costs it
 * nothing.  Full is backpressure, never a failure: the queue moves on as
 * legs finish.  timeout_ms is the whole batch's deadline: it caps every
 * leg's clock, and a leg whose turn had not come by then fails with its
 * own message.  apex_router.sequential makes the limit 1: legs one after
 * another, each on its own clock, as apex_route runs them.
 *
 * Local legs (sql inline, or left without a worker) run in this backend
 * as in apex_route: once the requests started with them are on the wire
 * (at most APEX_SEND_WAIT_MS), the loop waiting meanwhile.
 *
 * Each question is answered as apex_route would answer it: its legs fused
 * alone (ApexFuse), its failures and skipped items reported with its
 * ordinal (route_out.c), min_sources applied to it.  With a reranker
 * (rerank.c), every question's rerank request is sent once all are fused,
 * and they are answered together in the one loop before any rows go out.
 * One question never fails the batch: a question that cannot be asked
 * (null, empty, too long) or that too few sources answered gets a WARNING
 * and no rows.  Only
 * apex_router.strict turns a source's failure into an ERROR, as in
 * apex_route.
 *
 * Vector legs get their vectors from one embeddings request per embedder
 * carrying the texts of every question (embed_batch.c), not one each.
 *
 * The result cache (cache.c), when set, holds each question's rows under
 * the key apex_route gives the same question: all questions are looked up
 * in one round trip before any leg starts, a question found there gets no
 * legs, and each question every source answered is stored.
 *
 * IDENTIFICATION
 *		  src/router_many.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/timestamp.h"

#include "apex_router.h"
#include "breaker.h"
#include "cache.h"
#include "call.h"
#include "conn_registry.h"
#include "embed_batch.h"
#include "event_loop.h"
#include "fusion.h"
#include "plan.h"
#include "rerank.h"
#include "route_out.h"
#include "stats.h"
#include "trace.h"
#include "transport.h"

PG_FUNCTION_INFO_V1(apex_route_many);

/* as in router.c: how long local legs wait for the remote requests */
#define APEX_SEND_WAIT_MS 100

typedef struct ApexBatch
{
	ApexCall   *call;
	int			limit;			/* legs in flight at once */
	ApexLeg   **legs;			/* every leg, in the order they start */
	int			nlegs;
	int			next;			/* legs[next..] wait for their turn */
	List	   *running;		/* ApexLeg *: started, not yet seen done */
	bool		held;			/* legs waited because the limit was reached */
} ApexBatch;

/*
 * Forget the legs in flight that are done: their turn is over.  Their
 * clocks are stopped, so that a long batch does not carry the timers of
 * every leg it finished.
 */
static void
apex_batch_reap(ApexBatch *batch)
{
	ListCell   *lc;

	foreach(lc, batch->running)
	{
		ApexLeg    *leg = lfirst(lc);

		if (!leg->done)
			continue;
		ApexLoopSetTimer(batch->call->loop, leg, -1, NULL);
		batch->running = foreach_delete_current(batch->running, lc);
	}
}

static bool
apex_batch_over(ApexBatch *batch)
{
	return batch->next >= batch->nlegs && batch->running == NIL;
}

/*
 * Whether the next leg may start: there is room, and time.  Less than a
 * millisecond before the deadline counts as none: a leg's clock is
 * counted in whole milliseconds, so a leg started then would only time
 * out, or not, by chance.
 */
static bool
apex_batch_may_start(ApexBatch *batch)
{
	TimestampTz deadline = batch->call->deadline;

	return batch->next < batch->nlegs &&
		list_length(batch->running) < batch->limit &&
		(deadline == DT_NOEND ||
		 TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1) < deadline);
}

/* The loop's condition: a leg may start, or every leg is done */
static bool
apex_batch_moves(void *arg)
{
	ApexBatch  *batch = arg;

	apex_batch_reap(batch);
	return apex_batch_over(batch) || apex_batch_may_start(batch);
}

static bool
apex_batch_all_sent(void *arg)
{
	return ApexTransportsAllSent((ApexCall *) arg);
}

/*
 * Start legs from the queue while there is room; returns those that must
 * run locally.  A leg failed at planning takes no turn.
 */
static List *
apex_batch_start(ApexBatch *batch)
{
	List	   *local = NIL;

	apex_batch_reap(batch);
	while (apex_batch_may_start(batch))
	{
		ApexLeg    *leg = batch->legs[batch->next++];
		const ApexKind *kind = leg->source->kind;

		if (leg->done)
			continue;
		batch->running = lappend(batch->running, leg);
		/* its request slot too (max_concurrent_requests): it may wait */
		if (kind->start)
			ApexLegStart(leg);
		if (kind->run_local && !leg->done)
			local = lappend(local, leg);
	}
	if (batch->next < batch->nlegs && list_length(batch->running) >= batch->limit)
		batch->held = true;
	return local;
}

/*
 * The deadline passed: legs in flight time out, legs still waiting fail
 * without having started.
 */
static void
apex_batch_expire(ApexBatch *batch)
{
	ListCell   *lc;

	foreach(lc, batch->running)
		ApexLegTimedOut(lfirst(lc));
	for (int i = batch->next; i < batch->nlegs; i++)
	{
		/* max_concurrency is to blame only if it held legs back */
		if (batch->held)
			ApexLegFail(batch->legs[i], ERRCODE_FDW_ERROR,
						"The call's deadline passed before its turn came (max_concurrency is %d).",
						batch->limit);
		else
			ApexLegFail(batch->legs[i], ERRCODE_FDW_ERROR,
						"The call's deadline passed before the source could be asked.");
	}
}

/* Run every leg to an outcome (see the file header) by call->deadline */
static void
apex_batch_run(ApexBatch *batch)
{
	ApexCall   *call = batch->call;

	for (;;)
	{
		List	   *local = apex_batch_start(batch);
		ListCell   *lc;

		if (local != NIL)
		{
			(void) ApexLoopRun(call->loop, apex_batch_all_sent, call,
							   Min(call->deadline,
								   TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															   APEX_SEND_WAIT_MS)));
			foreach(lc, local)
			{
				ApexLeg    *leg = lfirst(lc);

				if (!leg->done)
					leg->source->kind->run_local(leg);
			}
			list_free(local);
			continue;
		}
		if (!ApexLoopRun(call->loop, apex_batch_moves, batch, call->deadline))
		{
			apex_batch_expire(batch);
			return;
		}
		if (apex_batch_over(batch))
			return;
	}
}

/*
 * The legs of every question that can be asked and is not in the cache
 * (hit[i]), question by question; qlegs[i] gets question
 * i's.  A source failed at planning fails each question's leg without a
 * request.
 */
static void
apex_batch_legs(ApexBatch *batch, ApexBatchPlan *plan, List **qlegs,
				bool *hit)
{
	int			per = list_length(plan->plan.legs);

	/* a question's legs are of the batch's sources, perhaps fewer */
	batch->legs = palloc(sizeof(ApexLeg *) * Max(plan->nquestions * per, 1));
	for (int i = 0; i < plan->nquestions; i++)
	{
		ListCell   *lc;

		if (plan->refused[i] || hit[i])
			continue;
		foreach(lc, ApexBatchQuestionPlan(plan, i)->legs)
		{
			ApexLeg    *leg = ApexLegOfPlan(batch->call, lfirst(lc), &plan->questions[i]);

			qlegs[i] = lappend(qlegs[i], leg);
			batch->legs[batch->nlegs++] = leg;
		}
	}
}

/*
 * Backpressure, not failure: no more legs in flight than the descriptors
 * PostgreSQL leaves this backend for connections allow, however large
 * limit (max_concurrency) is; beyond that, legs wait their turn.  A leg
 * of a remote kind takes a socket, a local leg (sql) none; each embedder
 * one for the batch's embeddings request (embed_batch.c).  Counted per
 * question, in the order legs start, with an eighth of the free
 * descriptors and a question's worth to spare: legs of different kinds are
 * in flight, and libcurl resolves a host name with descriptors of its own.
 */
static int
apex_batch_fd_limit(ApexPlan *plan, int limit)
{
	int			legs = list_length(plan->legs);
	int			sockets = 0;
	List	   *embedders = NIL;
	int			free_fds;
	ListCell   *lc;

	foreach(lc, plan->legs)
	{
		ApexSource *source = ((ApexPlannedLeg *) lfirst(lc))->source;

		sockets += source->kind->targets != NULL;
		if (source->embedder)
			embedders = list_append_unique_oid(embedders, source->embedder->serverid);
	}
	if (sockets == 0)
		return limit;
	free_fds = ApexConnFree((limit / legs + 2) * sockets * 8 / 7 +
							list_length(embedders) + 1);
	free_fds -= free_fds / 8 + sockets + list_length(embedders);
	return Min(limit, Max(1, free_fds * legs / sockets));
}

/*
 * Question i's warnings and fused rows, as apex_route would give them
 * (none when it has no rows to fuse: refused, answered by the cache, or
 * too few sources answered), ages counted to the call's start; with a
 * reranker, its rerank request is sent (reranks[i]), and answered while
 * the others are (ApexRerankWait).  Returns its fused rows: as many as the
 * steps after fusion choose from.
 */
static List *
apex_batch_fuse(ApexBatchPlan *plan, ApexCall *call, int i, List *legs,
				bool hit, ApexRerank **reranks)
{
	ApexPlan   *common = ApexBatchQuestionPlan(plan, i);
	int			answered;
	ApexRanking ranking;
	List	   *rows;

	if (plan->refused[i])
	{
		ereport(WARNING,
				(errcode(plan->refused_code[i]),
				 errmsg("question %d %s", i + 1, plan->refused[i]),
				 errdetail("It was not asked, and has no rows.")));
		return NIL;
	}
	if (hit)
		return NIL;
	ApexReportFailures(legs, i + 1, common->strict);
	ApexReportSkipped(legs, i + 1);
	answered = ApexLegsAnswered(legs);
	if (answered < common->min_sources)
	{
		ereport(WARNING,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("too few sources answered for question %d", i + 1),
				 errdetail_plural("Only %d of %d source answered; min_sources is %d.",
								  "Only %d of %d sources answered; min_sources is %d.",
								  list_length(legs),
								  answered, list_length(legs), common->min_sources),
				 errhint("The question has no rows.")));
		return NIL;
	}
	ApexRankingOf(&ranking, common, call->started);
	rows = ApexFusedRows(ApexFuse(legs, &ranking,
								  ApexRerankCandidates(&ranking, common->reranker,
													   common->query.limit)));
	if (common->reranker)
		reranks[i] = ApexRerankStart(call, common->reranker, &plan->questions[i],
									 rows, common->timeout_ms);
	return rows;
}

/*
 * Question i's rows, once its rerank (if any) is over: from the cache
 * (hit: rows holds them), or its fused rows (reranked), then min_score,
 * MMR and the cut to k, then stored in the cache.  Returns how many rows
 * it gave.
 */
static int
apex_batch_answer(ReturnSetInfo *rsinfo, ApexBatchPlan *plan, ApexCall *call,
				  ApexCache *cache, int i, List *legs, List *rows, bool hit,
				  ApexRerank *rerank)
{
	ApexPlan   *common = ApexBatchQuestionPlan(plan, i);
	List	   *failed = legs;
	ApexRanking ranking;

	if (hit)
	{
		ApexEmitRows(rsinfo, rows, i + 1, NULL, common->routing);
		return list_length(rows);
	}
	if (plan->refused[i] || ApexLegsAnswered(legs) < common->min_sources)
		return 0;
	if (rerank)
	{
		rows = ApexRerankRows(rerank, rows, list_length(rows), i + 1,
							  common->strict);
		if (ApexRerankFailed(rerank))
			failed = lappend(list_copy(legs), ApexRerankLeg(rerank));
	}
	ApexRankingOf(&ranking, common, call->started);
	rows = ApexFuseFinish(rows, &ranking, common->query.limit);
	ApexCacheStore(cache, i, rows,
				   ApexLegsAnswered(legs) == list_length(legs) &&
				   !ApexRerankFailed(rerank));
	ApexEmitRows(rsinfo, rows, i + 1, ApexPartialOf(failed), common->routing);
	return list_length(rows);
}

/*
 * The questions the cache answered, as hits of every source the question
 * would have asked
 */
static void
apex_batch_count_hits(ApexBatchPlan *plan, bool *hit)
{
	for (int i = 0; i < plan->nquestions; i++)
	{
		List	   *sources = NIL;
		ListCell   *lc;

		if (!hit[i])
			continue;
		foreach(lc, ApexBatchQuestionPlan(plan, i)->legs)
			sources = lappend(sources, ((ApexPlannedLeg *) lfirst(lc))->source);
		ApexStatsRecordCacheHits(sources, 1);
	}
}

/*
 * apex_route_many(queries text[], k int, sources text[], rrf_k int,
 *				   timeout_ms int, min_sources int, max_concurrency int)
 */
Datum
apex_route_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	ApexCall   *call;
	ApexBatchPlan *plan;
	ApexCache  *cache;
	ApexBatch	batch = {0};
	List	  **qlegs;
	List	  **cached;
	bool	   *hit;
	List	  **fused;
	ApexRerank **reranks;
	int			rows = 0;

	InitMaterializedSRF(fcinfo, 0);
	call = ApexCallBegin("apex_route_many call");
	old = MemoryContextSwitchTo(call->mcxt);

	plan = ApexPlanMany(fcinfo);
	call->deadline = plan->plan.timeout_ms > 0
		? TimestampTzPlusMilliseconds(GetCurrentTimestamp(), plan->plan.timeout_ms)
		: DT_NOEND;
	qlegs = palloc0(sizeof(List *) * Max(plan->nquestions, 1));
	cached = palloc0(sizeof(List *) * Max(plan->nquestions, 1));
	hit = palloc0(sizeof(bool) * Max(plan->nquestions, 1));
	fused = palloc0(sizeof(List *) * Max(plan->nquestions, 1));
	reranks = palloc0(sizeof(ApexRerank *) * Max(plan->nquestions, 1));
	call->cache = cache = ApexCacheOpenMany(call, plan);
	/* with a reranker, the sources are asked for its candidates (rerank.c) */
	for (int i = 0; i < plan->nquestions; i++)
		plan->questions[i].limit = ApexRerankFuseLimit(plan->plan.reranker,
													   plan->plan.query.limit);
	ApexCacheLookup(cache, call->deadline);
	for (int i = 0; i < plan->nquestions; i++)
		hit[i] = ApexCacheHitRows(cache, i, &cached[i]);

	batch.call = call;
	/* one embeddings request per embedder for every question's text */
	call->embeds = ApexEmbedBatchBegin(call, plan->plan.timeout_ms);
	batch.limit = apex_sequential ? 1 : plan->max_concurrency;

	batch.limit = apex_batch_fd_limit(&plan->plan, batch.limit);
	apex_batch_legs(&batch, plan, qlegs, hit);
	apex_batch_run(&batch);
	/* the legs are over: what they tell of their sources, for every backend */
	ApexBreakerRecord(call->legs);
	ApexStatsRecordLegs(call->legs, cache != NULL, false);
	apex_batch_count_hits(plan, hit);
	/* every question's warnings and fused rows, its rerank request sent */
	for (int i = 0; i < plan->nquestions; i++)
		fused[i] = apex_batch_fuse(plan, call, i, qlegs[i], hit[i], reranks);
	ApexRerankWait(call, reranks, plan->nquestions);
	for (int i = 0; i < plan->nquestions; i++)
		rows += apex_batch_answer(rsinfo, plan, call, cache, i, qlegs[i],
								  hit[i] ? cached[i] : fused[i], hit[i], reranks[i]);
	ApexCacheReport(cache);
	ApexTraceLog(call, "apex_route_many", qlegs, plan->nquestions, rows);

	MemoryContextSwitchTo(old);
	ApexCallEnd(call);
	return (Datum) 0;
}
