/*-------------------------------------------------------------------------
 *
 * embed_batch.c
 *		  apex_route_many's embeddings: one request per embedder carrying
 *		  the texts of every question that needs it, not one per leg
 *		  (issue 13 item 1).
 *
 * When the first leg of a batch asks an embedder for a vector
 * (ApexEmbedStart), the texts of every leg of the call whose source uses
 * that embedder are gathered, each distinct text once, in the order of
 * the questions, and split into requests of at most the embedder's
 * max_batch_size texts and EMBED_MAX_REQUEST_BYTES of text ("input":
 * [...]).  A request is sent when the first
 * leg whose text it carries asks, so a long batch held back by
 * max_concurrency does not start the clocks of requests whose legs are far
 * off.  With the default of 2048 (OpenAI's cap) a batch of up to 2048
 * distinct questions costs one request per embedder.
 *
 * A request belongs to no leg: it has a leg of its own (the embedder as
 * its source, in no question), which owns its transfer and its clock (the
 * embedder's timeout_ms, capped by the batch's deadline) and records its
 * outcome through the leg layer as any request's (ApexLegPost with its one
 * retry, ApexLegDecode).  Legs that ask while it is in flight wait for it,
 * their own clocks running: one whose clock runs out fails as it would
 * waiting for its own request ("Embedder "e" failed. Timed out after N
 * ms."), and the request goes on for the others.  Legs that ask once it is
 * answered get their vector at once, as a leg given query_vector does
 * (the kind's start goes on to its search from there, as it always may).
 * A request that fails fails every leg that waits for it or asks later,
 * with the embedder named and the cause and the peer's words the failure
 * of its own request would have: one question's text cannot fail the
 * others', except by making the service refuse the whole request.  A text
 * the service cannot be sent (a character without UTF-8 form) is left out
 * of the request and fails its own legs alone, as before.
 *
 * Embedders take no request slot (source_slots.c): their requests are
 * bounded by the slots of the vector sources whose legs ask, and a batch
 * sends at most one request per max_batch_size texts.
 *
 * apex_route asks as it always did, one request per leg (leg_embedder.c),
 * through the result cache's vectors when there is one.
 *
 * IDENTIFICATION
 *		  src/embed_batch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/hsearch.h"

#include "embed_batch.h"
#include "event_loop.h"
#include "leg.h"
#include "leg_embedder.h"
#include "peer_encoding.h"

/*
 * The most text one request carries, in bytes (a text longer than that
 * goes alone): OpenAI takes at most 300,000 tokens a request, summed over
 * its inputs, which is more than this at the 1 to 4 bytes a token takes.
 */
#define EMBED_MAX_REQUEST_BYTES (512 * 1024)

typedef enum EmbedState
{
	EMBED_UNSENT,
	EMBED_IN_FLIGHT,
	EMBED_ANSWERED,
	EMBED_FAILED,
} EmbedState;

/* A leg waiting for a request's answer */
typedef struct EmbedWaiter
{
	ApexLeg    *leg;
	ApexEmbedDone done;
	int			index;			/* its text's place in the request */
} EmbedWaiter;

/* One request of at most max_batch_size texts */
typedef struct EmbedRequestMany
{
	ApexCall   *call;
	ApexSource *embedder;
	const char **texts;			/* its "input", in order */
	int			ntexts;
	EmbedState	state;
	ApexLeg    *leg;			/* its own: clock, transfer, outcome */
	ApexEmbedding *vectors;		/* ntexts of them, once answered */
	List	   *waiters;		/* EmbedWaiter *, while in flight */
} EmbedRequestMany;

/* A distinct text of the batch for one embedder (a hash entry) */
typedef struct EmbedText
{
	const char *text;			/* the key: a question's text */
	EmbedRequestMany *request;	/* NULL when it cannot be sent */
	int			index;			/* its place in the request's input */
	char	   *error;			/* why it cannot be sent, or NULL */
	int			sqlerrcode;
} EmbedText;

/* The texts of one embedder */
typedef struct EmbedderTexts
{
	Oid			serverid;
	HTAB	   *texts;			/* EmbedText by text */
} EmbedderTexts;

struct ApexEmbedBatch
{
	ApexCall   *call;
	int			timeout_ms;		/* the batch's deadline, from its start; 0: none */
	List	   *embedders;		/* EmbedderTexts *, made as they are asked */
};

static uint32
embed_text_hash(const void *key, Size keysize pg_attribute_unused())
{
	const char *text = *(const char *const *) key;

	return hash_bytes((const unsigned char *) text, strlen(text));
}

static int
embed_text_match(const void *a, const void *b,
				 Size keysize pg_attribute_unused())
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * The shared embeddings of an apex_route_many call (call->embeds), whose
 * timeout_ms (0: none) is the batch's deadline
 */
ApexEmbedBatch *
ApexEmbedBatchBegin(ApexCall *call, int timeout_ms)
{
	ApexEmbedBatch *batch = MemoryContextAllocZero(call->mcxt,
												   sizeof(ApexEmbedBatch));

	batch->call = call;
	batch->timeout_ms = timeout_ms;
	return batch;
}

/*
 * Gather the distinct texts of every leg of the call that will ask
 * embedder (those not over yet), in the order of the questions, and split
 * them into requests of at most max_batch_size.
 */
static EmbedderTexts *
embed_gather(ApexEmbedBatch *batch, ApexSource *embedder)
{
	const ApexEmbedderConf *conf = embedder->conf;
	EmbedderTexts *e = palloc0(sizeof(EmbedderTexts));
	HASHCTL		ctl = {0};
	List	   *sendable = NIL;
	ListCell   *lc;
	int			n = 0;
	Size		bytes = 0;
	EmbedRequestMany *request = NULL;

	e->serverid = embedder->serverid;
	ctl.keysize = sizeof(const char *);
	ctl.entrysize = sizeof(EmbedText);
	ctl.hash = embed_text_hash;
	ctl.match = embed_text_match;
	ctl.hcxt = batch->call->mcxt;
	e->texts = hash_create("apex_route_many texts", 64, &ctl,
						   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	foreach(lc, batch->call->legs)
	{
		ApexLeg    *leg = lfirst(lc);
		const char *text = leg->query->text;
		EmbedText  *et;
		bool		found;

		/* the plan resolves the embedder once per source: the same server */
		if (leg->done || leg->query->vector || leg->source->embedder == NULL ||
			leg->source->embedder->serverid != embedder->serverid)
			continue;
		et = hash_search(e->texts, &text, HASH_ENTER, &found);
		if (found)
			continue;
		et->request = NULL;
		et->error = NULL;
		/* a text that cannot be sent fails its own legs, not the request */
		if (ApexToPeer(text, &et->sqlerrcode, &et->error) == NULL)
			continue;
		sendable = lappend(sendable, et);
	}
	foreach(lc, sendable)
	{
		EmbedText  *et = lfirst(lc);
		Size		len = strlen(et->text);

		if (request == NULL || request->ntexts == conf->max_batch_size ||
			bytes + len > EMBED_MAX_REQUEST_BYTES)
		{
			request = palloc0(sizeof(EmbedRequestMany));
			request->call = batch->call;
			request->embedder = embedder;
			request->texts = palloc(sizeof(const char *) *
									Min(conf->max_batch_size,
										list_length(sendable) - n));
			bytes = 0;
		}
		et->request = request;
		et->index = request->ntexts;
		request->texts[request->ntexts++] = et->text;
		bytes += len;
		n++;
	}
	list_free(sendable);
	batch->embedders = lappend(batch->embedders, e);
	return e;
}

/* Give leg what request came to: its vector, or the request's failure */
static void
embed_answer(EmbedRequestMany *request, ApexLeg *leg, int index,
			 ApexEmbedDone done)
{
	ApexLeg    *own = request->leg;

	if (request->state == EMBED_FAILED)
	{
		/* leg->awaiting names the embedder, as for a request of its own */
		ApexLegFail(leg, own->sqlerrcode, "%s", own->error);
		/* the peer's words, shared: every leg's would be the same copy */
		leg->remote = own->remote;
		return;
	}
	leg->awaiting = NULL;
	done(leg, request->vectors[index].vector, request->vectors[index].dim);
}

/* The request has its outcome: answer the legs that wait for it */
static void
embed_request_over(EmbedRequestMany *request)
{
	ApexLoop   *loop = request->call->loop;
	ListCell   *lc;

	ApexLoopSetTimer(loop, request->leg, -1, NULL);
	request->state = request->leg->error ? EMBED_FAILED : EMBED_ANSWERED;
	foreach(lc, request->waiters)
	{
		EmbedWaiter *w = lfirst(lc);

		/* its own clock ran out meanwhile */
		if (w->leg->done)
			continue;
		/* heard from on its behalf, as if the request were its own */
		ApexLoopProgress(loop, w->leg);
		embed_answer(request, w->leg, w->index, w->done);
	}
	list_free_deep(request->waiters);
	request->waiters = NIL;
}

/* The request's clock ran out: it is abandoned, its legs fail */
static void
embed_request_deadline(void *arg)
{
	ApexLeg    *own = arg;

	ApexLegTimedOut(own);
	embed_request_over(own->state);
}

static void
embed_request_done(void *arg, ApexHttpResponse *resp)
{
	EmbedRequestMany *request = arg;
	ApexEmbedderAsked asked = {request->embedder->conf, request->ntexts};
	ApexEmbedding *vectors = palloc(sizeof(ApexEmbedding) * request->ntexts);

	if (ApexLegDecode(request->leg, resp, request->embedder,
					  ApexEmbedderDecodeMany, &asked, vectors))
	{
		request->vectors = vectors;
		ApexLegFinish(request->leg, NIL);
	}
	embed_request_over(request);
}

/*
 * Send the request, on a clock of its own: the embedder's timeout_ms, as
 * a leg's budget is its source's, capped by the batch's timeout_ms (so a
 * timeout reads as its legs' do), and running out at the deadline at the
 * latest.
 */
static void
embed_request_send(EmbedRequestMany *request, int timeout_ms)
{
	ApexCall   *call = request->call;
	ApexSource *embedder = request->embedder;
	const ApexEmbedderConf *conf = embedder->conf;
	ApexLeg    *own = ApexLegOwn(call, embedder, request, timeout_ms);
	ApexHttpAuth auth = {0};

	request->leg = own;
	request->state = EMBED_IN_FLIGHT;
	ApexLoopSetTimer(call->loop, own, ApexLegBudgetMs(own), embed_request_deadline);
	auth.bearer = embedder->secrets->api_key;
	ApexLegPost(own, embedder, conf->http.url,
				ApexEmbedderBody(conf, request->texts, request->ntexts),
				NIL, &auth, embed_request_done, request);
	/* it could not be sent (a header without UTF-8 form) */
	if (own->done)
		embed_request_over(request);
}

/*
 * ApexEmbedStart in apex_route_many: the vector of text comes from the
 * batch's request that carries it (see the file header).
 */
void
ApexEmbedBatchAsk(ApexLeg *leg, ApexSource *embedder, const char *text,
				  ApexEmbedDone done)
{
	ApexEmbedBatch *batch = leg->call->embeds;
	MemoryContext old = MemoryContextSwitchTo(batch->call->mcxt);
	EmbedderTexts *e = NULL;
	EmbedText  *et;
	EmbedRequestMany *request;
	ListCell   *lc;

	foreach(lc, batch->embedders)
	{
		if (((EmbedderTexts *) lfirst(lc))->serverid == embedder->serverid)
			e = lfirst(lc);
	}
	if (e == NULL)
		e = embed_gather(batch, embedder);
	et = hash_search(e->texts, &text, HASH_FIND, NULL);
	if (et == NULL)
		elog(ERROR, "apex_route_many did not gather the text of a leg of source \"%s\"",
			 leg->source->name);
	/* the leg's clock names the embedder if it runs out meanwhile */
	leg->awaiting = embedder;
	request = et->request;
	if (request == NULL)
	{
		ApexRemote	remote = {.peer = embedder};

		ApexLegFailRemote(leg, et->sqlerrcode, &remote, "%s", et->error);
	}
	else
	{
		if (request->state == EMBED_UNSENT)
			embed_request_send(request, batch->timeout_ms);
		if (request->state == EMBED_IN_FLIGHT)
		{
			EmbedWaiter *w = palloc(sizeof(EmbedWaiter));

			w->leg = leg;
			w->done = done;
			w->index = et->index;
			request->waiters = lappend(request->waiters, w);
		}
		else
			embed_answer(request, leg, et->index, done);
	}
	MemoryContextSwitchTo(old);
}
