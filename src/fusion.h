/*-------------------------------------------------------------------------
 *
 * fusion.h
 *		  Reciprocal Rank Fusion of the legs' ranked lists.
 *
 * IDENTIFICATION
 *		  src/fusion.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_FUSION_H
#define APEX_FUSION_H

#include "apex_router.h"

/* one source's contribution to a fused item */
typedef struct ApexHit
{
	const char *source;
	int			rank;			/* 1-based, within that source */
	ApexItem   *item;
} ApexHit;

typedef struct ApexFused
{
	const char *id;
	const char *title;
	const char *content;
	double		score;			/* sum of weight / (rrf_k + rank) */
	List	   *hits;			/* ApexHit *, best rank first */
} ApexFused;

/* One row of apex_route's result, fused or read back from the cache */
typedef struct ApexRow
{
	const char *id;
	const char *title;			/* may be NULL */
	const char *content;		/* may be NULL */
	double		score;
	List	   *found_in;		/* source names (char *), best rank first */
	Jsonb	   *payload;		/* per source its rank, score, item */
} ApexRow;

extern List *ApexFuse(List *legs, int rrf_k, int k);
extern List *ApexFusedRows(List *fused);

#endif							/* APEX_FUSION_H */
