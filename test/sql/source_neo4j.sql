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
