-- Per-call scope (issue 15 item 1): apex_route's params reach every kind
-- as values, never as statement text, and a call scoped to one user never
-- returns another user's items, from any source kind or from the cache.
-- The per-user memories (test/fixtures/tenants.json) are in every store:
-- a Neo4j index of their own (user_id a node property), the Qdrant
-- collection "tenants" (user_id in the payload), Redis key spaces
-- mem:<user>:... (test/fixtures/load-redis.mjs), the remote database's
-- table memories (test/lib.sh) and the local table below.  Each user has
-- memories with the words "Sarah" and "budget", so that only the scope
-- keeps them apart.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\set tenants `cat "$APEX_TEST_DIR/fixtures/tenants.json"`
CREATE TABLE memories (id text PRIMARY KEY, user_id text NOT NULL, title text NOT NULL,
                       body text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO memories
  SELECT e->>'id', e->>'user_id', e->>'title', e->>'text', (e->>'created_at')::timestamptz
  FROM jsonb_array_elements(:'tenants'::jsonb) e;

-- neo4j: Cypher parameters ($user_id); time from the created_at column
CREATE SERVER mem_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', time_field 'created_at',
           statement 'CALL db.index.fulltext.queryNodes(''user_memory_text'', $query_lucene) YIELD node, score
                      WHERE node.user_id = $user_id
                      RETURN node.uid AS id, node.name AS title, node.summary AS content,
                             node.created_at AS created_at, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER mem_graph OPTIONS (user 'neo4j', password 'testpassword');
-- qdrant: a filter template, merged with the static filter
CREATE SERVER mem_vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'tenants', embedder 'embed',
           id_field 'doc_id', title_field 'title', content_field 'text', time_field 'created_at',
           filter '{"must_not":[{"key":"doc_id","match":{"value":"t-none"}}]}',
           filter_template '{"must":[{"key":"user_id","match":{"value":"${user_id}"}}]}');
CREATE USER MAPPING FOR PUBLIC SERVER mem_vectors OPTIONS (api_key 'qdrant-test-key');
-- sql and postgres: $3 is params, a jsonb value
CREATE SERVER mem_sql FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', time_field 'created_at',
           query 'SELECT id, title, body, ts_rank(to_tsvector(''english'', title || '' '' || body), q), created_at
                  FROM memories, plainto_tsquery(''english'', $1) q
                  WHERE user_id = $3->>''user_id'' AND to_tsvector(''english'', title || '' '' || body) @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE SERVER mem_remote FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           time_field 'created_at',
           query 'SELECT id, title, body, ts_rank(to_tsvector(''english'', title || '' '' || body), q), created_at
                  FROM memories, plainto_tsquery(''english'', $1) q
                  WHERE user_id = $3->>''user_id'' AND to_tsvector(''english'', title || '' '' || body) @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER mem_remote OPTIONS (user 'apex_remote', password 'remote-pass');
-- redis: placeholders in the key patterns, percent-encoded
CREATE SERVER mem_redis FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', time_field 'created_at',
           term_key 'mem:${user_id}:term:%s', item_key 'mem:${user_id}:item:%s');
CREATE USER MAPPING FOR PUBLIC SERVER mem_redis OPTIONS (password 'redis-pass');

CREATE FUNCTION scoped(params jsonb, q text DEFAULT 'Sarah budget')
RETURNS TABLE (id text, found_in text[]) LANGUAGE sql AS $$
  SELECT id, found_in FROM apex_route(q, k => 20,
    sources => '{mem_graph,mem_vectors,mem_sql,mem_remote,mem_redis}', params => params)
  ORDER BY id $$;

-- each user's call: that user's memories, from every source, no other's
SELECT * FROM scoped('{"user_id": "alice"}');
SELECT * FROM scoped('{"user_id": "bob"}');
-- several sources of one kind in one call: neo4j through its Query API
-- too, and a second qdrant source whose static filter (memories before
-- November) holds together with its template
CREATE SERVER mem_graph_query FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', api 'query',
           statement 'CALL db.index.fulltext.queryNodes(''user_memory_text'', $query_lucene) YIELD node, score
                      WHERE node.user_id = $user_id
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER mem_graph_query OPTIONS (user 'neo4j', password 'testpassword');
CREATE SERVER mem_vectors_early FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'tenants', embedder 'embed',
           id_field 'doc_id', title_field 'title', content_field 'text',
           filter '{"must":[{"key":"created_at","range":{"lt":"2026-11-01T00:00:00Z"}}]}',
           filter_template '{"must":[{"key":"user_id","match":{"value":"${user_id}"}}]}');
CREATE USER MAPPING FOR PUBLIC SERVER mem_vectors_early OPTIONS (api_key 'qdrant-test-key');
SELECT id, found_in FROM apex_route('Sarah budget', k => 20,
    sources => '{mem_graph,mem_graph_query,mem_vectors,mem_vectors_early}',
    params => '{"user_id": "alice"}') ORDER BY id;
SELECT id, found_in FROM apex_route('Sarah budget', k => 20,
    sources => '{mem_graph,mem_graph_query,mem_vectors,mem_vectors_early}',
    params => '{"user_id": "bob"}') ORDER BY id;
-- a user id with a quote, a colon and a star: a value, never text of a
-- statement, a filter or a key pattern (redis: mem:o%27neil%3A%2A:...)
SELECT * FROM scoped($${"user_id": "o'neil:*"}$$);
-- what would widen a spliced scope finds nothing
SELECT * FROM scoped($${"user_id": "*"}$$);
SELECT * FROM scoped($${"user_id": "alice' OR '1'='1"}$$);
SELECT * FROM scoped('{"user_id": "alice\" OR \"1\"=\"1"}');
-- no user: the sources scoped by an option fail at planning, without a
-- request (never asked unscoped); neo4j refuses the statement's missing
-- parameter; the sql sources' $3 is null and matches nothing
SELECT * FROM scoped(NULL);
SELECT * FROM scoped('{"user": "alice"}');
-- a placeholder value must be a string or a number for a key pattern
SELECT count(*) FROM apex_route('Sarah', sources => '{mem_redis}', params => '{"user_id": ["alice"]}');
SELECT count(*) FROM apex_route('Sarah', sources => '{mem_redis}', params => '{"user_id": 42}');

-- the time range: since and until bound every source's items by their
-- time_field (pushed into Qdrant's filter as a datetime range; the others'
-- items filtered when they arrive)
SELECT * FROM scoped('{"user_id": "alice", "since": "2026-10-01T00:00:00Z"}');
SELECT * FROM scoped('{"user_id": "bob", "until": "2026-10-01T00:00:00+00"}');
SELECT * FROM scoped('{"user_id": "bob", "since": "2026-10-01", "until": "2026-11-01"}');
-- an open bound is JSON null
SELECT * FROM scoped('{"user_id": "bob", "since": null, "until": "2026-10-01T00:00:00Z"}');

-- apex_route_many: every question scoped alike
SELECT ordinal, id FROM apex_route_many('{"Sarah budget", "roadmap"}', k => 20,
    sources => '{mem_graph,mem_vectors,mem_sql,mem_remote,mem_redis}',
    params => '{"user_id": "bob"}')
ORDER BY ordinal, id;

-- graphiti: the call's group ids narrow the source's
CREATE SERVER facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url');
CREATE SERVER team_facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', group_ids 'team');
CREATE FUNCTION fact_ids(source text, params jsonb) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(id ORDER BY id) FROM apex_route('team project talks graphs roadmap', k => 50,
    sources => ARRAY[source], params => params) $$;
SELECT fact_ids('facts', NULL) = fact_ids('facts', '{"group_ids": ["team", "other"]}') AS all_groups,
       fact_ids('facts', '{"group_ids": ["other"]}') && fact_ids('facts', '{"group_ids": ["team"]}') AS groups_overlap,
       fact_ids('facts', '{"group_ids": "other"}') = fact_ids('facts', '{"group_ids": ["other"]}') AS string_form,
       fact_ids('team_facts', '{"group_ids": ["team", "other"]}') = fact_ids('team_facts', NULL) AS narrowed,
       fact_ids('team_facts', '{"group_ids": ["other"]}') IS NULL AS excluded,
       cardinality(fact_ids('facts', '{"group_ids": ["other"]}')) AS other_facts;
SELECT count(*) FROM apex_route('Sarah', sources => '{facts}', params => '{"group_ids": [1]}');

-- the result cache keys the scope: bob's call is never answered with
-- alice's cached rows, and alice's second call is a hit
CREATE SERVER cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apexscope:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER cache OPTIONS (password 'redis-pass');
SET apex_router.cache_source = 'cache';
SELECT apex_router_cache_flush() > 0 AS flushed;
SELECT * FROM scoped('{"user_id": "alice"}');
SELECT * FROM scoped('{"user_id": "bob"}');
SELECT * FROM scoped('{"user_id": "alice", "since": "2026-10-01T00:00:00Z"}');
SELECT step, status FROM apex_explain('Sarah budget', k => 20,
    sources => '{mem_graph,mem_vectors,mem_sql,mem_remote,mem_redis}', params => '{"user_id": "alice"}')
WHERE step = 'cache';
RESET apex_router.cache_source;

-- what params must be
SELECT count(*) FROM apex_route('Sarah', sources => '{mem_sql}', params => '["alice"]');
SELECT count(*) FROM apex_route('Sarah', sources => '{mem_sql}', params => '{"query": "x"}');
SELECT count(*) FROM apex_route('Sarah', sources => '{mem_sql}', params => '{"limit": 1}');
SELECT count(*) FROM apex_route('Sarah', sources => '{mem_sql}', params => '{"since": "yesterday noonish"}');
SELECT count(*) FROM apex_route('Sarah', sources => '{mem_sql}', params => '{"since": 20261001}');
SELECT count(*) FROM apex_route('Sarah', sources => '{mem_sql}',
                                params => '{"since": "2026-11-01", "until": "2026-10-01"}');
-- and the options that use it
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', term_key 'mem:${user id}:term:%s');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'c', filter_template '{"must": "${1x}"}');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'c', filter_template '[1]');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT 1', time_field 'a..b');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'embed_url', model 'm', time_field 'created_at');
