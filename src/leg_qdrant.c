/*-------------------------------------------------------------------------
 *
 * leg_qdrant.c
 *		  Qdrant vector search: POST /collections/{c}/points/query (default)
 *		  or the older /points/search, chosen by the `endpoint` option.
 *
 * The query vector is the caller's (apex_route(..., query_vector => ...))
 * or comes from the source's embedder, asked inside the same event loop:
 * the search request is sent from the embedder's completion callback.
 *
 * IDENTIFICATION
 *		  src/leg_qdrant.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/json.h"

#include "leg.h"
#include "iso_time.h"
#include "leg_qdrant.h"
#include "scope.h"

/* in the order of APEX_QDRANT_QUERY, APEX_QDRANT_SEARCH */
static const char *const qdrant_endpoints[] = {"query", "search", NULL};

/*
 * A JSON object, checked with PostgreSQL's parser; a filter_template's
 * placeholders too (scope.c)
 */
static void
qdrant_check_filter(const char *name, const char *value)
{
	const char *placeholders = ApexScopeCheckText(value);

	char	   *error;
	JsonbValue *filter = ApexJsonParseLocal(value, strlen(value), &error);
	ApexRemote	parser = {0};

	/* the parser's words say what is wrong with the value, else the reason */
	if (filter == NULL)
		(void) ApexJsonErrorCause(error, &parser);
	if (filter == NULL || filter->type != jbvObject)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("%s", filter ? "A Qdrant filter is a JSON object."
						   : parser.text ? parser.text : error)));
	if (placeholders)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("%s", placeholders)));
}

static const ApexOption qdrant_options[] = {
	APEX_HTTP_URL_OPTION(ApexQdrantConf),
	{APEX_OPT("collection", APEX_OPTION_STRING, ApexQdrantConf, collection), .required = true},
	{APEX_OPT("embedder", APEX_OPTION_STRING, ApexQdrantConf, embedder),
	 .validate = ApexCheckEmbedderOption},
	{APEX_OPT("endpoint", APEX_OPTION_CHOICE, ApexQdrantConf, endpoint), .dflt = "query",
	 .choices = qdrant_endpoints},
	{APEX_OPT("vector_name", APEX_OPTION_STRING, ApexQdrantConf, vector_name)},
	{APEX_OPT("id_field", APEX_OPTION_STRING, ApexQdrantConf, id_field),
	 .validate = ApexCheckKeyPathOption},
	{APEX_OPT("title_field", APEX_OPTION_STRING, ApexQdrantConf, title_field), .dflt = "title",
	 .validate = ApexCheckKeyPathOption},
	{APEX_OPT("content_field", APEX_OPTION_STRING, ApexQdrantConf, content_field),
	 .dflt = "content", .validate = ApexCheckKeyPathOption},
	{APEX_OPT("score_threshold", APEX_OPTION_REAL, ApexQdrantConf, score_threshold),
	 .min = -1e9, .max = 1e9},
	{APEX_OPT("filter", APEX_OPTION_STRING, ApexQdrantConf, filter),
	 .validate = qdrant_check_filter},
	{APEX_OPT("filter_template", APEX_OPTION_STRING, ApexQdrantConf, filter_template),
	 .validate = qdrant_check_filter},
	{APEX_OPT("with_vectors", APEX_OPTION_BOOL, ApexQdrantConf, with_vectors),
	 .dflt = "false"},
	APEX_HTTP_TLS_OPTIONS(ApexQdrantConf),
	APEX_HTTP_GATEWAY_OPTIONS(ApexQdrantConf),
	{NULL}
};

/*
 * The point's dense vector (with_vectors) into item->vector: "vector" is
 * the array itself, or with named vectors an object holding vector_name's
 * (the unnamed default vector's key is ""), as with_vector returns them.
 * Anything else (no vector, a sparse or multi-vector, a value not a finite
 * float4) leaves the item without one: MMR then leaves it be.
 */
static void
qdrant_vector(const ApexQdrantConf *conf, JsonbValue *point, ApexItem *item)
{
	JsonbValue *value = ApexJsonGet(point, "vector");
	JsonbValue *array;
	JsonbValue *named = ApexJsonObject(value);
	float4	   *vector;
	int			dim;

	if (named)
		value = ApexJsonGet(named, conf->vector_name ? conf->vector_name : "");
	if ((array = ApexJsonArray(value)) == NULL ||
		(dim = ApexJsonLength(array)) == 0)
		return;
	vector = palloc(sizeof(float4) * dim);
	for (int i = 0; i < dim; i++)
	{
		double		x;

		if (!ApexJsonNumber(ApexJsonAt(array, i), &x) ||
			isnan((float4) x) || isinf((float4) x))
		{
			pfree(vector);
			return;
		}
		vector[i] = (float4) x;
	}
	item->vector = vector;
	item->vector_dim = dim;
}

/*
 * One scored point -> item; NULL with *error when it is malformed, NULL
 * alone when id_field names no string or number in its payload: the point
 * is skipped, never given its point id, which is another namespace than
 * the one id_field's ids share with the other sources.
 */
static ApexItem *
qdrant_point(const ApexQdrantConf *conf, JsonbValue *pointv, char **error)
{
	JsonbValue *point = ApexJsonObject(pointv);
	JsonbValue *payload;
	ApexItem   *item;
	char	   *id;
	double		score;

	if (point == NULL || !ApexJsonNumber(ApexJsonGet(point, "score"), &score))
	{
		*error = "A scored point has no numeric \"score\".";
		return NULL;
	}
	/* payload is absent unless requested; older servers send null */
	payload = ApexJsonObject(ApexJsonGet(point, "payload"));
	if (conf->id_field)
		id = ApexJsonScalarText(ApexJsonPathGet(payload, conf->id_field));
	else if ((id = ApexJsonScalarText(ApexJsonGet(point, "id"))) == NULL)
		*error = "A scored point has no \"id\".";
	if (id == NULL)
		return NULL;
	item = ApexItemMake(id,
						ApexJsonScalarText(ApexJsonPathGet(payload, conf->title_field)),
						ApexJsonScalarText(ApexJsonPathGet(payload, conf->content_field)),
						score, point);
	if (conf->with_vectors)
		qdrant_vector(conf, point, item);
	return item;
}

/* {"status":{"error":"..."}}; a missing API key gets plain text instead */
static char *
qdrant_error(JsonbValue *doc)
{
	return ApexJsonScalarText(ApexJsonGet(ApexJsonObject(ApexJsonGet(doc, "status")),
										  "error"));
}

/*
 * Decode a points/query or points/search response (pure; fuzzable): see
 * ApexDecoder.
 */
char *
ApexQdrantDecode(const void *state, long status, StringInfo body, void *result,
				 ApexRemote *remote)
{
	const ApexQdrantConf *conf = state;
	ApexItemsSkipped *decoded = result;
	char	   *error = NULL;
	JsonbValue *doc = ApexJsonParse(body->data, body->len, &error);
	JsonbValue *points_value;
	JsonbValue *points;
	char	   *cause;

	decoded->items = NIL;
	decoded->skipped = 0;
	if ((cause = ApexNot2xx(status, body, doc, qdrant_error, remote)))
		return cause;
	if (doc == NULL)
		return ApexJsonErrorCause(error, remote);
	points_value = ApexJsonGet(doc, "result");
	if (conf->endpoint != APEX_QDRANT_SEARCH)
		points_value = ApexJsonGet(ApexJsonObject(points_value), "points");
	points = ApexJsonArray(points_value);
	if (points == NULL)
		return conf->endpoint == APEX_QDRANT_SEARCH ? "The response has no \"result\" array."
			: "The response has no \"result.points\" array.";
	for (int i = 0; i < ApexJsonLength(points); i++)
	{
		ApexItem   *item = qdrant_point(conf, ApexJsonAt(points, i), &error);

		if (error)
			return error;
		if (item)
			decoded->items = lappend(decoded->items, item);
		else
			decoded->skipped++;
	}
	return NULL;
}

/*
 * What the search filters by: the static filter, the filter_template
 * filled from the call's params, and the call's time range on time_field;
 * several of them all must hold ("must" takes filters as conditions).
 */
static void
qdrant_append_filter(StringInfo body, ApexLeg *leg)
{
	const ApexQdrantConf *conf = leg->source->conf;
	const ApexQuery *query = leg->query;
	const char *time_field = leg->source->time_field;
	char	   *parts[3];
	int			n = 0;

	if (conf->filter)
		parts[n++] = conf->filter;
	if (conf->filter_template)
	{
		char	   *error;
		JsonbValue *tree = ApexJsonParseLocal(conf->filter_template,
											  strlen(conf->filter_template),
											  &error);

		/* checked at CREATE/ALTER SERVER, and scope_error at planning */
		if (tree == NULL)
			elog(ERROR, "filter_template of source \"%s\" is not JSON: %s",
				 leg->source->name, error);
		ApexScopeFillJson(tree, query);
		parts[n++] = ApexJsonText(tree);
	}
	if (time_field && (query->since != DT_NOBEGIN || query->until != DT_NOEND))
	{
		StringInfoData range;
		char	   *since = ApexIsoTimestamp(query->since);
		char	   *until = ApexIsoTimestamp(query->until);

		initStringInfo(&range);
		appendStringInfoString(&range, "{\"key\":");
		escape_json(&range, time_field);
		appendStringInfoString(&range, ",\"range\":{");
		if (since)
			appendStringInfo(&range, "\"gte\":\"%s\"", since);
		if (until)
			appendStringInfo(&range, "%s\"lte\":\"%s\"", since ? "," : "", until);
		appendStringInfoString(&range, "}}");
		/* a bound without ISO form (before year 1) is left to leg.c's filter */
		if (since || until)
			parts[n++] = range.data;
	}
	if (n == 1)
		appendStringInfo(body, ",\"filter\":%s", parts[0]);
	else if (n > 1)
	{
		appendStringInfoString(body, ",\"filter\":{\"must\":[");
		for (int i = 0; i < n; i++)
			appendStringInfo(body, "%s%s", i ? "," : "", parts[i]);
		appendStringInfoString(body, "]}");
	}
}

/* The items, and the points skipped for want of an id, told after the call */
static void
qdrant_done(void *arg, ApexHttpResponse *resp)
{
	ApexLeg    *leg = arg;
	const ApexQdrantConf *conf = leg->source->conf;

	ApexLegCompleteSkipping(leg, resp, ApexQdrantDecode,
							psprintf("Their payload holds no string or number at id_field \"%s\".",
									 conf->id_field));
}

static void
qdrant_search(ApexLeg *leg, float4 *vector, int dim)
{
	const ApexQdrantConf *conf = leg->source->conf;
	bool		search = conf->endpoint == APEX_QDRANT_SEARCH;
	const char *using = conf->vector_name;
	StringInfoData body;
	StringInfoData path;
	ApexHttpAuth auth = {0};

	initStringInfo(&body);
	appendStringInfoString(&body, search ? "{\"vector\":" : "{\"query\":");
	if (search && using)
	{
		appendStringInfoString(&body, "{\"name\":");
		escape_json(&body, using);
		appendStringInfoString(&body, ",\"vector\":");
	}
	appendStringInfoChar(&body, '[');
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			appendStringInfoChar(&body, ',');
		ApexJsonAppendNumber(&body, vector[i]);
	}
	appendStringInfoChar(&body, ']');
	if (search && using)
		appendStringInfoChar(&body, '}');
	else if (using)
	{
		appendStringInfoString(&body, ",\"using\":");
		escape_json(&body, using);
	}
	appendStringInfo(&body, ",\"limit\":%d,\"with_payload\":true", leg->query->limit);
	/* the vector searched: the unnamed one, or vector_name's alone */
	if (conf->with_vectors && using)
	{
		appendStringInfoString(&body, ",\"with_vector\":[");
		escape_json(&body, using);
		appendStringInfoChar(&body, ']');
	}
	else if (conf->with_vectors)
		appendStringInfoString(&body, ",\"with_vector\":true");
	if (!isnan(conf->score_threshold))
	{
		appendStringInfoString(&body, ",\"score_threshold\":");
		ApexJsonAppendNumber(&body, conf->score_threshold);
	}
	qdrant_append_filter(&body, leg);
	appendStringInfoChar(&body, '}');

	initStringInfo(&path);
	appendStringInfoString(&path, "/collections/");
	appendStringInfoString(&path, ApexUrlEncode(conf->collection));
	appendStringInfoString(&path, search ? "/points/search" : "/points/query");

	if (leg->source->secrets->api_key)
	{
		auth.api_key_header = "api-key";
		auth.api_key = leg->source->secrets->api_key;
	}
	ApexLegPost(leg, leg->source, ApexUrlJoin(conf->http.url, path.data),
				body.data, NIL, &auth, qdrant_done, leg);
}

/* The caller's vector, else the one the embedder (resolved by the plan) makes */
static void
qdrant_start(ApexLeg *leg)
{
	const ApexQuery *query = leg->query;

	leg->state = leg->source->conf;
	if (query->vector)
		qdrant_search(leg, query->vector, query->vector_dim);
	else
		ApexEmbedStart(leg, leg->source->embedder, query->text, qdrant_search);
}

static const char *
qdrant_embedder(const void *conf)
{
	return ((const ApexQdrantConf *) conf)->embedder;
}

/* a filter_template's placeholders need params' values */
static const char *
qdrant_scope_error(const void *conf, const ApexQuery *query)
{
	const char *template = ((const ApexQdrantConf *) conf)->filter_template;

	return template ? ApexScopeMissing(template, query, false) : NULL;
}

/* a point's fields are its payload's */
static JsonbValue *
qdrant_item_fields(JsonbValue *raw)
{
	return ApexJsonGet(ApexJsonObject(raw), "payload");
}

const ApexKind ApexQdrantKind = {
	.name = "qdrant",
	.options = qdrant_options,
	.mapping_options = (const char *const[]) {"api_key", APEX_HTTP_MAPPING_OPTIONS, NULL},
	.conf_size = sizeof(ApexQdrantConf),
	.embedder = qdrant_embedder,
	.start = qdrant_start,
	.targets = ApexUrlTargets,
	.item_fields = qdrant_item_fields,
	.scope_error = qdrant_scope_error,
};
