/*-------------------------------------------------------------------------
 *
 * json.c
 *		  Turn untrusted response bodies into jsonb without ever throwing.
 *
 * Remote bodies are hostile input: a malformed one must become a leg
 * failure, not an ERROR that loses every other source's results.  PG 15's
 * jsonb_in() throws, so ApexJsonParse() uses the same JSON machinery
 * (common/jsonapi.h, which reports errors as return codes) in two passes:
 * one over the lexer's tokens rejects what the parser would still throw
 * on (nesting deep enough to exhaust the stack: the parser recurses;
 * numbers beyond what numeric_in takes), then the parser checks the
 * grammar and, as it goes, builds the jsonb with the calls jsonb_in's own
 * semantic actions make (pushJsonbValue).  Checking with the parser first
 * and then handing the text to jsonb_in would lex it twice more: JSON was
 * a fifth of a cache hit's CPU.  What jsonb prints back passes again (the
 * cache relies on it): numbers are limited by their digits around the
 * decimal point, which printing keeps, not by how they are written.
 *
 * A peer's body is UTF-8; in a database of another encoding it is converted
 * first, its \u escapes beyond ASCII spelled out so that they meet the same
 * conversion (peer_encoding.c), because the parser turns such an escape into
 * the database encoding with a function that throws when it cannot.
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
#include "peer_encoding.h"

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

	/* a jsonb's offsets and string lengths are 28 bits */
	if (len > JENTRY_OFFLENMASK)
		return "The JSON is too large.";
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

/* The four hex digits at p (avail bytes there) into *cp: 6, else 0 */
static int
apex_json_hex4(const char *p, int avail, pg_wchar *cp)
{
	*cp = 0;
	if (avail < 4)
		return 0;
	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];

		if (!isxdigit((unsigned char) c))
			return 0;
		*cp = *cp * 16 + (isdigit((unsigned char) c) ? c - '0'
						  : (tolower((unsigned char) c) - 'a' + 10));
	}
	return 6;
}

/*
 * The JSON escapes \uXXXX of characters beyond ASCII in text (len bytes of
 * UTF-8), as the characters themselves, in UTF-8; the other escapes stay.
 * PostgreSQL's parser turns such an escape into the database encoding and
 * throws when it cannot; spelled out, the character meets the one
 * conversion every character of the body meets (ApexFromPeer).  An escape
 * the parser would reject (a lone surrogate) stays, and it rejects it.  A
 * backslash outside a string is a syntax error wherever it goes, so the
 * text is not tokenised: escapes are read in pairs from every backslash.
 */
static char *
apex_json_spell_escapes(const char *text, int len, int *outlen)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < len; i++)
	{
		pg_wchar	cp = 0;
		int			used = 0;
		unsigned char utf8[MAX_UNICODE_EQUIVALENT_STRING + 1];

		if (text[i] != '\\' || i + 1 >= len)
		{
			appendStringInfoChar(&buf, text[i]);
			continue;
		}
		if (text[i + 1] == 'u' && (used = apex_json_hex4(text + i + 2, len - i - 2, &cp)))
		{
			pg_wchar	low;

			if (is_utf16_surrogate_first(cp) &&
				i + 11 < len && text[i + 6] == '\\' && text[i + 7] == 'u' &&
				apex_json_hex4(text + i + 8, len - i - 8, &low) &&
				is_utf16_surrogate_second(low))
			{
				cp = surrogate_pair_to_codepoint(cp, low);
				used = 12;
			}
			if (cp > 0x7F && !is_utf16_surrogate_first(cp) &&
				!is_utf16_surrogate_second(cp))
			{
				unicode_to_utf8(cp, utf8);
				appendBinaryStringInfo(&buf, (char *) utf8, pg_utf_mblen(utf8));
				i += used - 1;
				continue;
			}
		}
		/* the escape as it was: its two first bytes, the rest follows */
		appendBinaryStringInfo(&buf, text + i, 2);
		i++;
	}
	*outlen = buf.len;
	return buf.data;
}

/* The jsonb being built by the parser's semantic actions */
typedef struct ApexJsonBuild
{
	JsonbParseState *state;
	JsonbValue *result;
} ApexJsonBuild;

static void
apex_json_push(void *arg, JsonbIteratorToken token, JsonbValue *value)
{
	ApexJsonBuild *build = arg;

	build->result = pushJsonbValue(&build->state, token, value);
}

static void
apex_json_object_start(void *arg)
{
	apex_json_push(arg, WJB_BEGIN_OBJECT, NULL);
}

static void
apex_json_object_end(void *arg)
{
	apex_json_push(arg, WJB_END_OBJECT, NULL);
}

static void
apex_json_array_start(void *arg)
{
	apex_json_push(arg, WJB_BEGIN_ARRAY, NULL);
}

static void
apex_json_array_end(void *arg)
{
	apex_json_push(arg, WJB_END_ARRAY, NULL);
}

static void
apex_json_field(void *arg, char *name, bool isnull pg_attribute_unused())
{
	JsonbValue	key = {.type = jbvString};

	key.val.string.val = name;
	key.val.string.len = strlen(name);
	apex_json_push(arg, WJB_KEY, &key);
}

/* A scalar: an array's element, an object's value, or the whole document */
static void
apex_json_scalar(void *arg, char *token, JsonTokenType type)
{
	ApexJsonBuild *build = arg;
	JsonbValue	v;

	switch (type)
	{
		case JSON_TOKEN_STRING:
			v.type = jbvString;
			v.val.string.val = token;
			v.val.string.len = strlen(token);
			break;
		case JSON_TOKEN_NUMBER:
			/* the token pass checked that numeric_in takes it */
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																CStringGetDatum(token),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1)));
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			v.type = jbvBool;
			v.val.boolean = type == JSON_TOKEN_TRUE;
			break;
		default:
			v.type = jbvNull;
			break;
	}
	if (build->state == NULL)
	{
		/* a document that is a scalar: jsonb's one-element raw array */
		JsonbValue	array = {.type = jbvArray};

		array.val.array.rawScalar = true;
		apex_json_push(build, WJB_BEGIN_ARRAY, &array);
		apex_json_push(build, WJB_ELEM, &v);
		apex_json_push(build, WJB_END_ARRAY, NULL);
	}
	else
		apex_json_push(build, build->state->contVal.type == jbvArray
					   ? WJB_ELEM : WJB_VALUE, &v);
}

/*
 * Parse text (len bytes in the database encoding, NUL-terminated) as JSON
 * into a jsonb; on any problem return NULL and set *error to a short
 * reason.
 */
static Jsonb *
apex_json_parse_text(char *text, int len, char **error)
{
	JsonLexContext *lex;
	JsonParseErrorType rc;
	const char *problem;
	ApexJsonBuild build = {0};
	JsonSemAction sem = {
		.semstate = &build,
		.object_start = apex_json_object_start,
		.object_end = apex_json_object_end,
		.array_start = apex_json_array_start,
		.array_end = apex_json_array_end,
		.object_field_start = apex_json_field,
		.scalar = apex_json_scalar,
	};

	if ((problem = apex_json_check_tokens(text, len)))
	{
		*error = pstrdup(problem);
		return NULL;
	}
	lex = makeJsonLexContextCstringLen(text, len, GetDatabaseEncoding(), true);
	rc = pg_parse_json(lex, &sem);
	if (rc != JSON_SUCCESS)
	{
		*error = psprintf("%s %s", APEX_JSON_INVALID, json_errdetail(rc, lex));
		return NULL;
	}
	return JsonbValueToJsonb(build.result);
}

/*
 * Parse data, len bytes of JSON a peer sent (UTF-8), into a jsonb in the
 * database encoding; on any problem return NULL and set *error to a short
 * reason.  A character the database encoding lacks, written as it is or
 * as an escape, is such a problem (ApexJsonErrorCause knows it).
 */
Jsonb *
ApexJsonParse(const char *data, int len, char **error)
{
	char	   *text;

	*error = NULL;
	if (pg_encoding_verifymbstr(PG_UTF8, data, len) != len)
	{
		*error = "The response is not valid UTF-8.";
		return NULL;
	}
	/* SQL_ASCII too: its parser would throw on any escape beyond ASCII */
	if (GetDatabaseEncoding() != PG_UTF8)
		data = apex_json_spell_escapes(data, len, &len);
	if (ApexFromPeer(data, len, &text) != APEX_PEER_TEXT_OK)
	{
		*error = ApexPeerUntranslatable();
		return NULL;
	}
	return apex_json_parse_text(text, strlen(text), error);
}

/*
 * Parse text, JSON in the database encoding (an option's value, what we
 * wrote ourselves), as ApexJsonParse() does a peer's.  An escape of a
 * character the database encoding lacks throws, as jsonb_in does.
 */
Jsonb *
ApexJsonParseLocal(const char *text, int len, char **error)
{
	*error = NULL;
	if (!pg_verifymbstr(text, len, true))
	{
		*error = "The text is not valid in the database encoding.";
		return NULL;
	}
	return apex_json_parse_text(pnstrdup(text, len), len, error);
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

	if (strncmp(error, APEX_PEER_UNTRANSLATABLE_START,
				strlen(APEX_PEER_UNTRANSLATABLE_START)) == 0)
		remote->sqlerrcode = ERRCODE_UNTRANSLATABLE_CHARACTER;
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

/*
 * Building an object: the items' raw JSON and the payloads are built so,
 * from values the decoders already hold, instead of being printed as text
 * and parsed again for the result's jsonb column.
 */
void
ApexJsonBeginObject(JsonbParseState **state)
{
	*state = NULL;
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
}

static void
apex_json_key(JsonbParseState **state, const char *key)
{
	JsonbValue	k = {.type = jbvString};

	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
}

/* value: a scalar, or an array or object (jbvBinary); NULL is null */
void
ApexJsonPutValue(JsonbParseState **state, const char *key, JsonbValue *value)
{
	JsonbValue	null = {.type = jbvNull};

	apex_json_key(state, key);
	pushJsonbValue(state, WJB_VALUE, value ? value : &null);
}

/*
 * key's value: an object built in place, key by key, up to
 * ApexJsonEndNested (not built apart and then copied in)
 */
void
ApexJsonBeginNested(JsonbParseState **state, const char *key)
{
	apex_json_key(state, key);
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
}

void
ApexJsonEndNested(JsonbParseState **state)
{
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* value: text, NULL is null */
void
ApexJsonPutText(JsonbParseState **state, const char *key, const char *value)
{
	JsonbValue	v = {.type = jbvString};

	if (value == NULL)
	{
		ApexJsonPutValue(state, key, NULL);
		return;
	}
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	ApexJsonPutValue(state, key, &v);
}

/*
 * value: a number as ApexJsonAppendNumber writes it (the shortest text that
 * reads back as the same double; NaN and infinity are null).
 */
void
ApexJsonPutNumber(JsonbParseState **state, const char *key, double value)
{
	JsonbValue	v = {.type = jbvNumeric};

	if (isnan(value) || isinf(value))
	{
		ApexJsonPutValue(state, key, NULL);
		return;
	}
	v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
														CStringGetDatum(float8out_internal(value)),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
	ApexJsonPutValue(state, key, &v);
}

/* value: a whole jsonb, its root put as the key's value */
void
ApexJsonPutJsonb(JsonbParseState **state, const char *key, Jsonb *value)
{
	JsonbValue	v = {.type = jbvBinary};

	v.val.binary.data = &value->root;
	v.val.binary.len = VARSIZE(value) - VARHDRSZ;
	ApexJsonPutValue(state, key, &v);
}

Jsonb *
ApexJsonEndObject(JsonbParseState **state)
{
	return JsonbValueToJsonb(pushJsonbValue(state, WJB_END_OBJECT, NULL));
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
