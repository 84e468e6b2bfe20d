/*-------------------------------------------------------------------------
 *
 * leg_embedder.h
 *		  The configuration of an embedder source and its response decoder,
 *		  exported for the fuzz harness (test/fuzz).
 *
 * IDENTIFICATION
 *		  src/leg_embedder.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LEG_EMBEDDER_H
#define APEX_LEG_EMBEDDER_H

#include "leg.h"

/* values of api and encoding: the index of the name in the option's choices */
#define APEX_EMBEDDER_OPENAI 0	/* POST /v1/embeddings */
#define APEX_EMBEDDER_OLLAMA 1	/* POST /api/embed */
#define APEX_EMBEDDER_BASE64 0	/* little-endian float32, base64 */
#define APEX_EMBEDDER_FLOAT 1	/* decimal JSON numbers */

typedef struct ApexEmbedderConf
{
	ApexHttpConf http;
	char	   *model;
	int			api;			/* APEX_EMBEDDER_OPENAI or _OLLAMA */
	int			dimensions;		/* 0: the model's */
	int			encoding;		/* APEX_EMBEDDER_BASE64 or _FLOAT; -1: not
								 * given */
	int			max_batch_size; /* texts in one request of apex_route_many */
} ApexEmbedderConf;

/* the largest max_batch_size */
#define APEX_EMBED_MAX_BATCH 65536

/* What an embedder's response decodes to */
typedef struct ApexEmbedding
{
	float4	   *vector;			/* finite values */
	int			dim;			/* at least 1 */
} ApexEmbedding;

/* What a request of several texts asked (ApexEmbedderDecodeMany's state) */
typedef struct ApexEmbedderAsked
{
	const ApexEmbedderConf *conf;
	int			count;			/* texts in its input, at least 1 */
} ApexEmbedderAsked;

/* an ApexDecoder: state is the ApexEmbedderConf, result an ApexEmbedding * */
extern char *ApexEmbedderDecode(const void *state, long status, StringInfo body,
								void *result, ApexRemote *remote);
/* an ApexDecoder: state an ApexEmbedderAsked, result ApexEmbedding[count] */
extern char *ApexEmbedderDecodeMany(const void *state, long status,
									StringInfo body, void *result,
									ApexRemote *remote);
extern char *ApexEmbedderBody(const ApexEmbedderConf *conf,
							  const char *const *texts, int ntexts);

#endif							/* APEX_LEG_EMBEDDER_H */
