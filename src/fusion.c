/*-------------------------------------------------------------------------
 *
 * fusion.c
 *		  The legs' ranked lists made one: fusion by one of three methods,
 *		  recency decay, then (after an optional reranker, not here) MMR
 *		  diversity, min_score and the cut to k.  README.md, "Fusion", has
 *		  the formulas for users; this file is their reference.
 *
 * An item's fused score is the sum, over the sources s that returned it, of
 * weight(s) * value_s(item), value_s depending on the method:
 *
 *	rrf		1 / (rrf_k + rank), rank 1-based (Cormack et al., SIGIR 2009;
 *			Elasticsearch's rank_constant, default 60, with ranks "starting
 *			from 1").  Qdrant counts ranks from 0 (1 / (k + rank0), k = 2 by
 *			default), so Qdrant's k is rrf_k + 1: its default is rrf_k 1, and
 *			rrf_k 60 is its k 61.  Elasticsearch's rank_window_size is k here:
 *			each source is asked for k items.
 *	min_max	the source's values scaled over its own list to [0, 1]:
 *			(x - min) / (max - min).
 *	dbsf	Qdrant's Distribution-Based Score Fusion (lib/segment/src/common/
 *			score_fusion.rs, distr_norm): the same scaling with
 *			min = mean - 3 sd and max = mean + 3 sd over the source's list,
 *			sd the sample standard deviation (n - 1).  Unlike Qdrant, a value
 *			beyond 3 sd is clamped to [0, 1], so no fused score is negative
 *			and recency decay can only lower one.
 *
 * The x of the two score methods is the source's own score, higher better,
 * when every item of its list has a finite one; a list whose scores rise
 * from its first item to its last (a distance: Qdrant's Euclid and
 * Manhattan) is read lower-better, as Qdrant infers it.  A source with an
 * item without a score (Graphiti, a query returning no score column) is
 * scaled by its ranks instead (x = -rank): scores cannot be invented.  A
 * list of one item, or of equal values, gets 0.5 for each, as in Qdrant's
 * DBSF (its min-max leaves a lone score as it is; here both agree).
 *
 * Recency: with a half-life h, an item whose time is known (ApexItem.at;
 * of several sources, the newest) is multiplied by 2^(-age / h), age =
 * now - at, 0 for a time in the future.  An item with no time keeps its
 * score: decay discounts what is known to be old, it does not guess an age
 * (which would crush undated sources such as a graph's entities).
 *
 * Items with the same id from several sources merge into one, which keeps
 * every source's rank and raw item.  A source listing an id twice counts
 * only its best rank.  Pure: no I/O, no catalog access.
 *
 * IDENTIFICATION
 *		  src/fusion.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "utils/json.h"

#include "fusion.h"
#include "json.h"

/* One hit with what fusion weighs it by */
typedef struct ApexEntry
{
	ApexHit    *hit;
	double		weight;
	int			order;			/* leg position, for stable tie-breaks */
} ApexEntry;

/* An id's fused item, while the hits are gathered */
typedef struct ApexGathered
{
	ApexFused  *fused;
	int			nentries;
	ApexEntry  *entries;		/* one per source, palloc'd for every source */
} ApexGathered;

/* The fused items by id: one lookup per hit, not a sort of all the hits */
typedef struct ApexIdSlot
{
	const char *id;
	uint32		hash;
	char		status;			/* simplehash's */
	ApexGathered *gathered;
} ApexIdSlot;

#define SH_PREFIX apex_ids
#define SH_ELEMENT_TYPE ApexIdSlot
#define SH_KEY_TYPE const char *
#define SH_KEY id
#define SH_HASH_KEY(tb, key) hash_bytes((const unsigned char *) (key), strlen(key))
#define SH_EQUAL(tb, a, b) (strcmp((a), (b)) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* an id's hits in the order they count: best rank first, then leg order */
static int
apex_entry_cmp(const void *a, const void *b)
{
	const ApexEntry *x = a;
	const ApexEntry *y = b;

	if (x->hit->rank != y->hit->rank)
		return x->hit->rank - y->hit->rank;
	return x->order - y->order;
}

static int
apex_fused_cmp(const ListCell *a, const ListCell *b)
{
	const ApexFused *x = lfirst(a);
	const ApexFused *y = lfirst(b);
	int			xr = ((ApexHit *) linitial(x->hits))->rank;
	int			yr = ((ApexHit *) linitial(y->hits))->rank;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (xr != yr)
		return xr - yr;
	return strcmp(x->id, y->id);
}

static int
apex_hit_cmp(const ListCell *a, const ListCell *b)
{
	const ApexHit *x = lfirst(a);
	const ApexHit *y = lfirst(b);

	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->source, y->source);
}

/* The settings of the plan that order the rows; ages are counted to now */
void
ApexRankingOf(ApexRanking *ranking, const ApexPlan *plan, TimestampTz now)
{
	ranking->method = plan->fusion;
	ranking->rrf_k = plan->rrf_k;
	ranking->min_score = plan->min_score;
	ranking->recency_half_life_ms = plan->recency_half_life_ms;
	ranking->mmr_lambda = plan->mmr_lambda;
	ranking->now = now;
}

/* The methods' names: apex_router.fusion's values and the fusion argument's */
const struct config_enum_entry apex_fusion_methods[] = {
	{"rrf", APEX_FUSION_RRF, false},
	{"min_max", APEX_FUSION_MIN_MAX, false},
	{"dbsf", APEX_FUSION_DBSF, false},
	{NULL, 0, false}
};

/* The method's name, as apex_router.fusion and the fusion argument spell it */
const char *
ApexFusionName(ApexFusionMethod method)
{
	for (const struct config_enum_entry *e = apex_fusion_methods; e->name; e++)
	{
		if (e->val == (int) method)
			return e->name;
	}
	return "?";
}

/*
 * How many fused candidates the final steps choose from: MMR chooses k
 * among all of them (0: all), else the best k are the rows.  A reranker
 * wanting more asks ApexFuse for the larger number.
 */
int
ApexFuseCandidates(const ApexRanking *ranking, int k)
{
	return isnan(ranking->mmr_lambda) ? k : 0;
}

/*
 * x scaled to [lo, hi] -> [0, 1] for n values: false when that overflows
 * (scores near DBL_MAX), for the caller to scale ranks instead
 */
static bool
apex_scale(const double *x, int n, ApexFusionMethod method, double *out)
{
	double		lo = x[0];
	double		hi = x[0];

	if (method == APEX_FUSION_MIN_MAX)
	{
		for (int i = 1; i < n; i++)
		{
			lo = Min(lo, x[i]);
			hi = Max(hi, x[i]);
		}
	}
	else if (n > 1)
	{
		/* Welford's mean and sample variance, as Qdrant computes them */
		double		mean = 0;
		double		m2 = 0;
		double		sd;

		for (int i = 0; i < n; i++)
		{
			double		delta = x[i] - mean;

			mean += delta / (i + 1);
			m2 += delta * (x[i] - mean);
		}
		sd = sqrt(m2 / (n - 1));
		lo = mean - 3 * sd;
		hi = mean + 3 * sd;
	}
	for (int i = 0; i < n; i++)
	{
		if (n < 2 || !(hi > lo))
			out[i] = 0.5;
		else
			out[i] = (x[i] - lo) / (hi - lo);
		if (isnan(out[i]) || isinf(out[i]))
			return false;
		if (method == APEX_FUSION_DBSF)
			out[i] = Max(0.0, Min(1.0, out[i]));
	}
	return true;
}

/* The values of one leg's hits (its list, ids counted once), by the method */
static void
apex_leg_values(List *hits, const ApexRanking *ranking)
{
	int			n = list_length(hits);
	bool		by_score = true;
	double	   *x;
	double	   *out;
	ListCell   *lc;

	if (ranking->method == APEX_FUSION_RRF)
	{
		foreach(lc, hits)
		{
			ApexHit    *hit = lfirst(lc);

			hit->value = 1.0 / (double) (ranking->rrf_k + hit->rank);
		}
		return;
	}
	if (n == 0)
		return;
	x = palloc(sizeof(double) * n);
	out = palloc(sizeof(double) * n);
	foreach(lc, hits)
	{
		double		score = ((ApexHit *) lfirst(lc))->item->score;

		if (isnan(score) || isinf(score))
			by_score = false;
		x[foreach_current_index(lc)] = score;
	}
	if (by_score && x[0] < x[n - 1])
	{
		/* best first, rising: a distance, lower better */
		for (int i = 0; i < n; i++)
			x[i] = -x[i];
	}
	if (!by_score || !apex_scale(x, n, ranking->method, out))
	{
		foreach(lc, hits)
			x[foreach_current_index(lc)] = -(double) ((ApexHit *) lfirst(lc))->rank;
		(void) apex_scale(x, n, ranking->method, out);
	}
	foreach(lc, hits)
		((ApexHit *) lfirst(lc))->value = out[foreach_current_index(lc)];
	pfree(x);
	pfree(out);
}

/*
 * An id's fused item from its hits (one per source, each its source's best
 * rank): the weighted values summed and the title and content taken in the
 * order of the hits' ranks (then of the legs), so that the sum is the same
 * double whatever order the legs answered in; then recency decay.
 */
static void
apex_fuse_one(ApexGathered *g, const ApexRanking *ranking)
{
	ApexFused  *f = g->fused;
	TimestampTz at = DT_NOBEGIN;

	if (g->nentries > 1)
		qsort(g->entries, g->nentries, sizeof(ApexEntry), apex_entry_cmp);
	for (int i = 0; i < g->nentries; i++)
	{
		ApexHit    *hit = g->entries[i].hit;
		ApexItem   *item = hit->item;

		f->score += g->entries[i].weight * hit->value;
		f->hits = lappend(f->hits, hit);
		if (f->title == NULL)
			f->title = item->title;
		if (f->content == NULL)
			f->content = item->content;
		if (f->vector == NULL && item->vector != NULL && item->vector_dim > 0)
		{
			f->vector = item->vector;
			f->vector_dim = item->vector_dim;
		}
		if (item->at != DT_NOBEGIN && !TIMESTAMP_IS_NOEND(item->at) &&
			(at == DT_NOBEGIN || item->at > at))
			at = item->at;
	}
	list_sort(f->hits, apex_hit_cmp);
	if (ranking->recency_half_life_ms > 0 && at != DT_NOBEGIN)
	{
		double		age_ms = Max(0.0, (double) (ranking->now - at) / 1000.0);

		f->score *= exp2(-age_ms / ranking->recency_half_life_ms);
	}
}

/*
 * Fuse the items of the finished legs by the ranking's method, with its
 * recency decay; return the best ncandidates (0: all) as ApexFused *, best
 * first (ties: better best rank, then id).  ApexFusedRows makes them rows,
 * which a reranker may reorder, then ApexFuseFinish chooses the k returned.
 */
List *
ApexFuse(List *legs, const ApexRanking *ranking, int ncandidates)
{
	int			n = 0;
	int			nlegs = list_length(legs);
	apex_ids_hash *ids;
	List	   *gathered = NIL;
	List	   *fused = NIL;
	List	  **leghits = palloc0(sizeof(List *) * Max(nlegs, 1));
	ListCell   *lc;

	foreach(lc, legs)
		n += list_length(((ApexLeg *) lfirst(lc))->items);
	ids = apex_ids_create(CurrentMemoryContext, Max(n, 16), NULL);
	foreach(lc, legs)
	{
		ApexLeg    *leg = lfirst(lc);
		ListCell   *ic;
		int			rank = 0;

		foreach(ic, leg->items)
		{
			ApexItem   *item = lfirst(ic);
			bool		found;
			ApexIdSlot *slot = apex_ids_insert(ids, item->id, &found);
			ApexGathered *g;
			ApexHit    *hit;

			rank++;
			if (!found)
			{
				g = palloc(sizeof(ApexGathered));
				g->fused = palloc0(sizeof(ApexFused));
				g->fused->id = item->id;
				g->nentries = 0;
				g->entries = palloc(sizeof(ApexEntry) * nlegs);
				slot->gathered = g;
				gathered = lappend(gathered, g);
			}
			g = slot->gathered;
			/* a duplicate within one source keeps only its best rank */
			if (g->nentries > 0 &&
				g->entries[g->nentries - 1].order == foreach_current_index(lc))
				continue;
			hit = palloc(sizeof(ApexHit));
			hit->source = leg->source->name;
			hit->rank = rank;
			hit->item = item;
			hit->value = 0;
			g->entries[g->nentries].hit = hit;
			g->entries[g->nentries].weight = leg->weight;
			g->entries[g->nentries].order = foreach_current_index(lc);
			g->nentries++;
			leghits[foreach_current_index(lc)] =
				lappend(leghits[foreach_current_index(lc)], hit);
		}
	}
	for (int i = 0; i < nlegs; i++)
		apex_leg_values(leghits[i], ranking);
	foreach(lc, gathered)
	{
		ApexGathered *g = lfirst(lc);

		apex_fuse_one(g, ranking);
		fused = lappend(fused, g->fused);
	}
	list_sort(fused, apex_fused_cmp);
	if (ncandidates > 0 && list_length(fused) > ncandidates)
		fused = list_truncate(fused, ncandidates);
	return fused;
}

/* cosine similarity; 0 when the two are not comparable (dimension, zero) */
static double
apex_cosine(const ApexRow *a, const ApexRow *b)
{
	double		dot = 0;
	double		na = 0;
	double		nb = 0;

	if (a->vector == NULL || b->vector == NULL || a->vector_dim != b->vector_dim)
		return 0;
	for (int i = 0; i < a->vector_dim; i++)
	{
		dot += (double) a->vector[i] * b->vector[i];
		na += (double) a->vector[i] * a->vector[i];
		nb += (double) b->vector[i] * b->vector[i];
	}
	if (!(na > 0 && nb > 0))
		return 0;
	return dot / sqrt(na * nb);
}

/*
 * Maximal Marginal Relevance (Carbonell and Goldstein, SIGIR 1998): k of
 * the candidates, chosen one at a time, each the one with the largest
 *
 *	lambda * rel(c) - (1 - lambda) * max(0, max over the chosen s of cos(c, s))
 *
 * rel being the fused score scaled over the candidates to [0, 1] (all 1
 * when they are equal).  The penalty is never below 0: an item unlike
 * everything chosen is not preferred to its relevance (nor is the first
 * choice, with nothing chosen, anything but the most relevant).  A candidate without an embedding is similar to
 * nothing (its max is 0), and the chosen without one count for no one's
 * max: it keeps its place on relevance alone.  Ties go to the row earlier
 * in the list (the better fused, or reranked, rank).
 */
static List *
apex_mmr(List *rows, double lambda, int k)
{
	int			n = list_length(rows);
	ApexRow   **cand = palloc(sizeof(ApexRow *) * n);
	double	   *rel = palloc(sizeof(double) * n);
	double	   *maxsim = palloc(sizeof(double) * n);
	bool	   *chosen = palloc0(sizeof(bool) * n);
	double		lo = 0;
	double		hi = 0;
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, rows)
	{
		int			i = foreach_current_index(lc);

		cand[i] = lfirst(lc);
		lo = i == 0 ? cand[i]->score : Min(lo, cand[i]->score);
		hi = i == 0 ? cand[i]->score : Max(hi, cand[i]->score);
		maxsim[i] = 0;
	}
	for (int i = 0; i < n; i++)
		rel[i] = hi > lo ? (cand[i]->score - lo) / (hi - lo) : 1.0;
	for (int step = 0; step < Min(k, n); step++)
	{
		int			best = -1;
		double		best_mmr = 0;

		for (int i = 0; i < n; i++)
		{
			double		mmr;

			if (chosen[i])
				continue;
			mmr = lambda * rel[i] - (1 - lambda) * maxsim[i];
			if (best < 0 || mmr > best_mmr)
			{
				best = i;
				best_mmr = mmr;
			}
		}
		chosen[best] = true;
		result = lappend(result, cand[best]);
		if (cand[best]->vector == NULL)
			continue;
		for (int i = 0; i < n; i++)
		{
			double		sim;

			if (chosen[i] || cand[i]->vector == NULL)
				continue;
			sim = apex_cosine(cand[i], cand[best]);
			maxsim[i] = Max(maxsim[i], sim);
		}
	}
	return result;
}

/*
 * {"<source>":{"rank":r,"score":s,"item":{...}}, ...}: a tree holding the
 * items' own trees, made a jsonb once (not built apart and copied in)
 */
static Jsonb *
apex_payload(ApexFused *f)
{
	JsonbPair  *sources = palloc(sizeof(JsonbPair) * list_length(f->hits));
	ListCell   *lc;

	foreach(lc, f->hits)
	{
		ApexHit    *hit = lfirst(lc);
		JsonbPair  *entry = palloc(sizeof(JsonbPair) * 3);
		JsonbPair  *source = &sources[foreach_current_index(lc)];

		ApexJsonKey(&entry[0], "item");
		entry[0].value = *ApexJsonTree(hit->item->raw);
		ApexJsonKey(&entry[1], "rank");
		entry[1].value = *ApexJsonIntValue(hit->rank);
		ApexJsonKey(&entry[2], "score");
		entry[2].value = *ApexJsonNumberValue(hit->item->score);
		ApexJsonKey(source, hit->source);
		source->value = *ApexJsonObjectOf(entry, 3);
	}
	return JsonbValueToJsonb(ApexJsonObjectOf(sources, list_length(f->hits)));
}

/* The fused items as result rows (ApexRow *), in rank order */
List *
ApexFusedRows(List *fused)
{
	List	   *rows = NIL;
	ListCell   *lc;

	foreach(lc, fused)
	{
		ApexFused  *f = lfirst(lc);
		ApexRow    *row = palloc0(sizeof(ApexRow));
		ListCell   *hc;

		row->id = f->id;
		row->title = f->title;
		row->content = f->content;
		row->score = f->score;
		foreach(hc, f->hits)
			row->found_in = lappend(row->found_in, (char *) ((ApexHit *) lfirst(hc))->source);
		row->payload = apex_payload(f);
		row->vector = f->vector;
		row->vector_dim = f->vector_dim;
		rows = lappend(rows, row);
	}
	return rows;
}

/*
 * The final steps after fusion and a reranker, on the candidates' rows
 * (ApexFusedRows), best first: those scoring less than min_score dropped,
 * then with mmr_lambda set MMR's choice of k of the rest, else the first
 * k.  The rows keep their score (MMR changes the order, not the scores),
 * so every row returned scores at least min_score.
 */
List *
ApexFuseFinish(List *rows, const ApexRanking *ranking, int k)
{
	bool		vectors = false;
	ListCell   *lc;

	if (!isnan(ranking->min_score))
	{
		foreach(lc, rows)
		{
			if (((ApexRow *) lfirst(lc))->score < ranking->min_score)
				rows = foreach_delete_current(rows, lc);
		}
	}
	foreach(lc, rows)
		vectors |= ((ApexRow *) lfirst(lc))->vector != NULL;
	/* without an embedding MMR's order is the list's */
	if (!isnan(ranking->mmr_lambda) && vectors)
		rows = apex_mmr(rows, ranking->mmr_lambda, k);
	if (list_length(rows) > k)
		rows = list_truncate(rows, k);
	return rows;
}
