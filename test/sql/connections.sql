-- Connections live across calls, listed by apex_router_connections():
-- HTTP keep-alive through libcurl's connection cache, one libpq connection
-- per postgres source, one Redis connection per redis source.  (Servers
-- that go away under kept connections: restart.)
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
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

-- apex_router_disconnect() closes them all; the next call connects again
SELECT apex_router_disconnect() AS closed;
SELECT count(*) AS kept FROM apex_router_connections();
SELECT count(*) > 0 AS rows FROM apex_route('Sarah', sources => '{graph}');
SELECT kind, source, requests FROM apex_router_connections();
SELECT apex_router_disconnect() AS closed;

-- issue 11 item 8; origin: postgres/postgres commit 411ae64997dc (postgres_fdw_disconnect(server) closes one server's connections)
-- issue 11 item 8: apex_router_disconnect(source) for an HTTP source
-- closes libcurl's whole pool when the source opened one of its
-- connections (libcurl cannot close one), and nothing for a source that
-- opened none
SELECT count(*) > 0 AS rows FROM apex_route('Sarah', sources => '{graph,vectors}');
SELECT apex_router_disconnect('docs') AS closed;
SELECT apex_router_disconnect('graph') AS closed;
SELECT count(*) AS kept FROM apex_router_connections();

-- calls do not nest: a sql source calling apex_route fails, the others answer
CREATE SERVER nested FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title FROM apex_route($1, sources => ''{graph}'')');
SELECT rank, id, found_in FROM apex_route('Sarah', k => 2, sources => '{nested,graph}');
DROP SERVER nested;

-- postgres
CREATE SERVER remote_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (user 'apex_remote', password 'remote-pass');
-- one kept connection serves 50 calls
SELECT apex_router_disconnect() >= 0 AS reset;
DO $$ BEGIN
  FOR i IN 1..50 LOOP
    PERFORM count(*) FROM apex_route('billing ' || i, sources => '{remote_docs}');
  END LOOP;
END $$;
SELECT kind, source, target, requests FROM apex_router_connections() WHERE kind = 'postgres';
\! psql -XAt -h "$APEX_RUN_DIR" -p "$APEX_REMOTE_PGPORT" -U postgres -d memory -c "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'apex_router/%' AND query LIKE '%websearch_to_tsquery%'"

-- a cancelled call closes the connection it was using
SELECT apex_router_disconnect() > 0 AS closed;
SELECT count(*) AS rows FROM apex_route('billing', sources => '{remote_docs}');
SELECT count(*) AS kept FROM apex_router_connections() WHERE source = 'remote_docs';
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id, title FROM notes, pg_sleep(5) LIMIT $2');
SET statement_timeout = '300ms';
SELECT count(*) FROM apex_route('billing', sources => '{remote_docs}');
RESET statement_timeout;
SELECT count(*) AS kept FROM apex_router_connections() WHERE source = 'remote_docs';

-- Redis
CREATE SERVER recent FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER recent OPTIONS (password 'redis-pass');
-- one kept connection serves 50 calls (INFO clients counts it and redis-cli)
SELECT apex_router_disconnect() >= 0 AS reset;
DO $$ BEGIN
  FOR i IN 1..50 LOOP
    PERFORM count(*) FROM apex_route('billing ' || i, sources => '{recent}');
  END LOOP;
END $$;
SELECT kind, source, target, requests FROM apex_router_connections() WHERE kind = 'redis';
\! redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning info clients | grep '^connected_clients'
