/*-------------------------------------------------------------------------
 *
 * leg_reranker.h
 *		  The configuration of a reranker source, its request body and its
 *		  response decoder, exported for rerank.c and the fuzz harness
 *		  (test/fuzz).
 *
 * IDENTIFICATION
 *		  src/leg_reranker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LEG_RERANKER_H
#define APEX_LEG_RERANKER_H

#include "leg.h"

/* values of format: the index of the name in the option's choices */
#define APEX_RERANKER_COHERE 0	/* POST <url>/v2/rerank */
#define APEX_RERANKER_TEI 1		/* POST <url>/rerank */

/* the most documents one request carries (Cohere's documented maximum) */
#define APEX_RERANK_MAX_CANDIDATES 10000

typedef struct ApexRerankerConf
{
	ApexHttpConf http;			/* url: the service's base URL */
	int			format;			/* APEX_RERANKER_COHERE or _TEI */
	char	   *model;			/* cohere: required; tei: none */
	int			candidates;		/* the fused rows a call sends, at most */
} ApexRerankerConf;

/* What a request asked (ApexRerankerDecode's state) */
typedef struct ApexRerankAsked
{
	const ApexRerankerConf *conf;
	int			count;			/* documents it sent, at least 1 */
} ApexRerankAsked;

/*
 * an ApexDecoder: state an ApexRerankAsked, result a double[count]: the
 * score of each document sent, in the order sent, every one finite
 */
extern char *ApexRerankerDecode(const void *state, long status,
								StringInfo body, void *result,
								ApexRemote *remote);
extern char *ApexRerankerUrl(const ApexRerankerConf *conf);
extern char *ApexRerankerBody(const ApexRerankerConf *conf, const char *query,
							  const char *const *documents, int ndocuments);

#endif							/* APEX_LEG_RERANKER_H */
