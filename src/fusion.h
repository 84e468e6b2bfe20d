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

extern List *ApexFuse(List *legs, int rrf_k, int k);

#endif							/* APEX_FUSION_H */
