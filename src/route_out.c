/*-------------------------------------------------------------------------
 *
 * route_out.c
 *		  What a call hands back: one WARNING per failed leg (an ERROR in
 *		  strict mode), one per leg that skipped items, and the rows.
 *
 * apex_route reports its legs as they are; apex_route_many reports the
 * legs of each question with the question's ordinal (its 1-based position
 * in queries) in the message, and gives its rows that ordinal as their
 * first column.
 *
 * IDENTIFICATION
 *		  src/route_out.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "fusion.h"
#include "route_out.h"

/*
 * A failed leg's WARNING, an ERROR in strict mode.  As postgres_fdw
 * reports a remote error: the primary message names the source (what it is
 * to the call: "source", "reranker"), with the question's ordinal when > 0;
 * the failure's SQLSTATE is the errcode (a remote PostgreSQL error's own);
 * the detail gives the cause in our words and then what the peer said,
 * shown or withheld by ApexRemoteDetail() (redact.c explains why), in the
 * words worked out once for the partial column and apex_explain too
 * (ApexLegWords); the hint is a PostgreSQL peer's, else hint (or none).
 */
void
ApexReportLegFailure(ApexLeg *leg, const char *what, int ordinal, bool strict,
					 const char *hint)
{
	ApexLegWords(leg);
	if (leg->words_hint)
		hint = leg->words_hint;
	ereport(strict ? ERROR : WARNING,
			(errcode(leg->sqlerrcode),
			 ordinal > 0
			 ? errmsg("%s \"%s\" failed for question %d", what,
					  leg->source->name, ordinal)
			 : errmsg("%s \"%s\" failed", what, leg->source->name),
			 errdetail("%s", leg->words_client),
			 leg->words_log ? errdetail_log("%s", leg->words_log) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/*
 * One WARNING per failed leg (ApexReportLegFailure); in strict mode (the
 * call's, ApexPlan) the first failure is an ERROR.
 */
void
ApexReportFailures(List *legs, int ordinal, bool strict)
{
	ListCell   *lc;

	foreach(lc, legs)
	{
		ApexLeg    *leg = lfirst(lc);

		if (leg->error != NULL)
			ApexReportLegFailure(leg, "source", ordinal, strict, leg->hint);
	}
}

/*
 * One WARNING per leg that skipped items of its answer (ApexLegSkipped): a
 * warning even in strict mode, since the source answered and its other
 * items are used.
 */
void
ApexReportSkipped(List *legs, int ordinal)
{
	ListCell   *lc;

	foreach(lc, legs)
	{
		ApexLeg    *leg = lfirst(lc);

		if (leg->error != NULL || leg->skipped == 0)
			continue;
		if (ordinal > 0)
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg_plural("source \"%s\": %d item skipped for question %d",
								   "source \"%s\": %d items skipped for question %d",
								   leg->skipped, leg->source->name, leg->skipped,
								   ordinal),
					 errdetail("%s", leg->skipped_why)));
		else
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg_plural("source \"%s\": %d item skipped",
								   "source \"%s\": %d items skipped",
								   leg->skipped, leg->source->name, leg->skipped),
					 errdetail("%s", leg->skipped_why)));
	}
}

/* How many of the legs answered */
int
ApexLegsAnswered(List *legs)
{
	ListCell   *lc;
	int			answered = 0;

	foreach(lc, legs)
		answered += ((ApexLeg *) lfirst(lc))->error == NULL;
	return answered;
}

/*
 * The rows, ranked from 1; with an ordinal > 0 (a batch's) first; partial
 * (trace.c) and routing (plan.c: what intent routing chose) in each, or
 * NULL
 */
void
ApexEmitRows(ReturnSetInfo *rsinfo, List *rows, int ordinal, Jsonb *partial,
			 Jsonb *routing)
{
	ListCell   *lc;
	int			first = ordinal > 0 ? 1 : 0;

	foreach(lc, rows)
	{
		ApexRow    *row = lfirst(lc);
		Datum		values[10];
		bool		nulls[10] = {0};
		Datum	   *names = palloc(sizeof(Datum) * Max(list_length(row->found_in), 1));
		ListCell   *nc;

		foreach(nc, row->found_in)
			names[foreach_current_index(nc)] = CStringGetTextDatum(lfirst(nc));
		values[0] = Int32GetDatum(ordinal);
		values[first + 0] = Int32GetDatum(foreach_current_index(lc) + 1);
		values[first + 1] = CStringGetTextDatum(row->id);
		values[first + 2] = row->title ? CStringGetTextDatum(row->title) : (Datum) 0;
		nulls[first + 2] = row->title == NULL;
		values[first + 3] = row->content ? CStringGetTextDatum(row->content) : (Datum) 0;
		nulls[first + 3] = row->content == NULL;
		values[first + 4] = Float8GetDatum(row->score);
		values[first + 5] = PointerGetDatum(construct_array(names, list_length(row->found_in),
															TEXTOID, -1, false, TYPALIGN_INT));
		values[first + 6] = JsonbPGetDatum(row->payload);
		values[first + 7] = PointerGetDatum(partial);
		nulls[first + 7] = partial == NULL;
		values[first + 8] = PointerGetDatum(routing);
		nulls[first + 8] = routing == NULL;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}
