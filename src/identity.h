/*-------------------------------------------------------------------------
 *
 * identity.h
 *		  Who asks, as the remote stores' logs show it: the
 *		  apex_router.application_name template filled in and made safe
 *		  for a header, a libpq option and a Redis client name.
 *
 * IDENTIFICATION
 *		  src/identity.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_IDENTITY_H
#define APEX_IDENTITY_H

#include "utils/guc.h"

/* the default template; APEX_VERSION comes from the Makefile's EXTVERSION */
#define APEX_IDENTITY_DEFAULT "apex_router/" APEX_VERSION " (%d; %u)"

extern char *apex_application_name;

extern bool ApexIdentityCheck(char **newval, void **extra, GucSource source);
extern void ApexIdentityCheckOption(const char *name, const char *value);
extern char *ApexIdentity(bool spaces);
extern char *ApexIdentityOf(const char *template, bool spaces);

#endif							/* APEX_IDENTITY_H */
