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

#include "apex_router.h"

/* k: its default (the SQL functions' DEFAULT, and a null k) and its range */
#define APEX_DEFAULT_K 10
#define APEX_MAX_K 10000

/* One source's part of the plan */
typedef struct ApexPlannedLeg
{
	ApexSource *source;			/* usable by the caller, embedder resolved */
	int			budget_ms;		/* its timeout_ms, capped by the call's */
	/* a failure decided at planning (no request is sent), or NULL */
	char	   *error;			/* the cause, as ApexLegFail takes it */
	int			sqlerrcode;
	char	   *hint;			/* or NULL */
} ApexPlannedLeg;

typedef struct ApexPlan
{
	ApexQuery	query;
	List	   *legs;			/* ApexPlannedLeg *, in the caller's order */
	int			rrf_k;
	int			timeout_ms;		/* the call's deadline; 0: none */
	int			min_sources;
} ApexPlan;

/*
 * apex_route_many's plan: the sources planned once (plan.legs; plan.query
 * holds k alone), and its questions, each asked of every source
 */
typedef struct ApexBatchPlan
{
	ApexPlan	plan;
	int			nquestions;
	ApexQuery  *questions;		/* in the caller's order; text NULL when refused */
	const char **refused;		/* why question i is not asked, or NULL */
	int		   *refused_code;	/* its SQLSTATE */
	int			max_concurrency;	/* legs in flight at once */
} ApexBatchPlan;

/* in plan.c */
extern ApexPlan *ApexPlanRoute(FunctionCallInfo fcinfo);
extern ApexBatchPlan *ApexPlanMany(FunctionCallInfo fcinfo);

/* in leg.c: the leg of a planned source asking one question */
extern ApexLeg *ApexLegOfPlan(ApexCall *call, const ApexPlannedLeg *planned,
							  const ApexQuery *query);

#endif							/* APEX_PLAN_H */
