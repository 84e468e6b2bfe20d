/*-------------------------------------------------------------------------
 *
 * cache_memo.c
 *		  The result cache entries this backend has parsed, kept so that a
 *		  hit on the same entry is not sent and parsed again.
 *
 * A result cache entry is "<digest><JSON>": the SHA-256 of the JSON in 64
 * hex digits, then the JSON (cache.c).  Parsing the JSON of a hit was
 * most of a hit's cost (issue 13: 12 kB for k = 10 over six sources, a
 * fifth of a millisecond).  The memo keeps, per result key hash (cache.c's
 * hash of the question and everything that shapes its answer), the digest
 * of the entry last parsed and its parsed document.  A lookup sends the
 * digest it holds; Redis answers "=" instead of the entry when the entry
 * it holds starts with that digest (the lookup's script), so the entry is
 * neither sent nor parsed again, and it is still Redis' current entry
 * that decides: what was flushed, expired or rewritten is never served
 * from the memo.
 *
 * The memo lives as long as the backend, in its own memory context, and
 * holds at most APEX_MEMO_MAX_BYTES of documents (the least recently used
 * go first).  Nothing here throws: it runs inside hiredis' callbacks, so
 * memory that cannot be had means the entry is not kept.
 *
 * IDENTIFICATION
 *		  src/cache_memo.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/ilist.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "cache_memo.h"

/* the documents kept at once, in bytes; about 300 entries of 12 kB */
#define APEX_MEMO_MAX_BYTES (4 * 1024 * 1024)

typedef struct ApexMemoEntry
{
	char		hash[APEX_MEMO_KEY_LEN + 1];	/* the key: the result key's hash */
	char		digest[APEX_MEMO_KEY_LEN + 1];	/* of the entry parsed */
	Jsonb	   *doc;			/* what it parsed to, in memo_cxt */
	dlist_node	lru;			/* in memo_lru, most recently used first */
} ApexMemoEntry;

static MemoryContext memo_cxt = NULL;
static HTAB *memo = NULL;
static dlist_head memo_lru = DLIST_STATIC_INIT(memo_lru);
static Size memo_bytes = 0;

/* dynahash's allocator: NULL rather than an ERROR (see the file header) */
static void *
apex_memo_alloc(Size size)
{
	return MemoryContextAllocExtended(memo_cxt, size, MCXT_ALLOC_NO_OOM);
}

static bool
apex_memo_init(void)
{
	HASHCTL		ctl;

	if (memo)
		return true;
	if (memo_cxt == NULL)
		memo_cxt = AllocSetContextCreate(TopMemoryContext, "apex_router cache memo",
										 ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = APEX_MEMO_KEY_LEN + 1;
	ctl.entrysize = sizeof(ApexMemoEntry);
	ctl.hcxt = memo_cxt;
	ctl.alloc = apex_memo_alloc;
	PG_TRY();
	{
		memo = hash_create("apex_router cache memo", 64, &ctl,
						   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT | HASH_ALLOC);
	}
	PG_CATCH();
	{
		/* hash_create allocates its header with palloc */
		FlushErrorState();
		memo = NULL;
	}
	PG_END_TRY();
	return memo != NULL;
}

static void
apex_memo_forget(ApexMemoEntry *entry)
{
	memo_bytes -= VARSIZE(entry->doc);
	pfree(entry->doc);
	dlist_delete(&entry->lru);
	(void) hash_search(memo, entry->hash, HASH_REMOVE, NULL);
}

/*
 * The digest of the entry kept for hash, or NULL: what a lookup sends.
 */
const char *
ApexMemoDigest(const char *hash)
{
	ApexMemoEntry *entry;

	if (memo == NULL)
		return NULL;
	entry = hash_search(memo, hash, HASH_FIND, NULL);
	return entry ? entry->digest : NULL;
}

/*
 * A copy, in the current memory context, of the document kept for hash
 * (Redis answered that its entry still has the digest sent), or NULL if it
 * is not kept.  A copy, since a later ApexMemoPut() may evict the entry.
 */
Jsonb *
ApexMemoGet(const char *hash)
{
	ApexMemoEntry *entry;
	Jsonb	   *copy;

	if (memo == NULL)
		return NULL;
	entry = hash_search(memo, hash, HASH_FIND, NULL);
	if (entry == NULL)
		return NULL;
	dlist_move_head(&memo_lru, &entry->lru);
	copy = palloc_extended(VARSIZE(entry->doc), MCXT_ALLOC_NO_OOM);
	if (copy)
		memcpy(copy, entry->doc, VARSIZE(entry->doc));
	return copy;
}

/*
 * Keep doc, parsed from the entry with this digest, for hash; a copy is
 * kept, doc stays the caller's.  Silently nothing when memory is short or
 * doc alone is larger than the memo.
 */
void
ApexMemoPut(const char *hash, const char *digest, const Jsonb *doc)
{
	ApexMemoEntry *entry;
	Jsonb	   *copy;
	bool		found;

	if (strlen(hash) != APEX_MEMO_KEY_LEN || strlen(digest) != APEX_MEMO_KEY_LEN ||
		VARSIZE(doc) > APEX_MEMO_MAX_BYTES || !apex_memo_init())
		return;
	entry = hash_search(memo, hash, HASH_FIND, NULL);
	if (entry)
		apex_memo_forget(entry);
	while (memo_bytes + VARSIZE(doc) > APEX_MEMO_MAX_BYTES)
		apex_memo_forget(dlist_container(ApexMemoEntry, lru,
										 dlist_tail_node(&memo_lru)));
	copy = MemoryContextAllocExtended(memo_cxt, VARSIZE(doc), MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
		return;
	entry = hash_search(memo, hash, HASH_ENTER_NULL, &found);
	if (entry == NULL)
	{
		pfree(copy);
		return;
	}
	memcpy(copy, doc, VARSIZE(doc));
	strlcpy(entry->digest, digest, sizeof(entry->digest));
	entry->doc = copy;
	dlist_push_head(&memo_lru, &entry->lru);
	memo_bytes += VARSIZE(doc);
}
