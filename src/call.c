/*-------------------------------------------------------------------------
 *
 * call.c
 *		  The life of one call: its memory context, event loop and
 *		  transports, released however it ends.
 *
 * Everything of a call lives in one memory context, whose reset callback
 * releases the transports abnormally (closing what is mid-request) and
 * frees the wait set: an ERROR, a cancel or a statement_timeout anywhere in
 * the call leaves no request running and no library handle behind.  The
 * normal end (ApexCallEnd) releases them normally first, so healthy
 * connections stay for the next call.
 *
 * Calls cannot nest (a sql source whose query calls apex_route): the loop's
 * owners, libcurl's multi handle among them, serve one call at a time.
 *
 * IDENTIFICATION
 *		  src/call.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "call.h"
#include "event_loop.h"
#include "transport.h"

/* the call running now, or NULL; cleared by its context's reset callback */
static ApexCall *apex_running = NULL;

static void
apex_call_cleanup(void *arg)
{
	ApexCall   *call = arg;

	ApexTransportsRelease(call, false);
	if (call->loop)
		ApexLoopFree(call->loop);
	call->loop = NULL;
	if (apex_running == call)
		apex_running = NULL;
}

/*
 * Begin a call: name (a constant string) labels its memory context
 * (call->mcxt), in which the caller allocates what the call uses,
 * switching out of it before ApexCallEnd.
 */
ApexCall *
ApexCallBegin(const char *name)
{
	MemoryContext old;
	MemoryContext mcxt;
	MemoryContextCallback *cleanup;
	ApexCall   *call;

	if (apex_running != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apex_route cannot be called while another apex_route call runs"),
				 errhint("The query of a sql source must not call apex_route.")));
	mcxt = AllocSetContextCreateInternal(CurrentMemoryContext, name,
										  ALLOCSET_DEFAULT_SIZES);
	call = MemoryContextAllocZero(mcxt, sizeof(ApexCall));
	call->mcxt = mcxt;
	cleanup = MemoryContextAlloc(mcxt, sizeof(MemoryContextCallback));
	cleanup->func = apex_call_cleanup;
	cleanup->arg = call;
	MemoryContextRegisterResetCallback(mcxt, cleanup);
	apex_running = call;
	old = MemoryContextSwitchTo(mcxt);
	call->loop = ApexLoopCreate(mcxt);
	ApexTransportsAttach(call);
	MemoryContextSwitchTo(old);
	return call;
}

/* The normal end: transports released normally, then everything freed */
void
ApexCallEnd(ApexCall *call)
{
	ApexTransportsRelease(call, true);
	MemoryContextDelete(call->mcxt);
}
