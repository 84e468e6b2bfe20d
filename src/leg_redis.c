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
 * Key patterns may hold ${name} placeholders, filled from the call's
 * params and percent-encoded (scope.c): "mem:${user_id}:term:%s" keeps
 * each user's memory in a key space of its own.
 *
 * A redis source also serves as the result cache (cache.c) through the
 * same kept connection.
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
#include "leg_redis.h"
#include "peer_encoding.h"
#include "scope.h"
#include "transport.h"

#define REDIS_MAX_TERMS 32
#define REDIS_DEFAULT_HOST "127.0.0.1"
#define REDIS_DEFAULT_PORT 6379
/*
 * Members asked of each term's set, per item wanted: an item may rank high
 * in one term and be absent from another, so each set is read deeper than
 * k; ranking then takes the best k across terms.
 */
#define REDIS_MEMBERS_PER_LIMIT 4
/* hiredis copies a socket path into sun_path, cutting what does not fit */
#define REDIS_SOCKET_MAX ((int) sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1)

static void redis_check_socket(const char *name, const char *value);
static void redis_check_pattern(const char *name, const char *value);

static const ApexOption redis_options[] = {
	{APEX_OPT("host", APEX_OPTION_STRING, ApexRedisConf, host)},
	{APEX_OPT("port", APEX_OPTION_PORT, ApexRedisConf, port)},
	{APEX_OPT("socket", APEX_OPTION_STRING, ApexRedisConf, socket),
	 .validate = redis_check_socket},
	{APEX_OPT("db", APEX_OPTION_INT, ApexRedisConf, db), .min = 0, .max = 1000},
	{APEX_OPT("term_key", APEX_OPTION_STRING, ApexRedisConf, term_key),
	 .dflt = "mem:term:%s", .validate = redis_check_pattern},
	{APEX_OPT("item_key", APEX_OPTION_STRING, ApexRedisConf, item_key),
	 .dflt = "mem:item:%s", .validate = redis_check_pattern},
	{APEX_OPT("title_field", APEX_OPTION_STRING, ApexRedisConf, title_field),
	 .dflt = "title"},
	{APEX_OPT("content_field", APEX_OPTION_STRING, ApexRedisConf, content_field),
	 .dflt = "content"},
	{APEX_OPT("key_prefix", APEX_OPTION_STRING, ApexRedisConf, key_prefix),
	 .dflt = "apex:"},
	{APEX_OPT("ttl_s", APEX_OPTION_INT, ApexRedisConf, ttl_s), .dflt = "300",
	 .min = 1, .max = 365 * 24 * 3600},
	{NULL}
};

/* The leg's part of a search: the connection, and the round's replies due */
typedef struct RedisSearch
{
	ApexLeg    *leg;
	ApexRedis  *r;
	int			waiting;		/* replies still due in this round */
	ApexRedisDecodeState decode;
} RedisSearch;

static void
redis_check_pattern(const char *name, const char *value)
{
	const char *p = strchr(value, '%');
	const char *placeholders = ApexScopeCheckText(value);

	if (p == NULL || p[1] != 's' || strchr(p + 2, '%') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("A key pattern holds exactly one %%s and no other %%.")));
	if (placeholders)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("%s", placeholders)));
}

/* the key patterns' placeholders need params' values, strings or numbers */
static const char *
redis_scope_error(const void *arg, const ApexQuery *query)
{
	const ApexRedisConf *conf = arg;
	const char *error = ApexScopeMissing(conf->term_key, query, true);

	return error ? error : ApexScopeMissing(conf->item_key, query, true);
}

/* a relative path would be the data directory's, a long one cut short */
static void
redis_check_socket(const char *name, const char *value)
{
	if (value[0] != '/' || strlen(value) > REDIS_SOCKET_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("A socket is given by an absolute path of at most %d bytes.",
						   REDIS_SOCKET_MAX)));
}

static void
redis_check(void *arg)
{
	ApexRedisConf *conf = arg;

	if (conf->socket && (conf->host || conf->port))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"socket\" and \"host\"/\"port\" exclude each other")));
}

/*
 * Where io_redis.c connects: the socket's path, or host and port (hiredis
 * takes no other option that moves the connection).
 */
static List *
redis_targets(const void *arg)
{
	const ApexRedisConf *conf = arg;

	if (conf->socket)
		return list_make1(ApexTargetMake(conf->socket, NULL));
	return list_make1(ApexTargetMake(conf->host ? conf->host : REDIS_DEFAULT_HOST,
									 psprintf("%d", conf->port ? conf->port
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
	const ApexRedisConf *conf = source->conf;

	memset(target, 0, sizeof(ApexRedisTarget));
	target->serverid = source->serverid;
	target->mapping_oid = source->mapping_oid;
	target->label = source->name;
	target->socket = conf->socket;
	target->host = conf->host ? conf->host : REDIS_DEFAULT_HOST;
	target->port = conf->port ? conf->port : REDIS_DEFAULT_PORT;
	target->user = source->secrets->user;
	target->password = source->secrets->password;
	/* SELECT 0 is where a connection starts anyway */
	target->db = conf->db ? psprintf("%d", conf->db) : NULL;
	target->connect_timeout_ms = source->connect_timeout_ms;
}

/*
 * Lower-case alphanumeric terms of the query, each once.  Every character
 * beyond ASCII counts as a letter (its bytes all have the high bit set, in
 * every server encoding): "café" is one term, not "caf", whatever the
 * database's LC_CTYPE; its key goes to Redis in UTF-8 (io_redis.c).
 */
static List *
redis_terms(const char *text)
{
	List	   *terms = NIL;
	StringInfoData term;

	initStringInfo(&term);
	for (const char *p = text;; p++)
	{
		if (*p && (isalnum((unsigned char) *p) || IS_HIGHBIT_SET(*p)))
		{
			appendStringInfoChar(&term, IS_HIGHBIT_SET(*p) ? *p
								 : tolower((unsigned char) *p));
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
	const ApexRedisHit *x = *(ApexRedisHit *const *) a;
	const ApexRedisHit *y = *(ApexRedisHit *const *) b;

	if (x->matches != y->matches)
		return y->matches - x->matches;
	if (x->recency != y->recency)
		return x->recency > y->recency ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* An error reply: the reason in our words, the server's in *remote */
static char *
redis_error_reply(const redisReply *reply, ApexRemote *remote)
{
	remote->text = ApexPeerWords(reply->str, reply->len);
	return "The server answered with an error.";
}

/*
 * A string of a reply in the database encoding, into *text; NULL when it is
 * one (*text NULL: it is not UTF-8, and is skipped, as binary values are),
 * else why the search fails: a character the database encoding lacks.
 */
static char *
redis_text(const redisReply *reply, char **text, ApexRemote *remote)
{
	*text = NULL;
	if (reply->type != REDIS_REPLY_STRING ||
		ApexFromPeer(reply->str, reply->len, text) != APEX_PEER_TEXT_UNTRANSLATABLE)
		return NULL;
	remote->sqlerrcode = ERRCODE_UNTRANSLATABLE_CHARACTER;
	return ApexPeerUntranslatable();
}

/*
 * Decode one term's set (ZREVRANGE ... WITHSCORES: member, score, ...):
 * its members join state->hits.  Returns NULL, or why the search fails
 * (see ApexDecoder).  Pure, as are ApexRedisRank and ApexRedisDecodeItem.
 */
char *
ApexRedisDecodeTerm(ApexRedisDecodeState *state, const redisReply *reply,
					ApexRemote *remote)
{
	if (reply->type == REDIS_REPLY_ERROR)
		return redis_error_reply(reply, remote);
	for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2)
	{
		char	   *id;
		const char *score_text = reply->element[i + 1]->str;
		double		score;
		ApexRedisHit *hit = NULL;
		ListCell   *lc;
		char	   *cause = redis_text(reply->element[i], &id, remote);

		if (cause)
			return cause;
		/* nil, integer or array elements have no text */
		if (id == NULL || score_text == NULL)
			continue;
		score = strtod(score_text, NULL);
		foreach(lc, state->hits)
		{
			if (strcmp(((ApexRedisHit *) lfirst(lc))->id, id) == 0)
				hit = lfirst(lc);
		}
		if (hit == NULL)
		{
			hit = palloc0(sizeof(ApexRedisHit));
			hit->id = id;
			hit->recency = score;
			state->hits = lappend(state->hits, hit);
		}
		hit->matches++;
		hit->recency = Max(hit->recency, score);
	}
	return NULL;
}

/*
 * Every term answered: rank the hits by the terms they match, then by
 * recency.  Returns the ids of the best (at most limit, best first) whose
 * hashes to ask for next; NIL when there are none.
 */
List *
ApexRedisRank(ApexRedisDecodeState *state, int limit)
{
	int			nhits = list_length(state->hits);
	List	   *ids = NIL;

	state->nbest = Min(nhits, limit);
	if (state->nbest == 0)
		return NIL;
	state->best = palloc(sizeof(ApexRedisHit *) * nhits);
	for (int i = 0; i < nhits; i++)
		state->best[i] = list_nth(state->hits, i);
	qsort(state->best, nhits, sizeof(ApexRedisHit *), redis_hit_cmp);
	for (int i = 0; i < state->nbest; i++)
		ids = lappend(ids, state->best[i]->id);
	return ids;
}

/*
 * Decode the hash of the i-th id ApexRedisRank asked for (HGETALL: field,
 * value, field, value, ...): an item joins state->items, unless the hash
 * is gone.  Returns NULL, or why the search fails (see ApexDecoder).
 */
char *
ApexRedisDecodeItem(ApexRedisDecodeState *state, int i, const redisReply *reply,
					ApexRemote *remote)
{
	const ApexRedisHit *hit = state->best[i];
	const char *title = NULL;
	const char *content = NULL;
	JsonbParseState *raw;

	Assert(i >= 0 && i < state->nbest);
	if (reply->type == REDIS_REPLY_ERROR)
		return redis_error_reply(reply, remote);
	ApexJsonBeginObject(&raw);
	ApexJsonPutNumber(&raw, "matched_terms", hit->matches);
	ApexJsonPutNumber(&raw, "recency", hit->recency);
	for (size_t f = 0; reply->type == REDIS_REPLY_ARRAY && f + 1 < reply->elements; f += 2)
	{
		char	   *field;
		char	   *value;
		char	   *cause;

		if ((cause = redis_text(reply->element[f], &field, remote)) ||
			(cause = redis_text(reply->element[f + 1], &value, remote)))
			return cause;
		if (field == NULL || value == NULL)
			continue;
		ApexJsonPutText(&raw, field, value);
		if (strcmp(field, state->conf->title_field) == 0)
			title = value;
		else if (strcmp(field, state->conf->content_field) == 0)
			content = value;
	}
	/* an id whose hash is gone (expired) is no longer remembered */
	if (reply->elements > 0)
		state->items = lappend(state->items, ApexItemMake(hit->id, title, content,
														  hit->matches,
														  ApexJsonEndObject(&raw)));
	return NULL;
}

/* One item hash arrived, or none (error ... as ApexRedisDone has them) */
static void
redis_item_done(void *arg, redisReply *reply, const char *error,
				int sqlerrcode, const char *remote, const char *remote_from)
{
	RedisSearch *s = arg;
	ApexRemote	said = {.peer = s->leg->source, .text = (char *) remote,
	.from = remote_from};
	/* replies come in the order the commands were sent */
	int			i = s->decode.nbest - s->waiting;
	const char *cause = error;

	s->waiting--;
	if (reply == NULL || (cause = ApexRedisDecodeItem(&s->decode, i, reply, &said)))
		ApexLegFailRemote(s->leg, reply ? (said.sqlerrcode ? said.sqlerrcode
											: ERRCODE_FDW_ERROR) : sqlerrcode,
						  &said, "%s", cause);
	else if (s->waiting == 0)
		ApexLegFinish(s->leg, s->decode.items);
}

/* One term's set arrived, or none: once all did, ask for the best items */
static void
redis_term_done(void *arg, redisReply *reply, const char *error,
				int sqlerrcode, const char *remote, const char *remote_from)
{
	RedisSearch *s = arg;
	const ApexRedisConf *conf = s->leg->source->conf;
	ApexRemote	said = {.peer = s->leg->source, .text = (char *) remote,
	.from = remote_from};
	const char *cause = error;
	List	   *ids;
	ListCell   *lc;

	s->waiting--;
	if (reply == NULL || (cause = ApexRedisDecodeTerm(&s->decode, reply, &said)))
	{
		ApexLegFailRemote(s->leg, reply ? (said.sqlerrcode ? said.sqlerrcode
											: ERRCODE_FDW_ERROR) : sqlerrcode,
						  &said, "%s", cause);
		return;
	}
	if (s->waiting > 0 || s->leg->done)
		return;

	ids = ApexRedisRank(&s->decode, s->leg->query->limit);
	if (ids == NIL)
	{
		ApexLegFinish(s->leg, NIL);
		return;
	}
	s->waiting = list_length(ids);
	foreach(lc, ids)
		ApexRedisCommand(s->r, s->leg->call, s->leg, redis_item_done, s, 2,
						 (const char *[]) {"HGETALL",
						 ApexScopeFillKey(conf->item_key, (char *) lfirst(lc),
										  s->leg->query)});
}

static void
redis_start(ApexLeg *leg)
{
	RedisSearch *s = palloc0(sizeof(RedisSearch));
	List	   *terms = redis_terms(leg->query->text);
	const char *pattern = ((const ApexRedisConf *) leg->source->conf)->term_key;
	char	   *stop = psprintf("%d", leg->query->limit * REDIS_MEMBERS_PER_LIMIT - 1);
	ApexRedisTarget target;
	ListCell   *lc;

	s->leg = leg;
	s->decode.conf = leg->source->conf;
	leg->state = s;
	if (terms == NIL)
	{
		ApexLegFinish(leg, NIL);
		return;
	}
	ApexRedisTargetOf(leg->source, &target);
	target.connect_timeout_ms = ApexLegConnectTimeoutMs(leg, leg->source);
	s->r = ApexRedisAttach(&target, leg->call->loop, leg->call);
	s->waiting = list_length(terms);
	foreach(lc, terms)
		ApexRedisCommand(s->r, leg->call, leg, redis_term_done, s, 5,
						 (const char *[]) {"ZREVRANGE",
						 ApexScopeFillKey(pattern, strVal(lfirst(lc)), leg->query),
						 "0", stop,
						 "WITHSCORES"});
}

const ApexKind ApexRedisKind = {
	.name = "redis",
	.options = redis_options,
	.mapping_options = (const char *const[]) {"user", "password", NULL},
	.conf_size = sizeof(ApexRedisConf),
	.check = redis_check,
	.start = redis_start,
	.targets = redis_targets,
	.scope_error = redis_scope_error,
};
