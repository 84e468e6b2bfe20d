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
