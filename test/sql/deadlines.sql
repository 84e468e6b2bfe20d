-- Deadlines: the call's (the timeout_ms argument, apex_router.call_timeout_ms),
-- statement_timeout, and each leg's budget (its source's timeout_ms, capped
-- by the call's).
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

-- the call's own timeout_ms caps every leg
\set url :neo4j_url'/__fault/delay=3000'
ALTER SERVER graph OPTIONS (SET url :'url');
SELECT count(*) FROM apex_route('Sarah roadmap', k => 5, timeout_ms => 1000);

-- statement_timeout and cancel end the call with an ERROR, the session goes on
SET statement_timeout = '300ms';
SELECT count(*) FROM apex_route('Sarah roadmap', k => 5);
RESET statement_timeout;

-- apex_router.call_timeout_ms: the call's deadline when timeout_ms is not given
SET apex_router.call_timeout_ms = 300;
SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{graph,docs}');
RESET apex_router.call_timeout_ms;
ALTER SERVER graph OPTIONS (SET url :'neo4j_url');

-- issue 9 probe: a sql source ran past its timeout_ms and the call's (a
-- planted source sleeping held every superuser's plain call); now the query
-- is cancelled when the leg's budget runs out, and only that source fails
-- (the call's deadline leaves the quick source 400 ms: a worker's start on a
-- loaded machine took more than 100 ms once)
CREATE SERVER sleeper FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', timeout_ms '600',
  query 'SELECT ''slept'' AS id FROM pg_sleep(5) WHERE $1 <> '''' LIMIT $2');
CREATE SERVER quick FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''quick'' AS id WHERE $1 <> '''' LIMIT $2');
SELECT clock_timestamp() AS t0 \gset
SELECT id FROM apex_route('x', sources => '{sleeper,quick}');
SELECT id FROM apex_route('x', sources => '{sleeper,quick}', timeout_ms => 400);
SELECT clock_timestamp() - :'t0' < interval '2 s' AS cancelled_in_time;
-- the leg's timer is gone: the next statements are not cancelled by it
SELECT pg_sleep(0.3), 'not cancelled' AS after;
-- statement_timeout still ends the whole call (issue 12: the sleeper runs in
-- a worker, and the caller is cancelled in its wait, not inside the query)
SET statement_timeout = '100ms';
SELECT id FROM apex_route('x', sources => '{sleeper,quick}', timeout_ms => 1000);
RESET statement_timeout;
DROP SERVER sleeper, quick;

-- Issue 9 (item 5): a slow local leg must not discard remote answers that
-- arrived in time.  dl_slow sleeps 1.8 s while every remote source, with
-- timeout_ms 500, answers within milliseconds: the answers wait in their
-- sockets until the sql leg ends.  They must all be kept, without a
-- warning.  (Before: each remote source failed with "timed out after 500
-- ms", and once the sleep outlasted the last timeout by a second, with "no
-- answer within the call's timeout_ms (0 ms)" though no call timeout was
-- set: now a call without a timeout_ms has no deadline of its own.)
-- (dl_slow's own timeout_ms is 5000: a sql source is held to its budget too.)
-- Redis and a vector source behind an embedder need a second round trip
-- after the first answer was read; a new postgres connection needs several.
CREATE SERVER dl_slow FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title FROM notes, pg_sleep(1.8)
                              WHERE tsv @@ websearch_to_tsquery(''english'', $1) LIMIT $2',
          timeout_ms '5000');
DO $$
DECLARE
  graph_statement CONSTANT text := 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                                    RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit';
  pg_query CONSTANT text := 'SELECT id, title FROM notes WHERE tsv @@ websearch_to_tsquery(''english'', $1) LIMIT $2';
BEGIN
  FOR i IN 1 .. 3 LOOP
    EXECUTE format('CREATE SERVER dl_graph%s FOREIGN DATA WRAPPER apex_router
                      OPTIONS (kind %L, url %L, statement %L, timeout_ms %L)',
                   i, 'neo4j', current_setting('apex_test.neo4j_url'), graph_statement, '500');
    EXECUTE format('CREATE USER MAPPING FOR PUBLIC SERVER dl_graph%s OPTIONS (user %L, password %L)',
                   i, 'neo4j', 'testpassword');
  END LOOP;
  FOR i IN 1 .. 2 LOOP
    EXECUTE format('CREATE SERVER dl_facts%s FOREIGN DATA WRAPPER apex_router
                      OPTIONS (kind %L, url %L, timeout_ms %L)', i, 'graphiti', current_setting('apex_test.graphiti_url'), '500');
    EXECUTE format('CREATE SERVER dl_vectors%s FOREIGN DATA WRAPPER apex_router
                      OPTIONS (kind %L, url %L, collection %L, embedder %L, id_field %L, timeout_ms %L)',
                   i, 'qdrant', current_setting('apex_test.qdrant_url'), 'memory', 'embed', 'doc_id', '500');
    EXECUTE format('CREATE USER MAPPING FOR PUBLIC SERVER dl_vectors%s OPTIONS (api_key %L)', i, 'qdrant-test-key');
    EXECUTE format('CREATE SERVER dl_recent%s FOREIGN DATA WRAPPER apex_router
                      OPTIONS (kind %L, host %L, port %L, timeout_ms %L)', i, 'redis', '127.0.0.1', current_setting('apex_test.redis_port'), '500');
    EXECUTE format('CREATE USER MAPPING FOR PUBLIC SERVER dl_recent%s OPTIONS (password %L)', i, 'redis-pass');
    EXECUTE format('CREATE SERVER dl_pg%s FOREIGN DATA WRAPPER apex_router
                      OPTIONS (kind %L, host %L, port %L, dbname %L, query %L, timeout_ms %L)',
                   i, 'postgres', '127.0.0.1', current_setting('apex_test.remote_pgport'), 'memory', pg_query, '500');
    EXECUTE format('CREATE USER MAPPING FOR PUBLIC SERVER dl_pg%s OPTIONS (user %L, password %L)',
                   i, 'apex_remote', 'remote-pass');
  END LOOP;
END $$;
CREATE FUNCTION dl_answered(sources text[], timeout_ms int DEFAULT NULL)
RETURNS TABLE (rows bigint, answered text[])
LANGUAGE sql AS $$
  SELECT count(DISTINCT r.id), array_agg(DISTINCT s ORDER BY s)
  FROM apex_route('Sarah roadmap', k => 40, sources => sources, timeout_ms => timeout_ms) r,
       unnest(r.found_in) s
$$;
-- a postgres server and an https server behind a slow link
-- (test/servers/tcp_faults.py: 50 ms each way): a log-in, a TLS handshake
-- take longer than the wait for requests to be sent, so they go on after
-- the slow leg, a round trip at a time, within their connect timeouts
CREATE SERVER dl_pg_far FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'slow_port', dbname 'memory', sslmode 'disable',
           query 'SELECT id, title FROM notes WHERE tsv @@ websearch_to_tsquery(''english'', $1) LIMIT $2',
           timeout_ms '1000', connect_timeout_ms '800');
CREATE USER MAPPING FOR PUBLIC SERVER dl_pg_far OPTIONS (user 'apex_remote', password 'remote-pass');
\getenv run_dir APEX_RUN_DIR
\set cafile :run_dir/tls/localhost.crt
\set url 'https://localhost:' :slow_tls_port
CREATE SERVER dl_graph_far FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', ca_file :'cafile', timeout_ms '1000',
           connect_timeout_ms '800',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER dl_graph_far OPTIONS (user 'neo4j', password 'testpassword');
-- the fast remote sources alone, as a reference
SELECT * FROM dl_answered('{dl_graph1,dl_graph2,dl_graph3,dl_facts1,dl_facts2,dl_vectors1,dl_vectors2,
                            dl_recent1,dl_recent2,dl_pg1,dl_pg2}');
-- with the slow sql source: every one of them still answers (new
-- connections for the postgres and redis sources, then kept ones)
SELECT apex_router_disconnect() >= 0 AS disconnected;
SELECT * FROM dl_answered('{dl_slow,dl_graph1,dl_graph2,dl_graph3,dl_facts1,dl_facts2,dl_vectors1,
                            dl_vectors2,dl_recent1,dl_recent2,dl_pg1,dl_pg2,dl_pg_far,dl_graph_far}');
SELECT * FROM dl_answered('{dl_slow,dl_graph1,dl_graph2,dl_graph3,dl_facts1,dl_facts2,dl_vectors1,
                            dl_vectors2,dl_recent1,dl_recent2,dl_pg1,dl_pg2,dl_pg_far,dl_graph_far}');

-- Sources that really are too slow still fail, each with its own cause,
-- and the fast ones are kept: a server that never answers (HTTP, the
-- embedder of a vector source, Redis), a connect that never completes, a
-- postgres server that never answers its start-up packet.
\set url :graphiti_url'/__fault/hang'
CREATE SERVER dl_hang FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'url', timeout_ms '500');
\set url 'http://127.0.0.1:' :blackhole_port
CREATE SERVER dl_blackhole FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'url', timeout_ms '500', connect_timeout_ms '200');
\set url :embed_base'/__fault/hang/v1/embeddings'
CREATE SERVER dl_embed_hang FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'url', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER dl_embed_hang OPTIONS (api_key 'embed-test-key');
CREATE SERVER dl_vectors_hang FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'dl_embed_hang',
           id_field 'doc_id', timeout_ms '500');
CREATE USER MAPPING FOR PUBLIC SERVER dl_vectors_hang OPTIONS (api_key 'qdrant-test-key');
CREATE SERVER dl_redis_silent FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'silent_port', timeout_ms '500', connect_timeout_ms '300');
CREATE SERVER dl_pg_silent FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'silent_port', dbname 'memory', query 'SELECT 1', timeout_ms '500',
           connect_timeout_ms '300');
CREATE USER MAPPING FOR PUBLIC SERVER dl_pg_silent OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT * FROM dl_answered('{dl_slow,dl_graph1,dl_hang,dl_blackhole,dl_vectors_hang,dl_recent1,dl_redis_silent,
                            dl_pg1,dl_pg_silent}');

-- With a call timeout_ms, the call ends at it: answers that arrived are
-- kept (dl_graph1); a source heard from but not done (a body dripping in,
-- whose clock the slow leg moved on) fails at the call's deadline, with
-- the budget the call left it; a silent one at its own timeout_ms; the slow
-- sql leg itself is cancelled at the call's deadline.
\set url :graphiti_url'/__fault/drip=50'
CREATE SERVER dl_drip FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'url', timeout_ms '5000');
SELECT * FROM dl_answered('{dl_slow,dl_graph1,dl_hang,dl_drip}', timeout_ms => 1000);

-- The result cache (parallel mode: looked up while the sources work) is
-- read after the slow leg too: no "result cache unavailable" warning.
CREATE SERVER dl_cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'dltest:', ttl_s '60', timeout_ms '500');
CREATE USER MAPPING FOR PUBLIC SERVER dl_cache OPTIONS (password 'redis-pass');
SET apex_router.cache_source = 'dl_cache';
SET apex_router.cache_mode = 'parallel';
SELECT apex_router_cache_flush() > 0 AS flushed;
SELECT * FROM dl_answered('{dl_slow,dl_graph1,dl_recent1}');
RESET apex_router.cache_mode;
RESET apex_router.cache_source;

DROP FUNCTION dl_answered;
SET client_min_messages = warning;
DROP SERVER dl_slow, dl_graph1, dl_graph2, dl_graph3, dl_facts1, dl_facts2, dl_vectors1, dl_vectors2,
  dl_recent1, dl_recent2, dl_pg1, dl_pg2, dl_hang, dl_blackhole, dl_embed_hang, dl_vectors_hang,
  dl_redis_silent, dl_pg_silent, dl_drip, dl_cache, dl_pg_far,
  dl_graph_far CASCADE;
RESET client_min_messages;
