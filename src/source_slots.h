/*-------------------------------------------------------------------------
 *
 * source_slots.h
 *		  The cap on requests in flight to a source, shared by every backend
 *		  (max_concurrent_requests; source_slots.c).
 *
 * IDENTIFICATION
 *		  src/source_slots.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_SOURCE_SLOTS_H
#define APEX_SOURCE_SLOTS_H

#include "apex_router.h"

extern int	ApexSlotCap(const ApexSource *source);
extern bool ApexSlotTake(ApexLeg *leg);
extern char *ApexSlotTimedOut(ApexLeg *leg, long ms);
extern void ApexSlotLegDone(ApexLeg *leg);
extern void ApexSlotsReleaseAll(void);

#endif							/* APEX_SOURCE_SLOTS_H */
