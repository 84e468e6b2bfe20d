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

#include "utils/json.h"

#include "fusion.h"
#include "json.h"

typedef struct ApexEntry
{
	ApexHit    *hit;
	double		weight;
	int			order;			/* leg position, for stable tie-breaks */
} ApexEntry;

static int
apex_entry_cmp(const void *a, const void *b)
{
	const ApexEntry *x = a;
	const ApexEntry *y = b;
	int			c = strcmp(x->hit->item->id, y->hit->item->id);

	if (c != 0)
		return c;
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
 * Fuse the items of the finished legs; return the best k as ApexFused *,
 * best first (ties: better best rank, then id).
 */
List *
ApexFuse(List *legs, int rrf_k, int k)
{
	int			n = 0;
	int			order = 0;
	ApexEntry  *entries;
	List	   *fused = NIL;
	ListCell   *lc;

	foreach(lc, legs)
		n += list_length(((ApexLeg *) lfirst(lc))->items);
	entries = palloc(sizeof(ApexEntry) * Max(n, 1));
	n = 0;
	foreach(lc, legs)
	{
		ApexLeg    *leg = lfirst(lc);
		ListCell   *ic;
		int			rank = 0;

		foreach(ic, leg->items)
		{
			ApexHit    *hit = palloc(sizeof(ApexHit));

			hit->source = leg->source->name;
			hit->rank = ++rank;
			hit->item = lfirst(ic);
			entries[n].hit = hit;
			entries[n].weight = leg->source->weight;
			entries[n].order = order;
			n++;
		}
		order++;
	}
	qsort(entries, n, sizeof(ApexEntry), apex_entry_cmp);

	for (int i = 0; i < n;)
	{
		ApexFused  *f = palloc0(sizeof(ApexFused));
		int			j;

		f->id = entries[i].hit->item->id;
		for (j = i; j < n && strcmp(entries[j].hit->item->id, f->id) == 0; j++)
		{
			ApexHit    *hit = entries[j].hit;
			ListCell   *hc;
			bool		seen = false;

			/* a duplicate within one source keeps only its best rank */
			foreach(hc, f->hits)
			{
				if (strcmp(((ApexHit *) lfirst(hc))->source, hit->source) == 0)
					seen = true;
			}
			if (seen)
				continue;
			f->score += entries[j].weight / (double) (rrf_k + hit->rank);
			f->hits = lappend(f->hits, hit);
			if (f->title == NULL)
				f->title = hit->item->title;
			if (f->content == NULL)
				f->content = hit->item->content;
		}
		list_sort(f->hits, apex_hit_cmp);
		fused = lappend(fused, f);
		i = j;
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
