/*-------------------------------------------------------------------------
 *
 * mapping_check.c
 *		  The half of validating a user mapping that needs its server: the
 *		  options its source kind reads.
 *
 * A wrapper's validator gets a user mapping's options and the catalog's
 * OID, never the server (CREATE USER MAPPING calls it before the row
 * exists; postgres_fdw is in the same position), so option.c's validator
 * can refuse only names no kind takes.  Which ones a source reads depends
 * on its kind (ApexKind.mapping_options): a redis source reads user and
 * password, a qdrant one only api_key.  That is checked here, from the
 * object access hook, which CREATE and ALTER USER MAPPING invoke once the
 * new row is written (OAT_POST_CREATE, OAT_POST_ALTER) in the same command:
 * an ERROR then undoes the statement as a validator's would.  ALTER SERVER
 * invokes it too (OAT_POST_ALTER): a new kind is checked against every
 * user mapping of the server.
 *
 * The hook is in place by then without shared_preload_libraries: the
 * statement called the validator first, and that call loaded the library
 * (_PG_init).  The rows the command wrote are not visible to its own
 * snapshot yet, so they are read with SnapshotSelf.  ApexUseSource checks
 * the mapping again when a source is used (catalog.c), for mappings
 * written before this check existed.
 *
 * IDENTIFICATION
 *		  src/mapping_check.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "apex_router.h"

static object_access_hook_type apex_prev_object_access = NULL;

/* The options of a row of rel, as the statement left them */
static List *
apex_row_options(Relation rel, HeapTuple tuple, AttrNumber attnum)
{
	bool		isnull;
	Datum		datum = heap_getattr(tuple, attnum, RelationGetDescr(rel), &isnull);

	return isnull ? NIL : untransformRelOptions(datum);
}

/*
 * The source kind of server serverid as the statement left it; NULL when
 * the server belongs to another wrapper (the hook sees every server and
 * mapping of the database) or names no known kind (its validator says so).
 */
static const ApexKind *
apex_server_kind(Oid serverid)
{
	Relation	rel = table_open(ForeignServerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	const ApexKind *kind = NULL;

	ScanKeyInit(&key, Anum_pg_foreign_server_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(serverid));
	scan = systable_beginscan(rel, ForeignServerOidIndexId, true,
							  SnapshotSelf, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple) &&
		strcmp(GetForeignDataWrapper(((Form_pg_foreign_server) GETSTRUCT(tuple))->srvfdw)->fdwname,
			   "apex_router") == 0)
	{
		ListCell   *lc;

		foreach(lc, apex_row_options(rel, tuple, Anum_pg_foreign_server_srvoptions))
		{
			if (strcmp(((DefElem *) lfirst(lc))->defname, "kind") == 0)
				kind = ApexFindKind(defGetString(lfirst(lc)));
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return kind;
}

/*
 * Check the user mappings whose column attnum is oid (the one mapping
 * created or altered, or every mapping of an altered server) against the
 * kind of their server.
 */
static void
apex_check_mappings(AttrNumber attnum, Oid indexid, Oid oid)
{
	Relation	rel = table_open(UserMappingRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	ScanKeyInit(&key, attnum, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(oid));
	scan = systable_beginscan(rel, indexid, OidIsValid(indexid),
							  SnapshotSelf, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		const ApexKind *kind;

		kind = apex_server_kind(((Form_pg_user_mapping) GETSTRUCT(tuple))->umserver);
		if (kind)
			(void) ApexParseSecrets(kind,
									apex_row_options(rel, tuple,
													 Anum_pg_user_mapping_umoptions));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

static void
apex_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				   int subId, void *arg)
{
	if (apex_prev_object_access)
		apex_prev_object_access(access, classId, objectId, subId, arg);
	if (access != OAT_POST_CREATE && access != OAT_POST_ALTER)
		return;
	if (classId == UserMappingRelationId)
		apex_check_mappings(Anum_pg_user_mapping_oid, UserMappingOidIndexId,
							objectId);
	/* no index leads from a server to its mappings; the catalog is small */
	else if (classId == ForeignServerRelationId && access == OAT_POST_ALTER)
		apex_check_mappings(Anum_pg_user_mapping_umserver, InvalidOid,
							objectId);
}

void
ApexMappingCheckInit(void)
{
	apex_prev_object_access = object_access_hook;
	object_access_hook = apex_object_access;
}
