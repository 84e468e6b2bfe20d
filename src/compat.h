/*-------------------------------------------------------------------------
 *
 * compat.h
 *		  Calls through an older version's SQL definitions (compat.c).
 *
 * IDENTIFICATION
 *		  src/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_COMPAT_H
#define APEX_COMPAT_H

#include "fmgr.h"

extern FunctionCallInfo ApexOldEntryCall(FunctionCallInfo fcinfo, const char *symbol);

#endif							/* APEX_COMPAT_H */
