/*-------------------------------------------------------------------------
 *
 * fuzz_redis.c
 *		  Fuzz target for the redis kind's reply decoder: a whole search
 *		  (ZREVRANGE replies, ranking, HGETALL replies) driven by RESP bytes.
 *
 * The input is what the server would send: byte 0 sets the query (1 + bits
 * 0-1 terms, limit 1 + bits 2-4; seeds start with '0'..'3': 1..4 terms,
 * limit 5), the rest is read by hiredis' own reader, as the connection
 * would.  The decoder is driven as leg_redis.c drives it: one reply per
 * term to ApexRedisDecodeTerm, then ApexRedisRank, then one reply per id
 * it asked for to ApexRedisDecodeItem, in order.
 *
 * The search ends early, and the leg fails, at the first reply the decoder
 * rejects (its reason must be valid text, the server's words must go
 * through the masker), or when the input runs out or the reader meets a
 * protocol error (io_redis.c then reports hiredis' words, which quote the
 * server: they go through the masker too).  Otherwise every reply asked
 * for was decoded and the leg finishes with the items: ranking asks for
 * min(hits, limit) ids, and the items are valid, one for each id whose
 * hash exists, in the order asked, so never more than `limit`.
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_redis.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "leg_redis.h"

#include "fuzz.h"

/*
 * The next reply, or NULL when the input ran out or the reader met a
 * protocol error; the caller frees it.
 */
static redisReply *
fuzz_redis_next(redisReader *reader)
{
	void	   *reply = NULL;

	if (redisReaderGetReply(reader, &reply) != REDIS_OK)
		FuzzCheckRemote(&(ApexRemote) {.text = pstrdup(reader->errstr),
			.from = "hiredis"});
	return reply;
}

/* What the decoder made of one reply: a valid reason, or no server's words */
static bool
fuzz_redis_decoded(char *error, ApexRemote *remote)
{
	if (remote->text && error == NULL)
		FuzzFail("a server's words without an error");
	if (remote->text)
		FuzzCheckRemote(remote);
	if (error)
		FuzzCheckError(error);
	return error == NULL;
}

/* Decode the term replies, rank, decode the item replies: see the header */
static void
fuzz_redis_search(redisReader *reader, ApexRedisDecodeState *state, int nterms,
				  int limit)
{
	ApexRemote	remote = {0};
	redisReply *reply;
	List	   *ids;
	ListCell   *lc;
	ListCell   *item;
	char	   *error;

	for (int i = 0; i < nterms; i++)
	{
		if ((reply = fuzz_redis_next(reader)) == NULL)
			return;
		error = ApexRedisDecodeTerm(state, reply, &remote);
		freeReplyObject(reply);
		if (!fuzz_redis_decoded(error, &remote))
			return;
	}

	ids = ApexRedisRank(state, limit);
	if (list_length(ids) != Min(list_length(state->hits), limit))
		FuzzFail("%d ids asked for of %d hits, limit %d", list_length(ids),
				 list_length(state->hits), limit);
	foreach(lc, ids)
	{
		if ((reply = fuzz_redis_next(reader)) == NULL)
			return;
		error = ApexRedisDecodeItem(state, foreach_current_index(lc), reply, &remote);
		freeReplyObject(reply);
		if (!fuzz_redis_decoded(error, &remote))
			return;
	}

	/* every reply decoded: the leg finishes with these items */
	FuzzCheckItems(state->items);
	item = list_head(state->items);
	foreach(lc, ids)
	{
		if (item && strcmp(((ApexItem *) lfirst(item))->id, lfirst(lc)) == 0)
			item = lnext(state->items, item);
	}
	if (item)
		FuzzFail("item \"%s\" is not one of the %d ids asked for, in their order",
				 ((ApexItem *) lfirst(item))->id, list_length(ids));
}

void
FuzzRedis(const uint8 *data, size_t size)
{
	uint8		variant = size > 0 ? data[0] : 0;
	ApexRedisConf conf = {.term_key = "mem:term:%s", .item_key = "mem:item:%s",
	.title_field = "title", .content_field = "content"};
	ApexRedisDecodeState state = {.conf = &conf};
	redisReader *reader = redisReaderCreate();

	if (size > 1 && redisReaderFeed(reader, (const char *) data + 1, size - 1) != REDIS_OK)
		FuzzFail("hiredis refused the input");
	fuzz_redis_search(reader, &state, 1 + (variant & 3), 1 + ((variant >> 2) & 7));
	redisReaderFree(reader);
}
