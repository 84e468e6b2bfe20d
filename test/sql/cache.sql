-- The result cache in Redis (apex_router.cache_source), in both modes.
-- Proof of hits and misses: the test servers' request log.
\set roles 'apex_carol'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE SERVER cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apextest:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER cache OPTIONS (password 'redis-pass');
\i :abs_srcdir/sql/include/asked.sql
SET apex_router.cache_source = 'cache';
SHOW apex_router.cache_mode;
SELECT apex_router_cache_flush() > 0 AS flushed;

-- first mode: a miss fans out and stores; the same question hits
SELECT clock_timestamp() AS t0 \gset
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}');
SELECT (SELECT array_agg(payload ORDER BY rank) FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}'))
     = (SELECT array_agg(payload ORDER BY rank) FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}'))
  AS same_payloads;
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');

-- the key holds the text exactly (issue 10: it was lower-cased and its
-- spaces collapsed, so "Sarah" was served what "sarah" had found, though an
-- embedder, and so a vector source, may tell them apart): another spelling
-- is another question, which fans out, its embedding included
SELECT clock_timestamp() AS t0 \gset
SELECT rank, id, found_in FROM apex_route('  sarah   ROADMAP ', k => 3, sources => '{graph,vectors,docs}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');

-- another k, another key; the query's embedding is cached though
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 4, sources => '{graph,vectors,docs}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');

-- another fusion method, another key (its rows differ); the same method
-- again is a hit
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}', fusion => 'dbsf');
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}', fusion => 'dbsf');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');

-- ALTER SERVER of a source changes the key; so does a flush
SELECT clock_timestamp() AS t0 \gset
ALTER SERVER graph OPTIONS (ADD weight '1');
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}');
SELECT apex_router_cache_flush() > 1 AS flushed;
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}');
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}');
ALTER SERVER graph OPTIONS (DROP weight);
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');

-- issue 10 (review): ALTER SERVER of the embedder a vector source uses
-- changes the key too (its options decide the vector searched with); it
-- did not, so the cached rows of the old embedder kept coming back and
-- neither the embedder nor Qdrant was asked again
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route('embedder change', k => 3, sources => '{vectors}');
SELECT count(*) AS rows FROM apex_route('embedder change', k => 3, sources => '{vectors}');
ALTER SERVER embed OPTIONS (ADD encoding 'float');
SELECT count(*) AS rows FROM apex_route('embedder change', k => 3, sources => '{vectors}');
ALTER SERVER embed OPTIONS (DROP encoding);
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');

-- partial results are not cached
\set url :qdrant_url'/__fault/status=503'
SELECT clock_timestamp() AS t0 \gset
ALTER SERVER vectors OPTIONS (SET url :'url');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{graph,vectors}');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{graph,vectors}');
ALTER SERVER vectors OPTIONS (SET url :'qdrant_url');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');

-- entries expire after ttl_s
ALTER SERVER cache OPTIONS (SET ttl_s '1');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route('memory panel', k => 3, sources => '{graph}');
SELECT count(*) AS rows FROM apex_route('memory panel', k => 3, sources => '{graph}');
SELECT pg_sleep(1.5);
SELECT count(*) AS rows FROM apex_route('memory panel', k => 3, sources => '{graph}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
ALTER SERVER cache OPTIONS (SET ttl_s '60');

-- parallel mode: a hit answers at once and abandons the legs in flight
SET apex_router.cache_mode = 'parallel';
SELECT count(*) AS rows FROM apex_route('latency budget', k => 3, sources => '{graph,docs}');
SELECT apex_router_disconnect() >= 0 AS reset;
\! curl -s -o /dev/null -X POST "http://127.0.0.1:$NEO4J_PORT/__control" -d '{"route":"/db/neo4j/tx/commit","fault":"delay=5000"}'
SELECT rank, id, found_in FROM apex_route('latency budget', k => 3, sources => '{graph,docs}');
SELECT count(*) AS graph_connections FROM apex_router_connections() WHERE source = 'graph';
\! curl -s -o /dev/null -X DELETE "http://127.0.0.1:$NEO4J_PORT/__control"
-- a miss in parallel mode is stored too (first mode then finds it)
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route('vendor contract', k => 3, sources => '{graph,docs}');
RESET apex_router.cache_mode;
SELECT count(*) AS rows FROM apex_route('vendor contract', k => 3, sources => '{graph,docs}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');

-- Redis down: a warning, and the sources answer
\! "$APEX_REDIS" stop
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}');
SELECT apex_router_cache_flush();
\! "$APEX_REDIS" start
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}');

-- issue 13 (the hit path parses an entry once): what apex_route did not
-- write is not a hit.  An entry that is not a JSON array (here not JSON)
-- is the cache's WARNING and the call fans out, then overwrites it; a
-- JSON array of something else is an ERROR that says to flush.
SELECT count(*) AS rows FROM apex_route('roadmap scope', k => 3, sources => '{graph,docs}');
\! redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning --scan --pattern 'apextest:rows:*' | xargs -I{} redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning set {} '{"not": ' >/dev/null
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route('roadmap scope', k => 3, sources => '{graph,docs}');
SELECT count(*) AS rows FROM apex_route('roadmap scope', k => 3, sources => '{graph,docs}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
\! redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning --scan --pattern 'apextest:rows:*' | xargs -I{} redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning set {} '0000000000000000000000000000000000000000000000000000000000000000[{"id": 1}]' >/dev/null
SELECT count(*) AS rows FROM apex_route('roadmap scope', k => 3, sources => '{graph,docs}');
SELECT apex_router_cache_flush() > 0 AS flushed;
SELECT count(*) AS rows FROM apex_route('roadmap scope', k => 3, sources => '{graph,docs}');

-- issue 13 (item 4, a hit parsed once): a backend keeps the entries it
-- parsed (cache_memo.c) and sends the digest it holds; Redis answers "="
-- while the entry starts with that digest, and the entry itself once it
-- changed.  Proof: an entry rewritten under its old digest is still served
-- as first parsed (so it was not sent again); under a new digest, the new
-- entry is served; after a flush, the sources are asked again.
SELECT apex_router_cache_flush() AS epoch \gset
\setenv EPOCH :epoch
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2, sources => '{graph,docs}');
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2, sources => '{graph,docs}');
\! r() { redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning "$@"; }; key=$(r --scan --pattern "apextest:rows:$EPOCH:*"); r set "$key" "$(r get "$key" | head -c 64)"'[{"id":"planted","title":null,"content":null,"score":1,"found_in":["graph"],"payload":{}}]' >/dev/null
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2, sources => '{graph,docs}');
\! r() { redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning "$@"; }; key=$(r --scan --pattern "apextest:rows:$EPOCH:*"); r set "$key" '1111111111111111111111111111111111111111111111111111111111111111[{"id":"planted","title":null,"content":null,"score":1,"found_in":["graph"],"payload":{}}]' >/dev/null
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2, sources => '{graph,docs}');
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2, sources => '{graph,docs}');
SELECT apex_router_cache_flush() > 0 AS flushed;
SELECT clock_timestamp() AS t0 \gset
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2, sources => '{graph,docs}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');

-- issue 13 (item 1, apex_route_many): a batch looks every question up in
-- the cache first, in one round trip, asks the sources only for the
-- questions it misses, and stores each question every source answered,
-- under the key apex_route gives the same question (so each finds what
-- the other stored).  A question not asked has no key.
SELECT apex_router_cache_flush() > 0 AS flushed;
SELECT clock_timestamp() AS t0 \gset
CREATE TEMP TABLE batch1 AS
  SELECT * FROM apex_route_many(ARRAY['Sarah roadmap', 'billing', NULL], k => 3,
                                sources => '{graph,vectors,docs}');
SELECT ordinal, rank, id, found_in FROM batch1 ORDER BY ordinal, rank;
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
-- all hits: the same rows and payloads, and no source asked
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows,
       bool_and(b.id = c.id AND b.payload = c.payload AND b.found_in = c.found_in
                AND b.score = c.score) AS same_rows
FROM batch1 b
JOIN apex_route_many(ARRAY['Sarah roadmap', 'billing', NULL], k => 3,
                     sources => '{graph,vectors,docs}') c USING (ordinal, rank);
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
-- apex_route finds what the batch stored; the batch finds what apex_route
-- stored and asks the sources only for its new question ('xyzzy plugh'
-- finds nothing: no rows is a result too, stored and then found)
SELECT count(*) AS rows FROM apex_route('vendor contract', k => 3, sources => '{graph,docs}');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{graph,vectors,docs}');
SELECT ordinal, count(*) AS rows
FROM apex_route_many(ARRAY['vendor contract', 'xyzzy plugh'], k => 3, sources => '{graph,docs}')
GROUP BY 1 ORDER BY 1;
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows
FROM apex_route_many(ARRAY['vendor contract', 'xyzzy plugh'], k => 3, sources => '{graph,docs}');
SELECT count(*) AS rows FROM apex_route('xyzzy plugh', k => 3, sources => '{graph,docs}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
-- in parallel mode too, a batch looks up first: its hits ask no source
-- (a single call in parallel mode asks its sources while Redis answers)
SET apex_router.cache_mode = 'parallel';
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows
FROM apex_route_many(ARRAY['vendor contract', 'xyzzy plugh'], k => 3, sources => '{graph,docs}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
RESET apex_router.cache_mode;
-- a question one source failed for is not stored: it is asked again
\set url :qdrant_url'/__fault/status=503'
ALTER SERVER vectors OPTIONS (SET url :'url');
SELECT clock_timestamp() AS t0 \gset
SELECT ordinal, count(*) AS rows
FROM apex_route_many(ARRAY['pricing page', 'pricing page'], k => 3, sources => '{graph,vectors}')
GROUP BY 1 ORDER BY 1;
ALTER SERVER vectors OPTIONS (SET url :'qdrant_url');
SELECT ordinal, count(*) AS rows
FROM apex_route_many(ARRAY['pricing page'], k => 3, sources => '{graph,vectors}')
GROUP BY 1 ORDER BY 1;
SELECT ordinal, count(*) AS rows
FROM apex_route_many(ARRAY['pricing page'], k => 3, sources => '{graph,vectors}')
GROUP BY 1 ORDER BY 1;
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
-- Redis down: one warning for the batch, and the sources answer
\! "$APEX_REDIS" stop
SELECT ordinal, count(*) AS rows
FROM apex_route_many(ARRAY['Sarah roadmap', 'billing'], k => 3, sources => '{graph,docs}')
GROUP BY 1 ORDER BY 1;
\! "$APEX_REDIS" start
DROP TABLE batch1;

-- configuration errors
SET apex_router.cache_mode = 'sometimes';
SET apex_router.cache_source = 'docs';
SELECT count(*) FROM apex_route('Sarah');
SET apex_router.cache_source = 'nosuch';
SELECT count(*) FROM apex_route('Sarah');
RESET apex_router.cache_source;
SELECT apex_router_cache_flush();
CREATE ROLE apex_carol LOGIN;
GRANT USAGE ON FOREIGN SERVER docs TO apex_carol;
GRANT SELECT ON notes TO apex_carol;
SET ROLE apex_carol;
SET apex_router.cache_source = 'cache';
SELECT count(*) FROM apex_route('Sarah', sources => '{docs}');
RESET apex_router.cache_source;
RESET ROLE;
REVOKE ALL ON notes FROM apex_carol;
REVOKE ALL ON FOREIGN SERVER docs FROM apex_carol;
DROP ROLE apex_carol;
DROP FUNCTION asked;
DROP SERVER cache CASCADE;
