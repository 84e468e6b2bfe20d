/*-------------------------------------------------------------------------
 *
 * leg_reranker.c
 *		  Reranking services: Cohere's POST /v2/rerank (and the gateways that
 *		  serve its shape) and Hugging Face text-embeddings-inference's POST
 *		  /rerank.  Not a search leg of its own: a call given a reranker
 *		  sends it its top fused rows once the legs are over, inside the
 *		  same event loop (rerank.c), and orders them by its scores.
 *
 * Cohere: {"model", "query", "documents": [text, ...]} answered by
 * {"results": [{"index": i, "relevance_score": s}, ...]}, errors
 * {"message": ...}.  TEI: {"query", "texts": [text, ...], "truncate": true}
 * answered by a bare array [{"index": i, "score": s}, ...], errors
 * {"error": ..., "error_type": ...}.  Both answer best first; the decoder
 * does not rely on it: it reads every document's score by its index, and
 * refuses an answer that does not score each document sent exactly once.
 *
 * IDENTIFICATION
 *		  src/leg_reranker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/json.h"

#include "leg.h"
#include "leg_reranker.h"

/* in the order of APEX_RERANKER_COHERE, _TEI */
static const char *const reranker_formats[] = {"cohere", "tei", NULL};

static const ApexOption reranker_options[] = {
	APEX_HTTP_URL_OPTION(ApexRerankerConf),
	{APEX_OPT("format", APEX_OPTION_CHOICE, ApexRerankerConf, format), .dflt = "cohere",
	 .choices = reranker_formats},
	{APEX_OPT("model", APEX_OPTION_STRING, ApexRerankerConf, model)},
	/* TEI's default --max-client-batch-size is 32 */
	{APEX_OPT("candidates", APEX_OPTION_INT, ApexRerankerConf, candidates),
	 .dflt = "32", .min = 1, .max = APEX_RERANK_MAX_CANDIDATES},
	APEX_HTTP_TLS_OPTIONS(ApexRerankerConf),
	APEX_HTTP_GATEWAY_OPTIONS(ApexRerankerConf),
	{NULL}
};

static void
reranker_check(void *arg)
{
	ApexRerankerConf *conf = arg;

	/* Cohere's API v2 requires a model; TEI serves the one it loaded */
	if (conf->format == APEX_RERANKER_COHERE && conf->model == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"model\" is required with format \"cohere\"")));
	if (conf->format == APEX_RERANKER_TEI && conf->model != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"model\" needs format \"cohere\""),
				 errdetail("A text-embeddings-inference server serves the one model it loaded.")));
}

/* Cohere: {"message": ...}; TEI: {"error": ..., "error_type": ...} */
static char *
reranker_error(JsonbValue *doc)
{
	char	   *text = ApexJsonScalarText(ApexJsonGet(doc, "message"));

	if (text == NULL)
		text = ApexJsonScalarText(ApexJsonGet(doc, "error"));
	return text;
}

/* The endpoint of the service: the base URL and the format's path */
char *
ApexRerankerUrl(const ApexRerankerConf *conf)
{
	return ApexUrlJoin(conf->http.url,
					   conf->format == APEX_RERANKER_TEI ? "/rerank" : "/v2/rerank");
}

/*
 * The request body for query and documents (in the database encoding;
 * ApexLegPost sends it in UTF-8).  TEI is asked to truncate a document
 * longer than its model takes, as Cohere does unasked, rather than refuse
 * the request.
 */
char *
ApexRerankerBody(const ApexRerankerConf *conf, const char *query,
				 const char *const *documents, int ndocuments)
{
	bool		tei = conf->format == APEX_RERANKER_TEI;
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfoChar(&body, '{');
	if (!tei)
	{
		appendStringInfoString(&body, "\"model\":");
		escape_json(&body, conf->model);
		appendStringInfoChar(&body, ',');
	}
	appendStringInfoString(&body, "\"query\":");
	escape_json(&body, query);
	appendStringInfoString(&body, tei ? ",\"texts\":[" : ",\"documents\":[");
	for (int i = 0; i < ndocuments; i++)
	{
		if (i > 0)
			appendStringInfoChar(&body, ',');
		escape_json(&body, documents[i]);
	}
	appendStringInfoChar(&body, ']');
	if (tei)
		appendStringInfoString(&body, ",\"raw_scores\":false,\"return_text\":false,\"truncate\":true");
	appendStringInfoChar(&body, '}');
	return body.data;
}

/*
 * Decode a rerank response (pure; fuzzable): see ApexDecoder.  state is an
 * ApexRerankAsked, result a double[count] that gets each document's score
 * by its index.  Every result must name a document sent (an integer index
 * from 0 to count - 1), each once, with a finite score, and every document
 * sent must have one.
 */
char *
ApexRerankerDecode(const void *state, long status, StringInfo body,
				   void *result, ApexRemote *remote)
{
	const ApexRerankAsked *asked = state;
	bool		tei = asked->conf->format == APEX_RERANKER_TEI;
	const char *score_key = tei ? "score" : "relevance_score";
	double	   *scores = result;
	bool	   *seen;
	JsonbValue *doc;
	JsonbValue *list;
	char	   *error = NULL;
	char	   *cause;
	int			n;

	doc = ApexJsonParse(body->data, body->len, &error);
	if ((cause = ApexNot2xx(status, body, doc, reranker_error, remote)))
		return cause;
	if (doc == NULL)
		return ApexJsonErrorCause(error, remote);
	list = tei ? ApexJsonArray(doc) : ApexJsonArray(ApexJsonGet(doc, "results"));
	if (list == NULL)
		return tei ? "The response is not an array."
			: "The response has no \"results\" array.";
	n = ApexJsonLength(list);
	if (n != asked->count)
		return psprintf("The response has %d results for %d documents.",
						n, asked->count);
	seen = palloc0(sizeof(bool) * asked->count);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *item = ApexJsonObject(ApexJsonAt(list, i));
		double		index;
		double		score;
		int			at;

		if (!ApexJsonNumber(ApexJsonGet(item, "index"), &index) ||
			index != floor(index) || index < 0 || index >= asked->count)
			return psprintf("The response's result %d has no \"index\" from 0 to %d.",
							i, asked->count - 1);
		at = (int) index;
		if (seen[at])
			return psprintf("The response has two results of index %d.", at);
		seen[at] = true;
		if (!ApexJsonNumber(ApexJsonGet(item, score_key), &score))
			return psprintf("The response's result %d has no number \"%s\".",
							i, score_key);
		if (isnan(score) || isinf(score))
			return psprintf("The response's result %d has a \"%s\" that is not finite.",
							i, score_key);
		scores[at] = score;
	}
	pfree(seen);
	return NULL;
}

const ApexKind ApexRerankerKind = {
	.name = "reranker",
	.options = reranker_options,
	.mapping_options = (const char *const[]) {"api_key", APEX_HTTP_MAPPING_OPTIONS, NULL},
	.conf_size = sizeof(ApexRerankerConf),
	.check = reranker_check,
	.targets = ApexUrlTargets,
};
