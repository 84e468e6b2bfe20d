/*-------------------------------------------------------------------------
 *
 * plan.c
 *		  apex_route()'s planning stage: its arguments checked, the sources
 *		  chosen and cleared for use, embedders resolved, budgets set.
 *
 * Everything that can refuse a call happens here, before any request is
 * sent: a bad argument, a source that does not exist or that the caller may
 * not use (USAGE, apex_router.allowed_hosts), a vector source with neither a
 * query vector nor an embedder.  A source that cannot run for a reason that
 * is not the caller's to fix (its kind refuses this caller, its embedder is
 * gone) fails alone instead, without a request.  What comes out is a plan
 * the run executes (router.c); the legs read their sources' parsed options
 * (option.c) and never the catalog.
 *
 * IDENTIFICATION
 *		  src/plan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "fusion.h"
#include "intent.h"
#include "json.h"
#include "plan.h"

#define APEX_MAX_DIM 65536
#define APEX_MAX_QUERY_BYTES (1024 * 1024)

/*
 * query_vector (argument 3): double precision[], so that real[], numeric[]
 * (both cast implicitly) and the float8[] drivers send for a list of
 * floats all reach it; searched as real, as the stores keep it
 */
static void
apex_plan_vector(ApexQuery *query, ArrayType *array)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("query_vector must be one-dimensional")));
	deconstruct_array(array, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	if (n < 1 || n > APEX_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query_vector must have 1 to %d elements", APEX_MAX_DIM)));
	query->vector = palloc(sizeof(float4) * n);
	query->vector_dim = n;
	for (int i = 0; i < n; i++)
	{
		float8		value;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("query_vector must not contain nulls")));
		/* real[] and numeric[] arrive cast to double precision */
		value = DatumGetFloat8(elems[i]);
		if (isnan(value) || isinf(value))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("query_vector must contain only finite values")));
		if (fabs(value) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("query_vector element %d is out of range for type real", i + 1)));
		query->vector[i] = (float4) value;
	}
}

/*
 * The sources named by the caller, each once, in the caller's order, each
 * searchable (apex_route's and apex_intent's sources); USAGE is checked
 * later, by whoever uses them
 */
List *
ApexPlanNamedSources(ArrayType *names)
{
	List	   *sources = NIL;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

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
		ListCell   *lc;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("sources must not contain nulls")));
		name = TextDatumGetCString(elems[i]);
		foreach(lc, sources)
			dup |= strcmp(((ApexSource *) lfirst(lc))->name, name) == 0;
		if (dup)
			continue;
		source = ApexGetSource(name);
		if (!source->kind->start && !source->kind->run_local)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("source \"%s\" of kind \"%s\" cannot be searched",
							name, source->kind->name),
					 strcmp(source->kind->name, "reranker") == 0
					 ? errhint("Rerankers order a call's rows through its \"reranker\" argument.")
					 : errhint("Embedders serve vector sources through their \"embedder\" option.")));
		sources = lappend(sources, source);
	}
	if (sources == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sources must name at least one source")));
	return sources;
}

/*
 * Fail the leg at planning: it runs no request, and the call reports it as
 * it reports a leg that failed on the wire (router.c).
 */
static void
apex_plan_fail(ApexPlannedLeg *leg, int sqlerrcode, const char *hint,
			   char *cause)
{
	leg->error = cause;
	leg->sqlerrcode = sqlerrcode;
	leg->hint = hint ? pstrdup(hint) : NULL;
}

/*
 * A vector source asked without a query vector gets its embedder, which the
 * caller must be allowed to use as well.
 *
 * An embedder that is gone or is no embedder is the administrator's mistake
 * (the option was checked at CREATE/ALTER SERVER, but PostgreSQL records no
 * dependency between servers): it fails that source alone, so one broken
 * server does not break every call.  What concerns the caller (no query
 * vector for a source without an embedder, an embedder it may not use) is
 * an ERROR when it named the source, as USAGE on the source itself is; in
 * a call of every source (sources => NULL) it fails that source alone, as
 * the caller did not choose it.
 */
static void
apex_plan_embedder(ApexPlannedLeg *leg, const ApexQuery *query, bool named)
{
	ApexSource *source = leg->source;
	const char *name;
	ApexSource *embedder;

	if (source->kind->embedder == NULL || query->vector)
		return;
	name = source->kind->embedder(source->conf);
	if (name == NULL && source->kind->vector_optional)
		return;
	if (name == NULL)
	{
		if (named)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("source \"%s\" needs a query vector", source->name),
					 errhint("Pass query_vector => ..., or set the source's \"embedder\" option.")));
		apex_plan_fail(leg, ERRCODE_INVALID_PARAMETER_VALUE,
					   "Pass query_vector => ..., or set the source's \"embedder\" option.",
					   pstrdup("It needs a query vector and has no embedder."));
		return;
	}
	embedder = ApexFindSource(name);
	if (embedder == NULL)
	{
		apex_plan_fail(leg, ERRCODE_UNDEFINED_OBJECT,
					   "Set its \"embedder\" option to a source of kind \"embedder\".",
					   psprintf("Its embedder \"%s\" does not exist.", name));
		return;
	}
	if (strcmp(embedder->kind->name, "embedder") != 0)
	{
		apex_plan_fail(leg, ERRCODE_WRONG_OBJECT_TYPE,
					   "Set its \"embedder\" option to a source of kind \"embedder\".",
					   psprintf("Its embedder \"%s\" is a source of kind \"%s\".",
								name, embedder->kind->name));
		return;
	}
	if (!named && !ApexMayUseSource(embedder))
	{
		apex_plan_fail(leg, ERRCODE_INSUFFICIENT_PRIVILEGE, NULL,
					   psprintf("Permission denied for its embedder \"%s\".", name));
		return;
	}
	ApexUseSource(embedder);
	source->embedder = embedder;
}

/*
 * Why a question cannot be asked (empty, too long), with its SQLSTATE, or
 * NULL: apex_route refuses the call, apex_route_many that question alone.
 */
static const char *
apex_plan_text_error(const char *text, int *sqlerrcode)
{
	if (strspn(text, " \t\r\n") == strlen(text))
	{
		*sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
		return "must not be empty";
	}
	if (strlen(text) > APEX_MAX_QUERY_BYTES)
	{
		*sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		return psprintf("is longer than %d bytes", APEX_MAX_QUERY_BYTES);
	}
	return NULL;
}

/*
 * The arguments both functions take: k (argument 1), then rrf_k,
 * timeout_ms and min_sources from argument first on.
 */
static void
apex_plan_settings(ApexPlan *plan, FunctionCallInfo fcinfo, int first)
{
	plan->query.limit = PG_ARGISNULL(1) ? APEX_DEFAULT_K : PG_GETARG_INT32(1);
	if (plan->query.limit < 1 || plan->query.limit > APEX_MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and %d", APEX_MAX_K)));
	plan->rrf_k = PG_ARGISNULL(first) ? apex_rrf_k : PG_GETARG_INT32(first);
	if (plan->rrf_k < 1 || plan->rrf_k > APEX_MAX_RRF_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rrf_k must be between 1 and %d", APEX_MAX_RRF_K)));
	plan->timeout_ms = PG_ARGISNULL(first + 1) ? apex_call_timeout_ms
		: PG_GETARG_INT32(first + 1);
	if (plan->timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must not be negative")));
	plan->min_sources = PG_ARGISNULL(first + 2) ? apex_min_sources
		: PG_GETARG_INT32(first + 2);
	if (plan->min_sources < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_sources must not be negative")));
}

/* The arguments of apex_route, apex_explain and apex_route_many from params on */
#define APEX_ARG_PARAMS 7
#define APEX_ARG_FUSION 8
#define APEX_ARG_WEIGHTS 9
#define APEX_ARG_MIN_SCORE 10
#define APEX_ARG_RECENCY 11
#define APEX_ARG_MMR_LAMBDA 12
#define APEX_ARG_RERANKER 13
#define APEX_ARG_STRICT 14
#define APEX_ARG_CACHE_MODE 15
#define APEX_ARG_CACHE_SOURCE 16

/*
 * The value of an argument that names one of a setting's values (entries:
 * the setting's own table), in any case as SET takes it; an unknown name
 * is an ERROR listing the valid ones.  what names the argument's kind.
 */
static int
apex_plan_choice(const struct config_enum_entry *entries, const char *what,
				 const char *name)
{
	StringInfoData valid;

	for (const struct config_enum_entry *e = entries; e->name; e++)
	{
		if (pg_strcasecmp(e->name, name) == 0)
			return e->val;
	}
	initStringInfo(&valid);
	for (const struct config_enum_entry *e = entries; e->name; e++)
		appendStringInfo(&valid, "%s%s", e == entries ? "" : e[1].name ? ", " : " or ",
						 e->name);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown %s \"%s\"", what, name),
			 errhint("Use %s.", valid.data)));
	pg_unreachable();
}

/*
 * How failures and the result cache are handled (arguments 14 to 16, each
 * else its apex_router.* setting).  As arguments they need no SET, which
 * behind a pooler in transaction mode would outlive the transaction and
 * reach other clients of the same server connection.
 */
static void
apex_plan_call_mode(ApexPlan *plan, FunctionCallInfo fcinfo)
{
	const char *source = apex_cache_source;

	plan->strict = PG_ARGISNULL(APEX_ARG_STRICT) ? apex_strict
		: PG_GETARG_BOOL(APEX_ARG_STRICT);
	plan->cache_mode = apex_cache_mode;
	if (!PG_ARGISNULL(APEX_ARG_CACHE_MODE))
		plan->cache_mode = apex_plan_choice(apex_cache_modes, "cache mode",
											text_to_cstring(PG_GETARG_TEXT_PP(APEX_ARG_CACHE_MODE)));
	if (!PG_ARGISNULL(APEX_ARG_CACHE_SOURCE))
		source = text_to_cstring(PG_GETARG_TEXT_PP(APEX_ARG_CACHE_SOURCE));
	plan->cache_source = source && source[0] != '\0' ? source : NULL;
}

/*
 * min_sources more than the sources the call asks could never be met: an
 * ERROR before anything is sent, not after every source has answered
 */
static void
apex_plan_check_min_sources(const ApexPlan *plan)
{
	int			asked = list_length(plan->legs);

	if (plan->min_sources > asked)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_sources is more than the sources the call asks"),
				 errdetail_plural("min_sources is %d; the call asks %d source.",
								  "min_sources is %d; the call asks %d sources.",
								  asked, plan->min_sources, asked)));
}

/*
 * Whether the call's weights argument (an object, or it is refused later)
 * names the source
 */
static bool
apex_plan_weighs(FunctionCallInfo fcinfo, const char *name)
{
	Jsonb	   *weights;

	if (PG_ARGISNULL(APEX_ARG_WEIGHTS))
		return false;
	weights = PG_GETARG_JSONB_P(APEX_ARG_WEIGHTS);
	return JB_ROOT_IS_OBJECT(weights) &&
		getKeyJsonValueFromContainer(&weights->root, name, strlen(name), NULL) != NULL;
}

/*
 * Whether the call's sources are chosen by intent (intent.c): it named
 * none, and apex_router.intent_routing is on
 */
static bool
apex_plan_by_intent(FunctionCallInfo fcinfo)
{
	return PG_ARGISNULL(2) && apex_intent_routing;
}

/*
 * The sources (argument 2: named, or NULL for every one the caller may
 * use), cleared for use, one planned leg each.  Once per call: the legs
 * of every question of apex_route_many are made from these.
 *
 * With intent (apex_route's question's, when the sources are chosen by
 * intent) the sources are those its rules chose, at their weights, and
 * those the call's weights argument names: the caller's word wins.
 */
static void
apex_plan_sources(ApexPlan *plan, FunctionCallInfo fcinfo, ApexIntent **intent)
{
	List	   *sources;
	ListCell   *lc;

	if (PG_ARGISNULL(2))
	{
		sources = ApexSearchableSources();
		if (sources == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("no apex_router source is available"),
					 errhint("Create one with CREATE SERVER ... FOREIGN DATA WRAPPER apex_router, or ask for USAGE on one.")));
		if (intent)
		{
			const char *text = plan->query.text;
			List	   *chosen = NIL;

			*intent = ApexIntentsOf(&text, 1, sources)[0];
			foreach(lc, sources)
			{
				ApexSource *source = lfirst(lc);
				ListCell   *cc;
				bool		asked = apex_plan_weighs(fcinfo, source->name);

				foreach(cc, (*intent)->choices)
					asked |= ((ApexIntentChoice *) lfirst(cc))->source == source;
				if (asked)
					chosen = lappend(chosen, source);
			}
			sources = chosen;
		}
	}
	else
		sources = ApexPlanNamedSources(PG_GETARG_ARRAYTYPE_P(2));

	foreach(lc, sources)
	{
		ApexPlannedLeg *leg = palloc0(sizeof(ApexPlannedLeg));
		ApexSource *source = lfirst(lc);
		const char *scope;

		ApexUseSource(source);
		leg->source = source;
		/* refused for this caller by its kind: it fails without a request */
		if (source->refused)
			apex_plan_fail(leg, ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED,
						   NULL, pstrdup(source->refused));
		else if (source->kind->scope_error &&
				 (scope = source->kind->scope_error(source->conf, &plan->query)))
			apex_plan_fail(leg, ERRCODE_INVALID_PARAMETER_VALUE,
						   "Pass what its options name in params => '{...}'.",
						   pstrdup(scope));
		else
			apex_plan_embedder(leg, &plan->query, !PG_ARGISNULL(2));
		leg->weight = source->weight;
		if (intent)
		{
			ListCell   *cc;

			foreach(cc, (*intent)->choices)
			{
				ApexIntentChoice *choice = lfirst(cc);

				if (choice->source == source)
					leg->weight = choice->weight;
			}
		}
		leg->budget_ms = source->timeout_ms;
		if (plan->timeout_ms > 0)
			leg->budget_ms = Min(leg->budget_ms, plan->timeout_ms);
		plan->legs = lappend(plan->legs, leg);
	}
}

/*
 * The names a source's statement already has for the question itself
 * (neo4j's parameters, sql's and postgres' in their documentation): a
 * params key may not take them
 */
static const char *const apex_reserved_params[] = {
	"query", "query_lucene", "limit", "embedding", NULL
};

static void
apex_plan_time_context(void *arg)
{
	errcontext("params' \"%s\"", (const char *) arg);
}

/* params' since or until: a timestamptz in the text PostgreSQL reads */
static TimestampTz
apex_plan_time(JsonbValue *value, const char *key)
{
	ErrorContextCallback context = {
		.previous = error_context_stack,
		.callback = apex_plan_time_context,
		.arg = (void *) key
	};
	TimestampTz result;
	char	   *text;

	if (value->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params' \"%s\" must be a string", key),
				 errhint("Give a timestamp with time zone, e.g. \"2026-11-01T00:00:00Z\".")));
	text = pnstrdup(value->val.string.val, value->val.string.len);
	error_context_stack = &context;
	result = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													 CStringGetDatum(text),
													 ObjectIdGetDatum(InvalidOid),
													 Int32GetDatum(-1)));
	error_context_stack = context.previous;
	return result;
}

/*
 * params (argument 7): a JSON object, or NULL.  Its values reach the
 * sources as values (each kind says how); since and until bound the time
 * of the items every kind with timestamps returns.
 */
static void
apex_plan_params(ApexQuery *query, FunctionCallInfo fcinfo)
{
	Jsonb	   *params;
	JsonbValue *value;

	query->since = DT_NOBEGIN;
	query->until = DT_NOEND;
	if (PG_ARGISNULL(APEX_ARG_PARAMS))
		return;
	params = PG_GETARG_JSONB_P(APEX_ARG_PARAMS);
	if (!JB_ROOT_IS_OBJECT(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object")));
	query->params = params;
	for (const char *const *name = apex_reserved_params; *name; name++)
	{
		if (getKeyJsonValueFromContainer(&params->root, *name, strlen(*name), NULL))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params must not hold \"%s\"", *name),
					 errdetail("Sources receive the question as \"%s\" already.", *name)));
	}
	if ((value = getKeyJsonValueFromContainer(&params->root, "since",
											  strlen("since"), NULL)) != NULL &&
		value->type != jbvNull)
		query->since = apex_plan_time(value, "since");
	if ((value = getKeyJsonValueFromContainer(&params->root, "until",
											  strlen("until"), NULL)) != NULL &&
		value->type != jbvNull)
		query->until = apex_plan_time(value, "until");
	if (query->since > query->until)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params' \"since\" must not be later than its \"until\"")));
}

/* fusion (argument 8), or apex_router.fusion */
static ApexFusionMethod
apex_plan_fusion(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(APEX_ARG_FUSION))
		return (ApexFusionMethod) apex_fusion;
	return (ApexFusionMethod) apex_plan_choice(apex_fusion_methods, "fusion method",
											   text_to_cstring(PG_GETARG_TEXT_PP(APEX_ARG_FUSION)));
}

/*
 * weights (argument 9): {"source": weight, ...}, each naming a source the
 * call asks; it replaces that source's weight option in this call.
 */
static void
apex_plan_weights(ApexPlan *plan, FunctionCallInfo fcinfo)
{
	Jsonb	   *weights;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	char	   *key = NULL;

	if (PG_ARGISNULL(APEX_ARG_WEIGHTS))
		return;
	weights = PG_GETARG_JSONB_P(APEX_ARG_WEIGHTS);
	if (!JB_ROOT_IS_OBJECT(weights))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weights must be a JSON object"),
				 errhint("Map source names to numbers, e.g. '{\"graph\": 2}'.")));
	it = JsonbIteratorInit(&weights->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		ApexPlannedLeg *leg = NULL;
		double		weight;
		ListCell   *lc;

		if (r == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (r != WJB_VALUE)
			continue;
		foreach(lc, plan->legs)
		{
			if (strcmp(((ApexPlannedLeg *) lfirst(lc))->source->name, key) == 0)
				leg = lfirst(lc);
		}
		if (leg == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weights names \"%s\", which the call does not ask", key)));
		if (v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the weight of \"%s\" must be a number", key)));
		weight = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													NumericGetDatum(v.val.numeric)));
		if (!(weight >= 0 && weight <= APEX_MAX_WEIGHT))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the weight of \"%s\" must be between 0 and %d",
							key, APEX_MAX_WEIGHT)));
		leg->weight = weight;
		leg->caller_weight = true;
	}
}

/*
 * The reranker (argument 13, or apex_router.reranker; empty: none): a
 * source of kind reranker the caller may use.
 */
static ApexSource *
apex_plan_reranker(FunctionCallInfo fcinfo)
{
	const char *name = PG_ARGISNULL(APEX_ARG_RERANKER) ? apex_reranker
		: text_to_cstring(PG_GETARG_TEXT_PP(APEX_ARG_RERANKER));
	ApexSource *source;

	if (name == NULL || name[0] == '\0')
		return NULL;
	source = ApexGetSource(name);
	if (strcmp(source->kind->name, "reranker") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source \"%s\" is not a reranker", name),
				 errdetail("It is of kind \"%s\".", source->kind->name)));
	ApexUseSource(source);
	return source;
}

/*
 * What decides the order of the rows (arguments 8 to 13), once the
 * sources are planned (weights name them)
 */
static void
apex_plan_ranking(ApexPlan *plan, FunctionCallInfo fcinfo)
{
	plan->fusion = apex_plan_fusion(fcinfo);
	apex_plan_weights(plan, fcinfo);
	plan->min_score = get_float8_nan();
	if (!PG_ARGISNULL(APEX_ARG_MIN_SCORE))
	{
		plan->min_score = PG_GETARG_FLOAT8(APEX_ARG_MIN_SCORE);
		if (isnan(plan->min_score) || isinf(plan->min_score))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min_score must be a finite number")));
	}
	if (!PG_ARGISNULL(APEX_ARG_RECENCY))
	{
		Interval   *half_life = PG_GETARG_INTERVAL_P(APEX_ARG_RECENCY);

		plan->recency_half_life_ms = ApexIntervalMs(half_life);
		if (!(plan->recency_half_life_ms > 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("recency_half_life must be positive")));
	}
	plan->mmr_lambda = get_float8_nan();
	if (!PG_ARGISNULL(APEX_ARG_MMR_LAMBDA))
	{
		plan->mmr_lambda = PG_GETARG_FLOAT8(APEX_ARG_MMR_LAMBDA);
		if (!(plan->mmr_lambda >= 0 && plan->mmr_lambda <= 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("mmr_lambda must be between 0 and 1")));
	}
	plan->reranker = apex_plan_reranker(fcinfo);
}

/*
 * The routing column (and apex_explain's intent step): the intents found,
 * the sources asked with their weights in this call, and the recency
 * preference when the intent's was applied
 */
static Jsonb *
apex_plan_routing(const ApexPlan *plan, const ApexIntent *intent, bool recency)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"intents\":[");
	foreach(lc, intent->intents)
	{
		if (foreach_current_index(lc) > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, lfirst(lc));
	}
	appendStringInfoString(&buf, "],\"sources\":{");
	foreach(lc, plan->legs)
	{
		ApexPlannedLeg *leg = lfirst(lc);

		if (foreach_current_index(lc) > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, leg->source->name);
		appendStringInfoChar(&buf, ':');
		ApexJsonAppendNumber(&buf, leg->weight);
	}
	appendStringInfoChar(&buf, '}');
	if (recency)
	{
		appendStringInfoString(&buf, ",\"recency_half_life\":");
		escape_json(&buf, DatumGetCString(DirectFunctionCall1(interval_out,
															  IntervalPGetDatum(intent->recency_half_life))));
	}
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * The intent's recency preference, unless the call gave its own, and the
 * routing the plan shows
 */
static void
apex_plan_intent_done(ApexPlan *plan, FunctionCallInfo fcinfo,
					  const ApexIntent *intent)
{
	bool		recency = PG_ARGISNULL(APEX_ARG_RECENCY) &&
		intent->recency_half_life != NULL;

	if (recency)
		plan->recency_half_life_ms = intent->recency_half_life_ms;
	plan->routing = apex_plan_routing(plan, intent, recency);
}

/*
 * apex_route_many's questions, each with its own intent: its legs are
 * those of the batch's sources its intent chose, at its weights, and
 * those the call's weights argument names, at the caller's.
 */
static void
apex_plan_questions(ApexBatchPlan *batch, FunctionCallInfo fcinfo)
{
	const char **texts = palloc0(sizeof(char *) * Max(batch->nquestions, 1));
	List	   *candidates = NIL;
	ApexIntent **intents;
	ListCell   *lc;

	for (int i = 0; i < batch->nquestions; i++)
		texts[i] = batch->questions[i].text;
	foreach(lc, batch->plan.legs)
		candidates = lappend(candidates, ((ApexPlannedLeg *) lfirst(lc))->source);
	intents = ApexIntentsOf(texts, batch->nquestions, candidates);
	batch->question_plans = palloc0(sizeof(ApexPlan *) * Max(batch->nquestions, 1));
	for (int i = 0; i < batch->nquestions; i++)
	{
		ApexPlan   *question;

		if (batch->refused[i])
		{
			batch->question_plans[i] = &batch->plan;
			continue;
		}
		question = palloc(sizeof(ApexPlan));
		*question = batch->plan;
		question->legs = NIL;
		foreach(lc, batch->plan.legs)
		{
			ApexPlannedLeg *common = lfirst(lc);
			ApexIntentChoice *choice = NULL;
			ApexPlannedLeg *leg;
			ListCell   *cc;

			foreach(cc, intents[i]->choices)
			{
				if (((ApexIntentChoice *) lfirst(cc))->source == common->source)
					choice = lfirst(cc);
			}
			if (choice == NULL && !common->caller_weight)
				continue;
			leg = palloc(sizeof(ApexPlannedLeg));
			*leg = *common;
			if (!common->caller_weight)
				leg->weight = choice->weight;
			question->legs = lappend(question->legs, leg);
		}
		apex_plan_intent_done(question, fcinfo, intents[i]);
		batch->question_plans[i] = question;
	}
}

/* Question i's plan: its own with intent routing, else the batch's */
ApexPlan *
ApexBatchQuestionPlan(ApexBatchPlan *batch, int i)
{
	return batch->question_plans ? batch->question_plans[i] : &batch->plan;
}

/*
 * Plan apex_route(query text, k int, sources text[], query_vector real[],
 * rrf_k int, timeout_ms int, min_sources int); NULL arguments take the
 * apex_router.* settings.  Allocates in the current memory context.
 */
ApexPlan *
ApexPlanRoute(FunctionCallInfo fcinfo)
{
	ApexPlan   *plan = palloc0(sizeof(ApexPlan));
	ApexQuery  *query = &plan->query;
	const char *error;
	int			sqlerrcode;
	ApexIntent *intent = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query text must not be null")));
	query->text = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if ((error = apex_plan_text_error(query->text, &sqlerrcode)) != NULL)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("query text %s", error)));
	apex_plan_settings(plan, fcinfo, 4);
	apex_plan_call_mode(plan, fcinfo);
	if (!PG_ARGISNULL(3))
		apex_plan_vector(query, PG_GETARG_ARRAYTYPE_P(3));
	apex_plan_params(query, fcinfo);
	apex_plan_sources(plan, fcinfo,
					  apex_plan_by_intent(fcinfo) ? &intent : NULL);
	apex_plan_check_min_sources(plan);
	apex_plan_ranking(plan, fcinfo);
	if (intent)
		apex_plan_intent_done(plan, fcinfo, intent);
	return plan;
}

/*
 * Plan apex_route_many(queries text[], k int, sources text[], rrf_k int,
 * timeout_ms int, min_sources int, max_concurrency int).  What applies to
 * the whole batch (an argument out of range, a source the caller may not
 * use) refuses it as it refuses apex_route; a question that cannot be
 * asked (null, empty, too long) is refused alone: the run warns and gives
 * it no rows.  There is no query_vector: one vector cannot serve many
 * questions, so vector sources use their embedders.
 */
ApexBatchPlan *
ApexPlanMany(FunctionCallInfo fcinfo)
{
	ApexBatchPlan *batch = palloc0(sizeof(ApexBatchPlan));
	ArrayType  *array;
	Datum	   *elems;
	bool	   *nulls;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queries must not be null")));
	array = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("queries must be one-dimensional")));
	apex_plan_settings(&batch->plan, fcinfo, 3);
	apex_plan_call_mode(&batch->plan, fcinfo);
	apex_plan_params(&batch->plan.query, fcinfo);
	batch->max_concurrency = PG_ARGISNULL(6) ? apex_max_concurrency
		: PG_GETARG_INT32(6);
	if (batch->max_concurrency < 1 || batch->max_concurrency > APEX_MAX_CONCURRENCY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_concurrency must be between 1 and %d",
						APEX_MAX_CONCURRENCY)));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &batch->nquestions);
	batch->questions = palloc0(sizeof(ApexQuery) * Max(batch->nquestions, 1));
	batch->refused = palloc0(sizeof(char *) * Max(batch->nquestions, 1));
	batch->refused_code = palloc0(sizeof(int) * Max(batch->nquestions, 1));
	for (int i = 0; i < batch->nquestions; i++)
	{
		ApexQuery  *question = &batch->questions[i];
		const char *error;

		question->limit = batch->plan.query.limit;
		question->params = batch->plan.query.params;
		question->since = batch->plan.query.since;
		question->until = batch->plan.query.until;
		if (nulls[i])
		{
			batch->refused[i] = "is null";
			batch->refused_code[i] = ERRCODE_NULL_VALUE_NOT_ALLOWED;
			continue;
		}
		question->text = TextDatumGetCString(elems[i]);
		if ((error = apex_plan_text_error(question->text,
										  &batch->refused_code[i])) != NULL)
		{
			batch->refused[i] = error;
			question->text = NULL;
		}
	}
	/* an empty batch still checks its sources: the same call, empty */
	apex_plan_sources(&batch->plan, fcinfo, NULL);
	apex_plan_check_min_sources(&batch->plan);
	apex_plan_ranking(&batch->plan, fcinfo);
	if (apex_plan_by_intent(fcinfo))
		apex_plan_questions(batch, fcinfo);
	return batch;
}
