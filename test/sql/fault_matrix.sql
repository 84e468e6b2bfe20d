-- The fault matrix: every HTTP source kind against every fault the test
-- servers inject.  Each row: the fault, the rows the call still returned
-- and the sources that answered; each failing source is one WARNING above.
-- (Redis and PostgreSQL failures: source_redis, source_postgres.)
-- issue 11 item 2; origin: pramsey/pgsql-http#55 (a gzip answer read as text: invalid byte sequence for encoding "UTF8": 0x8b)
-- issue 11 item 2; origin: pramsey/pgsql-http#108 (the same 0x8b error from a REST API that compresses its answers)
-- issue 11, a passing case ("hang" under timeout_ms); origin: qdrant/qdrant-client#284 (the timeout was not applied to search())
-- issue 11, a passing case ("hang" under timeout_ms); origin: qdrant/qdrant-js#39 (a timeout documented in seconds was taken as ms)
-- issue 11, a passing case ("hang" under timeout_ms); origin: supabase/pg_net#74 (a request that timed out was reported as SUCCESS)
-- issue 11 item 2: compressed answers, every HTTP kind: gzip and deflate
-- answers are decoded (apex_router asks for them; the servers compress only
-- when asked); a corrupt gzip body fails its source with libcurl's sentence;
-- gzip,huge=1000000 is a compression bomb (about 2 kB on the wire, 1 MB
-- decoded) that max_response_size (64kB here) stops.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
SET apex_router.max_response_size = '64kB';
CREATE FUNCTION matrix(target text, base text, routed text, suffix text DEFAULT '')
RETURNS TABLE (fault text, rows bigint, answered text[])
LANGUAGE plpgsql AS $$
DECLARE
  f text;
BEGIN
  EXECUTE format('ALTER SERVER %I OPTIONS (ADD timeout_ms %L)', routed, '500');
  FOREACH f IN ARRAY ARRAY['status=400', 'status=401', 'status=404', 'status=429', 'status=500',
                           'status=503', 'malformed', 'wrongshape', 'truncate', 'reset',
                           'reset_mid', 'drip=20', 'hang', 'ctype=text%2Fhtml', 'nan',
                           'nonutf8', 'huge=300000', 'dupids', 'delay=100',
                           'gzip', 'deflate', 'badgzip', 'gzip,huge=1000000'] LOOP
    EXECUTE format('ALTER SERVER %I OPTIONS (SET url %L)', target, base || '/__fault/' || f || suffix);
    fault := f;
    SELECT count(DISTINCT r.id), array_agg(DISTINCT s ORDER BY s) INTO rows, answered
      FROM apex_route('Sarah roadmap', k => 5, sources => ARRAY[routed, 'docs']) r, unnest(r.found_in) s;
    RETURN NEXT;
  END LOOP;
  EXECUTE format('ALTER SERVER %I OPTIONS (SET url %L)', target, base || suffix);
  EXECUTE format('ALTER SERVER %I OPTIONS (DROP timeout_ms)', routed);
END $$;

-- Neo4j (transactional endpoint)
SELECT * FROM matrix('graph', :'neo4j_url', 'graph');
-- Qdrant
SELECT * FROM matrix('vectors', :'qdrant_url', 'vectors');
-- the embedder of a Qdrant source
\set url 'http://127.0.0.1:' :embed_port
SELECT * FROM matrix('embed', :'url', 'vectors', '/v1/embeddings');
-- Graphiti
CREATE SERVER facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', group_ids 'team');
SELECT * FROM matrix('facts', :'graphiti_url', 'facts');
DROP SERVER facts;

-- the session is fine afterwards
SELECT count(*) AS rows, array_agg(DISTINCT s ORDER BY s) AS answered
FROM apex_route('Sarah roadmap', k => 5), unnest(found_in) s;
DROP FUNCTION matrix;
RESET apex_router.max_response_size;
