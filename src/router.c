/*-------------------------------------------------------------------------
 *
 * router.c
 *		  apex_route(): plan the legs, run them concurrently, fuse, emit rows.
 *
 * Order of a call: every remote leg starts its clock and issues its
 * requests; the event loop runs until they are all on the wire (at most
 * APEX_SEND_WAIT_MS: a host whose connect hangs does not hold up the rest);
 * local (SPI) legs run while the remote sources work; the loop then reads
 * what arrived meanwhile and runs until every leg has an outcome (each
 * remote leg's clock ends it) or the call's deadline, if it has one,
 * passes.  Latency is the slowest leg, not the sum.
 *
 * Everything of a call lives in one memory context, whose reset callback
 * frees libcurl's handles and the WaitEventSet: an ERROR, a cancel or a
 * statement_timeout anywhere in the call releases every socket.
 *
 * IDENTIFICATION
 *		  src/router.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "apex_router.h"
#include "event_loop.h"
#include "fusion.h"
#include "io_http.h"
#include "io_pg.h"
#include "io_redis.h"
#include "cache.h"
#include "json.h"

#define APEX_MAX_K 10000
#define APEX_MAX_DIM 65536
#define APEX_MAX_QUERY_BYTES (1024 * 1024)

PG_FUNCTION_INFO_V1(apex_route);

static void
apex_call_cleanup(void *arg)
{
	ApexCall   *call = arg;

	if (call->http)
		ApexHttpFree(call->http);
	ApexPgAbortActive();
	ApexRedisDetach(call, false);
	if (call->loop)
		ApexLoopFree(call->loop);
}

/* In parallel mode a cache hit ends the call's waiting at once */
static bool
apex_cache_hit(ApexCall *call)
{
	return ApexCacheModeOf(call->cache) == APEX_CACHE_PARALLEL &&
		ApexCacheHit(call->cache) != NULL;
}

static bool
apex_cache_answered(void *arg)
{
	return ApexCacheAnswered(((ApexCall *) arg)->cache);
}

static bool
apex_all_sent(void *arg)
{
	ApexCall   *call = arg;
	ListCell   *lc;

	if (apex_cache_hit(call))
		return true;
	foreach(lc, call->legs)
	{
		ApexLeg    *leg = lfirst(lc);

		if (leg->pending_send && !leg->done)
			return false;
	}
	return ApexHttpAllSent(call->http) && ApexRedisAllSent(call);
}

static bool
apex_all_done(void *arg)
{
	ListCell   *lc;

	if (apex_cache_hit((ApexCall *) arg))
		return true;
	foreach(lc, ((ApexCall *) arg)->legs)
	{
		if (!((ApexLeg *) lfirst(lc))->done)
			return false;
	}
	/* a parallel lookup still under way decides whether to store: wait */
	return ApexCacheModeOf(((ApexCall *) arg)->cache) != APEX_CACHE_PARALLEL ||
		ApexCacheAnswered(((ApexCall *) arg)->cache);
}

static void
apex_read_vector(ApexQuery *query, ArrayType *array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("query_vector must be one-dimensional")));
	deconstruct_array(array, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	if (n < 1 || n > APEX_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query_vector must have 1 to %d elements", APEX_MAX_DIM)));
	query->vector = palloc(sizeof(float4) * n);
	query->vector_dim = n;
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("query_vector must not contain nulls")));
		query->vector[i] = DatumGetFloat4(elems[i]);
		if (isnan(query->vector[i]) || isinf(query->vector[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("query_vector must contain only finite values")));
	}
}

/* The sources named by the caller, or every usable one when names is NULL */
static List *
apex_plan_sources(ArrayType *names)
{
	List	   *sources = NIL;
	ListCell   *lc;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (names == NULL)
	{
		sources = ApexSearchableSources();
		if (sources == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("no apex_router source is available"),
					 errhint("Create one with CREATE SERVER ... FOREIGN DATA WRAPPER apex_router, or ask for USAGE on one.")));
	}
	else
	{
		/* deconstruct_array would silently flatten '{{a,b},{c,d}}' */
		if (ARR_NDIM(names) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("sources must be one-dimensional")));
		deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			char	   *name;
			ApexSource *source;
			bool		dup = false;

			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("sources must not contain nulls")));
			name = TextDatumGetCString(elems[i]);
			foreach(lc, sources)
				dup |= strcmp(((ApexSource *) lfirst(lc))->name, name) == 0;
			if (dup)
				continue;
			source = ApexGetSource(name, false);
			if (!source->kind->start && !source->kind->run_local)
				ereport(ERROR,
						(errcode(ERRCODE_WRONG_OBJECT_TYPE),
						 errmsg("source \"%s\" of kind \"%s\" cannot be searched",
								name, source->kind->name),
						 errhint("Embedders serve vector sources through their \"embedder\" option.")));
			sources = lappend(sources, source);
		}
		if (sources == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("sources must name at least one source")));
	}
	foreach(lc, sources)
		ApexUseSource(lfirst(lc));
	return sources;
}

/*
 * One WARNING per failed leg; in strict mode the first failure is an ERROR.
 * The primary message is our own words; what the peer said is the detail,
 * shown or withheld by ApexRemoteDetail() (redact.c explains why).
 */
static void
apex_report_failures(ApexCall *call)
{
	ListCell   *lc;

	foreach(lc, call->legs)
	{
		ApexLeg    *leg = lfirst(lc);
		char	   *client = NULL;
		char	   *log = NULL;

		if (leg->error == NULL)
			continue;
		if (leg->remote)
			ApexRemoteDetail(leg->remote, &client, &log);
		ereport(apex_strict ? ERROR : WARNING,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("source \"%s\" failed: %s", leg->source->name, leg->error),
				 client ? errdetail("%s", client) : 0,
				 log ? errdetail_log("%s", log) : 0));
	}
}

/*
 * How long local legs wait for the remote requests to be written.  A
 * healthy network writes them within a millisecond or two; a host whose
 * connect hangs must not hold the local legs for its whole connect timeout
 * (its request is written after them, once connected).
 */
#define APEX_SEND_WAIT_MS 100

/*
 * Run every leg to an outcome (see the file header for the order), or
 * stop at a cache hit.  Returns the cached rows on a hit, else NULL.
 */
static const char *
apex_run(ApexCall *call, List *sources, int call_timeout_ms)
{
	ApexCacheMode mode = ApexCacheModeOf(call->cache);
	TimestampTz deadline;
	ListCell   *lc;

	/* without a timeout_ms of its own, each remote leg's clock ends the call */
	deadline = call_timeout_ms > 0
		? TimestampTzPlusMilliseconds(GetCurrentTimestamp(), call_timeout_ms)
		: DT_NOEND;
	call->deadline = deadline;

	foreach(lc, sources)
	{
		ApexSource *source = lfirst(lc);
		ApexLeg    *leg = palloc0(sizeof(ApexLeg));
		int			budget = source->timeout_ms;

		if (call_timeout_ms > 0)
			budget = Min(budget, call_timeout_ms);
		leg->call = call;
		leg->source = source;
		leg->budget_ms = budget;
		call->legs = lappend(call->legs, leg);
	}

	if (mode != APEX_CACHE_OFF)
		ApexCacheLookup(call->cache);
	if (mode == APEX_CACHE_FIRST)
	{
		/* the lookup has its own timer (the cache source's timeout_ms) */
		(void) ApexLoopRun(call->loop, apex_cache_answered, call, deadline);
		if (ApexCacheHit(call->cache))
			return ApexCacheHit(call->cache);
	}

	foreach(lc, call->legs)
	{
		ApexLeg    *leg = lfirst(lc);

		if (leg->source->kind->start)
		{
			ApexLegStartClock(leg);
			leg->source->kind->start(leg);
		}
	}
	(void) ApexLoopRun(call->loop, apex_all_sent, call,
					   Min(deadline, TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																 APEX_SEND_WAIT_MS)));
	foreach(lc, call->legs)
	{
		ApexLeg    *leg = lfirst(lc);

		if (leg->source->kind->run_local && !apex_cache_hit(call))
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
	return apex_cache_hit(call) ? ApexCacheHit(call->cache) : NULL;
}

static char *
apex_payload(ApexFused *f)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, f->hits)
	{
		ApexHit    *hit = lfirst(lc);

		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, hit->source);
		appendStringInfo(&buf, ":{\"rank\":%d,\"score\":", hit->rank);
		ApexJsonAppendNumber(&buf, hit->item->score);
		appendStringInfo(&buf, ",\"item\":%s}", hit->item->raw);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

static void
apex_put_row(ReturnSetInfo *rsinfo, int rank, const char *id, const char *title,
			 const char *content, double score, Datum *names, int nnames,
			 const char *payload)
{
	Datum		values[7];
	bool		nulls[7] = {0};

	values[0] = Int32GetDatum(rank);
	values[1] = CStringGetTextDatum(id);
	values[2] = title ? CStringGetTextDatum(title) : (Datum) 0;
	nulls[2] = title == NULL;
	values[3] = content ? CStringGetTextDatum(content) : (Datum) 0;
	nulls[3] = content == NULL;
	values[4] = Float8GetDatum(score);
	values[5] = PointerGetDatum(construct_array(names, nnames, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[6] = DirectFunctionCall1(jsonb_in, CStringGetDatum(payload));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* The rows as JSON, for the result cache */
static char *
apex_rows_json(List *fused)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, fused)
	{
		ApexFused  *f = lfirst(lc);
		ListCell   *hc;

		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, "{\"id\":");
		escape_json(&buf, f->id);
		appendStringInfoString(&buf, ",\"title\":");
		if (f->title)
			escape_json(&buf, f->title);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ",\"content\":");
		if (f->content)
			escape_json(&buf, f->content);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ",\"score\":");
		ApexJsonAppendNumber(&buf, f->score);
		appendStringInfoString(&buf, ",\"found_in\":[");
		foreach(hc, f->hits)
		{
			if (hc != list_head(f->hits))
				appendStringInfoChar(&buf, ',');
			escape_json(&buf, ((ApexHit *) lfirst(hc))->source);
		}
		appendStringInfo(&buf, "],\"payload\":%s}", apex_payload(f));
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * Emit rows from a cached JSON array; false (and nothing emitted) when the
 * entry is not what apex_rows_json() writes.
 */
static bool
apex_emit_cached(ReturnSetInfo *rsinfo, const char *cached)
{
	char	   *error;
	Jsonb	   *doc = ApexJsonParse(cached, strlen(cached), &error);
	JsonbValue	root = {.type = jbvBinary};
	JsonbContainer *rows;
	int			n;

	if (doc == NULL)
		return false;
	root.val.binary.data = &doc->root;
	rows = ApexJsonArray(&root);
	n = ApexJsonLength(rows);
	for (int pass = 0; pass < 2; pass++)
	{
		/* pass 0 checks every row, pass 1 emits: all or nothing */
		for (int i = 0; i < n; i++)
		{
			JsonbContainer *row = ApexJsonObject(ApexJsonAt(rows, i));
			JsonbContainer *found = ApexJsonArray(ApexJsonGet(row, "found_in"));
			char	   *id = ApexJsonScalarText(ApexJsonGet(row, "id"));
			double		score;
			Datum	   *names;

			if (id == NULL || found == NULL ||
				!ApexJsonObject(ApexJsonGet(row, "payload")) ||
				!ApexJsonNumber(ApexJsonGet(row, "score"), &score))
				return false;
			if (pass == 0)
				continue;
			names = palloc(sizeof(Datum) * Max(ApexJsonLength(found), 1));
			for (int j = 0; j < ApexJsonLength(found); j++)
				names[j] = CStringGetTextDatum(ApexJsonScalarText(ApexJsonAt(found, j)));
			apex_put_row(rsinfo, i + 1, id,
						 ApexJsonScalarText(ApexJsonGet(row, "title")),
						 ApexJsonScalarText(ApexJsonGet(row, "content")),
						 score, names, ApexJsonLength(found),
						 ApexJsonText(ApexJsonGet(row, "payload")));
		}
	}
	return true;
}

static void
apex_emit(ReturnSetInfo *rsinfo, List *fused)
{
	ListCell   *lc;
	int			rank = 0;

	foreach(lc, fused)
	{
		ApexFused  *f = lfirst(lc);
		Datum	   *names = palloc(sizeof(Datum) * list_length(f->hits));
		ListCell   *hc;
		int			n = 0;

		foreach(hc, f->hits)
			names[n++] = CStringGetTextDatum(((ApexHit *) lfirst(hc))->source);
		apex_put_row(rsinfo, ++rank, f->id, f->title, f->content, f->score,
					 names, n, apex_payload(f));
	}
}

/* The warnings are out; now too few answers is an error */
static void
apex_check_min_sources(ApexCall *call, int min_sources)
{
	ListCell   *lc;
	int			answered = 0;

	foreach(lc, call->legs)
		answered += ((ApexLeg *) lfirst(lc))->error == NULL;
	if (answered < min_sources)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("only %d of %d sources answered, min_sources is %d",
						answered, list_length(call->legs), min_sources)));
}

static bool
apex_all_answered(ApexCall *call)
{
	ListCell   *lc;

	foreach(lc, call->legs)
	{
		if (((ApexLeg *) lfirst(lc))->error)
			return false;
	}
	return true;
}

/*
 * apex_route(query text, k int, sources text[], query_vector real[],
 *			  rrf_k int, timeout_ms int, min_sources int)
 */
Datum
apex_route(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			k = PG_ARGISNULL(1) ? 10 : PG_GETARG_INT32(1);
	int			rrf_k = PG_ARGISNULL(4) ? apex_rrf_k : PG_GETARG_INT32(4);
	int			timeout_ms = PG_ARGISNULL(5) ? apex_call_timeout_ms : PG_GETARG_INT32(5);
	int			min_sources = PG_ARGISNULL(6) ? apex_min_sources : PG_GETARG_INT32(6);
	MemoryContextCallback *cleanup;
	MemoryContext old;
	ApexCall   *call;
	List	   *sources;
	const char *cached;
	char	   *qtext;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query text must not be null")));
	qtext = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strspn(qtext, " \t\r\n") == strlen(qtext))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query text must not be empty")));
	if (strlen(qtext) > APEX_MAX_QUERY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("query text is longer than %d bytes", APEX_MAX_QUERY_BYTES)));
	if (k < 1 || k > APEX_MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and %d", APEX_MAX_K)));
	if (rrf_k < 1 || rrf_k > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rrf_k must be between 1 and 100000")));
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must not be negative")));
	if (min_sources < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_sources must not be negative")));

	InitMaterializedSRF(fcinfo, 0);

	call = MemoryContextAllocZero(CurrentMemoryContext, sizeof(ApexCall));
	call->mcxt = AllocSetContextCreate(CurrentMemoryContext, "apex_route call",
									   ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(call->mcxt);
	cleanup = palloc0(sizeof(MemoryContextCallback));
	cleanup->func = apex_call_cleanup;
	cleanup->arg = call;
	MemoryContextRegisterResetCallback(call->mcxt, cleanup);

	call->query.text = qtext;
	call->query.limit = k;
	if (!PG_ARGISNULL(3))
		apex_read_vector(&call->query, PG_GETARG_ARRAYTYPE_P(3));
	sources = apex_plan_sources(PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2));
	call->loop = ApexLoopCreate(call->mcxt);
	call->http = ApexHttpCreate(call->loop, call->mcxt);

	call->cache = ApexCacheOpen(call, sources, rrf_k);

	cached = apex_run(call, sources, timeout_ms);
	if (cached && !apex_emit_cached(rsinfo, cached))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cached result in \"%s\" is malformed", apex_cache_source),
				 errhint("Flush the cache with apex_router_cache_flush().")));
	if (cached == NULL)
	{
		List	   *fused;

		apex_report_failures(call);
		apex_check_min_sources(call, min_sources);
		fused = ApexFuse(call->legs, rrf_k, k);
		apex_emit(rsinfo, fused);
		/* partial results are not cached: a passing failure would stick */
		if (call->cache && apex_all_answered(call))
			ApexCacheStore(call->cache, apex_rows_json(fused));
	}
	ApexCacheReport(call->cache);
	ApexRedisDetach(call, true);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(call->mcxt);
	return (Datum) 0;
}
