/*-------------------------------------------------------------------------
 *
 * trace.h
 *		  What a call did: the partial column, apex_explain's rows and the
 *		  log line of a call.
 *
 * IDENTIFICATION
 *		  src/trace.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_TRACE_H
#define APEX_TRACE_H

#include "funcapi.h"
#include "utils/guc.h"

#include "apex_router.h"

/* The steps of a call besides its legs, as the router saw them */
typedef struct ApexCallSteps
{
	const char *cache_source;	/* the result cache's source, or NULL: none */
	const char *cache_outcome;	/* ApexCacheOutcome() */
	bool		cache_hit;		/* the rows came from the cache */
	TimestampTz fusion_started; /* 0: no fusion (a cache hit) */
	const char *fusion;			/* its method's name (ApexFusionName) */
	TimestampTz fusion_ended;
	int			items;			/* the legs' items fusion read */
	struct ApexRerank *rerank;	/* the reranking step (rerank.c), or NULL */
	int			rows;			/* the rows returned */
	Jsonb	   *routing;		/* what intent routing chose (plan.h), or NULL */
} ApexCallSteps;

extern int	apex_log_min_duration_ms;
extern int	apex_log_level;
extern const struct config_enum_entry apex_log_level_options[];

extern const char *ApexLegStatusName(const ApexLeg *leg);
extern Jsonb *ApexPartialOf(List *legs);
extern void ApexExplainRows(ReturnSetInfo *rsinfo, ApexCall *call,
							const ApexCallSteps *steps);
extern void ApexTraceLog(ApexCall *call, const char *function, List **qlegs,
						 int nquestions, int rows);

#endif							/* APEX_TRACE_H */
