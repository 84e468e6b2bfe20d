/*-------------------------------------------------------------------------
 *
 * leg_embedder.c
 *		  Embedding services: OpenAI-compatible /v1/embeddings and Ollama's
 *		  /api/embed.  Not a search leg of its own: vector sources call
 *		  ApexEmbedStart() to turn the query text into a vector inside the
 *		  same event loop.
 *
 * OpenAI-style services are asked for base64 (little-endian float32) by
 * default: about four times smaller than decimal JSON and no float parsing.
 *
 * IDENTIFICATION
 *		  src/leg_embedder.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/json.h"

#include "leg.h"
#include "embed_batch.h"
#include "leg_embedder.h"
#include "vector.h"

/* in the order of APEX_EMBEDDER_OPENAI, _OLLAMA and _BASE64, _FLOAT */
static const char *const embedder_apis[] = {"openai", "ollama", NULL};
static const char *const embedder_encodings[] = {"base64", "float", NULL};

static const ApexOption embedder_options[] = {
	APEX_HTTP_URL_OPTION(ApexEmbedderConf),
	{APEX_OPT("model", APEX_OPTION_STRING, ApexEmbedderConf, model), .required = true},
	{APEX_OPT("api", APEX_OPTION_CHOICE, ApexEmbedderConf, api), .dflt = "openai",
	 .choices = embedder_apis},
	{APEX_OPT("dimensions", APEX_OPTION_INT, ApexEmbedderConf, dimensions), .min = 1,
	 .max = 65536},
	{APEX_OPT("encoding", APEX_OPTION_CHOICE, ApexEmbedderConf, encoding),
	 .choices = embedder_encodings},
	/* OpenAI takes at most 2048 inputs a request; some servers fewer */
	{APEX_OPT("max_batch_size", APEX_OPTION_INT, ApexEmbedderConf, max_batch_size),
	 .dflt = "2048", .min = 1, .max = APEX_EMBED_MAX_BATCH},
	APEX_HTTP_TLS_OPTIONS(ApexEmbedderConf),
	APEX_HTTP_GATEWAY_OPTIONS(ApexEmbedderConf),
	{NULL}
};

typedef struct EmbedRequest
{
	ApexLeg    *leg;
	ApexSource *embedder;
	const char *text;
	ApexEmbedDone done;
	void	   *cache_ticket;	/* the vector cache's lookup, or NULL */
} EmbedRequest;

static void
embedder_check(void *arg)
{
	ApexEmbedderConf *conf = arg;

	if (conf->api == APEX_EMBEDDER_OLLAMA && (conf->encoding >= 0 || conf->dimensions))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"encoding\" and \"dimensions\" need api \"openai\"")));
}

static float4 *
embed_decode_array(JsonbValue *array, int *dim, char **error)
{
	float4	   *vec;

	*dim = ApexJsonLength(array);
	if (*dim == 0)
	{
		*error = "The embedding is empty.";
		return NULL;
	}
	vec = palloc(sizeof(float4) * *dim);
	for (int i = 0; i < *dim; i++)
	{
		double		d;

		if (!ApexJsonNumber(ApexJsonAt(array, i), &d))
		{
			*error = "The embedding holds a value that is not a number.";
			return NULL;
		}
		vec[i] = (float4) d;
	}
	return vec;
}

/* OpenAI: {"error":{"message":...}}; Ollama: {"error":"..."} */
static char *
embed_error(JsonbValue *doc)
{
	JsonbValue *v = ApexJsonGet(doc, "error");

	if (ApexJsonObject(v))
		v = ApexJsonGet(ApexJsonObject(v), "message");
	return ApexJsonScalarText(v);
}

/*
 * The vector in v: base64 or an array of numbers, whichever the service
 * sent, all finite; else why not.  v is a string or an array.
 */
static char *
embed_vector(JsonbValue *v, ApexEmbedding *embedding)
{
	char	   *error = NULL;

	if (v->type == jbvString)
		embedding->vector = ApexVectorFromBase64(v->val.string.val, v->val.string.len,
												 &embedding->dim, &error);
	else
		embedding->vector = embed_decode_array(ApexJsonArray(v), &embedding->dim,
											   &error);
	if (embedding->vector == NULL)
		return error;
	for (int i = 0; i < embedding->dim; i++)
	{
		if (isnan(embedding->vector[i]) || isinf(embedding->vector[i]))
			return "The embedding holds a value that is not finite.";
	}
	return NULL;
}

/* Is v a vector as a service sends one (embed_vector)? */
static bool
embed_is_vector(JsonbValue *v)
{
	return v && (v->type == jbvString || ApexJsonArray(v));
}

/*
 * Ollama's deprecated /api/embeddings takes "prompt", not "input", and
 * answers {"embedding": []} to our request: say where to point the url
 * (issue 11, "Also").
 */
#define EMBED_LEGACY_OLLAMA "The response has \"embedding\", not \"embeddings\": the url is Ollama's deprecated /api/embeddings endpoint. Use /api/embed instead."

/*
 * The parsed response of a request, or the reason it is unusable: its
 * status is not a success, or it is not JSON.
 */
static char *
embed_parse(long status, StringInfo body, JsonbValue **doc, ApexRemote *remote)
{
	char	   *error = NULL;
	char	   *cause;

	*doc = ApexJsonParse(body->data, body->len, &error);
	if ((cause = ApexNot2xx(status, body, *doc, embed_error, remote)))
		return cause;
	if (*doc == NULL)
		return ApexJsonErrorCause(error, remote);
	return NULL;
}

/*
 * Decode an embedding response (pure; fuzzable): see ApexDecoder.  The
 * vector is base64 or an array of numbers, whichever the service sent.
 */
char *
ApexEmbedderDecode(const void *state, long status, StringInfo body,
				   void *result, ApexRemote *remote)
{
	bool		ollama = ((const ApexEmbedderConf *) state)->api == APEX_EMBEDDER_OLLAMA;
	ApexEmbedding *embedding = result;
	JsonbValue *doc;
	JsonbValue *v;
	char	   *cause;

	embedding->vector = NULL;
	embedding->dim = 0;
	if ((cause = embed_parse(status, body, &doc, remote)))
		return cause;
	if (ollama)
		v = ApexJsonGet(doc, "embeddings");
	else
	{
		v = ApexJsonGet(doc, "data");
		if (ApexJsonLength(ApexJsonArray(v)) > 0)
			v = ApexJsonGet(ApexJsonObject(ApexJsonAt(ApexJsonArray(v), 0)),
							"embedding");
		else
			v = NULL;
	}
	if (ollama && ApexJsonLength(ApexJsonArray(v)) > 0)
		v = ApexJsonAt(ApexJsonArray(v), 0);
	if (embed_is_vector(v))
		return embed_vector(v, embedding);
	if (ollama && ApexJsonGet(doc, "embedding"))
		return EMBED_LEGACY_OLLAMA;
	return ollama ? "The response has no \"embeddings\" array."
		: "The response has no \"data[0].embedding\".";
}

/*
 * Decode the response to a request of several texts (pure; fuzzable): see
 * ApexDecoder; state is an ApexEmbedderAsked, result an array of its count
 * ApexEmbedding, one per text in the order asked.  Ollama answers the
 * vectors in that order; OpenAI-compatible services say each one's place
 * with "index" (the API does not promise the order), so every index must
 * be a text asked, each once.
 */
char *
ApexEmbedderDecodeMany(const void *state, long status, StringInfo body,
					   void *result, ApexRemote *remote)
{
	const ApexEmbedderAsked *asked = state;
	bool		ollama = asked->conf->api == APEX_EMBEDDER_OLLAMA;
	ApexEmbedding *embeddings = result;
	JsonbValue *doc;
	JsonbValue *list;
	char	   *cause;

	for (int i = 0; i < asked->count; i++)
	{
		embeddings[i].vector = NULL;
		embeddings[i].dim = 0;
	}
	if ((cause = embed_parse(status, body, &doc, remote)))
		return cause;
	list = ApexJsonArray(ApexJsonGet(doc, ollama ? "embeddings" : "data"));
	if (list == NULL)
	{
		if (ollama && ApexJsonGet(doc, "embedding"))
			return EMBED_LEGACY_OLLAMA;
		return ollama ? "The response has no \"embeddings\" array."
			: "The response has no \"data\" array.";
	}
	if (ApexJsonLength(list) != asked->count)
		return psprintf("The response has %d embeddings for %d texts.",
						ApexJsonLength(list), asked->count);
	for (int i = 0; i < asked->count; i++)
	{
		JsonbValue *v = ApexJsonAt(list, i);
		int			at = i;

		if (!ollama)
		{
			JsonbValue *item = ApexJsonObject(v);
			double		index;

			if (!ApexJsonNumber(ApexJsonGet(item, "index"), &index) ||
				index != floor(index) || index < 0 || index >= asked->count)
				return psprintf("The response's data[%d] has no \"index\" from 0 to %d.",
								i, asked->count - 1);
			at = (int) index;
			if (embeddings[at].vector)
				return psprintf("The response has two embeddings of index %d.", at);
			v = ApexJsonGet(item, "embedding");
			if (!embed_is_vector(v))
				return psprintf("The response has no \"data[%d].embedding\".", i);
		}
		else if (!embed_is_vector(v))
			return psprintf("The response's \"embeddings[%d]\" is not a vector.", i);
		if ((cause = embed_vector(v, &embeddings[at])))
			return cause;
	}
	return NULL;
}

/* The embedder answered: the vector goes to the cache, if any, and on */
static void
embed_done(void *arg, ApexHttpResponse *resp)
{
	EmbedRequest *req = arg;
	ApexEmbedding embedding;

	req->leg->awaiting = NULL;
	if (!ApexLegDecode(req->leg, resp, req->embedder, ApexEmbedderDecode,
					   req->embedder->conf, &embedding))
		return;
	if (req->cache_ticket)
		req->leg->call->vectors->store(req->leg->call->vectors, req->cache_ticket,
									   embedding.vector, embedding.dim);
	req->done(req->leg, embedding.vector, embedding.dim);
}

static void embed_send(EmbedRequest *req);

/* The vector cache answered (inside the loop: nothing here throws) */
static void
embed_cache_found(void *arg, float4 *vector, int dim)
{
	EmbedRequest *req = arg;

	if (vector)
		req->done(req->leg, vector, dim);
	else
		embed_send(req);
}

/*
 * Ask embedder for the vector of text on behalf of leg; done runs with the
 * vector, or the leg fails with the embedder named in the message.  In
 * apex_route_many the batch's one request for all its texts answers it
 * (embed_batch.c).  With a result cache, the vector is looked up there
 * first and stored after.
 */
void
ApexEmbedStart(ApexLeg *leg, ApexSource *embedder, const char *text,
			   ApexEmbedDone done)
{
	EmbedRequest *req;

	if (leg->call->embeds)
	{
		ApexEmbedBatchAsk(leg, embedder, text, done);
		return;
	}
	req = palloc0(sizeof(EmbedRequest));
	req->leg = leg;
	req->embedder = embedder;
	req->text = text;
	req->done = done;
	if (leg->call->vectors)
		req->cache_ticket = leg->call->vectors->lookup(leg->call->vectors, embedder,
													   text, leg, embed_cache_found, req);
	else
		embed_send(req);
}

/*
 * The request body for texts: one text as a string (apex_route's request,
 * as it always was), or an array of them when array.
 */
static char *
embed_body(const ApexEmbedderConf *conf, const char *const *texts, int ntexts,
		   bool array)
{
	bool		ollama = conf->api == APEX_EMBEDDER_OLLAMA;
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"model\":");
	escape_json(&body, conf->model);
	appendStringInfoString(&body, ",\"input\":");
	if (array)
		appendStringInfoChar(&body, '[');
	for (int i = 0; i < ntexts; i++)
	{
		if (i > 0)
			appendStringInfoChar(&body, ',');
		escape_json(&body, texts[i]);
	}
	if (array)
		appendStringInfoChar(&body, ']');
	if (!ollama)
		appendStringInfo(&body, ",\"encoding_format\":\"%s\"",
						 conf->encoding != APEX_EMBEDDER_FLOAT ? "base64" : "float");
	if (conf->dimensions)
		appendStringInfo(&body, ",\"dimensions\":%d", conf->dimensions);
	appendStringInfoChar(&body, '}');
	return body.data;
}

/* The body of one request for several texts: "input" is an array */
char *
ApexEmbedderBody(const ApexEmbedderConf *conf, const char *const *texts,
				 int ntexts)
{
	return embed_body(conf, texts, ntexts, true);
}

static void
embed_send(EmbedRequest *req)
{
	ApexSource *embedder = req->embedder;
	const ApexEmbedderConf *conf = embedder->conf;
	ApexHttpAuth auth = {0};

	auth.bearer = embedder->secrets->api_key;
	/* the leg's clock names the embedder if it runs out meanwhile */
	req->leg->awaiting = embedder;
	ApexLegPost(req->leg, embedder, conf->http.url,
				embed_body(conf, &req->text, 1, false), NIL, &auth,
				embed_done, req);
}

const ApexKind ApexEmbedderKind = {
	.name = "embedder",
	.options = embedder_options,
	.mapping_options = (const char *const[]) {"api_key", APEX_HTTP_MAPPING_OPTIONS, NULL},
	.conf_size = sizeof(ApexEmbedderConf),
	.check = embedder_check,
	.targets = ApexUrlTargets,
};
