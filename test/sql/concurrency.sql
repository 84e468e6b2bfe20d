-- One call fans out concurrently: with Neo4j, the embedder and Qdrant each
-- delayed 300 ms and a 200 ms local SQL leg, a sequential router needs at
-- least 1100 ms.  The test servers' request log shows the legs overlapping:
-- Neo4j and the embedder in flight together, the SQL leg running while
-- they are, and Qdrant right after the embedder that it depends on.
-- The SQL leg runs read-only and is rolled back, so it cannot write its
-- times to a table: temporary sequences (not transactional, and writable in a
-- read-only transaction) carry them out, in microseconds since the epoch.
-- Temporary objects are the session's: only an inline query sees them, so
-- this file runs docs inline (issue 12: workers.sql shows a worker's leg
-- overlapping the others).
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE TEMP SEQUENCE sql_leg_started MINVALUE 0;
CREATE TEMP SEQUENCE sql_leg_finished MINVALUE 0;
CREATE FUNCTION slow_notes(q text, n int) RETURNS SETOF notes LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
  PERFORM pg_sleep(0.2);
  PERFORM setval('pg_temp.sql_leg_started', (extract(epoch FROM t0) * 1e6)::bigint),
          setval('pg_temp.sql_leg_finished', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint);
  RETURN QUERY SELECT * FROM notes WHERE tsv @@ websearch_to_tsquery('english', q) ORDER BY id LIMIT n;
END $$;
\set url :neo4j_url'/__fault/delay=300'
ALTER SERVER graph OPTIONS (SET url :'url');
\set url :qdrant_url'/__fault/delay=300'
ALTER SERVER vectors OPTIONS (SET url :'url');
\set url :embed_base'/__fault/delay=300/v1/embeddings'
ALTER SERVER embed OPTIONS (SET url :'url');
ALTER SERVER docs OPTIONS (SET query 'SELECT id, title, body FROM slow_notes($1, $2)',
                           ADD execution 'inline');

SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows, array_agg(DISTINCT s ORDER BY s) AS sources
FROM apex_route('Sarah roadmap', k => 10), unnest(found_in) s;
\set log `cat "$APEX_TEST_LOG"`

CREATE TEMP TABLE legs AS
  SELECT e->>'server' AS leg, (e->>'start')::float8 AS s, (e->>'end')::float8 AS e
  FROM regexp_split_to_table(:'log', E'\n') l, LATERAL (SELECT l::jsonb) j(e)
  WHERE l <> '' AND (e->>'start')::float8 >= extract(epoch FROM :'t0'::timestamptz) * 1000
  UNION ALL
  SELECT 'sql', s.last_value / 1000.0, f.last_value / 1000.0
  FROM pg_temp.sql_leg_started s, pg_temp.sql_leg_finished f WHERE s.is_called;
SELECT leg, count(*) AS requests FROM legs GROUP BY 1 ORDER BY 1;
SELECT (n.s < m.e AND m.s < n.e) AS neo4j_overlaps_embedder,
       (n.s < sq.e AND sq.s < n.e) AS neo4j_overlaps_sql,
       (m.s < sq.e AND sq.s < m.e) AS embedder_overlaps_sql,
       (q.s >= m.e) AS qdrant_after_its_embedder,
       (greatest(n.e, q.e, sq.e) - least(n.s, m.s, sq.s))
         < (n.e - n.s) + (m.e - m.s) + (q.e - q.s) + (sq.e - sq.s) AS span_shorter_than_sum
FROM legs n, legs m, legs q, legs sq
WHERE n.leg = 'neo4j' AND m.leg = 'embedder' AND q.leg = 'qdrant' AND sq.leg = 'sql';

-- issue 13 item 5: apex_router.sequential runs the same legs one after
-- another, in the order of sources, each on its own clock: each starts
-- once the one before has ended (the embedder and its Qdrant request are
-- one leg), and the rows are the concurrent call's
SET apex_router.sequential = on;
SELECT clock_timestamp() AS t1 \gset
SELECT array_agg(id ORDER BY rank) AS sequential_ids
FROM apex_route('Sarah roadmap', k => 10, sources => '{graph,docs,vectors}') \gset
SELECT clock_timestamp() AS t2 \gset
SELECT s.last_value / 1000.0 AS sql_s, f.last_value / 1000.0 AS sql_e
FROM pg_temp.sql_leg_started s, pg_temp.sql_leg_finished f \gset
RESET apex_router.sequential;
SELECT array_agg(id ORDER BY rank) = :'sequential_ids' AS same_rows_as_concurrent
FROM apex_route('Sarah roadmap', k => 10, sources => '{graph,docs,vectors}');
\set log `cat "$APEX_TEST_LOG"`
CREATE TEMP TABLE seq_legs AS
  SELECT e->>'server' AS leg, (e->>'start')::float8 AS s, (e->>'end')::float8 AS e
  FROM regexp_split_to_table(:'log', E'\n') l, LATERAL (SELECT l::jsonb) j(e)
  WHERE l <> '' AND (e->>'start')::float8 BETWEEN extract(epoch FROM :'t1'::timestamptz) * 1000
                                              AND extract(epoch FROM :'t2'::timestamptz) * 1000
  UNION ALL
  SELECT 'sql', :sql_s, :sql_e
  WHERE :sql_s / 1000 BETWEEN extract(epoch FROM :'t1'::timestamptz)
                          AND extract(epoch FROM :'t2'::timestamptz);
SELECT leg, count(*) AS requests FROM seq_legs GROUP BY 1 ORDER BY 1;
SELECT (sq.s >= n.e) AS docs_after_neo4j,
       (m.s >= sq.e) AS embedder_after_docs,
       (q.s >= m.e) AS qdrant_after_its_embedder
FROM seq_legs n, seq_legs m, seq_legs q, seq_legs sq
WHERE n.leg = 'neo4j' AND m.leg = 'embedder' AND q.leg = 'qdrant' AND sq.leg = 'sql';

ALTER SERVER graph OPTIONS (SET url :'neo4j_url');
ALTER SERVER vectors OPTIONS (SET url :'qdrant_url');
ALTER SERVER embed OPTIONS (SET url :'embed_url');
ALTER SERVER docs OPTIONS (SET query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                              FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                              ORDER BY 4 DESC, id LIMIT $2', DROP execution);
DROP FUNCTION slow_notes;
DROP SEQUENCE sql_leg_started, sql_leg_finished;
