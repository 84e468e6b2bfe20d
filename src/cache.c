/*-------------------------------------------------------------------------
 *
 * cache.c
 *		  Result cache and query-embedding cache in a Redis source.
 *
 * apex_router.cache_source names a redis source; apex_router.cache_mode
 * says how it is used:
 *   first     look in Redis; fan out to the sources only on a miss.  A hit
 *             costs one Redis round trip; a miss adds it to the call.
 *   parallel  ask Redis and every source at once; a hit ends the call and
 *             abandons the other legs.  A miss costs nothing extra, a hit
 *             still pays for the requests already sent.
 *
 * Keys: <key_prefix>rows:<epoch>:<sha256> for fused results and
 * <key_prefix>embed:<epoch>:<sha256> for query vectors.  A result is
 * stored as the SHA-256 of its JSON (64 hex digits), then the JSON: a
 * backend that parsed it before gets "=" for it, not the entry
 * (cache_memo.c).  The hash covers
 * the query text exactly as given, k, the caller vector, the call's params
 * (its scope), everything that ranks the rows (fusion method, rrf_k,
 * weights, min_score, recency, MMR, the reranker source), the calling
 * role and every chosen source's name, options and credentials, and those
 * of the embedder a vector source uses, so ALTER SERVER / ALTER USER
 * MAPPING change the key.  <key_prefix>epoch is
 * read in the same round trip (a Lua script); apex_router_cache_flush()
 * increments it, which makes every older key unreachable (they expire by
 * their TTL, ttl_s of the redis source).
 *
 * Only complete results are stored (every leg answered), and writes never
 * wait for Redis' reply.  A Redis that is down or slow is a WARNING and
 * the call goes on without the cache.
 *
 * IDENTIFICATION
 *		  src/cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "cache_memo.h"
#include "call.h"
#include "compat.h"
#include "event_loop.h"
#include "io_redis.h"
#include "fusion.h"
#include "json.h"
#include "leg_redis.h"
#include "transport.h"
#include "vector.h"

/*
 * One round trip for epoch and entry.  KEYS[1] = the epoch key; ARGV[1] =
 * the entry's key before the epoch, ARGV[2] = after it; ARGV[3] = the
 * digest of the entry this backend has parsed (cache_memo.c), or empty:
 * when the entry starts with it, "=" comes back instead of the entry.
 */
#define APEX_CACHE_GET_SCRIPT \
	"local e = redis.call('GET', KEYS[1]) or '0' " \
	"local v = redis.call('GET', ARGV[1] .. e .. ':' .. ARGV[2]) " \
	"if v and #ARGV[3] > 0 and string.sub(v, 1, #ARGV[3]) == ARGV[3] then v = '=' end " \
	"return {e, v}"

char	   *apex_cache_source = NULL;
int			apex_cache_mode = APEX_CACHE_FIRST;

/* The modes' names: apex_router.cache_mode's values and the cache_mode argument's */
const struct config_enum_entry apex_cache_modes[] = {
	{"off", APEX_CACHE_OFF, false},
	{"first", APEX_CACHE_FIRST, false},
	{"parallel", APEX_CACHE_PARALLEL, false},
	{NULL, 0, false}
};

/* One question's result: its key and what the lookup found */
typedef struct ApexCacheEntry
{
	struct ApexCache *cache;
	char	   *hash;			/* of the result's inputs; NULL: not asked */
	bool		answered;		/* its lookup is over */
	char	   *epoch;			/* of its lookup; NULL when Redis failed */
	JsonbValue *hit;			/* cached rows (a JSON array), or NULL */
} ApexCacheEntry;

struct ApexCache
{
	ApexVectorCache vectors;	/* first: legs see the cache as this */
	ApexCall   *call;
	ApexCacheMode mode;
	ApexSource *redis_source;
	ApexRedis  *redis;
	const char *prefix;			/* key_prefix */
	const char *ttl;			/* ttl_s */
	char	   *error;			/* first failure (our words), reported once */
	int			sqlerrcode;		/* its SQLSTATE */
	char	   *remote;			/* what Redis said about it, or NULL */
	const char *remote_from;	/* who wrote remote (ApexRedisDone) */
	int			nentries;		/* apex_route: 1; apex_route_many: one a
								 * question */
	ApexCacheEntry *entries;
	int			unanswered;		/* entries whose lookup is not over */
};

/* a lookup's outcome: the epoch and the value (NULL: miss), or two NULLs */
typedef void (*ApexCacheGot) (void *arg, const char *epoch, const char *value);

typedef struct ApexCacheGetState
{
	ApexCache  *cache;
	ApexCacheGot got;
	void	   *arg;
} ApexCacheGetState;

PG_FUNCTION_INFO_V1(apex_router_cache_flush);

static void
apex_cache_hash_add(pg_cryptohash_ctx *ctx, const char *s, size_t len)
{
	/* the length first: no value can pass for two */
	uint32		n = (uint32) len;

	if (pg_cryptohash_update(ctx, (const uint8 *) &n, sizeof(n)) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) s, len) < 0)
		elog(ERROR, "could not compute a cache key: %s", pg_cryptohash_error(ctx));
}

static void
apex_cache_hash_options(pg_cryptohash_ctx *ctx, List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		apex_cache_hash_add(ctx, def->defname, strlen(def->defname));
		apex_cache_hash_add(ctx, defGetString(def), strlen(defGetString(def)));
	}
}

/* each secret with its name: moving a value to another name changes the key */
static void
apex_cache_hash_secrets(pg_cryptohash_ctx *ctx, const ApexSecrets *secrets)
{
	const char *names[] = {"user", "password", "api_key", "token", "sslcert",
	"sslkey", "sslpassword", "proxy_user", "proxy_password"};
	const char *values[] = {secrets->user, secrets->password, secrets->api_key,
		secrets->token, secrets->sslcert, secrets->sslkey,
		secrets->sslpassword, secrets->proxy_user, secrets->proxy_password};
	ListCell   *lc;

	for (size_t i = 0; i < lengthof(names); i++)
	{
		if (values[i] == NULL)
			continue;
		apex_cache_hash_add(ctx, names[i], strlen(names[i]));
		apex_cache_hash_add(ctx, values[i], strlen(values[i]));
	}
	/* a gateway may answer by them: "Name: value", as sent */
	foreach(lc, secrets->headers)
	{
		apex_cache_hash_add(ctx, "headers", strlen("headers"));
		apex_cache_hash_add(ctx, lfirst(lc), strlen(lfirst(lc)));
	}
}

/* a source's name, options and user mapping: ALTER of any changes the key */
static void
apex_cache_hash_source(pg_cryptohash_ctx *ctx, const ApexSource *source)
{
	apex_cache_hash_add(ctx, source->name, strlen(source->name));
	apex_cache_hash_options(ctx, source->options);
	apex_cache_hash_secrets(ctx, source->secrets);
}

static pg_cryptohash_ctx *
apex_cache_hash_start(void)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	/* in a backend, create fails only for want of memory */
	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("PostgreSQL's cryptographic hash could not allocate a SHA-256 context for the cache key.")));
	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not compute a cache key: %s", pg_cryptohash_error(ctx));
	return ctx;
}

static char *
apex_cache_hash_end(pg_cryptohash_ctx *ctx)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_STRING_LENGTH);

	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute a cache key: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	return hex;
}

/*
 * Record a failure: error in our words, with its SQLSTATE; remote what
 * Redis said (or NULL), written by remote_from (see ApexRedisDone)
 */
static void
apex_cache_failed(ApexCache *cache, const char *error, int sqlerrcode,
				  const char *remote, const char *remote_from)
{
	if (cache->error)
		return;
	cache->error = pstrdup(error);
	cache->sqlerrcode = sqlerrcode;
	cache->remote = remote ? pstrdup(remote) : NULL;
	cache->remote_from = remote_from;
}

/*
 * The cache source name names (the cache_source argument, or
 * apex_router.cache_source), cleared for use
 */
static ApexSource *
apex_cache_source_get(const char *name)
{
	ApexSource *redis = ApexGetSource(name);

	if (strcmp(redis->kind->name, "redis") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cache source \"%s\" is a source of kind \"%s\"",
						redis->name, redis->kind->name),
				 errhint("The result cache needs a source of kind \"redis\".")));
	ApexUseSource(redis);
	return redis;
}

static void *apex_cache_vector_lookup(ApexVectorCache *vectors, ApexSource *embedder,
									  const char *text, void *party,
									  ApexVectorFound found, void *arg);
static void apex_cache_vector_store(ApexVectorCache *vectors, void *ticket,
									const float4 *vector, int dim);

/*
 * The key of one question's result (see the file header): the same in
 * apex_route and apex_route_many, so each finds what the other stored
 */
static char *
apex_cache_result_hash(ApexPlan *plan, const ApexQuery *query)
{
	pg_cryptohash_ctx *ctx = apex_cache_hash_start();
	char		buf[128];
	ListCell   *lc;

	/*
	 * The text exactly as given: an embedder (so a vector source) may answer
	 * "Sarah" and "sarah " differently, so one must not be served the other.
	 */
	apex_cache_hash_add(ctx, query->text, strlen(query->text));
	snprintf(buf, sizeof(buf), "k=%d rrf_k=%d role=%u", query->limit,
			 plan->rrf_k, GetUserId());
	apex_cache_hash_add(ctx, buf, strlen(buf));
	if (query->vector)
		apex_cache_hash_add(ctx, (const char *) query->vector,
							sizeof(float4) * query->vector_dim);
	/* the scope: params (since and until among them) as given */
	if (query->params)
	{
		apex_cache_hash_add(ctx, "params", strlen("params"));
		apex_cache_hash_add(ctx, (const char *) query->params,
							VARSIZE(query->params));
	}
	/* how the rows are ranked: its every setting changes them */
	snprintf(buf, sizeof(buf), "fusion=%d min_score=%.17g recency=%.17g mmr=%.17g",
			 (int) plan->fusion, plan->min_score, plan->recency_half_life_ms,
			 plan->mmr_lambda);
	apex_cache_hash_add(ctx, buf, strlen(buf));
	if (plan->reranker)
	{
		apex_cache_hash_add(ctx, "reranker", strlen("reranker"));
		apex_cache_hash_source(ctx, plan->reranker);
	}
	foreach(lc, plan->legs)
	{
		ApexPlannedLeg *planned = lfirst(lc);
		ApexSource *source = planned->source;

		apex_cache_hash_source(ctx, source);
		snprintf(buf, sizeof(buf), "weight=%.17g", planned->weight);
		apex_cache_hash_add(ctx, buf, strlen(buf));
		/* its embedder (the plan resolved it) makes the vector it searches */
		if (source->embedder)
		{
			apex_cache_hash_add(ctx, "embedder", strlen("embedder"));
			apex_cache_hash_source(ctx, source->embedder);
		}
	}
	return apex_cache_hash_end(ctx);
}

/*
 * The cache for this call with room for nentries results, or NULL when it
 * is off; legs see it as call->vectors.
 */
static ApexCache *
apex_cache_open(ApexCall *call, const ApexPlan *plan, int nentries)
{
	ApexCache  *cache;
	ApexSource *redis;
	ApexRedisTarget target;

	if (plan->cache_mode == APEX_CACHE_OFF || plan->cache_source == NULL)
		return NULL;
	redis = apex_cache_source_get(plan->cache_source);

	cache = palloc0(sizeof(ApexCache));
	cache->vectors.lookup = apex_cache_vector_lookup;
	cache->vectors.store = apex_cache_vector_store;
	cache->call = call;
	cache->mode = plan->cache_mode;
	cache->redis_source = redis;
	cache->prefix = ((const ApexRedisConf *) redis->conf)->key_prefix;
	cache->ttl = psprintf("%d", ((const ApexRedisConf *) redis->conf)->ttl_s);
	cache->nentries = nentries;
	cache->entries = palloc0(sizeof(ApexCacheEntry) * Max(nentries, 1));
	for (int i = 0; i < nentries; i++)
		cache->entries[i].cache = cache;
	ApexRedisTargetOf(redis, &target);
	cache->redis = ApexRedisAttach(&target, call->loop, call);
	call->vectors = &cache->vectors;
	return cache;
}

/* apex_route's cache: one result, the call's question */
ApexCache *
ApexCacheOpen(ApexCall *call, ApexPlan *plan)
{
	ApexCache  *cache = apex_cache_open(call, plan, 1);

	if (cache)
		cache->entries[0].hash = apex_cache_result_hash(plan, &call->query);
	return cache;
}

/*
 * apex_route_many's cache: one result a question (entry i is question i's;
 * a question not asked has none), always looked up first, whatever
 * cache_mode says: a batch's lookups share one round trip
 * (ApexCacheLookup), which costs little beside the batch, and a hit must
 * keep its question's legs from starting, not abandon them.
 */
ApexCache *
ApexCacheOpenMany(ApexCall *call, ApexBatchPlan *plan)
{
	ApexCache  *cache = apex_cache_open(call, &plan->plan, plan->nquestions);

	if (cache == NULL)
		return NULL;
	cache->mode = APEX_CACHE_FIRST;
	for (int i = 0; i < plan->nquestions; i++)
	{
		if (!plan->refused[i])
			cache->entries[i].hash = apex_cache_result_hash(ApexBatchQuestionPlan(plan, i),
															&plan->questions[i]);
	}
	return cache;
}

/* Runs inside hiredis: must not throw */
static void
apex_cache_get_done(void *arg, redisReply *reply, const char *error,
					int sqlerrcode, const char *remote, const char *remote_from)
{
	ApexCacheGetState *get = arg;

	if (reply && reply->type == REDIS_REPLY_ERROR)
	{
		error = "The server answered with an error.";
		sqlerrcode = ERRCODE_FDW_ERROR;
		remote = reply->str;
	}
	else if (reply && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
					   reply->element[0]->type != REDIS_REPLY_STRING))
	{
		error = "The reply to the cache lookup is not what was asked for.";
		sqlerrcode = ERRCODE_FDW_ERROR;
	}
	if (error)
	{
		apex_cache_failed(get->cache, error, sqlerrcode, remote, remote_from);
		get->got(get->arg, NULL, NULL);
		return;
	}
	get->got(get->arg,
			 pnstrdup(reply->element[0]->str, reply->element[0]->len),
			 reply->element[1]->type == REDIS_REPLY_STRING
			 ? pnstrdup(reply->element[1]->str, reply->element[1]->len) : NULL);
}

/*
 * Look up <prefix><space>:<epoch>:<hash>; got receives the epoch and the
 * value (NULL on a miss; "=" when the value starts with known), or two
 * NULLs when Redis failed.  party is whose timer waits for the answer (see
 * ApexRedisCommand).
 */
static void
apex_cache_get(ApexCache *cache, const char *space, const char *hash,
			   const char *known, ApexCacheGot got, void *arg, void *party)
{
	ApexCacheGetState *get = palloc(sizeof(ApexCacheGetState));

	get->cache = cache;
	get->got = got;
	get->arg = arg;
	ApexRedisCommand(cache->redis, cache->call, party, apex_cache_get_done, get, 7,
					 (const char *[]) {"EVAL", APEX_CACHE_GET_SCRIPT, "1",
					 psprintf("%sepoch", cache->prefix),
					 psprintf("%s%s:", cache->prefix, space), hash,
					 known ? known : ""});
}

/* Store a value under the epoch it was looked up with; nobody waits */
static void
apex_cache_set(ApexCache *cache, const char *space, const char *epoch,
			   const char *hash, const char *value)
{
	if (epoch == NULL)			/* the lookup failed: Redis is not there */
		return;
	ApexRedisCommand(cache->redis, NULL, NULL, NULL, NULL, 5,
					 (const char *[]) {"SET",
					 psprintf("%s%s:%s:%s", cache->prefix, space, epoch, hash),
					 value, "EX", cache->ttl});
}

/* The hash naming an embedding: the embedder's model options and the text */
static char *
apex_cache_embedding_hash(ApexSource *embedder, const char *text)
{
	pg_cryptohash_ctx *ctx = apex_cache_hash_start();

	apex_cache_hash_options(ctx, embedder->options);
	apex_cache_hash_add(ctx, text, strlen(text));
	return apex_cache_hash_end(ctx);
}

/* A vector lookup under way: where to store the embedder's answer */
typedef struct ApexVectorTicket
{
	ApexCache  *cache;
	char	   *hash;
	const char *epoch;			/* NULL until Redis answered (or if it failed) */
	ApexVectorFound found;
	void	   *arg;
} ApexVectorTicket;

/* Runs inside hiredis: must not throw */
static void
apex_cache_vector_got(void *arg, const char *epoch, const char *value)
{
	ApexVectorTicket *ticket = arg;
	char	   *error;
	int			dim = 0;
	float4	   *vector = NULL;

	ticket->epoch = epoch;
	/* what is not a vector counts as a miss: the embedder answers */
	if (value)
		vector = ApexVectorFromBase64(value, strlen(value), &dim, &error);
	ticket->found(ticket->arg, vector, dim);
}

static void *
apex_cache_vector_lookup(ApexVectorCache *vectors, ApexSource *embedder,
						 const char *text, void *party, ApexVectorFound found,
						 void *arg)
{
	ApexVectorTicket *ticket = palloc0(sizeof(ApexVectorTicket));

	ticket->cache = (ApexCache *) vectors;
	ticket->hash = apex_cache_embedding_hash(embedder, text);
	ticket->found = found;
	ticket->arg = arg;
	apex_cache_get(ticket->cache, "embed", ticket->hash, NULL, apex_cache_vector_got,
				   ticket, party);
	return ticket;
}

/* Store under the epoch the lookup saw; nothing when Redis did not answer */
static void
apex_cache_vector_store(ApexVectorCache *vectors pg_attribute_unused(),
						void *arg, const float4 *vector, int dim)
{
	ApexVectorTicket *ticket = arg;

	apex_cache_set(ticket->cache, "embed", ticket->epoch, ticket->hash,
				   ApexVectorToBase64(vector, dim));
}

/*
 * Runs inside hiredis (must not throw): the entry, from Redis or, when
 * Redis answered "=", from the memo.  Only what apex_route wrote counts:
 * its digest, then a JSON array.
 */
static void
apex_cache_result_got(void *arg, const char *epoch, const char *value)
{
	ApexCacheEntry *entry = arg;
	ApexCache  *cache = entry->cache;
	size_t		len;
	char	   *error;
	JsonbValue *doc;
	Jsonb	   *kept;

	if (entry->answered)		/* timed out already */
		return;
	entry->answered = true;
	cache->unanswered--;
	entry->epoch = (char *) epoch;
	if (value == NULL)
		return;
	/* a memo evicted since the lookup was sent: a miss */
	if (strcmp(value, "=") == 0)
	{
		kept = ApexMemoGet(entry->hash);
		entry->hit = kept ? ApexJsonOfJsonb(kept) : NULL;
		return;
	}
	len = strlen(value);
	if (len < APEX_MEMO_KEY_LEN ||
		strspn(value, "0123456789abcdef") < APEX_MEMO_KEY_LEN ||
		(doc = ApexJsonParse(value + APEX_MEMO_KEY_LEN, len - APEX_MEMO_KEY_LEN,
							 &error)) == NULL ||
		ApexJsonArray(doc) == NULL)
	{
		apex_cache_failed(cache, "A cached entry is not a digest and a JSON array.",
						  ERRCODE_FDW_ERROR, NULL, NULL);
		return;
	}
	entry->hit = doc;
	/* kept flat: one copy serves the next hit (a tree would need a deep one) */
	ApexMemoPut(entry->hash, pnstrdup(value, APEX_MEMO_KEY_LEN),
				JsonbValueToJsonb(doc));
}

/* Lookups still under way when the cache source's clock ran out are misses */
static void
apex_cache_timeout(void *arg)
{
	ApexCache  *cache = arg;

	if (cache->unanswered == 0)
		return;
	for (int i = 0; i < cache->nentries; i++)
		cache->entries[i].answered = true;
	cache->unanswered = 0;
	apex_cache_failed(cache, ApexTimedOut(cache->redis_source->timeout_ms),
					  ERRCODE_FDW_ERROR, NULL, NULL);
}

static bool
apex_cache_answered(void *arg)
{
	return ((ApexCache *) arg)->unanswered == 0;
}

/*
 * Ask Redis for the rows of every question the cache has a key for: all
 * the commands are written before the loop waits, so hiredis sends them
 * together, and a batch's lookups cost one round trip.  In mode first,
 * wait for the answers (one timer: the cache source's timeout_ms; the
 * call's deadline at the latest); in mode parallel, the legs start
 * meanwhile (ApexCacheEndsWait, ApexCacheHolds).  Then ApexCacheHitRows()
 * tells.
 */
void
ApexCacheLookup(ApexCache *cache, TimestampTz deadline)
{
	if (cache == NULL)
		return;
	ApexLoopSetTimer(cache->call->loop, cache, cache->redis_source->timeout_ms,
					 apex_cache_timeout);
	for (int i = 0; i < cache->nentries; i++)
	{
		ApexCacheEntry *entry = &cache->entries[i];

		if (entry->hash == NULL)
		{
			entry->answered = true;
			continue;
		}
		cache->unanswered++;
		apex_cache_get(cache, "rows", entry->hash, ApexMemoDigest(entry->hash),
					   apex_cache_result_got, entry, cache);
	}
	if (cache->mode == APEX_CACHE_FIRST)
		(void) ApexLoopRun(cache->call->loop, apex_cache_answered, cache, deadline);
	/* its answers are in, or too late to count: its clock is done */
	if (cache->unanswered == 0)
		ApexLoopSetTimer(cache->call->loop, cache, -1, NULL);
}

/* In mode parallel, a hit ends the call's waiting at once */
bool
ApexCacheEndsWait(ApexCache *cache)
{
	return cache && cache->mode == APEX_CACHE_PARALLEL &&
		cache->entries[0].answered && cache->entries[0].hit != NULL;
}

/*
 * In mode parallel, a lookup still under way: the call waits for it once
 * its legs are done, since it decides whether the rows are stored.
 */
bool
ApexCacheHolds(ApexCache *cache)
{
	return cache && cache->mode == APEX_CACHE_PARALLEL && cache->unanswered > 0;
}

/*
 * Emit rows from a cached JSON array (what apex_cache_rows_json() writes);
 * false when the entry is anything else.  Each row's payload is its part
 * of the parsed document, copied as it is (not printed and parsed again).
 */
static bool
apex_cache_read_rows(JsonbValue *doc, List **rows)
{
	JsonbValue *array;

	*rows = NIL;
	if ((array = ApexJsonArray(doc)) == NULL)
		return false;
	for (int i = 0; i < ApexJsonLength(array); i++)
	{
		JsonbValue *obj = ApexJsonObject(ApexJsonAt(array, i));
		JsonbValue *found = ApexJsonArray(ApexJsonGet(obj, "found_in"));
		JsonbValue *payload = ApexJsonGet(obj, "payload");
		ApexRow    *row = palloc0(sizeof(ApexRow));

		row->id = ApexJsonScalarText(ApexJsonGet(obj, "id"));
		if (row->id == NULL || found == NULL || !ApexJsonObject(payload) ||
			!ApexJsonNumber(ApexJsonGet(obj, "score"), &row->score))
			return false;
		row->title = ApexJsonScalarText(ApexJsonGet(obj, "title"));
		row->content = ApexJsonScalarText(ApexJsonGet(obj, "content"));
		for (int j = 0; j < ApexJsonLength(found); j++)
		{
			char	   *name = ApexJsonScalarText(ApexJsonAt(found, j));

			if (name == NULL)
				return false;
			row->found_in = lappend(row->found_in, name);
		}
		row->payload = JsonbValueToJsonb(payload);
		*rows = lappend(*rows, row);
	}
	return true;
}

/*
 * Whether Redis had question i's rows (apex_route: i = 0); then *rows holds
 * them.  An entry that is not what apex_route wrote is an ERROR: it cannot
 * be a passing failure.
 */
bool
ApexCacheHitRows(ApexCache *cache, int i, List **rows)
{
	ApexCacheEntry *entry;

	if (cache == NULL)
		return false;
	entry = &cache->entries[i];
	if (!entry->answered || entry->hit == NULL)
		return false;
	if (!apex_cache_read_rows(entry->hit, rows))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("cached result in \"%s\" is malformed", cache->redis_source->name),
				 errhint("Flush the cache with apex_router_cache_flush().")));
	return true;
}

/* The rows as JSON: what apex_cache_read_rows() reads */
static char *
apex_cache_rows_json(List *rows)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, rows)
	{
		ApexRow    *row = lfirst(lc);
		ListCell   *nc;

		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, "{\"id\":");
		escape_json(&buf, row->id);
		appendStringInfoString(&buf, ",\"title\":");
		if (row->title)
			escape_json(&buf, row->title);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ",\"content\":");
		if (row->content)
			escape_json(&buf, row->content);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ",\"score\":");
		ApexJsonAppendNumber(&buf, row->score);
		appendStringInfoString(&buf, ",\"found_in\":[");
		foreach(nc, row->found_in)
		{
			if (nc != list_head(row->found_in))
				appendStringInfoChar(&buf, ',');
			escape_json(&buf, lfirst(nc));
		}
		appendStringInfo(&buf, "],\"payload\":%s}",
						 JsonbToCString(NULL, &row->payload->root, VARSIZE(row->payload)));
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* What is stored for rows: the SHA-256 of their JSON in hex, then the JSON */
static char *
apex_cache_rows_entry(List *rows)
{
	char	   *json = apex_cache_rows_json(rows);
	pg_cryptohash_ctx *ctx = apex_cache_hash_start();

	if (pg_cryptohash_update(ctx, (const uint8 *) json, strlen(json)) < 0)
		elog(ERROR, "could not compute a cache digest: %s", pg_cryptohash_error(ctx));
	return psprintf("%s%s", apex_cache_hash_end(ctx), json);
}

/*
 * Question i's rows are known: store them unless they came from the cache
 * or are partial (complete: every leg answered; a passing failure must not
 * stick).  Nobody waits for the write; a batch's writes go out together.
 */
void
ApexCacheStore(ApexCache *cache, int i, List *rows, bool complete)
{
	ApexCacheEntry *entry;

	if (cache == NULL)
		return;
	entry = &cache->entries[i];
	if (complete && entry->hash && entry->hit == NULL)
		apex_cache_set(cache, "rows", entry->epoch, entry->hash,
					   apex_cache_rows_entry(rows));
}

/*
 * What the cache did for question i (apex_explain), with its source's name
 * in *source; NULL when the call has no cache.
 */
const char *
ApexCacheOutcome(ApexCache *cache, int i, const char **source)
{
	if (cache == NULL)
		return NULL;
	*source = cache->redis_source->name;
	if (cache->error)
		return "unavailable";
	if (cache->entries[i].hash == NULL)
		return "not asked";
	if (!cache->entries[i].answered)
		return "no answer in time";
	return cache->entries[i].hit ? "hit" : "miss";
}

/* The call is over: one WARNING for whatever went wrong with Redis */
void
ApexCacheReport(ApexCache *cache)
{
	ApexRemote	said;
	char	   *client;
	char	   *log;
	char	   *hint;

	if (cache == NULL || cache->error == NULL)
		return;
	said = (ApexRemote) {.peer = cache->redis_source, .text = cache->remote,
	.from = cache->remote_from};
	/* what Redis said comes last: nothing of ours after the server's words */
	ApexRemoteDetail(psprintf("%s The call went on without the cache.", cache->error),
					 &said, &client, &log, &hint);
	ereport(WARNING,
			(errcode(cache->sqlerrcode),
			 errmsg("result cache \"%s\" unavailable", cache->redis_source->name),
			 errdetail("%s", client),
			 log ? errdetail_log("%s", log) : 0,
			 hint ? errhint("%s", hint) : 0));
}

typedef struct ApexFlush
{
	bool		done;
	char	   *error;			/* our words */
	int			sqlerrcode;		/* its SQLSTATE */
	char	   *remote;			/* what Redis said, or NULL */
	const char *remote_from;	/* who wrote remote (ApexRedisDone) */
	long long	epoch;
} ApexFlush;

/* Runs inside hiredis: records the reply only */
static void
apex_cache_flush_done(void *arg, redisReply *reply, const char *error,
					  int sqlerrcode, const char *remote, const char *remote_from)
{
	ApexFlush  *flush = arg;

	flush->done = true;
	if (reply && reply->type == REDIS_REPLY_INTEGER)
		flush->epoch = reply->integer;
	else if (reply && reply->type == REDIS_REPLY_ERROR)
	{
		flush->error = "The server answered with an error.";
		flush->sqlerrcode = ERRCODE_FDW_ERROR;
		flush->remote = pstrdup(reply->str);
	}
	else if (reply)
	{
		flush->error = "The reply to INCR is not an integer.";
		flush->sqlerrcode = ERRCODE_FDW_ERROR;
	}
	else
	{
		flush->error = pstrdup(error);
		flush->sqlerrcode = sqlerrcode;
		flush->remote = remote ? pstrdup(remote) : NULL;
		flush->remote_from = remote_from;
	}
}

static bool
apex_cache_flush_over(void *arg)
{
	return ((ApexFlush *) arg)->done;
}

/*
 * apex_router_cache_flush(cache_source text DEFAULT NULL): forget every
 * cached result and embedding of the cache source (the argument, else
 * apex_router.cache_source) by moving its epoch on; returns the new epoch.  Runs
 * through the event loop like a call, so cancel still works.
 */
Datum
apex_router_cache_flush(PG_FUNCTION_ARGS)
{
	MemoryContext old;
	ApexCall   *call;
	ApexSource *redis;
	ApexRedisTarget target;
	ApexFlush	flush = {0};
	const char *prefix;
	const char *name;

	/* through 0.1.0's definition, before ALTER EXTENSION UPDATE (compat.c) */
	fcinfo = ApexOldEntryCall(fcinfo, "apex_router_cache_flush");
	name = PG_ARGISNULL(0) ? apex_cache_source : text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (name == NULL || name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no cache source"),
				 errdetail("apex_router.cache_source is not set, and the call names none.")));
	call = ApexCallBegin("apex_router cache flush");
	old = MemoryContextSwitchTo(call->mcxt);

	redis = apex_cache_source_get(name);
	prefix = ((const ApexRedisConf *) redis->conf)->key_prefix;
	ApexRedisTargetOf(redis, &target);
	ApexRedisCommand(ApexRedisAttach(&target, call->loop, call), call, NULL,
					 apex_cache_flush_done, &flush, 2,
					 (const char *[]) {"INCR", psprintf("%sepoch", prefix)});
	if (!ApexLoopRun(call->loop, apex_cache_flush_over, &flush,
					 TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												 redis->timeout_ms)))
	{
		flush.error = ApexTimedOut(redis->timeout_ms);
		flush.sqlerrcode = ERRCODE_FDW_ERROR;
	}
	if (flush.error)
	{
		ApexRemote	said = {.peer = redis, .text = flush.remote,
		.from = flush.remote_from};
		char	   *client;
		char	   *log;
		char	   *hint;

		ApexRemoteDetail(flush.error, &said, &client, &log, &hint);
		ereport(ERROR,
				(errcode(flush.sqlerrcode),
				 errmsg("could not flush result cache \"%s\"", redis->name),
				 errdetail("%s", client),
				 log ? errdetail_log("%s", log) : 0,
				 hint ? errhint("%s", hint) : 0));
	}
	MemoryContextSwitchTo(old);
	ApexCallEnd(call);
	PG_RETURN_INT64((int64) flush.epoch);
}
