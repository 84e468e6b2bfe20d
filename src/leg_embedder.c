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
#include "vector.h"

static const char *const embedder_apis[] = {"openai", "ollama", NULL};
static const char *const embedder_encodings[] = {"base64", "float", NULL};

#define EMBEDDER_OLLAMA 1		/* index in embedder_apis */
#define EMBEDDER_FLOAT 1		/* index in embedder_encodings */

typedef struct EmbedderConf
{
	ApexHttpConf http;
	char	   *model;
	int			api;			/* index in embedder_apis */
	int			dimensions;		/* 0: the model's */
	int			encoding;		/* index in embedder_encodings; -1: not given */
} EmbedderConf;

static const ApexOption embedder_options[] = {
	APEX_HTTP_URL_OPTION(EmbedderConf),
	{APEX_OPT("model", APEX_OPTION_STRING, EmbedderConf, model), .required = true},
	{APEX_OPT("api", APEX_OPTION_CHOICE, EmbedderConf, api), .dflt = "openai",
	 .choices = embedder_apis},
	{APEX_OPT("dimensions", APEX_OPTION_INT, EmbedderConf, dimensions), .min = 1,
	 .max = 65536},
	{APEX_OPT("encoding", APEX_OPTION_CHOICE, EmbedderConf, encoding),
	 .choices = embedder_encodings},
	APEX_HTTP_TLS_OPTIONS(EmbedderConf),
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
	EmbedderConf *conf = arg;

	if (conf->api == EMBEDDER_OLLAMA && (conf->encoding >= 0 || conf->dimensions))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"encoding\" and \"dimensions\" need api \"openai\"")));
}

static float4 *
embed_decode_array(JsonbContainer *array, int *dim, char **error)
{
	float4	   *vec;

	*dim = ApexJsonLength(array);
	if (*dim == 0)
	{
		*error = "embedding is empty";
		return NULL;
	}
	vec = palloc(sizeof(float4) * *dim);
	for (int i = 0; i < *dim; i++)
	{
		double		d;

		if (!ApexJsonNumber(ApexJsonAt(array, i), &d))
		{
			*error = "embedding holds a value that is not a number";
			return NULL;
		}
		vec[i] = (float4) d;
	}
	return vec;
}

/*
 * Decode an embedding response (pure; fuzzable).  Returns the vector, or
 * NULL with *error set (our words) and what the server said about it in
 * remote->text (see ApexDecoder).
 */
static float4 *
embed_decode(bool ollama, long status, StringInfo body, int *dim, char **error,
			 ApexRemote *remote)
{
	Jsonb	   *doc = ApexJsonParse(body->data, body->len, error);
	JsonbValue *v;
	float4	   *vec;

	if (status < 200 || status > 299)
	{
		/* OpenAI: {"error":{"message":...}}; Ollama: {"error":"..."} */
		v = doc ? ApexJsonGet(&doc->root, "error") : NULL;
		if (ApexJsonObject(v))
			v = ApexJsonGet(ApexJsonObject(v), "message");
		remote->text = ApexJsonScalarText(v);
		if (remote->text == NULL)
		{
			remote->text = body->data;
			remote->body = true;
		}
		*error = psprintf("HTTP %ld", status);
		return NULL;
	}
	if (doc == NULL)
	{
		*error = ApexJsonErrorCause(*error, &remote->text);
		return NULL;
	}
	if (ollama)
		v = ApexJsonGet(&doc->root, "embeddings");
	else
	{
		v = ApexJsonGet(&doc->root, "data");
		if (ApexJsonLength(ApexJsonArray(v)) > 0)
			v = ApexJsonGet(ApexJsonObject(ApexJsonAt(ApexJsonArray(v), 0)),
							"embedding");
		else
			v = NULL;
	}
	if (ollama && ApexJsonLength(ApexJsonArray(v)) > 0)
		v = ApexJsonAt(ApexJsonArray(v), 0);
	if (v && v->type == jbvString)
		vec = ApexVectorFromBase64(v->val.string.val, v->val.string.len, dim, error);
	else if (ApexJsonArray(v))
		vec = embed_decode_array(ApexJsonArray(v), dim, error);
	else
	{
		*error = ollama ? "response has no \"embeddings\" array"
			: "response has no \"data[0].embedding\"";
		return NULL;
	}
	for (int i = 0; vec && i < *dim; i++)
	{
		if (isnan(vec[i]) || isinf(vec[i]))
		{
			*error = "embedding holds a value that is not finite";
			return NULL;
		}
	}
	return vec;
}

static void
embed_done(void *arg, ApexHttpResponse *resp)
{
	EmbedRequest *req = arg;
	char	   *label = psprintf("embedder \"%s\"", req->embedder->name);
	ApexRemote	remote = {.peer = req->embedder};
	char	   *error = NULL;
	float4	   *vec = NULL;
	int			dim = 0;

	req->leg->awaiting = NULL;
	if (resp->error)
	{
		ApexLegFailTransport(req->leg, resp, req->embedder, label);
		return;
	}
	error = ApexNotJson(resp, &remote);
	vec = error ? NULL : embed_decode(req->ollama, resp->status, resp->body, &dim,
									  &error, &remote);
	if (vec == NULL)
	{
		ApexLegFailRemote(req->leg, &remote, "%s: %s", label, error);
		return;
	}
	if (req->cache_ticket)
		req->leg->call->vectors->store(req->leg->call->vectors, req->cache_ticket,
									   vec, dim);
	req->done(req->leg, vec, dim);
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
	const EmbedderConf *conf = embedder->conf;

	req->leg = leg;
	req->embedder = embedder;
	req->text = text;
	req->done = done;
	req->ollama = conf->api == EMBEDDER_OLLAMA;
	req->base64 = !req->ollama && conf->encoding != EMBEDDER_FLOAT;
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
	const EmbedderConf *conf = embedder->conf;
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
	req->leg->awaiting = psprintf("embedder \"%s\"", embedder->name);
	ApexLegPost(req->leg, embedder, conf->http.url,
				body.data, NIL, &auth, embed_done, req);
}

const ApexKind ApexEmbedderKind = {
	.name = "embedder",
	.options = embedder_options,
	.conf_size = sizeof(EmbedderConf),
	.check = embedder_check,
	.targets = ApexUrlTargets,
};
