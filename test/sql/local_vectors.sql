-- Local vector search in the same fan-out (issue 15 item 2): a sql or
-- postgres source that names an embedder gets the question's embedding as
-- $4 (real[]), from the one embeddings request the call makes for every
-- source of that embedder, or the caller's query_vector.  The local table
-- holds the per-user memories (test/fixtures/tenants.json) with the
-- embeddings the test Qdrant's collection "tenants" holds for them
-- (test/servers/embed.mjs), so a plain-SQL cosine over real[] must rank
-- them as Qdrant does.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\set tenants `cat "$APEX_TEST_DIR/fixtures/tenants.json"`
\set vectors `node --input-type=module -e "import { embed } from '$APEX_TEST_DIR/servers/embed.mjs'; const t = JSON.parse(process.argv[1]); console.log(JSON.stringify(Object.fromEntries(t.map((it) => [it.id, embed(it.title + ' ' + it.text, 64)]))))" "$(cat "$APEX_TEST_DIR/fixtures/tenants.json")"`
CREATE TABLE memory_vectors (id text PRIMARY KEY, user_id text NOT NULL, title text NOT NULL,
                             body text NOT NULL, embedding real[] NOT NULL);
INSERT INTO memory_vectors
  SELECT e->>'id', e->>'user_id', e->>'title', e->>'text',
         ARRAY(SELECT jsonb_array_elements_text(:'vectors'::jsonb -> (e->>'id')))::real[]
  FROM jsonb_array_elements(:'tenants'::jsonb) e;
CREATE FUNCTION embed_requests(t0 timestamptz) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM regexp_split_to_table(pg_read_file(current_setting('apex.test_log')), E'\n') l,
    LATERAL (SELECT l::jsonb) j(r)
  WHERE l <> '' AND r->>'server' = 'embedder'
    AND (r->>'start')::float8 >= extract(epoch FROM t0) * 1000 $$;
\getenv test_log APEX_TEST_LOG
SELECT set_config('apex.test_log', :'test_log', false) IS NOT NULL AS log_known;

-- cosine over real[] (the vectors are unit length: a dot product), scoped
CREATE SERVER local_vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', embedder 'embed',
           query 'SELECT id, title, body, (SELECT sum(a * b) FROM unnest(embedding, $4) AS v(a, b))
                  FROM memory_vectors WHERE user_id = $3->>''user_id''
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE SERVER mem_vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'tenants', embedder 'embed',
           id_field 'doc_id', title_field 'title', content_field 'text',
           filter_template '{"must":[{"key":"user_id","match":{"value":"${user_id}"}}]}');
CREATE USER MAPPING FOR PUBLIC SERVER mem_vectors OPTIONS (api_key 'qdrant-test-key');

-- the local search ranks as Qdrant does, with the same scores, and both
-- legs share one embeddings request
SELECT clock_timestamp() AS t0 \gset
SELECT id, found_in,
       round((payload->'local_vectors'->>'score')::numeric, 5) AS local_score,
       round((payload->'mem_vectors'->>'score')::numeric, 5) AS qdrant_score
FROM apex_route('what did Sarah say about the roadmap budget', k => 4,
                sources => '{local_vectors,mem_vectors}', params => '{"user_id": "bob"}')
ORDER BY rank;
SELECT embed_requests(:'t0') AS embeddings_requests;
SELECT (SELECT array_agg(id ORDER BY rank) FROM apex_route('vacation in November', k => 3,
          sources => '{local_vectors}', params => '{"user_id": "bob"}'))
     = (SELECT array_agg(id ORDER BY rank) FROM apex_route('vacation in November', k => 3,
          sources => '{mem_vectors}', params => '{"user_id": "bob"}')) AS same_order;
-- inline, the same
ALTER SERVER local_vectors OPTIONS (ADD execution 'inline');
SELECT id FROM apex_route('vacation in November', k => 2, sources => '{local_vectors}',
                          params => '{"user_id": "bob"}') ORDER BY rank;
ALTER SERVER local_vectors OPTIONS (DROP execution);

-- the caller's query_vector: no embeddings request
SELECT clock_timestamp() AS t0 \gset
SELECT id FROM apex_route('anything', k => 2, sources => '{local_vectors,mem_vectors}',
                          params => '{"user_id": "alice"}',
                          query_vector => (SELECT embedding FROM memory_vectors WHERE id = 't-alice-3'))
ORDER BY rank;
SELECT embed_requests(:'t0') AS embeddings_requests;

-- apex_route_many: each question its own vector, one request for all
SELECT clock_timestamp() AS t0 \gset
SELECT ordinal, id FROM apex_route_many('{"vacation in November", "lunch with Sarah"}', k => 1,
    sources => '{local_vectors,mem_vectors}', params => '{"user_id": "bob"}')
ORDER BY ordinal, rank;
SELECT embed_requests(:'t0') AS embeddings_requests;

-- without an embedder, $4 is null; with one, $4 reaches a postgres source
CREATE SERVER no_vector FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT ''v'', $4 IS NULL AS no_vector LIMIT $2');
SELECT payload->'no_vector'->'item'->>'no_vector' AS no_vector
FROM apex_route('x', sources => '{no_vector}');
CREATE SERVER remote_vector FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory', embedder 'embed',
           query 'SELECT ''dim'', NULL, NULL, array_length($4, 1), pg_typeof($4)::text AS type LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_vector OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT payload->'remote_vector'->>'score' AS dim, payload->'remote_vector'->'item'->>'type' AS type
FROM apex_route('Sarah', sources => '{remote_vector}');

-- an embedder that fails fails its local source alone
CREATE SERVER embed_down FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'closed_url', model 'test-embed');
ALTER SERVER local_vectors OPTIONS (SET embedder 'embed_down');
SELECT id FROM apex_route('billing', k => 1, sources => '{local_vectors,docs}',
                          params => '{"user_id": "bob"}') ORDER BY rank;
-- an embedder that is gone fails its source at planning
ALTER SERVER local_vectors OPTIONS (SET embedder 'embed');
SET check_function_bodies = off;
ALTER SERVER no_vector OPTIONS (ADD embedder 'nosuch');
RESET check_function_bodies;
SELECT count(*) FROM apex_route('billing', sources => '{no_vector,docs}');
-- the option names an embedder
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT 1', embedder 'docs');
