/*-------------------------------------------------------------------------
 *
 * scope.c
 *		  A call's scope (apex_route's params) as each kind sends it: always
 *		  as values, never as statement text.
 *
 * params is a JSON object of the caller's.  Kinds whose store takes
 * parameters get them as parameters (neo4j: Cypher parameters; sql and
 * postgres: one jsonb parameter).  Kinds configured by option text name
 * the values they need with placeholders ${name}: a string value that is
 * exactly "${name}" in qdrant's filter_template becomes params' value of
 * that name, whatever its JSON type, and ${name} in redis' key patterns
 * becomes the value's text with every byte outside [A-Za-z0-9_.-]
 * percent-encoded, so that a value cannot reach into another key space
 * (":" or "*" in a user id).  A placeholder params lacks fails its source
 * at planning, without a request: a source scoped by an option is never
 * asked unscoped.
 *
 * IDENTIFICATION
 *		  src/scope.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "json.h"
#include "scope.h"

/*
 * The placeholder at p ("${name}"): its name's start and length, and the
 * text after it; false when p holds none.  A "${" that does not open a
 * placeholder is an error the option checks report (ApexScopeCheckText).
 */
static bool
scope_placeholder(const char *p, const char **name, int *len, const char **after)
{
	const char *q;

	if (p[0] != '$' || p[1] != '{')
		return false;
	q = p + 2;
	if (!(isalpha((unsigned char) *q) || *q == '_'))
		return false;
	while (isalnum((unsigned char) *q) || *q == '_')
		q++;
	if (*q != '}')
		return false;
	*name = p + 2;
	*len = q - (p + 2);
	*after = q + 1;
	return true;
}

/*
 * Why text's placeholders are malformed (a sentence), or NULL.  For option
 * checks at CREATE/ALTER SERVER.
 */
const char *
ApexScopeCheckText(const char *text)
{
	for (const char *p = text; (p = strstr(p, "${")) != NULL;)
	{
		const char *name;
		const char *after;
		int			len;

		if (!scope_placeholder(p, &name, &len, &after))
			return "A placeholder is ${name}, the name made of letters, digits and underscores, not starting with a digit.";
		p = after;
	}
	return NULL;
}

/* params' value of name, or NULL when it has none (JSON null is none) */
JsonbValue *
ApexScopeValue(const ApexQuery *query, const char *name, int len)
{
	JsonbValue *value;

	if (query->params == NULL)
		return NULL;
	value = getKeyJsonValueFromContainer(&query->params->root, name, len, NULL);
	if (value == NULL || value->type == jbvNull)
		return NULL;
	return value;
}

/*
 * Why params cannot fill text's placeholders, or NULL.  scalar: a value
 * must be a string or a number (key patterns).
 */
const char *
ApexScopeMissing(const char *text, const ApexQuery *query, bool scalar)
{
	const char *p = text;

	while ((p = strstr(p, "${")) != NULL)
	{
		const char *name;
		const char *after;
		int			len;
		JsonbValue *value;

		if (!scope_placeholder(p, &name, &len, &after))
		{
			p += 2;
			continue;
		}
		value = ApexScopeValue(query, name, len);
		if (value == NULL)
			return psprintf("Its options need \"%.*s\" from params, which the call does not give.",
							len, name);
		if (scalar && value->type != jbvString && value->type != jbvNumeric)
			return psprintf("Its options need \"%.*s\" from params as a string or a number.",
							len, name);
		p = after;
	}
	return NULL;
}

/* The text of a string or number value (ApexScopeMissing checked it) */
static char *
scope_scalar_text(JsonbValue *value)
{
	char	   *text = ApexJsonScalarText(value);

	return text ? text : ApexJsonText(value);
}

/*
 * pattern with "%s" replaced by what (as it is) and each ${name} by params'
 * value, percent-encoded (see the file header).  pattern holds one %s and
 * no other % (the option checks); ApexScopeMissing has passed.
 */
char *
ApexScopeFillKey(const char *pattern, const char *what, const ApexQuery *query)
{
	StringInfoData key;
	const char *p = pattern;

	initStringInfo(&key);
	while (*p)
	{
		const char *name;
		const char *after;
		int			len;

		if (p[0] == '%' && p[1] == 's')
		{
			appendStringInfoString(&key, what);
			p += 2;
		}
		else if (scope_placeholder(p, &name, &len, &after))
		{
			const unsigned char *v = (const unsigned char *)
				scope_scalar_text(ApexScopeValue(query, name, len));

			for (; *v; v++)
			{
				if (isalnum(*v) || *v == '_' || *v == '.' || *v == '-')
					appendStringInfoChar(&key, (char) *v);
				else
					appendStringInfo(&key, "%%%02X", *v);
			}
			p = after;
		}
		else
			appendStringInfoChar(&key, *p++);
	}
	return key.data;
}

/*
 * tree (a parsed filter template) with every string value that is exactly
 * "${name}" replaced by params' value, in place
 */
void
ApexScopeFillJson(JsonbValue *tree, const ApexQuery *query)
{
	const char *name;
	const char *after;
	int			len;

	switch (tree->type)
	{
		case jbvObject:
			for (int i = 0; i < tree->val.object.nPairs; i++)
				ApexScopeFillJson(&tree->val.object.pairs[i].value, query);
			break;
		case jbvArray:
			for (int i = 0; i < tree->val.array.nElems; i++)
				ApexScopeFillJson(&tree->val.array.elems[i], query);
			break;
		case jbvString:
			{
				char	   *s = pnstrdup(tree->val.string.val, tree->val.string.len);

				if (scope_placeholder(s, &name, &len, &after) && *after == '\0')
				{
					JsonbValue *value = ApexScopeValue(query, name, len);

					if (value)
						*tree = *ApexJsonTree(value);
				}
			}
			break;
		default:
			break;
	}
}

/* params as JSON text, or NULL when the call gives none (sql, postgres: $3) */
char *
ApexScopeText(const ApexQuery *query)
{
	if (query->params == NULL)
		return NULL;
	return JsonbToCString(NULL, &query->params->root, VARSIZE(query->params));
}

/*
 * params' members as JSON text to follow other members of an object:
 * ",\"k\":v,..." ("" when none), for stores that take parameters by name
 */
char *
ApexScopeMembers(const ApexQuery *query)
{
	char	   *text;
	char	   *open;
	char	   *close;

	if (query->params == NULL || JsonContainerSize(&query->params->root) == 0)
		return "";
	text = ApexScopeText(query);
	open = strchr(text, '{');
	close = strrchr(text, '}');
	*close = '\0';
	return psprintf(",%s", open + 1);
}
