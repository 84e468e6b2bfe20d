-- Graphiti: facts of a temporal knowledge graph (POST /search), ranked best
-- first, no score.  Facts no longer true (invalid_at or expired_at in the
-- past) are left out unless include_invalid is 'true'.  The test server's
-- facts are derived from the corpus (test/servers/graphiti.mjs): one per
-- item, uuid = UUID v5 of 'apex-test:fact:<id>'; m13, m16, m22 and m27 are
-- no longer true, m34 becomes invalid only in 2099.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\pset null '(null)'
CREATE SERVER facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', group_ids 'team');
-- the requests it got since t0, from the test servers' log
CREATE FUNCTION graphiti_requests(log text, since timestamptz) RETURNS TABLE (auth text, body jsonb)
LANGUAGE sql AS $$
  SELECT e->>'auth', e->'body'
  FROM regexp_split_to_table(log, E'\n') l, LATERAL (SELECT l::jsonb) j(e)
  WHERE l <> '' AND e->>'server' = 'graphiti'
    AND (e->>'start')::float8 >= extract(epoch FROM since) * 1000
  ORDER BY (e->>'start')::float8
$$;

-- the server returns 5 facts, m16's and m27's are no longer true
SELECT clock_timestamp() AS t0 \gset
SELECT rank, id, title, content, payload->'facts'->'score' AS source_score, found_in
FROM apex_route('Sarah roadmap', k => 5, sources => '{facts}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM graphiti_requests(:'log', :'t0');
-- the fact object is the raw item: its timestamps are in the payload
SELECT rank, payload->'facts'->'item'->>'valid_at' AS valid_at,
       payload->'facts'->'item'->>'invalid_at' AS invalid_at,
       payload->'facts'->'item'->>'expired_at' AS expired_at
FROM apex_route('Sarah roadmap', k => 5, sources => '{facts}');
SELECT jsonb_object_keys(payload->'facts'->'item') AS item_keys
FROM apex_route('Sarah roadmap', k => 1, sources => '{facts}') ORDER BY 1;

-- include_invalid keeps them; a Boolean spelled as PostgreSQL reads them
-- (issue 10: on/off, yes/no, 1/0 as well as true/false)
ALTER SERVER facts OPTIONS (ADD include_invalid 'yes');
SELECT rank, title, payload->'facts'->'item'->>'invalid_at' AS invalid_at,
       payload->'facts'->'item'->>'expired_at' AS expired_at
FROM apex_route('Sarah roadmap', k => 5, sources => '{facts}');
ALTER SERVER facts OPTIONS (SET include_invalid 'false');
SELECT count(*) FROM apex_route('Sarah roadmap', k => 5, sources => '{facts}');

-- issue 11, a passing case; origin: getzep/graphiti#1249 (several group_ids: the BM25 search filtered by the last one only)
-- issue 11, a passing case; origin: getzep/graphiti#810 (no group_id: the full-text search found nothing)
-- groups: m36's fact is in group "other"; without group_ids every group is searched
SELECT id, content FROM apex_route('third floor desks', k => 1, sources => '{facts}');
ALTER SERVER facts OPTIONS (SET group_ids 'team, other');
SELECT id, content FROM apex_route('third floor desks', k => 1, sources => '{facts}');
ALTER SERVER facts OPTIONS (DROP group_ids);
SELECT id, content FROM apex_route('third floor desks', k => 1, sources => '{facts}');
-- older builds take a single "group_id"; max_facts caps the request below k;
-- an api_key is sent as a bearer token
SELECT clock_timestamp() AS t0 \gset
ALTER SERVER facts OPTIONS (ADD group_ids 'other', ADD group_id_field 'group_id', ADD max_facts '1');
CREATE USER MAPPING FOR PUBLIC SERVER facts OPTIONS (api_key 'graphiti-test-key');
SELECT rank, title, content FROM apex_route('third floor talks', k => 5, sources => '{facts}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM graphiti_requests(:'log', :'t0');
DROP USER MAPPING FOR PUBLIC SERVER facts;
ALTER SERVER facts OPTIONS (SET group_ids 'team', DROP group_id_field, DROP max_facts);

-- failures: FastAPI's 422, a 500 (plain text), the wrong shape; others intact
\set url :graphiti_url'/__fault/status=422'
ALTER SERVER facts OPTIONS (SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{facts,docs}');
\set url :graphiti_url'/__fault/status=404'
ALTER SERVER facts OPTIONS (SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{facts,docs}');
\set url :graphiti_url'/__fault/status=500'
ALTER SERVER facts OPTIONS (SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{facts,graph}');
\set url :graphiti_url'/__fault/wrongshape'
ALTER SERVER facts OPTIONS (SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{facts,docs}');
\set url :graphiti_url'/__fault/malformed'
ALTER SERVER facts OPTIONS (SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{facts,docs}');
ALTER SERVER facts OPTIONS (SET url :'graphiti_url');

-- fused with the graph and the local notes
SELECT rank, id, title, round(score::numeric, 5) AS score, found_in
FROM apex_route('Sarah roadmap', k => 8, sources => '{graph,docs,facts}');

-- issue 11 review: Graphiti searches a long question's words only while
-- they are fewer than its MAX_QUERY_LENGTH (32, with the group ids):
-- beyond, its full-text search returns nothing, and no error (so a
-- question never meets Lucene's clause limit there)
SELECT count(*) AS rows FROM apex_route('roadmap ' || repeat('plan ', 28), sources => '{facts}');
SELECT count(*) AS rows FROM apex_route('roadmap ' || repeat('plan ', 40), sources => '{facts}');

DROP FUNCTION graphiti_requests(text, timestamptz);
DROP SERVER facts;
