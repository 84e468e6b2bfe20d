/*-------------------------------------------------------------------------
 *
 * compat.c
 *		  Calls of the C functions through the SQL definitions of an older
 *		  version of the extension, before ALTER EXTENSION ... UPDATE.
 *
 * A new package replaces apex_router.so at once, but a database keeps the
 * SQL definitions of the version it installed until ALTER EXTENSION
 * apex_router UPDATE runs its upgrade scripts (apex_router--0.1.0--0.2.0.sql);
 * CREATE EXTENSION apex_router VERSION '0.1.0' makes them with the new
 * library too.  Such a definition names the same C symbol with the
 * arguments and result columns of its version: apex_route of 0.1.0 takes 7
 * arguments and returns 7 columns.  The C code reads its arguments by
 * position (plan.c), and an argument past PG_NARGS() lies past the end of
 * the call's argument array.
 *
 * pg_stat_statements keeps an entry point per version of its SQL definition
 * (pg_stat_statements_1_2, ...), each telling the shared code which shape
 * it serves.  Here the shapes nest: every released signature of a function
 * is a prefix of the next one (arguments are only ever added at the end,
 * with defaults, and result columns at the end), so a call through an older
 * definition is the current call with the arguments it lacks defaulted.
 * The function's entry point hands its call information to
 * ApexOldEntryCall, which recognizes a released older shape by the
 * definition's argument types and returns a copy of the call with every
 * argument up to FUNC_MAX_ARGS, those the definition lacks null (a null
 * argument is its default: plan.c reads it so).  An argument whose type
 * widened since (query_vector: real[] in 0.1.0, double precision[] in
 * 0.2.0) is cast as the new definition's caller would have it cast: an
 * array element by element through pg_cast's function.  The rows need
 * nothing: tuplestore_putvalues reads as many values as the caller's result
 * type has columns, and the old columns come first, in their order.
 *
 * A change that neither appends nor widens (an argument moved, or a type
 * with no cast) must instead give the new definition an entry point of its
 * own, as pg_stat_statements does, and the shapes below keep the old one
 * serving its own definition.  The upgrade test (test/sql/upgrade.sql) calls
 * 0.1.0's definitions with this library and compares their rows with the
 * updated ones'.
 *
 * IDENTIFICATION
 *		  src/compat.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "parser/parse_coerce.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "compat.h"

/* the SQL definitions of released versions that a C symbol still serves */
typedef struct ApexOldShape
{
	const char *symbol;
	const char *version;
	int			nargs;
	Oid			argtypes[8];
	/* an array argument's type in the current definition, when it widened */
	Oid			nowtypes[8];
} ApexOldShape;

static const ApexOldShape apex_old_shapes[] = {
	/* apex_route(query, k, sources, query_vector, rrf_k, timeout_ms, min_sources) */
	{"apex_route", "0.1.0", 7,
		{TEXTOID, INT4OID, TEXTARRAYOID, FLOAT4ARRAYOID, INT4OID, INT4OID, INT4OID},
	{[3] = FLOAT8ARRAYOID}},
	/* apex_router_cache_flush() */
	{"apex_router_cache_flush", "0.1.0", 0, {0}, {0}},
};

/*
 * An array of one element type as an array of another, element by element
 * through the cast's function (the dimensions and nulls kept).
 */
static Datum
apex_cast_array(Datum value, Oid from_type, Oid to_type)
{
	ArrayType  *array = DatumGetArrayTypeP(value);
	Oid			from_elem = get_element_type(from_type);
	Oid			to_elem = get_element_type(to_type);
	Oid			funcid = InvalidOid;
	int16		len;
	bool		byval;
	char		align;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (find_coercion_pathway(to_elem, from_elem, COERCION_EXPLICIT, &funcid) != COERCION_PATH_FUNC)
		elog(ERROR, "no cast function from %s to %s", format_type_be(from_elem), format_type_be(to_elem));
	get_typlenbyvalalign(from_elem, &len, &byval, &align);
	deconstruct_array(array, from_elem, len, byval, align, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (!nulls[i])
			elems[i] = OidFunctionCall1(funcid, elems[i]);
	}
	get_typlenbyvalalign(to_elem, &len, &byval, &align);
	return PointerGetDatum(construct_md_array(elems, nulls, ARR_NDIM(array), ARR_DIMS(array),
											  ARR_LBOUND(array), to_elem, len, byval, align));
}

/*
 * The call to run: fcinfo itself when it was made through the current
 * definition, or a copy with the missing arguments null when through a
 * released older one of symbol.  A definition with as many arguments as an
 * older one but other types is refused: reading them as the current
 * definition's would read them as what they are not.
 */
FunctionCallInfo
ApexOldEntryCall(FunctionCallInfo fcinfo, const char *symbol)
{
	Oid			fn_oid = fcinfo->flinfo ? fcinfo->flinfo->fn_oid : InvalidOid;
	bool		counted = false;
	FunctionCallInfo padded;
	Oid		   *argtypes;
	int			nargs;

	for (size_t i = 0; i < lengthof(apex_old_shapes); i++)
	{
		const ApexOldShape *shape = &apex_old_shapes[i];

		if (strcmp(shape->symbol, symbol) != 0 || shape->nargs != fcinfo->nargs)
			continue;
		counted = true;
		if (!OidIsValid(fn_oid))
			break;
		(void) get_func_signature(fn_oid, &argtypes, &nargs);
		if (nargs != shape->nargs ||
			(nargs > 0 && memcmp(argtypes, shape->argtypes, nargs * sizeof(Oid)) != 0))
			continue;

		padded = palloc0(SizeForFunctionCallInfo(FUNC_MAX_ARGS));
		memcpy(padded, fcinfo, SizeForFunctionCallInfo(fcinfo->nargs));
		padded->nargs = FUNC_MAX_ARGS;
		for (int a = fcinfo->nargs; a < FUNC_MAX_ARGS; a++)
			padded->args[a].isnull = true;
		for (int a = 0; a < shape->nargs; a++)
		{
			if (OidIsValid(shape->nowtypes[a]) && !padded->args[a].isnull)
				padded->args[a].value = apex_cast_array(padded->args[a].value,
														shape->argtypes[a],
														shape->nowtypes[a]);
		}
		return padded;
	}
	if (counted)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("function %s does not match apex_router's library",
						OidIsValid(fn_oid) ? format_procedure(fn_oid) : symbol),
				 errdetail("No version of apex_router declared it with these argument types."),
				 errhint("Run ALTER EXTENSION apex_router UPDATE.")));
	return fcinfo;
}
