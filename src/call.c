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
 * That context is the session's, reset at every call's end rather than
 * made and deleted for each: its first block (APEX_CALL_KEPT_BYTES) stays,
 * so the pages a call touched are there for the next one.  Memory given
 * back to the kernel at every call came back as fresh pages, each a fault
 * to zero it: a quarter of the backend's CPU in a call at k = 1000, which
 * allocates some 9 MB (issue 13 item 4).  Only what a call touched stays
 * resident.  The call's end however it comes is the end of the memory
 * context the caller was in (a callback there resets ours), as when our
 * context was its child.
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

/*
 * The size of the calls' memory context's first block, kept between calls.
 * 4 MB: a call at k = 1000 (some 9 MB) then takes about 50 page faults
 * instead of 3,750; the blocks it needs beyond this one are freed at its
 * end, and malloc, having seen blocks that large freed, hands them out
 * again from memory it kept.  A first block of 2 MB left 1,900 faults; 8
 * or 16 MB, 220 (malloc then never saw a large block freed, and its other
 * blocks came fresh each call).  Measured with bench/corpus.py's items.
 */
#define APEX_CALL_KEPT_BYTES (4 * 1024 * 1024)

/* the calls' memory context, the session's (see the file header) */
static MemoryContext apex_call_memory = NULL;

/* each call's number, so that a callback knows whether its call still runs */
static uint64 apex_call_serial = 0;

typedef struct ApexCallGuard
{
	MemoryContextCallback callback;
	uint64		serial;			/* the call's */
} ApexCallGuard;

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

/* The caller's memory goes: if its call still runs, the call ends now */
static void
apex_call_abandoned(void *arg)
{
	ApexCallGuard *guard = arg;

	if (apex_running != NULL && guard->serial == apex_call_serial)
		MemoryContextReset(apex_call_memory);
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
	ApexCallGuard *guard;
	ApexCall   *call;

	if (apex_running != NULL || apex_in_source)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apex_route cannot be called while another apex_route call runs"),
				 errhint("The query of a sql source must not call apex_route.")));
	if (apex_call_memory == NULL)
		apex_call_memory = AllocSetContextCreate(TopMemoryContext,
												 "apex_router call",
												 APEX_CALL_KEPT_BYTES,
												 APEX_CALL_KEPT_BYTES,
												 ALLOCSET_DEFAULT_MAXSIZE);
	mcxt = apex_call_memory;
	MemoryContextSetIdentifier(mcxt, name);
	guard = MemoryContextAlloc(CurrentMemoryContext, sizeof(ApexCallGuard));
	guard->serial = ++apex_call_serial;
	guard->callback.func = apex_call_abandoned;
	guard->callback.arg = guard;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &guard->callback);
	call = MemoryContextAllocZero(mcxt, sizeof(ApexCall));
	call->mcxt = mcxt;
	call->started = GetCurrentTimestamp();
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
	/* a normal end: the wait set may serve the next call (event_loop.c) */
	ApexLoopFree(call->loop, true);
	call->loop = NULL;
	MemoryContextReset(call->mcxt);
}
