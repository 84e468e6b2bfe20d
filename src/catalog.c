/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		  Sources and their secrets, read from the FDW catalogs.
 *
 * Every foreign server of the apex_router wrapper is a source.  Named
 * sources and user mappings are read through the syscaches
 * (pg_foreign_server, pg_user_mapping), which the catalog changes
 * themselves invalidate, so ALTER SERVER / ALTER USER MAPPING show at once;
 * listing every source (ApexSearchableSources) scans pg_foreign_server.
 *
 * IDENTIFICATION
 *		  src/catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "apex_router.h"

#define APEX_FDW_NAME "apex_router"

/*
 * Options of the user mapping for (current user, server), falling back to
 * the PUBLIC mapping; NIL when there is none (sources without secrets need
 * no mapping, unlike postgres_fdw's servers).  *user is the mapping's user,
 * InvalidOid for PUBLIC; *mapping its OID (kept connections are keyed by
 * it), InvalidOid when there is none.
 */
static List *
apex_mapping_options(Oid serverid, Oid *user, Oid *mapping)
{
	Oid			users[2] = {GetUserId(), InvalidOid};

	*user = InvalidOid;
	*mapping = InvalidOid;
	for (int i = 0; i < 2; i++)
	{
		HeapTuple	tp = SearchSysCache2(USERMAPPINGUSERSERVER,
										 ObjectIdGetDatum(users[i]),
										 ObjectIdGetDatum(serverid));

		if (HeapTupleIsValid(tp))
		{
			bool		isnull;
			Datum		datum = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp,
												Anum_pg_user_mapping_umoptions,
												&isnull);
			List	   *options = isnull ? NIL : untransformRelOptions(datum);

			*mapping = ((Form_pg_user_mapping) GETSTRUCT(tp))->oid;
			ReleaseSysCache(tp);
			*user = users[i];
			return options;
		}
	}
	return NIL;
}

/*
 * Sources parsed before, by server OID, as long as no pg_foreign_server or
 * pg_foreign_data_wrapper row changed: parsing a server's options (a
 * postgres source's conninfo reads the environment and the password file
 * of the OS user) was a tenth of a cached call's CPU (issue 13).  Kept
 * are options that depend on the catalog row alone: the defaults that
 * settings give (timeout_ms, connect_timeout_ms) are applied to each
 * call's copy, and a kind whose options depend on the environment
 * (ApexKind.conf_reads_environment: postgres, whose endpoints libpq's
 * service file and PG* variables decide, which allowed_hosts checks) is
 * parsed at every use.
 *
 * A change retires the whole generation rather than freeing it: sources
 * handed out are in use until the transaction ends (a call, a nested call
 * in a sql source's query), so the retired context is freed with
 * TopTransactionContext.
 */
typedef struct ApexSourceEntry
{
	Oid			serverid;		/* the key */
	ApexSource *source;			/* in source_cxt; conf, options shared */
} ApexSourceEntry;

static MemoryContext source_cxt = NULL;
static HTAB *source_memo = NULL;
static Oid	source_fdwid = InvalidOid;	/* the wrapper's OID, once looked up */
static bool source_stale = false;
static bool source_callbacks = false;

static void
apex_source_inval(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
				  uint32 hashvalue pg_attribute_unused())
{
	source_stale = true;
}

/* The memo, emptied first if the catalog changed since it was filled */
static HTAB *
apex_source_memo(void)
{
	HASHCTL		ctl;

	if (!source_callbacks)
	{
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, apex_source_inval, (Datum) 0);
		CacheRegisterSyscacheCallback(FOREIGNDATAWRAPPEROID, apex_source_inval, (Datum) 0);
		source_callbacks = true;
	}
	if (source_stale && source_cxt)
	{
		MemoryContextSetParent(source_cxt, TopTransactionContext);
		source_cxt = NULL;
		source_memo = NULL;
		source_fdwid = InvalidOid;
	}
	source_stale = false;
	if (source_memo == NULL)
	{
		source_cxt = AllocSetContextCreate(TopMemoryContext, "apex_router sources",
										   ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ApexSourceEntry);
		ctl.hcxt = source_cxt;
		source_memo = hash_create("apex_router sources", 32, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	return source_memo;
}

static Oid
apex_fdw_oid(void)
{
	(void) apex_source_memo();
	if (!OidIsValid(source_fdwid))
		source_fdwid = GetForeignDataWrapperByName(APEX_FDW_NAME, false)->fdwid;
	return source_fdwid;
}

/* The defaults settings give, applied to a call's source */
static ApexSource *
apex_source_defaults(ApexSource *source)
{
	if (source->timeout_ms == 0)
		source->timeout_ms = apex_timeout_ms;
	if (source->connect_timeout_ms == 0)
		source->connect_timeout_ms = Min(apex_connect_timeout_ms, source->timeout_ms);
	return source;
}

/*
 * The source of server serverid, or NULL when it is not an apex_router
 * server: the caller's own copy, the parse shared (see above)
 */
static ApexSource *
apex_source_by_oid(Oid serverid)
{
	Oid			fdwid = apex_fdw_oid();
	HTAB	   *memo = apex_source_memo();
	ApexSourceEntry *entry = hash_search(memo, &serverid, HASH_FIND, NULL);
	ApexSource *source;

	if (entry == NULL)
	{
		ForeignServer *server;
		MemoryContext parsed;
		MemoryContext old;

		if (!OidIsValid(serverid))
			return NULL;
		server = GetForeignServerExtended(serverid, FSV_MISSING_OK);
		if (server == NULL || server->fdwid != fdwid)
			return NULL;
		/*
		 * Parsed in a context of the caller's and then moved into the memo:
		 * an ERROR leaves neither an entry nor memory behind
		 */
		parsed = AllocSetContextCreate(CurrentMemoryContext, "apex_router source",
									   ALLOCSET_SMALL_SIZES);
		old = MemoryContextSwitchTo(parsed);
		source = palloc0(sizeof(ApexSource));
		source->serverid = serverid;
		source->owner = server->owner;
		source->name = pstrdup(server->servername);
		source->options = copyObject(server->options);
		ApexParseServer(source->options, source, false);
		MemoryContextSwitchTo(old);
		if (source->kind->conf_reads_environment)
			return apex_source_defaults(source);
		MemoryContextSetParent(parsed, source_cxt);
		entry = hash_search(memo, &serverid, HASH_ENTER, NULL);
		entry->source = source;
	}
	source = palloc(sizeof(ApexSource));
	*source = *entry->source;
	return apex_source_defaults(source);
}

/* The source called name, or NULL when no apex_router server has it */
ApexSource *
ApexFindSource(const char *name)
{
	return apex_source_by_oid(get_foreign_server_oid(name, true));
}

/*
 * The source called name, or an ERROR.  The caller checks USAGE with
 * ApexUseSource(), which also reads the secrets.
 */
ApexSource *
ApexGetSource(const char *name)
{
	ApexSource *source = ApexFindSource(name);

	if (source == NULL)
	{
		ForeignServer *server = GetForeignServerByName(name, true);

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" does not exist", name),
				 server ? errdetail("Server \"%s\" does not use the apex_router foreign-data wrapper.", name)
				 : errhint("Sources are created with CREATE SERVER ... FOREIGN DATA WRAPPER apex_router.")));
	}
	return source;
}

/*
 * The "embedder" option of a vector source, at CREATE/ALTER SERVER: it must
 * name an apex_router source of kind embedder.  PostgreSQL records no
 * dependency between servers, so the embedder may still be dropped or
 * changed later; the plan then fails the vector source alone (plan.c).
 * Skipped when check_function_bodies is off, as in pg_dump's scripts: a
 * dump creates servers in name order, a vector source perhaps before its
 * embedder.
 */
void
ApexCheckEmbedderOption(const char *name, const char *value)
{
	ForeignServer *server;
	const char *kind = NULL;
	ListCell   *lc;

	if (!check_function_bodies)
		return;
	server = GetForeignServerByName(value, true);
	if (server == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("Source \"%s\" does not exist.", value),
				 errhint("Create the embedder first: CREATE SERVER ... OPTIONS (kind 'embedder', ...).")));
	if (server->fdwid != apex_fdw_oid())
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("Server \"%s\" does not use the apex_router foreign-data wrapper.", value)));
	foreach(lc, server->options)
	{
		if (strcmp(((DefElem *) lfirst(lc))->defname, "kind") == 0)
			kind = defGetString(lfirst(lc));
	}
	if (kind == NULL || strcmp(kind, "embedder") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("Source \"%s\" is of kind \"%s\", not \"embedder\".",
						   value, kind ? kind : "")));
}

/* Whether the current user has USAGE on the source */
bool
ApexMayUseSource(const ApexSource *source)
{
	return pg_foreign_server_aclcheck(source->serverid, GetUserId(),
									  ACL_USAGE) == ACLCHECK_OK;
}

/*
 * Error out unless the current user may use the source; then load its
 * secrets and let its kind check the caller (ApexKind.authorize).
 */
void
ApexUseSource(ApexSource *source)
{
	AclResult	aclresult = pg_foreign_server_aclcheck(source->serverid,
													   GetUserId(), ACL_USAGE);

	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, source->name);
	/* the validator checked at CREATE/ALTER; the list may have shrunk */
	if (!superuser_arg(source->owner))
		ApexCheckTargets(ApexSourceTargets(source));
	/* mappings written before mapping_check.c's hook may hold others */
	source->secrets = ApexParseSecrets(source->kind,
									   apex_mapping_options(source->serverid,
															&source->mapping_user,
															&source->mapping_oid));
	if (source->kind->authorize)
		source->refused = source->kind->authorize(source);
}

/*
 * May the current user read every secret of the source's user mapping?
 * The rule of the pg_user_mappings view's umoptions column: superusers;
 * the user its own mapping, given USAGE on the server or membership in its
 * owner; the PUBLIC mapping, members of the owner.  A mapping with no
 * secret ("user", "proxy_user" and the file paths sslcert and sslkey only)
 * has nothing to hide.  redact.c shows a
 * peer's own words only to such readers.
 */
bool
ApexSecretsReadable(ApexSource *source)
{
	ApexSecrets *s = source->secrets;

	if ((!s->password && !s->api_key && !s->token && !s->sslpassword &&
		 !s->proxy_password && s->headers == NIL) || superuser())
		return true;
	if (OidIsValid(source->mapping_user))
		return source->mapping_user == GetUserId() &&
			(has_privs_of_role(GetUserId(), source->owner) ||
			 pg_foreign_server_aclcheck(source->serverid, GetUserId(),
										ACL_USAGE) == ACLCHECK_OK);
	return has_privs_of_role(GetUserId(), source->owner);
}

static int
apex_source_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp(((ApexSource *) lfirst(a))->name,
				  ((ApexSource *) lfirst(b))->name);
}

/*
 * Every searchable source the current user has USAGE on, by name.  Sources
 * without USAGE are left out silently: a role should not be told about
 * servers it cannot use.
 */
List *
ApexSearchableSources(void)
{
	Oid			fdwid = apex_fdw_oid();
	Relation	rel = table_open(ForeignServerRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;
	List	   *names = NIL;
	List	   *sources = NIL;
	ListCell   *lc;

	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_foreign_server form = (Form_pg_foreign_server) GETSTRUCT(tuple);

		if (form->srvfdw == fdwid &&
			pg_foreign_server_aclcheck(form->oid, GetUserId(), ACL_USAGE) == ACLCHECK_OK)
			names = lappend(names, pstrdup(NameStr(form->srvname)));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	foreach(lc, names)
	{
		ApexSource *source = ApexGetSource(lfirst(lc));

		if (source->kind->start || source->kind->run_local)
			sources = lappend(sources, source);
	}
	list_sort(sources, apex_source_cmp);
	return sources;
}
