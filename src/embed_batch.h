/*-------------------------------------------------------------------------
 *
 * embed_batch.h
 *		  apex_route_many's embeddings: one request per embedder for the
 *		  texts of every question (embed_batch.c).
 *
 * IDENTIFICATION
 *		  src/embed_batch.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_EMBED_BATCH_H
#define APEX_EMBED_BATCH_H

#include "apex_router.h"

typedef struct ApexEmbedBatch ApexEmbedBatch;

extern ApexEmbedBatch *ApexEmbedBatchBegin(ApexCall *call, int timeout_ms);
extern void ApexEmbedBatchAsk(ApexLeg *leg, ApexSource *embedder,
							  const char *text, ApexEmbedDone done);

#endif							/* APEX_EMBED_BATCH_H */
