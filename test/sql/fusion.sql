-- Reciprocal Rank Fusion over every source at once.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
-- the suite's sources and the corpus (test/sql/include/setup.sql)
SELECT count(*) AS corpus_items FROM notes;
SELECT srvname, array_to_string(srvoptions[1:1], ',') AS kind
FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
WHERE w.fdwname = 'apex_router' ORDER BY 1;

SELECT rank, id, title, round(score::numeric, 5) AS score, found_in
FROM apex_route('what did we discuss with Sarah?', k => 8);

-- the fused score is exactly sum(weight / (rrf_k + rank)) over the payload
CREATE FUNCTION rrf_check(rrf_k int, weights jsonb DEFAULT '{}') RETURNS TABLE (rows bigint, exact bool, ordered bool, unique_ids bool)
LANGUAGE sql AS $$
  WITH r AS (SELECT * FROM apex_route('Sarah roadmap billing', k => 30, rrf_k => rrf_k)),
  calc AS (
    SELECT r.rank, r.id, r.score,
           (SELECT sum(coalesce((weights->>key)::float8, 1) / (rrf_k + (value->>'rank')::int))
            FROM jsonb_each(r.payload)) AS expected,
           lag(r.score) OVER (ORDER BY r.rank) AS prev_score
    FROM r)
  SELECT count(*), bool_and(abs(score - expected) < 1e-12),
         bool_and(prev_score IS NULL OR prev_score >= score),
         count(DISTINCT id) = count(*)
  FROM calc
$$;
SELECT * FROM rrf_check(60);
-- rrf_k from the argument and from the GUC
SELECT * FROM rrf_check(1);
SET apex_router.rrf_k = 5;
SELECT (SELECT array_agg(round(score::numeric, 10) ORDER BY rank) FROM apex_route('Sarah roadmap billing', k => 30))
     = (SELECT array_agg(round(score::numeric, 10) ORDER BY rank) FROM apex_route('Sarah roadmap billing', k => 30, rrf_k => 5))
  AS guc_rrf_k_used;
RESET apex_router.rrf_k;

-- items found by several sources merge into one row listing each, by rank
SELECT id, found_in, (SELECT array_agg(key || ':' || (value->>'rank') ORDER BY key) FROM jsonb_each(payload)) AS ranks
FROM apex_route('Sarah roadmap', k => 3);

-- per-source weights
ALTER SERVER docs OPTIONS (ADD weight '5');
SELECT * FROM rrf_check(60, '{"docs": 5}');
SELECT rank, id, found_in FROM apex_route('billing migration', k => 3);
ALTER SERVER docs OPTIONS (SET weight '0');
SELECT * FROM rrf_check(60, '{"docs": 0}');
ALTER SERVER docs OPTIONS (DROP weight);

-- k bounds the fused rows; each source is asked for k items
SELECT count(*) AS rows FROM apex_route('Sarah', k => 3);
SELECT max(jsonb_array_length(jsonb_path_query_array(payload, '$.*.rank'))) <= 3 AS ok,
       max((SELECT max((value->>'rank')::int) FROM jsonb_each(payload))) AS worst_rank
FROM apex_route('Sarah', k => 3);

-- a source listing an id twice counts once, at its best rank
CREATE SERVER dup FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT * FROM (VALUES (''m01'', ''first'', 1.0), (''m01'', ''again'', 0.5), (''m02'', ''x'', 0.1)) v LIMIT $2');
SELECT rank, id, title, round(score::numeric, 6) AS score, payload->'dup'->>'rank' AS dup_rank
FROM apex_route('x', sources => '{dup}');
DROP SERVER dup;
DROP FUNCTION rrf_check;
