/*-------------------------------------------------------------------------
 *
 * scope.h
 *		  A call's scope (apex_route's params) as each kind sends it.
 *
 * IDENTIFICATION
 *		  src/scope.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_SCOPE_H
#define APEX_SCOPE_H

#include "apex_router.h"

extern const char *ApexScopeCheckText(const char *text);
extern JsonbValue *ApexScopeValue(const ApexQuery *query, const char *name, int len);
extern const char *ApexScopeMissing(const char *text, const ApexQuery *query,
									bool scalar);
extern char *ApexScopeFillKey(const char *pattern, const char *what,
							  const ApexQuery *query);
extern void ApexScopeFillJson(JsonbValue *tree, const ApexQuery *query);
extern char *ApexScopeText(const ApexQuery *query);
extern char *ApexScopeMembers(const ApexQuery *query);

#endif							/* APEX_SCOPE_H */
