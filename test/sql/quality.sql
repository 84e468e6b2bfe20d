-- Retrieval quality (issue 15 part 6): nDCG@10 of the default fused call
-- (the five evaluation sources named, RRF) over a fixed subset of the
-- evaluation set (test/fixtures/eval: its README says how questions are
-- graded), held above a floor, so that a change that makes answers worse
-- fails here.  bench/quality measures every question and configuration.
-- The floors lie a little below what main measured (overall 0.552 on
-- 2026-12-01): a real regression goes below them, a tie broken otherwise
-- does not.
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
SELECT round(eval_ndcg('q52', ARRAY(SELECT item FROM eval_labels WHERE question = 'q52' ORDER BY grade DESC, item)), 3) AS ideal,
       eval_ndcg('q52', '{}') AS nothing,
       round(eval_ndcg('q52', ARRAY['x', (SELECT item FROM eval_labels WHERE question = 'q52')]), 3) AS second,
       eval_ndcg('q52', array_fill('x'::text, '{10}') || (SELECT item FROM eval_labels WHERE question = 'q52')) AS eleventh;
-- graded: q51's grade-2 item first and its grade-3 item second score less
-- than the other way round; recall counts every graded item
SELECT round(eval_ndcg('q51', '{MEM-1039,MEM-1023}'), 3) AS wrong_order,
       round(eval_ndcg('q51', '{MEM-1023,MEM-1039}'), 3) AS right_order,
       round(eval_recall('q51', '{MEM-1023}'), 2) AS recall_half,
       round(eval_recall('q51', '{x,MEM-1039,MEM-1023}'), 2) AS recall_all;

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
WHERE q.id IN ('q01', 'q02', 'q03', 'q04', 'q17', 'q18', 'q19', 'q20', 'q34', 'q35',
               'q36', 'q37', 'q50', 'q51', 'q52', 'q53', 'q64', 'q65', 'q66', 'q67');
SELECT count(*) AS questions, round(avg(ndcg), 2) AS mean_ndcg, avg(ndcg) >= 0.50 AS ndcg_above_floor,
       round(avg(recall), 2) AS mean_recall, avg(recall) >= 0.55 AS recall_above_floor
FROM quality_run;
-- and per class, each above its own floor (about 80 % of what main measured)
SELECT cls, count(*) AS questions,
       avg(ndcg) >= CASE cls WHEN 'exact' THEN 0.65 WHEN 'mixed' THEN 0.28 WHEN 'relationship' THEN 0.28
                             WHEN 'temporal' THEN 0.40 WHEN 'topical' THEN 0.60 END AS ndcg_above_floor
FROM quality_run GROUP BY cls ORDER BY cls;
