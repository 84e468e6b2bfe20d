/*-------------------------------------------------------------------------
 *
 * trace.c
 *		  What a call did, told three ways (issue 14 items 1 and 2).
 *
 * - The partial column of apex_route's and apex_route_many's rows: which
 *   chosen sources did not answer (or skipped items of their answer) and
 *   why, in the result itself.  A WARNING is easy to lose: client stacks
 *   swallow notices (SQLAlchemy's psycopg2 dialect logs them at INFO), and
 *   a column travels through any driver, ORM or pooler (PgBouncer in
 *   transaction mode included: nothing is kept in the session).
 * - apex_explain(): the same call, answered with one row per step (the
 *   intent that chose the sources, every leg, the result cache, fusion,
 *   the call) and its times.
 * - One log line per call slower than apex_router.log_min_duration_ms, at
 *   apex_router.log_level: log_min_duration_statement's idea, with the
 *   legs as JSON in the detail.
 *
 * The words of a failure are the WARNING's detail for the client
 * (ApexRemoteDetail: redacted as redact.c says), so nothing here shows
 * more than the warning does; the log line takes the log's version.
 *
 * IDENTIFICATION
 *		  src/trace.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "json.h"
#include "rerank.h"
#include "trace.h"

int			apex_log_min_duration_ms = -1;
int			apex_log_level = LOG;

const struct config_enum_entry apex_log_level_options[] = {
	{"debug5", DEBUG5, false},
	{"debug4", DEBUG4, false},
	{"debug3", DEBUG3, false},
	{"debug2", DEBUG2, false},
	{"debug1", DEBUG1, false},
	{"debug", DEBUG2, true},
	{"info", INFO, false},
	{"notice", NOTICE, false},
	{"warning", WARNING, false},
	{"log", LOG, false},
	{NULL, 0, false}
};

const char *
ApexLegStatusName(const ApexLeg *leg)
{
	switch (leg->trace.status)
	{
		case APEX_LEG_OK:
			return "ok";
		case APEX_LEG_ERROR:
			return "error";
		case APEX_LEG_TIMEOUT:
			return "timeout";
		case APEX_LEG_REFUSED:
			return "refused";
		case APEX_LEG_SKIPPED:
			return "skipped";
		case APEX_LEG_RUNNING:
			break;
	}
	/* no outcome when the call ended: the result cache answered first */
	return "cache hit";
}

/* ms from a to b; -1 when either is unknown */
static double
apex_ms_between(TimestampTz a, TimestampTz b)
{
	if (a == 0 || b == 0)
		return -1;
	return (b - a) / 1000.0;
}

/* The leg's failure in its WARNING's words: the client's, or the log's */
static char *
apex_leg_words(ApexLeg *leg, bool for_log)
{
	ApexLegWords(leg);
	return for_log && leg->words_log ? leg->words_log : leg->words_client;
}

/*
 * The partial column: NULL when every leg answered in full; else an
 * object with one member per source that failed
 * ({"status": ..., "sqlstate": ..., "error": ...}) or skipped items of its
 * answer ({"status": "ok", "skipped": n, "error": why}).
 */
Jsonb *
ApexPartialOf(List *legs)
{
	JsonbPair  *pairs = NULL;
	int			n = 0;
	ListCell   *lc;

	foreach(lc, legs)
	{
		ApexLeg    *leg = lfirst(lc);
		JsonbParseState *state = NULL;

		if (leg->error == NULL && leg->skipped == 0)
			continue;
		if (pairs == NULL)
			pairs = palloc(sizeof(JsonbPair) * list_length(legs));
		ApexJsonBeginObject(&state);
		ApexJsonPutText(&state, "status", ApexLegStatusName(leg));
		if (leg->error)
		{
			ApexJsonPutText(&state, "sqlstate", unpack_sql_state(leg->sqlerrcode));
			ApexJsonPutText(&state, "error", apex_leg_words(leg, false));
		}
		else
		{
			ApexJsonPutNumber(&state, "skipped", leg->skipped);
			ApexJsonPutText(&state, "error", leg->skipped_why);
		}
		ApexJsonKey(&pairs[n], leg->source->name);
		pairs[n++].value = *ApexJsonEndObject(&state);
	}
	if (n == 0)
		return NULL;
	return JsonbValueToJsonb(ApexJsonObjectOf(pairs, n));
}

#define APEX_EXPLAIN_COLS 14

/* One row of apex_explain; text arguments may be NULL, numbers < 0 are NULL */
static void
apex_explain_row(ReturnSetInfo *rsinfo, const char *step, const char *source,
				 const char *kind, const char *status, double start_ms,
				 double connect_ms, double first_byte_ms, double total_ms,
				 int rows, int64 bytes, long http_status, int sqlerrcode,
				 const char *error, const char *note)
{
	Datum		values[APEX_EXPLAIN_COLS];
	bool		nulls[APEX_EXPLAIN_COLS] = {0};
	const char *texts[] = {step, source, kind, status};
	double		times[] = {start_ms, connect_ms, first_byte_ms, total_ms};

	for (int i = 0; i < 4; i++)
	{
		nulls[i] = texts[i] == NULL;
		values[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(texts[i]);
		nulls[4 + i] = times[i] < 0;
		values[4 + i] = Float8GetDatum(times[i]);
	}
	values[8] = Int32GetDatum(rows);
	nulls[8] = rows < 0;
	values[9] = Int64GetDatum(bytes);
	nulls[9] = bytes < 0;
	values[10] = Int32GetDatum((int32) http_status);
	nulls[10] = http_status <= 0;
	nulls[11] = sqlerrcode == 0;
	values[11] = nulls[11] ? (Datum) 0 : CStringGetTextDatum(unpack_sql_state(sqlerrcode));
	nulls[12] = error == NULL;
	values[12] = nulls[12] ? (Datum) 0 : CStringGetTextDatum(error);
	nulls[13] = note == NULL;
	values[13] = nulls[13] ? (Datum) 0 : CStringGetTextDatum(note);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* What else a leg's row says: skipped items, where an sql leg ran */
static char *
apex_leg_note(const ApexLeg *leg)
{
	if (leg->error == NULL && leg->skipped > 0)
		return psprintf("%d %s skipped: %s", leg->skipped,
						leg->skipped == 1 ? "item" : "items", leg->skipped_why);
	if (leg->trace.ran_inline)
		return "ran in this session: no background worker could take its query";
	return NULL;
}

/*
 * A leg's row, for step (a source's "leg", the reranker's "rerank"): its
 * status, times, HTTP figures and failure; rows < 0 is NULL
 */
static void
apex_explain_leg(ReturnSetInfo *rsinfo, ApexCall *call, const char *step,
				 ApexLeg *leg, int rows, const char *note)
{
	const ApexLegTrace *t = &leg->trace;
	bool		http = t->http_status > 0 || t->bytes > 0;

	apex_explain_row(rsinfo, step, leg->source->name, leg->source->kind->name,
					 ApexLegStatusName(leg),
					 apex_ms_between(call->started, t->started),
					 http ? t->connect_ms : -1, http ? t->first_byte_ms : -1,
					 apex_ms_between(t->started, t->ended),
					 rows, http ? t->bytes : -1, t->http_status,
					 leg->error ? leg->sqlerrcode : 0,
					 leg->error ? apex_leg_words(leg, false) : NULL,
					 note);
}

/*
 * The reranking step's row (rerank.c): its request as a leg's row, rows
 * the rows sent (none when its breaker skipped it, or fusion made no rows)
 */
static void
apex_explain_rerank(ReturnSetInfo *rsinfo, ApexCall *call, ApexRerank *rerank)
{
	ApexLeg    *leg = ApexRerankLeg(rerank);
	int			count = ApexRerankCount(rerank);

	if (leg == NULL)
	{
		apex_explain_row(rsinfo, "rerank", ApexRerankSource(rerank)->name, "reranker",
						 "ok", -1, -1, -1, -1, 0, -1, 0, 0, NULL,
						 "no rows to rerank: nothing was sent");
		return;
	}
	apex_explain_leg(rsinfo, call, "rerank", leg, leg->trace.started ? count : -1,
					 leg->error ? "the rows keep their fused order"
					 : psprintf("reordered the top %d fused %s", count,
								count == 1 ? "row" : "rows"));
}

/* what the fusion row's note calls the method (ApexFusionName's names) */
static const char *
apex_fusion_words(const char *method)
{
	if (method && strcmp(method, "min_max") == 0)
		return "min-max score fusion";
	if (method && strcmp(method, "dbsf") == 0)
		return "distribution-based score fusion";
	return "reciprocal rank fusion";
}

/* apex_explain's rows: the legs in plan order, the cache, fusion, the call */
void
ApexExplainRows(ReturnSetInfo *rsinfo, ApexCall *call, const ApexCallSteps *steps)
{
	TimestampTz now = GetCurrentTimestamp();
	ListCell   *lc;
	int			failed = 0;

	/* intent routing chose the sources: first, as it was done first */
	if (steps->routing)
	{
		JsonbValue *intents = getKeyJsonValueFromContainer(&steps->routing->root,
														   "intents", strlen("intents"),
														   NULL);
		bool		matched = intents && intents->type == jbvBinary &&
			JsonContainerSize(intents->val.binary.data) > 0;

		apex_explain_row(rsinfo, "intent", NULL, NULL,
						 matched ? "matched" : "no match",
						 -1, -1, -1, -1, -1, -1, 0, 0, NULL,
						 JsonbToCString(NULL, &steps->routing->root,
										VARSIZE(steps->routing)));
	}
	foreach(lc, call->legs)
	{
		ApexLeg    *leg = lfirst(lc);

		failed += leg->error != NULL;
		apex_explain_leg(rsinfo, call, "leg", leg,
						 leg->trace.status == APEX_LEG_OK ? list_length(leg->items) : -1,
						 apex_leg_note(leg));
	}
	if (steps->cache_source)
		apex_explain_row(rsinfo, "cache", steps->cache_source, "redis",
						 steps->cache_outcome, -1, -1, -1, -1,
						 steps->cache_hit ? steps->rows : -1, -1, 0, 0, NULL, NULL);
	if (steps->fusion_started)
		apex_explain_row(rsinfo, "fusion", NULL, NULL, "ok",
						 apex_ms_between(call->started, steps->fusion_started),
						 -1, -1, apex_ms_between(steps->fusion_started, steps->fusion_ended),
						 steps->rows, -1, 0, 0, NULL,
						 psprintf("%s of %d %s",
								  apex_fusion_words(steps->fusion), steps->items,
								  steps->items == 1 ? "item" : "items"));
	if (steps->rerank)
		apex_explain_rerank(rsinfo, call, steps->rerank);
	apex_explain_row(rsinfo, "call", NULL, NULL,
					 steps->cache_hit ? "cache hit"
					 : failed > 0 || ApexRerankFailed(steps->rerank) ? "partial" : "ok",
					 0, -1, -1, apex_ms_between(call->started, now), steps->rows,
					 -1, 0, 0, NULL,
					 failed > 0 && !steps->cache_hit
					 ? psprintf("%d of %d sources did not answer", failed, list_length(call->legs))
					 : ApexRerankFailed(steps->rerank) ? "the reranker did not answer"
					 : NULL);
}

static void
apex_log_number(StringInfo buf, const char *key, double value)
{
	appendStringInfo(buf, ",\"%s\":", key);
	ApexJsonAppendNumber(buf, value);
}

/*
 * The call's log line, if it took apex_router.log_min_duration_ms or more
 * (-1: never).  qlegs holds each question's legs (nquestions of them);
 * a batch's legs name their question.
 */
void
ApexTraceLog(ApexCall *call, const char *function, List **qlegs,
			 int nquestions, int rows)
{
	double		ms;
	StringInfoData buf;

	if (apex_log_min_duration_ms < 0)
		return;
	ms = apex_ms_between(call->started, GetCurrentTimestamp());
	if (ms < apex_log_min_duration_ms)
		return;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"legs\":[");
	for (int q = 0; q < nquestions; q++)
	{
		ListCell   *lc;

		foreach(lc, qlegs[q])
		{
			ApexLeg    *leg = lfirst(lc);

			if (buf.data[buf.len - 1] != '[')
				appendStringInfoChar(&buf, ',');
			appendStringInfoString(&buf, "{\"source\":");
			escape_json(&buf, leg->source->name);
			if (nquestions > 1)
				appendStringInfo(&buf, ",\"question\":%d", q + 1);
			appendStringInfoString(&buf, ",\"status\":");
			escape_json(&buf, ApexLegStatusName(leg));
			if (leg->trace.started)
				apex_log_number(&buf, "start_ms", apex_ms_between(call->started, leg->trace.started));
			if (leg->trace.started && leg->trace.ended)
				apex_log_number(&buf, "total_ms", apex_ms_between(leg->trace.started, leg->trace.ended));
			if (leg->trace.status == APEX_LEG_OK)
				appendStringInfo(&buf, ",\"rows\":%d", list_length(leg->items));
			if (leg->trace.http_status > 0)
				appendStringInfo(&buf, ",\"http_status\":%ld", leg->trace.http_status);
			if (leg->error)
			{
				appendStringInfo(&buf, ",\"sqlstate\":\"%s\",\"error\":",
								 unpack_sql_state(leg->sqlerrcode));
				escape_json(&buf, apex_leg_words(leg, true));
			}
			appendStringInfoChar(&buf, '}');
		}
	}
	appendStringInfo(&buf, "],\"rows\":%d}", rows);
	/*
	 * Without the statement, as log_min_duration_statement's line: a LOG
	 * line would carry it (log_min_error_statement), and with it whatever
	 * the caller typed into the question.
	 */
	ereport(apex_log_level,
			(errmsg("%s call took %.3f ms", function, ms),
			 errdetail_log("%s", buf.data),
			 errhidestmt(true)));
}
