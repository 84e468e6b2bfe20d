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
 * Keys: <key_prefix>route:<epoch>:<sha256> for fused results and
 * <key_prefix>embed:<epoch>:<sha256> for query vectors.  The hash covers
 * the normalised query text, k, rrf_k, the caller vector, the calling
 * role and every chosen source's name, options and credentials, so
 * ALTER SERVER / ALTER USER MAPPING change the key.  <key_prefix>epoch is
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

#include <ctype.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "event_loop.h"
#include "io_redis.h"
#include "json.h"
#include "leg.h"

/*
 * One round trip for epoch and entry.  KEYS[1] = the epoch key; ARGV[1] =
 * the entry's key before the epoch, ARGV[2] = after it.
 */
#define APEX_CACHE_GET_SCRIPT \
	"local e = redis.call('GET', KEYS[1]) or '0' " \
	"return {e, redis.call('GET', ARGV[1] .. e .. ':' .. ARGV[2])}"

char	   *apex_cache_source = NULL;
int			apex_cache_mode = APEX_CACHE_FIRST;

struct ApexCache
{
	ApexCall   *call;
	ApexSource *redis_source;
	ApexRedis  *redis;
	const char *prefix;			/* key_prefix */
	const char *ttl;			/* ttl_s */
	char	   *hash;			/* of the result's inputs */
	char	   *error;			/* first failure (our words), reported once */
	char	   *remote;			/* what Redis said about it, or NULL */
	bool		answered;		/* the result lookup is over */
	char	   *epoch;			/* of the result lookup */
	char	   *hit;			/* cached rows (JSON), or NULL */
};

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
		elog(ERROR, "could not compute a cache key");
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

static pg_cryptohash_ctx *
apex_cache_hash_start(void)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not compute a cache key");
	return ctx;
}

static char *
apex_cache_hash_end(pg_cryptohash_ctx *ctx)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_STRING_LENGTH);

	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute a cache key");
	pg_cryptohash_free(ctx);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	return hex;
}

/* Lower-case, single-spaced, trimmed: "Sarah  Roadmap " = "sarah roadmap" */
static char *
apex_cache_normalise(const char *text)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = text; *p; p++)
	{
		if (isspace((unsigned char) *p))
		{
			if (buf.len > 0 && buf.data[buf.len - 1] != ' ')
				appendStringInfoChar(&buf, ' ');
		}
		else
			appendStringInfoChar(&buf, tolower((unsigned char) *p));
	}
	if (buf.len > 0 && buf.data[buf.len - 1] == ' ')
		buf.data[--buf.len] = '\0';
	return buf.data;
}

/* Record a failure: error in our words, remote what Redis said (or NULL) */
static void
apex_cache_failed(ApexCache *cache, const char *error, const char *remote)
{
	if (cache->error)
		return;
	cache->error = pstrdup(error);
	cache->remote = remote ? pstrdup(remote) : NULL;
}

/*
 * The cache for this call, or NULL when it is off.  sources are the
 * call's legs' sources.
 */
ApexCache *
ApexCacheOpen(ApexCall *call, List *sources, int rrf_k)
{
	ApexCache  *cache;
	ApexSource *redis;
	pg_cryptohash_ctx *ctx;
	ApexRedisTarget target;
	char		buf[64];
	ListCell   *lc;
	const char *value;

	if (apex_cache_mode == APEX_CACHE_OFF || apex_cache_source == NULL ||
		apex_cache_source[0] == '\0')
		return NULL;
	redis = ApexGetSource(apex_cache_source, false);
	if (strcmp(redis->kind->name, "redis") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("apex_router.cache_source \"%s\" is a source of kind \"%s\"",
						redis->name, redis->kind->name),
				 errhint("The result cache needs a source of kind \"redis\".")));
	ApexUseSource(redis);

	cache = palloc0(sizeof(ApexCache));
	cache->call = call;
	cache->redis_source = redis;
	value = ApexGetOption(redis->options, "key_prefix");
	cache->prefix = value ? value : "apex:";
	value = ApexGetOption(redis->options, "ttl_s");
	cache->ttl = value ? value : "300";

	ctx = apex_cache_hash_start();
	value = apex_cache_normalise(call->query.text);
	apex_cache_hash_add(ctx, value, strlen(value));
	snprintf(buf, sizeof(buf), "k=%d rrf_k=%d role=%u", call->query.limit, rrf_k,
			 GetUserId());
	apex_cache_hash_add(ctx, buf, strlen(buf));
	if (call->query.vector)
		apex_cache_hash_add(ctx, (const char *) call->query.vector,
							sizeof(float4) * call->query.vector_dim);
	foreach(lc, sources)
	{
		ApexSource *source = lfirst(lc);

		apex_cache_hash_add(ctx, source->name, strlen(source->name));
		apex_cache_hash_options(ctx, source->options);
		apex_cache_hash_options(ctx, source->secrets);
	}
	cache->hash = apex_cache_hash_end(ctx);
	ApexRedisTargetOf(redis, &target);
	cache->redis = ApexRedisAttach(&target, call->loop, call);
	return cache;
}

ApexCacheMode
ApexCacheModeOf(ApexCache *cache)
{
	return cache ? apex_cache_mode : APEX_CACHE_OFF;
}

/* Runs inside hiredis: must not throw */
static void
apex_cache_get_done(void *arg, redisReply *reply, const char *error,
					const char *remote)
{
	ApexCacheGetState *get = arg;

	if (reply && reply->type == REDIS_REPLY_ERROR)
	{
		error = "error reply";
		remote = reply->str;
	}
	else if (reply && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
					   reply->element[0]->type != REDIS_REPLY_STRING))
		error = "unexpected reply to the cache lookup";
	if (error)
	{
		apex_cache_failed(get->cache, error, remote);
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
 * value (NULL on a miss), or two NULLs when Redis failed.  party is whose
 * timer waits for the answer (see ApexRedisCommand).
 */
void
ApexCacheGet(ApexCache *cache, const char *space, const char *hash,
			 ApexCacheGot got, void *arg, void *party)
{
	ApexCacheGetState *get = palloc(sizeof(ApexCacheGetState));

	get->cache = cache;
	get->got = got;
	get->arg = arg;
	ApexRedisCommand(cache->redis, cache->call, party, apex_cache_get_done, get, 6,
					 (const char *[]) {"EVAL", APEX_CACHE_GET_SCRIPT, "1",
					 psprintf("%sepoch", cache->prefix),
					 psprintf("%s%s:", cache->prefix, space), hash});
}

/* Store a value under the epoch it was looked up with; nobody waits */
void
ApexCacheSet(ApexCache *cache, const char *space, const char *epoch,
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
char *
ApexCacheEmbeddingHash(ApexSource *embedder, const char *text)
{
	pg_cryptohash_ctx *ctx = apex_cache_hash_start();

	apex_cache_hash_options(ctx, embedder->options);
	apex_cache_hash_add(ctx, text, strlen(text));
	return apex_cache_hash_end(ctx);
}

static void
apex_cache_result_got(void *arg, const char *epoch, const char *value)
{
	ApexCache  *cache = arg;

	if (cache->answered)		/* timed out already */
		return;
	cache->answered = true;
	cache->epoch = (char *) epoch;
	/* only what apex_route wrote counts: a JSON array */
	if (value)
	{
		char	   *error;
		Jsonb	   *doc = ApexJsonParse(value, strlen(value), &error);

		if (doc && JB_ROOT_IS_ARRAY(doc) && !JB_ROOT_IS_SCALAR(doc))
			cache->hit = (char *) value;
		else
			apex_cache_failed(cache, "cached entry is not a JSON array", NULL);
	}
}

static void
apex_cache_timeout(void *arg)
{
	ApexCache  *cache = arg;

	if (cache->answered)
		return;
	cache->answered = true;
	apex_cache_failed(cache, ApexTimeoutMessage(cache->redis_source->timeout_ms),
					  NULL);
}

/* Ask Redis for the call's result; see ApexCacheAnswered / ApexCacheHit */
void
ApexCacheLookup(ApexCache *cache)
{
	ApexLoopSetTimer(cache->call->loop, cache, cache->redis_source->timeout_ms,
					 apex_cache_timeout);
	ApexCacheGet(cache, "route", cache->hash, apex_cache_result_got, cache, cache);
}

bool
ApexCacheAnswered(ApexCache *cache)
{
	return cache->answered;
}

/* The cached rows (JSON text) on a hit, else NULL */
const char *
ApexCacheHit(ApexCache *cache)
{
	return cache->answered ? cache->hit : NULL;
}

void
ApexCacheStore(ApexCache *cache, const char *rows)
{
	ApexCacheSet(cache, "route", cache->epoch, cache->hash, rows);
}

/*
 * The detail of a cache failure: what Redis said, as redact.c allows, and
 * what became of the call (then); *log is for the server log, or NULL.
 */
static void
apex_cache_detail(ApexSource *redis, const char *remote, const char *then,
				  char **client, char **log)
{
	ApexRemote	said = {.peer = redis, .text = (char *) remote};

	*client = (char *) then;
	*log = NULL;
	if (remote == NULL)
		return;
	ApexRemoteDetail(&said, client, log);
	*client = then ? psprintf("%s\n%s", *client, then) : *client;
	*log = *log && then ? psprintf("%s\n%s", *log, then) : *log;
}

/* One WARNING for whatever went wrong with Redis during the call */
void
ApexCacheReport(ApexCache *cache)
{
	char	   *client;
	char	   *log;

	if (cache == NULL || cache->error == NULL)
		return;
	apex_cache_detail(cache->redis_source, cache->remote,
					  "The call went on without the cache.", &client, &log);
	ereport(WARNING,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("result cache \"%s\" unavailable: %s",
					cache->redis_source->name, cache->error),
			 errdetail("%s", client),
			 log ? errdetail_log("%s", log) : 0));
}

typedef struct ApexFlush
{
	bool		done;
	char	   *error;			/* our words */
	char	   *remote;			/* what Redis said, or NULL */
	long long	epoch;
} ApexFlush;

/* Runs inside hiredis: records the reply only */
static void
apex_cache_flush_done(void *arg, redisReply *reply, const char *error,
					  const char *remote)
{
	ApexFlush  *flush = arg;

	flush->done = true;
	if (reply && reply->type == REDIS_REPLY_INTEGER)
		flush->epoch = reply->integer;
	else if (reply && reply->type == REDIS_REPLY_ERROR)
	{
		flush->error = "error reply";
		flush->remote = pstrdup(reply->str);
	}
	else
	{
		flush->error = pstrdup(reply ? "unexpected reply" : error);
		flush->remote = remote ? pstrdup(remote) : NULL;
	}
}

static bool
apex_cache_flush_over(void *arg)
{
	return ((ApexFlush *) arg)->done;
}

static void
apex_cache_flush_cleanup(void *arg)
{
	ApexCall   *call = arg;

	ApexRedisDetach(call, false);
	if (call->loop)
		ApexLoopFree(call->loop);
}

/*
 * apex_router_cache_flush(): forget every cached result and embedding of
 * the cache source by moving its epoch on; returns the new epoch.  Runs
 * through the event loop like a call, so cancel still works.
 */
Datum
apex_router_cache_flush(PG_FUNCTION_ARGS)
{
	MemoryContext mcxt;
	MemoryContext old;
	MemoryContextCallback *cb;
	ApexCall   *call;
	ApexSource *redis;
	ApexRedisTarget target;
	ApexFlush	flush = {0};
	const char *prefix;

	if (apex_cache_source == NULL || apex_cache_source[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apex_router.cache_source is not set")));
	mcxt = AllocSetContextCreate(CurrentMemoryContext, "apex_router cache flush",
								 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(mcxt);
	call = palloc0(sizeof(ApexCall));
	call->mcxt = mcxt;
	cb = palloc0(sizeof(MemoryContextCallback));
	cb->func = apex_cache_flush_cleanup;
	cb->arg = call;
	MemoryContextRegisterResetCallback(mcxt, cb);
	call->loop = ApexLoopCreate(mcxt);

	redis = ApexGetSource(apex_cache_source, false);
	if (strcmp(redis->kind->name, "redis") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("apex_router.cache_source \"%s\" is a source of kind \"%s\"",
						redis->name, redis->kind->name)));
	ApexUseSource(redis);
	prefix = ApexGetOption(redis->options, "key_prefix");
	ApexRedisTargetOf(redis, &target);
	ApexRedisCommand(ApexRedisAttach(&target, call->loop, call), call, NULL,
					 apex_cache_flush_done, &flush, 2,
					 (const char *[]) {"INCR", psprintf("%sepoch", prefix ? prefix : "apex:")});
	if (!ApexLoopRun(call->loop, apex_cache_flush_over, &flush,
					 TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												 redis->timeout_ms)))
		flush.error = ApexTimeoutMessage(redis->timeout_ms);
	if (flush.error)
	{
		char	   *client;
		char	   *log;

		apex_cache_detail(redis, flush.remote, NULL, &client, &log);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not flush result cache \"%s\": %s",
						redis->name, flush.error),
				 client ? errdetail("%s", client) : 0,
				 log ? errdetail_log("%s", log) : 0));
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(mcxt);
	PG_RETURN_INT64((int64) flush.epoch);
}
