/*-------------------------------------------------------------------------
 *
 * fuzz_http.c
 *		  Fuzz targets for ApexJsonParse, the Qdrant key paths
 *		  (ApexJsonPathGet) and the decoders of the HTTP kinds (neo4j,
 *		  qdrant, graphiti, embedder for one text and for several,
 *		  reranker), called as the legs call them (see
 *		  ApexDecoder in src/leg.h).
 *
 * json: the whole input is the text.  ApexJsonParse must not throw, and
 * what it accepts must print (JsonbToCString), and the printed text must
 * read back to the same text: results and the cache go through it again.
 *
 * Decoders: the first byte is the variant, the rest the response body.
 *   bit 0       neo4j: Query API (else tx/commit); qdrant: /points/search
 *               (else /points/query); graphiti: include_invalid;
 *               embed, embed_many: Ollama (else OpenAI); rerank: TEI
 *               (else Cohere)
 *   bits 1-3    HTTP status: 200 202 299 300 400 401 422 500
 *   bit 4       qdrant: the fields are nested key paths (LangChain's
 *               payload): id_field "metadata.doc_id", title_field
 *               "metadata.\"dc.title\"" (bit 7: "metadata.titles[1]"),
 *               content_field "page_content"
 *               (issue 11 item 5; origin: langchain-ai/langchain#26215,
 *               neo4j/neo4j-graphrag-python#453: nested payload fields)
 *   bit 5       qdrant: with_vectors (bit 4: vector_name "dense"): a point's
 *               vector, when it has one, is finite floats
 *   bit 6       qdrant: id_field "uid" (bit 4: the path above); graphiti:
 *               now is 2000-01-01 (else 2025-06-01)
 *   bit 7       qdrant: title_field "name", content_field "text"
 *   bits 4-6    embed_many: the texts asked, less one (1 to 8; the answer
 *               to apex_route_many's request of several texts); rerank:
 *               the documents sent, less one (1 to 8)
 * So seeds start with '0' (200, bit 0 clear), '1' (200, set), '2'/'3'
 * (202), '8'/'9' (400), ':' (401), '<' (422), '>'/'?' (500), '@'/'A'
 * (200 with bit 6), and 'P'/'Q' (200 with bits 4 and 6).
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

#include "json.h"
#include "leg_embedder.h"
#include "leg_graphiti.h"
#include "leg_neo4j.h"
#include "leg_qdrant.h"
#include "leg_reranker.h"
#include "peer_encoding.h"
#include "vector.h"

#include "fuzz.h"

static const long fuzz_statuses[] = {200, 202, 299, 300, 400, 401, 422, 500};

static uint8
fuzz_variant(const uint8 *data, size_t size)
{
	return size > 0 ? data[0] : 0;
}

static long
fuzz_status(uint8 variant)
{
	return fuzz_statuses[(variant >> 1) & 7];
}

/* The body after the variant byte; it ends where the malloc'd copy ends */
static StringInfoData
fuzz_body(const uint8 *data, size_t size)
{
	StringInfoData body;

	body.data = (char *) data + (size > 0);
	body.len = size - (size > 0);
	body.maxlen = body.len + 1;
	body.cursor = 0;
	return body;
}

/* Midnight UTC of a day */
static TimestampTz
fuzz_midnight(int year, int month, int day)
{
	return (TimestampTz) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
}

/*
 * Shared by every decoder: an error, or what it decoded (n of what); never
 * a result for a non-2xx.  What the server said about an error goes through
 * the masker.  True when the result is the caller's to check.
 */
static bool
fuzz_check_outcome(long status, char *error, ApexRemote *remote, int n,
				   const char *what)
{
	if (remote->text && error == NULL)
		FuzzFail("a server's words without an error");
	if (remote->text)
		FuzzCheckRemote(remote);
	if (error)
	{
		FuzzCheckError(error);
		return false;
	}
	if (status < 200 || status > 299)
		FuzzFail("HTTP %ld decoded as %d %s", status, n, what);
	return true;
}

/* The item decoders' outcome */
static void
fuzz_check_decoded(long status, char *error, List *items, ApexRemote *remote)
{
	if (fuzz_check_outcome(status, error, remote, list_length(items), "items"))
		FuzzCheckItems(items);
}

void
FuzzJson(const uint8 *data, size_t size)
{
	char	   *error;
	JsonbValue *tree = ApexJsonParse((const char *) data, size, &error);
	Jsonb	   *doc;
	char	   *text;
	char	   *utf8;
	int			sqlerrcode;
	JsonbValue *again;
	char	   *text_again;

	if (tree == NULL)
	{
		FuzzCheckError(error);
		return;
	}
	doc = JsonbValueToJsonb(tree);
	text = JsonbToCString(NULL, &doc->root, VARSIZE(doc));
	/*
	 * The jsonb built as the parser goes is what jsonb_in builds from the
	 * same text (in a UTF-8 database the text is the input as it came).
	 */
	if (GetDatabaseEncoding() == PG_UTF8)
	{
		char	   *input = pnstrdup((const char *) data, size);
		Jsonb	   *ref;

		if (strlen(input) != size)
			FuzzFail("JSON with a NUL byte was accepted");
		ref = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(input)));
		if (VARSIZE(ref) != VARSIZE(doc) || memcmp(ref, doc, VARSIZE(doc)) != 0)
			FuzzFail("jsonb differs from jsonb_in's: %s / %s", text,
					 JsonbToCString(NULL, &ref->root, VARSIZE(ref)));
	}
	/* as the cache writes it to Redis and reads it back: in UTF-8 */
	if ((utf8 = ApexToPeer(text, &sqlerrcode, &error)) == NULL)
		FuzzFail("printed JSON has no UTF-8 form (%s): %s", error, text);
	again = ApexJsonParse(utf8, strlen(utf8), &error);
	if (again == NULL)
		FuzzFail("printed JSON does not read back (%s): %s", error, text);
	text_again = ApexJsonText(again);
	if (strcmp(text, text_again) != 0)
		FuzzFail("JSON printed twice differs: %s / %s", text, text_again);
}

void
FuzzNeo4j(const uint8 *data, size_t size)
{
	uint8		variant = fuzz_variant(data, size);
	ApexNeo4jConf conf = {.api = (variant & 1) ? APEX_NEO4J_QUERY : APEX_NEO4J_TX};
	StringInfoData body = fuzz_body(data, size);
	ApexItemsSkipped decoded;
	ApexRemote	remote = {0};
	char	   *error = ApexNeo4jDecode(&conf, fuzz_status(variant), &body, &decoded,
										&remote);

	if (decoded.skipped < 0)
		abort();
	fuzz_check_decoded(fuzz_status(variant), error, decoded.items, &remote);
}

void
FuzzQdrant(const uint8 *data, size_t size)
{
	uint8		variant = fuzz_variant(data, size);
	bool		nested = variant & 0x10;
	ApexQdrantConf conf = {
		.endpoint = (variant & 1) ? APEX_QDRANT_SEARCH : APEX_QDRANT_QUERY,
		.id_field = !(variant & 0x40) ? NULL : nested ? "metadata.doc_id" : "uid",
		.title_field = nested ? ((variant & 0x80) ? "metadata.titles[1]" : "metadata.\"dc.title\"")
		: (variant & 0x80) ? "name" : "title",
		.content_field = nested ? "page_content" : (variant & 0x80) ? "text" : "content",
		.with_vectors = (variant & 0x20) != 0,
		.vector_name = nested ? "dense" : NULL,
	};
	StringInfoData body = fuzz_body(data, size);
	ApexItemsSkipped decoded;
	ApexRemote	remote = {0};
	char	   *error = ApexQdrantDecode(&conf, fuzz_status(variant), &body, &decoded,
										 &remote);

	/* a point is used or skipped, and skipped only for want of an id_field */
	if (decoded.skipped < 0 || (decoded.skipped > 0 && conf.id_field == NULL))
		abort();
	if (error == NULL)
	{
		ListCell   *lc;

		foreach(lc, decoded.items)
		{
			ApexItem   *item = lfirst(lc);

			if ((item->vector != NULL) != (item->vector_dim > 0) ||
				(item->vector && !conf.with_vectors))
				abort();
			for (int i = 0; i < item->vector_dim; i++)
				if (isnan(item->vector[i]) || isinf(item->vector[i]))
					abort();
		}
	}
	fuzz_check_decoded(fuzz_status(variant), error, decoded.items, &remote);
}

/*
 * keypath: a Qdrant key path, a newline, a JSON payload.  A path the check
 * refuses reads nothing; one it takes reads a value of the payload or
 * nothing, and never throws.
 */
void
FuzzKeyPath(const uint8 *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	char	   *path = pnstrdup((const char *) data, nl ? nl - (const char *) data : size);
	size_t		rest = nl ? size - (nl + 1 - (const char *) data) : 0;
	char	   *error;
	JsonbValue *doc = nl ? ApexJsonParse(nl + 1, rest, &error) : NULL;
	const char *problem = ApexJsonPathCheck(path);
	JsonbValue *value = ApexJsonPathGet(doc, path);

	if (problem && value)
		FuzzFail("path refused yet read: \"%s\"", path);
	if (problem)
		FuzzCheckError(problem);
	if (value)
		(void) ApexJsonText(value);
}

void
FuzzGraphiti(const uint8 *data, size_t size)
{
	uint8		variant = fuzz_variant(data, size);
	ApexGraphitiState state = {.include_invalid = variant & 1};
	StringInfoData body = fuzz_body(data, size);
	List	   *items;
	ApexRemote	remote = {0};
	char	   *error;

	state.now = (variant & 0x40) ? fuzz_midnight(2000, 1, 1) : fuzz_midnight(2025, 6, 1);
	error = ApexGraphitiDecode(&state, fuzz_status(variant), &body, &items, &remote);
	fuzz_check_decoded(fuzz_status(variant), error, items, &remote);
}

/*
 * A vector: non-empty and finite, and it survives the cache's base64
 * encoding bit for bit.
 */
static void
fuzz_check_vector(const float4 *vec, int dim)
{
	char	   *cached;
	float4	   *back;
	int			back_dim;
	char	   *error;

	if (vec == NULL || dim <= 0)
		FuzzFail("vector of dimension %d", dim);
	for (int i = 0; i < dim; i++)
		if (isnan(vec[i]) || isinf(vec[i]))
			FuzzFail("vector[%d] is not finite", i);
	cached = ApexVectorToBase64(vec, dim);
	back = ApexVectorFromBase64(cached, strlen(cached), &back_dim, &error);
	if (back == NULL || back_dim != dim ||
		memcmp(back, vec, sizeof(float4) * dim) != 0)
		FuzzFail("vector of dimension %d does not survive the cache encoding", dim);
}

/* The embedding decoders' outcome: n vectors */
static void
fuzz_check_embedded(long status, char *error, ApexRemote *remote,
					const ApexEmbedding *embeddings, int n)
{
	if (!fuzz_check_outcome(status, error, remote, n, "vectors"))
		return;
	for (int i = 0; i < n; i++)
		fuzz_check_vector(embeddings[i].vector, embeddings[i].dim);
}

void
FuzzEmbed(const uint8 *data, size_t size)
{
	uint8		variant = fuzz_variant(data, size);
	long		status = fuzz_status(variant);
	ApexEmbedderConf conf = {
		.api = (variant & 1) ? APEX_EMBEDDER_OLLAMA : APEX_EMBEDDER_OPENAI,
	};
	StringInfoData body = fuzz_body(data, size);
	ApexEmbedding embedding;
	ApexRemote	remote = {0};
	char	   *error = ApexEmbedderDecode(&conf, status, &body, &embedding, &remote);

	fuzz_check_embedded(status, error, &remote, &embedding, 1);
}

/*
 * The answer to a request of several texts (apex_route_many, issue 13 item
 * 1): every text gets a vector, each as FuzzEmbed checks it.
 */
void
FuzzEmbedMany(const uint8 *data, size_t size)
{
	uint8		variant = fuzz_variant(data, size);
	long		status = fuzz_status(variant);
	ApexEmbedderConf conf = {
		.api = (variant & 1) ? APEX_EMBEDDER_OLLAMA : APEX_EMBEDDER_OPENAI,
	};
	ApexEmbedderAsked asked = {&conf, ((variant >> 4) & 7) + 1};
	StringInfoData body = fuzz_body(data, size);
	ApexEmbedding embeddings[8];
	ApexRemote	remote = {0};
	char	   *error = ApexEmbedderDecodeMany(&asked, status, &body, embeddings,
											   &remote);

	fuzz_check_embedded(status, error, &remote, embeddings, asked.count);
}

/*
 * A reranker's answer (issue 15 part 5): every document sent gets one
 * finite score, or the answer is refused.
 */
void
FuzzRerank(const uint8 *data, size_t size)
{
	uint8		variant = fuzz_variant(data, size);
	long		status = fuzz_status(variant);
	ApexRerankerConf conf = {
		.format = (variant & 1) ? APEX_RERANKER_TEI : APEX_RERANKER_COHERE,
	};
	ApexRerankAsked asked = {&conf, ((variant >> 4) & 7) + 1};
	StringInfoData body = fuzz_body(data, size);
	double		scores[8];
	ApexRemote	remote = {0};
	char	   *error;

	for (int i = 0; i < 8; i++)
		scores[i] = NAN;
	error = ApexRerankerDecode(&asked, status, &body, scores, &remote);
	if (!fuzz_check_outcome(status, error, &remote, asked.count, "scores"))
		return;
	for (int i = 0; i < asked.count; i++)
		if (isnan(scores[i]) || isinf(scores[i]))
			FuzzFail("document %d of %d has no finite score", i, asked.count);
}
