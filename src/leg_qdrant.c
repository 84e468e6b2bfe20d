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

static const char *const qdrant_endpoints[] = {"query", "search", NULL};

/* which endpoint: the index of its name in qdrant_endpoints */
#define QDRANT_QUERY 0
#define QDRANT_SEARCH 1			/* deprecated /points/search */

typedef struct QdrantConf
{
	ApexHttpConf http;
	char	   *collection;
	char	   *embedder;		/* source name, or NULL */
	int			endpoint;
	char	   *vector_name;	/* named vector, or NULL */
	char	   *id_field;		/* payload field holding the id, or NULL */
	char	   *title_field;
	char	   *content_field;
	double		score_threshold;	/* NaN: none */
	char	   *filter;			/* a JSON object, or NULL */
} QdrantConf;

/* A JSON object, checked with PostgreSQL's parser */
static void
qdrant_check_filter(const char *name, const char *value)
{
	char	   *error;
	Jsonb	   *filter = ApexJsonParse(value, strlen(value), &error);

	if (filter == NULL || !JB_ROOT_IS_OBJECT(filter))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("%s", filter ? "A Qdrant filter is a JSON object." : error)));
}

static const ApexOption qdrant_options[] = {
	APEX_HTTP_URL_OPTION(QdrantConf),
	{APEX_OPT("collection", APEX_OPTION_STRING, QdrantConf, collection), .required = true},
	{APEX_OPT("embedder", APEX_OPTION_STRING, QdrantConf, embedder)},
	{APEX_OPT("endpoint", APEX_OPTION_CHOICE, QdrantConf, endpoint), .dflt = "query",
	 .choices = qdrant_endpoints},
	{APEX_OPT("vector_name", APEX_OPTION_STRING, QdrantConf, vector_name)},
	{APEX_OPT("id_field", APEX_OPTION_STRING, QdrantConf, id_field)},
	{APEX_OPT("title_field", APEX_OPTION_STRING, QdrantConf, title_field), .dflt = "title"},
	{APEX_OPT("content_field", APEX_OPTION_STRING, QdrantConf, content_field),
	 .dflt = "content"},
	{APEX_OPT("score_threshold", APEX_OPTION_REAL, QdrantConf, score_threshold),
	 .min = -1e9, .max = 1e9},
	{APEX_OPT("filter", APEX_OPTION_STRING, QdrantConf, filter),
	 .validate = qdrant_check_filter},
	APEX_HTTP_TLS_OPTIONS(QdrantConf),
	{NULL}
};

/* One scored point -> item; NULL (with *error) when it is malformed. */
static ApexItem *
qdrant_point(const QdrantConf *conf, JsonbValue *pointv, char **error)
{
	JsonbContainer *point = ApexJsonObject(pointv);
	JsonbContainer *payload;
	char	   *id = NULL;
	double		score;

	if (point == NULL || !ApexJsonNumber(ApexJsonGet(point, "score"), &score))
	{
		*error = "scored point without a numeric \"score\"";
		return NULL;
	}
	/* payload is absent unless requested; older servers send null */
	payload = ApexJsonObject(ApexJsonGet(point, "payload"));
	if (conf->id_field)
		id = ApexJsonScalarText(ApexJsonGet(payload, conf->id_field));
	if (id == NULL)
		id = ApexJsonScalarText(ApexJsonGet(point, "id"));
	if (id == NULL)
	{
		*error = "scored point without an \"id\"";
		return NULL;
	}
	return ApexItemMake(id,
						ApexJsonScalarText(ApexJsonGet(payload, conf->title_field)),
						ApexJsonScalarText(ApexJsonGet(payload, conf->content_field)),
						score, ApexJsonText(pointv));
}

/*
 * Decode a points/query or points/search response (pure; fuzzable).
 * Returns NULL on success with *items set, else the error text (see
 * ApexDecoder).
 */
static char *
qdrant_decode(const void *arg, long status, StringInfo body, List **items,
			  ApexRemote *remote)
{
	const QdrantConf *conf = arg;
	char	   *error = NULL;
	Jsonb	   *doc = ApexJsonParse(body->data, body->len, &error);
	JsonbValue *result;
	JsonbContainer *points;

	*items = NIL;
	if (status < 200 || status > 299)
	{
		/* {"status":{"error":"..."}}; a missing API key gets plain text */
		JsonbValue *msg = doc ? ApexJsonGet(ApexJsonObject(ApexJsonGet(&doc->root, "status")),
											"error") : NULL;

		remote->text = ApexJsonScalarText(msg);
		if (remote->text == NULL)
		{
			remote->text = body->data;
			remote->body = true;
		}
		return psprintf("HTTP %ld", status);
	}
	if (doc == NULL)
		return ApexJsonErrorCause(error, &remote->text);
	result = ApexJsonGet(&doc->root, "result");
	if (conf->endpoint != QDRANT_SEARCH)
		result = ApexJsonGet(ApexJsonObject(result), "points");
	points = ApexJsonArray(result);
	if (points == NULL)
		return conf->endpoint == QDRANT_SEARCH ? "response has no \"result\" array"
			: "response has no \"result.points\" array";
	for (int i = 0; i < ApexJsonLength(points); i++)
	{
		ApexItem   *item = qdrant_point(conf, ApexJsonAt(points, i), &error);

		if (item == NULL)
			return error;
		*items = lappend(*items, item);
	}
	return NULL;
}

static void
qdrant_done(void *arg, ApexHttpResponse *resp)
{
	ApexLegComplete((ApexLeg *) arg, resp, qdrant_decode);
}

static void
qdrant_search(ApexLeg *leg, float4 *vector, int dim)
{
	const QdrantConf *conf = leg->source->conf;
	bool		search = conf->endpoint == QDRANT_SEARCH;
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
	appendStringInfo(&body, ",\"limit\":%d,\"with_payload\":true", leg->call->query.limit);
	if (!isnan(conf->score_threshold))
	{
		appendStringInfoString(&body, ",\"score_threshold\":");
		ApexJsonAppendNumber(&body, conf->score_threshold);
	}
	if (conf->filter)
		appendStringInfo(&body, ",\"filter\":%s", conf->filter);
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
	ApexQuery  *query = &leg->call->query;

	leg->state = leg->source->conf;
	if (query->vector)
		qdrant_search(leg, query->vector, query->vector_dim);
	else
		ApexEmbedStart(leg, leg->source->embedder, query->text, qdrant_search);
}

static const char *
qdrant_embedder(const void *conf)
{
	return ((const QdrantConf *) conf)->embedder;
}

const ApexKind ApexQdrantKind = {
	.name = "qdrant",
	.options = qdrant_options,
	.conf_size = sizeof(QdrantConf),
	.embedder = qdrant_embedder,
	.start = qdrant_start,
	.targets = ApexUrlTargets,
};
