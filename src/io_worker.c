/*-------------------------------------------------------------------------
 *
 * io_worker.c
 *		  Local work in dynamic background workers, answered through
 *		  shared-memory queues that the call's event loop reads.
 *
 * A request gets a pooled worker (io_worker_pool.c) or, when the pool is
 * off or full, one dynamic background worker of its own (registered at run
 * time, so no shared_preload_libraries), and one DSM segment holding what the
 * worker needs to act as the caller would: the caller's database and
 * authenticated user, its settings (SerializeGUCState, as parallel query
 * ships them), its snapshot, the kind's payload and a shm_mq for the
 * answer.  The worker redirects its error reporting into the queue
 * (pq_redirect_to_shm_mq, as parallel workers do), so any ERROR or FATAL
 * of it, a failed log-in or a pg_terminate_backend included, reaches the
 * caller as an error message with its SQLSTATE, detail and hint; items
 * come as messages of our own ('I', then 'C' with the count skipped, or
 * 'T' when its own timer ran out).
 *
 * Receiving: the queue sets the caller's latch when the worker writes or
 * detaches, and the postmaster does when the worker stops (bgw_notify_pid);
 * the call's loop then calls us (ApexLoopWatchLatch) and we read without
 * waiting.  Every other leg advances meanwhile.  A worker that stopped
 * without ever attaching the queue did not start: the kind may then run
 * its work in the caller instead.
 *
 * The snapshot: the caller's (GetTransactionSnapshot: a new one in READ
 * COMMITTED, as SPI would take, the transaction's otherwise), imported with
 * RestoreTransactionSnapshot against the caller's PGPROC, which keeps its
 * xmin while it waits.  As pg_export_snapshot does, the caller's own
 * transaction id is added to the running ones: otherwise a row the caller
 * wrote and has not committed would look aborted to the worker, which
 * would hint it so, for good.  The caller's subtransactions cannot all be
 * listed (open ones are not), so the snapshot says its subtransaction list
 * overflowed, and the worker maps every subtransaction id to its top-level
 * one through pg_subtrans, finding the caller's among the running.  The
 * worker's transaction is REPEATABLE READ, so that every query of it uses
 * that snapshot.
 *
 * Lifetime: the segment is mapped for the session (dsm_pin_mapping), not
 * for a resource owner, so that an abort cannot unmap it before the call's
 * release operation reads it; the release operation (and a leg's cancel)
 * stops a worker that has not answered (a pooled worker's request is
 * cancelled, a dynamic worker terminated) and detaches the queue.  A
 * worker the caller left, or whose caller died, finds the queue detached
 * on its next write; its own timer bounds the rest.
 *
 * The session keeps one segment for its next request: creating one
 * (posix_fallocate of its pages) and destroying it (unlink) was half of
 * a pooled hand-off's cost.  A segment is kept only once its worker is
 * known to have detached the queue after attaching it (so no worker can
 * touch it again: a worker that never attached might still start); that
 * is checked when the call ends and again, if the worker was still
 * finishing, when the next request needs a segment.  Each request lays
 * out the segment anew, its queue included.
 *
 * IDENTIFICATION
 *		  src/io_worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/dsm.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "event_loop.h"
#include "io_worker.h"
#include "io_worker_pool.h"
#include "json.h"
#include "transport.h"

#define APEX_WORKER_MAGIC	0x41504558	/* "APEX" */
#define APEX_WORKER_KEY_FIXED	0
#define APEX_WORKER_KEY_GUC		1
#define APEX_WORKER_KEY_SNAPSHOT 2
#define APEX_WORKER_KEY_PAYLOAD	3
#define APEX_WORKER_KEY_QUEUE	4
#define APEX_WORKER_KEYS		5

/* the answer's ring; longer messages pass through it in pieces */
#define APEX_WORKER_QUEUE_SIZE	65536

/* a segment's size is a multiple of this, so that most requests fit one */
#define APEX_WORKER_SEGMENT_UNIT	(128 * 1024)

/* as pg_stat_activity shows the workers (backend_type) */
#define APEX_WORKER_TYPE	"apex_router sql"

/* What the worker needs besides the serialized parts */
typedef struct ApexWorkerFixed
{
	Oid			database;
	Oid			user;			/* the caller's authenticated user */
	PGPROC	   *caller;			/* whose xmin holds the snapshot's rows */
	Size		guc_len;
	Size		payload_len;
} ApexWorkerFixed;

/* One worker of a call, in the call's memory */
typedef struct ApexWorker
{
	ApexWorkerRequest req;
	ApexLoop   *loop;
	dsm_segment *seg;			/* NULL once unmapped */
	shm_mq_handle *mqh;
	BackgroundWorkerHandle *handle;
	ApexPoolTicket ticket;		/* a pooled worker's, or slot -1 */
	bool		over;			/* answered, failed, gone or abandoned */
	List	   *items;			/* received so far */
} ApexWorker;

typedef struct ApexWorkerState
{
	ApexCall   *call;
	List	   *workers;		/* ApexWorker * */
} ApexWorkerState;

/*
 * The segment kept for the session's next request, and its queue's
 * receiving end while its worker may not have detached yet (else NULL).
 */
static dsm_segment *spare_seg;
static shm_mq_handle *spare_mqh;

/*
 * The caller's snapshot as the worker must see it (see the file header):
 * its own top-level transaction id among the running ones, subtransactions
 * looked up through pg_subtrans.
 */
static Snapshot
apex_worker_snapshot(void)
{
	Snapshot	snap = GetTransactionSnapshot();
	TransactionId top = GetTopTransactionIdIfAny();
	Snapshot	copy = palloc(sizeof(SnapshotData));

	*copy = *snap;
	if (!TransactionIdIsValid(top))
		return copy;
	copy->xip = palloc((snap->xcnt + 1) * sizeof(TransactionId));
	memcpy(copy->xip, snap->xip, snap->xcnt * sizeof(TransactionId));
	if (TransactionIdPrecedes(top, snap->xmax))
		copy->xip[copy->xcnt++] = top;
	copy->suboverflowed = true;
	return copy;
}

/*
 * Has the queue's worker attached and then detached it (so that it will
 * never touch the segment again)?  Reads, and drops, what is left in it.
 */
static bool
apex_worker_queue_done(shm_mq_handle *mqh)
{
	for (;;)
	{
		Size		nbytes;
		void	   *data;

		switch (shm_mq_receive(mqh, &nbytes, &data, true))
		{
			case SHM_MQ_SUCCESS:
				continue;
			case SHM_MQ_DETACHED:
				return shm_mq_get_sender(shm_mq_get_queue(mqh)) != NULL;
			default:
				return false;
		}
	}
}

/* Detach the queue (the worker sees it on its next write), unmap the segment */
static void
apex_worker_discard(dsm_segment *seg, shm_mq_handle *mqh)
{
	shm_mq_detach(mqh);
	dsm_detach(seg);
}

/*
 * The request is over: keep its segment for the next one if the session
 * has none (its worker answered, and has or may soon have detached), or
 * discard it.
 */
static void
apex_worker_unmap(ApexWorker *w, bool reusable)
{
	if (w->seg == NULL)
		return;
	if (!reusable || spare_seg != NULL)
		apex_worker_discard(w->seg, w->mqh);
	else if (apex_worker_queue_done(w->mqh))
	{
		shm_mq_detach(w->mqh);
		spare_seg = w->seg;
	}
	else
	{
		spare_seg = w->seg;
		spare_mqh = w->mqh;
	}
	w->seg = NULL;
	w->mqh = NULL;
}

/*
 * A segment of at least size bytes: the session's spare if it is free and
 * large enough, else a new one; NULL when no segment can be created now.
 */
static dsm_segment *
apex_worker_segment(Size size)
{
	dsm_segment *seg = spare_seg;

	spare_seg = NULL;
	if (seg && spare_mqh)
	{
		if (apex_worker_queue_done(spare_mqh))
			shm_mq_detach(spare_mqh);
		else
		{
			apex_worker_discard(seg, spare_mqh);
			seg = NULL;
		}
		spare_mqh = NULL;
	}
	if (seg && dsm_segment_map_length(seg) >= size)
		return seg;
	if (seg)
		dsm_detach(seg);
	seg = dsm_create(TYPEALIGN(APEX_WORKER_SEGMENT_UNIT, size),
					 DSM_CREATE_NULL_IF_MAXSEGMENTS);
	/* ours to unmap, not a resource owner's (see the file header) */
	if (seg)
		dsm_pin_mapping(seg);
	return seg;
}

/* The worker's work is over: stop listening, tell the requester */
static void
apex_worker_over(ApexWorker *w, ApexWorkerOutcome *outcome)
{
	w->over = true;
	ApexLoopWatchLatch(w->loop, NULL, w);
	/* a pooled worker the postmaster could not start: free its slot */
	if (outcome->status == APEX_WORKER_NOT_STARTED && w->ticket.slot >= 0)
		ApexPoolCancel(&w->ticket);
	outcome->items = w->items;
	w->req.done(w->req.arg, outcome);
}

/*
 * A message of the worker.  Its notices (RAISE NOTICE in the query) are
 * the caller's, as they would be had the query run here.
 */
static void
apex_worker_message(ApexWorker *w, void *data, Size nbytes)
{
	StringInfoData msg;
	ApexWorkerOutcome outcome = {0};
	char		type;

	msg.data = data;
	msg.len = nbytes;
	msg.maxlen = nbytes;
	msg.cursor = 0;
	type = pq_getmsgbyte(&msg);
	switch (type)
	{
		case 'I':
			{
				const char *id = pq_getmsgrawstring(&msg);
				const char *title = pq_getmsgbyte(&msg) ? pq_getmsgrawstring(&msg) : NULL;
				const char *content = pq_getmsgbyte(&msg) ? pq_getmsgrawstring(&msg) : NULL;
				double		score = pq_getmsgfloat8(&msg);
				int			len = pq_getmsgint(&msg, 4);
				Jsonb	   *raw = palloc(VARHDRSZ + len);

				/* the jsonb as the worker built it (ApexWorkerSendItems) */
				SET_VARSIZE(raw, VARHDRSZ + len);
				memcpy(VARDATA(raw), pq_getmsgbytes(&msg, len), len);
				w->items = lappend(w->items,
								   ApexItemMake(id, title, content, score,
												ApexJsonOfJsonb(raw)));
				break;
			}
		case 'C':
			outcome.status = APEX_WORKER_ANSWERED;
			outcome.skipped = pq_getmsgint(&msg, 4);
			apex_worker_over(w, &outcome);
			break;
		case 'T':
			outcome.status = APEX_WORKER_TIMED_OUT;
			apex_worker_over(w, &outcome);
			break;
		case 'E':
		case 'N':
			{
				ErrorData  *edata = palloc0(sizeof(ErrorData));

				pq_parse_errornotice(&msg, edata);
				if (type == 'N')
				{
					/* a notice's level is below ERROR: this returns */
					edata->elevel = Min(edata->elevel, WARNING);
					ThrowErrorData(edata);
					break;
				}
				outcome.status = APEX_WORKER_FAILED;
				outcome.error = edata;
				apex_worker_over(w, &outcome);
				break;
			}
		default:
			/* nothing else is sent to a worker's client (no reports) */
			break;
	}
}

/* The latch was set: read what the worker sent, without waiting */
static void
apex_worker_poll(void *arg)
{
	ApexWorker *w = arg;

	while (!w->over)
	{
		Size		nbytes;
		void	   *data;
		shm_mq_result res = shm_mq_receive(w->mqh, &nbytes, &data, true);

		if (res == SHM_MQ_WOULD_BLOCK)
		{
			ApexWorkerOutcome outcome = {0};

			/* a pooled worker that exited before it took the request */
			if (w->ticket.slot < 0 ||
				shm_mq_get_sender(shm_mq_get_queue(w->mqh)) != NULL ||
				!ApexPoolWorkerGone(&w->ticket))
				return;
			outcome.status = APEX_WORKER_NOT_STARTED;
			apex_worker_over(w, &outcome);
			return;
		}
		if (res == SHM_MQ_DETACHED)
		{
			ApexWorkerOutcome outcome = {0};

			/* never attached: the postmaster could not start it */
			outcome.status = shm_mq_get_sender(shm_mq_get_queue(w->mqh)) == NULL
				? APEX_WORKER_NOT_STARTED : APEX_WORKER_GONE;
			apex_worker_over(w, &outcome);
			return;
		}
		apex_worker_message(w, data, nbytes);
	}
}

/* Stop a worker that has not answered and unmap its segment */
static void
apex_worker_stop(ApexWorker *w)
{
	bool		answered = w->over;

	if (!answered && w->ticket.slot >= 0)
		ApexPoolCancel(&w->ticket);
	else if (!answered && w->handle)
		TerminateBackgroundWorker(w->handle);
	w->over = true;
	apex_worker_unmap(w, answered);
}

/*
 * Start a worker for request, in the caller's database, as the caller's
 * authenticated user; false when none can be had now (no free worker slot,
 * no DSM segment), and nothing was started.  request->done gets the
 * outcome from the call's loop, unless the owner's time runs out first.
 */
bool
ApexWorkerStart(ApexCall *call, const ApexWorkerRequest *request)
{
	ApexWorkerState *state = ApexTransportState(call, &ApexWorkerTransport);
	Snapshot	snapshot = apex_worker_snapshot();
	Size		guc_len = EstimateGUCStateSpace();
	Size		snap_len = EstimateSnapshotSpace(snapshot);
	shm_toc_estimator e;
	dsm_segment *seg;
	shm_toc    *toc;
	ApexWorkerFixed *fixed;
	char	   *space;
	shm_mq	   *mq;
	BackgroundWorker bgw = {0};
	ApexWorker *w;
	MemoryContext oldcxt;

	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(ApexWorkerFixed));
	shm_toc_estimate_chunk(&e, guc_len);
	shm_toc_estimate_chunk(&e, snap_len);
	shm_toc_estimate_chunk(&e, request->payload_len);
	shm_toc_estimate_chunk(&e, APEX_WORKER_QUEUE_SIZE);
	shm_toc_estimate_keys(&e, APEX_WORKER_KEYS);
	seg = apex_worker_segment(shm_toc_estimate(&e));
	if (seg == NULL)
		return false;

	toc = shm_toc_create(APEX_WORKER_MAGIC, dsm_segment_address(seg),
						 dsm_segment_map_length(seg));
	fixed = shm_toc_allocate(toc, sizeof(ApexWorkerFixed));
	fixed->database = MyDatabaseId;
	fixed->user = GetAuthenticatedUserId();
	fixed->caller = MyProc;
	fixed->guc_len = guc_len;
	fixed->payload_len = request->payload_len;
	shm_toc_insert(toc, APEX_WORKER_KEY_FIXED, fixed);
	space = shm_toc_allocate(toc, guc_len);
	SerializeGUCState(guc_len, space);
	shm_toc_insert(toc, APEX_WORKER_KEY_GUC, space);
	space = shm_toc_allocate(toc, snap_len);
	SerializeSnapshot(snapshot, space);
	shm_toc_insert(toc, APEX_WORKER_KEY_SNAPSHOT, space);
	space = shm_toc_allocate(toc, request->payload_len);
	memcpy(space, request->payload, request->payload_len);
	shm_toc_insert(toc, APEX_WORKER_KEY_PAYLOAD, space);
	mq = shm_mq_create(shm_toc_allocate(toc, APEX_WORKER_QUEUE_SIZE),
					   APEX_WORKER_QUEUE_SIZE);
	shm_toc_insert(toc, APEX_WORKER_KEY_QUEUE, mq);
	shm_mq_set_receiver(mq, MyProc);

	w = palloc0(sizeof(ApexWorker));
	w->req = *request;
	w->loop = call->loop;
	w->seg = seg;
	/* it may outlive the call, kept with the segment */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	w->mqh = shm_mq_attach(mq, seg, NULL);
	MemoryContextSwitchTo(oldcxt);

	/* a pooled worker if one can be had, else one for this request */
	if (ApexPoolSubmit(dsm_segment_handle(seg), request->entry, &w->ticket,
					   &w->handle))
	{
		if (w->handle)
			shm_mq_set_handle(w->mqh, w->handle);
		state->workers = lappend(state->workers, w);
		ApexLoopWatchLatch(w->loop, apex_worker_poll, w);
		return true;
	}

	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_ConsistentState;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw.bgw_library_name, "apex_router", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, request->entry, BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "apex_router sql worker for PID %d",
			 MyProcPid);
	strlcpy(bgw.bgw_type, APEX_WORKER_TYPE, BGW_MAXLEN);
	bgw.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	bgw.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&bgw, &w->handle))
	{
		/* no worker has seen the segment: the next request's */
		shm_mq_detach(w->mqh);
		spare_seg = seg;
		pfree(w);
		return false;
	}
	/* a worker that dies before attaching makes receive say so */
	shm_mq_set_handle(w->mqh, w->handle);
	state->workers = lappend(state->workers, w);
	ApexLoopWatchLatch(w->loop, apex_worker_poll, w);
	return true;
}

static void *
apex_worker_attach(ApexCall *call)
{
	ApexWorkerState *state = palloc0(sizeof(ApexWorkerState));

	state->call = call;
	return state;
}

/* A worker's request is on its way once registered */
static bool
apex_worker_all_sent(void *state pg_attribute_unused())
{
	return true;
}

/* owner's time is up: its workers are terminated, without a word to it */
static void
apex_worker_cancel(void *arg, void *owner)
{
	ApexWorkerState *state = arg;
	ListCell   *lc;

	foreach(lc, state->workers)
	{
		ApexWorker *w = lfirst(lc);

		if (w->req.owner == owner && w->seg)
		{
			ApexLoopWatchLatch(w->loop, NULL, w);
			apex_worker_stop(w);
		}
	}
}

/*
 * The call ends, however: a request that has not been answered is
 * cancelled (a pooled worker's query at its next interrupt check; a
 * dynamic worker is terminated), and every segment is unmapped but one,
 * kept for the next request.  A worker that answered exits by itself, or,
 * pooled, waits for its next request.
 */
static void
apex_worker_release(void *arg, bool normal pg_attribute_unused())
{
	ApexWorkerState *state = arg;
	ListCell   *lc;

	foreach(lc, state->workers)
		apex_worker_stop(lfirst(lc));
}

static int
apex_worker_disconnect(const ApexSource *source pg_attribute_unused())
{
	return 0;					/* nothing is kept across calls */
}

const ApexTransport ApexWorkerTransport = {
	.name = "worker",
	.attach = apex_worker_attach,
	.all_sent = apex_worker_all_sent,
	.cancel = apex_worker_cancel,
	.release = apex_worker_release,
	.disconnect = apex_worker_disconnect,
};

/* Serving a pooled worker's second or later request (io_worker_pool.c) */
bool		ApexWorkerPooled = false;

/* A pooled worker, whatever its request */
bool		ApexWorkerInPool = false;

/*
 * The worker's log-in (BackgroundWorkerInitializeConnectionByOid) is
 * complete.  A pooled worker whose first request failed before that must
 * exit: InitPostgres runs in a transaction begun before the user was set,
 * so aborting it leaves no current user (valgrind's slowness let a cancel
 * land there and the next request failed an assertion in GetUserId).
 */
bool		ApexWorkerLoggedIn = false;

/* The request's segment, in the worker */
static dsm_segment *worker_seg;

/* The settings a pooled worker restored last, in TopMemoryContext */
static char *worker_gucs;
static Size worker_gucs_len;

/*
 * Restore the caller's settings, unless a pooled worker has them already
 * (RestoreGUCState resets and sets every setting: most of a pooled
 * hand-off's cost when done each time).  A query cannot leave a setting
 * changed: it runs in a subtransaction that is rolled back.
 *
 * As a parallel worker does (ParallelWorkerMain), with
 * InitializingParallelWorker set: the settings are the caller's, already
 * checked in the caller, and some checks do not hold while they are
 * restored.  On a hot standby every transaction is read-only, so resetting
 * transaction_read_only to its default (off) in the transaction that
 * restores them fails its check ("cannot set transaction read-write mode
 * during recovery"), and without the flag no sql source could run in a
 * worker there (issue 16 item 3).  The flag tells these checks (transaction
 * isolation, read-only and deferrable, client_encoding) that the values
 * are someone else's being copied, not a change.
 */
static void
apex_worker_restore_gucs(const char *gucs, Size len)
{
	if (worker_gucs && worker_gucs_len == len && memcmp(worker_gucs, gucs, len) == 0)
		return;
	if (worker_gucs)
		pfree(worker_gucs);
	worker_gucs = NULL;
	StartTransactionCommand();
	InitializingParallelWorker = true;
	PG_TRY();
	{
		RestoreGUCState((void *) gucs);
	}
	PG_FINALLY();
	{
		InitializingParallelWorker = false;
	}
	PG_END_TRY();
	CommitTransactionCommand();

	/*
	 * The caller reads what we send in the database encoding, whatever its
	 * client's (restored with the settings): convert nothing.
	 */
	SetClientEncoding(GetDatabaseEncoding());
	worker_gucs = MemoryContextAlloc(TopMemoryContext, len);
	memcpy(worker_gucs, gucs, len);
	worker_gucs_len = len;
}

/*
 * The worker's side.  Begin: signals, the segment, the queue (first, so
 * that every later error reaches the caller), the database as the caller's
 * user, the caller's settings, then a REPEATABLE READ transaction under the
 * caller's snapshot.  Returns the kind's payload.
 */
const char *
ApexWorkerBegin(Datum main_arg, Size *payload_len)
{
	dsm_segment *seg;
	shm_toc    *toc;
	ApexWorkerFixed *fixed;
	shm_mq	   *mq;
	shm_mq_handle *mqh;
	char	   *snapspace;

	if (!ApexWorkerPooled)
	{
		/* die() and the config reload flag, not bgworker_die's FATAL */
		pqsignal(SIGTERM, die);
		pqsignal(SIGHUP, SignalHandlerForConfigReload);
		BackgroundWorkerUnblockSignals();
	}

	seg = worker_seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map the segment of an apex_router worker"),
				 errdetail("Its caller has gone.")));
	toc = shm_toc_attach(APEX_WORKER_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		elog(ERROR, "invalid apex_router worker segment");
	mq = shm_toc_lookup(toc, APEX_WORKER_KEY_QUEUE, false);
	shm_mq_set_sender(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);
	pq_redirect_to_shm_mq(seg, mqh);

	fixed = shm_toc_lookup(toc, APEX_WORKER_KEY_FIXED, false);
	if (!ApexWorkerPooled)
	{
		BackgroundWorkerInitializeConnectionByOid(fixed->database, fixed->user, 0);
		ApexWorkerLoggedIn = true;
	}
	else if (fixed->database != MyDatabaseId ||
			 fixed->user != GetAuthenticatedUserId())
		elog(ERROR, "apex_router pooled worker handed another user's request");
	if (ConfigReloadPending)
	{
		/* the file's settings may differ: restore the caller's again */
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		if (worker_gucs)
			pfree(worker_gucs);
		worker_gucs = NULL;
	}
	apex_worker_restore_gucs(shm_toc_lookup(toc, APEX_WORKER_KEY_GUC, false),
							 fixed->guc_len);

	StartTransactionCommand();
	XactIsoLevel = XACT_REPEATABLE_READ;
	snapspace = shm_toc_lookup(toc, APEX_WORKER_KEY_SNAPSHOT, false);
	RestoreTransactionSnapshot(RestoreSnapshot(snapspace), fixed->caller);
	/* SPI takes the transaction's snapshot, but parses under the active one */
	PushActiveSnapshot(GetTransactionSnapshot());

	*payload_len = fixed->payload_len;
	return shm_toc_lookup(toc, APEX_WORKER_KEY_PAYLOAD, false);
}

/* What pg_stat_activity shows as the worker's query */
void
ApexWorkerActivity(const char *activity)
{
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
apex_worker_send_string(StringInfo buf, const char *s)
{
	/* the client encoding is the database's: no conversion */
	pq_sendstring(buf, s);
}

/*
 * The answer's last message: before it goes, a pooled worker says it can
 * take the next request (its loop takes it once this one's transaction
 * has ended), so that a caller calling again at once finds it free; once
 * it has gone, the segment is unmapped at once (the caller's session may
 * reuse it for its next request).  Whatever fails after this is only
 * logged.
 */
static void
apex_worker_send_last(StringInfo buf)
{
	if (ApexWorkerInPool)
		ApexPoolAnswered();
	pq_endmessage(buf);
	ApexWorkerRequestDone();
}

/* The answer: every item, then how many rows were skipped */
void
ApexWorkerSendItems(List *items, int skipped)
{
	StringInfoData buf;
	ListCell   *lc;
	Jsonb	   *raw;

	foreach(lc, items)
	{
		ApexItem   *item = lfirst(lc);

		pq_beginmessage(&buf, 'I');
		apex_worker_send_string(&buf, item->id);
		pq_sendbyte(&buf, item->title != NULL);
		if (item->title)
			apex_worker_send_string(&buf, item->title);
		pq_sendbyte(&buf, item->content != NULL);
		if (item->content)
			apex_worker_send_string(&buf, item->content);
		pq_sendfloat8(&buf, item->score);
		/* as parallel query ships tuples: binary, between our processes */
		raw = JsonbValueToJsonb(item->raw);
		pq_sendint32(&buf, VARSIZE(raw) - VARHDRSZ);
		pq_sendbytes(&buf, VARDATA(raw), VARSIZE(raw) - VARHDRSZ);
		pq_endmessage(&buf);
	}
	pq_beginmessage(&buf, 'C');
	pq_sendint32(&buf, skipped);
	apex_worker_send_last(&buf);
}

/* The worker's timer of the budget fired */
void
ApexWorkerSendTimedOut(void)
{
	StringInfoData buf;

	pq_beginmessage(&buf, 'T');
	apex_worker_send_last(&buf);
}

/* The work is done: end the transaction (it wrote nothing) */
void
ApexWorkerEnd(void)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	/* a pooled worker says so once it can take the next request */
	if (!ApexWorkerInPool)
		pgstat_report_activity(STATE_IDLE, NULL);
}

/* A pooled worker's request is over: unmap its segment (the queue too) */
void
ApexWorkerRequestDone(void)
{
	if (worker_seg)
		dsm_detach(worker_seg);
	worker_seg = NULL;
}
