-- Retrieval quality (issue 15 part 6): nDCG@10 of the default fused call
-- (the five evaluation sources named, RRF) over a fixed subset of the
-- evaluation set (test/fixtures/eval: its README says how questions are
-- graded), held above a floor, so that a change that makes answers worse
-- fails here.  bench/quality measures every question and configuration.
-- The floors lie a little below what main measured on 2026-12-01 (nDCG
-- 0.564 overall; by class exact 0.884, mixed 0.351, relationship 0.352,
-- temporal 0.500, topical 0.736; recall 0.60): a real regression goes below
-- them, a tie broken otherwise does not.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/eval.sql
-- the set as loaded: questions per class, labels, the local store
SELECT cls, count(*) AS questions FROM eval_questions GROUP BY cls ORDER BY cls;
SELECT count(*) AS labels, count(DISTINCT item) AS items_labelled,
       (SELECT count(*) FROM eval_items) AS sql_records
FROM eval_labels;
-- every label names an item of the set
\set eval_ids `cat "$APEX_EVAL_DIR/items.json"`
SELECT count(*) AS unknown_labels FROM eval_labels
WHERE item NOT IN (SELECT e->>'id' FROM jsonb_array_elements(:'eval_ids'::jsonb) e);

-- the metrics themselves: the labels in grade order score 1, nothing 0;
-- a relevant item lower down scores less; what is beyond 10 is not seen
SELECT round(eval_ndcg('exa03', ARRAY(SELECT item FROM eval_labels WHERE question = 'exa03' ORDER BY grade DESC, item)), 3) AS ideal,
       eval_ndcg('exa03', '{}') AS nothing,
       round(eval_ndcg('exa03', ARRAY['x', (SELECT item FROM eval_labels WHERE question = 'exa03')]), 3) AS second,
       eval_ndcg('exa03', array_fill('x'::text, '{10}') || (SELECT item FROM eval_labels WHERE question = 'exa03')) AS eleventh;
-- graded: exa02's grade-2 item first and its grade-3 item second score less
-- than the other way round; recall counts every graded item
SELECT round(eval_ndcg('exa02', '{MEM-1039,MEM-1023}'), 3) AS wrong_order,
       round(eval_ndcg('exa02', '{MEM-1023,MEM-1039}'), 3) AS right_order,
       round(eval_recall('exa02', '{MEM-1023}'), 2) AS recall_half,
       round(eval_recall('exa02', '{x,MEM-1039,MEM-1023}'), 2) AS recall_all;

-- each source answers (no WARNING below): a question of its store
SELECT s AS source, (SELECT count(*) FROM apex_route(q, k => 10, sources => ARRAY[s])) AS rows
FROM (VALUES ('eval_graph', 'Who works with Ben Okafor?'), ('eval_vectors', 'offline sync conflict resolution'),
             ('eval_facts', 'on-call engineer for Atlas'), ('eval_memory', 'Atlas rollback runbook'),
             ('eval_sql', 'MEM-1031')) v(s, q);

-- the fixed subset: the first four questions of each class
CREATE TEMP TABLE quality_run AS
SELECT q.id, q.cls, eval_ndcg(q.id, r.ids) AS ndcg, eval_recall(q.id, r.ids) AS recall
FROM eval_questions q,
     LATERAL (SELECT array_agg(a.id ORDER BY a.rank) AS ids
              FROM apex_route(q.text, k => 10,
                              sources => '{eval_graph,eval_vectors,eval_facts,eval_memory,eval_sql}') a) r
WHERE q.id IN ('rel01', 'rel02', 'rel03', 'rel04', 'top01', 'top02', 'top03', 'top04',
               'tem01', 'tem02', 'tem03', 'tem04', 'exa01', 'exa02', 'exa03', 'exa04',
               'mix01', 'mix02', 'mix03', 'mix04');
SELECT count(*) AS questions, round(avg(ndcg), 2) AS mean_ndcg, avg(ndcg) >= 0.50 AS ndcg_above_floor,
       round(avg(recall), 2) AS mean_recall, avg(recall) >= 0.55 AS recall_above_floor
FROM quality_run;
-- and per class, each above its own floor (about 80 % of what main measured)
SELECT cls, count(*) AS questions,
       avg(ndcg) >= CASE cls WHEN 'exact' THEN 0.70 WHEN 'mixed' THEN 0.28 WHEN 'relationship' THEN 0.28
                             WHEN 'temporal' THEN 0.40 WHEN 'topical' THEN 0.59 END AS ndcg_above_floor
FROM quality_run GROUP BY cls ORDER BY cls;
