/*-------------------------------------------------------------------------
 *
 * leg_graphiti.h
 *		  The response decoder of a graphiti source and what it needs,
 *		  exported for the fuzz harness (test/fuzz).
 *
 * IDENTIFICATION
 *		  src/leg_graphiti.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LEG_GRAPHITI_H
#define APEX_LEG_GRAPHITI_H

#include "leg.h"

/* What the decoder needs: whether to keep invalid facts, and when "now" is */
typedef struct ApexGraphitiState
{
	bool		include_invalid;
	TimestampTz now;			/* "the past" ends here */
} ApexGraphitiState;

/* an ApexDecoder: state is an ApexGraphitiState, result a List ** of items */
extern char *ApexGraphitiDecode(const void *state, long status, StringInfo body,
								void *result, ApexRemote *remote);

#endif							/* APEX_LEG_GRAPHITI_H */
