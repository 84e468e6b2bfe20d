-- Issue 16 item 1: what behind a pooler must be said per call, not by SET.
-- Observed: a session "SET apex_router.strict" behind PgBouncer in
-- transaction mode reached 10 of 10 other clients sharing its server
-- connection.  strict, cache_mode and cache_source are now arguments of
-- apex_route, apex_explain and apex_route_many (min_sources already was),
-- each overriding its apex_router.* setting for that call alone; and
-- query_vector takes float8[] (a Python list of floats as drivers send it).
\set roles 'apex_carol'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/asked.sql
CREATE SERVER down FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'closed_url', statement 'RETURN 1 AS id');
CREATE USER MAPPING FOR PUBLIC SERVER down OPTIONS (user 'neo4j', password 'testpassword');
CREATE SERVER cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apexargs:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER cache OPTIONS (password 'redis-pass');

-- strict: the argument turns a failure into an ERROR with the setting off,
-- and back into a WARNING with it on; the setting is untouched
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', sources => '{graph,down}');
SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{graph,down}', strict => true);
SHOW apex_router.strict;
SET apex_router.strict = on;
SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{graph,down}');
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', sources => '{graph,down}', strict => false);
-- NULL is "not given": the setting decides
SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{graph,down}', strict => NULL);
RESET apex_router.strict;
-- apex_route_many: the failure of each question is an ERROR at the first
SELECT count(*) FROM apex_route_many('{Sarah,roadmap}', sources => '{graph,down}', strict => true);
SELECT count(DISTINCT ordinal) AS questions FROM apex_route_many('{Sarah,roadmap}', sources => '{graph,down}');
-- a reranker that fails is a source like any other: its failure is an
-- ERROR under strict => true (source_reranker tests the WARNING)
CREATE SERVER rr_down FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'closed_url', model 'm');
SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{graph}', reranker => 'rr_down', strict => true);
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', sources => '{graph}', reranker => 'rr_down');
DROP SERVER rr_down;
-- apex_explain runs the call its arguments ask for: under strict, its
-- failure is an ERROR, as EXPLAIN ANALYZE of a failing statement is
SELECT source, status FROM apex_explain('Sarah roadmap', sources => '{graph,down}', strict => true)
WHERE step = 'leg' ORDER BY source;

-- cache_source with apex_router.cache_source unset: the call is cached;
-- the same call again is a hit (no request reaches a test server)
SHOW apex_router.cache_source;
SELECT apex_router_cache_flush('cache') > 0 AS flushed;
SELECT clock_timestamp() AS t0 \gset
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}', cache_source => 'cache');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}', cache_source => 'cache');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
SELECT step, source, status FROM apex_explain('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}', cache_source => 'cache')
WHERE step = 'cache';
-- cache_mode => 'off' bypasses it for this call alone, with the setting on
SET apex_router.cache_source = 'cache';
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}', cache_mode => 'off');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
SELECT step, source, status FROM apex_explain('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}', cache_mode => 'off')
WHERE step = 'cache';
SELECT step, source, status FROM apex_explain('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}')
WHERE step = 'cache';
-- cache_source => '' turns the setting's cache off for the call, as an
-- empty setting does
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors,docs}', cache_source => '');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
-- apex_route_many takes them too: both questions hit what apex_route stored
SELECT clock_timestamp() AS t0 \gset
RESET apex_router.cache_source;
SELECT ordinal, count(*) AS rows
FROM apex_route_many('{Sarah roadmap,Sarah roadmap}', k => 3, sources => '{graph,vectors,docs}', cache_source => 'cache')
GROUP BY 1 ORDER BY 1;
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
-- the flush takes the setting when given no argument; with neither, an error
SELECT apex_router_cache_flush();
SET apex_router.cache_source = 'cache';
SELECT apex_router_cache_flush() > 1 AS flushed;
RESET apex_router.cache_source;

-- bad values: clear errors, before anything is sent
SELECT * FROM apex_route('Sarah', cache_mode => 'sometimes', cache_source => 'cache');
SELECT * FROM apex_route('Sarah', cache_source => 'docs');
SELECT * FROM apex_route('Sarah', cache_source => 'nosuch');
SELECT * FROM apex_route_many('{Sarah}', cache_mode => 'always');
-- names in any case, as SET takes them (found by trying them as a user:
-- SET apex_router.cache_mode = 'FIRST' worked, cache_mode => 'FIRST' did not)
SELECT count(*) > 0 AS rows FROM apex_route('Sarah', sources => '{docs}', cache_mode => 'OFF', fusion => 'RRF');
SELECT apex_router_cache_flush('docs');
-- a role without USAGE on the cache source may not name it
CREATE ROLE apex_carol LOGIN;
GRANT USAGE ON FOREIGN SERVER docs TO apex_carol;
GRANT SELECT ON notes TO apex_carol;
SET ROLE apex_carol;
SELECT * FROM apex_route('Sarah', sources => '{docs}', cache_source => 'cache');
RESET ROLE;

-- query_vector: real[], float8[] and numeric[] give the same rows; a
-- float8 too large for real is refused, as NaN is
SELECT (SELECT array_agg(id ORDER BY rank) FROM apex_route('x', sources => '{vectors}', query_vector => array_fill(0.5::real, ARRAY[64])))
     = (SELECT array_agg(id ORDER BY rank) FROM apex_route('x', sources => '{vectors}', query_vector => array_fill(0.5::float8, ARRAY[64])))
  AS float8_same,
       (SELECT array_agg(id ORDER BY rank) FROM apex_route('x', sources => '{vectors}', query_vector => array_fill(0.5::real, ARRAY[64])))
     = (SELECT array_agg(id ORDER BY rank) FROM apex_route('x', sources => '{vectors}', query_vector => array_fill(0.5::numeric, ARRAY[64])))
  AS numeric_same;
SELECT count(*) > 0 AS rows FROM apex_route('x', sources => '{vectors}', query_vector => array_fill(0.5, ARRAY[64]));
SELECT * FROM apex_route('x', sources => '{vectors}', query_vector => '{0,1e300}'::float8[]);
SELECT * FROM apex_route('x', sources => '{vectors}', query_vector => '{1e39,0}'::float8[]);
SELECT * FROM apex_route('x', sources => '{vectors}', query_vector => '{NaN,0}'::float8[]);
-- positional calls written for 0.1.0 still resolve (real[] is cast)
SELECT count(*) > 0 AS rows FROM apex_route('x', 5, '{vectors}', array_fill(0.5::real, ARRAY[64]));

REVOKE ALL ON notes FROM apex_carol;
REVOKE ALL ON FOREIGN SERVER docs FROM apex_carol;
DROP ROLE apex_carol;
DROP FUNCTION asked;
DROP SERVER cache CASCADE;
