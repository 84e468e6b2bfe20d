/*-------------------------------------------------------------------------
 *
 * source_slots.c
 *		  A cap on the requests in flight to one source, shared by every
 *		  backend: the source's max_concurrent_requests (issue 13 item 3).
 *
 * The idea is Citus' citus.max_shared_pool_size: 200 sessions calling at
 * once must not send a store 200 requests.  A remote leg of a source with
 * a cap takes one of its slots before it sends anything (its clock is
 * already running, so waiting counts against its budget) and gives it
 * back when it has its outcome, however it ends.  A leg that finds every
 * slot taken is queued: the other legs of its call go on, and the backend
 * that frees a slot hands it to the waiting backend whose turn it is and
 * sets that backend's latch; the waiting call's event loop, which waits on
 * its latch anyway, then starts the leg (ApexLoopWatchLatch).  No one
 * polls.  Backends waiting for the same source take their turns in
 * rotation: one that is handed a slot goes to the back of the queue for
 * its next leg, so one session's batch cannot starve the others.
 *
 * The table lives in the main shared memory segment, as the worker pool's
 * does (io_worker_pool.c: ShmemInitStruct after start-up, a layout
 * version in its name).  A record is one backend's share of one source
 * (database and server OID): how many slots it holds, how many of its legs
 * wait, how many slots it was handed and has not taken yet.  The slots in
 * use of a source are the sum over its records, so a backend gives back
 * all it holds by clearing its own records: at the end of every call (the
 * call's memory reset callback: an ERROR, a cancel or statement_timeout
 * included) and at backend exit (before_shmem_exit: a FATAL).  A backend
 * killed outright (SIGKILL, a crash) makes the postmaster reinitialise
 * shared memory, and the table with it.  Its LWLock is held for a scan of
 * the table at most.
 *
 * Which legs count: those of kinds that send requests to a remote store
 * (every kind with targets and a start: neo4j, qdrant, graphiti, redis,
 * postgres).  A qdrant leg asks its embedder while it holds its slot, so
 * the embedder's requests are bounded by the caps of the sources using it;
 * embedder sources take no cap of their own, as a slot held while waiting
 * for another could deadlock.  sql sources run in this cluster, bounded by
 * the worker pool: they take none either.
 *
 * IDENTIFICATION
 *		  src/source_slots.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"

#include "event_loop.h"
#include "source_slots.h"

/*
 * Records in the cluster: one per backend and source it has a slot of or
 * waits for.  A leg that finds the table full fails (it says so).
 */
#define APEX_SLOT_RECORDS	512

/* The table's name, with its layout's version (see io_worker_pool.c) */
#define APEX_SLOTS_SHMEM_NAME	"apex_router request slots, layout 1"

typedef struct ApexSlotRecord
{
	Oid			database;		/* InvalidOid: a free record */
	Oid			server;
	PGPROC	   *proc;			/* the backend, whose latch is set */
	int			held;			/* slots it holds, handed ones included */
	int			waiting;		/* its legs queued for a slot */
	int			handed;			/* slots handed to it, not yet taken */
	int			cap;			/* the cap as its backend last read it */
	uint64		turn;			/* its place in the queue while waiting */
} ApexSlotRecord;

typedef struct ApexSlotTable
{
	LWLock		lock;
	int			tranche;
	uint64		next_turn;
	ApexSlotRecord records[APEX_SLOT_RECORDS];
} ApexSlotTable;

/*
 * This backend's legs of one capped source in the running call: those
 * waiting, in the order they asked, and those holding a slot.  In the
 * call's memory; the list of them is NIL between calls.
 */
typedef struct ApexSlotSource
{
	ApexSource *source;
	int			cap;
	List	   *waiting;		/* ApexLeg * */
	List	   *holding;		/* ApexLeg * */
} ApexSlotSource;

static ApexSlotTable *slots;
static List *apex_slot_sources = NIL;
static ApexCall *apex_slot_call;

PG_FUNCTION_INFO_V1(apex_router_source_slots);

static void apex_slots_exit(int code, Datum arg);

static void
apex_slots_attach(void)
{
	bool		found;

	if (slots)
		return;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	slots = ShmemInitStruct(APEX_SLOTS_SHMEM_NAME, sizeof(ApexSlotTable),
							&found);
	if (!found)
	{
		memset(slots, 0, sizeof(ApexSlotTable));
		slots->tranche = LWLockNewTrancheId();
		LWLockInitialize(&slots->lock, slots->tranche);
	}
	LWLockRelease(AddinShmemInitLock);
	LWLockRegisterTranche(slots->tranche, "apex_router_source_slots");
	/* a FATAL leaves no call to end: give back what it held */
	before_shmem_exit(apex_slots_exit, 0);
}

/* Does a leg of this source take a slot?  (See the file header.) */
int
ApexSlotCap(const ApexSource *source)
{
	if (source->kind->start == NULL || source->kind->targets == NULL)
		return 0;
	return source->max_concurrent_requests;
}

/* This backend's record of server in this database, made if asked */
static ApexSlotRecord *
apex_slot_record(Oid server, bool make)
{
	ApexSlotRecord *free_record = NULL;

	for (int i = 0; i < APEX_SLOT_RECORDS; i++)
	{
		ApexSlotRecord *r = &slots->records[i];

		if (r->database == InvalidOid)
		{
			if (free_record == NULL)
				free_record = r;
			continue;
		}
		if (r->proc == MyProc && r->database == MyDatabaseId &&
			r->server == server)
			return r;
	}
	if (!make || free_record == NULL)
		return NULL;
	memset(free_record, 0, sizeof(ApexSlotRecord));
	free_record->database = MyDatabaseId;
	free_record->server = server;
	free_record->proc = MyProc;
	return free_record;
}

/* Forget a record that holds nothing and waits for nothing */
static void
apex_slot_tidy(ApexSlotRecord *r)
{
	if (r->held == 0 && r->waiting == 0)
		r->database = InvalidOid;
}

/*
 * Hand the free slots of (database, server) under cap (0: none) to the
 * waiting backends in turn; the latches to set once the lock is released
 * are added to wake[*nwake] (room for APEX_SLOT_RECORDS, one per backend).
 * The lock is held.
 */
static void
apex_slots_hand(Oid database, Oid server, int cap, PGPROC **wake, int *nwake)
{
	int			in_use = 0;

	for (int i = 0; i < APEX_SLOT_RECORDS; i++)
	{
		ApexSlotRecord *r = &slots->records[i];

		if (r->database == database && r->server == server)
			in_use += r->held;
	}
	while (cap == 0 || in_use < cap)
	{
		ApexSlotRecord *next = NULL;
		bool		known = false;

		for (int i = 0; i < APEX_SLOT_RECORDS; i++)
		{
			ApexSlotRecord *r = &slots->records[i];

			if (r->database == database && r->server == server &&
				r->waiting > 0 && (next == NULL || r->turn < next->turn))
				next = r;
		}
		if (next == NULL)
			break;
		next->waiting--;
		next->held++;
		next->handed++;
		next->turn = ++slots->next_turn;
		in_use++;
		for (int w = 0; w < *nwake; w++)
			known |= wake[w] == next->proc;
		if (!known)
			wake[(*nwake)++] = next->proc;
	}
}

static void
apex_slots_wake(PGPROC **wake, int nwake)
{
	for (int w = 0; w < nwake; w++)
		SetLatch(&wake[w]->procLatch);
}

static ApexSlotSource *
apex_slot_source(Oid server)
{
	ListCell   *lc;

	foreach(lc, apex_slot_sources)
	{
		ApexSlotSource *s = lfirst(lc);

		if (s->source->serverid == server)
			return s;
	}
	return NULL;
}

/*
 * The latch was set: start the legs that were handed slots, in the order
 * they asked.  Runs in the call's loop, outside any library's frame.
 */
static void
apex_slots_latch(void *arg pg_attribute_unused())
{
	List	   *start = NIL;
	ListCell   *lc;
	bool		waiting = false;
	/* the queues are the call's */
	MemoryContext old = MemoryContextSwitchTo(apex_slot_call->mcxt);

	LWLockAcquire(&slots->lock, LW_EXCLUSIVE);
	foreach(lc, apex_slot_sources)
	{
		ApexSlotSource *s = lfirst(lc);
		ApexSlotRecord *r = apex_slot_record(s->source->serverid, false);

		for (; r && r->handed > 0 && s->waiting != NIL; r->handed--)
		{
			ApexLeg    *leg = linitial(s->waiting);

			s->waiting = list_delete_first(s->waiting);
			s->holding = lappend(s->holding, leg);
			start = lappend(start, leg);
		}
		waiting |= s->waiting != NIL;
	}
	LWLockRelease(&slots->lock);
	/* the latch is set for many reasons: listen only while legs wait */
	if (!waiting)
		ApexLoopWatchLatch(apex_slot_call->loop, NULL, &apex_slot_sources);
	/* a leg that ended while it waited left the queue (ApexSlotLegDone) */
	foreach(lc, start)
	{
		ApexLeg    *leg = lfirst(lc);

		leg->source->kind->start(leg);
	}
	list_free(start);
	MemoryContextSwitchTo(old);
}

/*
 * Take a slot of the leg's source for it, if the source has a cap: true
 * when the leg may send its requests now; false when it is queued (it is
 * started when a slot is handed to it) or failed (no record to be had).
 */
bool
ApexSlotTake(ApexLeg *leg)
{
	int			cap = ApexSlotCap(leg->source);
	Oid			server = leg->source->serverid;
	ApexSlotSource *s;
	ApexSlotRecord *r;
	PGPROC	   *wake[APEX_SLOT_RECORDS];
	int			nwake = 0;
	bool		now = false;
	MemoryContext old;

	if (cap == 0)
		return true;
	apex_slots_attach();
	if (apex_slot_call != leg->call)
	{
		/* the call's first capped leg: what an earlier call left is gone */
		apex_slot_sources = NIL;
		apex_slot_call = leg->call;
	}
	/* the queues are the call's */
	old = MemoryContextSwitchTo(leg->call->mcxt);
	s = apex_slot_source(server);
	if (s == NULL)
	{
		s = palloc0(sizeof(ApexSlotSource));
		s->source = leg->source;
		s->cap = cap;
		apex_slot_sources = lappend(apex_slot_sources, s);
	}

	LWLockAcquire(&slots->lock, LW_EXCLUSIVE);
	r = apex_slot_record(server, true);
	if (r == NULL)
	{
		LWLockRelease(&slots->lock);
		MemoryContextSwitchTo(old);
		ApexLegFail(leg, ERRCODE_INSUFFICIENT_RESOURCES,
					"The table of request slots shared by all sessions is full (%d sessions and sources at once).",
					APEX_SLOT_RECORDS);
		return false;
	}
	if (r->waiting == 0)
		r->turn = ++slots->next_turn;
	r->waiting++;
	r->cap = cap;
	apex_slots_hand(MyDatabaseId, server, cap, wake, &nwake);
	/* a slot handed to this backend goes to its leg that asked first */
	if (r->handed > 0 && s->waiting == NIL)
	{
		r->handed--;
		now = true;
	}
	LWLockRelease(&slots->lock);
	apex_slots_wake(wake, nwake);

	if (now)
		s->holding = lappend(s->holding, leg);
	else
	{
		s->waiting = lappend(s->waiting, leg);
		ApexLoopWatchLatch(leg->call->loop, apex_slots_latch, &apex_slot_sources);
	}
	MemoryContextSwitchTo(old);
	return now;
}

/*
 * If the leg waits for a slot: why it timed out, as a sentence; else NULL.
 */
char *
ApexSlotTimedOut(ApexLeg *leg, long ms)
{
	ApexSlotSource *s = apex_slot_source(leg->source->serverid);

	if (s == NULL || !list_member_ptr(s->waiting, leg))
		return NULL;
	return psprintf(ngettext("Timed out after %ld ms waiting for the %d request slot of the source (max_concurrent_requests), which other calls held.",
							 "Timed out after %ld ms waiting for one of the %d request slots of the source (max_concurrent_requests), which other calls held.",
							 s->cap),
					ms, s->cap);
}

/*
 * The leg has its outcome: give back its slot (handed to whoever's turn
 * it is), or leave the queue.  It must not throw: it runs where the leg's
 * outcome is recorded, inside a library's callback maybe.
 */
void
ApexSlotLegDone(ApexLeg *leg)
{
	ApexSlotSource *s;
	ApexSlotRecord *r;
	PGPROC	   *wake[APEX_SLOT_RECORDS];
	int			nwake = 0;
	bool		held;

	if (apex_slot_sources == NIL || apex_slot_call != leg->call ||
		(s = apex_slot_source(leg->source->serverid)) == NULL)
		return;
	held = list_member_ptr(s->holding, leg);
	if (!held && !list_member_ptr(s->waiting, leg))
		return;
	if (held)
		s->holding = list_delete_ptr(s->holding, leg);
	else
		s->waiting = list_delete_ptr(s->waiting, leg);

	LWLockAcquire(&slots->lock, LW_EXCLUSIVE);
	r = apex_slot_record(leg->source->serverid, false);
	if (r != NULL)
	{
		if (!held && r->waiting > 0)
			r->waiting--;
		else
		{
			/* a slot held, or handed to this backend for a leg now gone */
			if (!held)
				r->handed--;
			r->held--;
			apex_slots_hand(MyDatabaseId, r->server, s->cap, wake, &nwake);
		}
		apex_slot_tidy(r);
	}
	LWLockRelease(&slots->lock);
	apex_slots_wake(wake, nwake);
}

/*
 * Give back every slot this backend holds and leave every queue: the call
 * ended (normally or not), or the backend exits.
 */
void
ApexSlotsReleaseAll(void)
{
	PGPROC	   *wake[APEX_SLOT_RECORDS];
	int			nwake = 0;
	bool		took = apex_slot_call != NULL;

	apex_slot_sources = NIL;
	apex_slot_call = NULL;
	/* only a call that took a slot or waited for one leaves records */
	if (slots == NULL || !took)
		return;
	LWLockAcquire(&slots->lock, LW_EXCLUSIVE);
	for (int i = 0; i < APEX_SLOT_RECORDS; i++)
	{
		ApexSlotRecord *r = &slots->records[i];

		if (r->database == InvalidOid || r->proc != MyProc)
			continue;
		if (r->held > 0)
		{
			Oid			database = r->database;

			r->database = InvalidOid;
			apex_slots_hand(database, r->server, r->cap, wake, &nwake);
		}
		r->database = InvalidOid;
	}
	LWLockRelease(&slots->lock);
	apex_slots_wake(wake, nwake);
}

static void
apex_slots_exit(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	ApexSlotsReleaseAll();
}

/*
 * apex_router_source_slots(): per source the caller may use that has a
 * cap, or has slots in use or waiting without one now (the cap was
 * dropped): its cap, the slots in use and the legs waiting, over every
 * session of this database.
 */
Datum
apex_router_source_slots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *sources;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	sources = ApexSearchableSources();
	apex_slots_attach();
	foreach(lc, sources)
	{
		ApexSource *source = lfirst(lc);
		int			cap = ApexSlotCap(source);
		int			in_use = 0;
		int			waiting = 0;
		Datum		values[4];
		bool		nulls[4] = {0};

		LWLockAcquire(&slots->lock, LW_SHARED);
		for (int i = 0; i < APEX_SLOT_RECORDS; i++)
		{
			ApexSlotRecord *r = &slots->records[i];

			if (r->database == MyDatabaseId && r->server == source->serverid)
			{
				in_use += r->held;
				waiting += r->waiting;
			}
		}
		LWLockRelease(&slots->lock);
		if (cap == 0 && in_use == 0 && waiting == 0)
			continue;
		values[0] = CStringGetTextDatum(source->name);
		values[1] = Int32GetDatum(cap);
		nulls[1] = cap == 0;
		values[2] = Int32GetDatum(in_use);
		values[3] = Int32GetDatum(waiting);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
