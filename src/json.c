/*-------------------------------------------------------------------------
 *
 * json.c
 *		  Turn untrusted response bodies into jsonb without ever throwing.
 *
 * Remote bodies are hostile input: a malformed one must become a leg
 * failure, not an ERROR that loses every other source's results.  PG 15's
 * jsonb_in() throws, so ApexJsonParse() first checks the body with the
 * same JSON machinery (common/jsonapi.h, which reports errors as return
 * codes): a pass over the lexer's tokens rejects what the parser and
 * jsonb_in would still throw on (nesting deep enough to exhaust the stack:
 * the parser recurses; numbers beyond what numeric_in takes), then the
 * parser checks the grammar.  Only a body that passed is handed to
 * jsonb_in().  What jsonb prints back passes again (the cache relies on
 * it): numbers are limited by their digits around the decimal point, which
 * printing keeps, not by how they are written.
 *
 * IDENTIFICATION
 *		  src/json.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"

#include "json.h"

#define APEX_JSON_MAX_DEPTH 64
/* the start of the parser's messages; what follows quotes the text */
#define APEX_JSON_INVALID "The response is not valid JSON."

/* digits before, and after, the decimal point once the exponent is applied */
#define APEX_JSON_MAX_DIGITS 1000
#define APEX_JSON_NUMBER_RANGE "The JSON holds a number out of range."

/* NULL when numeric_in takes the number token [start, end), else why not */
static const char *
apex_json_check_number(const char *start, const char *end)
{
	const char *p = start + (*start == '-');
	long		before = 0;
	long		after = 0;
	long		exponent = 0;

	for (; p < end && isdigit((unsigned char) *p); p++)
		before++;
	if (p < end && *p == '.')
		for (p++; p < end && isdigit((unsigned char) *p); p++)
			after++;
	if (p < end)
	{
		/* "e", sign and digits: strtol stops at the token's end */
		errno = 0;
		exponent = strtol(p + 1, NULL, 10);
		if (errno == ERANGE || exponent > APEX_JSON_MAX_DIGITS ||
			exponent < -APEX_JSON_MAX_DIGITS)
			return APEX_JSON_NUMBER_RANGE;
	}
	if (before + exponent > APEX_JSON_MAX_DIGITS ||
		after - exponent > APEX_JSON_MAX_DIGITS)
		return APEX_JSON_NUMBER_RANGE;
	return NULL;
}

/*
 * What the parser or jsonb_in would throw on, found by the lexer alone (it
 * does not recurse); NULL when there is nothing, or when the text is not
 * JSON (the parser then says why).
 */
static const char *
apex_json_check_tokens(char *text, int len)
{
	JsonLexContext *lex = makeJsonLexContextCstringLen(text, len,
													   GetDatabaseEncoding(),
													   false);
	int			depth = 0;

	while (json_lex(lex) == JSON_SUCCESS && lex->token_type != JSON_TOKEN_END)
	{
		const char *problem = NULL;

		if (lex->token_type == JSON_TOKEN_OBJECT_START ||
			lex->token_type == JSON_TOKEN_ARRAY_START)
		{
			if (++depth > APEX_JSON_MAX_DEPTH)
				problem = "The JSON is nested too deeply.";
		}
		else if (lex->token_type == JSON_TOKEN_OBJECT_END ||
				 lex->token_type == JSON_TOKEN_ARRAY_END)
			depth--;
		else if (lex->token_type == JSON_TOKEN_NUMBER)
			problem = apex_json_check_number(lex->token_start,
											 lex->token_terminator);
		if (problem)
			return problem;
	}
	return NULL;
}

/*
 * Parse data as JSON into a jsonb; on any problem return NULL and set
 * *error to a short reason.
 */
Jsonb *
ApexJsonParse(const char *data, int len, char **error)
{
	JsonLexContext *lex;
	JsonParseErrorType rc;
	const char *problem;
	char	   *text;

	*error = NULL;
	if (!pg_verify_mbstr(PG_UTF8, data, len, true))
	{
		*error = "The response is not valid UTF-8.";
		return NULL;
	}
	/* jsonb_in wants the server encoding and a NUL-terminated string */
	text = pg_any_to_server(data, len, PG_UTF8);
	if (text == data)
		text = pnstrdup(data, len);
	len = strlen(text);

	if ((problem = apex_json_check_tokens(text, len)))
	{
		*error = pstrdup(problem);
		return NULL;
	}
	lex = makeJsonLexContextCstringLen(text, len, GetDatabaseEncoding(), true);
	rc = pg_parse_json(lex, &nullSemAction);
	if (rc != JSON_SUCCESS)
	{
		*error = psprintf("%s %s", APEX_JSON_INVALID, json_errdetail(rc, lex));
		return NULL;
	}
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

/*
 * An ApexJsonParse() error split into our words (the result) and, in
 * *remote, the parser's detail, if any: the parser quotes the token it
 * stopped at, so its detail holds whatever the text held.
 */
char *
ApexJsonErrorCause(char *error, ApexRemote *remote)
{
	size_t		len = strlen(APEX_JSON_INVALID);

	if (strncmp(error, APEX_JSON_INVALID " ", len + 1) != 0)
		return error;
	remote->text = error + len + 1;
	remote->from = "The JSON parser";
	return pstrdup(APEX_JSON_INVALID);
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
