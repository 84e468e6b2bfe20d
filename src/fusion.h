/*-------------------------------------------------------------------------
 *
 * fusion.h
 *		  Fusion of the legs' ranked lists (RRF, min-max or distribution-based
 *		  score fusion), recency decay, MMR diversity and min_score.
 *
 * IDENTIFICATION
 *		  src/fusion.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_FUSION_H
#define APEX_FUSION_H

#include "utils/guc.h"

#include "apex_router.h"
#include "plan.h"

/* one source's contribution to a fused item */
typedef struct ApexHit
{
	const char *source;
	int			rank;			/* 1-based, within that source */
	ApexItem   *item;
	double		value;			/* what it adds to the fused score, unweighted */
} ApexHit;

typedef struct ApexFused
{
	const char *id;
	const char *title;
	const char *content;
	double		score;			/* the method's sum, times the recency factor */
	List	   *hits;			/* ApexHit *, best rank first */
	/* its embedding (the best-ranked hit's that has one), or NULL */
	const float4 *vector;
	int			vector_dim;
} ApexFused;

/* What orders a call's rows, taken from its plan (ApexRankingOf) */
typedef struct ApexRanking
{
	ApexFusionMethod method;
	int			rrf_k;
	double		min_score;		/* NaN: none */
	double		recency_half_life_ms;	/* 0: no recency decay */
	double		mmr_lambda;		/* NaN: no MMR */
	TimestampTz now;			/* the time ages are counted to */
} ApexRanking;

/* One row of apex_route's result, fused or read back from the cache */
typedef struct ApexRow
{
	const char *id;
	const char *title;			/* may be NULL */
	const char *content;		/* may be NULL */
	double		score;
	List	   *found_in;		/* source names (char *), best rank first */
	Jsonb	   *payload;		/* per source its rank, score, item */
	/* its embedding for MMR (ApexFused's), or NULL; never cached */
	const float4 *vector;
	int			vector_dim;
} ApexRow;

extern void ApexRankingOf(ApexRanking *ranking, const ApexPlan *plan,
						  TimestampTz now);
extern const struct config_enum_entry apex_fusion_methods[];
extern const char *ApexFusionName(ApexFusionMethod method);
extern int	ApexFuseCandidates(const ApexRanking *ranking, int k);
extern List *ApexFuse(List *legs, const ApexRanking *ranking, int ncandidates);
extern List *ApexFuseFinish(List *rows, const ApexRanking *ranking, int k);
extern List *ApexFusedRows(List *fused);

#endif							/* APEX_FUSION_H */
