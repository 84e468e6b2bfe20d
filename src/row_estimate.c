/*-------------------------------------------------------------------------
 *
 * row_estimate.c
 *		  The planner's row estimates of apex_route and apex_route_many
 *		  (their support functions, SupportRequestRows).
 *
 * A set-returning function without an estimate is planned as returning its
 * ROWS, 1000 by default, whatever it is asked.  apex_route returns at most k
 * rows, and k is nearly always a constant of the query, so a join over it
 * planned for 1000 rows picks a hash join or a sort where a nested loop over
 * ten rows was right; apex_route_many returns at most k rows per question.
 * The support functions give the planner those numbers instead.
 *
 * When one runs, the planner has already simplified the call
 * (eval_const_expressions): named arguments are in their positions, omitted
 * ones are there as their defaults (Consts), constant expressions are
 * folded, and a custom plan's parameters are Consts.  So k is argument 1 of
 * a FuncExpr, a Const when the query fixes it.  What is not known at
 * planning (a generic plan's parameter, a subquery, a column of a lateral
 * join) is estimated as the default k: what a caller who does not choose
 * gets, and the most common value.
 *
 * The numbers follow plan.c: a null k is the default, k out of its range
 * is clamped to it (the call itself fails), a null question is not asked and
 * gives no rows.  A question refused for its text (blank, too long) is still
 * counted: that is a rarity not worth reading every question at planning.
 *
 * IDENTIFICATION
 *		  src/row_estimate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/primnodes.h"
#include "nodes/supportnodes.h"
#include "utils/array.h"
#include "utils/selfuncs.h"

#include "plan.h"

PG_FUNCTION_INFO_V1(apex_route_rows);
PG_FUNCTION_INFO_V1(apex_route_many_rows);

/*
 * k of a call: argument 1 when it is a constant, clamped to what the call
 * accepts; the default otherwise.
 */
static double
apex_estimate_k(List *args)
{
	Node	   *arg = (Node *) lsecond(args);
	int32		k;

	if (!IsA(arg, Const))
		return APEX_DEFAULT_K;	/* not known at planning */
	if (((Const *) arg)->constisnull)
		return APEX_DEFAULT_K;	/* plan.c reads a null k as the default */
	k = DatumGetInt32(((Const *) arg)->constvalue);
	return Min(Max(k, 1), APEX_MAX_K);
}

/*
 * The questions apex_route_many will ask: the non-null elements of a
 * constant array; for an array built at run time, the planner's own guess
 * for an array's length, as for unnest (an ARRAY[...] of its elements, 10
 * otherwise).
 */
static double
apex_estimate_questions(Node *arg)
{
	ArrayType  *array;
	int			n;
	bits8	   *bitmap;
	int			asked = 0;

	if (!IsA(arg, Const))
		return estimate_array_length(arg);
	if (((Const *) arg)->constisnull)
		return 0;				/* the call fails */
	array = DatumGetArrayTypeP(((Const *) arg)->constvalue);
	n = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	bitmap = ARR_NULLBITMAP(array);
	if (bitmap == NULL)
		return n;
	for (int i = 0; i < n; i++)
		if (bitmap[i / 8] & (1 << (i % 8)))
			asked++;
	return asked;
}

/*
 * The call whose rows the planner asks for, or NULL for every other request
 * (left to the planner) and for a call not simplified as described above:
 * its arguments would not be in their places, so ROWS stands.
 */
static FuncExpr *
apex_rows_request(FunctionCallInfo fcinfo, SupportRequestRows **req)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (!IsA(rawreq, SupportRequestRows))
		return NULL;
	*req = (SupportRequestRows *) rawreq;
	if (!IsA((*req)->node, FuncExpr) ||
		list_length(((FuncExpr *) (*req)->node)->args) < 2)
		return NULL;
	return (FuncExpr *) (*req)->node;
}

Datum
apex_route_rows(PG_FUNCTION_ARGS)
{
	SupportRequestRows *req;
	FuncExpr   *call = apex_rows_request(fcinfo, &req);

	if (call == NULL)
		PG_RETURN_POINTER(NULL);
	req->rows = apex_estimate_k(call->args);
	PG_RETURN_POINTER(req);
}

Datum
apex_route_many_rows(PG_FUNCTION_ARGS)
{
	SupportRequestRows *req;
	FuncExpr   *call = apex_rows_request(fcinfo, &req);

	if (call == NULL)
		PG_RETURN_POINTER(NULL);
	req->rows = apex_estimate_k(call->args) *
		apex_estimate_questions(linitial(call->args));
	PG_RETURN_POINTER(req);
}
