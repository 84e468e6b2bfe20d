-- The sources of the client-stack tests (test/clients/partial.py), after
-- the suite's own (test/sql/include/setup.sql: graph, embed, vectors, docs),
-- in a database of their own.  Copies of graph that fail in each way a
-- caller must be able to tell apart from the rows alone (issue 14 item 1):
-- nothing listens (graph_down), an HTTP 500 (graph_500), an answer later
-- than the source's timeout_ms (graph_slow), and items without an id
-- (graph_noid: the source answers, its items are skipped).
\set statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit'
CREATE SERVER graph_down FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'closed_url', statement :'statement');
\set url :neo4j_url'/__fault/status=500'
CREATE SERVER graph_500 FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement :'statement');
\set url :neo4j_url'/__fault/delay=3000'
CREATE SERVER graph_slow FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement :'statement', timeout_ms '300');
CREATE SERVER graph_noid FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score
                      RETURN node.nope AS id, node.name AS title, score LIMIT $limit');
SELECT format('CREATE USER MAPPING FOR PUBLIC SERVER %I OPTIONS (user %L, password %L)', s, 'neo4j', 'testpassword')
FROM unnest('{graph_down,graph_500,graph_slow,graph_noid}'::text[]) s \gexec
-- the result cache the pooler checks name per call (issue 16 item 1)
CREATE SERVER clients_cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apexclients:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER clients_cache OPTIONS (password 'redis-pass');
