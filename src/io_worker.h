/*-------------------------------------------------------------------------
 *
 * io_worker.h
 *		  Local work in a dynamic background worker of the caller's database,
 *		  under the caller's snapshot and settings, its answer read through a
 *		  shared-memory queue in the call's event loop.
 *
 * IDENTIFICATION
 *		  src/io_worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_IO_WORKER_H
#define APEX_IO_WORKER_H

#include "apex_router.h"

/* How a worker's work ended, as the caller learns it */
typedef enum ApexWorkerStatus
{
	APEX_WORKER_ANSWERED,		/* items (and skipped) */
	APEX_WORKER_FAILED,			/* error: what the worker reported */
	APEX_WORKER_TIMED_OUT,		/* its own timer of the budget fired */
	APEX_WORKER_GONE,			/* exited mid-work without a word */
	APEX_WORKER_NOT_STARTED		/* the postmaster could not start it */
} ApexWorkerStatus;

typedef struct ApexWorkerOutcome
{
	ApexWorkerStatus status;
	List	   *items;			/* ApexItem *, in the order sent */
	int			skipped;
	ErrorData  *error;			/* APEX_WORKER_FAILED */
} ApexWorkerOutcome;

/* Called once per request, from the event loop; never after a cancel */
typedef void (*ApexWorkerDone) (void *arg, const ApexWorkerOutcome *outcome);

typedef struct ApexWorkerRequest
{
	const char *entry;			/* the worker's function in this library */
	const char *payload;		/* what it reads (ApexWorkerBegin) */
	Size		payload_len;
	void	   *owner;			/* whose clock bounds it (a leg): its cancel */
	ApexWorkerDone done;
	void	   *arg;
} ApexWorkerRequest;

/* in io_worker.c: the caller's side */
extern const struct ApexTransport ApexWorkerTransport;
extern bool ApexWorkerStart(ApexCall *call, const ApexWorkerRequest *request);

/* ... and the worker's */
extern const char *ApexWorkerBegin(Datum main_arg, Size *payload_len);
extern void ApexWorkerActivity(const char *activity);
extern void ApexWorkerSendItems(List *items, int skipped);
extern void ApexWorkerSendTimedOut(void);
extern void ApexWorkerEnd(void);

#endif							/* APEX_IO_WORKER_H */
