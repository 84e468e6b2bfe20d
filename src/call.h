/*-------------------------------------------------------------------------
 *
 * call.h
 *		  The life of one call through the event loop: apex_route() and
 *		  apex_router_cache_flush().
 *
 * IDENTIFICATION
 *		  src/call.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_CALL_H
#define APEX_CALL_H

#include "apex_router.h"

/* in call.c */
extern ApexCall *ApexCallBegin(const char *name);
extern void ApexCallEnd(ApexCall *call);
extern void ApexCallRunsElsewhere(void);

#endif							/* APEX_CALL_H */
