-- The qdrant kind through its real wire format; the query text embedded by
-- an embedder source (OpenAI-style or Ollama's), or a vector given by the caller.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\pset null '(null)'

-- Qdrant /points/query, query text embedded by the OpenAI-style embedder (base64)
SELECT rank, id, title, round((payload->'vectors'->>'score')::numeric, 4) AS cosine
FROM apex_route('Sarah roadmap', k => 5, sources => '{vectors}');
-- float encoding, Ollama's /api/embed and the older /points/search agree
CREATE SERVER embed_float FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url 'http://127.0.0.1:8080/v1/embeddings', model 'test-embed', encoding 'float');
CREATE USER MAPPING FOR PUBLIC SERVER embed_float OPTIONS (api_key 'embed-test-key');
CREATE SERVER embed_ollama FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url 'http://127.0.0.1:8080/api/embed', model 'test-embed', api 'ollama');
CREATE SERVER vectors_float FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url 'http://127.0.0.1:6333', collection 'memory', embedder 'embed_float',
           id_field 'doc_id', title_field 'title', content_field 'text');
CREATE SERVER vectors_ollama FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url 'http://127.0.0.1:6333/', collection 'memory', embedder 'embed_ollama',
           endpoint 'search', id_field 'doc_id', title_field 'title', content_field 'text');
CREATE USER MAPPING FOR PUBLIC SERVER vectors_float OPTIONS (api_key 'qdrant-test-key');
CREATE USER MAPPING FOR PUBLIC SERVER vectors_ollama OPTIONS (api_key 'qdrant-test-key');
WITH r AS (
  SELECT s, array_agg(id ORDER BY rank) AS ids
  FROM unnest('{vectors,vectors_float,vectors_ollama}'::text[]) s,
       apex_route('Sarah roadmap', k => 5, sources => ARRAY[s])
  GROUP BY s)
SELECT s, ids = (SELECT ids FROM r WHERE s = 'vectors') AS same_as_base64 FROM r ORDER BY s;
-- an Ollama embedder pointed at the deprecated /api/embeddings, which wants
-- "prompt" and answers {"embedding": []}: the source fails saying where to
-- point it (issue 11, "Also"; Ollama's own EmbeddingsHandler)
ALTER SERVER embed_ollama OPTIONS (SET url 'http://127.0.0.1:8080/api/embeddings');
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{vectors_ollama,docs}');
DROP SERVER vectors_float, vectors_ollama, embed_float, embed_ollama CASCADE;

-- without id_field the point id is the id; payload fields still give title/content
ALTER SERVER vectors OPTIONS (DROP id_field);
SELECT rank, id, title FROM apex_route('billing cutover', k => 2, sources => '{vectors}');
ALTER SERVER vectors OPTIONS (ADD id_field 'doc_id');

-- a Qdrant filter and score threshold go into the request
ALTER SERVER vectors OPTIONS (ADD filter '{"must":[{"key":"kind","match":{"value":"decision"}}]}');
SELECT rank, id, payload->'vectors'->'item'->'payload'->>'kind' AS kind
FROM apex_route('roadmap owner', k => 3, sources => '{vectors}');
ALTER SERVER vectors OPTIONS (DROP filter);

-- a caller-supplied vector skips the embedder: the embedding of "roadmap"
-- under the test servers' hashing embedder is -1 at dimension 12
SELECT clock_timestamp() AS t0 \gset
SELECT (SELECT array_agg(id ORDER BY rank) FROM apex_route('roadmap', k => 5, sources => '{vectors}'))
     = (SELECT array_agg(id ORDER BY rank) FROM apex_route('ignored by vector sources', k => 5, sources => '{vectors}',
          query_vector => (SELECT array_agg(CASE WHEN i = 12 THEN -1 ELSE 0 END::real ORDER BY i)
                           FROM generate_series(1, 64) i)))
  AS caller_vector_matches;
\set log `cat "$APEX_TEST_LOG"`
SELECT e->>'server' AS server, count(*) AS requests
FROM regexp_split_to_table(:'log', E'\n') l, LATERAL (SELECT l::jsonb) j(e)
WHERE l <> '' AND (e->>'start')::float8 >= extract(epoch FROM :'t0'::timestamptz) * 1000
GROUP BY 1 ORDER BY 1;
