-- Connections live across calls: HTTP keep-alive through libcurl's
-- connection cache, listed by apex_router_connections().
SELECT apex_router_disconnect() >= 0 AS reset;
SELECT * FROM apex_router_connections();
SELECT clock_timestamp() AS t0 \gset
DO $$ BEGIN
  FOR i IN 1..50 LOOP
    PERFORM count(*) FROM apex_route('Sarah roadmap ' || i, sources => '{graph,vectors}');
  END LOOP;
END $$;
SELECT kind, source, target, requests FROM apex_router_connections() ORDER BY source;
-- the servers saw one client connection each over the 50 calls
\set log `cat "$APEX_TEST_LOG"`
SELECT e->>'server' AS server, count(*) AS requests, count(DISTINCT e->>'remote_port') AS connections
FROM regexp_split_to_table(:'log', E'\n') l, LATERAL (SELECT l::jsonb) j(e)
WHERE l <> '' AND (e->>'start')::float8 >= extract(epoch FROM :'t0'::timestamptz) * 1000
GROUP BY 1 ORDER BY 1;

-- a server restart (every kept connection closes) is invisible to callers
\! curl -s -o /dev/null -X POST http://127.0.0.1:7474/__drop_connections
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', sources => '{graph}');
SELECT count(*) AS connections, sum(requests) AS requests
FROM apex_router_connections() WHERE source = 'graph';

-- apex_router_disconnect() closes them all; the next call connects again
SELECT apex_router_disconnect() AS closed;
SELECT count(*) AS kept FROM apex_router_connections();
SELECT count(*) > 0 AS rows FROM apex_route('Sarah', sources => '{graph}');
SELECT kind, source, requests FROM apex_router_connections();
SELECT apex_router_disconnect() AS closed;

-- calls do not nest: a sql source calling apex_route fails, the others answer
CREATE SERVER nested FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title FROM apex_route($1, sources => ''{graph}'')');
SELECT rank, id, found_in FROM apex_route('Sarah', k => 2, sources => '{nested,graph}');
DROP SERVER nested;
