/*-------------------------------------------------------------------------
 *
 * io_worker_pool.c
 *		  A pool of long-lived background workers per database and user,
 *		  handed io_worker.c's requests, without shared_preload_libraries.
 *
 * The table of pooled workers lives in the main shared memory segment,
 * allocated by the first backend that needs it (ShmemInitStruct after
 * start-up takes it from the slack the postmaster leaves for small
 * structures: PostgreSQL 15 has no DSM registry, and a library loaded
 * on demand cannot request add-in space).  One spinlock guards it; every
 * critical section is a few assignments.
 *
 * A slot is a worker of one database and one authenticated user, as
 * parallel query's workers are: a worker logs in once as the caller's
 * user and never becomes another, so nothing one user's requests leave in
 * a process (plans, temporary namespace, loaded code, settings) can reach
 * another user's, and no worker holds a superuser's log-in that a flaw in
 * switching users would hand to a caller (docs/worker-pool.md).  A
 * request is io_worker.c's DSM segment, unchanged: the caller puts its
 * handle in an idle slot of its database and user and sets the worker's
 * latch; the worker attaches it, serves it as a dynamic worker would
 * (a new transaction under the caller's snapshot and settings), detaches
 * and waits again.  With no idle worker, the caller starts one (up to
 * apex_router.worker_pool_size per database and user) whose first
 * request is its own; beyond that, io_worker.c starts a worker for the
 * request alone, as without a pool.  An idle worker exits after its last
 * caller's apex_router.worker_pool_idle_ms.
 *
 * A worker that exits frees its slot (a new generation) and sets the
 * latch of a caller whose request it had taken but not attached: that
 * caller then sees its worker gone before it started.  A caller giving
 * up on a request cancels it: withdrawn if no worker took it yet, else
 * the worker gets SIGUSR2 (which background workers ignore otherwise)
 * with the request's serial number written in its slot.  The worker's
 * handler turns the signal into a query cancel only while it serves that
 * very request, so a signal that arrives late cannot cancel the worker's
 * next request, and the worker stays in the pool.  SIGINT remains the
 * query cancel anyone with the right may send (pg_cancel_backend).
 *
 * IDENTIFICATION
 *		  src/io_worker_pool.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "io_worker_pool.h"

/* pooled workers in the cluster, every database together */
#define APEX_POOL_SLOTS		64

/*
 * The table's name in shared memory, with its layout's version: a library
 * installed over a running cluster must not read a table of another
 * layout (the old one stays until a restart, its idle workers exit).
 */
#define APEX_POOL_SHMEM_NAME	"apex_router worker pool, layout 2"

typedef enum ApexPoolState
{
	APEX_POOL_FREE,
	APEX_POOL_STARTING,			/* registered, its first request set */
	APEX_POOL_IDLE,
	APEX_POOL_ASSIGNED,			/* a request set, not taken yet */
	APEX_POOL_BUSY
} ApexPoolState;

typedef struct ApexPoolSlot
{
	ApexPoolState state;
	uint64		generation;		/* one more each time the slot is freed */
	Oid			database;
	Oid			user;
	pid_t		pid;			/* 0 until the worker runs */
	PGPROC	   *worker;
	PGPROC	   *requester;		/* whose latch to set if it exits */
	dsm_handle	request;
	uint32		serial;			/* the request's number, pool-wide */
	uint32		cancel_serial;	/* the request its caller gave up */
	char		entry[BGW_MAXLEN];
	int			idle_ms;		/* its last caller's worker_pool_idle_ms */
} ApexPoolSlot;

typedef struct ApexPool
{
	slock_t		mutex;
	uint32		next_serial;
	ApexPoolSlot slots[APEX_POOL_SLOTS];
} ApexPool;

int			apex_worker_pool_size = 4;
int			apex_worker_pool_idle_ms = 2000;

static ApexPool *pool;

/* The worker's slot and generation, for its exit callback */
static int	my_slot = -1;
static uint64 my_generation;

/* The serial of the request the worker serves, 0 between requests */
static volatile uint32 serving;

PGDLLEXPORT void apex_pool_worker_main(Datum main_arg);

static void
apex_pool_attach(void)
{
	bool		found;

	if (pool)
		return;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pool = ShmemInitStruct(APEX_POOL_SHMEM_NAME, sizeof(ApexPool), &found);
	if (!found)
	{
		memset(pool, 0, sizeof(ApexPool));
		SpinLockInit(&pool->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Hand the request to a pooled worker of this database and user, starting
 * one if the pool has room (*started is then its handle, whose first
 * request this is); false when the pool is off or full.
 */
bool
ApexPoolSubmit(dsm_handle request, const char *entry, ApexPoolTicket *ticket,
			   BackgroundWorkerHandle **started)
{
	Oid			user = GetAuthenticatedUserId();
	ApexPoolSlot *slot = NULL;
	PGPROC	   *idle = NULL;
	int			mine = 0;
	int			i;
	BackgroundWorker bgw = {0};

	*started = NULL;
	ticket->slot = -1;
	if (apex_worker_pool_size == 0)
		return false;
	apex_pool_attach();

	SpinLockAcquire(&pool->mutex);
	for (i = 0; i < APEX_POOL_SLOTS; i++)
	{
		ApexPoolSlot *s = &pool->slots[i];

		if (s->state == APEX_POOL_FREE)
		{
			if (slot == NULL)
				slot = s;
			continue;
		}
		if (s->database != MyDatabaseId || s->user != user)
			continue;
		mine++;
		if (s->state == APEX_POOL_IDLE)
		{
			slot = s;
			idle = s->worker;
			break;
		}
	}
	if (slot == NULL || (idle == NULL && mine >= apex_worker_pool_size))
	{
		SpinLockRelease(&pool->mutex);
		return false;
	}
	slot->state = idle ? APEX_POOL_ASSIGNED : APEX_POOL_STARTING;
	slot->request = request;
	/* 0 means none */
	if (++pool->next_serial == 0)
		++pool->next_serial;
	slot->serial = pool->next_serial;
	slot->requester = MyProc;
	slot->idle_ms = apex_worker_pool_idle_ms;
	strlcpy(slot->entry, entry, BGW_MAXLEN);
	if (!idle)
	{
		slot->database = MyDatabaseId;
		slot->user = user;
		slot->pid = 0;
		slot->worker = NULL;
	}
	ticket->slot = slot - pool->slots;
	ticket->generation = slot->generation;
	ticket->serial = slot->serial;
	SpinLockRelease(&pool->mutex);

	if (idle)
	{
		SetLatch(&idle->procLatch);
		return true;
	}

	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_ConsistentState;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw.bgw_library_name, "apex_router", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "apex_pool_worker_main", BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "apex_router pooled sql worker");
	strlcpy(bgw.bgw_type, "apex_router sql", BGW_MAXLEN);
	bgw.bgw_main_arg = Int32GetDatum(ticket->slot);
	memcpy(bgw.bgw_extra, &ticket->generation, sizeof(uint64));
	bgw.bgw_notify_pid = MyProcPid;
	if (RegisterDynamicBackgroundWorker(&bgw, started))
		return true;
	ApexPoolCancel(ticket);
	ticket->slot = -1;
	return false;
}

/* Has the worker that took the request exited (its slot freed since)? */
bool
ApexPoolWorkerGone(const ApexPoolTicket *ticket)
{
	bool		gone;

	apex_pool_attach();
	SpinLockAcquire(&pool->mutex);
	gone = pool->slots[ticket->slot].generation != ticket->generation;
	SpinLockRelease(&pool->mutex);
	return gone;
}

/*
 * The caller gives up on its request: withdraw it from an idle worker
 * that has not taken it, cancel it in the worker serving it; a worker
 * started for it is stopped (freed before it runs, or terminated before
 * it has logged in).
 */
void
ApexPoolCancel(const ApexPoolTicket *ticket)
{
	ApexPoolSlot *slot;
	pid_t		pid = 0;
	int			sig = SIGUSR2;

	apex_pool_attach();
	slot = &pool->slots[ticket->slot];
	SpinLockAcquire(&pool->mutex);
	if (slot->generation == ticket->generation && slot->serial == ticket->serial)
	{
		switch (slot->state)
		{
			case APEX_POOL_ASSIGNED:
				slot->state = APEX_POOL_IDLE;
				slot->request = 0;
				slot->requester = NULL;
				break;
			case APEX_POOL_STARTING:
				if (slot->pid == 0)
				{
					slot->state = APEX_POOL_FREE;
					slot->generation++;
				}
				else
				{
					pid = slot->pid;
					sig = SIGTERM;
				}
				break;
			case APEX_POOL_BUSY:
				slot->cancel_serial = slot->serial;
				pid = slot->pid;
				break;
			default:
				break;
		}
	}
	SpinLockRelease(&pool->mutex);
	if (pid != 0)
		kill(pid, sig);
}

/*
 * SIGUSR2 in a pooled worker: a query cancel if its caller gave up on the
 * request it serves (ApexPoolCancel), nothing otherwise.
 */
static void
apex_pool_cancel_handler(SIGNAL_ARGS)
{
	int			save_errno = errno;
	volatile ApexPoolSlot *slot = &pool->slots[my_slot];

	if (serving != 0 && slot->cancel_serial == serving)
	{
		QueryCancelPending = true;
		InterruptPending = true;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * The worker is about to send its answer's last message: a caller may
 * hand it the next request while it ends this one (its loop takes it
 * then).  Waiting for the end instead made a caller calling again at once
 * find no idle worker, and start one more.
 */
void
ApexPoolAnswered(void)
{
	ApexPoolSlot *slot = &pool->slots[my_slot];

	SpinLockAcquire(&pool->mutex);
	if (slot->state == APEX_POOL_BUSY)
	{
		slot->state = APEX_POOL_IDLE;
		slot->request = 0;
		slot->requester = NULL;
	}
	SpinLockRelease(&pool->mutex);
}

/* The worker exits, however: free its slot, wake a caller it had taken */
static void
apex_pool_worker_exit(int code pg_attribute_unused(),
					  Datum arg pg_attribute_unused())
{
	ApexPoolSlot *slot = &pool->slots[my_slot];
	PGPROC	   *requester = NULL;

	SpinLockAcquire(&pool->mutex);
	if (slot->generation == my_generation)
	{
		if (slot->state != APEX_POOL_IDLE)
			requester = slot->requester;
		slot->state = APEX_POOL_FREE;
		slot->generation++;
	}
	SpinLockRelease(&pool->mutex);
	if (requester)
		SetLatch(&requester->procLatch);
}

/*
 * Serve one request with the kind's entry, as a dynamic worker would run
 * it; an error was sent to the caller through the request's queue (or
 * logged once it left), and the transaction is aborted.
 */
static void
apex_pool_serve(dsm_handle request, const char *entry, MemoryContext cxt)
{
	static char last_entry[BGW_MAXLEN];
	static bgworker_main_type fn;

	/* looked up once: the look-up checks the library's file each time */
	if (fn == NULL || strcmp(entry, last_entry) != 0)
	{
		fn = (bgworker_main_type) load_external_function("apex_router", entry,
														 true, NULL);
		strlcpy(last_entry, entry, BGW_MAXLEN);
	}
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(UInt32GetDatum(request));
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
	ApexWorkerRequestDone();
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextReset(cxt);
}

/*
 * A pooled worker: its first request logs it in (as a dynamic worker's
 * does, so that a failed log-in reaches that caller); then it waits on
 * its latch for the next, until it has been idle worker_pool_idle_ms.
 */
void
apex_pool_worker_main(Datum main_arg)
{
	ApexPoolSlot *slot;
	MemoryContext cxt;

	ApexWorkerInPool = true;
	my_slot = DatumGetInt32(main_arg);
	memcpy(&my_generation, MyBgworkerEntry->bgw_extra, sizeof(uint64));
	apex_pool_attach();
	slot = &pool->slots[my_slot];
	SpinLockAcquire(&pool->mutex);
	if (slot->generation != my_generation || slot->state != APEX_POOL_STARTING)
	{
		/* its caller gave up before it started */
		SpinLockRelease(&pool->mutex);
		proc_exit(0);
	}
	slot->pid = MyProcPid;
	slot->worker = MyProc;
	SpinLockRelease(&pool->mutex);
	before_shmem_exit(apex_pool_worker_exit, 0);
	/* unblocked with the first request (ApexWorkerBegin) */
	pqsignal(SIGUSR2, apex_pool_cancel_handler);

	cxt = AllocSetContextCreate(TopMemoryContext, "apex_router pooled request",
								ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		dsm_handle	request = 0;
		char		entry[BGW_MAXLEN];
		int			rc;
		int			idle_ms;

		SpinLockAcquire(&pool->mutex);
		idle_ms = slot->idle_ms;
		if (slot->state == APEX_POOL_STARTING || slot->state == APEX_POOL_ASSIGNED)
		{
			slot->state = APEX_POOL_BUSY;
			request = slot->request;
			serving = slot->serial;
			strlcpy(entry, slot->entry, BGW_MAXLEN);
		}
		SpinLockRelease(&pool->mutex);
		if (request != 0)
		{
			apex_pool_serve(request, entry, cxt);
			/* a cancel that came too late to stop the request ends here */
			serving = 0;
			QueryCancelPending = false;
			/* a first request that failed before its log-in was complete */
			if (!ApexWorkerLoggedIn)
				proc_exit(1);
			ApexWorkerPooled = true;
			/* free for the next request (already, if it answered) */
			ApexPoolAnswered();
			/* idle in pg_stat_activity once a caller can hand it work */
			pgstat_report_activity(STATE_IDLE, NULL);
			continue;
		}

		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   idle_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* a reload is done with the next request (io_worker.c) */
		CHECK_FOR_INTERRUPTS();
		if (rc & WL_TIMEOUT)
		{
			bool		idle;

			SpinLockAcquire(&pool->mutex);
			idle = slot->state == APEX_POOL_IDLE;
			if (idle)
			{
				slot->state = APEX_POOL_FREE;
				slot->generation++;
			}
			SpinLockRelease(&pool->mutex);
			if (idle)
				proc_exit(0);
		}
	}
}
