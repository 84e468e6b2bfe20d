/*-------------------------------------------------------------------------
 *
 * leg_redis.c
 *		  Redis as a search source: short-term memory kept in Redis.
 *
 * Data model (the application writes it; see README): each item is a hash
 * at item_key (default "mem:item:%s", %s = item id) holding title and
 * content fields; each term has a sorted set at term_key (default
 * "mem:term:%s", %s = lower-case term) whose members are item ids, scored
 * by recency (e.g. a Unix timestamp).  A search asks the sets of the
 * query's terms (ZREVRANGE, pipelined), ranks items by how many terms
 * they match, then by recency, and fetches the best items' hashes
 * (HGETALL, pipelined): two round trips, both inside the event loop.
 *
 * A redis source also serves as the result cache (cache.c) through the
 * same kept connection: ApexRedisTargetOf says where it is, for both.
 *
 * IDENTIFICATION
 *		  src/leg_redis.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <sys/un.h>

#include "mb/pg_wchar.h"
#include "nodes/value.h"
#include "utils/json.h"

#include "io_redis.h"
#include "leg.h"

#define REDIS_MAX_TERMS 32
#define REDIS_DEFAULT_HOST "127.0.0.1"
#define REDIS_DEFAULT_PORT 6379
/* hiredis copies a socket path into sun_path, cutting what does not fit */
#define REDIS_SOCKET_MAX ((int) sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1)

static const char *const redis_options[] = {
	"host", "port", "socket", "db", "term_key", "item_key", "title_field",
	"content_field", "key_prefix", "ttl_s", NULL
};

typedef struct RedisHit
{
	char	   *id;
	int			matches;		/* query terms whose set holds the item */
	double		recency;		/* best score in those sets */
} RedisHit;

typedef struct RedisSearch
{
	ApexLeg    *leg;
	ApexRedis  *r;
	int			waiting;		/* replies still due in this round */
	List	   *hits;			/* RedisHit * */
	RedisHit  **best;			/* the hits whose hashes are fetched */
	int			nbest;
	List	   *items;
} RedisSearch;

static void
redis_check_pattern(List *options, const char *name)
{
	const char *value = ApexGetOption(options, name);
	const char *p;

	if (value == NULL)
		return;
	p = strchr(value, '%');
	if (p == NULL || p[1] != 's' || strchr(p + 2, '%') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("A key pattern holds exactly one %%s and no other %%.")));
}

static void
redis_validate(List *options)
{
	const char *value;

	/* ApexRedisTargetOf hands hiredis the number this parse gives */
	if ((value = ApexGetOption(options, "port")) && ApexParsePort(value) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"port\": \"%s\"", value),
				 errdetail("Valid values are port numbers from 1 to 65535.")));
	/* a relative path would be the data directory's, a long one cut short */
	if ((value = ApexGetOption(options, "socket")) &&
		(value[0] != '/' || strlen(value) > REDIS_SOCKET_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"socket\": \"%s\"", value),
				 errdetail("A socket is given by an absolute path of at most %d bytes.",
						   REDIS_SOCKET_MAX)));
	if ((value = ApexGetOption(options, "db")))
		ApexParseIntOption("db", value, 0, 1000);
	if ((value = ApexGetOption(options, "ttl_s")))
		ApexParseIntOption("ttl_s", value, 1, 365 * 24 * 3600);
	if (ApexGetOption(options, "socket") &&
		(ApexGetOption(options, "host") || ApexGetOption(options, "port")))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"socket\" and \"host\"/\"port\" exclude each other")));
	redis_check_pattern(options, "term_key");
	redis_check_pattern(options, "item_key");
}

/*
 * Where io_redis.c connects: the socket's path, or host and port (hiredis
 * takes no other option that moves the connection).
 */
static List *
redis_targets(List *options)
{
	const char *socket = ApexGetOption(options, "socket");
	const char *host = ApexGetOption(options, "host");
	const char *port = ApexGetOption(options, "port");

	if (socket)
		return list_make1(ApexTargetMake(socket, NULL));
	return list_make1(ApexTargetMake(host ? host : REDIS_DEFAULT_HOST,
									 psprintf("%d", port ? ApexParsePort(port)
											  : REDIS_DEFAULT_PORT)));
}

/*
 * The connection of a redis source (its secrets loaded by ApexUseSource),
 * for io_redis.c: the same host and port redis_targets checks.  A leg
 * lowers connect_timeout_ms to what its budget leaves.
 */
void
ApexRedisTargetOf(ApexSource *source, ApexRedisTarget *target)
{
	const char *host = ApexGetOption(source->options, "host");
	const char *port = ApexGetOption(source->options, "port");

	memset(target, 0, sizeof(ApexRedisTarget));
	target->serverid = source->serverid;
	target->mapping_oid = source->mapping_oid;
	target->label = source->name;
	target->socket = ApexGetOption(source->options, "socket");
	target->host = host ? host : REDIS_DEFAULT_HOST;
	target->port = port ? ApexParsePort(port) : REDIS_DEFAULT_PORT;
	target->password = ApexGetOption(source->secrets, "password");
	target->db = ApexGetOption(source->options, "db");
	target->connect_timeout_ms = source->connect_timeout_ms;
}

static const char *
redis_option(ApexLeg *leg, const char *name, const char *dflt)
{
	const char *value = ApexGetOption(leg->source->options, name);

	return value ? value : dflt;
}

/* Lower-case alphanumeric terms of the query, each once */
static List *
redis_terms(const char *text)
{
	List	   *terms = NIL;
	StringInfoData term;

	initStringInfo(&term);
	for (const char *p = text;; p++)
	{
		if (*p && isalnum((unsigned char) *p))
		{
			appendStringInfoChar(&term, tolower((unsigned char) *p));
			continue;
		}
		if (term.len > 1 && list_length(terms) < REDIS_MAX_TERMS &&
			!list_member(terms, makeString(term.data)))
			terms = lappend(terms, makeString(pstrdup(term.data)));
		resetStringInfo(&term);
		if (*p == '\0')
			break;
	}
	return terms;
}

static int
redis_hit_cmp(const void *a, const void *b)
{
	const RedisHit *x = *(RedisHit *const *) a;
	const RedisHit *y = *(RedisHit *const *) b;

	if (x->matches != y->matches)
		return y->matches - x->matches;
	if (x->recency != y->recency)
		return x->recency > y->recency ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * A failed command: no reply (error and remote as ApexRedisDone has them),
 * or an error reply, whose text is the server's words.
 */
static void
redis_fail(RedisSearch *s, redisReply *reply, const char *error,
		   const char *remote)
{
	ApexRemote	said = {.peer = s->leg->source};

	said.text = (char *) (reply ? reply->str : remote);
	ApexLegFailRemote(s->leg, &said, "%s", reply ? "error reply" : error);
}

/* One item hash arrived (HGETALL: field, value, field, value, ...) */
static void
redis_item_done(void *arg, redisReply *reply, const char *error,
				const char *remote)
{
	RedisSearch *s = arg;
	const char *title_field = redis_option(s->leg, "title_field", "title");
	const char *content_field = redis_option(s->leg, "content_field", "content");
	RedisHit   *hit = s->best[s->nbest - s->waiting];
	const char *title = NULL;
	const char *content = NULL;
	StringInfoData raw;

	s->waiting--;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
	{
		redis_fail(s, reply, error, remote);
		return;
	}
	initStringInfo(&raw);
	appendStringInfo(&raw, "{\"matched_terms\":%d,\"recency\":", hit->matches);
	ApexJsonAppendNumber(&raw, hit->recency);
	for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2)
	{
		redisReply *f = reply->element[i];
		redisReply *v = reply->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
			!pg_verifymbstr(f->str, f->len, true) || !pg_verifymbstr(v->str, v->len, true))
			continue;
		appendStringInfoChar(&raw, ',');
		escape_json(&raw, f->str);
		appendStringInfoChar(&raw, ':');
		escape_json(&raw, v->str);
		if (strcmp(f->str, title_field) == 0)
			title = v->str;
		else if (strcmp(f->str, content_field) == 0)
			content = v->str;
	}
	appendStringInfoChar(&raw, '}');
	/* an id whose hash is gone (expired) is no longer remembered */
	if (reply->elements > 0)
		s->items = lappend(s->items, ApexItemMake(hit->id, title, content,
												  hit->matches, raw.data));
	if (s->waiting == 0)
		ApexLegFinish(s->leg, s->items);
}

/* One term's set arrived (ZREVRANGE ... WITHSCORES: member, score, ...) */
static void
redis_term_done(void *arg, redisReply *reply, const char *error,
				const char *remote)
{
	RedisSearch *s = arg;

	s->waiting--;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
	{
		redis_fail(s, reply, error, remote);
		return;
	}
	for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2)
	{
		const char *id = reply->element[i]->str;
		const char *score_text = reply->element[i + 1]->str;
		double		score;
		RedisHit   *hit = NULL;
		ListCell   *lc;

		/* nil, integer or array elements have no text */
		if (id == NULL || score_text == NULL || !pg_verifymbstr(id, strlen(id), true))
			continue;
		score = strtod(score_text, NULL);
		foreach(lc, s->hits)
		{
			if (strcmp(((RedisHit *) lfirst(lc))->id, id) == 0)
				hit = lfirst(lc);
		}
		if (hit == NULL)
		{
			hit = palloc0(sizeof(RedisHit));
			hit->id = pstrdup(id);
			hit->recency = score;
			s->hits = lappend(s->hits, hit);
		}
		hit->matches++;
		hit->recency = Max(hit->recency, score);
	}
	if (s->waiting > 0 || s->leg->done)
		return;

	/* every term answered: fetch the best items */
	s->nbest = Min(list_length(s->hits), s->leg->call->query.limit);
	if (s->nbest == 0)
	{
		ApexLegFinish(s->leg, NIL);
		return;
	}
	s->best = palloc(sizeof(RedisHit *) * list_length(s->hits));
	for (int i = 0; i < list_length(s->hits); i++)
		s->best[i] = list_nth(s->hits, i);
	qsort(s->best, list_length(s->hits), sizeof(RedisHit *), redis_hit_cmp);
	s->waiting = s->nbest;
	for (int i = 0; i < s->nbest; i++)
		ApexRedisCommand(s->r, s->leg->call, s->leg, redis_item_done, s, 2,
						 (const char *[]) {"HGETALL",
						 psprintf(redis_option(s->leg, "item_key", "mem:item:%s"),
								  s->best[i]->id)});
}

static void
redis_start(ApexLeg *leg)
{
	RedisSearch *s = palloc0(sizeof(RedisSearch));
	List	   *terms = redis_terms(leg->call->query.text);
	const char *pattern = redis_option(leg, "term_key", "mem:term:%s");
	char	   *stop = psprintf("%d", leg->call->query.limit * 4 - 1);
	ApexRedisTarget target;
	ListCell   *lc;

	s->leg = leg;
	leg->state = s;
	if (terms == NIL)
	{
		ApexLegFinish(leg, NIL);
		return;
	}
	ApexRedisTargetOf(leg->source, &target);
	/* the leg's clock bounds the rest (ApexLegTimedOut) */
	target.connect_timeout_ms = Min(target.connect_timeout_ms, ApexLegRemainingMs(leg));
	s->r = ApexRedisAttach(&target, leg->call->loop, leg->call);
	s->waiting = list_length(terms);
	foreach(lc, terms)
		ApexRedisCommand(s->r, leg->call, leg, redis_term_done, s, 5,
						 (const char *[]) {"ZREVRANGE",
						 psprintf(pattern, strVal(lfirst(lc))), "0", stop,
						 "WITHSCORES"});
}

const ApexKind ApexRedisKind = {
	.name = "redis",
	.server_options = redis_options,
	.required_options = NULL,
	.validate = redis_validate,
	.start = redis_start,
	.targets = redis_targets,
};
