-- issue 13 item 1: apex_route_many(queries text[], ...) asks every source
-- every question in one call, at most max_concurrency legs in flight, and
-- answers each question as apex_route answers it, with its ordinal.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/workers.sql

-- the request log of the test servers since :t0, one row per request
CREATE FUNCTION requests_since(t0 timestamptz, log text)
RETURNS TABLE (server text, s float8, e float8) LANGUAGE sql AS $$
  SELECT r->>'server', (r->>'start')::float8, (r->>'end')::float8
  FROM regexp_split_to_table(log, E'\n') l, LATERAL (SELECT l::jsonb) j(r)
  WHERE l <> '' AND (r->>'start')::float8 >= extract(epoch FROM t0) * 1000 $$;
-- the requests to srv that started between t0 and t1: how many, and the
-- most in flight at one time
CREATE FUNCTION in_flight(t0 timestamptz, t1 timestamptz, log text, srv text,
                          OUT requests bigint, OUT most_in_flight bigint)
LANGUAGE sql AS $$
  WITH r AS (SELECT * FROM requests_since(t0, log)
             WHERE server = srv AND s < extract(epoch FROM t1) * 1000)
  SELECT count(*), max((SELECT count(*) FROM r o WHERE o.s <= a.s AND a.s < o.e)) FROM r a $$;

-- Each question's rows are apex_route's for it, in its order, duplicates
-- included (a question asked twice is answered twice); every source of
-- the suite takes part (graph, vectors through its embedder, docs in a
-- worker)
CREATE TEMP TABLE questions (ordinal int, q text);
INSERT INTO questions VALUES (1, 'Sarah roadmap'), (2, 'billing migration'),
  (3, 'Sarah roadmap'), (4, 'incident postmortem'), (5, 'Kubernetes');
CREATE TEMP TABLE many AS
  SELECT * FROM apex_route_many(ARRAY(SELECT q FROM questions ORDER BY ordinal), k => 4);
SELECT ordinal, count(*) AS rows, array_agg(rank ORDER BY rank) AS ranks
FROM many GROUP BY 1 ORDER BY 1;
SELECT q.ordinal,
       (SELECT array_agg(r ORDER BY r.rank) FROM apex_route(q.q, k => 4) r)::text
       = (SELECT array_agg((m.rank, m.id, m.title, m.content, m.score, m.found_in, m.payload, m.partial, m.routing)
                           ORDER BY m.rank)
          FROM many m WHERE m.ordinal = q.ordinal)::text AS same_as_apex_route
FROM questions q ORDER BY 1;

-- k is per question
SELECT ordinal, count(*) AS rows
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 2) GROUP BY 1 ORDER BY 1;

-- an empty batch: no rows, no request; its arguments are still checked
SELECT count(*) AS rows FROM apex_route_many('{}');
SELECT count(*) FROM apex_route_many('{}', sources => '{nonesuch}');
SELECT count(*) FROM apex_route_many(NULL);
SELECT count(*) FROM apex_route_many('{{a,b},{c,d}}');
SELECT count(*) FROM apex_route_many('{a}', k => 0);
SELECT count(*) FROM apex_route_many('{a}', max_concurrency => 0);
SELECT count(*) FROM apex_route_many('{a}', timeout_ms => -1);
-- a vector source needs its embedder: there is no query_vector to pass
CREATE SERVER bare_vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory');
SELECT count(*) FROM apex_route_many('{a}', sources => '{bare_vectors}');
DROP SERVER bare_vectors;

-- a question that cannot be asked (null, empty, blank, too long) is a
-- WARNING and no rows; the others are answered
SELECT ordinal, count(*) AS rows
FROM apex_route_many(ARRAY['Sarah roadmap', NULL, '', ' ', 'billing migration',
                           repeat('x', 1024 * 1024 + 1)], k => 3)
GROUP BY 1 ORDER BY 1;

-- One failing question never fails the batch: a sql source whose query
-- fails for one text only (a division by zero), asked three questions
CREATE SERVER picky FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title FROM notes
                              WHERE CASE WHEN $1 = ''boom'' THEN 1 / 0 = 1
                                         ELSE tsv @@ websearch_to_tsquery(''english'', $1) END
                              ORDER BY id LIMIT $2');
SELECT ordinal, count(*) AS rows
FROM apex_route_many('{Sarah roadmap,boom,billing migration}', k => 3, sources => '{picky}')
GROUP BY 1 ORDER BY 1;
-- with another source it keeps that source's rows; min_sources applies
-- per question: the failing one has no rows, the others theirs
SELECT ordinal, count(*) AS rows, array_agg(DISTINCT s ORDER BY s) AS sources
FROM apex_route_many('{Sarah roadmap,boom}', k => 3, sources => '{picky,graph}'),
     unnest(found_in) s
GROUP BY 1 ORDER BY 1;
SELECT ordinal, count(*) AS rows
FROM apex_route_many('{Sarah roadmap,boom}', k => 3, sources => '{picky,graph}', min_sources => 2)
GROUP BY 1 ORDER BY 1;
-- apex_router.strict still makes any source's failure an ERROR
SET apex_router.strict = on;
SELECT count(*) FROM apex_route_many('{Sarah roadmap,boom}', sources => '{picky}');
RESET apex_router.strict;

-- max_concurrency bounds the legs in flight: six questions of a Neo4j
-- delayed 200 ms, two at a time, then all at once; the same rows either way
\set url :neo4j_url'/__fault/delay=200'
ALTER SERVER graph OPTIONS (SET url :'url');
SELECT clock_timestamp() AS t0 \gset
SELECT array_agg((ordinal, rank, id) ORDER BY ordinal, rank)::text AS two_at_a_time
FROM apex_route_many(array_fill('Sarah roadmap'::text, ARRAY[6]), k => 3,
                     sources => '{graph}', max_concurrency => 2) \gset
SELECT clock_timestamp() AS t1 \gset
SELECT array_agg((ordinal, rank, id) ORDER BY ordinal, rank)::text = :'two_at_a_time' AS same_rows
FROM apex_route_many(array_fill('Sarah roadmap'::text, ARRAY[6]), k => 3,
                     sources => '{graph}', max_concurrency => 100);
SELECT clock_timestamp() AS t2 \gset
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM in_flight(:'t0', :'t1', :'log', 'neo4j');
SELECT * FROM in_flight(:'t1', :'t2', :'log', 'neo4j');
-- the setting applies when the argument is not given
SET apex_router.max_concurrency = 3;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route_many(array_fill('Sarah roadmap'::text, ARRAY[6]), k => 3, sources => '{graph}');
SELECT clock_timestamp() AS t1 \gset
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM in_flight(:'t0', :'t1', :'log', 'neo4j');
RESET apex_router.max_concurrency;
-- issue 13 item 3: the source's max_concurrent_requests bounds a batch's
-- requests too: six questions, max_concurrency 100, a cap of 2
ALTER SERVER graph OPTIONS (ADD max_concurrent_requests '2');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route_many(array_fill('Sarah roadmap'::text, ARRAY[6]), k => 3,
                                             sources => '{graph}', max_concurrency => 100);
SELECT clock_timestamp() AS t1 \gset
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM in_flight(:'t0', :'t1', :'log', 'neo4j');
ALTER SERVER graph OPTIONS (DROP max_concurrent_requests);
-- issue 13 item 2 (review: questions beyond the descriptor budget failed
-- "Out of file descriptors"): 700 questions with max_concurrency 700, more
-- than the about 330 descriptors PostgreSQL leaves a backend for
-- connections; the batch keeps within them, and every question is answered
SET client_min_messages = warning;
SELECT count(DISTINCT ordinal) AS answered
FROM apex_route_many(ARRAY(SELECT 'Sarah roadmap ' || g FROM generate_series(1, 700) g),
                     k => 1, sources => '{graph}', max_concurrency => 700);
RESET client_min_messages;
-- issue 13 (bench/table.sh: 100 questions over three sources took two
-- rounds, since apex_router.max_concurrency was 100): by default 150
-- questions of a slow Neo4j (200 ms, above) go out at once: more than
-- 100 are in flight together (all 150 unless the machine is slow to start
-- them)
SELECT clock_timestamp() AS t0 \gset
SELECT count(DISTINCT ordinal) AS answered
FROM apex_route_many(ARRAY(SELECT 'Sarah roadmap ' || g FROM generate_series(1, 150) g),
                     k => 1, sources => '{graph}');
SELECT clock_timestamp() AS t1 \gset
\set log `cat "$APEX_TEST_LOG"`
SELECT requests, most_in_flight > 100 AS more_than_100 FROM in_flight(:'t0', :'t1', :'log', 'neo4j');
-- apex_router.sequential: one leg after another
SET apex_router.sequential = on;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route_many('{Sarah roadmap,billing migration,Kubernetes}', k => 3, sources => '{graph}');
SELECT clock_timestamp() AS t1 \gset
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM in_flight(:'t0', :'t1', :'log', 'neo4j');
RESET apex_router.sequential;

-- timeout_ms is the whole batch's deadline: one at a time, the first
-- question is answered, the second times out, the others never start
SELECT g AS ordinal, count(m.id) AS rows
FROM apex_route_many('{Sarah roadmap,billing migration,Kubernetes,incident}', k => 3,
                     sources => '{graph}', max_concurrency => 1, timeout_ms => 300) m
RIGHT JOIN generate_series(1, 4) g ON g = m.ordinal
GROUP BY 1 ORDER BY 1;
-- issue 13 (review): a deadline that leaves no time to start any leg (a
-- leg starts only with a millisecond left) does not blame max_concurrency
SELECT count(*) FROM apex_route_many('{Sarah roadmap}', sources => '{graph}', timeout_ms => 1);

-- A postgres source asked several questions at once: a connection per
-- query in flight, one kept when the call ends; the rows are apex_route's
CREATE SERVER remote_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT q.ordinal,
       (SELECT array_agg(id ORDER BY rank) FROM apex_route(q.q, k => 4, sources => '{remote_docs}'))
       IS NOT DISTINCT FROM (SELECT array_agg(id ORDER BY rank)
          FROM apex_route_many(ARRAY(SELECT q FROM questions ORDER BY ordinal), k => 4,
                               sources => '{remote_docs}') m
          WHERE m.ordinal = q.ordinal) AS same_as_apex_route
FROM questions q ORDER BY 1;
SELECT kind, source, count(*) FROM apex_router_connections() WHERE kind = 'postgres' GROUP BY 1, 2;

-- A cancel in the middle of a batch (statement_timeout): nothing of it is
-- left running (no sql worker runs a query after it), and the next call
-- goes on with the connections kept
CREATE SERVER sleepy FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title FROM notes, pg_sleep(0.3)
                              WHERE tsv @@ websearch_to_tsquery(''english'', $1) LIMIT $2');
SET statement_timeout = '500ms';
SELECT count(*) FROM apex_route_many(array_fill('Sarah roadmap'::text, ARRAY[8]),
                                     sources => '{graph,remote_docs,sleepy}', max_concurrency => 3);
RESET statement_timeout;
SELECT apex_workers_settled() AS no_busy_workers;
\set url :neo4j_url
ALTER SERVER graph OPTIONS (SET url :'url');
SELECT ordinal, count(*) AS rows
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 3, sources => '{graph,remote_docs,docs}')
GROUP BY 1 ORDER BY 1;
SELECT kind, source, count(*) FROM apex_router_connections() WHERE kind = 'postgres' GROUP BY 1, 2;

-- issue 13 (review): more sql legs than background workers.  The legs
-- handed to workers answer in 300 ms while those left without a worker
-- run inline one after another (5 x 300 ms, pg_sleep resetting the
-- latch); every question is answered, none reported timed out
CREATE SERVER rm_sleepy FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  timeout_ms '1000', query 'SELECT ''s'' || $1 AS id FROM pg_sleep(0.3) LIMIT $2');
SET client_min_messages = warning;
SELECT count(*) AS answered
FROM apex_route_many(ARRAY(SELECT 'q' || g FROM generate_series(1, 12) g),
                     sources => '{rm_sleepy}');
RESET client_min_messages;
DROP SERVER rm_sleepy;
\i :abs_srcdir/sql/include/workers_drop.sql
