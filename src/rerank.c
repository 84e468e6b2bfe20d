/*-------------------------------------------------------------------------
 *
 * rerank.c
 *		  The reranking step (issue 15 part 5): a call given a reranker
 *		  source (apex_route's reranker argument, apex_router.reranker)
 *		  sends its top fused rows to it once the legs are over, and their
 *		  order becomes the reranker's.
 *
 * The router asks each source for Max(k, candidates) items and fuses as
 * many rows (ApexRerankFuseLimit), then ApexRerankStart sends the first candidates of them (the reranker's
 * option) as documents, each its row's title and content (see
 * rerank_document), with the question's text as the query.  The request
 * is an ApexLeg of its own, as a batch's embeddings request is
 * (embed_batch.c): the reranker is its source, it is in no list of the
 * call, it owns its transfer and its clock (the reranker's timeout_ms,
 * ending at the call's deadline at the latest), and it records its outcome
 * through the leg layer (ApexLegPost with its one retry of a 429 or 503,
 * ApexLegDecode), so its circuit breaker, statistics and apex_explain row
 * come as a leg's do.  apex_route_many starts every question's request
 * before it waits (ApexRerankWait), so they are in flight together in the
 * call's one loop.
 *
 * ApexRerankRows then orders the rows sent by the reranker's scores, best
 * first (ties keep the fused order); their score column becomes the
 * reranker's score, and their payload gains a member named after the
 * reranker, {"rank": r, "score": s, "fused_rank": f, "fused_score": x},
 * beside the searched sources' (a reranker's name is no searched source's:
 * sources and rerankers are servers of different kinds).  Rows fused but
 * not sent (k > candidates) follow in their fused order with their fused
 * score.  The result is cut to k.  A reranker that fails (an HTTP error, a
 * timeout, an answer that does not score each document once, its breaker
 * open) leaves the fused order, with a WARNING worded as a failed source's
 * (an ERROR under apex_router.strict).
 *
 * IDENTIFICATION
 *		  src/rerank.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "breaker.h"
#include "event_loop.h"
#include "fusion.h"
#include "json.h"
#include "leg.h"
#include "leg_reranker.h"
#include "rerank.h"
#include "route_out.h"
#include "stats.h"

struct ApexRerank
{
	ApexCall   *call;
	ApexSource *reranker;
	ApexLeg    *leg;			/* its own: clock, transfer, outcome; NULL
								 * when there was nothing to rerank */
	int			count;			/* rows sent */
	double	   *scores;			/* count of them, once answered */
};

/* One row with where it was and where it goes */
typedef struct RerankedRow
{
	ApexRow    *row;
	int			fused_rank;		/* 1-based */
	double		score;
} RerankedRow;

/*
 * How many rows the call fuses for a reranker (NULL: none) and k: the
 * reranker's candidates, or k if more, so that the rows past the
 * candidates are there to follow them.
 */
int
ApexRerankFuseLimit(const ApexSource *reranker, int k)
{
	if (reranker == NULL)
		return k;
	return Max(k, ((const ApexRerankerConf *) reranker->conf)->candidates);
}

/*
 * How many fused rows the steps after fusion choose from: fusion's own
 * (0: all, for MMR), and at least the reranker's candidates
 */
int
ApexRerankCandidates(const ApexRanking *ranking, const ApexSource *reranker, int k)
{
	int			n = ApexFuseCandidates(ranking, k);

	return n == 0 ? 0 : ApexRerankFuseLimit(reranker, n);
}

/*
 * The text a row is reranked by: its title and its content on the next
 * line, either alone when the other is null, empty when both are
 */
static const char *
rerank_document(const ApexRow *row)
{
	if (row->title && row->content)
		return psprintf("%s\n%s", row->title, row->content);
	if (row->title)
		return row->title;
	if (row->content)
		return row->content;
	return "";
}

static void
rerank_done(void *arg, ApexHttpResponse *resp)
{
	ApexRerank *r = arg;
	ApexRerankAsked asked = {r->reranker->conf, r->count};
	double	   *scores;

	/* its clock ran out first: the request was abandoned */
	if (r->leg->done)
		return;
	scores = palloc(sizeof(double) * r->count);
	ApexLoopSetTimer(r->call->loop, r->leg, -1, NULL);
	if (ApexLegDecode(r->leg, resp, r->reranker, ApexRerankerDecode, &asked,
					  scores))
	{
		r->scores = scores;
		ApexLegFinish(r->leg, NIL);
	}
}

/*
 * Send the first candidates of rows (the call's fused rows, best first)
 * to reranker, asking query's text; the answer comes while the call's loop
 * runs (ApexRerankWait).  Its clock is the reranker's timeout_ms, capped
 * by the call's timeout_ms (0: none) as a leg's budget is, so that a
 * timeout reads as the legs' do, and ends at the call's deadline at the
 * latest.  Nothing is sent when there are no rows.
 */
ApexRerank *
ApexRerankStart(ApexCall *call, ApexSource *reranker, const ApexQuery *query,
				List *rows, int timeout_ms)
{
	const ApexRerankerConf *conf = reranker->conf;
	ApexRerank *r = palloc0(sizeof(ApexRerank));
	const char **documents;
	ApexLeg    *own;
	ApexHttpAuth auth = {0};
	ListCell   *lc;

	r->call = call;
	r->reranker = reranker;
	r->count = Min(list_length(rows), conf->candidates);
	if (r->count == 0)
		return r;
	documents = palloc(sizeof(const char *) * r->count);
	foreach(lc, rows)
	{
		if (foreach_current_index(lc) == r->count)
			break;
		documents[foreach_current_index(lc)] = rerank_document(lfirst(lc));
	}
	own = ApexLegOwn(call, reranker, r, timeout_ms);
	own->query = query;
	r->leg = own;
	/* an open breaker fails it at once, as it does a leg */
	ApexBreakerAdmit(own);
	if (own->done)
		return r;
	ApexLegStartClock(own);
	auth.bearer = reranker->secrets->api_key;
	ApexLegPost(own, reranker, ApexRerankerUrl(conf),
				ApexRerankerBody(conf, query->text, documents, r->count),
				NIL, &auth, rerank_done, r);
	/* it could not be sent (a text without UTF-8 form): its clock stops */
	if (own->done)
		ApexLoopSetTimer(call->loop, own, -1, NULL);
	return r;
}

static bool
rerank_all_done(void *arg)
{
	List	   *legs = arg;
	ListCell   *lc;

	foreach(lc, legs)
	{
		if (!((ApexLeg *) lfirst(lc))->done)
			return false;
	}
	return true;
}

/*
 * Run the call's loop until every one of the n reranks (NULL entries
 * ignored) has its outcome, or the call's deadline passes; then record
 * what they tell of the reranker, as the router does for legs.
 */
void
ApexRerankWait(ApexCall *call, ApexRerank **reranks, int n)
{
	List	   *legs = NIL;
	ListCell   *lc;

	for (int i = 0; i < n; i++)
	{
		if (reranks[i] && reranks[i]->leg)
			legs = lappend(legs, reranks[i]->leg);
	}
	if (legs == NIL)
		return;
	if (!ApexLoopRun(call->loop, rerank_all_done, legs, call->deadline))
	{
		foreach(lc, legs)
			ApexLegTimedOut(lfirst(lc));
	}
	foreach(lc, legs)
		ApexLoopSetTimer(call->loop, lfirst(lc), -1, NULL);
	ApexBreakerRecord(legs);
	ApexStatsRecordLegs(legs, false, false);
	list_free(legs);
}

/* best score first; equal scores keep the fused order */
static int
rerank_cmp(const void *a, const void *b)
{
	const RerankedRow *x = a;
	const RerankedRow *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->fused_rank - y->fused_rank;
}

/* The reranker's member of a reranked row's payload */
static Jsonb *
rerank_payload(const char *reranker, int rank, const RerankedRow *rr)
{
	JsonbPair  *entry = palloc(sizeof(JsonbPair) * 4);
	JsonbPair  *member = palloc(sizeof(JsonbPair));

	ApexJsonKey(&entry[0], "rank");
	entry[0].value = *ApexJsonIntValue(rank);
	ApexJsonKey(&entry[1], "score");
	entry[1].value = *ApexJsonNumberValue(rr->score);
	ApexJsonKey(&entry[2], "fused_rank");
	entry[2].value = *ApexJsonIntValue(rr->fused_rank);
	ApexJsonKey(&entry[3], "fused_score");
	entry[3].value = *ApexJsonNumberValue(rr->row->score);
	ApexJsonKey(member, reranker);
	member->value = *ApexJsonObjectOf(entry, 4);
	return JsonbValueToJsonb(ApexJsonObjectOf(member, 1));
}

/*
 * The rows (ApexRow *, fused order) in the reranker's order, cut to k (see
 * the file header); a failure is reported, with the question's ordinal
 * when > 0, and leaves the fused order.
 */
List *
ApexRerankRows(ApexRerank *r, List *rows, int k, int ordinal, bool strict)
{
	RerankedRow *sorted;
	List	   *out = NIL;
	ListCell   *lc;

	/* worded as a failed source's: a WARNING, an ERROR in strict mode */
	if (r->leg && r->leg->error)
		ApexReportLegFailure(r->leg, "reranker", ordinal, strict,
							 "The rows keep their fused order.");
	if (r->scores == NULL)
		return list_truncate(rows, k);
	sorted = palloc(sizeof(RerankedRow) * r->count);
	foreach(lc, rows)
	{
		int			i = foreach_current_index(lc);

		if (i == r->count)
			break;
		sorted[i].row = lfirst(lc);
		sorted[i].fused_rank = i + 1;
		sorted[i].score = r->scores[i];
	}
	qsort(sorted, r->count, sizeof(RerankedRow), rerank_cmp);
	for (int i = 0; i < r->count && i < k; i++)
	{
		ApexRow    *row = sorted[i].row;
		Jsonb	   *mine = rerank_payload(r->reranker->name, i + 1, &sorted[i]);

		row->payload = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat,
														  JsonbPGetDatum(row->payload),
														  JsonbPGetDatum(mine)));
		row->score = sorted[i].score;
		out = lappend(out, row);
	}
	for_each_from(lc, rows, r->count)
	{
		if (list_length(out) >= k)
			break;
		out = lappend(out, lfirst(lc));
	}
	return out;
}

/* Did the reranker fail (it then left the fused order)? */
bool
ApexRerankFailed(const ApexRerank *r)
{
	return r != NULL && r->leg != NULL && r->leg->error != NULL;
}

/* Its leg, for apex_explain and the partial column; NULL: nothing sent */
ApexLeg *
ApexRerankLeg(const ApexRerank *r)
{
	return r ? r->leg : NULL;
}

/* How many rows it was sent */
int
ApexRerankCount(const ApexRerank *r)
{
	return r ? r->count : 0;
}

/* Its reranker */
ApexSource *
ApexRerankSource(const ApexRerank *r)
{
	return r->reranker;
}
