-- issue 13 item 1: apex_route_many asks each embedder once, for the texts
-- of every question (each distinct text once), not once per vector leg;
-- apex_route still asks once per leg
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

-- the embedder's requests since t0 in the test servers' request log
CREATE FUNCTION embed_requests(t0 timestamptz, log text)
RETURNS TABLE (path text, status int, input jsonb) LANGUAGE sql AS $$
  SELECT r->>'path', (r->>'status')::int, r->'body'->'input'
  FROM regexp_split_to_table(log, E'\n') l, LATERAL (SELECT l::jsonb) j(r)
  WHERE l <> '' AND r->>'server' = 'embedder'
    AND (r->>'start')::float8 >= extract(epoch FROM t0) * 1000
  ORDER BY (r->>'start')::float8 $$;

-- a second vector source with the same embedder
CREATE SERVER vectors2 FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'embed',
           id_field 'doc_id', title_field 'title', content_field 'text', weight '0.5');
CREATE USER MAPPING FOR PUBLIC SERVER vectors2 OPTIONS (api_key 'qdrant-test-key');

CREATE TEMP TABLE questions (ordinal int, q text);
INSERT INTO questions VALUES (1, 'Sarah roadmap'), (2, 'billing migration'),
  (3, 'Sarah roadmap'), (4, 'incident postmortem'), (5, 'Kubernetes');

-- five questions of four texts over two vector sources: one request, the
-- four texts in the order of the questions
SELECT clock_timestamp() AS t0 \gset
CREATE TEMP TABLE many AS
  SELECT * FROM apex_route_many(ARRAY(SELECT q FROM questions ORDER BY ordinal), k => 4,
                                sources => '{vectors,vectors2}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM embed_requests(:'t0', :'log');
SELECT ordinal, count(*) AS rows FROM many GROUP BY 1 ORDER BY 1;

-- each question's rows are apex_route's for it, and apex_route asks each
-- embedder once per call, for all its vector legs (issue 15: five requests
-- for five calls of two vector sources)
SELECT clock_timestamp() AS t0 \gset
SELECT q.ordinal,
       (SELECT array_agg(r ORDER BY r.rank)
        FROM apex_route(q.q, k => 4, sources => '{vectors,vectors2}') r)::text
       = (SELECT array_agg((m.rank, m.id, m.title, m.content, m.score, m.found_in, m.payload, m.partial, m.routing)
                           ORDER BY m.rank)
          FROM many m WHERE m.ordinal = q.ordinal)::text AS same_as_apex_route
FROM questions q ORDER BY 1;
\set log `cat "$APEX_TEST_LOG"`
SELECT count(*) AS apex_route_requests, count(DISTINCT input) AS texts
FROM embed_requests(:'t0', :'log');

-- with every source of the suite, the same one request
SELECT clock_timestamp() AS t0 \gset
SELECT ordinal, count(*) AS rows
FROM apex_route_many(ARRAY(SELECT q FROM questions ORDER BY ordinal), k => 4) GROUP BY 1 ORDER BY 1;
\set log `cat "$APEX_TEST_LOG"`
SELECT count(*) AS requests FROM embed_requests(:'t0', :'log');

-- legs that ask once the request was answered get their vector at once:
-- one leg at a time, still one request, the same rows
SELECT clock_timestamp() AS t0 \gset
SELECT array_agg((ordinal, rank, id) ORDER BY ordinal, rank)::text
       = (SELECT array_agg((ordinal, rank, id) ORDER BY ordinal, rank)::text FROM many) AS same_rows
FROM apex_route_many(ARRAY(SELECT q FROM questions ORDER BY ordinal), k => 4,
                     sources => '{vectors,vectors2}', max_concurrency => 1);
\set log `cat "$APEX_TEST_LOG"`
SELECT count(*) AS requests FROM embed_requests(:'t0', :'log');

-- max_batch_size: at most that many texts a request
ALTER SERVER embed OPTIONS (ADD max_batch_size '3');
SELECT clock_timestamp() AS t0 \gset
SELECT array_agg((ordinal, rank, id) ORDER BY ordinal, rank)::text
       = (SELECT array_agg((ordinal, rank, id) ORDER BY ordinal, rank)::text FROM many) AS same_rows
FROM apex_route_many(ARRAY(SELECT q FROM questions ORDER BY ordinal), k => 4,
                     sources => '{vectors,vectors2}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM embed_requests(:'t0', :'log');
ALTER SERVER embed OPTIONS (SET max_batch_size '0');
ALTER SERVER embed OPTIONS (SET max_batch_size '65537');
ALTER SERVER embed OPTIONS (DROP max_batch_size);

-- each embedder is asked once: an Ollama embedder for the second source
\set url :embed_base'/api/embed'
CREATE SERVER embed_ollama FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'url', model 'test-embed', api 'ollama');
CREATE USER MAPPING FOR PUBLIC SERVER embed_ollama;
ALTER SERVER vectors2 OPTIONS (SET embedder 'embed_ollama');
SELECT clock_timestamp() AS t0 \gset
SELECT array_agg((ordinal, rank, id) ORDER BY ordinal, rank)::text
       = (SELECT array_agg((ordinal, rank, id) ORDER BY ordinal, rank)::text FROM many) AS same_rows
FROM apex_route_many(ARRAY(SELECT q FROM questions ORDER BY ordinal), k => 4,
                     sources => '{vectors,vectors2}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM embed_requests(:'t0', :'log') ORDER BY path;
ALTER SERVER vectors2 OPTIONS (SET embedder 'embed');

-- The request fails: every question loses its vector sources' rows alone,
-- with the warning a request of its own would give (apex_route's below)
\set url :embed_base'/__fault/status=500/v1/embeddings'
ALTER SERVER embed OPTIONS (SET url :'url');
SELECT clock_timestamp() AS t0 \gset
SELECT ordinal, count(*) AS rows, array_agg(DISTINCT s ORDER BY s) AS sources
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 3,
                     sources => '{graph,vectors,vectors2}'), unnest(found_in) s
GROUP BY 1 ORDER BY 1;
\set log `cat "$APEX_TEST_LOG"`
SELECT path, status, input FROM embed_requests(:'t0', :'log');
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,vectors}');
-- legs that ask after it failed fail the same way, without another request
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS rows
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 3,
                     sources => '{vectors,vectors2}', max_concurrency => 1);
\set log `cat "$APEX_TEST_LOG"`
SELECT count(*) AS requests FROM embed_requests(:'t0', :'log');
-- an answer without one embedding per text
\set url :embed_base'/__fault/dupids/v1/embeddings'
ALTER SERVER embed OPTIONS (SET url :'url');
SELECT ordinal, count(*) AS rows
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 3, sources => '{graph,vectors}')
GROUP BY 1 ORDER BY 1;

-- Timeouts.  The request's own clock is the embedder's timeout_ms: its
-- legs fail when it runs out, the other sources answer
\set url :embed_base'/__fault/delay=600/v1/embeddings'
ALTER SERVER embed OPTIONS (SET url :'url', ADD timeout_ms '200');
SELECT ordinal, count(*) AS rows, array_agg(DISTINCT s ORDER BY s) AS sources
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 3,
                     sources => '{graph,vectors,vectors2}'), unnest(found_in) s
GROUP BY 1 ORDER BY 1;
-- a leg whose own clock runs out while it waits fails alone; the request
-- goes on for the legs of the other source
ALTER SERVER embed OPTIONS (SET timeout_ms '3000');
ALTER SERVER vectors OPTIONS (ADD timeout_ms '150');
SELECT ordinal, count(*) AS rows, array_agg(DISTINCT s ORDER BY s) AS sources
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 3,
                     sources => '{graph,vectors,vectors2}'), unnest(found_in) s
GROUP BY 1 ORDER BY 1;
ALTER SERVER vectors OPTIONS (DROP timeout_ms);
-- the batch's timeout_ms caps the request's clock
SELECT ordinal, count(*) AS rows, array_agg(DISTINCT s ORDER BY s) AS sources
FROM apex_route_many('{Sarah roadmap,billing migration}', k => 3, timeout_ms => 300,
                     sources => '{graph,vectors,vectors2}'), unnest(found_in) s
GROUP BY 1 ORDER BY 1;
ALTER SERVER embed OPTIONS (SET url :'embed_url', DROP timeout_ms);

-- A batch of 150 distinct questions and one repeated: one request of 150
-- texts; every question answered
SELECT clock_timestamp() AS t0 \gset
SELECT count(DISTINCT ordinal) AS answered
FROM apex_route_many(ARRAY(SELECT 'Sarah roadmap ' || (g % 150) FROM generate_series(1, 151) g),
                     k => 1, sources => '{vectors,vectors2}');
\set log `cat "$APEX_TEST_LOG"`
SELECT count(*) AS requests, sum(jsonb_array_length(input)) AS texts
FROM embed_requests(:'t0', :'log');

-- and at most about 512 kB of text a request: three texts of 182 kB go
-- in two requests
SELECT clock_timestamp() AS t0 \gset
SELECT count(DISTINCT ordinal) AS answered
FROM apex_route_many(ARRAY(SELECT repeat('Sarah roadmap ', 13000) || g FROM generate_series(1, 3) g),
                     k => 1, sources => '{vectors}');
\set log `cat "$APEX_TEST_LOG"`
SELECT jsonb_array_length(input) AS texts FROM embed_requests(:'t0', :'log');

DROP SERVER vectors2 CASCADE;
DROP SERVER embed_ollama CASCADE;

-- A text that cannot be sent (a byte of a SQL_ASCII database that is not
-- UTF-8) fails its own question's vector leg, as in apex_route, and is
-- left out of the request the others share (issue 11 item 3)
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
DROP DATABASE IF EXISTS apex_embed_batch_ascii;
RESET client_min_messages;
CREATE DATABASE apex_embed_batch_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'
  TEMPLATE template0;
\c apex_embed_batch_ascii
CREATE EXTENSION apex_router;
CREATE SERVER embed FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'embed_url', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER embed OPTIONS (api_key 'embed-test-key');
CREATE SERVER vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'embed',
           id_field 'doc_id', title_field 'title', content_field 'text');
CREATE USER MAPPING FOR PUBLIC SERVER vectors OPTIONS (api_key 'qdrant-test-key');
SELECT clock_timestamp() AS t0 \gset
SELECT ordinal, count(*) AS rows
FROM apex_route_many(ARRAY['Sarah roadmap', E'caf\xe9 Sarah', 'billing migration'], k => 3)
GROUP BY 1 ORDER BY 1;
\c :regress_db
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM embed_requests(:'t0', :'log');
DROP DATABASE apex_embed_batch_ascii;
