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
  OPTIONS (kind 'embedder', url :'embed_url', model 'test-embed', encoding 'float');
CREATE USER MAPPING FOR PUBLIC SERVER embed_float OPTIONS (api_key 'embed-test-key');
\set url :embed_base'/api/embed'
CREATE SERVER embed_ollama FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'url', model 'test-embed', api 'ollama');
CREATE SERVER vectors_float FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'embed_float',
           id_field 'doc_id', title_field 'title', content_field 'text');
\set url :qdrant_url'/'
CREATE SERVER vectors_ollama FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'url', collection 'memory', embedder 'embed_ollama',
           endpoint 'search', id_field 'doc_id', title_field 'title', content_field 'text');
CREATE USER MAPPING FOR PUBLIC SERVER vectors_float OPTIONS (api_key 'qdrant-test-key');
CREATE USER MAPPING FOR PUBLIC SERVER vectors_ollama OPTIONS (api_key 'qdrant-test-key');
WITH r AS (
  SELECT s, array_agg(id ORDER BY rank) AS ids
  FROM unnest('{vectors,vectors_float,vectors_ollama}'::text[]) s,
       apex_route('Sarah roadmap', k => 5, sources => ARRAY[s])
  GROUP BY s)
SELECT s, ids = (SELECT ids FROM r WHERE s = 'vectors') AS same_as_base64 FROM r ORDER BY s;
-- issue 11 "Also"; origin: ollama/ollama#7490 (an /api/embed body sent to /api/embeddings answers {"embedding":[]})
-- issue 11 "Also"; origin: ollama/ollama#6533 (the maintainers: /api/embeddings is deprecated, use /api/embed)
-- an Ollama embedder pointed at the deprecated /api/embeddings, which wants
-- "prompt" and answers {"embedding": []}: the source fails saying where to
-- point it (issue 11, "Also"; Ollama's own EmbeddingsHandler)
\set url :embed_base'/api/embeddings'
ALTER SERVER embed_ollama OPTIONS (SET url :'url');
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

-- issue 11 item 5; origin: neo4j/neo4j-graphrag-python#453 (the id is nested in the payload, e.g. metadata.uid)
-- issue 11 item 5; origin: langchain-ai/langchain#26215 (fields inside LangChain's "metadata" object of a Qdrant payload)
-- issue 11 item 5; origin: langchain-ai/langchain#1087 (a collection written by other code: its payload keys are not LangChain's)
-- issue 11 item 5: a collection written by LangChain ({"page_content": ...,
-- "metadata": {"doc_id": ..., "title": ...}}, UUID point ids): the field
-- options are Qdrant key paths
CREATE SERVER lc FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'langchain', embedder 'embed',
           id_field 'metadata.doc_id', title_field 'metadata.title', content_field 'page_content');
CREATE USER MAPPING FOR PUBLIC SERVER lc OPTIONS (api_key 'qdrant-test-key');
SELECT rank, id, title, left(content, 30) AS content
FROM apex_route('Sarah roadmap', k => 3, sources => '{lc}');
-- issue 11 item 5; origin: neo4j/neo4j-graphrag-python#303 (a missing id field falls back to the Qdrant point id)
-- issue 11 item 5; origin: neo4j/neo4j-graphrag-python#448 (the configured id field ignored: the point UUID every time)
-- issue 11 item 5: m02's payload has no metadata.doc_id and m03's is an
-- object: both points are skipped with one WARNING (all 40 points are
-- asked for), never given their point ids, so m02, which docs finds too,
-- appears once in the fused result, from docs alone
SELECT count(*) AS rows, count(DISTINCT id) AS ids, bool_and(id ~ '^m\d\d$') AS all_doc_ids,
       count(*) FILTER (WHERE payload ? 'lc') AS from_lc, count(*) FILTER (WHERE payload ? 'docs') AS from_docs
FROM apex_route('billing migration', k => 40, sources => '{lc,docs}');
SELECT id, array(SELECT jsonb_object_keys(payload) ORDER BY 1) AS sources
FROM apex_route('billing migration', k => 40, sources => '{lc,docs}')
WHERE id IN ('m02', 'm03') ORDER BY id;
-- issue 11 item 5: a skip is a warning in strict mode too: the source answered
SET apex_router.strict = on;
SELECT count(*) AS rows FROM apex_route('billing', k => 40, sources => '{lc}');
RESET apex_router.strict;
-- issue 11 item 5: the id field of an object, and one no point has: every
-- point is skipped, the source still answered
ALTER SERVER lc OPTIONS (SET id_field 'metadata');
SELECT count(*) AS rows FROM apex_route('billing', k => 5, sources => '{lc}');
ALTER SERVER lc OPTIONS (SET id_field 'metadata.doc_id');
-- issue 11 item 5: arrays: "[N]" is an element (from 0), past the end is
-- nothing; a key with a dot is quoted, as in Qdrant
ALTER SERVER lc OPTIONS (SET title_field 'metadata.headings[1]', SET content_field 'metadata."dc.source"');
SELECT rank, id, title, content FROM apex_route('Sarah roadmap', k => 2, sources => '{lc}');
ALTER SERVER lc OPTIONS (SET title_field 'metadata.headings[2]', SET content_field '"metadata.title"');
SELECT rank, id, title, content FROM apex_route('Sarah roadmap', k => 2, sources => '{lc}');
-- issue 11 item 5: "[]" (every element) names no one value, and a path
-- that is not one, are refused where they are set
ALTER SERVER lc OPTIONS (SET title_field 'metadata.headings[]');
ALTER SERVER lc OPTIONS (SET id_field 'metadata..doc_id');
ALTER SERVER lc OPTIONS (SET content_field 'page content');
CREATE SERVER lc2 FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'langchain', embedder 'embed',
           id_field 'metadata.doc_id[0');
DROP SERVER lc CASCADE;
