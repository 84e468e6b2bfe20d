/*-------------------------------------------------------------------------
 *
 * json.c
 *		  Turn untrusted response bodies into jsonb without ever throwing.
 *
 * Remote bodies are hostile input: a malformed one must become a leg
 * failure, not an ERROR that loses every other source's results.  PG 15's
 * jsonb_in() throws, so ApexJsonParse() first runs the same JSON parser
 * (common/jsonapi.h, which reports errors as return codes) over the body,
 * with semantic actions that also catch what jsonb_in would still reject
 * (nesting deeper than we accept, numbers beyond numeric's range).  Only a
 * body that passed is handed to jsonb_in().
 *
 * IDENTIFICATION
 *		  src/json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdlib.h>

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"

#include "json.h"

#define APEX_JSON_MAX_DEPTH 64
/* digits in a number token; numeric_in takes far more, no API needs more */
#define APEX_JSON_MAX_NUMBER 64

typedef struct ApexJsonCheck
{
	int			depth;
	const char *problem;		/* first reason jsonb_in would throw */
} ApexJsonCheck;

static void
apex_json_check_push(void *state)
{
	ApexJsonCheck *check = state;

	if (++check->depth > APEX_JSON_MAX_DEPTH && check->problem == NULL)
		check->problem = "JSON nested too deeply";
}

static void
apex_json_check_pop(void *state)
{
	((ApexJsonCheck *) state)->depth--;
}

static void
apex_json_check_scalar(void *state, char *token, JsonTokenType type)
{
	ApexJsonCheck *check = state;

	const char *exponent;

	if (type != JSON_TOKEN_NUMBER || check->problem != NULL)
		return;
	if (strlen(token) > APEX_JSON_MAX_NUMBER)
		check->problem = "JSON number too long";
	/* numeric_in rejects exponents beyond +-1000 (NUMERIC_MAX_PRECISION) */
	exponent = strpbrk(token, "eE");
	if (exponent && labs(strtol(exponent + 1, NULL, 10)) > 1000)
		check->problem = "JSON number out of range";
}

/*
 * Parse data as JSON into a jsonb; on any problem return NULL and set
 * *error to a short reason.
 */
Jsonb *
ApexJsonParse(const char *data, int len, char **error)
{
	JsonLexContext *lex;
	JsonSemAction sem = {0};
	ApexJsonCheck check = {0};
	JsonParseErrorType rc;
	char	   *text;

	*error = NULL;
	if (!pg_verify_mbstr(PG_UTF8, data, len, true))
	{
		*error = "response is not valid UTF-8";
		return NULL;
	}
	/* jsonb_in wants the server encoding and a NUL-terminated string */
	text = pg_any_to_server(data, len, PG_UTF8);
	if (text == data)
		text = pnstrdup(data, len);
	len = strlen(text);

	sem.semstate = &check;
	sem.object_start = apex_json_check_push;
	sem.object_end = apex_json_check_pop;
	sem.array_start = apex_json_check_push;
	sem.array_end = apex_json_check_pop;
	sem.scalar = apex_json_check_scalar;
	lex = makeJsonLexContextCstringLen(text, len, GetDatabaseEncoding(), true);
	rc = pg_parse_json(lex, &sem);
	if (rc != JSON_SUCCESS)
	{
		*error = psprintf("invalid JSON: %s", json_errdetail(rc, lex));
		return NULL;
	}
	if (check.problem)
	{
		*error = pstrdup(check.problem);
		return NULL;
	}
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

/* object[key], or NULL when object is not an object or lacks the key */
JsonbValue *
ApexJsonGet(JsonbContainer *object, const char *key)
{
	if (object == NULL || !JsonContainerIsObject(object))
		return NULL;
	return getKeyJsonValueFromContainer(object, key, strlen(key), NULL);
}

JsonbContainer *
ApexJsonObject(JsonbValue *value)
{
	if (value && value->type == jbvBinary &&
		JsonContainerIsObject(value->val.binary.data))
		return value->val.binary.data;
	return NULL;
}

JsonbContainer *
ApexJsonArray(JsonbValue *value)
{
	if (value && value->type == jbvBinary &&
		JsonContainerIsArray(value->val.binary.data) &&
		!JsonContainerIsScalar(value->val.binary.data))
		return value->val.binary.data;
	return NULL;
}

int
ApexJsonLength(JsonbContainer *array)
{
	return array ? JsonContainerSize(array) : 0;
}

JsonbValue *
ApexJsonAt(JsonbContainer *array, int i)
{
	return getIthJsonbValueFromContainer(array, i);
}

/* A string's or number's text (ids may be either); NULL otherwise */
char *
ApexJsonScalarText(JsonbValue *value)
{
	if (value == NULL)
		return NULL;
	if (value->type == jbvString)
		return pnstrdup(value->val.string.val, value->val.string.len);
	if (value->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(value->val.numeric)));
	return NULL;
}

bool
ApexJsonNumber(JsonbValue *value, double *result)
{
	if (value == NULL || value->type != jbvNumeric)
		return false;
	*result = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
												 NumericGetDatum(value->val.numeric)));
	return true;
}

/* Any value back to JSON text (used for raw items in payloads) */
char *
ApexJsonText(JsonbValue *value)
{
	if (value == NULL)
		return pstrdup("null");
	if (value->type == jbvBinary)
		return JsonbToCString(NULL, value->val.binary.data, value->val.binary.len);
	return JsonbToCString(NULL, &JsonbValueToJsonb(value)->root, 0);
}

/* JSON has no NaN or infinity: those become null */
void
ApexJsonAppendNumber(StringInfo buf, double value)
{
	if (isnan(value) || isinf(value))
		appendStringInfoString(buf, "null");
	else
		appendStringInfoString(buf, float8out_internal(value));
}
