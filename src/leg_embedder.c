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

#include "common/base64.h"
#include "utils/json.h"

#include "cache.h"
#include "leg.h"

static const char *const embedder_options[] = {
	"url", "model", "api", "dimensions", "encoding", APEX_HTTP_OPTIONS, NULL
};
static const char *const embedder_required[] = {"url", "model", NULL};
static const char *const embedder_apis[] = {"openai", "ollama", NULL};
static const char *const embedder_encodings[] = {"base64", "float", NULL};

typedef struct EmbedRequest
{
	ApexLeg    *leg;
	ApexSource *embedder;
	const char *text;
	bool		ollama;
	bool		base64;
	ApexEmbedDone done;
	char	   *cache_hash;		/* key of the vector in the cache, or NULL */
	const char *cache_epoch;	/* epoch it was looked up under */
} EmbedRequest;

/* little-endian float32, base64: how vectors are cached */
static char *
embed_encode_base64(const float4 *vec, int dim)
{
	uint8	   *raw = palloc(sizeof(float4) * dim);
	int			maxlen = pg_b64_enc_len(sizeof(float4) * dim) + 1;
	char	   *b64 = palloc(maxlen);
	int			n;

	for (int i = 0; i < dim; i++)
	{
		uint32		bits;

		memcpy(&bits, &vec[i], sizeof(bits));
		for (int b = 0; b < 4; b++)
			raw[4 * i + b] = (bits >> (8 * b)) & 0xff;
	}
	n = pg_b64_encode((const char *) raw, sizeof(float4) * dim, b64, maxlen);
	b64[Max(n, 0)] = '\0';
	return b64;
}

static void
embedder_validate(List *options)
{
	const char *api = ApexGetOption(options, "api");
	const char *encoding = ApexGetOption(options, "encoding");
	const char *dims = ApexGetOption(options, "dimensions");

	if (api)
		ApexCheckChoiceOption("api", api, embedder_apis);
	if (encoding)
		ApexCheckChoiceOption("encoding", encoding, embedder_encodings);
	if (dims)
		ApexParseIntOption("dimensions", dims, 1, 65536);
	if (api && strcmp(api, "ollama") == 0 && (encoding || dims))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"encoding\" and \"dimensions\" need api \"openai\"")));
}

/* float32 values, little-endian, base64 encoded (OpenAI encoding_format) */
static float4 *
embed_decode_base64(const char *b64, int len, int *dim, char **error)
{
	int			maxlen = pg_b64_dec_len(len);
	uint8	   *raw = palloc(maxlen);
	int			n = pg_b64_decode(b64, len, (char *) raw, maxlen);
	float4	   *vec;

	if (n < 0 || n % 4 != 0 || n == 0)
	{
		*error = "embedding is not valid base64 float32 data";
		return NULL;
	}
	*dim = n / 4;
	vec = palloc(sizeof(float4) * *dim);
	for (int i = 0; i < *dim; i++)
	{
		uint32		bits = (uint32) raw[4 * i] | (uint32) raw[4 * i + 1] << 8 |
			(uint32) raw[4 * i + 2] << 16 | (uint32) raw[4 * i + 3] << 24;

		memcpy(&vec[i], &bits, sizeof(float4));
	}
	return vec;
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
		vec = embed_decode_base64(v->val.string.val, v->val.string.len, dim, error);
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
	if (req->cache_epoch)
		ApexCacheSet(req->leg->call->cache, "embed", req->cache_epoch,
					 req->cache_hash, embed_encode_base64(vec, dim));
	req->done(req->leg, vec, dim);
}

static void embed_send(EmbedRequest *req);

/* The cache answered (inside hiredis: nothing here throws) */
static void
embed_cache_got(void *arg, const char *epoch, const char *value)
{
	EmbedRequest *req = arg;
	char	   *error;
	int			dim;
	float4	   *vec;

	req->cache_epoch = epoch;
	if (value && (vec = embed_decode_base64(value, strlen(value), &dim, &error)))
		req->done(req->leg, vec, dim);
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
	const char *api = ApexGetOption(embedder->options, "api");
	const char *encoding = ApexGetOption(embedder->options, "encoding");

	req->leg = leg;
	req->embedder = embedder;
	req->text = text;
	req->done = done;
	req->ollama = api && strcmp(api, "ollama") == 0;
	req->base64 = !req->ollama && (encoding == NULL || strcmp(encoding, "base64") == 0);
	if (leg->call->cache)
	{
		req->cache_hash = ApexCacheEmbeddingHash(embedder, text);
		ApexCacheGet(leg->call->cache, "embed", req->cache_hash,
					 embed_cache_got, req, leg);
	}
	else
		embed_send(req);
}

static void
embed_send(EmbedRequest *req)
{
	ApexSource *embedder = req->embedder;
	const char *dims = ApexGetOption(embedder->options, "dimensions");
	ApexHttpAuth auth = {0};
	StringInfoData body;

	auth.bearer = ApexGetOption(embedder->secrets, "api_key");
	initStringInfo(&body);
	appendStringInfoString(&body, "{\"model\":");
	escape_json(&body, ApexGetOption(embedder->options, "model"));
	appendStringInfoString(&body, ",\"input\":");
	escape_json(&body, req->text);
	if (!req->ollama)
		appendStringInfo(&body, ",\"encoding_format\":\"%s\"",
						 req->base64 ? "base64" : "float");
	if (dims)
		appendStringInfo(&body, ",\"dimensions\":%s", dims);
	appendStringInfoChar(&body, '}');

	/* the leg's clock names the embedder if it runs out meanwhile */
	req->leg->awaiting = psprintf("embedder \"%s\"", embedder->name);
	ApexLegPost(req->leg, embedder, ApexGetOption(embedder->options, "url"),
				body.data, NIL, &auth, embed_done, req);
}

const ApexKind ApexEmbedderKind = {
	.name = "embedder",
	.server_options = embedder_options,
	.required_options = embedder_required,
	.validate = embedder_validate,
	.targets = ApexUrlTargets,
};
