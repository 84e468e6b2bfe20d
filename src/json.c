/*-------------------------------------------------------------------------
 *
 * json.c
 *		  Untrusted response bodies to JSON values, without ever throwing.
 *
 * Remote bodies are hostile input: a malformed one must become a leg
 * failure, not an ERROR that loses every other source's results.  PG 15's
 * jsonb_in() throws, so ApexJsonParse() uses the same JSON machinery
 * (common/jsonapi.h, which reports errors as return codes) in one pass of
 * the lexer: the parser checks the grammar and, as it goes, its semantic
 * actions build the JsonbValues jsonb_in's own would push (pushJsonbValue),
 * directly (keys sorted and made unique as pushJsonbValue does, without its
 * call and allocation per value), the scalar action setting aside numbers
 * numeric_in would throw on.  What remains, nesting deep enough to exhaust
 * the stack (the parser recurses), is found first by a scan of the bytes,
 * far cheaper than the lexer.  The result is the tree of JsonbValues
 * itself, not a jsonb: the decoders read it, the items keep their parts of
 * it, and only the rows a call returns become jsonb (JsonbValueToJsonb
 * makes of the tree the very jsonb jsonb_in makes of the text).  What jsonb
 * prints back passes again (the cache relies on it): numbers are limited by
 * their digits around the decimal point, which printing keeps, not by how
 * they are written.
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
#include "utils/numeric.h"

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
 * Nesting deeper than APEX_JSON_MAX_DEPTH, found before the parser recurses
 * into it (its recursion exhausts the stack, and that throws).  The brackets
 * are counted outside strings, which end where the lexer ends them: at a
 * quote after an even number of backslashes.  Up to the first token the
 * parser rejects, the depth counted is the parser's own; past it, the parser
 * stops anyway.  Strings, most of an answer, are skipped with memchr: far
 * cheaper than a second pass of the lexer.
 */
static bool
apex_json_too_deep(const char *text, int len)
{
	const char *p = text;
	const char *end = text + len;
	int			depth = 0;

	while (p < end)
	{
		char		c = *p++;

		if (c == '"')
		{
			const char *start = p;

			/* the closing quote: one not escaped by the backslash before it */
			for (;;)
			{
				const char *back;

				p = memchr(p, '"', end - p);
				if (p == NULL)
					return false;
				for (back = p; back > start && back[-1] == '\\'; back--)
					;
				p++;
				if ((p - 1 - back) % 2 == 0)
					break;
			}
		}
		else if (c == '[' || c == '{')
		{
			if (++depth > APEX_JSON_MAX_DEPTH)
				return true;
		}
		else if (c == ']' || c == '}')
			depth--;
	}
	return false;
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

/* jsonb's order of keys: shorter first, then bytewise */
static int
apex_json_key_cmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen > blen ? 1 : -1;
	return memcmp(a, b, alen);
}

/* pairs of an object in jsonb's order; of equal keys the one put last first */
static inline bool
apex_json_pair_before(const JsonbPair *x, const JsonbPair *y)
{
	int			c = apex_json_key_cmp(x->key.val.string.val, x->key.val.string.len,
									  y->key.val.string.val, y->key.val.string.len);

	return c < 0 || (c == 0 && x->order > y->order);
}

static int
apex_json_pair_cmp(const void *a, const void *b)
{
	return apex_json_pair_before(a, b) ? -1 : 1;
}

/*
 * Sort the n pairs of an object and keep one of each key, the last put,
 * as pushJsonbValue does (uniqueifyJsonbObject); returns how many remain.
 * Objects are mostly small: sorted by insertion, without a call per
 * comparison.
 */
static int
apex_json_unique_pairs(JsonbPair *pairs, int n)
{
	int			kept = 0;

	for (int i = 0; i < n; i++)
		pairs[i].order = i;
	if (n > 16)
		qsort(pairs, n, sizeof(JsonbPair), apex_json_pair_cmp);
	else
	{
		for (int i = 1; i < n; i++)
		{
			JsonbPair	pair = pairs[i];
			int			j = i;

			for (; j > 0 && apex_json_pair_before(&pair, &pairs[j - 1]); j--)
				pairs[j] = pairs[j - 1];
			pairs[j] = pair;
		}
	}
	for (int i = 0; i < n; i++)
	{
		if (kept > 0 &&
			apex_json_key_cmp(pairs[kept - 1].key.val.string.val,
							  pairs[kept - 1].key.val.string.len,
							  pairs[i].key.val.string.val,
							  pairs[i].key.val.string.len) == 0)
			continue;
		pairs[kept++] = pairs[i];
	}
	return kept;
}

/*
 * The tree being built by the parser's semantic actions: the values
 * jsonb_in's actions would push (pushJsonbValue), made directly.  An array
 * or object open at each level; the scan before the parse keeps the
 * levels within APEX_JSON_MAX_DEPTH.
 */
typedef struct ApexJsonLevel
{
	JsonbValue	value;			/* jbvArray or jbvObject, being filled */
	int			size;			/* elements or pairs allocated */
	char	   *key;			/* an object's key, awaiting its value */
} ApexJsonLevel;

typedef struct ApexJsonBuild
{
	ApexJsonLevel levels[APEX_JSON_MAX_DEPTH];
	int			depth;			/* levels open */
	JsonbValue *result;
	const char *problem;		/* a number numeric_in would throw on */
} ApexJsonBuild;

/* v (copied) as the open array's next element or object's next value */
static void
apex_json_add(ApexJsonBuild *build, JsonbValue *v)
{
	ApexJsonLevel *level;
	int			n;

	if (build->depth == 0)
	{
		build->result = palloc(sizeof(JsonbValue));
		*build->result = *v;
		return;
	}
	level = &build->levels[build->depth - 1];
	if (level->value.type == jbvArray)
	{
		n = level->value.val.array.nElems++;
		if (n == level->size)
		{
			level->size *= 2;
			level->value.val.array.elems = repalloc(level->value.val.array.elems,
													sizeof(JsonbValue) * level->size);
		}
		level->value.val.array.elems[n] = *v;
		return;
	}
	n = level->value.val.object.nPairs++;
	if (n == level->size)
	{
		level->size *= 2;
		level->value.val.object.pairs = repalloc(level->value.val.object.pairs,
												 sizeof(JsonbPair) * level->size);
	}
	level->value.val.object.pairs[n].key.type = jbvString;
	level->value.val.object.pairs[n].key.val.string.val = level->key;
	level->value.val.object.pairs[n].key.val.string.len = strlen(level->key);
	level->value.val.object.pairs[n].value = *v;
}

static void
apex_json_open(ApexJsonBuild *build, enum jbvType type)
{
	ApexJsonLevel *level;

	/*
	 * Cannot happen: the scan before the parse keeps the parser within the
	 * levels.  Were it wrong, an internal error beats writing past them.
	 */
	if (build->depth == APEX_JSON_MAX_DEPTH)
		elog(ERROR, "JSON nested deeper than checked");
	level = &build->levels[build->depth++];
	level->size = 4;
	level->key = NULL;
	level->value.type = type;
	if (type == jbvArray)
	{
		level->value.val.array.nElems = 0;
		level->value.val.array.rawScalar = false;
		level->value.val.array.elems = palloc(sizeof(JsonbValue) * level->size);
	}
	else
	{
		level->value.val.object.nPairs = 0;
		level->value.val.object.pairs = palloc(sizeof(JsonbPair) * level->size);
	}
}

static void
apex_json_object_start(void *arg)
{
	apex_json_open(arg, jbvObject);
}

static void
apex_json_array_start(void *arg)
{
	apex_json_open(arg, jbvArray);
}

static void
apex_json_close(ApexJsonBuild *build)
{
	JsonbValue *value = &build->levels[--build->depth].value;

	if (value->type == jbvObject)
		value->val.object.nPairs = apex_json_unique_pairs(value->val.object.pairs,
														  value->val.object.nPairs);
	apex_json_add(build, value);
}

static void
apex_json_object_end(void *arg)
{
	apex_json_close(arg);
}

static void
apex_json_array_end(void *arg)
{
	apex_json_close(arg);
}

static void
apex_json_field(void *arg, char *name, bool isnull pg_attribute_unused())
{
	ApexJsonBuild *build = arg;

	build->levels[build->depth - 1].key = name;
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
			/* one numeric_in would throw on ends the parse's use */
			if (build->problem == NULL)
				build->problem = apex_json_check_number(token, token + strlen(token));
			if (build->problem)
			{
				v.type = jbvNull;
				break;
			}
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
	if (build->depth == 0)
	{
		/* a document that is a scalar: jsonb's one-element raw array */
		apex_json_open(build, jbvArray);
		build->levels[0].value.val.array.rawScalar = true;
		apex_json_add(build, &v);
		apex_json_close(build);
	}
	else
		apex_json_add(build, &v);
}

/*
 * Parse text (len bytes in the database encoding, NUL-terminated) as JSON
 * into a tree of JsonbValues; on any problem return NULL and set *error to
 * a short reason.
 */
static JsonbValue *
apex_json_parse_text(char *text, int len, char **error)
{
	JsonLexContext *lex;
	JsonParseErrorType rc;
	ApexJsonBuild build;
	JsonSemAction sem = {
		.semstate = &build,
		.object_start = apex_json_object_start,
		.object_end = apex_json_object_end,
		.array_start = apex_json_array_start,
		.array_end = apex_json_array_end,
		.object_field_start = apex_json_field,
		.scalar = apex_json_scalar,
	};

	/* a jsonb's offsets and string lengths are 28 bits */
	if (len > JENTRY_OFFLENMASK)
	{
		*error = "The JSON is too large.";
		return NULL;
	}
	if (apex_json_too_deep(text, len))
	{
		*error = "The JSON is nested too deeply.";
		return NULL;
	}
	build.depth = 0;
	build.result = NULL;
	build.problem = NULL;
	lex = makeJsonLexContextCstringLen(text, len, GetDatabaseEncoding(), true);
	rc = pg_parse_json(lex, &sem);
	/* the number came before whatever the parser stopped at */
	if (build.problem)
	{
		*error = pstrdup(build.problem);
		return NULL;
	}
	if (rc != JSON_SUCCESS)
	{
		*error = psprintf("%s %s", APEX_JSON_INVALID, json_errdetail(rc, lex));
		return NULL;
	}
	return build.result;
}

/*
 * Parse data, len bytes of JSON a peer sent (UTF-8), into a tree of
 * JsonbValues in the database encoding (the accessors below read it, and
 * JsonbValueToJsonb makes it a jsonb: the one jsonb_in makes of the text);
 * on any problem return NULL and set *error to a short reason.  A character
 * the database encoding lacks, written as it is or as an escape, is such a
 * problem (ApexJsonErrorCause knows it).
 */
JsonbValue *
ApexJsonParse(const char *data, int len, char **error)
{
	char	   *text;

	*error = NULL;
	if (pg_encoding_verifymbstr(PG_UTF8, data, len) != len)
	{
		*error = "The response is not valid UTF-8.";
		return NULL;
	}
	/* verified UTF-8 (no NUL byte either) is the database's: parsed in place */
	if (GetDatabaseEncoding() == PG_UTF8)
		return apex_json_parse_text((char *) data, len, error);
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
JsonbValue *
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

/*
 * The accessors read a value of either form: a tree (jbvObject, jbvArray:
 * what ApexJsonParse makes, and what the builders below make) or a jsonb
 * container (jbvBinary).
 */

/* object[key] (len bytes), or NULL when object is not an object or lacks it */
JsonbValue *
ApexJsonGetLen(JsonbValue *object, const char *key, int len)
{
	if (object == NULL)
		return NULL;
	if (object->type == jbvObject)
	{
		/* its keys are in jsonb's order, once each */
		int			lo = 0;
		int			hi = object->val.object.nPairs;

		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;
			JsonbValue *k = &object->val.object.pairs[mid].key;
			int			c = apex_json_key_cmp(k->val.string.val, k->val.string.len,
											  key, len);

			if (c == 0)
				return &object->val.object.pairs[mid].value;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return NULL;
	}
	if (object->type == jbvBinary && JsonContainerIsObject(object->val.binary.data))
		return getKeyJsonValueFromContainer(object->val.binary.data, key, len, NULL);
	return NULL;
}

JsonbValue *
ApexJsonGet(JsonbValue *object, const char *key)
{
	return ApexJsonGetLen(object, key, strlen(key));
}

/* value, when it is an object; else NULL */
JsonbValue *
ApexJsonObject(JsonbValue *value)
{
	if (value && (value->type == jbvObject ||
				  (value->type == jbvBinary &&
				   JsonContainerIsObject(value->val.binary.data))))
		return value;
	return NULL;
}

/* value, when it is an array (not a scalar document's); else NULL */
JsonbValue *
ApexJsonArray(JsonbValue *value)
{
	if (value && ((value->type == jbvArray && !value->val.array.rawScalar) ||
				  (value->type == jbvBinary &&
				   JsonContainerIsArray(value->val.binary.data) &&
				   !JsonContainerIsScalar(value->val.binary.data))))
		return value;
	return NULL;
}

/* an array's elements, an object's pairs; 0 for NULL or a scalar */
int
ApexJsonLength(JsonbValue *array)
{
	if (array == NULL)
		return 0;
	if (array->type == jbvArray)
		return array->val.array.nElems;
	if (array->type == jbvObject)
		return array->val.object.nPairs;
	if (array->type == jbvBinary)
		return JsonContainerSize(array->val.binary.data);
	return 0;
}

/* array[i], or NULL past its end */
JsonbValue *
ApexJsonAt(JsonbValue *array, int i)
{
	if (array->type == jbvArray)
		return i < array->val.array.nElems ? &array->val.array.elems[i] : NULL;
	return getIthJsonbValueFromContainer(array->val.binary.data, i);
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

/* Any value back to JSON text (a peer's words, a neo4j cell as text) */
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
 * Building an object: the items' raw JSON is built so, from values the
 * decoders already hold, instead of being printed as text and parsed
 * again.  The result is a tree, made a jsonb only where one is needed.
 */
void
ApexJsonBeginObject(JsonbParseState **state)
{
	*state = NULL;
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
}

/* key (copied) and value, a scalar */
static void
apex_json_put(JsonbParseState **state, const char *key, JsonbValue *value)
{
	JsonbValue	k = {.type = jbvString};

	k.val.string.val = pstrdup(key);
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
	pushJsonbValue(state, WJB_VALUE, value);
}

/*
 * value: text, NULL is null; copied, as the key is (a row's values and
 * names die with their query's result)
 */
void
ApexJsonPutText(JsonbParseState **state, const char *key, const char *value)
{
	apex_json_put(state, key, ApexJsonTextValue(value ? pstrdup(value) : NULL));
}

/* value: a number as ApexJsonNumberValue makes it */
void
ApexJsonPutNumber(JsonbParseState **state, const char *key, double value)
{
	apex_json_put(state, key, ApexJsonNumberValue(value));
}

JsonbValue *
ApexJsonEndObject(JsonbParseState **state)
{
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* text as a JSON string; NULL is null */
JsonbValue *
ApexJsonTextValue(const char *text)
{
	JsonbValue *v = palloc(sizeof(JsonbValue));

	if (text == NULL)
	{
		v->type = jbvNull;
		return v;
	}
	v->type = jbvString;
	v->val.string.val = (char *) text;
	v->val.string.len = strlen(text);
	return v;
}

/*
 * value as a JSON number, as ApexJsonAppendNumber writes it (the shortest
 * text that reads back as the same double); NaN and infinity are null
 */
JsonbValue *
ApexJsonNumberValue(double value)
{
	JsonbValue *v = palloc(sizeof(JsonbValue));

	if (isnan(value) || isinf(value))
	{
		v->type = jbvNull;
		return v;
	}
	v->type = jbvNumeric;
	v->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
														 CStringGetDatum(float8out_internal(value)),
														 ObjectIdGetDatum(InvalidOid),
														 Int32GetDatum(-1)));
	return v;
}

/* an integer as a JSON number (what ApexJsonNumberValue makes of it) */
JsonbValue *
ApexJsonIntValue(int64 value)
{
	JsonbValue *v = palloc(sizeof(JsonbValue));

	v->type = jbvNumeric;
	v->val.numeric = int64_to_numeric(value);
	return v;
}

/*
 * An object of the n pairs (keys are jbvString; values anything, trees
 * too: this is how a tree goes into another without being copied), as
 * pushJsonbValue would make it: keys in jsonb's order, of a key put twice
 * the last value.  pairs becomes the object's.
 */
JsonbValue *
ApexJsonObjectOf(JsonbPair *pairs, int n)
{
	JsonbValue *object = palloc(sizeof(JsonbValue));

	object->type = jbvObject;
	object->val.object.nPairs = apex_json_unique_pairs(pairs, n);
	object->val.object.pairs = pairs;
	return object;
}

/* key as the key of a pair */
void
ApexJsonKey(JsonbPair *pair, const char *key)
{
	pair->key.type = jbvString;
	pair->key.val.string.val = (char *) key;
	pair->key.val.string.len = strlen(key);
}

/*
 * value as a tree: a container (jbvBinary) is read into one, anything else
 * is one already
 */
JsonbValue *
ApexJsonTree(JsonbValue *value)
{
	JsonbParseState *state = NULL;
	JsonbValue *array;

	if (value->type != jbvBinary)
		return value;
	/* pushJsonbValue reads a container given as an element */
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	pushJsonbValue(&state, WJB_ELEM, value);
	array = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return &array->val.array.elems[0];
}

/* a jsonb as a value (its root container) */
JsonbValue *
ApexJsonOfJsonb(Jsonb *jsonb)
{
	JsonbValue *v = palloc(sizeof(JsonbValue));

	v->type = jbvBinary;
	v->val.binary.data = &jsonb->root;
	v->val.binary.len = VARSIZE(jsonb) - VARHDRSZ;
	return v;
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
