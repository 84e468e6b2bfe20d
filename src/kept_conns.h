/*-------------------------------------------------------------------------
 *
 * kept_conns.h
 *		  The libpq and Redis connections kept across calls, by server and
 *		  user mapping.
 *
 * IDENTIFICATION
 *		  src/kept_conns.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_KEPT_CONNS_H
#define APEX_KEPT_CONNS_H

#include "lib/ilist.h"

typedef struct ApexKeptConn ApexKeptConn;

/* What a transport does with its kept connections (one static per transport) */
typedef struct ApexKeptOps
{
	/* close the connection and free it; it is out of the registry already */
	void		(*close) (ApexKeptConn *kc);

	/*
	 * The call using it is gone without releasing it (its transaction or
	 * subtransaction aborted): end that use and return true to keep the
	 * connection.  NULL: such a connection is closed.
	 */
	bool		(*abandon) (ApexKeptConn *kc);
} ApexKeptOps;

/*
 * A registry entry, the first member of a transport's connection (so that
 * a pointer to either is a pointer to both).  The key is (ops, serverid,
 * mapping_oid, identity), and userid when there is no user mapping.
 */
struct ApexKeptConn
{
	dlist_node	node;
	const ApexKeptOps *ops;
	Oid			serverid;
	Oid			mapping_oid;	/* pg_user_mapping's OID, or InvalidOid */
	Oid			userid;			/* without a mapping, the user, else invalid */
	uint64		identity;		/* hash of the identity it was opened with */
	uint32		server_hash;	/* syscache hash values, for invalidation */
	uint32		mapping_hash;
	bool		invalid;		/* its server or mapping changed: replace it */
	int			in_use;			/* nest level of the call using it; 0: idle */
};

typedef void (*ApexKeptVisit) (ApexKeptConn *kc, void *arg);

extern ApexKeptConn *ApexKeptFind(const ApexKeptOps *ops, Oid serverid,
								  Oid mapping_oid, const char *identity);
extern ApexKeptConn *ApexKeptFindIdle(const ApexKeptOps *ops, Oid serverid,
									  Oid mapping_oid, const char *identity);
extern void ApexKeptCloseSurplus(const ApexKeptOps *ops);
extern void ApexKeptAdd(ApexKeptConn *kc, const ApexKeptOps *ops,
						Oid serverid, Oid mapping_oid, const char *identity);
extern void ApexKeptUse(ApexKeptConn *kc);
extern void ApexKeptRelease(ApexKeptConn *kc);
extern void ApexKeptClose(ApexKeptConn *kc);
extern void ApexKeptForEach(const ApexKeptOps *ops, ApexKeptVisit visit,
							void *arg);
extern void ApexKeptAbandonAll(const ApexKeptOps *ops);
extern int	ApexKeptCloseIdle(const ApexKeptOps *ops, Oid serverid);

#endif							/* APEX_KEPT_CONNS_H */
