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
 * owners, libcurl's multi handle among them, serve one call at a time.  Nor
 * can a call begin in a worker running a source's query (issue 12): that
 * is the same nesting, one process further.
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
#include "source_slots.h"
#include "transport.h"

/* the call running now, or NULL; cleared by its context's reset callback */
static ApexCall *apex_running = NULL;

/* a worker running a sql source's query: a call in it would nest */
static bool apex_in_source = false;

static void
apex_call_cleanup(void *arg)
{
	ApexCall   *call = arg;

	ApexTransportsRelease(call, false);
	/* request slots of capped sources go back to the other sessions */
	ApexSlotsReleaseAll();
	if (call->loop)
		ApexLoopFree(call->loop, false);
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

	if (apex_running != NULL || apex_in_source)
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

/*
 * This backend is a background worker running a source's query for a call
 * of another backend: that call runs, so no call may begin here either
 * (else a source calling apex_route would start workers without end).
 */
void
ApexCallRunsElsewhere(void)
{
	apex_in_source = true;
}

/* The normal end: transports released normally, then everything freed */
void
ApexCallEnd(ApexCall *call)
{
	ApexTransportsRelease(call, true);
	ApexLoopFree(call->loop, true);
	call->loop = NULL;
	MemoryContextDelete(call->mcxt);
}
