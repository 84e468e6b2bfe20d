-- Issue 9 (item 6): more sources than PostgreSQL's budget of descriptors
-- for connections (AcquireExternalFD: a third of what a backend may open,
-- about 330 with the default max_files_per_process) must fail only the
-- sources beyond it, each with "out of file descriptors for remote
-- connections", never the whole call.  (Before: 350 HTTP sources gave
-- "ERROR: epoll_create1 failed: Too many open files" and no rows: the
-- sockets took every slot, and the wait set, rebuilt as sockets come and
-- go, found none.)
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
DO $$
BEGIN
  FOR i IN 1 .. 400 LOOP
    EXECUTE format('CREATE SERVER fd_http%s FOREIGN DATA WRAPPER apex_router OPTIONS (kind %L, url %L)',
                   i, 'graphiti', current_setting('apex_test.graphiti_url'));
    EXECUTE format('CREATE SERVER fd_redis%s FOREIGN DATA WRAPPER apex_router
                      OPTIONS (kind %L, host %L, port %L)', i, 'redis', '127.0.0.1', current_setting('apex_test.redis_port'));
    EXECUTE format('CREATE USER MAPPING FOR PUBLIC SERVER fd_redis%s OPTIONS (password %L)', i, 'redis-pass');
  END LOOP;
END $$;
-- how many of the sources answered (the warnings of the others left out)
CREATE FUNCTION fd_route(sources text[]) RETURNS TABLE (asked int, answered bigint)
LANGUAGE sql SET client_min_messages = error AS $$
  SELECT cardinality(sources), count(DISTINCT s)
  FROM apex_route('Sarah roadmap', k => 40, sources => sources) r, unnest(r.found_in) s
$$;
-- the first failure (strict mode) as SQLSTATE, message / detail, the
-- source's number left out (issue 10: 53000, insufficient resources)
CREATE FUNCTION fd_first_failure(sources text[]) RETURNS text
LANGUAGE plpgsql SET apex_router.strict = on AS $$
DECLARE
  detail text;
BEGIN
  PERFORM count(*) FROM apex_route('Sarah roadmap', sources => sources);
  RETURN 'no failure';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ' ' || regexp_replace(SQLERRM, '^source "([a-z_]+)\d+"', 'source "\1N"')
         || ' / ' || detail;
END $$;
CREATE FUNCTION fd_sources(prefix text, n int) RETURNS text[]
LANGUAGE sql AS $$ SELECT array_agg(prefix || i ORDER BY i) FROM generate_series(1, n) i $$;

-- 400 HTTP sources: rows from those within the budget, the rest fail alone
SELECT asked, answered > 0 AS some_answered, answered < asked AS some_failed
FROM fd_route(fd_sources('fd_http', 400));
SELECT fd_first_failure(fd_sources('fd_http', 400));
-- curl keeps at most 32 idle connections
SELECT count(*) <= 32 AS kept_few FROM apex_router_connections() WHERE kind = 'http';

-- 400 Redis sources: each keeps its own connection, until the budget is
-- spent; those beyond fail alone
SELECT asked, answered > 0 AS some_answered, answered < asked AS some_failed
FROM fd_route(fd_sources('fd_redis', 400));
SELECT fd_first_failure(fd_sources('fd_redis', 400));
-- Kept connections hold their descriptors: now every new connection of a
-- call fails alone, whatever its kind -- postgres, a host name (the
-- resolver's descriptors), a new HTTP server, the result cache -- while the
-- local source answers
CREATE SERVER fd_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title FROM notes WHERE tsv @@ websearch_to_tsquery(''english'', $1) LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER fd_pg OPTIONS (user 'apex_remote', password 'remote-pass');
\set url 'http://nx.invalid:' :graphiti_port
CREATE SERVER fd_named FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'url');
CREATE SERVER fd_cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'fdtest:');
CREATE USER MAPPING FOR PUBLIC SERVER fd_cache OPTIONS (password 'redis-pass');
SET apex_router.cache_source = 'fd_cache';
SELECT count(*) AS rows, array_agg(DISTINCT s ORDER BY s) AS answered
FROM apex_route('Sarah roadmap', k => 5, sources => '{fd_pg,fd_named,graph,docs}') r, unnest(r.found_in) s;
-- The last descriptor taken by another extension (dblink counts its
-- connections in the same budget): the call cannot even wait, an ERROR
CREATE EXTENSION dblink;
SELECT dblink_connect('fd', format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
                                   current_setting('port'), current_database()));
SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{docs}');
SELECT dblink_disconnect('fd');
DROP EXTENSION dblink;
-- apex_router_disconnect() gives every descriptor back (none leaked: with
-- one slot too few or too many, the call above or these would differ)
SELECT apex_router_disconnect() > 0 AS disconnected;
SELECT count(*) AS rows, array_agg(DISTINCT s ORDER BY s) AS answered
FROM apex_route('Sarah roadmap', k => 5, sources => '{fd_pg,graph,docs}') r, unnest(r.found_in) s;
SELECT * FROM fd_route(fd_sources('fd_redis', 100));
RESET apex_router.cache_source;

DROP FUNCTION fd_route, fd_first_failure, fd_sources;
SET client_min_messages = warning;
DO $$
BEGIN
  FOR i IN 1 .. 400 LOOP
    EXECUTE format('DROP SERVER fd_http%s, fd_redis%s CASCADE', i, i);
  END LOOP;
END $$;
DROP SERVER fd_pg, fd_named, fd_cache CASCADE;
RESET client_min_messages;
