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

static const char *const qdrant_options[] = {
	"url", "collection", "embedder", "endpoint", "vector_name", "id_field",
	"title_field", "content_field", "score_threshold", "filter",
	APEX_HTTP_OPTIONS, NULL
};
static const char *const qdrant_required[] = {"url", "collection", NULL};
static const char *const qdrant_endpoints[] = {"query", "search", NULL};

typedef struct QdrantConf
{
	bool		search_endpoint;	/* deprecated /points/search */
	const char *id_field;		/* payload field holding the id, or NULL */
	const char *title_field;
	const char *content_field;
} QdrantConf;

static void
qdrant_validate(List *options)
{
	const char *value;
	char	   *error;

	if ((value = ApexGetOption(options, "endpoint")))
		ApexCheckChoiceOption("endpoint", value, qdrant_endpoints);
	if ((value = ApexGetOption(options, "score_threshold")))
		ApexParseRealOption("score_threshold", value, -1e9, 1e9);
	if ((value = ApexGetOption(options, "filter")))
	{
		Jsonb	   *filter = ApexJsonParse(value, strlen(value), &error);

		if (filter == NULL || !JB_ROOT_IS_OBJECT(filter))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"filter\""),
					 errdetail("%s", filter ? "A Qdrant filter is a JSON object." : error)));
	}
}

static QdrantConf *
qdrant_conf(ApexSource *source)
{
	QdrantConf *conf = palloc0(sizeof(QdrantConf));
	const char *endpoint = ApexGetOption(source->options, "endpoint");

	conf->search_endpoint = endpoint && strcmp(endpoint, "search") == 0;
	conf->id_field = ApexGetOption(source->options, "id_field");
	conf->title_field = ApexGetOption(source->options, "title_field");
	if (conf->title_field == NULL)
		conf->title_field = "title";
	conf->content_field = ApexGetOption(source->options, "content_field");
	if (conf->content_field == NULL)
		conf->content_field = "content";
	return conf;
}

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
	if (!conf->search_endpoint)
		result = ApexJsonGet(ApexJsonObject(result), "points");
	points = ApexJsonArray(result);
	if (points == NULL)
		return conf->search_endpoint ? "response has no \"result\" array"
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
	QdrantConf *conf = leg->state;
	List	   *options = leg->source->options;
	const char *using = ApexGetOption(options, "vector_name");
	const char *value;
	StringInfoData body;
	StringInfoData path;
	ApexHttpAuth auth = {0};

	initStringInfo(&body);
	appendStringInfoString(&body, conf->search_endpoint ? "{\"vector\":" : "{\"query\":");
	if (conf->search_endpoint && using)
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
	if (conf->search_endpoint && using)
		appendStringInfoChar(&body, '}');
	else if (using)
	{
		appendStringInfoString(&body, ",\"using\":");
		escape_json(&body, using);
	}
	appendStringInfo(&body, ",\"limit\":%d,\"with_payload\":true", leg->call->query.limit);
	if ((value = ApexGetOption(options, "score_threshold")))
		appendStringInfo(&body, ",\"score_threshold\":%s", value);
	if ((value = ApexGetOption(options, "filter")))
		appendStringInfo(&body, ",\"filter\":%s", value);
	appendStringInfoChar(&body, '}');

	initStringInfo(&path);
	appendStringInfoString(&path, "/collections/");
	appendStringInfoString(&path, ApexUrlEncode(ApexGetOption(options, "collection")));
	appendStringInfoString(&path, conf->search_endpoint ? "/points/search" : "/points/query");

	auth.api_key_header = "api-key";
	auth.api_key = ApexGetOption(leg->source->secrets, "api_key");
	if (auth.api_key == NULL)
		auth.api_key_header = NULL;
	ApexLegPost(leg, leg->source, ApexUrlJoin(ApexGetOption(options, "url"), path.data),
				body.data, NIL, &auth, qdrant_done, leg);
}

static void
qdrant_start(ApexLeg *leg)
{
	ApexQuery  *query = &leg->call->query;
	const char *embedder_name = ApexGetOption(leg->source->options, "embedder");
	ApexSource *embedder;

	leg->state = qdrant_conf(leg->source);
	if (query->vector)
	{
		qdrant_search(leg, query->vector, query->vector_dim);
		return;
	}
	if (embedder_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" needs a query vector", leg->source->name),
				 errhint("Pass query_vector => ..., or set the source's \"embedder\" option.")));
	embedder = ApexGetSource(embedder_name, false);
	if (strcmp(embedder->kind->name, "embedder") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("embedder \"%s\" of source \"%s\" is a source of kind \"%s\"",
						embedder_name, leg->source->name, embedder->kind->name)));
	ApexUseSource(embedder);
	ApexEmbedStart(leg, embedder, query->text, qdrant_search);
}

const ApexKind ApexQdrantKind = {
	.name = "qdrant",
	.server_options = qdrant_options,
	.required_options = qdrant_required,
	.validate = qdrant_validate,
	.start = qdrant_start,
	.targets = ApexUrlTargets,
};
