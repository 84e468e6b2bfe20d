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
	APEX_HTTP_TLS_OPTIONS(ApexEmbedderConf),
	{NULL}
};

typedef struct EmbedRequest
{
	ApexLeg    *leg;
	ApexSource *embedder;
	const char *text;
	bool		ollama;
	bool		base64;
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
 * Decode an embedding response (pure; fuzzable): see ApexDecoder.  The
 * vector is base64 or an array of numbers, whichever the service sent.
 */
char *
ApexEmbedderDecode(const void *state, long status, StringInfo body,
				   void *result, ApexRemote *remote)
{
	bool		ollama = ((const ApexEmbedderConf *) state)->api == APEX_EMBEDDER_OLLAMA;
	ApexEmbedding *embedding = result;
	char	   *error = NULL;
	JsonbValue *doc = ApexJsonParse(body->data, body->len, &error);
	JsonbValue *v;
	char	   *cause;

	embedding->vector = NULL;
	embedding->dim = 0;
	if ((cause = ApexNot2xx(status, body, doc, embed_error, remote)))
		return cause;
	if (doc == NULL)
		return ApexJsonErrorCause(error, remote);
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
	if (v && v->type == jbvString)
		embedding->vector = ApexVectorFromBase64(v->val.string.val, v->val.string.len,
												 &embedding->dim, &error);
	else if (ApexJsonArray(v))
		embedding->vector = embed_decode_array(ApexJsonArray(v), &embedding->dim,
											   &error);
	else if (ollama && ApexJsonGet(doc, "embedding"))
	{
		/*
		 * Ollama's deprecated /api/embeddings takes "prompt", not "input",
		 * and answers {"embedding": []} to our request: say where to point
		 * the url (issue 11, "Also").
		 */
		return "The response has \"embedding\", not \"embeddings\": the url is Ollama's deprecated /api/embeddings endpoint. Use /api/embed instead.";
	}
	else
		return ollama ? "The response has no \"embeddings\" array."
			: "The response has no \"data[0].embedding\".";
	if (embedding->vector == NULL)
		return error;
	for (int i = 0; i < embedding->dim; i++)
	{
		if (isnan(embedding->vector[i]) || isinf(embedding->vector[i]))
			return "The embedding holds a value that is not finite.";
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
 * vector, or the leg fails with the embedder named in the message.  With a
 * result cache, the vector is looked up there first and stored after.
 */
void
ApexEmbedStart(ApexLeg *leg, ApexSource *embedder, const char *text,
			   ApexEmbedDone done)
{
	EmbedRequest *req = palloc0(sizeof(EmbedRequest));
	const ApexEmbedderConf *conf = embedder->conf;

	req->leg = leg;
	req->embedder = embedder;
	req->text = text;
	req->done = done;
	req->ollama = conf->api == APEX_EMBEDDER_OLLAMA;
	req->base64 = !req->ollama && conf->encoding != APEX_EMBEDDER_FLOAT;
	if (leg->call->vectors)
		req->cache_ticket = leg->call->vectors->lookup(leg->call->vectors, embedder,
													   text, leg, embed_cache_found, req);
	else
		embed_send(req);
}

static void
embed_send(EmbedRequest *req)
{
	ApexSource *embedder = req->embedder;
	const ApexEmbedderConf *conf = embedder->conf;
	ApexHttpAuth auth = {0};
	StringInfoData body;

	auth.bearer = embedder->secrets->api_key;
	initStringInfo(&body);
	appendStringInfoString(&body, "{\"model\":");
	escape_json(&body, conf->model);
	appendStringInfoString(&body, ",\"input\":");
	escape_json(&body, req->text);
	if (!req->ollama)
		appendStringInfo(&body, ",\"encoding_format\":\"%s\"",
						 req->base64 ? "base64" : "float");
	if (conf->dimensions)
		appendStringInfo(&body, ",\"dimensions\":%d", conf->dimensions);
	appendStringInfoChar(&body, '}');

	/* the leg's clock names the embedder if it runs out meanwhile */
	req->leg->awaiting = embedder;
	ApexLegPost(req->leg, embedder, conf->http.url,
				body.data, NIL, &auth, embed_done, req);
}

const ApexKind ApexEmbedderKind = {
	.name = "embedder",
	.options = embedder_options,
	.mapping_options = (const char *const[]) {"api_key", NULL},
	.conf_size = sizeof(ApexEmbedderConf),
	.check = embedder_check,
	.targets = ApexUrlTargets,
};
