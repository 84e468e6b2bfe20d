/*-------------------------------------------------------------------------
 *
 * breaker.h
 *		  Circuit breaking, shared by every backend.
 *
 * IDENTIFICATION
 *		  src/breaker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_BREAKER_H
#define APEX_BREAKER_H

#include "apex_router.h"

extern void ApexBreakerAdmit(ApexLeg *leg);
extern void ApexBreakerRecord(List *legs);

#endif							/* APEX_BREAKER_H */
