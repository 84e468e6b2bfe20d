/*-------------------------------------------------------------------------
 *
 * io_worker_pool.h
 *		  Long-lived background workers per database and user, handed
 *		  io_worker.c's requests through a small table in shared memory.
 *
 * IDENTIFICATION
 *		  src/io_worker_pool.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_IO_WORKER_POOL_H
#define APEX_IO_WORKER_POOL_H

#include "postmaster/bgworker.h"
#include "storage/dsm.h"

/* Which pooled worker took a request, as its caller keeps it */
typedef struct ApexPoolTicket
{
	int			slot;			/* -1: not pooled */
	uint64		generation;		/* the slot's worker when taken */
	uint32		serial;			/* the request's number */
} ApexPoolTicket;

/* apex_router.worker_pool_size: pooled workers per database and user */
extern int	apex_worker_pool_size;
/* apex_router.worker_pool_idle_ms: an idle pooled worker exits after it */
extern int	apex_worker_pool_idle_ms;

extern bool ApexPoolSubmit(dsm_handle request, const char *entry,
						   ApexPoolTicket *ticket,
						   BackgroundWorkerHandle **started);
extern bool ApexPoolWorkerGone(const ApexPoolTicket *ticket);
extern void ApexPoolCancel(const ApexPoolTicket *ticket);

/* io_worker.c's worker side, told whether it serves a pooled request */
extern bool ApexWorkerPooled;
extern bool ApexWorkerInPool;
extern bool ApexWorkerLoggedIn;
extern void ApexWorkerRequestDone(void);
extern void ApexPoolAnswered(void);

#endif							/* APEX_IO_WORKER_POOL_H */
