/*-------------------------------------------------------------------------
 *
 * json.h
 *		  Safe parsing of remote JSON into JsonbValue trees, small accessors
 *		  and builders.
 *
 * IDENTIFICATION
 *		  src/json.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_JSON_H
#define APEX_JSON_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "apex_router.h"

/* JSON to a tree of JsonbValues, without throwing */
extern JsonbValue *ApexJsonParse(const char *data, int len, char **error);
extern JsonbValue *ApexJsonParseLocal(const char *text, int len, char **error);
extern char *ApexJsonErrorCause(char *error, ApexRemote *remote);

/* Reading a tree or a jsonb container (jbvBinary) alike */
extern JsonbValue *ApexJsonGet(JsonbValue *object, const char *key);
extern JsonbValue *ApexJsonGetLen(JsonbValue *object, const char *key, int len);
/* json_path.c: Qdrant's payload key paths */
extern const char *ApexJsonPathCheck(const char *path);
extern JsonbValue *ApexJsonPathGet(JsonbValue *object, const char *path);
extern JsonbValue *ApexJsonObject(JsonbValue *value);
extern JsonbValue *ApexJsonArray(JsonbValue *value);
extern JsonbValue *ApexJsonAt(JsonbValue *array, int i);
extern int	ApexJsonLength(JsonbValue *array);
extern char *ApexJsonScalarText(JsonbValue *value);
extern bool ApexJsonNumber(JsonbValue *value, double *result);
extern char *ApexJsonText(JsonbValue *value);
extern void ApexJsonAppendNumber(StringInfo buf, double value);

/* Building an object key by key, without text (pushJsonbValue) */
extern void ApexJsonBeginObject(JsonbParseState **state);
extern void ApexJsonPutText(JsonbParseState **state, const char *key,
							const char *value);
extern void ApexJsonPutNumber(JsonbParseState **state, const char *key,
							  double value);
extern JsonbValue *ApexJsonEndObject(JsonbParseState **state);

/* Building trees from trees, without copying them */
extern JsonbValue *ApexJsonTextValue(const char *text);
extern JsonbValue *ApexJsonNumberValue(double value);
extern JsonbValue *ApexJsonIntValue(int64 value);
extern void ApexJsonKey(JsonbPair *pair, const char *key);
extern JsonbValue *ApexJsonObjectOf(JsonbPair *pairs, int n);
extern JsonbValue *ApexJsonTree(JsonbValue *value);
extern JsonbValue *ApexJsonOfJsonb(Jsonb *jsonb);

#endif							/* APEX_JSON_H */
