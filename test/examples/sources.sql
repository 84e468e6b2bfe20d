-- The sources of the examples' runner (test/examples/run.py), after the
-- suite's own (test/sql/include/setup.sql: graph, embed, vectors, docs),
-- in a database of their own:
--   mem_graph   per-user memories in the test Neo4j (test/fixtures/tenants.json,
--               index user_memory_text), scoped by the call's params: a
--               Cypher parameter $user_id, so a call without it fails
--   graph_down  a copy of graph that nothing listens for: every call that
--               asks it is a partial result naming it
CREATE SERVER mem_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url',
           statement 'CALL db.index.fulltext.queryNodes(''user_memory_text'', $query_lucene) YIELD node, score
                      WHERE node.user_id = $user_id
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
CREATE SERVER graph_down FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'closed_url',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
SELECT format('CREATE USER MAPPING FOR PUBLIC SERVER %I OPTIONS (user %L, password %L)', s, 'neo4j', 'testpassword')
FROM unnest('{mem_graph,graph_down}'::text[]) s \gexec
