-- The neo4j kind through its real wire format: the transactional endpoint
-- (the default api) and the Query API.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\pset null '(null)'

-- Neo4j, transactional endpoint (the default api)
SELECT rank, id, title, found_in FROM apex_route('Sarah roadmap', k => 5, sources => '{graph}');
-- the same statement through the Query API gives the same ranking
CREATE SERVER graph_q FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', api 'query',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph_q OPTIONS (user 'neo4j', password 'testpassword');
SELECT (SELECT array_agg(id ORDER BY rank) FROM apex_route('Sarah roadmap', k => 5, sources => '{graph}'))
     = (SELECT array_agg(id ORDER BY rank) FROM apex_route('Sarah roadmap', k => 5, sources => '{graph_q}'))
  AS query_api_matches_tx;
-- every returned column lands in the raw item; a node keeps its Query API shape
SELECT jsonb_pretty(payload->'graph_q'->'item'->'node'->'properties') AS node_properties,
       payload->'graph_q'->'item'->'node'->'labels' AS labels
FROM apex_route('billing cutover', k => 1, sources => '{graph_q}');
DROP SERVER graph_q CASCADE;

-- issue 11 review (item 5's class): a row whose id is null (a node without
-- the property) or not a string or number (a node) is skipped and counted
-- in one WARNING, as the other kinds do, not a failure of the source; two
-- neo4j sources in one call, the healthy one's rows kept.  A statement
-- that returns no id column at all still fails (failures).
CREATE SERVER graph_noid FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score
                      RETURN node.nope AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph_noid OPTIONS (user 'neo4j', password 'testpassword');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,graph_noid}');
ALTER SERVER graph_noid OPTIONS (SET statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score
                      RETURN node AS id, score LIMIT $limit');
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph_noid}');
DROP SERVER graph_noid CASCADE;

-- Every request says its access mode (access_mode, read by default): a
-- Neo4j cluster routes READ transactions to its readers; unsaid, Neo4j
-- takes WRITE and sends every search to the writer (issue 16 item 3).
-- tx/commit carries it as the Access-Mode header, the Query API in the body.
CREATE SERVER graph_q FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', api 'query',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score
                      RETURN node.uid AS id, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph_q OPTIONS (user 'neo4j', password 'testpassword');
CREATE FUNCTION neo4j_modes(log text, since timestamptz)
RETURNS TABLE (path text, header text, body_mode text) LANGUAGE sql AS $$
  SELECT e->>'path', e->>'access_mode', e->'body'->>'accessMode'
  FROM regexp_split_to_table(log, E'\n') l, LATERAL (SELECT l::jsonb) j(e)
  WHERE l <> '' AND e->>'server' = 'neo4j'
    AND (e->>'start')::float8 >= extract(epoch FROM since) * 1000
  ORDER BY (e->>'start')::float8
$$;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_q}');
ALTER SERVER graph OPTIONS (ADD access_mode 'write');
ALTER SERVER graph_q OPTIONS (ADD access_mode 'write');
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_q}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM neo4j_modes(:'log', :'t0');
ALTER SERVER graph OPTIONS (DROP access_mode);
ALTER SERVER graph_q OPTIONS (SET access_mode 'READ');
ALTER SERVER graph_q OPTIONS (SET access_mode 'bogus');
DROP SERVER graph_q CASCADE;
DROP FUNCTION neo4j_modes;
