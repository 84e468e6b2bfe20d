/*-------------------------------------------------------------------------
 *
 * json.h
 *		  Safe parsing of remote JSON into jsonb, and small accessors.
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

extern Jsonb *ApexJsonParse(const char *data, int len, char **error);
extern Jsonb *ApexJsonParseLocal(const char *text, int len, char **error);
extern char *ApexJsonErrorCause(char *error, ApexRemote *remote);
extern JsonbValue *ApexJsonGet(JsonbContainer *object, const char *key);
/* json_path.c: Qdrant's payload key paths */
extern const char *ApexJsonPathCheck(const char *path);
extern JsonbValue *ApexJsonPathGet(JsonbContainer *object, const char *path);
extern JsonbContainer *ApexJsonObject(JsonbValue *value);
extern JsonbContainer *ApexJsonArray(JsonbValue *value);
extern JsonbValue *ApexJsonAt(JsonbContainer *array, int i);
extern int	ApexJsonLength(JsonbContainer *array);
extern char *ApexJsonScalarText(JsonbValue *value);
extern bool ApexJsonNumber(JsonbValue *value, double *result);
extern char *ApexJsonText(JsonbValue *value);
extern void ApexJsonAppendNumber(StringInfo buf, double value);

/* Building a jsonb object key by key, without text (pushJsonbValue) */
extern void ApexJsonBeginObject(JsonbParseState **state);
extern void ApexJsonPutText(JsonbParseState **state, const char *key,
							const char *value);
extern void ApexJsonPutNumber(JsonbParseState **state, const char *key,
							  double value);
extern void ApexJsonPutValue(JsonbParseState **state, const char *key,
							 JsonbValue *value);
extern void ApexJsonPutJsonb(JsonbParseState **state, const char *key,
							 Jsonb *value);
extern void ApexJsonBeginNested(JsonbParseState **state, const char *key);
extern void ApexJsonEndNested(JsonbParseState **state);
extern Jsonb *ApexJsonEndObject(JsonbParseState **state);

#endif							/* APEX_JSON_H */
