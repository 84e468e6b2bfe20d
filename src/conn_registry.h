/*-------------------------------------------------------------------------
 *
 * conn_registry.h
 *		  Registry of the connections this backend keeps open across calls.
 *
 * IDENTIFICATION
 *		  src/conn_registry.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_CONN_REGISTRY_H
#define APEX_CONN_REGISTRY_H

#include "port.h"

/* in conn_registry.c */
extern bool ApexConnReserve(void);
extern void ApexConnReserveOrError(int n);
extern void ApexConnUnreserve(void);
extern int	ApexConnFree(int max);
extern void ApexConnOpened(const char *kind, pgsocket fd, const char *source,
						   const char *target);
extern void ApexConnClosed(const char *kind, pgsocket fd);
extern void ApexConnSweep(void);
extern int	ApexConnCount(const char *kind, const char *source);
extern void ApexConnUsed(const char *kind, pgsocket fd);

#endif							/* APEX_CONN_REGISTRY_H */
