/*-------------------------------------------------------------------------
 *
 * fusion.c
 *		  Reciprocal Rank Fusion (Cormack et al., SIGIR 2009), weighted.
 *
 * fused(d) = sum over sources s that returned d of weight(s) / (rrf_k + rank_s(d))
 *
 * Only ranks matter, so sources whose scores live on unrelated scales
 * (Lucene scores, cosine similarity, ts_rank) combine without calibration.
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

#include "common/hashfn.h"
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

/*
 * An id's fused item from its hits (one per source, each its source's best
 * rank): the scores summed and the title and content taken in the order of
 * the hits' ranks (then of the legs), so that the sum is the same double
 * whatever order the legs answered in.
 */
static void
apex_fuse_one(ApexGathered *g, int rrf_k)
{
	ApexFused  *f = g->fused;

	if (g->nentries > 1)
		qsort(g->entries, g->nentries, sizeof(ApexEntry), apex_entry_cmp);
	for (int i = 0; i < g->nentries; i++)
	{
		ApexHit    *hit = g->entries[i].hit;

		f->score += g->entries[i].weight / (double) (rrf_k + hit->rank);
		f->hits = lappend(f->hits, hit);
		if (f->title == NULL)
			f->title = hit->item->title;
		if (f->content == NULL)
			f->content = hit->item->content;
	}
	list_sort(f->hits, apex_hit_cmp);
}

/*
 * Fuse the items of the finished legs; return the best k as ApexFused *,
 * best first (ties: better best rank, then id).
 */
List *
ApexFuse(List *legs, int rrf_k, int k)
{
	int			n = 0;
	int			nlegs = list_length(legs);
	apex_ids_hash *ids;
	List	   *gathered = NIL;
	List	   *fused = NIL;
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
			g->entries[g->nentries].hit = hit;
			g->entries[g->nentries].weight = leg->weight;
			g->entries[g->nentries].order = foreach_current_index(lc);
			g->nentries++;
		}
	}
	foreach(lc, gathered)
	{
		ApexGathered *g = lfirst(lc);

		apex_fuse_one(g, rrf_k);
		fused = lappend(fused, g->fused);
	}
	list_sort(fused, apex_fused_cmp);
	if (list_length(fused) > k)
		fused = list_truncate(fused, k);
	return fused;
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
		rows = lappend(rows, row);
	}
	return rows;
}
