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

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/resowner.h"

#include "leg.h"

static const char *const sql_options[] = {"query", NULL};
static const char *const sql_required[] = {"query", NULL};

/* Copy SPI's result rows into items (in the call's memory context). */
static List *
sql_collect(MemoryContext mcxt)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	List	   *items = NIL;

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		char	   *cols[4] = {NULL, NULL, NULL, NULL};
		double		score = NAN;
		StringInfoData raw;
		MemoryContext old;

		initStringInfo(&raw);
		appendStringInfoChar(&raw, '{');
		for (int c = 0; c < desc->natts; c++)
		{
			char	   *value = SPI_getvalue(tuple, desc, c + 1);

			if (c < 4)
				cols[c] = value;
			if (c > 0)
				appendStringInfoChar(&raw, ',');
			escape_json(&raw, SPI_fname(desc, c + 1));
			appendStringInfoChar(&raw, ':');
			if (value)
				escape_json(&raw, value);
			else
				appendStringInfoString(&raw, "null");
		}
		appendStringInfoChar(&raw, '}');
		if (cols[0] == NULL)
			continue;			/* an item needs an id */
		if (cols[3])
			score = float8in_internal(cols[3], NULL, "double precision",
									  cols[3]);
		old = MemoryContextSwitchTo(mcxt);
		items = lappend(items, ApexItemMake(cols[0], cols[1], cols[2], score,
											raw.data));
		MemoryContextSwitchTo(old);
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
