/*-------------------------------------------------------------------------
 *
 * leg_sql.c
 *		  Local SQL search through SPI, as the source's owner, read-only.
 *
 * The source's `query` gets $1 (the query text), $2 (the limit), $3 (the
 * call's params, jsonb, or null: its scope, as a value) and $4 (the
 * question's embedding, real[], or null) and returns id, title, content,
 * score as its first four columns (the last three optional); every column
 * goes into the item's raw JSON.
 *
 * Local vector search (issue 15): a source with an `embedder` option gets
 * the question's embedding in $4, from that embedder inside the call's
 * loop (one request shared with the call's other sources of the same
 * embedder, embed_batch.c) or the caller's query_vector; its query starts
 * once the vector is there, in a worker or inline as below.  real[] casts
 * to pgvector's vector ($4::vector) where that extension is installed.
 *
 * Where it runs (issue 12): by default (execution 'worker') in a dynamic
 * background worker (io_worker.c), started with the remote legs, so that
 * the call's loop goes on reading every other source while the query runs;
 * the worker imports the caller's settings and snapshot and runs the query
 * through the very code inline mode runs (sql_run_task), so identity,
 * read-only, search_path, the advisory-lock refusal and the budget are the
 * same.  It differs from inline only in what a snapshot cannot carry: the
 * caller's own uncommitted writes and its temporary objects.  Inline
 * (execution 'inline', a SERIALIZABLE caller, or no worker to be had, which
 * the caller is told with a NOTICE) it runs in the calling backend once
 * every remote request is on the wire, the loop waiting meanwhile.
 *
 * Whose privileges: the query is code its owner wrote, so it runs as the
 * server's owner, never as the caller, the way PostgreSQL runs a view's
 * table accesses or a SECURITY DEFINER function.  Otherwise a role allowed
 * to create sources could plant a query that calls its own function and
 * wait for a superuser's plain apex_route(), which includes every source
 * (issue 9).  A caller needs USAGE on the server, nothing on the tables.
 * As in PostgreSQL's maintenance commands, it is a security-restricted
 * operation (no SET ROLE, no temporary tables) with a search_path the
 * caller cannot touch: the server's `search_path` option (default
 * "$user", public as seen by the owner), pg_temp always last, so that the
 * caller's temporary objects cannot shadow the owner's.
 *
 * Read-only: the transaction is read-only for the query (a writable CTE or
 * a writing function fails the source, however it is spelled), and the
 * subtransaction it runs in is always rolled back, so nothing it did stays.
 * A failing query is this source's failure, reported as a WARNING; the other
 * sources' results stay intact.
 *
 * Session state: a security-restricted operation refuses what would outlive
 * it (PREPARE, LISTEN, DISCARD, cursors WITH HOLD, SET ROLE), and the
 * rollback undoes the rest, except session-level advisory locks, which
 * PostgreSQL keeps until released.  A source's query could take such a lock
 * and leave it held by the caller's session, or release every lock the
 * caller holds (pg_advisory_unlock_all), breaking the caller's own mutual
 * exclusion (issue 9 probe).  So an object-access hook refuses the
 * session-level advisory lock functions while the query runs, however they
 * are reached (a function, an operator, a cast); the transaction-level ones
 * end with the subtransaction and stay allowed.
 *
 * Time: the query gets what is left of the leg's budget (the source's
 * timeout_ms, capped by the call's); a timer then cancels it as
 * statement_timeout would, and the source fails with "timed out".  Without
 * it a slow query, or one planted to sleep, held every call that includes
 * the source until statement_timeout (issue 9 probe).
 *
 * Memory: SPI's memory dies at SPI_finish, so items and the list holding
 * them are built in the call's context.
 *
 * IDENTIFICATION
 *		  src/leg_sql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/timeout.h"
#include "utils/varlena.h"

#include "call.h"
#include "io_worker.h"
#include "leg.h"
#include "scope.h"
#include "transport.h"

typedef struct SqlConf
{
	char	   *query;			/* $1 text, $2 limit, $3 params, $4 embedding */
	char	   *search_path;	/* the option, pg_temp last (check) */
	int			execution;		/* SQL_EXECUTION_* */
	char	   *embedder;		/* source name, or NULL */
} SqlConf;

/* where the query runs: the execution option's choices, in this order */
#define SQL_EXECUTION_WORKER 0
#define SQL_EXECUTION_INLINE 1
static const char *const sql_executions[] = {"worker", "inline", NULL};

/* One run of a source's query, inline or in a worker */
typedef struct SqlTask
{
	const char *source;			/* its name */
	const char *query;
	const char *search_path;
	Oid			owner;			/* whose identity it runs under */
	const char *text;			/* $1 */
	int			limit;			/* $2 */
	const char *params;			/* $3, as jsonb's text, or NULL */
	const float4 *vector;		/* $4, or NULL */
	int			vector_dim;
	long		budget_ms;
} SqlTask;

/* Where a leg's query is (leg->state) */
typedef enum SqlStage
{
	SQL_LOCAL = 0,				/* runs inline, from run_local */
	SQL_AWAITING_VECTOR,		/* starts once its embedder answers */
	SQL_IN_WORKER,				/* a worker runs it */
	SQL_STARTED					/* ran inline already, or is running */
} SqlStage;

typedef struct SqlLeg
{
	SqlStage	stage;
	float4	   *vector;			/* $4, once known */
	int			vector_dim;
} SqlLeg;

typedef struct SqlOutcome
{
	List	   *items;
	int			skipped;		/* rows without an id */
	bool		timed_out;
	ErrorData  *error;			/* the query's error, or NULL */
} SqlOutcome;

static void sql_check_search_path(const char *name, const char *value);

static const ApexOption sql_options[] = {
	{APEX_OPT("query", APEX_OPTION_STRING, SqlConf, query), .required = true},
	{APEX_OPT("search_path", APEX_OPTION_STRING, SqlConf, search_path),
	 .validate = sql_check_search_path},
	{APEX_OPT("execution", APEX_OPTION_CHOICE, SqlConf, execution),
	 .dflt = "worker", .choices = sql_executions},
	{APEX_OPT("embedder", APEX_OPTION_STRING, SqlConf, embedder),
	 .validate = ApexCheckEmbedderOption},
	{NULL}
};

static object_access_hook_type sql_prev_object_access = NULL;
static bool sql_running = false;	/* a source's query is running */

/* Whether a function takes or releases a session-level advisory lock */
static bool
sql_session_lock_function(Oid funcid)
{
	switch (funcid)
	{
		case F_PG_ADVISORY_LOCK_INT8:
		case F_PG_ADVISORY_LOCK_SHARED_INT8:
		case F_PG_TRY_ADVISORY_LOCK_INT8:
		case F_PG_TRY_ADVISORY_LOCK_SHARED_INT8:
		case F_PG_ADVISORY_UNLOCK_INT8:
		case F_PG_ADVISORY_UNLOCK_SHARED_INT8:
		case F_PG_ADVISORY_LOCK_INT4_INT4:
		case F_PG_ADVISORY_LOCK_SHARED_INT4_INT4:
		case F_PG_TRY_ADVISORY_LOCK_INT4_INT4:
		case F_PG_TRY_ADVISORY_LOCK_SHARED_INT4_INT4:
		case F_PG_ADVISORY_UNLOCK_INT4_INT4:
		case F_PG_ADVISORY_UNLOCK_SHARED_INT4_INT4:
		case F_PG_ADVISORY_UNLOCK_ALL:
			return true;
		default:
			return false;
	}
}

/* The executor reports every function it is about to call (ExecInitFunc) */
static void
sql_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				  int subId, void *arg)
{
	if (sql_prev_object_access)
		sql_prev_object_access(access, classId, objectId, subId, arg);
	if (sql_running && access == OAT_FUNCTION_EXECUTE &&
		classId == ProcedureRelationId && sql_session_lock_function(objectId))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot use session-level advisory locks in a sql source"),
				 errdetail("They would outlive the source's query in the caller's session.")));
}

void
ApexSqlInit(void)
{
	sql_prev_object_access = object_access_hook;
	object_access_hook = sql_object_access;
}

/* The leg's timer, registered on first use, and whether it fired */
static TimeoutId sql_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t sql_timed_out = false;

/* In the SIGALRM handler: cancel the query, as StatementTimeoutHandler does */
static void
sql_timeout_handler(void)
{
	sql_timed_out = true;
	QueryCancelPending = true;
	InterruptPending = true;
}

/* PostgreSQL's boot default, resolved for the owner ("$user" = owner) */
#define APEX_SQL_DEFAULT_SEARCH_PATH "\"$user\", public"

/* Elements of a search_path value, or NULL when it does not parse */
static List *
sql_search_path_elements(const char *value)
{
	char	   *copy = pstrdup(value);
	List	   *names;

	if (!SplitIdentifierString(copy, ',', &names))
		return NULL;
	return names;
}

static void
sql_check_search_path(const char *name, const char *value)
{
	if (sql_search_path_elements(value) == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("The value is a comma-separated list of schema names, as for the search_path setting.")));
}

/* The search_path the query runs with: the option's, pg_temp last */
static void
sql_check(void *arg)
{
	SqlConf    *conf = arg;
	const char *path = conf->search_path ? conf->search_path
		: APEX_SQL_DEFAULT_SEARCH_PATH;
	ListCell   *lc;

	foreach(lc, sql_search_path_elements(path))
	{
		if (strcmp(lfirst(lc), "pg_temp") == 0)
		{
			conf->search_path = pstrdup(path);	/* the owner placed it */
			return;
		}
	}
	conf->search_path = psprintf("%s, pg_temp", path);
}

/*
 * Copy SPI's result rows into items, list included, in mcxt; rows with a
 * null id are counted in *skipped.
 */
static List *
sql_collect(MemoryContext mcxt, int *skipped)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	const char **names = palloc(sizeof(char *) * desc->natts);
	const char **values = palloc(sizeof(char *) * desc->natts);
	List	   *items = NIL;

	for (int c = 0; c < desc->natts; c++)
		names[c] = SPI_fname(desc, c + 1);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		MemoryContext old;
		ApexItem   *item;
		bool		bad_score;

		for (int c = 0; c < desc->natts; c++)
			values[c] = SPI_getvalue(SPI_tuptable->vals[r], desc, c + 1);
		old = MemoryContextSwitchTo(mcxt);
		item = ApexRowItem(desc->natts, names, values, &bad_score);
		if (item)
			items = lappend(items, item);
		else if (!bad_score)
			(*skipped)++;
		MemoryContextSwitchTo(old);
		if (bad_score)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("score column \"%s\" holds \"%s\", not a number",
							names[3], values[3])));
	}
	return items;
}

/*
 * Run the query as the owner, read-only, and collect its rows; throws on
 * any failure.  The caller's subtransaction undoes the role and setting
 * changes on an error; on success they are undone here.
 */
static List *
sql_execute(const SqlTask *task, MemoryContext mcxt, int *skipped)
{
	Oid			argtypes[4] = {TEXTOID, INT4OID, JSONBOID, FLOAT4ARRAYOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', 'n', 'n'};
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	List	   *items;

	values[0] = CStringGetTextDatum(task->text);
	values[1] = Int32GetDatum(task->limit);
	if (task->params)
	{
		values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(task->params));
		nulls[2] = ' ';
	}
	if (task->vector)
	{
		Datum	   *elems = palloc(sizeof(Datum) * task->vector_dim);

		for (int i = 0; i < task->vector_dim; i++)
			elems[i] = Float4GetDatum(task->vector[i]);
		values[3] = PointerGetDatum(construct_array(elems, task->vector_dim, FLOAT4OID,
													sizeof(float4), true, TYPALIGN_INT));
		nulls[3] = ' ';
	}

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(task->owner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", task->search_path,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	(void) set_config_option("transaction_read_only", "on",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	/*
	 * Items' values are text in their raw JSON: dates in one form whatever
	 * the caller's DateStyle, so that time_field reads them (leg.c) and a
	 * cached row does not depend on who asked first
	 */
	(void) set_config_option("datestyle", "ISO, YMD",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	SPI_connect();
	sql_running = true;
	if (SPI_execute_with_args(task->query,
							  4, argtypes, values, nulls, false, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("query must be a SELECT returning rows")));
	sql_running = false;
	items = sql_collect(mcxt, skipped);
	SPI_finish();

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return items;
}

/*
 * Run task's query, in this backend (inline) or a worker, within its
 * budget, in a subtransaction that is always rolled back; its outcome in
 * *out, with items in the current memory context.  Throws only when the
 * query was cancelled (not by its timer): a cancel or statement_timeout
 * ends the caller's whole call, and a worker's cancel reaches its caller
 * as the worker's error.
 */
static void
sql_run_task(const SqlTask *task, SqlOutcome *out)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (sql_timeout == MAX_TIMEOUTS)
		sql_timeout = RegisterTimeout(USER_TIMEOUT, sql_timeout_handler);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	sql_timed_out = false;
	enable_timeout_after(sql_timeout, (int) Min(task->budget_ms, INT_MAX));
	PG_TRY();
	{
		out->items = sql_execute(task, mcxt, &out->skipped);
		disable_timeout(sql_timeout, false);
		/* fired after the query's last check: the cancel is ours, not due */
		if (sql_timed_out)
			QueryCancelPending = false;
		/* read-only already; rolling back leaves no lock or temp write either */
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		disable_timeout(sql_timeout, false);
		sql_running = false;
		MemoryContextSwitchTo(mcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
		out->items = NIL;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && sql_timed_out)
			out->timed_out = true;
		else if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		else
			out->error = edata;
	}
	PG_END_TRY();
}

/*
 * The query failed with edata: the source fails with its SQLSTATE, its
 * message and detail in the detail, its hint as the hint.  The error is
 * local and carries no secret: it is shown as it is.
 */
static void
sql_failed(ApexLeg *leg, ErrorData *edata)
{
	char	   *cause = ApexSentence(psprintf("The query failed: %s", edata->message));

	if (leg->done)
		return;
	if (edata->detail)
		cause = psprintf("%s %s", cause, edata->detail);
	ApexLegFail(leg, edata->sqlerrcode, "%s", cause);
	leg->hint = edata->hint;
}

/* The leg's outcome from a run of its query, here or in a worker */
static void
sql_conclude(ApexLeg *leg, List *items, int skipped, bool timed_out,
			 ErrorData *error)
{
	if (timed_out)
		ApexLegTimedOut(leg);
	else if (error)
		sql_failed(leg, error);
	else
	{
		if (skipped > 0)
			ApexLegSkipped(leg, skipped, APEX_ROW_NO_ID);
		ApexLegFinish(leg, items);
	}
}

static void
sql_task_of(ApexLeg *leg, SqlTask *task)
{
	const SqlConf *conf = leg->source->conf;
	const SqlLeg *state = leg->state;

	task->source = leg->source->name;
	task->query = conf->query;
	task->search_path = conf->search_path;
	task->owner = leg->source->owner;
	task->text = leg->query->text;
	task->limit = leg->query->limit;
	task->params = ApexScopeText(leg->query);
	task->vector = state->vector;
	task->vector_dim = state->vector_dim;
	task->budget_ms = ApexLegBudgetMs(leg);
}

/* Run the leg's query in this backend, while the loop waits */
static void
sql_inline(ApexLeg *leg)
{
	SqlTask		task;
	SqlOutcome	out = {0};

	((SqlLeg *) leg->state)->stage = SQL_STARTED;
	sql_task_of(leg, &task);
	sql_run_task(&task, &out);
	sql_conclude(leg, out.items, out.skipped, out.timed_out, out.error);
}

/*
 * No worker could be had for a source whose execution is "worker": it
 * runs inline, and the caller is told, since inline sees the caller's
 * uncommitted writes and holds the other sources while it runs.  Once per
 * source and call: a batch (apex_route_many) may have many such legs.
 */
static void
sql_fell_back(ApexLeg *leg)
{
	leg->trace.ran_inline = true;
	if (list_member_ptr(leg->call->told_inline, leg->source))
		return;
	leg->call->told_inline = lappend(leg->call->told_inline, leg->source);
	ereport(NOTICE,
			(errmsg("source \"%s\" ran in this session: no background worker could take its query",
					leg->source->name),
			 errdetail("Inline, its query sees this transaction's uncommitted writes, and the other sources wait while it runs."),
			 errhint("Raise max_worker_processes, or set the source's execution option to 'inline'.")));
}

static void
sql_worker_done(void *arg, const ApexWorkerOutcome *outcome)
{
	ApexLeg    *leg = arg;

	switch (outcome->status)
	{
		case APEX_WORKER_ANSWERED:
			sql_conclude(leg, outcome->items, outcome->skipped, false, NULL);
			break;
		case APEX_WORKER_FAILED:
			sql_conclude(leg, NIL, 0, false, outcome->error);
			break;
		case APEX_WORKER_TIMED_OUT:
			sql_conclude(leg, NIL, 0, true, NULL);
			break;
		case APEX_WORKER_GONE:
			ApexLegFail(leg, ERRCODE_FDW_ERROR,
						"The background worker running the query exited before it answered.");
			break;
		case APEX_WORKER_NOT_STARTED:
			sql_fell_back(leg);
			sql_inline(leg);
			break;
	}
}

/*
 * What the worker needs of the task, in the database encoding (a caller
 * of another client encoding changes nothing: no conversion here)
 */
static void
sql_task_send(StringInfo buf, const SqlTask *task)
{
	const char *strings[] = {task->source, task->query, task->search_path,
	task->text};

	pq_sendint32(buf, task->owner);
	pq_sendint32(buf, task->limit);
	pq_sendint64(buf, task->budget_ms);
	for (size_t i = 0; i < lengthof(strings); i++)
		appendBinaryStringInfo(buf, strings[i], strlen(strings[i]) + 1);
	pq_sendbyte(buf, task->params != NULL);
	if (task->params)
		appendBinaryStringInfo(buf, task->params, strlen(task->params) + 1);
	pq_sendint32(buf, task->vector ? task->vector_dim : -1);
	for (int i = 0; task->vector && i < task->vector_dim; i++)
		pq_sendfloat4(buf, task->vector[i]);
}

static void
sql_task_read(StringInfo msg, SqlTask *task)
{
	task->owner = pq_getmsgint(msg, 4);
	task->limit = pq_getmsgint(msg, 4);
	task->budget_ms = pq_getmsgint64(msg);
	task->source = pq_getmsgrawstring(msg);
	task->query = pq_getmsgrawstring(msg);
	task->search_path = pq_getmsgrawstring(msg);
	task->text = pq_getmsgrawstring(msg);
	task->params = pq_getmsgbyte(msg) ? pq_getmsgrawstring(msg) : NULL;
	task->vector_dim = (int) pq_getmsgint(msg, 4);
	task->vector = NULL;
	if (task->vector_dim >= 0)
	{
		float4	   *vector = palloc(sizeof(float4) * Max(task->vector_dim, 1));

		for (int i = 0; i < task->vector_dim; i++)
			vector[i] = pq_getmsgfloat4(msg);
		task->vector = vector;
	}
}

/*
 * Start the leg's query in a background worker (execution "worker"),
 * alongside the remote legs.  A leg left without one runs inline once the
 * remote requests are written (sql_run_local): by its option; in a
 * SERIALIZABLE transaction, whose conflict checks cannot see a worker's
 * reads; or when no worker could be had, which the caller is told.
 */
static void
sql_to_worker(ApexLeg *leg)
{
	SqlLeg	   *state = leg->state;
	SqlTask		task;
	StringInfoData buf;
	ApexWorkerRequest req = {0};

	sql_task_of(leg, &task);
	initStringInfo(&buf);
	sql_task_send(&buf, &task);
	req.entry = "apex_sql_worker_main";
	req.payload = buf.data;
	req.payload_len = buf.len;
	req.owner = leg;
	req.done = sql_worker_done;
	req.arg = leg;
	if (ApexWorkerStart(leg->call, &req))
		state->stage = SQL_IN_WORKER;
	else
		sql_fell_back(leg);
}

/* Whether a worker runs the leg's query (else inline: see sql_start) */
static bool
sql_in_worker(ApexLeg *leg)
{
	const SqlConf *conf = leg->source->conf;

	return conf->execution == SQL_EXECUTION_WORKER && !IsolationIsSerializable();
}

/*
 * The embedder answered (in the loop): the query starts now, in a worker,
 * or inline here since the remote requests went out long ago
 */
static void
sql_embedded(ApexLeg *leg, float4 *vector, int dim)
{
	SqlLeg	   *state = leg->state;

	state->vector = vector;
	state->vector_dim = dim;
	state->stage = SQL_LOCAL;
	if (sql_in_worker(leg))
		sql_to_worker(leg);
	if (state->stage == SQL_LOCAL && !leg->done)
		sql_inline(leg);
}

static void
sql_start(ApexLeg *leg)
{
	SqlLeg	   *state = palloc0(sizeof(SqlLeg));

	leg->state = state;
	state->stage = SQL_LOCAL;
	state->vector = leg->query->vector;
	state->vector_dim = leg->query->vector_dim;
	if (state->vector == NULL && leg->source->embedder)
	{
		state->stage = SQL_AWAITING_VECTOR;
		ApexEmbedStart(leg, leg->source->embedder, leg->query->text, sql_embedded);
		return;
	}
	if (sql_in_worker(leg))
		sql_to_worker(leg);
}

/* after sql_start, as every router calls them */
static void
sql_run_local(ApexLeg *leg)
{
	if (((SqlLeg *) leg->state)->stage == SQL_LOCAL)
		sql_inline(leg);
}

static const char *
sql_embedder(const void *conf)
{
	return ((const SqlConf *) conf)->embedder;
}

/*
 * The worker's main (io_worker.c starts it): the task, run as inline mode
 * runs it, its outcome sent back.  An error is thrown on, and reaches the
 * caller through the queue as the worker's error.
 */
PGDLLEXPORT void apex_sql_worker_main(Datum main_arg);

void
apex_sql_worker_main(Datum main_arg)
{
	StringInfoData msg;
	Size		len;
	SqlTask		task;
	SqlOutcome	out = {0};

	msg.data = (char *) ApexWorkerBegin(main_arg, &len);
	msg.len = len;
	msg.maxlen = len;
	msg.cursor = 0;
	sql_task_read(&msg, &task);
	ApexCallRunsElsewhere();
	ApexWorkerActivity(psprintf("apex_route: sql source \"%s\"", task.source));
	sql_run_task(&task, &out);
	if (out.error)
		ReThrowError(out.error);
	if (out.timed_out)
		ApexWorkerSendTimedOut();
	else
		ApexWorkerSendItems(out.items, out.skipped);
	ApexWorkerEnd();
}

const ApexKind ApexSqlKind = {
	.name = "sql",
	.options = sql_options,
	.conf_size = sizeof(SqlConf),
	.check = sql_check,
	.embedder = sql_embedder,
	.vector_optional = true,
	.start = sql_start,
	.run_local = sql_run_local,
};
