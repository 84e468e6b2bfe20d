-- the reranker kind (issue 15 part 5): a call's top fused rows ordered
-- again by a reranking service, Cohere's /v2/rerank or text-embeddings-
-- inference's /rerank, inside the call's event loop; a failing reranker
-- leaves the fused order with a WARNING.  The test server scores real
-- relevance (BM25 over the documents sent, test/servers/reranker.mjs).
\set roles 'apex_rr_user'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

-- one sql source whose order is its pos column, whatever the question
CREATE TABLE rr_docs (id text PRIMARY KEY, title text, body text, pos int);
INSERT INTO rr_docs VALUES
  ('d1', 'Weather report', 'Rain and wind all week.', 1),
  ('d2', 'Refund policy', 'How billing refunds are approved.', 2),
  ('d3', 'Office party', NULL, 3),
  ('d4', NULL, 'Billing errors in March.', 4),
  ('d5', 'Billing refund policy', 'A billing refund is paid back within 30 days: the refund policy.', 5);
CREATE SERVER rr_sql FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT id, title, body, 1.0 / pos FROM rr_docs WHERE $1 <> '''' ORDER BY pos LIMIT $2');

CREATE SERVER rr_cohere FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'rerank_url', model 'rerank-v3.5');
CREATE USER MAPPING FOR PUBLIC SERVER rr_cohere OPTIONS (api_key 'rerank-test-key');
CREATE SERVER rr_tei FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'rerank_url', format 'tei');
CREATE USER MAPPING FOR PUBLIC SERVER rr_tei OPTIONS (api_key 'rerank-test-key');

-- options: Cohere's v2 needs a model, TEI takes none; candidates is bounded
CREATE SERVER rr_bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'reranker', url :'rerank_url');
CREATE SERVER rr_bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'rerank_url', format 'tei', model 'x');
CREATE SERVER rr_bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'rerank_url', model 'm', candidates '0');
CREATE SERVER rr_bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'rerank_url', format 'jina', model 'm');
CREATE SERVER rr_bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'rerank_url', model 'm', query 'x');
-- only api_key in its user mappings
CREATE USER MAPPING FOR CURRENT_USER SERVER rr_tei OPTIONS (password 'x');

-- the fused order: the source's
SELECT rank, id, round(score::numeric, 4) AS score, payload ? 'rr_cohere' AS reranked
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}');
-- reranked by Cohere's format: the most relevant first, the score the
-- reranker's, the fused rank and score in the payload under its name
SELECT rank, id, round(score::numeric, 4) AS score,
       payload->'rr_cohere'->'rank' AS rr_rank, payload->'rr_cohere'->'fused_rank' AS fused_rank,
       round((payload->'rr_cohere'->>'fused_score')::numeric, 4) AS fused_score,
       round((payload->'rr_cohere'->>'score')::numeric, 4) = round(score::numeric, 4) AS same_score,
       found_in, payload ? 'rr_sql' AS source_kept
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_cohere');
-- what was sent: the model, the question, each row's title and content
\set log `tail -n 1 "$APEX_TEST_LOG"`
SELECT :'log'::jsonb->>'path' AS path, :'log'::jsonb->>'auth' AS auth, jsonb_pretty(:'log'::jsonb->'body') AS body;
-- TEI's format: the same order, the same scores
SELECT rank, id, round(score::numeric, 4) AS score, payload->'rr_tei'->'fused_rank' AS fused_rank
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_tei');
\set log `tail -n 1 "$APEX_TEST_LOG"`
SELECT :'log'::jsonb->>'path' AS path, :'log'::jsonb->>'auth' AS auth, jsonb_pretty(:'log'::jsonb->'body') AS body;
-- k below candidates: each source is asked for the candidates, and the
-- best k of them are the rows
SELECT rank, id FROM apex_route('billing refund policy', k => 2, sources => '{rr_sql}', reranker => 'rr_tei');
-- apex_router.reranker, when the argument is not given; '' is none
SET apex_router.reranker = 'rr_tei';
SELECT string_agg(id, ',' ORDER BY rank) AS ids FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => '');
RESET apex_router.reranker;

-- candidates below k: the top 2 fused rows are reranked, the rest follow
-- in their fused order with their fused score
CREATE SERVER rr_two FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'rerank_url', model 'rerank-v3.5', candidates '2');
CREATE USER MAPPING FOR PUBLIC SERVER rr_two OPTIONS (api_key 'rerank-test-key');
SELECT rank, id, round(score::numeric, 4) AS score, payload->'rr_two'->'fused_rank' AS fused_rank
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_two');
\set log `tail -n 1 "$APEX_TEST_LOG"`
SELECT jsonb_array_length(:'log'::jsonb->'body'->'documents') AS documents_sent;

-- a failing reranker: a WARNING, the fused order, the partial column
\set url :rerank_url'/__fault/status=500'
ALTER SERVER rr_two OPTIONS (SET url :'url', SET candidates '5');
SELECT rank, id, round(score::numeric, 4) AS score, partial
FROM apex_route('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_two');
-- TEI's error body
\set url :rerank_url'/__fault/status=429'
CREATE SERVER rr_tei_bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'url', format 'tei');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_tei_bad');
-- a body that is not JSON, results that are not one per document
\set url :rerank_url'/__fault/malformed'
ALTER SERVER rr_two OPTIONS (SET url :'url');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_two');
\set url :rerank_url'/__fault/dupids'
ALTER SERVER rr_two OPTIONS (SET url :'url');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_two');
\set url :rerank_url'/__fault/wrongshape'
ALTER SERVER rr_tei_bad OPTIONS (SET url :'url');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_tei_bad');
-- slower than its timeout_ms
\set url :rerank_url'/__fault/delay=3000'
ALTER SERVER rr_two OPTIONS (SET url :'url', ADD timeout_ms '200');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_two');
-- the call's timeout_ms caps it too
ALTER SERVER rr_two OPTIONS (SET timeout_ms '10000');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_two', timeout_ms => 300);
-- a wrong key: the reranker's 401
\set url :rerank_url
ALTER SERVER rr_two OPTIONS (SET url :'url', DROP timeout_ms);
ALTER USER MAPPING FOR PUBLIC SERVER rr_two OPTIONS (SET api_key 'wrong-secret-key');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_two');
-- a server that echoes the key: the key never reaches a message
ALTER USER MAPPING FOR PUBLIC SERVER rr_two OPTIONS (SET api_key 'rerank-test-key');
\set url :rerank_url'/__fault/echo=header'
ALTER SERVER rr_two OPTIONS (SET url :'url');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_two');
SELECT position('rerank-test-key' IN partial::text) AS key_in_partial
FROM apex_route('billing refund policy', k => 1, sources => '{rr_sql}', reranker => 'rr_two');
-- strict mode: a reranker's failure is an ERROR, as a source's
SET apex_router.strict = on;
SELECT id FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_two');
RESET apex_router.strict;

-- refused at planning: no USAGE, not a reranker, a reranker as a source,
-- no such source
CREATE ROLE apex_rr_user;
GRANT USAGE ON FOREIGN SERVER rr_sql TO apex_rr_user;
GRANT SELECT ON rr_docs TO apex_rr_user;
SET ROLE apex_rr_user;
SELECT id FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_cohere');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER rr_cohere TO apex_rr_user;
SET ROLE apex_rr_user;
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_cohere');
RESET ROLE;
SELECT id FROM apex_route('billing refund policy', sources => '{rr_sql}', reranker => 'rr_sql');
SELECT id FROM apex_route('billing refund policy', sources => '{rr_sql,rr_cohere}');
SELECT id FROM apex_route('billing refund policy', sources => '{rr_sql}', reranker => 'rr_none');
-- a call over every source leaves rerankers out
SELECT count(*) > 0 AS rows FROM apex_route('billing refund policy', k => 3);

-- apex_route_many: every question reranked, the requests in one loop
SELECT ordinal, rank, id, round(score::numeric, 4) AS score, payload->'rr_cohere'->'fused_rank' AS fused_rank
FROM apex_route_many('{billing refund policy,weather rain,office party}', k => 2,
                     sources => '{rr_sql}', reranker => 'rr_cohere');
-- a failing reranker: a WARNING per question, each in its fused order
SELECT ordinal, string_agg(id, ',' ORDER BY rank) AS ids, min(partial::text) AS partial
FROM apex_route_many('{billing refund policy,weather rain}', k => 3,
                     sources => '{rr_sql}', reranker => 'rr_two')
GROUP BY ordinal ORDER BY ordinal;

-- apex_explain: the rerank step's row
SELECT step, source, kind, status, rows, http_status, sqlstate, error, note
FROM apex_explain('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_cohere');
SELECT step, source, kind, status, rows, http_status, sqlstate, note
FROM apex_explain('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_two')
WHERE step IN ('rerank', 'call');
SELECT step, total_ms IS NOT NULL AS timed, start_ms IS NOT NULL AS started
FROM apex_explain('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_tei')
WHERE step = 'rerank';
-- no rows: nothing to rerank, nothing sent
CREATE SERVER rr_empty FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT 1 WHERE $1 = '''' LIMIT $2');
SELECT step, source, status, rows, note
FROM apex_explain('billing refund policy', k => 3, sources => '{rr_empty}', reranker => 'rr_tei')
WHERE step IN ('rerank', 'call');

-- the result cache: a reranked answer is stored and served again, under a
-- key holding the reranker; an answer whose reranker failed is not stored
CREATE SERVER rr_cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apextest:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER rr_cache OPTIONS (password 'redis-pass');
SET apex_router.cache_source = 'rr_cache';
SELECT apex_router_cache_flush() > 0 AS flushed;
SELECT step, source, status FROM apex_explain('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_cohere')
WHERE step IN ('cache', 'rerank', 'call');
SELECT step, source, status FROM apex_explain('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_cohere')
WHERE step IN ('cache', 'rerank', 'call');
SELECT string_agg(id, ',' ORDER BY rank) AS ids, min(payload->'rr_cohere'->>'rank') AS first_rank
FROM apex_route('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_cohere');
SELECT step, source, status FROM apex_explain('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_tei')
WHERE step IN ('cache', 'rerank');
SELECT step, source, status FROM apex_explain('billing refund policy', k => 3, sources => '{rr_sql}')
WHERE step IN ('cache', 'rerank');
SELECT step, source, status FROM apex_explain('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_two')
WHERE step IN ('cache', 'rerank');
SELECT step, source, status FROM apex_explain('billing refund policy', k => 3, sources => '{rr_sql}', reranker => 'rr_two')
WHERE step IN ('cache', 'rerank');
RESET apex_router.cache_source;

-- its circuit breaker and statistics, as a source's (the suite's cluster
-- preloads apex_router)
\set url :rerank_url'/__fault/status=500'
CREATE SERVER rr_brk FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'url', model 'rerank-v3.5', breaker_failures '1',
           breaker_cooldown_ms '3600000');
CREATE USER MAPPING FOR PUBLIC SERVER rr_brk OPTIONS (api_key 'rerank-test-key');
SELECT string_agg(id, ',' ORDER BY rank) AS ids
FROM apex_route('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_brk');
SELECT step, status, rows, http_status, sqlstate, error, note
FROM apex_explain('billing refund policy', k => 5, sources => '{rr_sql}', reranker => 'rr_brk')
WHERE step = 'rerank';
SELECT source, calls, ok, errors, skipped, rows FROM apex_router_stats WHERE source IN ('rr_brk', 'rr_cohere')
ORDER BY source;
SELECT source, state, consecutive_failures FROM apex_router_health WHERE source = 'rr_brk';
