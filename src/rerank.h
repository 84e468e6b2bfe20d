/*-------------------------------------------------------------------------
 *
 * rerank.h
 *		  The reranking step of a call: its top fused rows ordered again by
 *		  a reranker source, inside the call's event loop.
 *
 * IDENTIFICATION
 *		  src/rerank.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_RERANK_H
#define APEX_RERANK_H

#include "apex_router.h"
#include "fusion.h"

typedef struct ApexRerank ApexRerank;

/* in rerank.c */
extern int	ApexRerankFuseLimit(const ApexSource *reranker, int k);
extern int	ApexRerankCandidates(const ApexRanking *ranking,
								 const ApexSource *reranker, int k);
extern ApexRerank *ApexRerankStart(ApexCall *call, ApexSource *reranker,
								   const ApexQuery *query, List *rows,
								   int timeout_ms);
extern void ApexRerankWait(ApexCall *call, ApexRerank **reranks, int n);
extern List *ApexRerankRows(ApexRerank *rerank, List *rows, int k, int ordinal,
							 bool strict);
extern bool ApexRerankFailed(const ApexRerank *rerank);
extern ApexLeg *ApexRerankLeg(const ApexRerank *rerank);
extern int	ApexRerankCount(const ApexRerank *rerank);
extern ApexSource *ApexRerankSource(const ApexRerank *rerank);

#endif							/* APEX_RERANK_H */
