/*-------------------------------------------------------------------------
 *
 * fuzz_redis.c
 *		  Fuzz target for the redis kind's reply decoding: a whole search
 *		  (ZREVRANGE replies, ranking, HGETALL replies) driven by RESP bytes.
 *
 * The input is what the server would send: byte 0 sets the query (1 + bits
 * 0-1 terms, limit 1 + bits 2-4; seeds start with '0'..'3': 1..4 terms,
 * limit 5), the rest is read by hiredis' own reader, as the connection
 * would.  The leg's callbacks get the replies in order: one per term, then
 * one per HGETALL the leg asked for.  Once the input runs out, or the
 * reader meets a protocol error, every further callback gets no reply and
 * an error, as when hiredis drops the connection.
 *
 * leg_redis.c is #included with ApexRedisCommand renamed to a recorder, so
 * the HGETALL commands it sends are captured instead of reaching a socket;
 * its search state is built here as redis_start() would build it.  After
 * every callback ran, the leg must be done: failed with a valid message, or
 * finished with at most `limit` valid items.
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_redis.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "io_redis.h"

#include "fuzz.h"

/* A command the leg sent: who gets its reply */
typedef struct FuzzRedisSent
{
	ApexRedisDone done;
	void	   *arg;
} FuzzRedisSent;

static List *fuzz_redis_sent;

static void fuzz_redis_command(ApexRedis *r, void *owner, void *party,
							   ApexRedisDone done, void *arg, int argc,
							   const char **argv);

#define ApexRedisCommand fuzz_redis_command
#include "leg_redis.c"
#undef ApexRedisCommand

static void
fuzz_redis_command(ApexRedis *r, void *owner, void *party, ApexRedisDone done,
				   void *arg, int argc, const char **argv)
{
	FuzzRedisSent *sent = palloc(sizeof(FuzzRedisSent));

	if (argc != 2 || strcmp(argv[0], "HGETALL") != 0)
		FuzzFail("unexpected command %s with %d arguments", argv[0], argc);
	sent->done = done;
	sent->arg = arg;
	fuzz_redis_sent = lappend(fuzz_redis_sent, sent);
}

/*
 * Hand the next reply (or the connection's end) to done; a protocol error
 * is reported as io_redis.c reports it (hiredis' words quote the server).
 */
static void
fuzz_redis_reply(redisReader *reader, const char **error, const char **remote,
				 ApexRedisDone done, void *arg)
{
	void	   *reply = NULL;

	if (*error == NULL && redisReaderGetReply(reader, &reply) != REDIS_OK)
	{
		*error = "protocol error";
		*remote = pstrdup(reader->errstr);
	}
	if (*error == NULL && reply == NULL)
		*error = "connection closed";
	done(arg, reply, reply ? NULL : *error, reply ? NULL : *remote);
	if (reply)
		freeReplyObject(reply);
}

void
FuzzRedis(const uint8 *data, size_t size)
{
	uint8		variant = size > 0 ? data[0] : 0;
	int			nterms = 1 + (variant & 3);
	ApexRedisConf conf = {.term_key = "mem:term:%s", .item_key = "mem:item:%s",
	.title_field = "title", .content_field = "content"};
	ApexSource	source = {.name = "fuzz", .conf = &conf};
	ApexCall	call = {.query.limit = 1 + ((variant >> 2) & 7)};
	ApexLeg		leg = {.call = &call, .source = &source};
	RedisSearch s = {.leg = &leg, .waiting = nterms};
	redisReader *reader = redisReaderCreate();
	const char *error = NULL;
	const char *remote = NULL;
	ListCell   *lc;

	leg.state = &s;
	fuzz_redis_sent = NIL;
	if (size > 1 && redisReaderFeed(reader, (const char *) data + 1, size - 1) != REDIS_OK)
		FuzzFail("hiredis refused the input");
	for (int i = 0; i < nterms; i++)
		fuzz_redis_reply(reader, &error, &remote, redis_term_done, &s);
	/* the list grows only before the first HGETALL reply is handed out */
	foreach(lc, fuzz_redis_sent)
	{
		FuzzRedisSent *sent = lfirst(lc);

		fuzz_redis_reply(reader, &error, &remote, sent->done, sent->arg);
	}
	redisReaderFree(reader);

	if (!leg.done)
		FuzzFail("every reply arrived and the leg is not done");
	if (leg.remote)
		FuzzCheckRemote(leg.remote->text, leg.remote->body);
	if (leg.error)
		FuzzCheckError(leg.error);
	else if (list_length(leg.items) > call.query.limit)
		FuzzFail("%d items for limit %d", list_length(leg.items), call.query.limit);
	else
		FuzzCheckItems(leg.items);
}
