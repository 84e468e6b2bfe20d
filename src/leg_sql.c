/*-------------------------------------------------------------------------
 *
 * leg_sql.c
 *		  Local SQL search through SPI, as the source's owner, read-only.
 *
 * The source's `query` gets $1 (the query text) and $2 (the limit) and
 * returns id, title, content, score as its first four columns (the last
 * three optional); every column goes into the item's raw JSON.  The router
 * runs it only once every remote request is on the wire, so it costs no
 * extra latency.
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
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/timeout.h"
#include "utils/varlena.h"

#include "leg.h"
#include "transport.h"

typedef struct SqlConf
{
	char	   *query;			/* $1 the query text, $2 the limit */
	char	   *search_path;	/* the option, pg_temp last (check) */
} SqlConf;

static void sql_check_search_path(const char *name, const char *value);

static const ApexOption sql_options[] = {
	{APEX_OPT("query", APEX_OPTION_STRING, SqlConf, query), .required = true},
	{APEX_OPT("search_path", APEX_OPTION_STRING, SqlConf, search_path),
	 .validate = sql_check_search_path},
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
sql_execute(ApexLeg *leg, MemoryContext mcxt)
{
	const SqlConf *conf = leg->source->conf;
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	List	   *items;
	int			skipped = 0;

	values[0] = CStringGetTextDatum(leg->call->query.text);
	values[1] = Int32GetDatum(leg->call->query.limit);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(leg->source->owner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", conf->search_path,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	(void) set_config_option("transaction_read_only", "on",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	SPI_connect();
	sql_running = true;
	if (SPI_execute_with_args(conf->query,
							  2, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("query must be a SELECT returning rows")));
	sql_running = false;
	items = sql_collect(mcxt, &skipped);
	if (skipped > 0)
		ApexLegSkipped(leg, skipped, APEX_ROW_NO_ID);
	SPI_finish();

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return items;
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

static void
sql_run(ApexLeg *leg)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	List	   *items = NIL;
	long		budget = ApexLegBudgetMs(leg);

	if (sql_timeout == MAX_TIMEOUTS)
		sql_timeout = RegisterTimeout(USER_TIMEOUT, sql_timeout_handler);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	sql_timed_out = false;
	enable_timeout_after(sql_timeout, (int) Min(budget, INT_MAX));
	PG_TRY();
	{
		items = sql_execute(leg, mcxt);
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
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && sql_timed_out)
			ApexLegTimedOut(leg);
		/* cancel and statement_timeout end the whole call */
		else if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		else
			sql_failed(leg, edata);
		return;
	}
	PG_END_TRY();
	ApexLegFinish(leg, items);
}

const ApexKind ApexSqlKind = {
	.name = "sql",
	.options = sql_options,
	.conf_size = sizeof(SqlConf),
	.check = sql_check,
	.run_local = sql_run,
};
