/*-------------------------------------------------------------------------
 *
 * leg_postgres.h
 *		  The result decoder of a postgres source and its reading of a
 *		  remote error, exported for the fuzz harness (test/fuzz).
 *
 * IDENTIFICATION
 *		  src/leg_postgres.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LEG_POSTGRES_H
#define APEX_LEG_POSTGRES_H

#include "libpq-fe.h"

#include "apex_router.h"

/* in leg_postgres.c */
extern char *ApexPostgresDecode(const PGresult *res, List **items, int *skipped,
								ApexRemote *remote);
extern void ApexPostgresRemoteError(const char *sqlstate, const char *primary,
									const char *detail, const char *hint,
									ApexRemote *remote);

#endif							/* APEX_LEG_POSTGRES_H */
