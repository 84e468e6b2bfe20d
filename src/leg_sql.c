/*-------------------------------------------------------------------------
 *
 * leg_sql.c
 *		  Local SQL search through SPI, as the calling user.
 *
 * The source's `query` gets $1 (the query text) and $2 (the limit) and
 * returns id, title, content, score as its first four columns (the last
 * three optional); every column goes into the item's raw JSON.  The router
 * runs it only once every remote request is on the wire, so it costs no
 * extra latency.  It runs in a subtransaction: a failing query (missing
 * table, no privilege) is this source's failure, reported as a WARNING,
 * and leaves the other sources' results intact.
 *
 * IDENTIFICATION
 *		  src/leg_sql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/resowner.h"

#include "leg.h"

static const char *const sql_options[] = {"query", NULL};
static const char *const sql_required[] = {"query", NULL};

/* Copy SPI's result rows into items (in the call's memory context). */
static List *
sql_collect(MemoryContext mcxt)
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
		char	   *error;

		for (int c = 0; c < desc->natts; c++)
			values[c] = SPI_getvalue(SPI_tuptable->vals[r], desc, c + 1);
		old = MemoryContextSwitchTo(mcxt);
		item = ApexRowItem(desc->natts, names, values, &error);
		MemoryContextSwitchTo(old);
		if (error)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s", error)));
		if (item)
			items = lappend(items, item);
	}
	return items;
}

static void
sql_run(ApexLeg *leg)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	List	   *items = NIL;

	values[0] = CStringGetTextDatum(leg->call->query.text);
	values[1] = Int32GetDatum(leg->call->query.limit);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		int			rc;

		SPI_connect();
		rc = SPI_execute_with_args(ApexGetOption(leg->source->options, "query"),
								   2, argtypes, values, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("query must be a SELECT returning rows")));
		items = sql_collect(mcxt);
		SPI_finish();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(mcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
		/* cancel and statement_timeout end the whole call */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		ApexLegFail(leg, "%s", edata->message);
		return;
	}
	PG_END_TRY();
	ApexLegFinish(leg, items);
}

const ApexKind ApexSqlKind = {
	.name = "sql",
	.server_options = sql_options,
	.required_options = sql_required,
	.run_local = sql_run,
};
