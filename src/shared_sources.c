/*-------------------------------------------------------------------------
 *
 * shared_sources.c
 *		  One shared-memory record per source, for every backend (issue 14
 *		  items 3 and 4): its statistics (stats.c) and its circuit breaker
 *		  (breaker.c).
 *
 * The table is sized at server start (apex_router.max_tracked_sources) and
 * so needs apex_router in shared_preload_libraries, as pg_stat_statements
 * does; without it, calls run as before, untracked, and the statistics
 * and health functions say what is missing (ApexSharedSourcesRequire).
 *
 * No lock on the hot path: each backend remembers where its sources'
 * records are and then touches only their atomics (statistics) or their
 * own spinlock (a breaker).  The LWLock is taken shared to find a record a
 * backend has not met yet, and exclusive to add one.  A reset zeroes the
 * counters; it frees no record.  A full table takes back the records of
 * dropped sources and databases (no backend asks for those again: OIDs
 * are not reused while the table lives, barring wraparound); when none is
 * left, the source is not tracked, and the backend says so once.
 *
 * IDENTIFICATION
 *		  src/shared_sources.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "catalog/pg_database.h"
#include "catalog/pg_foreign_server.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/syscache.h"

#include "shared_sources.h"

#define APEX_SHARED_NAME "apex_router sources v1"

typedef struct ApexSharedTable
{
	LWLock	   *lock;			/* finds and adds records */
	int			max;
	int			used;			/* records [0, used) have their key */
	pg_atomic_uint64 stats_reset;	/* TimestampTz of the last reset */
	ApexSharedSource records[FLEXIBLE_ARRAY_MEMBER];
} ApexSharedTable;

/* where a backend found its sources' records: server OID -> record */
typedef struct ApexKnownRecord
{
	Oid			serverid;
	ApexSharedSource *record;
} ApexKnownRecord;

int			apex_max_tracked_sources = 1000;

static ApexSharedTable *apex_shared;
static HTAB *apex_known;
static bool apex_told_full;
static shmem_request_hook_type prev_shmem_request_hook;
static shmem_startup_hook_type prev_shmem_startup_hook;

static Size
apex_shared_size(void)
{
	return add_size(offsetof(ApexSharedTable, records),
					mul_size(apex_max_tracked_sources, sizeof(ApexSharedSource)));
}

static void
apex_shared_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(apex_shared_size());
	RequestNamedLWLockTranche("apex_router_sources", 1);
}

static void
apex_shared_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	apex_shared = ShmemInitStruct(APEX_SHARED_NAME, apex_shared_size(), &found);
	if (!found)
	{
		apex_shared->lock = &(GetNamedLWLockTranche("apex_router_sources"))->lock;
		apex_shared->max = apex_max_tracked_sources;
		apex_shared->used = 0;
		pg_atomic_init_u64(&apex_shared->stats_reset, (uint64) GetCurrentTimestamp());
	}
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init: with shared_preload_libraries, ask for the table */
void
ApexSharedSourcesInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("apex_router.max_tracked_sources",
							"Most sources whose statistics and circuit breakers are kept in shared memory.",
							"One record per source and database; sources beyond it are not tracked.",
							&apex_max_tracked_sources, 1000, 1, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = apex_shared_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = apex_shared_startup;
}

bool
ApexSharedSourcesReady(void)
{
	return apex_shared != NULL;
}

/* An ERROR unless the table exists: what (a function) needs it */
void
ApexSharedSourcesRequire(const char *what)
{
	if (apex_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs apex_router in shared_preload_libraries", what),
				 errdetail("Statistics and circuit breakers live in shared memory, which is set aside at server start."),
				 errhint("Add apex_router to shared_preload_libraries in postgresql.conf and restart the server.")));
}

static ApexSharedSource *
apex_shared_find(Oid serverid)
{
	for (int i = 0; i < apex_shared->used; i++)
	{
		ApexSharedSource *r = &apex_shared->records[i];

		if (r->dbid == MyDatabaseId && r->serverid == serverid)
			return r;
	}
	return NULL;
}

/* A record, empty, for serverid of this database (the exclusive lock held) */
static void
apex_shared_key(ApexSharedSource *r, Oid serverid)
{
	memset(r, 0, sizeof(ApexSharedSource));
	r->dbid = MyDatabaseId;
	r->serverid = serverid;
	for (int i = 0; i < APEX_STAT_COUNTERS; i++)
		pg_atomic_init_u64(&r->counters[i], 0);
	for (int i = 0; i < APEX_LATENCY_BUCKETS; i++)
		pg_atomic_init_u64(&r->buckets[i], 0);
	SpinLockInit(&r->mutex);
}

static ApexSharedSource *
apex_shared_add(Oid serverid)
{
	ApexSharedSource *r;

	if (apex_shared->used >= apex_shared->max)
		return NULL;
	r = &apex_shared->records[apex_shared->used];
	apex_shared_key(r, serverid);
	/* readers see used only under the lock: the record is whole by then */
	apex_shared->used++;
	return r;
}

/*
 * The table is full: take back a record whose database is gone, or whose
 * source in this database is.  Other databases' catalogs cannot be read
 * from here: a source dropped there is taken back by a session of its
 * own database.  The catalog is read without the lock; the record is taken
 * only if its key is still the one found stale.
 */
static ApexSharedSource *
apex_shared_reclaim(Oid serverid)
{
	int			n;
	Oid		   *keys;

	LWLockAcquire(apex_shared->lock, LW_SHARED);
	n = apex_shared->used;
	keys = palloc(sizeof(Oid) * 2 * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		keys[2 * i] = apex_shared->records[i].dbid;
		keys[2 * i + 1] = apex_shared->records[i].serverid;
	}
	LWLockRelease(apex_shared->lock);
	for (int i = 0; i < n; i++)
	{
		ApexSharedSource *r = &apex_shared->records[i];
		ApexSharedSource *found;
		bool		stale;

		stale = !SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(keys[2 * i])) ||
			(keys[2 * i] == MyDatabaseId &&
			 !SearchSysCacheExists1(FOREIGNSERVEROID, ObjectIdGetDatum(keys[2 * i + 1])));
		if (!stale)
			continue;
		LWLockAcquire(apex_shared->lock, LW_EXCLUSIVE);
		/* another backend may have given serverid a record meanwhile */
		found = apex_shared_find(serverid);
		stale = found == NULL && r->dbid == keys[2 * i] && r->serverid == keys[2 * i + 1];
		if (stale)
			apex_shared_key(r, serverid);
		LWLockRelease(apex_shared->lock);
		if (found || stale)
		{
			pfree(keys);
			return found ? found : r;
		}
	}
	pfree(keys);
	return NULL;
}

/*
 * The record of source serverid in this database, made on first use;
 * NULL without the table or when it is full.
 */
ApexSharedSource *
ApexSharedSourceOf(Oid serverid)
{
	ApexKnownRecord *known;
	bool		found;
	ApexSharedSource *r;

	if (apex_shared == NULL)
		return NULL;
	if (apex_known == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ApexKnownRecord);
		apex_known = hash_create("apex_router shared records", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS);
	}
	known = hash_search(apex_known, &serverid, HASH_FIND, NULL);
	if (known)
		return known->record;

	LWLockAcquire(apex_shared->lock, LW_SHARED);
	r = apex_shared_find(serverid);
	LWLockRelease(apex_shared->lock);
	if (r == NULL)
	{
		LWLockAcquire(apex_shared->lock, LW_EXCLUSIVE);
		r = apex_shared_find(serverid);
		if (r == NULL)
			r = apex_shared_add(serverid);
		LWLockRelease(apex_shared->lock);
	}
	if (r == NULL)
		r = apex_shared_reclaim(serverid);
	if (r == NULL)
	{
		if (!apex_told_full)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("apex_router tracks no more sources"),
					 errdetail("All %d records of apex_router.max_tracked_sources are taken: sources without one have no statistics and no circuit breaker.",
							   apex_shared->max),
					 errhint("Raise apex_router.max_tracked_sources and restart the server.")));
		apex_told_full = true;
		return NULL;
	}
	known = hash_search(apex_known, &serverid, HASH_ENTER, &found);
	known->record = r;
	return r;
}

/*
 * The records of this database, in *records (palloc'd in the current
 * context); returns how many.  A record stays where it is; only a full
 * table re-keys one, of a dropped source or database, so a caller reading
 * one as it goes may, rarely, read a record just given to a new source.
 */
int
ApexSharedSourcesSnapshot(ApexSharedSource ***records)
{
	int			n = 0;

	ApexSharedSourcesRequire("this function");
	LWLockAcquire(apex_shared->lock, LW_SHARED);
	*records = palloc(sizeof(ApexSharedSource *) * Max(apex_shared->used, 1));
	for (int i = 0; i < apex_shared->used; i++)
	{
		if (apex_shared->records[i].dbid == MyDatabaseId)
			(*records)[n++] = &apex_shared->records[i];
	}
	LWLockRelease(apex_shared->lock);
	return n;
}

/*
 * When the statistics were last reset; with reset, zero every record's
 * counters (all databases: as pg_stat_statements_reset()) first.
 */
TimestampTz
ApexSharedStatsReset(bool reset)
{
	ApexSharedSourcesRequire("this function");
	if (reset)
	{
		LWLockAcquire(apex_shared->lock, LW_SHARED);
		for (int i = 0; i < apex_shared->used; i++)
		{
			ApexSharedSource *r = &apex_shared->records[i];

			for (int c = 0; c < APEX_STAT_COUNTERS; c++)
				pg_atomic_write_u64(&r->counters[c], 0);
			for (int b = 0; b < APEX_LATENCY_BUCKETS; b++)
				pg_atomic_write_u64(&r->buckets[b], 0);
		}
		pg_atomic_write_u64(&apex_shared->stats_reset, (uint64) GetCurrentTimestamp());
		LWLockRelease(apex_shared->lock);
	}
	return (TimestampTz) pg_atomic_read_u64(&apex_shared->stats_reset);
}
