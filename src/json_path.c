/*-------------------------------------------------------------------------
 *
 * json_path.c
 *		  Qdrant's payload key paths, read from a jsonb payload.
 *
 * A field option of a qdrant source (id_field, title_field, content_field)
 * names a payload value as Qdrant names one in filters and payload
 * indexes: keys joined by ".", an array's element by "[N]" (from 0), a key
 * made of other characters than letters, digits, "_" and "-" written in
 * double quotes (which cannot hold '"' or '\'), so "metadata.doc_id" is
 * the doc_id inside metadata and "\"metadata.doc_id\"" the key with a dot.
 * Letters and digits beyond ASCII are taken as they are (any byte above
 * 0x7F), where Qdrant takes Unicode's alphanumerics only.
 *
 * Qdrant's "[]" (every element of an array, flattened) is refused: a field
 * names one value, and taking the first of many would hand a document the
 * id, or the title, of whichever came first.
 *
 * IDENTIFICATION
 *		  src/json_path.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "json.h"

#define APEX_PATH_SYNTAX "A field is a Qdrant key path: keys joined by \".\", \"[N]\" for an array's element, a key with characters other than letters, digits, \"_\" and \"-\" in double quotes."
#define APEX_PATH_WILDCARD "A field names one value, and \"[]\" takes every element of an array: pick one with \"[N]\"."

/* A character of an unquoted key */
static bool
apex_path_raw_char(char c)
{
	return isalnum((unsigned char) c) || c == '_' || c == '-' ||
		(unsigned char) c > 0x7F;
}

/*
 * The key at *p (unquoted or quoted): its text and length; *p moves past
 * it.  false when there is no key there.
 */
static bool
apex_path_key(const char **p, const char **key, int *len)
{
	const char *s = *p;

	if (*s == '"')
	{
		const char *end = s + 1 + strcspn(s + 1, "\"\\");

		if (*end != '"')
			return false;
		*key = s + 1;
		*len = end - *key;
		*p = end + 1;
		return true;
	}
	while (apex_path_raw_char(*s))
		s++;
	if (s == *p)
		return false;
	*key = *p;
	*len = s - *p;
	*p = s;
	return true;
}

/*
 * Walk path from object (which may be NULL).  Returns NULL when the path is
 * well formed, with the value it names in *value (NULL when missing: a key
 * the object lacks, an index past the array's end, or a step into a value
 * that is not an object or array); else why the path is not one.
 */
static const char *
apex_path_walk(JsonbValue *object, const char *path, JsonbValue **value)
{
	const char *p = path;
	const char *key;
	int			len;
	JsonbValue *at = NULL;

	*value = NULL;
	if (!apex_path_key(&p, &key, &len))
		return APEX_PATH_SYNTAX;
	at = ApexJsonGetLen(object, key, len);
	while (*p)
	{
		if (*p == '.')
		{
			p++;
			if (!apex_path_key(&p, &key, &len))
				return APEX_PATH_SYNTAX;
			at = ApexJsonGetLen(at, key, len);
		}
		else if (*p == '[')
		{
			JsonbValue *array;
			long		i = 0;

			p++;
			if (*p == ']')
				return APEX_PATH_WILDCARD;
			if (!isdigit((unsigned char) *p))
				return APEX_PATH_SYNTAX;
			/* past INT_MAX no array is that long: keep counting, stay there */
			for (; isdigit((unsigned char) *p); p++)
				i = Min(i * 10 + (*p - '0'), (long) PG_INT32_MAX);
			if (*p++ != ']')
				return APEX_PATH_SYNTAX;
			array = ApexJsonArray(at);
			at = array && i < ApexJsonLength(array) ? ApexJsonAt(array, (int) i) : NULL;
		}
		else
			return APEX_PATH_SYNTAX;
	}
	*value = at;
	return NULL;
}

/* NULL when path is a key path naming one value, else why not (a sentence) */
const char *
ApexJsonPathCheck(const char *path)
{
	JsonbValue *value;

	return apex_path_walk(NULL, path, &value);
}

/*
 * The value path names in object, or NULL when it is missing (or when path
 * is not a key path: ApexJsonPathCheck refused it when it was set).
 */
JsonbValue *
ApexJsonPathGet(JsonbValue *object, const char *path)
{
	JsonbValue *value;

	if (apex_path_walk(object, path, &value) != NULL)
		return NULL;
	return value;
}
