/*-------------------------------------------------------------------------
 *
 * plan.h
 *		  The planning stage of apex_route(): what a call will do, decided
 *		  before anything is sent.
 *
 * IDENTIFICATION
 *		  src/plan.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_PLAN_H
#define APEX_PLAN_H

#include "fmgr.h"
#include "utils/array.h"

#include "apex_router.h"

/* k: its default (the SQL functions' DEFAULT, and a null k) and its range */
#define APEX_DEFAULT_K 10
#define APEX_MAX_K 10000

/* One source's part of the plan */
typedef struct ApexPlannedLeg
{
	ApexSource *source;			/* usable by the caller, embedder resolved */
	int			budget_ms;		/* its timeout_ms, capped by the call's */
	double		weight;			/* the call's weight for it, else the intent's
								 * (intent.c), else its option's */
	bool		caller_weight;	/* weight is the call's (its weights argument) */
	/* a failure decided at planning (no request is sent), or NULL */
	char	   *error;			/* the cause, as ApexLegFail takes it */
	int			sqlerrcode;
	char	   *hint;			/* or NULL */
} ApexPlannedLeg;

/* How the legs' lists become one (fusion.c; apex_router.fusion) */
typedef enum ApexFusionMethod
{
	APEX_FUSION_RRF,			/* Reciprocal Rank Fusion: ranks alone */
	APEX_FUSION_MIN_MAX,		/* scores scaled to [0, 1] per source, summed */
	APEX_FUSION_DBSF			/* Distribution-Based Score Fusion (Qdrant's) */
} ApexFusionMethod;

typedef struct ApexPlan
{
	ApexQuery	query;
	List	   *legs;			/* ApexPlannedLeg *, in the caller's order */
	ApexFusionMethod fusion;
	int			rrf_k;
	double		min_score;		/* rows scoring less are dropped; NaN: none */
	double		recency_half_life_ms;	/* recency decay; 0: none */
	double		mmr_lambda;		/* MMR's relevance share; NaN: no MMR */
	ApexSource *reranker;		/* cleared for use, or NULL */
	int			timeout_ms;		/* the call's deadline; 0: none */
	int			min_sources;
	/*
	 * Per call, so that a pooler's shared session carries no state
	 * (arguments strict, cache_mode, cache_source; else apex_router.*)
	 */
	bool		strict;			/* a failed source is an ERROR */
	int			cache_mode;		/* an ApexCacheMode (cache.h) */
	const char *cache_source;	/* the redis source caching results, or NULL */
	/*
	 * What intent routing chose (the routing column, apex_explain's intent
	 * step); NULL when the caller named the sources or
	 * apex_router.intent_routing is off
	 */
	Jsonb	   *routing;
} ApexPlan;

/*
 * apex_route_many's plan: the sources planned once (plan.legs; plan.query
 * holds k alone), and its questions, each asked of every source, or with
 * intent routing of those its intent chose (question_plans[i]: its legs,
 * weights, recency and routing; ApexBatchQuestionPlan)
 */
typedef struct ApexBatchPlan
{
	ApexPlan	plan;
	int			nquestions;
	ApexQuery  *questions;		/* in the caller's order; text NULL when refused */
	const char **refused;		/* why question i is not asked, or NULL */
	int		   *refused_code;	/* its SQLSTATE */
	int			max_concurrency;	/* legs in flight at once */
	ApexPlan  **question_plans; /* or NULL: plan for every question */
} ApexBatchPlan;

/* in plan.c */
extern ApexPlan *ApexPlanRoute(FunctionCallInfo fcinfo);
extern List *ApexPlanNamedSources(ArrayType *names);
extern ApexBatchPlan *ApexPlanMany(FunctionCallInfo fcinfo);
extern ApexPlan *ApexBatchQuestionPlan(ApexBatchPlan *batch, int i);

/* in leg.c: the leg of a planned source asking one question */
extern ApexLeg *ApexLegOfPlan(ApexCall *call, const ApexPlannedLeg *planned,
							  const ApexQuery *query);

#endif							/* APEX_PLAN_H */
