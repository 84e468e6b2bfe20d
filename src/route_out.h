/*-------------------------------------------------------------------------
 *
 * route_out.h
 *		  What a call hands back: its warnings and its rows (apex_route,
 *		  apex_route_many).
 *
 * IDENTIFICATION
 *		  src/route_out.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_ROUTE_OUT_H
#define APEX_ROUTE_OUT_H

#include "fmgr.h"
#include "funcapi.h"

#include "apex_router.h"

/* in route_out.c; ordinal 0: apex_route's one question, else the batch's */
extern void ApexReportLegFailure(ApexLeg *leg, const char *what, int ordinal,
								 bool strict, const char *hint);
extern void ApexReportFailures(List *legs, int ordinal, bool strict);
extern void ApexReportSkipped(List *legs, int ordinal);
extern int	ApexLegsAnswered(List *legs);
extern void ApexEmitRows(ReturnSetInfo *rsinfo, List *rows, int ordinal,
						 Jsonb *partial, Jsonb *routing);

#endif							/* APEX_ROUTE_OUT_H */
