/*-------------------------------------------------------------------------
 *
 * kept_conns.c
 *		  The libpq and Redis connections kept across calls, keyed as
 *		  postgres_fdw keys its connections: by server and user mapping.
 *
 * A transport (io_pg.c, io_redis.c) puts an ApexKeptConn first in every
 * connection it keeps and finds it again here by server and user mapping
 * (pg_user_mapping's OID); a source without a mapping by server and current
 * user.  Roles that use the same mapping (PUBLIC) share its connection, as
 * with postgres_fdw: it carries the same credentials (io_pg.c checks the
 * password rule again before it lends a connection).  Unlike postgres_fdw,
 * the key holds the identity the connection was opened with too (its
 * application_name or Redis client name, identity.c): the remote server
 * shows a connection's identity for all it runs, so a role (SET ROLE, a
 * PUBLIC mapping) or a template (apex_router.application_name) other than
 * the one it was opened for gets a connection of its own rather than be
 * logged under someone else's name.  A hash of it is kept, not the text.
 *
 * Nothing here remembers how a connection was opened: no option, no
 * password.  An entry records the syscache hash values of its server and
 * mapping, and invalidation callbacks on FOREIGNSERVEROID and
 * USERMAPPINGOID mark the entries of a server or mapping that changed
 * (ALTER, DROP; hash value 0: all of them).  An entry without a mapping is
 * marked by every mapping change: a CREATE USER MAPPING may be the one that
 * now applies, and a mapping that did not exist has no hash value to
 * compare.  An invalidation can be processed at any catalog access, in the
 * middle of a call or of a transport's walk over its connections, so the
 * callback only marks: a marked entry is closed at its next lookup, or at
 * the end of the transaction when no call uses it (a dropped server is
 * never looked up again: its socket would stay open for the session).  A
 * call already using a marked connection goes on with it.
 *
 * An entry in use records the transaction nesting level of the call using
 * it.  Transaction callbacks are a second line of defence beside the call
 * context's reset callback: when a transaction or subtransaction aborts,
 * every entry still used by a call begun inside it is abandoned (libpq:
 * closed, its protocol state unknown; Redis: that call's replies cancelled,
 * the connection detached).  The level matters: a sql source's query runs
 * in a subtransaction, always rolled back, in the middle of a call whose
 * other connections are in flight.
 *
 * The callbacks are registered on the first lookup, before a transport has
 * opened anything that an error there could leak.  Entries live inside the
 * transports' connections, in TopMemoryContext.
 *
 * IDENTIFICATION
 *		  src/kept_conns.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "kept_conns.h"

static dlist_head apex_kept = DLIST_STATIC_INIT(apex_kept);
static bool apex_kept_callbacks = false;

/* Mark the entries of a server or mapping that changed */
static void
apex_kept_inval(Datum arg pg_attribute_unused(), int cacheid, uint32 hashvalue)
{
	dlist_iter	iter;

	dlist_foreach(iter, &apex_kept)
	{
		ApexKeptConn *kc = dlist_container(ApexKeptConn, node, iter.cur);

		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID && kc->server_hash == hashvalue) ||
			(cacheid == USERMAPPINGOID &&
			 (!OidIsValid(kc->mapping_oid) || kc->mapping_hash == hashvalue)))
			kc->invalid = true;
	}
}

/* A call using kc is gone: end that use; false when kc was closed */
static bool
apex_kept_abandon(ApexKeptConn *kc)
{
	if (kc->ops->abandon == NULL || !kc->ops->abandon(kc))
	{
		ApexKeptClose(kc);
		return false;
	}
	kc->in_use = 0;
	return true;
}

/*
 * Abandon the entries used by calls begun at nesting level `level` or
 * deeper; with close_invalid, close the marked entries no call uses.
 */
static void
apex_kept_end(int level, bool close_invalid)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &apex_kept)
	{
		ApexKeptConn *kc = dlist_container(ApexKeptConn, node, iter.cur);

		if (kc->in_use >= level && !apex_kept_abandon(kc))
			continue;
		if (close_invalid && kc->invalid && kc->in_use == 0)
			ApexKeptClose(kc);
	}
}

/*
 * The end of a transaction: no call can still run, so an entry in use
 * belongs to a call that ended abnormally.
 */
static void
apex_kept_xact(XactEvent event, void *arg pg_attribute_unused())
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		apex_kept_end(1, true);
}

/* A subtransaction aborts: the calls begun inside it are over */
static void
apex_kept_subxact(SubXactEvent event,
				  SubTransactionId mySubid pg_attribute_unused(),
				  SubTransactionId parentSubid pg_attribute_unused(),
				  void *arg pg_attribute_unused())
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		apex_kept_end(GetCurrentTransactionNestLevel(), false);
}

static uint64
apex_kept_identity(const char *identity)
{
	return hash_bytes_extended((const unsigned char *) identity,
							   strlen(identity), 0);
}

/*
 * The kept connection of ops for (server, mapping, identity), or NULL.  A marked
 * entry no call uses is closed first, and NULL returned: the caller opens
 * a new one.  Returns an entry in use as it is (one call may attach one
 * connection twice: a Redis source that also serves as the cache).
 */
ApexKeptConn *
ApexKeptFind(const ApexKeptOps *ops, Oid serverid, Oid mapping_oid,
			 const char *identity)
{
	Oid			userid = OidIsValid(mapping_oid) ? InvalidOid : GetUserId();
	uint64		hash = apex_kept_identity(identity);
	dlist_iter	iter;

	if (!apex_kept_callbacks)
	{
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, apex_kept_inval, (Datum) 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID, apex_kept_inval, (Datum) 0);
		RegisterXactCallback(apex_kept_xact, NULL);
		RegisterSubXactCallback(apex_kept_subxact, NULL);
		apex_kept_callbacks = true;
	}
	dlist_foreach(iter, &apex_kept)
	{
		ApexKeptConn *kc = dlist_container(ApexKeptConn, node, iter.cur);

		if (kc->ops != ops || kc->serverid != serverid ||
			kc->mapping_oid != mapping_oid || kc->userid != userid ||
			kc->identity != hash)
			continue;
		if (kc->invalid && kc->in_use == 0)
		{
			ApexKeptClose(kc);
			return NULL;
		}
		return kc;
	}
	return NULL;
}

static bool
apex_kept_same_key(const ApexKeptConn *a, const ApexKeptConn *b)
{
	return a->ops == b->ops && a->serverid == b->serverid &&
		a->mapping_oid == b->mapping_oid && a->userid == b->userid &&
		a->identity == b->identity;
}

/*
 * A connection of ops for (server, mapping, identity) that no call uses, or NULL:
 * for a transport that runs one request per connection (libpq), whose
 * call may ask one source several questions at once (apex_route_many).
 * Marked entries no call uses are closed on the way.  The caller opens a
 * new connection when every one is busy; ApexKeptCloseSurplus closes the
 * extra ones when the call ends.
 */
ApexKeptConn *
ApexKeptFindIdle(const ApexKeptOps *ops, Oid serverid, Oid mapping_oid,
				 const char *identity)
{
	ApexKeptConn *kc = ApexKeptFind(ops, serverid, mapping_oid, identity);
	dlist_mutable_iter iter;

	if (kc == NULL || kc->in_use == 0)
		return kc;
	dlist_foreach_modify(iter, &apex_kept)
	{
		ApexKeptConn *other = dlist_container(ApexKeptConn, node, iter.cur);

		if (other == kc || !apex_kept_same_key(other, kc) || other->in_use > 0)
			continue;
		if (!other->invalid)
			return other;
		ApexKeptClose(other);
	}
	return NULL;
}

/*
 * The call ended: of ops' connections for one server and mapping, keep the
 * first, as postgres_fdw keeps one; close the others no call uses, which
 * a call asking one source several questions at once opened.
 */
void
ApexKeptCloseSurplus(const ApexKeptOps *ops)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &apex_kept)
	{
		ApexKeptConn *kc = dlist_container(ApexKeptConn, node, iter.cur);
		dlist_iter	before;

		if (kc->ops != ops || kc->in_use > 0)
			continue;
		dlist_foreach(before, &apex_kept)
		{
			ApexKeptConn *first = dlist_container(ApexKeptConn, node, before.cur);

			if (first == kc)
				break;
			if (apex_kept_same_key(first, kc))
			{
				ApexKeptClose(kc);
				break;
			}
		}
	}
}

/*
 * Enter a new connection of ops for (server, mapping, identity), idle; after
 * ApexKeptFind, which registered the callbacks.  Cannot fail.
 */
void
ApexKeptAdd(ApexKeptConn *kc, const ApexKeptOps *ops, Oid serverid,
			Oid mapping_oid, const char *identity)
{
	Assert(apex_kept_callbacks);
	kc->ops = ops;
	kc->serverid = serverid;
	kc->mapping_oid = mapping_oid;
	kc->userid = OidIsValid(mapping_oid) ? InvalidOid : GetUserId();
	kc->identity = apex_kept_identity(identity);
	kc->server_hash = GetSysCacheHashValue1(FOREIGNSERVEROID,
											ObjectIdGetDatum(serverid));
	kc->mapping_hash = OidIsValid(mapping_oid)
		? GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(mapping_oid))
		: 0;
	kc->invalid = false;
	kc->in_use = 0;
	dlist_push_tail(&apex_kept, &kc->node);
}

/* A call starts using kc (again: the level of its first use stays) */
void
ApexKeptUse(ApexKeptConn *kc)
{
	if (kc->in_use == 0)
		kc->in_use = GetCurrentTransactionNestLevel();
}

/* The call is done with kc; it stays for the next one */
void
ApexKeptRelease(ApexKeptConn *kc)
{
	kc->in_use = 0;
}

/* Take kc out of the registry and close it */
void
ApexKeptClose(ApexKeptConn *kc)
{
	dlist_delete(&kc->node);
	kc->ops->close(kc);
}

/*
 * Call visit(kc, arg) for every kept connection of ops.  visit may close
 * the entry it is given (ApexKeptClose), no other.
 */
void
ApexKeptForEach(const ApexKeptOps *ops, ApexKeptVisit visit, void *arg)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &apex_kept)
	{
		ApexKeptConn *kc = dlist_container(ApexKeptConn, node, iter.cur);

		if (kc->ops == ops)
			visit(kc, arg);
	}
}

/* The call ended abnormally: abandon every connection of ops it used */
void
ApexKeptAbandonAll(const ApexKeptOps *ops)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &apex_kept)
	{
		ApexKeptConn *kc = dlist_container(ApexKeptConn, node, iter.cur);

		if (kc->ops == ops && kc->in_use > 0)
			(void) apex_kept_abandon(kc);
	}
}

/*
 * apex_router_disconnect(): close the connections of ops no call uses, of
 * the server serverid or (InvalidOid) of every server
 */
int
ApexKeptCloseIdle(const ApexKeptOps *ops, Oid serverid)
{
	dlist_mutable_iter iter;
	int			closed = 0;

	dlist_foreach_modify(iter, &apex_kept)
	{
		ApexKeptConn *kc = dlist_container(ApexKeptConn, node, iter.cur);

		if (kc->ops == ops && kc->in_use == 0 &&
			(!OidIsValid(serverid) || kc->serverid == serverid))
		{
			ApexKeptClose(kc);
			closed++;
		}
	}
	return closed;
}
