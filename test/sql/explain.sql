-- issue 14 items 1 and 2: what a call did, told in the result itself (the
-- partial column: which chosen sources did not answer, and why, without
-- notices), step by step (apex_explain), and in the server log
-- (apex_router.log_min_duration_ms).
\set roles 'apex_watcher'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\getenv server_log APEX_PG_LOG

-- every chosen source answered: partial is NULL on every row
SELECT count(*) AS rows, count(partial) AS partial FROM apex_route('Sarah roadmap', k => 5);

-- three sources of one kind failing three ways (refused connection, HTTP
-- 500, timeout) beside a healthy one and an sql source
CREATE SERVER graph_down FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'closed_url', statement 'RETURN 1 AS id');
\set url :neo4j_url'/__fault/status=500'
CREATE SERVER graph_500 FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement 'RETURN 1 AS id');
\set url :neo4j_url'/__fault/delay=3000'
CREATE SERVER graph_slow FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement 'RETURN 1 AS id', timeout_ms '150');
-- a vector source whose embedder the caller may not use: it fails at
-- planning, without a request
CREATE SERVER embed_private FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'embed_url', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER embed_private OPTIONS (api_key 'embed-test-key');
CREATE SERVER vectors_lost FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'embed_private',
           id_field 'doc_id', title_field 'title', content_field 'text');
CREATE ROLE apex_watcher;
GRANT USAGE ON FOREIGN SERVER graph, graph_down, graph_500, graph_slow, vectors_lost, docs
  TO apex_watcher;
GRANT SELECT ON notes TO apex_watcher;
CREATE USER MAPPING FOR PUBLIC SERVER graph_down OPTIONS (user 'neo4j', password 'testpassword');
CREATE USER MAPPING FOR PUBLIC SERVER graph_500 OPTIONS (user 'neo4j', password 'testpassword');
CREATE USER MAPPING FOR PUBLIC SERVER graph_slow OPTIONS (user 'neo4j', password 'testpassword');
CREATE USER MAPPING FOR PUBLIC SERVER vectors_lost OPTIONS (api_key 'qdrant-test-key');
SET ROLE apex_watcher;

-- the healthy sources' rows, each carrying the same partial: one member
-- per source that did not answer, with its status, SQLSTATE and the words
-- of its WARNING.  No sources named: every source the caller may use
-- (naming vectors_lost would make its embedder's privilege an ERROR).
SELECT rank, id, found_in, partial IS NOT NULL AS partial
FROM apex_route('Sarah roadmap', k => 3);
SELECT count(DISTINCT partial) AS values, s.key AS source, s.value->>'status' AS status,
       s.value->>'sqlstate' AS sqlstate, s.value->>'error' AS error
FROM apex_route('Sarah roadmap', k => 3) r,
     jsonb_each(r.partial) s
GROUP BY 2, 3, 4, 5 ORDER BY 2;
RESET ROLE;

-- items of an answer skipped (nodes without the id property): the source
-- answered, and partial says how many it skipped and why
CREATE SERVER graph_noid FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score
                      RETURN node.nope AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph_noid OPTIONS (user 'neo4j', password 'testpassword');
SELECT DISTINCT jsonb_pretty(partial) FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,graph_noid}');

-- apex_route_many: each question's rows carry that question's partial
SELECT ordinal, count(*) AS rows, count(DISTINCT partial) AS partials,
       array_agg(DISTINCT k ORDER BY k) AS failed
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 2, sources => '{graph,graph_500}') m
     LEFT JOIN LATERAL jsonb_object_keys(m.partial) k ON true
GROUP BY 1 ORDER BY 1;
SELECT ordinal, count(*) AS rows, count(partial) AS partial
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 2, sources => '{graph,docs}')
GROUP BY 1 ORDER BY 1;

-- apex_explain: the same call, a row per step.  Times vary: shown as
-- facts about them (every leg started after the call began and took some
-- time; a leg whose source answered over HTTP has its connect and first
-- byte times, in that order, within its total)
SET ROLE apex_watcher;
SELECT step, source, kind, status, rows, http_status, bytes > 0 AS bytes, sqlstate, error, note
FROM apex_explain('Sarah roadmap', k => 3);
RESET ROLE;
-- a cache hit: the legs were not needed
CREATE SERVER cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apextest:explain:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER cache OPTIONS (password 'redis-pass');
SET apex_router.cache_source = 'cache';
SELECT apex_router_cache_flush() >= 0 AS flushed;
SELECT step, source, kind, status, rows FROM apex_explain('Sarah roadmap', k => 3, sources => '{graph,docs}');
SELECT step, source, kind, status, rows FROM apex_explain('Sarah roadmap', k => 3, sources => '{graph,docs}');
SELECT count(*) AS rows, count(partial) AS partial FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,docs}');
RESET apex_router.cache_source;
SELECT step, source,
       start_ms >= 0 AS started, total_ms >= 0 AS timed,
       connect_ms IS NOT NULL AND connect_ms <= first_byte_ms AND first_byte_ms <= total_ms AS http_times
FROM apex_explain('Sarah roadmap', k => 3, sources => '{graph,graph_slow,docs,vectors}')
ORDER BY step, source;
-- the timed-out leg took its budget (150 ms), not the server's 3 s
SELECT source, status, total_ms >= 150 AND total_ms < 3000 AS took_its_budget
FROM apex_explain('Sarah roadmap', sources => '{graph_slow}') WHERE step = 'leg';
-- strict mode: the same ERROR as apex_route (nothing to explain)
SELECT * FROM apex_explain('Sarah roadmap', sources => '{graph,graph_500}', min_sources => 2);
-- a call's input errors are apex_route's
SELECT * FROM apex_explain('Sarah roadmap', k => 0);

-- the log line: every call at 0 ms, none at a high threshold; the detail
-- is JSON, the legs' statuses and words as the WARNINGs gave them
SELECT size AS log_start FROM pg_stat_file(:'server_log') \gset
SET apex_router.log_min_duration_ms = 1000000;
SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{graph,graph_500}');
SET apex_router.log_min_duration_ms = 0;
SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{graph,graph_500}');
SELECT count(*) FROM apex_route_many('{Sarah roadmap,billing migration}', sources => '{graph,graph_down}');
RESET apex_router.log_min_duration_ms;
SELECT pg_sleep(0.2);
SELECT m[1] AS function, jsonb_path_query_array(m[2]::jsonb, '$.legs[*].source') AS sources,
       jsonb_path_query_array(m[2]::jsonb, '$.legs[*].question') AS questions,
       jsonb_path_query_array(m[2]::jsonb, '$.legs[*].status') AS statuses,
       jsonb_path_query_array(m[2]::jsonb, '$.legs[*].sqlstate') AS sqlstates,
       (m[2]::jsonb)->'rows' AS rows
FROM regexp_matches(pg_read_file(:'server_log', :log_start, 100000000),
                    'LOG:  (apex_route\w*) call took [0-9.]+ ms\n[^\n]*DETAIL:  ([^\n]*)', 'g') m;
-- its level: a line below log_min_messages (warning here) is not written
SELECT size AS log_start FROM pg_stat_file(:'server_log') \gset
SET apex_router.log_min_duration_ms = 0;
SET apex_router.log_level = 'debug1';
SELECT count(*) FROM apex_route('Sarah roadmap', k => 3, sources => '{docs}');
RESET apex_router.log_level;
SELECT count(*) FROM apex_route('Sarah roadmap', k => 4, sources => '{docs}');
RESET apex_router.log_min_duration_ms;
SELECT pg_sleep(0.2);
SELECT (regexp_match(l, 'DETAIL:  (.*)'))[1]::jsonb->'rows' AS rows_of_logged_calls
FROM regexp_split_to_table(pg_read_file(:'server_log', :log_start, 100000000), E'\n') l
WHERE l ~ 'DETAIL:  \{"legs"';
-- only superusers choose what is logged (as log_min_duration_statement)
SET ROLE apex_watcher;
SET apex_router.log_min_duration_ms = 0;
SET apex_router.log_level = 'warning';
RESET ROLE;

DROP SERVER graph_down, graph_500, graph_slow, vectors_lost, embed_private, graph_noid, cache CASCADE;
